/* events.h - `troupectl events`: stored events of a topic, and with
 * --follow the new ones as they come (events.c). */
#ifndef TC_EVENTS_H
#define TC_EVENTS_H

#include "client.h"

typedef struct tc_events_opts {
  const char *topic, *type, *pi, *bk; /* NULL: not given; type may be "a,b" */
  long limit;                          /* events printed first (newest); <= 0: 20 */
  int follow, json;
  uint64_t after;                      /* > 0: everything after this id instead */
} tc_events_opts;

/* Prints events to stdout until done (or, with follow, until interrupted
 * or the node stops answering). Returns a TC_EXIT_* code; err[0..n) (the
 * caller's) says why on failure. */
int tc_events(tc_client *c, const tc_events_opts *o, char *err, size_t n);

#endif
