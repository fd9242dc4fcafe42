/* virtual.c - virtual actors and remote spawn: the node's directory of
 * activations, the routing of a name to the node that owns it, activation,
 * passivation, and spawning registered behaviours for other nodes.
 *
 * Why senders hold the table's read lock while they push: only the
 * directory actor changes the table (write lock). When it marks an
 * activation passivating, every message that was sent through the table is
 * therefore already in that activation's mailbox, and the passivate message
 * it queues next is the last thing the activation handles: nothing sent
 * before passivation is lost, nothing sent after reaches a dying actor.
 * Messages for names that are not active go to the directory, which
 * activates the name, holds them while an old activation ends, or passes
 * them to the owning node, in the order they came.
 *
 * While a sender holds the read lock it must not run another actor inline
 * (msg.c "helping"): that actor could be the directory, which would then
 * wait for the write lock on the same thread. deliver_locked() turns
 * helping off for the push.
 */
#include "virtual.h"

#include <stdlib.h>
#include <string.h>

#include "codec/envelope.h"
#include "codec/mp.h"
#include "deadletter.h"
#include "slots.h"

#define VD_TICK_MS 250        /* idle and placement scan period */
#define VD_IDLE_MS 60000      /* default idle time before passivation */
#define VD_SPAWN_KIND "tr.spawn"

enum { V_WAITING = 1, V_ACTIVE, V_PASSIVATING };
enum { OP_WAKE = 1, OP_SPAWN, OP_REBALANCE, OP_PASSIVATE };

typedef struct vkind {
  struct vkind *next;
  tr_kind k;
  int store;            /* the node has a store (persistent kinds need one) */
  int learned;          /* from a member's heartbeat, not registered here */
  size_t len;
  char name[TR_KIND_NAME_MAX + 1];
} vkind;

typedef struct vbeh {
  struct vbeh *next;
  const tr_behavior *b;
  char name[TR_KIND_NAME_MAX + 1];
} vbeh;

typedef struct ventry {
  struct ventry *next;  /* name chain */
  struct ventry *rnext; /* ref chain */
  uint64_t hash;
  tr_ref ref;
  const vkind *kind;
  int state;
  uint64_t seen;        /* processed count at the last scan */
  uint64_t idle_since;  /* ms; when seen last changed */
  tr_mnode *ph, *pt;    /* waiting (through their next links) */
  size_t len;
  char name[];          /* NUL-terminated */
} ventry;

struct tr_vdir {
  pthread_rwlock_t lk;  /* table: senders read, the directory writes */
  ventry **b, **rb;     /* by name, by ref id */
  size_t nb, count;
  _Atomic(vkind *) kinds; /* prepended under reg; never freed before the system */
  _Atomic(vbeh *) behs;
  pthread_mutex_t reg;
  tr_vhooks h;
  tr_ref ref;           /* the directory actor */
  uint32_t tick;        /* scans so far */
};

/* ------------------------------------------------------------ helpers */

static uint64_t name_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static tr_vdir *vdir_of(tr_system *sys) {
  return sys ? atomic_load_explicit(&sys->vdir, memory_order_acquire) : NULL;
}

static size_t kind_len(const char *name, size_t len) {
  const char *slash = memchr(name, '/', len);
  return slash ? (size_t)(slash - name) : len;
}

static const vkind *kind_find(tr_vdir *vd, const char *name, size_t len) {
  size_t kl = kind_len(name, len);
  for (vkind *k = atomic_load_explicit(&vd->kinds, memory_order_acquire); k; k = k->next)
    if (k->len == kl && memcmp(k->name, name, kl) == 0) return k;
  return NULL;
}

static vkind *kind_add(tr_vdir *vd, const char *name, size_t len, const tr_kind *k,
                       int store);

/* A kind registered here, or one a member advertises (learned: registered
 * here without a behaviour, so this node can place its names). */
static const vkind *kind_get(tr_vdir *vd, const char *name, size_t len) {
  const vkind *k = kind_find(vd, name, len);
  if (k || !vd->h.kind_roles) return k;
  size_t kl = kind_len(name, len);
  uint32_t roles;
  if (kl > TR_KIND_NAME_MAX || vd->h.kind_roles(vd->h.arg, name, kl, &roles) < 0) return NULL;
  pthread_mutex_lock(&vd->reg);
  k = kind_find(vd, name, len);
  if (!k) {
    vkind *nk = kind_add(vd, name, kl, &(tr_kind){.roles = roles}, 0);
    if (nk) nk->learned = 1;
    k = nk;
  }
  pthread_mutex_unlock(&vd->reg);
  return k;
}

static const tr_behavior *beh_find(tr_vdir *vd, const char *name, size_t len) {
  for (vbeh *b = atomic_load_explicit(&vd->behs, memory_order_acquire); b; b = b->next)
    if (strlen(b->name) == len && memcmp(b->name, name, len) == 0) return b->b;
  return NULL;
}

