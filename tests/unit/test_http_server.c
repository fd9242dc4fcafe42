/* The HTTP server in-process, over loopback: callback and actor handlers,
 * answers in request order whatever order the handlers answer in,
 * streaming, the handler deadline, limits and timeouts with their status
 * and a JSON error body, auth, the connection limit, and a drain with a
 * request in flight. Outcomes only: deadlines are liveness bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "actors/http/http.h"
#include "../http/client.h"

#ifdef TROUPE_SANITIZED
#define WAIT_MS 120000
#else
#define WAIT_MS 20000
#endif

enum { MSG_REQ = 1, MSG_LATER, MSG_RELEASE };

/* ------------------------------------------------------------ handlers */

static void hello(tr_http_server *srv, tr_http_rid rid, const tr_http_request *req, void *arg) {
  (void)arg;
  char body[256];
  int n = snprintf(body, sizeof body, "%s %s q=%s len=%zu", req->method, req->path, req->query,
                   req->body_len);
  tr_http_response r = {.status = 200, .content_type = "text/plain", .body = body,
                        .body_len = (size_t)n};
  tr_http_respond(srv, rid, &r);
}

/* 8 MiB: more than the kernel's socket buffers take, so part of it waits
 * in the server's write queue until the client reads */
#define BIG (8u << 20)
static void big(tr_http_server *srv, tr_http_rid rid, const tr_http_request *req, void *arg) {
  (void)req, (void)arg;
  char *body = malloc(BIG);
  memset(body, 'x', BIG);
  tr_http_response r = {.status = 200, .body = body, .body_len = BIG};
  tr_http_respond(srv, rid, &r);
  free(body);
}

/* The actor handler: /actor/slow answers after a timer (so later requests
 * are answered first by their handlers), /actor/hold when it is told to
 * (MSG_RELEASE), /actor/stream streams three chunks, /actor/never never
 * answers, anything else at once. */
typedef struct {
  tr_msg *pending[8];
  int npending;
} echo_state;

static int echo_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  echo_state *s = state;
  if (msg->type == MSG_REQ) {
    tr_http_incoming in;
    if (tr_http_incoming_decode(msg, &in) < 0) return 0;
    int hold = in.req.path_len == 11 && !memcmp(in.req.path, "/actor/hold", 11);
    if (hold || (in.req.path_len == 11 && !memcmp(in.req.path, "/actor/slow", 11))) {
      /* keep a copy of the request; answer it when the timer fires */
      tr_msg *copy = malloc(sizeof *copy + msg->len);
      memcpy(copy, msg, sizeof *copy + msg->len);
      s->pending[s->npending++] = copy;
      uint64_t id;
      if (!hold) tr_timer_start(ctx, 100, 0, MSG_LATER, NULL, 0, &id);
      return 0;
    }
    if (in.req.path_len == 13 && !memcmp(in.req.path, "/actor/stream", 13)) {
      tr_http_response r = {.status = 200, .content_type = "text/plain", .stream = 1,
                            .body = "one,", .body_len = 4};
      tr_http_reply(ctx, &in, &r);
      tr_http_reply_chunk(ctx, &in, "two,", 4, 0);
      tr_http_reply_chunk(ctx, &in, "three", 5, 1);
      return 0;
    }
    if (in.req.path_len == 12 && !memcmp(in.req.path, "/actor/never", 12)) return 0;
    size_t hl = 0;
    const char *h = tr_http_incoming_header(&in, "x-test", &hl);
    char body[256];
    int n = snprintf(body, sizeof body, "actor %s %.*s x-test=%.*s body=%.*s", in.req.method,
                     (int)in.req.path_len, in.req.path, (int)hl, h ? h : "",
                     (int)in.req.body_len, in.req.body ? (const char *)in.req.body : "");
    tr_http_response r = {.status = 201, .content_type = "text/plain",
                          .headers = "X-Handler: echo\r\n", .body = body,
                          .body_len = (size_t)n};
    tr_http_reply(ctx, &in, &r);
    return 0;
  }
  if (msg->type == MSG_LATER || msg->type == MSG_RELEASE) {
    for (int i = 0; i < s->npending; i++) {
      tr_http_incoming in;
      tr_http_incoming_decode(s->pending[i], &in);
      tr_http_response r = {.status = 200, .body = "slow", .body_len = 4};
      tr_http_reply(ctx, &in, &r);
      free(s->pending[i]);
    }
    s->npending = 0;
  }
  return 0;
}

