/* test_actor.c - spawn, send, ask, stop, registry, dead letters,
 * introspection, the blocking pool, and a million live actors. */
#include "harness.h"

enum { T_PING = 1, T_PONG, T_SILENT, T_LATE, T_GO, T_ACK, T_BLOCK, T_REPORT, T_SPAWN };

/* ------------------------------------------------------------ echo */

static int echo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  if (m->flags & TR_MSG_F_ASK) return tr_actor_reply(ctx, m, T_PONG, m->data, m->len);
  if (!tr_ref_is_none(m->sender)) return tr_actor_send(ctx, m->sender, T_PONG, m->data, m->len);
  return 0;
}
static const tr_behavior echo_b = {"echo", 0, NULL, echo_receive, NULL};

static void test_spawn_send_ask(void **st) {
  tr_system *sys = t_system(2);
  tr_ref echo;
  assert_int_equal(tr_system_spawn(sys, &echo_b, NULL, NULL, &echo), 0);
  assert_false(tr_ref_is_none(echo));
  tr_msg *reply = NULL;
  uint8_t buf[8];
  size_t n = tr_mp_put_int(buf, sizeof buf, 42);
  assert_int_equal(tr_system_ask(sys, echo, T_PING, buf, n, WAIT_MS, &reply), 0);
  assert_non_null(reply);
  assert_int_equal(reply->type, T_PONG);
  assert_true(reply->flags & TR_MSG_F_REPLY);
  assert_int_equal(t_msg_int(reply), 42);
  tr_msg_free(reply);
  /* bad input never aborts */
  assert_int_equal(tr_system_send(sys, echo, TR_MSG_SYSTEM + 5, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_send(sys, echo, T_PING, NULL, 3), TR_EINVAL);
  assert_int_equal(tr_system_spawn(sys, NULL, NULL, NULL, NULL), TR_EINVAL);
  tr_behavior nobody = {"x", 0, NULL, NULL, NULL};
  assert_int_equal(tr_system_spawn(sys, &nobody, NULL, NULL, NULL), TR_EINVAL);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ ask timeouts */

typedef struct {
  tr_ref target;
  uint64_t corr;
  _Atomic int64_t *timeouts, *replies, *mismatch;
} asker_state;

typedef struct {
  tr_ref target;
  _Atomic int64_t *timeouts, *replies, *mismatch;
} asker_arg;

static int asker_init(tr_ctx *ctx, void *st, const void *arg) {
  const asker_arg *a = arg;
  asker_state *s = st;
  s->target = a->target;
  s->timeouts = a->timeouts;
  s->replies = a->replies;
  s->mismatch = a->mismatch;
  return 0;
}

static int asker_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  asker_state *s = st;
  if (m->type == T_GO) {
    uint32_t timeout = (uint32_t)t_msg_int(m);
    return tr_actor_ask(ctx, s->target, T_PING, NULL, 0, timeout, &s->corr);
  }
  if (m->type == TR_MSG_TIMEOUT) {
    if (m->corr != s->corr) atomic_fetch_add(s->mismatch, 1);
    atomic_fetch_add(s->timeouts, 1);
  } else if (m->flags & TR_MSG_F_REPLY) {
    if (m->corr != s->corr) atomic_fetch_add(s->mismatch, 1);
    atomic_fetch_add(s->replies, 1);
  }
  return 0;
}
static const tr_behavior asker_b = {"asker", sizeof(asker_state), asker_init, asker_receive, NULL};

static int silent_receive(tr_ctx *ctx, void *st, const tr_msg *m) { return 0; }
static const tr_behavior silent_b = {"silent", 0, NULL, silent_receive, NULL};

/* replies 100 ms late, through a timer carrying the request header */
typedef struct {
  tr_msg req;
} late_state;
static int late_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  late_state *s = st;
  if (m->flags & TR_MSG_F_ASK) {
    s->req = *m;
    return tr_timer_start(ctx, 100, 0, T_LATE, NULL, 0, NULL);
  }
  if (m->type == T_LATE) return tr_actor_reply(ctx, &s->req, T_PONG, NULL, 0);
  return 0;
}
static const tr_behavior late_b = {"late", sizeof(late_state), NULL, late_receive, NULL};