/* A kind or behaviour name: what may stand before the '/' of a name. */
static int word_check(const char *w, size_t len) {
  char buf[TR_KIND_NAME_MAX + 3];
  if (!len || len > TR_KIND_NAME_MAX || memchr(w, '/', len)) return TR_EINVAL;
  memcpy(buf, w, len);
  memcpy(buf + len, "/x", 2);
  return tr_env_name_check(buf, len + 2) < 0 ? TR_EINVAL : 0;
}

/* A persistent kind is hosted only where there is a store to recover from. */
static int hosts(const vkind *k) { return k->k.behavior || (k->k.persistent && k->store); }

/* A valid name for sending: the codec's rule plus a kind of bounded size. */
static int name_check(const char *name, size_t len) {
  if (len == 0 || len > TR_VIRTUAL_NAME_MAX) return TR_EINVAL;
  if (tr_env_name_check(name, len) < 0) return TR_EINVAL;
  return kind_len(name, len) <= TR_KIND_NAME_MAX ? 0 : TR_EINVAL;
}

static ventry *find(tr_vdir *vd, const char *name, size_t len, uint64_t h) {
  if (!vd->nb) return NULL;
  for (ventry *e = vd->b[h & (vd->nb - 1)]; e; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0) return e;
  return NULL;
}

static ventry *find_ref(tr_vdir *vd, tr_ref r) {
  if (!vd->nb) return NULL;
  for (ventry *e = vd->rb[r.id & (vd->nb - 1)]; e; e = e->rnext)
    if (tr_ref_eq(e->ref, r)) return e;
  return NULL;
}

