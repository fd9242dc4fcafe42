/* json_out.c - msgpack to JSON text, written straight from the bytes.
 *
 * No tree is built: the walk keeps one counter per open container in a fixed
 * array (as tr_unpack_skip does), so output costs no allocation beyond the
 * text itself, and uint64 values above INT64_MAX, which jansson cannot hold,
 * are printed exactly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/head.h"
#include "codec/json.h"
#include "codec/utf8.h"

/* Per open container: values still to read (a map of n pairs holds 2n:
 * keys at even counts), whether it is a map, whether one value was
 * written (a comma goes before the next). */
#define LVL_MAP (1ull << 63)
#define LVL_STARTED (1ull << 62)
#define LVL_LEFT (LVL_STARTED - 1)

typedef struct {
  tr_pack *out;
  const uint8_t *base;
  char *err;
  size_t err_len;
} emitter;

static int put(emitter *e, const char *s, size_t n) { return tr_pack_raw(e->out, s, n); }

static int put_u64(emitter *e, uint64_t v, int neg) {
  char buf[24];
  char *p = buf + sizeof buf;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (neg) *--p = '-';
  return put(e, p, (size_t)(buf + sizeof buf - p));
}

/* The shortest %.<N>g text that reads back as the same value (as float32
 * for single precision), with '.' as the decimal point whatever the locale,
 * and a ".0" when it would otherwise read back as an integer. */
static int put_double(emitter *e, double d, int single) {
  char buf[40];
  int lo = single ? 6 : 15, hi = single ? 9 : 17;
  for (int prec = lo; prec <= hi; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    double back = strtod(buf, NULL); /* same locale as snprintf: consistent */
    if (single ? (float)back == (float)d : back == d) break;
  }
  int has_point = 0;
  for (char *c = buf; *c; c++) {
    if ((*c < '0' || *c > '9') && *c != '-' && *c != '+' && *c != 'e') *c = '.';
    if (*c == '.' || *c == 'e') has_point = 1;
  }
  size_t n = strlen(buf);
  if (!has_point) {
    memcpy(buf + n, ".0", 3);
    n += 2;
  }
  return put(e, buf, n);
}

static int put_str(emitter *e, const uint8_t *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  int rc = put(e, "\"", 1);
  size_t start = 0, i = 0;
  while (i < n && rc == 0) {
    uint8_t c = s[i];
    if (c >= 0x80) {
      size_t k = tr_utf8_seq(s + i, n - i);
      if (!k) return TR_EPROTO;
      i += k;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    rc = put(e, (const char *)s + start, i - start);
    char esc[6] = {'\\', 0};
    size_t el = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      el = 6;
    }
    if (rc == 0) rc = put(e, esc, el);
    start = ++i;
  }
  if (rc == 0) rc = put(e, (const char *)s + start, n - start);
  return rc ? rc : put(e, "\"", 1);
}

/* RFC 4648 base64 with padding, in chunks through a small buffer. */
static int put_base64(emitter *e, const uint8_t *s, size_t n) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char buf[1024];
  int rc = put(e, "\"", 1);
  size_t o = 0;
  for (size_t i = 0; i < n && rc == 0; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n) v |= s[i + 2];
    buf[o++] = b64[v >> 18];
    buf[o++] = b64[(v >> 12) & 63];
    buf[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    buf[o++] = i + 2 < n ? b64[v & 63] : '=';
    if (o == sizeof buf) {
      rc = put(e, buf, o);
      o = 0;
    }
  }
  if (rc == 0 && o) rc = put(e, buf, o);
  return rc ? rc : put(e, "\"", 1);
}

static const char *type_name(int t) {
  static const char *names[] = {"?", "nil", "bool", "int", "float", "str", "bin", "array", "map", "ext"};
  return t >= 1 && t <= TR_MP_EXT ? names[t] : "?";
}

