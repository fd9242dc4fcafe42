/* test_events.c - the event bus and warehouse (actors/events/events.h):
 * ids and order, publishing in bulk and from the engine, subscriptions
 * that resume from an id with no gap and no duplicate while events keep
 * coming, filters, query paging, counts, distinct values and funnels
 * checked against a brute-force computation over the same random events,
 * retention by age and by size, everything across a restart, and bad
 * requests. Requests are written as JSON and converted by the codec. */
#include <ftw.h>
#include <stdio.h>

#include <semaphore.h>

#include "actors/events/ev_actor.h"
#include "actors/events/events.h"
#include "actors/workflow/index.h"
#include "harness.h"
#include "storage/internal.h" /* the writer's inbox */

static tr_system *g_sys;
static char g_dir[64];
static uint64_t g_map_limit; /* of the next start; 0: the default */

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

/* ------------------------------------------------------------ a subscriber */

enum { MSG_GO = 1, MSG_UNSUB, MSG_PROBE, SUBS = 3, MAXIDS = 20000 };

typedef struct rec {
  _Atomic int64_t n;     /* ids received */
  _Atomic int64_t last;  /* the last id received */
  _Atomic int64_t dups;  /* ids received out of order or twice */
  _Atomic int64_t subscribed;
  _Atomic int64_t unsubscribed, probes; /* answers to MSG_UNSUB, MSG_PROBE */
  uint64_t corr_unsub, corr_probe;      /* the subscriber's own thread only */
  int64_t ids[MAXIDS];
} rec;
static rec g_rec[SUBS];
static char g_sub_req[SUBS][256];

static int sub_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  int i = (int)t_msg_int(m); /* payload: the index of the subscriber */
  if (m->type == MSG_UNSUB || m->type == MSG_PROBE) {
    /* a probe is any ask: its answer comes after every delivery the bus
     * made before it, as messages between two actors keep their order */
    tr_virtual_ask(ctx, "events/t", m->type == MSG_UNSUB ? TR_EV_UNSUBSCRIBE : TR_EV_RETENTION,
                   "\x80", 1, WAIT_MS,
                   m->type == MSG_UNSUB ? &g_rec[i].corr_unsub : &g_rec[i].corr_probe);
    return 0;
  }
  if (m->type == MSG_GO) {
    tr_pack pk = TR_PACK_INIT;
    tr_json_to_msgpack(g_sub_req[i], strlen(g_sub_req[i]), NULL, &pk, NULL, 0);
    uint64_t corr;
    tr_virtual_ask(ctx, "events/t", TR_EV_SUBSCRIBE, pk.data, pk.len, WAIT_MS, &corr);
    tr_pack_free(&pk);
    return 0;
  }
  return 0;
}

/* One behaviour per index, so a DELIVER knows whose record it fills. */
#define SUB_B(I)                                                                    \
  static int sub_receive_##I(tr_ctx *ctx, void *st, const tr_msg *m) {              \
    if (m->type == TR_EV_REPLY) {                                                   \
      if (m->corr == g_rec[I].corr_unsub) atomic_fetch_add(&g_rec[I].unsubscribed, 1); \
      else if (m->corr == g_rec[I].corr_probe) atomic_fetch_add(&g_rec[I].probes, 1); \
      else if (tr_reply_status(m->data, m->len) == 0) atomic_store(&g_rec[I].subscribed, 1); \
      return 0;                                                                     \
    }                                                                               \
    if (m->type != TR_EV_DELIVER) return sub_receive(ctx, st, m);                   \
    tr_unpack u, a;                                                                 \
    uint32_t n;                                                                     \
    tr_unpack_init(&u, m->data, m->len);                                            \
    if (tr_unpack_find(&u, "events", &a) < 0 || tr_unpack_array(&a, &n) < 0) return 0; \
    for (uint32_t k = 0; k < n; k++) {                                              \
      uint64_t id = 0;                                                              \
      tr_unpack_find_uint(&a, "id", &id);                                           \
      tr_unpack_skip(&a);                                                           \
      rec *r = &g_rec[I];                                                           \
      if ((int64_t)id <= atomic_load(&r->last)) atomic_fetch_add(&r->dups, 1);      \
      int64_t j = atomic_load(&r->n);                                               \
      if (j < MAXIDS) r->ids[j] = (int64_t)id;                                      \
      atomic_store(&r->last, (int64_t)id);                                          \
      atomic_store(&r->n, j + 1);                                                   \
    }                                                                               \
    return 0;                                                                       \
  }                                                                                 \
  static const tr_behavior sub_b_##I = {.name = "sub", .receive = sub_receive_##I};
SUB_B(0)
SUB_B(1)
SUB_B(2)
static const tr_behavior *sub_bs[SUBS] = {&sub_b_0, &sub_b_1, &sub_b_2};

static tr_ref sub_start(int i, const char *req_json) {
  memset(&g_rec[i], 0, sizeof g_rec[i]);
  snprintf(g_sub_req[i], sizeof g_sub_req[i], "%s", req_json);
  tr_ref r;
  assert_int_equal(tr_system_spawn(g_sys, sub_bs[i], NULL, NULL, &r), 0);
  assert_int_equal(t_send_int(g_sys, r, MSG_GO, i), 0);
  assert_int_equal(t_wait_ge(&g_rec[i].subscribed, 1), 1);
  return r;
}

/* ------------------------------------------------------------ helpers */

static void start(void) {
  tr_config cfg = {.data_dir = g_dir, .durability = TR_DURABLE_NOSYNC, .map_limit = g_map_limit};
  assert_int_equal(tr_system_new(&cfg, &g_sys), 0);
  assert_int_equal(tr_events_register(g_sys, 0), 0);
}

static int setup(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trevXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  start();
  return 0;
}

static int teardown(void **st) {
  (void)st;
  tr_system_free(g_sys);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* Asks topic with the request (JSON or msgpack); the reply's status, and
 * the reply as msgpack in *out if out (the caller frees it). */
static int call_mp(const char *topic, uint32_t type, const void *p, size_t n, tr_msg **out) {
  char name[128];
  assert_int_equal(tr_events_name(topic, name, sizeof name), 0);
  tr_msg *r = NULL;
  int rc = tr_system_virtual_ask(g_sys, name, type, p, n, WAIT_MS, &r);
  if (rc < 0) return rc;
  rc = tr_reply_status(r->data, r->len);
  if (out) *out = r;
  else tr_msg_free(r);
  return rc;
}

static int call(const char *topic, uint32_t type, const char *json, tr_msg **out) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  int rc = call_mp(topic, type, pk.data, pk.len, out);
  tr_pack_free(&pk);
  return rc;
}

static uint64_t get_uint(const tr_msg *m, const char *key) {
  tr_unpack u;
  uint64_t v = 0;
  tr_unpack_init(&u, m->data, m->len);
  tr_unpack_find_uint(&u, key, &v);
  return v;
}