/* Caller holds the write lock. */
static int grow(tr_vdir *vd) {
  size_t nb = vd->nb ? vd->nb * 2 : 64;
  ventry **b = calloc(nb, sizeof *b), **rb = calloc(nb, sizeof *rb);
  if (!b || !rb) {
    free(b);
    free(rb);
    return TR_ENOMEM;
  }
  for (size_t i = 0; i < vd->nb; i++) {
    for (ventry *e = vd->b[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
    for (ventry *e = vd->rb[i], *next; e; e = next) {
      next = e->rnext;
      e->rnext = rb[e->ref.id & (nb - 1)];
      rb[e->ref.id & (nb - 1)] = e;
    }
  }
  free(vd->b);
  free(vd->rb);
  vd->b = b;
  vd->rb = rb;
  vd->nb = nb;
  return 0;
}

/* Pushes n into to's mailbox with helping off, and flushes the batch, so
 * the message is in the mailbox when the caller lets go of the lock. */
static int deliver_locked(tr_system *sys, tr_ref to, tr_mnode *n) {
  tr_worker *w = tr_tls_worker;
  int mine = w && w->sys == sys;
  int helping = mine ? w->helping : 0;
  if (mine) w->helping = 1;
  n->m.flags &= (uint16_t)~TR_MSG_F_FORWARDED_;
  int rc = tr_deliver(sys, to, n, 0);
  if (mine) {
    tr_batch_flush(w);
    w->helping = helping;
  }
  return rc;
}

static int dead(tr_system *sys, tr_ref to, tr_mnode *n, int reason) {
  n->m.flags &= (uint16_t)~TR_MSG_F_FORWARDED_;
  tr_dl_record(sys->dl, to, &n->m, reason);
  tr_msg_release(sys, n);
  return TR_ENOENT;
}

static int owner(tr_system *sys, tr_vdir *vd, const vkind *k, const char *name, size_t len,
                 uint64_t *node) {
  if (vd->h.place) return vd->h.place(vd->h.arg, k->k.roles, name, len, node);
  if (!hosts(k)) return TR_ENOENT;
  *node = sys->cfg.node_id;
  return 0;
}

static int is_self(tr_system *sys, uint64_t node) { return node == 0 || node == sys->cfg.node_id; }

static int send_remote(tr_system *sys, tr_vdir *vd, uint64_t node, const char *name, size_t len,
                       tr_mnode *n) {
  if (vd->h.send_name && vd->h.send_name(vd->h.arg, node, name, len, n) == 0) return 0;
  return dead(sys, (tr_ref){node, 0}, n, TR_DL_REMOTE);
}

/* ------------------------------------------------------------ the table */

static void queue_add(ventry *e, tr_mnode *n) {
  /* not in any mailbox now: its link is free */
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  if (e->pt) atomic_store_explicit(&e->pt->next, n, memory_order_relaxed);
  else e->ph = n;
  e->pt = n;
}

static tr_mnode *queue_take(ventry *e) {
  tr_mnode *q = e->ph;
  e->ph = e->pt = NULL;
  return q;
}

static tr_mnode *queue_next(tr_mnode *n) {
  return atomic_load_explicit(&n->next, memory_order_relaxed);
}

/* Write lock held. A new entry, waiting for the directory; NULL if out of
 * memory. */
static ventry *entry_add(tr_vdir *vd, const vkind *k, const char *name, size_t len, uint64_t h) {
  if (vd->count + 1 > vd->nb && grow(vd) < 0) return NULL;
  ventry *e = calloc(1, sizeof *e + len + 1);
  if (!e) return NULL;
  memcpy(e->name, name, len);
  e->len = len;
  e->hash = h;
  e->kind = k;
  e->state = V_WAITING;
  e->next = vd->b[h & (vd->nb - 1)];
  vd->b[h & (vd->nb - 1)] = e;
  vd->count++;
  return e;
}

/* Write lock held: e takes ref as its activation (reachable by ref). */
static void ref_set(tr_vdir *vd, ventry *e, tr_ref ref) {
  e->ref = ref;
  e->rnext = vd->rb[ref.id & (vd->nb - 1)];
  vd->rb[ref.id & (vd->nb - 1)] = e;
}

/* Write lock held: e has no activation any more. */
static void ref_clear(tr_vdir *vd, ventry *e) {
  if (!e->ref.id) return;
  ventry **p = &vd->rb[e->ref.id & (vd->nb - 1)];
  while (*p != e) p = &(*p)->rnext;
  *p = e->rnext;
  e->ref = TR_REF_NONE;
}

/* Write lock held: e leaves the table (the caller frees it). */
static void entry_del(tr_vdir *vd, ventry *e) {
  ref_clear(vd, e);
  ventry **p = &vd->b[e->hash & (vd->nb - 1)];
  while (*p != e) p = &(*p)->next;
  *p = e->next;
  vd->count--;
}

/* ------------------------------------------------------------ routing */

/* To the directory: OP_WAKE names an entry that waits; OP_SPAWN carries a
 * remote spawn request (the original sender, corr and flags in the
 * wrapper's header; its type and the name lead the payload). */
typedef struct vwrap {
  uint32_t type;
  uint16_t op, len;
} vwrap;

static int to_directory(tr_system *sys, tr_vdir *vd, uint16_t op, const char *name, size_t len,
                        tr_mnode *n) {
  size_t plen = n ? n->m.len : 0;
  tr_mnode *w = tr_msg_new(sys, n ? n->m.sender : TR_REF_NONE, TR_SYS_VIRTUAL,
                           n ? n->m.flags : 0, n ? n->m.corr : 0, NULL,
                           sizeof(vwrap) + len + plen);
  if (!w) {
    if (n) dead(sys, TR_REF_NONE, n, TR_DL_NO_ACTOR);
    return TR_ENOMEM;
  }
  vwrap h = {.type = n ? n->m.type : 0, .op = op, .len = (uint16_t)len};
  memcpy(w->m.data, &h, sizeof h);
  if (len) memcpy(w->m.data + sizeof h, name, len);
  if (plen) memcpy(w->m.data + sizeof h + len, n->m.data, plen);
  if (n) tr_msg_release(sys, n);
  return tr_deliver(sys, vd->ref, w, 0) < 0 ? TR_ESTOPPED : 0;
}

static int is_spawn(const char *name, size_t len) {
  return kind_len(name, len) == sizeof VD_SPAWN_KIND - 1 && len > sizeof VD_SPAWN_KIND - 1 &&
         memcmp(name, VD_SPAWN_KIND, sizeof VD_SPAWN_KIND - 1) == 0;
}

/* Routes n (consumed) to the virtual actor name[0..len). local: sent on
 * this node (else it arrived from another, whose placement is trusted
 * once). */
static int route(tr_system *sys, tr_vdir *vd, const char *name, size_t len, tr_mnode *n,
                 int local) {
  uint64_t h = name_hash(name, len);
  pthread_rwlock_rdlock(&vd->lk);
  ventry *e = find(vd, name, len, h);
  if (e && e->state == V_ACTIVE) {
    int rc = deliver_locked(sys, e->ref, n);
    pthread_rwlock_unlock(&vd->lk);
    return rc;
  }
  pthread_rwlock_unlock(&vd->lk);
  if (is_spawn(name, len)) return to_directory(sys, vd, OP_SPAWN, name, len, n);
  const vkind *k = kind_get(vd, name, len);
  if (!k) return dead(sys, TR_REF_NONE, n, TR_DL_NO_ACTOR);
  if (local && !e) {
    /* not here: decide on the sender's thread, so messages for other
     * nodes do not queue behind the directory */
    uint64_t node;
    if (owner(sys, vd, k, name, len, &node) < 0) return dead(sys, TR_REF_NONE, n, TR_DL_REMOTE);
    if (!is_self(sys, node)) return send_remote(sys, vd, node, name, len, n);
  }
  pthread_rwlock_wrlock(&vd->lk);
  e = find(vd, name, len, h);
  if (e && e->state == V_ACTIVE) {
    int rc = deliver_locked(sys, e->ref, n);
    pthread_rwlock_unlock(&vd->lk);
    return rc;
  }
  int wake = 0;
  if (!e) {
    e = entry_add(vd, k, name, len, h);
    if (!e) {
      pthread_rwlock_unlock(&vd->lk);
      dead(sys, TR_REF_NONE, n, TR_DL_NO_ACTOR);
      return TR_ENOMEM;
    }
    wake = 1;
  }
  queue_add(e, n); /* waiting or passivating: in order, for what comes next */
  pthread_rwlock_unlock(&vd->lk);
  if (wake) to_directory(sys, vd, OP_WAKE, name, len, NULL);
  return 0;
}

/* ------------------------------------------------------------ the directory */

static void reply_spawn(tr_system *sys, tr_ref self, const tr_mnode *req, int err, tr_ref r) {
  if (!(req->m.flags & TR_MSG_F_ASK)) return;
  uint8_t buf[40];
  size_t o = tr_mp_put_array(buf, sizeof buf, 3);
  o += tr_mp_put_int(buf + o, sizeof buf - o, err);
  o += tr_mp_put_uint(buf + o, sizeof buf - o, r.node);
  o += tr_mp_put_uint(buf + o, sizeof buf - o, r.id);
  tr_mnode *m = tr_msg_new(sys, self, 0, TR_MSG_F_REPLY, req->m.corr, buf, o);
  if (m) tr_deliver(sys, req->m.sender, m, 0);
}

static void spawn_request(tr_ctx *ctx, tr_vdir *vd, const char *bname, size_t blen,
                          tr_mnode *n) {
  tr_system *sys = tr_actor_system(ctx);
  const tr_behavior *b = beh_find(vd, bname, blen);
  tr_ref r = TR_REF_NONE;
  int rc = TR_ENOENT;
  if (b) {
    tr_spawn_arg a = {.data = n->m.data, .len = n->m.len};
    rc = tr_actor_spawn(ctx, b, &a, NULL, &r);
    if (rc == 0 && !r.node) r.node = sys->cfg.node_id;
  }
  if (rc < 0)
    tr_log(TR_LOG_INFO, "virtual", "remote spawn of %.*s refused: %s", (int)blen, bname,
           tr_strerror(rc));
  reply_spawn(sys, vd->ref, n, rc, r);
  tr_msg_release(sys, n);
}


typedef struct vdir_state {
  tr_vdir *vd;
} vdir_state;

/* Passes what waits for e on, in order, and forgets e. Under the write
 * lock, so no later sender overtakes it. */
static void drop_entry(tr_system *sys, tr_vdir *vd, ventry *e, int reason, uint64_t to) {
  pthread_rwlock_wrlock(&vd->lk);
  tr_mnode *q = queue_take(e);
  entry_del(vd, e);
  while (q) {
    tr_mnode *next = queue_next(q);
    if (to) {
      q->m.flags |= TR_MSG_F_FORWARDED_;
      send_remote(sys, vd, to, e->name, e->len, q);
    } else {
      dead(sys, TR_REF_NONE, q, reason);
    }
    q = next;
  }
  pthread_rwlock_unlock(&vd->lk);
  free(e);
}

/* e waits (a first message, or messages that came while its last
 * activation ended): activate it here, or pass its messages to the node
 * that owns it. */
static void settle(tr_ctx *ctx, tr_vdir *vd, ventry *e) {
  tr_system *sys = tr_actor_system(ctx);
  const vkind *k = e->kind;
  int forwarded = 0;
  pthread_rwlock_rdlock(&vd->lk);
  for (tr_mnode *q = e->ph; q; q = queue_next(q))
    if (q->m.flags & TR_MSG_F_FORWARDED_) forwarded = 1;
  pthread_rwlock_unlock(&vd->lk);
  uint64_t node = 0;
  if (owner(sys, vd, k, e->name, e->len, &node) < 0) {
    drop_entry(sys, vd, e, TR_DL_REMOTE, 0);
    return;
  }
  /* another node's, unless a node already passed these on to us: then our
   * views differ, and bouncing them back could go on forever */
  if (!is_self(sys, node) && !forwarded) {
    drop_entry(sys, vd, e, 0, node);
    return;
  }
  if (!hosts(k) || (vd->h.hosts && !vd->h.hosts(vd->h.arg, k->k.roles))) {
    tr_log(TR_LOG_WARN, "virtual", "%s: kind not hosted on this node", e->name);
    drop_entry(sys, vd, e, TR_DL_NO_ACTOR, 0);
    return;
  }
  tr_virtual_id vid = {.name = e->name, .kind = k->name, .key = e->name + e->len};
  if (k->len < e->len) vid.key = e->name + k->len + 1;
  tr_ref ref;
  int rc;
  if (k->k.persistent) {
    tr_persist_opts po = {.id = e->name, .snapshot_every = k->k.snapshot_every,
                          .snapshot_keep = k->k.snapshot_keep,
                          .snapshot_amortized = k->k.snapshot_amortized,
                          .spawn = {.mailbox_bound = k->k.mailbox_bound}};
    rc = tr_persist_spawn(ctx, k->k.persistent, &vid, &po, &ref);
  } else {
    tr_spawn_opts so = {.mailbox_bound = k->k.mailbox_bound};
    rc = tr_actor_spawn(ctx, k->k.behavior, &vid, &so, &ref);
  }
  if (rc < 0) {
    tr_log(TR_LOG_WARN, "virtual", "cannot activate %s: %s", e->name, tr_strerror(rc));
    drop_entry(sys, vd, e, TR_DL_NO_ACTOR, 0);
    return;
  }
  uint64_t mon;
  tr_actor_monitor(ctx, ref, &mon);
  e->idle_since = tr_now_ms();
  e->seen = 0;
  /* what waited goes first, then the table opens for direct sends */
  pthread_rwlock_wrlock(&vd->lk);
  ref_set(vd, e, ref);
  for (tr_mnode *q = queue_take(e), *next; q; q = next) {
    next = queue_next(q);
    deliver_locked(sys, ref, q);
  }
  e->state = V_ACTIVE;
  pthread_rwlock_unlock(&vd->lk);
}

/* Queues the in-order passivate message, unless e changed meanwhile. */
static void passivate(tr_ctx *ctx, tr_vdir *vd, tr_ref ref) {
  tr_system *sys = tr_actor_system(ctx);
  pthread_rwlock_wrlock(&vd->lk);
  ventry *e = find_ref(vd, ref);
  int go = e && e->state == V_ACTIVE;
  if (go) e->state = V_PASSIVATING;
  pthread_rwlock_unlock(&vd->lk);
  if (!go) return;
  /* in the user mailbox, behind everything sent through the table */
  tr_mnode *p = tr_msg_new(sys, vd->ref, TR_SYS_PASSIVATE, 0, 0, NULL, 0);
  if (p) tr_deliver(sys, ref, p, 0);
  else tr_actor_stop(ctx, ref); /* out of memory: stop it the hard way */
}

/* An activation ended (passivated, stopped, failed). */
static void on_down(tr_ctx *ctx, tr_vdir *vd, tr_ref who) {
  pthread_rwlock_wrlock(&vd->lk);
  ventry *e = find_ref(vd, who);
  if (!e) {
    pthread_rwlock_unlock(&vd->lk);
    return;
  }
  ref_clear(vd, e);
  if (!e->ph) {
    entry_del(vd, e);
    pthread_rwlock_unlock(&vd->lk);
    free(e);
    return;
  }
  e->state = V_WAITING; /* messages came while it ended */
  pthread_rwlock_unlock(&vd->lk);
  settle(ctx, vd, e);
}

static void on_wake(tr_ctx *ctx, tr_vdir *vd, const char *name, size_t len) {
  pthread_rwlock_rdlock(&vd->lk);
  ventry *e = find(vd, name, len, name_hash(name, len));
  int waiting = e && e->state == V_WAITING && !e->ref.id;
  pthread_rwlock_unlock(&vd->lk);
  if (waiting) settle(ctx, vd, e); /* only the directory removes entries */
}

/* Idle activations are passivated; with placement, so are those another
 * node owns now. Candidates are collected under the read lock first. */
static void scan(tr_ctx *ctx, tr_vdir *vd, int placement) {
  tr_system *sys = tr_actor_system(ctx);
  uint64_t now = tr_now_ms();
  tr_ref *go = NULL;
  size_t ngo = 0, cap = 0;
  ventry *stuck[16]; /* only the directory frees entries: these stay valid */
  int nstuck = 0;
  pthread_rwlock_rdlock(&vd->lk);
  for (size_t i = 0; i < vd->nb; i++) {
    for (ventry *e = vd->b[i]; e; e = e->next) {
      if (e->state == V_WAITING && !e->ref.id && ++e->seen >= 2 && nstuck < 16)
        stuck[nstuck++] = e; /* its wake was lost (out of memory): settle it here */
      if (e->state != V_ACTIVE) continue;
      int out = 0;
      uint64_t node;
      if (placement && owner(sys, vd, e->kind, e->name, e->len, &node) == 0 &&
          !is_self(sys, node))
        out = 1;
      /* a scheduler thread may look at any live actor */
      tr_actor *a = tr_slots_get(sys->slots, e->ref.id);
      if (!a) continue; /* its DOWN is on the way */
      uint64_t processed = atomic_load_explicit(&a->processed, memory_order_relaxed);
      uint32_t idle = e->kind->k.idle_ms ? e->kind->k.idle_ms : VD_IDLE_MS;
      if (processed != e->seen || tr_actor_depth(a)) {
        e->seen = processed;
        e->idle_since = now;
      } else if (now - e->idle_since >= idle) {
        out = 1;
      }
      if (!out) continue;
      if (ngo == cap) {
        tr_ref *v = realloc(go, (cap = cap ? cap * 2 : 64) * sizeof *v);
        if (!v) break;
        go = v;
      }
      go[ngo++] = e->ref;
    }
  }
  pthread_rwlock_unlock(&vd->lk);
  for (size_t i = 0; i < ngo; i++) passivate(ctx, vd, go[i]);
  free(go);
  for (int i = 0; i < nstuck; i++) settle(ctx, vd, stuck[i]);
}

static int vdir_init(tr_ctx *ctx, void *state, const void *arg) {
  vdir_state *s = state;
  s->vd = (tr_vdir *)arg;
  uint64_t id;
  return tr_timer_start(ctx, VD_TICK_MS, VD_TICK_MS, 0, NULL, 0, &id);
}

static int vdir_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  tr_vdir *vd = ((vdir_state *)state)->vd;
  tr_system *sys = tr_actor_system(ctx);
  if (msg->flags & TR_MSG_F_TIMER) {
    scan(ctx, vd, (++vd->tick & 3) == 0);
    return 0;
  }
  if (msg->type == TR_MSG_DOWN) {
    tr_ref who;
    if (tr_msg_down(msg, NULL, &who, NULL) == 0) on_down(ctx, vd, who);
    return 0;
  }
  if (msg->type != TR_SYS_VIRTUAL || msg->len < sizeof(vwrap)) return 0;
  vwrap h;
  memcpy(&h, msg->data, sizeof h);
  if (msg->len < sizeof h + h.len) return 0;
  const char *name = (const char *)msg->data + sizeof h;
  if (h.op == OP_REBALANCE) {
    scan(ctx, vd, 1);
  } else if (h.op == OP_PASSIVATE) {
    /* the activation itself asked (the runtime set the sender): the same
     * in-order passivation as when idle; passivate() ignores a sender
     * that is not an active activation */
    passivate(ctx, vd, msg->sender);
  } else if (h.op == OP_WAKE) {
    on_wake(ctx, vd, name, h.len);
  } else if (h.op == OP_SPAWN && is_spawn(name, h.len)) {
    tr_mnode *n = tr_msg_new(sys, msg->sender, h.type, msg->flags, msg->corr,
                             msg->data + sizeof h + h.len, msg->len - sizeof h - h.len);
    size_t kl = sizeof VD_SPAWN_KIND;
    if (n) spawn_request(ctx, vd, name + kl, h.len - kl, n);
  }
  return 0;
}

const tr_behavior tr_vdir_behavior = {.name = "tr.directory",
                                      .state_size = sizeof(vdir_state),
                                      .init = vdir_init,
                                      .receive = vdir_receive};

/* ------------------------------------------------------------ set-up */

int tr_virtual_start(tr_system *sys) {
  if (!sys) return TR_EINVAL;
  if (tr_tls_worker && tr_tls_worker->sys == sys) return TR_EDEADLK;
  pthread_mutex_lock(&sys->vdir_mu);
  int rc = 0;
  if (!vdir_of(sys)) {
    tr_vdir *vd = calloc(1, sizeof *vd);
    if (!vd) {
      rc = TR_ENOMEM;
    } else {
      pthread_rwlock_init(&vd->lk, NULL);
      pthread_mutex_init(&vd->reg, NULL);
      rc = tr_system_spawn(sys, &tr_vdir_behavior, vd, &(tr_spawn_opts){.name = "tr.directory"},
                           &vd->ref);
      if (rc == 0) {
        if (!vd->ref.node) vd->ref.node = sys->cfg.node_id;
        atomic_store_explicit(&sys->vdir, vd, memory_order_release);
      } else {
        pthread_rwlock_destroy(&vd->lk);
        pthread_mutex_destroy(&vd->reg);
        free(vd);
      }
    }
  }
  pthread_mutex_unlock(&sys->vdir_mu);
  return rc;
}

void tr_virtual_set_hooks(tr_system *sys, const tr_vhooks *h) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd) return;
  pthread_rwlock_wrlock(&vd->lk);
  if (h) vd->h = *h;
  else memset(&vd->h, 0, sizeof vd->h);
  pthread_rwlock_unlock(&vd->lk);
}

