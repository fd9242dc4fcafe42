/* node.c - the cluster layer of a node: listener, dials, links, routes to
 * other nodes, delivery of what arrives, and the ticker thread that drives
 * membership (member.c). See cluster.h for the model and internal.h for
 * the lock order.
 *
 * Who frees what: nng callbacks never free an aio, dialer or link (nng
 * cannot stop an aio from its own callback); they mark things dead or done
 * and the ticker thread, which holds no nng callback, stops and frees them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "runtime/core.h"
#include "runtime/deadletter.h"
#include "runtime/virtual.h"

#define TICK_MS 20
#define HANDSHAKE_TIMEOUT_MS 5000
#define DIAL_BACKOFF_MIN_MS 100
#define DIAL_BACKOFF_MAX_MS 2000

static void ticker_wake(tr_cluster *c) {
  pthread_mutex_lock(&c->tick_mu);
  pthread_cond_signal(&c->tick_cv);
  pthread_mutex_unlock(&c->tick_mu);
}

/* ------------------------------------------------------------ routes */

/* The route of node, or NULL. Caller holds c->rlk. */
static route *route_find(tr_cluster *c, uint64_t node) {
  for (size_t i = 0; i < c->nroutes; i++)
    if (c->routes[i].id == node) return &c->routes[i];
  return NULL;
}

/* Caller holds c->rlk (write). */
static route *route_get(tr_cluster *c, uint64_t node) {
  route *r = route_find(c, node);
  if (r) return r;
  r = realloc(c->routes, (c->nroutes + 1) * sizeof *r);
  if (!r) return NULL;
  c->routes = r;
  r = &c->routes[c->nroutes++];
  memset(r, 0, sizeof *r);
  r->id = node;
  return r;
}

/* Queues n for to, or for the virtual actor name[0..nlen) when nlen. */
static int send_node(tr_cluster *c, tr_link *l, tr_ref to, const char *name, size_t nlen,
                     tr_mnode *n) {
  tr_envelope e = {.type = n->m.type, .flags = n->m.flags, .corr = n->m.corr,
                   .sender = n->m.sender, .target = to, .payload = n->m.data,
                   .payload_len = n->m.len};
  if (nlen) {
    e.target_name = name;
    e.target_name_len = nlen;
  }
  if (!e.sender.node) e.sender.node = c->id.node_id;
  int rc = tr_link_send(l, &e);
  if (rc == 0) tr_msg_release(c->sys, n);
  return rc;
}

/* Makes l the route of node and sends what waited for it, in order; no
 * sender can slip in between (the write lock). */
static void route_up(tr_cluster *c, uint64_t node, tr_link *l) {
  pthread_rwlock_wrlock(&c->rlk);
  route *r = route_get(c, node);
  pend *p = NULL;
  if (r) {
    r->l = l;
    p = r->head;
    r->head = r->tail = NULL;
    r->npend = 0;
  }
  while (p) {
    pend *next = p->next;
    if (send_node(c, l, p->to, p->name, p->nlen, p->n) < 0) {
      tr_dl_record(c->sys->dl, p->to, &p->n->m, TR_DL_REMOTE);
      tr_msg_release(c->sys, p->n);
    }
    free(p);
    p = next;
  }
  pthread_rwlock_unlock(&c->rlk);
}

/* Unhooks every route through l (it is being freed); later messages to
 * that node wait for the next link. */
static void route_drop_link(tr_cluster *c, tr_link *l) {
  pthread_rwlock_wrlock(&c->rlk);
  for (size_t i = 0; i < c->nroutes; i++)
    if (c->routes[i].l == l) c->routes[i].l = NULL;
  pthread_rwlock_unlock(&c->rlk);
}

/* Pending messages that waited too long, or for a node that is gone,
 * become dead letters; routes of forgotten nodes are dropped. */
static void route_expire(tr_cluster *c, uint64_t now) {
  pend *dead = NULL;
  pthread_rwlock_wrlock(&c->rlk);
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->nroutes;) {
    route *r = &c->routes[i];
    member *m = tr_mb_find(c, r->id);
    int gone = !m || m->state == TR_MEMBER_DOWN || m->state == TR_MEMBER_REMOVED;
    if (r->head && (gone || tr_ms_since(now, r->since_ms) > TR_PEND_MS)) {
      r->tail->next = dead;
      dead = r->head;
      r->head = r->tail = NULL;
      r->npend = 0;
    }
    if (!m && !r->l && !r->head) {
      c->routes[i] = c->routes[--c->nroutes];
      continue;
    }
    i++;
  }
  pthread_mutex_unlock(&c->mu);
  pthread_rwlock_unlock(&c->rlk);
  while (dead) {
    pend *next = dead->next;
    tr_dl_record(c->sys->dl, dead->to, &dead->n->m, TR_DL_REMOTE);
    tr_msg_release(c->sys, dead->n);
    free(dead);
    dead = next;
  }
}

