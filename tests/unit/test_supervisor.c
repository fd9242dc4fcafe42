/* test_supervisor.c - links, monitors and exit reasons; supervisors with
 * each strategy; a restart storm that reaches the intensity and escalates. */
#include "harness.h"

enum { T_CRASH = 1, T_PING, T_WATCH, T_LINK };

static _Atomic int64_t starts[8];

/* A worker that counts its starts (by the index in its arg) and crashes with
 * TR_EFAILED when told to. */
static int w_init(tr_ctx *ctx, void *st, const void *arg) {
  int idx = *(const int *)arg;
  *(int *)st = idx;
  atomic_fetch_add(&starts[idx], 1);
  return 0;
}
static int w_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  if (m->type == T_CRASH) return TR_EFAILED;
  if (m->flags & TR_MSG_F_ASK) return tr_actor_reply(ctx, m, T_PING, NULL, 0);
  return 0;
}
static const tr_behavior w_b = {"worker", sizeof(int), w_init, w_receive, NULL};

static const int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static void reset_starts(void) {
  for (int i = 0; i < 8; i++) atomic_store(&starts[i], 0);
}

static tr_ref child_of(tr_system *sys, tr_ref sup, const char *id) {
  tr_ref r = TR_REF_NONE;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_supervisor_child(sys, sup, id, &r) != 0 && t_now_ms() < end) t_sleep_ms(1);
  return r;
}

/* Waits until child `id` runs under a ref other than `old`. */
static tr_ref restarted(tr_system *sys, tr_ref sup, const char *id, tr_ref old) {
  tr_ref r = old;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (t_now_ms() < end) {
    if (tr_supervisor_child(sys, sup, id, &r) == 0 && !tr_ref_eq(r, old)) return r;
    t_sleep_ms(1);
  }
  fail_msg("child %s was not restarted", id);
  return r;
}

static void start_three(tr_system *sys, uint8_t strategy, tr_ref *sup) {
  tr_child_spec kids[3] = {
      {"a", &w_b, &idx[0], sizeof(int), TR_RESTART_PERMANENT, {0}},
      {"b", &w_b, &idx[1], sizeof(int), TR_RESTART_PERMANENT, {0}},
      {"c", &w_b, &idx[2], sizeof(int), TR_RESTART_PERMANENT, {0}},
  };
  tr_supervisor_spec spec = {strategy, 10, 60000, kids, 3};
  assert_int_equal(tr_system_supervisor_start(sys, &spec, NULL, sup), 0);
}

static void test_one_for_one(void **st) {
  reset_starts();
  tr_system *sys = t_system(2);
  tr_ref sup;
  start_three(sys, TR_ONE_FOR_ONE, &sup);
  tr_ref a = child_of(sys, sup, "a"), b = child_of(sys, sup, "b"), c = child_of(sys, sup, "c");
  assert_int_equal(tr_system_send(sys, b, T_CRASH, NULL, 0), 0);
  tr_ref b2 = restarted(sys, sup, "b", b);
  tr_msg *r;
  assert_int_equal(tr_system_ask(sys, b2, T_PING, NULL, 0, WAIT_MS, &r), 0);
  tr_msg_free(r);
  assert_int_equal(atomic_load(&starts[0]), 1);
  assert_int_equal(atomic_load(&starts[1]), 2);
  assert_int_equal(atomic_load(&starts[2]), 1);
  tr_ref a2 = child_of(sys, sup, "a"), c2 = child_of(sys, sup, "c");
  assert_true(tr_ref_eq(a, a2));
  assert_true(tr_ref_eq(c, c2));
  uint64_t n;
  assert_int_equal(tr_supervisor_restarts(sys, sup, &n), 0);
  assert_int_equal(n, 1);
  tr_system_free(sys);
}

static void test_one_for_all(void **st) {
  reset_starts();
  tr_system *sys = t_system(2);
  tr_ref sup;
  start_three(sys, TR_ONE_FOR_ALL, &sup);
  tr_ref a = child_of(sys, sup, "a"), b = child_of(sys, sup, "b"), c = child_of(sys, sup, "c");
  assert_int_equal(tr_system_send(sys, b, T_CRASH, NULL, 0), 0);
  restarted(sys, sup, "a", a);
  restarted(sys, sup, "b", b);
  restarted(sys, sup, "c", c);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (atomic_load(&starts[2]) < 2 && t_now_ms() < end) t_sleep_ms(1);
  for (int i = 0; i < 3; i++) assert_int_equal(atomic_load(&starts[i]), 2);
  t_wait_actors(sys, 4);
  tr_system_free(sys);
}

