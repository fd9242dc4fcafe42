/* http.h - the node's HTTP/1.1 server: the edge that carries health probes
 * now and the Camunda REST API, WebSocket, SSE, MCP and webhooks later.
 *
 * Connections live on the schedulers' libuv loops (troupe/loop.h): the
 * first loop accepts and deals connections round-robin to all of them;
 * each connection is read, parsed and written on its loop's thread for its
 * whole life, and requests go to handlers through a route table:
 *
 *  - a callback handler runs on the connection's thread (cheap answers such
 *    as /healthz; it must not block) and answers with tr_http_respond(),
 *    then or later, from any thread;
 *  - an actor handler gets each request as a message and answers with
 *    tr_http_reply() (a message to the server's gateway actor, so it works
 *    from any node).
 *
 * Answers go out in request order (pipelining); a streamed answer (chunked,
 * later SSE) is tr_http_respond() with .stream = 1 and then chunks. Limits,
 * timeouts, auth and the error shape are in docs/http-api.md.
 *
 * Lifecycle: tr_http_new, routes, tr_http_start (listens), ...,
 * tr_http_stop (drain; before tr_system_shutdown), tr_http_free (after the
 * system is freed, so that no late answer can reach freed memory).
 */
#ifndef TR_ACTORS_HTTP_H
#define TR_ACTORS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits and timeouts; 0 in a field means its default (in brackets). */
typedef struct tr_http_limits {
  uint32_t max_url;            /* bytes of the request target [8 KiB] -> 414 */
  uint32_t max_header_bytes;   /* request line and header lines [16 KiB] -> 431 */
  uint32_t max_headers;        /* header lines [100] -> 431 */
  uint64_t max_body;           /* bytes of a request body [1 MiB] -> 413 */
  uint32_t max_conns;          /* open connections per scheduler [1024]; more get 503 */
  uint32_t max_pipeline;       /* requests read ahead of their answers [16] */
  uint32_t header_timeout_ms;  /* first byte to end of headers [10 s] -> 408, close */
  uint32_t body_timeout_ms;    /* end of headers to end of body [30 s] -> 408, close */
  uint32_t idle_timeout_ms;    /* keep-alive connection with nothing to do [60 s] -> close */
  uint32_t handler_timeout_ms; /* a handler's answer [30 s] -> 504 */
  /* bytes a streamed answer or a WebSocket may have waiting to be written
   * [1 MiB]: past it the connection is cut (a slow reader must not hold
   * the server's memory); see .overflow and tr_http_ws_send */
  uint64_t max_stream_buffer;
  uint32_t ws_max_message;     /* bytes of one WebSocket message, reassembled
                                  [64 KiB]; more -> close 1009 */
  uint32_t ws_close_timeout_ms;/* our close frame to the TCP close [2 s] */
} tr_http_limits;

/* Fills in the defaults of every 0 field of l. */
void tr_http_limits_default(tr_http_limits *l);

typedef struct tr_http_header {
  const char *name, *value; /* NUL-terminated views; names as sent */
  uint32_t name_len, value_len;
} tr_http_header;

/* A parsed request. Every pointer is a view owned by whoever handed the
 * request over, valid during that call only. Strings are NUL-terminated. */
typedef struct tr_http_request {
  const char *method;        /* "GET", "POST", ... */
  const char *url;           /* the request target as sent */
  const char *path;          /* url without the query ("/a/b"); not decoded */
  const char *query;         /* after '?', "" if none; not decoded */
  size_t url_len, path_len, query_len;
  const tr_http_header *headers;
  uint32_t nheaders;
  const uint8_t *body;       /* NULL when empty */
  size_t body_len;
  uint8_t version_minor;     /* HTTP/1.<minor> */
  uint8_t keep_alive;        /* the connection may stay open after this one */
  uint8_t upgrade;           /* Upgrade requested (WebSocket, later) */
  uint8_t expect_continue;   /* Expect: 100-continue */
} tr_http_request;

