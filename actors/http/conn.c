/* conn.c - one HTTP connection on its scheduler's loop.
 *
 * Bytes are read into c->in and parsed one request at a time; each request
 * becomes an exchange at the tail of the connection's queue and goes to
 * its handler. Answers (answer.c) may arrive in any order, but bytes go
 * out only for the exchange at the head, so pipelined requests are
 * answered in order.
 * Reading pauses while max_pipeline exchanges wait, and stops for good
 * after an error, a Connection: close, or a drain.
 *
 * One timer per connection serves every deadline: the header and body
 * read timeouts of the request being read, the idle timeout of a
 * keep-alive connection, the handlers' deadlines, the drain's end and the
 * linger after our FIN. It is re-armed for the earliest after each event.
 *
 * Nothing is freed synchronously: a handler may answer from inside the
 * dispatch that called it, so closing only starts uv_close and the memory
 * goes in the close callbacks.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/http/internal.h"

/* Whether answers should close: the server-wide flag is set before each
 * loop hears of the drain (tr_http_stop posts to every loop), and an answer
 * written in between on another loop must already say Connection: close. */
int tr_http_conn_draining(const conn *c) {
  return c->ls->draining || atomic_load_explicit(&c->ls->srv->draining, memory_order_relaxed);
}

static void conn_process(conn *c);
static void conn_arm(conn *c);

uint64_t tr_http_now(const loop_state *ls) { return uv_now(ls->loop); }

uint64_t tr_http_conn_key(const conn *c) {
  return (uint64_t)c->ls->index << 56 | (uint64_t)c->slot << 32 | c->gen;
}

conn *tr_http_conn_find(loop_state *ls, uint64_t key) {
  uint32_t slot = (uint32_t)(key >> 32) & 0xFFFFFF, gen = (uint32_t)key;
  if ((key >> 56) != ls->index || slot >= ls->nslots) return NULL;
  conn *c = ls->slots[slot];
  return c && c->gen == gen && !c->closing ? c : NULL;
}

/* ------------------------------------------------------------ closing */

static void ex_free(exchange *ex) {
  free(ex->out);
  free(ex->overflow);
  free(ex);
}

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles > 0) return;
  loop_state *ls = c->ls;
  tr_http_conn_notify(c, TR_HTTP_EV_CLOSED, NULL, 0, tr_http_ws_code(c));
  for (exchange *ex = c->head; ex; ex = ex->next) /* requests that lost their client */
    if (ex->notify_close && !(c->watched && c->watch_seq == ex->seq)) {
      c->watched = 1, c->watch = ex->actor, c->watch_seq = ex->seq;
      tr_http_conn_notify(c, TR_HTTP_EV_CLOSED, NULL, 0, 1006);
    }
  tr_http_ws_free(c);
  for (exchange *ex = c->head, *next; ex; ex = next) {
    next = ex->next;
    ex_free(ex);
  }
  tr_http_parser_free(&c->hp);
  free(c->in);
  ls->slots[c->slot] = NULL;
  ls->open--;
  atomic_fetch_sub(&ls->srv->open_conns, 1);
  free(c);
  tr_http_loop_check_drained(ls);
}

void tr_http_conn_close(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  c->reading = 0;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
  uv_close((uv_handle_t *)&c->timer, on_closed);
}

/* ------------------------------------------------------------ writing */

typedef struct {
  uv_write_t req;
  conn *c;
  char *buf;
  size_t cap; /* > 0: a WebSocket's output buffer, handed back to be reused */
} write_req;

/* Nothing in flight and nothing waiting for a write: all that was sent is
 * with the socket. */
static int conn_all_written(const conn *c) {
  if (c->writes) return 0;
  if (c->ws) return tr_http_ws_waiting(c) == 0;
  for (const exchange *ex = c->head; ex; ex = ex->next)
    if (ex->out_len) return 0;
  return 1;
}

