/* persist.c - persistent actors on the node's store.
 *
 * Recovery never runs on a scheduler: a blocking-pool job reads the newest
 * snapshot and a chunk of events into one buffer (a view is an LMDB read
 * transaction, and cold pages mean disk reads), which arrives in the actor's
 * system mailbox; the actor applies it on its own thread and asks for the
 * next chunk until the journal is exhausted. User messages wait meanwhile
 * (TR_AS_RECOVERING), so the behaviour sees TR_MSG_RECOVERED first.
 *
 * An append copies the event into a request the store's group-commit writer
 * owns until its completion, which runs on the writer thread after the
 * commit is durable and turns into a TR_MSG_PERSISTED message.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "codec/mp.h"
#include "core.h"
#include "storage/store.h"

/* A recovery chunk holds this many events or bytes, whichever comes first.
 * Small enough that its buffer stays under malloc's mmap threshold (128 KiB
 * by default) and so comes back from the heap warm: a buffer above it is
 * mapped fresh and unmapped on free, and fresh pages cost ~10 us each on
 * this machine. With 256 KiB chunks, 10,000 events replayed at ~1 M/s; with
 * 64 KiB at ~1.8 M/s, and 1 M events at the same ~4.5 M/s. Large enough
 * that a chunk's round trip (~10 us) is noise; the next chunk is read while
 * the actor applies this one. */
#define CHUNK_EVENTS 16384
#define CHUNK_BYTES (64u << 10)

struct tr_persist_data {
  const tr_persistent *p;
  char pid[TR_STORE_MAX_PID + 1];
  size_t pid_len;
  uint64_t last;      /* last seq appended */
  uint64_t acked;     /* last seq acknowledged durable */
  uint64_t snap_seq;  /* seq of the newest snapshot taken */
  uint32_t every, keep;
  uint8_t amortized;  /* snapshot only once the journal grew by snap_bytes */
  uint64_t snap_bytes;  /* size of the newest snapshot taken or restored */
  uint64_t bytes_since; /* event bytes after it (appended or replayed) */
  int failed;         /* an append failed: this incarnation appends no more */
  uint64_t corrupt;   /* events skipped as corrupt during recovery */
};

/* ------------------------------------------------------------ recovery */

/* One read on the blocking pool. The job owns this struct and frees it, so
 * an actor that stops while a read is in flight leaves nothing shared. */
typedef struct recover_job {
  tr_system *sys;
  uint64_t from;      /* first seq to read; 0 = also load the newest snapshot */
  size_t pid_len;
  char pid[TR_STORE_MAX_PID + 1];
} recover_job;

/* Chunk layout (internal, native endian, one process):
 *   u8 has_snapshot, u8 more, u8 corrupt, u8 pad, u32 count,
 *   u64 highest, u64 next_from, [u64 snap_seq, u64 snap_len, snap bytes],
 *   count x (u64 seq, u64 len, bytes) */
typedef struct {
  tr_buf *out;
  uint32_t count;
  uint64_t last;
  int full;
  int snap; /* the chunk carries a snapshot */
} chunk_acc;
_Static_assert(TR_PERSIST_MAX_ITEM + 24 + 16 <= TR_BUF_MAX, "an item fits in a chunk alone");

static int put_u64(tr_buf *b, uint64_t v) { return tr_buf_append(b, &v, sizeof v); }

static int chunk_item(void *arg, uint64_t seq, const void *data, size_t len) {
  chunk_acc *c = arg;
  /* a chunk without a snapshot takes at least one event, however big:
   * alone in a chunk, any event fits (TR_PERSIST_MAX_ITEM); one with a
   * snapshot leaves an event that does not fit to the next chunk */
  bool empty = c->count == 0 && !c->snap;
  if (!empty && (c->count >= CHUNK_EVENTS || c->out->len + 16 + len > CHUNK_BYTES)) {
    c->full = 1;
    return 1; /* stop: the rest comes in the next chunk */
  }
  int rc = put_u64(c->out, seq);
  if (!rc) rc = put_u64(c->out, len);
  if (!rc) rc = tr_buf_append(c->out, data, len);
  if (rc) return rc;
  c->count++;
  c->last = seq;
  return 0;
}

