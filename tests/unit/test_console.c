/* test_console.c - the admin console: every command through the client
 * troupectl uses (tools/troupectl/client.c), the refusals (wrong key,
 * replay, stale timestamp, garbage, oversized), the snapshot stream, the
 * replay guard, start/stop under a watchdog, and the troupectl binary
 * itself with its exit codes. No timing assertions: waits are liveness
 * bounds (WAIT_MS). */
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "client.h"
#include "cluster/console.h"
#include "harness.h"
#include "troupe/supervisor.h"

#define NODE_ID 0x1122334455667788ull
#define NODE_HEX "1122334455667788"
#define FAILED TC_EXIT_FAILED

/* ------------------------------------------------------------ fixture */

static int echo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->flags & TR_MSG_F_ASK) tr_actor_reply(ctx, m, 1, NULL, 0);
  return 0;
}
static const tr_behavior echo_b = {.name = "echo", .receive = echo_receive};
static const tr_behavior worker_b = {.name = "worker", .receive = echo_receive};

static _Atomic int leave_calls, drain_calls, drain_last = -1;
static void on_leave(void *arg) {
  (void)arg;
  atomic_fetch_add(&leave_calls, 1);
}
static void on_drain(void *arg, int on) {
  (void)arg;
  atomic_store(&drain_last, on);
  atomic_fetch_add(&drain_calls, 1);
}

static struct {
  tr_system *sys;
  tr_identity id;
  tr_console *con;
  tr_ref sup, plain;
  char dir[64], keyfile[128];
} F;

static tr_console_opts hooks(void) {
  return (tr_console_opts){.name = "alpha", .interval_ms = 200, .leave = on_leave,
                           .drain = on_drain};
}

/* A key file as troupe writes it: base64, one line, mode 0600. */
static void write_key(const char *path, const uint8_t key[32], int mode) {
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_true(write(fd, b64, strlen(b64)) == (ssize_t)strlen(b64));
  assert_true(write(fd, "\n", 1) == 1);
  fchmod(fd, (mode_t)mode);
  close(fd);
}

static int setup(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  tr_config cfg = {.threads = 2, .node_id = NODE_ID};
  assert_int_equal(tr_system_new(&cfg, &F.sys), 0);
  memset(&F.id, 0, sizeof F.id);
  randombytes_buf(F.id.admin, sizeof F.id.admin);
  F.id.node_id = NODE_ID;
  tr_child_spec child = {.id = "w", .behavior = &worker_b, .restart = TR_RESTART_PERMANENT,
                         .opts = {.name = "worker"}};
  tr_supervisor_spec spec = {TR_ONE_FOR_ONE, 10, 10000, &child, 1};
  tr_spawn_opts so = {.name = "sup"};
  assert_int_equal(tr_system_supervisor_start(F.sys, &spec, &so, &F.sup), 0);
  tr_spawn_opts po = {.name = "plain"};
  assert_int_equal(tr_system_spawn(F.sys, &echo_b, NULL, &po, &F.plain), 0);
  tr_console_opts o = hooks();
  assert_int_equal(tr_console_start(F.sys, NULL, &F.id, "tcp://127.0.0.1:0", &o, &F.con), 0);
  snprintf(F.dir, sizeof F.dir, "/tmp/test_console.XXXXXX");
  assert_non_null(mkdtemp(F.dir));
  snprintf(F.keyfile, sizeof F.keyfile, "%s/admin.key", F.dir);
  write_key(F.keyfile, F.id.admin, 0600);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tr_console_stop(F.con);
  tr_system_free(F.sys);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
  if (system(cmd) != 0) return -1;
  return 0;
}

/* ------------------------------------------------------------ helpers */

static tc_client client_with(const uint8_t key[32], uint32_t timeout_ms) {
  tc_client c;
  char err[256];
  assert_int_equal(tc_open(&c, tr_console_url(F.con), key, timeout_ms, err, sizeof err), 0);
  return c;
}

/* Runs cmd with args given as JSON (or NULL); returns the exit code, and
 * the data as JSON in *data (if set and the call succeeded). */
static int call_as(const uint8_t key[32], const char *cmd, const char *args, json_t **data,
                   tc_result *keep) {
  tc_client c = client_with(key, 5000);
  tr_pack a = TR_PACK_INIT;
  if (args) assert_int_equal(tr_json_to_msgpack(args, strlen(args), NULL, &a, NULL, 0), 0);
  tc_result res;
  int ex = tc_call(&c, cmd, args ? a.data : NULL, a.len, &res);
  if (data) *data = ex == 0 && res.r.data ? tc_json(res.r.data, res.r.data_len) : NULL;
  if (ex == 0 && data) assert_non_null(*data);
  if (keep) {
    *keep = res;
    keep->raw = NULL; /* the reply is freed below; keep the parsed header */
    keep->r.data = NULL;
  }
  tc_result_free(&res);
  tr_pack_free(&a);
  tc_close(&c);
  return ex;
}

