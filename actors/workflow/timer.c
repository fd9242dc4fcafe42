/* timer.c - ISO 8601 durations, dates and repeating intervals (timer.h). */
#include "actors/workflow/timer.h"

#include <stdio.h>
#include <string.h>

#include "troupe/error.h"

enum { MAX_PART = 1000000000 }; /* any one number in a value */

/* Reads up to 9 digits at s[*i]; 0 or TR_EPROTO when none or too many. */
static int digits(const char *s, size_t len, size_t *i, int64_t *v, int *count) {
  int64_t x = 0;
  int n = 0;
  while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
    if (++n > 9) return TR_EPROTO;
    x = x * 10 + (s[*i] - '0');
    (*i)++;
  }
  if (n == 0) return TR_EPROTO;
  *v = x;
  if (count) *count = n;
  return 0;
}

int tr_wf_duration_parse(const char *s, size_t len, tr_wf_duration *d) {
  memset(d, 0, sizeof *d);
  size_t i = 0;
  if (len < 2 || s[i++] != 'P') return TR_EPROTO;
  static const char date_units[] = "YMWD", time_units[] = "HMS";
  bool in_time = false, any = false, fraction_seen = false;
  int next_unit = 0; /* index into the current unit list: order is enforced */
  while (i < len) {
    if (s[i] == 'T') {
      if (in_time) return TR_EPROTO;
      in_time = true;
      next_unit = 0;
      i++;
      if (i == len) return TR_EPROTO; /* "PT" without a part */
      continue;
    }
    if (fraction_seen) return TR_EPROTO; /* only the last part may have one */
    int64_t v, frac = 0;
    int fdig = 0;
    if (digits(s, len, &i, &v, NULL) < 0) return TR_EPROTO;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
      i++;
      if (digits(s, len, &i, &frac, &fdig) < 0) return TR_EPROTO;
      fraction_seen = true;
    }
    if (i == len) return TR_EPROTO;
    const char *units = in_time ? time_units : date_units;
    const char *u = strchr(units + next_unit, s[i]);
    if (!u || s[i] == 0) return TR_EPROTO;
    next_unit = (int)(u - units) + 1;
    i++;
    if (fraction_seen && !(in_time && *u == 'S')) return TR_EPROTO;
    any = true;
    if (!in_time) {
      switch (*u) {
      case 'Y': d->years = (int32_t)v; break;
      case 'M': d->months = (int32_t)v; break;
      case 'W':
        if (v > MAX_PART / 7) return TR_EPROTO;
        d->days += (int32_t)(v * 7);
        break;
      default:
        if (d->days + v > MAX_PART) return TR_EPROTO;
        d->days += (int32_t)v;
      }
    } else {
      int64_t mult = *u == 'H' ? 3600000 : *u == 'M' ? 60000 : 1000;
      d->ms += v * mult;
      if (fdig) {
        while (fdig > 3) {
          frac /= 10;
          fdig--;
        }
        while (fdig < 3) {
          frac *= 10;
          fdig++;
        }
        d->ms += frac;
      }
    }
  }
  return any ? 0 : TR_EPROTO;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int month_days(int64_t y, int m) {
  static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : md[m - 1];
}

/* Exactly n digits at s[*i] as a number. */
static int fixed(const char *s, size_t len, size_t *i, int n, int *v) {
  int x = 0;
  for (int k = 0; k < n; k++, (*i)++) {
    if (*i >= len || s[*i] < '0' || s[*i] > '9') return TR_EPROTO;
    x = x * 10 + (s[*i] - '0');
  }
  *v = x;
  return 0;
}

int tr_wf_date_parse(const char *s, size_t len, int64_t *epoch_ms) {
  size_t i = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
  if (fixed(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || fixed(s, len, &i, 2, &mo) ||
      i >= len || s[i++] != '-' || fixed(s, len, &i, 2, &d))
    return TR_EPROTO;
  if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo)) return TR_EPROTO;
  if (i < len) {
    if (s[i++] != 'T' || fixed(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
        fixed(s, len, &i, 2, &mi))
      return TR_EPROTO;
    if (i < len && s[i] == ':') {
      i++;
      if (fixed(s, len, &i, 2, &sec)) return TR_EPROTO;
      if (i < len && s[i] == '.') {
        i++;
        int n = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
          if (n < 3) ms = ms * 10 + (s[i] - '0');
          n++;
          i++;
        }
        if (n == 0 || n > 9) return TR_EPROTO;
        for (; n < 3; n++) ms *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return TR_EPROTO;
    if (i < len) {
      if (s[i] == 'Z') {
        i++;
      } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
        if (fixed(s, len, &i, 2, &oh)) return TR_EPROTO;
        if (i < len && s[i] == ':') i++;
        if (i < len && fixed(s, len, &i, 2, &om)) return TR_EPROTO;
        if (oh > 18 || om > 59) return TR_EPROTO;
        off = sign * (oh * 60 + om);
      } else {
        return TR_EPROTO;
      }
    }
  }
  if (i != len) return TR_EPROTO;
  int64_t days = days_from_civil(y, mo, d);
  *epoch_ms = ((days * 24 + h) * 60 + mi - off) * 60000 + (int64_t)sec * 1000 + ms;
  return 0;
}

