import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Stop extends RktCommand {
  static override description =
    'Stop a pod\n\n' +
    'Runs the stage1 stop entrypoint of each running pod, then waits until the pod has exited (its lock ' +
    'is released), so that "rkt stop UUID && rkt rm UUID" does not race (rkt #3449). Prints the quoted UUID of each stopped pod.';
  static override examples = ['<%= config.bin %> stop 5f3a9d2c', '<%= config.bin %> stop --force --uuid-file=/run/app.uuid'];
  static override strict = false;
  static override args = { uuid: Args.string({ description: 'pod UUID(s) (or unique prefixes)', required: false }) };
  static override flags = {
    force: Flags.boolean({ description: 'forced stopping', default: false }),
    'uuid-file': Flags.string({ description: 'read pod UUID from file instead of argument' }),
    timeout: Flags.string({ description: 'how long to wait for each pod to exit after the stop request (0 = do not wait)', default: '30s' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Stop);
    const { uuidArgs, sleep } = await import('../runtime/pods/cli.js');
    const uuids = uuidArgs(argv as string[], flags['uuid-file'], 1);
    const { parseDuration } = await import('../runtime/duration.js');
    const waitMs = parseDuration(flags.timeout, '--timeout');
    const engine = await this.engine(flags);
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    const { PodState } = await import('../runtime/pods/pod.js');
    const { callEntrypoint, Entrypoint, entrypointPath, readStage1Manifest } = await import('../runtime/pods/stage1.js');
    const { formatError } = await import('@rkt/api');
    let errors = 0;
    for (const arg of uuids) {
      let pod;
      try {
        pod = podFromUuidString(engine.context.paths.dataDir, arg);
      } catch (e) {
        errors++;
        this.warnLine(`cannot get pod: ${formatError(e, this.debugOn)}`);
        continue;
      }
      const q = JSON.stringify(pod.uuid);
      if (pod.isAfterRun()) {
        process.stdout.write(`pod ${q} is already stopped\n`);
        continue;
      }
      if (pod.state !== PodState.Running) {
        errors++;
        this.warnLine(`pod ${q} is not running`);
        continue;
      }
      try {
        const s1 = readStage1Manifest(pod.path);
        const ep = entrypointPath(pod.path, s1, Entrypoint.stop);
        const r = callEntrypoint(pod.path, ep, [...(flags.force ? ['--force'] : []), pod.uuid]);
        if (r.error || r.status !== 0) throw new Error(r.error ? r.error.message : `stop entrypoint exited with status ${r.status}`);
      } catch (e) {
        errors++;
        this.warnLine(`error stopping ${q}: ${formatError(e, this.debugOn)}`);
        continue;
      }
      // Wait for the kernel to drop the pod lock: the pod is then "exited" and rm can proceed.
      const until = Date.now() + waitMs;
      for (;;) {
        pod.refresh();
        if (!pod.isRunning()) break;
        if (Date.now() >= until) break;
        await sleep(50);
      }
      if (pod.isRunning() && waitMs > 0) {
        errors++;
        this.warnLine(`pod ${q} did not exit within ${flags.timeout} of the stop request${flags.force ? '' : ' (try --force)'}`);
        continue;
      }
      // The pod has exited: release its networks now if its `rkt run` is not there to do it.
      if (pod.dir && !pod.isRunning()) await (await import('../runtime/net/pod-net.js')).teardownWithPlugins(engine.host, pod.path, pod.uuid, (m) => this.warnLine(m));
      process.stdout.write(`${q}\n`);
    }
    if (errors > 0) {
      this.warnLine(`failed to stop ${errors} pod(s)`);
      this.exit(254);
    }
  }

  private get debugOn(): boolean {
    return process.argv.includes('--debug');
  }
}
