/* pingpong - the peers kit's benchmark 1 on troupe: two actors, N strict
 * round trips of one integer, one message in flight. */
#include "bench.h"

enum { MSG_NUM = 1 };

typedef struct {
  tr_ref pong;
  sem_t *done;
} ping_arg;

typedef struct {
  tr_ref pong;
  sem_t *done;
} ping_state;

static int ping_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const ping_arg *a = arg;
  ping_state *s = st;
  s->pong = a->pong;
  s->done = a->done;
  return 0;
}

static int ping_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  ping_state *s = st;
  uint64_t k = bench_get_u64(m);
  if (k == 0) {
    sem_post(s->done);
    return 0;
  }
  uint8_t buf[9];
  return tr_actor_send(ctx, s->pong, MSG_NUM, buf, bench_put_u64(buf, k - 1));
}

static int pong_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  return tr_actor_send(ctx, m->sender, MSG_NUM, m->data, m->len);
}

static const tr_behavior ping_b = {"ping", sizeof(ping_state), ping_init, ping_receive, NULL};
static const tr_behavior pong_b = {"pong", 0, NULL, pong_receive, NULL};

int main(int argc, char **argv) {
  uint64_t n = bench_arg(argc, argv, 1, 2000000);
  tr_config cfg = {.threads = bench_threads()};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  sem_t done;
  sem_init(&done, 0, 0);
  ping_arg pa = {.done = &done};
  tr_ref ping;
  if (tr_system_spawn(sys, &pong_b, NULL, NULL, &pa.pong) < 0 ||
      tr_system_spawn(sys, &ping_b, &pa, NULL, &ping) < 0)
    return 1;
  uint8_t buf[9];
  double t0 = bench_now();
  /* the trigger: ping "receives" N, sends N-1, ... 0: N round trips */
  tr_system_send(sys, ping, MSG_NUM, buf, bench_put_u64(buf, n));
  sem_wait(&done);
  double secs = bench_now() - t0;
  printf("peer=troupe bench=pingpong n=%llu secs=%.4f rt_per_s=%.4f msgs_per_s=%.4f\n",
         (unsigned long long)n, secs, n / secs, 2.0 * n / secs);
  tr_system_free(sys);
  sem_destroy(&done);
  return 0;
}
