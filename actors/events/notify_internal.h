/* notify_internal.h - the notifier's parts: notify_event.c (events from
 * the bus as the notifier keeps them, rendered once for every client;
 * filters from a query string or a subscribe message, and matching) and
 * notify.c (the actor: clients, topics, the bus). */
#ifndef TR_EVENTS_NOTIFY_INTERNAL_H
#define TR_EVENTS_NOTIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "actors/events/events.h"

/* An event as the notifier keeps it: the fields filters look at, and the
 * JSON that goes to clients (a WebSocket text message) and its SSE form,
 * both rendered once whatever the number of clients. One allocation
 * holds the struct and every string (free with free()). Scalars (key, pi,
 * bk, attribute values) are compared as text: a number as its decimal. */
typedef struct nev {
  uint64_t id;
  const char *type, *key, *pi, *bk; /* NULL when absent */
  uint32_t nattrs;
  const char **anames, **avals;
  const char *json, *sse;
  size_t json_len, sse_len;
} nev;

/* Decodes one event (the msgpack map at u, which is moved past it) of
 * topic into *out (malloc'd). TR_EPROTO for a malformed event (no id, no
 * type), TR_ENOTSUP if its data cannot be JSON, TR_ENOMEM. */
int nev_decode(tr_unpack *u, const char *topic, nev **out);

#define NF_TYPES_MAX 32
#define NF_ATTRS_MAX 16

/* A subscription's filter and starting point; strings malloc'd
 * (nfilter_free). Every given field must hold. */
typedef struct nfilter {
  char topic[TR_EV_TOPIC_MAX + 1];
  uint32_t ntypes, nattrs;
  char *types[NF_TYPES_MAX];
  char *key, *pi, *bk;
  char *anames[NF_ATTRS_MAX], *avals[NF_ATTRS_MAX];
  int has_from;
  uint64_t from;              /* deliver events after this id */
} nfilter;

void nfilter_free(nfilter *f);
int nfilter_match(const nfilter *f, const nev *e);

/* From a query string (q[0..len), not decoded; the caller's):
 * topic, types=a,b, key, pi, bk, attr.<name>, from; access_token is
 * skipped. *any = 1 when it names a topic or filter (a WebSocket then
 * subscribes at once). On error a message for the client goes to err
 * (caller's buffer) and TR_EINVAL is returned. default_topic when none. */
int nfilter_from_query(nfilter *f, const char *q, size_t len, const char *default_topic,
                       int *any, char *err, size_t cap);

/* A resume point: "<topic>:<id>" (the topic must be f's) or "<id>". */
int nfilter_set_from(nfilter *f, const char *s, size_t len, char *err, size_t cap);

/* A WebSocket message: {"action": "subscribe", "topic"?, "filter"?: {types,
 * key, pi, bk, attrs}, "from"?} or {"action": "unsubscribe"}. *action: 1
 * subscribe, 2 unsubscribe. Errors as above. */
int nfilter_from_json(nfilter *f, const char *text, size_t len, const char *default_topic,
                      int *action, char *err, size_t cap);

#endif
