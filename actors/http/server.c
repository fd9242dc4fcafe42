/* server.c - the HTTP server's lifecycle: routes, start, answers from any
 * thread, and the graceful drain. A start or a stop posts one call to the
 * loops (tr_loop_post) and waits on a condition variable until each has
 * reported; connections live on the loops (accept.c, conn.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include <unistd.h>

#include "actors/http/internal.h"

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

int tr_http_new(tr_system *sys, const tr_http_opts *o, tr_http_server **out) {
  if (!sys || !o || !o->listen || !out) return TR_EINVAL;
  if (!o->basic_user != !o->basic_password) return TR_EINVAL;
  tr_http_server *srv = calloc(1, sizeof *srv);
  if (!srv) return TR_ENOMEM;
  srv->sys = sys;
  srv->lim = o->limits;
  tr_http_limits_default(&srv->lim);
  srv->listen = strdup(o->listen);
  srv->bearer = dup_or_null(o->bearer_token);
  srv->realm = dup_or_null(o->realm);
  if (o->basic_user) {
    size_t n = strlen(o->basic_user) + strlen(o->basic_password) + 2;
    if (strchr(o->basic_user, ':') || n > 500) {
      tr_http_free(srv);
      return TR_EINVAL;
    }
    srv->basic = malloc(n);
    if (srv->basic) snprintf(srv->basic, n, "%s:%s", o->basic_user, o->basic_password);
  }
  srv->nloops = tr_system_threads(sys);
  srv->loops = calloc(srv->nloops, sizeof *srv->loops);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_cond_init(&srv->cv, NULL);
  if (!srv->listen || !srv->loops || (o->bearer_token && *o->bearer_token && !srv->bearer) ||
      (o->basic_user && !srv->basic)) {
    tr_http_free(srv);
    return TR_ENOMEM;
  }
  for (uint32_t i = 0; i < srv->nloops; i++) {
    srv->loops[i].srv = srv;
    srv->loops[i].index = i;
  }
  srv->listen_fd = -1;
  *out = srv;
  return 0;
}

static int route_add(tr_http_server *srv, const char *method, const char *prefix,
                     unsigned flags, route *r) {
  if (!srv || !prefix || prefix[0] != '/' || srv->started) return TR_EINVAL;
  if (srv->nroutes == TR_HTTP_ROUTES_MAX) return TR_EFULL;
  r->method = method ? strdup(method) : NULL;
  r->prefix = strdup(prefix);
  if ((method && !r->method) || !r->prefix) {
    free(r->method);
    free(r->prefix);
    return TR_ENOMEM;
  }
  r->prefix_len = strlen(prefix);
  r->flags = flags;
  srv->routes[srv->nroutes++] = *r;
  return 0;
}

int tr_http_route_fn(tr_http_server *srv, const char *method, const char *prefix,
                     unsigned flags, tr_http_handler_fn fn, void *arg) {
  if (!fn) return TR_EINVAL;
  route r = {.fn = fn, .arg = arg};
  return route_add(srv, method, prefix, flags, &r);
}

int tr_http_route_actor(tr_http_server *srv, const char *method, const char *prefix,
                        unsigned flags, tr_ref actor, uint32_t type) {
  if (tr_ref_is_none(actor) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  route r = {.actor = actor, .type = type};
  return route_add(srv, method, prefix, flags, &r);
}

/* "/a" matches "/a", "/a/..." and "/a?..." but not "/ab"; a prefix ending
 * in '/' matches everything under it. */
static int prefix_match(const route *r, const char *path, size_t len) {
  if (len < r->prefix_len || memcmp(path, r->prefix, r->prefix_len)) return 0;
  if (r->flags & TR_HTTP_ROUTE_EXACT) return len == r->prefix_len;
  return len == r->prefix_len || r->prefix[r->prefix_len - 1] == '/' ||
         path[r->prefix_len] == '/';
}

const route *tr_http_route_match(const tr_http_server *srv, const tr_http_request *req,
                                 int *method_mismatch) {
  const route *best = NULL;
  size_t best_len = 0;
  *method_mismatch = 0;
  for (uint32_t i = 0; i < srv->nroutes; i++) {
    const route *r = &srv->routes[i];
    if (!prefix_match(r, req->path, req->path_len)) continue;
    int head_as_get = !strcmp(req->method, "HEAD") && r->method && !strcmp(r->method, "GET");
    if (r->method && strcmp(r->method, req->method) && !head_as_get) {
      *method_mismatch = 1;
      continue;
    }
    if (!best || r->prefix_len > best_len) best = r, best_len = r->prefix_len;
  }
  if (best) *method_mismatch = 0;
  return best;
}

