/* status.c - what a node reports about itself in every heartbeat. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

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

void tr_status_collect(tr_cluster *c, tr_node_status *s, uint64_t now) {
  static __thread uint64_t last_ms, last_cpu_us;
  memset(s, 0, sizeof *s);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    if (last_ms && now > last_ms) s->cpu = (double)(cpu - last_cpu_us) / 1000.0 / (double)(now - last_ms);
    last_ms = now;
    last_cpu_us = cpu;
  }
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    unsigned long size, res;
    if (fscanf(f, "%lu %lu", &size, &res) == 2) s->rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
    fclose(f);
  }
  s->actors = tr_system_actor_count(c->sys);
  s->uptime_ms = now - c->start_ms;
  s->dead_letters = tr_system_dead_letter_count(c->sys);
  snprintf(s->version, sizeof s->version, "%s", tr_version());
  tr_system_actors(c->sys, visit, s);
}
