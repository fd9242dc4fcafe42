/* multipart.h - a multipart/form-data body (RFC 7578), as Camunda's
 * deployment/create receives it. Pure: no allocation, views only, every
 * read bounds-checked (a fuzz target runs it). */
#ifndef TR_CAMUNDA_MULTIPART_H
#define TR_CAMUNDA_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_mp_part {
  const char *name, *filename, *content_type; /* views, not NUL-terminated; NULL if absent */
  size_t name_len, filename_len, content_type_len;
  const uint8_t *data; /* the part's bytes, a view into the body */
  size_t len;
} tr_mp_part;

enum { TR_MP_MAX_PARTS = 64 };

/* The boundary of a Content-Type header value ("multipart/form-data;
 * boundary=..."), a view into ct[0..ct_len). TR_EINVAL if it is not
 * multipart/form-data with a valid boundary (1..70 bytes). */
int tr_mp_boundary(const char *ct, size_t ct_len, const char **b, size_t *b_len);

/* Splits body[0..len) (borrowed; the parts point into it) at boundary into
 * parts[0..max); *n gets their number. TR_EPROTO on a malformed body
 * (no closing delimiter, a part without Content-Disposition form-data and
 * a name, headers over 8 KiB), TR_ETOOBIG for more than max parts. */
int tr_mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t b_len,
                tr_mp_part *parts, size_t max, size_t *n);

#endif