static int call(const char *cmd, const char *args, json_t **data) {
  return call_as(F.id.admin, cmd, args, data, NULL);
}

static const char *jstr(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static char *ref_text(tr_ref r, char *buf, size_t n) {
  snprintf(buf, n, "%016llx:%llu", (unsigned long long)r.node, (unsigned long long)r.id);
  return buf;
}

static uint64_t wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ commands */

static void test_status(void **state) {
  (void)state;
  json_t *d;
  assert_int_equal(call("status", NULL, &d), 0);
  assert_string_equal(jstr(d, "node"), NODE_HEX);
  assert_string_equal(jstr(d, "name"), "alpha");
  assert_string_equal(jstr(d, "state"), "up");
  assert_string_equal(jstr(d, "console"), tr_console_url(F.con));
  assert_string_equal(jstr(d, "pub"), tr_console_pub_url(F.con));
  assert_true(json_integer_value(json_object_get(d, "actors")) >= 3);
  json_t *m = json_object_get(d, "members");
  assert_int_equal(json_integer_value(json_object_get(m, "total")), 1);
  assert_int_equal(json_integer_value(json_object_get(m, "up")), 1);
  assert_true(json_integer_value(json_object_get(json_object_get(d, "requests"), "served")) >= 1);
  json_decref(d);
}

static void test_nodes(void **state) {
  (void)state;
  json_t *d;
  assert_int_equal(call("nodes", NULL, &d), 0);
  json_t *nodes = json_object_get(d, "nodes");
  assert_int_equal(json_array_size(nodes), 1);
  json_t *m = json_array_get(nodes, 0);
  assert_string_equal(jstr(m, "id"), NODE_HEX);
  assert_string_equal(jstr(m, "state"), "up");
  assert_string_equal(jstr(m, "console"), tr_console_url(F.con));
  assert_true(json_is_true(json_object_get(m, "self")));
  assert_true(json_integer_value(json_object_get(m, "actors")) >= 3);
  assert_non_null(json_object_get(json_object_get(m, "link"), "rejected_auth"));
  json_decref(d);
}

static void test_actors(void **state) {
  (void)state;
  json_t *d, *a;
  size_t i;
  assert_int_equal(call("actors", NULL, &d), 0);
  /* root, sup, worker, plain */
  assert_true(json_integer_value(json_object_get(d, "total")) >= 4);
  long long prev = -1;
  json_array_foreach(json_object_get(d, "actors"), i, a) { /* busiest first */
    long long depth = json_integer_value(json_object_get(a, "depth"));
    if (prev >= 0) assert_true(depth <= prev);
    prev = depth;
  }
  json_decref(d);

  assert_int_equal(call("actors", "{\"kind\": \"echo\"}", &d), 0);
  assert_int_equal(json_integer_value(json_object_get(d, "total")), 1);
  a = json_array_get(json_object_get(d, "actors"), 0);
  assert_string_equal(jstr(a, "name"), "plain");
  assert_string_equal(jstr(a, "behavior"), "echo");
  char want[48];
  assert_string_equal(jstr(a, "ref"), ref_text(F.plain, want, sizeof want));
  json_decref(d);

  assert_int_equal(call("actors", "{\"limit\": 1, \"sort\": \"id\"}", &d), 0);
  assert_int_equal(json_array_size(json_object_get(d, "actors")), 1);
  assert_false(json_is_true(json_object_get(d, "truncated")));
  json_decref(d);

  assert_int_equal(call("actors", "{\"sort\": \"name\"}", &d), 0);
  const char *last = "";
  json_array_foreach(json_object_get(d, "actors"), i, a) {
    const char *k = jstr(a, "name")[0] ? jstr(a, "name") : jstr(a, "behavior");
    assert_true(strcmp(last, k) <= 0);
    last = k;
  }
  json_decref(d);

  /* a name that is not UTF-8 is shown mended, and spoils nothing */
  tr_ref odd;
  tr_spawn_opts oo = {.name = "odd\xff\x01name"};
  assert_int_equal(tr_system_spawn(F.sys, &echo_b, NULL, &oo, &odd), 0);
  assert_int_equal(call("actors", "{\"sort\": \"name\"}", &d), 0);
  int seen = 0;
  json_array_foreach(json_object_get(d, "actors"), i, a) seen += !strcmp(jstr(a, "name"), "odd??name");
  assert_int_equal(seen, 1);
  json_decref(d);
  tr_system_stop(F.sys, odd);

  tc_result r;
  assert_int_equal(call_as(F.id.admin, "actors", "{\"sort\": \"bogus\"}", NULL, &r), FAILED);
  assert_int_equal(r.r.code, TR_EINVAL);
  assert_int_equal(call_as(F.id.admin, "actors", "{\"limit\": \"x\"}", NULL, &r), TC_EXIT_FAILED);
}

static void test_actor(void **state) {
  (void)state;
  json_t *d;
  char ref[48], arg[128];
  ref_text(F.plain, ref, sizeof ref);
  assert_int_equal(call("actor", "{\"target\": \"plain\"}", &d), 0);
  assert_string_equal(jstr(d, "ref"), ref);
  assert_false(json_is_true(json_object_get(d, "supervised")));
  json_decref(d);
  snprintf(arg, sizeof arg, "{\"target\": \"%llu\"}", (unsigned long long)F.plain.id);
  assert_int_equal(call("actor", arg, &d), 0); /* decimal id */
  assert_string_equal(jstr(d, "ref"), ref);
  json_decref(d);
  snprintf(arg, sizeof arg, "{\"target\": \"%s\"}", ref);
  assert_int_equal(call("actor", arg, &d), 0); /* node:id */
  assert_string_equal(jstr(d, "behavior"), "echo");
  json_decref(d);
  assert_int_equal(call("actor", "{\"target\": \"worker\"}", &d), 0);
  assert_true(json_is_true(json_object_get(d, "supervised")));
  assert_string_equal(jstr(d, "parent_behavior"), "supervisor");
  json_decref(d);

  tc_result r;
  assert_int_equal(call_as(F.id.admin, "actor", "{\"target\": \"nosuch\"}", NULL, &r), FAILED);
  assert_int_equal(r.r.code, TR_ENOENT);
  assert_int_equal(call_as(F.id.admin, "actor", "{\"target\": \"00000000000000ff:5\"}", NULL, &r),
                   TC_EXIT_FAILED);
  assert_non_null(strstr(r.r.error, "another node"));
  assert_int_equal(call_as(F.id.admin, "actor", NULL, NULL, &r), TC_EXIT_FAILED);
  assert_int_equal(r.r.code, TR_EINVAL);
  assert_int_equal(call_as(F.id.admin, "actor", "{\"target\": 7}", NULL, &r), TC_EXIT_FAILED);
}

static void test_stop(void **state) {
  (void)state;
  tr_ref victim;
  tr_spawn_opts o = {.name = "victim"};
  assert_int_equal(tr_system_spawn(F.sys, &echo_b, NULL, &o, &victim), 0);
  json_t *d;
  char ref[48];
  assert_int_equal(call("stop", "{\"target\": \"victim\"}", &d), 0);
  assert_string_equal(jstr(d, "stopped"), ref_text(victim, ref, sizeof ref));
  json_decref(d);
  tr_actor_info info;
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_system_actor_info(F.sys, victim, &info) == 0 && t_now_ms() < end) t_sleep_ms(2);
  assert_int_equal(tr_system_actor_info(F.sys, victim, &info), TR_ENOENT);
  tc_result r;
  assert_int_equal(call_as(F.id.admin, "stop", "{\"target\": \"victim\"}", NULL, &r), FAILED);
  assert_int_equal(r.r.code, TR_ENOENT);
}

