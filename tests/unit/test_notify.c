/* The events notifier against the fake bus (tests/events/fake_bus.h):
 * filters and their errors, the JSON of an event, WebSocket and SSE
 * clients live and resuming (from the history and from the ring, while
 * events keep coming) with no gap and no duplicate, bad subscribe
 * messages, the query token, and a slow consumer cut off while another
 * client goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>

#include <cmocka.h>

#include "actors/events/notify.h"
#include "actors/events/notify_internal.h"
#include "../events/fake_bus.h"
#include "../http/wsc.h"

#ifdef TROUPE_SANITIZED
#define WAIT_MS 60000
#else
#define WAIT_MS 10000
#endif

/* ------------------------------------------------------------ units */

static void test_filter_query(void **state) {
  (void)state;
  nfilter f;
  char err[256];
  int any;
  const char *q = "topic=quest&types=a,b&pi=p%201&bk=b1&attr.user=ann&from=quest:7&access_token=x";
  assert_int_equal(nfilter_from_query(&f, q, strlen(q), "engine", &any, err, sizeof err), 0);
  assert_true(any);
  assert_string_equal(f.topic, "quest");
  assert_int_equal(f.ntypes, 2);
  assert_string_equal(f.types[1], "b");
  assert_string_equal(f.pi, "p 1");
  assert_string_equal(f.anames[0], "user");
  assert_string_equal(f.avals[0], "ann");
  assert_true(f.has_from);
  assert_int_equal(f.from, 7);
  nfilter_free(&f);
  const char *bad[] = {"nope=1", "topic=a/b", "from=engine:x", "from=other:3", "pi=%zz",
                       "topic="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(
        nfilter_from_query(&f, bad[i], strlen(bad[i]), "engine", &any, err, sizeof err),
        TR_EINVAL);
    assert_true(strlen(err) > 0);
  }
}

