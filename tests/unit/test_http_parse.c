/* The HTTP request parser wrapper (actors/http/parse.c): requests whole and
 * in pieces, pipelined requests one at a time, chunked bodies, HTTP/1.0,
 * and every limit with the status it must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/http/parse.h"

/* Feeds s whole; returns the event; *used gets the bytes consumed. */
static int feed(tr_http_parser *hp, const char *s, size_t *used) {
  size_t u = 0;
  int ev = tr_http_parser_feed(hp, s, strlen(s), &u);
  if (used) *used = u;
  return ev;
}

static void test_simple_get(void **state) {
  (void)state;
  tr_http_parser hp;
  tr_http_parser_init(&hp, NULL);
  const char *req = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nAccept: */*\r\n\r\n";
  size_t used;
  assert_int_equal(feed(&hp, req, &used), TR_HTTP_EV_REQUEST);
  assert_int_equal(used, strlen(req));
  const tr_http_request *r = &hp.req;
  assert_string_equal(r->method, "GET");
  assert_string_equal(r->path, "/a/b");
  assert_int_equal(r->path_len, 4);
  assert_string_equal(r->query, "x=1&y=2");
  assert_int_equal(r->url_len, strlen("/a/b?x=1&y=2"));
  assert_memory_equal(r->url, "/a/b?x=1&y=2", r->url_len);
  assert_int_equal(r->nheaders, 3);
  assert_string_equal(r->headers[0].name, "Host");
  assert_string_equal(r->headers[0].value, "h");
  assert_string_equal(r->headers[1].name, "X-Empty");
  assert_string_equal(r->headers[1].value, "");
  size_t len;
  assert_string_equal(tr_http_request_header(r, "accept", &len), "*/*");
  assert_int_equal(len, 3);
  assert_null(tr_http_request_header(r, "missing", NULL));
  assert_int_equal(r->version_minor, 1);
  assert_true(r->keep_alive);
  assert_null(r->body);
  tr_http_parser_free(&hp);
}

/* the same request one byte at a time gives the same result */
static void test_byte_at_a_time(void **state) {
  (void)state;
  tr_http_parser hp;
  tr_http_parser_init(&hp, NULL);
  const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Long-Name: "
                    "some value\r\n\r\nhello";
  size_t n = strlen(req);
  for (size_t i = 0; i < n; i++) {
    size_t used = 0;
    int ev = tr_http_parser_feed(&hp, req + i, 1, &used);
    assert_int_equal(used, 1);
    assert_int_equal(ev, i + 1 == n ? TR_HTTP_EV_REQUEST : TR_HTTP_EV_MORE);
    if (i == 0) assert_int_equal(tr_http_parser_progress(&hp), 1);
  }
  assert_string_equal(hp.req.method, "POST");
  assert_string_equal(hp.req.path, "/p");
  assert_string_equal(hp.req.query, "");
  assert_int_equal(hp.req.nheaders, 3);
  assert_string_equal(hp.req.headers[2].name, "X-Long-Name");
  assert_string_equal(hp.req.headers[2].value, "some value");
  assert_int_equal(hp.req.body_len, 5);
  assert_memory_equal(hp.req.body, "hello", 5);
  tr_http_parser_free(&hp);
}

/* pipelined requests come out one per feed, in order */
static void test_pipelined(void **state) {
  (void)state;
  tr_http_parser hp;
  tr_http_parser_init(&hp, NULL);
  const char *in = "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /3 "
                   "HTTP/1.1\r\nConnection: close\r\n\r\n";
  size_t off = 0, used;
  const char *paths[] = {"/1", "/2", "/3"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(tr_http_parser_feed(&hp, in + off, strlen(in) - off, &used),
                     TR_HTTP_EV_REQUEST);
    off += used;
    assert_string_equal(hp.req.path, paths[i]);
    /* a second feed without next() hands out nothing new */
    assert_int_equal(tr_http_parser_feed(&hp, in + off, strlen(in) - off, &used),
                     TR_HTTP_EV_REQUEST);
    assert_int_equal(used, 0);
    if (i == 1) assert_memory_equal(hp.req.body, "ok", 2);
    if (i == 2) assert_false(hp.req.keep_alive);
    tr_http_parser_next(&hp);
  }
  assert_int_equal(off, strlen(in));
  assert_int_equal(tr_http_parser_progress(&hp), 0);
  tr_http_parser_free(&hp);
}

