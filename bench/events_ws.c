/* events_ws.c - the notifier's fan-out to WebSocket subscribers on one
 * node: bench=events.
 *
 *   bench_events_ws [subs=1000] [rate=10000] [secs=3] [burst=2000] [bus=0] [all=subs]
 *
 * One process: the HTTP server and the notifier over the fake bus
 * (tests/events/fake_bus.h, in memory; bus=0) or the real one
 * (actors/events, a SYNC store in a fresh /tmp dir, so every event is
 * durable before it is delivered; bus=1), and a C client harness (one
 * thread, epoll) with `subs` WebSocket subscribers to one topic: `all` of
 * them with no filter, the others each with its own business key
 * (?bk=u<i>, the way a chat UI follows its own conversation); the events'
 * business keys cycle over those, so an event goes to every unfiltered
 * subscriber and to one filtered one. Two phases:
 *  - throughput: `burst` events published at once (batches of 100);
 *    deliveries/s = deliveries / (first publish -> last delivery);
 *  - latency: `rate` events/s for `secs` s (a batch every ms), each
 *    stamped with its publish time; the harness takes receive - publish
 *    for every delivery: p50/p99.
 * The output bound is raised to 256 MiB so that no subscriber is cut (the
 * bench measures delay, not the cut-off). The harness's own ceiling (frames
 * it parses per second from memory, no sockets) is printed beside it: a
 * rate near it says more about the harness than the server. Everything
 * shares the machine's cores: the schedulers, the harness, the publisher.
 * Prints: peer=troupe bench=events subs=.. unfiltered=.. bus=fake|real
 *   deliveries_per_s=.. p50_ms=.. p99_ms=.. ...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/events/notify.h"
#include "actors/workflow/index.h"
#include "bench.h"
#include "hist.h"
#include "../tests/events/fake_bus.h"

typedef struct wconn {
  int fd;
  uint8_t *buf;
  size_t len, cap;
  uint64_t got; /* deliveries (told on a failure) */
} wconn;

static _Atomic uint64_t delivered;
static _Atomic int measuring, stop_harness;
static hist lat;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Parses the whole frames in c->buf, keeps the rest: a text frame is a
 * delivery; its "t" (publish time, us) gives the latency when measuring. */
static uint64_t parse(wconn *c, int timed) {
  size_t off = 0;
  uint64_t n = 0, now = timed ? now_us() : 0;
  while (c->len - off >= 2) {
    const uint8_t *b = c->buf + off;
    /* the 7-bit length code says which form the length takes; it is kept
     * apart from the length, which may itself be 126 or 127 */
    size_t code = b[1] & 0x7f, hl = code == 126 ? 4 : code == 127 ? 10 : 2, pl = code;
    if (c->len - off < hl) break;
    if (code == 126) pl = (size_t)b[2] << 8 | b[3];
    if (code == 127) {
      pl = 0;
      for (int i = 0; i < 8; i++) pl = pl << 8 | b[2 + i];
    }
    if (c->len - off < hl + pl) break;
    if ((b[0] & 0x0f) == 1) {
      n++;
      if (timed) {
        const uint8_t *p = memmem(b + hl, pl, "\"t\":", 4);
        if (p) {
          uint64_t t = strtoull((const char *)p + 4, NULL, 10);
          if (now > t) hist_add(&lat, (double)(now - t) / 1e6);
        }
      }
    }
    off += hl + pl;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
  return n;
}

static wconn *conns;
static int nconns, ep;

static void *harness(void *arg) {
  (void)arg;
  struct epoll_event evs[256];
  while (!atomic_load(&stop_harness)) {
    int k = epoll_wait(ep, evs, 256, 50);
    int timed = atomic_load_explicit(&measuring, memory_order_relaxed);
    for (int i = 0; i < k; i++) {
      wconn *c = &conns[evs[i].data.u32];
      for (;;) {
        if (c->cap - c->len < 65536) {
          c->cap = c->cap * 2 + 65536;
          c->buf = realloc(c->buf, c->cap);
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r <= 0) break;
        c->len += (size_t)r;
        uint64_t n = parse(c, timed);
        c->got += n;
        atomic_fetch_add_explicit(&delivered, n, memory_order_relaxed);
        if ((size_t)r < 65536) break;
      }
    }
  }
  return NULL;
}

/* Blocking handshake and the subscription's ack; then non-blocking.
 * bk < 0: no filter. */
static int ws_connect(int port, wconn *c, long bk, const char *topic) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  char req[320], filter[32] = "";
  if (bk >= 0) snprintf(filter, sizeof filter, "&bk=u%ld", bk);
  int rl = snprintf(req, sizeof req,
                    "GET /events?topic=%s%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n",
                    topic, filter);
  if (send(c->fd, req, (size_t)rl, MSG_NOSIGNAL) < 0) return -1;
  c->cap = 65536;
  c->buf = malloc(c->cap);
  c->len = 0;
  for (;;) { /* up to the ack, a text frame after the 101's head */
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r <= 0) return -1;
    c->len += (size_t)r;
    uint8_t *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end && memmem(end, c->len - (size_t)(end - c->buf), "\"ack\"", 5)) break;
  }
  if (memcmp(c->buf, "HTTP/1.1 101", 12)) return -1;
  c->len = 0;
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  return 0;
}

