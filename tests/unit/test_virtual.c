/* test_virtual.c - virtual actors and remote spawn on one node: activation
 * on the first message, one activation per name, passivation when idle
 * (in order: nothing sent before or during it is lost, per-sender order
 * holds across activations), persistent kinds recover after passivation, a
 * failed activation comes back, remote spawn of a registered behaviour,
 * and every bad argument. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "runtime/core.h"
#include "storage/store.h"

enum { T_ADD = 1, T_GET, T_VALUE, T_SEQ, T_FAIL, T_WHO, T_BYE };

/* ------------------------------------------------------------ a counter kind */

static _Atomic int64_t g_inits, g_terms, g_bad_key;

typedef struct {
  int64_t sum;
  char name[64];
} ctr_state;

static int ctr_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *id = arg;
  ctr_state *s = st;
  if (!id || strcmp(id->kind, "ctr") || strncmp(id->name, "ctr/", 4) || id->key != id->name + 4)
    atomic_fetch_add(&g_bad_key, 1);
  snprintf(s->name, sizeof s->name, "%s", id ? id->name : "");
  atomic_fetch_add(&g_inits, 1);
  return 0;
}

static void ctr_term(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)st;
  if (getenv("TDEBUG")) fprintf(stderr, "term %d\n", reason);
  atomic_fetch_add(&g_terms, 1);
}

static int ctr_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  ctr_state *s = st;
  uint8_t buf[80];
  switch (m->type) {
  case T_ADD:
    s->sum += m->len ? m->data[0] : 1;
    return 0;
  case T_GET:
    return tr_actor_reply(ctx, m, T_VALUE, buf, tr_mp_put_int(buf, sizeof buf, s->sum));
  case T_WHO:
    return tr_actor_reply(ctx, m, T_VALUE, s->name, strlen(s->name));
  case T_FAIL:
    return TR_EFAILED;
  }
  return 0;
}

static const tr_behavior ctr_b = {.name = "ctr", .state_size = sizeof(ctr_state),
                                  .init = ctr_init, .receive = ctr_receive,
                                  .terminate = ctr_term};

static int64_t ask_int(tr_system *sys, const char *name, uint32_t type) {
  tr_msg *r = NULL;
  int rc = tr_system_virtual_ask(sys, name, type, NULL, 0, WAIT_MS, &r);
  if (rc < 0) return rc;
  uint64_t v = 0;
  int neg = 0;
  int ok = tr_mp_get_int(r->data, r->len, &v, &neg) > 0;
  tr_msg_free(r);
  return ok ? (neg ? -(int64_t)(~v + 1) : (int64_t)v) : -1000;
}

static void wait_active(tr_system *sys, size_t want) {
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_virtual_count(sys) != want && t_now_ms() < end) t_sleep_ms(5);
  assert_int_equal(tr_virtual_count(sys), want);
}

