/* events.h - the event bus and the warehouse: what the engine and users
 * publish, kept durably and queryable, and pushed to subscribers (the
 * notifier that serves WebSocket and SSE clients is one).
 *
 * Every topic is one persistent virtual actor, "events/<topic>", on nodes
 * with the engine role: it numbers the events it accepts (ids 1, 2, ...
 * per topic, never reused, in acceptance order, which keeps each
 * publisher's order), stores them durably in the node's LMDB store before
 * anyone hears of them, pushes them to its subscribers, answers queries
 * and aggregations over what it holds, and drops what retention says.
 * The engine publishes to "events/engine" (tr_wf_emit_target); users to
 * any topic (custom events: "events/custom" by default).
 *
 * An event: {id: uint, topic, type: str, time: ms since the epoch,
 * source: str (who published), key?: process definition key, pi?: process
 * instance, bk?: business key, attrs?: map of str -> scalar (custom
 * attributes, e.g. user), data?: any msgpack value}. As JSON for clients:
 * {"id": "<topic>:<id>", "type", "time": ISO 8601, "data", ...}.
 *
 * A filter (subscriptions and queries): {types?: [str], key?, pi?, bk?,
 * attrs?: map (every entry must equal)}; every given field must hold.
 *
 * All payloads are msgpack maps; replies TR_EV_REPLY {ok: true, ...} or
 * {ok: false, code, error} (tr_pack_error / tr_reply_status). Requests are
 * asks unless said otherwise; answers that report a change come once it
 * is durable. The type values are stored and travel between nodes: they
 * never change; new ones go at the end.
 */
#ifndef TR_EVENTS_H
#define TR_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#define TR_EV_KIND "events"
#define TR_EV_TOPIC_MAX 64
#define TR_EV_QUERY_BYTES (8u << 20) /* a query's page, at most (fits between nodes) */

enum {
  /* ---- publishing ---- */
  TR_EV_PUBLISH = 0x45560001, /* an event without id (time: now if absent) ->
                                 {ok, id} once durable; as a send: no answer */
  TR_EV_PUBLISH_MANY,         /* {events: [event]} -> {ok, first, last} once durable:
                                 one message, one commit, for publishers in bulk */
  /* ---- subscribing ---- */
  TR_EV_SUBSCRIBE,            /* {filter?, from?: id, lease_ms?} -> {ok, last: id of the
                                 newest event now}. Then TR_EV_DELIVER messages to the
                                 subscriber (the ask's sender) with every matching event
                                 after `from` (default: after `last`), in id order, no
                                 gap, no duplicate: stored ones first, then live ones.
                                 A lease (default 30 s) is renewed by subscribing again
                                 with the same sender; it lapses otherwise */
  TR_EV_UNSUBSCRIBE,          /* {} -> {ok} (the sender's subscription) */
  TR_EV_DELIVER,              /* to a subscriber (not an ask): {topic, events: [event]} */
  /* ---- the warehouse ---- */
  TR_EV_QUERY,                /* {filter?, from_time?, to_time?, after?: id, max?
                                 (default 1000, at most 10000), max_bytes? (1024 to
                                 TR_EV_QUERY_BYTES, the default), desc?: bool} ->
                                 {ok, events: [event], more: bool}: a page ends
                                 at max or before max_bytes (one event at least) */
  TR_EV_COUNT,                /* {bucket: "minute"|"hour"|"day", from_time, to_time,
                                 filter?} -> {ok, buckets: [[start ms, type, count]]} */
  TR_EV_DISTINCT,             /* {bucket, from_time, to_time, of: "bk"|"pi"|"key"|
                                 "attrs.<name>", filter?} -> {ok, buckets: [[start ms,
                                 distinct count]]} (exact) */
  TR_EV_FUNNEL,               /* {steps: [type, ...], by: "bk"|"pi"|"attrs.<name>",
                                 from_time, to_time, within_ms?} -> {ok, steps: [[type,
                                 count]]}: how many `by` values did step 1, then step 2
                                 after it, ... (each within within_ms of the first) */
  TR_EV_RETENTION,            /* {max_age_ms?, max_bytes?} -> {ok}: set for the topic
                                 (0: no limit); {} -> {ok, max_age_ms, max_bytes, events,
                                 bytes, first, last} */
  TR_EV_REPLY
};

/* Registers the kind (hosted by nodes with roles; 0 = any). Needs a data dir. */
int tr_events_register(tr_system *sys, uint32_t roles);

/* The topic's virtual name ("events/<topic>") into buf; TR_EINVAL for an
 * empty or over-long topic, or one with '/' or control bytes. */
int tr_events_name(const char *topic, char *buf, size_t cap);

#endif