/* The ids of a query's answer into ids (max n); returns how many. */
static uint32_t query_ids(const char *topic, const char *json, uint64_t *ids, uint32_t n,
                          int *more) {
  tr_msg *r;
  assert_int_equal(call(topic, TR_EV_QUERY, json, &r), 0);
  tr_unpack u, a;
  uint32_t k;
  tr_unpack_init(&u, r->data, r->len);
  assert_int_equal(tr_unpack_find(&u, "events", &a), 0);
  assert_int_equal(tr_unpack_array(&a, &k), 0);
  for (uint32_t i = 0; i < k; i++) {
    uint64_t id = 0;
    tr_unpack_find_uint(&a, "id", &id);
    if (i < n) ids[i] = id;
    tr_unpack_skip(&a);
  }
  if (more) tr_unpack_find_bool(&u, "more", more);
  tr_msg_free(r);
  return k;
}

/* ------------------------------------------------------------ publish, ids, query */

static void test_publish_ids_query(void **st) {
  (void)st;
  tr_msg *r;
  for (int i = 1; i <= 30; i++) {
    char j[128];
    snprintf(j, sizeof j, "{\"type\":\"%s\",\"pi\":\"p%d\",\"data\":{\"i\":%d}}",
             i % 3 ? "a" : "b", i % 5, i);
    assert_int_equal(call("t", TR_EV_PUBLISH, j, &r), 0);
    assert_int_equal(get_uint(r, "id"), (uint64_t)i);
    tr_msg_free(r);
  }
  assert_int_equal(call("t", TR_EV_PUBLISH_MANY,
                        "{\"events\":[{\"type\":\"c\",\"bk\":\"x\"},{\"type\":\"c\",\"bk\":\"y\","
                        "\"attrs\":{\"user\":\"u1\",\"n\":2}}]}", &r), 0);
  assert_int_equal(get_uint(r, "first"), 31);
  assert_int_equal(get_uint(r, "last"), 32);
  tr_msg_free(r);
  /* the engine's events */
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 3);
  tr_pack_kv_str(&pk, "type", "process.started");
  tr_pack_kv_int(&pk, "time", 1000);
  tr_pack_str(&pk, "data");
  tr_pack_map(&pk, 3);
  tr_pack_kv_str(&pk, "pi", "inst-1");
  tr_pack_kv_str(&pk, "key", "order");
  tr_pack_kv_str(&pk, "bk", "B-1");
  assert_int_equal(tr_system_virtual_send(g_sys, "events/t", TR_WF_EVENT, pk.data, pk.len), 0);
  tr_pack_free(&pk);

  uint64_t ids[100];
  int more = 0;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (query_ids("t", "{\"filter\":{\"pi\":\"inst-1\"}}", ids, 100, NULL) == 0 &&
         t_now_ms() < end)
    t_sleep_ms(5);
  assert_int_equal(
      query_ids("t", "{\"filter\":{\"pi\":\"inst-1\",\"key\":\"order\",\"bk\":\"B-1\"}}", ids,
                100, NULL),
      1);
  assert_int_equal(ids[0], 33);
  /* all in order, paged */
  assert_int_equal(query_ids("t", "{\"max\":10}", ids, 100, &more), 10);
  assert_true(more);
  for (int i = 0; i < 10; i++) assert_int_equal(ids[i], i + 1);
  assert_int_equal(query_ids("t", "{\"max\":10,\"after\":30}", ids, 100, &more), 3);
  assert_false(more);
  assert_int_equal(ids[0], 31);
  assert_int_equal(query_ids("t", "{\"max\":5,\"desc\":true}", ids, 100, &more), 5);
  assert_int_equal(ids[0], 33);
  assert_int_equal(ids[4], 29);
  assert_int_equal(query_ids("t", "{\"max\":5,\"desc\":true,\"after\":3}", ids, 100, &more), 2);
  assert_int_equal(ids[0], 2);
  /* filters: by type (index), pi (index), attrs (scan) */
  assert_int_equal(query_ids("t", "{\"filter\":{\"types\":[\"b\"]}}", ids, 100, NULL), 10);
  for (int i = 0; i < 10; i++) assert_int_equal(ids[i], (uint64_t)(3 * (i + 1)));
  assert_int_equal(query_ids("t", "{\"filter\":{\"types\":[\"b\",\"c\"]}}", ids, 100, NULL), 12);
  assert_int_equal(query_ids("t", "{\"filter\":{\"pi\":\"p1\"}}", ids, 100, NULL), 6);
  assert_int_equal(query_ids("t", "{\"filter\":{\"attrs\":{\"n\":2.0}}}", ids, 100, NULL), 1);
  assert_int_equal(ids[0], 32);
  assert_int_equal(query_ids("t", "{\"filter\":{\"types\":[\"a\"]},\"after\":20,\"max\":3}", ids,
                             100, &more), 3);
  assert_int_equal(ids[0], 22);
  assert_true(more);
}

/* ------------------------------------------------------------ subscriptions */

static void *publisher(void *arg) {
  int n = (int)(intptr_t)arg;
  for (int i = 0; i < n; i++) {
    char j[64];
    snprintf(j, sizeof j, "{\"type\":\"%s\"}", i % 2 ? "a" : "b");
    tr_pack pk = TR_PACK_INIT;
    tr_json_to_msgpack(j, strlen(j), NULL, &pk, NULL, 0);
    while (tr_system_virtual_send(g_sys, "events/t", TR_EV_PUBLISH, pk.data, pk.len) < 0)
      t_sleep_ms(1);
    tr_pack_free(&pk);
    if (i % 100 == 0) t_sleep_ms(1); /* let subscriptions start in between */
  }
  return NULL;
}

static void test_subscribe_resume(void **st) {
  (void)st;
  tr_msg *r;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "events");
  tr_pack_array(&pk, 200);
  for (int i = 0; i < 200; i++) {
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "type", i % 2 ? "a" : "b");
  }
  assert_int_equal(call_mp("t", TR_EV_PUBLISH_MANY, pk.data, pk.len, &r), 0);
  tr_msg_free(r);
  tr_pack_free(&pk);
  pthread_t th;
  pthread_create(&th, NULL, publisher, (void *)(intptr_t)3000);
  sub_start(0, "{\"from\":50}");
  sub_start(1, "{\"from\":0,\"filter\":{\"types\":[\"b\"]}}");
  sub_start(2, "{}"); /* from now on */
  pthread_join(th, NULL);
  /* everything after 50; b's are the even positions of both runs */
  assert_int_equal(t_wait_ge(&g_rec[0].last, 3200), 3200);
  assert_int_equal(atomic_load(&g_rec[0].dups), 0);
  assert_int_equal(atomic_load(&g_rec[0].n), 3150);
  for (int i = 0; i < 3150; i++) assert_int_equal(g_rec[0].ids[i], 51 + i);
  assert_int_equal(t_wait_ge(&g_rec[1].last, 3199), 3199);
  assert_int_equal(atomic_load(&g_rec[1].dups), 0);
  assert_int_equal(atomic_load(&g_rec[1].n), 1600);
  for (int i = 0; i < 1600; i++) assert_int_equal(g_rec[1].ids[i], 1 + 2 * i);
  /* the third started somewhere in the middle: a contiguous tail */
  assert_int_equal(t_wait_ge(&g_rec[2].last, 3200), 3200);
  int64_t n2 = atomic_load(&g_rec[2].n);
  assert_int_equal(atomic_load(&g_rec[2].dups), 0);
  for (int64_t i = 0; i < n2; i++) assert_int_equal(g_rec[2].ids[i], 3200 - n2 + 1 + i);
  /* bad subscriptions */
  assert_int_equal(call("t", TR_EV_SUBSCRIBE, "{\"from\":\"x\"}", NULL), TR_EINVAL);
  assert_int_equal(call("t", TR_EV_SUBSCRIBE, "{\"filter\":{\"pi\":1}}", NULL), TR_EINVAL);
  assert_int_equal(call("t", TR_EV_SUBSCRIBE, "{\"lease_ms\":0}", NULL), TR_EINVAL);
}

