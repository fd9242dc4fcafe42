/* test_storage.c - the environment: CRC32C, the partition hash, creating
 * and reopening a store, the dir lock, user tables, the format version
 * record (a newer format is refused, an older one upgraded), read-only
 * opens and argument checks. */
#include "../storage/st_harness.h"
#include "storage/internal.h"

static void test_crc32c(void **st) {
  uint8_t b[32];
  assert_int_equal(tr_crc32c(0, "123456789", 9), 0xE3069283u);
  memset(b, 0, 32); /* RFC 3720 B.4 */
  assert_int_equal(tr_crc32c(0, b, 32), 0x8A9136AAu);
  memset(b, 0xff, 32);
  assert_int_equal(tr_crc32c(0, b, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
  assert_int_equal(tr_crc32c(0, b, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
  assert_int_equal(tr_crc32c(0, b, 32), 0x113FDB5Cu);
  /* hardware and table paths agree at every length and alignment; chaining
   * equals one pass */
  uint8_t buf[512];
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < sizeof buf; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  for (size_t off = 0; off < 8; off++)
    for (size_t len = 0; len + off <= 300; len += 7) {
      uint32_t a = tr_crc32c(0, buf + off, len);
      assert_int_equal(a, tr_crc32c_sw(0, buf + off, len));
      size_t h = len / 3;
      assert_int_equal(a, tr_crc32c(tr_crc32c(0, buf + off, h), buf + off + h, len - h));
    }
}

static void test_partition(void **st) {
  /* part of the on-disk format: these values must never change */
  assert_int_equal(tr_store_hash64("", 0), 0xefd01f60ba992926ull);
  assert_int_equal(tr_store_partition("cart/1", 6), 1157);
  assert_int_equal(tr_store_partition("chat/telegram:42", 16), 53);
  /* and they spread: 20,000 similar ids over 4096 partitions */
  static uint16_t count[TR_STORE_PARTITIONS];
  memset(count, 0, sizeof count);
  char id[32];
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(id, sizeof id, "actor/%d", i);
    uint32_t p = tr_store_partition(id, (size_t)n);
    assert_true(p < TR_STORE_PARTITIONS);
    count[p]++;
  }
  int used = 0, max = 0;
  for (int p = 0; p < TR_STORE_PARTITIONS; p++) {
    used += count[p] > 0;
    if (count[p] > max) max = count[p];
  }
  assert_true(used > 3900); /* expected ~4030 for a uniform hash */
  assert_true(max < 25);    /* expected mean 4.9 */
}

static void test_open_reopen(void **st) {
  char tmp[256], dir[300];
  st_t_tmpdir(tmp, sizeof tmp);
  snprintf(dir, sizeof dir, "%s/db", tmp); /* created by the open */
  tr_store *s = st_t_open(dir, NULL);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.format, 1);
  assert_int_equal(ss.upgraded_from, 1);
  assert_int_equal(ss.map_size, (size_t)1 << 30); /* the default: address space, not disk */
  uint8_t id[16], id2[16], zero[16] = {0};
  assert_int_equal(tr_store_id(s, id), 0);
  assert_memory_not_equal(id, zero, 16);
  assert_int_equal(st_t_append(s, "p", 1, "one"), 0);
  /* a second read-write open of the same dir is refused while it is open */
  tr_store *s2 = NULL;
  assert_int_equal(tr_store_open(dir, NULL, &s2), TR_EPERM);
  assert_null(s2);
  /* a read-only open shares it */
  tr_store_opts ro = {.read_only = 1};
  s2 = st_t_open(dir, &ro);
  uint64_t hi = 0;
  assert_int_equal(tr_journal_highest(s2, NULL, "p", 1, &hi), 0);
  assert_int_equal(hi, 1);
  tr_store_req r = {.op = tr_op_kv_del("k", 1)};
  assert_int_equal(tr_store_submit(s2, &r), TR_EPERM);
  tr_store_close(s2);
  tr_store_close(s);
  s = st_t_open(dir, NULL);
  assert_int_equal(tr_store_id(s, id2), 0);
  assert_memory_equal(id, id2, 16);
  assert_int_equal(tr_journal_highest(s, NULL, "p", 1, &hi), 0);
  assert_int_equal(hi, 1);
  tr_store_close(s);
  /* read-only open of a dir without a store */
  snprintf(dir, sizeof dir, "%s/none", tmp);
  assert_int_equal(tr_store_open(dir, &ro, &s2), TR_ENOENT);
  st_t_rmdir(tmp);
}

typedef struct {
  int n;
  char keys[8][16];
} scan_acc;

static int scan_cb(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  scan_acc *a = arg;
  if (a->n < 8) {
    memcpy(a->keys[a->n], key, klen < 15 ? klen : 15);
    a->keys[a->n][klen < 15 ? klen : 15] = 0;
  }
  a->n++;
  return 0;
}

static void test_tables(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  uint32_t users, apps, again;
  assert_int_equal(tr_store_table(s, "users", &users), 0);
  assert_int_equal(tr_store_table(s, "apps", &apps), 0);
  assert_int_equal(tr_store_table(s, "users", &again), 0);
  assert_int_equal(again, users);
  assert_int_not_equal(users, apps);
  assert_int_equal(tr_store_table(s, "", &again), TR_EINVAL);
  tr_store_op ops[4] = {tr_op_put(users, "u:ann", 5, "Ann", 3), tr_op_put(users, "u:bob", 5, "Bob", 3),
                        tr_op_put(users, "x:zed", 5, "Zed", 3), tr_op_put(apps, "u:ann", 5, "app", 3)};
  assert_int_equal(tr_store_write(s, ops, 4), 0);
  tr_store_view *v;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  const void *val;
  size_t len;
  assert_int_equal(tr_table_get(s, v, users, "u:bob", 5, &val, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(val, "Bob", 3);
  assert_int_equal(tr_table_get(s, v, apps, "u:ann", 5, &val, &len), 0);
  assert_memory_equal(val, "app", 3);
  assert_int_equal(tr_table_get(s, v, apps, "u:bob", 5, &val, &len), TR_ENOENT);
  assert_int_equal(tr_table_get(s, v, 17, "u:bob", 5, &val, &len), TR_EINVAL);
  scan_acc a = {0};
  assert_int_equal(tr_table_scan(s, v, users, "u:", 2, scan_cb, &a), 0);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.keys[0], "u:ann");
  assert_string_equal(a.keys[1], "u:bob");
  /* from a key inside the prefix; a start outside it means the prefix's first */
  memset(&a, 0, sizeof a);
  assert_int_equal(tr_table_scan_from(s, v, users, "u:", 2, "u:b", 3, scan_cb, &a), 0);
  assert_int_equal(a.n, 1);
  assert_string_equal(a.keys[0], "u:bob");
  memset(&a, 0, sizeof a);
  assert_int_equal(tr_table_scan_from(s, v, users, "u:", 2, "a", 1, scan_cb, &a), 0);
  assert_int_equal(a.n, 2);
  memset(&a, 0, sizeof a);
  assert_int_equal(tr_table_scan_from(s, v, users, "u:", 2, "u:c", 3, scan_cb, &a), 0);
  assert_int_equal(a.n, 0);
  tr_store_view_end(v);
  assert_int_equal(st_t_write1(s, tr_op_del(users, "u:ann", 5)), 0);
  assert_int_equal(st_t_write1(s, tr_op_del(users, "u:ann", 5)), 0); /* absent is fine */
  memset(&a, 0, sizeof a);
  assert_int_equal(tr_table_scan(s, NULL, users, NULL, 0, scan_cb, &a), 0);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.keys[0], "u:bob");
  /* an op on a table that was never opened fails at submit */
  tr_store_req r = {.op = tr_op_put(19, "k", 1, "v", 1)};
  assert_int_equal(tr_store_submit(s, &r), TR_EINVAL);
  /* the table count is bounded */
  char name[32];
  int rc = 0, made = 2;
  for (int i = 0; i < 30 && rc == 0; i++) {
    snprintf(name, sizeof name, "t%d", i);
    rc = tr_store_table(s, name, &again);
    if (rc == 0) made++;
  }
  assert_int_equal(rc, TR_EFULL);
  assert_int_equal(made, TR_STORE_MAX_TABLES);
  tr_store_close(s);
  /* reopened: the table and its contents are there */
  s = st_t_open(tmp, NULL);
  assert_int_equal(tr_store_table(s, "users", &users), 0);
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_table_get(s, v, users, "x:zed", 5, &val, &len), 0);
  assert_memory_equal(val, "Zed", 3);
  tr_store_view_end(v);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void raw_set_format(const char *dir, int fmt, int drop_id) {
  MDB_env *env = st_t_raw_open(dir);
  MDB_txn *txn;
  MDB_dbi meta;
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
  uint8_t b[4] = {0, 0, 0, (uint8_t)fmt};
  MDB_val k = {6, "format"}, v = {4, b};
  assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
  if (drop_id) {
    MDB_val ik = {8, "store_id"};
    int rc = mdb_del(txn, meta, &ik, NULL);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
  }
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

static uint32_t raw_get_format(const char *dir, int *has_id) {
  MDB_env *env = st_t_raw_open(dir);
  MDB_txn *txn;
  MDB_dbi meta;
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  MDB_val k = {6, "format"}, v, ik = {8, "store_id"}, iv;
  assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
  assert_int_equal(v.mv_size, 4);
  const uint8_t *p = v.mv_data;
  uint32_t f = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  *has_id = mdb_get(txn, meta, &ik, &iv) == 0;
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return f;
}

static void test_version_newer_refused(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  assert_int_equal(st_t_append(s, "p", 1, "kept"), 0);
  tr_store_close(s);
  raw_set_format(tmp, 2, 0);
  s = NULL;
  assert_int_equal(tr_store_open(tmp, NULL, &s), TR_EVERSION);
  assert_null(s);
  tr_store_opts ro = {.read_only = 1};
  assert_int_equal(tr_store_open(tmp, &ro, &s), TR_EVERSION);
  int has_id;
  assert_int_equal(raw_get_format(tmp, &has_id), 2); /* untouched */
  /* back to format 1 by hand: the data was never harmed */
  raw_set_format(tmp, 1, 0);
  s = st_t_open(tmp, NULL);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "p", 1, &hi), 0);
  assert_int_equal(hi, 1);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void test_version_older_upgraded(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  /* a format-0 store: a meta table with format 0 and no store id */
  raw_set_format(tmp, 0, 1);
  int has_id;
  tr_store_opts ro = {.read_only = 1};
  tr_store *s = NULL;
  assert_int_equal(tr_store_open(tmp, &ro, &s), TR_EVERSION); /* needs a read-write open */
  s = st_t_open(tmp, NULL);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.format, 1);
  assert_int_equal(ss.upgraded_from, 0);
  assert_int_equal(st_t_append(s, "p", 1, "x"), 0);
  tr_store_close(s);
  assert_int_equal(raw_get_format(tmp, &has_id), 1);
  assert_true(has_id);
  s = st_t_open(tmp, NULL);
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.upgraded_from, 1);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void test_not_a_store(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  MDB_env *env = st_t_raw_open(tmp);
  MDB_txn *txn;
  MDB_dbi dbi;
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
  MDB_val k = {3, "foo"}, v = {3, "bar"};
  assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  tr_store *s = NULL;
  assert_int_equal(tr_store_open(tmp, NULL, &s), TR_EVERSION);
  st_t_rmdir(tmp);
}

static void test_bad_args(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  char big[600];
  memset(big, 'x', sizeof big);
  tr_store_req r = {.op = tr_op_journal_append("p", 1, 0, "e", 1)};
  assert_int_equal(tr_store_submit(s, &r), TR_EINVAL); /* seq 0 */
  r.op = tr_op_journal_append(big, 256, 1, "e", 1);
  assert_int_equal(tr_store_submit(s, &r), TR_ETOOBIG);
  r.op = tr_op_journal_append("", 0, 1, "e", 1);
  assert_int_equal(tr_store_submit(s, &r), TR_EINVAL);
  r.op = tr_op_kv_put(big, 401, "v", 1, 0);
  assert_int_equal(tr_store_submit(s, &r), TR_ETOOBIG);
  r.op = tr_op_kv_put("k", 1, "v", (size_t)TR_STORE_MAX_VALUE + 1, 0);
  assert_int_equal(tr_store_submit(s, &r), TR_ETOOBIG);
  r.op = tr_op_kv_put("k", 1, NULL, 3, 0);
  assert_int_equal(tr_store_submit(s, &r), TR_EINVAL);
  r.op.kind = 99;
  assert_int_equal(tr_store_submit(s, &r), TR_EINVAL);
  tr_store_op none[1];
  assert_int_equal(tr_store_write(s, none, 0), TR_EINVAL);
  /* a view held by this thread: a blocking write could deadlock a map
   * growth, so it is refused */
  tr_store_view *v;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(st_t_append(s, "p", 1, "e"), TR_EDEADLK);
  tr_store_view_end(v);
  assert_int_equal(st_t_append(s, "p", 1, "e"), 0);
  tr_store_opts bad = {.durability = 7};
  tr_store *s2 = NULL;
  assert_int_equal(tr_store_open(tmp, &bad, &s2), TR_EINVAL);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

int main(void) {
  tr_log_set_level(TR_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c),
      cmocka_unit_test(test_partition),
      cmocka_unit_test(test_open_reopen),
      cmocka_unit_test(test_tables),
      cmocka_unit_test(test_version_newer_refused),
      cmocka_unit_test(test_version_older_upgraded),
      cmocka_unit_test(test_not_a_store),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
