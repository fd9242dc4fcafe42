/* hist.h - a latency histogram any thread can add to: 10 us buckets up to
 * 10 s, atomic counters, percentiles read at the end. */
#ifndef TR_BENCH_HIST_H
#define TR_BENCH_HIST_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define HIST_BUCKET_US 10
#define HIST_BUCKETS 1000000 /* 10 s */

typedef struct {
  _Atomic uint64_t *b;
  _Atomic uint64_t n;
} hist;

static inline int hist_init(hist *h) {
  h->b = calloc(HIST_BUCKETS, sizeof *h->b);
  atomic_init(&h->n, 0);
  return h->b ? 0 : -1;
}
static inline void hist_free(hist *h) { free((void *)h->b); }

static inline void hist_add(hist *h, double secs) {
  uint64_t i = (uint64_t)(secs * 1e6 / HIST_BUCKET_US);
  if (i >= HIST_BUCKETS) i = HIST_BUCKETS - 1;
  atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->n, 1, memory_order_relaxed);
}

/* q in [0,1] -> milliseconds (upper edge of the bucket) */
static inline double hist_ms(hist *h, double q) {
  uint64_t n = atomic_load(&h->n), want = (uint64_t)(q * (double)n), seen = 0;
  for (uint64_t i = 0; i < HIST_BUCKETS; i++) {
    seen += atomic_load_explicit(&h->b[i], memory_order_relaxed);
    if (seen > want) return (double)(i + 1) * HIST_BUCKET_US / 1000.0;
  }
  return (double)HIST_BUCKETS * HIST_BUCKET_US / 1000.0;
}

#endif
