/* skynet - the peers kit's benchmark 4: a tree of 1,111,111 actors (fan-out
 * 10) whose leaves send their number up; the root's sum must be
 * size*(size-1)/2. A node spawns its children in init, which runs inside
 * spawn, so the tree is built depth-first. */
#include "bench.h"

enum { MSG_NUM = 1, MSG_START = 2 };

typedef struct {
  uint64_t num, size, div;
  tr_ref parent;
} node_arg;

typedef struct {
  tr_ref parent;
  uint64_t div, count, sum;
} node_state;

static const tr_behavior node_b;

static int node_init(tr_ctx *ctx, void *st, const void *arg) {
  const node_arg *a = arg;
  node_state *s = st;
  uint8_t buf[9];
  if (a->size == 1) {
    tr_actor_send(ctx, a->parent, MSG_NUM, buf, bench_put_u64(buf, a->num));
    return TR_STOP;
  }
  s->parent = a->parent;
  s->div = a->div;
  node_arg c = {0, a->size / a->div, a->div, tr_actor_self(ctx)};
  for (uint64_t i = 0; i < a->div; i++) {
    c.num = a->num + i * c.size;
    int rc = tr_actor_spawn(ctx, &node_b, &c, NULL, NULL);
    if (rc < 0) return rc;
  }
  return 0;
}

static int node_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  node_state *s = st;
  s->sum += bench_get_u64(m);
  if (++s->count < s->div) return 0;
  uint8_t buf[9];
  tr_actor_send(ctx, s->parent, MSG_NUM, buf, bench_put_u64(buf, s->sum));
  return TR_STOP;
}

static const tr_behavior node_b = {"skynet", sizeof(node_state), node_init, node_receive, NULL};

typedef struct {
  uint64_t size, div;
  sem_t *done;
} main_state;

static uint64_t g_result; /* written before sem_post, read after sem_wait */

static int main_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(main_state));
  return 0;
}

static int main_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  main_state *s = st;
  if (m->type == MSG_START) {
    node_arg a = {0, s->size, s->div, tr_actor_self(ctx)};
    return tr_actor_spawn(ctx, &node_b, &a, NULL, NULL);
  }
  g_result = bench_get_u64(m);
  sem_post(s->done);
  return 0;
}

static const tr_behavior main_b = {"skynet-main", sizeof(main_state), main_init, main_receive, NULL};

int main(int argc, char **argv) {
  uint64_t size = bench_arg(argc, argv, 1, 1000000), div = bench_arg(argc, argv, 2, 10);
  tr_config cfg = {.threads = bench_threads()};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  sem_t done;
  sem_init(&done, 0, 0);
  main_state ms = {size, div, &done};
  tr_ref m;
  if (tr_system_spawn(sys, &main_b, &ms, NULL, &m) < 0) return 1;
  uint64_t actors = 0;
  for (uint64_t s = size; s >= 1; s /= div) {
    actors += size / s;
    if (s == 1) break;
  }
  double t0 = bench_now();
  tr_system_send(sys, m, MSG_START, NULL, 0);
  sem_wait(&done);
  double ms_ = (bench_now() - t0) * 1000.0;
  uint64_t expect = size * (size - 1) / 2;
  printf("peer=troupe bench=skynet size=%llu branching=%llu actors=%llu ms=%.4f actors_per_s=%.4f "
         "sum_ok=%s peak_rss_mb=%.4f\n",
         (unsigned long long)size, (unsigned long long)div, (unsigned long long)actors, ms_,
         actors / (ms_ / 1000.0), g_result == expect ? "true" : "false", bench_peak_rss_mb());
  tr_system_free(sys);
  sem_destroy(&done);
  return 0;
}
