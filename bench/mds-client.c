/*
 * Minimal HTTP/1.1 GET load client for bench/mds.bench.mjs, built with `gcc -static` and run
 * inside a pod. Usage: mds-client COUNT LABEL=URL... ; URL "mds" means
 * $AC_METADATA_URL/acMetadata/v1/pod/uuid. For every URL it runs COUNT requests with a new
 * connection each ("close"), then COUNT on one keep-alive connection ("keepalive"), checks every
 * status is 200, and prints one JSON line per run: p50/p99 latency (us) and requests/s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char host[64], path[512], req[1024];
static int port;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *m) {
  perror(m);
  exit(2);
}

static void parse_url(const char *url) {
  if (strncmp(url, "http://", 7) != 0) die("url");
  const char *h = url + 7, *c = strchr(h, ':'), *s = c ? strchr(c, '/') : NULL;
  if (!c || (size_t)(c - h) >= sizeof host) die("url host");
  memcpy(host, h, c - h);
  host[c - h] = 0;
  port = atoi(c + 1);
  snprintf(path, sizeof path, "%s", s ? s : "/");
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1) die("socket");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  return fd;
}

/* One request on fd; returns 0 when the answer was a complete 200. */
static int roundtrip(int fd, int keepalive) {
  static char buf[65536];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n\r\n", path, host, keepalive ? "keep-alive" : "close");
  if (write(fd, req, n) != n) return -1;
  size_t got = 0;
  long want = -1;
  for (;;) {
    ssize_t r = read(fd, buf + got, sizeof buf - got - 1);
    if (r <= 0) break;
    got += r;
    buf[got] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (end && want < 0) {
      char *cl = strcasestr(buf, "\r\nContent-Length:");
      if (!cl) return -1;
      want = (end + 4 - buf) + atol(cl + 17);
    }
    if (want >= 0 && (long)got >= want) break;
  }
  return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && want >= 0 && (long)got >= want ? 0 : -1;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench(const char *label, int count, int keepalive, double *lat) {
  int fd = keepalive ? dial() : -1;
  double t0 = now_us();
  for (int i = 0; i < count; i++) {
    double s = now_us();
    if (!keepalive) fd = dial();
    if (roundtrip(fd, keepalive) != 0) {
      fprintf(stderr, "%s: request %d failed\n", label, i);
      exit(3);
    }
    if (!keepalive) close(fd);
    lat[i] = now_us() - s;
  }
  double total = now_us() - t0;
  if (keepalive) close(fd);
  qsort(lat, count, sizeof *lat, cmp);
  printf("{\"label\":\"%s\",\"mode\":\"%s\",\"n\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"rps\":%.0f}\n", label, keepalive ? "keepalive" : "close", count,
         lat[count / 2], lat[(int)(count * 0.99)], count / (total / 1e6));
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s COUNT LABEL=URL...\n", argv[0]);
    return 2;
  }
  int count = atoi(argv[1]);
  double *lat = malloc(sizeof(double) * count);
  char url[1024];
  for (int mode = 0; mode < 2; mode++)
    for (int i = 2; i < argc; i++) {
      char *eq = strchr(argv[i], '=');
      if (!eq) die("LABEL=URL");
      *eq = 0;
      if (strcmp(eq + 1, "mds") == 0) {
        const char *base = getenv("AC_METADATA_URL");
        if (!base) die("AC_METADATA_URL");
        snprintf(url, sizeof url, "%s/acMetadata/v1/pod/uuid", base);
      } else
        snprintf(url, sizeof url, "%s", eq + 1);
      parse_url(url);
      bench(argv[i], count, mode, lat);
      *eq = '=';
    }
  return 0;
}