void tr_http_conn_want_written(conn *c, uint64_t token) {
  c->want_written = 1;
  c->written_token = token; /* a later request stands for the earlier ones */
  if (!conn_all_written(c)) return; /* on_written tells, after the last write */
  c->want_written = 0;
  tr_http_conn_notify(c, TR_HTTP_EV_WRITTEN, &c->written_token, sizeof c->written_token, 0);
}

static void on_written(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  conn *c = w->c;
  if (w->cap && c->ws && !c->closing) tr_http_ws_recycle(c, w->buf, w->cap);
  else free(w->buf);
  free(w);
  c->writes--;
  if (status < 0) {
    tr_http_conn_close(c);
    return;
  }
  if (c->closing) return;
  if (c->ws) tr_http_ws_flush(c);
  else tr_http_conn_flush(c);
  if (c->want_written && !c->closing) tr_http_conn_want_written(c, c->written_token);
}

static void conn_write(conn *c, char *buf, size_t len) { tr_http_conn_write(c, buf, len, 0); }

void tr_http_conn_write(conn *c, char *buf, size_t len, size_t cap) {
  write_req *w = malloc(sizeof *w);
  if (!w) {
    free(buf);
    tr_http_conn_close(c);
    return;
  }
  w->c = c;
  w->buf = buf;
  w->cap = cap;
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
    free(buf);
    free(w);
    tr_http_conn_close(c);
    return;
  }
  c->writes++;
}

/* ------------------------------------------------------------ reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  (void)suggested;
  if (c->lingering) { /* only draining the socket: any scratch will do */
    static _Thread_local char scratch[4096];
    *buf = uv_buf_init(scratch, sizeof scratch);
    return;
  }
  if (c->in_cap - c->in_len < 4096) {
    size_t cap = c->in_len + (16u << 10);
    char *in = realloc(c->in, cap);
    if (!in) {
      *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
      return;
    }
    c->in = in;
    c->in_cap = cap;
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  (void)buf;
  if (c->closing) return;
  if (c->lingering) {
    if (n < 0) tr_http_conn_close(c);
    return;
  }
  if (n > 0) {
    c->in_len += (size_t)n;
    c->last_active = tr_http_now(c->ls);
    if (c->ws) tr_http_ws_read(c);
    else conn_process(c);
    return;
  }
  if (n == 0) return;
  if (c->ws) { /* the client went without a close frame (1006) */
    tr_http_conn_close(c);
    return;
  }
  if (n != UV_EOF) { /* reset, or out of buffers */
    tr_http_conn_close(c);
    return;
  }
  /* the client is done sending (it may still read): answer what is
   * queued, let the writes finish, then close; a request cut off in the
   * middle has no one left to answer */
  uv_read_stop(s);
  c->reading = 0;
  if (c->progress) {
    tr_http_conn_close(c);
    return;
  }
  c->close_after = 1;
  c->in_len = 0;
  tr_http_conn_flush(c);
}

