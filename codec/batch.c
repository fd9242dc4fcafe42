/* batch.c - many envelopes in one frame: a msgpack array of envelopes.
 *
 * The writer does not know the count in advance, so it reserves an array32
 * header and fills it in at the end (any reader accepts a non-minimal
 * header). The reader borrows from the frame and allocates nothing.
 */
#include <string.h>

#include "codec/envelope.h"
#include "codec/head.h"
#include "codec/mp.h"

int tr_envelope_batch_begin(tr_envelope_batch *b, tr_pack *pk) {
  if (!b || !pk) return TR_EINVAL;
  b->pk = pk;
  b->start = pk->len;
  b->count = 0;
  static const uint8_t hdr[5] = {0xdd, 0, 0, 0, 0};
  return tr_pack_raw(pk, hdr, sizeof hdr);
}

int tr_envelope_batch_add(tr_envelope_batch *b, const tr_envelope *e) {
  if (!b || !b->pk) return TR_EINVAL;
  if (b->count == UINT32_MAX) return TR_ETOOBIG;
  int rc = tr_envelope_encode(e, b->pk); /* adds all or nothing */
  if (rc == 0) b->count++;
  return rc;
}

int tr_envelope_batch_end(tr_envelope_batch *b) {
  if (!b || !b->pk) return TR_EINVAL;
  tr_pack *pk = b->pk;
  if (pk->err) return pk->err;
  if (pk->len < b->start + 5) return TR_EINVAL; /* the pack was reset under us */
  tr_mp_put_be(pk->data + b->start, 5, 0xdd, b->count, 4);
  return 0;
}

int tr_envelope_reader_open(tr_envelope_reader *r, const void *data, size_t len,
                            uint32_t *count) {
  if (!r || (!data && len)) return TR_EINVAL;
  memset(r, 0, sizeof *r);
  r->err = TR_EPROTO;
  if (!data) return TR_EPROTO;
  r->p = data;
  r->end = r->p + len;
  tr_mp_head_t h;
  int rc = tr_mp_head(r->p, len, &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_ARRAY) return r->err = TR_ETYPE;
  r->p += h.hlen;
  /* a count the bytes cannot hold is rejected before anyone loops on it */
  if (h.len > (size_t)(r->end - r->p) / TR_ENV_MIN_BYTES) return TR_EPROTO;
  if (h.len == 0 && r->p != r->end) return TR_EPROTO;
  r->left = h.len;
  r->err = 0;
  if (count) *count = h.len;
  return 0;
}

int tr_envelope_reader_next(tr_envelope_reader *r, tr_envelope *out) {
  if (!r || !out) return TR_EINVAL;
  if (r->err) return r->err;
  if (!r->left) return TR_ENOENT;
  size_t used;
  int rc = tr_env_decode_prefix(r->p, (size_t)(r->end - r->p), out, &used);
  if (rc < 0) return r->err = rc;
  r->p += used;
  if (--r->left == 0 && r->p != r->end) return r->err = TR_EPROTO; /* trailing bytes */
  return 0;
}

int tr_envelope_batch_decode(const void *data, size_t len, tr_envelope *out, size_t max,
                             size_t *n) {
  if (!n || (!out && max)) return TR_EINVAL;
  *n = 0;
  tr_envelope_reader r;
  uint32_t count;
  int rc = tr_envelope_reader_open(&r, data, len, &count);
  if (rc < 0) return rc;
  if (count > max) return TR_ETOOBIG;
  for (uint32_t i = 0; i < count; i++)
    if ((rc = tr_envelope_reader_next(&r, &out[i])) < 0) return rc;
  *n = count;
  return 0;
}