/* Publishes one event and waits for a probe of subscriber i: afterwards
 * everything the bus delivered to i for it has arrived. */
static void publish_and_probe(tr_ref sub, int i) {
  assert_int_equal(call("t", TR_EV_PUBLISH, "{\"type\":\"p\"}", NULL), 0);
  int64_t before = atomic_load(&g_rec[i].probes);
  assert_int_equal(t_send_int(g_sys, sub, MSG_PROBE, i), 0);
  assert_int_equal(t_wait_ge(&g_rec[i].probes, before + 1), before + 1);
}

static void test_unsubscribe_and_lease(void **st) {
  (void)st;
  tr_ref a = sub_start(0, "{}");
  publish_and_probe(a, 0);
  assert_int_equal(atomic_load(&g_rec[0].n), 1);
  assert_int_equal(t_send_int(g_sys, a, MSG_UNSUB, 0), 0);
  assert_int_equal(t_wait_ge(&g_rec[0].unsubscribed, 1), 1);
  publish_and_probe(a, 0);
  publish_and_probe(a, 0);
  assert_int_equal(atomic_load(&g_rec[0].n), 1); /* nothing after the unsubscribe */
  /* a lease that is not renewed lapses (checked every second) */
  tr_ref b = sub_start(1, "{\"lease_ms\":1}");
  int64_t got = -1;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (got != atomic_load(&g_rec[1].n) && t_now_ms() < end) {
    got = atomic_load(&g_rec[1].n);
    t_sleep_ms(200);
    publish_and_probe(b, 1);
  }
  assert_int_equal(got, atomic_load(&g_rec[1].n));
  publish_and_probe(b, 1);
  assert_int_equal(got, atomic_load(&g_rec[1].n)); /* and stays lapsed */
}

/* ------------------------------------------------------------ aggregations */

enum { NEV = 3000 };
typedef struct gen {
  uint64_t time;
  int type; /* 0 a, 1 b, 2 c */
  int user;
} gen;
static gen g_ev[NEV];
static const char *TYPES[3] = {"a", "b", "c"};

static uint64_t brute_count(char gran, uint64_t start, int type, int user) {
  uint64_t b = gran == 'm' ? 60000 : gran == 'h' ? 3600000 : 86400000, n = 0;
  for (int i = 0; i < NEV; i++)
    if (g_ev[i].time / b * b == start && g_ev[i].type == type && (user < 0 || g_ev[i].user == user))
      n++;
  return n;
}

/* Checks an answer's [[start, type, count]] rows against brute force, and
 * that the rows cover every event of the range. */
static void check_counts(const char *gran_name, char gran, int user) {
  char j[256];
  uint64_t base = g_ev[0].time;
  snprintf(j, sizeof j, "{\"bucket\":\"%s\",\"from_time\":%llu,\"to_time\":%llu%s}", gran_name,
           (unsigned long long)base, (unsigned long long)(g_ev[NEV - 1].time + 1),
           user >= 0 ? ",\"filter\":{\"bk\":\"u3\"}" : "");
  tr_msg *r;
  assert_int_equal(call("agg", TR_EV_COUNT, j, &r), 0);
  tr_unpack u, a;
  uint32_t n;
  tr_unpack_init(&u, r->data, r->len);
  assert_int_equal(tr_unpack_find(&u, "buckets", &a), 0);
  assert_int_equal(tr_unpack_array(&a, &n), 0);
  uint64_t total = 0, prev = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t three;
    uint64_t start, count;
    char type[8];
    assert_int_equal(tr_unpack_array(&a, &three), 0);
    assert_int_equal(tr_unpack_uint(&a, &start), 0);
    assert_int_equal(tr_unpack_str_copy(&a, type, sizeof type), 0);
    assert_int_equal(tr_unpack_uint(&a, &count), 0);
    assert_true(start >= prev);
    prev = start;
    int t = type[0] - 'a';
    assert_int_equal(count, brute_count(gran, start, t, user));
    total += count;
  }
  uint64_t want = 0;
  for (int i = 0; i < NEV; i++) want += user < 0 || g_ev[i].user == user;
  assert_int_equal(total, want);
  tr_msg_free(r);
}

static uint64_t brute_funnel(int steps, uint64_t within, int upto) {
  /* per user: attempts as the documentation defines them */
  uint64_t n = 0;
  for (int u = 0; u < 20; u++) {
    int k = 0, best = 0;
    uint64_t t0 = 0;
    for (int i = 0; i < NEV; i++) {
      if (g_ev[i].user != u) continue;
      int expired = k && within && g_ev[i].time - t0 > within;
      if (k > 0 && k < steps && !expired && g_ev[i].type == k) k++;
      else if (g_ev[i].type == 0 && (k == 0 || (expired && k < steps))) k = 1, t0 = g_ev[i].time;
      if (k > best) best = k;
    }
    if (best >= upto) n++;
  }
  return n;
}

