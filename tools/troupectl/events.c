/* events.c - `troupectl events` (events.h): asks the console's `events`
 * command, which reads the bus (cluster/console_events.c). --follow asks
 * again with `after` = the last id printed, every 300 ms: ids only grow,
 * so nothing is missed or printed twice. */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PAGE = 200, POLL_MS = 300 };

/* {topic, max, desc?, after?, filter{types, pi, bk}} */
static void args(tr_pack *pk, const tc_events_opts *o, uint64_t after, long max, int desc,
                 int filtered) {
  uint32_t nf = filtered ? !!o->type + !!o->pi + !!o->bk : 0;
  tr_pack_map(pk, 2 + !!desc + !!after + !!nf);
  tr_pack_kv_str(pk, "topic", o->topic ? o->topic : "engine");
  tr_pack_kv_int(pk, "max", max);
  if (desc) tr_pack_str(pk, "desc"), tr_pack_bool(pk, 1);
  if (after) tr_pack_str(pk, "after"), tr_pack_uint(pk, after);
  if (!nf) return;
  tr_pack_str(pk, "filter");
  tr_pack_map(pk, nf);
  if (o->type) {
    uint32_t k = 1;
    for (const char *p = o->type; *p; p++) k += *p == ',';
    tr_pack_str(pk, "types");
    tr_pack_array(pk, k);
    for (const char *p = o->type;;) {
      size_t l = strcspn(p, ",");
      tr_pack_strn(pk, p, l);
      if (!p[l]) break;
      p += l + 1;
    }
  }
  if (o->pi) tr_pack_kv_str(pk, "pi", o->pi);
  if (o->bk) tr_pack_kv_str(pk, "bk", o->bk);
}

/* One page: the events as a JSON array (caller's) and more. */
static int page(tc_client *c, const tr_pack *pk, json_t **evs, int *more, char *err, size_t n) {
  tc_result res;
  int ex = tc_call(c, "events", pk->data, pk->len, &res);
  *evs = NULL;
  if (ex == TC_EXIT_OK) {
    json_t *d = res.r.data ? tc_json(res.r.data, res.r.data_len) : NULL;
    if (d && json_is_array(json_object_get(d, "events"))) {
      *evs = json_incref(json_object_get(d, "events"));
      *more = json_is_true(json_object_get(d, "more"));
    } else {
      snprintf(err, n, "the node's answer has no events");
      ex = TC_EXIT_FAILED;
    }
    json_decref(d);
  } else {
    snprintf(err, n, "%s", res.err);
  }
  tc_result_free(&res);
  return ex;
}

static const char *str(const json_t *e, const char *k) {
  const char *s = json_string_value(json_object_get(e, k));
  return s ? s : "";
}

static void print_event(const json_t *e, int json) {
  if (json) { /* one event per line */
    json_dumpf(e, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    return;
  }
  uint64_t ms = (uint64_t)json_integer_value(json_object_get(e, "time"));
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char when[40];
  gmtime_r(&t, &tm);
  size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + k, sizeof when - k, ".%03uZ", (unsigned)(ms % 1000));
  printf("%-8lld %-24s %-24s %-20s %-16s %s\n",
         (long long)json_integer_value(json_object_get(e, "id")), when, str(e, "type"),
         str(e, "pi"), str(e, "bk"), str(e, "source"));
}

static uint64_t print_all(const json_t *evs, int json, int reverse, uint64_t last) {
  size_t n = json_array_size(evs);
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(evs, reverse ? n - 1 - i : i);
    uint64_t id = (uint64_t)json_integer_value(json_object_get(e, "id"));
    print_event(e, json);
    if (id > last) last = id;
  }
  fflush(stdout);
  return last;
}

int tc_events(tc_client *c, const tc_events_opts *o, char *err, size_t n) {
  long limit = o->limit > 0 ? o->limit : 20;
  if (limit > PAGE) limit = PAGE;
  if (!o->json)
    printf("%-8s %-24s %-24s %-20s %-16s %s\n", "ID", "TIME", "TYPE", "PI", "BK", "SOURCE");
  uint64_t last = o->after;
  json_t *evs;
  int more = 0, ex;
  tr_pack pk = TR_PACK_INIT;
  if (!o->after) { /* the newest few, oldest first */
    args(&pk, o, 0, limit, 1, 1);
    if ((ex = page(c, &pk, &evs, &more, err, n)) != TC_EXIT_OK) goto out;
    last = print_all(evs, o->json, 1, 0);
    json_decref(evs);
    if (!last && o->follow) { /* none matched: follow from the newest of all */
      tr_pack_reset(&pk);
      args(&pk, o, 0, 1, 1, 0);
      if ((ex = page(c, &pk, &evs, &more, err, n)) != TC_EXIT_OK) goto out;
      if (json_array_size(evs))
        last = (uint64_t)json_integer_value(json_object_get(json_array_get(evs, 0), "id"));
      json_decref(evs);
    }
    if (!o->follow) goto out;
  }
  for (;;) { /* everything after `last`, page by page; then wait and ask again */
    tr_pack_reset(&pk);
    args(&pk, o, last, PAGE, 0, 1);
    if ((ex = page(c, &pk, &evs, &more, err, n)) != TC_EXIT_OK) break;
    last = print_all(evs, o->json, 0, last);
    json_decref(evs);
    if (more) continue;
    if (!o->follow) break;
    usleep(POLL_MS * 1000);
  }
out:
  tr_pack_free(&pk);
  return ex;
}
