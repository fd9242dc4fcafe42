/* test_jobs.c - durable job queues (troupe/jobs.h): create, fetch-and-lock,
 * complete exactly once, lock expiry, failure with retries and incidents,
 * BPMN errors, extend and unlock, long polling, push subscriptions, state
 * across a restart, and every bad request. Requests are written as JSON
 * and converted with the codec's bridge. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "troupe/jobs.h"

static tr_system *g_sys;
static char g_dir[64];

/* ------------------------------------------------------------ a creator that listens */

static _Atomic int64_t g_done, g_errors, g_incidents, g_done_vars_ok;

/* acks a note: {id} to jobs/<topic> */
static int ack(tr_ctx *ctx, tr_unpack *u) {
  const char *id, *topic;
  size_t il, tl;
  char name[300];
  if (tr_unpack_find_str(u, "id", &id, &il) < 0 || tr_unpack_find_str(u, "topic", &topic, &tl) < 0)
    return TR_EPROTO;
  snprintf(name, sizeof name, "jobs/%.*s", (int)tl, topic);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "id");
  tr_pack_strn(&pk, id, il);
  int rc = tr_virtual_send(ctx, name, TR_JOB_ACK, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int wf_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  if (m->type == TR_JOB_DONE || m->type == TR_JOB_ERROR) ack(ctx, &u);
  if (m->type == TR_JOB_DONE) {
    int64_t a;
    tr_unpack vars;
    if (tr_unpack_find(&u, "vars", &vars) == 0 && tr_unpack_find_int(&vars, "a", &a) == 0 &&
        a == 42)
      atomic_fetch_add(&g_done_vars_ok, 1);
    atomic_fetch_add(&g_done, 1);
  } else if (m->type == TR_JOB_ERROR) {
    const char *code;
    size_t n;
    if (tr_unpack_find_str(&u, "code", &code, &n) == 0 && n == 4 && !memcmp(code, "E042", 4))
      atomic_fetch_add(&g_errors, 1);
  } else if (m->type == TR_JOB_INCIDENT) {
    atomic_fetch_add(&g_incidents, 1);
  }
  return 0;
}

static const tr_behavior wf_b = {.name = "wf", .receive = wf_receive};

/* a creator that never acks: its notes keep coming */
static _Atomic int64_t g_mute;
static int mute_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx, (void)st;
  if (m->type == TR_JOB_DONE) atomic_fetch_add(&g_mute, 1);
  return 0;
}
static const tr_behavior mute_b = {.name = "mute", .receive = mute_receive};

/* ------------------------------------------------------------ helpers */

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static void start(void) {
  tr_config cfg = {.data_dir = g_dir, .durability = TR_DURABLE_NOSYNC};
  assert_int_equal(tr_system_new(&cfg, &g_sys), 0);
  assert_int_equal(tr_jobs_register(g_sys, 0), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "wf", .behavior = &wf_b}), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "mute", .behavior = &mute_b}), 0);
}