static tr_system *sys;
static uint32_t nbk; /* filtered subscribers: the business keys cycled over */

static int real; /* the real bus: events as the engine sends them */

/* count events stamped now: with the fake bus one PUBLISH_MANY (one
 * batch); with the real one, one TR_WF_EVENT each to events/engine, the
 * very messages a workflow instance's tr_wf_emit sends (type, time, data
 * holding pi and bk), so the path measured is the engine's */
static void publish(uint32_t count, uint64_t *seq) {
  tr_pack pk = TR_PACK_INIT;
  if (!real) tr_pack_map(&pk, 1), tr_pack_str(&pk, "events"), tr_pack_array(&pk, count);
  uint64_t t = now_us();
  for (uint32_t i = 0; i < count; i++) {
    char bk[24];
    snprintf(bk, sizeof bk, "u%llu", (unsigned long long)(nbk ? *seq % nbk : 0));
    tr_pack_map(&pk, real ? 3 : nbk ? 4 : 3);
    if (nbk && !real) tr_pack_str(&pk, "bk"), tr_pack_str(&pk, bk);
    tr_pack_str(&pk, "type"), tr_pack_str(&pk, real ? "process.started" : "tick");
    tr_pack_str(&pk, "time"), tr_pack_uint(&pk, (uint64_t)time(NULL) * 1000);
    tr_pack_str(&pk, "data"), tr_pack_map(&pk, real ? 4 : 2);
    if (real) {
      tr_pack_str(&pk, "pi"), tr_pack_str(&pk, bk); /* any id: the filter is on bk */
      tr_pack_str(&pk, "bk"), tr_pack_str(&pk, bk);
    }
    tr_pack_str(&pk, "t"), tr_pack_uint(&pk, t);
    tr_pack_str(&pk, "n"), tr_pack_uint(&pk, ++*seq);
    if (real) {
      tr_system_virtual_send(sys, "events/engine", TR_WF_EVENT, pk.data, pk.len);
      tr_pack_reset(&pk);
    }
  }
  if (!real) tr_system_virtual_send(sys, "events/bench", TR_EV_PUBLISH_MANY, pk.data, pk.len);
  tr_pack_free(&pk);
}

static int wait_delivered(uint64_t want, double limit_s) {
  double end = bench_now() + limit_s;
  while (atomic_load(&delivered) < want)
    if (bench_now() > end) {
      fprintf(stderr, "bench_events_ws: %llu deliveries of %llu after %.0f s\n",
              (unsigned long long)atomic_load(&delivered), (unsigned long long)want, limit_s);
      return -1;
    } else {
      usleep(1000);
    }
  return 0;
}

