/* tasks.c - the open user tasks of one process key, "wftask/<key>"
 * (index.h), a persistent virtual actor in the job queue's pattern.
 *
 * Journal ([kind, ...] arrays, applied by apply(), the function recovery
 * replays, so the live and the recovered state cannot differ):
 *   [1, task map (without assignee), assignee | nil]   created
 *   [2, id, user]   claimed          [3, id]   unclaimed
 *   [4, id, note]   completed: the task leaves, its note waits for an ack
 *   [5, id]         canceled         [6, id]   the instance acked the note
 * A snapshot is [tasks: [[map, assignee]...], recent done ids, notes].
 *
 * Ids of tasks that are over (completed or canceled) are remembered (the
 * last IDX_RECENT, and every one whose note is unacked), so that an
 * instance that creates a task again after its own recovery does not bring
 * it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/idx.h"

enum { EV_CREATE = 1, EV_CLAIM, EV_UNCLAIM, EV_DONE, EV_CANCEL, EV_FORGET };

typedef struct task {
  struct task *next, *prev; /* creation order */
  uint8_t *raw;             /* the task's map without the assignee (owned) */
  size_t len;
  char *assignee;           /* NULL: nobody */
  const char *id, *pi, *act, *bk; /* borrowed from raw */
  size_t id_len, pi_len, act_len, bk_len;
} task;

typedef struct tstate {
  char key[TR_VIRTUAL_NAME_MAX + 1];
  char name[TR_VIRTUAL_NAME_MAX + 1]; /* "wftask/<key>": `from` of the notes */
  task *head, *tail;
  idx_map by_id;
  idx_recent done;
  idx_notes notes;
  idx_out out;
} tstate;

/* ------------------------------------------------------------ the state */

static void task_free(task *t) {
  free(t->raw);
  free(t->assignee);
  free(t);
}

static void unlink_task(tstate *s, task *t) {
  idx_map_del(&s->by_id, t->id, t->id_len);
  if (t->prev) t->prev->next = t->next;
  else s->head = t->next;
  if (t->next) t->next->prev = t->prev;
  else s->tail = t->prev;
  task_free(t);
}

static task *find(const tstate *s, const char *id, size_t n) { return idx_map_get(&s->by_id, id, n); }

static int is_over(const tstate *s, const char *id, size_t n) {
  return idx_recent_has(&s->done, id, n) || idx_notes_has(&s->notes, id, n);
}

static int str_of(const tr_unpack *map, const char *k, const char **s, size_t *n) {
  return tr_unpack_find_str(map, k, s, n) < 0 ? TR_ECORRUPT : 0;
}

/* [1, map, assignee] at the cursor (borrowed): the task keeps copies. */
static int apply_create(tstate *s, tr_unpack *u) {
  const void *raw;
  size_t len;
  const char *as = NULL;
  size_t al = 0;
  if (tr_unpack_raw(u, &raw, &len) < 0) return TR_ECORRUPT;
  if (tr_unpack_peek(u) == TR_MP_NIL) tr_unpack_nil(u);
  else if (tr_unpack_str(u, &as, &al) < 0) return TR_ECORRUPT;
  task *t = calloc(1, sizeof *t);
  if (!t || !(t->raw = malloc(len)) || (as && !(t->assignee = strndup(as, al)))) {
    if (t) task_free(t);
    return TR_ENOMEM;
  }
  memcpy(t->raw, raw, len);
  t->len = len;
  tr_unpack m;
  tr_unpack_init(&m, t->raw, len);
  int rc = str_of(&m, "id", &t->id, &t->id_len);
  if (!rc) rc = str_of(&m, "pi", &t->pi, &t->pi_len);
  if (!rc) rc = str_of(&m, "act", &t->act, &t->act_len);
  if (!rc) rc = str_of(&m, "bk", &t->bk, &t->bk_len);
  if (!rc) rc = idx_map_put(&s->by_id, t->id, t->id_len, t);
  if (rc < 0) {
    task_free(t);
    return rc == TR_EEXIST ? TR_ECORRUPT : rc;
  }
  t->prev = s->tail;
  if (s->tail) s->tail->next = t;
  else s->head = t;
  s->tail = t;
  return 0;
}