static void test_restart(void **state) {
  (void)state;
  tr_ref before, after = TR_REF_NONE;
  uint64_t restarts0 = 0, restarts = 0;
  assert_int_equal(tr_supervisor_child(F.sys, F.sup, "w", &before), 0);
  assert_int_equal(tr_supervisor_restarts(F.sys, F.sup, &restarts0), 0);
  json_t *d;
  char ref[48];
  assert_int_equal(call("restart", "{\"target\": \"worker\"}", &d), 0);
  assert_string_equal(jstr(d, "restarted"), ref_text(before, ref, sizeof ref));
  assert_string_equal(jstr(d, "supervisor"), ref_text(F.sup, ref, sizeof ref));
  json_decref(d);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (t_now_ms() < end) {
    tr_supervisor_restarts(F.sys, F.sup, &restarts);
    if (restarts > restarts0 && tr_supervisor_child(F.sys, F.sup, "w", &after) == 0 &&
        !tr_ref_eq(after, before))
      break;
    t_sleep_ms(2);
  }
  assert_true(restarts > restarts0);
  assert_false(tr_ref_eq(after, before));
  tc_result r; /* plain hangs under the root: nobody would restart it */
  assert_int_equal(call_as(F.id.admin, "restart", "{\"target\": \"plain\"}", NULL, &r), FAILED);
  assert_int_equal(r.r.code, TR_ENOTSUP);
}

