/* troupe/loop.h - running I/O on the schedulers' event loops.
 *
 * Each scheduler thread runs a libuv loop for its timers and wake-ups; a
 * component that does its own socket I/O (the HTTP server) opens its handles
 * on those loops instead of starting threads of its own, so its callbacks
 * run beside the actors and hand work to them without a thread hop.
 *
 * The loop is passed as void * so that this header does not pull in uv.h;
 * it is a uv_loop_t *. Rules for what runs on it:
 *  - callbacks must not block (they hold up every actor of that thread);
 *  - handles are opened and used only on their loop's thread (from a
 *    tr_loop_post callback or another callback of that loop);
 *  - every handle must be closed (and its close callback have run) before
 *    tr_system_shutdown(): a scheduler does not stop while a loop has
 *    active handles of someone else's.
 */
#ifndef TROUPE_LOOP_H
#define TROUPE_LOOP_H
#include <stdint.h>
#include "actor.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef void (*tr_loop_fn)(void *loop, void *arg);

/* Runs fn(loop, arg) soon on scheduler `index` (0 .. tr_system_threads()-1)
 * from any thread, waking it if it sleeps. arg is the caller's, passed
 * through. Calls posted to one scheduler run in order. TR_EINVAL for a bad
 * index, TR_ESTOPPED once the system is stopping, TR_ENOMEM. */
int tr_loop_post(tr_system *sys, uint32_t index, tr_loop_fn fn, void *arg);

/* The index of the scheduler thread calling, or -1 on any other thread. */
int tr_loop_current(tr_system *sys);

#ifdef __cplusplus
}
#endif
#endif