/* Applies one event (ev borrowed); TR_ECORRUPT for one that does not fit. */
static int apply(tstate *s, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  uint32_t n;
  uint64_t kind;
  if (tr_unpack_array(&u, &n) < 0 || n < 2 || tr_unpack_uint(&u, &kind) < 0) return TR_ECORRUPT;
  if (kind == EV_CREATE) return n == 3 ? apply_create(s, &u) : TR_ECORRUPT;
  const char *id;
  size_t il;
  if (tr_unpack_str(&u, &id, &il) < 0) return TR_ECORRUPT;
  if (kind == EV_FORGET) return idx_notes_forget(&s->notes, id, il), 0;
  task *t = find(s, id, il);
  if (!t) return TR_ECORRUPT;
  switch (kind) {
  case EV_CLAIM: {
    const char *user;
    size_t ul;
    char *c;
    if (n != 3 || tr_unpack_str(&u, &user, &ul) < 0) return TR_ECORRUPT;
    if (!(c = strndup(user, ul))) return TR_ENOMEM;
    free(t->assignee);
    t->assignee = c;
    return 0;
  }
  case EV_UNCLAIM:
    free(t->assignee);
    t->assignee = NULL;
    return 0;
  case EV_DONE: { /* [4, id, note] */
    const void *note;
    size_t nl;
    char idz[IDX_STR_MAX + 1], to[TR_VIRTUAL_NAME_MAX + 1];
    if (n != 3 || tr_unpack_bin(&u, &note, &nl) < 0 || il > IDX_STR_MAX) return TR_ECORRUPT;
    memcpy(idz, id, il);
    idz[il] = 0;
    snprintf(to, sizeof to, TR_WF_KIND "/%.*s", (int)t->pi_len, t->pi);
    int rc = idx_notes_add(&s->notes, idz, to, TR_WF_TASK_DONE, note, nl);
    if (rc < 0 && rc != TR_EEXIST) return rc;
    rc = idx_recent_add(&s->done, id, il);
    unlink_task(s, t);
    return rc;
  }
  case EV_CANCEL: {
    int rc = idx_recent_add(&s->done, id, il);
    unlink_task(s, t);
    return rc;
  }
  }
  return TR_ECORRUPT;
}

/* Appends the event in pk (the caller's, copied by the journal) and
 * applies it. */
static int record(tr_ctx *ctx, tstate *s, tr_pack *pk) {
  if (pk->err) return pk->err;
  int rc = tr_persist_append(ctx, pk->data, pk->len, NULL);
  return rc < 0 ? rc : apply(s, pk->data, pk->len);
}

/* Appends the task as LIST and GET show it to the caller's pk. */
static int pack_task(tr_pack *pk, const task *t) {
  tr_unpack u;
  uint32_t n;
  tr_unpack_init(&u, t->raw, t->len);
  if (tr_unpack_map(&u, &n) < 0) return TR_ECORRUPT;
  tr_pack_map(pk, n + 1);
  tr_pack_raw(pk, u.p, tr_unpack_left(&u));
  tr_pack_str(pk, "assignee");
  return t->assignee ? tr_pack_str(pk, t->assignee) : tr_pack_nil(pk);
}

/* ------------------------------------------------------------ create */

/* An optional array of strings of the request (borrowed) into the task map
 * in the caller's pk under key (default []). */
static int copy_str_list(const tr_unpack *req, const char *key, tr_pack *pk) {
  const void *p;
  size_t n;
  int rc = idx_opt_raw(req, key, TR_MP_ARRAY, &p, &n);
  if (rc < 0) return rc;
  tr_pack_str(pk, key);
  if (rc == 1) return tr_pack_array(pk, 0);
  tr_unpack u;
  uint32_t k;
  tr_unpack_init(&u, p, n);
  tr_unpack_array(&u, &k);
  for (uint32_t i = 0; i < k; i++) {
    const char *s;
    size_t sl;
    if (tr_unpack_str(&u, &s, &sl) < 0 || sl > IDX_STR_MAX) return TR_EINVAL;
  }
  return tr_pack_raw(pk, p, n);
}

/* An optional string of the request into pk (default ""). */
static int copy_str(const tr_unpack *req, const char *key, tr_pack *pk) {
  const char *s = "";
  size_t n = 0;
  if (idx_opt_str(req, key, IDX_STR_MAX, &s, &n) < 0) return TR_EINVAL;
  tr_pack_str(pk, key);
  return tr_pack_strn(pk, s, n);
}