static void test_ask_timeouts(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t timeouts = 0, replies = 0, mismatch = 0;
  tr_ref silent, echo, late, a1, a2, a3;
  assert_int_equal(tr_system_spawn(sys, &silent_b, NULL, NULL, &silent), 0);
  assert_int_equal(tr_system_spawn(sys, &echo_b, NULL, NULL, &echo), 0);
  assert_int_equal(tr_system_spawn(sys, &late_b, NULL, NULL, &late), 0);
  asker_arg aa = {silent, &timeouts, &replies, &mismatch};
  assert_int_equal(tr_system_spawn(sys, &asker_b, &aa, NULL, &a1), 0);
  aa.target = echo;
  assert_int_equal(tr_system_spawn(sys, &asker_b, &aa, NULL, &a2), 0);
  aa.target = late;
  assert_int_equal(tr_system_spawn(sys, &asker_b, &aa, NULL, &a3), 0);

  /* no reply: the timeout arrives */
  t_send_int(sys, a1, T_GO, 30);
  assert_int_equal(t_wait_ge(&timeouts, 1), 1);
  /* a reply: no timeout ever follows it */
  t_send_int(sys, a2, T_GO, 200);
  assert_int_equal(t_wait_ge(&replies, 1), 1);
  t_sleep_ms(300);
  assert_int_equal(atomic_load(&timeouts), 1);
  /* a reply after the timeout: the timeout only; the reply is a dead letter */
  uint64_t dl0 = tr_system_dead_letter_count(sys);
  t_send_int(sys, a3, T_GO, 20);
  assert_int_equal(t_wait_ge(&timeouts, 2), 2);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_system_dead_letter_count(sys) == dl0 && t_now_ms() < end) t_sleep_ms(1);
  tr_dead_letter d[4];
  size_t nd = tr_system_dead_letters(sys, d, 4);
  assert_true(nd >= 1);
  assert_int_equal(d[nd - 1].reason, TR_DL_LATE_REPLY);
  assert_int_equal(atomic_load(&replies), 1);
  assert_int_equal(atomic_load(&mismatch), 0);

  /* ask of an unknown actor fails at once, with no timeout later */
  tr_ref nobody = {0, 0xdead00000005ull};
  tr_msg *r = NULL;
  assert_int_equal(tr_system_ask(sys, nobody, T_PING, NULL, 0, 50, &r), TR_ENOENT);
  assert_int_equal(tr_system_ask(sys, silent, T_PING, NULL, 0, 20, &r), TR_ETIMEDOUT);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ stop order */

static _Atomic int64_t stop_seq;
static int64_t stop_order[8];

typedef struct {
  int id;
  int kids;
} tree_arg;
typedef struct {
  int id;
} tree_state;
static const tr_behavior tree_b;
static int tree_init(tr_ctx *ctx, void *st, const void *arg) {
  const tree_arg *a = arg;
  ((tree_state *)st)->id = a->id;
  for (int i = 0; i < a->kids; i++) {
    tree_arg c = {a->id * 2 + 1 + i, 0};
    int rc = tr_actor_spawn(ctx, &tree_b, &c, NULL, NULL);
    if (rc < 0) return rc;
  }
  return 0;
}
static void tree_terminate(tr_ctx *ctx, void *st, int reason) {
  int64_t k = atomic_fetch_add(&stop_seq, 1);
  if (k < 8) stop_order[k] = ((tree_state *)st)->id;
}
static const tr_behavior tree_b = {"tree", sizeof(tree_state), tree_init, silent_receive,
                                   tree_terminate};

