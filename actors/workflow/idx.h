/* idx.h - what the engine's index actors (tasks.c, msgs.c, hist.c; the
 * protocol is index.h) share, so that the delivery rules are written once:
 *
 *  - idx_out: nothing leaves an index before the events it depends on are
 *    durable. Replies and notes wait in a list keyed by the last sequence
 *    number appended when they were made and go out when TR_MSG_PERSISTED
 *    reaches it (the job queue's "after" list, troupe/jobs.h).
 *  - idx_notes: the outbox of notes an instance must ack (TR_WF_IDX_ACK),
 *    rebuilt by recovery, sent again after it and every 30 s.
 *  - idx_map / idx_recent: a string-keyed hash map, and a bounded set of
 *    the ids most recently finished (so that a registration sent again
 *    after the thing it registered is over stays over).
 *  - idx_value: reading optional request fields, and msgpack value
 *    equality (correlation keys).
 *
 * Internal to actors/workflow. Ownership: every function copies what it is
 * given unless its comment says otherwise.
 */
#ifndef TR_WF_IDX_H
#define TR_WF_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "troupe/troupe.h"

#define IDX_RESEND_MS 30000 /* unacked notes go out again this often */
#define IDX_RECENT 10000    /* finished ids remembered per index actor */
#define IDX_STR_MAX 1024    /* bytes of a string field of a request */

uint64_t idx_wall_ms(void);

/* ------------------------------------------------------------ idx_out */

typedef struct idx_after idx_after;

typedef struct idx_out {
  idx_after *head, *tail;
  uint64_t acked; /* highest durable sequence number */
} idx_out;

/* Sends a copy of data[0..len) to the virtual actor `name` once everything
 * appended so far is durable. */
int idx_send(tr_ctx *ctx, idx_out *o, const char *name, uint32_t type, const void *data,
             size_t len);
/* Answers the ask req with TR_WF_IDX_REPLY and pk's bytes (copied; the
 * caller keeps and frees pk) once everything appended so far is durable; a
 * pack with an error answers that error instead. Nothing for a plain send. */
int idx_reply(tr_ctx *ctx, idx_out *o, const tr_msg *req, const tr_pack *pk);
/* {ok: true} */
int idx_reply_ok(tr_ctx *ctx, idx_out *o, const tr_msg *req);
/* {ok: false, code, error: printf(fmt, ...)}; returns 0 (the request is
 * answered) or TR_ENOMEM. Errors wait for durability too: "no such task"
 * may be about a completion that is not durable yet. */
