/**
 * The systemd-nspawn command line of a pod (rkt.md §1.6), as a pure function of what the run
 * entrypoint decided, so that both registration paths (systemd as PID 1 with machined, or not) are
 * unit-tested on any host.
 */

/** The bounding set systemd-nspawn gives a container by default (systemd 252, nspawn.c). */
export const NSPAWN_DEFAULT_CAPS: readonly string[] = [
  'CAP_AUDIT_CONTROL', 'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER', 'CAP_FSETID', 'CAP_IPC_OWNER', 'CAP_KILL', 'CAP_LEASE', 'CAP_LINUX_IMMUTABLE',
  'CAP_MKNOD', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_RAW', 'CAP_SETFCAP',
  'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_CHROOT',
  'CAP_SYS_NICE', 'CAP_SYS_PTRACE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TTY_CONFIG',
];

/**
 * What the supervisor and the app helper need themselves: bind mounts (SYS_ADMIN), chroot, the
 * credential switch, dropping the bounding set (SETPCAP), signalling apps, writing status files.
 */
export const HELPER_CAPS: readonly string[] = [
  'CAP_SYS_ADMIN', 'CAP_SYS_CHROOT', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_KILL',
  'CAP_DAC_OVERRIDE', 'CAP_CHOWN', 'CAP_FOWNER',
];

/**
 * The container's bounding set: the union of the apps' sets plus the helper's, expressed against
 * nspawn's default as `--capability` (added) and `--drop-capability` (removed) lists.
 */
export function containerCaps(appSets: readonly (readonly string[])[]): { add: string[]; drop: string[] } {
  const want = new Set<string>(HELPER_CAPS);
  for (const s of appSets) for (const c of s) want.add(c);
  const def = new Set(NSPAWN_DEFAULT_CAPS);
  return {
    add: [...want].filter((c) => !def.has(c)).sort(),
    drop: NSPAWN_DEFAULT_CAPS.filter((c) => !want.has(c)),
  };
}

/** nspawn's `--bind=SRC:DST` syntax: a colon (and a backslash) in a path is backslash-escaped. */
export function escapeBindPath(p: string): string {
  return p.replace(/[\\:]/g, (c) => '\\' + c);
}

export interface NspawnBind {
  source: string;
  /** Path inside the container (i.e. relative to the stage1 rootfs). */
  target: string;
  readOnly: boolean;
  recursive: boolean;
}

export interface NspawnArgvInput {
  nspawn: string;
  uuid: string;
  stage1Rootfs: string;
  /** Whether systemd is PID 1 on the host (register with machined) or not (`--keep-unit`). */
  systemdBooted: boolean;
  /**
   * With systemd: the system service rkt runs in (rkt.md §10.1), which the pod stays in
   * (`--keep-unit`: its limits apply and stopping it stops the pod); otherwise the pod gets its own
   * scope in machine.slice.
   */
  serviceUnit?: string;
  /** host: the host's network; none: a private network with only lo; netns: join this path. */
  network: { mode: 'host' } | { mode: 'none' } | { mode: 'netns'; path: string };
  hostname: string;
  capabilities: { add: string[]; drop: string[] };
  /** Syscalls nspawn's own filter must let through (names the apps retain explicitly). */
  syscallAllow: string[];
  binds: NspawnBind[];
  /** `--link-journal=try-guest` when the host runs journald, else `no`. */
  hostJournald: boolean;
  interactive: boolean;
  debug: boolean;
  /** The command run as the container's PID 1 (in-container paths). */
  command: string[];
  /** `--private-users`: a user namespace over trees stage0 already shifted (no chown by nspawn). */
  privateUsers?: { shift: number; count: number };
}

/** The machine name of a pod: `rkt-<uuid>`. */
export const machineName = (uuid: string) => `rkt-${uuid}`;