static int recover_read_job(recover_job *j, tr_buf *out) {
  tr_store *st = j->sys->store;
  tr_store_view *v;
  int rc = tr_store_view_begin(st, &v);
  if (rc < 0) return rc;
  uint8_t hdr[8] = {0};
  uint64_t highest = 0;
  /* most recoveries are of new or short journals (a few hundred bytes):
   * start small and let the buffer double, rather than take a chunk's
   * worth (above malloc's mmap threshold) for every activation */
  if (!out->data && (out->data = malloc(4096))) out->cap = 4096;
  rc = tr_buf_append(out, hdr, sizeof hdr);
  if (!rc) rc = tr_journal_highest(st, v, j->pid, j->pid_len, &highest);
  if (!rc) rc = put_u64(out, highest);
  if (!rc) rc = put_u64(out, 0); /* next_from, filled in below */
  uint64_t from = j->from;
  if (!rc && from == 0) {
    uint64_t sseq = 0;
    const void *sdata = NULL;
    size_t slen = 0;
    int src = tr_snapshot_load(st, v, j->pid, j->pid_len, UINT64_MAX, &sseq, &sdata, &slen);
    if (src == 0) {
      out->data[0] = 1;
      rc = put_u64(out, sseq);
      if (!rc) rc = put_u64(out, slen);
      if (!rc) rc = tr_buf_append(out, sdata, slen);
      from = sseq + 1;
    } else if (src != TR_ENOENT) {
      rc = src;
    } else {
      from = 1;
    }
  }
  chunk_acc c = {out, 0, 0, 0, out->data[0]};
  if (!rc) {
    int jrc = tr_journal_read(st, v, j->pid, j->pid_len, from, UINT64_MAX, chunk_item, &c);
    if (jrc == TR_ECORRUPT)
      out->data[2] = 1; /* valid events were delivered; the bad ones skipped */
    else if (jrc < 0)
      rc = jrc;
  }
  tr_store_view_end(v);
  if (rc < 0) return rc;
  out->data[1] = (uint8_t)c.full;
  memcpy(out->data + 4, &c.count, sizeof c.count);
  uint64_t next = !c.full ? 0 : c.count ? c.last + 1 : from; /* from: after a snapshot */
  memcpy(out->data + 16, &next, sizeof next);
  return 0;
}

static int recover_read(void *arg, tr_buf *out) {
  int rc = recover_read_job(arg, out);
  free(arg);
  return rc;
}

/* Queues the read of the chunk that starts at from (0: snapshot first). */
static int submit_recovery(tr_ctx *ctx, struct tr_persist_data *d, uint64_t from) {
  tr_system *sys = tr_tls_sys;
  recover_job *j = malloc(sizeof *j);
  if (!j) return TR_ENOMEM;
  j->sys = sys;
  j->from = from;
  j->pid_len = d->pid_len;
  memcpy(j->pid, d->pid, d->pid_len);
  int rc = tr_blocking_run(sys, tr_actor_self(ctx), recover_read, j, TR_SYS_RECOVER_CHUNK, 1, NULL);
  if (rc < 0) free(j);
  return rc;
}

static struct tr_persist_data *pdata(tr_ctx *ctx) {
  tr_actor_ext *x = atomic_load_explicit(&ctx->ext, memory_order_relaxed);
  return x ? x->persist : NULL;
}

