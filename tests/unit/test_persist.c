/* test_persist.c - persistent actors: recovery before the first message,
 * snapshots plus replay across restarts, bad arguments, and a store at its
 * map limit (appends fail cleanly, recovery still reads, a larger limit lets
 * writes go on). Many writers at once, with appends in flight. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "storage/store.h"

enum { T_ADD = 1, T_GET, T_VALUE, T_HELLO };

typedef struct {
  int64_t sum;
  uint64_t restored_at, applied, first_type, seen;
  _Atomic int64_t *acks, *fails;
} acc_state;

typedef struct {
  _Atomic int64_t *acks, *fails;
} acc_arg;

static _Atomic int64_t g_restored_at, g_applied, g_first_type = -1;

static int acc_init(tr_ctx *ctx, void *st, const void *arg) {
  acc_state *s = st;
  const acc_arg *a = arg;
  s->acks = a ? a->acks : NULL;
  s->fails = a ? a->fails : NULL;
  /* appending before recovery is refused */
  return tr_persist_append(ctx, "x", 1, NULL) == TR_EPERM ? 0 : TR_EFAILED;
}

static int acc_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  acc_state *s = st;
  if (len != 1) return TR_ECORRUPT;
  s->sum += ((const uint8_t *)ev)[0];
  atomic_fetch_add(&g_applied, 1);
  return 0;
}

static int acc_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  return tr_buf_append(out, &((acc_state *)st)->sum, sizeof(int64_t));
}

static int acc_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *d, size_t len) {
  if (len != sizeof(int64_t)) return TR_ECORRUPT;
  memcpy(&((acc_state *)st)->sum, d, len);
  atomic_store(&g_restored_at, (int64_t)seq);
  return 0;
}

static int acc_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  acc_state *s = st;
  if (s->seen++ == 0) atomic_store(&g_first_type, m->type);
  switch (m->type) {
  case T_ADD: {
    uint8_t v = m->len ? m->data[0] : 0;
    s->sum += v; /* live: apply, then append */
    return tr_persist_append(ctx, &v, 1, NULL);
  }
  case T_GET: {
    uint8_t buf[16];
    return tr_actor_reply(ctx, m, T_VALUE, buf, tr_mp_put_int(buf, sizeof buf, s->sum));
  }
  case TR_MSG_PERSISTED:
    if (m->flags & TR_MSG_F_FAILED) {
      if (s->fails) atomic_fetch_add(s->fails, 1);
      /* a later append of this incarnation is refused */
      return tr_persist_append(ctx, "y", 1, NULL) == TR_EIO ? 0 : TR_EFAILED;
    }
    if (s->acks) atomic_fetch_add(s->acks, 1);
    return 0;
  }
  return 0;
}

static const tr_persistent acc_b = {
    .base = {.name = "acc", .state_size = sizeof(acc_state), .init = acc_init,
             .receive = acc_receive},
    .apply = acc_apply,
    .snapshot = acc_snapshot,
    .restore = acc_restore,
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) { return remove(p); }

static char *mkdir_tmp(char *buf, size_t n) {
  snprintf(buf, n, "/tmp/troupe-test-persist.XXXXXX");
  assert_non_null(mkdtemp(buf));
  return buf;
}

static tr_system *sys_on(const char *dir, uint64_t limit) {
  tr_config cfg = {.threads = 2, .data_dir = dir, .map_limit = limit};
  tr_system *sys = NULL;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  return sys;
}

/* Frees sys and starts a new system on dir, with the recovery counters at 0. */
static tr_system *restart(tr_system *sys, const char *dir) {
  tr_system_free(sys);
  atomic_store(&g_applied, 0);
  atomic_store(&g_restored_at, 0);
  return sys_on(dir, 0);
}

static int64_t get_sum(tr_system *sys, tr_ref a) {
  tr_msg *r = NULL;
  assert_int_equal(tr_system_ask(sys, a, T_GET, NULL, 0, WAIT_MS, &r), 0);
  int64_t v = t_msg_int(r);
  tr_msg_free(r);
  return v;
}

