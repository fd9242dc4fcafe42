/* vars.h - an instance's variables: one msgpack map with string keys. */
#ifndef TR_WF_VARS_H
#define TR_WF_VARS_H

#include <stddef.h>
#include <stdint.h>

#include "actors/workflow/expr.h"
#include "troupe/codec.h"

/* Appends to out the map `base` with every entry of `upd` set over it
 * (both msgpack maps with string keys; either may be empty, len 0).
 * TR_EPROTO if either is not such a map. */
int tr_wf_vars_merge(const uint8_t *base, size_t blen, const uint8_t *upd, size_t ulen,
                     tr_pack *out);

/* An expression lookup (tr_wf_lookup_fn) over a map: ud is a
 * tr_wf_vars_view. Scalars only: a map or array value is TR_ENOTSUP. */
typedef struct tr_wf_vars_view {
  const uint8_t *p;
  size_t len;
} tr_wf_vars_view;
int tr_wf_vars_lookup(void *ud, const char *name, size_t len, tr_wf_value *out);

#endif