static void test_filter_json(void **state) {
  (void)state;
  nfilter f;
  char err[256];
  int action = 0;
  const char *ok = "{\"action\":\"subscribe\",\"topic\":\"engine\",\"filter\":{\"types\":"
                   "[\"x\"],\"key\":\"order\",\"attrs\":{\"n\":3}},\"from\":\"engine:12\"}";
  assert_int_equal(nfilter_from_json(&f, ok, strlen(ok), "engine", &action, err, sizeof err), 0);
  assert_int_equal(action, 1);
  assert_string_equal(f.key, "order");
  assert_string_equal(f.avals[0], "3");
  assert_int_equal(f.from, 12);
  nfilter_free(&f);
  const char *bad[] = {"[1]", "{\"action\":\"dance\"}", "{}", "{\"action\":\"subscribe\",\"x\":1}",
                       "{\"action\":\"subscribe\",\"filter\":{\"types\":\"a\"}}",
                       "{\"action\":\"subscribe\",\"filter\":{\"zzz\":1}}",
                       "{\"action\":\"subscribe\",\"from\":true}", "not json"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(
        nfilter_from_json(&f, bad[i], strlen(bad[i]), "engine", &action, err, sizeof err),
        TR_EINVAL);
}

static void pack_event(tr_pack *pk, const char *type, const char *bk, const char *user, int n) {
  tr_pack_map(pk, 5);
  tr_pack_str(pk, "type"), tr_pack_str(pk, type);
  tr_pack_str(pk, "time"), tr_pack_uint(pk, 1700000000123ull);
  tr_pack_str(pk, "bk"), tr_pack_str(pk, bk);
  tr_pack_str(pk, "attrs"), tr_pack_map(pk, 1), tr_pack_str(pk, "user"), tr_pack_str(pk, user);
  tr_pack_str(pk, "data"), tr_pack_map(pk, 1), tr_pack_str(pk, "n"), tr_pack_int(pk, n);
}

static void test_event_json(void **state) {
  (void)state;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_str(&pk, "id"), tr_pack_uint(&pk, 42);
  tr_pack_str(&pk, "type"), tr_pack_str(&pk, "task \"done\"");
  tr_pack_str(&pk, "time"), tr_pack_uint(&pk, 1700000000123ull);
  tr_pack_str(&pk, "pi"), tr_pack_int(&pk, 77);
  tr_unpack u;
  tr_unpack_init(&u, pk.data, pk.len);
  nev *e;
  assert_int_equal(nev_decode(&u, "engine", &e), 0);
  assert_string_equal(e->json, "{\"id\":\"engine:42\",\"time\":\"2023-11-14T22:13:20.123Z\","
                               "\"type\":\"task \\\"done\\\"\",\"pi\":77}");
  assert_string_equal(e->pi, "77");
  assert_memory_equal(e->sse, "id: engine:42\ndata: {", 21);
  nfilter f = {.pi = "77"};
  assert_true(nfilter_match(&f, e));
  f.pi = "78";
  assert_false(nfilter_match(&f, e));
  free(e);
  tr_pack_free(&pk);
}

/* ------------------------------------------------------------ fixture */

typedef struct {
  tr_system *sys;
  tr_http_server *srv;
  int port;
} fixture;

static void start_with(fixture *f, const char *token, uint64_t max_buf,
                       const tr_events_notify_opts *no) {
  tr_config cfg = {.threads = 2};
  assert_int_equal(tr_system_new(&cfg, &f->sys), 0);
  assert_int_equal(fake_bus_register(f->sys), 0);
  tr_http_opts o = {.listen = "127.0.0.1:0", .bearer_token = token,
                    .limits = {.max_stream_buffer = max_buf, .ws_close_timeout_ms = 1000}};
  assert_int_equal(tr_http_new(f->sys, &o, &f->srv), 0);
  assert_int_equal(tr_events_notify_start(f->sys, f->srv, no, NULL), 0);
  assert_int_equal(tr_http_start(f->srv), 0);
  f->port = atoi(strrchr(tr_http_address(f->srv), ':') + 1);
}

static void start(fixture *f, const char *token, uint64_t max_buf) {
  tr_events_notify_opts no = {.ping_ms = 300, .lease_ms = 900, .ring = 16};
  start_with(f, token, max_buf, &no);
}

static void stop(fixture *f) {
  assert_int_equal(tr_http_stop(f->srv, 2000), 0);
  tr_system_free(f->sys);
  tr_http_free(f->srv);
}

static void publish(fixture *f, const char *topic, const char *type, const char *bk, int n) {
  char name[128];
  snprintf(name, sizeof name, "events/%s", topic);
  tr_pack pk = TR_PACK_INIT;
  pack_event(&pk, type, bk, n % 2 ? "ann" : "bob", n);
  tr_msg *reply = NULL;
  assert_int_equal(tr_system_virtual_ask(f->sys, name, TR_EV_PUBLISH, pk.data, pk.len, WAIT_MS,
                                         &reply), 0);
  tr_msg_free(reply);
  tr_pack_free(&pk);
}

/* The id number of an event's JSON ("id":"engine:N"), or -1. */
static long id_of(const char *json) {
  const char *p = strstr(json, "\"id\":\"");
  if (!p) return -1;
  p = strchr(p + 6, ':');
  return p ? strtol(p + 1, NULL, 10) : -1;
}

static char *ws_next(hc_conn *c) {
  char *t = ws_recv_text(c);
  assert_non_null(t);
  return t;
}

static void expect_ack(hc_conn *c) {
  char *t = ws_next(c);
  if (!strstr(t, "\"ack\":\"subscribe\"")) fprintf(stderr, "not an ack: %s\n", t);
  assert_non_null(strstr(t, "\"ack\":\"subscribe\""));
  free(t);
}

/* A WebSocket on c subscribed by path, its ack read. */
static void subscribe(fixture *f, hc_conn *c, const char *path) {
  assert_int_equal(hc_connect(c, f->port, WAIT_MS), 0);
  assert_int_equal(ws_open(c, path, NULL), 101);
  expect_ack(c);
}

/* ------------------------------------------------------------ tests */

static void test_ws_live_and_filters(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL, 0);
  hc_conn all, odd, msg;
  assert_int_equal(hc_connect(&all, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&all, "/events?topic=engine", NULL), 101);
  expect_ack(&all);
  assert_int_equal(hc_connect(&odd, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&odd, "/events?types=step,other&attr.user=ann", NULL), 101);
  expect_ack(&odd);
  /* a subscribe message: bad ones get an error and change nothing */
  assert_int_equal(hc_connect(&msg, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&msg, "/events", NULL), 101);
  ws_send_text(&msg, "{\"action\":\"subscribe\",\"filter\":{\"nope\":1}}");
  char *t = ws_next(&msg);
  assert_non_null(strstr(t, "\"error\":\"unknown filter field 'nope'\""));
  free(t);
  ws_send(&msg, 1, 2, 1, "bin", 3);
  t = ws_next(&msg);
  assert_non_null(strstr(t, "\"error\""));
  free(t);
  ws_send_text(&msg, "{\"action\":\"subscribe\",\"topic\":\"engine\",\"filter\":{\"bk\":\"b2\"}}");
  expect_ack(&msg);
  for (int i = 1; i <= 10; i++) publish(&f, "engine", i == 5 ? "start" : "step", i == 4 ? "b2" : "b1", i);
  for (long i = 1; i <= 10; i++) { /* everything, in order */
    t = ws_next(&all);
    assert_int_equal(id_of(t), i);
    free(t);
  }
  for (long i = 1; i <= 9; i += 2) { /* ann's steps: odd n, not 5 (a start) */
    if (i == 5) continue;
    t = ws_next(&odd);
    assert_int_equal(id_of(t), i);
    assert_non_null(strstr(t, "\"type\":\"step\""));
    assert_non_null(strstr(t, "\"attrs\":{\"user\":\"ann\"}"));
    assert_non_null(strstr(t, "\"data\":{\"n\":"));
    free(t);
  }
  t = ws_next(&msg);
  assert_int_equal(id_of(t), 4);
  free(t);
  /* unsubscribe: acked, nothing more */
  ws_send_text(&msg, "{\"action\":\"unsubscribe\"}");
  t = ws_next(&msg);
  assert_non_null(strstr(t, "\"ack\":\"unsubscribe\""));
  free(t);
  hc_close(&all);
  hc_close(&odd);
  hc_close(&msg);
  stop(&f);
}