static void echo_terminate(tr_ctx *ctx, void *state, int reason) {
  (void)ctx, (void)reason;
  echo_state *s = state;
  for (int i = 0; i < s->npending; i++) free(s->pending[i]);
}

static const tr_behavior echo_behavior = {.name = "echo", .state_size = sizeof(echo_state),
                                          .receive = echo_receive,
                                          .terminate = echo_terminate};

/* ------------------------------------------------------------ fixture */

typedef struct {
  tr_system *sys;
  tr_http_server *srv;
  tr_ref echo;
  int port;
} fixture;

static void start(fixture *f, uint32_t threads, const tr_http_opts *o) {
  tr_config cfg = {.threads = threads};
  assert_int_equal(tr_system_new(&cfg, &f->sys), 0);
  assert_int_equal(tr_system_spawn(f->sys, &echo_behavior, NULL, NULL, &f->echo), 0);
  tr_ref echo = f->echo;
  assert_int_equal(tr_http_new(f->sys, o, &f->srv), 0);
  assert_int_equal(tr_http_route_fn(f->srv, NULL, "/hello", 0, hello, NULL), 0);
  assert_int_equal(tr_http_route_fn(f->srv, "GET", "/public", TR_HTTP_ROUTE_PUBLIC, hello, NULL),
                   0);
  assert_int_equal(tr_http_route_fn(f->srv, "GET", "/exact", TR_HTTP_ROUTE_EXACT, hello, NULL), 0);
  assert_int_equal(tr_http_route_fn(f->srv, "GET", "/big", 0, big, NULL), 0);
  assert_int_equal(tr_http_route_actor(f->srv, NULL, "/actor", 0, echo, MSG_REQ), 0);
  tr_ref gone = {0, 0xdead00000001ull};
  assert_int_equal(tr_http_route_actor(f->srv, NULL, "/gone", 0, gone, MSG_REQ), 0);
  assert_int_equal(tr_http_start(f->srv), 0);
  const char *a = tr_http_address(f->srv);
  f->port = atoi(strrchr(a, ':') + 1);
  assert_true(f->port > 0);
}

static void stop(fixture *f) {
  assert_int_equal(tr_http_stop(f->srv, 5000), 0);
  tr_system_free(f->sys);
  tr_http_free(f->srv);
}

static tr_http_opts plain(void) {
  tr_http_opts o = {.listen = "127.0.0.1:0"};
  return o;
}

static void get_ok(hc_conn *c, const char *req, int status, const char *body) {
  hc_resp r;
  assert_int_equal(hc_send_str(c, req), 0);
  assert_int_equal(hc_read(c, &r, 0), 0);
  if (r.status != status || (body && strcmp(r.body, body)))
    fprintf(stderr, "want %d '%s', got:\n%s%s\n", status, body ? body : "", r.head, r.body);
  assert_int_equal(r.status, status);
  if (body) assert_string_equal(r.body, body);
  hc_free(&r);
}

/* ------------------------------------------------------------ tests */