/* An optional value of any type (nil by default), or of one type. */
static int copy_raw(const tr_unpack *req, const char *key, int type, tr_pack *pk, int empty) {
  const void *p;
  size_t n;
  int rc = idx_opt_raw(req, key, type, &p, &n);
  if (rc < 0) return rc;
  tr_pack_str(pk, key);
  if (rc == 0) return tr_pack_raw(pk, p, n);
  if (empty == TR_MP_MAP) return tr_pack_map(pk, 0);
  if (empty == TR_MP_ARRAY) return tr_pack_array(pk, 0);
  return tr_pack_nil(pk);
}

/* The task as the journal keeps it, from a creation request (borrowed),
 * appended to the caller's pk; what is wrong goes to err[0..cap). */
static int normalize(const tstate *s, const tr_unpack *req, tr_pack *pk, char *err, size_t cap) {
  const char *id, *pi;
  size_t il, pl;
  if (idx_opt_str(req, "id", IDX_STR_MAX, &id, &il) != 0 || !il ||
      idx_opt_str(req, "pi", 200, &pi, &pl) != 0 || !pl)
    return snprintf(err, cap, "a task needs id and pi (strings)"), TR_EINVAL;
  char to[TR_VIRTUAL_NAME_MAX + 8];
  snprintf(to, sizeof to, TR_WF_KIND "/%.*s", (int)pl, pi);
  if (tr_virtual_name_check(to) < 0)
    return snprintf(err, cap, "pi does not make an instance name"), TR_EINVAL;
  int64_t prio = 50, created = (int64_t)idx_wall_ms();
  if (idx_opt_int(req, "priority", &prio) < 0 || idx_opt_int(req, "created", &created) < 0)
    return snprintf(err, cap, "priority and created must be integers"), TR_EINVAL;
  tr_pack_map(pk, 16);
  tr_pack_str(pk, "id");
  tr_pack_strn(pk, id, il);
  tr_pack_str(pk, "pi");
  tr_pack_strn(pk, pi, pl);
  tr_pack_kv_str(pk, "key", s->key);
  static const char *const strs[] = {"def", "act", "name", "form_key", "bk"};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
    if (copy_str(req, strs[i], pk) < 0)
      return snprintf(err, cap, "%s must be a string", strs[i]), TR_EINVAL;
  if (copy_str_list(req, "cand_users", pk) < 0 || copy_str_list(req, "cand_groups", pk) < 0)
    return snprintf(err, cap, "cand_users and cand_groups must be arrays of strings"), TR_EINVAL;
  if (copy_raw(req, "due", 0, pk, 0) < 0 || copy_raw(req, "follow_up", 0, pk, 0) < 0)
    return snprintf(err, cap, "bad due or follow_up"), TR_EINVAL;
  tr_pack_kv_int(pk, "priority", prio);
  tr_pack_kv_int(pk, "created", created);
  if (copy_raw(req, "vars", TR_MP_MAP, pk, TR_MP_MAP) < 0 ||
      copy_raw(req, "fields", TR_MP_ARRAY, pk, TR_MP_ARRAY) < 0)
    return snprintf(err, cap, "vars must be a map and fields an array"), TR_EINVAL;
  return pk->err;
}

static int on_create(tr_ctx *ctx, tstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *id = NULL, *as = NULL;
  size_t il = 0, al = 0;
  char err[160];
  idx_opt_str(req, "id", IDX_STR_MAX, &id, &il);
  if (id && (find(s, id, il) || is_over(s, id, il))) /* again, after a recovery */
    return idx_reply_ok(ctx, &s->out, m);
  int arc = idx_opt_str(req, "assignee", IDX_STR_MAX, &as, &al);
  if (arc < 0) return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "assignee must be a string");
  tr_pack ev = TR_PACK_INIT;
  tr_pack_array(&ev, 3);
  tr_pack_uint(&ev, EV_CREATE);
  int rc = normalize(s, req, &ev, err, sizeof err);
  if (rc == TR_EINVAL) {
    tr_pack_free(&ev);
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "%s", err);
  }
  if (arc == 0 && al) tr_pack_strn(&ev, as, al);
  else tr_pack_nil(&ev);
  rc = record(ctx, s, &ev);
  tr_pack_free(&ev);
  if (rc < 0) return rc;
  /* no task.created here: the instance emits it (waits.c), in order with
   * its other events as one sender; a second one here was a duplicate */
  return idx_reply_ok(ctx, &s->out, m);
}

/* ------------------------------------------------------------ list */

