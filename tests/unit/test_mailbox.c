/* test_mailbox.c - the MPSC queue on its own, per-sender order with 8
 * producers into one mailbox, bounded mailboxes under each policy, and
 * system messages overtaking user messages. */
#include <stdlib.h>

#include "harness.h"
#include "runtime/mailbox.h"

enum { T_SEQ = 1, T_FILL, T_COUNT };

/* ------------------------------------------------------------ raw queue */

#define RAW_PRODUCERS 8
#define RAW_PER 50000

typedef struct {
  tr_mbox *q;
  int id;
  tr_mnode *nodes;
} raw_prod;

static void *raw_producer(void *arg) {
  raw_prod *p = arg;
  for (int i = 0; i < RAW_PER; i++) {
    tr_mnode *n = &p->nodes[i];
    n->m.corr = (uint64_t)i;
    n->m.type = (uint32_t)p->id;
    tr_mbox_push(p->q, n);
  }
  return NULL;
}

static void test_mpsc_raw(void **st) {
  tr_mbox q;
  tr_mbox_init(&q);
  assert_null(tr_mbox_pop(&q));
  assert_false(tr_mbox_nonempty(&q));
  pthread_t th[RAW_PRODUCERS];
  raw_prod p[RAW_PRODUCERS];
  for (int i = 0; i < RAW_PRODUCERS; i++) {
    p[i].q = &q;
    p[i].id = i;
    p[i].nodes = calloc(RAW_PER, sizeof(tr_mnode) + 8);
    assert_non_null(p[i].nodes);
  }
  for (int i = 0; i < RAW_PRODUCERS; i++) pthread_create(&th[i], NULL, raw_producer, &p[i]);
  int64_t next[RAW_PRODUCERS] = {0};
  long got = 0, bad = 0;
  while (got < (long)RAW_PRODUCERS * RAW_PER) {
    tr_mnode *n = tr_mbox_pop(&q);
    if (!n) continue; /* empty or a push half done: try again */
    if ((int64_t)n->m.corr != next[n->m.type]) bad++;
    next[n->m.type] = (int64_t)n->m.corr + 1;
    got++;
  }
  for (int i = 0; i < RAW_PRODUCERS; i++) pthread_join(th[i], NULL);
  assert_int_equal(bad, 0);
  assert_null(tr_mbox_pop(&q));
  assert_false(tr_mbox_nonempty(&q));
  for (int i = 0; i < RAW_PRODUCERS; i++) free(p[i].nodes);
}

/* ------------------------------------------------------------ 8 producers, actors */

#define PRODUCERS 8
#define PER_PRODUCER 100000

typedef struct {
  int64_t next[PRODUCERS + 1];
  _Atomic int64_t *got, *bad;
} seq_state;

static int seq_init(tr_ctx *ctx, void *st, const void *arg) {
  seq_state *s = st;
  memcpy(&s->got, arg, 2 * sizeof(void *));
  return 0;
}

static int seq_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  seq_state *s = st;
  int64_t v[2];
  if (t_get_ints(m, 2, v) < 0 || v[0] < 0 || v[0] > PRODUCERS) {
    atomic_fetch_add(s->bad, 1);
    return 0;
  }
  if (v[1] != s->next[v[0]]) atomic_fetch_add(s->bad, 1);
  s->next[v[0]] = v[1] + 1;
  atomic_fetch_add(s->got, 1);
  return 0;
}
static const tr_behavior seq_b = {"seq", sizeof(seq_state), seq_init, seq_receive, NULL};

/* producers that are actors: each sends its whole sequence in one callback */
typedef struct {
  tr_ref to;
  int64_t id;
} prod_state;
static int prod_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(prod_state));
  return tr_actor_send(ctx, tr_actor_self(ctx), T_SEQ, NULL, 0);
}
static int prod_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  prod_state *s = st;
  uint8_t buf[32];
  for (int64_t i = 0; i < PER_PRODUCER; i++) {
    int64_t v[2] = {s->id, i};
    int rc = tr_actor_send(ctx, s->to, T_SEQ, buf, t_put_ints(buf, sizeof buf, 2, v));
    if (rc < 0) return rc;
  }
  return TR_STOP;
}
static const tr_behavior prod_b = {"producer", sizeof(prod_state), prod_init, prod_receive, NULL};

/* producers that are threads outside the runtime */
typedef struct {
  tr_system *sys;
  tr_ref to;
  int64_t id;
} thr_arg;
static void *thr_producer(void *arg) {
  thr_arg *a = arg;
  uint8_t buf[32];
  for (int64_t i = 0; i < PER_PRODUCER; i++) {
    int64_t v[2] = {a->id, i};
    tr_system_send(a->sys, a->to, T_SEQ, buf, t_put_ints(buf, sizeof buf, 2, v));
  }
  return NULL;
}