static void test_handlers_and_keepalive(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  start(&f, 2, &o);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  get_ok(&c, "GET /hello?a=b HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /hello q=a=b len=0");
  get_ok(&c, "POST /hello/sub HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 200,
         "POST /hello/sub q= len=3");
  get_ok(&c, "GET /actor/x HTTP/1.1\r\nX-Test: yes\r\n\r\n", 201,
         "actor GET /actor/x x-test=yes body=");
  get_ok(&c, "PUT /actor HTTP/1.1\r\nContent-Length: 4\r\n\r\ndata", 201,
         "actor PUT /actor x-test= body=data");
  /* prefixes end at a path segment; exact routes match only themselves */
  get_ok(&c, "GET /helloworld HTTP/1.1\r\n\r\n", 404, NULL);
  get_ok(&c, "GET /exact/more HTTP/1.1\r\n\r\n", 404, NULL);
  get_ok(&c, "POST /exact HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, NULL);
  get_ok(&c, "GET /gone HTTP/1.1\r\n\r\n", 503, NULL);
  /* HEAD of a GET route: the headers, no body */
  hc_resp r;
  hc_send_str(&c, "HEAD /exact HTTP/1.1\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 1), 0);
  assert_int_equal(r.status, 200);
  char v[64];
  assert_non_null(hc_header(&r, "content-length", v, sizeof v));
  assert_true(atoi(v) > 0);
  hc_free(&r);
  /* an error body is Camunda's shape */
  hc_send_str(&c, "GET /nope HTTP/1.1\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "{\"type\":\"NotFoundException\",\"message\":\"no such path\"}");
  assert_string_equal(hc_header(&r, "content-type", v, sizeof v), "application/json");
  hc_free(&r);
  /* the same connection throughout; Connection: close ends it */
  hc_send_str(&c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 200);
  assert_true(r.closed);
  hc_free(&r);
  hc_close(&c);
  /* HTTP/1.0: closes after the answer unless keep-alive is asked */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_non_null(strstr(r.head, "Connection: keep-alive"));
  hc_free(&r);
  hc_send_str(&c, "GET /hello HTTP/1.0\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 200);
  assert_true(r.closed);
  hc_free(&r);
  hc_close(&c);
  tr_http_stats st;
  tr_http_stats_get(f.srv, &st);
  assert_true(st.requests >= 13);
  stop(&f);
}

/* A slow actor answer first, fast ones after: answers go out in order. */
static void test_pipelining_in_order(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  start(&f, 2, &o);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(hc_send_str(&c, "GET /actor/slow HTTP/1.1\r\n\r\n"
                                   "GET /hello?n=1 HTTP/1.1\r\n\r\n"
                                   "GET /actor/fast HTTP/1.1\r\n\r\n"
                                   "GET /actor/stream HTTP/1.1\r\n\r\n"
                                   "GET /hello?n=2 HTTP/1.1\r\nConnection: close\r\n\r\n"),
                   0);
  const char *want[] = {"slow", "GET /hello q=n=1 len=0", "actor GET /actor/fast x-test= body=",
                        "one,two,three", "GET /hello q=n=2 len=0"};
  for (int i = 0; i < 5; i++) {
    hc_resp r;
    assert_int_equal(hc_read(&c, &r, 0), 0);
    assert_string_equal(r.body, want[i]);
    if (i == 3) assert_non_null(strstr(r.head, "Transfer-Encoding: chunked"));
    if (i == 4) assert_true(r.closed);
    hc_free(&r);
  }
  hc_close(&c);
  /* more pipelined requests than max_pipeline: reading pauses, all answered */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  char big[64 * 40];
  size_t at = 0;
  for (int i = 0; i < 40; i++)
    at += (size_t)snprintf(big + at, sizeof big - at, "GET /hello?i=%d HTTP/1.1\r\n\r\n", i);
  hc_send(&c, big, at);
  for (int i = 0; i < 40; i++) {
    hc_resp r;
    char want1[64];
    snprintf(want1, sizeof want1, "GET /hello q=i=%d len=0", i);
    assert_int_equal(hc_read(&c, &r, 0), 0);
    assert_string_equal(r.body, want1);
    hc_free(&r);
  }
  hc_close(&c);
  stop(&f);
}

/* A request in single bytes, and with Expect: 100-continue. */
static void test_bytewise_and_continue(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  start(&f, 2, &o);
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_int_equal(hc_send_bytewise(&c, "POST /actor/b HTTP/1.1\r\nX-Test: 1\r\n"
                                        "Content-Length: 2\r\n\r\nhi"),
                   0);
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_string_equal(r.body, "actor POST /actor/b x-test=1 body=hi");
  hc_free(&r);
  hc_send_str(&c, "PUT /hello HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 100);
  hc_free(&r);
  hc_send_str(&c, "12345");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_string_equal(r.body, "PUT /hello q= len=5");
  hc_free(&r);
  hc_close(&c);
  stop(&f);
}

static void expect_error(int port, const char *req, int status, const char *type) {
  hc_conn c;
  assert_int_equal(hc_connect(&c, port, WAIT_MS), 0);
  hc_send_str(&c, req);
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 0), 0);
  if (r.status != status) fprintf(stderr, "want %d, got:\n%s%s\n", status, r.head, r.body);
  assert_int_equal(r.status, status);
  char want[128];
  snprintf(want, sizeof want, "{\"type\":\"%s\",", type);
  assert_non_null(strstr(r.body, want));
  assert_non_null(strstr(r.body, "\"message\":\""));
  assert_true(r.closed); /* a malformed stream cannot go on */
  hc_free(&r);
  hc_close(&c);
}

static void test_limits_and_malformed(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  o.limits = (tr_http_limits){.max_url = 64, .max_header_bytes = 512, .max_headers = 8,
                              .max_body = 16};
  start(&f, 2, &o);
  expect_error(f.port, "BLAH\r\n\r\n", 400, "InvalidRequestException");
  expect_error(f.port, "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400, "InvalidRequestException");
  expect_error(f.port, "GET / HTTP/3.0\r\n\r\n", 505, "HttpVersionNotSupportedException");
  char req[2048];
  snprintf(req, sizeof req, "GET /%0100d HTTP/1.1\r\n\r\n", 0);
  expect_error(f.port, req, 414, "UriTooLongException");
  snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-Big: %0600d\r\n\r\n", 0);
  expect_error(f.port, req, 431, "HeaderFieldsTooLargeException");
  expect_error(f.port, "GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\n"
                       "g: 1\r\nh: 1\r\ni: 1\r\n\r\n",
               431, "HeaderFieldsTooLargeException");
  expect_error(f.port, "POST /hello HTTP/1.1\r\nContent-Length: 17\r\n\r\n", 413,
               "PayloadTooLargeException");
  /* a body over the limit arriving anyway: 413, and the answer survives the
   * unread rest (the server lingers before it closes) */
  snprintf(req, sizeof req, "POST /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "400\r\n%01024d\r\n", 0);
  expect_error(f.port, req, 413, "PayloadTooLargeException");
  /* requests before the bad one are answered first */
  hc_conn c;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /hello HTTP/1.1\r\n\r\nGET /actor/slow HTTP/1.1\r\n\r\nJUNK\r\n\r\n");
  hc_resp r;
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 200);
  hc_free(&r);
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_string_equal(r.body, "slow");
  hc_free(&r);
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 400);
  assert_true(r.closed);
  hc_free(&r);
  hc_close(&c);
  tr_http_stats st;
  tr_http_stats_get(f.srv, &st);
  assert_true(st.errors_4xx >= 8); /* 4xx only: not the 505 */
  stop(&f);
}

static void test_timeouts(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  /* short enough to wait for, long enough that a loaded machine gets a
   * request across before a connection counts as idle */
  o.limits = (tr_http_limits){.header_timeout_ms = 500, .body_timeout_ms = 500,
                              .idle_timeout_ms = 1000, .handler_timeout_ms = 300};
  start(&f, 2, &o);
  hc_conn c;
  hc_resp r;
  /* slowloris: headers that never end -> 408 and close */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /hello HTTP/1.1\r\nX-A: 1\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 408);
  assert_true(r.closed);
  hc_free(&r);
  hc_close(&c);
  /* a body that never completes -> 408 and close */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "POST /hello HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 408);
  assert_true(r.closed);
  hc_free(&r);
  hc_close(&c);
  /* idle keep-alive, and a connection that never says anything: closed */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  get_ok(&c, "GET /hello HTTP/1.1\r\n\r\n", 200, NULL);
  assert_true(hc_expect_eof(&c));
  hc_close(&c);
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  assert_true(hc_expect_eof(&c));
  hc_close(&c);
  /* a handler that never answers: 504, and the connection goes on */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /actor/never HTTP/1.1\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 504);
  assert_non_null(strstr(r.body, "GatewayTimeoutException"));
  hc_free(&r);
  get_ok(&c, "GET /hello HTTP/1.1\r\n\r\n", 200, NULL);
  hc_close(&c);
  stop(&f);
}

static void test_auth(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  o.bearer_token = "s3cret";
  o.basic_user = "ann";
  o.basic_password = "pw:with:colons";
  start(&f, 2, &o);
  hc_conn c;
  hc_resp r;
  char v[128];
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /hello HTTP/1.1\r\n\r\n");
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_int_equal(r.status, 401);
  assert_non_null(hc_header(&r, "www-authenticate", v, sizeof v));
  assert_non_null(strstr(v, "Bearer realm=\"troupe\""));
  assert_non_null(strstr(v, "Basic realm=\"troupe\""));
  assert_non_null(strstr(r.body, "AuthenticationException"));
  hc_free(&r);
  /* the connection stays usable after a 401 */
  get_ok(&c, "GET /hello HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n", 200, NULL);
  get_ok(&c, "GET /hello HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n", 401, NULL);
  get_ok(&c, "GET /hello HTTP/1.1\r\nAuthorization: Bearer s3cret2\r\n\r\n", 401, NULL);
  /* ann:pw:with:colons */
  get_ok(&c, "GET /actor/a HTTP/1.1\r\nAuthorization: Basic YW5uOnB3OndpdGg6Y29sb25z\r\n\r\n",
         201, NULL);
  get_ok(&c, "GET /hello HTTP/1.1\r\nAuthorization: Basic YW5uOnB3\r\n\r\n", 401, NULL);
  get_ok(&c, "GET /hello HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n", 401, NULL);
  /* public routes need nothing; unknown paths are not told apart */
  get_ok(&c, "GET /public HTTP/1.1\r\n\r\n", 200, NULL);
  get_ok(&c, "GET /nope HTTP/1.1\r\n\r\n", 401, NULL);
  get_ok(&c, "GET /nope HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n", 404, NULL);
  hc_close(&c);
  stop(&f);
}

/* one scheduler, one connection allowed: the second gets 503 */
static void test_max_conns(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  o.limits.max_conns = 1;
  start(&f, 1, &o);
  hc_conn a, b;
  assert_int_equal(hc_connect(&a, f.port, WAIT_MS), 0);
  get_ok(&a, "GET /hello HTTP/1.1\r\n\r\n", 200, NULL);
  assert_int_equal(hc_connect(&b, f.port, WAIT_MS), 0);
  hc_resp r;
  assert_int_equal(hc_read(&b, &r, 0), 0);
  assert_int_equal(r.status, 503);
  hc_free(&r);
  hc_close(&b);
  get_ok(&a, "GET /hello HTTP/1.1\r\n\r\n", 200, NULL);
  hc_close(&a);
  stop(&f);
}

/* Drain: an idle connection is closed, a request in flight (its actor
 * answers once the drain has begun) is answered with Connection: close, a
 * request half received is read to its end and answered, new connections
 * are refused; tr_http_stop returns once all is closed. */
static void *stopper(void *arg) {
  fixture *f = arg;
  tr_http_stop(f->srv, 30000);
  return NULL;
}

static void test_drain(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  start(&f, 2, &o);
  hc_conn idle, busy, partial;
  assert_int_equal(hc_connect(&idle, f.port, WAIT_MS), 0);
  get_ok(&idle, "GET /hello HTTP/1.1\r\n\r\n", 200, NULL);
  assert_int_equal(hc_connect(&busy, f.port, WAIT_MS), 0);
  assert_int_equal(hc_connect(&partial, f.port, WAIT_MS), 0);
  /* one write: once the GET is answered, the POST's head (read with it)
   * has been parsed too, so the drain finds a request half received */
  get_ok(&partial, "GET /hello HTTP/1.1\r\n\r\nPOST /hello HTTP/1.1\r\nContent-Length: 4\r\n\r\nab",
         200, NULL);
  hc_send_str(&busy, "GET /actor/hold HTTP/1.1\r\n\r\n");
  tr_http_stats st;
  uint64_t deadline = hc_now() + WAIT_MS;
  do {
    tr_http_stats_get(f.srv, &st);
    usleep(1000);
  } while (st.requests < 3 && hc_now() < deadline);
  assert_true(st.requests >= 3);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, stopper, &f), 0);
  assert_true(hc_expect_eof(&idle)); /* the drain has begun */
  assert_int_equal(tr_system_send(f.sys, f.echo, MSG_RELEASE, NULL, 0), 0);
  hc_resp r;
  assert_int_equal(hc_read(&busy, &r, 0), 0);
  assert_string_equal(r.body, "slow");
  assert_true(r.closed);
  hc_free(&r);
  hc_send_str(&partial, "cd");
  assert_int_equal(hc_read(&partial, &r, 0), 0);
  assert_string_equal(r.body, "POST /hello q= len=4");
  assert_true(r.closed);
  hc_free(&r);
  pthread_join(t, NULL);
  hc_conn late;
  assert_true(hc_connect(&late, f.port, WAIT_MS) < 0 || hc_expect_eof(&late));
  hc_close(&late);
  hc_close(&idle);
  hc_close(&busy);
  hc_close(&partial);
  stop(&f); /* a second stop is a no-op */
}