/* Writes one scalar; containers are handled by the walk. */
static int put_scalar(emitter *e, const uint8_t *p, const tr_mp_head_t *h) {
  size_t off = (size_t)(p - e->base);
  switch (h->type) {
  case TR_MP_NIL: return put(e, "null", 4);
  case TR_MP_BOOL: return h->v.u ? put(e, "true", 4) : put(e, "false", 5);
  case TR_MP_INT: return h->neg ? put_u64(e, 0 - h->v.u, 1) : put_u64(e, h->v.u, 0);
  case TR_MP_FLOAT:
    if (!isfinite(h->v.d)) {
      tr_json_err(e->err, e->err_len, "offset %zu: %s has no JSON form", off,
                  isnan(h->v.d) ? "NaN" : "infinity");
      return TR_ENOTSUP;
    }
    return put_double(e, h->v.d, p[0] == 0xca);
  case TR_MP_STR: {
    int rc = put_str(e, p + h->hlen, h->len);
    if (rc == TR_EPROTO) tr_json_err(e->err, e->err_len, "offset %zu: string is not UTF-8", off);
    return rc;
  }
  case TR_MP_BIN: return put_base64(e, p + h->hlen, h->len);
  default:
    tr_json_err(e->err, e->err_len, "offset %zu: %s has no JSON form", off, type_name(h->type));
    return TR_ENOTSUP;
  }
}

static int walk(emitter *e, const uint8_t *p, const uint8_t *end, uint32_t max_depth) {
  uint64_t lvl[TR_JSON_DEPTH_MAX + 1];
  uint32_t depth = 0;
  int rc;
  for (;;) {
    size_t off = (size_t)(p - e->base);
    tr_mp_head_t h;
    if ((rc = tr_mp_head(p, (size_t)(end - p), &h)) < 0) {
      tr_json_err(e->err, e->err_len, "offset %zu: malformed or truncated msgpack", off);
      return rc;
    }
    if (depth) {
      uint64_t *l = &lvl[depth];
      int is_key = (*l & LVL_MAP) && !(*l & 1);
      if ((*l & LVL_MAP) && !is_key)
        rc = put(e, ":", 1);
      else if (*l & LVL_STARTED)
        rc = put(e, ",", 1);
      if (rc < 0) return rc;
      if (is_key && h.type != TR_MP_STR) {
        tr_json_err(e->err, e->err_len, "offset %zu: map key of type %s has no JSON form", off,
                    type_name(h.type));
        return TR_ENOTSUP;
      }
      *l = (*l - 1) | LVL_STARTED;
    }
    if (h.type == TR_MP_ARRAY || h.type == TR_MP_MAP) {
      int map = h.type == TR_MP_MAP;
      if (depth >= max_depth) {
        tr_json_err(e->err, e->err_len, "offset %zu: nesting deeper than %u", off,
                    (unsigned)max_depth);
        return TR_ETOOBIG;
      }
      p += h.hlen;
      if ((rc = put(e, map ? "{" : "[", 1)) < 0) return rc;
      if (h.len) {
        lvl[++depth] = (map ? 2 * (uint64_t)h.len : h.len) | (map ? LVL_MAP : 0);
        continue;
      }
      if ((rc = put(e, map ? "}" : "]", 1)) < 0) return rc;
    } else {
      if ((rc = put_scalar(e, p, &h)) < 0) return rc;
      p += tr_mp_head_size(&h);
    }
    while (depth && !(lvl[depth] & LVL_LEFT)) {
      if ((rc = put(e, (lvl[depth] & LVL_MAP) ? "}" : "]", 1)) < 0) return rc;
      depth--;
    }
    if (!depth) break;
  }
  if (p != end) {
    tr_json_err(e->err, e->err_len, "offset %zu: bytes after the value", (size_t)(p - e->base));
    return TR_EPROTO;
  }
  return 0;
}

int tr_json_from_msgpack(const void *mp, size_t len, const tr_json_opts *opts, tr_pack *out,
                         char *err, size_t err_len) {
  uint32_t max_depth;
  int brc = tr_json_begin(mp, len, opts, out, err, err_len, &max_depth);
  if (brc < 0) return brc;
  emitter e = {out, mp, err, err_len};
  size_t len0 = out->len;
  int rc = mp ? walk(&e, mp, (const uint8_t *)mp + len, max_depth) : TR_EPROTO;
  if (rc == 0) {
    rc = put(&e, "", 1); /* the NUL, outside len */
    if (rc == 0) out->len--;
  } else if (!mp) {
    tr_json_err(err, err_len, "offset 0: malformed or truncated msgpack");
  }
  if (rc < 0) {
    if (err && err_len && !err[0]) tr_json_err(err, err_len, "cannot write the text: %s",
                                                rc == TR_ETOOBIG ? "over the output's limit" : "out of memory");
    out->len = len0;
    out->err = 0;
  }
  return rc;
}
