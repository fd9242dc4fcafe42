/* internal.h - the HTTP server's parts, shared by its files: server.c
 * (lifecycle, routes, answers from any thread, drain), accept.c (the
 * listening socket and the hand-off of connections to loops), conn.c (one connection: reads,
 * the pipeline of answers, timeouts), answer.c (a handler's answer to one
 * exchange: head, stream chunks, 101), respond.c (answers as bytes),
 * auth.c (bearer and basic), gateway.c (actor handlers and their answers),
 * ws.c (a connection after its 101: WebSocket frames through wslay) and
 * sha1.c (for the handshake's accept key). */
#ifndef TR_HTTP_INTERNAL_H
#define TR_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "actors/http/http.h"
#include "actors/http/parse.h"

#define TR_HTTP_ROUTES_MAX 64
#define TR_HTTP_LINGER_MS 2000 /* reading (and dropping) after our FIN */
/* the gateway actor's message type for answers from actor handlers */
#define TR_HTTP_MSG_ANSWER 0x48545401u

typedef struct route {
  char *method;   /* NULL: any */
  char *prefix;
  size_t prefix_len;
  unsigned flags;
  tr_http_handler_fn fn;
  void *arg;
  tr_ref actor;   /* when fn is NULL */
  uint32_t type;
} route;

typedef struct conn conn;

/* One scheduler's share of the server; touched only on that thread. */
typedef struct loop_state {
  tr_http_server *srv;
  uint32_t index;
  uv_loop_t *loop;
  int draining, reported;
  conn **slots;          /* open connections by slot */
  uint32_t *gens;        /* generation per slot: an old rid never matches */
  uint32_t nslots, open;
  /* answers posted to this loop and not yet run: while there are any, an
   * answer from this loop's own thread is posted too, or it would overtake
   * them (a stream's chunks must keep their order) */
  _Atomic uint32_t pending;
} loop_state;

struct tr_http_server {
  tr_system *sys;
  tr_http_limits lim;
  char *listen, *bearer, *basic, *realm; /* basic: "user:password" */
  route routes[TR_HTTP_ROUTES_MAX];
  uint32_t nroutes;
  char address[96];
  uint32_t nloops;
  loop_state *loops;
  /* the listening socket, watched by loop 0 (accept.c) */
  int listen_fd;
  uv_poll_t acc_poll;
  uv_timer_t acc_timer;
  int acc_open;          /* acceptor handles not yet closed */
  uint32_t next_loop;    /* round-robin over the loops (loop 0 only) */
  tr_ref gateway;
  int started, stopped;
  _Atomic int draining;
  uint64_t drain_at;     /* uv_hrtime ms when draining ends by force */
  /* loops report to the thread in start/stop */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint32_t waiting;      /* loops yet to report */
  int start_err;
  _Atomic uint64_t accepted, requests, errors_4xx, rejected;
  _Atomic uint32_t open_conns;
};

/* An exchange: one request and its answer, in the connection's queue. */
enum { EX_WAIT = 0, EX_STREAM, EX_DONE };
typedef struct exchange {
  struct exchange *next;
  uint64_t seq;
  uint64_t deadline;     /* ms (loop time): answer by then or 504 */
  int state;
  uint8_t keep_alive, head, http10, close, chunked;
  char *out;             /* bytes waiting for their turn to be written */
  size_t out_len, out_cap;
  uint8_t ws_ok;         /* a good WebSocket handshake: a 101 may answer it */
  uint8_t ws_switch;     /* the 101 is queued: WebSocket after its bytes */
  uint8_t has_actor;     /* went to an actor route: it hears of the close */
  uint8_t notify_close;  /* ... even before it is answered (NOTIFY_CLOSE) */
  char ws_accept[29];
  tr_ref actor;
  char *overflow;        /* a stream's last chunk if it is cut (malloc'd) */
  size_t overflow_len;
} exchange;

typedef struct ws_state ws_state;

struct conn {
  loop_state *ls;
  uint32_t slot, gen;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  int handles;           /* open handles: freed when both have closed */
  tr_http_parser hp;
  char *in;              /* received, not yet parsed */
  size_t in_len, in_cap;
  exchange *head, *tail;
  uint32_t nq;
  uint64_t next_seq;
  uint64_t req_start, body_start, last_active; /* ms, loop time */
  int progress;          /* parser progress last seen */
  int reading, closing, close_after, lingering, shutting, in_process, continue_sent;
  int writes;            /* writes in flight */
  int upgrading;         /* a WebSocket handshake waits for its answer */
  ws_state *ws;          /* after the 101: frames, not HTTP (ws.c) */
  uint64_t ws_close_at;  /* ms: our close frame went out, the TCP close by then */
  int watched;           /* watch hears TR_HTTP_EV_CLOSED when the connection goes */
  int want_written;      /* watch wants TR_HTTP_EV_WRITTEN once nothing waits */
  uint64_t written_token; /* ... carrying this (the latest request's) */
  tr_ref watch;
  uint64_t watch_seq;
};

