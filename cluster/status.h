/* status.h - what a node reports about itself: sampled in one place for the
 * heartbeats (node.c) and for the console's view of this node (console.c). */
#ifndef TR_CLUSTER_STATUS_H
#define TR_CLUSTER_STATUS_H

#include <stdint.h>

#include "cluster.h"

/* CPU use between samples; zero it before the first. Not thread-safe: one
 * sampler per caller (or under the caller's lock). */
typedef struct tr_cpu_sampler {
  uint64_t ms;     /* monotonic time of the last sample; 0 = none */
  uint64_t cpu_us; /* process CPU time then */
  double cpu;      /* CPU seconds per second over the last interval */
} tr_cpu_sampler;

/* Fills *s (the caller's) with this process as it is now: CPU since the
 * sampler's last sample (a new sample only after 200 ms), RSS, actors,
 * dead letters, uptime since the process started, version, and with
 * with_top the busiest mailboxes (a walk over every actor). */
void tr_status_sample(tr_system *sys, tr_cpu_sampler *cpu, int with_top, tr_node_status *s);

#endif
