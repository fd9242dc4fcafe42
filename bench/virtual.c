/* virtual - what addressing by name costs: activations per second, and
 * messages per second to active virtual actors beside the same messages to
 * plain refs, in one run.
 *
 *   bench_virtual K M W
 *
 *   activate   K messages from the main thread to K distinct names: each
 *              activates its actor (spawn + table insert); timed until all
 *              K have been handled
 *   send       a pump actor sends M messages round-robin over W active
 *              names, in chunks of 1,000 per callback; timed until all M
 *              were handled. Then the same over W plain actors by ref.
 * Prints one line: peer=troupe bench=virtual ... activate_per_s=...
 * virtual_msgs_per_s=... ref_msgs_per_s=... (the ratio is the cost of the
 * table lookup and its read lock).
 */
#include <stdatomic.h>

#include "bench.h"

enum { T_HIT = 1, T_GO };

static _Atomic uint64_t g_handled;
static uint64_t g_want;
static sem_t g_done;

static int hit_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx, (void)st, (void)m;
  if (atomic_fetch_add_explicit(&g_handled, 1, memory_order_relaxed) + 1 == g_want)
    sem_post(&g_done);
  return 0;
}
static const tr_behavior hit_b = {.name = "hit", .receive = hit_receive};

typedef struct {
  uint64_t left, i, w;
  char (*names)[24];
  tr_ref *refs;
} pump_state;

typedef struct {
  uint64_t m, w;
  char (*names)[24];
  tr_ref *refs; /* NULL: send by name */
} pump_arg;

static int pump_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const pump_arg *a = arg;
  pump_state *s = st;
  s->left = a->m, s->w = a->w, s->names = a->names, s->refs = a->refs;
  return 0;
}

static int pump_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  pump_state *s = st;
  (void)m;
  for (int k = 0; k < 1000 && s->left; k++, s->left--, s->i++) {
    uint64_t j = s->i % s->w;
    int rc = s->refs ? tr_actor_send(ctx, s->refs[j], T_HIT, NULL, 0)
                     : tr_virtual_send(ctx, s->names[j], T_HIT, NULL, 0);
    if (rc < 0) return rc;
  }
  if (s->left) return tr_actor_send(ctx, tr_actor_self(ctx), T_GO, NULL, 0);
  return TR_STOP;
}
static const tr_behavior pump_b = {.name = "pump", .state_size = sizeof(pump_state),
                                   .init = pump_init, .receive = pump_receive};

static double pump(tr_system *sys, uint64_t m, uint64_t w, char (*names)[24], tr_ref *refs) {
  atomic_store(&g_handled, 0);
  g_want = m;
  pump_arg a = {m, w, names, refs};
  tr_ref p;
  double t0 = bench_now();
  if (tr_system_spawn(sys, &pump_b, &a, NULL, &p) < 0 ||
      tr_system_send(sys, p, T_GO, NULL, 0) < 0)
    abort();
  sem_wait(&g_done);
  return bench_now() - t0;
}

int main(int argc, char **argv) {
  uint64_t k = bench_arg(argc, argv, 1, 100000), m = bench_arg(argc, argv, 2, 2000000),
           w = bench_arg(argc, argv, 3, 1000);
  if (w > k) w = k;
  sem_init(&g_done, 0, 0);
  tr_config cfg = {.threads = bench_threads()};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  if (tr_kind_register(sys, &(tr_kind){.name = "v", .behavior = &hit_b}) < 0) return 1;
  char (*names)[24] = calloc(k, sizeof *names);
  tr_ref *refs = calloc(w, sizeof *refs);
  if (!names || !refs) return 1;
  for (uint64_t i = 0; i < k; i++) snprintf(names[i], sizeof names[i], "v/%llu", (unsigned long long)i);

  g_want = k;
  double rss0 = bench_rss_mb(), t0 = bench_now();
  for (uint64_t i = 0; i < k; i++)
    if (tr_system_virtual_send(sys, names[i], T_HIT, NULL, 0) < 0) return 1;
  sem_wait(&g_done);
  double t_act = bench_now() - t0;
  double kb_per_act = (bench_rss_mb() - rss0) * 1024.0 / (double)k;

  double t_virt = pump(sys, m, w, names, NULL);
  for (uint64_t i = 0; i < w; i++)
    if (tr_system_spawn(sys, &hit_b, NULL, NULL, &refs[i]) < 0) return 1;
  double t_ref = pump(sys, m, w, NULL, refs);

  printf("peer=troupe bench=virtual activations=%llu msgs=%llu names=%llu secs=%.4f "
         "activate_per_s=%.1f kb_per_activation=%.2f virtual_msgs_per_s=%.1f "
         "ref_msgs_per_s=%.1f virtual_vs_ref=%.3f active=%zu\n",
         (unsigned long long)k, (unsigned long long)m, (unsigned long long)w,
         t_act + t_virt + t_ref, (double)k / t_act, kb_per_act, (double)m / t_virt,
         (double)m / t_ref, t_ref / t_virt, tr_virtual_count(sys));
  tr_system_free(sys);
  free(names);
  free(refs);
  return 0;
}
