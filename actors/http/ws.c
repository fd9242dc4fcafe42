/* ws.c - a connection after its 101: RFC 6455 frames through wslay's
 * event API, on the connection's loop.
 *
 * wslay pulls bytes through recv_cb (from c->in, where conn.c reads them)
 * and pushes frames through send_cb (into c->ws->out, which goes out as
 * one uv_write). It answers pings, reassembles fragments, refuses unmasked
 * client frames (1002) and messages over ws_max_message (1009), and
 * echoes the client's close. Only one write is in flight at a time; what
 * waits meanwhile is counted against max_stream_buffer.
 *
 * Our own messages do not go through wslay's queue when it is empty: a
 * server frame is not masked, so the frame is just a header and the bytes,
 * appended to the next write. wslay would copy every message into a
 * malloc'd queue entry first, and at thousands of subscribers that copy
 * and that malloc were a third of the notifier's time. While wslay has
 * anything queued (a pong, a close) messages queue behind it there, so
 * the order of everything sent stays the order of the calls.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>
#include <wslay/wslay.h>

#include "actors/http/internal.h"
#include "actors/http/sha1.h"
#include "codec/utf8.h"

#define WS_WRITE_MAX (256u << 10) /* bytes per uv_write */
#define WS_SPARE_MAX (512u << 10) /* the largest output buffer kept for reuse */

struct ws_state {
  wslay_event_context_ptr ctx;
  char *out;             /* frames waiting for the next write */
  size_t out_len, out_cap;
  /* the last written buffer, kept for the next one: a subscriber written
   * to every few ms would otherwise cost a fresh 64 KiB (and its page
   * faults) per write */
  char *spare;
  size_t spare_cap;
  int spare_used;        /* since the last ping: an idle connection gives it back */
  uint16_t code;         /* the close code to report */
  int cut;               /* closing: no more messages accepted */
  int finishing;         /* both closes done: TCP close once writes are out */
};

/* ------------------------------------------------------------ handshake */

/* Whether a comma-separated header value holds token (case-insensitive). */
static int has_token(const char *v, size_t len, const char *token) {
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < len && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e - s == tl && !strncasecmp(v + s, token, tl)) return 1;
  }
  return 0;
}

int tr_http_ws_check(const tr_http_request *req, char accept[29], const char **why) {
  size_t n = 0;
  const char *v;
  if (strcmp(req->method, "GET")) return *why = "a WebSocket handshake must be a GET", TR_EINVAL;
  if (req->version_minor < 1) return *why = "a WebSocket handshake needs HTTP/1.1", TR_EINVAL;
  v = tr_http_request_header(req, "upgrade", &n);
  if (!v || !has_token(v, n, "websocket"))
    return *why = "this path speaks WebSocket only: Upgrade: websocket is missing", TR_EINVAL;
  v = tr_http_request_header(req, "connection", &n);
  if (!v || !has_token(v, n, "upgrade"))
    return *why = "a WebSocket handshake needs Connection: Upgrade", TR_EINVAL;
  v = tr_http_request_header(req, "sec-websocket-version", &n);
  if (!v || n != 2 || memcmp(v, "13", 2))
    return *why = "Sec-WebSocket-Version must be 13", TR_EINVAL;
  v = tr_http_request_header(req, "sec-websocket-key", &n);
  unsigned char raw[32];
  size_t rawlen = 0;
  if (!v || n != 24 ||
      sodium_base642bin(raw, sizeof raw, v, n, NULL, &rawlen, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 || rawlen != 16)
    return *why = "Sec-WebSocket-Key must be 16 bytes in base64", TR_EINVAL;
  tr_ws_accept_key(v, n, accept);
  return 0;
}

/* ------------------------------------------------------------ wslay I/O */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user) {
  conn *c = user;
  (void)flags;
  if (!c->in_len) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t k = len < c->in_len ? len : c->in_len;
  memcpy(buf, c->in, k);
  memmove(c->in, c->in + k, c->in_len - k);
  c->in_len -= k;
  return (ssize_t)k;
}

/* Room for len more bytes in w->out; the first allocation after a write
 * took the buffer is a generous one, so that a batch does not grow it
 * piece by piece. */
