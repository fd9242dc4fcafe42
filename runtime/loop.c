/* loop.c - tr_loop_post / tr_loop_current (troupe/loop.h): the schedulers'
 * libuv loops lent to components that do their own socket I/O. A thin skin
 * over tr_sched_post, which already runs commands on a worker's thread. */
#include <stdlib.h>

#include "core.h"
#include "troupe/loop.h"

typedef struct {
  tr_loop_fn fn;
  void *arg;
} loop_call;

static void run_call(tr_worker *w, void *arg) {
  loop_call c = *(loop_call *)arg;
  free(arg);
  c.fn(&w->loop, c.arg);
}

int tr_loop_post(tr_system *sys, uint32_t index, tr_loop_fn fn, void *arg) {
  if (!sys || !fn || index >= sys->nworkers) return TR_EINVAL;
  if (atomic_load(&sys->stopping)) return TR_ESTOPPED;
  loop_call *c = malloc(sizeof *c);
  if (!c) return TR_ENOMEM;
  c->fn = fn;
  c->arg = arg;
  int rc = tr_sched_post(&sys->workers[index], run_call, c);
  if (rc < 0) free(c);
  return rc;
}

int tr_loop_current(tr_system *sys) {
  tr_worker *w = tr_tls_worker;
  return w && sys && w->sys == sys ? (int)w->index : -1;
}
