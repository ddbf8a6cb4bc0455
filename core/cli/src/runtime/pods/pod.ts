/**
 * The pod directory model, as rkt lays it out: `$data/pods/<dir>/<uuid>`, the state given by the
 * directory plus whether the directory is locked (rkt's pod-lifecycle), transitions by rename(2)
 * followed by an fsync of the destination directory.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, statSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { RktError, ErrorCodes, invalidArgument, notFound, type ImageManifest, type PodManifest } from '@rkt/api';
import { DirLock, LockTable } from './lock.js';

export const POD_DIRS = ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage'] as const;
export type PodDir = (typeof POD_DIRS)[number];

export const PodState = {
  Embryo: 'embryo',
  Preparing: 'preparing',
  AbortedPrepare: 'aborted prepare',
  Prepared: 'prepared',
  Running: 'running',
  Deleting: 'deleting',
  ExitedDeleting: 'exited deleting',
  Exited: 'exited',
  ExitedGarbage: 'exited garbage',
  Garbage: 'garbage',
} as const;
export type PodState = (typeof PodState)[keyof typeof PodState];

/** The state a directory implies, given whether its lock is held (rkt's state matrix). */
export function stateOf(dir: PodDir, locked: boolean): PodState {
  switch (dir) {
    case 'embryo':
      return PodState.Embryo;
    case 'prepare':
      return locked ? PodState.Preparing : PodState.AbortedPrepare;
    case 'prepared':
      return PodState.Prepared;
    case 'run':
      return locked ? PodState.Running : PodState.Exited;
    case 'exited-garbage':
      return locked ? PodState.ExitedDeleting : PodState.ExitedGarbage;
    case 'garbage':
      return locked ? PodState.Deleting : PodState.Garbage;
  }
}

/** Directories `rkt list` and UUID matching look at. */
export const LISTED_DIRS: readonly PodDir[] = ['prepare', 'prepared', 'run', 'exited-garbage'];

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function podsRoot(dataDir: string): string {
  return join(dataDir, 'pods');
}

/** Create `$data/pods/{embryo,…}` (0750) on first use. */
export function initPodDirs(dataDir: string): void {
  for (const d of POD_DIRS) mkdirSync(join(podsRoot(dataDir), d), { recursive: true, mode: 0o750 });
}

export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Relative paths inside a pod directory (rkt §1.3). */
export const PodFiles = {
  manifest: 'pod',
  created: 'pod-created',
  manifestLock: 'pod.lck',
  stage1TreeStoreID: 'stage1TreeStoreID',
  overlayPrepared: 'overlay-prepared',
  privateUsersPrepared: 'private-users-prepared',
  stage1Manifest: 'stage1/manifest',
  stage1Rootfs: 'stage1/rootfs',
  appsInfo: 'appsinfo',
  pid: 'pid',
  ppid: 'ppid',
  netInfo: 'net-info.json',
  mdsRegistered: 'mds-registered',
} as const;

export const appInfoDir = (app: string) => join(PodFiles.appsInfo, app);
/** `stage1/rootfs/opt/stage2/<app>` (holds `manifest` and `rootfs/`). */
export const appDir = (app: string) => join(PodFiles.stage1Rootfs, 'opt', 'stage2', app);
export const appRootfs = (app: string) => join(appDir(app), 'rootfs');

export interface NetInfo {
  netName?: string;
  ip?: string;
  [k: string]: unknown;
}

/**
 * One pod as found on disk. `refresh()` re-reads the directory and the lock; everything else reads
 * files relative to the current path.
 */
export class Pod {
  dir: PodDir | undefined;
  locked = false;
  /** Held when this process took the pod's lock (creation, transitions, deletion). */
  lock: DirLock | undefined;

  constructor(
    readonly dataDir: string,
    readonly uuid: string,
  ) {}

  pathIn(dir: PodDir): string {
    return join(podsRoot(this.dataDir), dir, this.uuid);
  }

  get path(): string {
    if (!this.dir) throw notFound(`pod ${JSON.stringify(this.uuid)} was not present`);
    return this.pathIn(this.dir);
  }

