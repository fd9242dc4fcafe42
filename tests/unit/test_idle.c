/* test_idle.c - an idle node costs no CPU: schedulers spin briefly, then
 * sleep in their loops until a timer or a message wakes them. This is a
 * resource check (CPU seconds used over a wall-clock second), not a timing
 * one: a slow or busy machine can only make the node look idler. */
#include <sys/resource.h>

#include "harness.h"

static int idle_receive(tr_ctx *ctx, void *st, const tr_msg *m) { return 0; }
static const tr_behavior idle_b = {"idle", 0, NULL, idle_receive, NULL};

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void test_idle_cpu(void **st) {
  tr_system *sys = t_system(2);
  for (int i = 0; i < 1000; i++) assert_int_equal(tr_system_spawn(sys, &idle_b, NULL, NULL, NULL), 0);
  /* some traffic first, so the schedulers have something to settle from */
  tr_ref a;
  assert_int_equal(tr_system_spawn(sys, &idle_b, NULL, NULL, &a), 0);
  for (int i = 0; i < 10000; i++) tr_system_send(sys, a, 1, NULL, 0);
  t_sleep_ms(300);
  double c0 = cpu_seconds();
  t_sleep_ms(1000);
  double used = cpu_seconds() - c0;
  print_message("idle node: %.4f CPU seconds in 1 s with 1001 idle actors\n", used);
  assert_true(used < 0.05); /* under 5% of one core */
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_idle_cpu)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