/* ------------------------------------------------------------ start */

static void report(tr_http_server *srv, int err) {
  pthread_mutex_lock(&srv->mu);
  if (err && !srv->start_err) srv->start_err = err;
  srv->waiting--;
  pthread_cond_broadcast(&srv->cv);
  pthread_mutex_unlock(&srv->mu);
}

static void wait_loops(tr_http_server *srv) {
  pthread_mutex_lock(&srv->mu);
  while (srv->waiting) pthread_cond_wait(&srv->cv, &srv->mu);
  pthread_mutex_unlock(&srv->mu);
}

/* On loop 0: watch the listening socket. */
static void loop_listen(void *loop, void *arg) {
  tr_http_server *srv = arg;
  srv->loops[0].loop = loop;
  int rc = tr_http_acceptor_start(srv, loop);
  if (rc < 0) tr_log(TR_LOG_ERROR, "http", "cannot watch the listening socket: %s", uv_strerror(rc));
  report(srv, rc < 0 ? TR_EIO : 0);
}

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return TR_EINVAL;
  char host[64];
  size_t hl = (size_t)(colon - s);
  const char *h = s;
  if (s[0] == '[') {
    if (hl < 3 || s[hl - 1] != ']') return TR_EINVAL;
    h = s + 1, hl -= 2;
  }
  if (hl >= sizeof host) return TR_EINVAL;
  memcpy(host, h, hl);
  host[hl] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || port < 0 || port > 65535) return TR_EINVAL;
  memset(ss, 0, sizeof *ss);
  if (s[0] == '[')
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) ? TR_EINVAL : 0;
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ? TR_EINVAL : 0;
}

int tr_http_start(tr_http_server *srv) {
  if (!srv || srv->started) return TR_EINVAL;
  struct sockaddr_storage ss;
  if (parse_listen(srv->listen, &ss) < 0) {
    tr_log(TR_LOG_ERROR, "http", "bad listen address '%s' (want host:port)", srv->listen);
    return TR_EINVAL;
  }
  int rc = tr_http_gateway_start(srv);
  if (rc < 0) return rc;
  if (tr_http_listen_open(srv, &ss) < 0) {
    tr_log(TR_LOG_ERROR, "http", "cannot listen on %s: %s", srv->listen, strerror(errno));
    return TR_EIO;
  }
  socklen_t sl = sizeof ss; /* the port, when 0 was asked */
  getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl);
  char host[64] = "?";
  int port;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(srv->address, sizeof srv->address, "[%s]:%d", host, port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(srv->address, sizeof srv->address, "%s:%d", host, port);
  }
  srv->started = 1;
  srv->waiting = 1;
  if (tr_loop_post(srv->sys, 0, loop_listen, srv) < 0) report(srv, TR_EIO);
  wait_loops(srv);
  if (srv->start_err) {
    tr_http_stop(srv, 0);
    return srv->start_err;
  }
  return 0;
}

const char *tr_http_address(const tr_http_server *srv) { return srv ? srv->address : ""; }

/* ------------------------------------------------------------ answers */

/* An answer, a WebSocket message or batch, or a close (last: the opcode or
 * the close code; body: the data or the reason), carried to the
 * connection's loop. */
enum { ANS_RESPOND, ANS_CHUNK, ANS_WS, ANS_WS_BATCH, ANS_WS_CLOSE, ANS_WRITTEN };
typedef struct answer {
  tr_http_server *srv;
  tr_http_rid rid;
  int kind, last;
  tr_http_response r;
  char *ctype, *headers, *overflow;
  uint32_t *lens;
  size_t len, n;
  uint8_t body[];
} answer;

static void answer_here(tr_http_server *srv, tr_http_rid rid, int kind,
                        const tr_http_response *r, int last) {
  uint32_t li = (uint32_t)(rid.conn >> 56);
  conn *c = tr_http_conn_find(&srv->loops[li], rid.conn);
  if (!c) return; /* gone: the answer has nobody to go to */
  switch (kind) {
  case ANS_RESPOND: tr_http_conn_respond(c, rid.seq, r); break;
  case ANS_CHUNK: tr_http_conn_chunk(c, rid.seq, r->body, r->body_len, last); break;
  case ANS_WS: tr_http_ws_send_here(c, last, r->body, r->body_len); break;
  case ANS_WS_CLOSE: tr_http_ws_close_here(c, last, r->body); break;
  case ANS_WRITTEN: {
    uint64_t token = 0;
    if (r->body_len == sizeof token) memcpy(&token, r->body, sizeof token);
    tr_http_conn_want_written(c, token);
    break;
  }
  default: break;
  }
}

