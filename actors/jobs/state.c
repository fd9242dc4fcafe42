/* state.c - a job queue's state and its events (queue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

int jq_init(jq *q, const char *topic) {
  memset(q, 0, sizeof *q);
  size_t n = strlen(topic);
  if (n > TR_JOB_TOPIC_MAX) return TR_EINVAL;
  memcpy(q->topic, topic, n);
  q->nb = 64;
  q->hb = calloc(q->nb, sizeof *q->hb);
  q->kb = calloc(q->nb, sizeof *q->kb);
  q->timed.by_time = 1;
  if (q->hb && q->kb) return 0;
  free(q->hb), free(q->kb);
  q->hb = q->kb = NULL;
  return TR_ENOMEM;
}

static void job_free(jq_job *j) {
  free(j->notify), free(j->pi), free(j->act), free(j->bk), free(j->error), free(j->vars);
  free(j->dk), free(j->did);
  free(j->note);
  free(j);
}

void jq_free(jq *q) {
  for (jq_job *j = q->head, *n; j; j = n) {
    n = j->next;
    job_free(j);
  }
  free(q->hb);
  free(q->kb);
  free(q->avail.a);
  free(q->timed.a);
  free(q->wk);
  memset(q, 0, sizeof *q);
}

jq_job *jq_find(jq *q, const char *id, size_t len) {
  if (len > TR_JOB_ID_MAX) return NULL;
  for (jq_job *j = q->hb[hash(id, len) & (q->nb - 1)]; j; j = j->hnext)
    if (strlen(j->id) == len && memcmp(j->id, id, len) == 0) return j;
  return NULL;
}

/* Keys are unique as the actor creates jobs, but a journal could hold the
 * same key twice: the oldest wins, as when this was a walk of the list. */
jq_job *jq_find_key(jq *q, const char *key, size_t len) {
  if (!len || len > TR_JOB_ID_MAX) return NULL;
  jq_job *best = NULL;
  for (jq_job *j = q->kb[hash(key, len) & (q->nb - 1)]; j; j = j->knext)
    if (strlen(j->key) == len && memcmp(j->key, key, len) == 0 && (!best || j->seq < best->seq))
      best = j;
  return best;
}

static void key_link(jq_job *j, jq_job **kb, size_t nb) {
  size_t b = hash(j->key, strlen(j->key)) & (nb - 1);
  j->knext = kb[b];
  kb[b] = j;
}

static void key_unlink(jq *q, jq_job *j) {
  jq_job **p = &q->kb[hash(j->key, strlen(j->key)) & (q->nb - 1)];
  while (*p && *p != j) p = &(*p)->knext;
  if (*p) *p = j->knext;
  j->knext = NULL;
}

/* Doubles both hash tables (ids and keys share the bucket count). */
static int grow(jq *q) {
  size_t nb = q->nb * 2;
  jq_job **hb = calloc(nb, sizeof *hb), **kb = calloc(nb, sizeof *kb);
  if (!hb || !kb) {
    free(hb), free(kb);
    return TR_ENOMEM;
  }
  for (jq_job *j = q->head; j; j = j->next) {
    size_t b = hash(j->id, strlen(j->id)) & (nb - 1);
    j->hnext = hb[b];
    hb[b] = j;
    if (j->key[0]) key_link(j, kb, nb);
  }
  free(q->hb), free(q->kb);
  q->hb = hb, q->kb = kb;
  q->nb = nb;
  return 0;
}

/* ------------------------------------------------------------ heaps */

static size_t *heap_pos(const jq_heap *h, jq_job *j) { return h->by_time ? &j->tpos : &j->apos; }
static uint64_t heap_key(const jq_heap *h, const jq_job *j) {
  return h->by_time ? j->until_ms : j->seq;
}

static void heap_set(jq_heap *h, size_t i, jq_job *j) {
  h->a[i] = j;
  *heap_pos(h, j) = i + 1;
}

