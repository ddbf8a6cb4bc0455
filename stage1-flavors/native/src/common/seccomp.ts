/**
 * Seccomp sets (appc §6.6, rkt.md §1.7) and their OCI translation. `@rkt/default-blacklist` is
 * our own selection of syscalls that an app has no business calling (kernel modules, reboot,
 * mounts and namespaces, clock setting, keyrings, tracing, bpf…); `@rkt/default-whitelist` is
 * every other syscall of the Linux tables. Blocked calls fail with the errno given (EPERM for the
 * default filter) or, with an empty errno, kill the app with SIGSYS.
 */
import { LINUX_SYSCALLS } from './syscalls.js';

export const DEFAULT_BLACKLIST: readonly string[] = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'clock_settime64', 'create_module',
  'delete_module', 'fanotify_init', 'finit_module', 'fsconfig', 'fsmount', 'fsopen', 'fspick',
  'get_kernel_syms', 'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load',
  'kexec_load', 'keyctl', 'lookup_dcookie', 'mbind', 'mount', 'mount_setattr', 'move_mount',
  'move_pages', 'name_to_handle_at', 'nfsservctl', 'open_by_handle_at', 'open_tree',
  'perf_event_open', 'pivot_root', 'process_vm_readv', 'process_vm_writev', 'ptrace',
  'query_module', 'quotactl', 'quotactl_fd', 'reboot', 'request_key', 'set_mempolicy', 'setns',
  'settimeofday', 'stime', 'swapoff', 'swapon', 'syslog', 'umount', 'umount2', 'unshare',
  'uselib', 'userfaultfd', 'ustat', 'vhangup', '_sysctl', 'sysfs', 'vm86', 'vm86old',
  'pciconfig_read', 'pciconfig_write', 'pciconfig_iobase',
];

const BLACK = new Set(DEFAULT_BLACKLIST);
export const DEFAULT_WHITELIST: readonly string[] = LINUX_SYSCALLS.filter((s) => !BLACK.has(s));

/** What a retain set always allows, so that the runtime can start the app and the app can exit. */
export const LIFECYCLE_WHITELIST: readonly string[] = [
  'execve', 'execveat', 'exit', 'exit_group', 'rt_sigreturn', 'rt_sigprocmask', 'rt_sigaction',
  'futex', 'brk', 'mmap', 'munmap', 'mprotect', 'read', 'write', 'close', 'fstat', 'newfstatat',
  'arch_prctl', 'set_tid_address', 'set_robust_list', 'capget', 'capset', 'prctl', 'setgroups',
  'setgid', 'setuid', 'setresgid', 'setresuid', 'getpid', 'getppid', 'getuid', 'geteuid', 'getgid',
  'getegid', 'chdir', 'fchdir', 'openat', 'getdents64', 'fcntl', 'epoll_pwait', 'nanosleep',
  'clock_nanosleep', 'sched_yield', 'rseq', 'prlimit64', 'seccomp', 'close_range', 'dup3',
];

export const NAMED_SETS: Record<string, readonly string[]> = {
  '@rkt/default-whitelist': DEFAULT_WHITELIST,
  '@rkt/default-blacklist': DEFAULT_BLACKLIST,
  '@appc.io/all': LINUX_SYSCALLS,
  '@appc.io/empty': [],
};

export interface SeccompSpec {
  mode: 'retain' | 'remove';
  set: string[];
  errno?: string;
}

export const ERRNOS: Record<string, number> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18,
  ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33,
  ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
  ENOMSG: 42, EIDRM: 43, ENOSTR: 60, ENODATA: 61, ETIME: 62, ENOSR: 63, ENOLINK: 67,
  EPROTO: 71, EMULTIHOP: 72, EBADMSG: 74, EOVERFLOW: 75, EILSEQ: 84, ENOTSOCK: 88,
  EDESTADDRREQ: 89, EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95, ENOTSUP: 95, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99,
  ENETDOWN: 100, ENETUNREACH: 101, ENETRESET: 102, ECONNABORTED: 103, ECONNRESET: 104,
  ENOBUFS: 105, EISCONN: 106, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111,
  EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122, ECANCELED: 125,
  EOWNERDEAD: 130, ENOTRECOVERABLE: 131,
};

/** Expand `@set` names; unknown sets are an error. */
export function expandSet(set: readonly string[]): string[] {
  const out = new Set<string>();
  for (const s of set) {
    if (s.startsWith('@')) {
      const named = NAMED_SETS[s];
      if (!named) throw new Error(`unknown seccomp set "${s}"`);
      named.forEach((x) => out.add(x));
    } else out.add(s);
  }
  return [...out];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number }[];
}

function action(errno: string | undefined): { action: string; errnoRet?: number } {
  if (!errno) return { action: 'SCMP_ACT_KILL_PROCESS' };
  const n = ERRNOS[errno];
  if (n === undefined) throw new Error(`unsupported seccomp errno "${errno}"`);
  return { action: 'SCMP_ACT_ERRNO', errnoRet: n };
}

/**
 * The OCI seccomp section for an app. No isolator: the default whitelist with EPERM. `disabled`
 * (--insecure-options=seccomp): no filter at all. `@appc.io/all` in a retain set disables it too.
 */
export function ociSeccomp(spec: SeccompSpec | undefined, disabled: boolean): OciSeccomp | undefined {
  if (disabled) return undefined;
  const s: SeccompSpec = spec ?? { mode: 'retain', set: ['@rkt/default-whitelist'], errno: 'EPERM' };
  const blocked = action(s.errno);
  if (s.mode === 'retain') {
    if (s.set.includes('@appc.io/all')) return undefined;
    const allow = new Set([...expandSet(s.set), ...LIFECYCLE_WHITELIST]);
    const d: OciSeccomp = { defaultAction: blocked.action, syscalls: [{ names: [...allow].sort(), action: 'SCMP_ACT_ALLOW' }] };
    if (blocked.errnoRet !== undefined) d.defaultErrnoRet = blocked.errnoRet;
    return d;
  }
  const deny = new Set([...expandSet(s.set), ...DEFAULT_BLACKLIST]);
  const rule: { names: string[]; action: string; errnoRet?: number } = { names: [...deny].sort(), action: blocked.action };
  if (blocked.errnoRet !== undefined) rule.errnoRet = blocked.errnoRet;
  return { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule] };
}
