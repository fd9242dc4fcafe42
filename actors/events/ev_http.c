/* ev_http.c - POST /events and /warehouse/... (docs/http-api.md, "Events
 * and warehouse"): one short-lived request actor per request turns the
 * query string or JSON body into one ask of "events/<topic>" and its
 * answer into JSON. Events read as {"id": "<topic>:<n>", "seq": n, "topic",
 * "type", "time": ISO 8601, "time_ms", "source", "key"?, "pi"?, "bk"?,
 * "attrs"?, "data"?}. */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/events/ev_int.h"
#include "actors/events/events_http.h"

enum { MSG_REQUEST = 0x45564801, ASK_MS = 30000 };

enum { EP_PUBLISH, EP_EVENTS, EP_COUNTS, EP_DISTINCT, EP_FUNNEL, EP_RET_GET, EP_RET_PUT };

typedef struct qparam {
  char name[128];
  char val[512];
} qparam;

enum { QMAX = 24 };

typedef struct hreq {
  uint8_t *raw;
  tr_http_incoming in;
  int ep;
  char topic[TR_EV_TOPIC_MAX + 1];
  uint64_t corr;
  char query[8192], path[512]; /* NUL-terminated copies of the request's */
  qparam ps[QMAX];             /* the query string, decoded (in the state: big) */
} hreq;

/* ------------------------------------------------------------ answers */

static int answer(tr_ctx *ctx, hreq *r, int status, json_t *body) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  tr_http_response resp = {.status = status, .content_type = "application/json",
                           .body = text ? text : "{}", .body_len = text ? strlen(text) : 2};
  tr_http_reply(ctx, &r->in, &resp);
  free(text);
  return TR_STOP;
}

static int fail(tr_ctx *ctx, hreq *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(tr_ctx *ctx, hreq *r, int status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *type = status < 500 ? "InvalidRequestException" : "RestException";
  return answer(ctx, r, status, json_pack("{s:s, s:s}", "type", type, "message", msg));
}

static int status_of(int code) {
  switch (code) {
  case TR_EINVAL: case TR_EPROTO: case TR_ETYPE: case TR_ERANGE: case TR_ETOOBIG: return 400;
  case TR_ENOENT: return 404;
  case TR_EAGAIN: case TR_ETIMEDOUT: case TR_ESTOPPED: case TR_EFULL: return 503;
  default: return 500;
  }
}

/* ------------------------------------------------------------ times */

static void iso(uint64_t ms, char out[32]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* ms since the epoch, or ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]". */
static int parse_time(const char *s, uint64_t *ms) {
  if (!*s) return TR_EINVAL;
  bool digits = true;
  for (const char *p = s; *p; p++) digits = digits && isdigit((unsigned char)*p);
  if (digits) {
    if (strlen(s) > 16) return TR_EINVAL;
    *ms = strtoull(s, NULL, 10);
    return 0;
  }
  struct tm tm = {0};
  int n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &n) != 6)
    return TR_EINVAL;
  tm.tm_year -= 1900, tm.tm_mon -= 1;
  const char *p = s + n;
  unsigned frac = 0;
  if (*p == '.') {
    int k = 0;
    for (p++; isdigit((unsigned char)*p); p++, k++)
      if (k < 3) frac = frac * 10 + (unsigned)(*p - '0');
    while (k++ < 3) frac *= 10;
  }
  long off = 0;
  if (*p == 'Z') p++;
  else if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return TR_EINVAL;
    off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    p += 6;
  }
  if (*p) return TR_EINVAL;
  time_t t = timegm(&tm);
  if (t == (time_t)-1 || t - off < 0) return TR_EINVAL;
  *ms = (uint64_t)(t - off) * 1000 + frac;
  return 0;
}

/* ------------------------------------------------------------ query strings */


static int hexv(int c) {
  return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

static int decode(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '+') c = ' ';
    else if (c == '%') {
      if (i + 2 >= n) return TR_EINVAL;
      int a = hexv((unsigned char)s[i + 1]), b = hexv((unsigned char)s[i + 2]);
      if (a < 0 || b < 0) return TR_EINVAL;
      c = a * 16 + b;
      i += 2;
    }
    if (c == 0 || k + 1 >= cap) return TR_EINVAL;
    out[k++] = (char)c;
  }
  out[k] = 0;
  return 0;
}