static void sift_up(jq_heap *h, size_t i) {
  jq_job *j = h->a[i];
  while (i) {
    size_t p = (i - 1) / 2;
    if (heap_key(h, h->a[p]) <= heap_key(h, j)) break;
    heap_set(h, i, h->a[p]);
    i = p;
  }
  heap_set(h, i, j);
}

static void sift_down(jq_heap *h, size_t i) {
  jq_job *j = h->a[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && heap_key(h, h->a[c + 1]) < heap_key(h, h->a[c])) c++;
    if (heap_key(h, j) <= heap_key(h, h->a[c])) break;
    heap_set(h, i, h->a[c]);
    i = c;
  }
  heap_set(h, i, j);
}

static int heap_reserve(jq_heap *h, size_t n) {
  if (n <= h->cap) return 0;
  size_t cap = h->cap ? h->cap * 2 : 64;
  while (cap < n) cap *= 2;
  jq_job **a = realloc(h->a, cap * sizeof *a);
  if (!a) return TR_ENOMEM;
  h->a = a;
  h->cap = cap;
  return 0;
}

/* Room was reserved when the job was added (jq_add): never fails. */
static void heap_push(jq_heap *h, jq_job *j) {
  h->a[h->n] = j;
  sift_up(h, h->n++);
}

static void heap_del(jq_heap *h, jq_job *j) {
  size_t i = *heap_pos(h, j) - 1;
  *heap_pos(h, j) = 0;
  jq_job *last = h->a[--h->n];
  if (i == h->n) return;
  heap_set(h, i, last);
  sift_up(h, i);
  sift_down(h, *heap_pos(h, last) - 1);
}

/* ------------------------------------------------------------ in-flight per worker */

/* Few workers subscribe to a queue, so a small table walked by name. */
static jq_worker *worker_find(const jq *q, const char *name) {
  for (size_t i = 0; i < q->nwk; i++)
    if (!strcmp(q->wk[i].name, name)) return &q->wk[i];
  return NULL;
}

/* Room for one more worker, made before an event changes anything so
 * that placing a job afterwards cannot fail. */
static int worker_reserve(jq *q) {
  if (q->nwk < q->capwk) return 0;
  size_t cap = q->capwk ? q->capwk * 2 : 4;
  jq_worker *wk = realloc(q->wk, cap * sizeof *wk);
  if (!wk) return TR_ENOMEM;
  q->wk = wk;
  q->capwk = cap;
  return 0;
}

