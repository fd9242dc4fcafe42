/* timer.h - ISO 8601 timer values of BPMN timer events.
 *
 * Parsed and validated at deployment so that a typo in a timer is a
 * deployment error, not an incident weeks later. A value of the form ${...}
 * is an expression evaluated when the timer starts; it is kept as text here.
 */
#ifndef TR_WF_TIMER_H
#define TR_WF_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TR_WF_TIMER_NONE, TR_WF_TIMER_DURATION, TR_WF_TIMER_DATE, TR_WF_TIMER_CYCLE } tr_wf_timer_kind;

/* PnYnMnWnDTnHnMnS: calendar parts kept apart because a month has no fixed
 * length; the time part in milliseconds. */
typedef struct tr_wf_duration {
  int32_t years, months, days; /* weeks are folded into days */
  int64_t ms;                  /* hours, minutes, seconds (fractions allowed) */
} tr_wf_duration;

typedef struct tr_wf_timer {
  tr_wf_timer_kind kind;
  const char *text;        /* the source text (owned by the model) */
  bool is_expr;            /* text is ${...}: evaluated at run time */
  tr_wf_duration duration; /* DURATION; CYCLE: the period */
  int64_t date_ms;         /* DATE: epoch ms (UTC; no zone means UTC);
                              CYCLE: the start, 0 when none */
  int64_t end_ms;          /* CYCLE: the end, 0 when none */
  int32_t repeat;          /* CYCLE: repetitions, -1 for unbounded (R/) */
} tr_wf_timer;

/* Parses text[0..len) (borrowed) as kind into *t (t->text is left to the
 * caller). Returns 0, or TR_EPROTO with a reason in err (errlen bytes,
 * NUL-terminated) when it is not a valid value of that kind. */
int tr_wf_timer_parse(tr_wf_timer_kind kind, const char *text, size_t len, tr_wf_timer *t,
                      char *err, size_t errlen);

/* Individual parts, for the YAML format and the engine: 0 or TR_EPROTO. */
int tr_wf_duration_parse(const char *s, size_t len, tr_wf_duration *d);
int tr_wf_date_parse(const char *s, size_t len, int64_t *epoch_ms);

/* The instant a duration after from_ms (epoch ms, UTC calendar). Returns 0
 * or TR_ERANGE. */
int tr_wf_duration_add(const tr_wf_duration *d, int64_t from_ms, int64_t *out_ms);

#endif