static int out_reserve(ws_state *w, size_t len) {
  if (w->out_cap - w->out_len >= len) return 0;
  if (!w->out && w->spare && w->spare_cap >= len) {
    w->out = w->spare, w->out_cap = w->spare_cap;
    w->spare = NULL, w->spare_cap = 0;
    w->spare_used = 1;
    return 0;
  }
  size_t cap = (w->out_len + len) * 2;
  if (cap < (64u << 10)) cap = 64u << 10;
  char *o = realloc(w->out, cap);
  if (!o) return TR_ENOMEM;
  w->out = o, w->out_cap = cap;
  return 0;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
  conn *c = user;
  ws_state *w = c->ws;
  (void)flags;
  if (w->out_len >= WS_WRITE_MAX) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  if (out_reserve(w, len) < 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  memcpy(w->out + w->out_len, data, len);
  w->out_len += len;
  return (ssize_t)len;
}

/* A whole unmasked frame of ours straight into w->out. */
static int out_frame(ws_state *w, int opcode, const void *data, size_t len) {
  uint8_t h[10];
  size_t hl = 2;
  h[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    h[1] = (uint8_t)len;
  } else if (len < 65536) {
    h[1] = 126, h[2] = (uint8_t)(len >> 8), h[3] = (uint8_t)len, hl = 4;
  } else {
    h[1] = 127, hl = 10;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  if (out_reserve(w, hl + len) < 0) return TR_ENOMEM;
  memcpy(w->out + w->out_len, h, hl);
  memcpy(w->out + w->out_len + hl, data, len);
  w->out_len += hl + len;
  return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user) {
  conn *c = user;
  if (a->opcode == WSLAY_CONNECTION_CLOSE) {
    c->ws->code = a->status_code ? a->status_code : 1005;
    return;
  }
  if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME) return; /* pongs */
  if (c->ws->cut) return;
  if (a->opcode == WSLAY_TEXT_FRAME && !tr_utf8_valid(a->msg, a->msg_length)) {
    wslay_event_queue_close(ctx, 1007, (const uint8_t *)"text that is not UTF-8", 22);
    c->ws->cut = 1;
    return;
  }
  tr_http_conn_notify(c, a->opcode == WSLAY_TEXT_FRAME ? TR_HTTP_EV_TEXT : TR_HTTP_EV_BINARY,
                      a->msg, a->msg_length, 0);
}

/* Sends what wslay has ready if no write is in flight, and closes the TCP
 * connection once both close frames are through and written. */
void tr_http_ws_flush(conn *c) {
  ws_state *w = c->ws;
  if (c->closing || !w) return;
  if (!c->writes && !w->finishing) {
    if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) < 0) {
      tr_http_conn_close(c);
      return;
    }
    if (w->out_len) {
      char *buf = w->out;
      size_t len = w->out_len, cap = w->out_cap;
      w->out = NULL, w->out_len = w->out_cap = 0;
      tr_http_conn_write(c, buf, len, cap);
      if (c->closing) return;
    }
  }
  if (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx)) w->finishing = 1;
  if (w->finishing && !c->writes) tr_http_conn_close(c);
}

void tr_http_ws_read(conn *c) {
  ws_state *w = c->ws;
  if (!w || c->closing) return;
  if (wslay_event_want_read(w->ctx) && wslay_event_recv(w->ctx) < 0) {
    tr_http_conn_close(c); /* out of memory, or a callback failed */
    return;
  }
  if (!wslay_event_want_read(w->ctx)) c->in_len = 0; /* after a close: ignored */
  if (wslay_event_get_close_sent(w->ctx) && !c->ws_close_at)
    c->ws_close_at = tr_http_now(c->ls) + c->ls->srv->lim.ws_close_timeout_ms;
  tr_http_ws_flush(c);
}

int tr_http_ws_start(conn *c) {
  static const struct wslay_event_callbacks cbs = {
      .recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = on_msg};
  ws_state *w = calloc(1, sizeof *w);
  if (!w) return TR_ENOMEM;
  if (wslay_event_context_server_init(&w->ctx, &cbs, c) != 0) {
    free(w);
    return TR_ENOMEM;
  }
  wslay_event_config_set_max_recv_msg_length(w->ctx, c->ls->srv->lim.ws_max_message);
  c->ws = w;
  return 0;
}

/* Only buffers of the usual size are kept: one grown by a burst is let go. */
void tr_http_ws_recycle(conn *c, char *buf, size_t cap) {
  ws_state *w = c->ws;
  if (w && !w->spare && cap <= WS_SPARE_MAX) w->spare = buf, w->spare_cap = cap;
  else free(buf);
}

