/* json.c - JSON text to msgpack, through jansson.
 *
 * jansson parses into a tree, which is then written out with tr_pack. Two
 * checks run before jansson sees the text, so that hostile input is turned
 * away cheaply: the size limit, and a scan of bracket nesting (jansson's own
 * limit is 2048 levels of recursion, far above ours).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "codec/json.h"

int tr_json_limits(const tr_json_opts *opts, uint32_t *max_depth, size_t *max_size) {
  *max_depth = opts && opts->max_depth ? opts->max_depth : TR_JSON_DEPTH;
  *max_size = opts && opts->max_size ? opts->max_size : TR_JSON_SIZE;
  return *max_depth > TR_JSON_DEPTH_MAX ? TR_EINVAL : 0;
}

void tr_json_err(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

/* Finds the first bracket that opens level max_depth + 1, outside strings.
 * Returns 0 if there is none, else 1 with its 1-based line and column
 * (bytes). Malformed text is left for jansson to report. */
static int too_deep(const char *s, size_t n, uint32_t max_depth, int *line, int *col) {
  uint32_t depth = 0;
  int in_str = 0, l = 1, c = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '\n') {
      l++;
      c = 0;
      continue;
    }
    c++;
    if (in_str) {
      if (ch == '\\' && i + 1 < n && s[i + 1] != '\n') {
        i++; /* an escaped quote does not end the string */
        c++;
      } else if (ch == '"') {
        in_str = 0;
      }
    } else if (ch == '"') {
      in_str = 1;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) {
        *line = l;
        *col = c;
        return 1;
      }
    } else if ((ch == ']' || ch == '}') && depth) {
      depth--;
    }
  }
  return 0;
}

/* Writes v; depth is the number of containers around it. The scan above
 * bounds the recursion; the check here keeps that true even if jansson and
 * the scan ever disagreed. */
static int emit(const json_t *v, tr_pack *pk, uint32_t depth, uint32_t max_depth) {
  switch (json_typeof(v)) {
  case JSON_NULL: return tr_pack_nil(pk);
  case JSON_TRUE: return tr_pack_bool(pk, 1);
  case JSON_FALSE: return tr_pack_bool(pk, 0);
  case JSON_INTEGER: return tr_pack_int(pk, json_integer_value(v));
  case JSON_REAL: return tr_pack_double(pk, json_real_value(v));
  case JSON_STRING: return tr_pack_strn(pk, json_string_value(v), json_string_length(v));
  case JSON_ARRAY: {
    if (depth >= max_depth) return TR_ETOOBIG;
    size_t n = json_array_size(v);
    if (n > UINT32_MAX) return TR_ETOOBIG;
    int rc = tr_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n && rc == 0; i++) rc = emit(json_array_get(v, i), pk, depth + 1, max_depth);
    return rc;
  }
  case JSON_OBJECT: {
    if (depth >= max_depth) return TR_ETOOBIG;
    size_t n = json_object_size(v);
    if (n > UINT32_MAX) return TR_ETOOBIG;
    int rc = tr_pack_map(pk, (uint32_t)n);
    /* jansson keeps insertion order, so keys come out as they were written */
    for (void *it = json_object_iter((json_t *)v); it && rc == 0;
         it = json_object_iter_next((json_t *)v, it)) {
      rc = tr_pack_strn(pk, json_object_iter_key(it), json_object_iter_key_len(it));
      if (rc == 0) rc = emit(json_object_iter_value(it), pk, depth + 1, max_depth);
    }
    return rc;
  }
  }
  return TR_EPROTO;
}

int tr_json_begin(const void *in, size_t len, const tr_json_opts *opts, const tr_pack *out,
                  char *err, size_t err_len, uint32_t *max_depth) {
  size_t max_size;
  if (err && err_len) err[0] = '\0';
  if (!out || (!in && len) || tr_json_limits(opts, max_depth, &max_size) < 0) {
    tr_json_err(err, err_len, "invalid arguments");
    return TR_EINVAL;
  }
  if (out->err) return out->err;
  if (len > max_size) {
    tr_json_err(err, err_len, "input of %zu bytes is over the limit of %zu", len, max_size);
    return TR_ETOOBIG;
  }
  return 0;
}

int tr_json_to_msgpack(const char *json, size_t len, const tr_json_opts *opts, tr_pack *out,
                       char *err, size_t err_len) {
  uint32_t max_depth;
  int brc = tr_json_begin(json, len, opts, out, err, err_len, &max_depth);
  if (brc < 0) return brc;
  int line, col;
  if (json && too_deep(json, len, max_depth, &line, &col)) {
    tr_json_err(err, err_len, "line %d, column %d: nesting deeper than %u", line, col,
                 (unsigned)max_depth);
    return TR_ETOOBIG;
  }
  json_error_t je;
  /* ANY: a payload may be a bare scalar. REJECT_DUPLICATES: two parsers
   * must never disagree on which of two equal keys counts. ALLOW_NUL: keep
   * "\u0000" in strings, which msgpack strings hold by length. */
  json_t *root = json_loadb(json ? json : "", len,
                            JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  if (!root) {
    enum json_error_code code = json_error_code(&je);
    tr_json_err(err, err_len, "line %d, column %d: %s", je.line, je.column, je.text);
    if (code == json_error_numeric_overflow) return TR_ERANGE;
    if (code == json_error_out_of_memory) return TR_ENOMEM;
    return TR_EPROTO;
  }
  size_t len0 = out->len;
  int rc = emit(root, out, 0, max_depth);
  json_decref(root);
  if (rc < 0) {
    tr_json_err(err, err_len, "cannot write msgpack: %s",
                 rc == TR_ETOOBIG ? "over the output's limit" : "out of memory");
    out->len = len0; /* as it was: no partial value, no sticky error */
    out->err = 0;
  }
  return rc;
}
