/* rest.c - the router and the request actors (internal.h).
 *
 * The router gets every /engine-rest request from the HTTP server as a
 * message and spawns one request actor for it; the request actor matches
 * the path against the endpoint tables and runs its endpoint. An answer
 * ends the request actor, so whatever it asked and has not heard back
 * from yet is simply dropped with it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "actors/camunda/internal.h"

enum { MSG_REQUEST = 0x52455301 };

/* ------------------------------------------------------------ answers */

static int answer(tr_ctx *ctx, rq *r, int status, const char *ct, const char *body, size_t len) {
  tr_http_response resp = {.status = status, .content_type = ct, .body = body, .body_len = len};
  int rc = tr_http_reply(ctx, &r->in, &resp);
  return rc < 0 ? rc : TR_STOP;
}

int rq_json(tr_ctx *ctx, rq *r, int status, json_t *body) {
  if (!body) return rq_error(ctx, r, 500, "RestException", "out of memory");
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) return rq_error(ctx, r, 500, "RestException", "out of memory");
  int rc = answer(ctx, r, status, "application/json", text, strlen(text));
  free(text);
  return rc;
}

int rq_status(tr_ctx *ctx, rq *r, int status) { return answer(ctx, r, status, NULL, NULL, 0); }

int rq_error(tr_ctx *ctx, rq *r, int status, const char *type, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *o = json_pack("{s:s, s:s}", "type", type, "message", msg);
  if (!o) return answer(ctx, r, status, NULL, NULL, 0);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  int rc = text ? answer(ctx, r, status, "application/json", text, strlen(text))
                : answer(ctx, r, status, NULL, NULL, 0);
  free(text);
  return rc;
}

int rq_engine_error(tr_ctx *ctx, rq *r, int code, const char *text) {
  switch (code) {
  case TR_ENOENT: return rq_error(ctx, r, 404, "InvalidRequestException", "%s", text);
  case TR_EINVAL:
  case TR_EPROTO:
  case TR_ETYPE:
  case TR_ERANGE:
  case TR_ETOOBIG: return rq_error(ctx, r, 400, "InvalidRequestException", "%s", text);
  case TR_EEXIST: return rq_error(ctx, r, 400, "RestException", "%s", text);
  case TR_EBUSY: return rq_error(ctx, r, 409, "RestException", "%s", text);
  case TR_EPERM: return rq_error(ctx, r, 500, "RestException", "%s", text);
  case TR_ETIMEDOUT:
  case TR_ESTOPPED:
  case TR_EAGAIN: return rq_error(ctx, r, 503, "RestException", "the engine is busy or out of reach: %s", text);
  default: return rq_error(ctx, r, 500, "RestException", "%s", text);
  }
}

int rq_check(tr_ctx *ctx, rq *r, const tr_msg *msg) {
  if (msg->type == TR_MSG_TIMEOUT)
    return rq_error(ctx, r, 503, "RestException", "the engine did not answer in time");
  int code = tr_reply_status(msg->data, msg->len);
  if (code == 0) return 0;
  tr_unpack u;
  const char *e;
  size_t n;
  char text[512] = "the engine refused the request";
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find_str(&u, "error", &e, &n) == 0)
    snprintf(text, sizeof text, "%.*s", (int)(n < 500 ? n : 500), e);
  return rq_engine_error(ctx, r, code, text);
}

/* ------------------------------------------------------------ asks */

int rq_ask(tr_ctx *ctx, rq *r, const char *name, uint32_t type, const tr_pack *pk,
           uint32_t timeout_ms) {
  if (pk->err) return pk->err;
  if (r->nasks == r->capasks) {
    int cap = r->capasks ? r->capasks * 2 : 4;
    uint64_t *c = realloc(r->corr, (size_t)cap * sizeof *c);
    if (!c) return TR_ENOMEM;
    r->corr = c;
    r->capasks = cap;
  }
  uint64_t corr;
  int rc = tr_virtual_ask(ctx, name, type, pk->data, pk->len, timeout_ms, &corr);
  if (rc < 0) return rc;
  r->corr[r->nasks] = corr;
  r->pending++;
  return r->nasks++;
}

