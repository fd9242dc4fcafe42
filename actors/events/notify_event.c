/* notify_event.c - events from the bus as the notifier keeps them, and the
 * filters of its clients.
 *
 * An event is rendered to JSON once, when it arrives, whatever the number
 * of clients: {"id": "<topic>:<id>", "type", "time": ISO 8601, "key"?,
 * "pi"?, "bk"?, "attrs"?, "data"?, "source"?}; its SSE form is
 * "id: <topic>:<id>\ndata: <json>\n\n" (the default "message" event, so
 * that EventSource.onmessage sees it).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/events/notify_internal.h"

/* ------------------------------------------------------------ decoding */

/* A scalar as text into buf (caller's); 0, or TR_ETYPE for a container. */
static int scalar_text(tr_unpack *u, char *buf, size_t cap) {
  const char *s;
  size_t n;
  int64_t i;
  uint64_t ui;
  double d;
  int b;
  switch (tr_unpack_peek(u)) {
  case TR_MP_STR:
    if (tr_unpack_str(u, &s, &n) < 0) return TR_EPROTO;
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
  case TR_MP_INT:
    if (tr_unpack_int(u, &i) == 0) return snprintf(buf, cap, "%lld", (long long)i), 0;
    if (tr_unpack_uint(u, &ui) == 0) return snprintf(buf, cap, "%llu", (unsigned long long)ui), 0;
    return TR_EPROTO;
  case TR_MP_FLOAT:
    if (tr_unpack_double(u, &d) < 0) return TR_EPROTO;
    return snprintf(buf, cap, "%.17g", d), 0;
  case TR_MP_BOOL:
    if (tr_unpack_bool(u, &b) < 0) return TR_EPROTO;
    return snprintf(buf, cap, "%s", b ? "true" : "false"), 0;
  default: return TR_ETYPE;
  }
}

/* A growing text buffer; err sticks. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int err;
} sbuf;

static void sb_add(sbuf *b, const void *s, size_t n) {
  if (b->err) return;
  if (b->cap - b->len < n + 1) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->err = TR_ENOMEM;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* The msgpack value raw[0..n) as JSON, appended. */
static void sb_json(sbuf *b, const void *raw, size_t n) {
  tr_pack pk = TR_PACK_INIT;
  int rc = tr_json_from_msgpack(raw, n, NULL, &pk, NULL, 0);
  if (rc < 0) b->err = b->err ? b->err : rc;
  else sb_add(b, pk.data, pk.len);
  tr_pack_free(&pk);
}

