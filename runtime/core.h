/* core.h - the runtime's central structures: actor, scheduler thread
 * (worker), system. Modules with a job of their own (pool, ebr, mailbox,
 * runq, slots, timer, registry, deadletter, blocking) have their own headers;
 * this one ties them together. Nothing here is part of the public SDK.
 */
#ifndef TR_CORE_H
#define TR_CORE_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <uv.h>

#include "troupe/troupe.h"
#include "ebr.h"
#include "mailbox.h"
#include "pool.h"

/* Runtime-internal message types (never reach behaviours). */
enum {
  TR_SYS_STOP = TR_MSG_SYSTEM + 0x100, /* stop with TR_EXIT_SHUTDOWN */
  TR_SYS_EXIT_SIGNAL,                  /* [from.node, from.id, reason] */
  TR_SYS_LINK,                         /* [from.node, from.id] */
  TR_SYS_UNLINK,
  TR_SYS_MONITOR,                      /* [from.node, from.id, monitor id] */
  TR_SYS_DEMONITOR,                    /* [from.node, from.id, monitor id] */
  TR_SYS_CHILD_EXIT,                   /* [child pointer, reason] */
  TR_SYS_ADOPT,                        /* [child pointer] */
  TR_SYS_ASK_TIMEOUT,                  /* corr = ask id */
  TR_SYS_SUP_RETRY,                    /* supervisor: restart what is pending */
  TR_SYS_RECOVER_CHUNK,                /* persistent actor: snapshot and events */
  /* these two travel in the user mailbox, in order with user messages */
  TR_SYS_VIRTUAL,                      /* to the directory: virtual.c */
  TR_SYS_PASSIVATE                     /* a virtual actor ends after what came before */
};

/* Actor state word. */
enum {
  TR_AS_SCHEDULED = 1u << 0, /* queued or running: nobody else may queue it */
  TR_AS_DEAD = 1u << 1,      /* exited: sends become dead letters */
  TR_AS_EXITING = 1u << 2,   /* stopping its children before it ends */
  TR_AS_RECOVERING = 1u << 3 /* persistent actor replaying: user mail waits */
};

/* Actor flags (owned by the actor's own thread). */
enum {
  TR_AF_TRAP_EXIT = 1u << 0,
  TR_AF_INIT_FAILED = 1u << 1, /* init failed: terminate is not called */
  TR_AF_STOP_AFTER = 1u << 4, /* exit after the current callback */
  TR_AF_PASSIVATE_WAIT = 1u << 6, /* passivated with appends in flight: ends
                                     when the last one is acknowledged */
  TR_AF_SPAWNING = 1u << 5    /* in spawn on the parent's thread: the spawner
                                 retires it if init ends it (no CHILD_EXIT) */
};

typedef struct tr_actor tr_actor;
typedef struct tr_actor_ext tr_actor_ext;
typedef struct tr_worker tr_worker;

struct tr_actor {
  tr_mbox mbox;                  /* user messages */
  tr_mbox sysbox;                /* system messages: handled first, never dropped */
  _Atomic uint32_t mb_in;        /* messages pushed (both boxes) */
  _Atomic uint32_t mb_out;       /* messages popped (written by the actor only) */
  _Atomic uint32_t state;        /* TR_AS_* */
  uint16_t flags;                /* TR_AF_* (the actor's own thread only) */
  uint8_t pool_cls;              /* pool class of this allocation */
  uint8_t overflow;              /* TR_OVERFLOW_* */
  const tr_behavior *beh;
  uint64_t id;                   /* slot index | generation << 32 */
  struct tr_actor *parent;
  struct tr_actor *first_child;  /* circular list: first->prev is the last */
  struct tr_actor *sib_next, *sib_prev;
  struct tr_actor *run_next;     /* link in the global run queue */
  _Atomic(tr_actor_ext *) ext;   /* rarely used parts, allocated on demand */
  _Atomic uint64_t processed;    /* written by the actor only */
  uint32_t mailbox_bound;        /* 0 = unbounded */
  int exit_reason;
  _Alignas(16) unsigned char state_mem[]; /* behaviour state */
};

