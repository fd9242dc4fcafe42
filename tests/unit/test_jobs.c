/* test_jobs.c - durable job queues (troupe/jobs.h): create, fetch-and-lock,
 * complete exactly once, lock expiry, failure with retries and incidents,
 * BPMN errors, extend and unlock, long polling, push subscriptions, state
 * across a restart, and every bad request. Requests are written as JSON
 * and converted with the codec's bridge. */
#include <ftw.h>
#include <stdio.h>

#include "actors/jobs/queue.h"
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
  tr_msg *r;
  int rc = t_ask_json(g_sys, name, type, json, &r);
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

/* A withdrawn job (its activity left another way) is gone for workers
 * and for its creator; withdrawing again, or an unknown key, is ok. */
static void test_cancel(void **st) {
  (void)st;
  char id[300], out[4096], req[512];
  create("cancel", "\"key\":\"pi9:3\",\"notify\":\"wf/9\"", id, sizeof id);
  assert_int_equal(call("cancel", TR_JOB_FETCH, "{\"worker\":\"w\",\"max\":1,\"lock_ms\":60000}",
                        out, sizeof out), 0);
  assert_int_equal(count(out, id), 1);
  assert_int_equal(call("cancel", TR_JOB_CANCEL, "{\"key\":\"pi9:3\"}", NULL, 0), 0);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"w\"}", id);
  assert_int_equal(call("cancel", TR_JOB_COMPLETE, req, NULL, 0), TR_ENOENT);
  snprintf(req, sizeof req, "{\"id\":\"%s\"}", id);
  assert_int_equal(call("cancel", TR_JOB_GET, req, NULL, 0), TR_ENOENT);
  assert_int_equal(call("cancel", TR_JOB_CANCEL, "{\"key\":\"pi9:3\"}", NULL, 0), 0);
  assert_int_equal(call("cancel", TR_JOB_CANCEL, req, NULL, 0), 0); /* by id */
  assert_int_equal(call("cancel", TR_JOB_CANCEL, "{\"key\":\"nope\"}", NULL, 0), 0);
  assert_int_equal(call("cancel", TR_JOB_CANCEL, "{}", NULL, 0), TR_EINVAL);
  assert_int_equal(call("cancel", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(count(out, id), 0);
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

/* ------------------------------------------------------------ the state's indexes */

/* The queue's state keeps indexes (key hash, available set, deadline heap,
 * finished list, in-flight per worker) so a message never walks all jobs.
 * These tests drive the pure state with random events, the way the actor
 * and recovery do, and check after every step that each index says what a
 * walk of the job list says. */

static uint64_t g_rng;
static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
  return n ? (uint32_t)(g_rng % n) : 0;
}

static const char *const k_workers[] = {"a", "b", "c"};

static int apply_pk(jq *q, tr_pack *pk) {
  assert_int_equal(pk->err, 0);
  int rc = jq_apply(q, pk->data, pk->len);
  tr_pack_free(pk);
  assert_true(rc == 0 || rc == TR_ECORRUPT); /* corrupt: refused, nothing changed */
  return rc;
}

static jq_job *nth_job(jq *q, uint32_t i) {
  jq_job *j = q->head;
  while (j && i--) j = j->next;
  return j;
}

static int brute_inflight(const jq *q, const char *w, uint64_t now) {
  int n = 0;
  for (const jq_job *j = q->head; j; j = j->next)
    n += j->state == J_LOCKED && j->pushed && j->until_ms > now && !strcmp(j->worker, w);
  return n;
}

/* Every index against a walk of the list, at time now. */
static void check_indexes(jq *q, uint64_t now) {
  assert_int_equal(jq_advance(q, now), now);
  assert_int_equal(jq_check(q), 0);
  size_t avail = 0, finished = 0;
  const jq_job *first = NULL;
  uint64_t next = 0;
  for (const jq_job *j = q->head; j; j = j->next) {
    int a = jq_available(j, now);
    assert_int_equal(j->apos != 0, a); /* in the set exactly when available */
    avail += (size_t)a;
    if (a && !first) first = j;
    if ((j->state == J_LOCKED || j->state == J_RETRY) && j->until_ms > now &&
        (!next || j->until_ms < next))
      next = j->until_ms;
    finished += j->state == J_FINISHED;
    if (j->key[0]) { /* the oldest job with the key */
      const jq_job *old = j;
      for (const jq_job *o = q->head; o != j; o = o->next)
        if (!strcmp(o->key, j->key)) {
          old = o;
          break;
        }
      assert_ptr_equal(jq_find_key(q, j->key, strlen(j->key)), old);
    }
  }
  assert_int_equal(jq_available_count(q, now), avail);
  assert_ptr_equal(jq_first_available(q, now), first);
  assert_int_equal(jq_next_change(q, now), next);
  assert_int_equal(q->nfinished, finished);
  for (const jq_job *j = q->fhead; j; j = j->fnext) assert_int_equal(j->state, J_FINISHED);
  for (int w = 0; w < 3; w++)
    assert_int_equal(jq_inflight(q, k_workers[w], now), brute_inflight(q, k_workers[w], now));
  assert_null(jq_find_key(q, "no such key", 11));
  assert_null(jq_find_key(q, "", 0));
}

static void random_create(jq *q, uint64_t now, uint32_t *ids) {
  char id[32], key[32] = "";
  snprintf(id, sizeof id, "%x-t", ++*ids);
  uint32_t r = rnd(10);
  if (r < 6) snprintf(key, sizeof key, "k%u", *ids);
  else if (r < 8) snprintf(key, sizeof key, "k%u", rnd(*ids) + 1); /* maybe a key in use */
  const char *strs[JQ_STRS] = {rnd(2) ? "wf/1" : "", "pi", "act", "", rnd(2) ? "dk" : "", ""};
  tr_pack pk = TR_PACK_INIT;
  size_t vl = rnd(2); /* vars: one msgpack 1, or none */
  jq_pack_create(&pk, id, key, vl ? "\x01" : NULL, vl, (int64_t)rnd(3) - 1, strs, now);
  apply_pk(q, &pk);
}

/* One random event about job j (some do not fit its state and are refused).
 * A finished job only gets what the actor can send about one (jq_apply
 * takes a lock or failure of a finished job, but its snapshot would not
 * restore: the actor never sends those). */
static void random_event(jq *q, jq_job *j, uint64_t now) {
  static const int finished_kinds[] = {1, 5, 7, 8};
  tr_pack pk = TR_PACK_INIT;
  uint32_t kind = j->state == J_FINISHED ? (uint32_t)finished_kinds[rnd(4)] : rnd(9);
  switch (kind) {
  case 0: /* lock, maybe already expired when it is applied (replay) */
    tr_pack_array(&pk, 5);
    tr_pack_uint(&pk, EV_LOCK);
    tr_pack_str(&pk, j->id);
    tr_pack_str(&pk, k_workers[rnd(3)]);
    tr_pack_uint(&pk, now + rnd(40) - 8);
    tr_pack_bool(&pk, (int)rnd(2));
    break;
  case 1: /* complete or BPMN error, with or without a creator to tell */
    tr_pack_array(&pk, 3);
    tr_pack_uint(&pk, rnd(2) ? EV_DONE : EV_BERR);
    tr_pack_str(&pk, j->id);
    if (rnd(3)) tr_pack_bin(&pk, "\x80", 1);
    else tr_pack_nil(&pk);
    break;
  case 2:
    tr_pack_array(&pk, 5);
    tr_pack_uint(&pk, EV_FAIL);
    tr_pack_str(&pk, j->id);
    tr_pack_int(&pk, rnd(3));
    tr_pack_uint(&pk, now + rnd(30));
    tr_pack_str(&pk, "boom");
    break;
  case 3: /* extend (or shorten): the old deadline must not count any more */
    tr_pack_array(&pk, 3);
    tr_pack_uint(&pk, EV_EXTEND);
    tr_pack_str(&pk, j->id);
    tr_pack_uint(&pk, now + rnd(40));
    break;
  case 4:
  case 5:
    tr_pack_array(&pk, 2);
    tr_pack_uint(&pk, j->state != J_FINISHED && rnd(2) ? EV_UNLOCK : EV_FORGET);
    tr_pack_str(&pk, j->id);
    break;
  case 6:
    tr_pack_array(&pk, 3);
    tr_pack_uint(&pk, EV_RETRIES);
    tr_pack_str(&pk, j->id);
    tr_pack_uint(&pk, rnd(3));
    break;
  case 7: /* malformed: refused after the job left its indexes */
    tr_pack_array(&pk, 3);
    tr_pack_uint(&pk, EV_LOCK);
    tr_pack_str(&pk, j->id);
    tr_pack_uint(&pk, 1);
    break;
  default: /* a fetch: the oldest available, locked */
    if (!(j = jq_first_available(q, now))) return;
    tr_pack_array(&pk, 5);
    tr_pack_uint(&pk, EV_LOCK);
    tr_pack_str(&pk, j->id);
    tr_pack_str(&pk, k_workers[rnd(3)]);
    tr_pack_uint(&pk, now + 1 + rnd(40));
    tr_pack_bool(&pk, (int)rnd(2));
    break;
  }
  apply_pk(q, &pk);
}

static void snapshot_restore(jq *q) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(jq_snapshot(q, &pk), 0);
  assert_int_equal(jq_restore(q, pk.data, pk.len), 0);
  tr_pack_free(&pk);
}