typedef struct tr_http_server tr_http_server;

/* Identifies one request to answer: its connection and its place there.
 * A plain value; an answer to a connection that has gone is dropped. */
typedef struct tr_http_rid {
  uint64_t conn;
  uint64_t seq;
} tr_http_rid;

/* An answer. Everything it points to is the caller's and is copied. */
typedef struct tr_http_response {
  int status;                /* 100..599 (not 1xx: those the server sends) */
  const char *content_type;  /* NULL: no Content-Type */
  const char *headers;       /* extra header lines, each ending in \r\n; or NULL */
  const void *body;
  size_t body_len;
  int stream;                /* 1: the body follows in tr_http_respond_chunk calls */
  /* with .stream: what to send as the last chunk if the stream is cut for
   * going over max_stream_buffer (e.g. an SSE error event); the bytes
   * waiting are dropped, this goes out, the connection closes. Copied.
   * Only through tr_http_respond (not carried by tr_http_reply). */
  const void *overflow;
  size_t overflow_len;
} tr_http_response;

/* Route flags */
enum {
  TR_HTTP_ROUTE_EXACT = 1 << 0,  /* the path must equal the prefix */
  TR_HTTP_ROUTE_PUBLIC = 1 << 1, /* no authentication (health probes) */
  /* WebSocket (RFC 6455): the server checks the handshake (a bad one gets
   * 400 and never reaches the handler) and the handler (an actor route)
   * answers 101 to accept, anything else to refuse; see below */
  TR_HTTP_ROUTE_UPGRADE = 1 << 2,
  /* the bearer token may also come as ?access_token=... (browsers can set
   * no header on a WebSocket or an EventSource) */
  TR_HTTP_ROUTE_QUERY_TOKEN = 1 << 3,
  /* (actor routes) the actor also hears TR_HTTP_EV_CLOSED for a request
   * whose connection closes before it was answered: an actor that keeps
   * state per request (a subscriber) learns of one that went early. Streams
   * and upgraded connections of actor routes report their close anyway. */
  TR_HTTP_ROUTE_NOTIFY_CLOSE = 1 << 4
};

/* Callback handler: runs on the connection's scheduler thread and must not
 * block. req is borrowed for the call; srv and rid are for the answer. */
typedef void (*tr_http_handler_fn)(tr_http_server *srv, tr_http_rid rid,
                                   const tr_http_request *req, void *arg);

/* Upgrades. A request with Upgrade on a route without
 * TR_HTTP_ROUTE_UPGRADE goes to its handler like any other and the
 * connection closes after the answer. On a TR_HTTP_ROUTE_UPGRADE route
 * (an actor route) the server checks the WebSocket handshake (GET,
 * Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a
 * 16-byte Sec-WebSocket-Key) and answers 400 itself when it is wrong; a
 * good one goes to the actor, which accepts with status 101 (tr_http_respond
 * or tr_http_reply; .headers may add e.g. Sec-WebSocket-Protocol; the
 * server adds Upgrade, Connection and Sec-WebSocket-Accept) or refuses with
 * any other answer. Once the 101 is written the connection leaves HTTP on
 * its loop: wslay takes its bytes (those read after the request first),
 * answers pings, reassembles fragments, enforces masking and
 * ws_max_message, and the route's actor gets TR_HTTP_MSG_EVENT messages
 * (tr_http_event_decode) for each message and one for the close. SSE needs
 * no hook: it is a streamed answer (.stream = 1) that never ends; the
 * actor of a streamed answer also gets a TR_HTTP_EV_CLOSED event when the
 * connection goes. */

typedef struct tr_http_opts {
  const char *listen;          /* "host:port" (IPv4 or [IPv6]); port 0 = any free */
  tr_http_limits limits;
  /* optional authentication of every route without TR_HTTP_ROUTE_PUBLIC:
   * a bearer token, or a basic user and password, or both (either
   * passes). Copied. */
  const char *bearer_token;
  const char *basic_user, *basic_password;
  const char *realm;           /* in WWW-Authenticate; default "troupe" */
} tr_http_opts;

