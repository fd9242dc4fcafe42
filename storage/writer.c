/* writer.c - the one writer thread and its group commit.
 *
 * Submitters push requests onto a lock-free LIFO (one compare-and-swap; the
 * writer takes the whole list with one exchange and reverses it, so each
 * thread's requests keep their order). The writer takes everything queued
 * (up to max_batch_ops ops), applies it in one transaction, commits (in
 * sync mode: one fsync for all of it), and only then runs the completions.
 * Nothing waits for a batch to fill: the writer commits as soon as it is
 * free, and requests that arrive during a commit form the next batch.
 *
 * Failures, per request where possible:
 *  - an op that fails its own checks (duplicate seq, gap, corrupt record)
 *    before the request wrote anything fails only that request; if an
 *    earlier op of the same request already wrote, the transaction is
 *    rebuilt without the request (each rebuild drops one request);
 *  - MDB_MAP_FULL: the map grows (the gate waits for every view to end) and
 *    the batch is applied again (rare: after each commit the map grows ahead
 *    of need once three quarters of it are used, gate.c); at the limit the
 *    request that hit it fails with TR_EFULL, the ones before it are
 *    committed and the ones after it go back to the queue;
 *  - MDB_TXN_FULL: the batch is split the same way (a request too big on
 *    its own fails with TR_ETOOBIG);
 *  - any other LMDB error fails every request of the transaction (TR_EIO).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "storage/internal.h"
#include "troupe/system.h"

enum { RF_FAILED = 1 };
enum { MAX_BATCH_BYTES = 64 << 20 };

struct st_writer {
  tr_store_req *head, *tail; /* pending, in order */
  tr_store_req **batch;
  size_t cap;
  st_seqmap map;     /* committed: last seq of every pid with events in the jlog */
  st_seqmap overlay; /* the transaction being built */
  bool map_stale;    /* a commit could not update map: rebuild before the next */
  st_arena arena;
  st_removal *removals;
  size_t cap_removals;
  st_pend *pend, *pend_tmp;
  size_t cap_pend;
  st_fold fold;
  uint64_t round;
  /* nosync mode: a flusher thread syncs every sync_ms, so that the writer
   * never stalls behind a flush of everything written meanwhile */
  pthread_t flusher;
  bool flusher_started;
  bool flusher_stop; /* under flush_mu */
  pthread_mutex_t flush_mu;
  pthread_cond_t flush_cv;
  bool panicked; /* MDB_PANIC: the environment is unusable until reopened */
};

/* ---- the writer thread ---- */

static void collect(tr_store *s, st_writer *w) {
  tr_store_req *l = atomic_exchange(&s->inbox, NULL);
  if (!l) return;
  tr_store_req *rev = NULL, *last = l; /* the newest becomes the tail */
  while (l) {
    tr_store_req *n = l->next_;
    l->next_ = rev;
    rev = l;
    l = n;
  }
  last->next_ = NULL;
  if (w->tail) w->tail->next_ = rev;
  else w->head = rev;
  w->tail = last;
}

static void push_front(st_writer *w, tr_store_req **b, size_t n) {
  for (size_t i = n; i-- > 0;) {
    b[i]->flags_ = 0; /* judged again in the next batch */
    b[i]->status = 0;
    b[i]->next_ = w->head;
    w->head = b[i];
    if (!w->tail) w->tail = b[i];
  }
}

static size_t take_batch(tr_store *s, st_writer *w) {
  size_t n = 0, ops = 0, bytes = 0;
  while (w->head) {
    tr_store_req *r = w->head;
    uint32_t k;
    tr_store_op *o = st_req_ops(r, &k);
    size_t rb = 0;
    for (uint32_t i = 0; i < k; i++) rb += o[i].vlen + o[i].klen;
    if (n > 0 && (ops + k > s->max_batch_ops || bytes + rb > MAX_BATCH_BYTES)) break;
    if (n == w->cap) {
      size_t nc = w->cap ? w->cap * 2 : 1024;
      tr_store_req **nb = realloc(w->batch, nc * sizeof *nb);
      if (!nb) break; /* a smaller batch then (n >= 1: the array starts with room) */
      w->batch = nb;
      w->cap = nc;
    }
    w->head = r->next_;
    if (!w->head) w->tail = NULL;
    w->batch[n++] = r;
    ops += k;
    bytes += rb;
  }
  return n;
}

static void close_cursors(st_wtxn *t) {
  for (int i = 0; i < TBL_MAX; i++)
    if (t->cur[i]) {
      mdb_cursor_close(t->cur[i]);
      t->cur[i] = NULL;
    }
}