static void test_chunked_body(void **state) {
  (void)state;
  tr_http_parser hp;
  tr_http_parser_init(&hp, NULL);
  const char *req = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
  assert_int_equal(feed(&hp, req, NULL), TR_HTTP_EV_REQUEST);
  assert_int_equal(hp.req.body_len, 7);
  assert_memory_equal(hp.req.body, "abcdefg", 7);
  tr_http_parser_free(&hp);
}

static void test_http10_and_forms(void **state) {
  (void)state;
  tr_http_parser hp;
  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "GET / HTTP/1.0\r\n\r\n", NULL), TR_HTTP_EV_REQUEST);
  assert_int_equal(hp.req.version_minor, 0);
  assert_false(hp.req.keep_alive);
  tr_http_parser_free(&hp);

  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", NULL),
                   TR_HTTP_EV_REQUEST);
  assert_true(hp.req.keep_alive);
  tr_http_parser_free(&hp);

  /* absolute form: the path and query come from the parsed URL */
  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "GET http://h:1/x/y?q=1 HTTP/1.1\r\n\r\n", NULL),
                   TR_HTTP_EV_REQUEST);
  assert_string_equal(hp.req.path, "/x/y");
  assert_string_equal(hp.req.query, "q=1");
  tr_http_parser_free(&hp);

  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "OPTIONS * HTTP/1.1\r\n\r\n", NULL), TR_HTTP_EV_REQUEST);
  assert_string_equal(hp.req.path, "*");
  tr_http_parser_free(&hp);

  /* Expect: 100-continue is noticed; other expectations are refused */
  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                        NULL),
                   TR_HTTP_EV_MORE);
  assert_int_equal(tr_http_parser_progress(&hp), 2);
  assert_true(hp.expect_continue);
  assert_int_equal(feed(&hp, "abc", NULL), TR_HTTP_EV_REQUEST);
  assert_true(hp.req.expect_continue);
  tr_http_parser_free(&hp);
  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "PUT /e HTTP/1.1\r\nExpect: tea\r\n\r\n", NULL), TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 417);
  tr_http_parser_free(&hp);

  /* an upgrade ends HTTP on this connection: what follows is refused */
  tr_http_parser_init(&hp, NULL);
  assert_int_equal(feed(&hp, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                        NULL),
                   TR_HTTP_EV_REQUEST);
  assert_true(hp.req.upgrade);
  tr_http_parser_next(&hp);
  assert_int_equal(feed(&hp, "GET / HTTP/1.1\r\n\r\n", NULL), TR_HTTP_EV_ERROR);
  tr_http_parser_free(&hp);
}

/* Each malformed input gives an error with its status, and stays an error. */
static void test_malformed(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"GET / HTTP/9.1\r\n\r\n", 505},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
      {"GET http://[::1/ HTTP/1.1\r\n\r\n", 400},
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400}, /* TLS to a plain port */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tr_http_parser hp;
    tr_http_parser_init(&hp, NULL);
    int ev = feed(&hp, cases[i].in, NULL);
    if (ev != TR_HTTP_EV_ERROR) fprintf(stderr, "case %zu: event %d\n", i, ev);
    assert_int_equal(ev, TR_HTTP_EV_ERROR);
    assert_int_equal(hp.status, cases[i].status);
    assert_non_null(hp.error);
    size_t used;
    assert_int_equal(feed(&hp, "GET / HTTP/1.1\r\n\r\n", &used), TR_HTTP_EV_ERROR);
    assert_int_equal(used, 0);
    tr_http_parser_free(&hp);
  }
}

