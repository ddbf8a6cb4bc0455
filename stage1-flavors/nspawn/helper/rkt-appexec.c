/*
 * rkt-appexec: per-app isolation inside a pod of the rkt-ts "nspawn" stage1.
 *
 * systemd-nspawn gives the pod its namespaces, its /proc, /sys and /dev and its bind mounts; the
 * rkt-ts supervisor is PID 1 of the container. Each app lives at /opt/stage2/<app>/rootfs inside
 * the container and is started by the supervisor through this helper (rkt's coreos flavor does
 * the same with systemd's RootDirectory=, User=, CapabilityBoundingSet=, SystemCallFilter=…).
 * Static, so it depends on nothing inside the pod.
 *
 *   rkt-appexec prepare PLAN       once per app, before any app runs (a supervisor setup command):
 *                                  its read-only root if asked, nosuid/nodev on nspawn's binds of
 *                                  its volumes and DNS files, and its API file systems (recursive
 *                                  binds of the container's /proc, /sys and /dev, so nspawn's
 *                                  read-only and masked paths carry over).
 *   rkt-appexec exec PLAN [-- ARGV…]
 *                                  joins the app's cgroups, chroots into the app rootfs, drops the
 *                                  capability bounding set, installs the seccomp filter, sets
 *                                  no_new_privs, groups, gid, uid, the working directory and the
 *                                  environment, then execs the app (or ARGV: event handlers, enter).
 *
 * PLAN is a sequence of NUL-terminated tokens written by the nspawn run entrypoint:
 *   root PATH | ro | remount PATH ro|rw noexec|exec | cgroup FILE | uid N | gid N | groups N GID… | caps N NAME… | nnp |
 *   seccomp allow|deny ERRNO N NAME… (ERRNO 0: kill the process) | cwd PATH | env N K=V… |
 *   oom N | exec N ARGV…
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscall-table.h" /* generated: static const struct { const char *n; int nr; } SYSCALLS[] */

extern char **environ;

struct remount {
    char *path;
    int ro, noexec;
};

struct plan {
    char *root;
    int ro;
    struct remount remounts[128];
    int nremounts;
    char *cgroups[64];
    int ncgroups;
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int ngroups;
    char **caps;
    int ncaps;
    int nnp;
    int sc_mode; /* 0 none, 1 allow-list, 2 deny-list */
    int sc_errno;
    char **sc_names;
    int sc_n;
    char *cwd;
    char **env;
    char *oom;
    char **exec;
};

static void die(const char *what) {
    fprintf(stderr, "stage1: rkt-appexec: %s: %s\n", what, strerror(errno));
    exit(254);
}
static void fail(const char *msg, const char *arg) {
    fprintf(stderr, "stage1: rkt-appexec: %s%s\n", msg, arg ? arg : "");
    exit(254);
}

#define TOKENS_WHO "rkt-appexec"
#define TOKENS_WHAT "plan"
#include "nul-tokens.h" /* slurp, tok, need: from stage1-flavors/native/supervisor */

static long num(void) {
    char *e, *t = need();
    errno = 0;
    long n = strtol(t, &e, 10);
    if (errno || *e || e == t) fail("bad number in plan: ", t);
    return n;
}
static char **vec(int *count) {
    long n = num();
    if (n < 0 || n > 65536) fail("bad list length in plan", NULL);
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) die("calloc");
    for (long i = 0; i < n; i++) v[i] = need();
    if (count) *count = (int)n;
    return v;
}

