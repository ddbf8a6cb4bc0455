/** What every flavor's `gc` entrypoint starts with: its arguments, a logger, the pod dir, its state. */
import { parseGcArgs, type GcArgs } from './args.js';
import { makeLogger, type Logger } from './log.js';
import { PodDir } from './pod.js';

/**
 * `readState` reads the flavor's own state file; an unreadable one (a pod that died while being
 * set up) is reported and gc goes on with what it can derive from the uuid.
 */
export function startGc<S>(argv: string[], readState: (pod: PodDir) => S): { args: GcArgs; log: Logger; pod: PodDir; state: S | undefined } {
  const args = parseGcArgs(argv);
  const log = makeLogger(args.debug);
  const pod = new PodDir(process.cwd());
  let state: S | undefined;
  try {
    state = readState(pod);
  } catch (e) {
    log.warn(`ignoring unreadable state: ${(e as Error).message}`);
  }
  return { args, log, pod, state };
}
