/**
 * Paths inside an app rootfs, resolved on the host without ever leaving the rootfs: symlinks are
 * interpreted relative to the rootfs root and `..` stops at it (like a chroot). Nothing from the
 * image is executed: users and groups come from the image's own /etc/passwd and /etc/group files
 * (appc §6.3), read as data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stage1Error } from './log.js';

const MAX_LINKS = 40;

export interface Resolved {
  /** Host path of the (possibly not existing) target, inside `root`. */
  hostPath: string;
  /** The path inside the rootfs, canonical (no symlinks, no `..`). */
  inRoot: string;
  exists: boolean;
}

/** Resolve `p` (absolute, inside the rootfs) within `root`, following symlinks inside it. */
export function resolveInRoot(root: string, p: string): Resolved {
  let links = 0;
  const parts: string[] = [];
  let todo = p.split('/').filter((c) => c !== '' && c !== '.');
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      parts.pop();
      continue;
    }
    const cur = path.join(root, ...parts, c);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
        const rest = [...parts, c, ...todo];
        return { hostPath: path.join(root, ...rest), inRoot: '/' + rest.join('/'), exists: false };
      }
      throw e;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Stage1Error(`too many levels of symbolic links resolving ${p}`);
      const target = fs.readlinkSync(cur);
      const tparts = target.split('/').filter((x) => x !== '' && x !== '.');
      if (target.startsWith('/')) parts.length = 0;
      todo = [...tparts, ...todo];
      continue;
    }
    parts.push(c);
    if (!st.isDirectory() && todo.length > 0) {
      const rest = [...parts, ...todo];
      return { hostPath: path.join(root, ...rest), inRoot: '/' + rest.join('/'), exists: false };
    }
  }
  return { hostPath: path.join(root, ...parts), inRoot: '/' + parts.join('/'), exists: true };
}

function readSmallRegular(root: string, p: string): string | undefined {
  const r = resolveInRoot(root, p);
  if (!r.exists) return undefined;
  const st = fs.lstatSync(r.hostPath);
  if (!st.isFile()) return undefined;
  if (st.size > 4 << 20) throw new Stage1Error(`${p} in the app rootfs is too large`);
  return fs.readFileSync(r.hostPath, 'utf8');
}

interface DbEntry {
  name: string;
  id: number;
  home?: string;
}

function parseDb(text: string | undefined, idField: number, homeField?: number): DbEntry[] {
  if (!text) return [];
  const out: DbEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const f = line.split(':');
    const id = Number(f[idField]);
    if (!f[0] || !/^\d+$/.test(f[idField] ?? '') || !Number.isSafeInteger(id)) continue;
    const e: DbEntry = { name: f[0], id };
    if (homeField !== undefined && f[homeField]) e.home = f[homeField];
    out.push(e);
  }
  return out;
}

function ownerOf(root: string, p: string, what: 'uid' | 'gid', app: string): number {
  const r = resolveInRoot(root, p);
  if (!r.exists) throw new Stage1Error(`app "${app}": cannot resolve ${what === 'uid' ? 'user' : 'group'} "${p}": no such file in the app rootfs`);
  const st = fs.lstatSync(r.hostPath);
  return what === 'uid' ? st.uid : st.gid;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Home directory from the image's passwd, when the user was found there. */
  home?: string;
  userName?: string;
}