/* Parts most actors never need. */
typedef struct tr_link_set {
  tr_ref *v;
  uint32_t n, cap;
} tr_link_set;

typedef struct tr_monitor_entry {
  tr_ref who;    /* watcher (in the watched actor's table) or target */
  uint64_t id;
} tr_monitor_entry;

typedef struct tr_timer tr_timer;

struct tr_actor_ext {
  tr_ebr_node ebr;               /* must stay first: reclaim hook */
  _Atomic(char *) name;          /* registered name, or NULL */
  _Atomic uint32_t nchildren;
  tr_link_set links;
  tr_monitor_entry *watchers;    /* who monitors me */
  uint32_t nwatchers, capwatchers;
  tr_monitor_entry *watching;    /* whom I monitor (id -> target) */
  uint32_t nwatching, capwatching;
  struct {
    uint64_t id;
    tr_timer *t;
    uint8_t is_ask;
  } *timers;
  uint32_t ntimers, captimers;
  _Atomic(void *) sup;           /* supervisor data (supervisor.c) */
  struct tr_actor *owner;        /* set when retired: what reclaim frees */
  struct tr_persist_data *persist; /* persistent actors (persist.c) */
};

/* ------------------------------------------------------------ run queue */
#define TR_RUNQ_SIZE 256

struct tr_worker {
  tr_system *sys;
  uint32_t index;
  uint8_t started, loop_ready;          /* for a clean stop after a failed start */
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  /* local run queue (Go-style): owner pushes at tail, anyone takes at head */
  _Atomic uint32_t rq_head;
  _Atomic uint32_t rq_tail;
  _Atomic(struct tr_actor *) rq[TR_RUNQ_SIZE];
  _Atomic(struct tr_actor *) runnext;   /* just made runnable by this thread */
  _Atomic uint64_t progress;            /* actor runs so far (steal heuristics) */
  uint64_t seen_progress[64];           /* last progress seen per victim */
  _Atomic int sleeping;
  int in_poll;                          /* inside the sleeping uv_run (sched.c) */
  uint32_t runnext_streak;
  uint32_t ticks;
  uint32_t checkpoints;
  int helping;                          /* running a flooded receiver inline */
  /* sends of the running callback to one target, pushed as one chain */
  struct tr_actor *cur;                 /* actor whose callback runs, or NULL */
  struct tr_actor *bt;                  /* batch target */
  tr_mnode *bhead, *btail;
  uint32_t bn;
  /* per-thread caches */
  tr_pool_cache cache;
  tr_ebr_rec *ebr;
  tr_ebr_limbo limbo;
  uint32_t slot_cache[128];
  uint32_t nslot_cache;
  /* commands from other threads (tr_sched_post), MPSC through a mailbox */
  tr_mbox cmds;
  uint64_t rng;
  char pad[64];
};

typedef struct tr_deadletters tr_deadletters;
typedef struct tr_registry tr_registry;
typedef struct tr_blocking tr_blocking;
typedef struct tr_slots tr_slots;
typedef struct tr_store tr_store;
typedef struct tr_vdir tr_vdir;
struct append_req;

