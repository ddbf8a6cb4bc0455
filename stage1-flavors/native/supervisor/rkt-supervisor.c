/*
 * rkt-supervisor: the pod supervisor of the rkt-ts "native" stage1.
 *
 * Why C: PID 1 of the pod's PID namespace must reap every orphan (waitpid(-1)), which Node cannot
 * do (libuv only waits for the children it spawned itself), and it must stay small and hold no
 * host resources the apps could reach. No Debian package fits: tini, dumb-init and catatonit
 * supervise exactly one child and do not record per-app exit statuses. The namespace setup itself
 * is done by util-linux `unshare`; this program only supervises.
 *
 * Modes:
 *   rkt-supervisor launch ARGV_FILE PPID_FILE [CGROUPS_FILE]
 *       Runs the NUL-separated argv in ARGV_FILE (`unshare … rkt-supervisor run CONF`) as its
 *       child, writes that child's pid to PPID_FILE (its single child is the supervisor), relays
 *       SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the supervisor (unshare blocks
 *       them) and exits with the child's status (128+signal when it was killed). It is the
 *       process stage0 started, so stage0's signal relay reaches the pod. Once the pod is gone it
 *       removes the pod's (now empty) cgroup directories named, NUL-separated, in CGROUPS_FILE —
 *       only directories on a cgroup file system, child cgroups first — so that an exited pod
 *       holds no cgroups even if it is never garbage-collected (gc removes them otherwise).
 *       Under a `Type=notify` systemd service (NOTIFY_SOCKET set, and not passed on to the pod) it
 *       sends READY=1 in stage0's name once the supervisor reports the pod ready (the
 *       `supervisor-status` link beside ARGV_FILE's `flavor-state` directory). A signal that
 *       arrives before the supervisor can take it is held until it can.
 *   rkt-supervisor run CONF
 *       PID 1 of the pod. CONF is a sequence of NUL-terminated tokens:
 *         hostname NAME | lo | grace SECONDS | ready PATH | setup N ARGV… |
 *         journald N ARGV… | journal SOCKET |
 *         app NAME STATUS_FILE | pre N ARGV… | main N ARGV… | post N ARGV…
 *       (pre/main/post belong to the preceding `app`). With `journald`, that command (the host's
 *       systemd-journald, on a host that runs journald) is started first and flushed to
 *       /var/log/journal; with `journal`, each app's stdout and stderr go through pipes that this
 *       process copies both to its own stdout and stderr, unchanged, and to a journald stream on
 *       SOCKET identified by the app's name (priority info and err): rkt's `journal+console`, so
 *       that `journalctl -M rkt-<uuid> -t <app>` shows what the app wrote. If journald does not
 *       come up, the apps write straight to the console as without it. Setup commands run next, in order; then
 *       every app runs pre-start → main → post-stop. The exit status of each main command (the
 *       OCI runtime's `run`, which exits with the app's status) is written as ASCII decimal to
 *       STATUS_FILE. The first app that fails decides the pod's exit status and the other apps are
 *       sent SIGTERM (SIGKILL after the grace period). SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1
 *       and SIGUSR2 are forwarded to the main commands (the runtime forwards them to the app);
 *       SIGRTMIN+4 (`machinectl poweroff`) stops the pod as SIGTERM does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stddef.h>
#include <poll.h>
#include <sys/un.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_APPS 64
#define MAX_SETUP 16

enum phase { P_NONE, P_PRE, P_MAIN, P_POST, P_DONE };

struct app {
    char *name;
    char *status_file;
    char **pre, **main, **post;
    enum phase phase;
    pid_t pid;
    int status_written;
    /* With `journal`: pipes for stdout [0] and stderr [1] (read and write ends), and the journald
     * streams they are copied to (-1 once a stream failed). */
    int rfd[2], wfd[2], jfd[2];
};

static struct app apps[MAX_APPS];
static int napps;
static char **setup[MAX_SETUP];
static int nsetup;
static char *hostname_;
static int lo_up;
static int grace = 10;
static char *ready_path;
static int debug_;
static sigset_t fwd_set;
static char **journald_argv;
static char *journal_socket;
static pid_t journald_pid;
static int journaling;

