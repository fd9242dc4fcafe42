/* phi.h - the phi-accrual failure detector (Hayashibara et al., 2004).
 *
 * Instead of a yes/no timeout it gives a suspicion level: phi = -log10 of
 * the probability that a heartbeat this late would still come, given the
 * intervals seen so far (modelled as a normal distribution). phi 1 means a
 * 10% chance it is still alive, phi 8 one in 10^8. The acceptable pause is
 * added to the mean so that a stall of that length (a GC-like pause, a
 * SIGSTOP) does not count; the minimum deviation keeps a perfectly regular
 * heartbeat from making phi jump at the first late millisecond.
 *
 * Pure: the caller passes the time, so tests are deterministic.
 */
#ifndef TR_CLUSTER_PHI_H
#define TR_CLUSTER_PHI_H

#include <stdint.h>

#define TR_PHI_WINDOW 64

typedef struct tr_phi {
  uint32_t iv[TR_PHI_WINDOW]; /* recent intervals, ms */
  uint32_t n, next;
  uint64_t last_ms;           /* last heartbeat; 0 = none yet */
  uint32_t pause_ms;          /* acceptable pause */
  uint32_t min_std_ms;        /* deviation floor */
  uint32_t first_ms;          /* assumed interval before any is seen */
} tr_phi;

void tr_phi_init(tr_phi *p, uint32_t expected_interval_ms, uint32_t pause_ms);
/* A heartbeat arrived at now_ms. */
void tr_phi_heartbeat(tr_phi *p, uint64_t now_ms);
/* Suspicion at now_ms; 0 before the first heartbeat. */
double tr_phi_value(const tr_phi *p, uint64_t now_ms);

#endif
