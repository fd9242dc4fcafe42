/* ev_int.h - the event bus's insides, shared by its files.
 *
 * Where the data lives (one LMDB store per node, storage/store.h):
 *   queue "ev/<topic>": the events; an event's id is its queue offset, so
 *       reading from an id is one seek and retention is one queue ack.
 *       Item: the stored event, a msgpack map {type, time, source, key?,
 *       pi?, bk?, attrs?, data?} (no id, no topic: both are implied).
 *   table "events.ix": topic NUL field(1) len(1) value id(BE64) -> "":
 *       the ids per type ('t'), process instance ('p') and business key
 *       ('b'), so queries by them read only their events. 't' entries are
 *       written with their events; 'p' and 'b' ones up to EV_LAG_MS later,
 *       several per page (ev_lag.h), and meta's indexed_to says how far.
 *   table "events.cnt": topic NUL gran(1: m h d) start(BE64) type -> count
 *       (BE64): counts per bucket and type, kept at ingest in the same
 *       transaction as the events, so a count never scans events.
 *   table "events.meta": topic -> bytes, max_age_ms, max_bytes, indexed_to
 *       (BE64 each).
 * The actor keeps no journal: its state (last id, bytes, retention) is read
 * from these at activation; subscriptions live in memory only.
 *
 * Times are made monotonic per topic at ingest (an event older than the
 * previous one gets the previous one's time), so a time range is a binary
 * search over ids.
 */
#ifndef TR_EV_INT_H
#define TR_EV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/events/events.h"
#include "storage/store.h"
#include "troupe/codec.h"

#define EV_VALUE_MAX 255  /* bytes of a type, key, pi, bk, source */
#define EV_TYPES_MAX 32   /* types in one filter */
#define EV_BATCH_MAX 2000 /* events per commit */

/* internal message types (never on the wire between nodes) */
enum {
  EV_I_DONE = 0x45560101, /* the write in flight completed */
  EV_I_CATCHUP,           /* go on delivering stored events to subscribers */
  EV_I_TICK,              /* leases and retention */
  EV_I_READ               /* a read's job is done (ev_read.c) */
};

/* The tables, opened once per store (ev_store.c). */
typedef struct ev_tables {
  uint32_t ix, cnt, meta;
} ev_tables;
int ev_tables_get(tr_store *st, ev_tables *out);

/* A string field borrowed from a buffer. */
typedef struct ev_str {
  const char *p;
  size_t n;
} ev_str;

/* The fields of a stored event, borrowed from its bytes. */
typedef struct ev_view {
  ev_str type, source, key, pi, bk;
  uint64_t time;
  const uint8_t *attrs; /* raw msgpack map or NULL */
  size_t attrs_len;
} ev_view;

/* Reads a stored event's fields (data borrowed from p[0..n)). */
int ev_view_parse(const void *p, size_t n, ev_view *out);

/* Validates a published event (msgpack map at u) and writes its stored form
 * into out (the caller's pack): time = max(its time or now_ms, min_time);
 * source fills a missing source. err[cap] (caller's) gets the reason. */
int ev_event_encode(const tr_unpack *u, uint64_t now_ms, uint64_t min_time, const char *source,
                    tr_pack *out, char *err, size_t cap);

/* Appends the event for readers: {id, topic, ...stored fields}. */
int ev_event_pack(tr_pack *pk, const char *topic, uint64_t id, const void *p, size_t n);

/* A filter, owning copies of its strings (ev_filter_free). */
typedef struct ev_filter {
  char *types[EV_TYPES_MAX];
  uint32_t ntypes;
  char *key, *pi, *bk;
  uint8_t *attrs; /* raw msgpack map or NULL */
  size_t attrs_len;
} ev_filter;
/* Reads {filter?} from the request map u (absent: matches all). */
int ev_filter_parse(const tr_unpack *req, ev_filter *f, char *err, size_t cap);
void ev_filter_free(ev_filter *f);
bool ev_filter_match(const ev_filter *f, const ev_view *e);
bool ev_filter_is_all(const ev_filter *f);

/* Keys (ev_store.c); buf must hold TR_STORE_MAX_KEY bytes; return lengths. */
size_t ev_ix_key(uint8_t *buf, const char *topic, char field, ev_str val, uint64_t id);
size_t ev_cnt_key(uint8_t *buf, const char *topic, char gran, uint64_t start, ev_str type);
uint64_t ev_bucket_ms(char gran);
int ev_gran_of(const char *s, size_t n, char *gran);

/* Reading the queue of a topic (qname: "ev/<topic>"). */
typedef struct ev_reader {
  tr_store *st;
  tr_store_view *v;
  const char *qname;
  size_t qlen;
} ev_reader;
/* The first id whose time is >= t within [lo, hi] (hi + 1 if none). */
int ev_id_at_time(const ev_reader *r, uint64_t lo, uint64_t hi, uint64_t t, uint64_t *id);
/* One event by id: TR_ENOENT if gone. *p borrowed from the view. */
int ev_get(const ev_reader *r, uint64_t id, const void **p, size_t *n);

/* The topic's durable state, read at activation. indexed_to: every event
 * with id <= it has all its index entries written (ev_lag.h); a meta of
 * the first layout (24 bytes, from before entries were held back) reads as
 * UINT64_MAX: everything. */
typedef struct ev_meta {
  uint64_t bytes, max_age_ms, max_bytes, indexed_to;
} ev_meta;
enum { EV_META_SIZE = 32 };
int ev_meta_load(tr_store *st, tr_store_view *v, const ev_tables *t, const char *topic,
                 ev_meta *out);
void ev_meta_encode(const ev_meta *m, uint8_t out[EV_META_SIZE]);

/* The reads of the warehouse (ev_query.c, ev_agg.c): each answers the
 * request map req into out (the caller's pack) as {ok: true, ...} or
 * returns an error with err (caller's) set. first..last: the ids held. */
typedef struct ev_scope {
  tr_store *st;
  const ev_tables *tb;
  const char *topic;
  const char *qname;
  uint64_t first, last;
  /* the ids of the filter's pi (else bk) whose index entries were held
   * back when the read was asked (ev_lag.h): increasing, <= last */
  const uint64_t *held;
  uint32_t nheld;
} ev_scope;
int ev_query(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap);
int ev_count(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap);
int ev_distinct(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap);
int ev_funnel(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap);

/* Time range [from, to) of a request as ids [*lo, *hi] (lo > hi: none). */
int ev_range(const ev_scope *s, tr_store_view *v, uint64_t from_time, uint64_t to_time,
             uint64_t *lo, uint64_t *hi);

uint64_t ev_now_ms(void);

#endif