static void test_aggregations(void **st) {
  (void)st;
  srand(7);
  uint64_t t = 1700000000000ull + 12345; /* not on a bucket boundary */
  for (int i = 0; i < NEV; i++) {
    t += (uint64_t)(rand() % 20000);
    g_ev[i] = (gen){t, rand() % 3, rand() % 20};
  }
  for (int at = 0; at < NEV; at += 500) {
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_str(&pk, "events");
    tr_pack_array(&pk, 500);
    for (int i = at; i < at + 500; i++) {
      char bk[8];
      snprintf(bk, sizeof bk, "u%d", g_ev[i].user);
      tr_pack_map(&pk, 4);
      tr_pack_kv_str(&pk, "type", TYPES[g_ev[i].type]);
      tr_pack_str(&pk, "time");
      tr_pack_uint(&pk, g_ev[i].time);
      tr_pack_kv_str(&pk, "bk", bk);
      tr_pack_str(&pk, "attrs");
      tr_pack_map(&pk, 1);
      tr_pack_kv_int(&pk, "user", g_ev[i].user);
    }
    assert_int_equal(call_mp("agg", TR_EV_PUBLISH_MANY, pk.data, pk.len, NULL), 0);
    tr_pack_free(&pk);
  }
  check_counts("minute", 'm', -1);
  check_counts("hour", 'h', -1);
  check_counts("day", 'd', -1);
  check_counts("minute", 'm', 3); /* a filter the counters do not have: a scan */
  check_counts("hour", 'h', 3);
  /* distinct users per hour, by bk and by attrs.user */
  const char *ofs[2] = {"bk", "attrs.user"};
  for (int o = 0; o < 2; o++) {
    char j[256];
    snprintf(j, sizeof j, "{\"bucket\":\"hour\",\"of\":\"%s\",\"filter\":{\"types\":[\"b\"]}}",
             ofs[o]);
    tr_msg *r;
    assert_int_equal(call("agg", TR_EV_DISTINCT, j, &r), 0);
    tr_unpack u, a;
    uint32_t n;
    tr_unpack_init(&u, r->data, r->len);
    assert_int_equal(tr_unpack_find(&u, "buckets", &a), 0);
    assert_int_equal(tr_unpack_array(&a, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
      uint32_t two;
      uint64_t start, count;
      assert_int_equal(tr_unpack_array(&a, &two), 0);
      assert_int_equal(tr_unpack_uint(&a, &start), 0);
      assert_int_equal(tr_unpack_uint(&a, &count), 0);
      int seen[20] = {0};
      uint64_t want = 0;
      for (int e = 0; e < NEV; e++)
        if (g_ev[e].time / 3600000 * 3600000 == start && g_ev[e].type == 1 &&
            !seen[g_ev[e].user]++)
          want++;
      assert_int_equal(count, want);
    }
    tr_msg_free(r);
  }
  /* funnels a -> b -> c by bk, without and with a window */
  uint64_t windows[3] = {0, 600000, 60000};
  for (int w = 0; w < 3; w++) {
    char j[256];
    snprintf(j, sizeof j, "{\"steps\":[\"a\",\"b\",\"c\"],\"by\":\"bk\",\"within_ms\":%llu}",
             (unsigned long long)windows[w]);
    tr_msg *r;
    assert_int_equal(call("agg", TR_EV_FUNNEL, j, &r), 0);
    tr_unpack u, a;
    uint32_t n;
    tr_unpack_init(&u, r->data, r->len);
    assert_int_equal(tr_unpack_find(&u, "steps", &a), 0);
    assert_int_equal(tr_unpack_array(&a, &n), 0);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < n; i++) {
      uint32_t two;
      uint64_t count;
      assert_int_equal(tr_unpack_array(&a, &two), 0);
      assert_int_equal(tr_unpack_skip(&a), 0);
      assert_int_equal(tr_unpack_uint(&a, &count), 0);
      assert_int_equal(count, brute_funnel(3, windows[w], (int)i + 1));
    }
    tr_msg_free(r);
  }
  /* counts survive a restart: they are in the store with the events */
  tr_system_free(g_sys);
  start();
  check_counts("minute", 'm', -1);
  tr_msg *r;
  assert_int_equal(call("agg", TR_EV_PUBLISH, "{\"type\":\"a\"}", &r), 0);
  assert_int_equal(get_uint(r, "id"), NEV + 1);
  tr_msg_free(r);
}

/* ------------------------------------------------------------ retention */

static void retention_info(const char *topic, uint64_t *first, uint64_t *last, uint64_t *events,
                           uint64_t *bytes) {
  tr_msg *r;
  assert_int_equal(call(topic, TR_EV_RETENTION, "{}", &r), 0);
  *first = get_uint(r, "first"), *last = get_uint(r, "last");
  *events = get_uint(r, "events"), *bytes = get_uint(r, "bytes");
  tr_msg_free(r);
}

static void test_retention(void **st) {
  (void)st;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000;
  /* 40 old events (2 h ago), 60 new ones */
  for (int i = 0; i < 100; i++) {
    char j[128];
    snprintf(j, sizeof j, "{\"type\":\"x\",\"time\":%llu}",
             (unsigned long long)(i < 40 ? now - 7200000 + (uint64_t)i : now));
    assert_int_equal(call("ret", TR_EV_PUBLISH, j, NULL), 0);
  }
  uint64_t first, last, events, bytes;
  retention_info("ret", &first, &last, &events, &bytes);
  assert_int_equal(events, 100);
  assert_int_equal(call("ret", TR_EV_RETENTION, "{\"max_age_ms\":3600000}", NULL), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  do {
    t_sleep_ms(20);
    retention_info("ret", &first, &last, &events, &bytes);
  } while (events != 60 && t_now_ms() < end);
  assert_int_equal(events, 60);
  assert_int_equal(first, 41);
  assert_int_equal(last, 100);
  uint64_t ids[200];
  assert_int_equal(query_ids("ret", "{}", ids, 200, NULL), 60);
  assert_int_equal(ids[0], 41);
  /* the counters lost exactly the old ones */
  tr_msg *r;
  assert_int_equal(call("ret", TR_EV_COUNT, "{\"bucket\":\"day\"}", &r), 0);
  tr_unpack u, a;
  tr_unpack_init(&u, r->data, r->len);
  uint64_t total = 0;
  uint32_t n;
  assert_int_equal(tr_unpack_find(&u, "buckets", &a), 0);
  assert_int_equal(tr_unpack_array(&a, &n), 0);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t three;
    uint64_t c;
    tr_unpack_array(&a, &three);
    tr_unpack_skip(&a), tr_unpack_skip(&a);
    tr_unpack_uint(&a, &c);
    total += c;
  }
  assert_int_equal(total, 60);
  tr_msg_free(r);
  /* by size: each event is the same size here; keep 25 of them */
  uint64_t each = bytes / events;
  assert_int_equal(bytes % events, 0);
  char j[128];
  snprintf(j, sizeof j, "{\"max_age_ms\":0,\"max_bytes\":%llu}",
           (unsigned long long)(each * 25 + each / 2));
  assert_int_equal(call("ret", TR_EV_RETENTION, j, NULL), 0);
  end = t_now_ms() + WAIT_MS;
  do {
    t_sleep_ms(20);
    retention_info("ret", &first, &last, &events, &bytes);
  } while (events != 25 && t_now_ms() < end);
  assert_int_equal(events, 25);
  assert_int_equal(first, 76);
  assert_int_equal(last, 100);
  assert_int_equal(bytes, each * 25);
  /* and it all holds after a restart */
  tr_system_free(g_sys);
  start();
  retention_info("ret", &first, &last, &events, &bytes);
  assert_int_equal(first, 76);
  assert_int_equal(last, 100);
  assert_int_equal(query_ids("ret", "{}", ids, 200, NULL), 25);
}

/* ------------------------------------------------------------ held-back index entries */

/* A model of the lag: the pending ids of each value, and when the first
 * of them came. */
enum { LV = 700 };
typedef struct lag_model {
  uint64_t pend[LV][64];
  uint32_t npend[LV];
  uint64_t since[LV];
  uint64_t now, last_since, taken;
  bool all;
} lag_model;

static int lag_check(void *arg, char field, ev_str v, const uint64_t *ids, uint32_t n) {
  lag_model *m = arg;
  unsigned k;
  assert_int_equal(sscanf(v.p, "v%u", &k), 1);
  assert_true(k < LV);
  assert_int_equal(field, k % 2 ? 'p' : 'b');
  /* the value with all its pending ids, in order, and only if due */
  assert_int_equal(n, m->npend[k]);
  for (uint32_t i = 0; i < n; i++) assert_int_equal(ids[i], m->pend[k][i]);
  assert_true(m->all || m->since[k] + EV_LAG_MS <= m->now);
  /* oldest first */
  assert_true(m->since[k] >= m->last_since);
  m->last_since = m->since[k];
  m->npend[k] = 0;
  m->taken += n;
  return 0;
}

