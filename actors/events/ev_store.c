/* ev_store.c - the warehouse's keys and its reads by id and by time
 * (layout in ev_int.h). */
#include <string.h>

#include "actors/events/ev_int.h"

/* tr_store_table answers from memory once a table is open (the daemon
 * opens them in tr_events_register, before any actor runs). */
int ev_tables_get(tr_store *st, ev_tables *out) {
  if (!st) return TR_ENOTSUP;
  int rc;
  if ((rc = tr_store_table(st, "events.ix", &out->ix)) < 0 ||
      (rc = tr_store_table(st, "events.cnt", &out->cnt)) < 0 ||
      (rc = tr_store_table(st, "events.meta", &out->meta)) < 0)
    return rc;
  return 0;
}

static void be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static size_t topic_prefix(uint8_t *buf, const char *topic) {
  size_t n = strlen(topic);
  memcpy(buf, topic, n);
  buf[n] = 0;
  return n + 1;
}

size_t ev_ix_key(uint8_t *buf, const char *topic, char field, ev_str val, uint64_t id) {
  size_t n = topic_prefix(buf, topic);
  buf[n++] = (uint8_t)field;
  buf[n++] = (uint8_t)val.n; /* length first: no value is a prefix of another */
  memcpy(buf + n, val.p, val.n);
  n += val.n;
  be64(buf + n, id);
  return n + 8;
}

size_t ev_cnt_key(uint8_t *buf, const char *topic, char gran, uint64_t start, ev_str type) {
  size_t n = topic_prefix(buf, topic);
  buf[n++] = (uint8_t)gran;
  be64(buf + n, start);
  n += 8;
  memcpy(buf + n, type.p, type.n);
  return n + type.n;
}

uint64_t ev_bucket_ms(char gran) {
  return gran == 'm' ? 60000u : gran == 'h' ? 3600000u : 86400000u;
}

int ev_gran_of(const char *s, size_t n, char *gran) {
  if (n == 6 && !memcmp(s, "minute", 6)) *gran = 'm';
  else if (n == 4 && !memcmp(s, "hour", 4)) *gran = 'h';
  else if (n == 3 && !memcmp(s, "day", 3)) *gran = 'd';
  else return TR_EINVAL;
  return 0;
}

struct one {
  const void *p;
  size_t n;
  uint64_t id;
};

static int take_one(void *arg, uint64_t num, const void *data, size_t len) {
  struct one *o = arg;
  o->p = data, o->n = len, o->id = num;
  return 1;
}

int ev_get(const ev_reader *r, uint64_t id, const void **p, size_t *n) {
  struct one o = {0};
  int rc = tr_queue_read(r->st, r->v, r->qname, r->qlen, id, 1, take_one, &o);
  if (rc < 0) return rc;
  if (!o.p || o.id != id) return TR_ENOENT;
  *p = o.p, *n = o.n;
  return 0;
}

/* The time of the first event at or after id (ids below the oldest are
 * gone; offsets are dense above it). */
static int time_at(const ev_reader *r, uint64_t id, uint64_t *t) {
  struct one o = {0};
  int rc = tr_queue_read(r->st, r->v, r->qname, r->qlen, id, 1, take_one, &o);
  if (rc < 0) return rc;
  if (!o.p) return TR_ENOENT;
  ev_view e;
  if ((rc = ev_view_parse(o.p, o.n, &e)) < 0) return rc;
  *t = e.time;
  return 0;
}

int ev_id_at_time(const ev_reader *r, uint64_t lo, uint64_t hi, uint64_t t, uint64_t *id) {
  uint64_t a = lo, b = hi + 1; /* the answer is in [a, b] */
  while (a < b) {
    uint64_t mid = a + (b - a) / 2, mt;
    int rc = time_at(r, mid, &mt);
    if (rc == TR_ENOENT) mt = UINT64_MAX; /* past the end */
    else if (rc < 0) return rc;
    if (mt >= t) b = mid;
    else a = mid + 1;
  }
  *id = a;
  return 0;
}

void ev_meta_encode(const ev_meta *m, uint8_t out[EV_META_SIZE]) {
  be64(out, m->bytes);
  be64(out + 8, m->max_age_ms);
  be64(out + 16, m->max_bytes);
  be64(out + 24, m->indexed_to);
}

int ev_meta_load(tr_store *st, tr_store_view *v, const ev_tables *t, const char *topic,
                 ev_meta *out) {
  memset(out, 0, sizeof *out);
  const void *p;
  size_t n;
  int rc = tr_table_get(st, v, t->meta, topic, strlen(topic), &p, &n);
  if (rc == TR_ENOENT) return 0;
  if (rc < 0) return rc;
  if (n != 24 && n != EV_META_SIZE) return TR_ECORRUPT;
  out->bytes = rd64(p);
  out->max_age_ms = rd64((const uint8_t *)p + 8);
  out->max_bytes = rd64((const uint8_t *)p + 16);
  out->indexed_to = n == EV_META_SIZE ? rd64((const uint8_t *)p + 24) : UINT64_MAX;
  return 0;
}

int ev_range(const ev_scope *s, tr_store_view *v, uint64_t from_time, uint64_t to_time,
             uint64_t *lo, uint64_t *hi) {
  ev_reader r = {s->st, v, s->qname, strlen(s->qname)};
  *lo = s->first, *hi = s->last;
  if (s->first > s->last) return 0;
  int rc;
  if (from_time && (rc = ev_id_at_time(&r, s->first, s->last, from_time, lo)) < 0) return rc;
  if (to_time && to_time != UINT64_MAX) {
    uint64_t end;
    if ((rc = ev_id_at_time(&r, *lo, s->last, to_time, &end)) < 0) return rc;
    *hi = end - 1; /* to is exclusive */
  }
  return 0;
}