static void test_stop_children_first(void **st) {
  tr_system *sys = t_system(2);
  atomic_store(&stop_seq, 0);
  tree_arg root = {0, 2}; /* children 1 and 2 */
  tr_ref r;
  assert_int_equal(tr_system_spawn(sys, &tree_b, &root, NULL, &r), 0);
  t_wait_actors(sys, 3);
  assert_int_equal(tr_system_stop(sys, r), 0);
  t_wait_actors(sys, 0);
  assert_int_equal(atomic_load(&stop_seq), 3);
  /* youngest child first, parent last */
  assert_int_equal(stop_order[0], 2);
  assert_int_equal(stop_order[1], 1);
  assert_int_equal(stop_order[2], 0);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ registry */

static void test_registry(void **st) {
  tr_system *sys = t_system(2);
  tr_ref a, b, got;
  tr_spawn_opts o = {.name = "svc"};
  assert_int_equal(tr_system_spawn(sys, &echo_b, NULL, &o, &a), 0);
  assert_int_equal(tr_registry_lookup(sys, "svc", &got), 0);
  assert_true(tr_ref_eq(a, got));
  /* the name is taken */
  assert_int_equal(tr_system_spawn(sys, &echo_b, NULL, &o, &b), TR_EEXIST);
  assert_int_equal(tr_registry_add(sys, "svc", a), TR_EEXIST);
  assert_int_equal(tr_registry_lookup(sys, "", &got), TR_EINVAL);
  assert_int_equal(tr_registry_lookup(sys, "nope", &got), TR_ENOENT);
  tr_actor_info info;
  assert_int_equal(tr_system_actor_info(sys, a, &info), 0);
  assert_string_equal(info.name, "svc");
  /* freed on exit */
  assert_int_equal(tr_system_stop(sys, a), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_registry_lookup(sys, "svc", &got) == 0 && t_now_ms() < end) t_sleep_ms(1);
  assert_int_equal(tr_registry_lookup(sys, "svc", &got), TR_ENOENT);
  assert_int_equal(tr_system_spawn(sys, &echo_b, NULL, &o, &b), 0);
  assert_int_equal(tr_registry_lookup(sys, "svc", &got), 0);
  assert_true(tr_ref_eq(b, got));
  tr_system_free(sys);
}

/* ------------------------------------------------------------ dead letters */

static void test_dead_letters(void **st) {
  tr_system *sys = t_system(2);
  tr_ref a;
  assert_int_equal(tr_system_spawn(sys, &silent_b, NULL, NULL, &a), 0);
  assert_int_equal(tr_system_stop(sys, a), 0);
  t_wait_actors(sys, 0);
  uint64_t before = tr_system_dead_letter_count(sys);
  uint8_t payload[40];
  for (int i = 0; i < 40; i++) payload[i] = (uint8_t)i;
  assert_int_equal(tr_system_send(sys, a, 77, payload, sizeof payload), TR_ENOENT);
  assert_int_equal(tr_system_dead_letter_count(sys), before + 1);
  tr_dead_letter d;
  assert_int_equal(tr_system_dead_letters(sys, &d, 1), 1);
  assert_int_equal(d.type, 77);
  assert_int_equal(d.len, 40);
  assert_int_equal(d.head_len, 32);
  assert_memory_equal(d.head, payload, 32);
  assert_true(tr_ref_eq(d.to, a));
  assert_int_equal(d.reason, TR_DL_NO_ACTOR);
  assert_string_equal(tr_dead_letter_reason(d.reason), "no such actor");
  /* to another node with no cluster: unreachable */
  tr_ref far = {99, a.id};
  assert_int_equal(tr_system_send(sys, far, 1, NULL, 0), TR_ENOENT);
  assert_int_equal(tr_system_dead_letters(sys, &d, 1), 1);
  assert_int_equal(d.reason, TR_DL_REMOTE);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ introspection */

typedef struct {
  int64_t seen, silent, max_depth;
  tr_ref parent_of_kid, parent;
} visit_acc;

static int visit(const tr_actor_info *i, void *arg) {
  visit_acc *v = arg;
  v->seen++;
  if (strcmp(i->behavior, "silent") == 0) v->silent++;
  if ((int64_t)i->mailbox_depth > v->max_depth) v->max_depth = i->mailbox_depth;
  return 0;
}

typedef struct {
  _Atomic int64_t *gate;
} gate_arg;
static int gate_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(gate_arg));
  return 0;
}
static int gate_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  gate_arg *g = st;
  /* hold the scheduler until the test opens the gate (test-only) */
  while (!atomic_load(g->gate)) usleep(100);
  return 0;
}
static const tr_behavior gate_b = {"gate", sizeof(gate_arg), gate_init, gate_receive, NULL};