/* The lag on its own, against the model: values come out oldest first,
 * each with all its ids in order, only when due (or all), and stop once
 * the budget is reached; in flight they are still found and take no new
 * ids; a failed write puts them back first in line; the smallest waiting
 * id is always known; the hash stays right through many removals (a value
 * taken out and added again is a new one). */
static void test_lag_structure(void **st) {
  (void)st;
  static lag_model m;
  memset(&m, 0, sizeof m);
  ev_lag l = {0};
  uint64_t id = 0, seed = 42, total = 0;
  m.now = 1000000;
  for (int round = 0; round < 400; round++) {
    for (int k = 0; k < 100; k++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t v = (uint32_t)(seed >> 33) % LV;
      if (m.npend[v] == 64) continue;
      char name[16];
      int n = snprintf(name, sizeof name, "v%u", v);
      assert_int_equal(ev_lag_add(&l, v % 2 ? 'p' : 'b', (ev_str){name, (size_t)n}, ++id, m.now),
                       0);
      if (!m.npend[v]) m.since[v] = m.now;
      m.pend[v][m.npend[v]++] = id;
      total++;
    }
    m.now += 37;
    uint64_t min = 0;
    for (uint32_t v = 0; v < LV; v++)
      if (m.npend[v] && (!min || m.pend[v][0] < min)) min = m.pend[v][0];
    assert_int_equal(ev_lag_oldest(&l), min);
    assert_int_equal(l.nids, total);
    m.all = round % 17 == 16;
    m.last_since = 0;
    m.taken = 0;
    static uint32_t before[LV];
    memcpy(before, m.npend, sizeof before);
    uint64_t budget = round % 5 ? UINT64_MAX : 50;
    int64_t t = ev_lag_take(&l, m.now, m.all, budget, lag_check, &m);
    assert_int_equal(t, (int64_t)m.taken);
    if (budget == UINT64_MAX) /* nothing due is left behind */
      assert_false(m.all ? l.head != NULL : ev_lag_due(&l, m.now));
    else if (ev_lag_due(&l, m.now) || (m.all && l.head))
      assert_true(m.taken >= budget); /* it stopped for the budget only */
    /* in flight: still found, with all their ids; nothing joins them */
    for (uint32_t v = 0; v < LV; v += 7) {
      char name[16];
      int n = snprintf(name, sizeof name, "v%u", v);
      const uint64_t *ids;
      uint32_t k = ev_lag_find(&l, v % 2 ? 'p' : 'b', (ev_str){name, (size_t)n}, &ids);
      assert_int_equal(k, before[v]);
      for (uint32_t i = 0; i < k; i++) assert_int_equal(ids[i], m.pend[v][i]);
      if (before[v] && !m.npend[v]) /* taken */
        assert_int_equal(ev_lag_add(&l, v % 2 ? 'p' : 'b', (ev_str){name, (size_t)n}, id + 1, m.now),
                         TR_EINVAL);
    }
    assert_int_equal(l.nids, total);
    if (round % 7 == 3) { /* the write failed: they wait again, first in line */
      ev_lag_landed(&l, false);
      memcpy(m.npend, before, sizeof before);
    } else {
      ev_lag_landed(&l, true);
      total -= m.taken;
    }
    assert_int_equal(l.nids, total);
  }
  ev_lag_clear(&l);
  assert_int_equal(ev_lag_oldest(&l), 0);
  assert_int_equal(l.nids, 0);
  ev_lag_free(&l);
}

static uint64_t indexed_to(const char *topic) {
  tr_msg *r;
  assert_int_equal(call(topic, TR_EV_RETENTION, "{}", &r), 0);
  uint64_t v = get_uint(r, "indexed");
  tr_msg_free(r);
  return v;
}

/* Waits until every event of topic has its pi and bk entries written,
 * reading the store (asking the topic would wake it). */
static void wait_indexed(const char *topic) {
  tr_store *stor = tr_system_store(g_sys);
  ev_tables tb;
  assert_int_equal(ev_tables_get(stor, &tb), 0);
  char q[80];
  snprintf(q, sizeof q, "ev/%s", topic);
  uint64_t end = t_now_ms() + WAIT_MS, first, next;
  ev_meta m;
  do {
    t_sleep_ms(50);
    tr_store_view *v;
    assert_int_equal(tr_store_view_begin(stor, &v), 0);
    assert_int_equal(tr_queue_info(stor, v, q, strlen(q), &first, &next), 0);
    assert_int_equal(ev_meta_load(stor, v, &tb, topic, &m), 0);
    tr_store_view_end(v);
  } while (m.indexed_to + 1 < next && t_now_ms() < end);
  assert_true(m.indexed_to + 1 >= next);
}

enum { LG_N = 1200, LG_BK = 23, LG_PI = 57 };
static uint8_t lg_bk[LG_N + 1], lg_pi[LG_N + 1]; /* by id; 0xff: dropped */
static uint64_t lg_n;

/* Publishes n events with random bk and pi values (some without). */
static void lg_publish(uint32_t n, uint64_t *seed) {
  char *j = malloc(64 + n * 96);
  size_t o = (size_t)sprintf(j, "{\"events\":[");
  for (uint32_t i = 0; i < n; i++) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    uint8_t b = (uint8_t)((*seed >> 33) % (LG_BK + 1)), p = (uint8_t)((*seed >> 45) % (LG_PI + 1));
    o += (size_t)sprintf(j + o, "%s{\"type\":\"x\"", i ? "," : "");
    if (b < LG_BK) o += (size_t)sprintf(j + o, ",\"bk\":\"b%u\"", b);
    if (p < LG_PI) o += (size_t)sprintf(j + o, ",\"pi\":\"p%u\"", p);
    o += (size_t)sprintf(j + o, "}");
    lg_n++;
    lg_bk[lg_n] = b, lg_pi[lg_n] = p;
  }
  sprintf(j + o, "]}");
  assert_int_equal(call("lg", TR_EV_PUBLISH_MANY, j, NULL), 0);
  free(j);
}

/* Every query by every bk and pi value gives exactly the model's ids, in
 * one answer and paged 7 at a time (pages cross the indexed bound). */
static void lg_check(void) {
  static uint64_t ids[LG_N + 1];
  for (int f = 0; f < 2; f++)
    for (uint32_t v = 0; v < (f ? LG_PI : LG_BK); v++) {
      uint64_t want[LG_N + 1];
      uint32_t nw = 0;
      for (uint64_t id = 1; id <= lg_n; id++)
        if ((f ? lg_pi : lg_bk)[id] == v) want[nw++] = id;
      char q[128];
      snprintf(q, sizeof q, "{\"max\":10000,\"filter\":{\"%s\":\"%c%u\"}}", f ? "pi" : "bk",
               f ? 'p' : 'b', v);
      uint32_t n = query_ids("lg", q, ids, LG_N + 1, NULL);
      assert_int_equal(n, nw);
      for (uint32_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
      uint64_t after = 0, page[8];
      uint32_t got = 0;
      int more = 1;
      while (more) {
        snprintf(q, sizeof q, "{\"max\":7,\"after\":%llu,\"filter\":{\"%s\":\"%c%u\"}}",
                 (unsigned long long)after, f ? "pi" : "bk", f ? 'p' : 'b', v);
        uint32_t k = query_ids("lg", q, page, 8, &more);
        for (uint32_t i = 0; i < k; i++) assert_int_equal(page[i], want[got + i]);
        got += k;
        if (k) after = page[k - 1];
        if (!k) break;
      }
      assert_int_equal(got, nw);
    }
}

static int lg_count_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key, (void)klen, (void)val, (void)vlen;
  (*(uint64_t *)arg)++;
  return 0;
}

