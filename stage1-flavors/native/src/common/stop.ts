/**
 * `stop` of the supervised flavors (rkt.md §1.5, nspawn flavors): SIGTERM to the pod supervisor
 * (the single child of `ppid`), which forwards it to every app and exits when they are done; with
 * --force SIGKILL, which as PID 1 of the pod takes its whole PID namespace with it.
 */
import * as fs from 'node:fs';
import type { PodDir } from './pod.js';
import { childrenOf, isAlive } from './proc.js';

/**
 * Signal the supervisor of `pod`. `owns(cmdline)` guards against a recycled pid: it must say
 * whether the `ppid` holder's command line is this pod's (a path of the pod in it).
 */
export function stopSupervisor(pod: PodDir, force: boolean, owns: (cmdline: string) => boolean): void {
  const ppid = pod.readPid('ppid');
  if (ppid === undefined || !isAlive(ppid)) return;
  let cmd: string;
  try {
    cmd = fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!owns(cmd)) return;
  const sup = childrenOf(ppid);
  const sig = force ? 'SIGKILL' : 'SIGTERM';
  for (const p of sup.length ? sup : [ppid]) {
    try {
      process.kill(p, sig);
    } catch {
      /* already gone */
    }
  }
}