struct tr_system {
  tr_config cfg;
  uint64_t serial;             /* tells systems apart in thread-local caches */
  uint32_t nworkers;
  tr_worker *workers;
  tr_pool pool;
  tr_ebr ebr;
  tr_slots *slots;
  tr_registry *registry;
  tr_deadletters *dl;
  tr_blocking *blocking;
  tr_store *store;             /* persistence, when cfg.data_dir is set */
  _Atomic(struct append_req *) acks; /* store completions to deliver (persist.c) */
  _Atomic uint32_t ack_rr;
  _Atomic int acks_busy;       /* a thread is delivering acks */
  struct tr_actor *root;
  tr_ref root_ref;
  /* global run queue: external threads, overflow of local queues */
  pthread_mutex_t gq_lock;
  struct tr_actor *gq_head, *gq_tail;
  _Atomic uint32_t gq_len;
  _Atomic int nsleeping;
  _Atomic int nspinning;
  _Atomic int stopping;        /* workers leave their loops */
  _Atomic uint64_t next_corr;  /* ask, monitor, timer and job ids */
  _Atomic uint64_t nactors;
  /* external asks waiting for replies */
  pthread_mutex_t wait_lock;
  struct tr_waiter *waiters;
  /* end of life */
  pthread_mutex_t done_lock;
  pthread_cond_t done_cond;
  int done;
  int shutdown_sent;
  /* hook for refs on other nodes (cluster layer): consumes n and returns 0,
   * or returns an error and leaves n to the caller (a dead letter) */
  int (*remote_send)(tr_system *sys, tr_ref to, tr_mnode *n, void *arg);
  void *remote_arg;
  /* virtual actors and remote spawn (virtual.c), created on first use */
  _Atomic(struct tr_vdir *) vdir;
  pthread_mutex_t vdir_mu;
};

/* Messages queued for a (approximate from other threads; never negative:
 * senders count before they push). */
static inline uint32_t tr_actor_depth(const struct tr_actor *a);

/* A sender whose receiver has more than this many messages waiting, in the
 * sender's own runnext slot, runs the receiver's batch inline (msg.c). A C
 * callback cannot be preempted, so without this a tight send loop (or one per
 * thread) grows the backlog without bound: memory, and first-touching it,
 * then cost more than the messages. */
#define TR_HELP_DEPTH 1024

/* ------------------------------------------------------------ internals */
extern _Thread_local tr_worker *tr_tls_worker;

#define TR_MSG_MAX (64u << 20) /* largest payload one message may carry */

/* Message allocation: the node's payload is copied in (data NULL: left for
 * the caller to fill). */
tr_mnode *tr_msg_new(tr_system *sys, tr_ref sender, uint32_t type, uint16_t flags, uint64_t corr,
                     const void *data, size_t len);
void tr_msg_release(tr_system *sys, tr_mnode *n);

/* Delivers n (ownership passes) to the actor with id to; reports dead letters.
 * Caller must be a scheduler thread or inside tr_ebr_enter. */
int tr_deliver(tr_system *sys, tr_ref to, tr_mnode *n, int system);
/* Same for a known live pointer (used by the runtime for its own links). */
int tr_deliver_ptr(tr_system *sys, struct tr_actor *a, tr_mnode *n, int system);

/* Records n as a dead letter of a (stopped) and frees it; system messages
 * get the answer a dead actor owes (EXIT or DOWN with TR_ENOPROC). */
void tr_actor_dead_letter(tr_system *sys, struct tr_actor *a, tr_mnode *n, int system);

/* Pushes the running callback's pending batch of sends (msg.c). */
void tr_batch_flush(tr_worker *w);
#define TR_BATCH_MAX 64

/* Scheduling */
void tr_sched_make_runnable(tr_system *sys, struct tr_actor *a);
/* Runs fn(w, arg) on worker w's thread soon (its next loop pass; wakes it).
 * From any thread. TR_ENOMEM if the command cannot be queued. */
typedef void (*tr_worker_fn)(tr_worker *w, void *arg);
int tr_sched_post(tr_worker *w, tr_worker_fn fn, void *arg);
/* Queues an actor that used up its batch at the tail of w's ring. */
void tr_sched_requeue(tr_worker *w, struct tr_actor *a);
int tr_sched_start(tr_system *sys);
void tr_sched_stop(tr_system *sys);

/* Called at the entry of actor API calls on a worker: runtime code holds no
 * actor pointer across API calls (only the running actor, its parent and
 * children, which ownership protects), so the thread is quiescent here.
 * This lets reclamation go on during a callback that runs for long. */
void tr_sched_checkpoint(tr_system *sys);

/* Non-scheduler threads: EBR record of this thread. */
tr_ebr_rec *tr_thread_ebr(tr_system *sys);
void tr_external_enter(tr_system *sys);
void tr_external_exit(tr_system *sys);

