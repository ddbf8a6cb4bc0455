import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

const VALUE_FLAGS = new Set(['app', 'dir', 'system-config', 'local-config', 'user-config', 'insecure-options']);

export default class Enter extends RktCommand {
  static override description =
    'Enter the namespaces of an app within a rkt pod\n\n' +
    'Usage: rkt enter [--app=APPNAME] UUID [CMD [ARGS ...]]\n' +
    'If CMD is not specified, /bin/bash is used. Everything after UUID is the command.';
  static override examples = ['<%= config.bin %> enter 5f3a9d2c /bin/sh -c "ps"', '<%= config.bin %> enter --app=web 5f3a9d2c'];
  static override strict = false;
  static override flags = { app: Flags.string({ description: 'name of the app to enter within the specified pod' }) };

  async run(): Promise<void> {
    // Flags stop at the UUID: everything after it belongs to the command.
    const raw = this.argv;
    const head: string[] = [];
    let i = 0;
    for (; i < raw.length; i++) {
      const a = raw[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (!a.startsWith('-') || a === '-') break;
      head.push(a);
      if (a.startsWith('--') && !a.includes('=') && VALUE_FLAGS.has(a.slice(2)) && i + 1 < raw.length) head.push(raw[++i]!);
    }
    const rest = raw.slice(i);
    const { flags } = await this.parse(Enter, head);
    const { invalidArgument, RktError, ErrorCodes } = await import('@rkt/api');
    if (rest.length === 0) throw invalidArgument('a pod UUID is required');
    const [uuidArg, ...cmdArgs] = rest;
    const { ensureSuperuser, sleep } = await import('../runtime/pods/cli.js');
    ensureSuperuser();
    const engine = await this.engine(flags);
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    let pod;
    try {
      pod = podFromUuidString(engine.context.paths.dataDir, uuidArg!);
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'problem retrieving pod', { cause: e });
    }
    if (!pod.isRunning()) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${pod.uuid} is not running`);
    const apps = pod.manifest().apps.map((a) => a.name);
    let app = flags.app;
    if (app === undefined) {
      if (apps.length !== 1) {
        process.stderr.write(`Pod contains multiple apps:\n${apps.map((a) => `\t${a}`).join('\n')}\n`);
        throw invalidArgument('specify app using "rkt enter --app= ..."');
      }
      app = apps[0]!;
    } else if (!apps.includes(app)) throw invalidArgument(`app ${JSON.stringify(app)} is not in pod ${pod.uuid}`);
    let argv = cmdArgs;
    if (argv.length === 0) {
      this.warnLine('no command specified, assuming "/bin/bash"');
      argv = ['/bin/bash'];
    }
    // The pid file may appear a little after the pod turned to running.
    let pid: number | undefined;
    for (;;) {
      pid = pod.containerPid1();
      if (pid !== undefined) break;
      await sleep(100);
      pod.refresh();
      if (!pod.isRunning()) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${pod.uuid} is not running anymore`);
    }
    const { readStage1Manifest, entrypointPath, Entrypoint } = await import('../runtime/pods/stage1.js');
    const s1 = readStage1Manifest(pod.path);
    const ep = entrypointPath(pod.path, s1, Entrypoint.enter);
    const { spawn } = await import('node:child_process');
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(ep, [`--pid=${pid}`, `--appname=${app}`, '--', ...argv], { cwd: pod.path, stdio: 'inherit' });
      child.once('error', (e) => reject(new RktError(ErrorCodes.INTERNAL, 'enter failed', { cause: e })));
      child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 254)));
    });
    if (code !== 0) this.exit(code);
  }
}
