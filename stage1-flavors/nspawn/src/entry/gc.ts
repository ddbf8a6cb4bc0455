/**
 * nspawn `gc [--debug] [--local-config=DIR] <uuid>` (pod exited, stage0 holds its lock): kills
 * whatever is left in the pod's cgroups (nspawn, the supervisor and the apps all live below
 * `/rkt/<uuid>`) and removes them, terminates the machine if machined still knows it, removes the
 * journal link and nspawn's per-machine directories under /run, and any mount left under the pod
 * dir. The container's own mounts went away with its mount namespace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PodCgroups, Stage1Error, hostHierarchies, main, startGc, unmountUnder, which } from '@rkt/stage1-native/common';
import { machineName } from '../nspawn/argv.js';
import { readState } from '../nspawn/state.js';

await main(async () => {
  const { args, log, pod, state } = startGc(process.argv.slice(2), readState);
  const machine = machineName(args.uuid);
  if (state?.registered) {
    const machinectl = which('machinectl');
    if (machinectl) spawnSync(machinectl, ['terminate', machine], { stdio: 'ignore' });
  }
  const cg = new PodCgroups(hostHierarchies(), state?.cgroupBase ?? `/rkt/${args.uuid}`);
  const left = await cg.cleanup({ timeoutMs: 10000 });
  log.debug(`removed cgroups of pod ${args.uuid}`);
  // --link-journal=try-guest leaves a link named after the machine id in the host's journal dir.
  const journal = path.join('/var/log/journal', args.uuid.replace(/-/g, ''));
  if (fs.lstatSync(journal, { throwIfNoEntry: false })?.isSymbolicLink()) fs.rmSync(journal, { force: true });
  // nspawn locks its --directory with /run/systemd/nspawn/locks/inode-<dev>:<ino> and removes the
  // file when it exits; a killed nspawn leaves it. The rootfs is still mounted here, so its
  // dev:ino names exactly this pod's lock.
  const rootfs = fs.statSync(path.join(pod.dir, 'stage1', 'rootfs'), { throwIfNoEntry: false });
  if (rootfs) fs.rmSync(`/run/systemd/nspawn/locks/inode-${rootfs.dev}:${rootfs.ino}`, { force: true });
  const problems: string[] = [];
  for (const d of ['propagate', 'unix-export'].map((x) => path.join('/run/systemd/nspawn', x, machine))) {
    problems.push(...unmountUnder(d, (m) => log.warn(m)).map((m) => `mount ${m}`));
    fs.rmSync(d, { recursive: true, force: true });
  }
  problems.push(...unmountUnder(pod.dir, (m) => log.warn(m)).map((m) => `mount ${m}`));
  problems.push(...left.map((d) => `cgroup ${d}`));
  if (problems.length) throw new Stage1Error(`could not clean up: ${problems.join(', ')}`);
  return 0;
});
