/* gateway.c - actor handlers. A request for an actor route travels as a
 * message (msgpack, so the handler may live on another node); the handler
 * answers with tr_http_reply, a message to the server's gateway actor,
 * which hands the answer to the connection's loop. The request carries the
 * gateway's ref, so the answer finds its way back from anywhere.
 *
 * Request payload, a map: c, s (the rid), g ([node, id] of the gateway),
 * m, u, p, q (method, url, path, query), v (minor version), k (keep-alive),
 * up (upgrade), h ([[name, value], ...]), b (body, bin).
 * Answer payload, a map: c, s, x (0 head and maybe body, 1 chunk), st,
 * ct, hd, b, sm (stream), l (last chunk).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/http/internal.h"

/* ------------------------------------------------------------ requests */

int tr_http_dispatch_actor(tr_http_server *srv, const route *rt, tr_http_rid rid,
                           const tr_http_request *req) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 12);
  tr_pack_str(&pk, "c"), tr_pack_uint(&pk, rid.conn);
  tr_pack_str(&pk, "s"), tr_pack_uint(&pk, rid.seq);
  tr_pack_str(&pk, "g"), tr_pack_array(&pk, 2);
  tr_pack_uint(&pk, srv->gateway.node), tr_pack_uint(&pk, srv->gateway.id);
  tr_pack_str(&pk, "m"), tr_pack_str(&pk, req->method);
  tr_pack_str(&pk, "u"), tr_pack_strn(&pk, req->url, req->url_len);
  tr_pack_str(&pk, "p"), tr_pack_strn(&pk, req->path, req->path_len);
  tr_pack_str(&pk, "q"), tr_pack_strn(&pk, req->query, req->query_len);
  tr_pack_str(&pk, "v"), tr_pack_uint(&pk, req->version_minor);
  tr_pack_str(&pk, "k"), tr_pack_bool(&pk, req->keep_alive);
  tr_pack_str(&pk, "up"), tr_pack_bool(&pk, req->upgrade);
  tr_pack_str(&pk, "h"), tr_pack_array(&pk, req->nheaders);
  for (uint32_t i = 0; i < req->nheaders; i++) {
    tr_pack_array(&pk, 2);
    tr_pack_strn(&pk, req->headers[i].name, req->headers[i].name_len);
    tr_pack_strn(&pk, req->headers[i].value, req->headers[i].value_len);
  }
  tr_pack_str(&pk, "b"), tr_pack_bin(&pk, req->body, req->body_len);
  int rc = pk.err;
  if (!rc) rc = tr_system_send(srv->sys, rt->actor, rt->type, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int find_strz(const tr_unpack *m, const char *key, const char **s, size_t *len) {
  if (tr_unpack_find_str(m, key, s, len) < 0) {
    *s = "";
    *len = 0;
    return TR_EPROTO;
  }
  return 0;
}

int tr_http_incoming_decode(const tr_msg *msg, tr_http_incoming *in) {
  if (!msg || !in) return TR_EINVAL;
  memset(in, 0, sizeof *in);
  tr_unpack m, v;
  tr_unpack_init(&m, msg->data, msg->len);
  uint64_t x;
  int64_t ver;
  int b;
  if (tr_unpack_find_uint(&m, "c", &in->rid.conn) < 0 ||
      tr_unpack_find_uint(&m, "s", &in->rid.seq) < 0 || tr_unpack_find(&m, "g", &v) < 0)
    return TR_EPROTO;
  uint32_t n;
  if (tr_unpack_array(&v, &n) < 0 || n != 2 || tr_unpack_uint(&v, &in->gateway.node) < 0 ||
      tr_unpack_uint(&v, &x) < 0)
    return TR_EPROTO;
  in->gateway.id = x;
  tr_http_request *r = &in->req;
  r->method = in->method_buf;
  const char *meth;
  size_t mlen;
  if (find_strz(&m, "m", &meth, &mlen) < 0 || mlen >= sizeof in->method_buf ||
      find_strz(&m, "u", &r->url, &r->url_len) < 0 ||
      find_strz(&m, "p", &r->path, &r->path_len) < 0 ||
      find_strz(&m, "q", &r->query, &r->query_len) < 0)
    return TR_EPROTO;
  memcpy(in->method_buf, meth, mlen);
  in->method_buf[mlen] = 0;
  if (tr_unpack_find_int(&m, "v", &ver) == 0) r->version_minor = (uint8_t)(ver == 0 ? 0 : 1);
  if (tr_unpack_find_bool(&m, "k", &b) == 0) r->keep_alive = (uint8_t)b;
  if (tr_unpack_find_bool(&m, "up", &b) == 0) r->upgrade = (uint8_t)b;
  const void *raw;
  if (tr_unpack_find(&m, "h", &v) < 0 || tr_unpack_raw(&v, &raw, &in->hdr_raw_len) < 0)
    return TR_EPROTO;
  in->hdr_raw = raw;
  if (tr_unpack_find(&m, "b", &v) == 0) {
    const void *body;
    if (tr_unpack_bin(&v, &body, &r->body_len) < 0) return TR_EPROTO;
    r->body = r->body_len ? body : NULL;
  }
  return 0;
}

const char *tr_http_incoming_header(const tr_http_incoming *in, const char *name, size_t *len) {
  tr_unpack u;
  uint32_t n, two;
  size_t nl = strlen(name);
  tr_unpack_init(&u, in->hdr_raw, in->hdr_raw_len);
  if (tr_unpack_array(&u, &n) < 0) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    const char *k, *val;
    size_t kl, vl;
    if (tr_unpack_array(&u, &two) < 0 || two != 2 || tr_unpack_str(&u, &k, &kl) < 0 ||
        tr_unpack_str(&u, &val, &vl) < 0)
      return NULL;
    if (kl == nl && !strncasecmp(k, name, nl)) {
      if (len) *len = vl;
      return val;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ answers */

static int send_answer(tr_ctx *ctx, const tr_http_incoming *in, int chunk,
                       const tr_http_response *r, const void *data, size_t len, int last) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 9);
  tr_pack_str(&pk, "c"), tr_pack_uint(&pk, in->rid.conn);
  tr_pack_str(&pk, "s"), tr_pack_uint(&pk, in->rid.seq);
  tr_pack_str(&pk, "x"), tr_pack_uint(&pk, (uint64_t)chunk);
  tr_pack_str(&pk, "st"), tr_pack_int(&pk, r ? r->status : 0);
  tr_pack_str(&pk, "ct");
  if (r && r->content_type) tr_pack_str(&pk, r->content_type); else tr_pack_nil(&pk);
  tr_pack_str(&pk, "hd");
  if (r && r->headers) tr_pack_str(&pk, r->headers); else tr_pack_nil(&pk);
  tr_pack_str(&pk, "b"), tr_pack_bin(&pk, data, len);
  tr_pack_str(&pk, "sm"), tr_pack_bool(&pk, r ? r->stream : 0);
  tr_pack_str(&pk, "l"), tr_pack_bool(&pk, last);
  int rc = pk.err;
  if (!rc) rc = tr_actor_send(ctx, in->gateway, TR_HTTP_MSG_ANSWER, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

int tr_http_reply(tr_ctx *ctx, const tr_http_incoming *in, const tr_http_response *r) {
  if (!ctx || !in || !r || (r->body_len && !r->body)) return TR_EINVAL;
  return send_answer(ctx, in, 0, r, r->body, r->body_len, 0);
}

int tr_http_reply_chunk(tr_ctx *ctx, const tr_http_incoming *in, const void *data, size_t len,
                        int last) {
  if (!ctx || !in || (len && !data)) return TR_EINVAL;
  return send_answer(ctx, in, 1, NULL, data, len, last);
}

/* The gateway actor: answers in, onto the connections' loops. Strings of
 * the answer are copied into NUL-terminated buffers (the payload's are
 * not terminated). */
typedef struct {
  tr_http_server *srv;
} gateway_state;

static int gw_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  ((gateway_state *)state)->srv = (tr_http_server *)arg;
  return 0;
}

static char *strz(const tr_unpack *m, const char *key) {
  const char *s;
  size_t n;
  if (tr_unpack_find_str(m, key, &s, &n) < 0) return NULL;
  char *z = malloc(n + 1);
  if (z) memcpy(z, s, n), z[n] = 0;
  return z;
}

static int gw_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)ctx;
  gateway_state *g = state;
  if (msg->type != TR_HTTP_MSG_ANSWER) return 0;
  tr_unpack m, v;
  tr_unpack_init(&m, msg->data, msg->len);
  tr_http_rid rid;
  uint64_t kind = 0;
  int64_t status = 0;
  int stream = 0, last = 0;
  const void *body = NULL;
  size_t blen = 0;
  if (tr_unpack_find_uint(&m, "c", &rid.conn) < 0 || tr_unpack_find_uint(&m, "s", &rid.seq) < 0 ||
      tr_unpack_find_uint(&m, "x", &kind) < 0)
    return 0; /* not ours to crash over: drop it */
  tr_unpack_find_int(&m, "st", &status);
  tr_unpack_find_bool(&m, "sm", &stream);
  tr_unpack_find_bool(&m, "l", &last);
  if (tr_unpack_find(&m, "b", &v) == 0) tr_unpack_bin(&v, &body, &blen);
  if (kind == 1) {
    tr_http_respond_chunk(g->srv, rid, body, blen, last);
    return 0;
  }
  char *ct = strz(&m, "ct"), *hd = strz(&m, "hd");
  tr_http_response r = {.status = (int)status, .content_type = ct, .headers = hd, .body = body,
                        .body_len = blen, .stream = stream};
  if (tr_http_respond(g->srv, rid, &r) == TR_EINVAL)
    tr_http_respond_error(g->srv, rid, 500, NULL, "the handler gave an invalid answer");
  free(ct);
  free(hd);
  return 0;
}

static const tr_behavior gateway_behavior = {
    .name = "http.gateway", .state_size = sizeof(gateway_state), .init = gw_init,
    .receive = gw_receive};

int tr_http_gateway_start(tr_http_server *srv) {
  return tr_system_spawn(srv->sys, &gateway_behavior, srv, NULL, &srv->gateway);
}
