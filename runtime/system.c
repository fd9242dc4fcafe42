/* system.c - one node's runtime: start-up, shutdown in order, calls from
 * threads outside the schedulers, introspection. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocking.h"
#include "core.h"
#include "deadletter.h"
#include "registry.h"
#include "slots.h"
#include "storage/store.h"
#include "virtual.h"

typedef struct tr_waiter {
  struct tr_waiter *next;
  uint64_t corr;
  pthread_cond_t cond;
  tr_mnode *reply;
} tr_waiter;

static _Atomic uint64_t system_serial;

/* ------------------------------------------------------------ time */

uint64_t tr_now_ms(void) { return uv_hrtime() / 1000000u; }

uint64_t tr_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ external threads */

static _Thread_local struct {
  uint64_t serial;
  tr_ebr_rec *rec;
} tls_ext;

static uint64_t sys_serial(tr_system *sys) { return sys->serial; }

tr_ebr_rec *tr_thread_ebr(tr_system *sys) {
  tr_worker *w = tr_tls_worker;
  if (w && w->sys == sys) return w->ebr;
  if (tls_ext.rec && tls_ext.serial == sys_serial(sys)) return tls_ext.rec;
  tls_ext.rec = tr_ebr_rec_acquire(&sys->ebr);
  tls_ext.serial = sys_serial(sys);
  return tls_ext.rec;
}

void tr_external_enter(tr_system *sys) {
  tr_ebr_rec *r = tr_thread_ebr(sys);
  if (r) tr_ebr_enter(&sys->ebr, r);
}

void tr_external_exit(tr_system *sys) {
  tr_ebr_rec *r = tr_thread_ebr(sys);
  if (r) tr_ebr_exit(r);
}

/* ------------------------------------------------------------ root */

static int root_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)ctx;
  (void)state;
  (void)msg;
  return 0;
}

static const tr_behavior root_behavior = {.name = "root", .receive = root_receive};

/* ------------------------------------------------------------ lifecycle */

int tr_system_new(const tr_config *cfg, tr_system **out) {
  if (!out) return TR_EINVAL;
  tr_system *sys = calloc(1, sizeof *sys);
  if (!sys) return TR_ENOMEM;
  if (cfg) sys->cfg = *cfg;
  if (!sys->cfg.threads) sys->cfg.threads = uv_available_parallelism();
  if (sys->cfg.threads > 64) sys->cfg.threads = 64;
  if (!sys->cfg.blocking_threads) sys->cfg.blocking_threads = 4;
  if (!sys->cfg.batch) sys->cfg.batch = 128;
  if (!sys->cfg.spin_us) sys->cfg.spin_us = 50;
  sys->serial = atomic_fetch_add(&system_serial, 1) + 1;
  sys->nworkers = sys->cfg.threads;
  tr_pool_init(&sys->pool);
  tr_ebr_init(&sys->ebr);
  pthread_mutex_init(&sys->gq_lock, NULL);
  pthread_mutex_init(&sys->wait_lock, NULL);
  pthread_mutex_init(&sys->done_lock, NULL);
  pthread_cond_init(&sys->done_cond, NULL);
  pthread_mutex_init(&sys->vdir_mu, NULL);
  sys->slots = tr_slots_new();
  sys->registry = tr_registry_new();
  sys->dl = tr_dl_new();
  void *wmem = NULL;
  if (posix_memalign(&wmem, 64, sizeof(tr_worker) * sys->nworkers) == 0) sys->workers = wmem;
  int rc = TR_ENOMEM;
  if (sys->slots && sys->registry && sys->dl && sys->workers) {
    memset(sys->workers, 0, sizeof(tr_worker) * sys->nworkers);
    rc = tr_sched_start(sys);
    if (rc < 0) tr_sched_stop(sys); /* the threads that started see `stopping` */
  }
  if (rc < 0) {
    tr_slots_free(sys->slots);
    tr_registry_free(sys->registry);
    tr_dl_free(sys->dl);
    free(sys->workers);
    free(sys);
    return rc;
  }
  sys->blocking = tr_blocking_new(sys, sys->cfg.blocking_threads);
  if (sys->cfg.data_dir) {
    tr_store_opts so = {.map_limit = sys->cfg.map_limit,
                        .durability = sys->cfg.durability == TR_DURABLE_NOSYNC ? TR_STORE_NOSYNC
                                                                               : TR_STORE_SYNC};
    rc = tr_store_open(sys->cfg.data_dir, &so, &sys->store);
    if (rc < 0) {
      tr_log(TR_LOG_ERROR, "runtime", "cannot open the store in %s: %s", sys->cfg.data_dir,
             tr_strerror(rc));
      sys->store = NULL;
      tr_system_free(sys);
      return rc;
    }
  }
  tr_external_enter(sys);
  rc = tr_actor_spawn_under(sys, NULL, 0, &root_behavior, NULL, NULL, NULL, 0,
                            &sys->root_ref, &sys->root, NULL);
  tr_external_exit(sys);
  if (rc < 0 || !sys->blocking) {
    tr_system_free(sys);
    return rc < 0 ? rc : TR_ENOMEM;
  }
  *out = sys;
  return 0;
}

