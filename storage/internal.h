/* storage/internal.h - what the storage files share: the store struct, the
 * record formats (keys and value headers), the map-growth gate and the
 * writer's per-transaction context. Nothing outside storage/ includes it. */
#ifndef TR_STORAGE_INTERNAL_H
#define TR_STORAGE_INTERNAL_H

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/store.h"

#define ST_LOG "storage"

/* Format of the data dir. 0: pre-release layout without a store id; 1: the
 * layout of docs/storage.md. */
enum { ST_FORMAT = 1 };

/* The journal log: FOLD_SLICES fold steps copy a round completely (fold.c);
 * rounds go to JLOG_TABLES tables in turn, a generation of FOLD_SLICES
 * rounds each, so that a table whose rounds are all copied is dropped whole
 * rather than entry by entry. */
enum { FOLD_SLICES = 64, JLOG_TABLES = 3 };
/* Bits of each jlog table's filter of pids (jfilter.c): 2^20, 128 KiB. */
enum { JF_BITS_LOG2 = 20 };

/* Internal tables, then user tables. */
enum {
  TBL_META = 0, /* "format" (raw u32 BE), "store_id" */
  TBL_JOURNAL,  /* jkey -> event: folded journal events */
  TBL_JLOG0,    /* round u64 BE + jkey -> event: recent appends, in commit order */
  TBL_JLOG_END = TBL_JLOG0 + JLOG_TABLES,
  TBL_JMETA = TBL_JLOG_END, /* jprefix -> u64 deleted_to */
  TBL_SNAP,     /* jkey -> snapshot state */
  TBL_KV,       /* key -> u64 expires_ms + value */
  TBL_KVEXP,    /* u64 expires_ms + key -> (empty) */
  TBL_QUEUE,    /* qprefix + u64 offset -> item */
  TBL_QMETA,    /* qprefix -> u64 next, u64 acked */
  TBL_USER0,
  TBL_MAX = TBL_USER0 + TR_STORE_MAX_TABLES
};

/* ---- records (record.c, crc.c) ------------------------------------------- */

/* Every stored value starts with this header: a format byte, then the
 * CRC32C (little-endian) of the record's logical key followed by the
 * payload, so a value that was damaged, truncated or written under another
 * key fails its check. */
enum { VH_FORMAT = 1, VH_SIZE = 5 };

uint32_t tr_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t tr_crc32c_sw(uint32_t crc, const void *data, size_t len); /* table-only path */

static inline void st_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void st_be64(uint8_t *p, uint64_t v) {
  st_be32(p, (uint32_t)(v >> 32));
  st_be32(p + 4, (uint32_t)v);
}
static inline uint32_t st_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t st_rd64(const uint8_t *p) {
  return (uint64_t)st_rd32(p) << 32 | st_rd32(p + 4);
}

/* Writes the header for (key, payload) into hdr[VH_SIZE]. */
void st_seal(uint8_t *hdr, const void *key, size_t klen, const void *payload, size_t plen);
/* Checks a stored value against its logical key; on success payload and plen
 * point into val (borrowed). Returns 0 or TR_ECORRUPT (counted and logged
 * with what, a short description of the record). */
int st_open(tr_store *s, const char *what, const void *key, size_t klen, const MDB_val *val,
            const uint8_t **payload, size_t *plen);

/* Journal and snapshot keys: partition u32 BE, pid length u8, pid bytes,
 * seq u64 BE. The first 5 + len bytes are the pid's prefix. */
enum { JKEY_MAX = 4 + 1 + TR_STORE_MAX_PID + 8, JLOG_KEY_MAX = 8 + JKEY_MAX };
size_t st_jprefix(uint8_t *out, const void *pid, size_t len);
size_t st_jprefix_h(uint8_t *out, const void *pid, size_t len, uint64_t hash);
static inline size_t st_jkey(uint8_t *out, const void *pid, size_t len, uint64_t seq) {
  size_t n = st_jprefix(out, pid, len);
  st_be64(out + n, seq);
  return n + 8;
}
/* Queue keys: name length u8, name, offset u64 BE. */
size_t st_qprefix(uint8_t *out, const void *name, size_t len);

/* Monotonic ns and wall-clock ms. */
uint64_t st_now_ns(void);
uint64_t st_wall_ms(void);

/* ---- the store (env.c) -------------------------------------------------- */

typedef struct st_writer st_writer;