int rq_ask2(tr_ctx *ctx, rq *r, const char *kind, const char *key, uint32_t type,
            const tr_pack *pk, uint32_t timeout_ms) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  if (snprintf(name, sizeof name, "%s/%s", kind, key) >= (int)sizeof name ||
      tr_virtual_name_check(name) < 0)
    return TR_EINVAL;
  return rq_ask(ctx, r, name, type, pk, timeout_ms);
}

/* ------------------------------------------------------------ reading */

int rq_body(tr_ctx *ctx, rq *r, int empty_ok, json_t **out) {
  *out = NULL;
  size_t n = r->in.req.body_len;
  const char *b = (const char *)r->in.req.body;
  while (n && (b[n - 1] == ' ' || b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == '\t')) n--;
  if (!n) {
    if (empty_ok) return 0;
    return rq_error(ctx, r, 400, "InvalidRequestException", "a JSON body is required");
  }
  if (!r->body) {
    json_error_t err;
    r->body = json_loadb(b, n, JSON_REJECT_DUPLICATES, &err);
    if (!r->body)
      return rq_error(ctx, r, 400, "InvalidRequestException", "the body is not valid JSON: %s (line %d, column %d)",
                      err.text, err.line, err.column);
  }
  if (!json_is_object(r->body))
    return rq_error(ctx, r, 400, "InvalidRequestException", "the body must be a JSON object");
  *out = r->body;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* URL-decodes s[0..n) into buf (form style: '+' is a space). */
static int url_decode(const char *s, size_t n, char *buf, size_t cap, int plus) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int h = i + 1 < n ? hexval(s[i + 1]) : -1;
      int l = i + 2 < n ? hexval(s[i + 2]) : -1;
      if (h < 0 || l < 0) return TR_EINVAL;
      c = h * 16 + l;
      i += 2;
    } else if (c == '+' && plus) {
      c = ' ';
    }
    if (c == 0) return TR_EINVAL;
    if (k + 1 >= cap) return TR_ETOOBIG;
    buf[k++] = (char)c;
  }
  buf[k] = 0;
  return 0;
}

int rq_query(const rq *r, const char *name, char *buf, size_t cap) {
  const char *q = r->in.req.query, *end = q + r->in.req.query_len;
  size_t nl = strlen(name);
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    if (!amp) amp = end;
    const char *eq = memchr(q, '=', (size_t)(amp - q));
    const char *kend = eq ? eq : amp;
    char key[128];
    if (url_decode(q, (size_t)(kend - q), key, sizeof key, 1) == 0 && strlen(key) == nl &&
        !memcmp(key, name, nl)) {
      if (!eq) {
        if (cap) buf[0] = 0;
        return 1;
      }
      int rc = url_decode(eq + 1, (size_t)(amp - eq - 1), buf, cap, 1);
      return rc < 0 ? rc : 1;
    }
    q = amp + 1;
  }
  return 0;
}

int rq_query_int(tr_ctx *ctx, rq *r, const char *name, int64_t *v, int *present) {
  char buf[32];
  int rc = rq_query(r, name, buf, sizeof buf);
  *present = rc == 1;
  if (rc == 0) return 0;
  char *e;
  long long x = rc == 1 ? strtoll(buf, &e, 10) : 0;
  if (rc < 0 || !buf[0] || *e)
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "Cannot set query parameter '%s': not an integer", name);
  *v = x;
  return 0;
}

int rq_query_bool(tr_ctx *ctx, rq *r, const char *name, int *v, int *present) {
  char buf[8];
  int rc = rq_query(r, name, buf, sizeof buf);
  *present = rc == 1;
  if (rc == 0) return 0;
  if (rc == 1 && (!strcmp(buf, "true") || !buf[0])) *v = 1;
  else if (rc == 1 && !strcmp(buf, "false")) *v = 0;
  else
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "Cannot set query parameter '%s': not a boolean", name);
  return 0;
}

