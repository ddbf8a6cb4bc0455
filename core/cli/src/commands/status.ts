import { Args, Flags } from '@oclif/core';
import { RktCommand } from '../base-command.js';

/** rkt's --wait / --wait-ready values: bare or true = forever (-1), false or 0 = no wait, else a duration. */
function waitMs(v: string | undefined, flag: string, parse: (t: string, f: string) => number): number {
  if (v === undefined) return 0;
  if (v === '' || ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return -1;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return 0;
  const neg = v.startsWith('-');
  const ms = parse(neg ? v.slice(1) : v, `--${flag}`);
  return neg ? -1 : ms;
}

export default class Status extends RktCommand {
  static override description =
    'Check the status of a rkt pod\n\nPrints assorted information about the pod such as its state, pid and exit status.\n\n' +
    'The --wait and --wait-ready flags accept boolean or timeout values. If set to true, wait indefinitely. If set to false, don\'t wait at all. ' +
    'They can also be set to a duration. If the duration is less than zero, wait indefinitely. If the duration is zero, don\'t wait at all.';
  static override examples = ['<%= config.bin %> status 5f3a', '<%= config.bin %> status --wait=30s --format=json --uuid-file=/run/pod.uuid'];
  static override args = { uuid: Args.string({ description: 'pod UUID (or a unique prefix)', required: false }) };
  static override flags = {
    wait: Flags.string({ description: 'toggles waiting for the pod to finish. Use the output to determine the actual terminal state.' }),
    'wait-ready': Flags.string({ description: 'toggles waiting until the pod is ready.' }),
    format: Flags.string({ description: "choose the output format. Allowed format includes 'json', 'json-pretty'. If empty, then the result is printed as key value pairs", options: ['json', 'json-pretty', ''] }),
    'uuid-file': Flags.string({ description: 'read pod UUID from file instead of argument' }),
  };

  /** `--wait` and `--wait-ready` may be given bare; oclif wants a value, so give them one. */
  override async init(): Promise<void> {
    this.argv = this.argv.map((a) => (a === '--wait' || a === '--wait-ready' ? `${a}=true` : a));
    await super.init();
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Status);
    const { parseDuration } = await import('../runtime/duration.js');
    const { uuidArgs, sleep } = await import('../runtime/pods/cli.js');
    const dWait = waitMs(flags.wait, 'wait', parseDuration);
    const dReady = waitMs(flags['wait-ready'], 'wait-ready', parseDuration);
    const engine = await this.engine(flags);
    const [arg] = uuidArgs(args.uuid !== undefined ? [args.uuid] : [], flags['uuid-file'], 1, true);
    const { podFromUuidString } = await import('../runtime/pods/uuid.js');
    const { RktError, ErrorCodes } = await import('@rkt/api');
    let pod;
    try {
      pod = podFromUuidString(engine.context.paths.dataDir, arg!);
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'problem retrieving pod', { cause: e });
    }
    const deadline = (ms: number) => (ms < 0 ? Infinity : Date.now() + ms);
    if (dReady !== 0) {
      const until = deadline(dReady);
      while (!pod.isSupervisorReady()) {
        pod.refresh();
        if (pod.isFinished()) throw new RktError(ErrorCodes.FAILED_PRECONDITION, 'error waiting for pod readiness', { cause: new Error(`pod ${pod.uuid} is not running anymore`) });
        if (Date.now() >= until) throw new RktError(ErrorCodes.UNAVAILABLE, 'error waiting for pod readiness', { cause: new Error('context deadline exceeded') });
        await sleep(100);
      }
    }
    if (dWait !== 0) {
      const until = deadline(dWait);
      for (;;) {
        pod.refresh();
        if (pod.isFinished() || pod.state === 'gone') break;
        if (Date.now() >= until) throw new RktError(ErrorCodes.UNAVAILABLE, 'error waiting for pod to finish', { cause: new Error('context deadline exceeded') });
        await sleep(100);
      }
    }
    pod.refresh();
    const { statusText, v1Pod } = await import('../runtime/pods/status.js');
    try {
      if (flags.format === 'json' || flags.format === 'json-pretty') {
        const { goJson } = await import('../runtime/format.js');
        process.stdout.write(goJson(v1Pod(pod), flags.format === 'json-pretty' ? '\t' : undefined) + '\n');
        return;
      }
      const text = await statusText(pod, async (p) => {
        // the pid file may appear just after the state turned to running
        const until = Date.now() + 1000;
        for (;;) {
          const pid = p.pid();
          if (pid !== undefined || !p.isRunning() || Date.now() >= until) return pid;
          await sleep(100);
        }
      });
      process.stdout.write(text);
    } catch (e) {
      throw new RktError(ErrorCodes.INTERNAL, 'unable to print status', { cause: e });
    }
  }
}