static void worker_count(jq *q, const char *name, int d) {
  jq_worker *w = worker_find(q, name);
  if (!w) {
    if (d < 0 || q->nwk == q->capwk) return; /* cannot happen: counted, reserved */
    w = &q->wk[q->nwk++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->n = 0;
  }
  w->n = (uint32_t)((int64_t)w->n + d);
  if (!w->n) *w = q->wk[--q->nwk];
}

/* ------------------------------------------------------------ where a job belongs */

static int in_finished(const jq *q, const jq_job *j) { return q->fhead == j || j->fprev; }

/* Takes j out of every index that depends on its state (idempotent). */
static void unplace(jq *q, jq_job *j) {
  if (j->apos) heap_del(&q->avail, j);
  if (j->tpos) heap_del(&q->timed, j);
  if (j->counted) worker_count(q, j->worker, -1), j->counted = 0;
  if (in_finished(q, j)) {
    if (j->fprev) j->fprev->fnext = j->fnext;
    else q->fhead = j->fnext;
    if (j->fnext) j->fnext->fprev = j->fprev;
    else q->ftail = j->fprev;
    j->fnext = j->fprev = NULL;
    q->nfinished--;
  }
}

/* Puts j where its state and the queue's clock say (j is in none). A lock
 * or retry already due at the clock is available now; one due later waits
 * in the timed heap for jq_advance. */
static void place(jq *q, jq_job *j) {
  switch (j->state) {
  case J_AVAILABLE: heap_push(&q->avail, j); break;
  case J_LOCKED:
  case J_RETRY:
    if (j->until_ms <= q->clock) {
      heap_push(&q->avail, j);
      break;
    }
    heap_push(&q->timed, j);
    if (j->state == J_LOCKED && j->pushed) worker_count(q, j->worker, 1), j->counted = 1;
    break;
  case J_FINISHED:
    j->fprev = q->ftail;
    if (q->ftail) q->ftail->fnext = j;
    else q->fhead = j;
    q->ftail = j;
    q->nfinished++;
    break;
  default: break; /* an incident waits for new retries */
  }
}

jq_job *jq_add(jq *q, const char *id, size_t id_len) {
  if (!id_len || id_len > TR_JOB_ID_MAX) return NULL;
  if (q->count + 1 > q->nb && grow(q) < 0) return NULL;
  /* a job is in at most one heap: room for all of them in each */
  if (heap_reserve(&q->avail, q->count + 1) < 0 || heap_reserve(&q->timed, q->count + 1) < 0)
    return NULL;
  jq_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  memcpy(j->id, id, id_len);
  j->retries = -1;
  j->seq = q->seq++;
  size_t b = hash(id, id_len) & (q->nb - 1);
  j->hnext = q->hb[b];
  q->hb[b] = j;
  j->prev = q->tail;
  if (q->tail) q->tail->next = j;
  else q->head = j;
  q->tail = j;
  q->count++;
  j->state = J_AVAILABLE;
  place(q, j);
  return j;
}

int jq_set_key(jq *q, jq_job *j, const char *key, size_t len) {
  if (len > TR_JOB_ID_MAX || j->key[0]) return TR_EINVAL;
  memcpy(j->key, key, len);
  j->key[len] = 0;
  if (len) key_link(j, q->kb, q->nb);
  return 0;
}

void jq_remove(jq *q, jq_job *j) {
  unplace(q, j);
  if (j->key[0]) key_unlink(q, j);
  jq_job **p = &q->hb[hash(j->id, strlen(j->id)) & (q->nb - 1)];
  while (*p != j) p = &(*p)->hnext;
  *p = j->hnext;
  if (j->prev) j->prev->next = j->next;
  else q->head = j->next;
  if (j->next) j->next->prev = j->prev;
  else q->tail = j->prev;
  q->count--;
  job_free(j);
}

int jq_visible(const jq_job *j) { return j->state != J_FINISHED; }

int jq_available(const jq_job *j, uint64_t now_ms) {
  return j->state == J_AVAILABLE || ((j->state == J_LOCKED || j->state == J_RETRY) &&
                                     j->until_ms <= now_ms);
}

uint64_t jq_advance(jq *q, uint64_t now_ms) {
  if (now_ms > q->clock) q->clock = now_ms;
  while (q->timed.n && q->timed.a[0]->until_ms <= q->clock) {
    jq_job *j = q->timed.a[0];
    unplace(q, j);
    place(q, j); /* due: into the available set */
  }
  return q->clock;
}

uint64_t jq_next_change(jq *q, uint64_t now_ms) {
  jq_advance(q, now_ms);
  return q->timed.n ? q->timed.a[0]->until_ms : 0;
}

size_t jq_available_count(jq *q, uint64_t now_ms) {
  jq_advance(q, now_ms);
  return q->avail.n;
}

jq_job *jq_first_available(jq *q, uint64_t now_ms) {
  jq_advance(q, now_ms);
  return q->avail.n ? q->avail.a[0] : NULL;
}

uint32_t jq_inflight(jq *q, const char *worker, uint64_t now_ms) {
  jq_advance(q, now_ms);
  const jq_worker *w = worker_find(q, worker);
  return w ? w->n : 0;
}

static int heap_check(const jq_heap *h) {
  for (size_t i = 0; i < h->n; i++) {
    if (*heap_pos(h, h->a[i]) != i + 1) return TR_ECORRUPT;
    if (i && heap_key(h, h->a[(i - 1) / 2]) > heap_key(h, h->a[i])) return TR_ECORRUPT;
  }
  return 0;
}

int jq_check(const jq *q) {
  if (heap_check(&q->avail) < 0 || heap_check(&q->timed) < 0) return TR_ECORRUPT;
  size_t n = 0, nf = 0, na = 0, nt = 0;
  for (const jq_job *j = q->head; j; j = j->next, n++) {
    na += j->apos != 0, nt += j->tpos != 0;
    if (j->apos && j->tpos) return TR_ECORRUPT;
  }
  for (const jq_job *j = q->fhead; j; j = j->fnext, nf++)
    if (j->state != J_FINISHED || (j->fnext ? j->fnext->fprev != j : q->ftail != j))
      return TR_ECORRUPT;
  uint64_t counted = 0;
  for (size_t i = 0; i < q->nwk; i++) {
    if (!q->wk[i].n) return TR_ECORRUPT;
    counted += q->wk[i].n;
  }
  for (const jq_job *j = q->head; j; j = j->next) counted -= (uint64_t)(j->counted != 0);
  return n == q->count && nf == q->nfinished && na == q->avail.n && nt == q->timed.n && !counted
             ? 0
             : TR_ECORRUPT;
}

/* ------------------------------------------------------------ events */

/* A string field copied into buf (cap includes the NUL). */
static int get_str(tr_unpack *u, char *buf, size_t cap) {
  return tr_unpack_str_copy(u, buf, cap) < 0 ? TR_ECORRUPT : 0;
}

/* A string field as a new heap copy ("" -> NULL). */
static int get_dup(tr_unpack *u, char **out) {
  const char *s;
  size_t n;
  if (tr_unpack_str(u, &s, &n) < 0 || n > 4096) return TR_ECORRUPT;
  *out = NULL;
  if (!n) return 0;
  if (!(*out = malloc(n + 1))) return TR_ENOMEM;
  memcpy(*out, s, n);
  (*out)[n] = 0;
  return 0;
}

static int get_u(tr_unpack *u, uint64_t *v) { return tr_unpack_uint(u, v) < 0 ? TR_ECORRUPT : 0; }
static int get_i(tr_unpack *u, int64_t *v) { return tr_unpack_int(u, v) < 0 ? TR_ECORRUPT : 0; }

static int apply_create(jq *q, tr_unpack *u, uint32_t n) {
  if (n != 10 && n != 12) return TR_ECORRUPT; /* 12: with dk and did */
  int ns = n == 12 ? 6 : 4;
  char id[TR_JOB_ID_MAX + 1], key[TR_JOB_ID_MAX + 1];
  const void *vars = NULL;
  size_t vars_len = 0;
  int64_t retries;
  uint64_t created;
  char *s[JQ_STRS] = {NULL, NULL, NULL, NULL, NULL, NULL};
  int rc = get_str(u, id, sizeof id);
  if (!rc) rc = get_str(u, key, sizeof key);
  if (!rc) {
    if (tr_unpack_peek(u) == TR_MP_NIL) rc = tr_unpack_nil(u) < 0 ? TR_ECORRUPT : 0;
    else rc = tr_unpack_bin(u, &vars, &vars_len) < 0 ? TR_ECORRUPT : 0;
  }
  if (!rc) rc = get_i(u, &retries);
  for (int i = 0; i < ns && !rc; i++) rc = get_dup(u, &s[i]);
  if (!rc) rc = get_u(u, &created);
  jq_job *j = NULL;
  if (!rc && (!id[0] || jq_find(q, id, strlen(id)))) rc = TR_ECORRUPT;
  if (!rc && !(j = jq_add(q, id, strlen(id)))) rc = TR_ENOMEM;
  if (!rc && vars_len && !(j->vars = malloc(vars_len))) rc = TR_ENOMEM;
  if (rc < 0) {
    if (j) jq_remove(q, j);
    for (int i = 0; i < JQ_STRS; i++) free(s[i]);
    return rc;
  }
  if (vars_len) memcpy(j->vars, vars, vars_len);
  j->vars_len = vars_len;
  jq_set_key(q, j, key, strlen(key));
  j->retries = retries;
  j->notify = s[0], j->pi = s[1], j->act = s[2], j->bk = s[3], j->dk = s[4], j->did = s[5];
  j->created_ms = created;
  return 0; /* jq_add made it available */
}

#define JQ_GONE 1 /* apply_job removed the job */
static int apply_job(jq *q, jq_job *j, tr_unpack *up, uint32_t n, uint64_t kind);

int jq_apply(jq *q, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  uint32_t n;
  uint64_t kind;
  if (tr_unpack_array(&u, &n) < 0 || n < 2 || get_u(&u, &kind) < 0) return TR_ECORRUPT;
  if (kind == EV_CREATE) return apply_create(q, &u, n);
  char id[TR_JOB_ID_MAX + 1];
  if (get_str(&u, id, sizeof id) < 0) return TR_ECORRUPT;
  jq_job *j = jq_find(q, id, strlen(id));
  if (!j) return TR_ECORRUPT;
  /* out of the indexes while the event changes it, back in after: */
  if (worker_reserve(q) < 0) return TR_ENOMEM; /* ...where placing cannot fail */
  unplace(q, j);
  int rc = apply_job(q, j, &u, n, kind);
  if (rc == JQ_GONE) return 0;
  place(q, j);
  return rc;
}

/* One event about job j (out of the indexes; JQ_GONE if it removed it). */
static int apply_job(jq *q, jq_job *j, tr_unpack *up, uint32_t n, uint64_t kind) {
  tr_unpack u = *up;
  switch (kind) {
  case EV_LOCK: { /* [2, id, worker, until, pushed] */
    char worker[64];
    uint64_t until;
    int pushed;
    if (n != 5 || get_str(&u, worker, sizeof worker) < 0 || get_u(&u, &until) < 0 ||
        tr_unpack_bool(&u, &pushed) < 0)
      return TR_ECORRUPT;
    memcpy(j->worker, worker, sizeof worker);
    j->until_ms = until;
    j->pushed = pushed;
    j->state = J_LOCKED;
    return 0;
  }
  case EV_DONE: /* [3, id, note]: note nil = nobody to tell, gone at once */
  case EV_BERR: { /* [5, id, note] */
    const void *note = NULL;
    size_t nl = 0;
    if (n != 3 || j->state == J_FINISHED) return TR_ECORRUPT;
    if (tr_unpack_peek(&u) == TR_MP_NIL) {
      if (tr_unpack_nil(&u) < 0) return TR_ECORRUPT;
      jq_remove(q, j);
      return JQ_GONE;
    }
    if (tr_unpack_bin(&u, &note, &nl) < 0 || !nl) return TR_ECORRUPT;
    uint8_t *copy = malloc(nl);
    if (!copy) return TR_ENOMEM;
    memcpy(copy, note, nl);
    free(j->note);
    j->note = copy;
    j->note_len = nl;
    j->note_type = kind == EV_DONE ? TR_JOB_DONE : TR_JOB_ERROR;
    j->state = J_FINISHED;
    j->worker[0] = 0;
    j->pushed = 0;
    return 0;
  }
  case EV_FORGET: /* [10, id] */
    if (n != 2 || j->state != J_FINISHED) return TR_ECORRUPT;
    jq_remove(q, j);
    return JQ_GONE;
  case EV_FAIL: { /* [4, id, retries, retry_at, error] */
    int64_t retries;
    uint64_t at;
    char *err = NULL;
    if (n != 5 || get_i(&u, &retries) < 0 || retries < 0 || get_u(&u, &at) < 0 ||
        get_dup(&u, &err) < 0)
      return TR_ECORRUPT;
    free(j->error);
    j->error = err;
    j->retries = retries;
    j->until_ms = at;
    j->state = retries == 0 ? J_INCIDENT : J_RETRY;
    j->pushed = 0;
    j->worker[0] = 0;
    return 0;
  }
  case EV_EXTEND: { /* [6, id, until] */
    uint64_t until;
    if (n != 3 || get_u(&u, &until) < 0) return TR_ECORRUPT;
    j->until_ms = until;
    return 0;
  }
  case EV_UNLOCK: /* [7, id] */
    if (n != 2) return TR_ECORRUPT;
    j->state = J_AVAILABLE;
    j->pushed = 0;
    j->worker[0] = 0;
    return 0;
  case EV_STATE: { /* [9, id, state, retries, until, worker, pushed, error, note_type, note] */
    uint64_t st, until, nt;
    int64_t retries;
    char worker[64];
    int pushed;
    const char *err;
    size_t el;
    const void *note = NULL;
    size_t nl = 0;
    if (n != 10 || get_u(&u, &st) < 0 || st > J_FINISHED || get_i(&u, &retries) < 0 ||
        get_u(&u, &until) < 0 || get_str(&u, worker, sizeof worker) < 0 ||
        tr_unpack_bool(&u, &pushed) < 0 || tr_unpack_str(&u, &err, &el) < 0 || el > 4096 ||
        get_u(&u, &nt) < 0)
      return TR_ECORRUPT;
    if (tr_unpack_peek(&u) == TR_MP_NIL ? tr_unpack_nil(&u) < 0
                                         : tr_unpack_bin(&u, &note, &nl) < 0)
      return TR_ECORRUPT;
    if ((st == J_FINISHED) != (nl > 0)) return TR_ECORRUPT;
    /* everything read and checked: now the copies, then the state */
    uint8_t *copy = nl ? malloc(nl) : NULL;
    char *etext = el ? malloc(el + 1) : NULL;
    if ((nl && !copy) || (el && !etext)) {
      free(copy);
      free(etext);
      return TR_ENOMEM;
    }
    if (nl) memcpy(copy, note, nl);
    if (el) memcpy(etext, err, el), etext[el] = 0;
    free(j->note);
    free(j->error);
    j->note = copy;
    j->note_len = nl;
    j->note_type = (uint32_t)nt;
    j->error = etext;
    j->state = (int)st;
    j->retries = retries;
    j->until_ms = until;
    memcpy(j->worker, worker, sizeof worker);
    j->pushed = pushed;
    return 0;
  }
  case EV_RETRIES: { /* [8, id, retries] */
    int64_t retries;
    if (n != 3 || get_i(&u, &retries) < 0 || retries < 0) return TR_ECORRUPT;
    j->retries = retries;
    if (j->state == J_INCIDENT && retries > 0) j->state = J_AVAILABLE;
    return 0;
  }
  }
  return TR_ECORRUPT;
}

int jq_pack_create(tr_pack *pk, const char *id, const char *key, const void *vars,
                   size_t vars_len, int64_t retries, const char *const strs[JQ_STRS],
                   uint64_t created_ms) {
  int ns = (strs[4] && strs[4][0]) || (strs[5] && strs[5][0]) ? 6 : 4;
  tr_pack_array(pk, (uint32_t)(6 + ns));
  tr_pack_uint(pk, EV_CREATE);
  tr_pack_str(pk, id);
  tr_pack_str(pk, key);
  if (vars_len) tr_pack_bin(pk, vars, vars_len);
  else tr_pack_nil(pk);
  tr_pack_int(pk, retries);
  for (int i = 0; i < ns; i++) tr_pack_str(pk, strs[i] ? strs[i] : "");
  return tr_pack_uint(pk, created_ms);
}

int jq_snapshot(const jq *q, tr_pack *pk) {
  tr_pack_array(pk, (uint32_t)(q->count * 2));
  for (const jq_job *j = q->head; j; j = j->next) {
    const char *strs[JQ_STRS] = {j->notify, j->pi, j->act, j->bk, j->dk, j->did};
    jq_pack_create(pk, j->id, j->key, j->vars, j->vars_len, j->retries, strs, j->created_ms);
    tr_pack_array(pk, 10);
    tr_pack_uint(pk, EV_STATE);
    tr_pack_str(pk, j->id);
    tr_pack_uint(pk, (uint64_t)j->state);
    tr_pack_int(pk, j->retries);
    tr_pack_uint(pk, j->until_ms);
    tr_pack_str(pk, j->worker);
    tr_pack_bool(pk, j->pushed);
    tr_pack_str(pk, j->error ? j->error : "");
    tr_pack_uint(pk, j->note_type);
    if (j->note_len) tr_pack_bin(pk, j->note, j->note_len);
    else tr_pack_nil(pk);
  }
  return pk->err;
}

int jq_restore(jq *q, const void *data, size_t len) {
  char topic[TR_JOB_TOPIC_MAX + 1];
  memcpy(topic, q->topic, sizeof topic);
  jq_free(q);
  int rc = jq_init(q, topic);
  if (rc < 0) return rc;
  tr_unpack u;
  tr_unpack_init(&u, data, len);
  uint32_t n;
  if (tr_unpack_array(&u, &n) < 0) return TR_ECORRUPT;
  for (uint32_t i = 0; i < n; i++) {
    const void *ev;
    size_t evlen;
    tr_unpack one = u;
    if (tr_unpack_skip(&u) < 0) return TR_ECORRUPT;
    ev = one.p;
    evlen = (size_t)(u.p - one.p);
    if ((rc = jq_apply(q, ev, evlen)) < 0) return rc;
  }
  return tr_unpack_left(&u) ? TR_ECORRUPT : 0;
}

static const char *state_name(const jq_job *j, uint64_t now) {
  if (jq_available(j, now)) return "available";
  return j->state == J_LOCKED ? "locked" : j->state == J_RETRY ? "retry" : "incident";
}

static void kv_opt(tr_pack *pk, const char *k, const char *v) { tr_pack_kv_str(pk, k, v ? v : ""); }

size_t jq_job_size(const jq *q, const jq_job *j) {
  const char *s[] = {j->id, q->topic, j->worker, j->pi, j->act, j->bk, j->dk, j->did, j->error};
  size_t n = 256 + j->vars_len; /* map, keys, numbers, the state's name */
  for (size_t i = 0; i < sizeof s / sizeof *s; i++)
    if (s[i]) n += strlen(s[i]) + 5;
  return n;
}

int jq_pack_job(tr_pack *pk, const jq *q, const jq_job *j, uint64_t now_ms) {
  tr_pack_map(pk, 14);
  tr_pack_kv_str(pk, "id", j->id);
  tr_pack_kv_str(pk, "topic", q->topic);
  tr_pack_str(pk, "vars");
  if (j->vars_len) tr_pack_raw(pk, j->vars, j->vars_len);
  else tr_pack_nil(pk);
  tr_pack_kv_int(pk, "retries", j->retries);
  kv_opt(pk, "pi", j->pi);
  kv_opt(pk, "act", j->act);
  kv_opt(pk, "bk", j->bk);
  kv_opt(pk, "dk", j->dk);
  kv_opt(pk, "did", j->did);
  tr_pack_kv_str(pk, "state", state_name(j, now_ms));
  tr_pack_kv_str(pk, "worker", jq_available(j, now_ms) ? "" : j->worker);
  tr_pack_str(pk, "lock_until");
  tr_pack_uint(pk, j->state == J_LOCKED ? j->until_ms : 0);
  kv_opt(pk, "error", j->error);
  tr_pack_str(pk, "created");
  return tr_pack_uint(pk, j->created_ms);
}
