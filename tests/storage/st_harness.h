/* st_harness.h - helpers for the storage tests: temporary data dirs,
 * opening stores, synchronous one-op writes, and raw LMDB access for tests
 * that damage or hand-craft data. Deadlines are liveness bounds only. */
#ifndef TR_TEST_ST_HARNESS_H
#define TR_TEST_ST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"
#include "troupe/system.h"

#ifdef TROUPE_SANITIZED
#define ST_WAIT_MS 180000
#else
#define ST_WAIT_MS 30000
#endif

static inline uint64_t st_t_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int st_t_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

/* A fresh empty directory under $TMPDIR (or /tmp); the store goes into
 * <dir>/db so tests can also use a not-yet-existing path. */
/* Waits (ST_WAIT_MS at most) until *flag >= want; returns its value then. */
static inline int st_t_wait_flag(_Atomic int *flag, int want) {
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  while (atomic_load(flag) < want && st_t_now_ms() < end) usleep(200);
  return atomic_load(flag);
}

static inline void st_t_tmpdir(char *out, size_t n) {
  const char *base = getenv("TMPDIR");
  snprintf(out, n, "%s/troupe-st.XXXXXX", base && *base ? base : "/tmp");
  assert_non_null(mkdtemp(out));
}

static inline void st_t_rmdir(const char *dir) { nftw(dir, st_t_rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static inline tr_store *st_t_open(const char *dir, const tr_store_opts *o) {
  tr_store *s = NULL;
  int rc = tr_store_open(dir, o, &s);
  if (rc) fprintf(stderr, "tr_store_open(%s): %s\n", dir, tr_strerror(rc));
  assert_int_equal(rc, 0);
  return s;
}

static inline int st_t_write1(tr_store *s, tr_store_op op) { return tr_store_write(s, &op, 1); }

static inline int st_t_append(tr_store *s, const char *pid, uint64_t seq, const char *ev) {
  return st_t_write1(s, tr_op_journal_append(pid, strlen(pid), seq, ev, strlen(ev)));
}

/* Collects journal or queue items into an array. */
typedef struct {
  uint64_t num[4096];
  char data[4096][48];
  size_t n;
} st_t_items;

static inline int st_t_collect(void *arg, uint64_t num, const void *data, size_t len) {
  st_t_items *it = arg;
  if (it->n >= 4096) return 1;
  it->num[it->n] = num;
  size_t m = len < 47 ? len : 47;
  memcpy(it->data[it->n], data, m);
  it->data[it->n][m] = 0;
  it->n++;
  return 0;
}

/* Raw LMDB on a closed store's dir (tests that hand-craft or damage data). */
static inline MDB_env *st_t_raw_open(const char *dir) {
  MDB_env *env;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
  assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
  assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
  return env;
}

#endif
