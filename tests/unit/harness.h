/* harness.h - helpers for the runtime's unit tests.
 *
 * Tests wait for conditions with a generous deadline (a liveness bound, not
 * a timing assertion: a slow machine only makes them take longer), and
 * collect what actors observe in a thread-safe log. */
#ifndef TR_TEST_HARNESS_H
#define TR_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/mp.h"
#include "troupe/troupe.h"

/* deadline for anything that should happen "soon"; sanitizers slow the
 * runtime 5-20x, so they get more */
#ifdef TROUPE_SANITIZED
#define WAIT_MS 180000
#else
#define WAIT_MS 30000
#endif

static inline uint64_t t_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void t_sleep_ms(unsigned ms) { usleep(ms * 1000u); }

/* Polls until *v >= want or the deadline; returns the last value seen. */
static inline int64_t t_wait_ge(_Atomic int64_t *v, int64_t want) {
  uint64_t end = t_now_ms() + WAIT_MS;
  int64_t x;
  while ((x = atomic_load(v)) < want && t_now_ms() < end) usleep(1000);
  return x;
}

/* Payload helpers: arrays of integers as msgpack. */
static inline size_t t_put_ints(uint8_t *buf, size_t room, int n, const int64_t *v) {
  size_t off = tr_mp_put_array(buf, room, (uint32_t)n);
  for (int i = 0; i < n; i++) off += tr_mp_put_int(buf + off, room - off, v[i]);
  return off;
}

static inline int t_get_ints(const tr_msg *m, int n, int64_t *v) {
  uint32_t cnt;
  size_t off = tr_mp_get_array(m->data, m->len, &cnt);
  if (!off || cnt != (uint32_t)n) return -1;
  for (int i = 0; i < n; i++) {
    uint64_t u;
    int neg;
    size_t k = tr_mp_get_int(m->data + off, m->len - off, &u, &neg);
    if (!k) return -1;
    v[i] = (int64_t)u;
    off += k;
  }
  return 0;
}

static inline int t_send_int(tr_system *sys, tr_ref to, uint32_t type, int64_t v) {
  uint8_t buf[16];
  return tr_system_send(sys, to, type, buf, tr_mp_put_int(buf, sizeof buf, v));
}

static inline int64_t t_msg_int(const tr_msg *m) {
  uint64_t u = 0;
  int neg;
  tr_mp_get_int(m->data, m->len, &u, &neg);
  return (int64_t)u;
}

/* Asks the virtual actor name with the JSON request (as msgpack; NULL: an
 * empty payload); the reply in *out (the caller frees it), or the ask's
 * error. */
static inline int t_ask_json(tr_system *sys, const char *name, uint32_t type, const char *json,
                             tr_msg **out) {
  tr_pack pk = TR_PACK_INIT;
  if (json) assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  *out = NULL;
  int rc = tr_system_virtual_ask(sys, name, type, pk.data, pk.len, WAIT_MS, out);
  tr_pack_free(&pk);
  return rc;
}

static inline tr_system *t_system(uint32_t threads) {
  tr_config cfg = {.threads = threads};
  tr_system *sys = NULL;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  return sys;
}

/* Count of live actors other than the root. */
static inline int64_t t_actors(tr_system *sys) { return (int64_t)tr_system_actor_count(sys) - 1; }

static inline void t_wait_actors(tr_system *sys, int64_t want) {
  uint64_t end = t_now_ms() + WAIT_MS;
  while (t_actors(sys) != want && t_now_ms() < end) usleep(1000);
  assert_int_equal(t_actors(sys), want);
}

#endif
