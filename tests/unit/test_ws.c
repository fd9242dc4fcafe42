/* WebSocket in the HTTP server: SHA-1 (FIPS 180-4's examples), the
 * accept key (RFC 6455 section 1.3), the handshake and its refusals, and
 * frames through the server in-process with a raw client: masked and
 * unmasked, fragmented, oversized, pings, close codes, bytes that come
 * with the handshake, the slow consumer, the query token, and a streamed
 * answer cut for the same reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>

#include <cmocka.h>

#include "actors/http/http.h"
#include "actors/http/sha1.h"
#include "../http/wsc.h"

#ifdef TROUPE_SANITIZED
#define WAIT_MS 60000
#else
#define WAIT_MS 10000
#endif

enum { MSG_REQ = 1 };

static _Atomic int closed_events, last_close_code;

/* ------------------------------------------------------------ vectors */

static void hex(const uint8_t *d, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_vectors(void **state) {
  (void)state;
  struct { const char *in; const char *want; } v[] = {
      {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "a49b2446a02c645bf419f995b67091253a04a259"},
  };
  uint8_t d[20];
  char h[41];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    tr_sha1(v[i].in, strlen(v[i].in), d);
    hex(d, 20, h);
    assert_string_equal(h, v[i].want);
  }
  /* a million 'a': many blocks; and lengths around the padding edge */
  char *m = malloc(1000000);
  memset(m, 'a', 1000000);
  tr_sha1(m, 1000000, d);
  hex(d, 20, h);
  assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  free(m);
}

static void test_accept_key(void **state) {
  (void)state;
  char out[29];
  tr_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ------------------------------------------------------------ the server */

/* The route's actor: accepts every handshake (a path with "refuse"
 * gets 403), echoes messages, "close" closes with 4000, "flood" sends
 * 64 KiB messages until the server cuts the connection; /stream streams
 * until cut. */
typedef struct {
  tr_http_server *srv;
} ws_state_t;

static tr_http_server *the_srv;

static int ws_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)state;
  if (msg->type == MSG_REQ) {
    tr_http_incoming in;
    if (tr_http_incoming_decode(msg, &in) < 0) return 0;
    if (in.req.path_len >= 7 && !memcmp(in.req.path, "/stream", 7)) {
      static const char ovf[] = "event: error\ndata: slow\n\n";
      tr_http_response r = {.status = 200, .content_type = "text/event-stream", .stream = 1,
                            .overflow = ovf, .overflow_len = sizeof ovf - 1};
      tr_http_respond(the_srv, in.rid, &r);
      char *big = malloc(32768);
      memset(big, 'x', 32768);
      for (int i = 0; i < 256; i++) tr_http_respond_chunk(the_srv, in.rid, big, 32768, 0);
      free(big);
      return 0;
    }
    if (memmem(in.req.url, in.req.url_len, "hold", 4)) return 0; /* never answered */
    if (memmem(in.req.url, in.req.url_len, "refuse", 6)) {
      tr_http_response r = {.status = 403, .body = "no", .body_len = 2};
      tr_http_reply(ctx, &in, &r);
      return 0;
    }
    tr_http_response r = {.status = 101, .headers = "X-Ws: yes\r\n"};
    tr_http_reply(ctx, &in, &r);
    return 0;
  }
  tr_http_event ev;
  if (tr_http_event_decode(msg, &ev) < 0) return 0;
  if (ev.kind == TR_HTTP_EV_CLOSED) {
    atomic_store(&last_close_code, ev.code);
    atomic_fetch_add(&closed_events, 1);
    return 0;
  }
  if (ev.len == 5 && !memcmp(ev.data, "close", 5)) {
    tr_http_ws_close(the_srv, ev.rid, 4000, "asked to");
  } else if (ev.len == 5 && !memcmp(ev.data, "flood", 5)) {
    char *big = malloc(65536);
    memset(big, 'y', 65536);
    for (int i = 0; i < 64; i++) tr_http_ws_send(the_srv, ev.rid, TR_HTTP_WS_TEXT, big, 65536);
    free(big);
  } else if (ev.len == 5 && !memcmp(ev.data, "batch", 5)) {
    uint32_t lens[3] = {1, 2, 3};
    tr_http_ws_send_batch(the_srv, ev.rid, "abbccc", lens, 3);
  } else {
    tr_http_ws_send(the_srv, ev.rid, ev.kind == TR_HTTP_EV_TEXT ? TR_HTTP_WS_TEXT : TR_HTTP_WS_BINARY,
                    ev.data, ev.len);
  }
  return 0;
}