/* The pi and bk entries of the index of a topic (raw, not through a query). */
static uint64_t lg_ix_entries(void) {
  tr_store *stor = tr_system_store(g_sys);
  ev_tables tb;
  assert_int_equal(ev_tables_get(stor, &tb), 0);
  uint64_t n = 0;
  for (int f = 0; f < 2; f++) {
    uint8_t pre[8] = {'l', 'g', 0, (uint8_t)(f ? 'p' : 'b')};
    tr_store_view *v;
    assert_int_equal(tr_store_view_begin(stor, &v), 0);
    assert_true(tr_table_scan_from(stor, v, tb.ix, pre, 4, pre, 4, lg_count_one, &n) >= 0);
    tr_store_view_end(v);
  }
  return n;
}

/* Queries by pi and bk see every event whether its entries are written
 * or still held back, before and after they are written, across a
 * restart that lost the held-back ones, and after retention, which takes
 * the entries of what it drops and nothing else. */
static void test_held_back_index(void **st) {
  (void)st;
  uint64_t seed = 7;
  lg_n = 0;
  for (int i = 0; i < 4; i++) lg_publish(150, &seed);
  wait_indexed("lg"); /* by the topic's own tick: nothing asks it meanwhile */
  lg_check();         /* all from the index */
  uint64_t with = 0;
  for (uint64_t id = 1; id <= lg_n; id++) with += (lg_bk[id] < LG_BK) + (lg_pi[id] < LG_PI);
  assert_int_equal(lg_ix_entries(), with);
  lg_publish(200, &seed);
  lg_check(); /* some from the index, the rest one by one */
  /* a restart before the new entries are written: rebuilt from the events */
  lg_publish(200, &seed);
  uint64_t before = indexed_to("lg");
  tr_system_free(g_sys);
  start();
  assert_true(indexed_to("lg") >= before);
  lg_check();
  wait_indexed("lg");
  lg_check();
  with = 0;
  for (uint64_t id = 1; id <= lg_n; id++) with += (lg_bk[id] < LG_BK) + (lg_pi[id] < LG_PI);
  assert_int_equal(lg_ix_entries(), with);
  /* retention by size: keep about the newest 300 (more come meanwhile,
   * held back: the size bound writes them at once) */
  uint64_t first, last, events, bytes;
  retention_info("lg", &first, &last, &events, &bytes);
  lg_publish(50, &seed);
  char j[96];
  snprintf(j, sizeof j, "{\"max_bytes\":%llu}", (unsigned long long)(bytes / events * 300));
  assert_int_equal(call("lg", TR_EV_RETENTION, j, NULL), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  do {
    t_sleep_ms(20);
    retention_info("lg", &first, &last, &events, &bytes);
  } while (events > 300 && t_now_ms() < end);
  assert_true(events <= 300 && events > 250);
  for (uint64_t id = 1; id < first; id++) lg_bk[id] = lg_pi[id] = 0xff;
  lg_check();
  wait_indexed("lg");
  with = 0;
  for (uint64_t id = first; id <= lg_n; id++) with += (lg_bk[id] < LG_BK) + (lg_pi[id] < LG_PI);
  assert_int_equal(lg_ix_entries(), with);
}

/* A read asked while entries are held back, whose job runs only after
 * the tick has written them: they are in the index of its view and in the
 * ids it copied, and it gives each event once. */
static sem_t g_dgate;
static void hold_d(void) { sem_wait(&g_dgate); }

static void *ask_dedup(void *arg) {
  uint64_t *ids = arg;
  ids[0] = query_ids("dd", "{\"max\":1000,\"filter\":{\"bk\":\"d\"}}", ids + 1, 100, NULL);
  return NULL;
}

static void test_held_back_read_dedup(void **st) {
  (void)st;
  char j[2048];
  size_t o = (size_t)sprintf(j, "{\"events\":[");
  for (int i = 0; i < 40; i++)
    o += (size_t)sprintf(j + o, "%s{\"type\":\"x\",\"bk\":\"%s\"}", i ? "," : "",
                         i % 4 ? "d" : "other");
  sprintf(j + o, "]}");
  assert_int_equal(call("dd", TR_EV_PUBLISH_MANY, j, NULL), 0); /* one write */
  if (indexed_to("dd") != 0) { /* a stall of over a second let the tick write them */
    print_message("the entries were written before the read was asked: nothing to test\n");
    skip();
  }
  sem_init(&g_dgate, 0, 0);
  ev_read_hook = hold_d;
  static uint64_t ids[101];
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, ask_dedup, ids), 0);
  wait_indexed("dd"); /* the job waits; the tick writes the entries */
  sem_post(&g_dgate);
  pthread_join(th, NULL);
  ev_read_hook = NULL;
  sem_destroy(&g_dgate);
  assert_int_equal(ids[0], 30);
  for (uint32_t i = 0, k = 0; i < 40; i++)
    if (i % 4) assert_int_equal(ids[1 + k++], i + 1);
}

/* With the store full, a write that carries held-back entries fails:
 * they wait a tick (no loop of failing writes), publishers hear
 * TR_EFULL, and once there is room again the entries are written and
 * queries by bk find every acknowledged event. */
static int setup_small(void **st) {
  g_map_limit = 2u << 20;
  int rc = setup(st);
  g_map_limit = 0;
  return rc;
}

static void test_held_back_store_full(void **st) {
  (void)st;
  static uint8_t bk_of[100000]; /* by id, acknowledged events only */
  uint64_t acked = 0;
  int rc = 0;
  char *j = malloc(100 * 200);
  for (int batch = 0; batch < 1000 && rc == 0; batch++) {
    size_t o = (size_t)sprintf(j, "{\"events\":[");
    for (int i = 0; i < 100; i++)
      o += (size_t)sprintf(j + o, "%s{\"type\":\"x\",\"bk\":\"f%d\",\"data\":\"%0100d\"}",
                           i ? "," : "", (batch + i) % 7, i);
    sprintf(j + o, "]}");
    rc = call("full", TR_EV_PUBLISH_MANY, j, NULL);
    if (rc == 0)
      for (int i = 0; i < 100; i++) bk_of[++acked] = (uint8_t)((batch + i) % 7);
  }
  free(j);
  assert_int_equal(rc, TR_EFULL);
  assert_true(acked > 1000);
  /* two ticks with due entries and no room: a retry a tick at most */
  tr_store *stor = tr_system_store(g_sys);
  tr_store_stats a, b;
  tr_store_stats_get(stor, &a);
  t_sleep_ms(2500);
  tr_store_stats_get(stor, &b);
  assert_true(b.requests - a.requests <= 6);
  /* room again: the entries go out */
  assert_int_equal(tr_store_set_map_limit(stor, 64u << 20), 0);
  wait_indexed("full");
  static uint64_t ids[100000];
  for (uint8_t v = 0; v < 7; v++) {
    char q[96];
    snprintf(q, sizeof q, "{\"max\":10000,\"filter\":{\"bk\":\"f%u\"}}", v);
    uint32_t n = query_ids("full", q, ids, 100000, NULL), k = 0;
    for (uint64_t id = 1; id <= acked; id++)
      if (bk_of[id] == v) {
        assert_true(k < n);
        assert_int_equal(ids[k++], id);
      }
    assert_int_equal(n, k);
  }
}

