/**
 * fly `stop [--force] <uuid>`: SIGTERM (SIGKILL with --force) to `pid`; if that process is gone,
 * to the process group in `pgid` (the app's own group, never rkt's).
 */
import * as fs from 'node:fs';
import { PodDir, isAlive, main, parseStopArgs } from '@rkt/stage1-native/common';

function belongsToPod(pid: number, pod: PodDir): boolean {
  try {
    const root = fs.readlinkSync(`/proc/${pid}/root`);
    if (root.startsWith(pod.dir + '/')) return true;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pod.dir + '/');
  } catch {
    return false;
  }
}

await main(async () => {
  const args = parseStopArgs(process.argv.slice(2));
  const pod = new PodDir(process.cwd());
  const sig = args.force ? 'SIGKILL' : 'SIGTERM';
  const pid = pod.readPid('pid');
  if (pid !== undefined && isAlive(pid) && belongsToPod(pid, pod)) {
    process.kill(pid, sig);
    return 0;
  }
  const pgid = pod.readPid('pgid');
  if (pgid !== undefined) {
    try {
      process.kill(-pgid, sig);
    } catch {
      /* no such group: already stopped */
    }
  }
  return 0;
});
