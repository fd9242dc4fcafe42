/* format.c - the format version record of a data dir and the upgrades.
 *
 * meta["format"] holds the format as a raw u32 BE (the one value without a
 * header: every version, past and future, must be able to read it). A new
 * store gets the current format; an older one is upgraded step by step in
 * the open's write transaction (a crash mid-upgrade leaves it as it was); a
 * newer one is refused with TR_EVERSION, untouched. */
#include <errno.h>
#include <sys/random.h>

#include "storage/internal.h"
#include "troupe/system.h"

static int fresh_id(uint8_t id[16]) {
  size_t got = 0;
  while (got < 16) {
    ssize_t n = getrandom(id + got, 16 - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return TR_EIO;
    }
    got += (size_t)n;
  }
  return 0;
}

static int put_meta(MDB_txn *txn, MDB_dbi meta, const char *name, const void *payload,
                    size_t len) {
  uint8_t buf[VH_SIZE + 64];
  if (len > 64) return TR_EINVAL;
  st_seal(buf, name, strlen(name), payload, len);
  memcpy(buf + VH_SIZE, payload, len);
  MDB_val k = {strlen(name), (void *)name}, v = {VH_SIZE + len, buf};
  return mdb_put(txn, meta, &k, &v, 0);
}

static int put_format(MDB_txn *txn, MDB_dbi meta, uint32_t fmt) {
  uint8_t b[4]; /* raw: see the top of this file */
  st_be32(b, fmt);
  MDB_val k = {6, "format"}, v = {4, b};
  return mdb_put(txn, meta, &k, &v, 0);
}

/* Format 0 (pre-release) had no store id. */
static int upgrade_0_to_1(tr_store *s, MDB_txn *txn, MDB_dbi meta) {
  uint8_t id[16];
  int rc = fresh_id(id);
  if (rc) return rc;
  return put_meta(txn, meta, "store_id", id, 16) ? TR_EIO : 0;
}

typedef int (*upgrade_fn)(tr_store *s, MDB_txn *txn, MDB_dbi meta);
static const upgrade_fn upgrades[ST_FORMAT] = {upgrade_0_to_1}; /* [v] takes v to v+1 */

/* Reads or creates the format record; upgrades an older format. Runs in
 * txn (a write transaction unless read-only). */
int st_check_format(tr_store *s, MDB_txn *txn) {
  MDB_dbi meta;
  int rc = mdb_dbi_open(txn, "meta", 0, &meta);
  if (rc == MDB_NOTFOUND) {
    MDB_dbi main_db;
    MDB_stat st;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_db)) || (rc = mdb_stat(txn, main_db, &st)))
      return st_mdb_err(rc);
    if (st.ms_entries > 0) {
      tr_log(TR_LOG_ERROR, ST_LOG,
             "%s holds an LMDB database without a troupe format record: not a troupe store; "
             "refusing to open it",
             s->dir);
      return TR_EVERSION;
    }
    if (s->read_only) return TR_ENOENT;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta))) return st_mdb_err(rc);
    uint8_t id[16];
    if ((rc = fresh_id(id))) return rc;
    if ((rc = put_format(txn, meta, ST_FORMAT)) || (rc = put_meta(txn, meta, "store_id", id, 16)))
      return st_mdb_err(rc);
    s->format = s->upgraded_from = ST_FORMAT;
    tr_log(TR_LOG_INFO, ST_LOG, "created store %s (format %d)", s->dir, ST_FORMAT);
    return 0;
  }
  if (rc) return st_mdb_err(rc);
  MDB_val k = {6, "format"}, v;
  rc = mdb_get(txn, meta, &k, &v);
  if (rc || v.mv_size != 4) {
    tr_log(TR_LOG_ERROR, ST_LOG, "%s: the format record is %s; refusing to open", s->dir,
           rc ? "missing" : "malformed");
    return rc && rc != MDB_NOTFOUND ? st_mdb_err(rc) : TR_ECORRUPT;
  }
  uint32_t fmt = st_rd32(v.mv_data);
  s->upgraded_from = fmt;
  if (fmt > ST_FORMAT) {
    tr_log(TR_LOG_ERROR, ST_LOG,
           "%s has storage format %u but this build reads formats up to %d: it was written "
           "by a newer troupe; refusing to open it (run the newer version)",
           s->dir, fmt, ST_FORMAT);
    return TR_EVERSION;
  }
  if (fmt < ST_FORMAT) {
    if (s->read_only) {
      tr_log(TR_LOG_ERROR, ST_LOG,
             "%s has storage format %u and needs an upgrade to %d: open it read-write once",
             s->dir, fmt, ST_FORMAT);
      return TR_EVERSION;
    }
    /* every step runs in this one transaction: a crash mid-upgrade leaves
     * the old format intact */
    for (uint32_t f = fmt; f < ST_FORMAT; f++)
      if ((rc = upgrades[f](s, txn, meta))) return rc;
    if ((rc = put_format(txn, meta, ST_FORMAT))) return st_mdb_err(rc);
    tr_log(TR_LOG_INFO, ST_LOG, "upgraded %s from storage format %u to %d", s->dir, fmt,
           ST_FORMAT);
  }
  s->format = ST_FORMAT;
  return 0;
}

int st_read_id(tr_store *s, MDB_txn *txn) {
  MDB_val k = {8, "store_id"}, v;
  int rc = mdb_get(txn, s->dbi[TBL_META], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? TR_ECORRUPT : st_mdb_err(rc);
  const uint8_t *p;
  size_t n;
  if ((rc = st_open(s, "store id", k.mv_data, k.mv_size, &v, &p, &n))) return rc;
  if (n != 16) return TR_ECORRUPT;
  memcpy(s->store_id, p, 16);
  return 0;
}
