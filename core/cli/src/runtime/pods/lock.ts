/**
 * Pod directory locks: rkt's flock(2) on the pod directory itself, with the kernel dropping the
 * lock when the last holder dies.
 *
 * Node has no flock(2). The lock is kept on an *open file description*: stage0 opens the
 * directory (an ordinary O_RDONLY|O_CLOEXEC fd from libuv), and util-linux `flock(1)` is run once
 * with that descriptor as its fd 3 (`flock -xn 3`). flock(2) locks belong to the open file
 * description, not to the process that called it, so when `flock(1)` exits the lock stays held
 * by every fd that refers to the description: ours, and later stage1's (the same description is
 * handed to stage1 as RKT_LOCK_FD and our copy closed). Hence:
 *   - no gap: the lock taken for `embryo` is the very lock stage1 holds until it dies;
 *   - kill -9 of stage0 or stage1: the kernel closes the fds and drops the lock;
 *   - one short-lived process per lock operation (~2 ms), none for reading state.
 * A `/bin/sh -c 'exec 9<"$POD"; flock -xn 9; exec stage1'` launcher would re-take the lock in a new
 * description and leave a window in which a `run/` pod looks exited to `rkt gc`; it is not used.
 *
 * Probing (list, status, the `--wait` loops) reads /proc/locks instead of spawning anything: a
 * FLOCK entry whose device and inode are the directory's means "locked". When an entry has the
 * inode but another device number (btrfs subvolumes and overlayfs report a st_dev different from
 * the superblock's), the answer comes from a real non-blocking `flock -sn` attempt. So it does
 * outside the initial PID namespace (rkt in a container, or under a systemd booted in one): a
 * FLOCK entry names the process that took the lock — `flock(1)`, gone at once — and the kernel
 * leaves out the entries whose process it cannot name in the reader's PID namespace, so there
 * /proc/locks shows none of the pods' locks.
 */
import { closeSync, openSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { RktError, ErrorCodes } from '@rkt/api';

const FLOCK = process.env.RKT_FLOCK_BIN || 'flock';

export class LockBusyError extends RktError {
  constructor(path: string) {
    super(ErrorCodes.FAILED_PRECONDITION, `${path} is locked`);
  }
}

function runFlock(fd: number, args: string[], path: string): boolean {
  const r = spawnSync(FLOCK, [...args, '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (r.error) throw new RktError(ErrorCodes.UNAVAILABLE, `cannot run ${FLOCK} (util-linux) to lock ${path}: ${r.error.message}`);
  if (r.status === 0) return true;
  if (r.status === 1) return false; // -n: would block
  throw new RktError(ErrorCodes.INTERNAL, `flock on ${path} failed: ${String(r.stderr).trim() || `exit ${r.status}`}`);
}

/** An open directory whose flock we may take. Close it (or hand it on) when done. */
export class DirLock {
  private fdValue: number | undefined;
  private held: 'none' | 'shared' | 'exclusive' = 'none';

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fdValue = fd;
  }

  /** Open `path` (a directory). Throws ENOENT errors as they are. */
  static open(path: string): DirLock {
    return new DirLock(path, openSync(path, 'r'));
  }

  get fd(): number {
    if (this.fdValue === undefined) throw new RktError(ErrorCodes.INTERNAL, `lock on ${this.path} is closed`);
    return this.fdValue;
  }

  get state(): 'none' | 'shared' | 'exclusive' {
    return this.held;
  }

  /** Exclusive, non-blocking; false when someone else holds it. */
  tryExclusive(): boolean {
    if (!runFlock(this.fd, ['-xn'], this.path)) return false;
    this.held = 'exclusive';
    return true;
  }

  /** Shared, non-blocking; false when someone holds it exclusively. */
  tryShared(): boolean {
    if (!runFlock(this.fd, ['-sn'], this.path)) return false;
    this.held = 'shared';
    return true;
  }

  /** Exclusive, waiting for it (with a timeout in seconds, or forever). */
  exclusive(timeoutSeconds?: number): boolean {
    const args = timeoutSeconds === undefined ? ['-x'] : ['-x', '-w', String(timeoutSeconds)];
    if (!runFlock(this.fd, args, this.path)) return false;
    this.held = 'exclusive';
    return true;
  }

  /** Shared, waiting for it. */
  shared(): void {
    runFlock(this.fd, ['-s'], this.path);
    this.held = 'shared';
  }

  unlock(): void {
    if (this.held === 'none') return;
    runFlock(this.fd, ['-u'], this.path);
    this.held = 'none';
  }

  /** Close our fd; the lock goes when no other fd (e.g. stage1's) refers to the description. */
  close(): void {
    if (this.fdValue === undefined) return;
    try {
      closeSync(this.fdValue);
    } finally {
      this.fdValue = undefined;
      this.held = 'none';
    }
  }
}

/* ------------------------------------------------------------ probing through /proc/locks */

interface LockEntry {
  major: number;
  minor: number;
  inode: number;
}

/** The initial PID namespace (the kernel's PROC_PID_INIT_INO). */
const INITIAL_PID_NS = 'pid:[4026531836]';

function readProcLocks(): LockEntry[] | undefined {
  let text: string;
  try {
    if (readlinkSync('/proc/self/ns/pid') !== INITIAL_PID_NS) return undefined;
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const out: LockEntry[] = [];
  // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2154518 0 EOF"; blocked waiters are "1: -> FLOCK …".
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(->\s+)?FLOCK\s+\S+\s+\S+\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m || m[1]) continue;
    out.push({ major: parseInt(m[2]!, 16), minor: parseInt(m[3]!, 16), inode: Number(m[4]) });
  }
  return out;
}

/** glibc's gnu_dev_major/minor. */
function devMajor(dev: number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}
function devMinor(dev: number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}

/** A snapshot of the flock table, for probing many pods cheaply. */
export class LockTable {
  private constructor(private readonly entries: LockEntry[] | undefined) {}

  static read(): LockTable {
    return new LockTable(readProcLocks());
  }

  /**
   * Whether some process holds a flock on the directory `path`. Returns undefined when the pod
   * directory is gone. Falls back to a real `flock -sn` probe when /proc/locks is unreadable or
   * only matches by inode.
   */
  isLocked(path: string): boolean | undefined {
    let st;
    try {
      st = statSync(path);
    } catch {
      return undefined;
    }
    if (this.entries) {
      const byInode = this.entries.filter((e) => e.inode === st.ino);
      if (byInode.length === 0) return false;
      const maj = devMajor(st.dev);
      const min = devMinor(st.dev);
      if (byInode.some((e) => e.major === maj && e.minor === min)) return true;
    }
    return probeByFlock(path);
  }
}

/** A non-blocking shared-lock attempt on a fresh description, released at once. */
export function probeByFlock(path: string): boolean | undefined {
  let l: DirLock;
  try {
    l = DirLock.open(path);
  } catch {
    return undefined;
  }
  try {
    return !l.tryShared();
  } finally {
    l.close();
  }
}

/** A key lock on a regular file under `$data/locks` (rkt's prepareLock), held until closed. */
export function openKeyLock(path: string): DirLock {
  closeSync(openSync(path, 'a', 0o640));
  return DirLock.open(path);
}
