/* blocking.h - a pool of threads for work that must not run on a scheduler
 * (DNS, files, subprocesses, slow libraries). Results come back as messages. */
#ifndef TR_BLOCKING_H
#define TR_BLOCKING_H

#include "core.h"

#define TR_BUF_MAX (64u << 20) /* a result larger than this fails the job */

struct tr_buf {
  uint8_t *data;
  size_t len, cap;
};

tr_blocking *tr_blocking_new(tr_system *sys, uint32_t threads);
/* Queues fn(arg) for the pool; its result goes to `to` as a message of
 * `type` (to the system mailbox when system is set). */
int tr_blocking_run(tr_system *sys, tr_ref to, tr_blocking_fn fn, void *arg, uint32_t type,
                    int system, uint64_t *id);
/* Runs the queued jobs to the end, then joins the threads. */
void tr_blocking_free(tr_blocking *b);

#endif
