/**
 * Putting the stage1 and app trees into a pod (rkt §1.3):
 *  - prepare, overlay: remember tree ids (`stage1TreeStoreID`, `appsinfo/<app>/treeStoreID`) and
 *    copy manifests; the mounts happen at run time;
 *  - prepare, no overlay: full copies (`cp -a`, which keeps owners, modes, xattrs, devices and hard
 *    links) into `stage1/rootfs` and `stage1/rootfs/opt/stage2/<app>/rootfs`;
 *  - run, overlay: `stage1/rootfs` = overlay(lower: the stage1 tree's rootfs, upper/work:
 *    `overlay/<id>/{upper,work}`), then per app `…/opt/stage2/<app>/rootfs` = overlay(lower: app
 *    tree, upper/work: `overlay/<id>/{upper,work}/<app>`); `rkt/status` touched so it lives in the
 *    upper layer; `etc/mtab` links; DNS/hosts files.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync, chmodSync, lchownSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { RktError, ErrorCodes, type RenderedTree } from '@rkt/api';
import { PodFiles, appDir, appInfoDir, appRootfs } from './pod.js';
import { mountOverlay } from './mounts.js';
import { hostsText, resolvConfText, type DnsConfig } from './options.js';

const DIR_MODE = 0o750;
const FILE_MODE = 0o640;

export function mkdirp(p: string, mode = DIR_MODE): void {
  mkdirSync(p, { recursive: true, mode });
}

/** `cp -a` of a directory's content into `dest` (created). */
export function copyTree(src: string, dest: string): void {
  mkdirp(dest, 0o755);
  const r = spawnSync('cp', ['-a', '--reflink=auto', `${src}/.`, dest], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new RktError(ErrorCodes.INTERNAL, `error copying ${src} to ${dest}: ${r.error?.message ?? String(r.stderr).trim()}`);
}

/**
 * Shift every owner in a copied tree by `shift` (user namespaces, `--private-users`). chown clears
 * set-id bits, so modes are put back afterwards.
 */
export function shiftOwners(root: string, shift: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    lchownSync(p, st.uid + shift, st.gid + shift);
    if (!st.isSymbolicLink() && st.mode & 0o6000) chmodSync(p, st.mode & 0o7777);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(root);
}

export interface PreparedTrees {
  stage1: RenderedTree;
  apps: Array<{ name: string; tree: RenderedTree }>;
}

/** Write what prepare leaves in the pod for stage1 and apps. */
export function prepareTrees(podPath: string, t: PreparedTrees, o: { overlay: boolean; privateUsersShift?: number }): void {
  mkdirp(join(podPath, 'stage1'));
  copyFileSync(join(t.stage1.path, 'manifest'), join(podPath, PodFiles.stage1Manifest));
  if (!o.overlay) {
    copyTree(join(t.stage1.path, 'rootfs'), join(podPath, PodFiles.stage1Rootfs));
    if (o.privateUsersShift) shiftOwners(join(podPath, PodFiles.stage1Rootfs), o.privateUsersShift);
  }
  writeFileSync(join(podPath, PodFiles.stage1TreeStoreID), t.stage1.id, { mode: FILE_MODE });
  for (const { name, tree } of t.apps) {
    const info = join(podPath, appInfoDir(name));
    mkdirp(info);
    copyFileSync(join(tree.path, 'manifest'), join(info, 'manifest'));
    if (o.overlay) {
      writeFileSync(join(info, 'treeStoreID'), tree.id, { mode: FILE_MODE });
    } else {
      const ad = join(podPath, appDir(name));
      mkdirp(ad);
      copyFileSync(join(tree.path, 'manifest'), join(ad, 'manifest'));
      copyTree(join(tree.path, 'rootfs'), join(ad, 'rootfs'));
      if (o.privateUsersShift) {
        // the app's directory too (the app dir and its manifest), as rkt shifts the pod's trees:
        // a stage1 whose supervisor runs in the user namespace (nspawn) reaches the rootfs through it
        shiftOwners(join(ad, 'rootfs'), o.privateUsersShift);
        lchownSync(ad, o.privateUsersShift, o.privateUsersShift);
        lchownSync(join(ad, 'manifest'), o.privateUsersShift, o.privateUsersShift);
      }
    }
  }
}

/** `etc/mtab -> ../proc/self/mounts` when the image has /etc but no mtab. */
export function ensureMtab(rootfs: string): void {
  const etc = join(rootfs, 'etc');
  let st;
  try {
    st = statSync(etc);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  const mtab = join(etc, 'mtab');
  try {
    lstatSync(mtab);
    return;
  } catch {
    symlinkSync('../proc/self/mounts', mtab);
  }
}

export interface TreeLookup {
  rootfsOf(treeId: string): Promise<string>;
}

/** Run-time set-up: overlay mounts (when prepared with overlay), mtab links. */
export async function setupForRun(podPath: string, appNames: readonly string[], overlay: boolean, trees: TreeLookup): Promise<void> {
  const s1rootfs = join(podPath, PodFiles.stage1Rootfs);
  if (overlay) {
    const s1id = readFileSync(join(podPath, PodFiles.stage1TreeStoreID), 'utf8').trim();
    const upper = join(podPath, 'overlay', s1id, 'upper');
    const work = join(podPath, 'overlay', s1id, 'work');
    mkdirp(upper);
    mkdirp(work);
    mkdirp(s1rootfs);
    mountOverlay(await trees.rootfsOf(s1id), upper, work, s1rootfs);
    const status = join(s1rootfs, 'rkt', 'status');
    mkdirp(status, 0o755);
    const now = new Date();
    utimesSync(status, now, now);
  }
  for (const name of appNames) {
    const ad = join(podPath, appDir(name));
    if (overlay) {
      const id = readFileSync(join(podPath, appInfoDir(name), 'treeStoreID'), 'utf8').trim();
      const upper = join(podPath, 'overlay', id, 'upper', name);
      const work = join(podPath, 'overlay', id, 'work', name);
      mkdirp(upper);
      mkdirp(work);
      mkdirp(join(ad, 'rootfs'));
      copyFileSync(join(podPath, appInfoDir(name), 'manifest'), join(ad, 'manifest'));
      mountOverlay(await trees.rootfsOf(id), upper, work, join(ad, 'rootfs'));
    }
    ensureMtab(join(podPath, appRootfs(name)));
  }
}

/** `etc/rkt-resolv.conf` and `etc/rkt-hosts` in the stage1 rootfs (DNS modes "stage0"). */
export function writeDnsFiles(podPath: string, dns: DnsConfig): void {
  const etc = join(podPath, PodFiles.stage1Rootfs, 'etc');
  if (dns.resolvMode === 'stage0') {
    mkdirp(etc, 0o755);
    writeFileSync(join(etc, 'rkt-resolv.conf'), resolvConfText(dns), { mode: 0o644 });
  }
  if (dns.hostsMode === 'stage0') {
    mkdirp(etc, 0o755);
    const fb = join(etc, 'hosts-fallback');
    writeFileSync(join(etc, 'rkt-hosts'), hostsText(dns, existsSync(fb) ? readFileSync(fb, 'utf8') : undefined), { mode: 0o644 });
  }
}