static void test_drain_leave(void **state) {
  (void)state;
  json_t *d;
  assert_int_equal(call("drain", "{\"on\": true}", &d), 0);
  assert_true(json_is_true(json_object_get(d, "draining")));
  json_decref(d);
  assert_int_equal(atomic_load(&drain_last), 1);
  assert_int_equal(call("status", NULL, &d), 0);
  assert_true(json_is_true(json_object_get(d, "draining")));
  json_decref(d);
  assert_int_equal(call("drain", "{\"on\": false}", &d), 0);
  json_decref(d);
  assert_int_equal(atomic_load(&drain_last), 0);
  assert_int_equal(call("drain", NULL, &d), 0); /* on by default */
  json_decref(d);
  assert_int_equal(atomic_load(&drain_last), 1);
  call("drain", "{\"on\": false}", NULL);

  int calls = atomic_load(&leave_calls);
  assert_int_equal(call("leave", NULL, &d), 0);
  assert_true(json_is_true(json_object_get(d, "leaving")));
  json_decref(d);
  uint64_t end = t_now_ms() + WAIT_MS; /* the hook runs once the reply is out */
  while (atomic_load(&leave_calls) == calls && t_now_ms() < end) t_sleep_ms(2);
  assert_int_equal(atomic_load(&leave_calls), calls + 1);

  /* a console without hooks refuses both */
  tr_console *bare;
  assert_int_equal(tr_console_start(F.sys, NULL, &F.id, "tcp://127.0.0.1:0", NULL, &bare), 0);
  tc_client c;
  char err[256];
  assert_int_equal(tc_open(&c, tr_console_url(bare), F.id.admin, 5000, err, sizeof err), 0);
  tc_result r;
  assert_int_equal(tc_call(&c, "leave", NULL, 0, &r), TC_EXIT_FAILED);
  assert_int_equal(r.r.code, TR_ENOTSUP);
  tc_result_free(&r);
  assert_int_equal(tc_call(&c, "drain", NULL, 0, &r), TC_EXIT_FAILED);
  assert_int_equal(r.r.code, TR_ENOTSUP);
  tc_result_free(&r);
  tc_close(&c);
  tr_console_stop(bare);
  assert_int_equal(atomic_load(&leave_calls), calls + 1);
}

static void test_unknown_command(void **state) {
  (void)state;
  tc_result r;
  assert_int_equal(call_as(F.id.admin, "frobnicate", NULL, NULL, &r), TC_EXIT_FAILED);
  assert_int_equal(r.r.code, TR_EINVAL);
  assert_non_null(strstr(r.r.error, "unknown command"));
}

/* ------------------------------------------------------------ stream */

static void test_stream(void **state) {
  (void)state;
  tc_sub s;
  char err[256], url[256];
  tc_stream_url(tr_console_url(F.con), tr_console_pub_url(F.con), url, sizeof url);
  assert_string_equal(url, tr_console_pub_url(F.con));
  assert_int_equal(tc_sub_open(&s, url, F.id.admin, err, sizeof err), 0);
  for (int i = 0; i < 2; i++) {
    uint8_t *p;
    size_t n;
    assert_int_equal(tc_sub_next(&s, WAIT_MS, &p, &n, err, sizeof err), 0);
    json_t *j = tc_json(p, n);
    free(p);
    assert_non_null(j);
    assert_string_equal(jstr(j, "node"), NODE_HEX);
    assert_string_equal(jstr(json_object_get(j, "status"), "name"), "alpha");
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), 1);
    assert_true(json_array_size(json_object_get(j, "actors")) >= 1);
    json_decref(j);
  }
  tc_sub_close(&s);

  /* another key: snapshots arrive, none opens */
  uint8_t other[32];
  randombytes_buf(other, sizeof other);
  assert_int_equal(tc_sub_open(&s, url, other, err, sizeof err), 0);
  uint8_t *p = NULL;
  size_t n;
  assert_int_equal(tc_sub_next(&s, 3000, &p, &n, err, sizeof err), TC_EXIT_AUTH);
  assert_null(p);
  assert_true(s.refused > 0);
  tc_sub_close(&s);
  tr_console_stats st;
  tr_console_get_stats(F.con, &st);
  assert_true(st.snapshots >= 2);
}

/* ------------------------------------------------------------ refusals */

static void test_wrong_key(void **state) {
  (void)state;
  tr_console_stats before, after;
  tr_console_get_stats(F.con, &before);
  uint8_t other[32];
  randombytes_buf(other, sizeof other);
  tc_result r;
  assert_int_equal(call_as(other, "status", NULL, NULL, &r), TC_EXIT_AUTH);
  assert_false(r.r.authentic); /* we cannot check the node's MAC either */
  assert_true(r.r.auth);
  assert_int_equal(r.r.code, TR_EPERM);
  assert_non_null(strstr(r.err, "refused our admin key"));
  tr_console_get_stats(F.con, &after);
  assert_int_equal(after.refused_auth, before.refused_auth + 1);
  assert_int_equal(after.served, before.served);
}