/* accept.c */
int tr_http_listen_open(tr_http_server *srv, const struct sockaddr_storage *ss);
int tr_http_acceptor_start(tr_http_server *srv, void *loop);
void tr_http_acceptor_stop(tr_http_server *srv);

/* conn.c: takes fd (an accepted socket) */
void tr_http_conn_accept(loop_state *ls, int fd);
void tr_http_conn_drain(conn *c);
void tr_http_conn_close(conn *c);
conn *tr_http_conn_find(loop_state *ls, uint64_t key);
/* Answers on the connection's own thread (respond.c builds the bytes). */
void tr_http_conn_respond(conn *c, uint64_t seq, const tr_http_response *r);
void tr_http_conn_chunk(conn *c, uint64_t seq, const void *data, size_t len, int last);
void tr_http_conn_error(conn *c, uint64_t seq, int status, const char *type, const char *msg);
uint64_t tr_http_conn_key(const conn *c);
/* Takes buf (malloc'd) and writes len bytes of it. cap > 0 (a WebSocket's
 * output buffer of that size): once written it goes back to the
 * connection's WebSocket layer (tr_http_ws_recycle) instead of being freed. */
void tr_http_conn_write(conn *c, char *buf, size_t len, size_t cap);
void tr_http_conn_arm(conn *c);
/* conn.c for answer.c: the exchange of a sequence number (NULL: gone);
 * writes what the head exchanges have ready; whether answers must close. */
exchange *tr_http_ex_find(conn *c, uint64_t seq);
void tr_http_conn_flush(conn *c);
int tr_http_conn_draining(const conn *c);
/* A TR_HTTP_MSG_EVENT to the connection's watcher (if any). */
void tr_http_conn_notify(conn *c, int kind, const void *data, size_t len, int code);
/* TR_HTTP_EV_WRITTEN to the watcher now, or once what waits is written */
void tr_http_conn_want_written(conn *c, uint64_t token);

/* ws.c: the handshake check (why: a static message), the frame layer of
 * an upgraded connection, and messages to it (on its thread) */
int tr_http_ws_check(const tr_http_request *req, char accept[29], const char **why);
int tr_http_ws_start(conn *c);
void tr_http_ws_read(conn *c);
void tr_http_ws_flush(conn *c);
/* Takes back an output buffer (cap bytes) its write is done with. */
void tr_http_ws_recycle(conn *c, char *buf, size_t cap);
void tr_http_ws_free(conn *c);
int tr_http_ws_code(const conn *c);
size_t tr_http_ws_waiting(const conn *c); /* bytes not yet handed to the socket */
void tr_http_ws_send_here(conn *c, int opcode, const void *data, size_t len);
void tr_http_ws_send_batch_here(conn *c, const uint8_t *msgs, const uint32_t *lens, size_t n);
void tr_http_ws_close_here(conn *c, int code, const char *reason);
/* the messages sel[0..nsel) of a shared block (multicast) */
void tr_http_ws_send_sel_here(conn *c, const uint8_t *data, const uint32_t *lens,
                              const size_t *starts, const uint32_t *sel, size_t nsel);
void tr_http_ws_drain(conn *c);

/* server.c */
const route *tr_http_route_match(const tr_http_server *srv, const tr_http_request *req,
                                 int *method_mismatch);
void tr_http_loop_check_drained(loop_state *ls);

/* respond.c: appends the head of an answer (status line and headers) */
int tr_http_head_write(exchange *ex, const tr_http_response *r, int draining);
int tr_http_ex_append(exchange *ex, const void *p, size_t len);
/* {"type":..., "message":...} into buf (caller's, cap bytes); returns length */
size_t tr_http_error_json(char *buf, size_t cap, const char *type, const char *message);
const char *tr_http_error_type(int status);
const char *tr_http_reason(int status);

/* auth.c: 0 when the request may pass; else the WWW-Authenticate value to
 * send with the 401 goes to challenge (caller's buffer) */
int tr_http_auth_check(const tr_http_server *srv, const tr_http_request *req, char *challenge,
                       size_t cap);
/* 0 when the query string carries access_token=<the bearer token> */
int tr_http_auth_query(const tr_http_server *srv, const tr_http_request *req);

/* message.c: the request as msgpack for an actor handler (pk: the
 * caller's); decoding from raw bytes (borrowed, as tr_http_incoming_decode) */
int tr_http_request_encode(tr_pack *pk, tr_http_rid rid, tr_ref gateway,
                           const tr_http_request *req);
/* a TR_HTTP_MSG_EVENT payload */
int tr_http_event_encode(tr_pack *pk, tr_http_rid rid, int kind, const void *data, size_t len,
                         int code);

/* gateway.c */
int tr_http_gateway_start(tr_http_server *srv);
int tr_http_dispatch_actor(tr_http_server *srv, const route *rt, tr_http_rid rid,
                           const tr_http_request *req);

uint64_t tr_http_now(const loop_state *ls);

#endif