static void test_rest_for_one(void **st) {
  reset_starts();
  tr_system *sys = t_system(2);
  tr_ref sup;
  start_three(sys, TR_REST_FOR_ONE, &sup);
  tr_ref a = child_of(sys, sup, "a"), b = child_of(sys, sup, "b"), c = child_of(sys, sup, "c");
  assert_int_equal(tr_system_send(sys, b, T_CRASH, NULL, 0), 0);
  restarted(sys, sup, "b", b);
  restarted(sys, sup, "c", c);
  assert_true(tr_ref_eq(child_of(sys, sup, "a"), a));
  assert_int_equal(atomic_load(&starts[0]), 1);
  assert_int_equal(atomic_load(&starts[1]), 2);
  assert_int_equal(atomic_load(&starts[2]), 2);
  tr_system_free(sys);
}

static void test_transient_and_temporary(void **st) {
  reset_starts();
  tr_system *sys = t_system(2);
  tr_child_spec kids[2] = {
      {"t", &w_b, &idx[3], sizeof(int), TR_RESTART_TRANSIENT, {0}},
      {"tmp", &w_b, &idx[4], sizeof(int), TR_RESTART_TEMPORARY, {0}},
  };
  tr_supervisor_spec spec = {TR_ONE_FOR_ONE, 10, 60000, kids, 2};
  tr_ref sup;
  assert_int_equal(tr_system_supervisor_start(sys, &spec, NULL, &sup), 0);
  tr_ref t = child_of(sys, sup, "t"), tmp = child_of(sys, sup, "tmp");
  /* transient: an abnormal exit restarts it, a normal stop does not */
  assert_int_equal(tr_system_send(sys, t, T_CRASH, NULL, 0), 0);
  tr_ref t2 = restarted(sys, sup, "t", t);
  assert_int_equal(tr_system_stop(sys, t2), 0);
  /* temporary: never restarted */
  assert_int_equal(tr_system_send(sys, tmp, T_CRASH, NULL, 0), 0);
  t_wait_actors(sys, 1);
  tr_ref r;
  assert_int_equal(tr_supervisor_child(sys, sup, "t", &r), TR_ENOENT);
  assert_int_equal(tr_supervisor_child(sys, sup, "tmp", &r), TR_ENOENT);
  assert_int_equal(atomic_load(&starts[3]), 2);
  assert_int_equal(atomic_load(&starts[4]), 1);
  tr_system_free(sys);
}

static void test_bad_specs(void **st) {
  tr_system *sys = t_system(1);
  tr_child_spec dup[2] = {{"x", &w_b, &idx[0], sizeof(int), 0, {0}},
                          {"x", &w_b, &idx[0], sizeof(int), 0, {0}}};
  tr_supervisor_spec spec = {TR_ONE_FOR_ONE, 1, 1000, dup, 2};
  assert_int_equal(tr_system_supervisor_start(sys, &spec, NULL, NULL), TR_EINVAL);
  spec.strategy = 9;
  spec.n_children = 1;
  assert_int_equal(tr_system_supervisor_start(sys, &spec, NULL, NULL), TR_EINVAL);
  assert_int_equal(tr_system_supervisor_start(sys, NULL, NULL, NULL), TR_EINVAL);
  t_wait_actors(sys, 0);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ restart storm */

/* watcher: monitors a ref it is sent and records the DOWN reason */
typedef struct {
  _Atomic int64_t *down_reason, *downs;
} watch_state;
static int watch_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(watch_state));
  return 0;
}
static int watch_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  watch_state *s = st;
  if (m->type == T_WATCH) {
    int64_t v[2];
    if (t_get_ints(m, 2, v) < 0) return TR_EPROTO;
    int rc = tr_actor_monitor(ctx, (tr_ref){(uint64_t)v[0], (uint64_t)v[1]}, NULL);
    /* answered once the monitor request is queued at the target, ahead of
     * anything the test sends after: a crash cannot overtake it */
    if (rc == 0 && (m->flags & TR_MSG_F_ASK)) rc = tr_actor_reply(ctx, m, T_WATCH, NULL, 0);
    return rc;
  }
  if (m->type == TR_MSG_DOWN) {
    int reason;
    if (tr_msg_down(m, NULL, NULL, &reason) < 0) return TR_EPROTO;
    atomic_store(s->down_reason, reason);
    atomic_fetch_add(s->downs, 1);
  }
  return 0;
}
static const tr_behavior watch_b = {"watcher", sizeof(watch_state), watch_init, watch_receive, NULL};