  get state(): PodState | 'gone' {
    return this.dir ? stateOf(this.dir, this.locked) : 'gone';
  }

  /** Find the pod's directory (in lifecycle order) and probe its lock. */
  refresh(table: LockTable = LockTable.read()): this {
    this.dir = undefined;
    this.locked = false;
    for (const d of POD_DIRS) {
      const p = this.pathIn(d);
      let st;
      try {
        st = statSync(p);
      } catch (e) {
        if (isEnoent(e)) continue;
        throw new RktError(ErrorCodes.INTERNAL, `error opening pod ${JSON.stringify(this.uuid)}`, { cause: e });
      }
      if (!st.isDirectory()) continue;
      this.dir = d;
      if (this.lock && this.lock.state !== 'none') this.locked = true;
      else if (d !== 'embryo' && d !== 'prepared') {
        const l = table.isLocked(p);
        if (l === undefined) continue; // renamed away meanwhile: look further on
        this.locked = l;
      }
      return this;
    }
    return this;
  }

  static load(dataDir: string, uuid: string, table?: LockTable): Pod {
    const p = new Pod(dataDir, uuid).refresh(table);
    if (!p.dir) throw notFound(`pod ${JSON.stringify(uuid)} was not present`);
    return p;
  }

  /* ------------------------------------------------------------ states as rkt groups them */

  isRunning(): boolean {
    return this.state === PodState.Running;
  }
  isAfterRun(): boolean {
    const s = this.state;
    return s === PodState.ExitedDeleting || s === PodState.Deleting || s === PodState.Exited || s === PodState.ExitedGarbage || s === PodState.Garbage;
  }
  isFinished(): boolean {
    const s = this.state;
    return s === PodState.Exited || s === PodState.ExitedGarbage || s === PodState.AbortedPrepare || s === PodState.Garbage || s === 'gone';
  }
  manifestAvailable(): boolean {
    const s = this.state;
    return s !== PodState.Preparing && s !== PodState.AbortedPrepare && s !== PodState.Deleting;
  }

  /* ------------------------------------------------------------ reading */

  file(rel: string): string {
    return join(this.path, rel);
  }

  readText(rel: string): string {
    return readFileSync(this.file(rel), 'utf8');
  }

  readInt(rel: string): number {
    const m = /^\s*(-?\d+)/.exec(this.readText(rel));
    if (!m) throw invalidArgument(`${rel}: not a number`);
    return Number(m[1]);
  }

  mtime(rel: string): Date | undefined {
    try {
      return statSync(this.file(rel)).mtime;
    } catch (e) {
      if (isEnoent(e)) return undefined;
      throw e;
    }
  }

  manifestBytes(): Buffer {
    try {
      return readFileSync(this.file(PodFiles.manifest));
    } catch (e) {
      throw new RktError(ErrorCodes.NOT_FOUND, 'error reading pod manifest', { cause: e });
    }
  }

  manifest(): PodManifest {
    const bytes = this.manifestBytes();
    try {
      return JSON.parse(bytes.toString('utf8')) as PodManifest;
    } catch (e) {
      throw new RktError(ErrorCodes.INVALID_ARGUMENT, 'invalid pod manifest', { cause: e });
    }
  }

  appImageManifest(app: string): ImageManifest {
    return JSON.parse(this.readText(join(appInfoDir(app), 'manifest'))) as ImageManifest;
  }

  usesOverlay(): boolean {
    try {
      statSync(this.file(PodFiles.overlayPrepared));
      return true;
    } catch {
      return false;
    }
  }

  stage1TreeStoreId(): string {
    return this.readText(PodFiles.stage1TreeStoreID).trim();
  }

  /** Where stage1's own files are readable even when unmounted: the overlay upper dir, or the copy. */
  stage1RootfsForReading(): string {
    if (this.usesOverlay()) return this.file(join('overlay', this.stage1TreeStoreId(), 'upper'));
    return this.file(PodFiles.stage1Rootfs);
  }