static void test_bad_arguments(void **st) {
  tr_system *plain = t_system(1);
  tr_persist_opts o = {.id = "x"};
  assert_int_equal(tr_system_persist_spawn(plain, &acc_b, NULL, &o, NULL), TR_ENOTSUP);
  tr_system_free(plain);
  char dir[64];
  tr_system *sys = sys_on(mkdir_tmp(dir, sizeof dir), 0);
  tr_persist_opts none = {0};
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, NULL, &none, NULL), TR_EINVAL);
  char longid[300];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = 0;
  tr_persist_opts lo = {.id = longid};
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, NULL, &lo, NULL), TR_EINVAL);
  tr_persistent half = acc_b;
  half.restore = NULL; /* snapshot without restore */
  assert_int_equal(tr_system_persist_spawn(sys, &half, NULL, &o, NULL), TR_EINVAL);
  tr_system_free(sys);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_recover_snapshot_replay(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  _Atomic int64_t acks = 0, fails = 0;
  acc_arg aa = {&acks, &fails};
  tr_persist_opts o = {.id = "acc/1", .snapshot_every = 10, .snapshot_keep = 2};
  /* run 1: 25 events of value 1..25, each acknowledged */
  tr_system *sys = sys_on(dir, 0);
  tr_ref a;
  atomic_store(&g_first_type, -1);
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  for (int i = 1; i <= 25; i++) {
    uint8_t v = (uint8_t)i;
    assert_int_equal(tr_system_send(sys, a, T_ADD, &v, 1), 0);
    /* one at a time, so that each ack finds all appends durable and
     * snapshots happen at 10 and 20 */
    assert_int_equal(t_wait_ge(&acks, i), i);
  }
  assert_int_equal(atomic_load(&g_first_type), TR_MSG_RECOVERED);
  assert_int_equal(get_sum(sys, a), 25 * 26 / 2);
  tr_system_free(sys);

  /* run 2: recovery from the snapshot at 20, then events 21..25 */
  atomic_store(&g_restored_at, 0);
  atomic_store(&g_applied, 0);
  atomic_store(&g_first_type, -1);
  sys = sys_on(dir, 0);
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  /* sent at once: it must still see TR_MSG_RECOVERED first */
  assert_int_equal(tr_system_send(sys, a, T_HELLO, NULL, 0), 0);
  assert_int_equal(get_sum(sys, a), 25 * 26 / 2);
  assert_int_equal(atomic_load(&g_first_type), TR_MSG_RECOVERED);
  assert_int_equal(atomic_load(&g_restored_at), 20);
  assert_int_equal(atomic_load(&g_applied), 5);
  /* it goes on from 26 */
  uint8_t v = 100;
  int64_t before = atomic_load(&acks);
  assert_int_equal(tr_system_send(sys, a, T_ADD, &v, 1), 0);
  assert_int_equal(t_wait_ge(&acks, before + 1), before + 1);
  tr_system_free(sys);

  /* run 3: the other actor id is independent; the first one has its 26 */
  sys = sys_on(dir, 0);
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  assert_int_equal(get_sum(sys, a), 25 * 26 / 2 + 100);
  tr_persist_opts o2 = {.id = "acc/2"};
  tr_ref b;
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o2, &b), 0);
  assert_int_equal(get_sum(sys, b), 0);
  assert_int_equal(atomic_load(&fails), 0);
  tr_system_free(sys);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A state whose snapshot is big (1 KB) next to its events (1 byte): with
 * snapshot_amortized the second snapshot waits for 1 KB of events, so a
 * recovery after 25 events restores the one at 10 and replays 15. */
static int big_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  uint8_t pad[1024 - sizeof(int64_t)] = {0};
  int rc = acc_snapshot(ctx, st, out);
  return rc ? rc : tr_buf_append(out, pad, sizeof pad);
}

static int big_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *d, size_t len) {
  return len == 1024 ? acc_restore(ctx, st, seq, d, sizeof(int64_t)) : TR_ECORRUPT;
}