export function nspawnArgv(i: NspawnArgvInput): string[] {
  const a = [i.nspawn];
  if (!i.debug) a.push('--quiet');
  a.push(`--uuid=${i.uuid}`, `--machine=${machineName(i.uuid)}`, `--directory=${i.stage1Rootfs}`, `--hostname=${i.hostname}`);
  if (i.systemdBooted) a.push('--register=yes', ...(i.serviceUnit ? ['--keep-unit'] : []));
  else a.push('--register=no', '--keep-unit');
  a.push(`--link-journal=${i.hostJournald ? 'try-guest' : 'no'}`);
  // The pod's own DNS and time zone handling is per app (dns-conf-mode): nspawn leaves /etc alone.
  a.push('--resolv-conf=off', '--timezone=off');
  a.push(`--console=${i.interactive ? 'interactive' : 'pipe'}`);
  // SIGTERM lets the supervisor stop the apps gracefully (rkt stop, or nspawn being terminated).
  a.push('--kill-signal=SIGTERM');
  if (i.privateUsers) a.push(`--private-users=${i.privateUsers.shift}:${i.privateUsers.count}`, '--private-users-ownership=off');
  if (i.network.mode === 'none') a.push('--private-network');
  else if (i.network.mode === 'netns') a.push(`--network-namespace-path=${i.network.path}`);
  if (i.capabilities.add.length) a.push(`--capability=${i.capabilities.add.join(',')}`);
  if (i.capabilities.drop.length) a.push(`--drop-capability=${i.capabilities.drop.join(',')}`);
  if (i.syscallAllow.length) a.push(`--system-call-filter=${[...new Set(i.syscallAllow)].sort().join(' ')}`);
  for (const b of i.binds) {
    const opt = b.recursive ? '' : ':norbind';
    a.push(`--bind${b.readOnly ? '-ro' : ''}=${escapeBindPath(b.source)}:${escapeBindPath(b.target)}${opt}`);
  }
  a.push('--', ...i.command);
  return a;
}

/**
 * systemd-nspawn's own environment (rkt.md §1.6): the host IPC namespace for `--ipc=parent`, writable API file systems with
 * `--insecure-options=paths`, no seccomp of nspawn's own with `--insecure-options=seccomp`, and
 * quiet logging unless debugging.
 */
export function nspawnEnv(o: { ipcParent: boolean; disablePaths: boolean; disableSeccomp: boolean; debug: boolean }): string[] {
  // nspawn's cgroup namespace stays (with SYSTEMD_NSPAWN_USE_CGNS=no, nspawn 252 mounts the
  // hierarchies itself and fails on hybrid hosts without a net_prio link).
  const env = ['SYSTEMD_NSPAWN_CONTAINER_SERVICE=rkt'];
  if (o.ipcParent) env.push('SYSTEMD_NSPAWN_SHARE_NS_IPC=true');
  if (o.disablePaths) env.push('SYSTEMD_NSPAWN_API_VFS_WRITABLE=yes');
  if (o.disableSeccomp) env.push('SYSTEMD_SECCOMP=0');
  // nspawn 252 complains at err level about its own propagation dir when /run is not a tmpfs.
  env.push(`SYSTEMD_LOG_LEVEL=${o.debug ? 'info' : 'crit'}`);
  return env;
}

/** Whether systemd runs as PID 1 (sd_booted(): /run/systemd/system exists). */
export const systemdBootedMarker = '/run/systemd/system';
/** journald's socket on a host running it. */
export const journaldSocket = '/run/systemd/journal/socket';

/**
 * The system service a process runs in, from its /proc/<pid>/cgroup text: the last component of
 * its cgroup in systemd's hierarchy (name=systemd, or the cgroup2 one when systemd manages a
 * unified tree: `unified`), when that is a `.service` outside user.slice (a user's session or user
 * manager is not a system service), as rkt decided whether to keep nspawn in the unit it was
 * started from. (/proc/<pid>/cgroup lists every hierarchy the kernel has, mounted here or not.)
 */
export function systemServiceOf(procCgroup: string, unified: boolean): { unit: string; cgroup: string } | undefined {
  const lines = procCgroup.split('\n').map((l) => l.split(':'));
  const line = unified ? lines.find((f) => f[0] === '0' && f[1] === '') : lines.find((f) => f[1] === 'name=systemd');
  const cgroup = line?.slice(2).join(':');
  if (!cgroup || cgroup.startsWith('/user.slice/')) return undefined;
  const unit = cgroup.split('/').pop() ?? '';
  return /^[^/]+\.service$/.test(unit) ? { unit, cgroup } : undefined;
}
