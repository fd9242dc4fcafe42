/* ev_write.h - one write of a topic in flight (ev_write.c, ev_actor.c). */
#ifndef TR_EV_WRITE_H
#define TR_EV_WRITE_H

#include <stdatomic.h>

#include "actors/events/ev_int.h"

/* An accepted event waiting for its write: its stored bytes (owned) and,
 * once built, its fields (borrowed from p). */
typedef struct ev_item {
  uint8_t *p;
  size_t n;
  ev_view view;
} ev_item;

/* Who hears when the write is durable: events [at, at + n) of the write. */
typedef struct ev_waiter {
  tr_ref to;
  uint64_t corr;
  uint32_t at, n;
  uint8_t ask, many;
} ev_waiter;

struct ev_block;

typedef struct ev_write {
  /* 0 in flight, 1 completed (the actor was told), 2 orphaned: its
   * activation ended (the completion frees it, unless the next activation
   * adopts it first). Changed only under ev_orphan.c's lock. */
  _Atomic int state;
  tr_system *sys;
  tr_ref self;
  struct ev_write *orphan_next;
  char topic[TR_EV_TOPIC_MAX + 1]; /* set when orphaned */
  tr_store_req req;
  ev_tables tb;
  tr_store_op *ops;
  uint32_t nops, capops;
  ev_item *ev;
  uint32_t nev, capev;
  ev_waiter *waiters;
  uint32_t nwaiters, capwaiters;
  uint64_t first_id;  /* id of ev[0] */
  uint64_t drop_upto; /* retention: ids <= this are dropped (0: none) */
  ev_meta meta;       /* the topic's meta once this write is durable */
  uint8_t metabuf[EV_META_SIZE];
  struct ev_block *blocks;
} ev_write;

struct ev_lag;

typedef struct ev_build_in {
  const char *topic, *qname;
  uint64_t first, last, now; /* ids durable now */
  ev_meta meta;
  struct ev_lag *lag; /* held-back entries: the due ones are taken out */
  uint64_t lag_now;   /* ev_lag_clock() */
} ev_build_in;

/* Fills w->ops from w->ev, the due entries of in->lag and retention,
 * reading counters through v. Entries it takes from the lag are in flight
 * even if it fails: the write's landing tells the lag how it went. */
int ev_write_build(ev_write *w, tr_store *st, tr_store_view *v, const ev_build_in *in);
/* Frees w and everything it owns. */
void ev_write_free(ev_write *w);

#endif
