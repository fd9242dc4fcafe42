/* env.c - the LMDB environment of a data dir: open (map size, stale
 * readers, tables, the journal log's fold) and close, limits, stats.
 *
 * A read-write open takes an exclusive flock on <dir>/troupe.lock: the
 * writer keeps derived state in memory (the journal's last-seq cache), so
 * a second writing process would break it. Read-only opens (tools) share
 * the environment through LMDB's own locking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/internal.h"
#include "troupe/system.h"

static const char *const table_names[TBL_USER0] = {
    "meta", "journal", "jlog0", "jlog1", "jlog2", "jmeta", "snap", "kv", "kvexp", "queue", "qmeta"};
_Static_assert(JLOG_TABLES == 3, "table_names lists three jlog tables");

int st_scan_result(int rc, int stop, bool corrupt) {
  if (rc) return st_mdb_err(rc);
  if (stop) return stop < 0 ? stop : 0;
  return corrupt ? TR_ECORRUPT : 0;
}

int st_mdb_err(int rc) {
  switch (rc) {
  case 0: return 0;
  case MDB_MAP_FULL: return TR_EFULL;
  case MDB_NOTFOUND: return TR_ENOENT;
  case MDB_KEYEXIST: return TR_EEXIST;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID: return TR_ECORRUPT;
  case MDB_VERSION_MISMATCH: return TR_EVERSION;
  case MDB_TXN_FULL:
  case MDB_BAD_VALSIZE: return TR_ETOOBIG;
  case MDB_READERS_FULL: return TR_EAGAIN;
  case ENOMEM: return TR_ENOMEM;
  case EACCES:
  case EPERM:
  case EROFS: return TR_EPERM;
  case ENOENT: return TR_ENOENT;
  case EINVAL: return TR_EINVAL;
  default: return TR_EIO;
  }
}

static int init_tables(tr_store *s) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
  if (rc) return st_mdb_err(rc);
  if ((rc = st_check_format(s, txn))) goto fail;
  for (int t = 0; t < TBL_USER0; t++) {
    int mrc = mdb_dbi_open(txn, table_names[t], s->read_only ? 0 : MDB_CREATE, &s->dbi[t]);
    if (mrc) {
      tr_log(TR_LOG_ERROR, ST_LOG, "%s: table %s: %s", s->dir, table_names[t], mdb_strerror(mrc));
      rc = mrc == MDB_NOTFOUND ? TR_ECORRUPT : st_mdb_err(mrc);
      goto fail;
    }
  }
  if ((rc = st_read_id(s, txn))) goto fail;
  /* committing (also a read-only txn) keeps the table handles open */
  rc = mdb_txn_commit(txn);
  if (rc) {
    tr_log(TR_LOG_ERROR, ST_LOG, "%s: commit at open: %s", s->dir, mdb_strerror(rc));
    return st_mdb_err(rc);
  }
  return 0;
fail:
  mdb_txn_abort(txn);
  return rc;
}

/* Picks the map size: the configured initial size, doubled until the data
 * fits with room to spare, but not past the limit (unless the data is
 * already bigger: LMDB never maps less than the used pages). */
static int size_map(tr_store *s, size_t initial) {
  MDB_envinfo info;
  int rc = mdb_env_info(s->env, &info);
  if (rc) return st_mdb_err(rc);
  size_t used = (info.me_last_pgno + 1) * s->psize;
  size_t lim = atomic_load(&s->map_limit);
  size_t want = initial;
  while (want < used + used / 4 && want < lim) want = want > lim / 2 ? lim : want * 2;
  if (want > lim) want = lim;
  if (want < used) want = used;
  want -= want % s->psize;
  if (want != info.me_mapsize && !s->read_only) {
    if ((rc = mdb_env_set_mapsize(s->env, want))) return st_mdb_err(rc);
    if ((rc = mdb_env_info(s->env, &info))) return st_mdb_err(rc);
  }
  atomic_store(&s->map_size, info.me_mapsize);
  return 0;
}

static int lock_dir(tr_store *s) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/troupe.lock", s->dir) >= (int)sizeof path) return TR_EINVAL;
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) {
    tr_log(TR_LOG_ERROR, ST_LOG, "cannot open %s: %s", path, strerror(errno));
    return errno == EACCES ? TR_EPERM : TR_EIO;
  }
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    tr_log(TR_LOG_ERROR, ST_LOG, "%s is in use by another process (%s is locked)", s->dir, path);
    return errno == EWOULDBLOCK ? TR_EPERM : TR_EIO;
  }
  return 0;
}

static void release(tr_store *s) {
  st_views_free(s);
  if (s->env) mdb_env_close(s->env);
  if (s->lock_fd >= 0) close(s->lock_fd);
  for (int i = 0; i < TR_STORE_MAX_TABLES; i++) free(s->user_names[i]);
  st_gate_destroy(s);
  pthread_mutex_destroy(&s->table_mu);
  pthread_mutex_destroy(&s->view_mu);
  pthread_mutex_destroy(&s->wake_mu);
  pthread_cond_destroy(&s->wake_cv);
  free((void *)s->jf_bits);
  free(s->dir);
  free(s);
}

