/* wfhttp - process instances per second through a running troupe daemon
 * with HTTP workers, over the Camunda 7 REST API (/engine-rest): a C load
 * driver (plain sockets, keep-alive, one connection per thread), not the
 * Node client.
 *
 *   bench_wfhttp HOST PORT N STARTERS WORKERS [LAT_SECS] [BPMN]
 *   bench_wfhttp --probe HOST PORT PATH [COUNT]   (framing check: GETs)
 *
 * 1. POST /engine-rest/deployment/create (multipart/form-data: field
 *    deployment-name, the .bpmn as a file part). A 404 means the daemon has
 *    no Camunda REST API: one line `peer=troupe bench=workflow workers=http
 *    skipped=engine-rest-404` and exit 0.
 * 2. Peak: STARTERS threads start N instances in all, each one request at a
 *    time (POST /engine-rest/process-definition/key/bench/start, {"variables":
 *    {}} -> 200 {"id": ...}); meanwhile WORKERS threads loop fetchAndLock
 *    (maxTasks 50, asyncResponseTimeout 1000, topic bench) and complete every
 *    task (POST /engine-rest/external-task/{id}/complete -> 204), the
 *    completions of one fetch pipelined on the worker's connection. The clock
 *    runs from the first start until the N-th completion was answered; then,
 *    if GET /engine-rest/process-instance/count answers 200, until it says 0
 *    running instances (end=instances_gone, else end=tasks_completed).
 * 3. Latency: LAT_SECS (0 = skip) of starts paced at half the peak rate (each
 *    starter thread on its own schedule), start_p50_ms/start_p99_ms from
 *    sending a start to its answer, workers completing meanwhile.
 *
 * Prints: peer=troupe bench=workflow workers=http instances=N starters=S
 *   http_workers=W instances_per_s=.. start_p50_ms=.. start_p99_ms=.. ...
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#ifndef TR_BENCH_BPMN
#define TR_BENCH_BPMN "bench/bench.bpmn"
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t) {
  double d = t - now_s();
  if (d <= 0) return;
  struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
  nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ HTTP/1.1 client */

static const char *g_host;
static int g_port;

typedef struct conn {
  int fd;
  char *buf; /* received, not yet consumed: buf[off..len) */
  size_t off, len, cap;
} conn;

typedef struct resp {
  int status;
  char *body; /* NUL-terminated, owned by the conn until the next request */
  size_t body_len;
} resp;

static int conn_open(conn *c) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  char port[16];
  snprintf(port, sizeof port, "%d", g_port);
  if (getaddrinfo(g_host, port, &hints, &ai) != 0) return -1;
  c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    freeaddrinfo(ai);
    return -1;
  }
  freeaddrinfo(ai);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->off = c->len = 0;
  if (!c->buf) {
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
  }
  return c->buf ? 0 : -1;
}