struct tr_store {
  MDB_env *env;
  char *dir;
  int lock_fd;
  bool read_only;
  int durability;
  uint32_t sync_ms, max_batch_ops, max_readers;
  size_t psize;
  MDB_dbi dbi[TBL_MAX];
  char *user_names[TR_STORE_MAX_TABLES];
  _Atomic uint32_t n_user;
  pthread_mutex_t table_mu;

  /* map size: changed only with the gate closed (gate.c) */
  _Atomic size_t map_size;
  _Atomic size_t map_limit;
  pthread_mutex_t grow_mu; /* one grower at a time */
  _Atomic bool at_limit;   /* logged once per episode */

  /* the gate: every transaction (views, the writer's) is inside it; growing
   * the map closes it and waits until it is empty */
  pthread_mutex_t gate_mu;
  pthread_cond_t gate_cv;
  _Atomic int gate_active;
  _Atomic int gate_closed;

  /* pool of reset read transactions */
  pthread_mutex_t view_mu;
  tr_store_view *free_views;
  uint32_t n_free_views;

  /* the writer */
  st_writer *w;
  pthread_t thread;
  bool thread_started;
  _Atomic(tr_store_req *) inbox; /* LIFO of submitted requests */
  _Atomic int sleeping, closing, submitting;
  pthread_mutex_t wake_mu;
  pthread_cond_t wake_cv;

  /* identity */
  uint8_t store_id[16];
  uint32_t format, upgraded_from;
  uint32_t stale_readers;

  /* the jlog filters (jfilter.c): JLOG_TABLES arrays of bits, NULL
   * without a writer; the epoch is a seqlock counter (odd: clearing) */
  _Atomic uint64_t *jf_bits;
  _Atomic uint64_t jf_epoch;
  _Atomic uint64_t st_jlog_skipped, st_jlog_walked;

  /* stats */
  _Atomic uint64_t st_commits, st_requests, st_ops, st_grows, st_full, st_corrupt;
  _Atomic uint64_t st_redone_full; /* transactions applied again after MDB_MAP_FULL */
};

int st_mdb_err(int rc); /* LMDB or errno code -> TR_E* */
/* Result of a ranged read: an LMDB error, else a negative stop value from
 * the callback, else TR_ECORRUPT if a record was skipped, else 0. */
int st_scan_result(int rc, int stop, bool corrupt);

/* format.c: in the open's transaction (write, unless read-only) */
int st_check_format(tr_store *s, MDB_txn *txn);
int st_read_id(tr_store *s, MDB_txn *txn);

/* ---- the gate and map growth (gate.c) ------------------------------------ */

/* Enter before beginning any transaction, leave after it ended. Returns
 * the calling thread's depth counter for s (kept by views, NULL if the
 * thread has no free slot): a thread that already holds a view passes a
 * closed gate, because the grower is waiting for that very view. */
_Atomic int *st_gate_enter(tr_store *s);
void st_gate_leave(tr_store *s, _Atomic int *depth);
/* Does the calling thread hold a view of s? */
bool st_gate_held(tr_store *s);
/* Grows the map to the next size (double, capped by the limit) unless it
 * already grew past seen (the size the caller's failed transaction had).
 * The caller must not be inside the gate. 0 if there is room now, TR_EFULL
 * at the limit, TR_EIO. */
int st_grow(tr_store *s, size_t seen);
/* Grows the map once the used pages pass three quarters of it, so that the
 * writer grows it between two transactions instead of when one fails with
 * MDB_MAP_FULL: that failure throws the whole batch's work away and applies
 * it again after the growth, and under load it was the worst wait of the
 * requests in the batch. It does not wait for open views (it tries again
 * after the next commit), so a long read never holds writes back while the
 * map still has room. The writer calls it between transactions; 0, or the
 * error of the resize. */
int st_grow_ahead(tr_store *s);
/* Adopts a map grown by another process (MDB_MAP_RESIZED). */
int st_adopt_mapsize(tr_store *s);
void st_gate_init(tr_store *s);
void st_gate_destroy(tr_store *s);

/* ---- views (view.c) ----------------------------------------------------- */

struct tr_store_view {
  tr_store *s;
  MDB_txn *txn;
  _Atomic int *depth; /* the beginning thread's gate depth for s */
  uint64_t jf_epoch;  /* the jlog filters' epoch before its transaction began */
  tr_store_view *next;
};
void st_views_free(tr_store *s);

/* A view for one read function: the caller's, or a temporary one. */
typedef struct {
  tr_store_view *v;
  bool own;
} st_rview;
int st_rview_begin(tr_store *s, tr_store_view *v, st_rview *rv);
void st_rview_end(st_rview *rv);

