/* spawn - the peers kit's benchmark 3: a parent spawns K workers (timing A),
 * waits 500 ms untimed for RSS, then sends each `go` and waits for K acks
 * (timing B). bytes_per_actor = (RSS1 - RSS0) / K. */
#include <unistd.h>

#include "bench.h"

enum { MSG_SPAWN = 1, MSG_GO = 2, MSG_ACK = 3 };

typedef struct {
  uint64_t k, acks;
  tr_ref *kids;
  sem_t *done;
} parent_state;

typedef struct {
  uint64_t k;
  sem_t *done;
} parent_arg;

static int worker_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  tr_actor_send(ctx, m->sender, MSG_ACK, NULL, 0);
  return TR_STOP;
}

static const tr_behavior worker_b = {"worker", 0, NULL, worker_receive, NULL};

static int parent_init(tr_ctx *ctx, void *st, const void *arg) {
  const parent_arg *a = arg;
  parent_state *s = st;
  s->k = a->k;
  s->done = a->done;
  s->kids = malloc(s->k * sizeof *s->kids);
  return s->kids ? 0 : TR_ENOMEM;
}

static int parent_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  parent_state *s = st;
  switch (m->type) {
  case MSG_SPAWN:
    for (uint64_t i = 0; i < s->k; i++)
      if (tr_actor_spawn(ctx, &worker_b, NULL, NULL, &s->kids[i]) < 0) abort();
    sem_post(s->done);
    break;
  case MSG_GO:
    for (uint64_t i = 0; i < s->k; i++) tr_actor_send(ctx, s->kids[i], MSG_GO, NULL, 0);
    break;
  case MSG_ACK:
    if (++s->acks == s->k) sem_post(s->done);
    break;
  }
  return 0;
}

static void parent_terminate(tr_ctx *ctx, void *st, int reason) { free(((parent_state *)st)->kids); }

static const tr_behavior parent_b = {"parent", sizeof(parent_state), parent_init, parent_receive,
                                     parent_terminate};

int main(int argc, char **argv) {
  uint64_t k = bench_arg(argc, argv, 1, 500000), settle_ms = bench_arg(argc, argv, 2, 500);
  tr_config cfg = {.threads = bench_threads()};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  sem_t done;
  sem_init(&done, 0, 0);
  parent_arg pa = {k, &done};
  tr_ref parent;
  if (tr_system_spawn(sys, &parent_b, &pa, NULL, &parent) < 0) return 1;
  usleep(100000);
  double rss0 = bench_rss_mb();
  double t0 = bench_now();
  tr_system_send(sys, parent, MSG_SPAWN, NULL, 0);
  sem_wait(&done);
  double a = bench_now() - t0;
  usleep((useconds_t)settle_ms * 1000);
  double rss1 = bench_rss_mb();
  double t1 = bench_now();
  tr_system_send(sys, parent, MSG_GO, NULL, 0);
  sem_wait(&done);
  double b = bench_now() - t1;
  printf("peer=troupe bench=spawn k=%llu spawn_secs=%.4f spawns_per_s=%.4f total_secs=%.4f "
         "lifecycles_per_s=%.4f bytes_per_actor=%.4f peak_rss_mb=%.4f\n",
         (unsigned long long)k, a, k / a, a + b, k / (a + b), (rss1 - rss0) * 1048576.0 / k,
         bench_peak_rss_mb());
  tr_system_free(sys);
  sem_destroy(&done);
  return 0;
}