static void read_plan(const char *file, struct plan *p) {
    size_t len;
    char *buf = slurp(file, &len);
    tb = buf; te = buf + len;
    memset(p, 0, sizeof *p);
    for (char *t; (t = tok());) {
        if (!strcmp(t, "root")) p->root = need();
        else if (!strcmp(t, "ro")) p->ro = 1;
        else if (!strcmp(t, "remount")) {
            if (p->nremounts == 128) fail("too many binds", NULL);
            struct remount *r = &p->remounts[p->nremounts++];
            r->path = need();
            r->ro = !strcmp(need(), "ro");
            r->noexec = !strcmp(need(), "noexec");
        }
        else if (!strcmp(t, "cgroup")) { if (p->ncgroups == 64) fail("too many cgroups", NULL); p->cgroups[p->ncgroups++] = need(); }
        else if (!strcmp(t, "uid")) p->uid = (uid_t)num();
        else if (!strcmp(t, "gid")) p->gid = (gid_t)num();
        else if (!strcmp(t, "groups")) {
            long n = num();
            if (n < 0 || n > 64) fail("too many groups", NULL);
            for (long i = 0; i < n; i++) p->groups[i] = (gid_t)num();
            p->ngroups = (int)n;
        } else if (!strcmp(t, "caps")) p->caps = vec(&p->ncaps);
        else if (!strcmp(t, "nnp")) p->nnp = 1;
        else if (!strcmp(t, "seccomp")) {
            char *m = need();
            p->sc_mode = !strcmp(m, "allow") ? 1 : !strcmp(m, "deny") ? 2 : 0;
            if (!p->sc_mode) fail("bad seccomp mode ", m);
            p->sc_errno = (int)num();
            p->sc_names = vec(&p->sc_n);
        } else if (!strcmp(t, "cwd")) p->cwd = need();
        else if (!strcmp(t, "env")) p->env = vec(NULL);
        else if (!strcmp(t, "oom")) p->oom = need();
        else if (!strcmp(t, "exec")) p->exec = vec(NULL);
        else fail("unknown plan token ", t);
    }
    if (!p->root || !p->cwd || !p->env || !p->exec) fail("incomplete plan ", file);
}

/* ------------------------------------------------------------------ prepare */

static void bind_api(const char *root, const char *what) {
    char dst[4096];
    snprintf(dst, sizeof dst, "%s%s", root, what);
    if (mount(what, dst, NULL, MS_BIND | MS_REC, NULL) < 0) die(dst);
    /* Keep mounts made later inside the pod (e.g. by enter) from propagating back. */
    if (mount(NULL, dst, NULL, MS_REC | MS_SLAVE, NULL) < 0) die(dst);
}

static int cmd_prepare(struct plan *p) {
    if (p->ro) {
        /* A bind of the rootfs onto itself, remounted read-only: only this mount point becomes
         * read-only; volumes (nspawn's binds below it) keep their own flags. */
        if (mount(p->root, p->root, NULL, MS_BIND | MS_REC, NULL) < 0) die(p->root);
        if (mount(NULL, p->root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0) die("remount read-only");
    }
    /* nspawn's binds of volumes and DNS files: nosuid and nodev (noexec for files), as native. */
    for (int i = 0; i < p->nremounts; i++) {
        struct remount *r = &p->remounts[i];
        unsigned long fl = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (r->ro ? MS_RDONLY : 0) | (r->noexec ? MS_NOEXEC : 0);
        if (mount(NULL, r->path, NULL, fl, NULL) < 0) die(r->path);
    }
    bind_api(p->root, "/proc");
    bind_api(p->root, "/sys");
    bind_api(p->root, "/dev");
    return 0;
}

/* ------------------------------------------------------------------ exec */

static const char *CAP_NAMES[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof CAP_NAMES / sizeof CAP_NAMES[0]))

static unsigned long long cap_mask(struct plan *p) {
    unsigned long long m = 0;
    for (int i = 0; i < p->ncaps; i++) {
        int found = 0;
        for (int c = 0; c < NCAPS; c++)
            if (!strcmp(p->caps[i], CAP_NAMES[c])) { m |= 1ULL << c; found = 1; }
        if (!found) fail("unknown capability ", p->caps[i]);
    }
    return m;
}

static void drop_bounding(unsigned long long keep) {
    int last = 40;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) { if (fscanf(f, "%d", &last) != 1) last = 40; fclose(f); }
    for (int c = 0; c <= last && c < 64; c++) {
        if (keep & (1ULL << c)) continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die("PR_CAPBSET_DROP");
    }
}