static void logmsg(const char *fmt, const char *a, long n) {
    if (!debug_) return;
    fprintf(stderr, "stage1: supervisor: ");
    fprintf(stderr, fmt, a, n);
    fputc('\n', stderr);
}

static void die(const char *what) {
    fprintf(stderr, "stage1: supervisor: %s: %s\n", what, strerror(errno));
    exit(254);
}

#define TOKENS_WHO "supervisor"
#define TOKENS_WHAT "configuration"
#include "nul-tokens.h"

static char **argv_tok(void) {
    long n = strtol(need(), NULL, 10);
    if (n <= 0 || n > 4096) { fprintf(stderr, "stage1: supervisor: bad argv length\n"); exit(254); }
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v) die("calloc");
    for (long i = 0; i < n; i++) v[i] = need();
    return v;
}

static int decode(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 254;
}

static pid_t first_child(pid_t pid) {
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    return (pid_t)atoi(buf);
}

#define CGROUP_MAGIC 0x27e0eb
#define CGROUP2_MAGIC 0x63677270

/* rmdir a cgroup and its child cgroups (depth first); errors are ignored: gc retries. */
static void rm_cgroup(const char *dir, int depth) {
    if (depth > 16) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        rm_cgroup(p, depth + 1);
    }
    closedir(d);
    rmdir(dir);
}

static void remove_cgroups(const char *file) {
    size_t len;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* no list: nothing to do */
    close(fd);
    char *buf = slurp(file, &len);
    for (char *p = buf; p < buf + len; p += strlen(p) + 1) {
        struct statfs sf;
        if (p[0] != '/' || statfs(p, &sf) < 0) continue;
        if (sf.f_type != CGROUP_MAGIC && sf.f_type != CGROUP2_MAGIC) continue;
        rm_cgroup(p, 0);
    }
    free(buf);
}

/* Whether process `pid` is the supervisor, ready for `sig`: its /proc/<pid>/comm, and SigCgt in
 * its status (`run` blocks the signals before it installs the handlers). Until then the process
 * there (unshare's or nspawn's own child, PID 1 of the new namespace) would drop it. */
static int takes_signal(pid_t pid, int sig) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0 || strncmp(buf, "rkt-supervisor\n", (size_t)r) != 0) return 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    char *p = strstr(buf, "SigCgt:\t");
    return p && ((strtoull(p + 8, NULL, 16) >> (sig - 1)) & 1);
}

/* systemd's readiness protocol, for a `Type=notify` service running rkt: "READY=1" on the
 * datagram socket NOTIFY_SOCKET names, sent in the name of `as_pid` (stage0, the service's main
 * process: with the default NotifyAccess=main systemd takes nothing from other processes; a
 * process with CAP_SYS_ADMIN may name another pid in its SCM_CREDENTIALS). */
static void notify_ready(const char *sock, pid_t as_pid) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t l = strlen(sock);
    if (l < 2 || l >= sizeof sa.sun_path || (sock[0] != '/' && sock[0] != '@')) return;
    memcpy(sa.sun_path, sock, l);
    if (sa.sun_path[0] == '@') sa.sun_path[0] = 0; /* abstract namespace */
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return;
    const char *msg = "READY=1\nSTATUS=pod running";
    struct iovec iov = { (void *)msg, strlen(msg) };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred))]; } c;
    memset(&c, 0, sizeof c);
    struct msghdr mh = { .msg_name = &sa, .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l),
                         .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred uc = { as_pid, getuid(), getgid() };
    memcpy(CMSG_DATA(cm), &uc, sizeof uc);
    if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0) {
        mh.msg_control = NULL;
        mh.msg_controllen = 0;
        if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0) fprintf(stderr, "stage1: notifying %s: %s\n", sock, strerror(errno));
    }
    close(s);
}

/* Whether the supervisor reports the pod ready: its `ready` link at PATH. */
static int pod_ready(const char *path) {
    char b[16];
    ssize_t r = readlink(path, b, sizeof b - 1);
    return r == 5 && !memcmp(b, "ready", 5);
}