void tr_virtual_free(tr_system *sys) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd) return;
  for (size_t i = 0; i < vd->nb; i++) {
    for (ventry *e = vd->b[i], *next; e; e = next) {
      next = e->next;
      for (tr_mnode *q = queue_take(e), *qn; q; q = qn) {
        qn = queue_next(q);
        tr_msg_release(sys, q);
      }
      free(e);
    }
  }
  for (vkind *k = atomic_load(&vd->kinds), *next; k; k = next) {
    next = k->next;
    free(k);
  }
  for (vbeh *b = atomic_load(&vd->behs), *next; b; b = next) {
    next = b->next;
    free(b);
  }
  free(vd->b);
  free(vd->rb);
  pthread_rwlock_destroy(&vd->lk);
  pthread_mutex_destroy(&vd->reg);
  free(vd);
  sys->vdir = NULL;
}

int tr_kind_register(tr_system *sys, const tr_kind *kind) {
  if (!sys || !kind || !kind->name || (kind->behavior && kind->persistent)) return TR_EINVAL;
  size_t len = strlen(kind->name);
  if (word_check(kind->name, len) < 0 || strncmp(kind->name, "tr.", 3) == 0) return TR_EINVAL;
  int rc = tr_virtual_start(sys);
  if (rc < 0) return rc;
  tr_vdir *vd = vdir_of(sys);
  pthread_mutex_lock(&vd->reg);
  vkind *k = (vkind *)kind_find(vd, kind->name, len);
  /* a kind learned from a member before it was registered here: the new
   * entry goes in front (kind_find finds it first); the learned one stays,
   * unchanged, for whoever still holds it, so nobody reads a half update */
  if (k && !k->learned) {
    pthread_mutex_unlock(&vd->reg);
    return TR_EEXIST;
  }
  k = kind_add(vd, kind->name, len, kind, sys->store != NULL);
  pthread_mutex_unlock(&vd->reg);
  return k ? 0 : TR_ENOMEM;
}