/* Reads while the pipeline has room and the connection takes requests. */
static void conn_update_reading(conn *c) {
  int want = !c->closing && !c->close_after && !c->shutting && !c->upgrading &&
             c->nq < c->ls->srv->lim.max_pipeline;
  if (c->ws) want = !c->closing;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

/* ------------------------------------------------------------ exchanges */

static exchange *ex_push(conn *c, const tr_http_request *req) {
  exchange *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->seq = c->next_seq++;
  ex->deadline = tr_http_now(c->ls) + c->ls->srv->lim.handler_timeout_ms;
  if (req) {
    ex->keep_alive = req->keep_alive;
    ex->head = !strcmp(req->method, "HEAD");
    ex->http10 = req->version_minor == 0;
  } else {
    ex->http10 = c->hp.p.http_minor == 0 && c->hp.p.http_major == 1;
  }
  if (c->tail)
    c->tail->next = ex;
  else
    c->head = ex;
  c->tail = ex;
  c->nq++;
  return ex;
}

exchange *tr_http_ex_find(conn *c, uint64_t seq) {
  for (exchange *ex = c->head; ex; ex = ex->next)
    if (ex->seq == seq) return ex;
  return NULL;
}

/* Writes what the head exchanges have ready; pops finished ones; closes
 * once the last answer before a close is out. */
void tr_http_conn_flush(conn *c) {
  if (c->closing) return;
  while (c->head) {
    exchange *ex = c->head;
    if (ex->out_len) {
      char *buf = ex->out;
      size_t len = ex->out_len;
      ex->out = NULL;
      ex->out_len = ex->out_cap = 0;
      conn_write(c, buf, len);
      if (c->closing) return;
    }
    if (ex->state != EX_DONE) break;
    c->head = ex->next;
    if (!c->head) c->tail = NULL;
    c->nq--;
    if (ex->ws_switch) { /* the 101 is on its way: frames from here */
      c->watched = ex->has_actor, c->watch = ex->actor, c->watch_seq = ex->seq;
      ex_free(ex);
      c->upgrading = 0;
      if (tr_http_ws_start(c) < 0) {
        tr_http_conn_close(c);
        return;
      }
      conn_update_reading(c);
      tr_http_ws_read(c); /* what came after the handshake */
      conn_arm(c);
      return;
    }
    int last = ex->close;
    ex_free(ex);
    if (!c->head) c->last_active = tr_http_now(c->ls); /* idle from here */
    if (last) {
      /* nothing is read after a close, so nothing should follow it */
      c->close_after = 1;
      for (exchange *e = c->head, *next; e; e = next) {
        next = e->next;
        ex_free(e);
      }
      c->head = c->tail = NULL;
      c->nq = 0;
    }
  }
  if (c->close_after && !c->head) {
    if (c->reading) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
    }
    if (!c->shutting) {
      /* FIN after the queued writes, then read and drop whatever the
       * client still sends for a while: closing with unread data would
       * reset the connection and could destroy our answer in flight */
      c->shutting = 1;
      c->shut.data = c;
      if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, NULL) < 0) {
        tr_http_conn_close(c);
        return;
      }
      c->lingering = 1;
      c->last_active = tr_http_now(c->ls);
      if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        tr_http_conn_close(c);
        return;
      }
    }
    conn_arm(c);
    return;
  }
  if (c->in_process) return; /* conn_process goes on from here */
  if (c->in_len && !c->close_after && c->nq < c->ls->srv->lim.max_pipeline) {
    conn_process(c); /* requests read ahead now have room */
    return;
  }
  conn_update_reading(c);
  conn_arm(c);
}

/* Queues an error answer for a request that is not dispatched (malformed,
 * over a limit, timed out while being read): always the last on this
 * connection. */
static void conn_fail(conn *c, int status, const char *message) {
  exchange *ex = ex_push(c, NULL);
  if (!ex) {
    tr_http_conn_close(c);
    return;
  }
  ex->close = 1;
  c->close_after = 1;
  atomic_fetch_add(&c->ls->srv->errors_4xx, status < 500);
  tr_http_conn_error(c, ex->seq, status, tr_http_error_type(status), message);
}