/* Publishes events n0+1 .. n0+n from a thread, while a client resumes. */
typedef struct {
  fixture *f;
  int n0, n;
} pub_arg;
static void *publisher(void *arg) {
  pub_arg *a = arg;
  for (int i = 1; i <= a->n; i++) publish(a->f, "engine", "step", "b1", a->n0 + i);
  return NULL;
}

/* Resumes from far back (the history: the ring holds 16) and from near
 * (the ring), while events keep coming: every id once, in order. The
 * first history pages are refused as busy (too many reads at the bus):
 * the client waits its turn and still gets everything. */
static void test_ws_resume(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL, 0);
  /* a live client first, so the notifier's subscription and ring exist */
  hc_conn live;
  assert_int_equal(hc_connect(&live, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&live, "/events?topic=engine", NULL), 101);
  expect_ack(&live);
  for (int i = 1; i <= 50; i++) publish(&f, "engine", "step", "b1", i);
  int froms[] = {3, 45, 0};
  for (size_t k = 0; k < 3; k++) {
    pub_arg pa = {&f, 50 + (int)k * 100, 100};
    pthread_t th;
    hc_conn c;
    assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
    char path[64];
    snprintf(path, sizeof path, "/events?from=%d", froms[k] + (int)k * 100);
    if (k == 2) snprintf(path, sizeof path, "/events?from=engine:%d", 250);
    if (k == 0) atomic_store(&fb_busy_queries, 3);
    pthread_create(&th, NULL, publisher, &pa);
    assert_int_equal(ws_open(&c, path, NULL), 101);
    expect_ack(&c);
    long want = (k == 2 ? 250 : froms[k] + (long)k * 100) + 1;
    long end = 50 + (long)k * 100 + 100;
    pthread_join(th, NULL);
    for (; want <= end; want++) {
      char *t = ws_next(&c);
      if (id_of(t) != want) fprintf(stderr, "k=%zu want %ld got %s\n", k, want, t);
      assert_int_equal(id_of(t), want);
      free(t);
    }
    hc_close(&c);
  }
  assert_true(atomic_load(&fb_queries) > 0);
  assert_int_equal(atomic_load(&fb_busy_queries), 0); /* all three were refused */
  hc_close(&live);
  stop(&f);
}

/* A client that resumes reads ids from+1 .. to in order on c, a
 * WebSocket or (sse) an SSE stream; 0 or the first id that was wrong
 * (-1: the connection ended). */
