/* multipart.c - multipart/form-data (multipart.h).
 *
 * A body is: optional preamble, then for each part "--B" CRLF, header
 * lines, CRLF, the data, and CRLF "--B" again; the last delimiter is
 * "--B--". Data may hold anything but the sequence CRLF "--B", so a part
 * ends at the first such sequence after it starts.
 */
#include "actors/camunda/multipart.h"

#include <string.h>
#include <strings.h>

#include "troupe/error.h"

#define HEADERS_MAX 8192

static const uint8_t *find(const uint8_t *h, size_t hl, const void *n, size_t nl) {
  if (nl == 0 || hl < nl) return NULL;
  const uint8_t *end = h + hl - nl;
  for (const uint8_t *p = h; p <= end; p++) {
    p = memchr(p, *(const uint8_t *)n, (size_t)(end - p) + 1);
    if (!p) return NULL;
    if (!memcmp(p, n, nl)) return p;
  }
  return NULL;
}

static int is_token_end(char c) { return c == ';' || c == ' ' || c == '\t'; }

int tr_mp_boundary(const char *ct, size_t ct_len, const char **b, size_t *b_len) {
  static const char mt[] = "multipart/form-data";
  if (!ct || ct_len < sizeof mt - 1 || strncasecmp(ct, mt, sizeof mt - 1)) return TR_EINVAL;
  size_t i = sizeof mt - 1;
  while (i < ct_len) {
    while (i < ct_len && (ct[i] == ';' || ct[i] == ' ' || ct[i] == '\t')) i++;
    size_t k = i;
    while (k < ct_len && ct[k] != '=' && ct[k] != ';') k++;
    if (k >= ct_len || ct[k] != '=') {
      i = k;
      continue;
    }
    int is_b = k - i == 8 && !strncasecmp(ct + i, "boundary", 8);
    size_t v = k + 1, e;
    if (v < ct_len && ct[v] == '"') {
      v++;
      for (e = v; e < ct_len && ct[e] != '"'; e++) {}
      if (e >= ct_len) return TR_EINVAL;
      i = e + 1;
    } else {
      for (e = v; e < ct_len && !is_token_end(ct[e]); e++) {}
      i = e;
    }
    if (is_b) {
      if (e == v || e - v > 70) return TR_EINVAL;
      *b = ct + v;
      *b_len = e - v;
      return 0;
    }
  }
  return TR_EINVAL;
}

/* A parameter (name="value" or name=value) of a header value; a view. */
static void param(const char *v, size_t vl, const char *name, const char **out, size_t *out_len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i + nl < vl; i++) {
    if ((i && v[i - 1] != ';' && v[i - 1] != ' ' && v[i - 1] != '\t') ||
        strncasecmp(v + i, name, nl) || v[i + nl] != '=')
      continue;
    size_t s = i + nl + 1, e;
    if (s < vl && v[s] == '"') {
      s++;
      for (e = s; e < vl && v[e] != '"'; e++)
        if (v[e] == '\\' && e + 1 < vl) e++;
      if (e >= vl) return; /* unterminated: no value */
    } else {
      for (e = s; e < vl && v[e] != ';'; e++) {}
    }
    *out = v + s;
    *out_len = e - s;
    return;
  }
}

/* Reads the header lines of a part, h[0..hl) (without the blank line). */
static int headers(const char *h, size_t hl, tr_mp_part *p) {
  int disposition = 0;
  size_t i = 0;
  while (i < hl) {
    const uint8_t *eol = find((const uint8_t *)h + i, hl - i, "\r\n", 2);
    size_t e = eol ? (size_t)((const char *)eol - h) : hl;
    const char *line = h + i;
    size_t ll = e - i;
    const char *colon = memchr(line, ':', ll);
    if (!colon) return TR_EPROTO;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vl = ll - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    if (nl == 19 && !strncasecmp(line, "Content-Disposition", 19)) {
      if (vl < 9 || strncasecmp(v, "form-data", 9)) return TR_EPROTO;
      disposition = 1;
      param(v, vl, "name", &p->name, &p->name_len);
      param(v, vl, "filename", &p->filename, &p->filename_len);
    } else if (nl == 12 && !strncasecmp(line, "Content-Type", 12)) {
      p->content_type = v;
      p->content_type_len = vl;
    }
    i = e + 2;
  }
  return disposition && p->name && p->name_len ? 0 : TR_EPROTO;
}

/* Whether p (just after a delimiter) ends the delimiter's line: "--", or
 * optional spaces and CRLF. Anything else means the bytes were data. */
static int delim_ends(const uint8_t *p, const uint8_t *end) {
  if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 1;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return end - p >= 2 && p[0] == '\r' && p[1] == '\n';
}

/* The next real delimiter in [p, end), or NULL. */
static const uint8_t *next_delim(const uint8_t *p, const uint8_t *end, const uint8_t *delim,
                                 size_t dl) {
  for (;;) {
    const uint8_t *d = find(p, (size_t)(end - p), delim, dl);
    if (!d || delim_ends(d + dl, end)) return d;
    p = d + 1;
  }
}

int tr_mp_parse(const uint8_t *body, size_t len, const char *boundary, size_t b_len,
                tr_mp_part *parts, size_t max, size_t *n) {
  if ((!body && len) || !boundary || !b_len || b_len > 70 || !n || (max && !parts))
    return TR_EINVAL;
  *n = 0;
  uint8_t delim[76]; /* CRLF "--" boundary */
  delim[0] = '\r', delim[1] = '\n', delim[2] = '-', delim[3] = '-';
  memcpy(delim + 4, boundary, b_len);
  size_t dl = b_len + 4;
  /* the first delimiter may open the body without the CRLF */
  const uint8_t *p;
  const uint8_t *end = body + len;
  if (len >= dl - 2 && !memcmp(body, delim + 2, dl - 2) && delim_ends(body + dl - 2, end))
    p = body + dl - 2;
  else if ((p = next_delim(body, end, delim, dl)))
    p += dl;
  else
    return TR_EPROTO;
  for (;;) {
    /* after a delimiter: "--" ends the body, CRLF starts a part */
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') return 0;
    while (p < end && (*p == ' ' || *p == '\t')) p++; /* transport padding */
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return TR_EPROTO;
    p += 2;
    const uint8_t *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
    const uint8_t *data;
    size_t hl;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') { /* no header lines */
      hl = 0, data = p + 2;
    } else {
      if (!hend) return TR_EPROTO;
      hl = (size_t)(hend - p);
      data = hend + 4;
    }
    if (hl > HEADERS_MAX) return TR_EPROTO;
    const uint8_t *next = next_delim(data, end, delim, dl);
    if (!next) return TR_EPROTO;
    if (*n == max) return TR_ETOOBIG;
    tr_mp_part *part = &parts[*n];
    memset(part, 0, sizeof *part);
    int rc = headers((const char *)p, hl, part);
    if (rc < 0) return rc;
    part->data = data;
    part->len = (size_t)(next - data);
    (*n)++;
    p = next + dl;
  }
}