  /** created = mtime of pod-created (fallback: pod), only for prepared, running and after-run pods. */
  creationTime(): Date | undefined {
    const s = this.state;
    if (!(s === PodState.Prepared || s === PodState.Running || this.isAfterRun())) return undefined;
    return this.mtime(PodFiles.created) ?? this.mtime(PodFiles.manifest);
  }

  /** started = mtime of pid, else ppid. */
  startTime(): Date | undefined {
    if (!this.isRunning() && !this.isAfterRun()) return undefined;
    return this.mtime(PodFiles.pid) ?? this.mtime(PodFiles.ppid);
  }

  /** The ctime of the pod dir in exited-garbage/garbage (the rename's time). */
  gcMarkedTime(): Date | undefined {
    if (this.dir !== 'exited-garbage' && this.dir !== 'garbage') return undefined;
    try {
      return lstatSync(this.path).ctime;
    } catch {
      return undefined;
    }
  }

  pid(): number | undefined {
    for (const f of [PodFiles.pid, PodFiles.ppid]) {
      try {
        return this.readInt(f);
      } catch {
        // next
      }
    }
    return undefined;
  }

  appExitCode(app: string): number | undefined {
    try {
      const m = /^\s*(-?\d+)/.exec(readFileSync(join(this.stage1RootfsForReading(), 'rkt', 'status', app), 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  isSupervisorReady(): boolean {
    try {
      return readlinkSync(join(this.stage1RootfsForReading(), 'rkt', 'supervisor-status')) === 'ready';
    } catch {
      return false;
    }
  }

  /** Networks from net-info.json, for running and after-run pods; none means --net=host. */
  networks(): NetInfo[] {
    if (!this.isRunning() && !this.isAfterRun()) return [];
    try {
      const v = JSON.parse(this.readText(PodFiles.netInfo)) as unknown;
      return Array.isArray(v) ? (v as NetInfo[]) : [];
    } catch {
      return [];
    }
  }

  /** `pid` when present, else the single child of `ppid` (rkt's "container PID 1"). */
  containerPid1(): number | undefined {
    try {
      return this.readInt(PodFiles.pid);
    } catch {
      // fall through
    }
    let ppid: number;
    try {
      ppid = this.readInt(PodFiles.ppid);
    } catch {
      return undefined;
    }
    try {
      const children = readFileSync(`/proc/${ppid}/task/${ppid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      if (children.length > 1) throw new RktError(ErrorCodes.FAILED_PRECONDITION, `too many children of pid ${ppid}`);
      return children.length === 1 ? Number(children[0]) : undefined;
    } catch (e) {
      if ((e as RktError).rktError) throw e;
      return undefined;
    }
  }

  /* ------------------------------------------------------------ transitions */

  private move(to: PodDir): void {
    const from = this.path;
    mkdirSync(join(podsRoot(this.dataDir), to), { recursive: true, mode: 0o750 });
    renameSync(from, this.pathIn(to));
    fsyncDir(join(podsRoot(this.dataDir), to));
    this.dir = to;
  }

  /** embryo → prepare (locked by us). */
  static create(dataDir: string): Pod {
    initPodDirs(dataDir);
    const pod = new Pod(dataDir, randomUUID());
    const embryo = pod.pathIn('embryo');
    mkdirSync(embryo, { mode: 0o750 });
    pod.dir = 'embryo';
    try {
      pod.lock = DirLock.open(embryo);
      if (!pod.lock.tryExclusive()) throw new RktError(ErrorCodes.INTERNAL, `cannot lock new pod ${pod.uuid}`);
      pod.locked = true;
      pod.move('prepare');
    } catch (e) {
      pod.lock?.close();
      try {
        rmdirSync(embryo);
      } catch {
        // already moved or gone
      }
      throw e;
    }
    return pod;
  }

  /** prepare (ours) → prepared, unlocked. */
  toPrepared(): void {
    if (this.dir !== 'prepare' || !this.lock) throw new RktError(ErrorCodes.INTERNAL, 'bug: only preparing pods may transition to prepared');
    this.move('prepared');
    this.lock.close();
    this.lock = undefined;
    this.locked = false;
  }

  /**
   * prepare (ours) or prepared → run, exclusively locked by us. For a prepared pod the lock is taken
   * first; if another run-prepared won the race, the rename fails and so do we.
   */
  toRun(): void {
    if (this.dir === 'prepared') {
      this.lock = DirLock.open(this.path);
      if (!this.lock.tryExclusive()) {
        this.lock.close();
        this.lock = undefined;
        throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${JSON.stringify(this.uuid)} is locked by another process`);
      }
      try {
        this.move('run');
      } catch (e) {
        this.lock.close();
        this.lock = undefined;
        throw new RktError(ErrorCodes.FAILED_PRECONDITION, `pod ${JSON.stringify(this.uuid)} cannot be run: it is no longer prepared`, { cause: e });
      }
      this.locked = true;
      return;
    }
    if (this.dir !== 'prepare' || !this.lock) throw new RktError(ErrorCodes.INTERNAL, 'bug: only prepared or preparing pods may transition to run');
    this.move('run');
  }

  /** run (exited) → exited-garbage. ENOENT (a racing gc won) is not an error. */
  toExitedGarbage(): void {
    if (this.dir !== 'run') throw new RktError(ErrorCodes.INTERNAL, 'bug: only exited non-garbage pods may transition to exited-garbage');
    try {
      this.move('exited-garbage');
    } catch (e) {
      if (!isEnoent(e)) throw e;
      this.refresh();
    }
  }

  /** prepare (aborted) or prepared → garbage. */
  toGarbage(): void {
    if (this.dir !== 'prepare' && this.dir !== 'prepared') throw new RktError(ErrorCodes.INTERNAL, 'bug: only failed prepare or prepared pods may transition to garbage');
    try {
      this.move('garbage');
    } catch (e) {
      if (!isEnoent(e)) throw e;
      this.refresh();
    }
  }

  /** Take the exclusive lock on the current directory without waiting. */
  tryExclusiveLock(): boolean {
    this.lock?.close();
    this.lock = DirLock.open(this.path);
    if (this.lock.tryExclusive()) {
      this.locked = true;
      return true;
    }
    this.lock.close();
    this.lock = undefined;
    return false;
  }

  close(): void {
    this.lock?.close();
    this.lock = undefined;
  }
}

/** UUIDs found in the given directories, deduplicated and sorted (a pod may move while we look). */
export function listPodUuids(dataDir: string, dirs: readonly PodDir[] = LISTED_DIRS, warn?: (m: string) => void): string[] {
  const seen = new Set<string>();
  for (const d of dirs) {
    let names: import('node:fs').Dirent[];
    try {
      names = readdirSync(join(podsRoot(dataDir), d), { withFileTypes: true });
    } catch (e) {
      if (isEnoent(e)) continue;
      throw new RktError(ErrorCodes.INTERNAL, 'cannot read pods directory', { cause: e });
    }
    for (const n of names) {
      if (!n.isDirectory()) {
        warn?.(`unrecognized entry: ${JSON.stringify(n.name)}, ignoring`);
        continue;
      }
      seen.add(n.name);
    }
  }
  return [...seen].sort();
}

/**
 * Walk the pods in `dirs` (sorted by UUID), skipping those that moved to a state outside `dirs`
 * meanwhile, as rkt's WalkPods.
 */
export function walkPods(dataDir: string, dirs: readonly PodDir[], f: (p: Pod) => void, warn?: (m: string) => void): void {
  const table = LockTable.read();
  for (const uuid of listPodUuids(dataDir, dirs, warn)) {
    if (!UUID_RE.test(uuid)) {
      warn?.(`skipping ${JSON.stringify(uuid)}: not a UUID`);
      continue;
    }
    const p = new Pod(dataDir, uuid).refresh(table);
    if (!p.dir || !dirs.includes(p.dir)) continue;
    try {
      f(p);
    } finally {
      p.close();
    }
  }
}
