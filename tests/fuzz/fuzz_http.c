/* fuzz_http.c - libFuzzer target: HTTP requests into the server's parser
 * (actors/http/parse.c) and the request message (actors/http/message.c).
 *
 * The first input byte picks the size of the pieces the rest is fed in
 * (1..16, or whole), as reads from a socket would cut it; small limits
 * make every limit reachable. Invariants:
 *  - no crash, leak or overread (the sanitizers);
 *  - fed whole or in pieces, the same requests come out, with the same
 *    fields, and both end in an error or neither;
 *  - consumed bytes never exceed what was fed; MORE consumed everything;
 *  - an error has one of the statuses the server sends and a message;
 *  - every request is within the limits, its path and query are
 *    NUL-terminated views, its headers complete;
 *  - a request encoded as a message decodes to the same fields;
 *  - the input as a message (from another node) decodes or is refused,
 *    and its headers can be searched either way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/http/internal.h"
#include "fuzz_check.h"

#define MAX_REQS 8

static const tr_http_limits lim = {.max_url = 256, .max_header_bytes = 1024, .max_headers = 8,
                                   .max_body = 512};

/* A request reduced to comparable bytes: "method path?query|n:v|..|body". */
static size_t digest(const tr_http_request *r, char *out, size_t cap) {
  tr_pack pk;
  tr_pack_init_fixed(&pk, out, cap);
  tr_pack_str(&pk, r->method);
  tr_pack_strn(&pk, r->url, r->url_len);
  tr_pack_strn(&pk, r->path, r->path_len);
  tr_pack_strn(&pk, r->query, r->query_len);
  for (uint32_t i = 0; i < r->nheaders; i++) {
    tr_pack_strn(&pk, r->headers[i].name, r->headers[i].name_len);
    tr_pack_strn(&pk, r->headers[i].value, r->headers[i].value_len);
  }
  tr_pack_bin(&pk, r->body, r->body_len);
  tr_pack_uint(&pk, (uint64_t)r->version_minor << 3 | r->keep_alive << 2 | r->upgrade << 1 |
                        r->expect_continue);
  CHECK(pk.err == 0);
  return pk.len;
}

static void check_request(const tr_http_request *r) {
  CHECK(r->method && r->url && r->path && r->query);
  CHECK(r->url_len <= lim.max_url);
  CHECK(r->nheaders <= lim.max_headers);
  CHECK(r->body_len <= lim.max_body);
  CHECK(r->path[r->path_len] == 0 && r->query[r->query_len] == 0);
  CHECK(r->path_len >= 1);
  for (uint32_t i = 0; i < r->nheaders; i++)
    CHECK(r->headers[i].name[r->headers[i].name_len] == 0 &&
          r->headers[i].value[r->headers[i].value_len] == 0);
  /* as a message to an actor and back */
  tr_pack pk = TR_PACK_INIT;
  tr_http_rid rid = {0x0100000200000003ull, 7};
  tr_ref gw = {5, 6};
  CHECK(tr_http_request_encode(&pk, rid, gw, r) == 0);
  tr_http_incoming in;
  CHECK(tr_http_incoming_decode_bytes(pk.data, pk.len, &in) == 0);
  CHECK(in.rid.conn == rid.conn && in.rid.seq == rid.seq && tr_ref_eq(in.gateway, gw));
  CHECK(!strcmp(in.req.method, r->method));
  CHECK(in.req.path_len == r->path_len && !memcmp(in.req.path, r->path, r->path_len));
  CHECK(in.req.query_len == r->query_len && !memcmp(in.req.query, r->query, r->query_len));
  CHECK(in.req.body_len == r->body_len);
  CHECK(!r->body_len || !memcmp(in.req.body, r->body, r->body_len));
  for (uint32_t i = 0; i < r->nheaders; i++) {
    size_t a, b;
    const char *v1 = tr_http_incoming_header(&in, r->headers[i].name, &a);
    const char *v2 = tr_http_request_header(r, r->headers[i].name, &b);
    CHECK(v1 && v2 && a == b && !memcmp(v1, v2, a)); /* the first of a name, both ways */
  }
  tr_pack_free(&pk);
}

typedef struct {
  char digest[MAX_REQS][4096];
  size_t dlen[MAX_REQS];
  int n, status;
} outcome;

/* Feeds data in pieces of `piece` bytes (0: whole), collecting requests. */
static void run(const uint8_t *data, size_t size, size_t piece, outcome *o) {
  tr_http_parser hp;
  tr_http_parser_init(&hp, &lim);
  memset(o, 0, sizeof *o);
  size_t off = 0;
  while (off < size && o->n < MAX_REQS) {
    size_t n = piece && size - off > piece ? piece : size - off;
    size_t used = 0;
    int ev = tr_http_parser_feed(&hp, (const char *)data + off, n, &used);
    CHECK(used <= n);
    off += used;
    if (ev == TR_HTTP_EV_MORE) {
      CHECK(used == n);
      continue;
    }
    if (ev == TR_HTTP_EV_ERROR) {
      static const int ok[] = {400, 413, 414, 417, 431, 505};
      int known = 0;
      for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) known |= hp.status == ok[i];
      CHECK(known && hp.error && hp.error[0]);
      o->status = hp.status;
      break;
    }
    CHECK(ev == TR_HTTP_EV_REQUEST);
    check_request(&hp.req);
    o->dlen[o->n] = digest(&hp.req, o->digest[o->n], sizeof o->digest[0]);
    o->n++;
    tr_http_parser_next(&hp);
  }
  tr_http_parser_free(&hp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t piece = data[0] % 17; /* 0: whole */
  static outcome whole, pieces;
  run(data + 1, size - 1, 0, &whole);
  if (piece) {
    run(data + 1, size - 1, piece, &pieces);
    /* an error may be found sooner in pieces (http-parser hands a header
     * name over at each piece's end, so a limit can trip before a bad
     * character is seen): both fail, the status may differ */
    CHECK(whole.n == pieces.n && !whole.status == !pieces.status);
    for (int i = 0; i < whole.n; i++)
      CHECK(whole.dlen[i] == pieces.dlen[i] &&
            !memcmp(whole.digest[i], pieces.digest[i], whole.dlen[i]));
  }
  /* the raw input as a request message from another node */
  tr_http_incoming in;
  if (tr_http_incoming_decode_bytes(data, size, &in) == 0) {
    CHECK(strlen(in.req.method) < sizeof in.method_buf);
    size_t len;
    (void)tr_http_incoming_header(&in, "host", &len);
  }
  return 0;
}