static char *repeat(const char *head, char ch, size_t n, const char *tail) {
  size_t h = strlen(head), t = strlen(tail);
  char *s = malloc(h + n + t + 1);
  memcpy(s, head, h);
  memset(s + h, ch, n);
  memcpy(s + h + n, tail, t + 1);
  return s;
}

static void test_limits(void **state) {
  (void)state;
  tr_http_limits lim = {.max_url = 100, .max_header_bytes = 400, .max_headers = 5,
                        .max_body = 10};
  tr_http_parser hp;

  /* URL over the limit: 414, before the line ends */
  char *s = repeat("GET /", 'a', 200, "");
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, s, NULL), TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 414);
  tr_http_parser_free(&hp);
  free(s);
  /* at the limit: fine */
  s = repeat("GET /", 'a', 99, " HTTP/1.1\r\n\r\n");
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, s, NULL), TR_HTTP_EV_REQUEST);
  tr_http_parser_free(&hp);
  free(s);

  /* one header too large: 431 */
  s = repeat("GET / HTTP/1.1\r\nX-Big: ", 'b', 500, "\r\n\r\n");
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, s, NULL), TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 431);
  tr_http_parser_free(&hp);
  free(s);

  /* too many header lines: 431 */
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", NULL),
                   TR_HTTP_EV_REQUEST);
  tr_http_parser_free(&hp);
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(
      feed(&hp, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n\r\n", NULL),
      TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 431);
  tr_http_parser_free(&hp);

  /* body: a Content-Length over the limit is refused at the headers,
   * before any of the body is read */
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", NULL),
                   TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 413);
  tr_http_parser_free(&hp);
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", NULL),
                   TR_HTTP_EV_REQUEST);
  assert_int_equal(hp.req.body_len, 10);
  tr_http_parser_free(&hp);
  /* a chunked body is counted as it arrives */
  tr_http_parser_init(&hp, &lim);
  assert_int_equal(feed(&hp, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "8\r\n01234567\r\n8\r\n01234567\r\n",
                        NULL),
                   TR_HTTP_EV_ERROR);
  assert_int_equal(hp.status, 413);
  tr_http_parser_free(&hp);

  /* the defaults */
  tr_http_limits d = {0};
  tr_http_limits_default(&d);
  assert_int_equal(d.max_url, 8192);
  assert_int_equal(d.max_header_bytes, 16384);
  assert_int_equal(d.max_headers, 100);
  assert_true(d.max_body == 1u << 20);
  assert_int_equal(d.header_timeout_ms, 10000);
}

/* Buffers grow for a large request and are given back between requests. */
static void test_reuse(void **state) {
  (void)state;
  tr_http_limits lim = {.max_body = 1u << 20, .max_header_bytes = 1u << 20, .max_url = 1u << 19};
  tr_http_parser hp;
  tr_http_parser_init(&hp, &lim);
  char *s = repeat("GET /", 'u', 200000, " HTTP/1.1\r\n\r\n");
  assert_int_equal(feed(&hp, s, NULL), TR_HTTP_EV_ERROR); /* http-parser's own 80 KiB cap */
  assert_int_equal(hp.status, 431);
  free(s);
  tr_http_parser_free(&hp);
  tr_http_parser_init(&hp, &lim);
  for (int i = 0; i < 3; i++) {
    char head[80];
    snprintf(head, sizeof head, "PUT /r HTTP/1.1\r\nContent-Length: %d\r\n\r\n", 300000);
    s = repeat(head, 'z', 300000, "");
    assert_int_equal(feed(&hp, s, NULL), TR_HTTP_EV_REQUEST);
    assert_int_equal(hp.req.body_len, 300000);
    tr_http_parser_next(&hp);
    assert_int_equal(hp.bcap, 0);
    free(s);
  }
  tr_http_parser_free(&hp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_get),     cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_pipelined),      cmocka_unit_test(test_chunked_body),
      cmocka_unit_test(test_http10_and_forms), cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_limits),         cmocka_unit_test(test_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
