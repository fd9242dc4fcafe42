/* storage/store.h - the node's persistent store.
 *
 * One LMDB environment per node (its data dir) holds journals, snapshots, a
 * KV table with per-key TTL, durable FIFO queues and named user tables. All
 * writes go through one writer thread that applies everything queued in one
 * transaction and one fsync (group commit), then calls each request's
 * completion. Reads run in views (LMDB read transactions): they never block
 * the writer and see one consistent snapshot. The store knows nothing of
 * actors: the runtime turns each completion into a message.
 *
 * Every function returns 0 or a negative TR_E* code (troupe/error.h) and may
 * be called from any thread unless it says otherwise. docs/storage.md
 * describes the on-disk layout and the guarantees.
 */
#ifndef TR_STORAGE_STORE_H
#define TR_STORAGE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_store tr_store;
typedef struct tr_store_view tr_store_view;

/* ---- opening ------------------------------------------------------------ */

enum {
  TR_STORE_SYNC = 0,   /* a completion means the data is on disk (fsync'd) */
  TR_STORE_NOSYNC = 1  /* a completion means committed; flushed every sync_ms */
};

typedef struct tr_store_opts {
  size_t map_initial;     /* initial map (and so database) size; 0 = 64 MiB */
  size_t map_limit;       /* the map doubles on demand up to this; 0 = 32 GiB */
  int durability;         /* TR_STORE_SYNC (default) or TR_STORE_NOSYNC */
  uint32_t sync_ms;       /* NOSYNC: flush at least this often; 0 = 100 */
  uint32_t max_batch_ops; /* ops per transaction; 0 = 16384 */
  uint32_t max_readers;   /* concurrent views (LMDB reader slots); 0 = 1024 */
  int read_only;          /* no writer: inspection tools, other processes */
} tr_store_opts;

/* Opens (creating if needed) the store in directory dir (created if missing;
 * its parent must exist). opts may be NULL (defaults). A read-write open
 * takes an exclusive lock on the dir (TR_EPERM if another process holds it),
 * clears reader slots left by dead processes, upgrades an older format and
 * starts the writer thread. Errors: TR_EVERSION (data of a newer format, or
 * not a troupe store: logged), TR_ECORRUPT, TR_EIO, TR_ENOMEM, TR_EINVAL;
 * read_only: TR_ENOENT if there is no store, TR_EVERSION if it needs an
 * upgrade. */
int tr_store_open(const char *dir, const tr_store_opts *opts, tr_store **out);

/* Refuses new submissions (TR_ESTOPPED), completes every request already
 * submitted, stops the writer and closes the environment. Every view must
 * have ended. Not from the writer thread (a completion callback). */
void tr_store_close(tr_store *s);

/* Raises (or lowers) the size the map may grow to. Writes that failed with
 * TR_EFULL succeed again once the limit leaves room. */
int tr_store_set_map_limit(tr_store *s, size_t limit);

typedef struct tr_store_stats {
  size_t map_size;           /* current map size, bytes */
  size_t map_limit;          /* configured limit, bytes */
  size_t map_used;           /* pages in use * page size */
  uint64_t commits;          /* writer transactions committed */
  uint64_t requests;         /* requests completed (any status) */
  uint64_t ops;              /* ops committed */
  uint64_t grows;            /* times the map grew */
  uint64_t redone_full;      /* writer transactions applied again because the map
                                filled (growth ahead of need keeps this near 0) */
  uint64_t full;             /* requests failed with TR_EFULL */
  uint64_t corrupt;          /* stored values that failed their check */
  uint32_t stale_readers;    /* reader slots of dead processes cleared at open */
  uint32_t format;           /* on-disk format of the store */
  uint32_t upgraded_from;    /* format found at open if it was upgraded, else = format */
  /* journal reads (tr_journal_read, tr_journal_highest) that the journal
   * log's filters let skip the log's rounds (the pid has nothing there:
   * e.g. a new pid), and those that walked them */
  uint64_t jlog_skipped;
  uint64_t jlog_walked;
} tr_store_stats;

void tr_store_stats_get(tr_store *s, tr_store_stats *out);

/* The data dir's 16-byte store id (random, made when the store was created
 * or upgraded to format 1). id is caller-owned, 16 bytes. */
int tr_store_id(tr_store *s, uint8_t id[16]);