static int parse_query(const char *q, size_t len, qparam *ps, int *n) {
  *n = 0;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && q[j] != '&') j++;
    if (j > i) {
      size_t eq = i;
      while (eq < j && q[eq] != '=') eq++;
      if (*n == QMAX) return TR_ETOOBIG;
      qparam *p = &ps[*n];
      if (decode(q + i, eq - i, p->name, sizeof p->name) < 0 ||
          decode(q + (eq < j ? eq + 1 : j), eq < j ? j - eq - 1 : 0, p->val, sizeof p->val) < 0)
        return TR_EINVAL;
      (*n)++;
    }
    i = j + 1;
  }
  return 0;
}

static const char *qget(const qparam *ps, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ps[i].name, name)) return ps[i].val;
  return NULL;
}

/* ------------------------------------------------------------ requests */

/* A query-string value as the scalar it spells: an integer, a number,
 * true, false, null, or else the string, so that attrs.n=3 matches 3. */
static void pack_scalar(tr_pack *pk, const char *v) {
  char *end;
  long long i = strtoll(v, &end, 10);
  if (*v && !*end) {
    tr_pack_int(pk, i);
    return;
  }
  double d = strtod(v, &end);
  if (*v && !*end) tr_pack_double(pk, d);
  else if (!strcmp(v, "true") || !strcmp(v, "false")) tr_pack_bool(pk, v[0] == 't');
  else if (!strcmp(v, "null")) tr_pack_nil(pk);
  else tr_pack_str(pk, v);
}

/* {filter: {types, pi, bk, key, attrs}} from the query string into pk (a
 * map entry; the caller counts it). attrs.<name>=value entries each must
 * hold. */
static void pack_filter(tr_pack *pk, const qparam *ps, int n) {
  const char *type = qget(ps, n, "type"), *f[3] = {"pi", "bk", "key"};
  uint32_t m = !!(type && *type), na = 0;
  for (int i = 0; i < 3; i++) m += qget(ps, n, f[i]) && *qget(ps, n, f[i]);
  for (int i = 0; i < n; i++) na += !strncmp(ps[i].name, "attrs.", 6) && ps[i].name[6];
  m += na > 0;
  tr_pack_str(pk, "filter");
  tr_pack_map(pk, m);
  if (type && *type) { /* comma-separated */
    uint32_t k = 1;
    for (const char *p = type; *p; p++) k += *p == ',';
    tr_pack_str(pk, "types");
    tr_pack_array(pk, k);
    for (const char *p = type;;) {
      size_t l = strcspn(p, ",");
      tr_pack_strn(pk, p, l);
      if (!p[l]) break;
      p += l + 1;
    }
  }
  for (int i = 0; i < 3; i++) {
    const char *v = qget(ps, n, f[i]);
    if (v && *v) tr_pack_kv_str(pk, f[i], v);
  }
  if (!na) return;
  tr_pack_str(pk, "attrs");
  tr_pack_map(pk, na);
  for (int i = 0; i < n; i++)
    if (!strncmp(ps[i].name, "attrs.", 6) && ps[i].name[6]) {
      tr_pack_str(pk, ps[i].name + 6);
      pack_scalar(pk, ps[i].val);
    }
}

/* from/to/after/max as numbers into pk; counts the entries in *m. */
static int pack_times(tr_ctx *ctx, hreq *r, tr_pack *pk, const qparam *ps, int n, uint32_t *m) {
  const char *names[2] = {"from", "to"}, *keys[2] = {"from_time", "to_time"};
  for (int i = 0; i < 2; i++) {
    const char *v = qget(ps, n, names[i]);
    uint64_t t;
    if (!v || !*v) continue;
    if (parse_time(v, &t) < 0)
      return fail(ctx, r, 400, "%s must be ms since the epoch or an ISO 8601 time", names[i]);
    tr_pack_str(pk, keys[i]);
    tr_pack_uint(pk, t);
    (*m)++;
  }
  return 0;
}

static int ask(tr_ctx *ctx, hreq *r, uint32_t type, const tr_pack *pk) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  if (tr_events_name(r->topic, name, sizeof name) < 0)
    return fail(ctx, r, 400, "topic must have 1 to %d bytes, without '/' or control bytes",
                TR_EV_TOPIC_MAX);
  if (pk->err) return fail(ctx, r, 400, "the request is too big");
  int rc = tr_virtual_ask(ctx, name, type, pk->data, pk->len, ASK_MS, &r->corr);
  if (rc < 0)
    return fail(ctx, r, status_of(rc), "the event bus is out of reach: %s", tr_strerror(rc));
  return 0;
}