static void test_bad_args(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  tr_kind k = {.name = "ctr", .behavior = &ctr_b};
  assert_int_equal(tr_kind_register(NULL, &k), TR_EINVAL);
  assert_int_equal(tr_kind_register(sys, NULL), TR_EINVAL);
  tr_persistent p = {.base = ctr_b};
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "x", .behavior = &ctr_b,
                                                    .persistent = &p}),
                   TR_EINVAL);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "a/b", .behavior = &ctr_b}),
                   TR_EINVAL);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "", .behavior = &ctr_b}),
                   TR_EINVAL);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "tr.x", .behavior = &ctr_b}),
                   TR_EINVAL);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "bad\x01", .behavior = &ctr_b}),
                   TR_EINVAL);
  /* a persistent kind without a store: known (to send to), never hosted here */
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "p", .persistent = &p}), 0);
  assert_int_equal(tr_system_virtual_send(sys, "p/1", T_ADD, NULL, 0), TR_ENOENT);
  assert_int_equal(tr_system_dead_letter_count(sys), 1);
  assert_int_equal(tr_virtual_count(sys), 0);
  assert_int_equal(tr_kind_register(sys, &k), 0);
  assert_int_equal(tr_kind_register(sys, &k), TR_EEXIST);

  assert_int_equal(tr_system_virtual_send(sys, "nokind/1", T_ADD, NULL, 0), TR_ENOENT);
  assert_int_equal(tr_system_virtual_send(sys, "noslash", T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "/x", T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "", T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, NULL, T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "ctr/\x7f\x01", T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "ctr/\xff", T_ADD, NULL, 0), TR_EINVAL);
  char longname[300];
  memset(longname, 'k', sizeof longname);
  memcpy(longname, "ctr/", 4);
  longname[sizeof longname - 1] = 0;
  assert_int_equal(tr_system_virtual_send(sys, longname, T_ADD, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "ctr/1", TR_MSG_SYSTEM, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_system_virtual_send(sys, "ctr/1", T_ADD, NULL, 3), TR_EINVAL);
  uint64_t node = 99;
  assert_int_equal(tr_virtual_owner(sys, "ctr/1", &node), 0);
  assert_int_equal(node, tr_system_node_id(sys));
  assert_int_equal(tr_virtual_owner(sys, "zz/1", &node), TR_ENOENT);
  assert_int_equal(tr_virtual_owner(sys, "ctr/1", NULL), TR_EINVAL);

  assert_int_equal(tr_behavior_register(sys, "", &ctr_b), TR_EINVAL);
  assert_int_equal(tr_behavior_register(sys, "e", NULL), TR_EINVAL);
  assert_int_equal(tr_behavior_register(sys, "e", &ctr_b), 0);
  assert_int_equal(tr_behavior_register(sys, "e", &ctr_b), TR_EEXIST);
  tr_ref r;
  assert_int_equal(tr_system_spawn_remote(sys, 0, "", NULL, 0, 1000, &r), TR_EINVAL);
  assert_int_equal(tr_system_spawn_remote(sys, 0, "e", NULL, 0, 1000, NULL), TR_EINVAL);
  assert_int_equal(tr_system_spawn_remote(sys, 0, "e", NULL, 4, 1000, &r), TR_EINVAL);
  /* a node that is not a member: a dead letter, the ask fails */
  assert_true(tr_system_spawn_remote(sys, 12345, "e", NULL, 0, 200, &r) < 0);

  /* the reply decoder */
  uint8_t buf[64];
  tr_msg *m = (tr_msg *)buf;
  memset(buf, 0, sizeof buf);
  assert_int_equal(tr_msg_spawned(NULL, &r), TR_EINVAL);
  m->len = 0;
  assert_int_equal(tr_msg_spawned(m, &r), TR_EPROTO);
  int64_t v3[3] = {0, 1, 0}; /* id 0: no actor */
  m->len = (uint32_t)t_put_ints(m->data, 40, 3, v3);
  assert_int_equal(tr_msg_spawned(m, &r), TR_EPROTO);
  int64_t v2[2] = {0, 1};
  m->len = (uint32_t)t_put_ints(m->data, 40, 2, v2);
  assert_int_equal(tr_msg_spawned(m, &r), TR_EPROTO);
  int64_t ve[3] = {TR_ENOENT, 0, 0};
  m->len = (uint32_t)t_put_ints(m->data, 40, 3, ve);
  assert_int_equal(tr_msg_spawned(m, &r), TR_ENOENT);
  int64_t vok[3] = {0, 7, 9};
  m->len = (uint32_t)t_put_ints(m->data, 40, 3, vok);
  assert_int_equal(tr_msg_spawned(m, &r), 0);
  assert_true(r.node == 7 && r.id == 9);
  m->data[m->len++] = 0xc0; /* trailing byte */
  assert_int_equal(tr_msg_spawned(m, &r), TR_EPROTO);
  tr_system_free(sys);
}

