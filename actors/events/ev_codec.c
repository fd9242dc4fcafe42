/* ev_codec.c - events as published, as stored and as read (ev_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/events/ev_int.h"

uint64_t ev_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool key_is(const char *k, size_t kn, const char *want) {
  return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

/* A string field of a published event: 1..EV_VALUE_MAX bytes. */
static int str_field(tr_unpack *u, const char *name, ev_str *out, char *err, size_t cap) {
  if (tr_unpack_str(u, &out->p, &out->n) < 0) {
    snprintf(err, cap, "%s must be a string", name);
    return TR_EINVAL;
  }
  if (out->n == 0 || out->n > EV_VALUE_MAX) {
    snprintf(err, cap, "%s must have 1 to %d bytes", name, EV_VALUE_MAX);
    return TR_EINVAL;
  }
  return 0;
}

/* attrs: a map of string -> scalar, so that filters can compare them. */
static int attrs_check(tr_unpack *u, const void **raw, size_t *rawn, char *err, size_t cap) {
  tr_unpack c = *u;
  uint32_t n;
  if (tr_unpack_map(&c, &n) < 0) {
    snprintf(err, cap, "attrs must be a map");
    return TR_EINVAL;
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kn;
    if (tr_unpack_str(&c, &k, &kn) < 0 || kn == 0 || kn > EV_VALUE_MAX) {
      snprintf(err, cap, "attrs keys must be strings of 1 to %d bytes", EV_VALUE_MAX);
      return TR_EINVAL;
    }
    int t = tr_unpack_peek(&c);
    if (t == TR_MP_ARRAY || t == TR_MP_MAP || t == TR_MP_EXT || t == TR_MP_BIN || t < 0 ||
        tr_unpack_skip(&c) < 0) {
      snprintf(err, cap, "attrs.%.*s must be a string, number, boolean or null", (int)kn, k);
      return TR_EINVAL;
    }
  }
  return tr_unpack_raw(u, raw, rawn);
}

int ev_event_encode(const tr_unpack *in, uint64_t now_ms, uint64_t min_time, const char *source,
                    tr_pack *out, char *err, size_t cap) {
  tr_unpack u = *in;
  uint32_t n;
  if (cap) err[0] = 0;
  if (tr_unpack_map(&u, &n) < 0) {
    snprintf(err, cap, "an event must be a map");
    return TR_EINVAL;
  }
  ev_str type = {0}, src = {0}, key = {0}, pi = {0}, bk = {0};
  const void *attrs = NULL, *data = NULL;
  size_t attrs_n = 0, data_n = 0;
  uint64_t time = now_ms;
  int rc;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kn;
    if (tr_unpack_str(&u, &k, &kn) < 0) {
      snprintf(err, cap, "an event's keys must be strings");
      return TR_EINVAL;
    }
    if (key_is(k, kn, "type")) rc = str_field(&u, "type", &type, err, cap);
    else if (key_is(k, kn, "source")) rc = str_field(&u, "source", &src, err, cap);
    else if (key_is(k, kn, "key")) rc = str_field(&u, "key", &key, err, cap);
    else if (key_is(k, kn, "pi")) rc = str_field(&u, "pi", &pi, err, cap);
    else if (key_is(k, kn, "bk")) rc = str_field(&u, "bk", &bk, err, cap);
    else if (key_is(k, kn, "attrs")) rc = attrs_check(&u, &attrs, &attrs_n, err, cap);
    else if (key_is(k, kn, "data")) {
      rc = tr_unpack_raw(&u, &data, &data_n);
      if (rc < 0) snprintf(err, cap, "data is not valid msgpack");
    } else if (key_is(k, kn, "time")) {
      rc = tr_unpack_uint(&u, &time);
      if (rc < 0) snprintf(err, cap, "time must be a number of ms since the epoch");
    } else if (key_is(k, kn, "topic") || key_is(k, kn, "id")) {
      rc = tr_unpack_skip(&u); /* implied by where it goes; a server assigns ids */
    } else {
      snprintf(err, cap,
               "unknown event field '%.*s' (type, time, source, key, pi, bk, attrs, data)",
               (int)(kn > 64 ? 64 : kn), k);
      return TR_EINVAL;
    }
    if (rc < 0) {
      if (!err[0]) snprintf(err, cap, "malformed event");
      return TR_EINVAL;
    }
  }
  if (!type.p) {
    snprintf(err, cap, "an event needs a type");
    return TR_EINVAL;
  }
  if (!src.p) src.p = source ? source : "", src.n = strlen(src.p);
  if (time < min_time) time = min_time;
  uint32_t m = 3 + !!key.p + !!pi.p + !!bk.p + !!attrs + !!data;
  tr_pack_map(out, m);
  tr_pack_str(out, "type");
  tr_pack_strn(out, type.p, type.n);
  tr_pack_str(out, "time");
  tr_pack_uint(out, time);
  tr_pack_str(out, "source");
  tr_pack_strn(out, src.p, src.n);
  if (key.p) tr_pack_str(out, "key"), tr_pack_strn(out, key.p, key.n);
  if (pi.p) tr_pack_str(out, "pi"), tr_pack_strn(out, pi.p, pi.n);
  if (bk.p) tr_pack_str(out, "bk"), tr_pack_strn(out, bk.p, bk.n);
  if (attrs) tr_pack_str(out, "attrs"), tr_pack_raw(out, attrs, attrs_n);
  if (data) tr_pack_str(out, "data"), tr_pack_raw(out, data, data_n);
  return out->err;
}