static void iso_time(uint64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

int nev_decode(tr_unpack *u, const char *topic, nev **out) {
  tr_unpack m = *u;
  uint32_t nk;
  if (tr_unpack_map(u, &nk) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < nk; i++) /* move u past the event */
    if (tr_unpack_skip(u) < 0 || tr_unpack_skip(u) < 0) return TR_EPROTO;
  uint64_t id = 0, tms = 0;
  int64_t ti = 0;
  if (tr_unpack_find_uint(&m, "id", &id) < 0 || !id) return TR_EPROTO;
  if (tr_unpack_find_uint(&m, "time", &tms) < 0 && tr_unpack_find_int(&m, "time", &ti) == 0)
    tms = ti > 0 ? (uint64_t)ti : 0;
  char type[256], key[256], pi[256], bk[256];
  int has_key, has_pi, has_bk;
  tr_unpack v;
  if (tr_unpack_find(&m, "type", &v) < 0 || tr_unpack_peek(&v) != TR_MP_STR ||
      scalar_text(&v, type, sizeof type) < 0)
    return TR_EPROTO;
  has_key = tr_unpack_find(&m, "key", &v) == 0 && scalar_text(&v, key, sizeof key) == 0;
  has_pi = tr_unpack_find(&m, "pi", &v) == 0 && scalar_text(&v, pi, sizeof pi) == 0;
  has_bk = tr_unpack_find(&m, "bk", &v) == 0 && scalar_text(&v, bk, sizeof bk) == 0;
  /* attributes: names and texts, for filters */
  char an[NF_ATTRS_MAX * 2][128];
  uint32_t na = 0;
  tr_unpack attrs;
  int has_attrs = tr_unpack_find(&m, "attrs", &attrs) == 0 && tr_unpack_peek(&attrs) == TR_MP_MAP;
  if (has_attrs) {
    tr_unpack a = attrs;
    uint32_t n;
    tr_unpack_map(&a, &n);
    for (uint32_t i = 0; i < n; i++) {
      if (na < NF_ATTRS_MAX && tr_unpack_peek(&a) == TR_MP_STR &&
          scalar_text(&a, an[2 * na], sizeof an[0]) == 0) {
        if (scalar_text(&a, an[2 * na + 1], sizeof an[0]) == 0) na++;
        else if (tr_unpack_skip(&a) < 0) break;
      } else if (tr_unpack_skip(&a) < 0 || tr_unpack_skip(&a) < 0) {
        break;
      }
    }
  }
  /* the JSON, once */
  sbuf j = {0};
  char head[TR_EV_TOPIC_MAX + 64], ts[32];
  iso_time(tms, ts);
  snprintf(head, sizeof head, "{\"id\":\"%s:%llu\",\"time\":\"%s\"", topic,
           (unsigned long long)id, ts);
  sb_str(&j, head);
  static const char *const fields[] = {"type", "key", "pi", "bk", "attrs", "source", "data"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const void *raw;
    size_t rn;
    if (tr_unpack_find(&m, fields[i], &v) < 0 || tr_unpack_raw(&v, &raw, &rn) < 0) continue;
    sb_str(&j, ",\"");
    sb_str(&j, fields[i]);
    sb_str(&j, "\":");
    sb_json(&j, raw, rn);
  }
  sb_str(&j, "}");
  if (j.err) {
    free(j.p);
    return j.err;
  }
  /* one allocation: struct, pointer arrays, strings */
  size_t need = sizeof(nev) + 2 * na * sizeof(char *) + strlen(type) + 1 +
                (has_key ? strlen(key) + 1 : 0) + (has_pi ? strlen(pi) + 1 : 0) +
                (has_bk ? strlen(bk) + 1 : 0) + (j.len + 1) + (j.len + strlen(topic) + 48);
  for (uint32_t i = 0; i < 2 * na; i++) need += strlen(an[i]) + 1;
  nev *e = malloc(need);
  if (!e) {
    free(j.p);
    return TR_ENOMEM;
  }
  char *p = (char *)(e + 1);
  e->anames = (const char **)p;
  e->avals = e->anames + na;
  p += 2 * na * sizeof(char *);
#define PUT(dst, src) (dst = strcpy(p, src), p += strlen(src) + 1)
  e->id = id;
  e->nattrs = na;
  PUT(e->type, type);
  e->key = e->pi = e->bk = NULL;
  if (has_key) PUT(e->key, key);
  if (has_pi) PUT(e->pi, pi);
  if (has_bk) PUT(e->bk, bk);
  for (uint32_t i = 0; i < na; i++) {
    PUT(e->anames[i], an[2 * i]);
    PUT(e->avals[i], an[2 * i + 1]);
  }
#undef PUT
  memcpy(p, j.p, j.len + 1);
  e->json = p;
  e->json_len = j.len;
  p += j.len + 1;
  int k = sprintf(p, "id: %s:%llu\ndata: ", topic, (unsigned long long)id);
  memcpy(p + k, j.p, j.len);
  memcpy(p + k + j.len, "\n\n", 3);
  e->sse = p;
  e->sse_len = (size_t)k + j.len + 2;
  free(j.p);
  *out = e;
  return 0;
}

/* ------------------------------------------------------------ filters */

void nfilter_free(nfilter *f) {
  for (uint32_t i = 0; i < f->ntypes; i++) free(f->types[i]);
  for (uint32_t i = 0; i < f->nattrs; i++) free(f->anames[i]), free(f->avals[i]);
  free(f->key), free(f->pi), free(f->bk);
  memset(f, 0, sizeof *f);
}

static int eq(const char *want, const char *have) { return !want || (have && !strcmp(want, have)); }

int nfilter_match(const nfilter *f, const nev *e) {
  if (f->ntypes) {
    uint32_t i = 0;
    while (i < f->ntypes && strcmp(f->types[i], e->type)) i++;
    if (i == f->ntypes) return 0;
  }
  if (!eq(f->key, e->key) || !eq(f->pi, e->pi) || !eq(f->bk, e->bk)) return 0;
  for (uint32_t i = 0; i < f->nattrs; i++) {
    uint32_t k = 0;
    while (k < e->nattrs && strcmp(f->anames[i], e->anames[k])) k++;
    if (k == e->nattrs || strcmp(f->avals[i], e->avals[k])) return 0;
  }
  return 1;
}

static int fail(char *err, size_t cap, const char *fmt, const char *arg) {
  snprintf(err, cap, fmt, arg);
  return TR_EINVAL;
}

static int hexv(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape, a NUL
 * or no memory. */
static char *pct(const char *s, size_t n) {
  char *o = malloc(n + 1);
  size_t k = 0;
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0) goto bad;
      o[k] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
      i += 2;
      if (!o[k++]) goto bad;
    } else {
      o[k++] = s[i] == '+' ? ' ' : s[i];
    }
  }
  o[k] = 0;
  return o;
