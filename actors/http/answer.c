/* answer.c - a handler's answer to one exchange of a connection: the head
 * and body, the chunks of a stream (and the cut of a stream whose reader
 * is too slow), a WebSocket's 101, and the error answer in Camunda's
 * shape. Bytes go out when the exchange reaches the head of its
 * connection's pipeline (conn.c). Runs on the connection's loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/http/internal.h"

/* The 101 that accepts a WebSocket handshake: the server's own headers
 * (the accept key is computed at dispatch) and the handler's extras. */
static int switch_write(conn *c, exchange *ex, const tr_http_response *r) {
  if (!ex->ws_ok || tr_http_conn_draining(c)) return TR_EINVAL;
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                   ex->ws_accept, r->headers ? r->headers : "");
  if (n < 0 || (size_t)n >= sizeof head) return TR_EINVAL;
  if (tr_http_ex_append(ex, head, (size_t)n) < 0) return TR_ENOMEM;
  ex->ws_switch = 1;
  ex->close = 0;
  ex->state = EX_DONE;
  return 0;
}

void tr_http_conn_respond(conn *c, uint64_t seq, const tr_http_response *r) {
  exchange *ex = tr_http_ex_find(c, seq);
  if (!ex || ex->state != EX_WAIT) return; /* answered already, or timed out */
  if (r->status == 101) {
    int rc = switch_write(c, ex, r);
    if (rc == TR_EINVAL) {
      tr_http_conn_error(c, seq, 500, tr_http_error_type(500),
                         "a 101 answer to a request that is not a WebSocket handshake");
      return;
    }
    if (rc < 0) {
      tr_http_conn_close(c);
      return;
    }
    if (ex == c->head) tr_http_conn_flush(c);
    if (!c->closing) tr_http_conn_arm(c);
    return;
  }
  if (tr_http_head_write(ex, r, tr_http_conn_draining(c)) < 0) {
    tr_http_conn_close(c);
    return;
  }
  if (r->stream && r->overflow_len) {
    ex->overflow = malloc(r->overflow_len);
    if (ex->overflow) memcpy(ex->overflow, r->overflow, r->overflow_len);
    ex->overflow_len = ex->overflow ? r->overflow_len : 0;
  }
  if (r->stream && ex->has_actor && !ex->head)
    c->watched = 1, c->watch = ex->actor, c->watch_seq = ex->seq;
  ex->state = r->stream ? EX_STREAM : EX_DONE;
  if (ex->head && r->stream) ex->state = EX_DONE; /* HEAD: no body to stream */
  if (ex == c->head) tr_http_conn_flush(c);
  if (!c->closing) tr_http_conn_arm(c);
}

/* Cuts a stream whose reader is too slow: what waits in the exchange is
 * dropped (whole chunks only: out never holds a part of one), the
 * overflow goes last, and the connection closes; if even that cannot be
 * written in time the timer closes it hard. */
static void stream_cut(conn *c, exchange *ex) {
  free(ex->out);
  ex->out = NULL;
  ex->out_len = ex->out_cap = 0;
  int rc = 0;
  if (ex->overflow_len && ex->chunked) {
    char sz[24];
    int k = snprintf(sz, sizeof sz, "%zx\r\n", ex->overflow_len);
    rc = tr_http_ex_append(ex, sz, (size_t)k);
    if (!rc) rc = tr_http_ex_append(ex, ex->overflow, ex->overflow_len);
    if (!rc) rc = tr_http_ex_append(ex, "\r\n", 2);
  } else if (ex->overflow_len) {
    rc = tr_http_ex_append(ex, ex->overflow, ex->overflow_len);
  }
  if (!rc && ex->chunked) rc = tr_http_ex_append(ex, "0\r\n\r\n", 5);
  if (rc < 0) {
    tr_http_conn_close(c);
    return;
  }
  ex->state = EX_DONE;
  ex->close = 1;
  c->ws_close_at = tr_http_now(c->ls) + c->ls->srv->lim.ws_close_timeout_ms;
  if (ex == c->head) tr_http_conn_flush(c);
  if (!c->closing) tr_http_conn_arm(c);
}

void tr_http_conn_chunk(conn *c, uint64_t seq, const void *data, size_t len, int last) {
  exchange *ex = tr_http_ex_find(c, seq);
  if (!ex || ex->state != EX_STREAM) return;
  size_t waiting = ex->out_len + (ex == c->head ? c->tcp.write_queue_size : 0);
  if (len && waiting + len > c->ls->srv->lim.max_stream_buffer) {
    stream_cut(c, ex);
    return;
  }
  int rc = 0;
  if (len && ex->chunked) {
    char sz[24];
    int k = snprintf(sz, sizeof sz, "%zx\r\n", len);
    rc = tr_http_ex_append(ex, sz, (size_t)k);
    if (!rc) rc = tr_http_ex_append(ex, data, len);
    if (!rc) rc = tr_http_ex_append(ex, "\r\n", 2);
  } else if (len) {
    rc = tr_http_ex_append(ex, data, len);
  }
  if (!rc && last && ex->chunked) rc = tr_http_ex_append(ex, "0\r\n\r\n", 5);
  if (rc < 0) {
    tr_http_conn_close(c);
    return;
  }
  if (last) ex->state = EX_DONE;
  if (ex == c->head) tr_http_conn_flush(c);
  if (!c->closing) tr_http_conn_arm(c);
}

void tr_http_conn_error(conn *c, uint64_t seq, int status, const char *type, const char *msg) {
  char body[512];
  size_t n = tr_http_error_json(body, sizeof body, type, msg);
  tr_http_response r = {.status = status, .content_type = "application/json", .body = body,
                        .body_len = n};
  tr_http_conn_respond(c, seq, &r);
}
