import { Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

export default class Gc extends RktCommand {
  static override description =
    'Garbage collect rkt pods no longer in use\n\n' +
    'This is intended to be run periodically from a timer or cron job.\n\n' +
    'Garbage collection is a 2-step process. First, stopped pods are moved to the garbage by one invocation of the gc command. ' +
    'A subsequent invocation will clean up the pod, assuming the pod has been in the garbage for more time than the specified grace period.\n\n' +
    'Use --grace-period=0s to effectively disable the grace-period.';
  static override examples = ['<%= config.bin %> gc', '<%= config.bin %> gc --grace-period=0s', '<%= config.bin %> gc --mark-only'];
  static override flags = {
    'grace-period': Flags.string({ description: 'duration to wait before discarding inactive pods from garbage', default: '30m0s' }),
    'expire-prepared': Flags.string({ description: 'duration to wait before expiring prepared pods', default: '24h0m0s' }),
    'mark-only': Flags.boolean({ description: 'if set to true, then the exited/aborted pods will be moved to the garbage directories without actually deleting them, this is useful for marking the exit time of a pod', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Gc);
    const { parseDuration } = await import('../runtime/duration.js');
    const gracePeriodMs = parseDuration(flags['grace-period'], '--grace-period');
    const expirePreparedMs = parseDuration(flags['expire-prepared'], '--expire-prepared');
    const { ensureSuperuser } = await import('../runtime/pods/cli.js');
    ensureSuperuser();
    const engine = await this.engine(flags);
    const { initPodDirs } = await import('../runtime/pods/pod.js');
    initPodDirs(engine.context.paths.dataDir);
    const { gcPods } = await import('../runtime/pods/gc.js');
    await gcPods(engine, { gracePeriodMs, expirePreparedMs, markOnly: flags['mark-only'] }, {
      out: (m) => process.stdout.write(`${m}\n`),
      err: (m) => this.warnLine(m),
      debug: (m) => this.debugLine(m),
    });
  }
}