void tr_system_shutdown(tr_system *sys) {
  if (!sys) return;
  pthread_mutex_lock(&sys->done_lock);
  int send = !sys->shutdown_sent && sys->root;
  sys->shutdown_sent = 1;
  pthread_mutex_unlock(&sys->done_lock);
  if (!send) return;
  tr_external_enter(sys);
  tr_sys_send(sys, TR_REF_NONE, sys->root_ref, TR_SYS_STOP, NULL, 0);
  tr_external_exit(sys);
}

int tr_system_wait(tr_system *sys) {
  if (!sys) return TR_EINVAL;
  if (tr_tls_worker && tr_tls_worker->sys == sys) return TR_EDEADLK;
  pthread_mutex_lock(&sys->done_lock);
  while (!sys->done && sys->root) pthread_cond_wait(&sys->done_cond, &sys->done_lock);
  pthread_mutex_unlock(&sys->done_lock);
  return 0;
}

void tr_system_free(tr_system *sys) {
  if (!sys) return;
  tr_system_shutdown(sys);
  tr_system_wait(sys);
  /* blocking jobs finish first: their results become dead letters; then the
   * store completes what was submitted (acks to exited actors likewise) */
  tr_blocking_free(sys->blocking);
  if (sys->store) tr_store_close(sys->store);
  tr_sched_stop(sys);
  /* no thread runs now: reclaim everything retired, then the root */
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    tr_worker *w = &sys->workers[i];
    tr_tls_worker = w; /* frees go to this worker's caches */
    tr_ebr_drain(&w->limbo);
    tr_tls_worker = NULL;
  }
  if (sys->root) tr_actor_free(sys, sys->root);
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    tr_worker *w = &sys->workers[i];
    tr_pool_cache_flush(&sys->pool, &w->cache);
  }
  tr_virtual_free(sys);
  pthread_mutex_destroy(&sys->vdir_mu);
  tr_slots_free(sys->slots);
  tr_registry_free(sys->registry);
  tr_dl_free(sys->dl);
  tr_ebr_destroy(&sys->ebr);
  tr_pool_destroy(&sys->pool);
  pthread_mutex_destroy(&sys->gq_lock);
  pthread_mutex_destroy(&sys->wait_lock);
  pthread_mutex_destroy(&sys->done_lock);
  pthread_cond_destroy(&sys->done_cond);
  free(sys->workers);
  free(sys);
}

uint64_t tr_system_node_id(tr_system *sys) { return sys ? sys->cfg.node_id : 0; }
uint32_t tr_system_threads(tr_system *sys) { return sys ? sys->nworkers : 0; }

/* ------------------------------------------------------------ external calls */

int tr_system_spawn(tr_system *sys, const tr_behavior *b, const void *arg,
                    const tr_spawn_opts *opts, tr_ref *out) {
  if (!sys) return TR_EINVAL;
  tr_external_enter(sys);
  int rc = tr_actor_spawn_under(sys, sys->root, 1, b, arg, opts, NULL, 0, out, NULL, NULL);
  tr_external_exit(sys);
  return rc;
}

