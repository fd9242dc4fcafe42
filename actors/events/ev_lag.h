/* ev_lag.h - the index entries by process instance and business key that
 * a topic has not written yet (ev_lag.c).
 *
 * Why: an event's pi and bk entries land on two B-tree leaves of their
 * own (each value's newest ids sit at the end of its range), so writing
 * them with the event costs two random page writes per event, most of a
 * commit's pages at 10,000 events/s. Held back for EV_LAG_MS, a value's
 * entries go out together, several ids per page.
 *
 * What keeps it whole:
 *  - an entry stays here until the write that puts it is durable: a write
 *    takes entries out (ev_lag_take) and they wait, still found by
 *    ev_lag_find, until ev_lag_landed drops them (or, if the write failed,
 *    puts them back first in line);
 *  - every event with id <= the topic's indexed_to (in its meta, written
 *    by every write) has all its entries in the index, so after a restart
 *    the lag is rebuilt from the events after it;
 *  - a read copies the held ids of its pi or bk when it starts and merges
 *    them with what the index has in its view (ev_query.c). */
#ifndef TR_EV_LAG_H
#define TR_EV_LAG_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/events/ev_int.h"

enum {
  EV_LAG_MS = 1000,      /* how long entries wait to be written with others */
  EV_LAG_MAX = 100000,   /* pending entries beyond which all go out at once */
  EV_LAG_BUDGET = 4096   /* entries per write, plus 4 per event written */
};

typedef struct ev_lagkey ev_lagkey;

typedef struct ev_lag {
  ev_lagkey **tab;        /* open hash of the values with pending ids */
  uint32_t cap, nkeys;
  ev_lagkey *head, *tail; /* waiting values, oldest first pending id first */
  ev_lagkey *fly, *fly_tail; /* taken by the write in flight, in the same order */
  uint64_t nids;          /* pending entries, waiting or in flight */
} ev_lag;

/* The lag's clock: monotonic ms (a wall clock set back must not hold
 * entries back for as long). */
uint64_t ev_lag_clock(void);

/* Adds the entry (field 'p' or 'b', value v copied, id) that landed at
 * now_ms. Ids of one value must come in increasing order. */
int ev_lag_add(ev_lag *l, char field, ev_str v, uint64_t id, uint64_t now_ms);

/* Adds the pi and bk entries of an event (e borrowed). */
int ev_lag_add_event(ev_lag *l, const ev_view *e, uint64_t id, uint64_t now_ms);

/* Called for each value taken: ids[0..n) in increasing order; v and ids
 * are borrowed for the call. A negative return stops the take with it. */
typedef int (*ev_lag_fn)(void *arg, char field, ev_str v, const uint64_t *ids, uint32_t n);

/* Takes out, oldest first, the values whose first pending entry is at
 * least EV_LAG_MS old at now_ms (every value if all), while fewer than
 * budget entries were taken; each goes to fn and then in flight. Returns
 * the entries taken or fn's error (what was taken is in flight all the
 * same: the caller's write fails and says so to ev_lag_landed). At most
 * one take is in flight: ev_lag_landed comes before the next. */
int64_t ev_lag_take(ev_lag *l, uint64_t now_ms, bool all, uint64_t budget, ev_lag_fn fn,
                    void *arg);

/* The write of the values in flight is durable (ok) and they are dropped,
 * or it failed and they wait again, first in line. */
void ev_lag_landed(ev_lag *l, bool ok);

/* Whether a waiting value is due at now_ms. */
bool ev_lag_due(const ev_lag *l, uint64_t now_ms);

/* The smallest waiting id (in flight not counted), 0 if none. */
uint64_t ev_lag_oldest(const ev_lag *l);

/* The pending ids of a value, waiting or in flight (ids[0..n), increasing,
 * borrowed until the lag changes); 0 if none. */
uint32_t ev_lag_find(const ev_lag *l, char field, ev_str v, const uint64_t **ids);

/* Forgets everything, in flight too (the table stays allocated). */
void ev_lag_clear(ev_lag *l);
/* Forgets everything and frees the table. */
void ev_lag_free(ev_lag *l);

#endif