static int setup(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trjobsXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  start();
  atomic_store(&g_done, 0), atomic_store(&g_errors, 0), atomic_store(&g_incidents, 0);
  atomic_store(&g_done_vars_ok, 0), atomic_store(&g_mute, 0);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  tr_system_free(g_sys);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* Sends the JSON request to jobs/<topic>; returns the reply status and
 * (if want) the reply as JSON text in out. */
static int call(const char *topic, uint32_t type, const char *json, char *out, size_t cap) {
  char name[256];
  assert_int_equal(tr_job_queue_name(topic, name, sizeof name), 0);
  tr_pack pk = TR_PACK_INIT;
  if (json) assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  tr_msg *r = NULL;
  int rc = tr_system_virtual_ask(g_sys, name, type, pk.data, pk.len, WAIT_MS, &r);
  tr_pack_free(&pk);
  if (rc < 0) return rc;
  rc = tr_job_reply_status(r, NULL);
  if (out) {
    tr_pack js = TR_PACK_INIT;
    assert_int_equal(tr_json_from_msgpack(r->data, r->len, NULL, &js, NULL, 0), 0);
    snprintf(out, cap, "%s", (const char *)js.data);
    tr_pack_free(&js);
  }
  tr_msg_free(r);
  return rc;
}

/* The value of "key":"..." in JSON text (first occurrence), into buf. */
static const char *jstr(const char *json, const char *key, char *buf, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  buf[0] = 0;
  if (!p) return buf;
  p += strlen(pat);
  size_t n = strcspn(p, "\"");
  snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
  return buf;
}

static int count(const char *json, const char *needle) {
  int n = 0;
  for (const char *p = json; (p = strstr(p, needle)); p++) n++;
  return n;
}

static void create(const char *topic, const char *extra, char *id, size_t cap) {
  char req[512], out[512];
  snprintf(req, sizeof req, "{\"vars\":{\"x\":1}%s%s}", extra ? "," : "", extra ? extra : "");
  assert_int_equal(call(topic, TR_JOB_CREATE, req, out, sizeof out), 0);
  jstr(out, "id", id, cap);
  assert_true(id[0]);
}

/* ------------------------------------------------------------ tests */

static void test_create_fetch_complete_once(void **st) {
  (void)st;
  char id[300], out[4096], topic[256];
  create("charge", "\"notify\":\"wf/1\",\"pi\":\"p1\",\"bk\":\"order-7\"", id, sizeof id);
  assert_int_equal(tr_job_id_topic(id, topic, sizeof topic), 0);
  assert_string_equal(topic, "charge");
  assert_int_equal(call("charge", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, "\"state\":\"available\""), 1);
  assert_non_null(strstr(out, "\"bk\":\"order-7\""));

  assert_int_equal(call("charge", TR_JOB_FETCH, "{\"worker\":\"w1\",\"max\":10,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 1);
  assert_non_null(strstr(out, "\"vars\":{\"x\":1}"));
  assert_non_null(strstr(out, "\"worker\":\"w1\""));
  /* locked: nobody else gets it */
  assert_int_equal(call("charge", TR_JOB_FETCH, "{\"worker\":\"w2\",\"max\":10,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0);

  char req[512];
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w2\"}", id);
  assert_int_equal(call("charge", TR_JOB_COMPLETE, req, NULL, 0), TR_EPERM);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w1\",\"vars\":{\"a\":42}}", id);
  assert_int_equal(call("charge", TR_JOB_COMPLETE, req, NULL, 0), 0);
  assert_int_equal(call("charge", TR_JOB_COMPLETE, req, NULL, 0), TR_ENOENT); /* never twice */
  assert_int_equal(t_wait_ge(&g_done, 1), 1);
  assert_int_equal(atomic_load(&g_done_vars_ok), 1);
  t_sleep_ms(50);
  assert_int_equal(atomic_load(&g_done), 1);
  assert_int_equal(call("charge", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0);
}

static void test_lock_expiry_and_long_poll(void **st) {
  (void)st;
  char id[300], out[4096];
  create("mail", NULL, id, sizeof id);
  assert_int_equal(
      call("mail", TR_JOB_FETCH, "{\"worker\":\"w1\",\"max\":1,\"lock_ms\":30}", out, sizeof out), 0);
  assert_int_equal(count(out, id), 1);
  /* a long poll is answered when the lock expires and the job is free again */
  assert_int_equal(call("mail", TR_JOB_FETCH,
                        "{\"worker\":\"w2\",\"max\":1,\"lock_ms\":60000,\"wait_ms\":60000}", out,
                        sizeof out), 0);
  assert_int_equal(count(out, id), 1);
  assert_non_null(strstr(out, "\"worker\":\"w2\""));
  /* the first worker's lock is gone: its completion is refused */
  char req[512];
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w1\"}", id);
  assert_int_equal(call("mail", TR_JOB_COMPLETE, req, NULL, 0), TR_EPERM);
  /* an empty queue answers a short poll when it ends, with nothing */
  assert_int_equal(call("empty", TR_JOB_FETCH,
                        "{\"worker\":\"w\",\"max\":5,\"lock_ms\":1000,\"wait_ms\":50}", out,
                        sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0);
}

typedef struct {
  const char *topic, *json;
  char out[4096];
  int rc;
} poll_arg;

static void *poller(void *p) {
  poll_arg *a = p;
  a->rc = call(a->topic, TR_JOB_FETCH, a->json, a->out, sizeof a->out);
  return NULL;
}

static void test_long_poll_wakes_on_create(void **st) {
  (void)st;
  poll_arg a = {.topic = "wake",
                .json = "{\"worker\":\"w\",\"max\":3,\"lock_ms\":60000,\"wait_ms\":600000}"};
  pthread_t th;
  pthread_create(&th, NULL, poller, &a);
  t_sleep_ms(50); /* usually waiting by now; either order must work */
  char id[300];
  create("wake", NULL, id, sizeof id);
  pthread_join(th, NULL);
  assert_int_equal(a.rc, 0);
  assert_int_equal(count(a.out, id), 1);
}

static void test_failure_retries_incident(void **st) {
  (void)st;
  char id[300], out[4096], req[512];
  create("pay", "\"notify\":\"wf/2\"", id, sizeof id);
  assert_int_equal(call("pay", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000}", out,
                        sizeof out), 0);
  snprintf(req, sizeof req,
           "{\"id\":\"%s\",\"worker\":\"w\",\"retries\":1,\"retry_ms\":20,\"error\":\"timeout\"}", id);
  assert_int_equal(call("pay", TR_JOB_FAIL, req, NULL, 0), 0);
  /* available again after retry_ms, with retries 1 */
  assert_int_equal(call("pay", TR_JOB_FETCH,
                        "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000,\"wait_ms\":60000}", out,
                        sizeof out), 0);
  assert_int_equal(count(out, id), 1);
  assert_non_null(strstr(out, "\"retries\":1"));
  assert_non_null(strstr(out, "\"error\":\"timeout\""));
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\",\"retries\":0,\"error\":\"down\"}", id);
  assert_int_equal(call("pay", TR_JOB_FAIL, req, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&g_incidents, 1), 1);
  assert_int_equal(call("pay", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"state\":\"incident\""));
  assert_int_equal(call("pay", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000}", out,
                        sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0); /* an incident is not handed out */
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"retries\":2}", id);
  assert_int_equal(call("pay", TR_JOB_SET_RETRIES, req, NULL, 0), 0);
  assert_int_equal(call("pay", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000}", out,
                        sizeof out), 0);
  assert_int_equal(count(out, id), 1);
}

