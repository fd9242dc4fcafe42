/* http.c - requests/s of the node's HTTP server for a small GET, the way
 * the issue measures it: wrk (Debian package) with keep-alive connections
 * against a callback route that answers 13 bytes, on the same machine.
 *
 * usage: bench_http SECONDS CONNECTIONS
 * prints: peer=troupe bench=http conns=C req_per_s=.. p50_ms=.. p99_ms=..
 * Threads: TROUPE_THREADS (default 2). wrk gets one thread: on two cores
 * the load generator competes with the server, as it will for nginx.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/http/http.h"

static void hello(tr_http_server *srv, tr_http_rid rid, const tr_http_request *req, void *arg) {
  (void)req, (void)arg;
  static const char body[] = "hello, world\n";
  tr_http_response r = {.status = 200, .content_type = "text/plain", .body = body,
                        .body_len = sizeof body - 1};
  tr_http_respond(srv, rid, &r);
}

/* "1.23ms", "456.00us", "1.2s" -> ms */
static double ms_of(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (!strncmp(end, "us", 2)) return v / 1000;
  if (!strncmp(end, "ms", 2)) return v;
  if (*end == 's') return v * 1000;
  return v;
}

int main(int argc, char **argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 5, conns = argc > 2 ? atoi(argv[2]) : 64;
  const char *th = getenv("TROUPE_THREADS");
  tr_config cfg = {.threads = th ? (uint32_t)atoi(th) : 2};
  tr_system *sys;
  tr_http_server *srv;
  tr_http_opts o = {.listen = "127.0.0.1:0", .limits = {.max_conns = 4096}};
  if (tr_system_new(&cfg, &sys) < 0 || tr_http_new(sys, &o, &srv) < 0 ||
      tr_http_route_fn(srv, "GET", "/hello", TR_HTTP_ROUTE_EXACT, hello, NULL) < 0 ||
      tr_http_start(srv) < 0) {
    fprintf(stderr, "bench_http: cannot start the server\n");
    return 1;
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "wrk -t1 -c%d -d%ds --latency http://%s/hello 2>&1", conns, secs,
           tr_http_address(srv));
  FILE *p = popen(cmd, "r");
  double rps = 0, p50 = 0, p99 = 0;
  char line[512];
  while (p && fgets(line, sizeof line, p)) {
    fputs(line, stderr);
    char v[64];
    if (sscanf(line, " Requests/sec: %lf", &rps) == 1) continue;
    if (sscanf(line, " 50%% %63s", v) == 1) p50 = ms_of(v);
    if (sscanf(line, " 99%% %63s", v) == 1) p99 = ms_of(v);
  }
  int rc = p ? pclose(p) : -1;
  tr_http_stats st;
  tr_http_stats_get(srv, &st);
  tr_http_stop(srv, 1000);
  tr_system_free(sys);
  tr_http_free(srv);
  if (rc != 0 || rps <= 0) {
    fprintf(stderr, "bench_http: wrk failed (is the wrk package installed?)\n");
    return 1;
  }
  printf("peer=troupe bench=http conns=%d req_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
         "errors_4xx=%llu\n",
         conns, rps, p50, p99, (unsigned long long)st.errors_4xx);
  return 0;
}