static void test_snapshot_amortized(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  _Atomic int64_t acks = 0, fails = 0;
  acc_arg aa = {&acks, &fails};
  tr_persistent big = acc_b;
  big.snapshot = big_snapshot;
  big.restore = big_restore;
  tr_persist_opts o = {.id = "big/1", .snapshot_every = 10, .snapshot_keep = 2,
                       .snapshot_amortized = 1};
  tr_system *sys = sys_on(dir, 0);
  tr_ref a;
  assert_int_equal(tr_system_persist_spawn(sys, &big, &aa, &o, &a), 0);
  for (int i = 1; i <= 25; i++) {
    uint8_t v = 1;
    assert_int_equal(tr_system_send(sys, a, T_ADD, &v, 1), 0);
    assert_int_equal(t_wait_ge(&acks, i), i);
  }
  sys = restart(sys, dir);
  assert_int_equal(tr_system_persist_spawn(sys, &big, &aa, &o, &a), 0);
  assert_int_equal(get_sum(sys, a), 25);
  assert_int_equal(atomic_load(&g_restored_at), 10); /* not 20 */
  assert_int_equal(atomic_load(&g_applied), 15);
  tr_system_free(sys);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Fills a store with a small map limit until appends fail, checks that a
 * failure is reported (and refuses later appends), that recovery still reads
 * everything acknowledged, and that a larger limit lets appends go on. */
static void test_map_limit(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  _Atomic int64_t acks = 0, fails = 0;
  acc_arg aa = {&acks, &fails};
  tr_persist_opts o = {.id = "acc/full"};
  const uint64_t small = 8u << 20;
  tr_system *sys = sys_on(dir, small);
  tr_ref a;
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  int64_t sent = 0;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (atomic_load(&fails) == 0 && t_now_ms() < end) {
    /* in bursts of 1000; each event is a key of its own in the journal */
    for (int i = 0; i < 1000; i++) {
      uint8_t v = 1;
      if (tr_system_send(sys, a, T_ADD, &v, 1) == 0) sent++;
    }
    while (atomic_load(&acks) + atomic_load(&fails) < sent && atomic_load(&fails) == 0 &&
           t_now_ms() < end)
      t_sleep_ms(1);
  }
  assert_true(atomic_load(&fails) >= 1);
  int64_t acked = atomic_load(&acks);
  assert_true(acked > 0);
  tr_system_free(sys);

  /* reads go on at the limit: recovery sees every acknowledged event */
  sys = sys_on(dir, small);
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  int64_t recovered = get_sum(sys, a);
  assert_true(recovered >= acked);
  tr_system_free(sys);

  /* a larger limit: appends go on */
  sys = sys_on(dir, 256u << 20);
  atomic_store(&fails, 0);
  assert_int_equal(tr_system_persist_spawn(sys, &acc_b, &aa, &o, &a), 0);
  int64_t base = atomic_load(&acks);
  for (int i = 0; i < 100; i++) {
    uint8_t v = 1;
    assert_int_equal(tr_system_send(sys, a, T_ADD, &v, 1), 0);
  }
  assert_int_equal(t_wait_ge(&acks, base + 100), base + 100);
  assert_int_equal(atomic_load(&fails), 0);
  assert_int_equal(get_sum(sys, a), recovered + 100);
  tr_system_free(sys);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Many actors appending at once, two events in flight each, on more
 * schedulers than cores. Two races lost or broke appends here:
 * - an ack batch makes hundreds of actors runnable on one scheduler (in its
 *   maintenance, between its own queue and stealing), and a steal copied
 *   into its ring past the room left, overwriting queued actors: they stayed
 *   marked scheduled in no queue, and their acks were never handled;
 * - a request belongs to the store from its submit until its completion,
 *   which may run (and the request be freed and reused by another actor's
 *   append) before tr_persist_append returns: the seq it reports, and the
 *   one the next append uses, must not be read back from the request.
 * Nosync makes completions quick enough to overtake the submitter. */
enum { PW_ACTORS = 300, PW_EVENTS = 1000, PW_INFLIGHT = 2 };
static _Atomic int64_t g_pw_acks, g_pw_fails, g_pw_bad;

typedef struct {
  uint64_t appended;
} pw_state;

static int pw_append(tr_ctx *ctx, pw_state *s) {
  uint64_t seq = 0;
  uint8_t ev[64];
  memset(ev, 0x5a, sizeof ev);
  int rc = tr_persist_append(ctx, ev, sizeof ev, &seq);
  if (rc < 0) return rc;
  s->appended++;
  if (seq != s->appended || tr_persist_seq(ctx) != s->appended) atomic_fetch_add(&g_pw_bad, 1);
  return 0;
}

static int pw_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  pw_state *s = st;
  if (m->type == TR_MSG_RECOVERED) {
    for (int i = 0; i < PW_INFLIGHT; i++) {
      int rc = pw_append(ctx, s);
      if (rc < 0) return rc;
    }
    return 0;
  }
  if (m->type != TR_MSG_PERSISTED) return 0;
  if (m->flags & TR_MSG_F_FAILED) {
    atomic_fetch_add(&g_pw_fails, 1);
    return 0;
  }
  atomic_fetch_add(&g_pw_acks, 1);
  return s->appended < PW_EVENTS ? pw_append(ctx, s) : 0;
}

static int pw_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  ((pw_state *)st)->appended = seq;
  return 0;
}

static const tr_persistent pw_b = {
    .base = {.name = "pw", .state_size = sizeof(pw_state), .receive = pw_receive},
    .apply = pw_apply};