static void loop_answer(void *loop, void *arg) {
  answer *a = arg;
  (void)loop;
  atomic_fetch_sub(&a->srv->loops[(uint32_t)(a->rid.conn >> 56)].pending, 1);
  a->r.body = a->body;
  a->r.content_type = a->ctype;
  a->r.headers = a->headers;
  a->r.overflow = a->overflow;
  if (a->kind == ANS_WS_BATCH) {
    uint32_t li = (uint32_t)(a->rid.conn >> 56);
    conn *c = tr_http_conn_find(&a->srv->loops[li], a->rid.conn);
    if (c) tr_http_ws_send_batch_here(c, a->body, a->lens, a->n);
  } else {
    answer_here(a->srv, a->rid, a->kind, &a->r, a->last);
  }
  free(a->ctype);
  free(a->headers);
  free(a->overflow);
  free(a->lens);
  free(a);
}

static int answer_post(tr_http_server *srv, tr_http_rid rid, int kind,
                       const tr_http_response *r, int last) {
  if (!srv || !r || (r->body_len && !r->body)) return TR_EINVAL;
  uint32_t li = (uint32_t)(rid.conn >> 56);
  if (li >= srv->nloops) return TR_EINVAL;
  if (kind == ANS_RESPOND && r->status != 101 && (r->status < 200 || r->status > 599))
    return TR_EINVAL;
  if (tr_loop_current(srv->sys) == (int)li && !atomic_load(&srv->loops[li].pending)) {
    /* on the connection's thread, and nothing posted earlier is waiting */
    answer_here(srv, rid, kind, r, last);
    return 0;
  }
  answer *a = malloc(sizeof *a + r->body_len + 1);
  if (!a) return TR_ENOMEM;
  a->lens = NULL;
  a->n = 0;
  a->body[r->body_len] = 0; /* a close's reason is read as a string */
  a->srv = srv;
  a->rid = rid;
  a->kind = kind;
  a->last = last;
  a->r = *r;
  a->len = r->body_len;
  if (r->body_len) memcpy(a->body, r->body, r->body_len);
  a->ctype = r->content_type ? strdup(r->content_type) : NULL;
  a->headers = r->headers ? strdup(r->headers) : NULL;
  a->overflow = NULL;
  if (r->overflow_len && (a->overflow = malloc(r->overflow_len)))
    memcpy(a->overflow, r->overflow, r->overflow_len);
  if (!a->overflow) a->r.overflow_len = 0;
  atomic_fetch_add(&srv->loops[li].pending, 1);
  int rc = tr_loop_post(srv->sys, li, loop_answer, a);
  if (rc < 0) {
    atomic_fetch_sub(&srv->loops[li].pending, 1);
    free(a->ctype);
    free(a->headers);
    free(a->overflow);
    free(a);
  }
  return rc;
}

int tr_http_ws_send(tr_http_server *srv, tr_http_rid rid, int opcode, const void *data,
                    size_t len) {
  if (opcode != TR_HTTP_WS_TEXT && opcode != TR_HTTP_WS_BINARY && opcode != TR_HTTP_WS_PING)
    return TR_EINVAL;
  if (opcode == TR_HTTP_WS_PING && len > 125) return TR_EINVAL;
  tr_http_response r = {.status = 200, .body = data, .body_len = len};
  return answer_post(srv, rid, ANS_WS, &r, opcode);
}

int tr_http_ws_close(tr_http_server *srv, tr_http_rid rid, int code, const char *reason) {
  if (code < 1000 || code > 4999) return TR_EINVAL;
  size_t n = reason ? strnlen(reason, 123) : 0;
  tr_http_response r = {.status = 200, .body = reason, .body_len = n};
  return answer_post(srv, rid, ANS_WS_CLOSE, &r, code);
}

/* Through the same path as the sends, so it is done after them. */
int tr_http_notify_written(tr_http_server *srv, tr_http_rid rid, uint64_t token) {
  tr_http_response r = {.status = 200, .body = &token, .body_len = sizeof token};
  return answer_post(srv, rid, ANS_WRITTEN, &r, 0);
}

/* Always posted (even from the connection's own thread): the batch is one
 * allocation either way, and a post keeps the caller's call short. */