static void watch(tr_system *sys, tr_ref watcher, tr_ref target) {
  uint8_t buf[32];
  int64_t v[2] = {(int64_t)target.node, (int64_t)target.id};
  tr_msg *r;
  assert_int_equal(tr_system_ask(sys, watcher, T_WATCH, buf, t_put_ints(buf, sizeof buf, 2, v),
                                 WAIT_MS, &r),
                   0);
  tr_msg_free(r);
}

/* a child that fails in init from its second start on */
static _Atomic int64_t flaky_starts;
static int flaky_init(tr_ctx *ctx, void *st, const void *arg) {
  return atomic_fetch_add(&flaky_starts, 1) == 0 ? 0 : TR_EFAILED;
}
static const tr_behavior flaky_b = {"flaky", 0, flaky_init, w_receive, NULL};

static void test_restart_storm_escalates(void **st) {
  reset_starts();
  atomic_store(&flaky_starts, 0);
  tr_system *sys = t_system(2);
  _Atomic int64_t down_reason = 0, downs = 0;
  watch_state ws = {&down_reason, &downs};
  tr_ref watcher;
  assert_int_equal(tr_system_spawn(sys, &watch_b, &ws, NULL, &watcher), 0);

  /* inner supervisor: a worker that we crash, 3 restarts per minute */
  tr_child_spec inner_kids[1] = {{"w", &w_b, &idx[5], sizeof(int), TR_RESTART_PERMANENT, {0}}};
  tr_supervisor_spec inner = {TR_ONE_FOR_ONE, 3, 60000, inner_kids, 1};
  tr_ref sup;
  assert_int_equal(tr_system_supervisor_start(sys, &inner, NULL, &sup), 0);
  watch(sys, watcher, sup);
  tr_ref w = child_of(sys, sup, "w");
  for (int i = 0; i < 3; i++) { /* three crashes: three restarts, tolerated */
    assert_int_equal(tr_system_send(sys, w, T_CRASH, NULL, 0), 0);
    w = restarted(sys, sup, "w", w);
  }
  uint64_t n;
  assert_int_equal(tr_supervisor_restarts(sys, sup, &n), 0);
  assert_int_equal(n, 3);
  /* the fourth is one too many: the supervisor gives up with TR_EINTENSITY */
  assert_int_equal(tr_system_send(sys, w, T_CRASH, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&downs, 1), 1);
  assert_int_equal(atomic_load(&down_reason), TR_EINTENSITY);
  t_wait_actors(sys, 1); /* only the watcher is left */

  /* escalation through two levels: top (1 restart allowed) supervises mid
   * (2 allowed), mid supervises a child that can never start again */
  tr_child_spec mid_kids[1] = {{"flaky", &flaky_b, NULL, 0, TR_RESTART_PERMANENT, {0}}};
  static tr_supervisor_spec mid;
  mid = (tr_supervisor_spec){TR_ONE_FOR_ONE, 2, 60000, mid_kids, 1};
  tr_child_spec top_kids[1] = {{"mid", &tr_supervisor_behavior, &mid, 0, TR_RESTART_PERMANENT, {0}}};
  tr_supervisor_spec top = {TR_ONE_FOR_ONE, 1, 60000, top_kids, 1};
  tr_ref topr;
  assert_int_equal(tr_system_supervisor_start(sys, &top, NULL, &topr), 0);
  watch(sys, watcher, topr);
  tr_ref midr = child_of(sys, topr, "mid");
  tr_ref fl = child_of(sys, midr, "flaky");
  assert_int_equal(tr_system_send(sys, fl, T_CRASH, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&downs, 2), 2);
  assert_int_equal(atomic_load(&down_reason), TR_EINTENSITY);
  t_wait_actors(sys, 1);
  tr_system_free(sys);
}

/* A supervisor whose child can never start again keeps retrying through
 * messages (each attempt counted) and gives up; its own supervisor sees
 * the failure. */