static void dispatch(conn *c, const tr_http_request *req) {
  tr_http_server *srv = c->ls->srv;
  atomic_fetch_add(&srv->requests, 1);
  exchange *ex = ex_push(c, req);
  if (!ex) {
    tr_http_conn_close(c);
    return;
  }
  int wrong_method = 0;
  const route *rt = tr_http_route_match(srv, req, &wrong_method);
  const char *why = NULL;
  int ws = rt && (rt->flags & TR_HTTP_ROUTE_UPGRADE) && !tr_http_conn_draining(c) &&
           tr_http_ws_check(req, ex->ws_accept, &why) == 0;
  /* no more requests after this one: the client asked, an upgrade we do
   * not speak would follow, or the server is draining; a WebSocket
   * handshake stops the parser instead, keeping what follows for wslay */
  if (ws) {
    ex->ws_ok = 1;
    ex->close = 1; /* unless the answer is a 101 */
    c->upgrading = 1;
  } else if (!req->keep_alive || req->upgrade || tr_http_conn_draining(c) || why) {
    ex->close = 1;
    c->close_after = 1;
  }
  /* with auth on, only a public route answers a stranger: a 404 or 405
   * would tell which paths exist */
  char challenge[256];
  if ((!rt || !(rt->flags & TR_HTTP_ROUTE_PUBLIC)) &&
      !(rt && (rt->flags & TR_HTTP_ROUTE_QUERY_TOKEN) && tr_http_auth_query(srv, req) == 0) &&
      tr_http_auth_check(srv, req, challenge, sizeof challenge) < 0) {
    atomic_fetch_add(&srv->errors_4xx, 1);
    char hdr[300], body[160];
    snprintf(hdr, sizeof hdr, "WWW-Authenticate: %s\r\n", challenge);
    size_t n = tr_http_error_json(body, sizeof body, tr_http_error_type(401),
                                  "authentication required");
    tr_http_response r = {.status = 401, .content_type = "application/json", .headers = hdr,
                          .body = body, .body_len = n};
    tr_http_conn_respond(c, ex->seq, &r);
    return;
  }
  if (!rt) {
    atomic_fetch_add(&srv->errors_4xx, 1);
    if (wrong_method)
      tr_http_conn_error(c, ex->seq, 405, tr_http_error_type(405),
                         "the method is not allowed on this path");
    else
      tr_http_conn_error(c, ex->seq, 404, tr_http_error_type(404), "no such path");
    return;
  }
  if (why) { /* an upgrade route, and not a WebSocket handshake we take */
    atomic_fetch_add(&srv->errors_4xx, 1);
    tr_http_conn_error(c, ex->seq, 400, tr_http_error_type(400), why);
    return;
  }
  tr_http_rid rid = {tr_http_conn_key(c), ex->seq};
  if (!rt->fn) {
    ex->has_actor = 1, ex->actor = rt->actor;
    ex->notify_close = (rt->flags & TR_HTTP_ROUTE_NOTIFY_CLOSE) != 0;
  }
  if (rt->fn) {
    rt->fn(srv, rid, req, rt->arg);
  } else if (tr_http_dispatch_actor(srv, rt, rid, req) < 0) {
    tr_http_conn_error(c, ex->seq, 503, tr_http_error_type(503),
                       "the handler of this path is not running");
  }
}

/* Parses and dispatches what was read, as far as the pipeline allows,
 * writing answers as they become ready. */
static void conn_process(conn *c) {
  if (c->in_process || c->closing) return;
  uint32_t max = c->ls->srv->lim.max_pipeline;
  c->in_process = 1;
  for (;;) {
    size_t off = 0;
    while (!c->closing && !c->close_after && !c->upgrading && c->nq < max && off < c->in_len) {
      size_t used = 0;
      int before = tr_http_parser_progress(&c->hp);
      int ev = tr_http_parser_feed(&c->hp, c->in + off, c->in_len - off, &used);
      off += used;
      int now = tr_http_parser_progress(&c->hp);
      uint64_t t = tr_http_now(c->ls);
      if (!before && now) c->req_start = t;
      if (before < 2 && now == 2) c->body_start = t;
      if (ev == TR_HTTP_EV_MORE) break;
      if (ev == TR_HTTP_EV_ERROR) {
        conn_fail(c, c->hp.status, c->hp.error);
        break;
      }
      c->continue_sent = 0;
      dispatch(c, &c->hp.req);
      tr_http_parser_next(&c->hp);
    }
    if (c->closing) break;
    /* keep what was not parsed for later (pipeline full) */
    if (off) {
      memmove(c->in, c->in + off, c->in_len - off);
      c->in_len -= off;
    }
    if (c->close_after) c->in_len = 0;
    tr_http_conn_flush(c); /* in_process: it does not call back here */
    if (c->closing || !c->in_len || c->close_after || c->upgrading || c->nq >= max) break;
  }
  c->in_process = 0;
  if (c->closing) return;
  c->progress = tr_http_parser_progress(&c->hp);
  /* 100 Continue for the request being read, once every earlier answer
   * is out (it must not overtake them) */
  if (!c->close_after && c->progress == 2 && c->hp.expect_continue && !c->continue_sent &&
      !c->head) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *b = malloc(sizeof cont - 1);
    if (b) {
      memcpy(b, cont, sizeof cont - 1);
      c->continue_sent = 1;
      conn_write(c, b, sizeof cont - 1);
    }
  }
  if (c->closing) return;
  conn_update_reading(c);
  conn_arm(c);
}

