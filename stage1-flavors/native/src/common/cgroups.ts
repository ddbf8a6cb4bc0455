/**
 * cgroups for a pod: `<hierarchy>/rkt/<uuid>` holds the pod (pod-level isolators are written
 * there) and `…/<uuid>/<container>` each app (the OCI runtime creates and limits those). Works on
 * cgroup v1, hybrid (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) and pure v2,
 * from the host's mountinfo. File-system access goes through `CgroupFs`, so the v2 code path is
 * tested against a temporary directory laid out like a cgroup2 tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AppRuntimeSettings } from '@rkt/api';
import { parseMountInfo, type MountInfo } from './mounts.js';

export type CgroupMode = 'v1' | 'hybrid' | 'v2' | 'none';

export interface Hierarchy {
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controllers of this hierarchy (and `name=…`); v2: empty. */
  controllers: string[];
}

export interface CgroupFs {
  exists(p: string): boolean;
  mkdir(p: string): void;
  read(p: string): string;
  write(p: string, data: string): void;
  /** Remove an (empty) cgroup directory; cgroupfs ignores its interface files. */
  rmdir(p: string): void;
  listDirs(p: string): string[];
}

export const realCgroupFs: CgroupFs = {
  exists: (p) => fs.existsSync(p),
  mkdir: (p) => fs.mkdirSync(p, { recursive: true }),
  read: (p) => fs.readFileSync(p, 'utf8'),
  write: (p, d) => fs.writeFileSync(p, d),
  rmdir: (p) => fs.rmdirSync(p),
  listDirs: (p) => fs.readdirSync(p, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
};

/**
 * The cgroup hierarchies, once each: the first mount of a hierarchy in mount order is the host's
 * own (e.g. /sys/fs/cgroup/memory); later mounts of the same hierarchy, such as the recursive
 * /sys binds a fly pod makes in the host mount namespace, are copies and are skipped.
 */
export function hierarchiesFrom(infos: MountInfo[]): Hierarchy[] {
  const out: Hierarchy[] = [];
  const seen = new Set<string>();
  const seenHierarchy = new Set<string>();
  for (const m of infos) {
    if (seen.has(m.mountPoint)) continue;
    if (m.fsType === 'cgroup2') {
      seen.add(m.mountPoint);
      if (seenHierarchy.has('2')) continue;
      seenHierarchy.add('2');
      out.push({ mountPoint: m.mountPoint, version: 2, controllers: [] });
    } else if (m.fsType === 'cgroup') {
      seen.add(m.mountPoint);
      const ctrls = m.superOptions.split(',').filter((o) => !['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'xattr', 'clone_children', 'nsdelegate'].includes(o) && !o.startsWith('release_agent='));
      const key = '1:' + [...ctrls].sort().join(',');
      if (seenHierarchy.has(key)) continue;
      seenHierarchy.add(key);
      out.push({ mountPoint: m.mountPoint, version: 1, controllers: ctrls });
    }
  }
  return out;
}

export function hostHierarchies(): Hierarchy[] {
  return hierarchiesFrom(parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
}

export function cgroupMode(h: Hierarchy[]): CgroupMode {
  const v1 = h.some((x) => x.version === 1 && x.controllers.some((c) => !c.startsWith('name=')));
  const v2 = h.some((x) => x.version === 2);
  if (v1 && v2) return 'hybrid';
  if (v1) return 'v1';
  if (v2) return 'v2';
  return 'none';
}

/** The cgroup2 mount of a hybrid host (`/sys/fs/cgroup/unified`), which crun refuses. */
export function hybridUnifiedMount(h: Hierarchy[]): string | undefined {
  return cgroupMode(h) === 'hybrid' ? h.find((x) => x.version === 2)?.mountPoint : undefined;
}

/** cpu.shares (2..262144) to cgroup2 cpu.weight (1..10000), the usual linear mapping. */
export function sharesToWeight(shares: number): number {
  return Math.round(1 + ((shares - 2) * 9999) / 262142);
}

export const CPU_PERIOD_US = 100000;

export class PodCgroups {
  constructor(
    readonly hierarchies: Hierarchy[],
    /** `/rkt/<uuid>`, absolute inside every hierarchy. */
    readonly base: string,
    readonly cfs: CgroupFs = realCgroupFs,
  ) {
    if (!/^\/[A-Za-z0-9._/-]+$/.test(base) || base.split('/').includes('..')) throw new Error(`bad cgroup path ${base}`);
  }

  get mode(): CgroupMode {
    return cgroupMode(this.hierarchies);
  }

  /** The pod's directory in every hierarchy. */
  dirs(): string[] {
    return this.hierarchies.map((h) => path.join(h.mountPoint, this.base));
  }

  private v1(ctrl: string): Hierarchy | undefined {
    return this.hierarchies.find((h) => h.version === 1 && h.controllers.includes(ctrl));
  }

  private unified(): Hierarchy | undefined {
    return this.mode === 'v2' ? this.hierarchies.find((h) => h.version === 2) : undefined;
  }

  /**
   * Create the pod cgroup and write pod-level limits (memory, cpu quota, cpu shares). On v2 the
   * needed controllers are enabled in `cgroup.subtree_control` from the root down to the pod.
   * Returns the files written.
   */
  applyPodLimits(s: Pick<AppRuntimeSettings, 'memoryLimitBytes' | 'cpuMilli' | 'cpuShares'>): string[] {
    const written: string[] = [];
    const w = (p: string, d: string) => {
      this.cfs.write(p, d);
      written.push(p);
    };
    const u = this.unified();
    if (u) {
      const want = [s.memoryLimitBytes !== undefined ? 'memory' : '', s.cpuMilli !== undefined || s.cpuShares !== undefined ? 'cpu' : ''].filter(Boolean);
      const available = this.cfs.read(path.join(u.mountPoint, 'cgroup.controllers')).trim().split(/\s+/);
      for (const c of want) if (!available.includes(c)) throw new Error(`cgroup2 controller "${c}" is not available`);
      const comps = this.base.split('/').filter(Boolean);
      let cur = u.mountPoint;
      for (const c of comps) {
        if (want.length) {
          const enabled = this.cfs.read(path.join(cur, 'cgroup.subtree_control')).trim().split(/\s+/);
          const missing = want.filter((x) => !enabled.includes(x));
          if (missing.length) w(path.join(cur, 'cgroup.subtree_control'), missing.map((x) => '+' + x).join(' '));
        }
        cur = path.join(cur, c);
        if (!this.cfs.exists(cur)) this.cfs.mkdir(cur);
      }
      if (s.memoryLimitBytes !== undefined) w(path.join(cur, 'memory.max'), String(s.memoryLimitBytes));
      if (s.cpuMilli !== undefined) w(path.join(cur, 'cpu.max'), `${Math.max(1000, Math.round((s.cpuMilli * CPU_PERIOD_US) / 1000))} ${CPU_PERIOD_US}`);
      if (s.cpuShares !== undefined) w(path.join(cur, 'cpu.weight'), String(sharesToWeight(s.cpuShares)));
      return written;
    }
    const mem = this.v1('memory');
    if (s.memoryLimitBytes !== undefined) {
      if (!mem) throw new Error('no memory cgroup hierarchy');
      const d = path.join(mem.mountPoint, this.base);
      this.cfs.mkdir(d);
      w(path.join(d, 'memory.limit_in_bytes'), String(s.memoryLimitBytes));
    }
    const cpu = this.v1('cpu');
    if (s.cpuMilli !== undefined || s.cpuShares !== undefined) {
      if (!cpu) throw new Error('no cpu cgroup hierarchy');
      const d = path.join(cpu.mountPoint, this.base);
      this.cfs.mkdir(d);
      if (s.cpuMilli !== undefined) {
        w(path.join(d, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        w(path.join(d, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round((s.cpuMilli * CPU_PERIOD_US) / 1000))));
      }
      if (s.cpuShares !== undefined) w(path.join(d, 'cpu.shares'), String(s.cpuShares));
    }
    return written;
  }

  /** Pids of every process in the pod's cgroups (any hierarchy). */
  pids(): number[] {
    const out = new Set<number>();
    for (const d of this.subtree()) {
      const f = path.join(d, 'cgroup.procs');
      if (!this.cfs.exists(f)) continue;
      try {
        for (const l of this.cfs.read(f).split('\n')) if (/^\d+$/.test(l)) out.add(Number(l));
      } catch {
        /* removed meanwhile */
      }
    }
    return [...out];
  }

  /** Every existing directory of the pod, deepest first. */
  subtree(): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
      let kids: string[] = [];
      try {
        kids = this.cfs.listDirs(d);
      } catch {
        return;
      }
      for (const k of kids) walk(path.join(d, k));
      out.push(d);
    };
    for (const d of this.dirs()) if (this.cfs.exists(d)) walk(d);
    return out;
  }

  /**
   * Kill what is left in the pod's cgroups and remove them, deepest first. Returns the directories
   * that could not be removed.
   */
  async cleanup(opts: { kill?: (pid: number) => void; timeoutMs?: number } = {}): Promise<string[]> {
    const kill = opts.kill ?? ((pid: number) => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    for (;;) {
      const pids = this.pids();
      if (pids.length === 0 || Date.now() > deadline) break;
      pids.forEach(kill);
      await new Promise((r) => setTimeout(r, 50));
    }
    let left: string[] = [];
    for (;;) {
      left = [];
      for (const d of this.subtree()) {
        try {
          this.cfs.rmdir(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(d);
        }
      }
      if (left.length === 0 || Date.now() > deadline) return left;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