/* ------------------------------------------------------------ bad requests */


/* ------------------------------------------------------------ reads off the actor */

/* Read jobs wait here until the test lets them go. */
static sem_t g_gate;
static _Atomic int g_held;
static void hold_read(void) {
  atomic_fetch_add(&g_held, 1);
  sem_wait(&g_gate);
}

typedef struct held_ask {
  pthread_t th;
  _Atomic int rc; /* polled by the test's thread */
  uint32_t n;     /* events in the answer */
} held_ask;

static void *ask_query(void *arg) {
  held_ask *h = arg;
  tr_msg *r = NULL;
  int rc = call("r", TR_EV_QUERY, "{\"max\":100}", &r);
  if (rc == 0) {
    tr_unpack u, a;
    tr_unpack_init(&u, r->data, r->len);
    if (tr_unpack_find(&u, "events", &a) == 0) tr_unpack_array(&a, &h->n);
  }
  tr_msg_free(r);
  atomic_store(&h->rc, rc);
  return NULL;
}

/* A read that takes long holds up neither the topic's writes nor its other
 * work: it answers over the events durable when it was asked; more reads
 * than EV_READS_MAX at once are refused with TR_EAGAIN, not queued without
 * bound. */
static void test_reads_off_the_actor(void **st) {
  (void)st;
  for (int i = 0; i < 3; i++)
    assert_int_equal(call("r", TR_EV_PUBLISH, "{\"type\":\"a\"}", NULL), 0);
  sem_init(&g_gate, 0, 0);
  atomic_store(&g_held, 0);
  ev_read_hook = hold_read;
  held_ask first = {.rc = 1};
  assert_int_equal(pthread_create(&first.th, NULL, ask_query, &first), 0);
  while (atomic_load(&g_held) < 1) t_sleep_ms(1);
  /* the read is running: the topic still takes and answers a publish */
  tr_msg *r;
  assert_int_equal(call("r", TR_EV_PUBLISH, "{\"type\":\"b\"}", &r), 0);
  assert_int_equal(get_uint(r, "id"), 4);
  tr_msg_free(r);
  /* fill the topic's read slots; one more is refused */
  enum { MORE = EV_READS_MAX };
  held_ask *more = calloc(MORE, sizeof *more);
  assert_non_null(more);
  for (int i = 0; i < MORE; i++) atomic_store(&more[i].rc, 1); /* 1: not answered yet */
  for (int i = 0; i < MORE; i++)
    assert_int_equal(pthread_create(&more[i].th, NULL, ask_query, &more[i]), 0);
  /* EV_READS_MAX - 1 of them hold a slot and one is refused (any of them) */
  int refused = 0;
  while (!refused) {
    for (int i = 0; i < MORE && !refused; i++)
      if (more[i].rc == TR_EAGAIN) refused = 1;
    t_sleep_ms(1);
  }
  for (int i = 0; i < 2 * MORE; i++) sem_post(&g_gate);
  pthread_join(first.th, NULL);
  assert_int_equal(first.rc, 0);
  assert_int_equal(first.n, 3); /* what was durable when it was asked */
  int eagain = 0;
  for (int i = 0; i < MORE; i++) {
    pthread_join(more[i].th, NULL);
    if (more[i].rc == TR_EAGAIN) eagain++;
    else assert_int_equal(more[i].rc, 0), assert_int_equal(more[i].n, 4);
  }
  assert_int_equal(eagain, 1);
  free(more);
  ev_read_hook = NULL;
  sem_destroy(&g_gate);
}