/* ------------------------------------------------------------ deadlines */

/* A connection that never sent a request gets the header timeout, not the
 * (longer) keep-alive one: an open socket that says nothing is the cheapest
 * way to hold a server's connections. */
static uint64_t idle_ms(const conn *c) {
  const tr_http_limits *l = &c->ls->srv->lim;
  return c->next_seq ? l->idle_timeout_ms : l->header_timeout_ms;
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->closing) return;
  tr_http_server *srv = c->ls->srv;
  uint64_t now = tr_http_now(c->ls);
  if ((c->ws_close_at && now >= c->ws_close_at) ||
      (c->ws && c->ls->draining && now >= srv->drain_at)) {
    tr_http_conn_close(c); /* our close went unanswered, or a cut reader never read */
    return;
  }
  if (c->ws) {
    conn_arm(c);
    return;
  }
  if (c->lingering) {
    if (now >= c->last_active + TR_HTTP_LINGER_MS) tr_http_conn_close(c);
    else conn_arm(c);
    return;
  }
  if (c->ls->draining && now >= srv->drain_at) {
    tr_http_conn_close(c);
    return;
  }
  /* one at a time: an answer may pop exchanges off the queue */
  for (;;) {
    exchange *late = NULL;
    for (exchange *ex = c->head; ex && !late; ex = ex->next)
      if (ex->state == EX_WAIT && now >= ex->deadline) late = ex;
    if (!late) break;
    tr_http_conn_error(c, late->seq, 504, tr_http_error_type(504),
                       "the handler did not answer in time");
    if (c->closing) return;
  }
  if (c->closing) return;
  if (c->reading && !c->close_after) {
    if (c->progress == 1 && now >= c->req_start + srv->lim.header_timeout_ms) {
      conn_fail(c, 408, "the request headers did not arrive in time");
    } else if (c->progress == 2 && now >= c->body_start + srv->lim.body_timeout_ms) {
      conn_fail(c, 408, "the request body did not arrive in time");
    } else if (!c->progress && !c->nq && now >= c->last_active + idle_ms(c)) {
      tr_http_conn_close(c); /* idle: nothing to say, nobody to say it to */
      return;
    }
    if (c->close_after) tr_http_conn_flush(c);
  }
  if (!c->closing) conn_arm(c);
}

void tr_http_conn_arm(conn *c) { conn_arm(c); }

static void conn_arm(conn *c) {
  if (c->closing) return;
  tr_http_server *srv = c->ls->srv;
  uint64_t when = c->ws_close_at ? c->ws_close_at : UINT64_MAX;
  if (c->ws) {
    if (c->ls->draining && srv->drain_at < when) when = srv->drain_at;
  } else if (c->lingering) {
    when = c->last_active + TR_HTTP_LINGER_MS;
  } else {
    for (exchange *ex = c->head; ex; ex = ex->next)
      if (ex->state == EX_WAIT && ex->deadline < when) when = ex->deadline;
    if (c->reading && !c->close_after) {
      uint64_t r = c->progress == 1   ? c->req_start + srv->lim.header_timeout_ms
                   : c->progress == 2 ? c->body_start + srv->lim.body_timeout_ms
                   : !c->nq           ? c->last_active + idle_ms(c)
                                      : UINT64_MAX;
      if (r < when) when = r;
    }
    if (c->ls->draining && srv->drain_at < when) when = srv->drain_at;
    if (c->ws_close_at && c->ws_close_at < when) when = c->ws_close_at;
  }
  if (when == UINT64_MAX) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = tr_http_now(c->ls);
  uv_timer_start(&c->timer, on_timer, when > now ? when - now : 0, 0);
}

