/* The shared model cache (actors/workflow/mcache.c): one model per
 * definition id, a racing put gets the first model, idle models are
 * evicted beyond the bound and held ones never are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "actors/workflow/mcache.h"
#include "troupe/error.h"

static tr_wf_model *model(void) {
  tr_wf_model *m = NULL;
  assert_int_equal(tr_wf_model_new(&m), 0);
  return m;
}

static void test_get_put(void **state) {
  (void)state;
  const tr_wf_model *a, *b, *c;
  assert_int_equal(tr_wf_mcache_get("k:1:aa", &a), TR_ENOENT);
  assert_int_equal(tr_wf_mcache_put("k:1:aa", model(), &a), 0);
  assert_int_equal(tr_wf_mcache_get("k:1:aa", &b), 0);
  assert_ptr_equal(a, b);
  /* a second put of the same id (a race) gets the first model; its own is freed */
  assert_int_equal(tr_wf_mcache_put("k:1:aa", model(), &c), 0);
  assert_ptr_equal(a, c);
  tr_wf_mcache_release(a);
  tr_wf_mcache_release(b);
  tr_wf_mcache_release(c);
  tr_wf_mcache_release(NULL);
  assert_int_equal(tr_wf_mcache_put(NULL, model(), &a), TR_EINVAL);
  assert_int_equal(tr_wf_mcache_get(NULL, &a), TR_EINVAL);
}

static void test_evict(void **state) {
  (void)state;
  const tr_wf_model *held, *m;
  assert_int_equal(tr_wf_mcache_put("held:1:00", model(), &held), 0);
  char id[32];
  for (int i = 0; i < 3 * TR_WF_MCACHE_MAX; i++) {
    snprintf(id, sizeof id, "k:%d:ff", i);
    assert_int_equal(tr_wf_mcache_put(id, model(), &m), 0);
    tr_wf_mcache_release(m);
  }
  unsigned n;
  tr_wf_mcache_stats(&n, NULL);
  assert_true(n <= TR_WF_MCACHE_MAX);
  assert_int_equal(tr_wf_mcache_get("held:1:00", &m), 0); /* held: never evicted */
  assert_ptr_equal(m, held);
  snprintf(id, sizeof id, "k:%d:ff", 3 * TR_WF_MCACHE_MAX - 1); /* the newest stayed */
  const tr_wf_model *x;
  assert_int_equal(tr_wf_mcache_get(id, &x), 0);
  assert_int_equal(tr_wf_mcache_get("k:0:ff", &m), TR_ENOENT); /* the oldest went */
  tr_wf_mcache_release(x);
  tr_wf_mcache_release(held);
  tr_wf_mcache_release(held);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_get_put), cmocka_unit_test(test_evict)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