/* ---- the writer (writer.c, apply.c, seqmap.c, fold.c) -------------------- */

/* Last appended seq of each pid whose events are in the journal log
 * (seqmap.c): the writer's cache for duplicate and gap checks. */
typedef struct st_seqent {
  uint64_t hash; /* 0 = empty slot */
  uint64_t last;
  uint8_t *prefix; /* the pid's journal key prefix */
  uint16_t plen;
  bool owned;
} st_seqent;
typedef struct st_seqmap {
  st_seqent *e;
  size_t cap, n;
  size_t *used; /* slots filled since the last clear (for the overlay) */
  size_t n_used, cap_used;
} st_seqmap;
int st_seqmap_init(st_seqmap *m, size_t cap);
void st_seqmap_free(st_seqmap *m);
st_seqent *st_seqmap_get(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen);
/* Inserts or updates; copy: store a private copy of prefix, else borrow it. */
int st_seqmap_put(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen, uint64_t last,
                  bool copy);
void st_seqmap_del(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen);
void st_seqmap_clear(st_seqmap *m);

/* Byte arena reset per transaction; chunked, so pointers stay valid until
 * the reset. */
typedef struct st_chunk st_chunk;
typedef struct st_arena {
  st_chunk *head; /* current chunk; older ones follow */
} st_arena;
uint8_t *st_arena_push(st_arena *a, const void *data, size_t len);
void st_arena_reset(st_arena *a);
void st_arena_free(st_arena *a);

/* A pid whose jlog events a fold copied into the journal table: the
 * writer forgets its cached last seq at commit. */
typedef struct st_removal {
  const uint8_t *prefix; /* in the arena */
  uint16_t plen;
  uint64_t hash;
} st_removal;

static inline int st_jlog_tbl(uint64_t round) {
  return TBL_JLOG0 + (int)((round / FOLD_SLICES) % JLOG_TABLES);
}

/* Fold progress: the rounds at which the last FOLD_SLICES fold steps ran. */
typedef struct st_fold {
  uint64_t ring[FOLD_SLICES];
  uint64_t steps;
} st_fold;

/* A journal append validated but not yet written: appends are written at
 * the end of the transaction (or before a journal delete), sorted, so that
 * LMDB can append them in key order (MDB_APPEND: no search, full pages). */
typedef struct st_pend {
  const tr_store_op *op;
  uint64_t hash;
  size_t req; /* batch index of its request */
} st_pend;

/* The writer's transaction context, passed to every op. */
typedef struct st_wtxn {
  tr_store *s;
  MDB_txn *txn;
  MDB_cursor *cur[TBL_MAX];
  int mdb_rc;           /* the LMDB error that stopped the transaction */
  uint64_t round;       /* this transaction's journal log round */
  uint64_t now_ms;      /* wall clock at the start of the transaction */
  st_seqmap *map;       /* committed last seqs (pids in the jlog) */
  st_seqmap *overlay;   /* last seqs appended in this transaction */
  st_arena *arena;
  st_removal *removals;
  size_t n_removals, cap_removals;
  st_pend *pend, *pend_tmp; /* pending appends; scratch for sorting them */
  size_t n_pend, cap_pend;
  size_t req;           /* batch index of the request being applied */
  size_t blame;         /* batch index of the request a failed flush wrote for */
  uint8_t last_key[JLOG_KEY_MAX]; /* the last key this txn appended to the jlog */
  size_t last_klen;
  st_fold *fold;
  bool fold_ran;        /* a fold step ran in this transaction */
  unsigned dropped;     /* jlog tables (bit i: TBL_JLOG0 + i) the fold dropped */
} st_wtxn;

/* Op results inside the writer: 0, a TR_E* for the request, or ST_MDB when
 * an LMDB call failed (t->mdb_rc) and the transaction must be aborted. */
enum { ST_MDB = 1 };
#define ST_CK(t, expr)           \
  do {                           \
    int rc_ = (expr);            \
    if (rc_) {                   \
      (t)->mdb_rc = rc_;         \
      return ST_MDB;             \
    }                            \
  } while (0)

int st_cursor(st_wtxn *t, int tbl, MDB_cursor **out);
int st_op_check(tr_store *s, const tr_store_op *op); /* cheap argument checks */
int st_op_apply(st_wtxn *t, tr_store_op *op);

int st_writer_start(tr_store *s, st_seqmap *seed, uint64_t round);
/* the ops of a request (its array, or its single op) */
static inline tr_store_op *st_req_ops(tr_store_req *r, uint32_t *n) {
  if (r->ops) {
    *n = r->n_ops;
    return r->ops;
  }
  *n = 1;
  return &r->op;
}
void st_writer_stop(tr_store *s);

