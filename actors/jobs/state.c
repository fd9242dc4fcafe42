/* state.c - a job queue's state and its events (queue.h). */
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
  return q->hb ? 0 : TR_ENOMEM;
}

static void job_free(jq_job *j) {
  free(j->notify), free(j->pi), free(j->act), free(j->bk), free(j->error), free(j->vars);
  free(j->note);
  free(j);
}

void jq_free(jq *q) {
  for (jq_job *j = q->head, *n; j; j = n) {
    n = j->next;
    job_free(j);
  }
  free(q->hb);
  memset(q, 0, sizeof *q);
}

jq_job *jq_find(jq *q, const char *id, size_t len) {
  if (len > TR_JOB_ID_MAX) return NULL;
  for (jq_job *j = q->hb[hash(id, len) & (q->nb - 1)]; j; j = j->hnext)
    if (strlen(j->id) == len && memcmp(j->id, id, len) == 0) return j;
  return NULL;
}

jq_job *jq_find_key(jq *q, const char *key, size_t len) {
  if (!len) return NULL;
  for (jq_job *j = q->head; j; j = j->next) /* rare: creations with a key */
    if (strlen(j->key) == len && memcmp(j->key, key, len) == 0) return j;
  return NULL;
}

static int grow(jq *q) {
  size_t nb = q->nb * 2;
  jq_job **hb = calloc(nb, sizeof *hb);
  if (!hb) return TR_ENOMEM;
  for (jq_job *j = q->head; j; j = j->next) {
    size_t b = hash(j->id, strlen(j->id)) & (nb - 1);
    j->hnext = hb[b];
    hb[b] = j;
  }
  free(q->hb);
  q->hb = hb;
  q->nb = nb;
  return 0;
}

jq_job *jq_add(jq *q, const char *id, size_t id_len) {
  if (!id_len || id_len > TR_JOB_ID_MAX) return NULL;
  if (q->count + 1 > q->nb && grow(q) < 0) return NULL;
  jq_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  memcpy(j->id, id, id_len);
  j->retries = -1;
  size_t b = hash(id, id_len) & (q->nb - 1);
  j->hnext = q->hb[b];
  q->hb[b] = j;
  j->prev = q->tail;
  if (q->tail) q->tail->next = j;
  else q->head = j;
  q->tail = j;
  q->count++;
  return j;
}

void jq_remove(jq *q, jq_job *j) {
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

uint64_t jq_next_change(const jq *q, uint64_t now_ms) {
  uint64_t t = 0;
  for (const jq_job *j = q->head; j; j = j->next)
    if ((j->state == J_LOCKED || j->state == J_RETRY) && j->until_ms > now_ms &&
        (!t || j->until_ms < t))
      t = j->until_ms;
  return t;
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
  if (n != 10) return TR_ECORRUPT;
  char id[TR_JOB_ID_MAX + 1], key[TR_JOB_ID_MAX + 1];
  const void *vars = NULL;
  size_t vars_len = 0;
  int64_t retries;
  uint64_t created;
  char *s[4] = {NULL, NULL, NULL, NULL};
  int rc = get_str(u, id, sizeof id);
  if (!rc) rc = get_str(u, key, sizeof key);
  if (!rc) {
    if (tr_unpack_peek(u) == TR_MP_NIL) rc = tr_unpack_nil(u) < 0 ? TR_ECORRUPT : 0;
    else rc = tr_unpack_bin(u, &vars, &vars_len) < 0 ? TR_ECORRUPT : 0;
  }
  if (!rc) rc = get_i(u, &retries);
  for (int i = 0; i < 4 && !rc; i++) rc = get_dup(u, &s[i]);
  if (!rc) rc = get_u(u, &created);
  jq_job *j = NULL;
  if (!rc && (!id[0] || jq_find(q, id, strlen(id)))) rc = TR_ECORRUPT;
  if (!rc && !(j = jq_add(q, id, strlen(id)))) rc = TR_ENOMEM;
  if (!rc && vars_len && !(j->vars = malloc(vars_len))) rc = TR_ENOMEM;
  if (rc < 0) {
    if (j) jq_remove(q, j);
    for (int i = 0; i < 4; i++) free(s[i]);
    return rc;
  }
  if (vars_len) memcpy(j->vars, vars, vars_len);
  j->vars_len = vars_len;
  memcpy(j->key, key, sizeof key);
  j->retries = retries;
  j->notify = s[0], j->pi = s[1], j->act = s[2], j->bk = s[3];
  j->created_ms = created;
  j->state = J_AVAILABLE;
  return 0;
}

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
      return 0;
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
    return 0;
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
                   size_t vars_len, int64_t retries, const char *const strs[4],
                   uint64_t created_ms) {
  tr_pack_array(pk, 10);
  tr_pack_uint(pk, EV_CREATE);
  tr_pack_str(pk, id);
  tr_pack_str(pk, key);
  if (vars_len) tr_pack_bin(pk, vars, vars_len);
  else tr_pack_nil(pk);
  tr_pack_int(pk, retries);
  for (int i = 0; i < 4; i++) tr_pack_str(pk, strs[i] ? strs[i] : "");
  return tr_pack_uint(pk, created_ms);
}

int jq_snapshot(const jq *q, tr_pack *pk) {
  tr_pack_array(pk, (uint32_t)(q->count * 2));
  for (const jq_job *j = q->head; j; j = j->next) {
    const char *strs[4] = {j->notify, j->pi, j->act, j->bk};
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

int jq_pack_job(tr_pack *pk, const jq *q, const jq_job *j, uint64_t now_ms) {
  tr_pack_map(pk, 12);
  tr_pack_kv_str(pk, "id", j->id);
  tr_pack_kv_str(pk, "topic", q->topic);
  tr_pack_str(pk, "vars");
  if (j->vars_len) tr_pack_raw(pk, j->vars, j->vars_len);
  else tr_pack_nil(pk);
  tr_pack_kv_int(pk, "retries", j->retries);
  kv_opt(pk, "pi", j->pi);
  kv_opt(pk, "act", j->act);
  kv_opt(pk, "bk", j->bk);
  tr_pack_kv_str(pk, "state", state_name(j, now_ms));
  tr_pack_kv_str(pk, "worker", jq_available(j, now_ms) ? "" : j->worker);
  tr_pack_str(pk, "lock_until");
  tr_pack_uint(pk, j->state == J_LOCKED ? j->until_ms : 0);
  kv_opt(pk, "error", j->error);
  tr_pack_str(pk, "created");
  return tr_pack_uint(pk, j->created_ms);
}