static void test_bpmn_error_extend_unlock(void **st) {
  (void)st;
  char id[300], id2[300], out[4096], req[512];
  create("check", "\"notify\":\"wf/3\"", id, sizeof id);
  create("check", NULL, id2, sizeof id2);
  assert_int_equal(call("check", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":2,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 2);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\"}", id);
  assert_int_equal(call("check", TR_JOB_BPMN_ERROR, req, NULL, 0), TR_EINVAL); /* no code */
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\",\"code\":\"E042\",\"message\":\"no\"}",
           id);
  assert_int_equal(call("check", TR_JOB_BPMN_ERROR, req, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&g_errors, 1), 1);
  /* extend: the lock now ends far away */
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\",\"lock_ms\":3600000}", id2);
  assert_int_equal(call("check", TR_JOB_EXTEND, req, NULL, 0), 0);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"x\",\"lock_ms\":10}", id2);
  assert_int_equal(call("check", TR_JOB_EXTEND, req, NULL, 0), TR_EPERM);
  /* unlock: free at once */
  snprintf(req, sizeof req, "{\"id\":\"%s\"}", id2);
  assert_int_equal(call("check", TR_JOB_UNLOCK, req, NULL, 0), 0);
  assert_int_equal(call("check", TR_JOB_FETCH, "{\"worker\":\"v\",\"max\":2,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, id2), 1);
}

/* ------------------------------------------------------------ push */

#define PUSH_JOBS 40
static _Atomic int64_t g_pushed, g_completed, g_max_inflight, g_inflight;

typedef struct {
  uint64_t sub_corr;
} pw_state;

static int pw_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)arg;
  return tr_job_subscribe(ctx, "push", "pw", 3, 60000, &((pw_state *)st)->sub_corr);
}

static int pw_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type == TR_JOB_PUSH) {
    int64_t now = atomic_fetch_add(&g_inflight, 1) + 1, max;
    while (now > (max = atomic_load(&g_max_inflight)) &&
           !atomic_compare_exchange_weak(&g_max_inflight, &max, now)) {
    }
    atomic_fetch_add(&g_pushed, 1);
    tr_unpack u;
    tr_unpack_init(&u, m->data, m->len);
    char id[300];
    const char *p;
    size_t n;
    if (tr_unpack_find_str(&u, "id", &p, &n) < 0 || n >= sizeof id) return TR_EPROTO;
    memcpy(id, p, n);
    id[n] = 0;
    /* done before asking: the queue may push the next one before it answers */
    atomic_fetch_sub(&g_inflight, 1);
    return tr_job_complete(ctx, "push", id, "pw", NULL, 0, NULL);
  }
  if (m->type == TR_JOB_REPLY && tr_job_reply_status(m, NULL) == 0 &&
      m->corr != ((pw_state *)st)->sub_corr)
    atomic_fetch_add(&g_completed, 1);
  return 0;
}