static void test_activate_once(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  atomic_store(&g_inits, 0);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "ctr", .behavior = &ctr_b}), 0);
  assert_int_equal(tr_virtual_count(sys), 0);
  for (int i = 0; i < 100; i++) {
    uint8_t v = 2;
    assert_int_equal(tr_system_virtual_send(sys, "ctr/a", T_ADD, &v, 1), 0);
    assert_int_equal(tr_system_virtual_send(sys, "ctr/b", T_ADD, &v, 1), 0);
  }
  assert_int_equal(ask_int(sys, "ctr/a", T_GET), 200);
  assert_int_equal(ask_int(sys, "ctr/b", T_GET), 200);
  assert_int_equal(ask_int(sys, "ctr/c", T_GET), 0);
  assert_int_equal(atomic_load(&g_inits), 3);
  assert_int_equal(tr_virtual_count(sys), 3);
  assert_int_equal(atomic_load(&g_bad_key), 0);
  tr_msg *r;
  assert_int_equal(tr_system_virtual_ask(sys, "ctr/b", T_WHO, NULL, 0, WAIT_MS, &r), 0);
  assert_int_equal(r->len, 5);
  assert_memory_equal(r->data, "ctr/b", 5);
  tr_msg_free(r);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ order across passivation */

#define SENDERS 4
#define BURSTS 6
#define PER_BURST 2000

static _Atomic int64_t g_got, g_order_bad, g_last[SENDERS + 1];

static int seq_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx;
  (void)st;
  if (m->type != T_SEQ) return 0;
  int64_t v[2];
  if (t_get_ints(m, 2, v) < 0 || v[0] < 0 || v[0] > SENDERS) {
    atomic_fetch_add(&g_order_bad, 1);
    return 0;
  }
  /* one activation at a time handles the name, so this is race-free */
  if (v[1] != atomic_load(&g_last[v[0]]) + 1) atomic_fetch_add(&g_order_bad, 1);
  atomic_store(&g_last[v[0]], v[1]);
  atomic_fetch_add(&g_got, 1);
  return 0;
}

static const tr_behavior seq_b = {.name = "seq", .init = ctr_init, .receive = seq_receive,
                                  .terminate = ctr_term};

/* an actor sender: bursts from inside callbacks (the batched send path) */
typedef struct {
  int64_t n;
  _Atomic int64_t *done;
} pump_state;

static int pump_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  pump_state *s = st;
  if (m->type != T_ADD) return 0;
  for (int i = 0; i < PER_BURST; i++) {
    int64_t v[2] = {SENDERS, ++s->n};
    uint8_t buf[32];
    if (tr_virtual_send(ctx, "seq/x", T_SEQ, buf, t_put_ints(buf, sizeof buf, 2, v)) < 0)
      return TR_EFAILED;
  }
  atomic_fetch_add(s->done, 1);
  return 0;
}

typedef struct {
  tr_system *sys;
  int id;
} sender_arg;

static void *sender_main(void *p) {
  sender_arg *a = p;
  for (int b = 0; b < BURSTS; b++) {
    for (int i = 0; i < PER_BURST; i++) {
      int64_t v[2] = {a->id, (int64_t)b * PER_BURST + i + 1};
      uint8_t buf[32];
      size_t n = t_put_ints(buf, sizeof buf, 2, v);
      while (tr_system_virtual_send(a->sys, "seq/x", T_SEQ, buf, n) == TR_ENOMEM) t_sleep_ms(1);
    }
    /* often long enough to go idle: passivation races with the next burst */
    t_sleep_ms(200 + (unsigned)(a->id * 97));
  }
  return NULL;
}

