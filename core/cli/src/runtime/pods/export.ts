/**
 * `rkt export`: an exited pod's app rootfs plus its image manifest, as a gzip-compressed ACI built
 * with GNU tar (numeric owners kept). An overlay app whose mount is gone is mounted read-only
 * again (lower: its tree, upper: the pod's upper dir) on a private temporary mount point.
 */
import { existsSync, mkdtempSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { RktError, ErrorCodes, invalidArgument, type Store } from '@rkt/api';
import { Pod, PodState, appDir, appInfoDir, appRootfs } from './pod.js';
import { isMountPoint, mountsUnder } from './mounts.js';

export async function exportPod(pod: Pod, app: string | undefined, out: string, overwrite: boolean, store: () => Promise<Store>): Promise<void> {
  if (!out.endsWith('.aci')) throw invalidArgument(`extension must be .aci (got ${JSON.stringify(out)})`);
  if (pod.state !== PodState.Exited && pod.state !== PodState.ExitedGarbage)
    throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${JSON.stringify(pod.uuid)} is not exited (state: ${pod.state}); only exited pods can be exported`);
  const apps = pod.manifest().apps.map((a) => a.name);
  if (app === undefined) {
    if (apps.length !== 1) throw invalidArgument(`pod ${pod.uuid} has ${apps.length} apps: specify one with --app (${apps.join(', ')})`);
    app = apps[0]!;
  } else if (!apps.includes(app)) throw invalidArgument(`app ${JSON.stringify(app)} is not in pod ${pod.uuid}`);
  if (existsSync(out) && !overwrite) throw new RktError(ErrorCodes.ALREADY_EXISTS, `output ACI file exists (try --overwrite): ${out}`);
  if (existsSync(pod.file('private-users-prepared')))
    throw new RktError(ErrorCodes.UNIMPLEMENTED, 'exporting pods run with --private-users is not supported by this rkt (the uid shift would have to be reversed)');

  const rootfs = pod.file(appRootfs(app));
  let tarRootParent = pod.file(appDir(app));
  let tmpMount: string | undefined;
  if (pod.usesOverlay()) {
    if (!isMountPoint(rootfs)) {
      const id = pod.readText(join(appInfoDir(app), 'treeStoreID')).trim();
      const tree = await (await store()).trees.get(id);
      if (!tree) throw new RktError(ErrorCodes.NOT_FOUND, `tree ${id} of app ${app} is no longer in the tree store`);
      const parent = mkdtempSync(join(pod.path, '.export-'));
      tmpMount = join(parent, 'rootfs');
      spawnSync('mkdir', [tmpMount]);
      const upper = pod.file(join('overlay', id, 'upper', app));
      // two lower dirs and no upper: a read-only overlay of what the app left
      const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${upper}:${join(tree.path, 'rootfs')}`, tmpMount], { encoding: 'utf8' });
      if (r.status !== 0) {
        rmSync(parent, { recursive: true, force: true });
        throw new RktError(ErrorCodes.INTERNAL, `cannot remount the app's overlay: ${String(r.stderr).trim()}`);
      }
      tarRootParent = parent;
    }
  } else {
    const inside = mountsUnder(rootfs);
    if (inside.length) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `app ${app} still has mounts under its rootfs (${inside.join(', ')}); run "rkt gc" first`);
  }
  const tmpOut = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  try {
    const r = spawnSync(
      'tar',
      ['--numeric-owner', '--xattrs', '-czf', tmpOut, '-C', pod.file(appInfoDir(app)), 'manifest', '-C', tarRootParent, 'rootfs'],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    if (r.error || r.status !== 0) throw new RktError(ErrorCodes.INTERNAL, `error writing ${out}: ${r.error?.message ?? String(r.stderr).trim()}`, { exit: 1 });
    renameSync(tmpOut, out);
  } finally {
    rmSync(tmpOut, { force: true });
    if (tmpMount) {
      spawnSync('umount', [tmpMount]);
      try {
        rmdirSync(tmpMount);
        rmdirSync(dirname(tmpMount));
      } catch {
        // left for gc
      }
    }
  }
}