int tr_http_ws_send_batch(tr_http_server *srv, tr_http_rid rid, const void *msgs,
                          const uint32_t *lens, size_t n) {
  if (!srv || (n && (!msgs || !lens))) return TR_EINVAL;
  uint32_t li = (uint32_t)(rid.conn >> 56);
  if (li >= srv->nloops) return TR_EINVAL;
  if (!n) return 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += lens[i];
  answer *a = calloc(1, sizeof *a + total);
  if (!a) return TR_ENOMEM;
  a->lens = malloc(n * sizeof *a->lens);
  if (!a->lens) {
    free(a);
    return TR_ENOMEM;
  }
  memcpy(a->lens, lens, n * sizeof *lens);
  memcpy(a->body, msgs, total);
  a->srv = srv, a->rid = rid, a->kind = ANS_WS_BATCH, a->n = n, a->len = total;
  atomic_fetch_add(&srv->loops[li].pending, 1);
  int rc = tr_loop_post(srv->sys, li, loop_answer, a);
  if (rc < 0) {
    atomic_fetch_sub(&srv->loops[li].pending, 1);
    free(a->lens);
    free(a);
  }
  return rc;
}

int tr_http_respond(tr_http_server *srv, tr_http_rid rid, const tr_http_response *r) {
  return answer_post(srv, rid, ANS_RESPOND, r, 0);
}

int tr_http_respond_chunk(tr_http_server *srv, tr_http_rid rid, const void *data, size_t len,
                          int last) {
  tr_http_response r = {.status = 200, .body = data, .body_len = len};
  return answer_post(srv, rid, ANS_CHUNK, &r, last);
}

int tr_http_respond_error(tr_http_server *srv, tr_http_rid rid, int status, const char *type,
                          const char *message) {
  char body[1024];
  size_t n = tr_http_error_json(body, sizeof body, type ? type : tr_http_error_type(status),
                                message);
  tr_http_response r = {.status = status, .content_type = "application/json", .body = body,
                        .body_len = n};
  return tr_http_respond(srv, rid, &r);
}

/* ------------------------------------------------------------ multicast */

/* The messages, shared by the parts of every loop (the last frees them). */
typedef struct mc_block {
  _Atomic uint32_t refs;
  size_t n;
  uint32_t *lens;
  size_t *starts;
  uint8_t *data;
} mc_block;

/* One loop's targets. */
typedef struct mc_part {
  tr_http_server *srv;
  uint32_t loop;
  mc_block *b;
  size_t nt;
  uint64_t *conns;
  uint32_t *off, *sel;
} mc_part;

static void mc_unref(mc_block *b) {
  if (atomic_fetch_sub(&b->refs, 1) != 1) return;
  free(b->lens), free(b->starts), free(b->data), free(b);
}

static void loop_multicast(void *loop, void *arg) {
  mc_part *p = arg;
  (void)loop;
  loop_state *ls = &p->srv->loops[p->loop];
  atomic_fetch_sub(&ls->pending, 1);
  for (size_t j = 0; j < p->nt; j++) {
    conn *c = tr_http_conn_find(ls, p->conns[j]);
    if (c) tr_http_ws_send_sel_here(c, p->b->data, p->b->lens, p->b->starts,
                                    p->sel + p->off[j], p->off[j + 1] - p->off[j]);
  }
  mc_unref(p->b);
  free(p->conns), free(p->off), free(p->sel), free(p);
}

int tr_http_ws_multicast(tr_http_server *srv, const void *msgs, const uint32_t *lens, size_t n,
                         const tr_http_rid *rids, const uint32_t *off, const uint32_t *sel,
                         size_t ntargets) {
  if (!srv || (n && (!msgs || !lens)) || (ntargets && (!rids || !off || !sel)))
    return TR_EINVAL;
  if (!n || !ntargets) return 0;
  for (size_t k = 0; k < off[ntargets]; k++)
    if (sel[k] >= n) return TR_EINVAL;
  mc_block *b = calloc(1, sizeof *b);
  size_t total = 0;
  if (!b) return TR_ENOMEM;
  b->n = n;
  b->lens = malloc(n * sizeof *b->lens);
  b->starts = malloc(n * sizeof *b->starts);
  for (size_t i = 0; b->starts && i < n; i++) b->starts[i] = total, total += lens[i];
  b->data = malloc(total ? total : 1);
  if (!b->lens || !b->starts || !b->data) {
    free(b->lens), free(b->starts), free(b->data), free(b);
    return TR_ENOMEM;
  }
  memcpy(b->lens, lens, n * sizeof *lens);
  memcpy(b->data, msgs, total);
  atomic_init(&b->refs, 1); /* ours, while the parts are made */
  int rc = 0;
  for (uint32_t li = 0; li < srv->nloops && !rc; li++) {
    size_t nt = 0, ns = 0;
    for (size_t j = 0; j < ntargets; j++)
      if ((uint32_t)(rids[j].conn >> 56) == li) nt++, ns += off[j + 1] - off[j];
    if (!nt) continue;
    mc_part *p = calloc(1, sizeof *p);
    if (p) {
      p->conns = malloc(nt * sizeof *p->conns);
      p->off = malloc((nt + 1) * sizeof *p->off);
      p->sel = malloc((ns ? ns : 1) * sizeof *p->sel);
    }
    if (!p || !p->conns || !p->off || !p->sel) {
      if (p) free(p->conns), free(p->off), free(p->sel), free(p);
      rc = TR_ENOMEM;
      break;
    }
    p->srv = srv, p->loop = li, p->b = b, p->nt = nt;
    size_t k = 0, at = 0;
    for (size_t j = 0; j < ntargets; j++) {
      if ((uint32_t)(rids[j].conn >> 56) != li) continue;
      p->conns[k] = rids[j].conn;
      p->off[k++] = (uint32_t)at;
      memcpy(p->sel + at, sel + off[j], (off[j + 1] - off[j]) * sizeof *sel);
      at += off[j + 1] - off[j];
    }
    p->off[k] = (uint32_t)at;
    atomic_fetch_add(&b->refs, 1);
    atomic_fetch_add(&srv->loops[li].pending, 1);
    if ((rc = tr_loop_post(srv->sys, li, loop_multicast, p)) < 0) {
      atomic_fetch_sub(&srv->loops[li].pending, 1);
      atomic_fetch_sub(&b->refs, 1);
      free(p->conns), free(p->off), free(p->sel), free(p);
    }
  }
  mc_unref(b);
  return rc;
}