/* A request built by hand, sent with tc_call_raw. */
static int send_built(tc_client *c, const char *cmd, uint64_t ts, const uint8_t nonce[16],
                      tc_result *r) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_console_request_build(&c->keys, cmd, NULL, 0, ts, nonce, &pk), 0);
  int ex = tc_call_raw(c, pk.data, pk.len, nonce, r);
  tr_pack_free(&pk);
  return ex;
}

static void test_replay(void **state) {
  (void)state;
  tc_client c = client_with(F.id.admin, 5000);
  uint8_t nonce[16];
  randombytes_buf(nonce, sizeof nonce);
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_console_request_build(&c.keys, "status", NULL, 0, wall_now(), nonce, &pk), 0);
  tr_console_stats before, after;
  tr_console_get_stats(F.con, &before);
  tc_result r;
  assert_int_equal(tc_call_raw(&c, pk.data, pk.len, nonce, &r), 0);
  tc_result_free(&r);
  /* the same bytes again, as an eavesdropper would send them */
  assert_int_equal(tc_call_raw(&c, pk.data, pk.len, nonce, &r), TC_EXIT_AUTH);
  assert_true(r.r.authentic);
  assert_true(r.r.auth);
  assert_int_equal(r.r.code, TR_EEXIST);
  assert_non_null(strstr(r.r.error, "replayed"));
  tc_result_free(&r);
  /* from another connection too */
  tc_client c2 = client_with(F.id.admin, 5000);
  assert_int_equal(tc_call_raw(&c2, pk.data, pk.len, nonce, &r), TC_EXIT_AUTH);
  tc_result_free(&r);
  tc_close(&c2);
  tr_console_get_stats(F.con, &after);
  assert_int_equal(after.refused_replay, before.refused_replay + 2);
  tr_pack_free(&pk);
  tc_close(&c);
}

static void test_stale(void **state) {
  (void)state;
  tc_client c = client_with(F.id.admin, 5000);
  uint8_t nonce[16];
  tc_result r;
  uint64_t offs[] = {(uint64_t)-120000, 120000, (uint64_t)-61000};
  for (int i = 0; i < 3; i++) {
    randombytes_buf(nonce, sizeof nonce);
    assert_int_equal(send_built(&c, "status", wall_now() + offs[i], nonce, &r), TC_EXIT_AUTH);
    assert_true(r.r.authentic);
    assert_true(r.r.auth);
    assert_int_equal(r.r.code, TR_ETIMEDOUT);
    tc_result_free(&r);
  }
  randombytes_buf(nonce, sizeof nonce); /* skew within the window is fine */
  assert_int_equal(send_built(&c, "status", wall_now() - 30000, nonce, &r), 0);
  tc_result_free(&r);
  assert_int_equal(send_built(&c, "status", 0, nonce, &r), TC_EXIT_AUTH);
  tc_result_free(&r);
  tc_close(&c);
}

/* Sends raw bytes; expects an authentic refusal with code want. */
static void expect_refusal(tc_client *c, const void *p, size_t n, int want) {
  tc_result r;
  assert_int_not_equal(tc_call_raw(c, p, n, NULL, &r), 0);
  assert_true(r.r.authentic);
  assert_false(r.r.ok);
  assert_int_equal(r.r.code, want);
  tc_result_free(&r);
}

/* body (msgpack, the caller's) with a good MAC appended */
static void expect_signed_refusal(tc_client *c, const void *body, size_t n, int want) {
  uint8_t *m = malloc(n + 32);
  assert_non_null(m);
  memcpy(m, body, n);
  crypto_auth_hmacsha256(m + n, m, n, c->keys.req);
  expect_refusal(c, m, n + 32, want);
  free(m);
}

static void signed_json(tc_client *c, const char *json, int want) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  expect_signed_refusal(c, pk.data, pk.len, want);
  tr_pack_free(&pk);
}