static void test_passivation_keeps_order(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  atomic_store(&g_inits, 0);
  atomic_store(&g_terms, 0);
  atomic_store(&g_got, 0);
  atomic_store(&g_order_bad, 0);
  for (int i = 0; i <= SENDERS; i++) atomic_store(&g_last[i], 0);
  assert_int_equal(
      tr_kind_register(sys, &(tr_kind){.name = "seq", .behavior = &seq_b, .idle_ms = 1}), 0);
  pthread_t th[SENDERS];
  sender_arg args[SENDERS];
  for (int i = 0; i < SENDERS; i++) {
    args[i] = (sender_arg){sys, i};
    pthread_create(&th[i], NULL, sender_main, &args[i]);
  }
  for (int i = 0; i < SENDERS; i++) pthread_join(th[i], NULL);
  int64_t want = (int64_t)SENDERS * BURSTS * PER_BURST;
  assert_int_equal(t_wait_ge(&g_got, want), want);
  /* once idle it is passivated; the next message activates it again, and
   * order still holds for a sender that spans both activations */
  wait_active(sys, 0);
  int64_t inits = atomic_load(&g_inits);
  atomic_store(&g_last[0], 0);
  for (int i = 0; i < 10; i++) {
    int64_t v[2] = {0, i + 1};
    uint8_t buf[32];
    assert_int_equal(tr_system_virtual_send(sys, "seq/x", T_SEQ, buf, t_put_ints(buf, sizeof buf, 2, v)), 0);
  }
  assert_int_equal(t_wait_ge(&g_got, want + 10), want + 10);
  assert_int_equal(atomic_load(&g_order_bad), 0);
  assert_int_equal(atomic_load(&g_inits), inits + 1);
  wait_active(sys, 0);
  assert_int_equal(atomic_load(&g_terms), atomic_load(&g_inits));
  assert_int_equal(tr_system_dead_letter_count(sys), 0);
  tr_system_free(sys);
}

/* the same from inside an actor (batched sends) */
static _Atomic int64_t g_pumped;

static int pump2_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  (void)arg;
  ((pump_state *)st)->done = &g_pumped;
  return 0;
}

static const tr_behavior pump2_b = {.name = "pump", .state_size = sizeof(pump_state),
                                    .init = pump2_init, .receive = pump_receive};

static void test_actor_sender_order(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  atomic_store(&g_got, 0);
  atomic_store(&g_order_bad, 0);
  atomic_store(&g_pumped, 0);
  atomic_store(&g_inits, 0);
  for (int i = 0; i <= SENDERS; i++) atomic_store(&g_last[i], 0);
  assert_int_equal(
      tr_kind_register(sys, &(tr_kind){.name = "seq", .behavior = &seq_b, .idle_ms = 1}), 0);
  tr_ref pump;
  assert_int_equal(tr_system_spawn(sys, &pump2_b, NULL, NULL, &pump), 0);
  for (int b = 0; b < BURSTS; b++) {
    assert_int_equal(tr_system_send(sys, pump, T_ADD, NULL, 0), 0);
    assert_int_equal(t_wait_ge(&g_pumped, b + 1), b + 1);
    t_sleep_ms(b % 2 ? 300 : 0);
  }
  int64_t want = (int64_t)BURSTS * PER_BURST;
  assert_int_equal(t_wait_ge(&g_got, want), want);
  assert_int_equal(atomic_load(&g_order_bad), 0);
  if (tr_system_dead_letter_count(sys)) {
    tr_dead_letter d[8];
    size_t n = tr_system_dead_letters(sys, d, 8);
    for (size_t i = 0; i < n; i++)
      fprintf(stderr, "dl %s type %x flags %x\n", tr_dead_letter_reason(d[i].reason), d[i].type, d[i].flags);
  }
  if (tr_system_dead_letter_count(sys)) {
    tr_dead_letter d[8];
    size_t n = tr_system_dead_letters(sys, d, 8);
    for (size_t i = 0; i < n; i++)
      fprintf(stderr, "dl %s type %x flags %x to %lu\n", tr_dead_letter_reason(d[i].reason), d[i].type, d[i].flags, (unsigned long)d[i].to.id);
  }
  assert_int_equal(tr_system_dead_letter_count(sys), 0);
  tr_system_free(sys);
}

/* ------------------------------------------------------------ failure, persistence */

static void test_failed_activation_comes_back(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  atomic_store(&g_inits, 0);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "ctr", .behavior = &ctr_b}), 0);
  uint8_t v = 5;
  assert_int_equal(tr_system_virtual_send(sys, "ctr/f", T_ADD, &v, 1), 0);
  assert_int_equal(ask_int(sys, "ctr/f", T_GET), 5);
  assert_int_equal(tr_system_virtual_send(sys, "ctr/f", T_FAIL, NULL, 0), 0);
  wait_active(sys, 0);
  /* a new activation, with fresh state */
  assert_int_equal(ask_int(sys, "ctr/f", T_GET), 0);
  assert_int_equal(atomic_load(&g_inits), 2);
  tr_system_free(sys);
}