/* ------------------------------------------------------------ drain */

void tr_http_loop_check_drained(loop_state *ls) {
  if (!ls->draining || ls->reported || ls->open) return;
  if (ls->index == 0 && ls->srv->acc_open) return;
  ls->reported = 1;
  report(ls->srv, 0);
}

static void loop_drain(void *loop, void *arg) {
  loop_state *ls = arg;
  ls->loop = loop;
  ls->draining = 1;
  if (ls->index == 0) tr_http_acceptor_stop(ls->srv);
  for (uint32_t i = 0; i < ls->nslots; i++)
    if (ls->slots[i]) tr_http_conn_drain(ls->slots[i]);
  tr_http_loop_check_drained(ls);
}

int tr_http_stop(tr_http_server *srv, uint32_t deadline_ms) {
  if (!srv) return TR_EINVAL;
  if (!srv->started || srv->stopped) return 0;
  srv->stopped = 1;
  /* the loops' clock (uv_now) is uv_hrtime in ms, cached per loop pass */
  srv->drain_at = uv_hrtime() / 1000000 + deadline_ms;
  pthread_mutex_lock(&srv->mu);
  srv->waiting = srv->nloops;
  pthread_mutex_unlock(&srv->mu);
  atomic_store(&srv->draining, 1);
  for (uint32_t i = 0; i < srv->nloops; i++)
    if (tr_loop_post(srv->sys, i, loop_drain, &srv->loops[i]) < 0) report(srv, 0);
  wait_loops(srv);
  if (!tr_ref_is_none(srv->gateway)) tr_system_stop(srv->sys, srv->gateway);
  return 0;
}

/* secrets do not outlive the server in freed memory */
static void wipe_free(char *s) {
  if (!s) return;
  sodium_memzero(s, strlen(s));
  free(s);
}

void tr_http_free(tr_http_server *srv) {
  if (!srv) return;
  tr_http_stop(srv, 0);
  if (srv->listen_fd >= 0) close(srv->listen_fd); /* bound, never watched */
  for (uint32_t i = 0; srv->loops && i < srv->nloops; i++) {
    free(srv->loops[i].slots);
    free(srv->loops[i].gens);
  }
  for (uint32_t i = 0; i < srv->nroutes; i++) {
    free(srv->routes[i].method);
    free(srv->routes[i].prefix);
  }
  free(srv->loops);
  free(srv->listen);
  wipe_free(srv->bearer);
  wipe_free(srv->basic);
  free(srv->realm);
  pthread_mutex_destroy(&srv->mu);
  pthread_cond_destroy(&srv->cv);
  free(srv);
}

void tr_http_stats_get(tr_http_server *srv, tr_http_stats *out) {
  memset(out, 0, sizeof *out);
  if (!srv) return;
  out->accepted = atomic_load(&srv->accepted);
  out->requests = atomic_load(&srv->requests);
  out->errors_4xx = atomic_load(&srv->errors_4xx);
  out->rejected_conns = atomic_load(&srv->rejected);
  out->open_conns = atomic_load(&srv->open_conns);
}