/* Creates a stopped server; o is copied. */
int tr_http_new(tr_system *sys, const tr_http_opts *o, tr_http_server **out);

/* Routes, before tr_http_start. The longest matching prefix wins; method
 * NULL matches any method; a path that matches a route of another method
 * only gets 405. prefix is copied. TR_EFULL past 64 routes. */
int tr_http_route_fn(tr_http_server *srv, const char *method, const char *prefix,
                     unsigned flags, tr_http_handler_fn fn, void *arg);
int tr_http_route_actor(tr_http_server *srv, const char *method, const char *prefix,
                        unsigned flags, tr_ref actor, uint32_t type);

/* Binds and listens; waits until the first loop accepts.
 * TR_EIO (with a log line) when the address cannot be bound. */
int tr_http_start(tr_http_server *srv);

/* The address listened on ("127.0.0.1:8080", the real port when 0 was
 * asked for); static storage of srv. */
const char *tr_http_address(const tr_http_server *srv);

/* Answers request rid, from any thread. With r->stream the status line and
 * headers go out now (chunked for HTTP/1.1) and the body follows. TR_ENOENT
 * when the request is no longer waiting (answered, timed out, closed) is
 * not reported: the answer is dropped and 0 returned. */
int tr_http_respond(tr_http_server *srv, tr_http_rid rid, const tr_http_response *r);
/* The next piece of a streamed body; last = 1 ends it (len may be 0). */
int tr_http_respond_chunk(tr_http_server *srv, tr_http_rid rid, const void *data,
                          size_t len, int last);
/* An error in Camunda's shape: {"type": type, "message": message}. */
int tr_http_respond_error(tr_http_server *srv, tr_http_rid rid, int status,
                          const char *type, const char *message);

/* Graceful drain: stops accepting, closes idle connections, lets requests
 * already started finish (their answers carry Connection: close), and after
 * deadline_ms closes what is left. Returns when every connection and
 * listener is closed. Call before tr_system_shutdown; from a thread that is
 * not a scheduler. */
int tr_http_stop(tr_http_server *srv, uint32_t deadline_ms);

/* Frees the server (stopping it first if needed: deadline 0). */
void tr_http_free(tr_http_server *srv);

/* ---------------------------------------------------------- WebSocket */

/* A message to an accepted WebSocket (rid: the upgrade request's), from
 * any thread; data is copied. opcode: TR_HTTP_WS_TEXT, _BINARY or _PING.
 * When the bytes waiting for this connection would go over
 * max_stream_buffer, the message is not sent and the connection is closed
 * with 1008 "slow consumer: ..." (then a hard close after
 * ws_close_timeout_ms). A connection that is gone: dropped, 0. */
enum { TR_HTTP_WS_TEXT = 1, TR_HTTP_WS_BINARY = 2, TR_HTTP_WS_PING = 9 };
int tr_http_ws_send(tr_http_server *srv, tr_http_rid rid, int opcode, const void *data,
                    size_t len);
/* Several text messages in one hand-off to the loop (a batch): msgs holds
 * n messages back to back, lens[i] the length of each. Copied. */
int tr_http_ws_send_batch(tr_http_server *srv, tr_http_rid rid, const void *msgs,
                          const uint32_t *lens, size_t n);
/* One batch of text messages to many WebSockets, each target with its own
 * selection: msgs holds n messages back to back (lens[i] each); target j
 * is rids[j] and gets the messages whose indexes are sel[off[j] ..
 * off[j + 1]) (off has ntargets + 1 entries), in that order. One hand-off
 * per loop instead of one per connection: a fan-out to thousands of
 * subscribers wakes each loop once. Everything is copied. */
