/* status.c - what a node reports about itself (status.h). */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "link.h" /* tr_now_ms */

/* Keeps the TR_STATUS_TOP deepest mailboxes, deepest first. */
static int visit(const tr_actor_info *a, void *arg) {
  tr_node_status *s = arg;
  if (!a->mailbox_depth) return 0;
  uint32_t n = s->ntop, i = n;
  if (n == TR_STATUS_TOP && a->mailbox_depth <= s->top[n - 1].depth) return 0;
  if (n < TR_STATUS_TOP) s->ntop++;
  else i = n - 1;
  while (i > 0 && s->top[i - 1].depth < a->mailbox_depth) {
    if (i < TR_STATUS_TOP) s->top[i] = s->top[i - 1];
    i--;
  }
  s->top[i].id = a->ref.id;
  s->top[i].depth = a->mailbox_depth;
  const char *name = a->name[0] ? a->name : (a->behavior ? a->behavior : "");
  size_t len = strnlen(name, sizeof s->top[i].name - 1);
  memcpy(s->top[i].name, name, len);
  s->top[i].name[len] = 0;
  return 0;
}

/* Milliseconds since this process started (/proc/self/stat field 22
 * against /proc/uptime); 0 if /proc cannot tell. */
static uint64_t process_uptime_ms(void) {
  char buf[1024];
  size_t n = 0;
  FILE *f = fopen("/proc/self/stat", "r");
  if (f) {
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
  }
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  for (int field = 2; p && *p && field < 22; p++) /* ')' ends field 2 */
    if (*p == ' ') field++;
  unsigned long long start = p && *p ? strtoull(p, NULL, 10) : 0;
  double up = 0;
  if ((f = fopen("/proc/uptime", "r"))) {
    if (fscanf(f, "%lf", &up) != 1) up = 0;
    fclose(f);
  }
  long hz = sysconf(_SC_CLK_TCK);
  double ms = up * 1000.0 - (double)start * 1000.0 / (double)(hz > 0 ? hz : 100);
  return start && up > 0 && ms >= 0 ? (uint64_t)ms : 0;
}

void tr_status_sample(tr_system *sys, tr_cpu_sampler *cpu, int with_top, tr_node_status *s) {
  memset(s, 0, sizeof *s);
  uint64_t now = tr_now_ms();
  struct rusage ru;
  if ((!cpu->ms || now >= cpu->ms + 200) && getrusage(RUSAGE_SELF, &ru) == 0) {
    uint64_t us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    if (cpu->ms && now > cpu->ms) cpu->cpu = (double)(us - cpu->cpu_us) / 1000.0 / (double)(now - cpu->ms);
    cpu->ms = now;
    cpu->cpu_us = us;
  }
  s->cpu = cpu->cpu;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    unsigned long size, res;
    if (fscanf(f, "%lu %lu", &size, &res) == 2) s->rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
    fclose(f);
  }
  s->actors = tr_system_actor_count(sys);
  s->uptime_ms = process_uptime_ms();
  s->dead_letters = tr_system_dead_letter_count(sys);
  snprintf(s->version, sizeof s->version, "%s", tr_version());
  if (with_top) tr_system_actors(sys, visit, s);
}