/* vd->reg held. Adds kind (copied) under name[0..len). */
static vkind *kind_add(tr_vdir *vd, const char *name, size_t len, const tr_kind *kind,
                       int store) {
  vkind *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->k = *kind;
  k->store = store;
  memcpy(k->name, name, len);
  k->k.name = k->name;
  k->len = len;
  k->next = atomic_load(&vd->kinds);
  atomic_store_explicit(&vd->kinds, k, memory_order_release);
  return k;
}

size_t tr_virtual_kinds(tr_system *sys, char (*names)[64], uint32_t *roles, size_t max) {
  tr_vdir *vd = vdir_of(sys);
  size_t n = 0;
  for (vkind *k = vd ? atomic_load_explicit(&vd->kinds, memory_order_acquire) : NULL;
       k && n < max; k = k->next) {
    if (!hosts(k)) continue;
    memcpy(names[n], k->name, k->len + 1);
    roles[n++] = k->k.roles;
  }
  return n;
}

int tr_behavior_register(tr_system *sys, const char *name, const tr_behavior *b) {
  if (!sys || !name || !b || !b->receive) return TR_EINVAL;
  size_t len = strlen(name);
  if (word_check(name, len) < 0) return TR_EINVAL;
  int rc = tr_virtual_start(sys);
  if (rc < 0) return rc;
  tr_vdir *vd = vdir_of(sys);
  pthread_mutex_lock(&vd->reg);
  if (beh_find(vd, name, len)) {
    pthread_mutex_unlock(&vd->reg);
    return TR_EEXIST;
  }
  vbeh *v = calloc(1, sizeof *v);
  if (!v) {
    pthread_mutex_unlock(&vd->reg);
    return TR_ENOMEM;
  }
  v->b = b;
  memcpy(v->name, name, len);
  v->next = atomic_load(&vd->behs);
  atomic_store_explicit(&vd->behs, v, memory_order_release);
  pthread_mutex_unlock(&vd->reg);
  return 0;
}