static void test_many_writers_pipelined(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  tr_config cfg = {.threads = 4, .data_dir = dir, .durability = TR_DURABLE_NOSYNC};
  tr_system *sys = NULL;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  atomic_store(&g_pw_acks, 0);
  atomic_store(&g_pw_fails, 0);
  atomic_store(&g_pw_bad, 0);
  for (int i = 0; i < PW_ACTORS; i++) {
    char id[32];
    snprintf(id, sizeof id, "pw/%d", i);
    tr_persist_opts o = {.id = id};
    assert_int_equal(tr_system_persist_spawn(sys, &pw_b, NULL, &o, NULL), 0);
  }
  const int64_t all = (int64_t)PW_ACTORS * PW_EVENTS;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (atomic_load(&g_pw_acks) + atomic_load(&g_pw_fails) < all && !atomic_load(&g_pw_bad) &&
         !atomic_load(&g_pw_fails) && t_now_ms() < end)
    t_sleep_ms(2);
  assert_int_equal(atomic_load(&g_pw_bad), 0);
  assert_int_equal(atomic_load(&g_pw_fails), 0);
  assert_int_equal(atomic_load(&g_pw_acks), all);
  tr_system_free(sys);
  /* and the journals hold exactly that */
  tr_store *store;
  assert_int_equal(tr_store_open(dir, NULL, &store), 0);
  for (int i = 0; i < PW_ACTORS; i++) {
    char id[32];
    int n = snprintf(id, sizeof id, "pw/%d", i);
    uint64_t hi = 0;
    assert_int_equal(tr_journal_highest(store, NULL, id, (size_t)n, &hi), 0);
    assert_int_equal(hi, PW_EVENTS);
  }
  tr_store_close(store);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Events and snapshots bigger than a recovery chunk (runtime/persist.c
 * reads a journal in chunks of 64 KiB): a chunk takes at least one event
 * whatever its size, and the events after a snapshot that alone fills a
 * chunk come next; each event is applied once, in order. */
enum { VAR_PAD = 200 << 10, VAR_BIG = 300 << 10 };
static size_t g_var_pad = VAR_PAD;   /* snapshot padding */
static _Atomic int g_var_rc;         /* an append's error, if any */
typedef struct {
  int64_t sum;
  uint64_t last;
  _Atomic int64_t *acks;
} var_state;

static int var_init(tr_ctx *ctx, void *st, const void *arg) {
  ((var_state *)st)->acks = (_Atomic int64_t *)arg;
  return 0;
}

static int var_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  var_state *s = st;
  const uint8_t *b = ev;
  if (seq != s->last + 1 || len == 0 || b[len - 1] != b[0]) return TR_ECORRUPT;
  s->sum += b[0];
  s->last = seq;
  atomic_fetch_add(&g_applied, 1);
  return 0;
}

static int var_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  var_state *s = st;
  int rc = tr_buf_append(out, s, 2 * sizeof(int64_t));
  static const char zero[4096];
  for (size_t n = 0; !rc && n < g_var_pad; n += sizeof zero)
    rc = tr_buf_append(out, zero, sizeof zero);
  return rc;
}

static int var_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *d, size_t len) {
  var_state *s = st;
  if (len != 2 * sizeof(int64_t) + g_var_pad) return TR_ECORRUPT;
  memcpy(s, d, 2 * sizeof(int64_t));
  if (s->last != seq) return TR_ECORRUPT;
  atomic_store(&g_restored_at, (int64_t)seq);
  return 0;
}

/* T_ADD {u32 size, u8 value}: appends size bytes of value */
static int var_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  var_state *s = st;
  if (m->type == T_ADD && m->len == 5) {
    uint32_t n;
    memcpy(&n, m->data, 4);
    uint8_t *ev = malloc(n);
    if (!ev) return TR_ENOMEM;
    memset(ev, m->data[4], n);
    s->sum += m->data[4];
    int rc = tr_persist_append(ctx, ev, n, &s->last);
    free(ev);
    if (rc < 0) {
      s->sum -= m->data[4];
      atomic_store(&g_var_rc, rc);
    }
    return 0;
  }
  if (m->type == T_GET) {
    uint8_t buf[16];
    return tr_actor_reply(ctx, m, T_VALUE, buf, tr_mp_put_int(buf, sizeof buf, s->sum));
  }
  if (m->type == TR_MSG_PERSISTED && !(m->flags & TR_MSG_F_FAILED)) atomic_fetch_add(s->acks, 1);
  return 0;
}

static const tr_persistent var_b = {
    .base = {.name = "var", .state_size = sizeof(var_state), .init = var_init,
             .receive = var_receive},
    .apply = var_apply,
    .snapshot = var_snapshot,
    .restore = var_restore,
};