/** appc §6.3: absolute path → owner of that file; else a name in the image's db; else a number. */
export function resolveUserGroup(root: string, user: string, group: string, app: string): ResolvedUser {
  if (!user) throw new Stage1Error(`app "${app}": empty user`);
  if (!group) throw new Stage1Error(`app "${app}": empty group`);
  let uid: number;
  let home: string | undefined;
  let userName: string | undefined;
  if (user.startsWith('/')) {
    uid = ownerOf(root, user, 'uid', app);
  } else {
    const pw = parseDb(readSmallRegular(root, '/etc/passwd'), 2, 5);
    const e = pw.find((x) => x.name === user);
    if (e) {
      uid = e.id;
      home = e.home;
      userName = e.name;
    } else if (/^\d+$/.test(user) && Number.isSafeInteger(Number(user)) && Number(user) < 2 ** 32 - 1) {
      uid = Number(user);
      const byId = pw.find((x) => x.id === uid);
      if (byId) {
        home = byId.home;
        userName = byId.name;
      }
    } else {
      throw new Stage1Error(`app "${app}": cannot resolve user "${user}": not found in the image's /etc/passwd`);
    }
  }
  let gid: number;
  if (group.startsWith('/')) {
    gid = ownerOf(root, group, 'gid', app);
  } else {
    const gr = parseDb(readSmallRegular(root, '/etc/group'), 2);
    const e = gr.find((x) => x.name === group);
    if (e) gid = e.id;
    else if (/^\d+$/.test(group) && Number.isSafeInteger(Number(group)) && Number(group) < 2 ** 32 - 1) gid = Number(group);
    else throw new Stage1Error(`app "${app}": cannot resolve group "${group}": not found in the image's /etc/group`);
  }
  const out: ResolvedUser = { uid, gid };
  if (home !== undefined) out.home = home;
  if (userName !== undefined) out.userName = userName;
  return out;
}

/**
 * Create a directory (and parents) inside the rootfs, refusing to go through anything but real
 * directories; returns the host path. Used before any app of the pod runs, so nothing else
 * modifies the tree concurrently.
 */
export function mkdirInRoot(root: string, p: string, mode = 0o755): string {
  const r = resolveInRoot(root, p);
  if (r.exists) {
    if (!fs.statSync(r.hostPath).isDirectory()) throw new Stage1Error(`${p} exists in the app rootfs and is not a directory`);
    return r.hostPath;
  }
  let cur = root;
  for (const c of r.inRoot.split('/').filter(Boolean)) {
    cur = path.join(cur, c);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch {
      fs.mkdirSync(cur, { mode });
      continue;
    }
    if (!st.isDirectory()) throw new Stage1Error(`${p}: a component is not a directory in the app rootfs`);
  }
  return cur;
}

/** Create an empty regular file inside the rootfs (parents as directories); returns the host path. */
export function touchInRoot(root: string, p: string): string {
  const r = resolveInRoot(root, p);
  if (r.exists) {
    const st = fs.lstatSync(r.hostPath);
    if (st.isDirectory()) throw new Stage1Error(`${p} is a directory in the app rootfs`);
    return r.hostPath;
  }
  mkdirInRoot(root, path.posix.dirname(r.inRoot));
  const fd = fs.openSync(r.hostPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  fs.closeSync(fd);
  return r.hostPath;
}

/**
 * appc: the working directory must exist in the assembled rootfs (volumes included); it must be
 * absolute, and never under /proc, /sys or /dev (a cwd there can reach outside the container,
 * CVE-2024-21626).
 */
export function checkWorkingDir(rootfs: string, cwd: string, mountTargets: string[], app: string): void {
  if (!cwd.startsWith('/')) throw new Stage1Error(`app "${app}": working directory "${cwd}" is not absolute`);
  if (/^\/+(proc|sys|dev)(\/|$)/.test(path.posix.normalize(cwd))) throw new Stage1Error(`app "${app}": working directory "${cwd}" is not allowed`);
  if (mountTargets.some((t) => cwd === t || cwd.startsWith(t + '/'))) return;
  const r = resolveInRoot(rootfs, cwd);
  if (!r.exists || !fs.statSync(r.hostPath).isDirectory()) {
    throw new Stage1Error(`app "${app}": working directory "${cwd}" does not exist in the app rootfs`);
  }
  if (/^\/(proc|sys|dev)(\/|$)/.test(r.inRoot)) throw new Stage1Error(`app "${app}": working directory "${cwd}" is not allowed`);
}
