/* jfilter.c - a filter of the pids that may have events in each journal
 * log table, so that reading a pid that has none there (every pid a new
 * persistent actor recovers) costs no walk over the log's rounds.
 *
 * Why: a read of a pid's journal (tr_journal_read, tr_journal_highest)
 * must look into every commit round not yet folded into the journal table,
 * one B-tree seek per round (up to JLOG_TABLES * FOLD_SLICES of them). A
 * brand-new actor, e.g. a workflow instance under a fresh random id, pays
 * all of them to learn that it has no events.
 *
 * What: one Bloom filter per jlog table (2 bits per pid out of 2^20). The
 * writer sets a pid's bits before it writes the pid's event into the table
 * (so before the commit that makes the event visible), and clears a table's
 * filter only after the commit that dropped the table (fold.c), when no new
 * view can see what it held. A filter may answer "maybe" for a pid with no
 * events (then the read walks, as before), never "no" for a pid whose
 * events a view can see:
 *  - bits are only set before a commit, so a view that sees an event sees
 *    its bits (the fences below order the bit stores before the commit's
 *    publication, and the reader's bit loads after its view began);
 *  - a clear is a seqlock write: the epoch is odd while it runs and
 *    changes with every clear; a view records the epoch before its read
 *    transaction begins, and a read trusts the filter only if the epoch is
 *    still that (even) value after the bits were read. A view that began
 *    before a drop committed and reads after the clear therefore walks; a
 *    view that recorded the epoch after the clear began after the drop
 *    committed and cannot see the dropped table's events.
 * Only a store with its writer keeps filters: a read-only open cannot know
 * what another process appends, and always walks.
 */
#include <stdlib.h>

#include "storage/internal.h"

enum { JF_WORDS = (1u << JF_BITS_LOG2) / 64 };

int st_jf_init(tr_store *s) {
  s->jf_bits = calloc((size_t)JLOG_TABLES * JF_WORDS, sizeof *s->jf_bits);
  return s->jf_bits ? 0 : TR_ENOMEM;
}

static inline void jf_pos(uint64_t hash, uint32_t *a, uint32_t *b) {
  /* the hash is avalanched (partition.c): disjoint bit ranges are
   * independent enough; the top 12 bits (the partition) are not used */
  *a = (uint32_t)(hash & ((1u << JF_BITS_LOG2) - 1));
  *b = (uint32_t)((hash >> JF_BITS_LOG2) & ((1u << JF_BITS_LOG2) - 1));
}

void st_jf_add(tr_store *s, int table, uint64_t hash) {
  if (!s->jf_bits) return;
  _Atomic uint64_t *w = s->jf_bits + (size_t)table * JF_WORDS;
  uint32_t a, b;
  jf_pos(hash, &a, &b);
  uint64_t ma = 1ull << (a & 63), mb = 1ull << (b & 63);
  /* most adds find their bits set already (a pid's later events): a load
   * is cheaper than a locked read-modify-write */
  if ((atomic_load_explicit(&w[a >> 6], memory_order_relaxed) & ma) == 0)
    atomic_fetch_or_explicit(&w[a >> 6], ma, memory_order_relaxed);
  if ((atomic_load_explicit(&w[b >> 6], memory_order_relaxed) & mb) == 0)
    atomic_fetch_or_explicit(&w[b >> 6], mb, memory_order_relaxed);
}

void st_jf_publish(tr_store *s) {
  /* the bits set so far precede the commit that follows (LMDB publishes a
   * commit through its meta page, outside C11's view) */
  if (s->jf_bits) atomic_thread_fence(memory_order_seq_cst);
}

void st_jf_clear(tr_store *s, int table) {
  if (!s->jf_bits) return;
  _Atomic uint64_t *w = s->jf_bits + (size_t)table * JF_WORDS;
  uint64_t e = atomic_load_explicit(&s->jf_epoch, memory_order_relaxed);
  atomic_store_explicit(&s->jf_epoch, e + 1, memory_order_relaxed); /* odd: clearing */
  atomic_thread_fence(memory_order_release);
  for (size_t i = 0; i < JF_WORDS; i++) atomic_store_explicit(&w[i], 0, memory_order_relaxed);
  atomic_store_explicit(&s->jf_epoch, e + 2, memory_order_release);
}

uint64_t st_jf_epoch(tr_store *s) {
  return atomic_load_explicit(&s->jf_epoch, memory_order_acquire);
}

bool st_jf_absent(tr_store *s, const tr_store_view *v, uint64_t hash) {
  if (!s->jf_bits || (v->jf_epoch & 1)) return false;
  /* the view's transaction began before this: its snapshot's events have
   * their bits set in what the loads below see */
  atomic_thread_fence(memory_order_seq_cst);
  uint32_t a, b;
  jf_pos(hash, &a, &b);
  uint64_t ma = 1ull << (a & 63), mb = 1ull << (b & 63);
  bool maybe = false;
  for (int t = 0; t < JLOG_TABLES && !maybe; t++) {
    _Atomic uint64_t *w = s->jf_bits + (size_t)t * JF_WORDS;
    maybe = (atomic_load_explicit(&w[a >> 6], memory_order_relaxed) & ma) &&
            (atomic_load_explicit(&w[b >> 6], memory_order_relaxed) & mb);
  }
  atomic_thread_fence(memory_order_acquire);
  bool stable = atomic_load_explicit(&s->jf_epoch, memory_order_relaxed) == v->jf_epoch;
  if (!maybe && stable) {
    atomic_fetch_add_explicit(&s->st_jlog_skipped, 1, memory_order_relaxed);
    return true;
  }
  atomic_fetch_add_explicit(&s->st_jlog_walked, 1, memory_order_relaxed);
  return false;
}
