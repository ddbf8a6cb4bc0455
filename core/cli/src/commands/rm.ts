import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Rm extends RktCommand {
  static override description = 'Remove all files and resources associated with an exited pod\n\nUnlike gc, rm allows users to remove specific pods.';
  static override examples = ['<%= config.bin %> rm 5f3a9d2c', '<%= config.bin %> rm --uuid-file=/run/app.uuid'];
  static override strict = false;
  static override args = { uuid: Args.string({ description: 'pod UUID(s) (or unique prefixes)', required: false }) };
  static override flags = { 'uuid-file': Flags.string({ description: 'read pod UUID from file instead of argument' }) };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Rm);
    const { uuidArgs, ensureSuperuser } = await import('../runtime/pods/cli.js');
    ensureSuperuser();
    const engine = await this.engine(flags);
    const { formatError } = await import('@rkt/api');
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    const { removePod } = await import('../runtime/pods/gc.js');
    let failed = false;
    let uuids: string[] = [];
    try {
      uuids = uuidArgs(argv as string[], flags['uuid-file'], 254);
    } catch (e) {
      if ((e as { exit?: number }).exit !== 254 || flags['uuid-file'] === undefined) throw e;
      this.warnLine(formatError(e));
      failed = true;
    }
    const ctx = { engine, log: { out: (m: string) => process.stdout.write(`${m}\n`), err: (m: string) => this.warnLine(m), debug: (m: string) => this.debugLine(m) } };
    for (const arg of uuids) {
      let pod;
      try {
        pod = podFromUuidString(engine.context.paths.dataDir, arg);
      } catch (e) {
        failed = true;
        this.warnLine(`cannot get pod: ${formatError(e)}`);
        continue;
      }
      try {
        if (await removePod(pod, ctx)) process.stdout.write(`${JSON.stringify(pod.uuid)}\n`);
        else failed = true;
      } catch (e) {
        failed = true;
        this.warnLine(`${JSON.stringify(pod.uuid)}: ${formatError(e)}`);
      } finally {
        pod.close();
      }
    }
    if (failed) {
      this.warnLine('failed to remove one or more pods');
      this.exit(254);
    }
  }
}
