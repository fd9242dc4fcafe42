/* recover - replay rate and time to recover one persistent actor with N
 * events, without and with a snapshot: fill a fresh store, restart the
 * system, time spawn -> TR_MSG_RECOVERED.
 *
 *   bench_recover [EVENTS] [DIR] */
#include <ftw.h>
#include <stdatomic.h>
#include <semaphore.h>
#include <unistd.h>

#include "bench.h"

static sem_t g_done;
static _Atomic uint64_t g_last, g_applied;

typedef struct {
  uint64_t target, sum;
} r_state;

static int r_init(tr_ctx *ctx, void *st, const void *arg) {
  ((r_state *)st)->target = arg ? *(const uint64_t *)arg : 0;
  return 0;
}

static int r_fill(tr_ctx *ctx, r_state *s) {
  uint8_t ev[100];
  memset(ev, 0x11, sizeof ev);
  ev[0] = 0xc4;
  ev[1] = 98;
  return tr_persist_append(ctx, ev, sizeof ev, NULL);
}

static int r_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  r_state *s = st;
  if (m->type == TR_MSG_RECOVERED) {
    atomic_store(&g_last, m->corr);
    if (!s->target) {
      sem_post(&g_done);
      return 0;
    }
    for (int i = 0; i < 1000 && tr_persist_seq(ctx) < s->target; i++) {
      int rc = r_fill(ctx, s);
      if (rc < 0) return rc;
    }
    return 0;
  }
  if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    if (m->corr == s->target) sem_post(&g_done);
    else if (tr_persist_seq(ctx) < s->target) return r_fill(ctx, s);
  }
  return 0;
}

static int r_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  ((r_state *)st)->sum += len;
  atomic_fetch_add_explicit(&g_applied, 1, memory_order_relaxed);
  return 0;
}

static int r_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  return tr_buf_append(out, &((r_state *)st)->sum, sizeof(uint64_t));
}

static int r_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *d, size_t len) {
  if (len != sizeof(uint64_t)) return TR_ECORRUPT;
  memcpy(&((r_state *)st)->sum, d, len);
  return 0;
}

static const tr_persistent rec_b = {
    .base = {.name = "recover", .state_size = sizeof(r_state), .init = r_init, .receive = r_receive},
    .apply = r_apply,
    .snapshot = r_snapshot,
    .restore = r_restore};

/* one phase: a system on dir, spawn the actor, wait for target/recovery */
static double phase(const char *dir, const char *id, uint32_t snap_every, uint64_t target) {
  tr_config cfg = {.threads = bench_threads(), .data_dir = dir};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) exit(1);
  tr_persist_opts o = {.id = id, .snapshot_every = snap_every, .snapshot_keep = 1};
  atomic_store(&g_applied, 0);
  double t0 = bench_now();
  if (tr_system_persist_spawn(sys, &rec_b, target ? &target : NULL, &o, NULL) < 0) exit(1);
  sem_wait(&g_done);
  double t = bench_now() - t0;
  tr_system_free(sys);
  return t;
}

int main(int argc, char **argv) {
  uint64_t events = bench_arg(argc, argv, 1, 10000);
  char dir[256];
  snprintf(dir, sizeof dir, "%s", argc > 2 ? argv[2] : "/tmp/troupe-bench-recover.XXXXXX");
  if (argc <= 2 && !mkdtemp(dir)) return 1;
  sem_init(&g_done, 0, 0);
  /* without a snapshot */
  phase(dir, "rec/plain", 0, events);
  double t = phase(dir, "rec/plain", 0, 0);
  if (atomic_load(&g_last) != events || atomic_load(&g_applied) != events) {
    fprintf(stderr, "recover: got %llu/%llu events\n", (unsigned long long)atomic_load(&g_applied),
            (unsigned long long)events);
    return 1;
  }
  printf("peer=troupe bench=recover events=%llu snapshot=no replayed=%llu replay_events_per_s=%.1f "
         "recover_ms=%.3f\n",
         (unsigned long long)events, (unsigned long long)events, events / t, t * 1000);
  /* with a snapshot at the last event: nothing left to replay */
  phase(dir, "rec/snap", (uint32_t)events, events);
  t = phase(dir, "rec/snap", (uint32_t)events, 0);
  /* no replay rate here: the snapshot leaves nothing (or a few) to replay */
  printf("peer=troupe bench=recover events=%llu snapshot=yes replayed=%llu recover_ms=%.3f\n",
         (unsigned long long)events, (unsigned long long)atomic_load(&g_applied), t * 1000);
  if (argc <= 2) bench_rmdir(dir);
  return 0;
}