int tr_wf_duration_add(const tr_wf_duration *d, int64_t from_ms, int64_t *out_ms) {
  const int64_t day = 86400000;
  /* keep every intermediate far inside int64: +-10000 years either way */
  if (from_ms < -(INT64_C(1) << 52) || from_ms > (INT64_C(1) << 52) || d->years > 10000 ||
      d->months > 120000 || d->days > 3660000 || d->ms > INT64_C(1) << 50)
    return TR_ERANGE;
  int64_t days = from_ms >= 0 ? from_ms / day : -((-from_ms + day - 1) / day);
  int64_t rest = from_ms - days * day, y;
  int m, dd;
  civil_from_days(days, &y, &m, &dd);
  int64_t months = (int64_t)m - 1 + d->months + (int64_t)d->years * 12;
  y += months / 12;
  m = (int)(months % 12) + 1;
  if (dd > month_days(y, m)) dd = month_days(y, m); /* Jan 31 + 1 month = Feb 28/29 */
  days = days_from_civil(y, m, dd) + d->days;
  *out_ms = days * day + rest + d->ms;
  return 0;
}

/* R[n]/<duration> | R[n]/<start>/<duration> | R[n]/<duration>/<end> */
static int cycle_parse(const char *s, size_t len, tr_wf_timer *t, char *err, size_t errlen) {
  size_t i = 1;
  t->repeat = -1;
  if (len == 0 || s[0] != 'R') {
    snprintf(err, errlen, "a cycle is R[n]/<duration>, R[n]/<start>/<duration> or "
                          "R[n]/<duration>/<end> (cron is not supported)");
    return TR_EPROTO;
  }
  if (i < len && s[i] >= '0' && s[i] <= '9') {
    int64_t n;
    if (digits(s, len, &i, &n, NULL) < 0) goto bad;
    t->repeat = (int32_t)n;
  }
  if (i >= len || s[i++] != '/') goto bad;
  const char *a = s + i, *slash = memchr(a, '/', len - i);
  size_t alen = slash ? (size_t)(slash - a) : len - i;
  if (!slash) {
    if (tr_wf_duration_parse(a, alen, &t->duration) < 0) goto bad;
  } else {
    const char *b = slash + 1;
    size_t blen = len - (size_t)(b - s);
    if (alen > 0 && a[0] == 'P') {
      if (tr_wf_duration_parse(a, alen, &t->duration) < 0 ||
          tr_wf_date_parse(b, blen, &t->end_ms) < 0)
        goto bad;
    } else if (tr_wf_date_parse(a, alen, &t->date_ms) < 0 ||
               tr_wf_duration_parse(b, blen, &t->duration) < 0) {
      goto bad;
    }
  }
  if (t->duration.years == 0 && t->duration.months == 0 && t->duration.days == 0 &&
      t->duration.ms == 0) {
    snprintf(err, errlen, "a cycle's period must not be zero");
    return TR_EPROTO;
  }
  return 0;
bad:
  snprintf(err, errlen, "not an ISO 8601 repeating interval (R[n]/<duration>, "
                        "R[n]/<start>/<duration> or R[n]/<duration>/<end>)");
  return TR_EPROTO;
}

int tr_wf_timer_parse(tr_wf_timer_kind kind, const char *text, size_t len, tr_wf_timer *t,
                      char *err, size_t errlen) {
  const char *keep = t->text;
  memset(t, 0, sizeof *t);
  t->text = keep;
  t->kind = kind;
  if (errlen) err[0] = 0;
  while (len && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) text++, len--;
  while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t' ||
                 text[len - 1] == '\r'))
    len--;
  if (len >= 3 && (text[0] == '$' || text[0] == '#') && text[1] == '{' && text[len - 1] == '}') {
    t->is_expr = true;
    return 0;
  }
  switch (kind) {
  case TR_WF_TIMER_DURATION:
    if (tr_wf_duration_parse(text, len, &t->duration) == 0) return 0;
    snprintf(err, errlen, "not an ISO 8601 duration (PnYnMnWnDTnHnMnS)");
    return TR_EPROTO;
  case TR_WF_TIMER_DATE:
    if (tr_wf_date_parse(text, len, &t->date_ms) == 0) return 0;
    snprintf(err, errlen, "not an ISO 8601 date (YYYY-MM-DDThh:mm:ss[.sss][Z|+hh:mm])");
    return TR_EPROTO;
  case TR_WF_TIMER_CYCLE:
    return cycle_parse(text, len, t, err, errlen);
  default:
    snprintf(err, errlen, "no timer kind");
    return TR_EPROTO;
  }
}
