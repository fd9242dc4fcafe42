/* ev_actor.h - the state of an "events/<topic>" activation, shared by the
 * actor (ev_actor.c) and its subscriptions (ev_subs.c). */
#ifndef TR_EV_ACTOR_H
#define TR_EV_ACTOR_H

#include "actors/events/ev_lag.h"
#include "actors/events/ev_write.h"

typedef struct ev_sub {
  struct ev_sub *next;
  tr_ref who;
  ev_filter f;
  uint64_t cursor;  /* every id <= cursor was delivered or did not match */
  uint64_t expires; /* ms since the epoch */
  bool live;        /* caught up: gets each write as it lands */
} ev_sub;

/* A read running on the blocking pool, and whom to answer. */
typedef struct ev_asker {
  uint64_t job;
  tr_ref who;
  uint64_t corr;
} ev_asker;
enum { EV_READS_MAX = 64 }; /* per activation of a topic; more are refused (TR_EAGAIN) */

typedef struct ev_state {
  char topic[TR_EV_TOPIC_MAX + 1];
  char qname[TR_EV_TOPIC_MAX + 8];
  tr_store *st;
  ev_tables tb;
  uint64_t first, last; /* ids held and durable (first > last: none) */
  uint64_t last_time;   /* of the newest event accepted */
  ev_meta meta;
  ev_write *pend;       /* accepted, waiting for the write in flight */
  uint32_t npend;
  ev_write *flight;     /* the write in flight, or NULL */
  ev_sub *subs;
  bool catching_up;     /* an EV_I_CATCHUP is on its way */
  uint64_t timer;       /* the tick's timer, 0 while it does not run */
  uint64_t dropped;     /* events sent (not asked) and refused: too many waiting */
  uint64_t dropped_log; /* when that was last logged (ms) */
  ev_asker reads[EV_READS_MAX];
  uint32_t nreads;
  ev_lag lag;           /* pi and bk entries of durable events, not written yet */
  bool lag_lost;        /* the lag misses entries: rebuild it before a write */
  uint64_t lag_retry;   /* a write with lag entries failed: none until then (lag clock) */
  bool adopted;         /* flight is an earlier activation's: reload once it lands */
  bool set_retention;   /* retention was set while adopted: keep it over the reload */
} ev_state;

/* Writes left in flight by an ended activation (ev_orphan.c). */
/* The write's completion (the store's writer thread): false if it was an
 * orphan (freed here), else true with whom to tell (w is the actor's then). */
bool ev_orphan_done(ev_write *w, tr_system **sys, tr_ref *self);
/* The activation ends with w in flight: w becomes an orphan of topic, or is
 * freed if it already completed. */
void ev_orphan_leave(ev_write *w, const char *topic);
/* At activation: the orphan of topic on sys, now in flight for self (its
 * completion tells self), or NULL. */
ev_write *ev_orphan_adopt(tr_system *sys, const char *topic, tr_ref self);

/* Writes (ev_actor.c). */
void ev_flush(tr_ctx *ctx, ev_state *s, bool retention);
/* The write in flight completed: answers, deliveries, the next write. A
 * negative return ends the activation (the state could not be read). */
int ev_write_landed(tr_ctx *ctx, ev_state *s);
int ev_reply_pack(tr_ctx *ctx, const tr_msg *m, tr_pack *pk);
/* An error answer to m if it was asked (text copied). */
int ev_reply_err(tr_ctx *ctx, const tr_msg *m, int code, const char *text);
/* Starts or stops the tick as leases and retention need it. */
void ev_timer_update(tr_ctx *ctx, ev_state *s);
/* Makes the lag whole again if it lost entries (ev_actor.c); 0 or the error
 * that kept it from being read (the lag stays lost). */
int ev_lag_mend(ev_state *s);

/* Reads (ev_read.c): TR_EV_QUERY, _COUNT, _DISTINCT and _FUNNEL run on the
 * blocking pool; the asker is answered when EV_I_READ comes back. */
int ev_read_start(tr_ctx *ctx, ev_state *s, const tr_msg *m);
void ev_read_done(tr_ctx *ctx, ev_state *s, const tr_msg *m);
/* The activation ends (moved, stopped) with reads running: their askers
 * hear TR_EAGAIN now rather than wait out their timeouts. */
void ev_read_abandon(tr_ctx *ctx, ev_state *s);
extern void (*ev_read_hook)(void); /* tests only: runs first in every read job */
/* tests only: runs first in every receive; a nonzero return ends the activation
 * as a failed receive would */
extern int (*ev_receive_hook)(uint32_t type);

/* Subscriptions (ev_subs.c). */
int ev_subs_subscribe(tr_ctx *ctx, ev_state *s, const tr_msg *m);
int ev_subs_unsubscribe(tr_ctx *ctx, ev_state *s, const tr_msg *m);
void ev_subs_live(tr_ctx *ctx, ev_state *s, const ev_write *w);
void ev_subs_catchup(tr_ctx *ctx, ev_state *s);
void ev_subs_tick(tr_ctx *ctx, ev_state *s);
void ev_subs_free(ev_state *s);

#endif