bad:
  free(o);
  return NULL;
}

/* events.h's rule for topics (tr_events_name is the bus's; the notifier
 * checks before it builds a name, to answer the client clearly) */
static int topic_ok(const char *t) {
  size_t n = strlen(t);
  if (!n || n > TR_EV_TOPIC_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (t[i] == '/' || (unsigned char)t[i] < 0x20 || t[i] == 0x7f) return 0;
  return 1;
}

static int add_types(nfilter *f, const char *list, char *err, size_t cap) {
  const char *p = list;
  while (*p) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    if (n) {
      if (f->ntypes == NF_TYPES_MAX) return fail(err, cap, "more than %s types", "32");
      if (!(f->types[f->ntypes] = strndup(p, n))) return TR_ENOMEM;
      f->ntypes++;
    }
    p += n + (c ? 1 : 0);
  }
  return 0;
}

int nfilter_set_from(nfilter *f, const char *s, size_t len, char *err, size_t cap) {
  char buf[TR_EV_TOPIC_MAX + 32];
  if (!len || len >= sizeof buf) return fail(err, cap, "bad resume id '%s'", "");
  memcpy(buf, s, len);
  buf[len] = 0;
  char *num = strrchr(buf, ':');
  if (num) {
    *num++ = 0;
    if (strcmp(buf, f->topic))
      return fail(err, cap, "the resume id is of another topic than '%s'", f->topic);
  } else {
    num = buf;
  }
  char *end;
  if (!isdigit((unsigned char)*num)) return fail(err, cap, "bad resume id '%s'", s);
  unsigned long long v = strtoull(num, &end, 10);
  if (*end) return fail(err, cap, "bad resume id '%s'", num);
  f->has_from = 1;
  f->from = v;
  return 0;
}

int nfilter_from_query(nfilter *f, const char *q, size_t len, const char *default_topic,
                       int *any, char *err, size_t cap) {
  memset(f, 0, sizeof *f);
  snprintf(f->topic, sizeof f->topic, "%s", default_topic);
  *any = 0;
  char *from = NULL;
  int rc = 0;
  const char *end = q + len;
  while (q < end && !rc) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    if (!amp) amp = end;
    const char *eqs = memchr(q, '=', (size_t)(amp - q));
    if (amp == q) {
      q = amp + 1;
      continue;
    }
    char *name = pct(q, (size_t)((eqs ? eqs : amp) - q));
    char *val = eqs ? pct(eqs + 1, (size_t)(amp - eqs - 1)) : strdup("");
    if (!name || !val) {
      rc = fail(err, cap, "%s", "a query parameter is not well percent-encoded");
    } else if (!strcmp(name, "access_token")) {
    } else if (!strcmp(name, "topic")) {
      if (!topic_ok(val)) rc = fail(err, cap, "bad topic '%s'", val);
      else snprintf(f->topic, sizeof f->topic, "%s", val), *any = 1;
    } else if (!strcmp(name, "types")) {
      rc = add_types(f, val, err, cap), *any = 1;
    } else if (!strcmp(name, "key") || !strcmp(name, "pi") || !strcmp(name, "bk")) {
      char **slot = name[0] == 'k' ? &f->key : name[0] == 'p' ? &f->pi : &f->bk;
      free(*slot);
      *slot = val, val = NULL, *any = 1;
    } else if (!strncmp(name, "attr.", 5) && name[5]) {
      if (f->nattrs == NF_ATTRS_MAX) rc = fail(err, cap, "more than %s attributes", "16");
      else {
        f->anames[f->nattrs] = strdup(name + 5);
        f->avals[f->nattrs++] = val, val = NULL, *any = 1;
      }
    } else if (!strcmp(name, "from")) {
      free(from);
      from = val, val = NULL;
    } else {
      rc = fail(err, cap, "unknown query parameter '%s'", name);
    }
    free(name);
    free(val);
    q = amp + 1;
  }
  if (!rc && from) rc = nfilter_set_from(f, from, strlen(from), err, cap);
  free(from);
  if (rc) nfilter_free(f);
  return rc;
}