/* Answers being written are not cut: not by the client's half-close, not
 * by a drain. */
static void test_writes_finish(void **state) {
  (void)state;
  fixture f;
  tr_http_opts o = plain();
  start(&f, 2, &o);
  hc_conn c;
  hc_resp r;
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /hello HTTP/1.1\r\n\r\nGET /hello?2 HTTP/1.1\r\n\r\n");
  shutdown(c.fd, SHUT_WR);
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_string_equal(r.body, "GET /hello q= len=0");
  hc_free(&r);
  assert_int_equal(hc_read(&c, &r, 0), 0);
  assert_string_equal(r.body, "GET /hello q=2 len=0");
  hc_free(&r);
  assert_true(hc_expect_eof(&c));
  hc_close(&c);
  /* a big answer, unread when the drain starts, arrives whole */
  assert_int_equal(hc_connect(&c, f.port, WAIT_MS), 0);
  hc_send_str(&c, "GET /big HTTP/1.1\r\n\r\n");
  tr_http_stats st;
  uint64_t deadline = hc_now() + WAIT_MS;
  do {
    tr_http_stats_get(f.srv, &st);
    usleep(1000);
  } while (st.requests < 3 && hc_now() < deadline);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, stopper, &f), 0);
  size_t got = 0;
  uint64_t until = hc_now() + WAIT_MS;
  char *end = NULL;
  size_t head = 0;
  while (hc_fill(&c, until) == 0 || c.len) { /* count body bytes to EOF */
    c.buf[c.len] = 0;
    if (!end && (end = strstr(c.buf, "\r\n\r\n"))) {
      head = (size_t)(end - c.buf) + 4;
      hc_take(&c, head);
    }
    if (end) got += c.len, c.len = 0;
    if (c.eof) break;
  }
  assert_non_null(end);
  assert_int_equal(got, BIG);
  pthread_join(t, NULL);
  hc_close(&c);
  stop(&f);
}