static int cmd_launch(const char *argv_file, const char *ppid_file, const char *cgroups_file) {
    size_t len;
    char *buf = slurp(argv_file, &len);
    int n = 0;
    for (size_t i = 0; i < len; i++) if (buf[i] == 0) n++;
    char **v = calloc((size_t)n + 1, sizeof(char *));
    if (!v || n == 0) die("launch argv");
    tb = buf; te = buf + len;
    for (int i = 0; i < n; i++) v[i] = tok();

    /* Under a Type=notify service: READY=1 once the supervisor reports the pod ready, at
     * <stage1 rootfs>/rkt/supervisor-status (ARGV_FILE is <stage1 rootfs>/rkt/flavor-state/launch).
     * The pod itself does not get NOTIFY_SOCKET. */
    char *notify = getenv("NOTIFY_SOCKET");
    char ready_path[4096] = "";
    if (notify && *notify) {
        notify = strdup(notify);
        const char *fs = strstr(argv_file, "/flavor-state/");
        if (notify && fs) snprintf(ready_path, sizeof ready_path, "%.*s/supervisor-status", (int)(fs - argv_file), argv_file);
    } else notify = NULL;
    unsetenv("NOTIFY_SOCKET");
    pid_t stage0 = getppid();

    sigset_t set, old;
    sigemptyset(&set);
    int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) sigaddset(&set, fwd[i]);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0) die("sigprocmask");
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) die("signalfd");

    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execv(v[0], v);
        fprintf(stderr, "stage1: exec %s: %s\n", v[0], strerror(errno));
        _exit(254);
    }
    /* ppid: the namespace holder (unshare), whose single child is the supervisor (PID 1). */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", ppid_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) die(tmp);
    char pidb[32];
    int l = snprintf(pidb, sizeof pidb, "%d", (int)pid);
    if (write(fd, pidb, (size_t)l) != l) die("write ppid");
    fsync(fd);
    close(fd);
    if (rename(tmp, ppid_file) < 0) die("rename ppid");

    /* util-linux unshare blocks SIGTERM and SIGINT in its waiting parent: relay the signals
     * stage0 forwards straight to the supervisor. One that comes while the pod is still starting
     * (no supervisor yet to take it: `systemctl stop` right after start) waits until there is
     * one, checked every 20 ms; after 10 s it goes to whatever process is there. */
    int pending = 0, waited = 0, notified = !(notify && *ready_path);
    for (;;) {
        if (!notified && pod_ready(ready_path)) {
            notify_ready(notify, stage0);
            notified = 1;
        }
        if (pending) {
            pid_t sup = first_child(pid);
            if ((sup > 0 && takes_signal(sup, pending)) || waited >= 500) {
                kill(sup > 0 ? sup : pid, pending);
                pending = 0;
            }
        }
        struct pollfd pf = { .fd = sfd, .events = POLLIN };
        int pr = poll(&pf, 1, pending || !notified ? 20 : -1);
        if (pr < 0) { if (errno == EINTR) continue; die("poll"); }
        if (pr == 0) { if (pending) waited++; continue; }
        struct signalfd_siginfo si;
        ssize_t r = read(sfd, &si, sizeof si);
        if (r < 0) { if (errno == EINTR) continue; die("read signalfd"); }
        if (r != sizeof si) continue;
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            int st;
            pid_t p = waitpid(pid, &st, WNOHANG);
            if (p == pid) {
                if (cgroups_file) remove_cgroups(cgroups_file);
                return decode(st);
            }
            continue;
        }
        pending = sig;
        waited = 0;
    }
}

/* Fork and exec argv; with `out` (journaling), its stdout and stderr are out[0] and out[1]. */
static pid_t spawn_io(char **argv, const int *out) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        sigset_t empty;
        sigemptyset(&empty);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (out && (dup2(out[0], 1) < 0 || dup2(out[1], 2) < 0)) _exit(254);
        execv(argv[0], argv);
        fprintf(stderr, "stage1: supervisor: exec %s: %s\n", argv[0], strerror(errno));
        _exit(254);
    }
    return pid;
}

static pid_t spawn(char **argv) { return spawn_io(argv, NULL); }

/* An app's pre-start, main or post-stop command, its output through the journal pipes if any. */
static pid_t spawn_app(struct app *a, char **argv) { return spawn_io(argv, journaling ? a->wfd : NULL); }