static const tr_behavior pw_b = {.name = "pw", .state_size = sizeof(pw_state), .init = pw_init,
                                 .receive = pw_receive};

static void test_push_subscription(void **st) {
  (void)st;
  tr_ref w;
  assert_int_equal(tr_system_spawn(g_sys, &pw_b, NULL, NULL, &w), 0);
  for (int i = 0; i < PUSH_JOBS; i++) {
    char id[300];
    create("push", NULL, id, sizeof id);
  }
  assert_int_equal(t_wait_ge(&g_completed, PUSH_JOBS), PUSH_JOBS);
  assert_int_equal(atomic_load(&g_pushed), PUSH_JOBS); /* each once */
  assert_true(atomic_load(&g_max_inflight) <= 3);
  char out[4096];
  assert_int_equal(call("push", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0);
}

/* ------------------------------------------------------------ restart, bad input */

static void test_state_survives_restart(void **st) {
  (void)st;
  char a[300], b[300], c[300], out[4096], req[512];
  create("ship", NULL, a, sizeof a);
  create("ship", "\"key\":\"order-9\"", b, sizeof b);
  create("ship", NULL, c, sizeof c);
  char again[300];
  create("ship", "\"key\":\"order-9\"", again, sizeof again);
  assert_string_equal(again, b); /* the same creation twice is one job */
  assert_int_equal(call("ship", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":3600000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, a), 1);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\"}", c);
  tr_system_free(g_sys); /* a new process on the same data */
  start();
  assert_int_equal(call("ship", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 3);
  assert_int_equal(count(out, "\"state\":\"locked\""), 1);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\"}", a);
  assert_int_equal(call("ship", TR_JOB_COMPLETE, req, NULL, 0), 0);
  /* ids are not reused after a restart */
  char d[300];
  create("ship", NULL, d, sizeof d);
  assert_string_not_equal(d, a);
  assert_string_not_equal(d, b);
  assert_string_not_equal(d, c);
}

/* more than snapshot_every (1,000) events: the restart restores a snapshot
 * and replays the rest */
static void test_snapshot_restart(void **st) {
  (void)st;
  static char ids[600][300];
  char out[8192], req[512];
  for (int i = 0; i < 600; i++) create("snap", NULL, ids[i], sizeof ids[i]);
  for (int i = 0; i < 300; i++) {
    assert_int_equal(call("snap", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":3600000}",
                          out, sizeof out), 0);
    assert_int_equal(count(out, ids[i]), 1); /* in creation order */
    snprintf(req, sizeof req, "{\"id\":\"%.299s\",\"worker\":\"w\"}", ids[i]);
    assert_int_equal(call("snap", TR_JOB_COMPLETE, req, NULL, 0), 0);
  }
  /* one locked, one failed into an incident, both kept by the snapshot */
  assert_int_equal(call("snap", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":2,\"lock_ms\":3600000}",
                        out, sizeof out), 0);
  snprintf(req, sizeof req, "{\"id\":\"%.299s\",\"worker\":\"w\",\"retries\":0,\"error\":\"bad\"}",
           ids[301]);
  assert_int_equal(call("snap", TR_JOB_FAIL, req, NULL, 0), 0);
  tr_system_free(g_sys);
  start();
  static char big[200000];
  assert_int_equal(call("snap", TR_JOB_LIST, "{}", big, sizeof big), 0);
  assert_int_equal(count(big, "\"id\":"), 300);
  assert_int_equal(count(big, "\"state\":\"locked\""), 1);
  assert_int_equal(count(big, "\"state\":\"incident\""), 1);
  assert_int_equal(count(big, "\"error\":\"bad\""), 1);
  assert_int_equal(count(big, ids[299]), 0);
  assert_int_equal(count(big, ids[599]), 1);
}

/* a note nobody acked is sent again after a restart; an acked one is not */
static void test_outbox(void **st) {
  (void)st;
  char id[300], out[4096], req[512];
  create("out", "\"notify\":\"mute/1\"", id, sizeof id);
  assert_int_equal(call("out", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\"}", id);
  assert_int_equal(call("out", TR_JOB_COMPLETE, req, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&g_mute, 1), 1);
  assert_int_equal(call("out", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, "\"id\":"), 0); /* finished: gone for workers */
  tr_system_free(g_sys);
  start();
  assert_int_equal(call("out", TR_JOB_LIST, "{}", out, sizeof out), 0); /* activates it */
  assert_int_equal(t_wait_ge(&g_mute, 2), 2);
  snprintf(req, sizeof req, "{\"id\":\"%s\"}", id);
  assert_int_equal(call("out", TR_JOB_ACK, req, NULL, 0), 0);
  assert_int_equal(call("out", TR_JOB_ACK, req, NULL, 0), 0); /* twice is fine */
  assert_int_equal(call("out", TR_JOB_COMPLETE, "{\"id\":\"x\",\"worker\":\"w\"}", NULL, 0),
                   TR_ENOENT);
  tr_system_free(g_sys);
  start();
  assert_int_equal(call("out", TR_JOB_LIST, "{}", out, sizeof out), 0);
  t_sleep_ms(50);
  assert_int_equal(atomic_load(&g_mute), 2);
}

static void test_bad_requests(void **st) {
  (void)st;
  char name[256], id[300];
  assert_int_equal(tr_job_queue_name("", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_job_queue_name("a\x01", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_job_queue_name("t", name, 4), TR_EINVAL);
  assert_int_equal(tr_job_id_topic("nodash", id, sizeof id), TR_EINVAL);
  assert_int_equal(tr_job_id_topic("zz-t", id, sizeof id), TR_EINVAL);
  assert_int_equal(tr_job_id_topic("1f-", id, sizeof id), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "[1,2]", NULL, 0), TR_EPROTO);
  assert_int_equal(call("bad", TR_JOB_CREATE, NULL, NULL, 0), TR_EPROTO);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"retries\":\"x\"}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"notify\":\"no-slash\"}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"pi\":7}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"notify_ref\":[1]}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"notify_ref\":[1,0]}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_CREATE, "{\"notify_ref\":[1,2],\"notify\":\"wf/1\"}", NULL, 0),
                   TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_FETCH, "{\"max\":1,\"lock_ms\":1}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":0,\"lock_ms\":1}", NULL, 0),
                   TR_EINVAL);
  assert_int_equal(
      call("bad", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":5000,\"lock_ms\":1}", NULL, 0),
      TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_COMPLETE, "{\"id\":\"1-bad\",\"worker\":\"w\"}", NULL, 0),
                   TR_ENOENT);
  assert_int_equal(call("bad", TR_JOB_COMPLETE, "{\"id\":\"1-bad\"}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_UNLOCK, "{}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("bad", TR_JOB_SET_RETRIES, "{\"id\":\"1-bad\",\"retries\":1}", NULL, 0),
                   TR_ENOENT);
  assert_int_equal(call("bad", TR_JOB_SUBSCRIBE, "{\"worker\":\"w\"}", NULL, 0), TR_EINVAL);
  create("bad", NULL, id, sizeof id);
  char req[512];
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"retries\":-4}", id);
  assert_int_equal(call("bad", TR_JOB_SET_RETRIES, req, NULL, 0), TR_EINVAL);
  /* a fetch that is not an ask has nobody to hand jobs to: it locks none */
  tr_pack fp = TR_PACK_INIT;
  const char *fj = "{\"worker\":\"w\",\"max\":10,\"lock_ms\":600000}";
  assert_int_equal(tr_json_to_msgpack(fj, strlen(fj), NULL, &fp, NULL, 0), 0);
  assert_int_equal(tr_system_virtual_send(g_sys, "jobs/bad", TR_JOB_FETCH, fp.data, fp.len), 0);
  tr_pack_free(&fp);
  char lst[4096];
  assert_int_equal(call("bad", TR_JOB_LIST, "{}", lst, sizeof lst), 0); /* after the send */
  assert_int_equal(count(lst, "\"state\":\"available\""), 1);
  /* the queue is still fine */
  assert_int_equal(call("bad", TR_JOB_LIST, "{}", NULL, 0), 0);
  /* the reply decoder */
  uint8_t buf[64];
  tr_msg *m = (tr_msg *)buf;
  memset(buf, 0, sizeof buf);
  m->type = TR_JOB_REPLY;
  assert_int_equal(tr_job_reply_status(m, NULL), TR_EPROTO);
  assert_int_equal(tr_job_reply_status(NULL, NULL), TR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_fetch_complete_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_expiry_and_long_poll, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_poll_wakes_on_create, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_retries_incident, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bpmn_error_extend_unlock, setup, teardown),
      cmocka_unit_test_setup_teardown(test_push_subscription, setup, teardown),
      cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
