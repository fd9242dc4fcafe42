/* console_events.c - the console's `events` command: stored events of a
 * topic, read from the event bus (actors/events/events.h) on the CLI's
 * behalf. `troupectl events --follow` repeats it with `after` set to the
 * last id it printed: ids only grow, so polling has no gap and no
 * duplicate, and the console needs no state per follower. */
#include <stdio.h>
#include <string.h>

#include "actors/events/events.h"
#include "console.h"
#include "troupe/virtual.h"

enum { EVENTS_MAX = 200, ASK_MS = 10000, EVENTS_BYTES = 768 << 10 };

/* Copies the entries of args that the bus understands into a TR_EV_QUERY
 * request: {filter?, after?, max?, from_time?, to_time?, desc?}. */
static int build(const tr_unpack *args, tr_pack *pk, char *topic, size_t cap, char *err,
                 size_t ecap) {
  const char *t = "engine";
  size_t tn = 6;
  tr_unpack v;
  if (tr_unpack_find(args, "topic", &v) == 0 && tr_unpack_str(&v, &t, &tn) < 0) {
    snprintf(err, ecap, "topic must be a string");
    return TR_EINVAL;
  }
  if (tn == 0 || tn >= cap) {
    snprintf(err, ecap, "topic must have 1 to %zu bytes", cap - 1);
    return TR_EINVAL;
  }
  memcpy(topic, t, tn);
  topic[tn] = 0;
  static const char *const keys[] = {"filter", "after", "from_time", "to_time", "desc"};
  uint32_t n = 1;
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    n += tr_unpack_find(args, keys[i], &v) == 0;
  uint64_t max = EVENTS_MAX;
  if (tr_unpack_find_uint(args, "max", &max) == 0 && (max == 0 || max > EVENTS_MAX))
    max = EVENTS_MAX; /* a console reply has a size limit */
  tr_pack_map(pk, n + 1);
  tr_pack_str(pk, "max");
  tr_pack_uint(pk, max);
  tr_pack_str(pk, "max_bytes"); /* a page that always fits a console reply */
  tr_pack_uint(pk, EVENTS_BYTES);
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const void *raw;
    size_t rn;
    if (tr_unpack_find(args, keys[i], &v) < 0) continue;
    if (tr_unpack_raw(&v, &raw, &rn) < 0) return TR_EPROTO;
    tr_pack_str(pk, keys[i]);
    tr_pack_raw(pk, raw, rn);
  }
  return pk->err;
}

int tr_console_events(tr_system *sys, const tr_unpack *args, tr_pack *out, char *err,
                      size_t ecap) {
  char topic[TR_EV_TOPIC_MAX + 1], name[TR_VIRTUAL_NAME_MAX + 1];
  tr_pack req = TR_PACK_INIT;
  int rc = build(args, &req, topic, sizeof topic, err, ecap);
  if (rc == 0 && (snprintf(name, sizeof name, "%s/%s", TR_EV_KIND, topic) >= (int)sizeof name ||
                  strchr(topic, '/') || tr_virtual_name_check(name) < 0)) {
    snprintf(err, ecap, "not a topic name");
    rc = TR_EINVAL;
  }
  tr_msg *r = NULL;
  if (rc == 0)
    rc = tr_system_virtual_ask(sys, name, TR_EV_QUERY, req.data, req.len, ASK_MS, &r);
  tr_pack_free(&req);
  if (rc < 0) {
    if (!err[0]) snprintf(err, ecap, "the event bus did not answer: %s", tr_strerror(rc));
    return rc;
  }
  if ((rc = tr_reply_status(r->data, r->len)) < 0) {
    tr_unpack u;
    const char *e;
    size_t n;
    tr_unpack_init(&u, r->data, r->len);
    if (tr_unpack_find_str(&u, "error", &e, &n) == 0)
      snprintf(err, ecap, "%.*s", (int)(n > 180 ? 180 : n), e);
  } else {
    tr_pack_raw(out, r->data, r->len); /* {ok, events, more} as the bus gave it */
    rc = out->err;
  }
  tr_msg_free(r);
  return rc;
}