static uint64_t rd_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* A chunk arrived (system mailbox). Returns 0 or the actor's exit reason. */
int tr_persist_on_chunk(tr_ctx *ctx, const tr_msg *m) {
  struct tr_persist_data *d = pdata(ctx);
  if (!d || !(atomic_load(&ctx->state) & TR_AS_RECOVERING)) return 0;
  if (m->flags & TR_MSG_F_FAILED) {
    tr_log(TR_LOG_ERROR, "persist", "%s: recovery failed", d->pid);
    return TR_EIO;
  }
  const uint8_t *p = m->data, *end = m->data + m->len;
  if (m->len < 24) return TR_ECORRUPT;
  int has_snap = p[0], more = p[1], corrupt = p[2];
  uint32_t count;
  memcpy(&count, p + 4, sizeof count);
  uint64_t highest = rd_u64(p + 8), next_from = rd_u64(p + 16);
  p += 24;
  const tr_persistent *pb = d->p;
  /* read the next chunk while this one is applied */
  if (more) {
    int rc = submit_recovery(ctx, d, next_from);
    if (rc < 0) return rc;
  }
  if (has_snap) {
    uint64_t sseq = rd_u64(p), slen = rd_u64(p + 8);
    p += 16;
    if (slen > (uint64_t)(end - p)) return TR_ECORRUPT;
    int rc = pb->restore ? pb->restore(ctx, ctx->state_mem, sseq, p, slen) : TR_ENOTSUP;
    if (rc < 0) return rc;
    p += slen;
    d->last = d->acked = d->snap_seq = sseq;
    d->snap_bytes = slen;
    d->bytes_since = 0;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (end - p < 16) return TR_ECORRUPT;
    uint64_t seq = rd_u64(p), len = rd_u64(p + 8);
    p += 16;
    if (len > (uint64_t)(end - p)) return TR_ECORRUPT;
    int rc = pb->apply(ctx, ctx->state_mem, seq, p, len);
    if (rc < 0) return rc;
    p += len;
    d->bytes_since += len;
    d->last = d->acked = seq;
  }
  if (corrupt) {
    d->corrupt++;
    tr_log(TR_LOG_WARN, "persist", "%s: corrupt events skipped during recovery", d->pid);
  }
  if (more) return 0;
  /* done: events may have been deleted after a snapshot, or be corrupt */
  if (highest > d->last) d->last = d->acked = highest;
  atomic_fetch_and(&ctx->state, ~(uint32_t)TR_AS_RECOVERING);
  /* TR_MSG_RECOVERED goes first, before anything in the mailbox */
  tr_mnode *n = tr_msg_new(tr_tls_sys, TR_REF_NONE, TR_MSG_RECOVERED, 0, d->last, NULL, 0);
  if (!n) return TR_ENOMEM;
  int rc = ctx->beh->receive(ctx, ctx->state_mem, &n->m);
  tr_msg_release(tr_tls_sys, n);
  return rc == TR_STOP ? TR_STOP : rc;
}

/* ------------------------------------------------------------ appends */

typedef struct append_req {
  tr_store_req req;
  struct append_req *next_done; /* on the system's list of completions */
  tr_system *sys;
  tr_ref to;
  uint64_t seq;
  size_t pid_len;
  int status;
  uint8_t is_snapshot;
  uint8_t cls; /* pool class */
  uint8_t *snapshot; /* owned state copy of a snapshot request */
  char pid[TR_STORE_MAX_PID + 1];
  uint8_t event[];
} append_req;

static void req_free(tr_system *sys, append_req *r) {
  tr_worker *w = tr_tls_worker;
  free(r->snapshot);
  tr_pool_free(&sys->pool, (w && w->sys == sys) ? &w->cache : NULL, r, r->cls);
}

/* On a worker: turns the completions gathered so far into messages. This is
 * where acks cost something (a message, a delivery, maybe a wake-up), so it
 * runs on the schedulers, with their caches, not on the store's writer. */
static void deliver_list(tr_system *sys, append_req *r) {
  append_req *fifo = NULL; /* the list is a stack: reverse to keep seq order */
  while (r) {
    append_req *next = r->next_done;
    r->next_done = fifo;
    fifo = r;
    r = next;
  }
  for (r = fifo; r; r = fifo) {
    fifo = r->next_done;
    if (!r->is_snapshot) {
      uint8_t err[16];
      size_t elen = r->status < 0 ? tr_mp_put_int(err, sizeof err, r->status) : 0;
      tr_mnode *n = tr_msg_new(sys, TR_REF_NONE, TR_MSG_PERSISTED,
                               r->status < 0 ? TR_MSG_F_FAILED : 0, r->seq, err, elen);
      if (n) tr_deliver(sys, r->to, n, 0);
    } else if (r->status < 0) {
      tr_log(TR_LOG_WARN, "persist", "%s: snapshot at %llu not saved: %s", r->pid,
             (unsigned long long)r->seq, tr_strerror(r->status));
    }
    req_free(sys, r);
  }
}