/* ---- partitions --------------------------------------------------------- */

/* Journals and snapshots are keyed by partition first, so that a partition
 * can later be replicated and moved as a unit. The partition of a
 * persistence id is fixed by format 1: the top 12 bits of the 64-bit hash
 * tr_store_hash64 (FNV-1a 64 followed by a 64-bit avalanche finaliser), so
 * there are TR_STORE_PARTITIONS partitions. pid is caller-owned, read only. */
enum { TR_STORE_PARTITIONS = 4096 };
uint64_t tr_store_hash64(const void *data, size_t len);
uint32_t tr_store_partition(const void *pid, size_t len);

/* ---- limits ------------------------------------------------------------- */

enum {
  TR_STORE_MAX_PID = 255,       /* persistence id and queue name bytes */
  TR_STORE_MAX_KEY = 400,       /* KV and user-table key bytes */
  TR_STORE_MAX_TABLES = 20,     /* user tables */
  TR_STORE_MAX_VALUE = 64 << 20 /* any stored value */
};

/* ---- user tables -------------------------------------------------------- */

/* Opens (creating if needed) the user table called name (1..64 bytes, NUL
 * terminated; caller-owned, copied) and sets *id for TR_OP_PUT/TR_OP_DEL and
 * the table reads. Returns the same id for the same name. TR_EFULL when
 * TR_STORE_MAX_TABLES exist. Not from a completion callback. */
int tr_store_table(tr_store *s, const char *name, uint32_t *id);

/* ---- writes ------------------------------------------------------------- */

enum {
  TR_OP_PUT = 1,          /* table, key, val: insert or replace */
  TR_OP_DEL,              /* table, key: remove (absent is fine) */
  TR_OP_JOURNAL_APPEND,   /* key = pid, num = seq (must be highest + 1), val = event */
  TR_OP_JOURNAL_DELETE,   /* key = pid: delete events with seq <= num */
  TR_OP_SNAPSHOT_SAVE,    /* key = pid, num = seq, val = state; keep the n newest (0 = all) */
  TR_OP_KV_PUT,           /* key, val; num = ttl in ms (0 = never expires) */
  TR_OP_KV_DEL,           /* key (absent is fine) */
  TR_OP_KV_SWEEP,         /* delete up to n (0 = 10000) expired keys; result = how many */
  TR_OP_QUEUE_APPEND,     /* key = queue name, val = item; result = its offset (1, 2, ...) */
  TR_OP_QUEUE_ACK,        /* key = queue name: drop items with offset <= num */
  TR_OP_KIND_MAX_
};

/* One operation. Everything it points to is the caller's and must stay valid
 * and unchanged until the request's completion has run. */
typedef struct tr_store_op {
  uint8_t kind;       /* TR_OP_* */
  uint8_t table;      /* TR_OP_PUT/DEL: id from tr_store_table */
  uint16_t klen;
  uint32_t n;         /* SNAPSHOT_SAVE: keep; KV_SWEEP: max */
  const void *key;    /* pid, key or queue name */
  const void *val;
  size_t vlen;
  uint64_t num;       /* seq, upto, ttl_ms */
  uint64_t result;    /* set by the writer before the completion runs */
} tr_store_op;

/* Completion: runs on the writer thread, once, after the transaction that
 * held the request committed (TR_STORE_SYNC: the data is on disk) or failed.
 * It must be short and must not block on the store (no tr_store_write, no
 * tr_store_close); it may submit new requests and begin views. */
typedef void (*tr_store_done_fn)(void *arg, int status);

/* A write request: one or more ops applied atomically (all or none), in
 * order. Callers embed it (no allocation by the store): it belongs to the
 * store from a successful tr_store_submit until done runs, and may be freed
 * or reused inside done. With ops == NULL the request has the single op in
 * `op`. */
typedef struct tr_store_req {
  tr_store_op *ops;       /* caller-owned array of n_ops, or NULL: use op */
  uint32_t n_ops;
  int status;             /* the request's result, set before done runs */
  tr_store_done_fn done;  /* may be NULL */
  void *arg;
  tr_store_op op;         /* the single op when ops == NULL */
  struct tr_store_req *next_; /* private to the store */
  uint32_t flags_;            /* private to the store */
} tr_store_req;

