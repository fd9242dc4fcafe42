/* envelope.h - internals shared by the envelope and batch codecs.
 *
 * The public API and struct are in troupe/codec.h; the layout is in
 * docs/wire.md. v1: [version, type, flags, corr, sender_node, sender_id,
 * target, payload] with target = [node, id] or "kind/key", payload = bin.
 */
#ifndef TR_CODEC_ENVELOPE_H
#define TR_CODEC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/codec.h"

#define TR_ENV_FIELDS 8 /* array length of a v1 envelope */

/* Any envelope of any version starts with an array header and a version
 * integer: the least a batch entry can take, used to reject absurd batch
 * counts before reading them. */
#define TR_ENV_MIN_BYTES 2

/* Checks a virtual actor name s[0..n): 0, TR_ETOOBIG over
 * TR_ENVELOPE_NAME_MAX, TR_EINVAL otherwise invalid (no non-empty kind
 * before a '/', control bytes, not UTF-8). */
int tr_env_name_check(const char *s, size_t n);

/* Decodes the envelope that starts at p[0..n), which may be followed by more
 * bytes; *used gets its length. *out borrows from p (the caller's). Errors
 * as tr_envelope_decode(). */
int tr_env_decode_prefix(const uint8_t *p, size_t n, tr_envelope *out, size_t *used);

#endif