static long sse_next_id(hc_conn *c, int *pings);
static long read_ids(hc_conn *c, int sse, long from, long to) {
  int pings = 0;
  for (long want = from + 1; want <= to; want++) {
    long got;
    if (sse) {
      got = sse_next_id(c, &pings);
    } else {
      char *t = ws_recv_text(c);
      got = t ? id_of(t) : -1;
      free(t);
    }
    if (got != want) return fprintf(stderr, "want engine:%ld, got %ld\n", want, got), got;
  }
  return 0;
}

static void open_resuming(fixture *f, hc_conn *c, int sse, long from) {
  char req[160];
  if (!sse) {
    snprintf(req, sizeof req, "/events?from=engine:%ld", from);
    subscribe(f, c, req);
    return;
  }
  assert_int_equal(hc_connect(c, f->port, WAIT_MS), 0);
  snprintf(req, sizeof req, "GET /events/sse HTTP/1.1\r\nLast-Event-ID: engine:%ld\r\n\r\n", from);
  hc_send_str(c, req);
  hc_resp r;
  assert_int_equal(hc_read(c, &r, 1), 0);
  assert_int_equal(r.status, 200);
  hc_free(&r);
}

/* A backlog many times the output bound (64 KiB: 2 KiB events) goes out
 * whole to a client that resumes, from the ring (it holds 256) and from
 * the history, WebSocket and SSE: it is sent a part at a time, each once
 * the last is written, never all at once (which cut such a client as a
 * slow consumer, however fast it read). */
static void test_resume_paced(void **state) {
  (void)state;
  fixture f;
  tr_events_notify_opts no = {.ping_ms = 300, .lease_ms = 900, .ring = 256, .pace = 16u << 10};
  start_with(&f, NULL, 64u << 10, &no);
  hc_conn live;
  subscribe(&f, &live, "/events?topic=engine");
  char bk[2048];
  memset(bk, 'k', sizeof bk - 1);
  bk[sizeof bk - 1] = 0;
  long n = 0;
  for (int round = 0; round < 2; round++) {
    /* round 0: 200 events, all in the ring; round 1: 300 more, so that the
     * ring starts at 245 and a resume from 0 reads the history first */
    for (int i = 0; i < (round ? 300 : 200); i++) {
      publish(&f, "engine", "step", bk, (int)++n);
      char *t = ws_next(&live);
      assert_int_equal(id_of(t), n);
      free(t);
    }
    for (int sse = 0; sse < 2; sse++) {
      hc_conn c;
      open_resuming(&f, &c, sse, 0);
      assert_int_equal(read_ids(&c, sse, 0, n), 0);
      hc_close(&c);
    }
  }
  assert_true(atomic_load(&fb_queries) > 0);
  /* a client that subscribes again and again while it catches up: each
   * new subscription starts its replay over and is paced on its own (a
   * replaced one's "written" event carries an old token and is ignored;
   * the interleaving that delivers one late is not forced here). After
   * the last ack: everything, once, in order, and the client never cut. */
  hc_conn c;
  open_resuming(&f, &c, 0, 0);
  for (int k = 0; k < 8; k++)
    ws_send_text(&c, "{\"action\":\"subscribe\",\"topic\":\"engine\",\"from\":\"engine:0\"}");
  for (int acks = 0; acks < 8;) { /* the replays of the replaced subscriptions, then the acks */
    char *t = ws_recv_text(&c);
    assert_non_null(t); /* not cut */
    if (strstr(t, "\"ack\":\"subscribe\"")) acks++;
    else assert_true(id_of(t) > 0);
    free(t);
  }
  assert_int_equal(read_ids(&c, 0, 0, n), 0);
  hc_close(&c);
  hc_close(&live);
  stop(&f);
}

/* Reads SSE events from a chunked stream: the next "id: engine:N" */
static long sse_next_id(hc_conn *c, int *pings) {
  uint64_t deadline = hc_now() + (uint64_t)c->wait_ms;
  for (;;) {
    c->buf[c->len] = 0;
    char *id = strstr(c->buf, "id: engine:");
    char *ping = strstr(c->buf, ": ping");
    if (ping && (!id || ping < id)) {
      (*pings)++;
      hc_take(c, (size_t)(ping - c->buf) + 6);
      continue;
    }
    if (id && strstr(id, "\n\n")) {
      long n = strtol(id + 11, NULL, 10);
      hc_take(c, (size_t)(strstr(id, "\n\n") - c->buf) + 2);
      return n;
    }
    if (hc_fill(c, deadline) < 0) return -1;
  }
}