/* Queues req for the writer. Requests submitted by one thread are applied in
 * submission order, as is a request submitted after another's completion;
 * completions run in the order the requests were applied, and done may run
 * before tr_store_submit has returned.
 * Cheap argument checks fail here, synchronously and without calling done:
 * TR_EINVAL (bad kind, table or length), TR_ETOOBIG (key or value over its
 * limit), TR_ESTOPPED (closing), TR_EPERM (read-only store). Otherwise
 * returns 0 and req->done runs later with req->status:
 *   0            applied (durable in SYNC mode)
 *   TR_EEXIST    JOURNAL_APPEND: seq <= highest (a duplicate)
 *   TR_ERANGE    JOURNAL_APPEND: seq > highest + 1 (a gap); QUEUE_ACK past the tail
 *   TR_EFULL     the map is at its limit; nothing of the request was written
 *   TR_ETOOBIG   the request alone is too big for one transaction
 *   TR_ECORRUPT  a stored record the op depends on failed its check
 *   TR_EIO       the transaction failed (every request in it fails)
 * A failing request never fails another one, except with TR_EIO. */
int tr_store_submit(tr_store *s, tr_store_req *req);

/* Submits the n ops (caller-owned) as one request and waits for its
 * completion; returns its status. TR_EDEADLK on the writer thread or while
 * the caller holds a view of s (the writer may need every view ended to grow
 * the map). For tests, tools and start-up code. */
int tr_store_write(tr_store *s, tr_store_op *ops, uint32_t n);

/* Op builders; every pointer is kept, not copied. */
static inline tr_store_op tr_op_journal_append(const void *pid, size_t pid_len, uint64_t seq,
                                               const void *event, size_t len) {
  tr_store_op o = {TR_OP_JOURNAL_APPEND, 0, (uint16_t)(pid_len > 0xffff ? 0xffff : pid_len), 0,
                   pid, event, len, seq, 0};
  return o;
}
static inline tr_store_op tr_op_journal_delete(const void *pid, size_t pid_len, uint64_t upto) {
  tr_store_op o = {TR_OP_JOURNAL_DELETE, 0, (uint16_t)(pid_len > 0xffff ? 0xffff : pid_len), 0,
                   pid, NULL, 0, upto, 0};
  return o;
}
static inline tr_store_op tr_op_snapshot_save(const void *pid, size_t pid_len, uint64_t seq,
                                              const void *state, size_t len, uint32_t keep) {
  tr_store_op o = {TR_OP_SNAPSHOT_SAVE, 0, (uint16_t)(pid_len > 0xffff ? 0xffff : pid_len), keep,
                   pid, state, len, seq, 0};
  return o;
}
static inline tr_store_op tr_op_kv_put(const void *key, size_t klen, const void *val, size_t vlen,
                                       uint64_t ttl_ms) {
  tr_store_op o = {TR_OP_KV_PUT, 0, (uint16_t)(klen > 0xffff ? 0xffff : klen), 0,
                   key, val, vlen, ttl_ms, 0};
  return o;
}
static inline tr_store_op tr_op_kv_del(const void *key, size_t klen) {
  tr_store_op o = {TR_OP_KV_DEL, 0, (uint16_t)(klen > 0xffff ? 0xffff : klen), 0,
                   key, NULL, 0, 0, 0};
  return o;
}
static inline tr_store_op tr_op_kv_sweep(uint32_t max) {
  tr_store_op o = {TR_OP_KV_SWEEP, 0, 0, max, NULL, NULL, 0, 0, 0};
  return o;
}
static inline tr_store_op tr_op_queue_append(const void *name, size_t nlen, const void *item,
                                             size_t len) {
  tr_store_op o = {TR_OP_QUEUE_APPEND, 0, (uint16_t)(nlen > 0xffff ? 0xffff : nlen), 0,
                   name, item, len, 0, 0};
  return o;
}
static inline tr_store_op tr_op_queue_ack(const void *name, size_t nlen, uint64_t upto) {
  tr_store_op o = {TR_OP_QUEUE_ACK, 0, (uint16_t)(nlen > 0xffff ? 0xffff : nlen), 0,
                   name, NULL, 0, upto, 0};
  return o;
}
static inline tr_store_op tr_op_put(uint32_t table, const void *key, size_t klen, const void *val,
                                    size_t vlen) {
  tr_store_op o = {TR_OP_PUT, (uint8_t)(table > 0xff ? 0xff : table),
                   (uint16_t)(klen > 0xffff ? 0xffff : klen), 0, key, val, vlen, 0, 0};
  return o;
}
static inline tr_store_op tr_op_del(uint32_t table, const void *key, size_t klen) {
  tr_store_op o = {TR_OP_DEL, (uint8_t)(table > 0xff ? 0xff : table),
                   (uint16_t)(klen > 0xffff ? 0xffff : klen), 0, key, NULL, 0, 0, 0};
  return o;
}