/* ------------------------------------------------------------ entry points */

/* A name a sender may use: valid, of a kind registered here. */
static int sendable(tr_system *sys, const char *name, size_t *len) {
  if (!sys || !name) return TR_EINVAL;
  *len = strnlen(name, TR_VIRTUAL_NAME_MAX + 1);
  if (name_check(name, *len) < 0) return TR_EINVAL;
  tr_vdir *vd = vdir_of(sys);
  return vd && kind_get(vd, name, *len) ? 0 : TR_ENOENT;
}

static int spawnable(const char *bname, size_t *len) {
  if (!bname) return TR_EINVAL;
  *len = strnlen(bname, TR_KIND_NAME_MAX + 1);
  return word_check(bname, *len);
}

typedef struct vtarget {
  const char *name; /* virtual name, or behaviour name for a spawn */
  size_t len;
  uint64_t node;    /* spawn: where */
  int spawn;
} vtarget;

/* Routes n (consumed) to t. */
static int route_target(tr_system *sys, tr_mnode *n, void *arg) {
  const vtarget *t = arg;
  tr_vdir *vd = vdir_of(sys);
  if (!t->spawn) return route(sys, vd, t->name, t->len, n, 1);
  char name[sizeof VD_SPAWN_KIND + TR_KIND_NAME_MAX];
  memcpy(name, VD_SPAWN_KIND "/", sizeof VD_SPAWN_KIND);
  memcpy(name + sizeof VD_SPAWN_KIND, t->name, t->len);
  size_t len = sizeof VD_SPAWN_KIND + t->len;
  if (is_self(sys, t->node)) {
    if (!vd) return dead(sys, TR_REF_NONE, n, TR_DL_NO_ACTOR);
    return to_directory(sys, vd, OP_SPAWN, name, len, n);
  }
  if (!vd) return dead(sys, (tr_ref){t->node, 0}, n, TR_DL_REMOTE);
  return send_remote(sys, vd, t->node, name, len, n);
}

