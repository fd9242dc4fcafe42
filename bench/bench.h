/* bench.h - helpers shared by the benchmark programs: monotonic clock, RSS
 * from procfs, integer payloads, a main-thread latch, and output in the
 * peers kit's format (one `peer=troupe bench=NAME key=value ...` line). */
#ifndef TR_BENCH_H
#define TR_BENCH_H

#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ftw.h>
#include <sys/stat.h>

#include "codec/mp.h"
#include "troupe/troupe.h"

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM in MB (10^6 bytes... the kit reports MiB/1024: kB/1024). */
static inline double bench_status_mb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double v = 0;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      v = strtod(line + kl + 1, NULL) / 1024.0;
      break;
    }
  fclose(f);
  return v;
}
static inline double bench_rss_mb(void) { return bench_status_mb("VmRSS"); }
static inline double bench_peak_rss_mb(void) { return bench_status_mb("VmHWM"); }

/* Integer payloads as msgpack. */
static inline size_t bench_put_u64(uint8_t *buf, uint64_t v) { return tr_mp_put_uint(buf, 9, v); }
static inline uint64_t bench_get_u64(const tr_msg *m) {
  uint64_t v = 0;
  int neg;
  if (!tr_mp_get_int(m->data, m->len, &v, &neg)) {
    fprintf(stderr, "bench: bad payload\n");
    abort();
  }
  return v;
}

static inline uint64_t bench_arg(int argc, char **argv, int i, uint64_t def) {
  return argc > i ? strtoull(argv[i], NULL, 10) : def;
}

static inline uint32_t bench_threads(void) {
  const char *t = getenv("TROUPE_THREADS");
  return t ? (uint32_t)atoi(t) : 2; /* the peers kit pins 2 schedulers */
}

/* Removes a benchmark's data dir and everything in it. */
static inline int bench_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}
static inline void bench_rmdir(const char *dir) {
  nftw(dir, bench_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