static void conn_close(conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* head and body in one call where the kernel takes them (one segment for a
 * small request: no Nagle/delayed-ACK stall on either side) */
static int write_all(int fd, const char *h, size_t hn, const char *b, size_t bn) {
  struct iovec iov[2] = {{(void *)h, hn}, {(void *)b, bn}};
  int i = 0;
  while (i < 2) {
    struct msghdr mh = {.msg_iov = iov + i, .msg_iovlen = (size_t)(2 - i)};
    ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    size_t left = (size_t)w;
    while (i < 2 && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (i < 2) iov[i].iov_base = (char *)iov[i].iov_base + left, iov[i].iov_len -= left;
  }
  return 0;
}

/* Reads more into the buffer (compacting it first); 0 on EOF or error. */
static int fill(conn *c) {
  if (c->off == c->len) c->off = c->len = 0;
  if (c->len == c->cap) {
    if (c->off) {
      memmove(c->buf, c->buf + c->off, c->len - c->off);
      c->len -= c->off, c->off = 0;
    } else {
      char *b = realloc(c->buf, c->cap * 2);
      if (!b) return 0;
      c->buf = b, c->cap *= 2;
    }
  }
  ssize_t r;
  do r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return 0;
  c->len += (size_t)r;
  return 1;
}

static char *find_crlf2(conn *c) {
  return memmem(c->buf + c->off, c->len - c->off, "\r\n\r\n", 4);
}

static const char *header(const char *head, const char *end, const char *name) {
  size_t n = strlen(name);
  for (const char *p = head; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
    if (*p == '\n') p++;
    if ((size_t)(end - p) > n && !strncasecmp(p, name, n) && p[n] == ':') {
      p += n + 1;
      while (*p == ' ' || *p == '\t') p++;
      return p;
    }
  }
  return NULL;
}

/* Reads one response (status line, headers, body by Content-Length or
 * chunked). The body is moved to the start of the buffer and NUL-terminated. */
static int read_response(conn *c, resp *r) {
  char *e;
  while (!(e = find_crlf2(c)))
    if (!fill(c)) return -1;
  size_t hoff = c->off, hlen = (size_t)(e + 4 - (c->buf + c->off));
  if (sscanf(c->buf + hoff, "HTTP/1.%*d %d", &r->status) != 1) return -1;
  /* headers as offsets: the buffer may move while the body is read */
  char hdr[8192];
  size_t hl = hlen < sizeof hdr - 1 ? hlen : sizeof hdr - 1;
  memcpy(hdr, c->buf + hoff, hl);
  hdr[hl] = 0;
  c->off += hlen;
  const char *cl = header(hdr, hdr + hl, "Content-Length");
  const char *te = header(hdr, hdr + hl, "Transfer-Encoding");
  const char *cn = header(hdr, hdr + hl, "Connection");
  int closing = cn && !strncasecmp(cn, "close", 5);
  size_t out = 0; /* body bytes gathered at the start of a separate area */
  static _Thread_local char *body;
  static _Thread_local size_t bcap;
  if (te && !strncasecmp(te, "chunked", 7)) {
    for (;;) {
      char *nl;
      while (!(nl = memmem(c->buf + c->off, c->len - c->off, "\r\n", 2)))
        if (!fill(c)) return -1;
      size_t sz = strtoul(c->buf + c->off, NULL, 16);
      c->off = (size_t)(nl + 2 - c->buf);
      while (c->len - c->off < sz + 2)
        if (!fill(c)) return -1;
      if (out + sz + 1 > bcap) {
        bcap = (out + sz + 1) * 2;
        body = realloc(body, bcap);
        if (!body) return -1;
      }
      memcpy(body + out, c->buf + c->off, sz);
      out += sz;
      c->off += sz + 2;
      if (!sz) break; /* (trailers are not expected) */
    }
  } else {
    size_t n = cl ? strtoul(cl, NULL, 10) : 0;
    while (c->len - c->off < n)
      if (!fill(c)) return -1;
    if (n + 1 > bcap) {
      bcap = (n + 1) * 2;
      body = realloc(body, bcap);
      if (!body) return -1;
    }
    memcpy(body, c->buf + c->off, n);
    out = n;
    c->off += n;
  }
  if (!body && !(body = malloc(bcap = 256))) return -1;
  body[out] = 0;
  r->body = body;
  r->body_len = out;
  if (closing) conn_close(c);
  return 0;
}

/* One request (reconnecting once if the kept-alive connection was closed). */
static int request(conn *c, const char *method, const char *path, const char *ctype,
                   const char *body, size_t blen, resp *r) {
  char head[1024];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n"
                    "%s%s%sContent-Length: %zu\r\n\r\n",
                    method, path, g_host, g_port, ctype ? "Content-Type: " : "",
                    ctype ? ctype : "", ctype ? "\r\n" : "", blen);
  for (int attempt = 0; attempt < 2; attempt++) {
    if (c->fd < 0 && conn_open(c) < 0) return -1;
    if (write_all(c->fd, head, (size_t)hn, body ? body : "", blen) == 0 && read_response(c, r) == 0)
      return 0;
    conn_close(c);
  }
  return -1;
}

/* ------------------------------------------------------------ the run */

static _Atomic uint64_t g_started, g_completed, g_errors, g_fetches, g_empty;
static _Atomic int64_t g_to_start;
static uint64_t g_want;
static _Atomic int g_stop_workers;
static hist g_peak_lat, g_lat;
static double g_t_last_complete;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static const char START_BODY[] = "{\"variables\":{}}";

static int start_one(conn *c, hist *h) {
  resp r = {0};
  double t = now_s();
  if (request(c, "POST", "/engine-rest/process-definition/key/bench/start", "application/json",
              START_BODY, sizeof START_BODY - 1, &r) < 0 || r.status != 200 ||
      !strstr(r.body, "\"id\"")) {
    if (atomic_fetch_add(&g_errors, 1) < 5)
      fprintf(stderr, "wfhttp: start answered %d: %.200s\n", r.status, r.body ? r.body : "");
    return -1;
  }
  hist_add(h, now_s() - t);
  atomic_fetch_add(&g_started, 1);
  return 0;
}

static void *starter(void *arg) {
  (void)arg;
  conn c = {.fd = -1};
  while (atomic_fetch_sub(&g_to_start, 1) > 0) start_one(&c, &g_peak_lat);
  conn_close(&c);
  free(c.buf);
  return NULL;
}

typedef struct {
  int i, n;
  uint64_t total;
  double rate, t0;
} paced_arg;

static void *paced(void *p) {
  paced_arg *a = p;
  conn c = {.fd = -1};
  for (uint64_t k = (uint64_t)a->i; k < a->total; k += (uint64_t)a->n) {
    sleep_until(a->t0 + (double)k / a->rate);
    start_one(&c, &g_lat);
  }
  conn_close(&c);
  free(c.buf);
  return NULL;
}

/* The next "id" value of the task objects in a fetchAndLock answer. */
static const char *next_id(const char *p, char *id, size_t cap) {
  while ((p = strstr(p, "\"id\""))) {
    const char *q = p + 4;
    while (*q == ' ') q++;
    if (*q++ != ':') { p += 4; continue; }
    while (*q == ' ') q++;
    if (*q++ != '"') { p += 4; continue; }
    size_t n = strcspn(q, "\"");
    if (n >= cap) return NULL;
    memcpy(id, q, n);
    id[n] = 0;
    return q + n;
  }
  return NULL;
}

static void *worker(void *arg) {
  int me = *(int *)arg;
  conn c = {.fd = -1};
  char fetch[512], wid[32];
  snprintf(wid, sizeof wid, "w%d", me);
  int fl = snprintf(fetch, sizeof fetch,
                    "{\"workerId\":\"%s\",\"maxTasks\":50,\"asyncResponseTimeout\":1000,"
                    "\"topics\":[{\"topicName\":\"bench\",\"lockDuration\":30000}]}",
                    wid);
  char done[128];
  int dl = snprintf(done, sizeof done, "{\"workerId\":\"%s\",\"variables\":{}}", wid);
  char (*ids)[300] = malloc(50 * sizeof *ids);
  while (!atomic_load(&g_stop_workers)) {
    resp r = {0};
    if (request(&c, "POST", "/engine-rest/external-task/fetchAndLock", "application/json", fetch,
                (size_t)fl, &r) < 0 || r.status != 200) {
      if (atomic_fetch_add(&g_errors, 1) < 5)
        fprintf(stderr, "wfhttp: fetchAndLock answered %d\n", r.status);
      usleep(10000);
      continue;
    }
    atomic_fetch_add(&g_fetches, 1);
    int n = 0;
    for (const char *p = r.body; n < 50 && (p = next_id(p, ids[n], sizeof ids[n]));) n++;
    if (!n) atomic_fetch_add(&g_empty, 1);
    /* the completions go out pipelined on the connection, as a worker's
     * handlers finish side by side; the answers come back in order */
    size_t cap = (size_t)n * 640 + 1, used = 0;
    char *batch = malloc(cap);
    for (int i = 0; batch && i < n; i++)
      used += (size_t)snprintf(batch + used, cap - used,
                               "POST /engine-rest/external-task/%s/complete HTTP/1.1\r\n"
                               "Host: %s:%d\r\nAccept: application/json\r\n"
                               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                               ids[i], g_host, g_port, dl, done);
    if (n && (!batch || c.fd < 0 || write_all(c.fd, batch, used, "", 0) < 0)) {
      atomic_fetch_add(&g_errors, 1);
      conn_close(&c);
      free(batch);
      continue;
    }
    free(batch);
    for (int i = 0; i < n; i++) {
      resp d = {0};
      if (read_response(&c, &d) < 0 || d.status != 204) {
        if (atomic_fetch_add(&g_errors, 1) < 5)
          fprintf(stderr, "wfhttp: complete answered %d: %.200s\n", d.status, d.body ? d.body : "");
        if (c.fd < 0) break; /* the connection went: the tasks' locks will expire */
        continue;
      }
      if (atomic_fetch_add(&g_completed, 1) + 1 == g_want) {
        pthread_mutex_lock(&g_mu);
        g_t_last_complete = now_s();
        pthread_mutex_unlock(&g_mu);
      }
    }
  }
  conn_close(&c);
  free(c.buf);
  free(ids);
  return NULL;
}

static int wait_completed(uint64_t want, double limit) {
  double end = now_s() + limit, next = now_s() + 1;
  while (atomic_load(&g_completed) < want) {
    if (now_s() > end) return -1;
    if (now_s() > next) {
      fprintf(stderr, "wfhttp: started %llu, completed %llu, errors %llu\n",
              (unsigned long long)atomic_load(&g_started),
              (unsigned long long)atomic_load(&g_completed),
              (unsigned long long)atomic_load(&g_errors));
      next += 1;
    }
    usleep(1000);
  }
  return 0;
}

/* Running instances by GET /engine-rest/process-instance/count: -1 if the
 * daemon does not answer it. */
static long running_count(conn *c) {
  resp r = {0};
  if (request(c, "GET", "/engine-rest/process-instance/count", NULL, NULL, 0, &r) < 0 ||
      r.status != 200)
    return -1;
  const char *p = strstr(r.body, "\"count\"");
  if (!p || !(p = strchr(p, ':'))) return -1;
  return strtol(p + 1, NULL, 10);
}

static int deploy(conn *c, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "wfhttp: cannot read %s\n", path);
    return -1;
  }
  static char xml[1 << 16];
  size_t xl = fread(xml, 1, sizeof xml, f);
  fclose(f);
  static char body[(1 << 16) + 1024];
  const char *b = "----troupebench7d1f";
  int n = snprintf(body, sizeof body,
                   "--%s\r\nContent-Disposition: form-data; name=\"deployment-name\"\r\n\r\nbench\r\n"
                   "--%s\r\nContent-Disposition: form-data; name=\"deploy-changed-only\"\r\n\r\ntrue\r\n"
                   "--%s\r\nContent-Disposition: form-data; name=\"data\"; filename=\"bench.bpmn\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n",
                   b, b, b);
  memcpy(body + n, xml, xl);
  n += (int)xl;
  n += snprintf(body + n, sizeof body - (size_t)n, "\r\n--%s--\r\n", b);
  char ctype[128];
  snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", b);
  resp r = {0};
  if (request(c, "POST", "/engine-rest/deployment/create", ctype, body, (size_t)n, &r) < 0) {
    fprintf(stderr, "wfhttp: no answer from %s:%d\n", g_host, g_port);
    return -1;
  }
  if (r.status == 404) return 404;
  if (r.status != 200) {
    fprintf(stderr, "wfhttp: deployment/create answered %d: %.300s\n", r.status, r.body);
    return -1;
  }
  return 0;
}

