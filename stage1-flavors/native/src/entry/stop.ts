/**
 * native `stop [--force] <uuid>`: SIGTERM to the pod supervisor (the single child of `ppid`), which
 * forwards it to every app and exits when they are done; with --force, SIGKILL to the supervisor,
 * which as PID 1 takes the whole pod PID namespace with it.
 */
import { parseStopArgs } from '../common/args.js';
import { main } from '../common/log.js';
import { PodDir } from '../common/pod.js';
import { stopSupervisor } from '../common/stop.js';

await main(async () => {
  const args = parseStopArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  // The ppid holder is this pod's unshare, whose command line names the pod's flavor-state dir.
  stopSupervisor(pod, args.force, (cmd) => cmd.includes(pod.flavorState));
  return 0;
});