int rq_paging(tr_ctx *ctx, rq *r, int64_t *first, int64_t *max) {
  int present, rc;
  *first = 0;
  if ((rc = rq_query_int(ctx, r, "firstResult", first, &present))) return rc;
  if ((rc = rq_query_int(ctx, r, "maxResults", max, &present))) return rc;
  if (!present || *max < 0) *max = -1;
  if (*first < 0) *first = 0;
  return 0;
}

int rq_list(tr_ctx *ctx, rq *r, json_t *all, int64_t first, int64_t max, int count_only) {
  if (!all) return TR_ENOMEM;
  size_t n = json_array_size(all);
  if (count_only) {
    json_decref(all);
    return rq_json(ctx, r, 200, json_pack("{s:I}", "count", (json_int_t)n));
  }
  json_t *page = json_array();
  for (size_t i = (size_t)first; page && i < n && (max < 0 || json_array_size(page) < (size_t)max); i++)
    json_array_append(page, json_array_get(all, i));
  json_decref(all);
  return rq_json(ctx, r, 200, page);
}

const char *rq_header(const rq *r, const char *name, char *buf, size_t cap) {
  size_t n;
  const char *v = tr_http_incoming_header(&r->in, name, &n);
  if (!v || n >= cap) return NULL;
  memcpy(buf, v, n);
  buf[n] = 0;
  return buf;
}

/* ------------------------------------------------------------ dates */

uint64_t rest_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void rest_date(uint64_t ms, char out[32]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%.19s.%03u+0000", base, (unsigned)(ms % 1000));
}

int rest_date_parse(const char *s, uint64_t *ms) {
  struct tm tm = {0};
  int y, mo, d, h, mi, sec, n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return TR_EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
    return TR_EINVAL;
  const char *p = s + 19;
  unsigned frac = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) frac = frac * 10 + (unsigned)(*p - '0');
    if (!digits) return TR_EINVAL;
    for (; digits < 3; digits++) frac *= 10;
  }
  long off = 0;
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && p[3] == ':') p += 6;
    else if (sscanf(p + 1, "%2d%2d", &oh, &om) == 2) p += 5;
    else return TR_EINVAL;
    off = sign * (oh * 3600L + om * 60L);
  }
  if (*p) return TR_EINVAL;
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
  tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == (time_t)-1 || t - off < 0) return TR_EINVAL;
  *ms = (uint64_t)(t - off) * 1000 + frac;
  return 0;
}

/* ------------------------------------------------------------ routing */

static const endpoint *const tables[] = {rest_deployment_eps, rest_definition_eps,
                                         rest_instance_eps,   rest_external_eps,
                                         rest_task_eps,       rest_message_eps,
                                         rest_history_eps,    rest_misc_eps};

/* Whether path matches pattern; the {} segments go to params. */
static int match(const char *pattern, const char *path, size_t len,
                 char params[RQ_MAX_PARAMS][RQ_PARAM_MAX]) {
  size_t i = 0;
  int np = 0;
  for (const char *p = pattern; *p;) {
    if (p[0] == '{' && p[1] == '}') {
      size_t j = i;
      while (j < len && path[j] != '/') j++;
      if (j == i || np == RQ_MAX_PARAMS ||
          url_decode(path + i, j - i, params[np], RQ_PARAM_MAX, 0) < 0)
        return 0;
      np++;
      i = j;
      p += 2;
    } else {
      if (i >= len || path[i] != *p) return 0;
      i++, p++;
    }
  }
  while (i < len && path[i] == '/') i++; /* a trailing slash is the same path */
  return i == len;
}