static void sleep_ms(long ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* A connection to journald's stdout-stream socket, its header sent: the app name as the syslog
 * identifier, no unit, PRIORITY, no level prefix and no forwarding. -1 if journald refuses it. */
static int journal_stream(const char *ident, int priority) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(journal_socket) >= sizeof sa.sun_path) return -1;
    strcpy(sa.sun_path, journal_socket);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) { close(s); return -1; }
    shutdown(s, SHUT_RD);
    char h[512];
    int l = snprintf(h, sizeof h, "%s\n\n%d\n0\n0\n0\n0\n", ident, priority);
    if (l <= 0 || l >= (int)sizeof h || write(s, h, (size_t)l) != l) { close(s); return -1; }
    return s;
}

static int write_all(int fd, const char *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy what an app wrote on stream k (0 stdout, 1 stderr) to the console and to the journal.
 * Returns whether anything was read. */
static int pump(struct app *a, int k) {
    char b[65536];
    ssize_t r = read(a->rfd[k], b, sizeof b);
    if (r <= 0) return 0;
    write_all(k == 0 ? 1 : 2, b, (size_t)r);
    if (a->jfd[k] >= 0 && write_all(a->jfd[k], b, (size_t)r) < 0) {
        close(a->jfd[k]);
        a->jfd[k] = -1;
    }
    return 1;
}

/* Start journald, wait until its stream socket accepts connections, ask it to flush to
 * /var/log/journal (it starts on /run until asked) and wait for its `flushed` mark next to the
 * socket. Sets up each app's pipes and streams. Without journald (it failed or took more than 5 s)
 * the apps write to the console directly. */
static void start_journal(void) {
    int out[2] = { -1, -1 };
    if (!debug_) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        out[0] = out[1] = null;
    }
    journald_pid = spawn_io(journald_argv, out[0] >= 0 ? out : NULL);
    if (out[0] >= 0) close(out[0]);
    int up = 0;
    for (int i = 0; i < 500 && !up; i++) {
        int s = journal_stream("rkt-supervisor", 7);
        if (s >= 0) { close(s); up = 1; break; }
        if (waitpid(journald_pid, NULL, WNOHANG) == journald_pid) { journald_pid = 0; break; }
        sleep_ms(10);
    }
    if (!up) {
        fprintf(stderr, "stage1: supervisor: journald did not start; app output goes to the console only\n");
        return;
    }
    char flushed[4096];
    const char *slash = strrchr(journal_socket, '/');
    snprintf(flushed, sizeof flushed, "%.*s/flushed", (int)(slash ? slash - journal_socket : 0), journal_socket);
    kill(journald_pid, SIGUSR1);
    struct stat st;
    for (int i = 0; i < 200 && stat(flushed, &st) < 0; i++) sleep_ms(10);
    for (int i = 0; i < napps; i++) {
        struct app *a = &apps[i];
        for (int k = 0; k < 2; k++) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0) die("pipe2");
            fcntl(p[0], F_SETFL, O_NONBLOCK);
            a->rfd[k] = p[0];
            a->wfd[k] = p[1];
            a->jfd[k] = journal_stream(a->name, k == 0 ? 6 : 3);
        }
    }
    journaling = 1;
    logmsg("journald started%s (pid %ld)", "", journald_pid);
}

/* At the end: copy what is left in the pipes, close the streams and stop journald (SIGTERM; it
 * writes its files out; SIGKILL after 3 s). */
static void stop_journal(void) {
    if (journaling) {
        for (int i = 0; i < napps; i++)
            for (int k = 0; k < 2; k++) {
                while (pump(&apps[i], k)) {}
                if (apps[i].jfd[k] >= 0) close(apps[i].jfd[k]);
                apps[i].jfd[k] = -1;
            }
    }
    if (journald_pid <= 0) return;
    kill(journald_pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(journald_pid, NULL, WNOHANG) == journald_pid) return;
        sleep_ms(10);
    }
    kill(journald_pid, SIGKILL);
    waitpid(journald_pid, NULL, 0);
}