/* Frames per second the harness parses from memory: its ceiling. */
static double harness_ceiling(void) {
  const char *js = "{\"id\":\"bench:123456\",\"time\":\"2026-11-23T08:00:00.000Z\","
                   "\"type\":\"tick\",\"data\":{\"t\":123456789012,\"n\":123456}}";
  size_t jl = strlen(js), fl = jl + 2, nf = (1u << 20) / fl;
  wconn c = {.cap = nf * fl, .buf = malloc(nf * fl)};
  double t0 = bench_now(), frames = 0;
  while (bench_now() - t0 < 0.5) {
    for (size_t i = 0; i < nf; i++) {
      c.buf[i * fl] = 0x81;
      c.buf[i * fl + 1] = (uint8_t)jl;
      memcpy(c.buf + i * fl + 2, js, jl);
    }
    c.len = nf * fl;
    frames += (double)parse(&c, 1);
  }
  double r = frames / (bench_now() - t0);
  free(c.buf);
  return r;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  uint32_t subs = (uint32_t)bench_arg(argc, argv, 1, 1000);
  uint32_t rate = (uint32_t)bench_arg(argc, argv, 2, 10000);
  uint32_t secs = (uint32_t)bench_arg(argc, argv, 3, 3);
  uint32_t burst = (uint32_t)bench_arg(argc, argv, 4, 2000);
  real = (int)bench_arg(argc, argv, 5, 0);
  uint32_t all = (uint32_t)bench_arg(argc, argv, 6, subs);
  if (all > subs) all = subs;
  nbk = subs - all;
  uint64_t per_event = all + (nbk ? 1 : 0);
  double wait_s = getenv("EV_WAIT_S") ? atof(getenv("EV_WAIT_S")) : 120;
  if (hist_init(&lat) < 0) return 1;
  char dir[64] = "";
  tr_config cfg = {.threads = bench_threads()};
  if (real) {
    snprintf(dir, sizeof dir, "/tmp/trbenchwsXXXXXX");
    if (!mkdtemp(dir)) return 1;
    cfg.data_dir = dir, cfg.durability = TR_DURABLE_SYNC;
  }
  tr_http_server *srv;
  if (tr_system_new(&cfg, &sys) < 0 ||
      (real ? tr_events_register(sys, 0) : fake_bus_register(sys)) < 0)
    return 1;
  tr_http_opts o = {.listen = "127.0.0.1:0",
                    .limits = {.max_conns = 8192, .max_stream_buffer = 256u << 20}};
  tr_events_notify_opts no = {.ping_ms = 60000};
  if (tr_http_new(sys, &o, &srv) < 0 || tr_events_notify_start(sys, srv, &no, NULL) < 0 ||
      tr_http_start(srv) < 0)
    return 1;
  int port = atoi(strrchr(tr_http_address(srv), ':') + 1);
  conns = calloc(subs, sizeof *conns);
  ep = epoll_create1(0);
  for (uint32_t i = 0; i < subs; i++) {
    if (ws_connect(port, &conns[i], i < all ? -1 : (long)(i - all), real ? "engine" : "bench") < 0) {
      fprintf(stderr, "subscriber %u: handshake failed\n", i);
      return 1;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
    nconns++;
  }
  pthread_t th;
  pthread_create(&th, NULL, harness, NULL);
  uint64_t seq = 0;

  /* throughput: a burst, as fast as it goes out */
  double t0 = bench_now();
  for (uint32_t i = 0; i < burst; i += 100) publish(burst - i < 100 ? burst - i : 100, &seq);
  int ok = wait_delivered((uint64_t)burst * per_event, wait_s) == 0;
  if (getenv("EV_DEBUG"))
    for (uint32_t i = 0; i < subs && i < 20; i++)
      fprintf(stderr, "after the burst: subscriber %u: %llu\n", i, (unsigned long long)conns[i].got);
  double tput = (double)atomic_load(&delivered) / (bench_now() - t0);

  /* latency: rate events/s, a batch every ms */
  uint64_t base = atomic_load(&delivered), sent = 0;
  atomic_store(&measuring, 1);
  double start = bench_now();
  for (uint64_t ms = 1; ms <= (uint64_t)secs * 1000; ms++) {
    uint64_t due = (uint64_t)rate * ms / 1000;
    if (due > sent) publish((uint32_t)(due - sent), &seq), sent = due;
    double next = start + (double)ms / 1000;
    double now = bench_now();
    if (next > now) usleep((useconds_t)((next - now) * 1e6));
  }
  int lat_ok = wait_delivered(base + sent * per_event, wait_s) == 0;
  if (!ok || !lat_ok) /* who is short: the first few */
    for (uint32_t i = 0, told = 0; i < subs && told < 10; i++) {
      uint64_t want = i < all ? seq : seq / nbk + ((i - all) < seq % nbk);
      if (conns[i].got != want)
        fprintf(stderr, "subscriber %u: %llu of %llu\n", i, (unsigned long long)conns[i].got,
                (unsigned long long)want), told++;
    }
  double lat_s = bench_now() - start;
  uint64_t got = atomic_load(&delivered) - base;
  atomic_store(&measuring, 0);
  atomic_store(&stop_harness, 1);
  pthread_join(th, NULL);
  double ceiling = harness_ceiling();
  /* the group fields first, as bench/run.sh groups and checks them */
  printf("peer=troupe bench=events subs=%u unfiltered=%u bus=%s deliveries_per_s=%.0f "
         "p50_ms=%.3f p99_ms=%.3f rate=%u secs=%u burst=%u lat_deliveries_per_s=%.0f "
         "delivered_pct=%.1f harness_ceiling_per_s=%.0f ok=%s\n",
         subs, all, real ? "real" : "fake", tput, hist_ms(&lat, 0.5), hist_ms(&lat, 0.99), rate,
         secs, burst, (double)got / lat_s,
         100.0 * (double)got / (double)(sent * per_event > 0 ? sent * per_event : 1), ceiling,
         ok && lat_ok ? "yes" : "no");
  for (int i = 0; i < nconns; i++) close(conns[i].fd), free(conns[i].buf);
  free(conns);
  tr_http_stop(srv, 1000);
  tr_system_free(sys);
  tr_http_free(srv);
  hist_free(&lat);
  if (real) bench_rmdir(dir);
  return ok && lat_ok ? 0 : 1;
}
