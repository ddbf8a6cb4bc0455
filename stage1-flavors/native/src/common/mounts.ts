/** /proc/self/mountinfo parsing and cleanup of mounts left under a directory. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface MountInfo {
  id: number;
  parent: number;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
  options: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ') as [string, string | undefined];
    if (post === undefined) continue;
    const f = pre.split(' ');
    const g = post.split(' ');
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      mountPoint: unescape(f[4] ?? ''),
      options: f[5] ?? '',
      fsType: g[0] ?? '',
      source: unescape(g[1] ?? ''),
      superOptions: g[2] ?? '',
    });
  }
  return out;
}

export function readMountInfo(pid: number | 'self' = 'self'): MountInfo[] {
  return parseMountInfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
}

/** Mount points at or below `dir` (component-wise), deepest (last mounted) first. */
export function mountsUnder(dir: string, infos = readMountInfo()): string[] {
  const d = dir.replace(/\/+$/, '');
  const hits = infos.filter((m) => m.mountPoint === d || m.mountPoint.startsWith(d + '/'));
  return hits.reverse().map((m) => m.mountPoint);
}

/**
 * Unmount everything at or below `dir`, deepest first (lazy unmount when busy). Uses util-linux
 * umount, which Node lacks. Returns the mount points that are still there.
 */
export function unmountUnder(dir: string, log?: (m: string) => void): string[] {
  for (let round = 0; round < 8; round++) {
    const todo = mountsUnder(dir);
    if (todo.length === 0) return [];
    for (const mp of todo) {
      let r = spawnSync('umount', ['--no-canonicalize', mp], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) r = spawnSync('umount', ['--no-canonicalize', '-l', mp], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) log?.(`cannot unmount ${mp}: ${String(r.stderr).trim()}`);
    }
  }
  return mountsUnder(dir);
}