static int probe(int argc, char **argv) {
  if (argc < 5) return 2;
  g_host = argv[2], g_port = atoi(argv[3]);
  long count = argc > 5 ? atol(argv[5]) : 1000;
  conn c = {.fd = -1};
  resp r = {0};
  double t = now_s();
  for (long i = 0; i < count; i++)
    if (request(&c, "GET", argv[4], NULL, NULL, 0, &r) < 0 || r.status != 200) {
      fprintf(stderr, "wfhttp: probe %ld: status %d\n", i, r.status);
      return 1;
    }
  t = now_s() - t;
  printf("probe %s: %ld keep-alive GETs on one connection, %.0f/s, last body %zu bytes: %s\n",
         argv[4], count, (double)count / t, r.body_len, r.body);
  conn_close(&c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--probe")) return probe(argc, argv);
  if (argc < 6) {
    fprintf(stderr, "usage: bench_wfhttp HOST PORT N STARTERS WORKERS [LAT_SECS] [BPMN]\n"
                    "       bench_wfhttp --probe HOST PORT PATH [COUNT]\n");
    return 2;
  }
  g_host = argv[1], g_port = atoi(argv[2]);
  uint64_t n = strtoull(argv[3], NULL, 10);
  int ns = atoi(argv[4]), nw = atoi(argv[5]);
  double lat_secs = argc > 6 ? atof(argv[6]) : 3.0;
  const char *bpmn = argc > 7 ? argv[7] : TR_BENCH_BPMN;
  if (hist_init(&g_peak_lat) < 0 || hist_init(&g_lat) < 0) return 1;
  conn c = {.fd = -1};
  int rc = deploy(&c, bpmn);
  if (rc == 404) {
    fprintf(stderr, "wfhttp: POST /engine-rest/deployment/create answered 404: this daemon has "
                    "no Camunda REST API yet; workers=http skipped\n");
    printf("peer=troupe bench=workflow workers=http skipped=engine-rest-404\n");
    return 0;
  }
  if (rc < 0) return 1;

  pthread_t *wt = calloc((size_t)nw, sizeof *wt), *st = calloc((size_t)ns, sizeof *st);
  int *wi = calloc((size_t)nw, sizeof *wi);
  for (int i = 0; i < nw; i++) {
    wi[i] = i;
    pthread_create(&wt[i], NULL, worker, &wi[i]);
  }
  /* warm-up, untimed */
  g_want = 100;
  atomic_store(&g_to_start, 100);
  for (int i = 0; i < ns; i++) pthread_create(&st[i], NULL, starter, NULL);
  for (int i = 0; i < ns; i++) pthread_join(st[i], NULL);
  if (wait_completed(100, 60) < 0) {
    fprintf(stderr, "wfhttp: the warm-up's tasks were not completed\n");
    return 1;
  }
  atomic_store(&g_completed, 0);
  atomic_store(&g_started, 0);
  hist_free(&g_peak_lat);
  hist_init(&g_peak_lat);

  /* peak */
  g_want = n;
  atomic_store(&g_to_start, (int64_t)n);
  double t0 = now_s();
  for (int i = 0; i < ns; i++) pthread_create(&st[i], NULL, starter, NULL);
  for (int i = 0; i < ns; i++) pthread_join(st[i], NULL);
  double t_starts = now_s() - t0;
  if (wait_completed(n, 600) < 0) {
    fprintf(stderr, "wfhttp: peak phase did not finish\n");
    return 1;
  }
  pthread_mutex_lock(&g_mu);
  double t_end = g_t_last_complete;
  pthread_mutex_unlock(&g_mu);
  const char *end_by = "tasks_completed";
  long running = running_count(&c);
  if (running >= 0) {
    while ((running = running_count(&c)) > 0) usleep(1000);
    t_end = now_s();
    end_by = "instances_gone";
  }
  double t_peak = t_end - t0, peak = (double)n / t_peak;

  /* latency at half the peak rate */
  double p50 = 0, p99 = 0, paced_rate = 0;
  if (lat_secs > 0) {
    uint64_t m = (uint64_t)(peak / 2 * lat_secs);
    if (m < 100) m = 100;
    atomic_store(&g_completed, 0);
    g_want = m;
    paced_arg *pa = calloc((size_t)ns, sizeof *pa);
    double t1 = now_s() + 0.01;
    for (int i = 0; i < ns; i++) {
      pa[i] = (paced_arg){i, ns, m, peak / 2, t1};
      pthread_create(&st[i], NULL, paced, &pa[i]);
    }
    for (int i = 0; i < ns; i++) pthread_join(st[i], NULL);
    if (wait_completed(m, 600) < 0) {
      fprintf(stderr, "wfhttp: latency phase did not finish\n");
      return 1;
    }
    paced_rate = (double)m / (now_s() - t1);
    p50 = hist_ms(&g_lat, 0.5), p99 = hist_ms(&g_lat, 0.99);
    free(pa);
  }
  atomic_store(&g_stop_workers, 1);
  for (int i = 0; i < nw; i++) pthread_join(wt[i], NULL);
  printf("peer=troupe bench=workflow workers=http instances=%llu starters=%d http_workers=%d "
         "instances_per_s=%.1f start_p50_ms=%.3f start_p99_ms=%.3f paced_per_s=%.1f "
         "peak_start_p50_ms=%.3f peak_start_p99_ms=%.3f starts_per_s=%.1f secs=%.3f end=%s "
         "fetches=%llu empty_fetches=%llu errors=%llu\n",
         (unsigned long long)n, ns, nw, peak, p50, p99, paced_rate, hist_ms(&g_peak_lat, 0.5),
         hist_ms(&g_peak_lat, 0.99), (double)n / t_starts, t_peak, end_by,
         (unsigned long long)atomic_load(&g_fetches), (unsigned long long)atomic_load(&g_empty),
         (unsigned long long)atomic_load(&g_errors));
  conn_close(&c);
  free(c.buf);
  free(wt), free(st), free(wi);
  return 0;
}
