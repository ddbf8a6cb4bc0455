/**
 * OCI runtime configuration of one app container of a native pod. The container gets its own
 * mount namespace (root = the app rootfs) and cgroup; it shares the pod's PID, IPC, UTS and
 * network namespaces, which the pod supervisor holds (so they are not listed here: an OCI runtime
 * leaves unlisted namespaces as its own, i.e. the supervisor's).
 */
import type { AppRuntimeSettings } from '@rkt/api';
import { CPU_PERIOD_US } from '../common/cgroups.js';
import type { FileBind } from '../common/dns.js';
import type { OciSeccomp } from '../common/seccomp.js';
import type { AppMount } from '../common/volumes.js';

/** /proc and /sys paths hidden from apps (unless --insecure-options=paths). */
export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/sched_debug',
  '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/firmware', '/sys/devices/virtual/powercap',
];
/** /proc paths made read-only for apps (unless --insecure-options=paths). */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface OciInput {
  rootfs: string;
  readOnlyRootfs: boolean;
  args: string[];
  env: [string, string][];
  cwd: string;
  uid: number;
  gid: number;
  supplementaryGids: number[];
  capabilities: string[];
  settings: AppRuntimeSettings;
  seccomp: OciSeccomp | undefined;
  disablePaths: boolean;
  terminal: boolean;
  mounts: AppMount[];
  fileBinds: FileBind[];
  cgroupsPath: string;
  /** Set memory+swap to the memory limit (when the host accounts swap). */
  limitSwap: boolean;
  /**
   * --private-users: the container gets its own user namespace mapping 0..count-1 to
   * shift..shift+count-1 (stage0 shifted the rootfs owners). `root` is where the app rootfs is
   * bind-mounted so that the shifted root can reach it (see entry/run.ts).
   */
  userns?: { shift: number; count: number; root: string };
}

type Json = Record<string, unknown>;

export function ociConfig(i: OciInput): Json {
  const u = i.userns;
  // In a user namespace the pod's PID and network namespaces (owned by the host's user namespace)
  // allow no new proc, sysfs or mqueue mount: bind the supervisor's /proc (the pod's PID namespace)
  // and the host's /sys (read-only) instead.
  const mounts: Json[] = [
    u
      ? { destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    ...(u ? [] : [{ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] }]),
    u
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', i.disablePaths ? 'rw' : 'ro'] },
  ];
  // appc wants /dev/console; without a terminal it is the null device (never the host console).
  if (!i.terminal) mounts.push({ destination: '/dev/console', type: 'bind', source: '/dev/null', options: ['bind', 'rw'] });
  for (const m of i.mounts) {
    mounts.push({
      destination: m.target,
      type: 'bind',
      source: m.source,
      options: [m.recursive ? 'rbind' : 'bind', m.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'],
    });
  }
  for (const b of i.fileBinds) {
    mounts.push({ destination: b.target, type: 'bind', source: b.source, options: ['bind', b.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev', 'noexec'] });
  }
  const s = i.settings;
  const resources: Json = { devices: [{ allow: false, access: 'rwm' }] };
  if (s.memoryLimitBytes !== undefined) {
    resources.memory = { limit: s.memoryLimitBytes, ...(i.limitSwap ? { swap: s.memoryLimitBytes } : {}) };
  }
  if (s.cpuMilli !== undefined || s.cpuShares !== undefined) {
    const cpu: Json = {};
    if (s.cpuMilli !== undefined) {
      cpu.quota = Math.max(1000, Math.round((s.cpuMilli * CPU_PERIOD_US) / 1000));
      cpu.period = CPU_PERIOD_US;
    }
    if (s.cpuShares !== undefined) cpu.shares = s.cpuShares;
    resources.cpu = cpu;
  }
  const root = i.uid === 0;
  const linux: Json = {
    namespaces: u ? [{ type: 'mount' }, { type: 'user' }] : [{ type: 'mount' }],
    ...(u
      ? {
          uidMappings: [{ containerID: 0, hostID: u.shift, size: u.count }],
          gidMappings: [{ containerID: 0, hostID: u.shift, size: u.count }],
        }
      : {}),
    cgroupsPath: i.cgroupsPath,
    resources,
    maskedPaths: i.disablePaths ? [] : MASKED_PATHS,
    readonlyPaths: i.disablePaths ? [] : READONLY_PATHS,
  };
  if (i.seccomp) linux.seccomp = i.seccomp;
  const process: Json = {
    terminal: i.terminal,
    user: { uid: i.uid, gid: i.gid, ...(i.supplementaryGids.length ? { additionalGids: i.supplementaryGids } : {}) },
    args: i.args,
    env: i.env.map(([k, v]) => `${k}=${v}`),
    cwd: i.cwd,
    // The bounding set is the app's capability set; a non-root user keeps none effective, as a
    // unit with User= does; nothing is inheritable or ambient.
    capabilities: {
      bounding: i.capabilities,
      effective: root ? i.capabilities : [],
      permitted: root ? i.capabilities : [],
      inheritable: [],
      ambient: [],
    },
    noNewPrivileges: Boolean(s.noNewPrivileges),
  };
  if (s.oomScoreAdj !== undefined) process.oomScoreAdj = s.oomScoreAdj;
  return {
    ociVersion: '1.0.2',
    process,
    root: { path: u ? u.root : i.rootfs, readonly: i.readOnlyRootfs },
    mounts,
    linux,
  };
}