static void var_add(tr_system *sys, tr_ref a, _Atomic int64_t *acks, uint32_t size, uint8_t v) {
  uint8_t m[5];
  memcpy(m, &size, 4);
  m[4] = v;
  int64_t want = atomic_load(acks) + 1;
  assert_int_equal(tr_system_send(sys, a, T_ADD, m, sizeof m), 0);
  assert_int_equal(t_wait_ge(acks, want), want); /* one at a time: snapshots when all acked */
}

static void test_recover_items_bigger_than_a_chunk(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  _Atomic int64_t acks = 0;
  tr_persist_opts plain = {.id = "var/plain"};
  tr_persist_opts snap = {.id = "var/snap", .snapshot_every = 5, .snapshot_keep = 1};
  tr_system *sys = sys_on(dir, 0);
  tr_ref a, b;
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &plain, &a), 0);
  for (int i = 0; i < 3; i++) var_add(sys, a, &acks, 1, 1);
  var_add(sys, a, &acks, VAR_BIG, 2); /* alone bigger than a chunk */
  for (int i = 0; i < 3; i++) var_add(sys, a, &acks, 1, 3);
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &snap, &b), 0);
  for (int i = 0; i < 5; i++) var_add(sys, b, &acks, 1, 1); /* a snapshot at 5 */
  for (int i = 0; i < 2; i++) var_add(sys, b, &acks, 1, 4);
  sys = restart(sys, dir);
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &plain, &a), 0);
  assert_int_equal(get_sum(sys, a), 3 * 1 + 2 + 3 * 3);
  assert_int_equal(atomic_load(&g_applied), 7);
  atomic_store(&g_applied, 0);
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &snap, &b), 0);
  assert_int_equal(get_sum(sys, b), 5 * 1 + 2 * 4);
  assert_int_equal(atomic_load(&g_restored_at), 5);
  assert_int_equal(atomic_load(&g_applied), 2); /* only those after the snapshot */
  tr_system_free(sys);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* The largest event alone, a snapshot of 40 MiB followed by an event of
 * 30 MiB (together more than one recovery read may carry), and an event
 * over the limit (refused, the actor goes on). */
static void test_recover_items_at_the_limit(void **st) {
  char dir[64];
  mkdir_tmp(dir, sizeof dir);
  _Atomic int64_t acks = 0;
  tr_persist_opts max = {.id = "var/max"};
  tr_persist_opts snap = {.id = "var/huge", .snapshot_every = 2, .snapshot_keep = 1};
  g_var_pad = 40u << 20;
  atomic_store(&g_var_rc, 0);
  tr_system *sys = sys_on(dir, 0);
  tr_ref a, b;
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &max, &a), 0);
  var_add(sys, a, &acks, TR_PERSIST_MAX_ITEM, 6);
  uint8_t m[5] = {0, 0, 0, 0, 9};
  uint32_t over = TR_PERSIST_MAX_ITEM + 1;
  memcpy(m, &over, 4);
  assert_int_equal(tr_system_send(sys, a, T_ADD, m, sizeof m), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (atomic_load(&g_var_rc) == 0 && t_now_ms() < end) t_sleep_ms(1);
  assert_int_equal(atomic_load(&g_var_rc), TR_ETOOBIG);
  assert_int_equal(get_sum(sys, a), 6); /* refused, and the actor goes on */
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &snap, &b), 0);
  for (int i = 0; i < 2; i++) var_add(sys, b, &acks, 1, 1); /* a 40 MiB snapshot at 2 */
  var_add(sys, b, &acks, 30u << 20, 5);
  sys = restart(sys, dir);
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &max, &a), 0);
  assert_int_equal(get_sum(sys, a), 6);
  assert_int_equal(atomic_load(&g_applied), 1);
  atomic_store(&g_applied, 0);
  assert_int_equal(tr_system_persist_spawn(sys, &var_b, &acks, &snap, &b), 0);
  assert_int_equal(get_sum(sys, b), 1 + 1 + 5);
  assert_int_equal(atomic_load(&g_restored_at), 2);
  assert_int_equal(atomic_load(&g_applied), 1);
  tr_system_free(sys);
  g_var_pad = VAR_PAD;
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_recover_snapshot_replay),
      cmocka_unit_test(test_snapshot_amortized),
      cmocka_unit_test(test_map_limit),
      cmocka_unit_test(test_many_writers_pipelined),
      cmocka_unit_test(test_recover_items_bigger_than_a_chunk),
      cmocka_unit_test(test_recover_items_at_the_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