/* The endpoint for the request: 0, or an answer (404, 405). */
static int route(tr_ctx *ctx, rq *r) {
  const char *path = r->in.req.path + strlen(TR_CAMUNDA_PREFIX);
  size_t len = r->in.req.path_len - strlen(TR_CAMUNDA_PREFIX);
  int other_method = 0;
  for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
    for (const endpoint *e = tables[t]; e->pattern; e++) {
      if (!match(e->pattern, path, len, r->param)) continue;
      if (strcmp(e->method, r->in.req.method)) {
        other_method = 1;
        continue;
      }
      r->ep = e;
      return 0;
    }
  if (other_method)
    return rq_error(ctx, r, 405, "RestException", "method %s is not allowed here", r->in.req.method);
  return rq_error(ctx, r, 404, "RestException", "no such resource: %.*s",
                  (int)(r->in.req.path_len > 300 ? 300 : r->in.req.path_len), r->in.req.path);
}

static int rq_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_msg *m = arg;
  rq *r = st;
  r->raw = malloc(m->len ? m->len : 1);
  if (!r->raw) return TR_ENOMEM;
  memcpy(r->raw, m->data, m->len);
  return tr_http_incoming_decode_bytes(r->raw, m->len, &r->in);
}

static int rq_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  rq *r = st;
  if (m->type == MSG_REQUEST) { /* the first message: run the endpoint */
    int rc = route(ctx, r);
    if (rc != 0) return rc;
    rc = r->ep->start(ctx, r);
    if (rc < 0 && rc != TR_STOP)
      rc = rq_error(ctx, r, 500, "RestException", "the request failed: %s", tr_strerror(rc));
    return rc;
  }
  if (m->type == REST_MSG_DEPLOYED) return rest_deployment_done(ctx, r, m);
  if (!(m->flags & TR_MSG_F_REPLY) && m->type != TR_MSG_TIMEOUT) return 0;
  int idx = -1;
  for (int i = 0; i < r->nasks; i++)
    if (r->corr[i] == m->corr) idx = i;
  if (idx < 0 || !r->ep || !r->ep->reply) return 0; /* late, or not ours */
  r->corr[idx] = 0;
  r->pending--;
  int rc = r->ep->reply(ctx, r, idx, m);
  if (rc < 0 && rc != TR_STOP)
    rc = rq_error(ctx, r, 500, "RestException", "the request failed: %s", tr_strerror(rc));
  return rc;
}

static void rq_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  rq *r = st;
  (void)reason; /* one that ends without answering is answered 504 by the server */
  if (r->scratch_free) r->scratch_free(r->scratch);
  json_decref(r->body);
  json_decref(r->acc);
  json_decref(r->fan_keys);
  free(r->fan_data);
  free(r->corr);
  free(r->raw);
}

static const tr_behavior rq_behavior = {.name = "camunda.request", .state_size = sizeof(rq),
                                        .init = rq_init, .receive = rq_receive,
                                        .terminate = rq_terminate};

/* The router: one request actor per request. */
static int router_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type != MSG_REQUEST) return 0;
  tr_ref child;
  int rc = tr_actor_spawn(ctx, &rq_behavior, m, NULL, &child);
  if (rc == 0) rc = tr_actor_send(ctx, child, MSG_REQUEST, NULL, 0);
  if (rc < 0) {
    tr_http_incoming in;
    if (tr_http_incoming_decode(m, &in) == 0) {
      tr_http_response resp = {.status = 503, .content_type = "application/json",
                               .body = "{\"type\":\"RestException\",\"message\":\"overloaded\"}"};
      resp.body_len = strlen(resp.body);
      tr_http_reply(ctx, &in, &resp);
    }
  }
  return 0;
}

static const tr_behavior router_behavior = {.name = "camunda.router",
                                            .receive = router_receive};

int tr_camunda_start(tr_system *sys, tr_http_server *srv) {
  if (!sys || !srv) return TR_EINVAL;
  tr_ref router;
  int rc = tr_system_spawn(sys, &router_behavior, NULL, NULL, &router);
  if (rc < 0) return rc;
  return tr_http_route_actor(srv, NULL, TR_CAMUNDA_PREFIX, 0, router, MSG_REQUEST);
}
