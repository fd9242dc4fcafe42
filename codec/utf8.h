/* utf8.h - strict UTF-8 validation (RFC 3629).
 *
 * Shared by the envelope (virtual actor names) and the JSON emitter (JSON
 * text must be UTF-8). Strict: overlong forms, surrogates (U+D800..DFFF) and
 * code points above U+10FFFF are invalid, as jansson also treats them.
 */
#ifndef TR_CODEC_UTF8_H
#define TR_CODEC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if the bytes
 * there do not start one. s[0] must exist (n >= 1). */
size_t tr_utf8_seq(const uint8_t *s, size_t n);

/* 1 if s[0..n) is entirely valid UTF-8, else 0. */
int tr_utf8_valid(const uint8_t *s, size_t n);

#endif
