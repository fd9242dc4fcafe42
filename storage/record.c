/* record.c - how records look on disk: the value header (format byte +
 * CRC32C) and the key encodings of journals, snapshots and queues. Keys are
 * big-endian so that LMDB's byte order is numeric order. */
#include <stdio.h>
#include <time.h>

#include "storage/internal.h"
#include "troupe/system.h"

void st_seal(uint8_t *hdr, const void *key, size_t klen, const void *payload, size_t plen) {
  uint32_t crc = tr_crc32c(tr_crc32c(0, key, klen), payload, plen);
  hdr[0] = VH_FORMAT;
  hdr[1] = (uint8_t)crc;
  hdr[2] = (uint8_t)(crc >> 8);
  hdr[3] = (uint8_t)(crc >> 16);
  hdr[4] = (uint8_t)(crc >> 24);
}

/* A damaged database may hold thousands of bad records: log the first ones
 * and then every 1000th, but count them all. */
static void report(tr_store *s, const char *what, const void *key, size_t klen, const char *why) {
  uint64_t n = atomic_fetch_add(&s->st_corrupt, 1);
  if (n >= 16 && n % 1000 != 0) return;
  char hex[2 * 24 + 1];
  size_t m = klen < 24 ? klen : 24;
  for (size_t i = 0; i < m; i++) snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)key)[i]);
  hex[2 * m] = 0;
  tr_log(TR_LOG_ERROR, ST_LOG, "corrupt %s record (key %s%s): %s; skipped (%llu so far)", what,
         hex, klen > m ? "..." : "", why, (unsigned long long)n + 1);
}

int st_open(tr_store *s, const char *what, const void *key, size_t klen, const MDB_val *val,
            const uint8_t **payload, size_t *plen) {
  const uint8_t *p = val->mv_data;
  if (val->mv_size < VH_SIZE) {
    report(s, what, key, klen, "shorter than its header");
    return TR_ECORRUPT;
  }
  if (p[0] != VH_FORMAT) {
    report(s, what, key, klen, "unknown value format");
    return TR_ECORRUPT;
  }
  uint32_t want = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 |
                  (uint32_t)p[4] << 24;
  uint32_t crc = tr_crc32c(tr_crc32c(0, key, klen), p + VH_SIZE, val->mv_size - VH_SIZE);
  if (crc != want) {
    report(s, what, key, klen, "checksum mismatch");
    return TR_ECORRUPT;
  }
  *payload = p + VH_SIZE;
  *plen = val->mv_size - VH_SIZE;
  return 0;
}

size_t st_jprefix(uint8_t *out, const void *pid, size_t len) {
  return st_jprefix_h(out, pid, len, tr_store_hash64(pid, len));
}

size_t st_jprefix_h(uint8_t *out, const void *pid, size_t len, uint64_t hash) {
  st_be32(out, (uint32_t)(hash >> 52)); /* == tr_store_partition(pid, len) */
  out[4] = (uint8_t)len;
  memcpy(out + 5, pid, len);
  return 5 + len;
}

size_t st_qprefix(uint8_t *out, const void *name, size_t len) {
  out[0] = (uint8_t)len;
  memcpy(out + 1, name, len);
  return 1 + len;
}

uint64_t st_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t st_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