int tr_store_open(const char *dir, const tr_store_opts *opts, tr_store **out) {
  if (!dir || !*dir || !out) return TR_EINVAL;
  *out = NULL;
  tr_store_opts o = {0};
  if (opts) o = *opts;
  if (!o.map_initial) o.map_initial = (size_t)1 << 30;
  if (!o.map_limit) o.map_limit = (size_t)32 << 30;
  if (!o.sync_ms) o.sync_ms = 100;
  if (!o.max_batch_ops) o.max_batch_ops = 16384;
  if (!o.max_readers) o.max_readers = 1024;
  if (o.durability != TR_STORE_SYNC && o.durability != TR_STORE_NOSYNC) return TR_EINVAL;
  if (o.map_initial > o.map_limit) o.map_initial = o.map_limit;

  tr_store *s = calloc(1, sizeof *s);
  if (!s) return TR_ENOMEM;
  s->lock_fd = -1;
  s->read_only = o.read_only != 0;
  s->durability = o.durability;
  s->sync_ms = o.sync_ms;
  s->max_batch_ops = o.max_batch_ops;
  s->max_readers = o.max_readers;
  atomic_store(&s->map_limit, o.map_limit);
  st_gate_init(s);
  pthread_mutex_init(&s->table_mu, NULL);
  pthread_mutex_init(&s->view_mu, NULL);
  pthread_mutex_init(&s->wake_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the nosync flush timer */
  pthread_cond_init(&s->wake_cv, &ca);
  pthread_condattr_destroy(&ca);
  s->dir = strdup(dir);
  int rc = TR_ENOMEM;
  if (!s->dir) goto fail;

  if (s->read_only) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &sb) != 0) {
      rc = TR_ENOENT;
      goto fail;
    }
  } else {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
      tr_log(TR_LOG_ERROR, ST_LOG, "cannot create %s: %s", dir, strerror(errno));
      rc = errno == EACCES ? TR_EPERM : TR_EIO;
      goto fail;
    }
    if ((rc = lock_dir(s))) goto fail;
  }

  int mrc;
  unsigned flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0) |
                   (s->durability == TR_STORE_NOSYNC ? MDB_NOSYNC : 0);
  if ((mrc = mdb_env_create(&s->env)) || (mrc = mdb_env_set_maxdbs(s->env, TBL_MAX)) ||
      (mrc = mdb_env_set_maxreaders(s->env, o.max_readers)) ||
      (mrc = mdb_env_set_mapsize(s->env, o.map_initial))) {
    rc = st_mdb_err(mrc);
    goto fail;
  }
  if ((mrc = mdb_env_open(s->env, dir, flags, 0644))) {
    tr_log(TR_LOG_ERROR, ST_LOG, "cannot open the LMDB environment in %s: %s", dir,
           mdb_strerror(mrc));
    rc = st_mdb_err(mrc);
    goto fail;
  }
  MDB_stat est;
  if ((mrc = mdb_env_stat(s->env, &est))) {
    rc = st_mdb_err(mrc);
    goto fail;
  }
  s->psize = est.ms_psize;
  if (!s->read_only) {
    /* reader slots of processes that died inside a read transaction pin old
     * pages (the database only grows) until they are cleared */
    int dead = 0;
    if ((mrc = mdb_reader_check(s->env, &dead))) {
      rc = st_mdb_err(mrc);
      goto fail;
    }
    s->stale_readers = (uint32_t)dead;
    if (dead > 0)
      tr_log(TR_LOG_WARN, ST_LOG, "%s: cleared %d reader slot(s) left by dead processes", dir,
             dead);
  }
  if ((rc = size_map(s, o.map_initial))) goto fail;
  if ((rc = init_tables(s))) goto fail;
  if (!s->read_only) {
    st_seqmap seedmap;
    uint64_t round = 1;
    if ((rc = st_jf_init(s)) || (rc = st_seqmap_init(&seedmap, 1024))) goto fail;
    if ((rc = st_fold_all(s, &seedmap, &round)) || (rc = st_writer_start(s, &seedmap, round))) {
      st_seqmap_free(&seedmap);
      goto fail;
    }
  }
  *out = s;
  return 0;
fail:
  release(s);
  return rc;
}

void tr_store_close(tr_store *s) {
  if (!s) return;
  st_writer_stop(s);
  if (atomic_load(&s->gate_active) != 0) /* a caller bug: say so before LMDB trips on it */
    tr_log(TR_LOG_ERROR, ST_LOG, "%s: closed with %d view(s) still open", s->dir,
           atomic_load(&s->gate_active));
  release(s);
}

int tr_store_set_map_limit(tr_store *s, size_t limit) {
  if (!s || limit == 0) return TR_EINVAL;
  atomic_store(&s->map_limit, limit);
  tr_log(TR_LOG_INFO, ST_LOG, "map limit of %s set to %zu MiB", s->dir, limit >> 20);
  return 0;
}

int tr_store_id(tr_store *s, uint8_t id[16]) {
  if (!s || !id) return TR_EINVAL;
  memcpy(id, s->store_id, 16);
  return 0;
}

void tr_store_stats_get(tr_store *s, tr_store_stats *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info) == 0) out->map_used = (info.me_last_pgno + 1) * s->psize;
  out->map_size = atomic_load(&s->map_size);
  out->map_limit = atomic_load(&s->map_limit);
  out->commits = atomic_load(&s->st_commits);
  out->requests = atomic_load(&s->st_requests);
  out->ops = atomic_load(&s->st_ops);
  out->grows = atomic_load(&s->st_grows);
  out->redone_full = atomic_load(&s->st_redone_full);
  out->full = atomic_load(&s->st_full);
  out->corrupt = atomic_load(&s->st_corrupt);
  out->jlog_skipped = atomic_load(&s->st_jlog_skipped);
  out->jlog_walked = atomic_load(&s->st_jlog_walked);
  out->stale_readers = s->stale_readers;
  out->format = s->format;
  out->upgraded_from = s->upgraded_from;
}