static void test_failing_restart_gives_up(void **st) {
  atomic_store(&flaky_starts, 0);
  tr_system *sys = t_system(2);
  _Atomic int64_t down_reason = 0, downs = 0;
  watch_state ws = {&down_reason, &downs};
  tr_ref watcher;
  assert_int_equal(tr_system_spawn(sys, &watch_b, &ws, NULL, &watcher), 0);
  tr_child_spec kids[1] = {{"flaky", &flaky_b, NULL, 0, TR_RESTART_PERMANENT, {0}}};
  tr_supervisor_spec spec = {TR_ONE_FOR_ONE, 5, 60000, kids, 1};
  tr_ref sup;
  assert_int_equal(tr_system_supervisor_start(sys, &spec, NULL, &sup), 0);
  watch(sys, watcher, sup);
  tr_ref f = child_of(sys, sup, "flaky");
  assert_int_equal(tr_system_send(sys, f, T_CRASH, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&downs, 1), 1);
  assert_int_equal(atomic_load(&down_reason), TR_EINTENSITY);
  /* one successful start, then 5 tolerated failing attempts */
  assert_int_equal(atomic_load(&flaky_starts), 6);
  t_wait_actors(sys, 1);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ links */

typedef struct {
  int trap;
  _Atomic int64_t *exit_reason, *exits;
} linker_arg;
typedef struct {
  linker_arg a;
  tr_ref kid;
} linker_state;
static int crash_now(tr_ctx *ctx, void *st, const tr_msg *m) { return TR_EFAILED; }
static const tr_behavior crasher_b = {"crasher", 0, NULL, crash_now, NULL};

static int linker_init(tr_ctx *ctx, void *st, const void *arg) {
  linker_state *s = st;
  memcpy(&s->a, arg, sizeof s->a);
  tr_actor_trap_exit(ctx, s->a.trap);
  tr_spawn_opts o = {.flags = TR_SPAWN_LINK};
  return tr_actor_spawn(ctx, &crasher_b, NULL, &o, &s->kid);
}
static int linker_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  linker_state *s = st;
  if (m->type == T_CRASH) return tr_actor_send(ctx, s->kid, T_CRASH, NULL, 0);
  if (m->type == T_LINK) { /* link to an actor that is gone */
    return tr_actor_link(ctx, (tr_ref){0, 0x7777000000ffull});
  }
  if (m->type == TR_MSG_EXIT) {
    tr_ref from;
    int reason;
    if (tr_msg_exit(m, &from, &reason) < 0) return TR_EPROTO;
    atomic_store(s->a.exit_reason, reason);
    atomic_fetch_add(s->a.exits, 1);
  }
  return 0;
}
static const tr_behavior linker_b = {"linker", sizeof(linker_state), linker_init, linker_receive,
                                     NULL};

static void test_links(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t down_reason = 0, downs = 0, exit_reason = 0, exits = 0;
  watch_state ws = {&down_reason, &downs};
  tr_ref watcher, l1, l2;
  assert_int_equal(tr_system_spawn(sys, &watch_b, &ws, NULL, &watcher), 0);
  /* not trapping: the linked child's failure kills the parent, same reason */
  linker_arg la = {0, &exit_reason, &exits};
  assert_int_equal(tr_system_spawn(sys, &linker_b, &la, NULL, &l1), 0);
  watch(sys, watcher, l1);
  t_sleep_ms(5);
  assert_int_equal(tr_system_send(sys, l1, T_CRASH, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&downs, 1), 1);
  assert_int_equal(atomic_load(&down_reason), TR_EFAILED);
  /* trapping: it gets TR_MSG_EXIT and lives on */
  la.trap = 1;
  assert_int_equal(tr_system_spawn(sys, &linker_b, &la, NULL, &l2), 0);
  assert_int_equal(tr_system_send(sys, l2, T_CRASH, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&exits, 1), 1);
  assert_int_equal(atomic_load(&exit_reason), TR_EFAILED);
  /* linking to a dead actor: an exit signal with TR_ENOPROC */
  assert_int_equal(tr_system_send(sys, l2, T_LINK, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&exits, 2), 2);
  assert_int_equal(atomic_load(&exit_reason), TR_ENOPROC);
  tr_actor_info info;
  assert_int_equal(tr_system_actor_info(sys, l2, &info), 0);
  /* monitoring a dead actor: DOWN with TR_ENOPROC */
  watch(sys, watcher, l1);
  assert_int_equal(t_wait_ge(&downs, 2), 2);
  assert_int_equal(atomic_load(&down_reason), TR_ENOPROC);
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_for_one),
      cmocka_unit_test(test_one_for_all),
      cmocka_unit_test(test_rest_for_one),
      cmocka_unit_test(test_transient_and_temporary),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_restart_storm_escalates),
      cmocka_unit_test(test_failing_restart_gives_up),
      cmocka_unit_test(test_links),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
