/**
 * The plan of one app for the static helper `rkt-appexec` (helper/rkt-appexec.c): NUL-terminated
 * tokens saying which rootfs to chroot into, which binds to remount nosuid/nodev, which cgroups to join, the credentials, capability
 * bounding set, no_new_privs, seccomp filter, working directory, environment and command.
 */
import type { OciSeccomp, PreparedApp } from '@rkt/stage1-native/common';

export interface PlanInput {
  /** The app rootfs as the container sees it (`/opt/stage2/<app>/rootfs`). */
  root: string;
  /** `cgroup.procs` files (in-container paths) the app joins. */
  cgroupProcs: string[];
  /**
   * nspawn's binds inside the app rootfs (in-container paths), remounted by `prepare` nosuid and
   * nodev (and noexec for files such as /etc/hosts), read-only as bound.
   */
  remounts?: { path: string; readOnly: boolean; noexec: boolean }[];
}

/** The seccomp tokens for an OCI-style filter: `seccomp allow|deny ERRNO N NAME…` (0: kill). */
export function seccompTokens(s: OciSeccomp | undefined): string[] {
  if (!s) return [];
  const rule = s.syscalls[0];
  const names = rule?.names ?? [];
  if (s.defaultAction === 'SCMP_ACT_ALLOW') {
    return ['seccomp', 'deny', String(rule?.action === 'SCMP_ACT_ERRNO' ? (rule.errnoRet ?? 1) : 0), String(names.length), ...names];
  }
  return ['seccomp', 'allow', String(s.defaultAction === 'SCMP_ACT_ERRNO' ? (s.defaultErrnoRet ?? 1) : 0), String(names.length), ...names];
}

export function planTokens(app: PreparedApp, i: PlanInput): string[] {
  const t: string[] = ['root', i.root];
  if (app.readOnlyRootfs) t.push('ro');
  for (const r of i.remounts ?? []) t.push('remount', r.path, r.readOnly ? 'ro' : 'rw', r.noexec ? 'noexec' : 'exec');
  for (const c of i.cgroupProcs) t.push('cgroup', c);
  const groups = app.app.supplementaryGIDs ?? [];
  t.push('uid', String(app.user.uid), 'gid', String(app.user.gid), 'groups', String(groups.length), ...groups.map(String));
  t.push('caps', String(app.capabilities.length), ...app.capabilities);
  if (app.settings.noNewPrivileges) t.push('nnp');
  t.push(...seccompTokens(app.seccomp));
  if (app.settings.oomScoreAdj !== undefined) t.push('oom', String(app.settings.oomScoreAdj));
  t.push('cwd', app.cwd);
  t.push('env', String(app.env.length), ...app.env.map(([k, v]) => `${k}=${v}`));
  const exec = app.app.exec ?? [];
  t.push('exec', String(exec.length), ...exec);
  for (const x of t) if (x.includes('\0')) throw new Error(`app "${app.name}": NUL byte in ${JSON.stringify(x.slice(0, 40))}`);
  return t;
}

export const encodeTokens = (t: string[]) => t.map((x) => x + '\0').join('');
