/* fanout - the peers kit's benchmark 2: S senders each send M integers to
 * one receiver in a tight loop, no flow control. */
#include "bench.h"

enum { MSG_NUM = 1, MSG_GO = 2 };

typedef struct {
  uint64_t expect, count;
  sem_t *done;
} recv_state;

typedef struct {
  uint64_t expect;
  sem_t *done;
} recv_arg;

static int recv_init(tr_ctx *ctx, void *st, const void *arg) {
  const recv_arg *a = arg;
  recv_state *s = st;
  s->expect = a->expect;
  s->done = a->done;
  return 0;
}

static int recv_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  recv_state *s = st;
  if (++s->count == s->expect) sem_post(s->done);
  return 0;
}

typedef struct {
  tr_ref to;
  uint64_t m;
} sender_state;

static int sender_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(sender_state));
  /* "as soon as it runs": init runs inside spawn, so start from a message */
  return tr_actor_send(ctx, tr_actor_self(ctx), MSG_GO, NULL, 0);
}

static int sender_receive(tr_ctx *ctx, void *st, const tr_msg *msg) {
  sender_state *s = st;
  uint8_t buf[9];
  for (uint64_t k = s->m; k >= 1; k--) tr_actor_send(ctx, s->to, MSG_NUM, buf, bench_put_u64(buf, k));
  return TR_STOP;
}

static const tr_behavior recv_b = {"receiver", sizeof(recv_state), recv_init, recv_receive, NULL};
static const tr_behavior sender_b = {"sender", sizeof(sender_state), sender_init, sender_receive,
                                     NULL};

int main(int argc, char **argv) {
  uint64_t senders = bench_arg(argc, argv, 1, 4), per = bench_arg(argc, argv, 2, 2500000);
  tr_config cfg = {.threads = bench_threads()};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  sem_t done;
  sem_init(&done, 0, 0);
  recv_arg ra = {senders * per, &done};
  double t0 = bench_now();
  sender_state ss = {.m = per};
  if (tr_system_spawn(sys, &recv_b, &ra, NULL, &ss.to) < 0) return 1;
  for (uint64_t i = 0; i < senders; i++)
    if (tr_system_spawn(sys, &sender_b, &ss, NULL, NULL) < 0) return 1;
  sem_wait(&done);
  double secs = bench_now() - t0;
  printf("peer=troupe bench=fanout senders=%llu per_sender=%llu secs=%.4f msgs_per_s=%.4f "
         "peak_rss_mb=%.4f\n",
         (unsigned long long)senders, (unsigned long long)per, secs, senders * per / secs,
         bench_peak_rss_mb());
  tr_system_free(sys);
  sem_destroy(&done);
  return 0;
}