static void write_status(struct app *a, int code) {
    if (a->status_written) return;
    a->status_written = 1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", a->status_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) { fprintf(stderr, "stage1: supervisor: %s: %s\n", tmp, strerror(errno)); return; }
    char b[32];
    int l = snprintf(b, sizeof b, "%d", code);
    if (write(fd, b, (size_t)l) != l) fprintf(stderr, "stage1: supervisor: short write %s\n", tmp);
    fsync(fd);
    close(fd);
    if (rename(tmp, a->status_file) < 0) fprintf(stderr, "stage1: supervisor: rename %s\n", tmp);
}

static void bring_lo_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS lo");
    close(s);
}

static void ignore_handler(int s) { (void)s; }

static int cmd_run(const char *conf) {
    size_t len;
    char *buf = slurp(conf, &len);
    tb = buf; te = buf + len;
    struct app *cur = NULL;
    for (char *t; (t = tok());) {
        if (!strcmp(t, "hostname")) hostname_ = need();
        else if (!strcmp(t, "lo")) lo_up = 1;
        else if (!strcmp(t, "debug")) debug_ = 1;
        else if (!strcmp(t, "grace")) grace = atoi(need());
        else if (!strcmp(t, "ready")) ready_path = need();
        else if (!strcmp(t, "journald")) journald_argv = argv_tok();
        else if (!strcmp(t, "journal")) journal_socket = need();
        else if (!strcmp(t, "setup")) { if (nsetup == MAX_SETUP) { errno = E2BIG; die("setup"); } setup[nsetup++] = argv_tok(); }
        else if (!strcmp(t, "app")) {
            if (napps == MAX_APPS) { errno = E2BIG; die("apps"); }
            cur = &apps[napps++];
            for (int k = 0; k < 2; k++) cur->rfd[k] = cur->wfd[k] = cur->jfd[k] = -1;
            cur->name = need();
            cur->status_file = need();
        } else if (!strcmp(t, "pre") && cur) cur->pre = argv_tok();
        else if (!strcmp(t, "main") && cur) cur->main = argv_tok();
        else if (!strcmp(t, "post") && cur) cur->post = argv_tok();
        else { fprintf(stderr, "stage1: supervisor: unknown token %s\n", t); return 254; }
    }
    if (napps == 0) { fprintf(stderr, "stage1: supervisor: no apps\n"); return 254; }

    /* The pod lock (RKT_LOCK_FD) stays held by this process but must not reach any child. */
    const char *lfd = getenv("RKT_LOCK_FD");
    if (lfd && *lfd) {
        int fd = atoi(lfd);
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }

    /* Signals are read from a signalfd; handlers are installed as well, because PID 1 of a PID
     * namespace does not receive signals whose disposition is the default. */
    sigset_t all;
    sigemptyset(&all);
    sigemptyset(&fwd_set);
    int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        sigaddset(&all, fwd[i]);
        sigaddset(&fwd_set, fwd[i]);
    }
    int poweroff = SIGRTMIN + 4;
    sigaddset(&all, poweroff);
    sigaddset(&all, SIGCHLD);
    sigaddset(&all, SIGALRM);
    /* Blocked first: once the handlers show (the launcher waits for that), nothing is lost. */
    if (sigprocmask(SIG_BLOCK, &all, NULL) < 0) die("sigprocmask");
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) signal(fwd[i], ignore_handler);
    signal(poweroff, ignore_handler);
    signal(SIGALRM, ignore_handler);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC);
    if (sfd < 0) die("signalfd");

    if (hostname_ && *hostname_ && sethostname(hostname_, strlen(hostname_)) < 0) die("sethostname");
    if (lo_up) bring_lo_up();
    if (journald_argv && journal_socket) start_journal();
    for (int i = 0; i < nsetup; i++) {
        pid_t p = spawn(setup[i]);
        int st;
        while (waitpid(p, &st, 0) < 0) if (errno != EINTR) die("waitpid");
        if (decode(st) != 0) {
            fprintf(stderr, "stage1: supervisor: setup command %s failed (%d)\n", setup[i][0], decode(st));
            return 254;
        }
    }

    for (int i = 0; i < napps; i++) {
        struct app *a = &apps[i];
        if (a->pre) { a->phase = P_PRE; a->pid = spawn_app(a, a->pre); }
        else { a->phase = P_MAIN; a->pid = spawn_app(a, a->main); }
        logmsg("started app %s (pid %ld)", a->name, a->pid);
    }

    int pod_status = 0, failed = 0, stopping = 0, ready_done = 0;
    for (;;) {
        if (!ready_done && ready_path) {
            int all_main = 1;
            for (int i = 0; i < napps; i++) if (apps[i].phase == P_PRE) all_main = 0;
            if (all_main) {
                char tmp[4096];
                snprintf(tmp, sizeof tmp, "%s.tmp", ready_path);
                unlink(tmp);
                if (symlink("ready", tmp) == 0) rename(tmp, ready_path);
                ready_done = 1;
            }
        }
        int alive = 0;
        for (int i = 0; i < napps; i++) if (apps[i].phase != P_DONE) alive = 1;
        if (!alive) break;

        if (journaling) {
            struct pollfd pf[1 + 2 * MAX_APPS];
            int n = 0;
            pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
            for (int i = 0; i < napps; i++)
                for (int k = 0; k < 2; k++) pf[n++] = (struct pollfd){ .fd = apps[i].rfd[k], .events = POLLIN };
            if (poll(pf, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
            for (int i = 0; i < napps; i++)
                for (int k = 0; k < 2; k++)
                    if (pf[1 + 2 * i + k].revents) pump(&apps[i], k);
            if (!(pf[0].revents & POLLIN)) continue;
        }
        struct signalfd_siginfo si;
        ssize_t r = read(sfd, &si, sizeof si);
        if (r < 0) { if (errno == EINTR) continue; die("read signalfd"); }
        if (r != sizeof si) continue;
        int sig = (int)si.ssi_signo;
        if (sig == poweroff) sig = SIGTERM;
        if (sig == SIGCHLD) {
            int st;
            pid_t p;
            while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                if (p == journald_pid) journald_pid = 0;
                for (int i = 0; i < napps; i++) {
                    struct app *a = &apps[i];
                    if (a->pid != p || a->phase == P_DONE || a->phase == P_NONE) continue;
                    int code = decode(st);
                    a->pid = 0;
                    if (a->phase == P_PRE) {
                        logmsg("pre-start of %s exited with %ld", a->name, code);
                        if (code != 0 || stopping) {
                            write_status(a, code ? code : 254);
                            if (!failed) { failed = 1; pod_status = code ? code : 254; }
                            a->phase = P_DONE;
                        } else { a->phase = P_MAIN; a->pid = spawn_app(a, a->main); }
                    } else if (a->phase == P_MAIN) {
                        logmsg("app %s exited with %ld", a->name, code);
                        write_status(a, code);
                        if (code != 0 && !failed) { failed = 1; pod_status = code; }
                        if (a->post) { a->phase = P_POST; a->pid = spawn_app(a, a->post); }
                        else a->phase = P_DONE;
                    } else if (a->phase == P_POST) {
                        logmsg("post-stop of %s exited with %ld", a->name, code);
                        a->phase = P_DONE;
                    }
                }
            }
            if (failed && !stopping) {
                stopping = 1;
                for (int i = 0; i < napps; i++)
                    if (apps[i].phase == P_MAIN && apps[i].pid > 0) kill(apps[i].pid, SIGTERM);
                alarm((unsigned)grace);
            }
        } else if (sig == SIGALRM) {
            for (int i = 0; i < napps; i++)
                if ((apps[i].phase == P_MAIN || apps[i].phase == P_PRE) && apps[i].pid > 0) kill(apps[i].pid, SIGKILL);
        } else if (sigismember(&fwd_set, sig)) {
            logmsg("forwarding signal %s%ld", "", sig);
            for (int i = 0; i < napps; i++)
                if ((apps[i].phase == P_MAIN || apps[i].phase == P_PRE) && apps[i].pid > 0) kill(apps[i].pid, sig);
            if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && !stopping) {
                stopping = 1;
                alarm((unsigned)grace);
            }
        }
    }
    stop_journal();
    return pod_status;
}

int main(int argc, char **argv) {
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "launch")) return cmd_launch(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 3 && !strcmp(argv[1], "run")) return cmd_run(argv[2]);
    fprintf(stderr, "usage: rkt-supervisor launch ARGV_FILE PPID_FILE [CGROUPS_FILE] | run CONF\n");
    return 254;
}