static void test_indexes_match_scan(void **st) {
  (void)st;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    g_rng = seed * 0x9e3779b97f4a7c15ull;
    jq q;
    assert_int_equal(jq_init(&q, "t"), 0);
    uint64_t now = 1000;
    uint32_t ids = 0;
    for (int step = 0; step < 1500; step++) {
      uint32_t r = rnd(20);
      if (r < 5 || !q.count) random_create(&q, now, &ids);
      else if (r < 16) random_event(&q, nth_job(&q, rnd((uint32_t)q.count)), now);
      else if (r < 19) now += rnd(12);
      else if (!rnd(10)) snapshot_restore(&q); /* recovery builds the same indexes */
      else assert_int_equal(jq_advance(&q, now - 5), now); /* the clock steps back: ignored */
      check_indexes(&q, now);
    }
    jq_free(&q);
  }
}

/* The available set hands out the oldest first, whatever order jobs came
 * back in; a lock's earlier deadline is forgotten when it is extended. */
static void test_indexes_order_and_extend(void **st) {
  (void)st;
  jq q;
  assert_int_equal(jq_init(&q, "t"), 0);
  const char *strs[JQ_STRS] = {"", "", "", "", "", ""};
  char id[8];
  for (int i = 0; i < 3; i++) {
    tr_pack pk = TR_PACK_INIT;
    snprintf(id, sizeof id, "%d-t", i + 1);
    jq_pack_create(&pk, id, "", NULL, 0, -1, strs, 0);
    assert_int_equal(apply_pk(&q, &pk), 0);
  }
  jq_job *a = jq_first_available(&q, 100);
  assert_string_equal(a->id, "1-t");
  for (int i = 0; i < 2; i++) { /* lock 1 and 2 until 110 */
    tr_pack pk = TR_PACK_INIT;
    tr_pack_array(&pk, 5);
    tr_pack_uint(&pk, EV_LOCK);
    tr_pack_str(&pk, jq_first_available(&q, 100)->id);
    tr_pack_str(&pk, "w");
    tr_pack_uint(&pk, 110);
    tr_pack_bool(&pk, 1);
    assert_int_equal(apply_pk(&q, &pk), 0);
  }
  assert_string_equal(jq_first_available(&q, 100)->id, "3-t");
  assert_int_equal(jq_inflight(&q, "w", 100), 2);
  assert_int_equal(jq_next_change(&q, 100), 110);
  tr_pack pk = TR_PACK_INIT; /* extend 1 to 200 */
  tr_pack_array(&pk, 3);
  tr_pack_uint(&pk, EV_EXTEND);
  tr_pack_str(&pk, "1-t");
  tr_pack_uint(&pk, 200);
  assert_int_equal(apply_pk(&q, &pk), 0);
  /* at 110, 2's lock expires: it is older than 3, so it comes first */
  assert_string_equal(jq_first_available(&q, 110)->id, "2-t");
  assert_int_equal(jq_available_count(&q, 110), 2);
  assert_int_equal(jq_inflight(&q, "w", 110), 1);
  assert_int_equal(jq_next_change(&q, 110), 200);
  assert_int_equal(jq_check(&q), 0);
  jq_free(&q);
}