/* Whether the string array under key in the task names (s, n) (borrowed). */
static int names(const task *t, const char *key, const char *s, size_t n) {
  tr_unpack map, arr;
  uint32_t k;
  tr_unpack_init(&map, t->raw, t->len);
  if (tr_unpack_find(&map, key, &arr) < 0 || tr_unpack_array(&arr, &k) < 0) return 0;
  for (uint32_t i = 0; i < k; i++) {
    const char *x;
    size_t xl;
    if (tr_unpack_str(&arr, &x, &xl) < 0) return 0;
    if (xl == n && !memcmp(x, s, n)) return 1;
  }
  return 0;
}

typedef struct filter {
  const char *v[6]; /* assignee, candidate_user, candidate_group, pi, act, bk */
  size_t n[6];
  int has[6];
  const void *groups; /* candidate_groups: an array of strings, or NULL */
  size_t groups_len;
  int unassigned, include_assigned;
} filter;

static const char *const fkeys[6] = {"assignee", "candidate_user", "candidate_group",
                                     "pi", "act", "bk"};

static int read_filter(const tr_unpack *req, filter *f) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < 6; i++) {
    int rc = idx_opt_str(req, fkeys[i], IDX_STR_MAX, &f->v[i], &f->n[i]);
    if (rc < 0) return rc;
    f->has[i] = rc == 0;
  }
  int rc = idx_opt_raw(req, "candidate_groups", TR_MP_ARRAY, &f->groups, &f->groups_len);
  if (rc < 0) return rc;
  if (rc == 1) f->groups = NULL;
  if (f->groups) { /* strings only */
    tr_unpack u;
    uint32_t k;
    tr_unpack_init(&u, f->groups, f->groups_len);
    tr_unpack_array(&u, &k);
    for (uint32_t i = 0; i < k; i++)
      if (tr_unpack_str(&u, &(const char *){0}, &(size_t){0}) < 0) return TR_EINVAL;
  }
  if (idx_opt_bool(req, "unassigned", 0, &f->unassigned) < 0 ||
      idx_opt_bool(req, "include_assigned", 0, &f->include_assigned) < 0)
    return TR_EINVAL;
  return 0;
}

static int eq(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && !memcmp(a, b, an);
}

/* Camunda's candidate semantics: a task is offered to a user when the user
 * or one of the user's groups is among its candidates; a candidate query
 * sees only unassigned tasks unless include_assigned. */
static int candidate_match(const filter *f, const task *t) {
  int want = f->has[1] || f->has[2] || f->groups;
  if (!want) return 1;
  if (t->assignee && !f->include_assigned) return 0;
  if (f->has[1] && names(t, "cand_users", f->v[1], f->n[1])) return 1;
  if (f->has[2] && names(t, "cand_groups", f->v[2], f->n[2])) return 1;
  if (f->groups) {
    tr_unpack u;
    uint32_t k;
    tr_unpack_init(&u, f->groups, f->groups_len);
    tr_unpack_array(&u, &k);
    for (uint32_t i = 0; i < k; i++) {
      const char *g;
      size_t gl;
      if (tr_unpack_str(&u, &g, &gl) < 0) break;
      if (names(t, "cand_groups", g, gl)) return 1;
    }
  }
  return 0;
}

static int matches(const filter *f, const task *t) {
  if (f->has[0] && (!t->assignee || !eq(t->assignee, strlen(t->assignee), f->v[0], f->n[0])))
    return 0;
  if (f->has[3] && !eq(t->pi, t->pi_len, f->v[3], f->n[3])) return 0;
  if (f->has[4] && !eq(t->act, t->act_len, f->v[4], f->n[4])) return 0;
  if (f->has[5] && !eq(t->bk, t->bk_len, f->v[5], f->n[5])) return 0;
  if (f->unassigned && t->assignee) return 0;
  return candidate_match(f, t);
}