static void test_bad_requests(void **st) {
  (void)st;
  char name[128];
  assert_int_equal(tr_events_name("", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_events_name("a/b", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_events_name("a\nb", name, sizeof name), TR_EINVAL);
  const struct {
    uint32_t type;
    const char *json;
  } bad[] = {
      {TR_EV_PUBLISH, "{}"},
      {TR_EV_PUBLISH, "{\"type\":\"\"}"},
      {TR_EV_PUBLISH, "{\"type\":3}"},
      {TR_EV_PUBLISH, "{\"type\":\"a\",\"typo\":1}"},
      {TR_EV_PUBLISH, "{\"type\":\"a\",\"time\":-5}"},
      {TR_EV_PUBLISH, "{\"type\":\"a\",\"attrs\":{\"x\":[1]}}"},
      {TR_EV_PUBLISH, "[1]"},
      {TR_EV_PUBLISH_MANY, "{\"events\":[]}"},
      {TR_EV_PUBLISH_MANY, "{\"events\":[{\"type\":\"a\"},{}]}"},
      {TR_EV_QUERY, "{\"max\":0}"},
      {TR_EV_QUERY, "{\"max\":10001}"},
      {TR_EV_QUERY, "{\"filter\":{\"nope\":1}}"},
      {TR_EV_QUERY, "{\"filter\":{\"types\":\"a\"}}"},
      {TR_EV_QUERY, "{\"from_time\":10,\"to_time\":5}"},
      {TR_EV_COUNT, "{\"bucket\":\"week\"}"},
      {TR_EV_COUNT, "{}"},
      {TR_EV_DISTINCT, "{\"bucket\":\"hour\",\"of\":\"nothing\"}"},
      {TR_EV_FUNNEL, "{\"steps\":[],\"by\":\"bk\"}"},
      {TR_EV_FUNNEL, "{\"steps\":[\"a\"],\"by\":\"key\"}"},
      {TR_EV_RETENTION, "{\"max_bytes\":-1}"},
      {TR_EV_REPLY, "{}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tr_msg *r = NULL;
    int rc = call("bad", bad[i].type, bad[i].json, &r);
    if (rc != TR_EINVAL) print_error("request %zu (%s) gave %d\n", i, bad[i].json, rc);
    assert_int_equal(rc, TR_EINVAL);
    tr_unpack u;
    const char *e;
    size_t n;
    tr_unpack_init(&u, r->data, r->len);
    assert_int_equal(tr_unpack_find_str(&u, "error", &e, &n), 0);
    assert_true(n > 0);
    tr_msg_free(r);
  }
  /* nothing of the bad ones was stored */
  uint64_t first, last, events, bytes;
  retention_info("bad", &first, &last, &events, &bytes);
  assert_int_equal(events, 0);
  assert_int_equal(last, 0);
}

/* ------------------------------------------------------------ pages by bytes */

/* Events of ~100 KB: a query's page stops before max_bytes (one event at
 * least) and says more, and paging with after reaches every event once. */
static void test_query_pages_by_bytes(void **st) {
  (void)st;
  enum { N = 40, DATA = 100000 };
  char *j = malloc(DATA + 128);
  assert_non_null(j);
  for (int i = 0; i < N; i++) {
    int o = sprintf(j, "{\"type\":\"fat\",\"data\":\"");
    memset(j + o, 'a' + i % 26, DATA);
    strcpy(j + o + DATA, "\"}");
    assert_int_equal(call("fat", TR_EV_PUBLISH, j, NULL), 0);
  }
  free(j);
  uint64_t after = 0, ids[64];
  int pages = 0, more = 1;
  uint32_t seen = 0;
  while (more) {
    char q[128];
    snprintf(q, sizeof q, "{\"after\":%llu,\"max\":1000,\"max_bytes\":1000000}",
             (unsigned long long)after);
    uint32_t k = query_ids("fat", q, ids, 64, &more);
    assert_true(k >= 1 && k <= 10); /* 10 x 100 KB is over 1,000,000 bytes */
    for (uint32_t i = 0; i < k; i++) assert_int_equal(ids[i], after + 1 + i);
    after += k;
    seen += k;
    pages++;
  }
  assert_int_equal(seen, N);
  assert_true(pages >= N / 10);
  /* one event bigger than max_bytes still comes, alone */
  uint32_t k = query_ids("fat", "{\"max\":5,\"max_bytes\":1024}", ids, 64, &more);
  assert_int_equal(k, 1);
  assert_true(more);
  assert_int_equal(call("fat", TR_EV_QUERY, "{\"max_bytes\":1023}", NULL), TR_EINVAL);
  assert_int_equal(call("fat", TR_EV_QUERY, "{\"max_bytes\":\"x\"}", NULL), TR_EINVAL);
}

/* ------------------------------------------------------------ an activation's orphan */

/* The writer stalls while this request's completion runs (completions run
 * on its thread): writes submitted meanwhile stay in flight. */
static sem_t g_stall_in, g_stall_go;
static void stall_done(void *arg, int status) {
  (void)arg, (void)status;
  sem_post(&g_stall_in);
  sem_wait(&g_stall_go);
}

static uint32_t g_fail_type;
static int fail_one(uint32_t type) { return type == g_fail_type ? TR_EIO : 0; }

typedef struct {
  char json[512];
  int rc;
  uint64_t first, last;
} pub_ask;

static void pub_json(pub_ask *a, int n, const char *bk) {
  size_t o = (size_t)sprintf(a->json, "{\"events\":[");
  for (int i = 0; i < n; i++)
    o += (size_t)sprintf(a->json + o, "%s{\"type\":\"x\",\"bk\":\"%s\"}", i ? "," : "", bk);
  sprintf(a->json + o, "]}");
}

static void *publish_ro(void *arg) {
  pub_ask *a = arg;
  tr_msg *r = NULL;
  a->rc = call("ro", TR_EV_PUBLISH_MANY, a->json, &r);
  if (a->rc == 0) {
    a->first = get_uint(r, "first"), a->last = get_uint(r, "last");
    tr_msg_free(r);
  }
  return NULL;
}

static void check_bk(const char *bk, uint64_t from, uint64_t to) {
  char j[128];
  uint64_t ids[32];
  snprintf(j, sizeof j, "{\"max\":100,\"filter\":{\"bk\":\"%s\"}}", bk);
  uint32_t k = query_ids("ro", j, ids, 32, NULL);
  assert_int_equal(k, to - from + 1);
  for (uint32_t i = 0; i < k; i++) assert_int_equal(ids[i], from + i);
}

/* An activation ends (its receive fails) while its write is in flight; the
 * next activation reads the topic before that write lands. It must not
 * number its events after the stale last id (the queue numbers them after
 * the orphan's, and its acks and index entries would name other events):
 * it adopts the orphan, answers the orphan's asker, and numbers its own
 * events after the orphan's. */
static void test_orphan_write_adopted(void **st) {
  (void)st;
  pub_ask a = {0}, b = {0}, c = {0};
  pub_json(&a, 10, "a");
  publish_ro(&a);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.first, 1);
  assert_int_equal(a.last, 10);
  tr_store *store = tr_system_store(g_sys);
  sem_init(&g_stall_in, 0, 0);
  sem_init(&g_stall_go, 0, 0);
  tr_store_req x = {.op = tr_op_kv_put("stall", 5, "x", 1, 0), .done = stall_done};
  assert_int_equal(tr_store_submit(store, &x), 0);
  sem_wait(&g_stall_in);
  /* the write of b waits behind the stall */
  pub_json(&b, 5, "b");
  pthread_t tb, tc;
  assert_int_equal(pthread_create(&tb, NULL, publish_ro, &b), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (!atomic_load(&store->inbox) && t_now_ms() < end) t_sleep_ms(1);
  bool in_flight = atomic_load(&store->inbox) != NULL;
  /* the activation ends on its next message */
  size_t n0 = tr_virtual_count(g_sys);
  g_fail_type = TR_EV_COUNT;
  ev_receive_hook = fail_one;
  bool sent = tr_system_virtual_send(g_sys, "events/ro", TR_EV_COUNT, "\x80", 1) == 0;
  while (sent && tr_virtual_count(g_sys) >= n0 && t_now_ms() < end) t_sleep_ms(1);
  bool ended = tr_virtual_count(g_sys) < n0;
  ev_receive_hook = NULL;
  if (!in_flight || !ended) sem_post(&g_stall_go); /* no hang on the way out */
  assert_true(in_flight);
  assert_true(ended);
  /* the next activation answers at once, from the state before b */
  uint64_t first, last, events, bytes;
  retention_info("ro", &first, &last, &events, &bytes);
  assert_int_equal(last, 10);
  pub_json(&c, 3, "c");
  assert_int_equal(pthread_create(&tc, NULL, publish_ro, &c), 0);
  sem_post(&g_stall_go);
  pthread_join(tb, NULL);
  pthread_join(tc, NULL);
  assert_int_equal(x.status, 0);
  assert_int_equal(b.rc, 0); /* answered by the activation that adopted it */
  assert_int_equal(b.first, 11);
  assert_int_equal(b.last, 15);
  assert_int_equal(c.rc, 0);
  assert_int_equal(c.first, 16);
  assert_int_equal(c.last, 18);
  check_bk("a", 1, 10);
  check_bk("b", 11, 15);
  check_bk("c", 16, 18);
  retention_info("ro", &first, &last, &events, &bytes);
  assert_int_equal(last, 18);
  assert_int_equal(events, 18);
  sem_destroy(&g_stall_in);
  sem_destroy(&g_stall_go);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_publish_ids_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_subscribe_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsubscribe_and_lease, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aggregations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
      cmocka_unit_test(test_lag_structure),
      cmocka_unit_test_setup_teardown(test_held_back_index, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_back_read_dedup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_back_store_full, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_reads_off_the_actor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orphan_write_adopted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_pages_by_bytes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