int idx_reply_err(tr_ctx *ctx, idx_out *o, const tr_msg *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A request's payload as a map: *req is a cursor at it. TR_EPROTO when
 * the payload is not a msgpack map (answer it with idx_reply_err). */
int idx_request_map(const tr_msg *m, tr_unpack *req);
/* What a journal replay does with apply's rc: an event that does not fit
 * (TR_ECORRUPT) is logged with the actor's name and skipped (0). */
int idx_apply_result(const char *name, uint64_t seq, int rc);
/* TR_MSG_PERSISTED up to seq: sends what waited for it. */
void idx_out_durable(tr_ctx *ctx, idx_out *o, uint64_t seq);
void idx_out_free(idx_out *o);

/* ------------------------------------------------------------ idx_map */

typedef struct idx_ent idx_ent;

typedef struct idx_map {
  idx_ent **b;
  size_t nb, n;
} idx_map;

/* Adds key[0..len) (copied) -> val. TR_EEXIST if present, TR_ENOMEM. */
int idx_map_put(idx_map *m, const char *key, size_t len, void *val);
/* The value, or NULL. */
void *idx_map_get(const idx_map *m, const char *key, size_t len);
/* Removes the key; returns its value or NULL. */
void *idx_map_del(idx_map *m, const char *key, size_t len);
void idx_map_free(idx_map *m);

/* ------------------------------------------------------------ idx_recent */

typedef struct idx_recent {
  char **ring; /* IDX_RECENT slots, owned */
  size_t next, n;
  idx_map set;
} idx_recent;

int idx_recent_add(idx_recent *r, const char *id, size_t len);
int idx_recent_has(const idx_recent *r, const char *id, size_t len);
/* Snapshots: an array of ids, oldest first; load adds them in order. */
int idx_recent_pack(const idx_recent *r, tr_pack *pk);
int idx_recent_load(idx_recent *r, tr_unpack *u);
void idx_recent_free(idx_recent *r);

/* ------------------------------------------------------------ idx_notes */

typedef struct idx_note {
  struct idx_note *next, *prev;
  char *id, *to; /* the wait id; the instance's virtual name */
  uint32_t type;
  uint8_t *p; /* the note as sent */
  size_t len;
} idx_note;

typedef struct idx_notes {
  idx_note *head, *tail;
  idx_map by_id;
  uint64_t timer; /* the resend timer while notes are pending */
} idx_notes;

/* Keeps a note (copies); TR_EEXIST if one with this id is kept. */
int idx_notes_add(idx_notes *ns, const char *id, const char *to, uint32_t type, const void *p,
                  size_t len);
/* Drops the note with this id: 1 if there was one, else 0. */
int idx_notes_forget(idx_notes *ns, const char *id, size_t len);
int idx_notes_has(const idx_notes *ns, const char *id, size_t len);
/* Sends every kept note (after whatever is pending in o). */
int idx_notes_send_all(tr_ctx *ctx, idx_out *o, const idx_notes *ns);
/* Starts the 30 s resend timer while notes are kept, stops it when none
 * are. Call after each message. */
void idx_notes_arm(tr_ctx *ctx, idx_notes *ns);
/* 1 if m is the resend timer's tick (then every note went out again). */
int idx_notes_on_timer(tr_ctx *ctx, idx_out *o, idx_notes *ns, const tr_msg *m);
/* Snapshots: [[id, to, type, bin], ...] in order; load adds them. */
int idx_notes_pack(const idx_notes *ns, tr_pack *pk);
int idx_notes_load(idx_notes *ns, tr_unpack *u);
void idx_notes_free(idx_notes *ns);

/* ------------------------------------------------------------ idx_value */

/* An optional string field: 0 with *s, *n borrowed from the request; 1 if
 * absent or nil; TR_EINVAL if of another type or over max bytes. */
int idx_opt_str(const tr_unpack *map, const char *key, size_t max, const char **s, size_t *n);
/* An optional field of msgpack type `type` (TR_MP_*; 0: any): 0 with its
 * encoded bytes borrowed in *p, *n; 1 if absent (or nil, unless type is
 * 0); TR_EINVAL if of another type. */
int idx_opt_raw(const tr_unpack *map, const char *key, int type, const void **p, size_t *n);
/* An optional boolean (default def): 0 or TR_EINVAL. */
int idx_opt_bool(const tr_unpack *map, const char *key, int def, int *v);
/* An optional integer: 0, 1 if absent or nil, TR_EINVAL. */
int idx_opt_int(const tr_unpack *map, const char *key, int64_t *v);
/* Whether two msgpack values (borrowed) are equal as values: integers and
 * floats by number (1 == 1.0), strings and binaries by bytes, arrays by
 * element, maps by key set regardless of order; nesting over 32 is never
 * equal. 1 equal, 0 not (or malformed). */
int idx_value_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Whether (s, n) equals the NUL-terminated z. */
int idx_str_is(const char *s, size_t n, const char *z);

/* ------------------------------------------------------------ the kinds */

/* The behaviours of wftask, wfmsg and wfhist (static storage). */
const tr_persistent *tr_wf_tasks_behavior(void);
const tr_persistent *tr_wf_msgs_behavior(void);
const tr_persistent *tr_wf_hist_behavior(void);

#endif