static void fail_rest(tr_store_req **b, size_t n, int status) {
  for (size_t i = 0; i < n; i++)
    if (!(b[i]->flags_ & RF_FAILED)) {
      b[i]->status = status;
      b[i]->flags_ |= RF_FAILED;
    }
}

static void log_full(tr_store *s) {
  if (!atomic_exchange(&s->at_limit, true))
    tr_log(TR_LOG_ERROR, ST_LOG,
           "%s: the map is full at its limit of %zu MiB: writes fail with TR_EFULL (reads go "
           "on) until the limit is raised (tr_store_set_map_limit, or reopen with a larger "
           "map_limit) or data is deleted",
           s->dir, atomic_load(&s->map_limit) >> 20);
}

/* After a commit: forget pids the fold moved out of the jlog, then record
 * this transaction's appends. */
static void commit_maps(tr_store *s, st_writer *w, st_wtxn *t) {
  for (size_t i = 0; i < t->n_removals; i++)
    st_seqmap_del(&w->map, t->removals[i].hash, t->removals[i].prefix, t->removals[i].plen);
  for (size_t i = 0; i < w->overlay.n_used; i++) {
    st_seqent *e = &w->overlay.e[w->overlay.used[i]];
    if (st_seqmap_put(&w->map, e->hash, e->prefix, e->plen, e->last, true)) {
      w->map_stale = true; /* out of memory: rebuilt from the jlog before the next batch */
      tr_log(TR_LOG_ERROR, ST_LOG, "%s: out of memory updating the journal cache", s->dir);
      break;
    }
  }
  if (t->fold_ran) {
    w->fold.ring[w->fold.steps % FOLD_SLICES] = t->round;
    w->fold.steps++;
  }
}

/* MDB_MAP_FULL: grows the map so the batch can be applied again (counted:
 * growth ahead of need should leave this rare). */
static bool grow_to_redo(tr_store *s, size_t seen) {
  if (st_grow(s, seen)) return false;
  atomic_fetch_add(&s->st_redone_full, 1);
  return true;
}

static int rebuild_map(tr_store *s, st_writer *w) {
  st_seqmap_free(&w->map);
  if (st_seqmap_init(&w->map, 1024)) return TR_ENOMEM;
  _Atomic int *d = st_gate_enter(s);
  uint64_t round;
  int rc = st_jlog_seed(s, &w->map, &round);
  st_gate_leave(s, d);
  if (rc) return st_mdb_err(rc);
  w->map_stale = false;
  return 0;
}

/* Applies b[0..n) in one transaction (rebuilding it as failures require).
 * Returns how many of b have a final status; the rest go back to the queue. */
/* the transaction's growable arrays outlive it */
static void keep_buffers(st_writer *w, const st_wtxn *t) {
  w->removals = t->removals;
  w->cap_removals = t->cap_removals;
  w->pend = t->pend;
  w->pend_tmp = t->pend_tmp;
  w->cap_pend = t->cap_pend;
}

