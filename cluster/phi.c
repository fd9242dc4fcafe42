/* phi.c - phi-accrual failure detector; see phi.h. */
#include "phi.h"

#include <math.h>
#include <string.h>

void tr_phi_init(tr_phi *p, uint32_t expected_interval_ms, uint32_t pause_ms) {
  memset(p, 0, sizeof *p);
  p->pause_ms = pause_ms;
  p->first_ms = expected_interval_ms ? expected_interval_ms : 1;
  /* half the interval: tolerant of scheduling jitter on a busy box */
  p->min_std_ms = p->first_ms / 2 + 1;
}

void tr_phi_heartbeat(tr_phi *p, uint64_t now_ms) {
  if (p->last_ms && now_ms >= p->last_ms) {
    uint64_t d = now_ms - p->last_ms;
    p->iv[p->next] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    p->next = (p->next + 1) % TR_PHI_WINDOW;
    if (p->n < TR_PHI_WINDOW) p->n++;
  }
  p->last_ms = now_ms;
}

double tr_phi_value(const tr_phi *p, uint64_t now_ms) {
  if (!p->last_ms || now_ms <= p->last_ms) return 0.0;
  double mean = p->first_ms, var = 0;
  if (p->n) {
    double s = 0, s2 = 0;
    for (uint32_t i = 0; i < p->n; i++) {
      s += p->iv[i];
      s2 += (double)p->iv[i] * p->iv[i];
    }
    mean = s / p->n;
    var = s2 / p->n - mean * mean;
  }
  double std = var > 0 ? sqrt(var) : 0;
  if (std < p->min_std_ms) std = p->min_std_ms;
  mean += p->pause_ms;
  /* logistic approximation of the normal tail (as Akka's detector does):
   * accurate to ~1e-4 and free of erfc's underflow for large y */
  double y = ((double)(now_ms - p->last_ms) - mean) / std;
  double e = exp(-y * (1.5976 + 0.070566 * y * y));
  double tail = now_ms - p->last_ms > mean ? e / (1.0 + e) : 1.0 - 1.0 / (1.0 + e);
  if (tail < 1e-300) return 300.0;
  return -log10(tail);
}