static int topic_from(tr_ctx *ctx, hreq *r, const char *t, const char *dflt) {
  if (!t || !*t) t = dflt;
  if (strlen(t) > TR_EV_TOPIC_MAX)
    return fail(ctx, r, 400, "topic must have 1 to %d bytes", TR_EV_TOPIC_MAX);
  snprintf(r->topic, sizeof r->topic, "%s", t);
  return 0;
}

/* A JSON body as msgpack into pk; 0 or an answer. */
static int body_mp(tr_ctx *ctx, hreq *r, tr_pack *pk, json_t **js) {
  json_error_t err;
  *js = NULL;
  if (!r->in.req.body_len) return fail(ctx, r, 400, "a JSON body is required");
  *js = json_loadb((const char *)r->in.req.body, r->in.req.body_len, JSON_REJECT_DUPLICATES, &err);
  if (!*js) return fail(ctx, r, 400, "the body is not valid JSON: %s", err.text);
  if (!json_is_object(*js)) return fail(ctx, r, 400, "the body must be a JSON object");
  char text[256] = "";
  if (tr_json_to_msgpack((const char *)r->in.req.body, r->in.req.body_len, NULL, pk, text,
                         sizeof text) < 0)
    return fail(ctx, r, 400, "the body could not be read: %s", text);
  return 0;
}

static int start_get(tr_ctx *ctx, hreq *r, const qparam *ps, int n) {
  int rc;
  const char *topic = qget(ps, n, "topic");
  if ((rc = topic_from(ctx, r, topic, "engine")))
    return rc;
  tr_pack pk = TR_PACK_INIT;
  tr_pack body = TR_PACK_INIT;
  uint32_t m = 0;
  if ((rc = pack_times(ctx, r, &body, ps, n, &m))) goto out;
  uint32_t type = TR_EV_QUERY;
  if (r->ep == EP_EVENTS) {
    const char *after = qget(ps, n, "after"), *max = qget(ps, n, "max"),
               *desc = qget(ps, n, "desc");
    if (after && *after) {
      const char *colon = strrchr(after, ':'); /* "<topic>:<n>" as given out */
      const char *num = colon ? colon + 1 : after;
      char *end;
      unsigned long long a = strtoull(num, &end, 10);
      if (!*num || *end) {
        rc = fail(ctx, r, 400, "after must be an event id");
        goto out;
      }
      tr_pack_str(&body, "after"), tr_pack_uint(&body, a), m++;
    }
    if (max && *max) {
      char *end;
      unsigned long long x = strtoull(max, &end, 10);
      if (*end || x == 0 || x > 10000) {
        rc = fail(ctx, r, 400, "max must be 1 to 10000");
        goto out;
      }
      tr_pack_str(&body, "max"), tr_pack_uint(&body, x), m++;
    }
    if (desc && !strcmp(desc, "true")) tr_pack_str(&body, "desc"), tr_pack_bool(&body, 1), m++;
  } else if (r->ep == EP_COUNTS || r->ep == EP_DISTINCT) {
    type = r->ep == EP_COUNTS ? TR_EV_COUNT : TR_EV_DISTINCT;
    const char *b = qget(ps, n, "bucket"), *of = qget(ps, n, "of");
    tr_pack_kv_str(&body, "bucket", b ? b : "minute"), m++;
    if (r->ep == EP_DISTINCT) {
      if (!of || !*of) {
        rc = fail(ctx, r, 400, "of is required: bk, pi, key or attrs.<name>");
        goto out;
      }
      tr_pack_kv_str(&body, "of", of), m++;
    }
  } else {
    type = TR_EV_RETENTION;
  }
  if (r->ep != EP_RET_GET) pack_filter(&body, ps, n), m++;
  tr_pack_map(&pk, m);
  tr_pack_raw(&pk, body.data, body.len);
  rc = ask(ctx, r, type, &pk);
out:
  tr_pack_free(&pk);
  tr_pack_free(&body);
  return rc;
}