static void test_introspection(void **st) {
  tr_system *sys = t_system(2);
  tr_ref s[3], g;
  for (int i = 0; i < 3; i++) assert_int_equal(tr_system_spawn(sys, &silent_b, NULL, NULL, &s[i]), 0);
  _Atomic int64_t gate = 0;
  gate_arg ga = {&gate};
  assert_int_equal(tr_system_spawn(sys, &gate_b, &ga, NULL, &g), 0);
  for (int i = 0; i < 5; i++) t_send_int(sys, s[0], 1, i);
  for (int i = 0; i < 10; i++) t_send_int(sys, g, 1, i); /* first blocks, 9 wait */
  uint64_t end = t_now_ms() + WAIT_MS;
  tr_actor_info info;
  while (t_now_ms() < end) {
    assert_int_equal(tr_system_actor_info(sys, g, &info), 0);
    if (info.mailbox_depth == 9) break;
    t_sleep_ms(1);
  }
  assert_int_equal(info.mailbox_depth, 9);
  assert_string_equal(info.behavior, "gate");
  assert_int_equal(info.status, TR_ACTOR_RUNNABLE);
  visit_acc v = {0};
  assert_int_equal(tr_system_actors(sys, visit, &v), 0);
  assert_int_equal(v.seen, 5); /* root + 4 */
  assert_int_equal(v.silent, 3);
  assert_int_equal(v.max_depth, 9);
  while (t_now_ms() < end) {
    assert_int_equal(tr_system_actor_info(sys, s[0], &info), 0);
    if (info.processed == 5) break;
    t_sleep_ms(1);
  }
  assert_int_equal(info.processed, 5);
  assert_int_equal(info.status, TR_ACTOR_IDLE);
  assert_true(tr_ref_eq(info.parent, (tr_ref){0, 0}) == 0);
  atomic_store(&gate, 1);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ blocking pool */

static int slow_square(void *arg, tr_buf *out) {
  int64_t x = (int64_t)(intptr_t)arg;
  usleep(20000); /* blocking on purpose */
  if (x < 0) return TR_EFAILED;
  uint8_t buf[16];
  return tr_buf_append(out, buf, tr_mp_put_int(buf, sizeof buf, x * x));
}

typedef struct {
  _Atomic int64_t *sum, *failed, *done;
  uint64_t jobs[4];
  int64_t bad_corr;
} bl_state;
static int bl_init(tr_ctx *ctx, void *st, const void *arg) {
  bl_state *s = st;
  memcpy(s, arg, sizeof(_Atomic int64_t *) * 3);
  for (int i = 0; i < 4; i++) {
    int rc = tr_blocking_submit(ctx, slow_square, (void *)(intptr_t)(i == 3 ? -1 : i + 1), T_BLOCK,
                                &s->jobs[i]);
    if (rc < 0) return rc;
  }
  return 0;
}
static int bl_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  bl_state *s = st;
  int known = 0;
  for (int i = 0; i < 4; i++) known |= s->jobs[i] == m->corr;
  if (!known) s->bad_corr++;
  if (m->flags & TR_MSG_F_FAILED)
    atomic_fetch_add(s->failed, 1);
  else
    atomic_fetch_add(s->sum, t_msg_int(m));
  atomic_fetch_add(s->done, 1);
  return 0;
}
static const tr_behavior bl_b = {"blocker", sizeof(bl_state), bl_init, bl_receive, NULL};

static void test_blocking_pool(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t sum = 0, failed = 0, done = 0;
  _Atomic int64_t *args[3] = {&sum, &failed, &done};
  tr_ref a;
  assert_int_equal(tr_system_spawn(sys, &bl_b, args, NULL, &a), 0);
  assert_int_equal(t_wait_ge(&done, 4), 4);
  assert_int_equal(atomic_load(&sum), 1 + 4 + 9);
  assert_int_equal(atomic_load(&failed), 1);
  tr_system_free(sys);
}

/* Jobs that finish at once: the pool may run and free a job before
 * tr_blocking_submit returns, and the id it hands back must still be the
 * job's (the replies' corr). ASan saw the old read of the freed job. */
