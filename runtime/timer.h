/* timer.h - actor timers on the schedulers' libuv loops.
 *
 * A timer lives on the loop of the worker that started it (libuv handles are
 * single-threaded); the actor that owns it may run anywhere. Both hold a
 * reference. Cancelling marks the timer and, from another thread, posts a
 * close command to its loop; the actor's own table decides whether a queued
 * tick is still wanted, so a cancelled timer never delivers.
 */
#ifndef TR_TIMER_H
#define TR_TIMER_H

#include "core.h"

struct tr_timer {
  uv_timer_t uv;
  tr_system *sys;
  tr_worker *owner;
  tr_ref target;
  uint64_t id;
  uint64_t delay, repeat;
  uint32_t type;
  uint16_t msg_flags;
  uint8_t is_ask;
  uint8_t closing;          /* owner thread only */
  uint8_t started;          /* owner thread only */
  _Atomic int refs;
  _Atomic int cancelled;
  _Atomic int in_flight;    /* periodic: a tick is queued and unhandled */
  uint32_t len;
  uint8_t data[];
};

/* Starts a timer for actor a (running on the calling thread). */
int tr_timer_create(tr_ctx *a, uint64_t delay_ms, uint64_t repeat_ms, uint32_t type,
                    const void *data, size_t len, int is_ask, uint64_t *id);
/* Cancels by id; returns TR_ENOENT if a has no such timer. */
int tr_timer_cancel_id(tr_ctx *a, uint64_t id);
/* Called for a TR_MSG_F_TIMER or ask-timeout message: 1 = deliver, 0 = drop. */
int tr_timer_on_message(tr_ctx *a, uint64_t id);
/* A reply with this corr arrived: 1 if the ask was still pending (its
 * timeout is cancelled), 0 if it had timed out already. */
int tr_timer_ask_done(tr_ctx *a, uint64_t corr);
/* Cancels every timer of an exiting actor. */
void tr_timer_cancel_all(tr_ctx *a);

/* Worker side: close every timer of a loop at exit. */
void tr_timer_close_all(tr_worker *w);

#endif
