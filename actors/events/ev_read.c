/* ev_read.c - the warehouse's reads (query, count, distinct, funnel) off
 * the topic's actor.
 *
 * A distinct or a funnel over a day of events scans hundreds of thousands
 * of them; run on the actor, it would hold up the topic's writes and every
 * live delivery for that long. So each read runs on the blocking pool in
 * its own read view (LMDB readers never block the writer) over the ids
 * that were durable when it was asked, and the actor only answers: it
 * keeps the asker by job id and forwards the bytes the job built. A read
 * sees every event published (and answered) before it was asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_actor.h"

/* What a job needs, copied: the actor may move on (or passivate) while it
 * runs. The job frees it when done: nothing else touches it afterwards. */
typedef struct read_job {
  ev_tables tb;
  tr_store *st;
  uint64_t first, last;
  uint32_t type;
  char topic[TR_EV_TOPIC_MAX + 1];
  char qname[TR_EV_TOPIC_MAX + 8];
  uint64_t *held; /* owned: ev_scope.held */
  uint32_t nheld;
  size_t len;
  uint8_t req[];
} read_job;

/* The held-back index entries of the request's pi (else bk), as the index
 * scan will choose them (ev_scan_filtered): copied, as the lag changes
 * while the job runs. With them the read misses nothing: an event durable
 * now has its entry in the lag now (copied), or in a write that landed
 * before now (in the index of the job's view, which begins later). A
 * request that does not parse gets none (the job reports the error). */
static int copy_held(ev_state *s, const tr_msg *m, read_job *j) {
  if (!s->lag.nkeys && !s->lag_lost) return 0; /* nothing held: no need to parse */
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  ev_filter f;
  char err[8];
  int rc = ev_filter_parse(&u, &f, err, sizeof err);
  if (rc < 0) return rc == TR_ENOMEM ? rc : 0;
  const char *v = f.pi ? f.pi : f.bk;
  if (v && (rc = ev_lag_mend(s)) < 0) { /* it would miss the entries the lag lost */
    ev_filter_free(&f);
    return rc;
  }
  const uint64_t *ids;
  uint32_t n = v ? ev_lag_find(&s->lag, f.pi ? 'p' : 'b', (ev_str){v, strlen(v)}, &ids) : 0;
  while (n && ids[n - 1] > s->last) n--; /* cannot be: the lag holds durable ids */
  if (n && !(j->held = malloc(n * sizeof *j->held))) rc = TR_ENOMEM;
  else if (n) memcpy(j->held, ids, n * sizeof *ids), j->nheld = n;
  ev_filter_free(&f);
  return rc;
}

void (*ev_read_hook)(void); /* tests: runs at the start of every read job */

/* The answer (or the error) as the reply's payload; 0, or < 0 when not
 * even an error fits (out of memory: the actor answers the failure). */
static int read_run(void *arg, tr_buf *out) {
  read_job *j = arg;
  if (ev_read_hook) ev_read_hook();
  ev_scope sc = {j->st, &j->tb, j->topic, j->qname, j->first, j->last, j->held, j->nheld};
  char err[320] = "";
  tr_unpack u;
  tr_unpack_init(&u, j->req, j->len);
  tr_pack pk = TR_PACK_INIT;
  int rc;
  switch (j->type) {
  case TR_EV_QUERY: rc = ev_query(&sc, &u, &pk, err, sizeof err); break;
  case TR_EV_COUNT: rc = ev_count(&sc, &u, &pk, err, sizeof err); break;
  case TR_EV_DISTINCT: rc = ev_distinct(&sc, &u, &pk, err, sizeof err); break;
  default: rc = ev_funnel(&sc, &u, &pk, err, sizeof err); break;
  }
  free(j->held);
  free(j);
  if (rc == 0 && pk.err) rc = pk.err, snprintf(err, sizeof err, "the answer could not be built (too big?)");
  if (rc < 0) {
    tr_pack_free(&pk);
    tr_pack_init(&pk);
    tr_pack_error(&pk, rc, err[0] ? err : tr_strerror(rc));
  }
  rc = pk.err ? pk.err : tr_buf_append(out, pk.data, pk.len);
  tr_pack_free(&pk);
  if (rc < 0) { /* over the pool's result limit: say so, in few bytes */
    uint8_t buf[128];
    tr_pack_init_fixed(&pk, buf, sizeof buf);
    tr_pack_error(&pk, rc, "the answer is too big: narrow the range or page");
    rc = pk.err ? pk.err : tr_buf_append(out, pk.data, pk.len);
  }
  return rc;
}

int ev_read_start(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0; /* nobody to answer */
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_peek(&u) != TR_MP_MAP)
    return ev_reply_err(ctx, m, TR_EINVAL, "a request must be a map");
  if (s->nreads == EV_READS_MAX)
    return ev_reply_err(ctx, m, TR_EAGAIN, "too many reads of this topic at once; try again");
  read_job *j = malloc(sizeof *j + m->len);
  if (!j) return ev_reply_err(ctx, m, TR_ENOMEM, "out of memory");
  *j = (read_job){.tb = s->tb, .st = s->st, .first = s->first, .last = s->last,
                  .type = m->type, .len = m->len};
  memcpy(j->topic, s->topic, sizeof j->topic);
  memcpy(j->qname, s->qname, sizeof j->qname);
  memcpy(j->req, m->data, m->len);
  int rc = copy_held(s, m, j);
  if (rc < 0) {
    free(j);
    return ev_reply_err(ctx, m, rc == TR_ENOMEM ? TR_ENOMEM : TR_EAGAIN,
                        rc == TR_ENOMEM ? "out of memory"
                                        : "the index's newest entries could not be read; try again");
  }
  ev_asker *r = &s->reads[s->nreads];
  rc = tr_blocking_submit(ctx, read_run, j, EV_I_READ, &r->job);
  if (rc < 0) {
    free(j->held);
    free(j);
    return ev_reply_err(ctx, m, rc, "the read could not be started");
  }
  r->who = m->sender, r->corr = m->corr;
  s->nreads++;
  ev_timer_update(ctx, s); /* its ticks keep an idle topic from passivating */
  return 0;
}

void ev_read_abandon(tr_ctx *ctx, ev_state *s) {
  for (uint32_t i = 0; i < s->nreads; i++) {
    tr_msg asked = {.sender = s->reads[i].who, .corr = s->reads[i].corr, .flags = TR_MSG_F_ASK};
    ev_reply_err(ctx, &asked, TR_EAGAIN, "the topic moved or stopped; try again");
  }
  s->nreads = 0;
}

void ev_read_done(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  uint32_t i = 0;
  while (i < s->nreads && s->reads[i].job != m->corr) i++;
  if (i == s->nreads) return;
  /* the asker as tr_actor_reply reads it: sender, corr and the ask flag */
  tr_msg asked = {.sender = s->reads[i].who, .corr = s->reads[i].corr, .flags = TR_MSG_F_ASK};
  s->reads[i] = s->reads[--s->nreads];
  if (m->flags & TR_MSG_F_FAILED) ev_reply_err(ctx, &asked, TR_ENOMEM, "the read failed");
  else tr_actor_reply(ctx, &asked, TR_EV_REPLY, m->data, m->len);
  ev_timer_update(ctx, s);
}
