/*
 * Files of NUL-terminated tokens, as the stage1 run entrypoints write them: rkt-supervisor's
 * configuration and launch argv, and the nspawn flavor's per-app plans for rkt-appexec.
 *
 * Before including: define TOKENS_WHO (the program, for messages), TOKENS_WHAT (what the file is)
 * and a `static void die(const char *what)` that reports errno and exits.
 */
#ifndef RKT_NUL_TOKENS_H
#define RKT_NUL_TOKENS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file (at most 16 MiB), NUL-terminated; its length in *len. */
static char *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    struct stat st;
    if (fstat(fd, &st) < 0) die("fstat");
    if (st.st_size > (1 << 24)) { errno = EFBIG; die(path); }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) die("malloc");
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
        if (r < 0) { if (errno == EINTR) continue; die("read"); }
        if (r == 0) break;
        off += (size_t)r;
    }
    buf[off] = 0;
    close(fd);
    *len = off;
    return buf;
}

/* Tokenizer over a NUL-separated buffer [tb, te). */
static char *tb, *te;
static char *tok(void) {
    if (tb >= te) return NULL;
    char *t = tb;
    tb += strlen(tb) + 1;
    return t;
}
static char *need(void) {
    char *t = tok();
    if (!t) { fprintf(stderr, "stage1: %s: truncated %s\n", TOKENS_WHO, TOKENS_WHAT); exit(254); }
    return t;
}

#endif
