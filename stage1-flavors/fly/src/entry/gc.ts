/**
 * fly `gc [--debug] [--local-config=DIR] <uuid>`: kill any process still rooted in the pod (an app
 * that outlived its rkt process), then unmount everything under the pod dir, deepest first.
 */
import * as fs from 'node:fs';
import { PodDir, Stage1Error, main, makeLogger, parseGcArgs, unmountUnder } from '@rkt/stage1-native/common';

function rootedUnder(dir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => {
      try {
        const r = fs.readlinkSync(`/proc/${p}/root`);
        return r === dir || r.startsWith(dir + '/');
      } catch {
        return false;
      }
    });
}

await main(async () => {
  const args = parseGcArgs(process.argv.slice(2));
  const log = makeLogger(args.debug);
  const pod = new PodDir(process.cwd());
  for (let i = 0; i < 50; i++) {
    const procs = rootedUnder(pod.dir);
    if (procs.length === 0) break;
    for (const p of procs) {
      log.debug(`killing leftover process ${p}`);
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const left = unmountUnder(pod.dir, (m) => log.warn(m));
  if (left.length) throw new Stage1Error(`could not unmount: ${left.join(', ')}`);
  return 0;
});
