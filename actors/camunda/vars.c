/* vars.c - Camunda's typed variables and the engine's msgpack variables.
 *
 * The engine keeps variables as one msgpack map (actors/workflow/vars.h);
 * Camunda's API sends and expects {"name": {"value": v, "type": T,
 * "valueInfo": {}}}. The mapping (docs/http-api.md):
 *   String -> str            Integer, Short, Long -> int (range-checked)
 *   Double -> float64        Boolean -> bool         Null -> nil
 *   Date   -> ext 1: int64 ms since the epoch, big-endian
 *   Json   -> the parsed value (map, array, ...), given as a JSON string
 *   no type -> from the JSON value (string, integer, number, boolean, null)
 * and back: a Long and a Short keep their type through their msgpack
 * format (pack_sized_int); another int is an Integer when it fits 32 bits,
 * else a Long; a map or an array is Json. Object, Bytes and File are
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/camunda/internal.h"

#define EXT_DATE 1

static int plain_to_msgpack(const json_t *v, tr_pack *out) {
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) return TR_ENOMEM;
  int rc = tr_json_to_msgpack(text, strlen(text), NULL, out, NULL, 0);
  free(text);
  return rc;
}

/* An integer whose msgpack format keeps its Camunda type: a Long as int
 * 64 (0xd3) and a Short as int 16 (0xd1) whatever their value, an Integer
 * in the shortest form. Variables travel and merge as raw msgpack, so the
 * type comes back (rest_var_from_msgpack) unless an expression rewrites
 * the value. */
static int pack_sized_int(tr_pack *out, int64_t x, int bytes) {
  if (!bytes) return tr_pack_int(out, x);
  uint8_t b[9];
  b[0] = bytes == 8 ? 0xd3 : 0xd1;
  for (int i = 0; i < bytes; i++) b[1 + i] = (uint8_t)((uint64_t)x >> (8 * (bytes - 1 - i)));
  return tr_pack_raw(out, b, (size_t)bytes + 1);
}

static int one_var(const char *name, const json_t *var, tr_pack *out, char *err, size_t errcap) {
#define BAD(...) (snprintf(err, errcap, __VA_ARGS__), TR_EINVAL)
  if (!json_is_object(var)) return BAD("variable '%s' must be an object with a value", name);
  const json_t *value = json_object_get(var, "value");
  const json_t *type = json_object_get(var, "type");
  const char *t = json_is_string(type) ? json_string_value(type) : NULL;
  if (type && !json_is_null(type) && !t) return BAD("the type of variable '%s' must be a string", name);
  if (!value) value = json_null();
  if (!t) { /* from the value */
    if (json_is_string(value)) return tr_pack_str(out, json_string_value(value));
    if (json_is_integer(value)) return tr_pack_int(out, json_integer_value(value));
    if (json_is_real(value)) return tr_pack_double(out, json_real_value(value));
    if (json_is_boolean(value)) return tr_pack_bool(out, json_is_true(value));
    if (json_is_null(value)) return tr_pack_nil(out);
    return plain_to_msgpack(value, out);
  }
  if (json_is_null(value) && strcasecmp(t, "Object") && strcasecmp(t, "Bytes") &&
      strcasecmp(t, "File"))
    return tr_pack_nil(out); /* every primitive type may be null */
  if (!strcasecmp(t, "String")) {
    if (!json_is_string(value)) return BAD("Cannot convert value of variable '%s' to type String", name);
    return tr_pack_str(out, json_string_value(value));
  }
  if (!strcasecmp(t, "Integer") || !strcasecmp(t, "Short") || !strcasecmp(t, "Long")) {
    json_int_t x;
    if (json_is_integer(value)) {
      x = json_integer_value(value);
    } else if (json_is_string(value)) {
      char *e;
      x = strtoll(json_string_value(value), &e, 10);
      if (*e || !json_string_length(value))
        return BAD("Cannot convert value '%s' of variable '%s' to type %s", json_string_value(value), name, t);
    } else {
      return BAD("Cannot convert value of variable '%s' to type %s", name, t);
    }
    int64_t lim = !strcasecmp(t, "Short") ? 32767 : !strcasecmp(t, "Integer") ? 2147483647 : INT64_MAX;
    if (x > lim || x < -lim - 1) return BAD("value of variable '%s' is out of range for type %s", name, t);
    return pack_sized_int(out, x, !strcasecmp(t, "Long") ? 8 : !strcasecmp(t, "Short") ? 2 : 0);
  }
  if (!strcasecmp(t, "Double")) {
    if (!json_is_number(value)) return BAD("Cannot convert value of variable '%s' to type Double", name);
    return tr_pack_double(out, json_number_value(value));
  }
  if (!strcasecmp(t, "Boolean")) {
    if (json_is_boolean(value)) return tr_pack_bool(out, json_is_true(value));
    if (json_is_string(value) && !strcmp(json_string_value(value), "true")) return tr_pack_bool(out, 1);
    if (json_is_string(value) && !strcmp(json_string_value(value), "false")) return tr_pack_bool(out, 0);
    return BAD("Cannot convert value of variable '%s' to type Boolean", name);
  }
  if (!strcasecmp(t, "Null")) return tr_pack_nil(out);
  if (!strcasecmp(t, "Date")) {
    uint64_t ms;
    if (!json_is_string(value) || rest_date_parse(json_string_value(value), &ms) < 0)
      return BAD("Cannot convert value of variable '%s' to type Date: expected yyyy-MM-dd'T'HH:mm:ss.SSSZ", name);
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(ms >> (56 - 8 * i));
    return tr_pack_ext(out, EXT_DATE, be, sizeof be);
  }
  if (!strcasecmp(t, "Json")) {
    if (!json_is_string(value)) return BAD("the value of Json variable '%s' must be a JSON string", name);
    char e[160];
    int rc = tr_json_to_msgpack(json_string_value(value), json_string_length(value), NULL, out,
                                e, sizeof e);
    if (rc < 0) return BAD("variable '%s' is not valid JSON: %s", name, e);
    return 0;
  }
  return BAD("variable '%s': type %s is not supported (String, Integer, Short, Long, Double, "
             "Boolean, Null, Date, Json are)", name, t);
#undef BAD
}

