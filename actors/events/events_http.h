/* events_http.h - the event bus's HTTP endpoints (docs/http-api.md,
 * "Events and warehouse"): POST /events and /warehouse/... */
#ifndef TR_EVENTS_HTTP_H
#define TR_EVENTS_HTTP_H

#include "actors/events/events.h"
#include "actors/http/http.h"

/* Routes POST /events and /warehouse/... of srv (before tr_http_start) to
 * a router actor it spawns; each request asks "events/<topic>" (the kind
 * tr_events_register registered on this or another node). */
int tr_events_http_start(tr_system *sys, tr_http_server *srv);

#endif