static size_t run_batch(tr_store *s, st_writer *w, tr_store_req **b, size_t n) {
  size_t live = n;
  bool fold = true;
  if (w->panicked || (w->map_stale && rebuild_map(s, w))) {
    fail_rest(b, n, w->panicked ? TR_EIO : TR_ENOMEM);
    return n;
  }
  for (;;) {
    size_t first = 0;
    while (first < live && (b[first]->flags_ & RF_FAILED)) first++;
    if (first == live) return live; /* everything failed: nothing to commit */
    _Atomic int *d = st_gate_enter(s);
    size_t seen = atomic_load(&s->map_size);
    st_wtxn t = {.s = s, .round = w->round, .now_ms = st_wall_ms(), .map = &w->map,
                 .overlay = &w->overlay, .arena = &w->arena, .removals = w->removals,
                 .cap_removals = w->cap_removals, .fold = &w->fold, .pend = w->pend,
                 .pend_tmp = w->pend_tmp, .cap_pend = w->cap_pend};
    st_seqmap_clear(&w->overlay);
    st_arena_reset(&w->arena);
    int rc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
    if (rc) {
      st_gate_leave(s, d);
      if (rc == MDB_MAP_RESIZED && st_adopt_mapsize(s) == 0) continue;
      tr_log(TR_LOG_ERROR, ST_LOG, "%s: cannot begin a write transaction: %s", s->dir,
             mdb_strerror(rc));
      if (rc == MDB_PANIC) w->panicked = true;
      fail_rest(b, live, TR_EIO);
      return live;
    }
    enum { OK, REDO, MDBERR } verdict = OK;
    size_t i;
    for (i = first; i < live && verdict == OK; i++) {
      tr_store_req *r = b[i];
      if (r->flags_ & RF_FAILED) continue;
      t.req = i;
      uint32_t k;
      tr_store_op *ops = st_req_ops(r, &k);
      for (uint32_t j = 0; j < k; j++) {
        int orc = st_op_apply(&t, &ops[j]);
        if (orc == 0) continue;
        if (orc == ST_MDB) {
          verdict = MDBERR;
          break;
        }
        r->status = orc;
        r->flags_ |= RF_FAILED;
        if (j > 0) verdict = REDO; /* its earlier ops wrote: rebuild without it */
        break;
      }
      if (verdict == MDBERR) break;
    }
    if (verdict == OK && st_jlog_flush(&t) == ST_MDB) {
      verdict = MDBERR;
      i = t.blame;
    }
    bool fold_failed = false;
    if (verdict == OK && fold && st_fold_step(&t) == ST_MDB) fold_failed = true;
    size_t blame = i; /* the request that hit an LMDB error */
    close_cursors(&t);
    if (verdict == OK && !fold_failed) {
      rc = mdb_txn_commit(t.txn);
      st_gate_leave(s, d);
      keep_buffers(w, &t);
      if (rc == 0) {
        /* the dropped tables are empty for every view from now on */
        for (int q = 0; q < JLOG_TABLES; q++)
          if (t.dropped & (1u << q)) st_jf_clear(s, q);
        commit_maps(s, w, &t);
        (void)st_grow_ahead(s); /* a failure is logged; MDB_MAP_FULL tries again */
        w->round++;
        atomic_fetch_add(&s->st_commits, 1);
        uint64_t ops = 0;
        for (size_t q = 0; q < live; q++)
          if (!(b[q]->flags_ & RF_FAILED)) {
            uint32_t k;
            st_req_ops(b[q], &k);
            ops += k;
          }
        atomic_fetch_add(&s->st_ops, ops);
        return live;
      }
      t.mdb_rc = rc;
      verdict = MDBERR;
      blame = live;
      while (blame > first && (b[blame - 1]->flags_ & RF_FAILED)) blame--;
      blame = blame > first ? blame - 1 : first; /* the last request still in the txn */
    } else {
      mdb_txn_abort(t.txn);
      st_gate_leave(s, d);
      keep_buffers(w, &t);
    }
    if (verdict == REDO) continue;
    int e = t.mdb_rc;
    if (fold_failed && verdict == OK) {
      /* the fold step alone hit a limit: grow if possible, else commit the
       * batch without folding this time */
      if (e == MDB_MAP_FULL && grow_to_redo(s, seen)) continue;
      if (e == MDB_MAP_FULL || e == MDB_TXN_FULL || e == ENOMEM) {
        fold = false;
        continue;
      }
    } else if (e == MDB_MAP_FULL) {
      if (grow_to_redo(s, seen)) continue;
      log_full(s);
      b[blame]->status = TR_EFULL;
      b[blame]->flags_ |= RF_FAILED;
      atomic_fetch_add(&s->st_full, 1);
      live = blame + 1; /* later requests go back to the queue */
      fold = false;
      continue;
    } else if (e == MDB_TXN_FULL) {
      if (blame == first) {
        b[blame]->status = TR_ETOOBIG;
        b[blame]->flags_ |= RF_FAILED;
        live = blame + 1;
      } else {
        live = blame;
      }
      fold = false;
      continue;
    }
    if (e == MDB_PANIC) w->panicked = true;
    tr_log(TR_LOG_ERROR, ST_LOG, "%s: write transaction failed: %s (%d requests fail)", s->dir,
           mdb_strerror(e), (int)live);
    fail_rest(b, live, e == ENOMEM ? TR_ENOMEM : TR_EIO);
    return live;
  }
}

static void complete(tr_store *s, tr_store_req **b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tr_store_req *r = b[i];
    if (!(r->flags_ & RF_FAILED)) r->status = 0;
    tr_store_done_fn fn = r->done;
    void *arg = r->arg;
    int status = r->status;
    /* r may be freed by its own completion */
    if (fn) fn(arg, status);
  }
  atomic_fetch_add(&s->st_requests, n);
}