static void route_free_all(tr_cluster *c) {
  for (size_t i = 0; i < c->nroutes; i++) {
    pend *p = c->routes[i].head;
    while (p) {
      pend *next = p->next;
      tr_dl_record(c->sys->dl, p->to, &p->n->m, TR_DL_REMOTE);
      tr_msg_release(c->sys, p->n);
      free(p);
      p = next;
    }
  }
  free(c->routes);
  c->routes = NULL;
  c->nroutes = 0;
}

/* ------------------------------------------------------------ delivery */

/* Caller holds c->mu. */
static int is_blocked(tr_cluster *c, uint64_t node) {
  for (int i = 0; i < c->nblocked; i++)
    if (c->blocked[i] == node) return 1;
  return 0;
}

/* Whether node is blocked (tr_cluster_block); cheap while nothing is. */
static int blocked(tr_cluster *c, uint64_t node) {
  if (!__atomic_load_n(&c->nblocked, __ATOMIC_RELAXED)) return 0;
  pthread_mutex_lock(&c->mu);
  int b = is_blocked(c, node);
  pthread_mutex_unlock(&c->mu);
  return b;
}

/* Sends n to node: to a ref there, or to the virtual actor name[0..nlen)
 * when nlen. Consumes n and returns 0, or returns an error (the caller
 * makes n a dead letter). */
static int route_send(tr_cluster *c, uint64_t node, tr_ref to, const char *name, size_t nlen,
                      tr_mnode *n) {
  if (blocked(c, node)) return TR_ENOENT;
  pthread_rwlock_rdlock(&c->rlk);
  route *r = route_find(c, node);
  tr_link *l = r ? r->l : NULL;
  int rc = l ? send_node(c, l, to, name, nlen, n) : TR_ENOENT;
  pthread_rwlock_unlock(&c->rlk);
  if (l) return rc; /* an error: the runtime makes it a dead letter */
  /* no link: wait for one if the node is a member we are (re)connecting to */
  pthread_rwlock_wrlock(&c->rlk);
  r = route_find(c, node);
  if (r && r->l) {
    rc = send_node(c, r->l, to, name, nlen, n);
  } else {
    pthread_mutex_lock(&c->mu);
    member *m = tr_mb_find(c, node);
    int known = m && m->state != TR_MEMBER_DOWN && m->state != TR_MEMBER_REMOVED &&
                m->said != TR_MEMBER_LEAVING && !c->stopping;
    pthread_mutex_unlock(&c->mu);
    rc = TR_ENOENT;
    pend *p = known ? malloc(sizeof *p + nlen) : NULL;
    if (p && (r = route_get(c, node)) && r->npend < TR_PEND_MAX) {
      p->next = NULL;
      p->to = to;
      p->n = n;
      p->nlen = nlen;
      if (nlen) memcpy(p->name, name, nlen);
      if (r->tail) r->tail->next = p;
      else r->head = p, r->since_ms = tr_now_ms();
      r->tail = p;
      r->npend++;
      rc = 0;
    } else {
      free(p);
    }
  }
  pthread_rwlock_unlock(&c->rlk);
  return rc;
}

static int remote_send(tr_system *sys, tr_ref to, tr_mnode *n, void *arg) {
  (void)sys;
  return route_send(arg, to.node, to, NULL, 0, n);
}

static int send_name(void *arg, uint64_t node, const char *name, size_t len, tr_mnode *n) {
  return route_send(arg, node, (tr_ref){node, 0}, name, len, n);
}

/* A DATA frame from peer: every envelope into its target's mailbox. */
static void deliver_frame(tr_cluster *c, uint64_t peer, const uint8_t *p, size_t n) {
  tr_envelope_reader r;
  uint32_t count;
  if (tr_envelope_reader_open(&r, p, n, &count) < 0) {
    __atomic_add_fetch(&c->bad_envelopes, 1, __ATOMIC_RELAXED);
    return;
  }
  tr_system *sys = c->sys;
  tr_external_enter(sys);
  tr_envelope e;
  int rc;
  while ((rc = tr_envelope_reader_next(&r, &e)) == 0) {
    /* a peer speaks only for its own actors, and never sends the runtime's
     * internal messages (they carry pointers) */
    if (e.sender.node != peer || e.type >= TR_MSG_SYSTEM ||
        (!e.target_name && e.target.node != c->id.node_id)) {
      __atomic_add_fetch(&c->bad_envelopes, 1, __ATOMIC_RELAXED);
      continue;
    }
    tr_mnode *m = tr_msg_new(sys, e.sender, e.type, e.flags, e.corr, e.payload, e.payload_len);
    if (!m) break;
    if (e.target_name) /* the name's owner is decided here again */
      tr_virtual_arrive(sys, e.target_name, e.target_name_len, m);
    else
      tr_deliver(sys, e.target, m, 0);
  }
  if (rc != TR_ENOENT) __atomic_add_fetch(&c->bad_envelopes, 1, __ATOMIC_RELAXED);
  tr_external_exit(sys);
}