int tr_http_ws_multicast(tr_http_server *srv, const void *msgs, const uint32_t *lens, size_t n,
                         const tr_http_rid *rids, const uint32_t *off, const uint32_t *sel,
                         size_t ntargets);
/* Closes with a status code (1000..4999) and a reason (<= 123 bytes, copied). */
int tr_http_ws_close(tr_http_server *srv, tr_http_rid rid, int code, const char *reason);

/* Asks for one TR_HTTP_EV_WRITTEN event (to the actor that hears rid's
 * connection, below) once everything sent to that WebSocket or stream
 * before this call has been handed to the socket. A sender with a backlog
 * (a subscriber catching up) sends a part, asks, and sends the next part
 * on the event: it goes at the pace the client reads and never counts as
 * a slow consumer for bytes it has not yet sent. A second call before the
 * event comes is the same request, and the event carries the token of the
 * latest call (its data: 8 bytes, host order), so a sender that restarted
 * its sequence can tell an old event from the one it waits for. */
int tr_http_notify_written(tr_http_server *srv, tr_http_rid rid, uint64_t token);

/* What the route's actor hears from an upgraded or streaming connection:
 * messages of type TR_HTTP_MSG_EVENT (not an ask). */
#define TR_HTTP_MSG_EVENT 0x48545402u
enum { TR_HTTP_EV_TEXT = 1, TR_HTTP_EV_BINARY = 2, TR_HTTP_EV_WRITTEN = 4, TR_HTTP_EV_CLOSED = 8 };
typedef struct tr_http_event {
  tr_http_rid rid;
  int kind;                  /* TR_HTTP_EV_* */
  const uint8_t *data;       /* the message (view into msg; WRITTEN: the token), NULL for CLOSED */
  size_t len;
  int code;                  /* CLOSED: the close code (1006 if none) */
} tr_http_event;
/* Decodes msg (borrowed; ev points into it); TR_EPROTO if it is not one. */
int tr_http_event_decode(const tr_msg *msg, tr_http_event *ev);

/* Counters, for tests and /metrics later. */
typedef struct tr_http_stats {
  uint64_t accepted, requests, errors_4xx, rejected_conns;
  uint32_t open_conns;
} tr_http_stats;
void tr_http_stats_get(tr_http_server *srv, tr_http_stats *out);

/* ---------------------------------------------------------------- actors
 * An actor handler receives messages of its route's type; the payload
 * (msgpack) decodes into a tr_http_incoming whose views point into the
 * message, valid while it is. */
typedef struct tr_http_incoming {
  tr_http_rid rid;
  tr_ref gateway;            /* where the answer goes */
  /* url, path, query and body are views into the message with their
   * lengths, NOT NUL-terminated; method points to method_buf; headers:
   * use tr_http_incoming_header() */
  tr_http_request req;
  char method_buf[24];
  const uint8_t *hdr_raw;    /* msgpack array of [name, value] (internal) */
  size_t hdr_raw_len;
} tr_http_incoming;

/* Decodes msg (borrowed; *in points into it). TR_EPROTO if it is not a
 * request message. */
int tr_http_incoming_decode(const tr_msg *msg, tr_http_incoming *in);
/* The same from the bytes of such a message (borrowed; *in points into them). */
int tr_http_incoming_decode_bytes(const void *data, size_t len, tr_http_incoming *in);
/* A header's value by name (case-insensitive) or NULL; *len its length. */
const char *tr_http_incoming_header(const tr_http_incoming *in, const char *name, size_t *len);
/* Answers from inside an actor (ctx) by a message to the gateway. */
int tr_http_reply(tr_ctx *ctx, const tr_http_incoming *in, const tr_http_response *r);
int tr_http_reply_chunk(tr_ctx *ctx, const tr_http_incoming *in, const void *data, size_t len,
                        int last);

#ifdef __cplusplus
}
#endif
#endif