/* Actor lifecycle (actor.c) */
void tr_actor_run(tr_worker *w, struct tr_actor *a);
/* Spawns under parent: directly into its children list when the caller owns
 * parent (runs it), else (adopt) through a TR_SYS_ADOPT message. after: the
 * sibling to insert after (NULL: at the end). */
int tr_actor_spawn_under(tr_system *sys, struct tr_actor *parent, int adopt, const tr_behavior *b,
                         const void *arg, const tr_spawn_opts *opts, struct tr_actor *after,
                         uint16_t extra_flags, tr_ref *out, struct tr_actor **out_ptr,
                         struct tr_persist_data *persist);

/* Persistent actors (persist.c). spawn takes ownership of the persist data. */
int tr_persist_on_chunk(tr_ctx *ctx, const tr_msg *m);
void tr_persist_on_ack(tr_ctx *ctx, const tr_msg *m);
void tr_persist_after_callback(tr_ctx *ctx);
int tr_persist_start_recovery(tr_ctx *ctx);
void tr_persist_free(void *d);
/* 1 when every event appended is acknowledged (or appending failed), or ctx
 * is not persistent: it may end without leaving writes behind. */
int tr_persist_settled(tr_ctx *ctx);
/* Makes the running actor exit with reason (children first). */
void tr_actor_exit_now(tr_ctx *ctx, int reason);
int tr_linkset_add(tr_link_set *s, tr_ref r);
int tr_monitors_add(tr_monitor_entry **v, uint32_t *n, uint32_t *cap, tr_ref who, uint64_t id);
int tr_linkset_del(tr_link_set *s, tr_ref r);
extern _Thread_local tr_system *tr_tls_sys;
tr_actor_ext *tr_actor_ext_get(struct tr_actor *a);
tr_ref tr_actor_ref(tr_system *sys, struct tr_actor *a);
void tr_actor_free(tr_system *sys, struct tr_actor *a);
uint64_t tr_next_id(tr_system *sys);

/* System message helpers: payload of small integer arrays. */
int tr_sys_send(tr_system *sys, tr_ref from, tr_ref to, uint32_t type, const uint64_t *v, int n);
int tr_sys_decode(const tr_msg *m, uint64_t *v, int n);

/* Supervisor hooks (supervisor.c) */
void tr_sup_child_exited(tr_ctx *ctx, struct tr_actor *child, int reason);
void tr_sup_retry(tr_ctx *ctx);
void tr_sup_free(tr_system *sys, void *sup);

/* External asks (system.c): route(sys, n, rarg) delivers the request n
 * (consumed); the reply is the caller's, freed with tr_msg_free(). */
typedef int (*tr_route_fn)(tr_system *sys, tr_mnode *n, void *rarg);
/* The route of a ref (rarg: const tr_ref *). */
int tr_route_ref(tr_system *sys, tr_mnode *n, void *rarg);
/* An actor's send (flags, corr) or ask through route (api.c). */
int tr_actor_send_via(tr_ctx *ctx, tr_route_fn route, void *rarg, uint32_t type,
                      uint16_t flags, uint64_t corr, const void *data, size_t len);
int tr_actor_ask_via(tr_ctx *ctx, tr_route_fn route, void *rarg, uint32_t type,
                     const void *data, size_t len, uint32_t timeout_ms, uint64_t *corr);
int tr_external_ask(tr_system *sys, tr_route_fn route, void *rarg, uint32_t type,
                    const void *data, size_t len, uint32_t timeout_ms, tr_msg **reply);
/* External ask completion (system.c) */
void tr_waiter_complete(tr_system *sys, tr_mnode *n);
#define TR_ID_EXTERNAL 1u /* sender id of external asks: never an actor */

/* Misc */
uint64_t tr_now_ms(void);     /* monotonic */
uint64_t tr_wall_ms(void);    /* wall clock */

static inline uint32_t tr_actor_depth(const struct tr_actor *a) {
  return atomic_load_explicit(&a->mb_in, memory_order_relaxed) -
         atomic_load_explicit(&a->mb_out, memory_order_relaxed);
}

#endif
