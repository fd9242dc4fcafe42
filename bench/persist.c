/* persist - persisted events/s with W persistent actors appending at once,
 * sync mode: each actor appends a 100-byte event, and the next one when the
 * ack (durable) arrives. p50/p99: append to ack.
 *
 *   bench_persist WRITERS [SECONDS] [DIR]   (DIR: a fresh data dir, removed)
 *
 * PS_MODE=nosync runs it without fsync (acks when committed to the page
 * cache): not a durable figure, the ceiling that the CPU alone allows. */
#include <ftw.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"

static hist g_lat;
static _Atomic uint64_t g_acks, g_ready;
static _Atomic int g_measuring, g_stop;

typedef struct {
  double sent;
} w_state;

static int w_append(tr_ctx *ctx, w_state *s) {
  uint8_t ev[100];
  memset(ev, 0xab, sizeof ev);
  ev[0] = 0xc4; /* msgpack bin8 of 98 bytes: a plausible event */
  ev[1] = 98;
  s->sent = bench_now();
  return tr_persist_append(ctx, ev, sizeof ev, NULL);
}

static int w_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  w_state *s = st;
  if (m->type == TR_MSG_RECOVERED) {
    atomic_fetch_add(&g_ready, 1);
    return w_append(ctx, s);
  }
  if (m->type != TR_MSG_PERSISTED) return 0;
  if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
  if (atomic_load_explicit(&g_measuring, memory_order_relaxed)) {
    hist_add(&g_lat, bench_now() - s->sent);
    atomic_fetch_add_explicit(&g_acks, 1, memory_order_relaxed);
  }
  if (atomic_load_explicit(&g_stop, memory_order_relaxed)) return 0;
  return w_append(ctx, s);
}

static int w_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) { return 0; }

static const tr_persistent writer_b = {
    .base = {.name = "writer", .state_size = sizeof(w_state), .receive = w_receive},
    .apply = w_apply};

int main(int argc, char **argv) {
  uint64_t writers = bench_arg(argc, argv, 1, 100);
  double secs = argc > 2 ? atof(argv[2]) : 3.0;
  char dir[256];
  snprintf(dir, sizeof dir, "%s", argc > 3 ? argv[3] : "/tmp/troupe-bench-persist.XXXXXX");
  if (argc <= 3 && !mkdtemp(dir)) return 1;
  if (hist_init(&g_lat) < 0) return 1;
  const char *mode = getenv("PS_MODE");
  bool nosync = mode && strcmp(mode, "nosync") == 0;
  tr_config cfg = {.threads = bench_threads(), .data_dir = dir,
                   .durability = nosync ? TR_DURABLE_NOSYNC : TR_DURABLE_SYNC};
  tr_system *sys;
  int rc = tr_system_new(&cfg, &sys);
  if (rc < 0) {
    fprintf(stderr, "persist: %s\n", tr_strerror(rc));
    return 1;
  }
  for (uint64_t i = 0; i < writers; i++) {
    char id[32];
    snprintf(id, sizeof id, "w/%llu", (unsigned long long)i);
    tr_persist_opts o = {.id = id};
    if (tr_system_persist_spawn(sys, &writer_b, NULL, &o, NULL) < 0) return 1;
  }
  while (atomic_load(&g_ready) < writers) usleep(1000);
  usleep(500000); /* warm-up: the map grows, batches settle */
  atomic_store(&g_measuring, 1);
  double t0 = bench_now();
  usleep((useconds_t)(secs * 1e6));
  atomic_store(&g_measuring, 0);
  double t = bench_now() - t0;
  uint64_t acks = atomic_load(&g_acks);
  atomic_store(&g_stop, 1);
  printf("peer=troupe bench=persist writers=%llu mode=%s secs=%.3f events=%llu events_per_s=%.1f "
         "p50_ms=%.3f p99_ms=%.3f\n",
         (unsigned long long)writers, nosync ? "nosync" : "sync", t, (unsigned long long)acks,
         acks / t, hist_ms(&g_lat, 0.5),
         hist_ms(&g_lat, 0.99));
  tr_system_free(sys);
  hist_free(&g_lat);
  if (argc <= 3) bench_rmdir(dir);
  return 0;
}