/* ------------------------------------------------------------ accepting */

static int slot_take(loop_state *ls, uint32_t *slot) {
  for (uint32_t i = 0; i < ls->nslots; i++)
    if (!ls->slots[i]) return *slot = i, 0;
  uint32_t n = ls->nslots ? ls->nslots * 2 : 64;
  if (n > ls->srv->lim.max_conns) n = ls->srv->lim.max_conns;
  if (n <= ls->nslots) return TR_EFULL;
  conn **s = realloc(ls->slots, n * sizeof *s);
  if (!s) return TR_ENOMEM;
  ls->slots = s;
  uint32_t *g = realloc(ls->gens, n * sizeof *g);
  if (!g) return TR_ENOMEM;
  ls->gens = g;
  for (uint32_t i = ls->nslots; i < n; i++) s[i] = NULL, g[i] = 0;
  *slot = ls->nslots;
  ls->nslots = n;
  return 0;
}

/* Over max_conns, or draining: a short 503 and close, without a
 * connection object (a best-effort write to a fresh socket). */
static void refuse(loop_state *ls, int fd) {
  static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: 84\r\nConnection: close\r\n\r\n"
      "{\"type\":\"ServiceUnavailableException\",\"message\":\"too many connections, retry later\"}";
  ssize_t k = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)k;
  close(fd);
  atomic_fetch_add(&ls->srv->rejected, 1);
}

void tr_http_conn_accept(loop_state *ls, int fd) {
  uint32_t slot;
  if (ls->draining || slot_take(ls, &slot) < 0) {
    refuse(ls, fd);
    return;
  }
  conn *c = calloc(1, sizeof *c);
  if (!c) {
    refuse(ls, fd);
    return;
  }
  c->ls = ls;
  c->slot = slot;
  c->gen = ++ls->gens[slot];
  uv_tcp_init(ls->loop, &c->tcp);
  uv_timer_init(ls->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  ls->slots[slot] = c;
  ls->open++;
  atomic_fetch_add(&ls->srv->open_conns, 1);
  tr_http_parser_init(&c->hp, &ls->srv->lim);
  if (uv_tcp_open(&c->tcp, fd) < 0) {
    close(fd);
    tr_http_conn_close(c);
    return;
  }
  atomic_fetch_add(&ls->srv->accepted, 1);
  uv_tcp_nodelay(&c->tcp, 1);
  c->last_active = tr_http_now(ls);
  conn_update_reading(c);
  conn_arm(c);
}

/* Drain: an idle connection closes now; one with a request on the way
 * finishes it (its answer says Connection: close), and one still writing
 * an answer finishes writing it, within the deadline. */
void tr_http_conn_drain(conn *c) {
  if (c->closing) return;
  if (c->ws) {
    tr_http_ws_drain(c);
    return;
  }
  if (!c->nq && !c->progress && !c->lingering && !c->writes) {
    tr_http_conn_close(c);
    return;
  }
  if (!c->progress) {
    c->close_after = 1; /* nothing is being read: take no new request */
    tr_http_conn_flush(c);
  }
  if (!c->closing) conn_arm(c);
}

void tr_http_conn_notify(conn *c, int kind, const void *data, size_t len, int code) {
  if (!c->watched) return;
  tr_pack pk = TR_PACK_INIT;
  tr_http_rid rid = {tr_http_conn_key(c), c->watch_seq};
  if (tr_http_event_encode(&pk, rid, kind, data, len, code) == 0)
    tr_system_send(c->ls->srv->sys, c->watch, TR_HTTP_MSG_EVENT, pk.data, pk.len);
  tr_pack_free(&pk);
}