static int start_body(tr_ctx *ctx, hreq *r, const qparam *ps, int n) {
  tr_pack pk = TR_PACK_INIT;
  json_t *js = NULL;
  int rc = body_mp(ctx, r, &pk, &js);
  if (rc) goto out;
  const char *topic = json_string_value(json_object_get(js, "topic"));
  if (json_object_get(js, "topic") && !topic) {
    rc = fail(ctx, r, 400, "topic must be a string");
    goto out;
  }
  if (r->ep == EP_RET_PUT && !topic) topic = qget(ps, n, "topic");
  if ((rc = topic_from(ctx, r, topic, r->ep == EP_PUBLISH ? "custom" : "engine"))) goto out;
  if (r->ep == EP_FUNNEL) {
    /* from/to may be ISO 8601 here too: the request's map with numbers */
    tr_pack b = TR_PACK_INIT;
    const char *k;
    json_t *v;
    tr_pack_map(&b, (uint32_t)json_object_size(js));
    json_object_foreach(js, k, v) {
      bool t = !strcmp(k, "from") || !strcmp(k, "to");
      tr_pack_str(&b, t ? (k[0] == 'f' ? "from_time" : "to_time") : k);
      uint64_t ms;
      if (t && json_is_string(v) && parse_time(json_string_value(v), &ms) == 0)
        tr_pack_uint(&b, ms);
      else if (t && json_is_integer(v) && json_integer_value(v) >= 0)
        tr_pack_uint(&b, (uint64_t)json_integer_value(v));
      else if (t) {
        tr_pack_free(&b);
        rc = fail(ctx, r, 400, "%s must be ms since the epoch or an ISO 8601 time", k);
        goto out;
      } else {
        char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        tr_json_to_msgpack(txt ? txt : "null", txt ? strlen(txt) : 4, NULL, &b, NULL, 0);
        free(txt);
      }
    }
    rc = ask(ctx, r, TR_EV_FUNNEL, &b);
    tr_pack_free(&b);
    goto out;
  }
  if (r->ep == EP_PUBLISH && !json_object_get(js, "source")) {
    /* who published: an HTTP client, not the request actor that relays it */
    json_object_set_new(js, "source", json_string("http"));
    char *txt = json_dumps(js, JSON_COMPACT);
    tr_pack_reset(&pk);
    if (!txt || tr_json_to_msgpack(txt, strlen(txt), NULL, &pk, NULL, 0) < 0) {
      free(txt);
      rc = fail(ctx, r, 500, "out of memory");
      goto out;
    }
    free(txt);
  }
  rc = ask(ctx, r, r->ep == EP_PUBLISH ? TR_EV_PUBLISH : TR_EV_RETENTION, &pk);
out:
  json_decref(js);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ answers to JSON */

static json_t *mp_json(tr_unpack *u) {
  const void *p;
  size_t n;
  if (tr_unpack_raw(u, &p, &n) < 0) return json_null();
  tr_pack js = TR_PACK_INIT;
  json_t *out = NULL;
  if (tr_json_from_msgpack(p, n, NULL, &js, NULL, 0) == 0)
    out = json_loadb((const char *)js.data, js.len, JSON_DECODE_ANY, NULL);
  tr_pack_free(&js);
  return out ? out : json_null();
}

static json_t *event_json(tr_unpack *u) {
  uint32_t n;
  json_t *o = json_object();
  if (tr_unpack_map(u, &n) < 0) return o;
  uint64_t id = 0;
  char topic[TR_EV_TOPIC_MAX + 1] = "";
  for (uint32_t i = 0; i < n; i++) {
    char k[32];
    if (tr_unpack_str_copy(u, k, sizeof k) < 0) {
      tr_unpack_skip(u), tr_unpack_skip(u);
      continue;
    }
    if (!strcmp(k, "id")) tr_unpack_uint(u, &id);
    else if (!strcmp(k, "topic")) tr_unpack_str_copy(u, topic, sizeof topic);
    else if (!strcmp(k, "time")) {
      uint64_t t = 0;
      char s[32];
      tr_unpack_uint(u, &t);
      iso(t, s);
      json_object_set_new(o, "time", json_string(s));
      json_object_set_new(o, "time_ms", json_integer((json_int_t)t));
    } else json_object_set_new(o, k, mp_json(u));
  }
  char ids[TR_EV_TOPIC_MAX + 24];
  snprintf(ids, sizeof ids, "%s:%llu", topic, (unsigned long long)id);
  json_object_set_new(o, "id", json_string(ids));
  json_object_set_new(o, "seq", json_integer((json_int_t)id));
  json_object_set_new(o, "topic", json_string(topic));
  return o;
}

static json_t *rows_json(tr_unpack *u, int ep) {
  json_t *a = json_array();
  tr_unpack rows;
  uint32_t n;
  if (tr_unpack_find(u, ep == EP_FUNNEL ? "steps" : "buckets", &rows) < 0 ||
      tr_unpack_array(&rows, &n) < 0)
    return a;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k;
    uint64_t start = 0, count = 0;
    char type[EV_VALUE_MAX + 1] = "", s[32];
    tr_unpack_array(&rows, &k);
    if (ep == EP_FUNNEL) {
      tr_unpack_str_copy(&rows, type, sizeof type);
      tr_unpack_uint(&rows, &count);
      json_array_append_new(a, json_pack("{s:s, s:I}", "type", type, "count", (json_int_t)count));
      continue;
    }
    tr_unpack_uint(&rows, &start);
    if (ep == EP_COUNTS) tr_unpack_str_copy(&rows, type, sizeof type);
    tr_unpack_uint(&rows, &count);
    iso(start, s);
    json_t *o = json_pack("{s:s, s:I, s:I}", "start", s, "start_ms", (json_int_t)start, "count",
                          (json_int_t)count);
    if (ep == EP_COUNTS) json_object_set_new(o, "type", json_string(type));
    json_array_append_new(a, o);
  }
  return a;
}