static void test_garbage(void **state) {
  (void)state;
  tr_console_stats before, after;
  tr_console_get_stats(F.con, &before);
  tc_client c = client_with(F.id.admin, 5000);
  uint8_t junk[2000];
  randombytes_buf(junk, sizeof junk);
  size_t lens[] = {0, 1, 31, 32, 33, 100, sizeof junk};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
    expect_refusal(&c, junk, lens[i], TR_EPERM); /* 7 bad MACs */
  /* good MAC, bad contents: what a buggy client with the key could send */
  expect_signed_refusal(&c, "\xc1", 1, TR_EPROTO);     /* never-used byte */
  expect_signed_refusal(&c, "\x93\x01\x02\x03", 4, TR_EPROTO); /* not a map */
  expect_signed_refusal(&c, "\x80\x80", 2, TR_EPROTO); /* trailing bytes */
  expect_signed_refusal(&c, "\xdf\xff\xff\xff\xff", 5, TR_EPROTO); /* truncated */
  signed_json(&c, "{}", TR_EPROTO);
  signed_json(&c, "{\"v\": 2, \"cmd\": \"status\"}", TR_EVERSION);
  signed_json(&c, "{\"v\": 1, \"cmd\": \"status\", \"ts\": 1}", TR_EPROTO); /* no nonce */
  signed_json(&c, "{\"v\": 1, \"cmd\": \"STATUS\", \"ts\": 1, \"nonce\": \"x\"}", TR_EPROTO);
  signed_json(&c, "{\"v\": 1, \"cmd\": \"status\", \"ts\": -5, \"nonce\": \"x\"}", TR_EPROTO);
  /* over TR_CONSOLE_REQ_MAX, under the socket limit: refused, counted */
  size_t big = TR_CONSOLE_REQ_MAX + 1;
  uint8_t *b = calloc(1, big);
  assert_non_null(b);
  expect_refusal(&c, b, big, TR_ETOOBIG);
  free(b);
  tc_close(&c);

  /* over the socket limit: nng drops it and the connection; no reply */
  tc_client s = client_with(F.id.admin, 1000);
  size_t huge = TR_CONSOLE_MSG_MAX + 100;
  b = calloc(1, huge);
  assert_non_null(b);
  tc_result r;
  assert_int_equal(tc_call_raw(&s, b, huge, NULL, &r), TC_EXIT_UNREACHABLE);
  tc_result_free(&r);
  free(b);
  tc_close(&s);

  json_t *d; /* and the node still serves */
  assert_int_equal(call("status", NULL, &d), 0);
  json_decref(d);
  tr_console_get_stats(F.con, &after);
  assert_int_equal(after.refused_auth, before.refused_auth + 7);
  assert_int_equal(after.refused_malformed, before.refused_malformed + 9);
  assert_int_equal(after.refused_size, before.refused_size + 1);
}

/* ------------------------------------------------------------ protocol units */

static void test_guard(void **state) {
  (void)state;
  tr_console_guard *g = tr_console_guard_new();
  assert_non_null(g);
  uint64_t now = 10000000;
  uint8_t n[16] = {0};
  assert_int_equal(tr_console_guard_check(g, now, n, now), 0);
  assert_int_equal(tr_console_guard_check(g, now, n, now), TR_EEXIST);
  assert_int_equal(tr_console_guard_check(g, now + 5, n, now), TR_EEXIST); /* nonce, not ts */
  n[0] = 1;
  assert_int_equal(tr_console_guard_check(g, now - TR_CONSOLE_WINDOW_MS - 1, n, now), TR_ETIMEDOUT);
  assert_int_equal(tr_console_guard_check(g, now + TR_CONSOLE_WINDOW_MS + 1, n, now), TR_ETIMEDOUT);
  assert_int_equal(tr_console_guard_check(g, UINT64_MAX, n, now), TR_ETIMEDOUT);
  /* full: the oldest is forgotten and the floor rises past it */
  for (uint32_t i = 1; i <= TR_CONSOLE_REPLAY_MAX; i++) {
    memcpy(n, &i, sizeof i);
    n[15] = 7;
    assert_int_equal(tr_console_guard_check(g, now + i, n, now), 0);
  }
  uint8_t first[16] = {0}; /* forgotten, but its ts is under the floor */
  assert_int_equal(tr_console_guard_check(g, now, first, now), TR_ETIMEDOUT);
  uint32_t last = TR_CONSOLE_REPLAY_MAX;
  memcpy(n, &last, sizeof last);
  assert_int_equal(tr_console_guard_check(g, now + last, n, now), TR_EEXIST);
  /* time passes: old entries leave, new requests pass */
  uint64_t later = now + 10 * TR_CONSOLE_WINDOW_MS;
  n[14] = 9;
  assert_int_equal(tr_console_guard_check(g, later, n, later), 0);
  assert_int_equal(tr_console_guard_check(g, later, n, later), TR_EEXIST);
  tr_console_guard_free(g);
}