static void test_eight_producers_order(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t got = 0, bad = 0;
  void *args[2] = {&got, &bad};
  tr_ref target;
  assert_int_equal(tr_system_spawn(sys, &seq_b, args, NULL, &target), 0);
  for (int64_t i = 0; i < PRODUCERS; i++) {
    prod_state ps = {target, i};
    assert_int_equal(tr_system_spawn(sys, &prod_b, &ps, NULL, NULL), 0);
  }
  assert_int_equal(t_wait_ge(&got, PRODUCERS * PER_PRODUCER), PRODUCERS * PER_PRODUCER);
  assert_int_equal(atomic_load(&bad), 0);
  tr_system_stop(sys, target);
  t_wait_actors(sys, 0);

  /* the same with 8 threads outside the runtime */
  atomic_store(&got, 0);
  assert_int_equal(tr_system_spawn(sys, &seq_b, args, NULL, &target), 0);
  pthread_t th[PRODUCERS];
  thr_arg ta[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) {
    ta[i] = (thr_arg){sys, target, i};
    pthread_create(&th[i], NULL, thr_producer, &ta[i]);
  }
  for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
  assert_int_equal(t_wait_ge(&got, PRODUCERS * PER_PRODUCER), PRODUCERS * PER_PRODUCER);
  assert_int_equal(atomic_load(&bad), 0);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ bounded mailboxes */

typedef struct {
  _Atomic int64_t *count;
} count_state;
static int count_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(count_state));
  return 0;
}
static int count_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  atomic_fetch_add(((count_state *)st)->count, 1);
  return 0;
}
static const tr_behavior count_b = {"counter", sizeof(count_state), count_init, count_receive, NULL};

/* Sends 10 messages to a bound-5 target in one callback; with one scheduler
 * thread the target cannot run in between, so exactly 5 fit. */
typedef struct {
  tr_ref to;
  _Atomic int64_t *accepted, *rejected;
} fill_state;
static int fill_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(fill_state));
  return 0;
}
static int fill_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  fill_state *s = st;
  for (int i = 0; i < 10; i++) {
    int rc = tr_actor_send(ctx, s->to, T_FILL, NULL, 0);
    if (rc == 0) atomic_fetch_add(s->accepted, 1);
    if (rc == TR_EAGAIN) atomic_fetch_add(s->rejected, 1);
  }
  return 0;
}
static const tr_behavior fill_b = {"filler", sizeof(fill_state), fill_init, fill_receive, NULL};

static void run_bounded(uint8_t policy, int64_t want_accepted, int64_t want_rejected) {
  tr_system *sys = t_system(1);
  _Atomic int64_t count = 0, accepted = 0, rejected = 0;
  count_state cs = {&count};
  tr_spawn_opts o = {.mailbox_bound = 5, .overflow = policy};
  tr_ref target, filler;
  assert_int_equal(tr_system_spawn(sys, &count_b, &cs, &o, &target), 0);
  fill_state fs = {target, &accepted, &rejected};
  assert_int_equal(tr_system_spawn(sys, &fill_b, &fs, NULL, &filler), 0);
  uint64_t dl0 = tr_system_dead_letter_count(sys);
  assert_int_equal(tr_system_send(sys, filler, T_FILL, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&count, 5), 5);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (atomic_load(&accepted) + atomic_load(&rejected) < 10 && t_now_ms() < end) t_sleep_ms(1);
  assert_int_equal(atomic_load(&accepted), want_accepted);
  assert_int_equal(atomic_load(&rejected), want_rejected);
  /* never silent: every refused or dropped message is a dead letter */
  assert_int_equal(tr_system_dead_letter_count(sys) - dl0, 5);
  tr_dead_letter d;
  assert_int_equal(tr_system_dead_letters(sys, &d, 1), 1);
  assert_int_equal(d.reason, TR_DL_MAILBOX_FULL);
  t_sleep_ms(20);
  assert_int_equal(atomic_load(&count), 5);
  tr_system_free(sys);
}

static void test_bounded_reject(void **st) { run_bounded(TR_OVERFLOW_REJECT, 5, 5); }
static void test_bounded_drop(void **st) { run_bounded(TR_OVERFLOW_DROP, 10, 0); }

static void test_bad_bound_policy(void **st) {
  tr_system *sys = t_system(1);
  _Atomic int64_t count = 0;
  count_state cs = {&count};
  tr_spawn_opts o = {.mailbox_bound = 5, .overflow = 7};
  assert_int_equal(tr_system_spawn(sys, &count_b, &cs, &o, NULL), TR_EINVAL);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ system first */

/* An actor sends itself three user messages, then an exit signal; trapping
 * exits, it must see the signal (a system message) before the three. */
typedef struct {
  int64_t *order;
  _Atomic int64_t *n;
} order_state;
static int order_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(order_state));
  tr_actor_trap_exit(ctx, 1);
  return 0;
}
static int order_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  order_state *s = st;
  if (m->type == T_FILL) {
    for (int i = 0; i < 3; i++) tr_actor_send(ctx, tr_actor_self(ctx), T_COUNT, NULL, 0);
    return tr_actor_exit_signal(ctx, tr_actor_self(ctx), TR_EFAILED);
  }
  int64_t k = atomic_load(s->n); /* one writer: this actor */
  if (k < 8) s->order[k] = m->type;
  atomic_store(s->n, k + 1); /* publishes order[k] */
  return 0;
}
static const tr_behavior order_b = {"order", sizeof(order_state), order_init, order_receive, NULL};

static void test_system_first(void **st) {
  tr_system *sys = t_system(2);
  int64_t order[8] = {0};
  _Atomic int64_t n = 0;
  order_state os = {order, &n};
  tr_ref a;
  assert_int_equal(tr_system_spawn(sys, &order_b, &os, NULL, &a), 0);
  assert_int_equal(tr_system_send(sys, a, T_FILL, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&n, 4), 4);
  assert_int_equal(order[0], TR_MSG_EXIT);
  for (int i = 1; i < 4; i++) assert_int_equal(order[i], T_COUNT);
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mpsc_raw),       cmocka_unit_test(test_eight_producers_order),
      cmocka_unit_test(test_bounded_reject), cmocka_unit_test(test_bounded_drop),
      cmocka_unit_test(test_bad_bound_policy), cmocka_unit_test(test_system_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
