/**
 * The pod's own journal on a host that runs journald (rkt.md §10.1, "Logs"): the host's
 * systemd-journald runs inside the container, on the host's /usr bound read-only into the stage1
 * rootfs (as rkt's `host` flavor ran the host's systemd there), and writes to the stage1 rootfs's
 * /var/log/journal/<machine-id>, which `--link-journal=try-guest` links from the host's
 * /var/log/journal. The supervisor copies each app's stdout and stderr to it and to the console,
 * so `journalctl -M rkt-<uuid> -t <app>` (while the pod runs) and `journalctl --dir
 * /var/log/journal/<machine-id>` (after, until gc) show what the apps wrote.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NspawnBind } from './argv.js';

/** journald's stdout-stream socket inside the container. */
export const JOURNAL_STREAM_SOCKET = '/run/systemd/journal/stdout';
const JOURNALD_PATHS = ['/usr/lib/systemd/systemd-journald', '/lib/systemd/systemd-journald'];
/** Top-level directories journald and its libraries may live in (besides /usr). */
const LIB_DIRS = ['lib', 'lib64', 'lib32', 'libx32'];

export interface PodJournal {
  /**
   * How the supervisor starts journald in the container: through the host's dynamic linker named
   * by its real path (on a merged-/usr host `/lib64/ld-linux…` links through `/lib`, which in the
   * stage1 image holds the stage1's own modules), then journald's path, the same on both sides.
   */
  argv: string[];
  /** /usr and any real library directories, read-only. */
  binds: NspawnBind[];
}

/**
 * What running the host's journald in a pod whose stage1 rootfs is `stage1Rootfs` takes, or the
 * reason it cannot (no journald binary, or the stage1 image has its own /lib).
 */
export function podJournal(stage1Rootfs: string, hostRoot = '/'): PodJournal | string {
  const host = (p: string) => path.join(hostRoot, p);
  const journald = JOURNALD_PATHS.find((p) => fs.existsSync(host(p)));
  if (!journald) return 'the host has no systemd-journald';
  const binds: NspawnBind[] = [{ source: host('/usr'), target: '/usr', readOnly: true, recursive: true }];
  // A merged-/usr link (`lib` → `usr/lib`) needs nothing: journald runs through the linker's real
  // path and the linker searches /usr/lib. A host without merged /usr keeps libraries in real
  // directories here: bound over an absent or empty directory of the stage1 image.
  for (const name of LIB_DIRS) {
    if (!fs.lstatSync(host(name), { throwIfNoEntry: false })?.isDirectory()) continue;
    const own = path.join(stage1Rootfs, name);
    const inStage1 = fs.lstatSync(own, { throwIfNoEntry: false });
    if (inStage1 && !(inStage1.isDirectory() && fs.readdirSync(own).length === 0)) return `the stage1 image has its own /${name}`;
    binds.push({ source: host(name), target: `/${name}`, readOnly: true, recursive: true });
  }
  const interp = elfInterpreter(host(journald));
  let argv = [journald];
  if (interp) {
    // Its real path, which the container has too if it is in /usr or a bound library dir.
    const real = path.join('/', path.relative(hostRoot, fs.realpathSync(host(interp))));
    if (!binds.some((b) => real.startsWith(b.target + '/'))) return `the dynamic linker ${interp} is outside /usr`;
    argv = [real, journald];
  }
  return { argv, binds };
}

/** Make the mount points `podJournal` asked for in the stage1 rootfs. */
export function preparePodJournal(stage1Rootfs: string, j: PodJournal): void {
  for (const b of j.binds) fs.mkdirSync(path.join(stage1Rootfs, b.target), { recursive: true });
}

/** PT_INTERP of a 64-bit little-endian ELF file (the dynamic linker it names), if any. */
export function elfInterpreter(file: string): string | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      fs.readSync(fd, b, 0, len, pos);
      return b;
    };
    const h = read(0, 64);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined;
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) {
      const ph = read(phoff + i * phentsize, 56);
      if (ph.readUInt32LE(0) !== 3) continue; // PT_INTERP
      const off = Number(ph.readBigUInt64LE(8));
      const size = Number(ph.readBigUInt64LE(32));
      if (size < 2 || size > 4096) return undefined;
      return read(off, size).toString('latin1').replace(/\0.*$/s, '');
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