static void test_parse_ref(void **state) {
  (void)state;
  tr_ref r;
  assert_int_equal(tr_console_parse_ref("42", &r), 0);
  assert_true(r.node == 0 && r.id == 42);
  assert_int_equal(tr_console_parse_ref(NODE_HEX ":4294967298", &r), 0);
  assert_true(r.node == NODE_ID && r.id == 4294967298ull);
  assert_int_equal(tr_console_parse_ref("AbC:7", &r), 0);
  assert_true(r.node == 0xabc && r.id == 7);
  assert_int_equal(tr_console_parse_ref("18446744073709551615", &r), 0);
  const char *bad[] = {"", "0", "x", "-1", "+1", " 1", "1 ", ":1", "1:", "g:1",
                       "11223344556677889:1", "18446744073709551616", "1:2:3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(tr_console_parse_ref(bad[i], &r), TR_EINVAL);
}

static void test_reply_checks(void **state) {
  (void)state;
  tr_console_keys k, other;
  uint8_t key[32];
  randombytes_buf(key, sizeof key);
  tr_console_keys_derive(key, &k);
  randombytes_buf(key, sizeof key);
  tr_console_keys_derive(key, &other);
  /* a request is not a reply, even under the same admin key */
  uint8_t nonce[16] = {1};
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_console_request_build(&k, "status", NULL, 0, 1, nonce, &pk), 0);
  tr_console_reply r;
  int rc = tr_console_reply_open(&k, pk.data, pk.len, &r);
  assert_true(rc < 0 || !r.authentic);
  tr_console_req q;
  assert_int_equal(tr_console_request_open(&k, pk.data, pk.len, &q), 0);
  assert_string_equal(q.cmd, "status");
  assert_int_equal(tr_console_request_open(&other, pk.data, pk.len, &q), TR_EPERM);
  pk.data[3] ^= 1; /* any flipped bit */
  assert_int_equal(tr_console_request_open(&k, pk.data, pk.len, &q), TR_EPERM);
  tr_pack_free(&pk);
  assert_int_equal(tr_console_request_build(&k, "Bad Cmd", NULL, 0, 1, nonce, &pk), TR_EINVAL);
  assert_int_equal(tr_console_request_build(&k, "status", "\x01", 1, 1, nonce, &pk), TR_EINVAL);
  tr_pack_free(&pk);
  uint8_t out[64];
  size_t n;
  assert_int_equal(tr_console_snapshot_open(&k, out, 10, out, sizeof out, &n), TR_EPROTO);
  memset(out, 0, sizeof out);
  assert_int_equal(tr_console_snapshot_open(&k, out, 50, out + 50, 14, &n), TR_EPERM);
}

/* ------------------------------------------------------------ lifecycle */

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_console: start/stop hung (watchdog)\n";
  if (write(2, msg, sizeof msg - 1)) {}
  _exit(1);
}

static void test_start_stop(void **state) {
  (void)state;
  signal(SIGALRM, on_alarm);
  alarm(300); /* a liveness bound for 50 rounds, not a timing assertion */
  char ipc[128];
  for (int i = 0; i < 50; i++) {
    tr_console *con;
    tr_console_opts o = hooks();
    o.interval_ms = 10; /* snapshots in flight while stopping */
    const char *url = "tcp://127.0.0.1:0";
    if (i % 3 == 1) {
      snprintf(ipc, sizeof ipc, "ipc://%s/con%d", F.dir, i);
      url = ipc;
    }
    assert_int_equal(tr_console_start(F.sys, NULL, &F.id, url, &o, &con), 0);
    tc_client c;
    tc_sub s;
    char err[256];
    if (i % 2 == 0) { /* a request served: the rep aio has been used */
      assert_int_equal(tc_open(&c, tr_console_url(con), F.id.admin, 5000, err, sizeof err), 0);
      tc_result r;
      assert_int_equal(tc_call(&c, "status", NULL, 0, &r), 0);
      tc_result_free(&r);
    }
    if (i % 5 == 0) {
      assert_int_equal(tc_sub_open(&s, tr_console_pub_url(con), F.id.admin, err, sizeof err), 0);
      uint8_t *p;
      size_t n;
      assert_int_equal(tc_sub_next(&s, WAIT_MS, &p, &n, err, sizeof err), 0);
      free(p);
    }
    tr_console_stop(con); /* with the clients still connected */
    if (i % 2 == 0) tc_close(&c);
    if (i % 5 == 0) tc_sub_close(&s);
  }
  /* an address in use is an error, not a hang */
  tr_console *con;
  tr_console_opts o = hooks();
  assert_int_equal(tr_console_start(F.sys, NULL, &F.id, tr_console_url(F.con), &o, &con), TR_EIO);
  assert_int_equal(tr_console_start(F.sys, NULL, &F.id, "bogus://x", &o, &con), TR_EINVAL);
  const char *no_pub_port = "tcp://127.0.0.1:65535";
  assert_int_equal(tr_console_start(F.sys, NULL, &F.id, no_pub_port, &o, &con), TR_EINVAL);
  assert_int_equal(tr_console_start(NULL, NULL, &F.id, "tcp://127.0.0.1:0", &o, &con), TR_EINVAL);
  tr_console_stop(NULL);
  alarm(0);
}

/* ------------------------------------------------------------ troupectl */

