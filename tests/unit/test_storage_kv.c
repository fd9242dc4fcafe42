/* test_storage_kv.c - the KV table with per-key TTL (lazy expiry on read,
 * sweeps that remove expired keys through the time-ordered index) and
 * durable FIFO queues (append, read from an offset, ack) across reopens. */
#include "../storage/st_harness.h"

static int kv_get(tr_store *s, const char *key, char *out, size_t cap, uint64_t *exp) {
  tr_store_view *v;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  const void *val;
  size_t len;
  int rc = tr_kv_get(s, v, key, strlen(key), &val, &len, exp);
  if (rc == 0) {
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(out, val, n);
    out[n] = 0;
  }
  tr_store_view_end(v);
  return rc;
}

static void test_kv_basic(void **st) {
  char tmp[256], buf[64];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  uint64_t exp = 99;
  assert_int_equal(kv_get(s, "a", buf, sizeof buf, NULL), TR_ENOENT);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("a", 1, "one", 3, 0)), 0);
  assert_int_equal(kv_get(s, "a", buf, sizeof buf, &exp), 0);
  assert_string_equal(buf, "one");
  assert_int_equal(exp, 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("a", 1, "uno", 3, 0)), 0);
  assert_int_equal(kv_get(s, "a", buf, sizeof buf, NULL), 0);
  assert_string_equal(buf, "uno");
  assert_int_equal(st_t_write1(s, tr_op_kv_put("empty", 5, NULL, 0, 0)), 0);
  assert_int_equal(kv_get(s, "empty", buf, sizeof buf, NULL), 0);
  assert_string_equal(buf, "");
  assert_int_equal(st_t_write1(s, tr_op_kv_del("a", 1)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_del("a", 1)), 0);
  assert_int_equal(kv_get(s, "a", buf, sizeof buf, NULL), TR_ENOENT);
  tr_store_close(s);
  s = st_t_open(tmp, NULL);
  assert_int_equal(kv_get(s, "empty", buf, sizeof buf, NULL), 0);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static uint64_t sweep(tr_store *s, uint32_t max) {
  tr_store_op op = tr_op_kv_sweep(max);
  assert_int_equal(tr_store_write(s, &op, 1), 0);
  return op.result;
}

static void test_kv_ttl(void **st) {
  char tmp[256], buf[64];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  uint64_t exp;
  assert_int_equal(st_t_write1(s, tr_op_kv_put("t", 1, "short", 5, 1)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("keep", 4, "forever", 7, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("long", 4, "hour", 4, 3600000)), 0);
  /* rewritten with a longer TTL: its first index entry goes stale */
  assert_int_equal(st_t_write1(s, tr_op_kv_put("r", 1, "v1", 2, 1)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("r", 1, "v2", 2, 3600000)), 0);
  assert_int_equal(kv_get(s, "long", buf, sizeof buf, &exp), 0);
  assert_true(exp > 0);
  /* expired is not found on read, before any sweep */
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  int rc;
  while ((rc = kv_get(s, "t", buf, sizeof buf, NULL)) == 0 && st_t_now_ms() < end) usleep(1000);
  assert_int_equal(rc, TR_ENOENT);
  assert_int_equal(sweep(s, 0), 1); /* "t"; "r" keeps its newer value */
  assert_int_equal(sweep(s, 0), 0);
  assert_int_equal(kv_get(s, "r", buf, sizeof buf, NULL), 0);
  assert_string_equal(buf, "v2");
  assert_int_equal(kv_get(s, "keep", buf, sizeof buf, NULL), 0);
  assert_int_equal(kv_get(s, "long", buf, sizeof buf, NULL), 0);
  /* a bounded sweep */
  char key[16];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof key, "e%02d", i);
    static char keys[50][16];
    memcpy(keys[i], key, sizeof key);
    assert_int_equal(st_t_write1(s, tr_op_kv_put(keys[i], strlen(keys[i]), "x", 1, 1)), 0);
  }
  end = st_t_now_ms() + ST_WAIT_MS;
  while (kv_get(s, "e49", buf, sizeof buf, NULL) == 0 && st_t_now_ms() < end) usleep(1000);
  assert_int_equal(sweep(s, 20), 20);
  assert_int_equal(sweep(s, 20), 20);
  assert_int_equal(sweep(s, 20), 10);
  assert_int_equal(sweep(s, 20), 0);
  /* a key that had a TTL and is rewritten without one never expires */
  assert_int_equal(st_t_write1(s, tr_op_kv_put("n", 1, "a", 1, 1)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("n", 1, "b", 1, 0)), 0);
  usleep(5000);
  sweep(s, 0);
  assert_int_equal(kv_get(s, "n", buf, sizeof buf, &exp), 0);
  assert_int_equal(exp, 0);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static uint64_t qappend(tr_store *s, const char *q, const char *item) {
  tr_store_op op = tr_op_queue_append(q, strlen(q), item, strlen(item));
  assert_int_equal(tr_store_write(s, &op, 1), 0);
  return op.result;
}