int ev_view_parse(const void *p, size_t len, ev_view *e) {
  memset(e, 0, sizeof *e);
  tr_unpack u;
  tr_unpack_init(&u, p, len);
  uint32_t n;
  if (tr_unpack_map(&u, &n) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kn;
    int rc;
    if (tr_unpack_str(&u, &k, &kn) < 0) return TR_EPROTO;
    if (key_is(k, kn, "type")) rc = tr_unpack_str(&u, &e->type.p, &e->type.n);
    else if (key_is(k, kn, "time")) rc = tr_unpack_uint(&u, &e->time);
    else if (key_is(k, kn, "source")) rc = tr_unpack_str(&u, &e->source.p, &e->source.n);
    else if (key_is(k, kn, "key")) rc = tr_unpack_str(&u, &e->key.p, &e->key.n);
    else if (key_is(k, kn, "pi")) rc = tr_unpack_str(&u, &e->pi.p, &e->pi.n);
    else if (key_is(k, kn, "bk")) rc = tr_unpack_str(&u, &e->bk.p, &e->bk.n);
    else if (key_is(k, kn, "attrs")) {
      const void *r;
      rc = tr_unpack_raw(&u, &r, &e->attrs_len);
      e->attrs = r;
    } else rc = tr_unpack_skip(&u);
    if (rc < 0) return TR_EPROTO;
  }
  return 0;
}

int ev_event_pack(tr_pack *pk, const char *topic, uint64_t id, const void *p, size_t n) {
  tr_unpack u;
  uint32_t m;
  tr_unpack_init(&u, p, n);
  if (tr_unpack_map(&u, &m) < 0) return TR_EPROTO;
  tr_pack_map(pk, m + 2);
  tr_pack_str(pk, "id");
  tr_pack_uint(pk, id);
  tr_pack_kv_str(pk, "topic", topic);
  return tr_pack_raw(pk, u.p, tr_unpack_left(&u)); /* the stored entries as they are */
}

/* ------------------------------------------------------------ filters */

void ev_filter_free(ev_filter *f) {
  for (uint32_t i = 0; i < f->ntypes; i++) free(f->types[i]);
  free(f->key), free(f->pi), free(f->bk), free(f->attrs);
  memset(f, 0, sizeof *f);
}

bool ev_filter_is_all(const ev_filter *f) {
  return !f->ntypes && !f->key && !f->pi && !f->bk && !f->attrs;
}

static int dup_str(tr_unpack *u, const char *name, char **out, char *err, size_t cap) {
  ev_str s;
  int rc = str_field(u, name, &s, err, cap);
  if (rc < 0) return rc;
  if (!(*out = malloc(s.n + 1))) return TR_ENOMEM;
  memcpy(*out, s.p, s.n);
  (*out)[s.n] = 0;
  return 0;
}

