/* json.h - internals shared by the two directions of the JSON bridge. */
#ifndef TR_CODEC_JSON_H
#define TR_CODEC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/codec.h"

/* Resolves opts (may be NULL) to the limits in force; TR_EINVAL if
 * max_depth is over TR_JSON_DEPTH_MAX. */
int tr_json_limits(const tr_json_opts *opts, uint32_t *max_depth, size_t *max_size);
/* The checks both directions start with: arguments, a failed output pack,
 * the input size. Clears err; on failure writes why into it. */
int tr_json_begin(const void *in, size_t len, const tr_json_opts *opts, const tr_pack *out,
                  char *err, size_t err_len, uint32_t *max_depth);

/* Writes a NUL-terminated message into err[0..n) when err is not NULL. */
void tr_json_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
