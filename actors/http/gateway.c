/* gateway.c - actor handlers. A request for an actor route travels as a
 * message (msgpack, so the handler may live on another node); the handler
 * answers with tr_http_reply, a message to the server's gateway actor,
 * which hands the answer to the connection's loop. The request carries the
 * gateway's ref, so the answer finds its way back from anywhere.
 *
 * The request message is message.c's. The answer's payload is a map: c, s
 * (the rid), x (0: status and headers, maybe the body; 1: a chunk), st,
 * ct, hd (status, content type, extra headers), b (body or chunk), sm
 * (streamed), l (last chunk).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/http/internal.h"

/* ------------------------------------------------------------ requests */

int tr_http_dispatch_actor(tr_http_server *srv, const route *rt, tr_http_rid rid,
                           const tr_http_request *req) {
  tr_pack pk = TR_PACK_INIT;
  int rc = tr_http_request_encode(&pk, rid, srv->gateway, req);
  if (!rc) rc = tr_system_send(srv->sys, rt->actor, rt->type, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
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