static void test_api_errors(void **state) {
  (void)state;
  tr_config cfg = {.threads = 1};
  tr_system *sys;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  tr_http_server *srv;
  tr_http_opts o = {.listen = NULL};
  assert_int_equal(tr_http_new(sys, &o, &srv), TR_EINVAL);
  o.listen = "127.0.0.1:0";
  o.basic_user = "u";
  assert_int_equal(tr_http_new(sys, &o, &srv), TR_EINVAL); /* user without password */
  o.basic_user = NULL;
  assert_int_equal(tr_http_new(sys, &o, &srv), 0);
  assert_int_equal(tr_http_route_fn(srv, NULL, "no-slash", 0, hello, NULL), TR_EINVAL);
  assert_int_equal(tr_http_route_fn(srv, NULL, "/x", 0, NULL, NULL), TR_EINVAL);
  assert_int_equal(tr_http_route_actor(srv, NULL, "/x", 0, TR_REF_NONE, 1), TR_EINVAL);
  tr_http_free(srv); /* never started */
  o.listen = "nonsense";
  assert_int_equal(tr_http_new(sys, &o, &srv), 0);
  assert_int_equal(tr_http_start(srv), TR_EINVAL);
  tr_http_free(srv);
  tr_http_incoming in;
  tr_msg *junk = calloc(1, sizeof *junk + 4);
  junk->len = 4;
  memcpy(junk->data, "\xc1\x00\x01\x02", 4);
  assert_int_equal(tr_http_incoming_decode(junk, &in), TR_EPROTO);
  free(junk);
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handlers_and_keepalive),
      cmocka_unit_test(test_pipelining_in_order),
      cmocka_unit_test(test_bytewise_and_continue),
      cmocka_unit_test(test_limits_and_malformed),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_max_conns),
      cmocka_unit_test(test_drain),
      cmocka_unit_test(test_writes_finish),
      cmocka_unit_test(test_api_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