void tr_http_ws_free(conn *c) {
  if (!c->ws) return;
  wslay_event_context_free(c->ws->ctx);
  free(c->ws->spare);
  free(c->ws->out);
  free(c->ws);
  c->ws = NULL;
}

int tr_http_ws_code(const conn *c) {
  if (!c->ws) return 1006;
  if (c->ws->code) return c->ws->code;
  if (wslay_event_get_close_sent(c->ws->ctx)) return wslay_event_get_status_code_sent(c->ws->ctx);
  return 1006;
}

/* ------------------------------------------------------------ sending */

size_t tr_http_ws_waiting(const conn *c) {
  return wslay_event_get_queued_msg_length(c->ws->ctx) + c->ws->out_len +
         c->tcp.write_queue_size;
}

void tr_http_ws_close_here(conn *c, int code, const char *reason) {
  ws_state *w = c->ws;
  if (!w || c->closing || w->cut) return;
  w->cut = 1;
  size_t n = reason ? strlen(reason) : 0;
  if (n > 123) n = 123; /* a control frame's payload is at most 125 bytes */
  if (wslay_event_queue_close(w->ctx, (uint16_t)code, (const uint8_t *)reason, n) != 0) {
    tr_http_conn_close(c);
    return;
  }
  c->ws_close_at = tr_http_now(c->ls) + c->ls->srv->lim.ws_close_timeout_ms;
  tr_http_ws_flush(c);
  if (!c->closing) tr_http_conn_arm(c);
}

static int queue(conn *c, int opcode, const void *data, size_t len) {
  if (!wslay_event_want_write(c->ws->ctx)) return out_frame(c->ws, opcode, data, len);
  struct wslay_event_msg m = {.opcode = (uint8_t)opcode, .msg = data, .msg_length = len};
  return wslay_event_queue_msg(c->ws->ctx, &m) == 0 ? 0 : TR_ENOMEM;
}

/* Over the bound the client is cut, not the message dropped alone: a
 * subscriber that silently misses events would be worse than one that
 * knows it must resume. */
static int over(conn *c, size_t add) {
  uint64_t max = c->ls->srv->lim.max_stream_buffer;
  if (tr_http_ws_waiting(c) + add <= max) return 0;
  char why[96];
  snprintf(why, sizeof why, "slow consumer: more than %llu bytes waiting",
           (unsigned long long)max);
  tr_http_ws_close_here(c, 1008, why);
  return 1;
}

void tr_http_ws_send_here(conn *c, int opcode, const void *data, size_t len) {
  if (opcode == TR_HTTP_WS_PING && c->ws) { /* pings are periodic (15 s): a clock for the spare */
    if (!c->ws->spare_used) free(c->ws->spare), c->ws->spare = NULL, c->ws->spare_cap = 0;
    c->ws->spare_used = 0;
  }
  if (!c->ws || c->closing || c->ws->cut || over(c, len)) return;
  if (queue(c, opcode, data, len) < 0) {
    tr_http_conn_close(c);
    return;
  }
  tr_http_ws_flush(c);
}

void tr_http_ws_send_batch_here(conn *c, const uint8_t *msgs, const uint32_t *lens, size_t n) {
  if (!c->ws || c->closing || c->ws->cut) return;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += lens[i];
  if (over(c, total)) return;
  for (size_t i = 0; i < n; i++, msgs += lens[i - 1])
    if (queue(c, TR_HTTP_WS_TEXT, msgs, lens[i]) < 0) {
      tr_http_conn_close(c);
      return;
    }
  tr_http_ws_flush(c);
}

void tr_http_ws_send_sel_here(conn *c, const uint8_t *data, const uint32_t *lens,
                              const size_t *starts, const uint32_t *sel, size_t nsel) {
  if (!c->ws || c->closing || c->ws->cut || !nsel) return;
  size_t total = 0;
  for (size_t i = 0; i < nsel; i++) total += lens[sel[i]];
  if (over(c, total)) return;
  for (size_t i = 0; i < nsel; i++)
    if (queue(c, TR_HTTP_WS_TEXT, data + starts[sel[i]], lens[sel[i]]) < 0) {
      tr_http_conn_close(c);
      return;
    }
  tr_http_ws_flush(c);
}

void tr_http_ws_drain(conn *c) { tr_http_ws_close_here(c, 1001, "the server is shutting down"); }