/* journal.c */
int st_journal_append(st_wtxn *t, tr_store_op *op);
/* Writes the pending appends to the jlog. On ST_MDB, t->blame is set. */
int st_jlog_flush(st_wtxn *t);
int st_journal_delete(st_wtxn *t, tr_store_op *op);
int st_jmeta_get(tr_store *s, MDB_txn *txn, const uint8_t *prefix, size_t plen, uint64_t *deleted);

/* fold.c: the journal log (jlog) and its fold into the journal table */
int st_fold_step(st_wtxn *t);
/* At open, before the writer starts: folds the whole jlog (as far as the
 * map allows), seeds map with the pids still in it, and sets *round to the
 * next round number. */
int st_fold_all(tr_store *s, st_seqmap *map, uint64_t *round);
/* Adds every pid in the jlog to map with its highest seq; *round = the
 * round after the newest. Opens its own read transaction. Raw LMDB code. */
int st_jlog_seed(tr_store *s, st_seqmap *map, uint64_t *round);
int st_removal_add(st_wtxn *t, uint64_t hash, const uint8_t *prefix, size_t plen);
/* Visits every round >= from present in the jlog tables, oldest first, with
 * the cursor of its table (cs[JLOG_TABLES]); fn may move that cursor. fn
 * returns 0 to go on, ST_ROUNDS_STOP to stop (each_round then returns 0) or
 * a raw LMDB code. */
enum { ST_ROUNDS_STOP = -1 };
typedef int (*st_round_fn)(void *arg, MDB_cursor *c, uint64_t round);
int st_each_round(MDB_cursor **cs, uint64_t from, st_round_fn fn, void *arg);
/* The last seq under key prefix kp (a pid's prefix, possibly behind a round)
 * in c's table: 0 if none. Raw LMDB code. */
int st_last_under(MDB_cursor *c, const uint8_t *kp, size_t kplen, uint64_t *seq);
/* Same, as the writer sees it: in-transaction, cached, committed. */
int st_journal_last(st_wtxn *t, uint64_t hash, const uint8_t *prefix, size_t plen,
                    uint64_t *last);

/* jfilter.c: may a pid have events in the jlog? (see there for why a "no"
 * is safe). Tables are 0..JLOG_TABLES-1. Writer side: add before the event
 * is written, publish before the commit, clear after the commit that
 * dropped the table. */
int st_jf_init(tr_store *s);
void st_jf_add(tr_store *s, int table, uint64_t hash);
void st_jf_publish(tr_store *s);
void st_jf_clear(tr_store *s, int table);
uint64_t st_jf_epoch(tr_store *s); /* for a view, before its transaction begins */
/* true: no event of the pid (hash) is in any jlog table of v's snapshot,
 * so a read can skip the jlog; false: maybe (walk). Counts both. */
bool st_jf_absent(tr_store *s, const tr_store_view *v, uint64_t hash);

/* snapshot.c, kv.c, queue.c, table.c */
int st_snapshot_save(st_wtxn *t, tr_store_op *op);
int st_kv_put(st_wtxn *t, tr_store_op *op);
int st_kv_del(st_wtxn *t, tr_store_op *op);
int st_kv_sweep(st_wtxn *t, tr_store_op *op);
int st_queue_append(st_wtxn *t, tr_store_op *op);
int st_queue_ack(st_wtxn *t, tr_store_op *op);
int st_table_put(st_wtxn *t, tr_store_op *op);
int st_table_del(st_wtxn *t, tr_store_op *op);

/* Puts header + payload under key with MDB_RESERVE (no intermediate copy);
 * lkey/lklen is the logical key the CRC covers (usually key itself). */
int st_put_sealed(st_wtxn *t, MDB_cursor *c, const MDB_val *key, const void *lkey, size_t lklen,
                  const void *pre, size_t prelen, const void *payload, size_t plen,
                  unsigned flags);

/* Deletes the entry under c and positions c at the next one (key/val);
 * MDB_NOTFOUND at the end. Raw LMDB code. */
int st_cursor_del_next(MDB_cursor *c, MDB_val *key, MDB_val *val);

/* Does key k (length klen) start with prefix p and hold exactly extra more
 * bytes? */
static inline bool st_has_prefix(const MDB_val *k, const uint8_t *p, size_t plen, size_t extra) {
  return k->mv_size == plen + extra && memcmp(k->mv_data, p, plen) == 0;
}

#endif