/* ------------------------------------------------------------ link callbacks */

static void on_up(tr_link *l, void *arg) {
  lrec *r = arg;
  tr_cluster *c = r->c;
  uint64_t peer = tr_link_peer(l);
  int keep = 1;
  pthread_mutex_lock(&c->mu);
  r->peer = peer;
  if (peer == c->id.node_id) {
    keep = 0; /* our own address, e.g. in the seed list */
  } else if (!r->out) {
    /* it talks to us, so we will talk back: known from now on (its
     * address comes with its first heartbeat) */
    if (!tr_mb_find(c, peer)) tr_mb_add(c, peer, tr_now_ms());
  } else {
    member *m = tr_mb_find(c, peer);
    if (!m) m = tr_mb_add(c, peer, tr_now_ms());
    if (!m || (m->out && m->out != l && tr_link_is_up(m->out))) keep = 0;
    else {
      m->out = l;
      m->dialing = 0;
      m->backoff_ms = 0;
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (!keep) {
    tr_link_close(l);
    return;
  }
  if (r->out) {
    route_up(c, peer, l);
    ticker_wake(c); /* a heartbeat at once: the peer learns of us now */
  }
}

static void on_frame(tr_link *l, int type, const uint8_t *p, size_t n, void *arg) {
  lrec *r = arg;
  tr_cluster *c = r->c;
  uint64_t peer = tr_link_peer(l);
  if (blocked(c, peer)) return;
  if (type == TR_FRAME_DATA) {
    deliver_frame(c, peer, p, n);
  } else if (type == TR_FRAME_GOSSIP) {
    pthread_mutex_lock(&c->mu);
    int rc = tr_mb_gossip_apply(c, peer, p, n, tr_now_ms());
    pthread_mutex_unlock(&c->mu);
    if (rc < 0) __atomic_add_fetch(&c->bad_envelopes, 1, __ATOMIC_RELAXED);
    if (rc > 0) ticker_wake(c); /* learned of a member: dial it */
  }
}

static void on_down(tr_link *l, int err, void *arg) {
  lrec *r = arg;
  tr_cluster *c = r->c;
  pthread_mutex_lock(&c->mu);
  r->dead = 1;
  if (!r->peer && err != TR_ESTOPPED && err != TR_EIO) {
    /* the handshake failed: a peer without the secret, or garbage. Logged
     * at most every 10 s: a refused node keeps retrying */
    c->refused++;
    uint64_t now = tr_now_ms();
    if (!c->refused_log_ms || tr_ms_since(now, c->refused_log_ms) >= 10000) {
      tr_log(TR_LOG_WARN, "cluster", "refused a link (%s): %s (%llu refused so far)",
             r->out ? "dialled" : "incoming", tr_strerror(err), (unsigned long long)c->refused);
      c->refused_log_ms = now;
    }
  }
  if (r->out && r->peer) {
    member *m = tr_mb_find(c, r->peer);
    if (m && m->out == l) {
      m->out = NULL;
      m->next_dial_ms = 0; /* redial at once, then back off */
    }
  }
  pthread_mutex_unlock(&c->mu);
  ticker_wake(c);
}

static void on_lost(tr_link *l, const tr_envelope *e, void *arg) {
  (void)l;
  lrec *r = arg;
  tr_msg m = {.sender = e->sender, .corr = e->corr, .type = e->type, .flags = e->flags,
              .len = 0};
  tr_dl_record(r->c->sys->dl, e->target, &m, TR_DL_REMOTE);
}

static const tr_link_ops link_ops = {on_up, on_frame, on_down, on_lost};

/* Wraps a connected stream in a link; c->mu held. */
static int link_add(tr_cluster *c, nng_stream *s, int out, const char *addr) {
  lrec *r = calloc(1, sizeof *r);
  if (!r) {
    nng_stream_free(s);
    return TR_ENOMEM;
  }
  r->c = c;
  r->out = out;
  snprintf(r->addr, sizeof r->addr, "%s", addr ? addr : "");
  int rc = tr_link_new(s, out, &c->id, &link_ops, r, &r->l);
  if (rc < 0) {
    nng_stream_free(s);
    free(r);
    return rc;
  }
  r->next = c->links;
  c->links = r;
  return 0;
}

/* Starts l (outside c->mu: a start that fails reports down, which takes
 * it), then lets the ticker time out and reap it. */
static void link_started(tr_cluster *c, tr_link *l) {
  tr_link_start(l);
  pthread_mutex_lock(&c->mu);
  for (lrec *r = c->links; r; r = r->next)
    if (r->l == l) r->started = 1;
  pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------ accept, dial */

static void accept_done(void *arg) {
  tr_cluster *c = arg;
  if (nng_aio_result(c->acc_aio) != 0) {
    if (!c->stopping) nng_stream_listener_accept(c->lis, c->acc_aio);
    return;
  }
  nng_stream *s = nng_aio_get_output(c->acc_aio, 0);
  pthread_mutex_lock(&c->mu);
  tr_link *l = NULL;
  if (!c->stopping && link_add(c, s, 0, NULL) == 0) l = c->links->l;
  else if (c->stopping) nng_stream_free(s);
  pthread_mutex_unlock(&c->mu);
  if (l) link_started(c, l);
  if (!c->stopping) nng_stream_listener_accept(c->lis, c->acc_aio);
}

static void dial_done(void *arg) {
  dialrec *d = arg;
  tr_cluster *c = d->c;
  int ok = nng_aio_result(d->aio) == 0;
  tr_link *l = NULL;
  pthread_mutex_lock(&c->mu);
  if (ok) {
    nng_stream *s = nng_aio_get_output(d->aio, 0);
    if (!c->stopping && link_add(c, s, 1, d->addr) == 0) l = c->links->l;
    else if (c->stopping) nng_stream_free(s);
  }
  if (d->member) {
    member *m = tr_mb_find(c, d->member);
    /* connected: the link (listed with its address) now stands for the
     * dial, so a link that dies during its handshake is dialled again */
    if (m && ok) m->dialing = 0;
    if (m && !ok) {
      m->dialing = 0;
      m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : DIAL_BACKOFF_MIN_MS;
      if (m->backoff_ms > DIAL_BACKOFF_MAX_MS) m->backoff_ms = DIAL_BACKOFF_MAX_MS;
      m->next_dial_ms = tr_now_ms() + m->backoff_ms;
    }
  }
  atomic_store(&d->done, 1);
  pthread_mutex_unlock(&c->mu);
  if (l) link_started(c, l);
}

/* Starts dialling addr; c->mu held. */
static int dial(tr_cluster *c, const char *addr, uint64_t member_id) {
  dialrec *d = calloc(1, sizeof *d);
  if (!d) return TR_ENOMEM;
  d->c = c;
  d->member = member_id;
  snprintf(d->addr, sizeof d->addr, "%s", addr);
  if (nng_stream_dialer_alloc(&d->d, addr) != 0) {
    free(d);
    return TR_EINVAL;
  }
  /* a frame leaves as soon as it is written (ipc has no such option) */
  nng_stream_dialer_set_bool(d->d, NNG_OPT_TCP_NODELAY, true);
  if (nng_aio_alloc(&d->aio, dial_done, d) != 0) {
    nng_stream_dialer_free(d->d);
    free(d);
    return TR_ENOMEM;
  }
  nng_aio_set_timeout(d->aio, 2000);
  d->next = c->dials;
  c->dials = d;
  nng_stream_dialer_dial(d->d, d->aio);
  return 0;
}

/* ------------------------------------------------------------ ticker */

/* An address we already talk to, are dialling, or have a link to in its
 * handshake; c->mu held. */
static int addr_linked(tr_cluster *c, const char *addr) {
  for (size_t i = 0; i < c->nm; i++)
    if (!strcmp(c->m[i].addr, addr) && (c->m[i].dialing || (c->m[i].out && tr_link_is_up(c->m[i].out))))
      return 1;
  for (dialrec *d = c->dials; d; d = d->next)
    if (!atomic_load(&d->done) && !strcmp(d->addr, addr)) return 1;
  for (lrec *r = c->links; r; r = r->next)
    if (!r->dead && !strcmp(r->addr, addr)) return 1; /* handshaking or up */
  return 0;
}

typedef struct sendlist {
  tr_link *l[256];
  size_t n;
} sendlist;

/* One pass: dials, judgement, heartbeats, reaping. */
static void tick(tr_cluster *c, uint64_t now, int *hb_due) {
  dialrec *done_dials = NULL;
  lrec *dead = NULL;
  sendlist to, slow; /* heartbeat targets; handshakes that take too long */
  to.n = slow.n = 0;
  tr_pack pk = TR_PACK_INIT;

  pthread_mutex_lock(&c->mu);
  /* finished dials are freed outside the lock */
  for (dialrec **pp = &c->dials; *pp;) {
    dialrec *d = *pp;
    if (atomic_load(&d->done)) {
      *pp = d->next;
      d->next = done_dials;
      done_dials = d;
    } else {
      pp = &d->next;
    }
  }
  /* links: dead ones out of the list; handshakes that take too long closed */
  for (lrec **pp = &c->links; *pp;) {
    lrec *r = *pp;
    if (!r->started) { /* its creator has not started it yet: not ours */
      pp = &r->next;
      continue;
    }
    if (r->dead) {
      *pp = r->next;
      r->next = dead;
      dead = r;
      continue;
    }
    /* closed after the lock is released: closing reports down, which
     * takes c->mu */
    if (!tr_link_is_up(r->l) && tr_ms_since(now, tr_link_started_ms(r->l)) > HANDSHAKE_TIMEOUT_MS &&
        slow.n < 256)
      slow.l[slow.n++] = r->l;
    pp = &r->next;
  }
  tr_mb_judge(c, now);
  uint64_t digest = tr_place_digest(c);
  int rebalance = digest != c->place_digest;
  c->place_digest = digest;
  if (c->state != TR_MEMBER_LEAVING) {
    /* dial members we have no link to */
    for (size_t i = 0; i < c->nm; i++) {
      member *m = &c->m[i];
      if (m->out || m->dialing || !m->addr[0] || now < m->next_dial_ms) continue;
      if (addr_linked(c, m->addr)) continue; /* a link to it is in its handshake */
      if (m->state == TR_MEMBER_REMOVED || m->said == TR_MEMBER_LEAVING) continue;
      if (dial(c, m->addr, m->id) == 0) m->dialing = 1;
    }
    /* seeds: any live one lets us join. Seeds dial each other too (they
     * may start in any order), and keep doing so, slowly, while one is not
     * a member we talk to: that is how two halves find each other again. */
    if (now >= c->seed_next_ms) {
      int alone = 1;
      for (size_t i = 0; i < c->nm; i++)
        if (c->m[i].out && tr_link_is_up(c->m[i].out)) alone = 0;
      for (size_t i = 0; i < c->nseeds; i++) {
        if (!strcmp(c->seeds[i], c->addr) || addr_linked(c, c->seeds[i])) continue;
        dial(c, c->seeds[i], 0);
      }
      c->seed_next_ms = now + (c->state == TR_MEMBER_JOINING || alone ? 500 : 5000);
    }
  }
  if (*hb_due) {
    *hb_due = 0;
    if (tr_mb_gossip_build(c, &pk) == 0) {
      for (size_t i = 0; i < c->nm && to.n < 256; i++)
        if (c->m[i].out && tr_link_is_up(c->m[i].out) && !is_blocked(c, c->m[i].id))
          to.l[to.n++] = c->m[i].out;
    }
  }
  pthread_mutex_unlock(&c->mu);

  /* who may host virtual actors changed: names owned elsewhere move */
  if (rebalance) tr_virtual_rebalance(c->sys);
  /* links are freed only by this thread, so the pointers stay valid */
  for (size_t i = 0; i < slow.n; i++) tr_link_close(slow.l[i]); /* reaped next pass */
  for (size_t i = 0; i < to.n; i++) tr_link_send_frame(to.l[i], TR_FRAME_GOSSIP, pk.data, pk.len);
  tr_pack_free(&pk);

  while (done_dials) {
    dialrec *d = done_dials;
    done_dials = d->next;
    nng_aio_free(d->aio);
    nng_stream_dialer_free(d->d);
    free(d);
  }
  while (dead) {
    lrec *r = dead;
    dead = r->next;
    tr_link_quiesce(r->l); /* no callback can add a route after this */
    route_drop_link(c, r->l);
    tr_link_stats st;
    tr_link_get_stats(r->l, &st);
    pthread_mutex_lock(&c->mu);
    member *m = r->peer ? tr_mb_find(c, r->peer) : NULL;
    tr_link_stats *g = m ? &m->gone : &c->gone;
    g->frames_out += st.frames_out, g->frames_in += st.frames_in;
    g->msgs_out += st.msgs_out, g->msgs_in += st.msgs_in;
    g->rejected_auth += st.rejected_auth, g->rejected_replay += st.rejected_replay;
    g->rejected_size += st.rejected_size;
    if (m && m->out == r->l) m->out = NULL;
    pthread_mutex_unlock(&c->mu);
    tr_link_free(r->l);
    free(r);
  }
}

static void *ticker_main(void *arg) {
  tr_cluster *c = arg;
  uint64_t next_hb = 0, next_status = 0;
  for (;;) {
    uint64_t now = tr_now_ms();
    if (now >= next_status) {
      tr_node_status s;
      tr_status_sample(c->sys, &c->cpu, 1, &s);
      char names[TR_KINDS_AD_MAX][64];
      uint32_t roles[TR_KINDS_AD_MAX];
      size_t nk = tr_virtual_kinds(c->sys, names, roles, TR_KINDS_AD_MAX);
      pthread_mutex_lock(&c->mu);
      c->status = s;
      for (size_t i = 0; i < nk; i++) {
        memcpy(c->kinds[i].name, names[i], sizeof names[i]);
        c->kinds[i].roles = roles[i];
      }
      c->nkinds = (int)nk;
      pthread_mutex_unlock(&c->mu);
      next_status = now + 1000;
    }
    int hb = now >= next_hb;
    if (hb) next_hb = now + c->o.heartbeat_ms;
    tick(c, now, &hb);
    route_expire(c, now);
    pthread_mutex_lock(&c->tick_mu);
    if (c->stopping) {
      pthread_mutex_unlock(&c->tick_mu);
      break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += TICK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&c->tick_cv, &c->tick_mu, &ts);
    int stop = c->stopping;
    pthread_mutex_unlock(&c->tick_mu);
    if (stop) break;
  }
  return NULL;
}

/* ------------------------------------------------------------ start, stop */

static int listen_start(tr_cluster *c) {
  if (nng_stream_listener_alloc(&c->lis, c->listen) != 0) return TR_EINVAL;
  nng_stream_listener_set_bool(c->lis, NNG_OPT_TCP_NODELAY, true);
  int rv = nng_stream_listener_listen(c->lis);
  if (rv != 0) return TR_EIO;
  snprintf(c->addr, sizeof c->addr, "%s", c->listen);
  if (!strncmp(c->listen, "tcp://", 6)) {
    /* port 0 (tests): advertise the port the kernel chose */
    int port = 0;
    if (nng_stream_listener_get_int(c->lis, NNG_OPT_TCP_BOUND_PORT, &port) == 0 && port > 0) {
      const char *colon = strrchr(c->listen, ':');
      if (colon && colon > c->listen + 6)
        snprintf(c->addr, sizeof c->addr, "%.*s:%d", (int)(colon - c->listen), c->listen, port);
    }
  }
  if (nng_aio_alloc(&c->acc_aio, accept_done, c) != 0) return TR_ENOMEM;
  nng_stream_listener_accept(c->lis, c->acc_aio);
  return 0;
}

int tr_cluster_start(tr_system *sys, const tr_identity *id, const tr_cluster_opts *o,
                     tr_cluster **out) {
  if (!sys || !id || !o || !o->listen || !out || o->nseeds > 256) return TR_EINVAL;
  tr_cluster *c = calloc(1, sizeof *c);
  if (!c) return TR_ENOMEM;
  c->sys = sys;
  c->id = *id;
  c->o = *o;
  c->o.seeds = NULL;
  if (!c->o.heartbeat_ms) c->o.heartbeat_ms = 200;
  if (!c->o.pause_ms) c->o.pause_ms = 2500;
  if (c->o.phi_suspect <= 0) c->o.phi_suspect = 1.0;
  if (c->o.phi_down <= 0) c->o.phi_down = 8.0;
  if (!c->o.forget_ms) c->o.forget_ms = 60000;
  snprintf(c->name, sizeof c->name, "%s", o->name ? o->name : "");
  snprintf(c->listen, sizeof c->listen, "%s", o->listen);
  snprintf(c->console, sizeof c->console, "%s", o->console ? o->console : "");
  c->o.name = c->name;
  c->o.console = c->console;
  c->o.advertise = NULL;
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  c->inc = (uint64_t)wall.tv_sec * 1000u + (uint64_t)wall.tv_nsec / 1000000u;
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->tick_mu, NULL);
  pthread_cond_init(&c->tick_cv, NULL);
  pthread_rwlock_init(&c->rlk, NULL);
  int rc = TR_ENOMEM;
  if (o->nseeds && !(c->seeds = calloc(o->nseeds, sizeof *c->seeds))) goto fail;
  c->nseeds = o->nseeds;
  for (size_t i = 0; i < o->nseeds; i++) snprintf(c->seeds[i], 256, "%s", o->seeds[i]);
  if ((rc = listen_start(c)) < 0) goto fail;
  if (o->advertise) snprintf(c->addr, sizeof c->addr, "%s", o->advertise);
  c->self_seed = 0;
  for (size_t i = 0; i < c->nseeds; i++)
    if (!strcmp(c->seeds[i], c->addr)) c->self_seed = 1;
  /* with no other seed there is nobody to join: we are the cluster */
  size_t others = c->nseeds - (size_t)c->self_seed;
  c->state = (others == 0 || c->self_seed) ? TR_MEMBER_UP : TR_MEMBER_JOINING;
  tr_status_sample(sys, &c->cpu, 1, &c->status);
  sys->remote_arg = c;
  sys->remote_send = remote_send;
  /* virtual actors: this node's directory places names over the members */
  if ((rc = tr_virtual_start(sys)) < 0) goto fail;
  tr_virtual_set_hooks(sys, &(tr_vhooks){.place = tr_place_owner, .hosts = tr_place_hosts,
                                         .send_name = send_name,
                                         .kind_roles = tr_place_kind_roles, .arg = c});
  if (pthread_create(&c->ticker, NULL, ticker_main, c) != 0) {
    rc = TR_ENOMEM;
    goto fail;
  }
  c->ticker_started = 1;
  *out = c;
  return 0;
fail:
  tr_cluster_free(c);
  return rc;
}

const char *tr_cluster_address(tr_cluster *c) { return c->addr; }

int tr_cluster_block(tr_cluster *c, uint64_t node, int on) {
  if (!c || !node) return TR_EINVAL;
  pthread_mutex_lock(&c->mu);
  int rc = 0, i = 0;
  while (i < c->nblocked && c->blocked[i] != node) i++;
  if (on && i == c->nblocked) {
    if (c->nblocked < (int)(sizeof c->blocked / sizeof c->blocked[0])) {
      c->blocked[c->nblocked] = node;
      __atomic_store_n(&c->nblocked, c->nblocked + 1, __ATOMIC_RELAXED);
    } else {
      rc = TR_EFULL;
    }
  } else if (!on && i < c->nblocked) {
    c->blocked[i] = c->blocked[c->nblocked - 1];
    __atomic_store_n(&c->nblocked, c->nblocked - 1, __ATOMIC_RELAXED);
  }
  if (rc == 0)
    tr_log(TR_LOG_WARN, "cluster", "%s %016llx (fault injection)",
           on ? "blocking" : "unblocking", (unsigned long long)node);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

void tr_cluster_set_draining(tr_cluster *c, int on) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  if (c->draining != !!on)
    tr_log(TR_LOG_INFO, "cluster", "%s", on ? "draining: hosting no virtual actors"
                                             : "no longer draining");
  c->draining = !!on;
  pthread_mutex_unlock(&c->mu);
  ticker_wake(c); /* the next tick rebalances and tells the members */
}

void tr_cluster_leave(tr_cluster *c, uint32_t timeout_ms) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->state = TR_MEMBER_LEAVING;
  tr_pack pk = TR_PACK_INIT;
  sendlist to = {.n = 0};
  if (tr_mb_gossip_build(c, &pk) == 0)
    for (size_t i = 0; i < c->nm && to.n < 256; i++)
      if (c->m[i].out && tr_link_is_up(c->m[i].out)) to.l[to.n++] = c->m[i].out;
  pthread_mutex_unlock(&c->mu);
  /* the ticker is the only thread that frees links: with it stopped, the
   * links in `to` stay valid until tr_cluster_free */
  pthread_mutex_lock(&c->tick_mu);
  c->stopping = 1; /* the ticker stops and frees nothing more */
  pthread_cond_signal(&c->tick_cv);
  pthread_mutex_unlock(&c->tick_mu);
  if (c->ticker_started) {
    pthread_join(c->ticker, NULL);
    c->ticker_started = 0;
  }
  for (size_t i = 0; i < to.n; i++) {
    tr_link_send_frame(to.l[i], TR_FRAME_GOSSIP, pk.data, pk.len);
    tr_link_send_frame(to.l[i], TR_FRAME_BYE, "", 0);
  }
  tr_pack_free(&pk);
  /* give the frames a moment to leave; links close when the peers read bye */
  uint64_t end = tr_now_ms() + timeout_ms;
  while (tr_now_ms() < end) {
    int busy = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < to.n; i++)
      if (tr_link_is_up(to.l[i])) busy = 1;
    pthread_mutex_unlock(&c->mu);
    if (!busy) break;
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

void tr_cluster_free(tr_cluster *c) {
  if (!c) return;
  pthread_mutex_lock(&c->tick_mu);
  c->stopping = 1;
  pthread_cond_signal(&c->tick_cv);
  pthread_mutex_unlock(&c->tick_mu);
  if (c->ticker_started) pthread_join(c->ticker, NULL);
  if (c->sys && c->sys->remote_arg == c) {
    c->sys->remote_send = NULL;
    c->sys->remote_arg = NULL;
    tr_virtual_set_hooks(c->sys, NULL);
  }
  /* stop accepting, then every dial and link (aios before streams) */
  if (c->acc_aio) nng_aio_stop(c->acc_aio);
  if (c->lis) nng_stream_listener_close(c->lis);
  pthread_mutex_lock(&c->mu);
  dialrec *dials = c->dials;
  lrec *links = c->links;
  c->dials = NULL;
  c->links = NULL;
  pthread_mutex_unlock(&c->mu);
  for (dialrec *d = dials; d; d = d->next) nng_aio_stop(d->aio);
  for (lrec *r = links; r; r = r->next) tr_link_quiesce(r->l);
  while (dials) {
    dialrec *d = dials;
    dials = d->next;
    nng_aio_free(d->aio);
    nng_stream_dialer_free(d->d);
    free(d);
  }
  while (links) {
    lrec *r = links;
    links = r->next;
    tr_link_free(r->l);
    free(r);
  }
  nng_aio_free(c->acc_aio);
  if (c->lis) nng_stream_listener_free(c->lis);
  route_free_all(c);
  free(c->m);
  free(c->seeds);
  tr_identity_clear(&c->id);
  pthread_rwlock_destroy(&c->rlk);
  pthread_cond_destroy(&c->tick_cv);
  pthread_mutex_destroy(&c->tick_mu);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* ------------------------------------------------------------ introspection */

static void add_stats(tr_member_info *mi, const tr_link_stats *s) {
  mi->msgs_out += s->msgs_out, mi->msgs_in += s->msgs_in;
  mi->frames_out += s->frames_out, mi->frames_in += s->frames_in;
  mi->rejected_auth += s->rejected_auth, mi->rejected_replay += s->rejected_replay;
  mi->rejected_size += s->rejected_size;
}

size_t tr_cluster_members(tr_cluster *c, tr_member_info *out, size_t max) {
  uint64_t now = tr_now_ms();
  pthread_mutex_lock(&c->mu);
  size_t total = c->nm + 1;
  if (max > 0) {
    tr_member_info *s = &out[0];
    memset(s, 0, sizeof *s);
    s->node_id = c->id.node_id;
    snprintf(s->name, sizeof s->name, "%s", c->name);
    snprintf(s->addr, sizeof s->addr, "%s", c->addr);
    snprintf(s->console, sizeof s->console, "%s", c->console);
    s->roles = c->o.roles;
    s->incarnation = c->inc;
    s->state = c->state;
    s->draining = c->draining;
    s->self = 1;
    s->status = c->status;
  }
  for (size_t i = 0; i < c->nm && i + 1 < max; i++) {
    member *m = &c->m[i];
    tr_member_info *mi = &out[i + 1];
    memset(mi, 0, sizeof *mi);
    mi->node_id = m->id;
    snprintf(mi->name, sizeof mi->name, "%s", m->name);
    snprintf(mi->addr, sizeof mi->addr, "%s", m->addr);
    snprintf(mi->console, sizeof mi->console, "%s", m->console);
    mi->roles = m->roles;
    mi->incarnation = m->inc;
    mi->state = m->state;
    mi->draining = m->draining;
    mi->phi = tr_phi_value(&m->phi, now);
    mi->last_heard_ms = m->heard_ms ? tr_ms_since(now, m->heard_ms) : 0;
    mi->status = m->status;
    add_stats(mi, &m->gone);
  }
  /* live links' counters */
  for (lrec *r = c->links; r; r = r->next) {
    if (!r->peer) continue;
    for (size_t i = 0; i < c->nm && i + 1 < max; i++) {
      if (c->m[i].id != r->peer) continue;
      tr_link_stats st;
      tr_link_get_stats(r->l, &st);
      add_stats(&out[i + 1], &st);
    }
  }
  pthread_mutex_unlock(&c->mu);
  return total;
}

void tr_cluster_link_totals(tr_cluster *c, tr_member_info *sum) {
  memset(sum, 0, sizeof *sum);
  pthread_mutex_lock(&c->mu);
  add_stats(sum, &c->gone);
  for (size_t i = 0; i < c->nm; i++) add_stats(sum, &c->m[i].gone);
  for (lrec *r = c->links; r; r = r->next) {
    tr_link_stats st;
    tr_link_get_stats(r->l, &st);
    add_stats(sum, &st);
  }
  pthread_mutex_unlock(&c->mu);
}