static int on_list(tr_ctx *ctx, tstate *s, const tr_msg *m, const tr_unpack *req) {
  filter f;
  if (read_filter(req, &f) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "filters: assignee, candidate_user, candidate_group, pi, act, bk are "
                         "strings, candidate_groups an array of strings, unassigned and "
                         "include_assigned booleans");
  uint32_t n = 0;
  for (task *t = s->head; t; t = t->next) n += (uint32_t)matches(&f, t);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "tasks");
  tr_pack_array(&pk, n);
  for (task *t = s->head; t; t = t->next)
    if (matches(&f, t)) pack_task(&pk, t);
  int rc = idx_reply(ctx, &s->out, m, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ one task */

static int on_one(tr_ctx *ctx, tstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *id;
  size_t il;
  if (idx_opt_str(req, "id", IDX_STR_MAX, &id, &il) != 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "id (a string) is required");
  task *t = find(s, id, il);
  if (m->type == TR_WFT_CANCEL) { /* idempotent: a task already over is fine */
    tr_pack ev = TR_PACK_INIT;
    tr_pack_array(&ev, 2);
    tr_pack_uint(&ev, EV_CANCEL);
    tr_pack_strn(&ev, id, il);
    int rc = t ? record(ctx, s, &ev) : 0;
    tr_pack_free(&ev);
    return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
  }
  if (!t)
    return idx_reply_err(ctx, &s->out, m, TR_ENOENT, "Cannot find task with id %.*s",
                         (int)(il > 200 ? 200 : il), id);
  tr_pack pk = TR_PACK_INIT;
  int rc = 0;
  if (m->type == TR_WFT_GET) {
    tr_pack_map(&pk, 2);
    tr_pack_str(&pk, "ok");
    tr_pack_bool(&pk, 1);
    tr_pack_str(&pk, "task");
    pack_task(&pk, t);
    rc = idx_reply(ctx, &s->out, m, &pk);
  } else if (m->type == TR_WFT_CLAIM) {
    const char *user;
    size_t ul;
    if (idx_opt_str(req, "user", IDX_STR_MAX, &user, &ul) != 0 || !ul) {
      rc = idx_reply_err(ctx, &s->out, m, TR_EINVAL, "claim needs user (a string)");
    } else if (t->assignee && !eq(t->assignee, strlen(t->assignee), user, ul)) {
      rc = idx_reply_err(ctx, &s->out, m, TR_EBUSY, "Task '%.*s' is already claimed by someone else.",
                         (int)(il > 200 ? 200 : il), id);
    } else {
      if (!t->assignee) {
        tr_pack_array(&pk, 3);
        tr_pack_uint(&pk, EV_CLAIM);
        tr_pack_strn(&pk, id, il);
        tr_pack_strn(&pk, user, ul);
        rc = record(ctx, s, &pk);
      }
      if (rc == 0) rc = idx_reply_ok(ctx, &s->out, m);
    }
  } else if (m->type == TR_WFT_UNCLAIM) {
    if (t->assignee) {
      tr_pack_array(&pk, 2);
      tr_pack_uint(&pk, EV_UNCLAIM);
      tr_pack_strn(&pk, id, il);
      rc = record(ctx, s, &pk);
    }
    if (rc == 0) rc = idx_reply_ok(ctx, &s->out, m);
  } else { /* TR_WFT_COMPLETE */
    const void *vars;
    size_t vl;
    int has = idx_opt_raw(req, "vars", TR_MP_MAP, &vars, &vl);
    if (has < 0) {
      tr_pack_free(&pk);
      return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "vars must be a map");
    }
    tr_pack note = TR_PACK_INIT;
    tr_pack_map(&note, has == 0 ? 3 : 2);
    tr_pack_str(&note, "id");
    tr_pack_strn(&note, id, il);
    tr_pack_kv_str(&note, "from", s->name);
    if (has == 0) {
      tr_pack_str(&note, "vars");
      tr_pack_raw(&note, vars, vl);
    }
    /* nor task.completed: the instance emits it as the note lands (journal.c) */
    char to[TR_VIRTUAL_NAME_MAX + 1];
    snprintf(to, sizeof to, TR_WF_KIND "/%.*s", (int)t->pi_len, t->pi);
    tr_pack_array(&pk, 3);
    tr_pack_uint(&pk, EV_DONE);
    tr_pack_strn(&pk, id, il);
    tr_pack_bin(&pk, note.data, note.len);
    rc = note.err ? note.err : record(ctx, s, &pk);
    if (rc == 0) rc = idx_send(ctx, &s->out, to, TR_WF_TASK_DONE, note.data, note.len);
    if (rc == 0) rc = idx_reply_ok(ctx, &s->out, m);
    tr_pack_free(&note);
  }
  tr_pack_free(&pk);
  return rc;
}