static int on_reply(tr_ctx *ctx, hreq *r, const tr_msg *m) {
  if (m->type == TR_MSG_TIMEOUT) return fail(ctx, r, 503, "the event bus did not answer in time");
  int code = tr_reply_status(m->data, m->len);
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  if (code) {
    const char *e;
    size_t n;
    if (tr_unpack_find_str(&u, "error", &e, &n) < 0) e = tr_strerror(code), n = strlen(e);
    return fail(ctx, r, status_of(code), "%.*s", (int)(n > 400 ? 400 : n), e);
  }
  json_t *o = json_object();
  uint64_t v;
  switch (r->ep) {
  case EP_PUBLISH: {
    tr_unpack_find_uint(&u, "id", &v);
    char ids[TR_EV_TOPIC_MAX + 24];
    snprintf(ids, sizeof ids, "%s:%llu", r->topic, (unsigned long long)v);
    json_object_set_new(o, "id", json_string(ids));
    json_object_set_new(o, "seq", json_integer((json_int_t)v));
    json_object_set_new(o, "topic", json_string(r->topic));
    return answer(ctx, r, 201, o);
  }
  case EP_EVENTS: {
    json_t *a = json_array();
    tr_unpack evs;
    uint32_t n;
    int more = 0;
    if (tr_unpack_find(&u, "events", &evs) == 0 && tr_unpack_array(&evs, &n) == 0)
      for (uint32_t i = 0; i < n; i++) json_array_append_new(a, event_json(&evs));
    tr_unpack_find_bool(&u, "more", &more);
    json_object_set_new(o, "events", a);
    json_object_set_new(o, "more", json_boolean(more));
    break;
  }
  case EP_COUNTS:
  case EP_DISTINCT:
    json_object_set_new(o, "buckets", rows_json(&u, r->ep));
    break;
  case EP_FUNNEL:
    json_object_set_new(o, "steps", rows_json(&u, r->ep));
    break;
  case EP_RET_GET: {
    const char *ks[] = {"max_age_ms", "max_bytes", "events", "bytes", "first", "last", "indexed"};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
      v = 0;
      tr_unpack_find_uint(&u, ks[i], &v);
      json_object_set_new(o, ks[i], json_integer((json_int_t)v));
    }
    break;
  }
  default:
    json_object_set_new(o, "ok", json_true());
    break;
  }
  json_object_set_new(o, "topic", json_string(r->topic));
  return answer(ctx, r, 200, o);
}

/* ------------------------------------------------------------ the actors */

static bool path_is(const hreq *r, const char *p) {
  size_t n = strlen(p), l = r->in.req.path_len;
  while (l > n && r->in.req.path[l - 1] == '/') l--; /* a trailing slash is the same path */
  return l == n && !memcmp(r->in.req.path, p, n);
}