/* Jobs whose vars add up to more than a message may carry (280 x 256 KiB):
 * a list pages through them; a fetch of 1000 answers with as many as fit
 * its byte budget, and the next fetches get the rest; none is locked
 * without being handed out. */
/* The jobs of a fetch's or a list's answer, counted in its msgpack (as
 * JSON it would be over the bridge's 1 MiB); *more gets its more flag. */
static int jobs_count(const char *topic, uint32_t type, const char *json, int *more) {
  char name[256];
  assert_int_equal(tr_job_queue_name(topic, name, sizeof name), 0);
  tr_msg *r;
  int rc = t_ask_json(g_sys, name, type, json, &r);
  if (rc < 0) return rc;
  if ((rc = tr_job_reply_status(r, NULL)) < 0) {
    tr_msg_free(r);
    return rc;
  }
  tr_unpack u, jobs;
  uint32_t n = 0;
  tr_unpack_init(&u, r->data, r->len);
  if (more) tr_unpack_find_bool(&u, "more", more);
  rc = tr_unpack_find(&u, "jobs", &jobs);
  if (rc == 0) rc = tr_unpack_array(&jobs, &n);
  tr_msg_free(r);
  return rc < 0 ? rc : (int)n;
}

static void test_fetch_bounded_by_bytes(void **st) {
  (void)st;
  enum { N = 280, VAR = 256 << 10 }; /* a request's JSON stays under 1 MiB */
  char *req = malloc(VAR + 64);
  assert_non_null(req);
  int o = sprintf(req, "{\"vars\":{\"blob\":\"");
  memset(req + o, 'b', VAR);
  strcpy(req + o + VAR, "\"}}");
  char small[512];
  for (int i = 0; i < N; i++)
    assert_int_equal(call("fat", TR_JOB_CREATE, req, small, sizeof small), 0);
  free(req);
  /* a list pages through them, by bytes and by max */
  int listed = 0, more = 1, pages = 0;
  char page[64];
  while (more) {
    snprintf(page, sizeof page, "{\"first\":%d}", listed);
    int k = jobs_count("fat", TR_JOB_LIST, page, &more);
    assert_true(k >= 1 && k <= 32);
    listed += k;
    pages++;
  }
  assert_int_equal(listed, N);
  assert_true(pages >= N / 32);
  assert_int_equal(jobs_count("fat", TR_JOB_LIST, "{\"first\":5,\"max\":3}", &more), 3);
  assert_true(more);
  assert_int_equal(jobs_count("fat", TR_JOB_LIST, "{\"first\":279,\"max\":3}", &more), 1);
  assert_false(more);
  assert_int_equal(jobs_count("fat", TR_JOB_LIST, "{\"first\":-1}", NULL), TR_EINVAL);
  const char *fetch = "{\"worker\":\"w\",\"max\":1000,\"lock_ms\":600000}";
  int got = 0, fetches = 0;
  while (got < N) {
    int k = jobs_count("fat", TR_JOB_FETCH, fetch, NULL);
    assert_true(k >= 1);
    assert_true(k <= 32); /* 8 MiB of budget */
    got += k;
    fetches++;
  }
  assert_int_equal(got, N);
  assert_true(fetches >= N / 32);
  /* nothing is left to fetch: every job was handed out once */
  assert_int_equal(jobs_count("fat", TR_JOB_FETCH, fetch, NULL), 0);
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
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fetch_bounded_by_bytes, setup, teardown),
      cmocka_unit_test(test_indexes_match_scan),
      cmocka_unit_test(test_indexes_order_and_extend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