static const tr_behavior ws_behavior = {.name = "ws-test", .state_size = sizeof(ws_state_t),
                                        .receive = ws_receive};

typedef struct {
  tr_system *sys;
  tr_http_server *srv;
  int port;
} fixture;

static void start(fixture *f, const char *token) {
  tr_config cfg = {.threads = 2};
  assert_int_equal(tr_system_new(&cfg, &f->sys), 0);
  tr_ref a;
  assert_int_equal(tr_system_spawn(f->sys, &ws_behavior, NULL, NULL, &a), 0);
  tr_http_opts o = {.listen = "127.0.0.1:0", .bearer_token = token,
                    .limits = {.ws_max_message = 1024, .max_stream_buffer = 256u << 10,
                               .ws_close_timeout_ms = 1000}};
  assert_int_equal(tr_http_new(f->sys, &o, &f->srv), 0);
  the_srv = f->srv;
  assert_int_equal(tr_http_route_actor(f->srv, "GET", "/ws",
                                       TR_HTTP_ROUTE_UPGRADE | TR_HTTP_ROUTE_QUERY_TOKEN |
                                           TR_HTTP_ROUTE_NOTIFY_CLOSE,
                                       a,
                                       MSG_REQ),
                   0);
  assert_int_equal(tr_http_route_actor(f->srv, "GET", "/stream", 0, a, MSG_REQ), 0);
  assert_int_equal(tr_http_start(f->srv), 0);
  f->port = atoi(strrchr(tr_http_address(f->srv), ':') + 1);
  atomic_store(&closed_events, 0);
}

static void stop(fixture *f) {
  assert_int_equal(tr_http_stop(f->srv, 2000), 0);
  tr_system_free(f->sys);
  tr_http_free(f->srv);
}

static void wait_closed(int n) {
  for (int i = 0; i < WAIT_MS / 10 && atomic_load(&closed_events) < n; i++) usleep(10000);
  assert_int_equal(atomic_load(&closed_events), n);
}

static void expect_close(hc_conn *c, int code) {
  int op, fin;
  char *d;
  size_t n;
  for (;;) {
    assert_int_equal(ws_recv(c, &op, &fin, &d, &n), 0);
    if (op == 8) break;
    free(d);
  }
  assert_true(n >= 2);
  int got = ((uint8_t)d[0]) << 8 | (uint8_t)d[1];
  if (got != code) fprintf(stderr, "close %d '%s'\n", got, d + 2);
  assert_int_equal(got, code);
  free(d);
}