static void set_caps(unsigned long long m) {
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = d[0].permitted = (unsigned)(m & 0xffffffffu);
    d[1].effective = d[1].permitted = (unsigned)(m >> 32);
    if (syscall(SYS_capset, &h, d) < 0) die("capset");
}

#if defined(__x86_64__)
#define SC_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SC_ARCH AUDIT_ARCH_AARCH64
#else
#error "unsupported architecture"
#endif

static int syscall_nr(const char *name) {
    for (size_t i = 0; i < sizeof SYSCALLS / sizeof SYSCALLS[0]; i++)
        if (!strcmp(SYSCALLS[i].n, name)) return SYSCALLS[i].nr;
    return -1; /* not on this architecture: ignored, as libseccomp-based runtimes do */
}

/* An allow- or deny-list as classic BPF: check the architecture (and, on x86_64, refuse the x32
 * ABI), then one `jeq nr` + `ret` pair per syscall, so no jump is longer than one instruction. */
static void install_seccomp(struct plan *p) {
    unsigned blocked = p->sc_errno > 0 ? (SECCOMP_RET_ERRNO | ((unsigned)p->sc_errno & SECCOMP_RET_DATA)) : SECCOMP_RET_KILL_PROCESS;
    unsigned match = p->sc_mode == 1 ? SECCOMP_RET_ALLOW : blocked;
    unsigned dflt = p->sc_mode == 1 ? blocked : SECCOMP_RET_ALLOW;
    size_t cap = 8 + 2 * (size_t)p->sc_n;
    struct sock_filter *f = calloc(cap, sizeof *f);
    if (!f) die("calloc");
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SC_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, blocked);
#endif
    for (int i = 0; i < p->sc_n; i++) {
        int nr = syscall_nr(p->sc_names[i]);
        if (nr < 0) continue;
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, match);
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, dflt);
    struct sock_fprog prog = { (unsigned short)n, f };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) die("seccomp");
}

static void write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    if (write(fd, data, strlen(data)) < 0) die(path);
    close(fd);
}

static int cmd_exec(struct plan *p, char **argv) {
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    for (int i = 0; i < p->ncgroups; i++) write_file(p->cgroups[i], pid);
    if (p->oom) write_file("/proc/self/oom_score_adj", p->oom);
    unsigned long long caps = cap_mask(p);
    if (chroot(p->root) < 0) die(p->root);
    if (chdir("/") < 0) die("chdir /");
    drop_bounding(caps);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die("clear ambient");
    if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    /* Installed while this process still has CAP_SYS_ADMIN (needed without no_new_privs); the
     * calls made after it (setgroups … execve) are in every set's lifecycle allow-list. */
    if (p->sc_mode) install_seccomp(p);
    if (setgroups((size_t)p->ngroups, p->groups) < 0) die("setgroups");
    if (setresgid(p->gid, p->gid, p->gid) < 0) die("setgid");
    if (setresuid(p->uid, p->uid, p->uid) < 0) die("setuid");
    /* Root keeps exactly its bounding set; another user keeps nothing effective (as User=). */
    if (p->uid == 0) set_caps(caps);
    if (chdir(p->cwd) < 0) die(p->cwd);
    environ = p->env;
    char **args = argv && argv[0] ? argv : p->exec;
    execvp(args[0], args);
    fprintf(stderr, "stage1: rkt-appexec: exec %s: %s\n", args[0], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}

int main(int argc, char **argv) {
    struct plan p;
    if (argc >= 3 && !strcmp(argv[1], "prepare")) {
        read_plan(argv[2], &p);
        return cmd_prepare(&p);
    }
    if (argc >= 3 && !strcmp(argv[1], "exec")) {
        read_plan(argv[2], &p);
        char **rest = NULL;
        if (argc > 3) {
            if (strcmp(argv[3], "--") || argc == 4) fail("usage: rkt-appexec exec PLAN [-- ARGV...]", NULL);
            rest = argv + 4;
        }
        return cmd_exec(&p, rest);
    }
    fprintf(stderr, "usage: rkt-appexec prepare PLAN | exec PLAN [-- ARGV...]\n");
    return 254;
}