static int json_scalar_text(json_t *v, char *buf, size_t cap) {
  if (json_is_string(v)) return snprintf(buf, cap, "%s", json_string_value(v)), 0;
  if (json_is_integer(v)) return snprintf(buf, cap, "%lld", (long long)json_integer_value(v)), 0;
  if (json_is_real(v)) return snprintf(buf, cap, "%.17g", json_real_value(v)), 0;
  if (json_is_boolean(v)) return snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false"), 0;
  return TR_ETYPE;
}

static int filter_json(nfilter *f, json_t *flt, char *err, size_t cap) {
  const char *k;
  json_t *v;
  char buf[256];
  json_object_foreach(flt, k, v) {
    if (!strcmp(k, "types")) {
      size_t i;
      json_t *t;
      if (!json_is_array(v)) return fail(err, cap, "%s", "filter.types must be an array of strings");
      json_array_foreach(v, i, t) {
        if (!json_is_string(t)) return fail(err, cap, "%s", "filter.types must be an array of strings");
        if (f->ntypes == NF_TYPES_MAX) return fail(err, cap, "more than %s types", "32");
        f->types[f->ntypes++] = strdup(json_string_value(t));
      }
    } else if (!strcmp(k, "key") || !strcmp(k, "pi") || !strcmp(k, "bk")) {
      if (json_scalar_text(v, buf, sizeof buf) < 0)
        return fail(err, cap, "filter.%s must be a string or a number", k);
      char **slot = k[0] == 'k' ? &f->key : k[0] == 'p' ? &f->pi : &f->bk;
      free(*slot);
      *slot = strdup(buf);
    } else if (!strcmp(k, "attrs")) {
      const char *an;
      json_t *av;
      if (!json_is_object(v)) return fail(err, cap, "%s", "filter.attrs must be an object");
      json_object_foreach(v, an, av) {
        if (f->nattrs == NF_ATTRS_MAX) return fail(err, cap, "more than %s attributes", "16");
        if (json_scalar_text(av, buf, sizeof buf) < 0)
          return fail(err, cap, "filter.attrs.%s must be a scalar", an);
        f->anames[f->nattrs] = strdup(an);
        f->avals[f->nattrs++] = strdup(buf);
      }
    } else {
      return fail(err, cap, "unknown filter field '%s'", k);
    }
  }
  return 0;
}

int nfilter_from_json(nfilter *f, const char *text, size_t len, const char *default_topic,
                      int *action, char *err, size_t cap) {
  memset(f, 0, sizeof *f);
  snprintf(f->topic, sizeof f->topic, "%s", default_topic);
  json_error_t je;
  json_t *o = json_loadb(text, len, 0, &je);
  if (!o || !json_is_object(o)) {
    json_decref(o);
    return fail(err, cap, "%s", "a message must be a JSON object");
  }
  int rc = 0;
  const char *act = json_string_value(json_object_get(o, "action"));
  json_t *topic = json_object_get(o, "topic"), *flt = json_object_get(o, "filter"),
         *from = json_object_get(o, "from");
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    if (strcmp(k, "action") && strcmp(k, "topic") && strcmp(k, "filter") && strcmp(k, "from")) {
      rc = fail(err, cap, "unknown field '%s'", k);
      break;
    }
  }
  if (rc) {
  } else if (!act) {
    rc = fail(err, cap, "%s", "\"action\" must be \"subscribe\" or \"unsubscribe\"");
  } else if (!strcmp(act, "unsubscribe")) {
    *action = 2;
  } else if (strcmp(act, "subscribe")) {
    rc = fail(err, cap, "unknown action '%s'", act);
  } else {
    *action = 1;
    if (topic && (!json_is_string(topic) || !topic_ok(json_string_value(topic))))
      rc = fail(err, cap, "%s", "\"topic\" must be a topic name");
    else if (topic)
      snprintf(f->topic, sizeof f->topic, "%s", json_string_value(topic));
    if (!rc && flt && !json_is_object(flt)) rc = fail(err, cap, "%s", "\"filter\" must be an object");
    if (!rc && flt) rc = filter_json(f, flt, err, cap);
    if (!rc && from) {
      char buf[64];
      if (json_is_integer(from) && json_integer_value(from) >= 0)
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(from));
      else if (json_is_string(from))
        snprintf(buf, sizeof buf, "%s", json_string_value(from));
      else
        buf[0] = 0;
      rc = nfilter_set_from(f, buf, strlen(buf), err, cap);
    }
  }
  json_decref(o);
  if (rc) nfilter_free(f);
  return rc;
}