int tr_virtual_send(tr_ctx *ctx, const char *name, uint32_t type, const void *data, size_t len) {
  vtarget t = {.name = name};
  if (!ctx || (len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  int rc = sendable(tr_actor_system(ctx), name, &t.len);
  return rc < 0 ? rc : tr_actor_send_via(ctx, route_target, &t, type, 0, 0, data, len);
}

int tr_virtual_ask(tr_ctx *ctx, const char *name, uint32_t type, const void *data, size_t len,
                   uint32_t timeout_ms, uint64_t *corr) {
  vtarget t = {.name = name};
  if (!ctx || (len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  int rc = sendable(tr_actor_system(ctx), name, &t.len);
  return rc < 0 ? rc
                : tr_actor_ask_via(ctx, route_target, &t, type, data, len, timeout_ms, corr);
}

int tr_system_virtual_send(tr_system *sys, const char *name, uint32_t type, const void *data,
                           size_t len) {
  vtarget t = {.name = name};
  if ((len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  int rc = sendable(sys, name, &t.len);
  if (rc < 0) return rc;
  tr_mnode *n = tr_msg_new(sys, TR_REF_NONE, type, 0, 0, data, len);
  if (!n) return len > TR_MSG_MAX ? TR_ETOOBIG : TR_ENOMEM;
  tr_external_enter(sys);
  rc = route_target(sys, n, &t);
  tr_external_exit(sys);
  return rc;
}

int tr_system_virtual_ask(tr_system *sys, const char *name, uint32_t type, const void *data,
                          size_t len, uint32_t timeout_ms, tr_msg **reply) {
  vtarget t = {.name = name};
  int rc = sendable(sys, name, &t.len);
  return rc < 0 ? rc : tr_external_ask(sys, route_target, &t, type, data, len, timeout_ms, reply);
}

int tr_actor_spawn_remote(tr_ctx *ctx, uint64_t node, const char *name, const void *arg,
                          size_t len, uint32_t timeout_ms, uint64_t *corr) {
  vtarget t = {.name = name, .node = node, .spawn = 1};
  if (!ctx || (len && !arg)) return TR_EINVAL;
  int rc = spawnable(name, &t.len);
  return rc < 0 ? rc : tr_actor_ask_via(ctx, route_target, &t, 0, arg, len, timeout_ms, corr);
}

int tr_system_spawn_remote(tr_system *sys, uint64_t node, const char *name, const void *arg,
                           size_t len, uint32_t timeout_ms, tr_ref *out) {
  vtarget t = {.name = name, .node = node, .spawn = 1};
  if (!sys || !out || (len && !arg)) return TR_EINVAL;
  int rc = spawnable(name, &t.len);
  if (rc < 0) return rc;
  tr_msg *reply;
  rc = tr_external_ask(sys, route_target, &t, 0, arg, len, timeout_ms, &reply);
  if (rc < 0) return rc;
  rc = tr_msg_spawned(reply, out);
  tr_msg_free(reply);
  return rc;
}

void tr_virtual_arrive(tr_system *sys, const char *name, size_t len, tr_mnode *n) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd || name_check(name, len) < 0) {
    dead(sys, TR_REF_NONE, n, TR_DL_NO_ACTOR);
    return;
  }
  route(sys, vd, name, len, n, 0);
}

void tr_virtual_rebalance(tr_system *sys) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd) return;
  tr_external_enter(sys);
  to_directory(sys, vd, OP_REBALANCE, NULL, 0, NULL);
  tr_external_exit(sys);
}

int tr_virtual_is_active(tr_system *sys, const char *name) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd || !name) return 0;
  size_t len = strlen(name);
  pthread_rwlock_rdlock(&vd->lk);
  ventry *e = find(vd, name, len, name_hash(name, len));
  int active = e && e->state == V_ACTIVE;
  pthread_rwlock_unlock(&vd->lk);
  return active;
}

