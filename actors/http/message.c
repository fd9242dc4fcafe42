/* message.c - an HTTP request as a message to an actor handler, so the
 * handler may live on any node: msgpack, a map of
 *   c, s   the rid (connection, sequence)
 *   g      [node, id] of the gateway actor the answer goes to
 *   m u p q  method, url, path, query
 *   v k up   minor version, keep-alive, upgrade
 *   h      [[name, value], ...]
 *   b      the body (bin)
 * Decoding never trusts the bytes (they may come from another node): every
 * read is bounds-checked by the codec; nothing is allocated.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/http/internal.h"

int tr_http_request_encode(tr_pack *pk, tr_http_rid rid, tr_ref gateway,
                           const tr_http_request *req) {
  tr_pack_map(pk, 12);
  tr_pack_str(pk, "c"), tr_pack_uint(pk, rid.conn);
  tr_pack_str(pk, "s"), tr_pack_uint(pk, rid.seq);
  tr_pack_str(pk, "g"), tr_pack_array(pk, 2);
  tr_pack_uint(pk, gateway.node), tr_pack_uint(pk, gateway.id);
  tr_pack_str(pk, "m"), tr_pack_str(pk, req->method);
  tr_pack_str(pk, "u"), tr_pack_strn(pk, req->url, req->url_len);
  tr_pack_str(pk, "p"), tr_pack_strn(pk, req->path, req->path_len);
  tr_pack_str(pk, "q"), tr_pack_strn(pk, req->query, req->query_len);
  tr_pack_str(pk, "v"), tr_pack_uint(pk, req->version_minor);
  tr_pack_str(pk, "k"), tr_pack_bool(pk, req->keep_alive);
  tr_pack_str(pk, "up"), tr_pack_bool(pk, req->upgrade);
  tr_pack_str(pk, "h"), tr_pack_array(pk, req->nheaders);
  for (uint32_t i = 0; i < req->nheaders; i++) {
    tr_pack_array(pk, 2);
    tr_pack_strn(pk, req->headers[i].name, req->headers[i].name_len);
    tr_pack_strn(pk, req->headers[i].value, req->headers[i].value_len);
  }
  tr_pack_str(pk, "b"), tr_pack_bin(pk, req->body, req->body_len);
  return pk->err;
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
  return tr_http_incoming_decode_bytes(msg->data, msg->len, in);
}

int tr_http_incoming_decode_bytes(const void *data, size_t len, tr_http_incoming *in) {
  if ((len && !data) || !in) return TR_EINVAL;
  memset(in, 0, sizeof *in);
  tr_unpack m, v;
  tr_unpack_init(&m, data, len);
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


/* ------------------------------------------------------------ events
 * What an upgraded or streaming connection tells its route's actor: a map
 * of c, s (the rid), k (TR_HTTP_EV_*), b (the message, bin), x (the close
 * code). */

int tr_http_event_encode(tr_pack *pk, tr_http_rid rid, int kind, const void *data, size_t len,
                         int code) {
  tr_pack_map(pk, 5);
  tr_pack_str(pk, "c"), tr_pack_uint(pk, rid.conn);
  tr_pack_str(pk, "s"), tr_pack_uint(pk, rid.seq);
  tr_pack_str(pk, "k"), tr_pack_uint(pk, (uint64_t)kind);
  tr_pack_str(pk, "b"), tr_pack_bin(pk, data, len);
  tr_pack_str(pk, "x"), tr_pack_int(pk, code);
  return pk->err;
}

int tr_http_event_decode(const tr_msg *msg, tr_http_event *ev) {
  if (!msg || !ev || msg->type != TR_HTTP_MSG_EVENT) return TR_EPROTO;
  memset(ev, 0, sizeof *ev);
  tr_unpack m, v;
  tr_unpack_init(&m, msg->data, msg->len);
  uint64_t kind = 0;
  int64_t code = 0;
  if (tr_unpack_find_uint(&m, "c", &ev->rid.conn) < 0 ||
      tr_unpack_find_uint(&m, "s", &ev->rid.seq) < 0 || tr_unpack_find_uint(&m, "k", &kind) < 0)
    return TR_EPROTO;
  ev->kind = (int)kind;
  if (tr_unpack_find(&m, "b", &v) == 0) {
    const void *p = NULL;
    if (tr_unpack_bin(&v, &p, &ev->len) == 0) ev->data = p;
  }
  if (!ev->len) ev->data = NULL;
  tr_unpack_find_int(&m, "x", &code);
  ev->code = (int)code;
  return 0;
}