static void test_sse(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL, 0);
  for (int i = 1; i <= 30; i++) publish(&f, "engine", i % 3 ? "step" : "end", "b1", i);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /events/sse?types=end HTTP/1.1\r\nLast-Event-ID: engine:10\r\n\r\n");
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 1), 0);
  assert_int_equal(r.status, 200);
  char v[64];
  assert_non_null(hc_header(&r, "content-type", v, sizeof v));
  assert_string_equal(v, "text/event-stream");
  hc_free(&r);
  int pings = 0;
  for (long want = 12; want <= 30; want += 3) assert_int_equal(sse_next_id(&c, &pings), want);
  publish(&f, "engine", "end", "b1", 31);
  publish(&f, "engine", "end", "b1", 32);
  assert_int_equal(sse_next_id(&c, &pings), 31);
  assert_int_equal(sse_next_id(&c, &pings), 32);
  usleep(700000); /* heartbeats every 300 ms */
  publish(&f, "engine", "end", "b1", 33);
  assert_int_equal(sse_next_id(&c, &pings), 33);
  assert_true(pings >= 1);
  hc_close(&c);
  /* bad parameters: 400 in Camunda's shape */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /events/sse?colour=red HTTP/1.1\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "unknown query parameter 'colour'"));
  hc_free(&r);
  hc_send_str(&c, "GET /events/sse HTTP/1.1\r\nLast-Event-ID: nonsense\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 400);
  hc_free(&r);
  hc_close(&c);
  stop(&f);
}

static void test_auth(void **state) {
  (void)state;
  fixture f;
  start(&f, "tok", 0);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/events?topic=engine", NULL), 401);
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/events?topic=engine&access_token=tok", NULL), 101);
  expect_ack(&c);
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /events/sse?access_token=tok HTTP/1.1\r\n\r\n");
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 1), 0);
  assert_int_equal(r.status, 200);
  hc_free(&r);
  hc_close(&c);
  stop(&f);
}

/* A client that does not read is cut (close 1008 with a reason) once 64
 * KiB wait for it; a reading one beside it gets every event. */
static void test_slow_consumer(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL, 64u << 10);
  hc_conn slow, fast;
  assert_int_equal(hc_connect(&slow, f.port, WAIT_MS), 0);
  /* a fixed receive buffer, so the kernel cannot grow it to take the
   * backlog; not below two segments of loopback's 64 KiB MSS, or the
   * window reopens only by the sender's probes, with backoff (minutes) */
  int rcvbuf = 256 << 10;
  setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  assert_int_equal(ws_open(&slow, "/events?topic=engine", NULL), 101);
  expect_ack(&slow);
  subscribe(&f, &fast, "/events?topic=engine");
  /* 8 MiB to each: more than the kernel's buffers on both sides take (the
   * sender's grows to 4 MiB at most: net.ipv4.tcp_wmem) */
  char bk[8192];
  memset(bk, 'k', sizeof bk - 1);
  bk[sizeof bk - 1] = 0;
  int total = 1000;
  for (int i = 1; i <= total; i++) {
    publish(&f, "engine", "step", bk, i);
    char *t = ws_next(&fast);
    assert_int_equal(id_of(t), i);
    free(t);
  }
  /* the slow one: some events, then the close with its reason (or, if
   * even the close could not get through in time, the hard close) */
  int op, fin, got_close = 0, events = 0;
  char *d;
  size_t n;
  while (ws_recv(&slow, &op, &fin, &d, &n) == 0) {
    if (op == 8) {
      got_close = ((uint8_t)d[0] << 8 | (uint8_t)d[1]) == 1008 && strstr(d + 2, "slow consumer");
      free(d);
      break;
    }
    events += op == 1;
    free(d);
  }
  fprintf(stderr, "slow consumer: %d events, then %s\n", events, got_close ? "close 1008" : "EOF");
  assert_true(events < total);
  assert_true(got_close || slow.eof);
  hc_close(&slow);
  hc_close(&fast);
  stop(&f);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer that has gone is an error code */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_query), cmocka_unit_test(test_filter_json),
      cmocka_unit_test(test_event_json),   cmocka_unit_test(test_ws_live_and_filters),
      cmocka_unit_test(test_ws_resume),    cmocka_unit_test(test_sse),
      cmocka_unit_test(test_auth),         cmocka_unit_test(test_slow_consumer),
      cmocka_unit_test(test_resume_paced),
  };
  if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