int rest_vars_to_msgpack(const json_t *vars, tr_pack *out, char *err, size_t errcap) {
  if (!vars || json_is_null(vars)) return tr_pack_map(out, 0);
  if (!json_is_object(vars)) {
    snprintf(err, errcap, "variables must be an object");
    return TR_EINVAL;
  }
  tr_pack_map(out, (uint32_t)json_object_size(vars));
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)vars, name, v) {
    if (!name[0]) {
      snprintf(err, errcap, "a variable name must not be empty");
      return TR_EINVAL;
    }
    tr_pack_str(out, name);
    int rc = one_var(name, v, out, err, errcap);
    if (rc < 0) return rc;
  }
  return out->err;
}

json_t *rest_plain_from_msgpack(const void *p, size_t len) {
  tr_pack pk = TR_PACK_INIT;
  json_t *j = NULL;
  if (tr_json_from_msgpack(p, len, NULL, &pk, NULL, 0) == 0)
    j = json_loadb((const char *)pk.data, pk.len, JSON_DECODE_ANY, NULL);
  tr_pack_free(&pk);
  return j;
}

static json_t *typed(const char *type, json_t *value) {
  return json_pack("{s:s, s:o, s:{}}", "type", type, "value", value ? value : json_null(),
                   "valueInfo");
}

json_t *rest_var_from_msgpack(const void *p, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, p, len);
  const char *s;
  size_t n;
  int64_t i;
  uint64_t ui;
  double d;
  int b;
  int8_t et;
  const void *ep;
  size_t el;
  tr_unpack c = u;
  if (tr_unpack_str(&c, &s, &n) == 0) return typed("String", json_stringn(s, n));
  c = u;
  uint8_t fmt = len ? *(const uint8_t *)p : 0; /* the format keeps Long and Short */
  if (tr_unpack_int(&c, &i) == 0)
    return typed(fmt == 0xd3 || fmt == 0xcf || i < INT32_MIN || i > INT32_MAX ? "Long"
                 : fmt == 0xd1                                          ? "Short"
                                                                        : "Integer",
                 json_integer(i));
  c = u;
  if (tr_unpack_uint(&c, &ui) == 0) return typed("Long", json_integer((json_int_t)ui));
  c = u;
  if (tr_unpack_double(&c, &d) == 0) return typed("Double", json_real(d));
  c = u;
  if (tr_unpack_bool(&c, &b) == 0) return typed("Boolean", json_boolean(b));
  c = u;
  if (tr_unpack_nil(&c) == 0) return typed("Null", json_null());
  c = u;
  if (tr_unpack_ext(&c, &et, &ep, &el) == 0 && et == EXT_DATE && el == 8) {
    uint64_t ms = 0;
    for (int k = 0; k < 8; k++) ms = ms << 8 | ((const uint8_t *)ep)[k];
    char date[32];
    rest_date(ms, date);
    return typed("Date", json_string(date));
  }
  /* maps, arrays (and anything else JSON can say): Json, as text */
  tr_pack pk = TR_PACK_INIT;
  json_t *out = NULL;
  if (tr_json_from_msgpack(p, len, NULL, &pk, NULL, 0) == 0)
    out = typed("Json", json_stringn((const char *)pk.data, pk.len));
  tr_pack_free(&pk);
  return out;
}

static int wanted(const json_t *only, const char *name, size_t n) {
  if (!only || !json_is_array(only)) return 1;
  size_t i;
  const json_t *v;
  json_array_foreach(only, i, v) {
    if (json_is_string(v) && json_string_length(v) == n && !memcmp(json_string_value(v), name, n))
      return 1;
  }
  return 0;
}

json_t *rest_vars_from_msgpack(const void *p, size_t len, const json_t *only) {
  json_t *o = json_object();
  if (!o || !len) return o;
  tr_unpack u;
  uint32_t n;
  tr_unpack_init(&u, p, len);
  if (tr_unpack_map(&u, &n) < 0) {
    tr_unpack c;
    tr_unpack_init(&c, p, len);
    if (tr_unpack_nil(&c) == 0) return o; /* no variables */
    json_decref(o);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kl;
    const void *v;
    size_t vl;
    if (tr_unpack_str(&u, &k, &kl) < 0 || tr_unpack_raw(&u, &v, &vl) < 0) {
      json_decref(o);
      return NULL;
    }
    if (!wanted(only, k, kl)) continue;
    json_t *tv = rest_var_from_msgpack(v, vl);
    char key[256];
    if (!tv || kl >= sizeof key) {
      json_decref(tv);
      continue;
    }
    memcpy(key, k, kl);
    key[kl] = 0;
    json_object_set_new(o, key, tv);
  }
  return o;
}

json_t *rest_str(const tr_unpack *map, const char *key) {
  const char *s;
  size_t n;
  if (tr_unpack_find_str(map, key, &s, &n) < 0 || !n) return json_null();
  return json_stringn(s, n);
}