/* ---- reads -------------------------------------------------------------- */

/* A view is one LMDB read transaction: a consistent snapshot that never
 * blocks the writer. Pointers a read returns into a view stay valid until
 * tr_store_view_end. A view may be used from any thread but only by one at a
 * time, and must end on the thread that began it, which must outlive it.
 * Keep views short: growing the map waits for every view to end. A thread
 * may hold several views of one store. TR_EAGAIN when all reader slots are
 * taken. */
int tr_store_view_begin(tr_store *s, tr_store_view **out);
void tr_store_view_end(tr_store_view *v);

/* Item callback for ranged reads: num is the seq or offset; data/len are
 * zero-copy into the store, valid until the callback returns (v == NULL) or
 * until the view ends. Return 0 to go on; any other value stops the read,
 * which returns it if negative and 0 otherwise. */
typedef int (*tr_store_item_fn)(void *arg, uint64_t num, const void *data, size_t len);

/* Reads in the functions below take a view v, or NULL for a view of their
 * own that ends before they return. A stored value that fails its check is
 * logged, counted and skipped (never passed on); the read then returns
 * TR_ECORRUPT after delivering every valid item. */

/* Journal events of pid with from <= seq <= to, in seq order. */
int tr_journal_read(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len, uint64_t from,
                    uint64_t to, tr_store_item_fn fn, void *arg);

/* The highest seq ever appended to pid (also after its events were
 * deleted); 0 if none. */
int tr_journal_highest(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len,
                       uint64_t *seq);

/* The newest valid snapshot of pid with seq <= max_seq (UINT64_MAX: any).
 * v is required: *data points into it. Corrupt snapshots are skipped (an
 * older one is returned; the function still returns 0 in that case but
 * counts and logs it). TR_ENOENT if none. */
int tr_snapshot_load(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len,
                     uint64_t max_seq, uint64_t *seq, const void **data, size_t *len);

/* Value of key; v is required: *val points into it. An expired key is
 * TR_ENOENT even before a sweep removed it. expires_ms (may be NULL) gets
 * the expiry in ms since the epoch, 0 if none. */
int tr_kv_get(tr_store *s, tr_store_view *v, const void *key, size_t klen, const void **val,
              size_t *vlen, uint64_t *expires_ms);

/* Up to max items of queue name with offset >= from, in order. */
int tr_queue_read(tr_store *s, tr_store_view *v, const void *name, size_t nlen, uint64_t from,
                  uint32_t max, tr_store_item_fn fn, void *arg);

/* first = offset of the oldest item not acked, next = offset the next append
 * gets (first == next: empty). A queue never written has first = next = 1. */
int tr_queue_info(tr_store *s, tr_store_view *v, const void *name, size_t nlen, uint64_t *first,
                  uint64_t *next);

/* User tables. get: v is required, *val points into it; TR_ENOENT if
 * absent. scan: keys starting with prefix (plen may be 0), in key order;
 * key/val are zero-copy, valid as for tr_store_item_fn. */
typedef int (*tr_store_kv_fn)(void *arg, const void *key, size_t klen, const void *val,
                              size_t vlen);
int tr_table_get(tr_store *s, tr_store_view *v, uint32_t table, const void *key, size_t klen,
                 const void **val, size_t *vlen);
int tr_table_scan(tr_store *s, tr_store_view *v, uint32_t table, const void *prefix, size_t plen,
                  tr_store_kv_fn fn, void *arg);
/* As scan, beginning at the first key >= start[0..slen) (caller-owned; a
 * start outside the prefix means the prefix's first key): for ranges over
 * keys that end in a big-endian number. */
int tr_table_scan_from(tr_store *s, tr_store_view *v, uint32_t table, const void *prefix,
                       size_t plen, const void *start, size_t slen, tr_store_kv_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