static void test_handshake(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL);
  hc_conn c;
  /* accepted: the 101 carries the RFC's accept value and the handler's header */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(hc_send_str(&c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                   "Connection: keep-alive, Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n"), 0);
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 1), 0);
  assert_int_equal(r.status, 101);
  char v[64];
  assert_non_null(hc_header(&r, "sec-websocket-accept", v, sizeof v));
  assert_string_equal(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_non_null(hc_header(&r, "x-ws", v, sizeof v));
  hc_free(&r);
  hc_close(&c);
  /* refused by the server, never reaching the handler: 400 in Camunda's shape */
  const char *bad[] = {
      "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", /* no upgrade at all */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
    assert_int_equal(hc_send_str(&c, bad[i]), 0);
    assert_int_equal(hc_read(&c, &r, 0), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"type\":\"InvalidRequestException\""));
    hc_free(&r);
    hc_close(&c);
  }
  /* a client that leaves before the handler answers: the handler hears of it */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(hc_send_str(&c, "GET /ws?hold HTTP/1.1\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), 0);
  usleep(100000);
  hc_close(&c);
  wait_closed(1);
  /* the handler may refuse with any status */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws?refuse", NULL), 403);
  hc_close(&c);
  stop(&f);
}

static void test_frames(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 101);
  /* masked text echoes */
  ws_send_text(&c, "hello");
  char *t = ws_recv_text(&c);
  assert_string_equal(t, "hello");
  free(t);
  /* a batch: three messages */
  ws_send_text(&c, "batch");
  const char *want[] = {"a", "bb", "ccc"};
  for (int i = 0; i < 3; i++) {
    t = ws_recv_text(&c);
    assert_string_equal(t, want[i]);
    free(t);
  }
  /* fragments with a ping between them: one message; the ping is answered */
  ws_send(&c, 0, 1, 1, "frag", 4);
  ws_send(&c, 1, 9, 1, "pp", 2);
  ws_send(&c, 0, 0, 1, "men", 3);
  ws_send(&c, 1, 0, 1, "ted", 3);
  int op, fin;
  char *d;
  size_t n;
  assert_int_equal(ws_recv(&c, &op, &fin, &d, &n), 0);
  assert_int_equal(op, 10);
  assert_string_equal(d, "pp");
  free(d);
  t = ws_recv_text(&c);
  assert_string_equal(t, "fragmented");
  free(t);
  /* binary echoes as binary */
  ws_send(&c, 1, 2, 1, "\x00\x01\x02", 3);
  assert_int_equal(ws_recv(&c, &op, &fin, &d, &n), 0);
  assert_int_equal(op, 2);
  assert_int_equal(n, 3);
  free(d);
  /* the server closes when asked: 4000, then the client answers */
  ws_send_text(&c, "close");
  expect_close(&c, 4000);
  uint8_t code[2] = {0x0f, 0xa0};
  ws_send(&c, 1, 8, 1, code, 2);
  assert_true(hc_expect_eof(&c));
  hc_close(&c);
  wait_closed(1);
  assert_int_equal(atomic_load(&last_close_code), 4000);

  /* a client's close is echoed and the TCP connection closes */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 101);
  uint8_t normal[2] = {0x03, 0xe8};
  ws_send(&c, 1, 8, 1, normal, 2);
  expect_close(&c, 1000);
  assert_true(hc_expect_eof(&c));
  hc_close(&c);
  wait_closed(2);
  assert_int_equal(atomic_load(&last_close_code), 1000);

  /* unmasked client frames are a protocol error: 1002 */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 101);
  ws_send(&c, 1, 1, 0, "bare", 4);
  expect_close(&c, 1002);
  hc_close(&c);

  /* over ws_max_message (1024), even in fragments: 1009 */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 101);
  char big[800];
  memset(big, 'z', sizeof big);
  ws_send(&c, 0, 1, 1, big, sizeof big);
  ws_send(&c, 1, 0, 1, big, sizeof big);
  expect_close(&c, 1009);
  hc_close(&c);

  /* text that is not UTF-8: 1007 */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 101);
  ws_send(&c, 1, 1, 1, "\xff\xfe", 2);
  expect_close(&c, 1007);
  hc_close(&c);

  /* a frame in the same packet as the handshake is not lost */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  char req[1024];
  int k = snprintf(req, sizeof req,
                   "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  k += (int)ws_frame((uint8_t *)req + k, 1, 1, 1, "early", 5);
  hc_send(&c, req, (size_t)k);
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 1), 0);
  assert_int_equal(r.status, 101);
  hc_free(&r);
  t = ws_recv_text(&c);
  assert_string_equal(t, "early");
  free(t);
  hc_close(&c);
  stop(&f);
}

/* A client that does not read is cut with 1008 and a reason once its
 * buffer passes max_stream_buffer (256 KiB here); another client on the
 * same server goes on undisturbed. */
static void test_slow_consumer(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL);
  hc_conn slow, fast;
  assert_int_equal(hc_connect(&slow, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&slow, "/ws", NULL), 101);
  int rcvbuf = 4096;
  setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  assert_int_equal(hc_connect(&fast, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&fast, "/ws", NULL), 101);
  ws_send_text(&slow, "flood");
  /* the cut shows as the connection going: the actor hears of it */
  wait_closed(1);
  assert_int_equal(atomic_load(&last_close_code), 1008);
  ws_send_text(&fast, "still here");
  char *t = ws_recv_text(&fast);
  assert_string_equal(t, "still here");
  free(t);
  hc_close(&slow);
  hc_close(&fast);
  stop(&f);
}

/* A streamed answer (SSE) to a reader that does not read: cut, with the
 * handler's overflow bytes last if they can still go out. */
static void test_stream_cut(void **state) {
  (void)state;
  fixture f;
  start(&f, NULL);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  int rcvbuf = 4096;
  setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  hc_send_str(&c, "GET /stream HTTP/1.1\r\n\r\n");
  wait_closed(1); /* 8 MiB offered, 256 KiB allowed: cut */
  hc_close(&c);
  stop(&f);
}

static void test_query_token(void **state) {
  (void)state;
  fixture f;
  start(&f, "s3cret+/=");
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", NULL), 401);
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws?access_token=wrong", NULL), 401);
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws?a=1&access_token=s3cret%2B%2F%3D", NULL), 101);
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(ws_open(&c, "/ws", "Authorization: Bearer s3cret+/=\r\n"), 101);
  hc_close(&c);
  stop(&f);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer that has gone is an error code */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha1_vectors), cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_handshake),    cmocka_unit_test(test_frames),
      cmocka_unit_test(test_slow_consumer), cmocka_unit_test(test_stream_cut),
      cmocka_unit_test(test_query_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
