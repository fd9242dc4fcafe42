/* cluster.h - a node's membership in a cluster, and delivery to other nodes.
 *
 * tr_cluster_start() listens on the cluster address, dials the seeds, and
 * installs itself as the runtime's route for refs of other nodes: from then
 * on tr_actor_send/ask to such a ref travels over a secure link (link.h) and
 * arrives in the target's mailbox exactly as a local message would.
 *
 * Links: each node dials every member it sends to; a connection carries
 * frames one way (the dialler's messages and heartbeats), so per-sender
 * order is the order of one TCP stream, and two nodes dialling each other
 * at once never have to agree which connection wins.
 *
 * Membership (member.c, docs/cluster.md): every node sends every member it
 * knows a heartbeat every heartbeat_ms, carrying its own entry (state,
 * incarnation, roles, status) and a digest of its view, through which
 * joining nodes are discovered. Each node judges every other by a
 * phi-accrual detector over that member's heartbeats.
 */
#ifndef TR_CLUSTER_CLUSTER_H
#define TR_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "troupe/system.h"

typedef struct tr_cluster tr_cluster;

/* Member states (docs/cluster.md has the transitions). */
typedef enum tr_member_state {
  TR_MEMBER_JOINING = 1, /* known, not yet heard from directly / not joined */
  TR_MEMBER_UP,
  TR_MEMBER_SUSPECT,     /* heartbeats late (phi over phi_suspect) */
  TR_MEMBER_DOWN,        /* heartbeats missing (phi over phi_down) */
  TR_MEMBER_LEAVING,     /* said it is leaving (SIGTERM, troupectl leave) */
  TR_MEMBER_REMOVED      /* gone; forgotten after a while */
} tr_member_state;

const char *tr_member_state_name(int state);

typedef struct tr_cluster_opts {
  const char *listen;    /* nng URL: tcp://host:port (port 0: any) or ipc:// */
  const char *advertise; /* what others dial; NULL: listen (with the bound port) */
  const char *const *seeds;
  size_t nseeds;
  const char *name;      /* human name of the node */
  const char *console;   /* the node's admin console URL, told to members */
  uint32_t roles;        /* role bits (engine, worker, gateway) */
  uint32_t heartbeat_ms; /* 0 = 200 */
  uint32_t pause_ms;     /* acceptable heartbeat pause; 0 = 2500 */
  double phi_suspect;    /* 0 = 1.0 */
  double phi_down;       /* 0 = 8.0 */
  uint32_t forget_ms;    /* a down or removed member is forgotten after; 0 = 60000 */
} tr_cluster_opts;

/* Status a node reports about itself in each heartbeat. */
#define TR_STATUS_TOP 5
typedef struct tr_node_status {
  double cpu;           /* CPU seconds per second over the last interval */
  uint64_t rss;         /* bytes */
  uint64_t actors;
  uint64_t uptime_ms;
  uint64_t dead_letters;
  char version[16];
  struct {
    uint64_t id;
    uint32_t depth;
    char name[32];
  } top[TR_STATUS_TOP]; /* busiest mailboxes */
  uint32_t ntop;
} tr_node_status;

typedef struct tr_member_info {
  uint64_t node_id;
  char name[64];
  char addr[256];
  char console[256];    /* admin console URL, "" if none */
  uint32_t roles;
  uint64_t incarnation;
  int state;            /* tr_member_state, as this node sees it */
  int draining;         /* hosts no virtual actors (tr_cluster_set_draining) */
  int self;
  double phi;
  uint64_t last_heard_ms; /* ms ago; 0 for self */
  tr_node_status status;
  /* link counters (this node's links with that member) */
  uint64_t msgs_out, msgs_in, frames_out, frames_in;
  uint64_t rejected_auth, rejected_replay, rejected_size;
} tr_member_info;

/* Starts the cluster layer of sys (which must outlive it). id is copied.
 * Fails with TR_EINVAL (bad URL), TR_EIO (cannot listen), TR_ENOMEM. */
int tr_cluster_start(tr_system *sys, const tr_identity *id, const tr_cluster_opts *o,
                     tr_cluster **out);

/* Graceful leave: state leaving, told to every member, links closed with a
 * bye. Waits up to timeout_ms for the heartbeats to go out. */
void tr_cluster_leave(tr_cluster *c, uint32_t timeout_ms);

/* Draining: this node hosts no virtual actors (its activations move to
 * other nodes; it still runs everything else and sends anywhere). Told to
 * members in heartbeats. Any thread. */
void tr_cluster_set_draining(tr_cluster *c, int on);

/* Fault injection, for partition tests and drills: while on, every frame
 * from node is dropped and nothing is sent to it (messages become dead
 * letters), as if the network between the two had failed; both sides must
 * block each other for a symmetric partition. At most 16 nodes. */
int tr_cluster_block(tr_cluster *c, uint64_t node, int on);

/* Stops everything and frees c. After tr_system_wait() (no actor sends). */
void tr_cluster_free(tr_cluster *c);

/* The address others dial (listen with the bound port). Owned by c. */
const char *tr_cluster_address(tr_cluster *c);

/* Copies up to max members (self first) into out (caller's); returns how
 * many members there are. */
size_t tr_cluster_members(tr_cluster *c, tr_member_info *out, size_t max);

/* Counters summed over every link (for tests and the console). */
void tr_cluster_link_totals(tr_cluster *c, tr_member_info *sum);

#endif