int tr_system_send(tr_system *sys, tr_ref to, uint32_t type, const void *data, size_t len) {
  if (!sys || (len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  tr_mnode *n = tr_msg_new(sys, TR_REF_NONE, type, 0, 0, data, len);
  if (!n) return len > (64u << 20) ? TR_ETOOBIG : TR_ENOMEM;
  tr_external_enter(sys);
  int rc = tr_deliver(sys, to, n, 0);
  tr_external_exit(sys);
  return rc;
}

int tr_system_stop(tr_system *sys, tr_ref who) {
  if (!sys) return TR_EINVAL;
  tr_external_enter(sys);
  int rc = tr_sys_send(sys, TR_REF_NONE, who, TR_SYS_STOP, NULL, 0);
  tr_external_exit(sys);
  return rc;
}

void tr_waiter_complete(tr_system *sys, tr_mnode *n) {
  pthread_mutex_lock(&sys->wait_lock);
  for (tr_waiter **p = &sys->waiters; *p; p = &(*p)->next) {
    tr_waiter *w = *p;
    if (w->corr == n->m.corr && (n->m.flags & TR_MSG_F_REPLY)) {
      /* the caller frees it with tr_msg_free(): give it a malloc'd copy */
      size_t total = TR_MNODE_HDR + n->m.len;
      tr_mnode *c = malloc(total);
      if (!c) break; /* reported as a late reply; the asker times out */
      memcpy(c, n, total);
      c->m.internal_ = TR_POOL_MALLOC;
      tr_msg_release(sys, n);
      *p = w->next;
      w->reply = c;
      pthread_cond_signal(&w->cond);
      pthread_mutex_unlock(&sys->wait_lock);
      return;
    }
  }
  pthread_mutex_unlock(&sys->wait_lock);
  tr_dl_record(sys->dl, (tr_ref){sys->cfg.node_id, TR_ID_EXTERNAL}, &n->m, TR_DL_LATE_REPLY);
  tr_msg_release(sys, n);
}

int tr_external_ask(tr_system *sys, tr_route_fn route, void *rarg, uint32_t type,
                    const void *data, size_t len, uint32_t timeout_ms, tr_msg **reply) {
  if (!sys || !reply || (len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  if (tr_tls_worker && tr_tls_worker->sys == sys) return TR_EDEADLK;
  tr_waiter w;
  memset(&w, 0, sizeof w);
  w.corr = tr_next_id(sys);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w.cond, &ca);
  pthread_condattr_destroy(&ca);
  tr_mnode *n = tr_msg_new(sys, (tr_ref){sys->cfg.node_id, TR_ID_EXTERNAL}, type, TR_MSG_F_ASK,
                           w.corr, data, len);
  if (!n) {
    pthread_cond_destroy(&w.cond);
    return TR_ENOMEM;
  }
  pthread_mutex_lock(&sys->wait_lock);
  w.next = sys->waiters;
  sys->waiters = &w;
  pthread_mutex_unlock(&sys->wait_lock);
  tr_external_enter(sys);
  int rc = route(sys, n, rarg);
  tr_external_exit(sys);
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&sys->wait_lock);
  if (rc == 0)
    while (!w.reply)
      if (pthread_cond_timedwait(&w.cond, &sys->wait_lock, &until) != 0) break;
  if (!w.reply) {
    for (tr_waiter **p = &sys->waiters; *p; p = &(*p)->next)
      if (*p == &w) {
        *p = w.next;
        break;
      }
  }
  pthread_mutex_unlock(&sys->wait_lock);
  pthread_cond_destroy(&w.cond);
  if (!w.reply) return rc < 0 ? rc : TR_ETIMEDOUT;
  *reply = &w.reply->m;
  return 0;
}

int tr_system_ask(tr_system *sys, tr_ref to, uint32_t type, const void *data, size_t len,
                  uint32_t timeout_ms, tr_msg **reply) {
  return tr_external_ask(sys, tr_route_ref, &to, type, data, len, timeout_ms, reply);
}

void tr_msg_free(tr_msg *msg) {
  if (!msg) return;
  free(tr_mnode_of(msg)); /* replies handed out by tr_system_ask are malloc'd */
}

/* ------------------------------------------------------------ introspection */

uint64_t tr_system_dead_letter_count(tr_system *sys) { return sys ? tr_dl_count(sys->dl) : 0; }

size_t tr_system_dead_letters(tr_system *sys, tr_dead_letter *out, size_t max) {
  if (!sys || !out) return 0;
  return tr_dl_copy(sys->dl, out, max);
}

uint64_t tr_system_actor_count(tr_system *sys) { return sys ? atomic_load(&sys->nactors) : 0; }

static void fill_info(tr_system *sys, tr_actor *a, tr_actor_info *info) {
  memset(info, 0, sizeof *info);
  info->ref = tr_actor_ref(sys, a);
  info->parent = a->parent ? tr_actor_ref(sys, a->parent) : TR_REF_NONE;
  info->behavior = a->beh->name ? a->beh->name : "";
  info->mailbox_depth = tr_actor_depth(a);
  info->processed = atomic_load_explicit(&a->processed, memory_order_relaxed);
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_acquire);
  if (x) {
    info->children = atomic_load_explicit(&x->nchildren, memory_order_relaxed);
    char *nm = atomic_load(&x->name);
    if (nm) snprintf(info->name, sizeof info->name, "%s", nm);
  }
  uint32_t st = atomic_load(&a->state);
  info->status = (st & TR_AS_DEAD)      ? TR_ACTOR_DEAD
                 : (st & TR_AS_EXITING) ? TR_ACTOR_STOPPING
                 : (st & TR_AS_SCHEDULED) ? TR_ACTOR_RUNNABLE
                                          : TR_ACTOR_IDLE;
}

int tr_system_actors(tr_system *sys, tr_actor_visit_fn fn, void *arg) {
  if (!sys || !fn) return TR_EINVAL;
  tr_external_enter(sys);
  uint32_t high = tr_slots_high(sys->slots);
  int rc = 0;
  for (uint32_t i = 2; i < high; i++) {
    tr_actor *a = tr_slots_at(sys->slots, i);
    if (!a) continue;
    tr_actor_info info;
    fill_info(sys, a, &info);
    if (info.status == TR_ACTOR_DEAD) continue;
    if (fn(&info, arg)) break;
  }
  tr_external_exit(sys);
  return rc;
}

int tr_system_actor_info(tr_system *sys, tr_ref ref, tr_actor_info *out) {
  if (!sys || !out) return TR_EINVAL;
  if (ref.node && ref.node != sys->cfg.node_id) return TR_ENOENT;
  tr_external_enter(sys);
  tr_actor *a = tr_slots_get(sys->slots, ref.id);
  int rc = TR_ENOENT;
  if (a) {
    fill_info(sys, a, out);
    rc = out->status == TR_ACTOR_DEAD ? TR_ENOENT : 0;
  }
  tr_external_exit(sys);
  return rc;
}

const char *tr_version(void) { return TROUPE_VERSION_STRING; }