#define FAST_JOBS 2000
static int instant(void *arg, tr_buf *out) {
  (void)arg, (void)out;
  return 0;
}
typedef struct {
  _Atomic int64_t *done, *bad;
  uint64_t ids[FAST_JOBS];
} fast_state;
static int fast_init(tr_ctx *ctx, void *st, const void *arg) {
  fast_state *s = st;
  memcpy(s, arg, sizeof(_Atomic int64_t *) * 2);
  for (int i = 0; i < FAST_JOBS; i++) {
    int rc = tr_blocking_submit(ctx, instant, NULL, T_BLOCK, &s->ids[i]);
    if (rc < 0) return rc;
  }
  return 0;
}
static int fast_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx;
  fast_state *s = st;
  int known = 0;
  for (int i = 0; i < FAST_JOBS && !known; i++) known = s->ids[i] == m->corr;
  if (!known) atomic_fetch_add(s->bad, 1);
  atomic_fetch_add(s->done, 1);
  return 0;
}
static const tr_behavior fast_b = {"fast-blocker", sizeof(fast_state), fast_init, fast_receive,
                                   NULL};

static void test_blocking_pool_instant(void **st) {
  (void)st;
  tr_system *sys = t_system(2);
  _Atomic int64_t done = 0, bad = 0;
  _Atomic int64_t *args[2] = {&done, &bad};
  tr_ref a;
  assert_int_equal(tr_system_spawn(sys, &fast_b, args, NULL, &a), 0);
  assert_int_equal(t_wait_ge(&done, FAST_JOBS), FAST_JOBS);
  assert_int_equal(atomic_load(&bad), 0);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ a million actors */

typedef struct {
  int64_t k, acks;
  tr_ref *kids;
  _Atomic int64_t *spawned, *acked;
} mass_state;

static int mass_worker(tr_ctx *ctx, void *st, const tr_msg *m) {
  return tr_actor_send(ctx, m->sender, T_ACK, NULL, 0);
}
static const tr_behavior mass_worker_b = {"mass-worker", 0, NULL, mass_worker, NULL};

static int mass_init(tr_ctx *ctx, void *st, const void *arg) {
  mass_state *s = st;
  memcpy(s, arg, sizeof *s);
  s->kids = malloc((size_t)s->k * sizeof *s->kids);
  return s->kids ? 0 : TR_ENOMEM;
}
static int mass_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  mass_state *s = st;
  if (m->type == T_SPAWN) {
    for (int64_t i = 0; i < s->k; i++) {
      int rc = tr_actor_spawn(ctx, &mass_worker_b, NULL, NULL, &s->kids[i]);
      if (rc < 0) return rc;
    }
    atomic_store(s->spawned, s->k);
  } else if (m->type == T_GO) {
    for (int64_t i = 0; i < s->k; i++) tr_actor_send(ctx, s->kids[i], T_GO, NULL, 0);
  } else if (m->type == T_ACK) {
    atomic_store(s->acked, ++s->acks);
  }
  return 0;
}
static void mass_terminate(tr_ctx *ctx, void *st, int reason) { free(((mass_state *)st)->kids); }
static const tr_behavior mass_b = {"mass", sizeof(mass_state), mass_init, mass_receive,
                                   mass_terminate};

static void test_million_actors(void **st) {
  tr_system *sys = t_system(2);
  const int64_t k = 1000000;
  _Atomic int64_t spawned = 0, acked = 0;
  mass_state arg = {.k = k, .spawned = &spawned, .acked = &acked};
  tr_ref parent;
  assert_int_equal(tr_system_spawn(sys, &mass_b, &arg, NULL, &parent), 0);
  assert_int_equal(tr_system_send(sys, parent, T_SPAWN, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&spawned, k), k);
  /* all alive at once */
  assert_int_equal(t_actors(sys), k + 1);
  assert_int_equal(tr_system_send(sys, parent, T_GO, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&acked, k), k);
  assert_int_equal(t_actors(sys), k + 1);
  /* stopping the parent stops all of them */
  assert_int_equal(tr_system_stop(sys, parent), 0);
  t_wait_actors(sys, 0);
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spawn_send_ask),   cmocka_unit_test(test_ask_timeouts),
      cmocka_unit_test(test_stop_children_first), cmocka_unit_test(test_registry),
      cmocka_unit_test(test_dead_letters),     cmocka_unit_test(test_introspection),
      cmocka_unit_test(test_blocking_pool),
      cmocka_unit_test(test_blocking_pool_instant),
      cmocka_unit_test(test_million_actors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