static int on_ack(tr_ctx *ctx, tstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *id;
  size_t il;
  if (idx_opt_str(req, "id", IDX_STR_MAX, &id, &il) != 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "id (a string) is required");
  int rc = 0;
  if (idx_notes_has(&s->notes, id, il)) {
    tr_pack ev = TR_PACK_INIT;
    tr_pack_array(&ev, 2);
    tr_pack_uint(&ev, EV_FORGET);
    tr_pack_strn(&ev, id, il);
    rc = record(ctx, s, &ev);
    tr_pack_free(&ev);
  }
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

/* ------------------------------------------------------------ the behaviour */

static int t_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  tstate *s = st;
  if (!vid || !vid->key[0] || strlen(vid->key) >= sizeof s->key) return TR_EINVAL;
  snprintf(s->key, sizeof s->key, "%s", vid->key);
  snprintf(s->name, sizeof s->name, "%s", vid->name);
  return 0;
}

static int t_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  tstate *s = st;
  return idx_apply_result(s->name, seq, apply(s, ev, len));
}

static int t_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  tstate *s = st;
  int rc = 0;
  if (m->type == TR_MSG_RECOVERED) {
    s->out.acked = m->corr;
    rc = idx_notes_send_all(ctx, &s->out, &s->notes);
  } else if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO; /* recovery rebuilds from what is durable */
    idx_out_durable(ctx, &s->out, m->corr);
    return 0;
  } else if (m->flags & TR_MSG_F_TIMER) {
    idx_notes_on_timer(ctx, &s->out, &s->notes, m);
  } else if ((m->type >= TR_WFT_CREATE && m->type <= TR_WFT_CANCEL) || m->type == TR_WF_IDX_ACK) {
    tr_unpack req;
    if (idx_request_map(m, &req) < 0)
      return idx_reply_err(ctx, &s->out, m, TR_EPROTO, "the request must be a msgpack map");
    switch (m->type) {
    case TR_WFT_CREATE: rc = on_create(ctx, s, m, &req); break;
    case TR_WFT_LIST: rc = on_list(ctx, s, m, &req); break;
    case TR_WF_IDX_ACK: rc = on_ack(ctx, s, m, &req); break;
    default: rc = on_one(ctx, s, m, &req); break;
    }
  } else if (m->flags & TR_MSG_F_ASK) {
    return idx_reply_err(ctx, &s->out, m, TR_ENOTSUP, "not a user task request");
  }
  if (rc < 0) return rc;
  idx_notes_arm(ctx, &s->notes);
  return 0;
}

static void t_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  tstate *s = st;
  for (task *t = s->head, *x; t; t = x) {
    x = t->next;
    task_free(t);
  }
  s->head = s->tail = NULL;
  idx_map_free(&s->by_id);
  idx_recent_free(&s->done);
  idx_notes_free(&s->notes);
  idx_out_free(&s->out);
}

static int t_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  (void)ctx;
  tstate *s = st;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 3);
  tr_pack_array(&pk, (uint32_t)s->by_id.n);
  for (task *t = s->head; t; t = t->next) {
    tr_pack_array(&pk, 2);
    tr_pack_raw(&pk, t->raw, t->len);
    if (t->assignee) tr_pack_str(&pk, t->assignee);
    else tr_pack_nil(&pk);
  }
  idx_recent_pack(&s->done, &pk);
  idx_notes_pack(&s->notes, &pk);
  int rc = pk.err ? pk.err : tr_buf_append(out, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int t_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len) {
  (void)seq;
  tstate *s = st;
  t_terminate(ctx, st, 0); /* a fresh state: restore may follow a failed one */
  tr_unpack u;
  uint32_t three, k;
  tr_unpack_init(&u, data, len);
  if (tr_unpack_array(&u, &three) < 0 || three != 3 || tr_unpack_array(&u, &k) < 0)
    return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    uint32_t two;
    if (tr_unpack_array(&u, &two) < 0 || two != 2) return TR_ECORRUPT;
    int rc = apply_create(s, &u);
    if (rc < 0) return rc;
  }
  int rc = idx_recent_load(&s->done, &u);
  if (rc == 0) rc = idx_notes_load(&s->notes, &u);
  return rc;
}

static const tr_persistent tasks_b = {
    .base = {.name = TR_WF_TASK_KIND, .state_size = sizeof(tstate), .init = t_init,
             .receive = t_receive, .terminate = t_terminate},
    .apply = t_apply,
    .snapshot = t_snapshot,
    .restore = t_restore};

const tr_persistent *tr_wf_tasks_behavior(void) { return &tasks_b; }