static void *flusher_main(void *arg) {
  tr_store *s = arg;
  st_writer *w = s->w;
  pthread_setname_np(pthread_self(), "tr-store-sync");
  uint64_t synced = atomic_load(&s->st_commits);
  pthread_mutex_lock(&w->flush_mu);
  while (!w->flusher_stop) {
    uint64_t at = st_now_ns() + (uint64_t)s->sync_ms * 1000000u;
    struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
    while (!w->flusher_stop &&
           pthread_cond_timedwait(&w->flush_cv, &w->flush_mu, &ts) != ETIMEDOUT) {
    }
    if (w->flusher_stop) break;
    uint64_t c = atomic_load(&s->st_commits);
    if (c == synced) continue;
    pthread_mutex_unlock(&w->flush_mu);
    /* an fdatasync of the data file: safe next to the writer's commits */
    int rc = mdb_env_sync(s->env, 1);
    if (rc)
      tr_log(TR_LOG_ERROR, ST_LOG, "%s: flushing to disk failed: %s", s->dir, mdb_strerror(rc));
    synced = c;
    pthread_mutex_lock(&w->flush_mu);
  }
  pthread_mutex_unlock(&w->flush_mu);
  return NULL;
}

static void wait_work(tr_store *s) {
  atomic_store(&s->sleeping, 1);
  if (atomic_load(&s->inbox) || atomic_load(&s->closing)) {
    atomic_store(&s->sleeping, 0);
    return;
  }
  pthread_mutex_lock(&s->wake_mu);
  while (atomic_load(&s->sleeping)) pthread_cond_wait(&s->wake_cv, &s->wake_mu);
  pthread_mutex_unlock(&s->wake_mu);
}

static void *writer_main(void *arg) {
  tr_store *s = arg;
  st_writer *w = s->w;
  pthread_setname_np(pthread_self(), "tr-store-writer");
  for (;;) {
    collect(s, w);
    if (!w->head) {
      if (atomic_load(&s->closing)) {
        if (atomic_load(&s->submitting) == 0 && !atomic_load(&s->inbox)) break;
        sched_yield(); /* a submitter is between its check and its push */
        continue;
      }
      wait_work(s);
      continue;
    }
    size_t n = take_batch(s, w);
    size_t done = run_batch(s, w, w->batch, n);
    if (done < n) push_front(w, w->batch + done, n - done);
    complete(s, w->batch, done);
  }
  return NULL;
}

int st_writer_start(tr_store *s, st_seqmap *seed, uint64_t round) {
  st_writer *w = calloc(1, sizeof *w);
  if (!w) return TR_ENOMEM;
  w->cap = 1024;
  w->batch = malloc(w->cap * sizeof *w->batch);
  if (!w->batch || st_seqmap_init(&w->overlay, 1024)) {
    free(w->batch);
    free(w);
    return TR_ENOMEM;
  }
  w->map = *seed; /* taken over */
  w->round = round;
  pthread_mutex_init(&w->flush_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->flush_cv, &ca);
  pthread_condattr_destroy(&ca);
  s->w = w;
  if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
    s->w = NULL;
    memset(&w->map, 0, sizeof w->map); /* still the caller's */
    st_seqmap_free(&w->overlay);
    pthread_mutex_destroy(&w->flush_mu);
    pthread_cond_destroy(&w->flush_cv);
    free(w->batch);
    free(w);
    return TR_EIO;
  }
  s->thread_started = true;
  if (s->durability == TR_STORE_NOSYNC &&
      pthread_create(&w->flusher, NULL, flusher_main, s) == 0)
    w->flusher_started = true;
  if (s->durability == TR_STORE_NOSYNC && !w->flusher_started)
    tr_log(TR_LOG_WARN, ST_LOG, "%s: no flusher thread: nosync data reaches disk only at close",
           s->dir);
  return 0;
}

void st_writer_stop(tr_store *s) {
  if (!s->thread_started) return;
  atomic_store(&s->closing, 1);
  atomic_store(&s->sleeping, 0);
  pthread_mutex_lock(&s->wake_mu);
  pthread_cond_signal(&s->wake_cv);
  pthread_mutex_unlock(&s->wake_mu);
  pthread_join(s->thread, NULL);
  s->thread_started = false;
  st_writer *w = s->w;
  if (w->flusher_started) {
    pthread_mutex_lock(&w->flush_mu);
    w->flusher_stop = true;
    pthread_cond_signal(&w->flush_cv);
    pthread_mutex_unlock(&w->flush_mu);
    pthread_join(w->flusher, NULL);
  }
  if (s->durability == TR_STORE_NOSYNC) {
    int rc = mdb_env_sync(s->env, 1);
    if (rc)
      tr_log(TR_LOG_ERROR, ST_LOG, "%s: flushing to disk failed: %s", s->dir, mdb_strerror(rc));
  }
  pthread_mutex_destroy(&w->flush_mu);
  pthread_cond_destroy(&w->flush_cv);
  st_seqmap_free(&w->map);
  st_seqmap_free(&w->overlay);
  st_arena_free(&w->arena);
  free(w->removals);
  free(w->pend);
  free(w->pend_tmp);
  free(w->batch);
  free(w);
  s->w = NULL;
}