typedef struct {
  int64_t sum;
} pc_state;

static int pc_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  (void)seq;
  if (len != 1) return TR_ECORRUPT;
  ((pc_state *)st)->sum += ((const uint8_t *)ev)[0];
  return 0;
}

static int pc_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  pc_state *s = st;
  uint8_t buf[16];
  if (m->type == T_ADD) {
    uint8_t v = m->len ? m->data[0] : 1;
    s->sum += v;
    return tr_persist_append(ctx, &v, 1, NULL);
  }
  if (m->type == T_GET)
    return tr_actor_reply(ctx, m, T_VALUE, buf, tr_mp_put_int(buf, sizeof buf, s->sum));
  if (m->type == T_BYE) return tr_virtual_passivate(ctx);
  return 0;
}

static const tr_persistent pc_b = {
    .base = {.name = "pc", .state_size = sizeof(pc_state), .init = ctr_init,
             .receive = pc_receive, .terminate = ctr_term},
    .apply = pc_apply};

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb;
  (void)f;
  (void)ftw;
  return remove(p);
}

static void test_persistent_kind(void **st) {
  (void)st;
  char dir[] = "/tmp/trvirtXXXXXX";
  assert_non_null(mkdtemp(dir));
  tr_config cfg = {.data_dir = dir, .durability = TR_DURABLE_NOSYNC};
  tr_system *sys;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  atomic_store(&g_inits, 0);
  atomic_store(&g_terms, 0);
  tr_persistent p = pc_b;
  p.base.init = NULL; /* ctr_init checks for kind "ctr" */
  assert_int_equal(
      tr_kind_register(sys, &(tr_kind){.name = "pc", .persistent = &p, .idle_ms = 1}), 0);
  for (int i = 0; i < 10; i++) {
    uint8_t v = 3;
    assert_int_equal(tr_system_virtual_send(sys, "pc/cart", T_ADD, &v, 1), 0);
  }
  assert_int_equal(ask_int(sys, "pc/cart", T_GET), 30);
  wait_active(sys, 0); /* passivated */
  assert_int_equal(atomic_load(&g_terms), 1);
  /* the next activation recovers from the journal */
  assert_int_equal(ask_int(sys, "pc/cart", T_GET), 30);
  tr_system_free(sys);
  /* and so does one in a new process (system) */
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  assert_int_equal(
      tr_kind_register(sys, &(tr_kind){.name = "pc", .persistent = &p, .idle_ms = 1}), 0);
  assert_int_equal(ask_int(sys, "pc/cart", T_GET), 30);
  tr_system_free(sys);
  nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static tr_store_stats store_stats(tr_system *sys) {
  tr_store_stats ss;
  tr_store_stats_get(sys->store, &ss);
  return ss;
}

/* A new persistent name recovers empty without walking the journal log
 * (storage/jfilter.c); an activation that asks to be passivated is, long
 * before its kind's idle time, after what was sent to it before; its next
 * activation, and one in a new process, recover what it appended. */
static void test_passivate_on_request(void **st) {
  (void)st;
  char dir[] = "/tmp/trvirtXXXXXX";
  assert_non_null(mkdtemp(dir));
  tr_config cfg = {.data_dir = dir, .durability = TR_DURABLE_NOSYNC};
  tr_system *sys;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  atomic_store(&g_terms, 0);
  tr_persistent p = pc_b;
  p.base.init = NULL;
  /* idle_ms 0: 60 s, far beyond this test */
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "pc", .persistent = &p}), 0);
  tr_store_stats a = store_stats(sys);
  uint8_t v = 4;
  for (int i = 0; i < 3; i++)
    assert_int_equal(tr_system_virtual_send(sys, "pc/new", T_ADD, &v, 1), 0);
  assert_int_equal(ask_int(sys, "pc/new", T_GET), 12);
  tr_store_stats b = store_stats(sys);
  assert_true(b.jlog_skipped >= a.jlog_skipped + 2); /* highest and read */
  assert_int_equal(b.jlog_walked, a.jlog_walked);
  /* sent before the request: handled by this activation */
  assert_int_equal(tr_system_virtual_send(sys, "pc/new", T_BYE, NULL, 0), 0);
  assert_int_equal(tr_system_virtual_send(sys, "pc/new", T_ADD, &v, 1), 0);
  wait_active(sys, 0);
  assert_int_equal(atomic_load(&g_terms), 1);
  /* the next activation recovers all four (its events are in the jlog) */
  assert_int_equal(ask_int(sys, "pc/new", T_GET), 16);
  assert_true(store_stats(sys).jlog_walked > b.jlog_walked);
  tr_system_free(sys);
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  assert_int_equal(tr_kind_register(sys, &(tr_kind){.name = "pc", .persistent = &p}), 0);
  assert_int_equal(ask_int(sys, "pc/new", T_GET), 16);
  tr_system_free(sys);
  nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ remote spawn (to self) */

