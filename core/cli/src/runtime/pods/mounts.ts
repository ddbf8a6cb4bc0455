/**
 * Mounting and unmounting for pods, through util-linux `mount`/`umount` (Node has no mount(2)).
 * Mount points are read from /proc/self/mountinfo (octal escapes decoded).
 */
import { chmodSync, chownSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { sep } from 'node:path';
import { RktError, ErrorCodes } from '@rkt/api';

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  id: number;
  parent: number;
  mountPoint: string;
  fsType: string;
}

export function readMountinfo(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const f = pre!.split(' ');
    out.push({ id: Number(f[0]), parent: Number(f[1]), mountPoint: unescapeMountinfo(f[4]!), fsType: (post ?? '').split(' ')[0]! });
  }
  return out;
}

/** Mount points at or below `dir` (compared by path component), deepest first. */
export function mountsUnder(dir: string, table: MountEntry[] = readMountinfo()): string[] {
  const root = dir.endsWith(sep) ? dir.slice(0, -1) : dir;
  const hits = table.filter((m) => m.mountPoint === root || m.mountPoint.startsWith(root + sep)).map((m) => m.mountPoint);
  // deepest (and, for stacked mounts, last mounted) first
  return [...hits].reverse().sort((a, b) => b.split(sep).length - a.split(sep).length);
}

export function isMountPoint(path: string): boolean {
  return readMountinfo().some((m) => m.mountPoint === path);
}

function run(cmd: string, args: string[]): { ok: boolean; err: string } {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.error) throw new RktError(ErrorCodes.UNAVAILABLE, `cannot run ${cmd}: ${r.error.message}`);
  return { ok: r.status === 0, err: String(r.stderr).trim() };
}

/** overlayfs: the tree's rootfs as the (read-only) lower dir, a per-pod upper and work dir. */
export function mountOverlay(lower: string, upper: string, work: string, target: string): void {
  for (const p of [lower, upper, work])
    if (/[,:\\]/.test(p)) throw new RktError(ErrorCodes.INVALID_ARGUMENT, `cannot use overlayfs with the path ${JSON.stringify(p)} (contains , : or \\); use --no-overlay`);
  // The merged root directory takes its mode and owner from the upper dir: give it the image's,
  // or a non-root app could not even traverse its own / (the pod dirs are 0750).
  const root = statSync(lower);
  chmodSync(upper, root.mode & 0o7777);
  chownSync(upper, root.uid, root.gid);
  const r = run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target]);
  if (!r.ok) throw new RktError(ErrorCodes.INTERNAL, `error mounting overlay on ${target}: ${r.err}`);
}

/** Unmount everything at or below `dir`, deepest first; busy mounts are detached lazily. */
export function unmountAll(dir: string): string[] {
  const errors: string[] = [];
  for (let round = 0; round < 8; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return errors;
    for (const p of points) {
      const r = run('umount', [p]);
      if (r.ok) continue;
      const lazy = run('umount', ['-l', p]);
      if (!lazy.ok && round === 7) errors.push(`${p}: ${lazy.err || r.err}`);
    }
  }
  const left = mountsUnder(dir);
  if (left.length) errors.push(`still mounted: ${left.join(', ')}`);
  return errors;
}

const OVERLAYFS_MAGIC = 0x794c7630;
const AUFS_MAGIC = 0x61756673;
const ZFS_MAGIC = 0x2fc12fc1;

/** Why overlayfs cannot hold this data dir's pods, or undefined when it can. */
export function overlayUnsupportedReason(dataDir: string): string | undefined {
  let fss = '';
  try {
    fss = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'cannot read /proc/filesystems';
  }
  if (!/\toverlay\n/.test(fss)) {
    spawnSync('modprobe', ['overlay'], { stdio: 'ignore' });
    try {
      fss = readFileSync('/proc/filesystems', 'utf8');
    } catch {
      // keep the old content
    }
    if (!/\toverlay\n/.test(fss)) return 'overlay filesystem is not supported by the kernel';
  }
  try {
    const t = Number(statfsSync(dataDir).type);
    if (t === AUFS_MAGIC) return 'unsupported filesystem: aufs';
    if (t === ZFS_MAGIC) return 'unsupported filesystem: zfs';
    if (t === OVERLAYFS_MAGIC) return 'unsupported filesystem: the data directory is itself on overlayfs';
  } catch {
    // statfs unavailable: try anyway
  }
  if (process.getuid?.() !== 0) return 'overlay needs root';
  return undefined;
}
