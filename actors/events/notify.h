/* notify.h - the notifier: pushes the bus's events to WebSocket clients
 * (GET /events) and Server-Sent Events clients (GET /events/sse) of this
 * node's HTTP server. docs/http-api.md, "WebSocket and SSE", is the
 * client's view; this is the node's.
 *
 * One notifier actor per node subscribes once per topic its clients want
 * to "events/<topic>" (TR_EV_SUBSCRIBE, lease renewed) and fans each
 * batch out to its clients, each with its own filter: the bus sees one
 * subscriber per node however many browsers are attached. Events are
 * rendered to JSON once. A client that resumes (WebSocket "from", SSE
 * Last-Event-ID) is served from the history (TR_EV_QUERY, unfiltered,
 * after its id) and then from a ring of the topic's recent events, which
 * the notifier's own subscription fills with no gap: ids are per topic and
 * contiguous, so "the ring starts at or before my next id" is an exact
 * test for the switch to live, and every event goes out at most once
 * because each client keeps the last id it was given.
 */
#ifndef TR_EVENTS_NOTIFY_H
#define TR_EVENTS_NOTIFY_H

#include "actors/events/events.h"
#include "actors/http/http.h"

/* 0 in a field: its default (in brackets). Copied. */
typedef struct tr_events_notify_opts {
  const char *default_topic;  /* a client's topic when it names none ["engine"] */
  uint32_t ping_ms;           /* WebSocket ping / SSE ": ping" to every client [15 s] */
  uint32_t lease_ms;          /* the bus subscription's lease; renewed at a third [30 s] */
  uint32_t ring;              /* recent events kept per topic for resumes [4096] */
  uint32_t query_timeout_ms;  /* a history page [10 s] */
  uint32_t max_clients;       /* more get 503 [10000] */
  uint32_t pace;              /* bytes of a backlog sent before they are written
                                 [256 KiB]; keep it under srv's max_stream_buffer */
} tr_events_notify_opts;

/* Spawns the notifier and adds its routes to srv (before tr_http_start):
 * GET /events (WebSocket) and GET /events/sse, both taking
 * ?access_token=. The output bound per client is srv's max_stream_buffer.
 * *out (optional) receives the actor. */
int tr_events_notify_start(tr_system *sys, tr_http_server *srv,
                           const tr_events_notify_opts *o, tr_ref *out);

#endif
