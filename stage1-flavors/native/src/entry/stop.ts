/**
 * native `stop [--force] <uuid>`: SIGTERM to the pod supervisor (the single child of `ppid`), which
 * forwards it to every app and exits when they are done; with --force, SIGKILL to the supervisor,
 * which as PID 1 takes the whole pod PID namespace with it.
 */
import * as fs from 'node:fs';
import { parseStopArgs } from '../common/args.js';
import { main } from '../common/log.js';
import { PodDir } from '../common/pod.js';
import { childrenOf, isAlive } from '../common/proc.js';

await main(async () => {
  const args = parseStopArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  const ppid = pod.readPid('ppid');
  if (ppid === undefined || !isAlive(ppid)) return 0;
  // Guard against a recycled pid: the holder must be this pod's unshare/supervisor.
  const cmd = fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8');
  if (!cmd.includes(pod.flavorState)) return 0;
  const sup = childrenOf(ppid);
  const sig = args.force ? 'SIGKILL' : 'SIGTERM';
  for (const p of sup.length ? sup : [ppid]) {
    try {
      process.kill(p, sig);
    } catch {
      /* already gone */
    }
  }
  return 0;
});
