/* internal.h - what node.c (links, routes, delivery) and member.c
 * (membership) share. Nothing outside cluster/ includes it.
 *
 * Locks, always taken in this order: c->rlk (routes) before c->mu (members,
 * links, dials). Link callbacks take c->mu only; a sender holds c->rlk
 * (read) while it queues on a link, and a link that fails inside that call
 * reports down, which takes c->mu - so nobody may wait for c->rlk while
 * holding c->mu.
 */
#ifndef TR_CLUSTER_INTERNAL_H
#define TR_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>

#include "cluster.h"
#include "link.h"
#include "phi.h"
#include "status.h"

typedef struct lrec {
  struct lrec *next;
  struct tr_cluster *c;
  tr_link *l;
  int out;          /* we dialled it */
  int started;      /* tr_link_start has returned: the ticker may reap it */
  int dead;         /* down reported; freed by the ticker */
  uint64_t peer;    /* once up */
  char addr[256];   /* what we dialled ("" for accepted links) */
} lrec;

typedef struct dialrec {
  struct dialrec *next;
  struct tr_cluster *c;
  nng_stream_dialer *d;
  nng_aio *aio;
  char addr[256];
  uint64_t member;  /* member id, or 0 for a seed */
  _Atomic int done;
} dialrec;

/* A kind a node hosts, as its heartbeats advertise it: how a node that
 * never registered a kind learns its roles (and so can place its names). */
#define TR_KINDS_AD_MAX 32
typedef struct kind_ad {
  char name[64];
  uint32_t roles;
} kind_ad;

typedef struct member {
  uint64_t id;
  char name[64];
  char addr[256];
  char console[256];
  uint32_t roles;
  uint64_t inc;       /* incarnation: start time of that process (ms) */
  int said;           /* state it reports about itself: joining/up/leaving */
  int draining;       /* it said it hosts no virtual actors for now */
  int state;          /* as this node sees it (tr_member_state) */
  tr_phi phi;
  uint64_t heard_ms;  /* last heartbeat */
  uint64_t since_ms;  /* when state last changed */
  tr_node_status status;
  tr_link *out;       /* our link to it, once up */
  int dialing;
  uint64_t next_dial_ms;
  uint32_t backoff_ms;
  tr_link_stats gone; /* counters of its links that were freed */
  kind_ad kinds[TR_KINDS_AD_MAX]; /* kinds it hosts */
  int nkinds;
} member;

/* A message waiting for a link that is being set up. */
typedef struct pend {
  struct pend *next;
  tr_ref to;
  struct tr_mnode *n;
  size_t nlen;        /* a virtual actor's name follows, or 0 */
  char name[];
} pend;

/* Where messages for a node go: its link, or, while the link is being
 * (re)established to a member we know, a bounded queue flushed into the
 * link when it comes up (so a reply to a node that has just dialled us is
 * not lost while we dial back). */
typedef struct route {
  uint64_t id;
  tr_link *l;
  pend *head, *tail;
  size_t npend;
  uint64_t since_ms; /* oldest pending message */
} route;

#define TR_PEND_MAX 65536      /* messages queued per node without a link */
#define TR_PEND_MS 5000        /* ... and for how long at most */

struct tr_cluster {
  tr_system *sys;
  tr_identity id;
  tr_cluster_opts o;
  char name[64];
  char listen[256];
  char addr[256];      /* advertised */
  char console[256];
  char (*seeds)[256];
  size_t nseeds;
  int self_seed;       /* our own address is in the seed list */
  uint64_t inc;
  int state;           /* our own: joining, up, leaving */
  int draining;        /* tr_cluster_set_draining */
  uint64_t blocked[16];  /* tr_cluster_block: peers we drop frames of */
  int nblocked;
  uint64_t place_digest; /* who may host virtual actors, as last seen */
  kind_ad kinds[TR_KINDS_AD_MAX]; /* ours, refreshed by the ticker */
  int nkinds;

  nng_stream_listener *lis;
  nng_aio *acc_aio;

  pthread_mutex_t mu;
  member *m;
  size_t nm, cap;
  lrec *links;
  dialrec *dials;
  uint64_t seed_next_ms;
  tr_node_status status; /* ours, refreshed by the ticker */
  tr_cpu_sampler cpu;    /* the ticker's */
  tr_link_stats gone;    /* counters of freed links to no member */
  uint64_t bad_envelopes;
  uint64_t refused;        /* links whose handshake failed */
  uint64_t refused_log_ms;

  pthread_rwlock_t rlk;
  route *routes;
  size_t nroutes;

  pthread_t ticker;
  pthread_mutex_t tick_mu;
  pthread_cond_t tick_cv;
  int stopping;
  int ticker_started;
};

/* Milliseconds from t to now, 0 if t is later: times are read on several
 * threads, so a "now" taken first can be older than a stamp taken since. */
static inline uint64_t tr_ms_since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

/* member.c, all under c->mu */
#define TR_MEMBERS_MAX 4096 /* members a node keeps track of */
member *tr_mb_find(struct tr_cluster *c, uint64_t id);
member *tr_mb_add(struct tr_cluster *c, uint64_t id, uint64_t now);
int tr_mb_gossip_build(struct tr_cluster *c, tr_pack *pk);
int tr_mb_gossip_apply(struct tr_cluster *c, uint64_t from, const uint8_t *p, size_t n,
                       uint64_t now);
void tr_mb_judge(struct tr_cluster *c, uint64_t now);

/* place.c: the directory's hooks (runtime/virtual.h), and a digest of who
 * may host virtual actors (under c->mu), whose change means "rebalance". */
int tr_place_owner(void *arg, uint32_t roles, const char *name, size_t len, uint64_t *node);
int tr_place_hosts(void *arg, uint32_t roles);
uint64_t tr_place_digest(struct tr_cluster *c);
/* The roles of a kind some up member hosts: 0 and *roles, or TR_ENOENT. */
int tr_place_kind_roles(void *arg, const char *kind, size_t len, uint32_t *roles);


#endif