/* Delivers until the list stays empty. Only one thread delivers at a time:
 * two batches delivered at once could reach an actor out of seq order. */
static void deliver_acks(tr_worker *w, void *arg) {
  (void)w;
  tr_system *sys = arg;
  for (;;) {
    int expect = 0;
    if (!atomic_compare_exchange_strong(&sys->acks_busy, &expect, 1)) return; /* it loops */
    append_req *r;
    while ((r = atomic_exchange(&sys->acks, NULL)) != NULL) deliver_list(sys, r);
    atomic_store(&sys->acks_busy, 0);
    /* a push after our last exchange may have seen us busy and left it */
    if (!atomic_load(&sys->acks)) return;
  }
}

/* Store completion, on its writer thread: only a push. The first push onto
 * an empty list asks a worker to deliver (one wake-up per batch). */
static void append_done(void *arg, int status) {
  append_req *r = arg;
  tr_system *sys = r->sys;
  r->status = status;
  append_req *head = atomic_load(&sys->acks);
  do {
    r->next_done = head;
  } while (!atomic_compare_exchange_weak(&sys->acks, &head, r));
  if (!head) {
    uint32_t i = atomic_fetch_add(&sys->ack_rr, 1) % sys->nworkers;
    if (tr_sched_post(&sys->workers[i], deliver_acks, sys) < 0) {
      tr_external_enter(sys); /* no memory for a command: deliver from here */
      deliver_acks(NULL, sys);
      tr_external_exit(sys);
    }
  }
}

static append_req *new_req(tr_system *sys, tr_ctx *ctx, struct tr_persist_data *d, uint64_t seq,
                           size_t extra) {
  tr_worker *w = tr_tls_worker;
  size_t size = sizeof(append_req) + extra;
  unsigned cls = tr_pool_class_of(size);
  append_req *r = cls == TR_POOL_MALLOC
                      ? malloc(size)
                      : tr_pool_alloc(&sys->pool, (w && w->sys == sys) ? &w->cache : NULL, cls);
  if (!r) return NULL;
  memset(r, 0, sizeof *r);
  r->cls = (uint8_t)cls;
  r->sys = sys;
  r->to = tr_actor_self(ctx);
  r->seq = seq;
  r->pid_len = d->pid_len;
  memcpy(r->pid, d->pid, d->pid_len);
  r->req.done = append_done;
  r->req.arg = r;
  return r;
}

int tr_persist_append(tr_ctx *ctx, const void *event, size_t len, uint64_t *seq) {
  if (!ctx || (len && !event)) return TR_EINVAL;
  struct tr_persist_data *d = pdata(ctx);
  if (!d || (atomic_load(&ctx->state) & TR_AS_RECOVERING)) return TR_EPERM;
  if (d->failed) return TR_EIO;
  if (len > TR_PERSIST_MAX_ITEM) return TR_ETOOBIG;
  tr_system *sys = tr_tls_sys;
  uint64_t next = d->last + 1;
  append_req *r = new_req(sys, ctx, d, next, len);
  if (!r) return TR_ENOMEM;
  memcpy(r->event, event, len);
  r->req.op = tr_op_journal_append(r->pid, r->pid_len, r->seq, r->event, len);
  int rc = tr_store_submit(sys->store, &r->req);
  if (rc < 0) {
    req_free(sys, r);
    return rc;
  }
  /* r is the store's now: its completion may already have run and freed it
   * (another actor's append may be reusing it), so it is not read again */
  d->last = next;
  d->bytes_since += len;
  if (seq) *seq = next;
  return 0;
}

tr_store *tr_system_store(tr_system *sys) { return sys ? sys->store : NULL; }

uint64_t tr_persist_seq(tr_ctx *ctx) {
  struct tr_persist_data *d = ctx ? pdata(ctx) : NULL;
  return d ? d->last : 0;
}

int tr_persist_settled(tr_ctx *ctx) {
  struct tr_persist_data *d = pdata(ctx);
  return !d || d->failed || d->acked >= d->last;
}