static _Atomic int64_t g_spawn_arg_ok;

static int echo_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  (void)st;
  const tr_spawn_arg *a = arg;
  if (a && a->len == 3 && memcmp(a->data, "abc", 3) == 0) atomic_fetch_add(&g_spawn_arg_ok, 1);
  if (a && a->len == 4 && memcmp(a->data, "fail", 4) == 0) return TR_EFAILED;
  return 0;
}

static int echo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->flags & TR_MSG_F_ASK) return tr_actor_reply(ctx, m, m->type, m->data, m->len);
  return 0;
}

static const tr_behavior echo_b = {.name = "echo", .init = echo_init, .receive = echo_receive};

/* an actor that spawns remotely and reports the answer */
static _Atomic int64_t g_spawned_ok;

static int spawner_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  (void)arg;
  uint64_t corr;
  return tr_actor_spawn_remote(ctx, 0, "echo", "abc", 3, WAIT_MS, &corr);
}

static int spawner_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx;
  (void)st;
  tr_ref r;
  if ((m->flags & TR_MSG_F_REPLY) && tr_msg_spawned(m, &r) == 0 && r.id)
    atomic_fetch_add(&g_spawned_ok, 1);
  return 0;
}

static const tr_behavior spawner_b = {.name = "spawner", .init = spawner_init,
                                      .receive = spawner_receive};

static void test_remote_spawn_self(void **st) {
  (void)st;
  tr_system *sys;
  assert_int_equal(tr_system_new(NULL, &sys), 0);
  atomic_store(&g_spawn_arg_ok, 0);
  tr_ref r;
  /* nothing registered: the node has no directory yet */
  assert_true(tr_system_spawn_remote(sys, 0, "echo", "abc", 3, 500, &r) < 0);
  assert_int_equal(tr_behavior_register(sys, "echo", &echo_b), 0);
  assert_int_equal(tr_system_spawn_remote(sys, 0, "echo", "abc", 3, WAIT_MS, &r), 0);
  assert_int_equal(atomic_load(&g_spawn_arg_ok), 1);
  tr_msg *reply;
  assert_int_equal(tr_system_ask(sys, r, 7, "hi", 2, WAIT_MS, &reply), 0);
  assert_int_equal(reply->len, 2);
  tr_msg_free(reply);
  assert_int_equal(tr_system_spawn_remote(sys, 0, "nope", NULL, 0, WAIT_MS, &r), TR_ENOENT);
  assert_int_equal(tr_system_spawn_remote(sys, 0, "echo", "fail", 4, WAIT_MS, &r), TR_EFAILED);
  atomic_store(&g_spawned_ok, 0);
  tr_ref sp;
  assert_int_equal(tr_system_spawn(sys, &spawner_b, NULL, NULL, &sp), 0);
  assert_int_equal(t_wait_ge(&g_spawned_ok, 1), 1);
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_activate_once),
      cmocka_unit_test(test_passivation_keeps_order),
      cmocka_unit_test(test_actor_sender_order),
      cmocka_unit_test(test_failed_activation_comes_back),
      cmocka_unit_test(test_persistent_kind),
      cmocka_unit_test(test_passivate_on_request),
      cmocka_unit_test(test_remote_spawn_self),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