/* Runs troupectl with args; stdout into out (n bytes); the exit status. */
static int ctl(const char *args, char *out, size_t n) {
  char cmd[2048];
  /* TEST_CONSOLE_VERBOSE=1 shows troupectl's messages */
  snprintf(cmd, sizeof cmd, "%s --node %s --key %s %s%s", TROUPECTL_BIN, tr_console_url(F.con),
           F.keyfile, args, getenv("TEST_CONSOLE_VERBOSE") ? "" : " 2>/dev/null");
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t got = out ? fread(out, 1, n - 1, p) : 0;
  if (out) out[got] = 0;
  char sink[4096];
  while (fread(sink, 1, sizeof sink, p) > 0) {}
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_troupectl(void **state) {
  (void)state;
  static char out[1 << 16];
  assert_int_equal(ctl("status --json", out, sizeof out), 0);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  assert_non_null(j);
  assert_string_equal(jstr(j, "node"), NODE_HEX);
  json_decref(j);
  assert_int_equal(ctl("status", out, sizeof out), 0);
  assert_non_null(strstr(out, "alpha"));
  assert_int_equal(ctl("nodes", out, sizeof out), 0);
  assert_non_null(strstr(out, NODE_HEX "*"));
  assert_int_equal(ctl("actors --limit 2 --sort processed", out, sizeof out), 0);
  assert_non_null(strstr(out, "BEHAVIOR"));
  assert_int_equal(ctl("actors --json --kind echo", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"plain\""));
  assert_int_equal(ctl("actor plain", out, sizeof out), 0);
  assert_non_null(strstr(out, "echo"));
  assert_int_equal(ctl("--node " NODE_HEX " actor worker --json", out, sizeof out), 0);
  assert_int_equal(ctl("actor nosuch", NULL, 0), TC_EXIT_FAILED);
  assert_int_equal(ctl("actor nosuch --json", out, sizeof out), TC_EXIT_FAILED);
  assert_non_null(strstr(out, "\"exit\":1"));
  assert_int_equal(ctl("--node nosuchnode status", NULL, 0), TC_EXIT_FAILED);
  assert_int_equal(ctl("drain on", out, sizeof out), 0);
  assert_int_equal(ctl("drain off --json", out, sizeof out), 0);
  assert_non_null(strstr(out, "false"));

  /* top: two snapshots, one JSON document per line */
  assert_int_equal(ctl("top --json -n 2", out, sizeof out), 0);
  char *nl = strchr(out, '\n');
  assert_non_null(nl);
  *nl = 0;
  assert_non_null(j = json_loads(out, 0, &e));
  json_decref(j);
  assert_non_null(j = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &e));
  json_decref(j);
  assert_int_equal(ctl("top --once", out, sizeof out), 0);
  assert_non_null(strstr(out, "busiest actors"));

  /* usage */
  assert_int_equal(ctl("", NULL, 0), TC_EXIT_USAGE);
  assert_int_equal(ctl("bogus", NULL, 0), TC_EXIT_USAGE);
  assert_int_equal(ctl("actor", NULL, 0), TC_EXIT_USAGE);
  assert_int_equal(ctl("status --limit 3", NULL, 0), TC_EXIT_USAGE);
  assert_int_equal(ctl("drain maybe", NULL, 0), TC_EXIT_USAGE);
  assert_int_equal(ctl("top -n x", NULL, 0), TC_EXIT_USAGE);

  /* keys: wrong, missing, readable by others */
  char path[160], args[256];
  uint8_t other[32];
  randombytes_buf(other, sizeof other);
  snprintf(path, sizeof path, "%s/other.key", F.dir);
  write_key(path, other, 0600);
  snprintf(args, sizeof args, "--key %s status", path);
  assert_int_equal(ctl(args, NULL, 0), TC_EXIT_AUTH);
  snprintf(args, sizeof args, "--key %s top --once", path);
  assert_int_equal(ctl(args, NULL, 0), TC_EXIT_AUTH);
  snprintf(args, sizeof args, "--key %s/missing.key status", F.dir);
  assert_int_equal(ctl(args, NULL, 0), TC_EXIT_AUTH);
  snprintf(path, sizeof path, "%s/open.key", F.dir);
  write_key(path, F.id.admin, 0644);
  snprintf(args, sizeof args, "--key %s status", path);
  assert_int_equal(ctl(args, NULL, 0), TC_EXIT_AUTH);

  /* nobody there (the last --node wins) */
  assert_int_equal(ctl("--node tcp://127.0.0.1:1 --timeout 300 status", NULL, 0),
                   TC_EXIT_UNREACHABLE);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_guard),         cmocka_unit_test(test_parse_ref),
      cmocka_unit_test(test_reply_checks),  cmocka_unit_test(test_status),
      cmocka_unit_test(test_nodes),         cmocka_unit_test(test_actors),
      cmocka_unit_test(test_actor),         cmocka_unit_test(test_stop),
      cmocka_unit_test(test_restart),       cmocka_unit_test(test_drain_leave),
      cmocka_unit_test(test_unknown_command), cmocka_unit_test(test_stream),
      cmocka_unit_test(test_wrong_key),     cmocka_unit_test(test_replay),
      cmocka_unit_test(test_stale),         cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_start_stop),    cmocka_unit_test(test_troupectl),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