/* An ack arrived (user mailbox), before the behaviour sees it. */
void tr_persist_on_ack(tr_ctx *ctx, const tr_msg *m) {
  struct tr_persist_data *d = pdata(ctx);
  if (!d) return;
  if (m->flags & TR_MSG_F_FAILED) {
    /* later events would leave a gap: refuse them; a restart recovers */
    d->failed = 1;
    return;
  }
  if (m->corr > d->acked) d->acked = m->corr;
}

/* At a callback boundary: every event appended is reflected in the state;
 * snapshot it when all of them are durable, so a snapshot never covers an
 * event the journal may lack. */
void tr_persist_after_callback(tr_ctx *ctx) {
  struct tr_persist_data *d = pdata(ctx);
  if (!d || !d->every || !d->p->snapshot || d->failed || d->acked != d->last ||
      d->last - d->snap_seq < d->every || (d->amortized && d->bytes_since < d->snap_bytes))
    return;
  tr_buf b = {0};
  int rc = d->p->snapshot(ctx, ctx->state_mem, &b);
  if (rc >= 0 && b.len > TR_PERSIST_MAX_ITEM) {
    tr_log(TR_LOG_WARN, "persist", "%s: snapshot at %llu not saved: %zu bytes is over %u", d->pid,
           (unsigned long long)d->last, b.len, TR_PERSIST_MAX_ITEM);
    free(b.data);
    d->snap_seq = d->last; /* not again before another snapshot_every events */
    d->bytes_since = 0;
    return;
  }
  tr_system *sys = tr_tls_sys;
  append_req *r = rc < 0 ? NULL : new_req(sys, ctx, d, d->last, 0);
  if (!r) {
    free(b.data);
    return;
  }
  r->is_snapshot = 1;
  r->snapshot = b.data;
  r->req.op = tr_op_snapshot_save(r->pid, r->pid_len, r->seq, b.data, b.len, d->keep ? d->keep : 1);
  if (tr_store_submit(sys->store, &r->req) < 0) {
    req_free(sys, r);
    return;
  }
  d->snap_seq = d->last;
  d->snap_bytes = b.len;
  d->bytes_since = 0;
}

void tr_persist_free(void *p) { free(p); }

/* ------------------------------------------------------------ spawn */

static int persist_spawn(tr_system *sys, tr_actor *parent, int adopt, const tr_persistent *p,
                         const void *arg, const tr_persist_opts *o, tr_ref *out) {
  if (!sys || !p || !p->base.receive || !p->apply || !o || !o->id) return TR_EINVAL;
  if ((p->snapshot != NULL) != (p->restore != NULL)) return TR_EINVAL;
  size_t plen = strlen(o->id);
  if (!plen || plen > TR_STORE_MAX_PID) return TR_EINVAL;
  if (!sys->store) return TR_ENOTSUP;
  struct tr_persist_data *d = calloc(1, sizeof *d);
  if (!d) return TR_ENOMEM;
  d->p = p;
  memcpy(d->pid, o->id, plen);
  d->pid_len = plen;
  d->every = o->snapshot_every;
  d->keep = o->snapshot_keep;
  d->amortized = o->snapshot_amortized;
  /* spawn owns d: it attaches it before init and starts recovery after */
  return tr_actor_spawn_under(sys, parent, adopt, &p->base, arg, &o->spawn, NULL, 0, out, NULL, d);
}

/* Called by spawn once init succeeded, still owning the actor. */
int tr_persist_start_recovery(tr_ctx *ctx) {
  struct tr_persist_data *d = pdata(ctx);
  return d ? submit_recovery(ctx, d, 0) : 0;
}

int tr_persist_spawn(tr_ctx *ctx, const tr_persistent *p, const void *arg,
                     const tr_persist_opts *opts, tr_ref *out) {
  if (!ctx) return TR_EINVAL;
  return persist_spawn(tr_tls_sys, ctx, 0, p, arg, opts, out);
}

int tr_system_persist_spawn(tr_system *sys, const tr_persistent *p, const void *arg,
                            const tr_persist_opts *opts, tr_ref *out) {
  if (!sys) return TR_EINVAL;
  tr_external_enter(sys);
  tr_system *saved = tr_tls_sys;
  int rc = persist_spawn(sys, sys->root, 1, p, arg, opts, out);
  tr_tls_sys = saved;
  tr_external_exit(sys);
  return rc;
}
