/* envelope.c - one envelope to and from msgpack (docs/wire.md).
 *
 * The encoder writes the small header into a scratch array and appends it
 * and the payload in one step each; the decoder reads fields with the shared
 * header parser and never copies: the name and payload it returns point into
 * the input.
 */
#include <string.h>

#include "codec/envelope.h"
#include "codec/head.h"
#include "codec/mp.h"
#include "codec/utf8.h"

/* Largest header: array(1) version(1) type(5) flags(3) corr(9) sender(9+9)
 * target (str8 2+255, larger than a ref's 19) bin32 header (5). */
#define HDR_MAX (1 + 1 + 5 + 3 + 9 + 9 + 9 + 2 + TR_ENVELOPE_NAME_MAX + 5)

int tr_env_name_check(const char *s, size_t n) {
  if (n > TR_ENVELOPE_NAME_MAX) return TR_ETOOBIG;
  if (!s) return TR_EINVAL;
  const uint8_t *b = (const uint8_t *)s;
  const void *slash = memchr(s, '/', n);
  if (!slash || slash == s) return TR_EINVAL; /* a kind, then '/' */
  for (size_t i = 0; i < n; i++)
    if (b[i] < 0x20 || b[i] == 0x7f) return TR_EINVAL; /* no NUL, no line breaks in logs */
  return tr_utf8_valid(b, n) ? 0 : TR_EINVAL;
}

/* Validates e and writes everything but the payload bytes into h; returns
 * the header length, or a negative error. */
static int encode_header(const tr_envelope *e, uint8_t h[HDR_MAX]) {
  if (!e) return TR_EINVAL;
  if (e->version != 0 && e->version != TR_ENVELOPE_VERSION) return TR_EVERSION;
  if (e->payload_len > TR_ENVELOPE_PAYLOAD_MAX) return TR_ETOOBIG;
  if (!e->payload && e->payload_len) return TR_EINVAL;
  if (e->target_name) {
    int rc = tr_env_name_check(e->target_name, e->target_name_len);
    if (rc < 0) return rc;
  }
  size_t o = 0;
  o += tr_mp_put_array(h + o, HDR_MAX - o, TR_ENV_FIELDS);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, TR_ENVELOPE_VERSION);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, e->type);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, e->flags);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, e->corr);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, e->sender.node);
  o += tr_mp_put_uint(h + o, HDR_MAX - o, e->sender.id);
  if (e->target_name) {
    size_t n = e->target_name_len;
    if (n < 32) {
      h[o++] = (uint8_t)(0xa0 | n);
    } else {
      h[o++] = 0xd9;
      h[o++] = (uint8_t)n;
    }
    memcpy(h + o, e->target_name, n);
    o += n;
  } else {
    o += tr_mp_put_array(h + o, HDR_MAX - o, 2);
    o += tr_mp_put_uint(h + o, HDR_MAX - o, e->target.node);
    o += tr_mp_put_uint(h + o, HDR_MAX - o, e->target.id);
  }
  size_t pl = e->payload_len;
  if (pl <= 0xff)
    o += tr_mp_put_be(h + o, HDR_MAX - o, 0xc4, pl, 1);
  else if (pl <= 0xffff)
    o += tr_mp_put_be(h + o, HDR_MAX - o, 0xc5, pl, 2);
  else
    o += tr_mp_put_be(h + o, HDR_MAX - o, 0xc6, pl, 4);
  return (int)o;
}

size_t tr_envelope_size(const tr_envelope *e) {
  uint8_t h[HDR_MAX];
  int hl = encode_header(e, h);
  return hl < 0 ? 0 : (size_t)hl + e->payload_len;
}

int tr_envelope_encode(const tr_envelope *e, tr_pack *pk) {
  if (!pk) return TR_EINVAL;
  if (pk->err) return pk->err;
  uint8_t h[HDR_MAX];
  int hl = encode_header(e, h);
  if (hl < 0) return hl;
  size_t len0 = pk->len;
  int rc = tr_pack_raw(pk, h, (size_t)hl);
  if (rc == 0) rc = tr_pack_raw(pk, e->payload, e->payload_len);
  if (rc < 0) { /* all or nothing: a batch stays valid after a failed add */
    pk->len = len0;
    pk->err = 0;
  }
  return rc;
}

