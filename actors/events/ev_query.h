/* ev_query.h - scans shared by the queries (ev_query.c) and the
 * aggregations (ev_agg.c). */
#ifndef TR_EV_QUERY_H
#define TR_EV_QUERY_H

#include "actors/events/ev_int.h"

/* One event of a scan: e and p[0..n) borrowed for the call. Return 0 to
 * go on, 1 to stop, < 0 to stop with that error. */
typedef int (*ev_scan_fn)(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n);

/* Every event with lo <= id <= hi, in id order. */
int ev_scan(const ev_scope *s, tr_store_view *v, uint64_t lo, uint64_t hi, ev_scan_fn fn,
            void *arg);
/* The same through an index when f names a pi, bk or single type (the
 * callback still tests f); desc: newest first. */
int ev_scan_filtered(const ev_scope *s, tr_store_view *v, const ev_filter *f, uint64_t lo,
                     uint64_t hi, bool desc, ev_scan_fn fn, void *arg);

/* from_time/to_time of a request (defaults 0 and UINT64_MAX); bucket. */
/* The answer {ok: true, buckets: [row...]} with nrows rows already packed
 * into rows (borrowed); rows' own error, if any, is returned. */
int ev_pack_buckets(tr_pack *out, uint32_t nrows, const tr_pack *rows);
int ev_req_times(const tr_unpack *req, uint64_t *from, uint64_t *to, char *err, size_t cap);
int ev_req_gran(const tr_unpack *req, char *gran, char *err, size_t cap);

#endif