int ev_filter_parse(const tr_unpack *req, ev_filter *f, char *err, size_t cap) {
  memset(f, 0, sizeof *f);
  tr_unpack u;
  if (tr_unpack_find(req, "filter", &u) < 0 || tr_unpack_peek(&u) == TR_MP_NIL) return 0;
  uint32_t n;
  if (tr_unpack_map(&u, &n) < 0) {
    snprintf(err, cap, "filter must be a map");
    return TR_EINVAL;
  }
  int rc = 0;
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    const char *k;
    size_t kn;
    if (tr_unpack_str(&u, &k, &kn) < 0) {
      snprintf(err, cap, "filter keys must be strings");
      rc = TR_EINVAL;
    } else if (key_is(k, kn, "types")) {
      uint32_t m;
      if (tr_unpack_array(&u, &m) < 0 || m > EV_TYPES_MAX) {
        snprintf(err, cap, "filter.types must be an array of at most %d strings", EV_TYPES_MAX);
        rc = TR_EINVAL;
      }
      for (uint32_t j = 0; rc == 0 && j < m; j++)
        if ((rc = dup_str(&u, "filter.types[]", &f->types[j], err, cap)) == 0) f->ntypes++;
    } else if (key_is(k, kn, "key")) rc = dup_str(&u, "filter.key", &f->key, err, cap);
    else if (key_is(k, kn, "pi")) rc = dup_str(&u, "filter.pi", &f->pi, err, cap);
    else if (key_is(k, kn, "bk")) rc = dup_str(&u, "filter.bk", &f->bk, err, cap);
    else if (key_is(k, kn, "attrs")) {
      const void *raw;
      if ((rc = attrs_check(&u, &raw, &f->attrs_len, err, cap)) == 0) {
        if (!(f->attrs = malloc(f->attrs_len))) rc = TR_ENOMEM;
        else memcpy(f->attrs, raw, f->attrs_len);
      }
    } else {
      snprintf(err, cap, "unknown filter field '%.*s' (types, key, pi, bk, attrs)",
               (int)(kn > 64 ? 64 : kn), k);
      rc = TR_EINVAL;
    }
  }
  if (rc < 0) ev_filter_free(f);
  return rc;
}

static bool str_eq(const char *want, ev_str have) {
  return have.p && strlen(want) == have.n && memcmp(want, have.p, have.n) == 0;
}

/* Two scalars are equal by value: 1 and 1.0 are, as JSON would have them. */
static bool scalar_eq(tr_unpack a, tr_unpack b) {
  int ta = tr_unpack_peek(&a), tb = tr_unpack_peek(&b);
  if ((ta == TR_MP_INT || ta == TR_MP_FLOAT) && (tb == TR_MP_INT || tb == TR_MP_FLOAT)) {
    int64_t ia, ib;
    if (ta == TR_MP_INT && tb == TR_MP_INT && tr_unpack_int(&a, &ia) == 0 &&
        tr_unpack_int(&b, &ib) == 0)
      return ia == ib;
    double da, db;
    return tr_unpack_double(&a, &da) == 0 && tr_unpack_double(&b, &db) == 0 && da == db;
  }
  if (ta != tb) return false;
  const void *pa, *pb;
  size_t na, nb;
  if (ta == TR_MP_STR) {
    const char *sa, *sb;
    return tr_unpack_str(&a, &sa, &na) == 0 && tr_unpack_str(&b, &sb, &nb) == 0 && na == nb &&
           memcmp(sa, sb, na) == 0;
  }
  return tr_unpack_raw(&a, &pa, &na) == 0 && tr_unpack_raw(&b, &pb, &nb) == 0 && na == nb &&
         memcmp(pa, pb, na) == 0;
}

static bool attrs_match(const uint8_t *want, size_t wn, const uint8_t *have, size_t hn) {
  if (!have) return false;
  tr_unpack w, h;
  tr_unpack_init(&w, want, wn);
  tr_unpack_init(&h, have, hn);
  uint32_t n;
  if (tr_unpack_map(&w, &n) < 0) return false;
  for (uint32_t i = 0; i < n; i++) {
    char k[EV_VALUE_MAX + 1];
    tr_unpack hv;
    if (tr_unpack_str_copy(&w, k, sizeof k) < 0 || tr_unpack_find(&h, k, &hv) < 0 ||
        !scalar_eq(w, hv) || tr_unpack_skip(&w) < 0)
      return false;
  }
  return true;
}

bool ev_filter_match(const ev_filter *f, const ev_view *e) {
  if (f->ntypes) {
    bool any = false;
    for (uint32_t i = 0; i < f->ntypes && !any; i++) any = str_eq(f->types[i], e->type);
    if (!any) return false;
  }
  if (f->key && !str_eq(f->key, e->key)) return false;
  if (f->pi && !str_eq(f->pi, e->pi)) return false;
  if (f->bk && !str_eq(f->bk, e->bk)) return false;
  if (f->attrs && !attrs_match(f->attrs, f->attrs_len, e->attrs, e->attrs_len)) return false;
  return true;
}