int tr_envelope_encode_buf(const tr_envelope *e, void *buf, size_t cap, size_t *len) {
  if (!len) return TR_EINVAL;
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, cap);
  int rc = tr_envelope_encode(e, &pk);
  *len = rc == 0 ? pk.len : 0;
  return rc;
}

/* Reads an unsigned integer field: TR_ETYPE if not an integer, TR_ERANGE if
 * negative or above max. */
static int get_uint(const uint8_t **p, const uint8_t *end, uint64_t max, uint64_t *v) {
  tr_mp_head_t h;
  int rc = tr_mp_head(*p, (size_t)(end - *p), &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_INT) return TR_ETYPE;
  if (h.neg || h.v.u > max) return TR_ERANGE;
  *v = h.v.u;
  *p += h.hlen;
  return 0;
}

static int get_target(const uint8_t **p, const uint8_t *end, tr_envelope *out) {
  tr_mp_head_t h;
  int rc = tr_mp_head(*p, (size_t)(end - *p), &h);
  if (rc < 0) return rc;
  if (h.type == TR_MP_ARRAY) {
    if (h.len != 2) return TR_EPROTO;
    *p += h.hlen;
    out->target_name = NULL;
    out->target_name_len = 0;
    if ((rc = get_uint(p, end, UINT64_MAX, &out->target.node)) < 0) return rc;
    return get_uint(p, end, UINT64_MAX, &out->target.id);
  }
  if (h.type != TR_MP_STR) return TR_ETYPE;
  const char *s = (const char *)*p + h.hlen;
  rc = tr_env_name_check(s, h.len);
  if (rc < 0) return rc == TR_EINVAL ? TR_EPROTO : rc;
  out->target = TR_REF_NONE;
  out->target_name = s;
  out->target_name_len = h.len;
  *p += tr_mp_head_size(&h);
  return 0;
}

int tr_env_decode_prefix(const uint8_t *p, size_t n, tr_envelope *out, size_t *used) {
  const uint8_t *start = p, *end = p + n;
  tr_mp_head_t h;
  uint64_t v;
  int rc = tr_mp_head(p, n, &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_ARRAY) return TR_ETYPE;
  if (h.len == 0) return TR_EPROTO;
  uint32_t fields = h.len;
  p += h.hlen;
  /* the version comes first in every version, so it is read before the
   * field count, whose meaning depends on it */
  rc = tr_mp_head(p, (size_t)(end - p), &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_INT) return TR_ETYPE;
  out->version = h.neg ? 0 : h.v.u > UINT32_MAX ? UINT32_MAX : (uint32_t)h.v.u;
  if (h.neg || h.v.u != TR_ENVELOPE_VERSION) return TR_EVERSION;
  p += h.hlen;
  if (fields != TR_ENV_FIELDS) return TR_EPROTO;
  if ((rc = get_uint(&p, end, UINT32_MAX, &v)) < 0) return rc;
  out->type = (uint32_t)v;
  if ((rc = get_uint(&p, end, UINT16_MAX, &v)) < 0) return rc;
  out->flags = (uint16_t)v;
  if ((rc = get_uint(&p, end, UINT64_MAX, &out->corr)) < 0) return rc;
  if ((rc = get_uint(&p, end, UINT64_MAX, &out->sender.node)) < 0) return rc;
  if ((rc = get_uint(&p, end, UINT64_MAX, &out->sender.id)) < 0) return rc;
  if ((rc = get_target(&p, end, out)) < 0) return rc;
  rc = tr_mp_head(p, (size_t)(end - p), &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_BIN) return TR_ETYPE;
  if (h.len > TR_ENVELOPE_PAYLOAD_MAX) return TR_ETOOBIG;
  out->payload = p + h.hlen;
  out->payload_len = h.len;
  p += tr_mp_head_size(&h);
  *used = (size_t)(p - start);
  return 0;
}

int tr_envelope_decode(const void *data, size_t len, tr_envelope *out) {
  if (!out || (!data && len)) return TR_EINVAL;
  if (!data) return TR_EPROTO;
  size_t used;
  int rc = tr_env_decode_prefix(data, len, out, &used);
  if (rc < 0) return rc;
  return used == len ? 0 : TR_EPROTO; /* trailing bytes */
}