static void test_queue(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  uint64_t first, next;
  assert_int_equal(tr_queue_info(s, NULL, "jobs", 4, &first, &next), 0);
  assert_int_equal(first, 1);
  assert_int_equal(next, 1);
  char item[16];
  for (int i = 1; i <= 5; i++) {
    snprintf(item, sizeof item, "job%d", i);
    assert_int_equal(qappend(s, "jobs", item), (uint64_t)i);
  }
  assert_int_equal(qappend(s, "jobsx", "other"), 1); /* a name that extends another */
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_queue_read(s, NULL, "jobs", 4, 1, 3, st_t_collect, it), 0);
  assert_int_equal(it->n, 3);
  assert_int_equal(it->num[2], 3);
  assert_string_equal(it->data[0], "job1");
  it->n = 0;
  assert_int_equal(tr_queue_read(s, NULL, "jobs", 4, 4, 100, st_t_collect, it), 0);
  assert_int_equal(it->n, 2);
  assert_string_equal(it->data[1], "job5");
  assert_int_equal(st_t_write1(s, tr_op_queue_ack("jobs", 4, 2)), 0);
  assert_int_equal(st_t_write1(s, tr_op_queue_ack("jobs", 4, 1)), 0); /* already acked */
  assert_int_equal(st_t_write1(s, tr_op_queue_ack("jobs", 4, 9)), TR_ERANGE);
  assert_int_equal(tr_queue_info(s, NULL, "jobs", 4, &first, &next), 0);
  assert_int_equal(first, 3);
  assert_int_equal(next, 6);
  tr_store_close(s);
  s = st_t_open(tmp, NULL); /* survives a restart */
  assert_int_equal(tr_queue_info(s, NULL, "jobs", 4, &first, &next), 0);
  assert_int_equal(first, 3);
  assert_int_equal(next, 6);
  it->n = 0;
  assert_int_equal(tr_queue_read(s, NULL, "jobs", 4, 1, 100, st_t_collect, it), 0);
  assert_int_equal(it->n, 3);
  assert_int_equal(it->num[0], 3);
  assert_string_equal(it->data[0], "job3");
  /* acking everything: offsets are never reused */
  assert_int_equal(st_t_write1(s, tr_op_queue_ack("jobs", 4, 5)), 0);
  assert_int_equal(tr_queue_info(s, NULL, "jobs", 4, &first, &next), 0);
  assert_int_equal(first, 6);
  assert_int_equal(next, 6);
  assert_int_equal(qappend(s, "jobs", "job6"), 6);
  it->n = 0;
  assert_int_equal(tr_queue_read(s, NULL, "jobs", 4, 1, 100, st_t_collect, it), 0);
  assert_int_equal(it->n, 1);
  assert_int_equal(it->num[0], 6);
  it->n = 0;
  assert_int_equal(tr_queue_read(s, NULL, "jobsx", 5, 1, 100, st_t_collect, it), 0);
  assert_int_equal(it->n, 1);
  assert_string_equal(it->data[0], "other");
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

int main(void) {
  tr_log_set_level(TR_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kv_basic),
      cmocka_unit_test(test_kv_ttl),
      cmocka_unit_test(test_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
