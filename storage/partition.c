/* partition.c - the stable hash of persistence ids and their partition.
 *
 * Part of the on-disk format (keys start with the partition), so it must
 * never change within a format version: FNV-1a 64 over the bytes, then a
 * 64-bit avalanche finaliser (xor-shift-multiply, as in MurmurHash3's fmix64)
 * so that ids differing only in their last byte spread over all
 * partitions; the partition is the top 12 bits. tests/unit/test_storage.c
 * pins the values. */
#include "storage/internal.h"

uint64_t tr_store_hash64(const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull; /* FNV-1a 64 prime */
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

uint32_t tr_store_partition(const void *pid, size_t len) {
  return (uint32_t)(tr_store_hash64(pid, len) >> 52); /* 12 bits: TR_STORE_PARTITIONS */
}