int tr_virtual_passivate(tr_ctx *ctx) {
  if (!ctx) return TR_EINVAL;
  tr_system *sys = tr_actor_system(ctx);
  tr_vdir *vd = vdir_of(sys);
  if (!vd) return TR_ENOTSUP;
  /* through the directory, which alone changes the table: it marks the
   * entry passivating (later sends wait for the next activation) and only
   * then queues the passivate message behind what was routed here */
  vwrap h = {.op = OP_PASSIVATE};
  tr_mnode *w = tr_msg_new(sys, tr_actor_self(ctx), TR_SYS_VIRTUAL, 0, 0, &h, sizeof h);
  if (!w) return TR_ENOMEM;
  return tr_deliver(sys, vd->ref, w, 0) < 0 ? TR_ESTOPPED : 0;
}

size_t tr_virtual_count(tr_system *sys) {
  tr_vdir *vd = vdir_of(sys);
  if (!vd) return 0;
  pthread_rwlock_rdlock(&vd->lk);
  size_t n = vd->count;
  pthread_rwlock_unlock(&vd->lk);
  return n;
}

int tr_virtual_name_check(const char *name) {
  return name ? name_check(name, strnlen(name, TR_VIRTUAL_NAME_MAX + 1)) : TR_EINVAL;
}

int tr_virtual_owner(tr_system *sys, const char *name, uint64_t *node) {
  if (!sys || !name || !node) return TR_EINVAL;
  size_t len = strnlen(name, TR_VIRTUAL_NAME_MAX + 1);
  if (name_check(name, len) < 0) return TR_EINVAL;
  tr_vdir *vd = vdir_of(sys);
  const vkind *k = vd ? kind_get(vd, name, len) : NULL;
  if (!k) return TR_ENOENT;
  return owner(sys, vd, k, name, len, node);
}

int tr_msg_spawned(const tr_msg *reply, tr_ref *ref) {
  if (!reply) return TR_EINVAL;
  uint32_t cnt;
  size_t off = tr_mp_get_array(reply->data, reply->len, &cnt);
  if (!off || cnt != 3) return TR_EPROTO;
  uint64_t v[3];
  int neg[3];
  for (int i = 0; i < 3; i++) {
    size_t k = tr_mp_get_int(reply->data + off, reply->len - off, &v[i], &neg[i]);
    if (!k) return TR_EPROTO;
    off += k;
  }
  if (off != reply->len || neg[1] || neg[2]) return TR_EPROTO;
  if (neg[0]) {
    int64_t e = (int64_t)v[0];
    return e < -1000 ? TR_EPROTO : (int)e;
  }
  if (v[0] != 0 || !v[2]) return TR_EPROTO;
  if (ref) *ref = (tr_ref){v[1], v[2]};
  return 0;
}