static int route(tr_ctx *ctx, hreq *r) {
  const char *m = r->in.req.method;
  static const struct { const char *method, *path; int ep; } eps[] = {
      {"POST", "/events", EP_PUBLISH},           {"GET", "/warehouse/events", EP_EVENTS},
      {"GET", "/warehouse/counts", EP_COUNTS},   {"GET", "/warehouse/distinct", EP_DISTINCT},
      {"POST", "/warehouse/funnel", EP_FUNNEL},  {"GET", "/warehouse/retention", EP_RET_GET},
      {"PUT", "/warehouse/retention", EP_RET_PUT}};
  bool other = false;
  for (size_t i = 0; i < sizeof eps / sizeof *eps; i++) {
    if (!path_is(r, eps[i].path)) continue;
    if (strcmp(m, eps[i].method)) {
      other = true;
      continue;
    }
    r->ep = eps[i].ep;
    int n;
    if (parse_query(r->in.req.query, r->in.req.query_len, r->ps, &n) < 0)
      return fail(ctx, r, 400, "the query string is malformed or has too many parameters");
    return r->ep == EP_PUBLISH || r->ep == EP_FUNNEL || r->ep == EP_RET_PUT
               ? start_body(ctx, r, r->ps, n)
               : start_get(ctx, r, r->ps, n);
  }
  if (other) return fail(ctx, r, 405, "method %s is not allowed here", m);
  return fail(ctx, r, 404, "no such resource: %.*s",
              (int)(r->in.req.path_len > 200 ? 200 : r->in.req.path_len), r->in.req.path);
}

static int hreq_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_msg *m = arg;
  hreq *r = st;
  if (!(r->raw = malloc(m->len ? m->len : 1))) return TR_ENOMEM;
  memcpy(r->raw, m->data, m->len);
  return tr_http_incoming_decode_bytes(r->raw, m->len, &r->in);
}

static int hreq_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  hreq *r = st;
  if (m->type == MSG_REQUEST) {
    /* query strings and paths are views without a NUL: copy them */
    if (r->in.req.query_len >= sizeof r->query || r->in.req.path_len >= sizeof r->path)
      return fail(ctx, r, 414, "the URL is too long");
    memcpy(r->query, r->in.req.query, r->in.req.query_len);
    r->query[r->in.req.query_len] = 0;
    memcpy(r->path, r->in.req.path, r->in.req.path_len);
    r->path[r->in.req.path_len] = 0;
    r->in.req.query = r->query;
    r->in.req.path = r->path;
    int rc = route(ctx, r);
    return rc < 0 ? fail(ctx, r, 500, "the request failed: %s", tr_strerror(rc)) : rc;
  }
  if ((m->flags & TR_MSG_F_REPLY || m->type == TR_MSG_TIMEOUT) && m->corr == r->corr)
    return on_reply(ctx, r, m);
  return 0;
}

static void hreq_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx, (void)reason;
  free(((hreq *)st)->raw);
}

static const tr_behavior hreq_behavior = {.name = "events.request", .state_size = sizeof(hreq),
                                          .init = hreq_init, .receive = hreq_receive,
                                          .terminate = hreq_terminate};

static int router_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type != MSG_REQUEST) return 0;
  tr_ref child;
  int rc = tr_actor_spawn(ctx, &hreq_behavior, m, NULL, &child);
  if (rc == 0) rc = tr_actor_send(ctx, child, MSG_REQUEST, NULL, 0);
  if (rc < 0) {
    tr_http_incoming in;
    if (tr_http_incoming_decode(m, &in) == 0) {
      const char *b = "{\"type\":\"RestException\",\"message\":\"overloaded\"}";
      tr_http_response resp = {.status = 503, .content_type = "application/json", .body = b,
                               .body_len = strlen(b)};
      tr_http_reply(ctx, &in, &resp);
    }
  }
  return 0;
}

static const tr_behavior router_behavior = {.name = "events.router", .receive = router_receive};

int tr_events_http_start(tr_system *sys, tr_http_server *srv) {
  if (!sys || !srv) return TR_EINVAL;
  tr_ref router;
  int rc = tr_system_spawn(sys, &router_behavior, NULL, NULL, &router);
  if (rc < 0) return rc;
  if ((rc = tr_http_route_actor(srv, "POST", "/events", TR_HTTP_ROUTE_EXACT, router,
                                MSG_REQUEST)) < 0)
    return rc;
  return tr_http_route_actor(srv, NULL, "/warehouse", 0, router, MSG_REQUEST);
}
