/* member.c - the membership view: heartbeats out and in, discovery through
 * the view digest, and each member's state from this node's detector.
 * Everything here runs under c->mu. docs/cluster.md has the states.
 *
 * A heartbeat (TR_FRAME_GOSSIP) is a msgpack map:
 *   v      1
 *   id     sender's node id (must be the link's authenticated peer)
 *   inc    sender's incarnation (its start time, ms since the epoch)
 *   st     the state it gives itself: joining, up or leaving
 *   name, addr, console, roles
 *   status {cpu, rss, actors, up, dl, ver, top: [[id, depth, name]...]}
 *   view   [[id, inc, addr, state]...] the members it knows
 * Only what a node says about itself changes its entry; the view only
 * introduces members (or newer incarnations of them) to be dialled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *tr_member_state_name(int state) {
  switch (state) {
    case TR_MEMBER_JOINING: return "joining";
    case TR_MEMBER_UP: return "up";
    case TR_MEMBER_SUSPECT: return "suspect";
    case TR_MEMBER_DOWN: return "down";
    case TR_MEMBER_LEAVING: return "leaving";
    case TR_MEMBER_REMOVED: return "removed";
    default: return "unknown";
  }
}

member *tr_mb_find(tr_cluster *c, uint64_t id) {
  for (size_t i = 0; i < c->nm; i++)
    if (c->m[i].id == id) return &c->m[i];
  return NULL;
}

static void reset(tr_cluster *c, member *m, uint64_t inc, uint64_t now) {
  m->inc = inc;
  m->said = TR_MEMBER_JOINING;
  m->state = TR_MEMBER_JOINING;
  m->heard_ms = 0;
  m->since_ms = now;
  memset(&m->status, 0, sizeof m->status);
  tr_phi_init(&m->phi, c->o.heartbeat_ms, c->o.pause_ms);
}

member *tr_mb_add(tr_cluster *c, uint64_t id, uint64_t now) {
  if (c->nm >= TR_MEMBERS_MAX) return NULL; /* a hostile view cannot grow it without bound */
  if (c->nm == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    member *m = realloc(c->m, cap * sizeof *m);
    if (!m) return NULL;
    c->m = m;
    c->cap = cap;
  }
  member *m = &c->m[c->nm++];
  memset(m, 0, sizeof *m);
  m->id = id;
  reset(c, m, 0, now);
  return m;
}

static void set_state(member *m, int state, uint64_t now) {
  if (m->state == state) return;
  tr_log(state == TR_MEMBER_DOWN || state == TR_MEMBER_SUSPECT ? TR_LOG_WARN : TR_LOG_INFO,
         "cluster", "member %016llx (%s) %s -> %s", (unsigned long long)m->id, m->name,
         tr_member_state_name(m->state), tr_member_state_name(state));
  m->state = state;
  m->since_ms = now;
}

/* ------------------------------------------------------------ building */

static void pack_status(tr_pack *pk, const tr_node_status *s) {
  tr_pack_map(pk, 7);
  tr_pack_str(pk, "cpu");
  tr_pack_double(pk, s->cpu);
  tr_pack_str(pk, "rss");
  tr_pack_uint(pk, s->rss);
  tr_pack_str(pk, "actors");
  tr_pack_uint(pk, s->actors);
  tr_pack_str(pk, "up");
  tr_pack_uint(pk, s->uptime_ms);
  tr_pack_str(pk, "dl");
  tr_pack_uint(pk, s->dead_letters);
  tr_pack_kv_str(pk, "ver", s->version);
  tr_pack_str(pk, "top");
  tr_pack_array(pk, s->ntop);
  for (uint32_t i = 0; i < s->ntop; i++) {
    tr_pack_array(pk, 3);
    tr_pack_uint(pk, s->top[i].id);
    tr_pack_uint(pk, s->top[i].depth);
    tr_pack_str(pk, s->top[i].name);
  }
}

int tr_mb_gossip_build(tr_cluster *c, tr_pack *pk) {
  tr_pack_map(pk, 12);
  tr_pack_kv_int(pk, "v", 1);
  tr_pack_str(pk, "id");
  tr_pack_uint(pk, c->id.node_id);
  tr_pack_str(pk, "inc");
  tr_pack_uint(pk, c->inc);
  tr_pack_kv_int(pk, "st", c->state);
  tr_pack_kv_str(pk, "name", c->name);
  tr_pack_kv_str(pk, "addr", c->addr);
  tr_pack_kv_str(pk, "console", c->console);
  tr_pack_kv_int(pk, "roles", c->o.roles);
  tr_pack_kv_int(pk, "dr", c->draining);
  tr_pack_str(pk, "kinds");
  tr_pack_array(pk, (uint32_t)c->nkinds);
  for (int i = 0; i < c->nkinds; i++) {
    tr_pack_array(pk, 2);
    tr_pack_str(pk, c->kinds[i].name);
    tr_pack_uint(pk, c->kinds[i].roles);
  }
  tr_pack_str(pk, "status");
  pack_status(pk, &c->status);
  uint32_t n = 0;
  for (size_t i = 0; i < c->nm; i++)
    if (c->m[i].addr[0] && c->m[i].state != TR_MEMBER_REMOVED) n++;
  tr_pack_str(pk, "view");
  tr_pack_array(pk, n);
  for (size_t i = 0; i < c->nm; i++) {
    member *m = &c->m[i];
    if (!m->addr[0] || m->state == TR_MEMBER_REMOVED) continue;
    tr_pack_array(pk, 4);
    tr_pack_uint(pk, m->id);
    tr_pack_uint(pk, m->inc);
    tr_pack_str(pk, m->addr);
    tr_pack_int(pk, m->state);
  }
  return pk->err;
}

/* ------------------------------------------------------------ applying */

static int read_status(tr_unpack *u, tr_node_status *s) {
  memset(s, 0, sizeof *s);
  uint32_t n;
  int rc = tr_unpack_map(u, &n);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < n; i++) {
    char k[16];
    if ((rc = tr_unpack_str_copy(u, k, sizeof k)) < 0) return rc;
    if (!strcmp(k, "cpu")) rc = tr_unpack_double(u, &s->cpu);
    else if (!strcmp(k, "rss")) rc = tr_unpack_uint(u, &s->rss);
    else if (!strcmp(k, "actors")) rc = tr_unpack_uint(u, &s->actors);
    else if (!strcmp(k, "up")) rc = tr_unpack_uint(u, &s->uptime_ms);
    else if (!strcmp(k, "dl")) rc = tr_unpack_uint(u, &s->dead_letters);
    else if (!strcmp(k, "ver")) rc = tr_unpack_str_copy(u, s->version, sizeof s->version);
    else if (!strcmp(k, "top")) {
      uint32_t t;
      if ((rc = tr_unpack_array(u, &t)) < 0) return rc;
      for (uint32_t j = 0; j < t && rc == 0; j++) {
        uint32_t three;
        uint64_t id = 0, depth = 0;
        char name[32] = "";
        if ((rc = tr_unpack_array(u, &three)) < 0 || three != 3) return TR_EPROTO;
        if ((rc = tr_unpack_uint(u, &id)) < 0 || (rc = tr_unpack_uint(u, &depth)) < 0 ||
            (rc = tr_unpack_str_copy(u, name, sizeof name)) < 0)
          return rc;
        if (s->ntop < TR_STATUS_TOP) {
          s->top[s->ntop].id = id;
          s->top[s->ntop].depth = depth > UINT32_MAX ? UINT32_MAX : (uint32_t)depth;
          memcpy(s->top[s->ntop].name, name, sizeof name);
          s->ntop++;
        }
      }
    } else rc = tr_unpack_skip(u);
    if (rc < 0) return rc;
  }
  return 0;
}

/* "kinds": [[name, roles], ...]; more than TR_KINDS_AD_MAX are checked and
 * dropped. */
static int read_kinds(tr_unpack *u, kind_ad *out, int *n) {
  uint32_t cnt;
  int rc = tr_unpack_array(u, &cnt);
  if (rc < 0) return rc;
  *n = 0;
  for (uint32_t i = 0; i < cnt; i++) {
    uint32_t two;
    kind_ad k;
    uint64_t roles;
    if ((rc = tr_unpack_array(u, &two)) < 0) return rc;
    if (two != 2) return TR_EPROTO;
    if ((rc = tr_unpack_str_copy(u, k.name, sizeof k.name)) < 0 ||
        (rc = tr_unpack_uint(u, &roles)) < 0)
      return rc;
    if (!k.name[0] || roles > UINT32_MAX) return TR_EPROTO;
    k.roles = (uint32_t)roles;
    if (*n < TR_KINDS_AD_MAX) out[(*n)++] = k;
  }
  return 0;
}

typedef struct hb {
  kind_ad kinds[TR_KINDS_AD_MAX];
  int nkinds;
  uint64_t id, inc;
  int64_t st, roles, draining;
  char name[64], addr[256], console[256];
  tr_node_status status;
  const uint8_t *view;
  size_t view_len;
  int has;
} hb;

static int read_hb(const uint8_t *p, size_t n, hb *h) {
  memset(h, 0, sizeof *h);
  tr_unpack u;
  tr_unpack_init(&u, p, n);
  uint32_t cnt;
  int rc = tr_unpack_map(&u, &cnt);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < cnt; i++) {
    char k[16];
    if ((rc = tr_unpack_str_copy(&u, k, sizeof k)) < 0) return rc;
    int64_t v;
    if (!strcmp(k, "v")) {
      if ((rc = tr_unpack_int(&u, &v)) < 0) return rc;
      if (v != 1) return TR_EVERSION;
    } else if (!strcmp(k, "id")) rc = tr_unpack_uint(&u, &h->id), h->has |= 1;
    else if (!strcmp(k, "inc")) rc = tr_unpack_uint(&u, &h->inc), h->has |= 2;
    else if (!strcmp(k, "st")) rc = tr_unpack_int(&u, &h->st), h->has |= 4;
    else if (!strcmp(k, "roles")) rc = tr_unpack_int(&u, &h->roles);
    else if (!strcmp(k, "dr")) rc = tr_unpack_int(&u, &h->draining);
    else if (!strcmp(k, "kinds")) rc = read_kinds(&u, h->kinds, &h->nkinds);
    else if (!strcmp(k, "name")) rc = tr_unpack_str_copy(&u, h->name, sizeof h->name);
    else if (!strcmp(k, "addr")) rc = tr_unpack_str_copy(&u, h->addr, sizeof h->addr);
    else if (!strcmp(k, "console")) rc = tr_unpack_str_copy(&u, h->console, sizeof h->console);
    else if (!strcmp(k, "status")) rc = read_status(&u, &h->status);
    else if (!strcmp(k, "view")) {
      h->view = u.p;
      rc = tr_unpack_skip(&u);
      h->view_len = (size_t)(u.p - h->view);
    } else rc = tr_unpack_skip(&u);
    if (rc < 0) return rc;
  }
  if (h->has != 7 || tr_unpack_left(&u)) return TR_EPROTO;
  if (h->st != TR_MEMBER_JOINING && h->st != TR_MEMBER_UP && h->st != TR_MEMBER_LEAVING)
    return TR_EPROTO;
  return 0;
}

/* The view digest: checked whole first (apply = 0), so a malformed one
 * changes nothing, then applied (apply = 1). Introduces members to dial:
 * returns 1 if any is new. */
static int apply_view(tr_cluster *c, const uint8_t *p, size_t n, int apply, uint64_t now) {
  if (!p) return 0;
  tr_unpack u;
  tr_unpack_init(&u, p, n);
  uint32_t cnt;
  int rc = tr_unpack_array(&u, &cnt), fresh = 0;
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < cnt; i++) {
    uint32_t four;
    uint64_t id, inc;
    int64_t st;
    char addr[256];
    if ((rc = tr_unpack_array(&u, &four)) < 0) return rc;
    if (four != 4) return TR_EPROTO;
    if ((rc = tr_unpack_uint(&u, &id)) < 0 || (rc = tr_unpack_uint(&u, &inc)) < 0 ||
        (rc = tr_unpack_str_copy(&u, addr, sizeof addr)) < 0 || (rc = tr_unpack_int(&u, &st)) < 0)
      return rc;
    if (!apply || id == c->id.node_id || !id || !addr[0]) continue;
    /* hearsay never marks anyone down; it only tells us whom to dial */
    if (st == TR_MEMBER_DOWN || st == TR_MEMBER_LEAVING || st == TR_MEMBER_REMOVED) continue;
    member *m = tr_mb_find(c, id);
    if (!m) {
      if (!(m = tr_mb_add(c, id, now))) continue; /* at TR_MEMBERS_MAX */
      m->inc = inc;
      snprintf(m->addr, sizeof m->addr, "%s", addr);
      fresh = 1;
    } else if ((inc > m->inc && m->heard_ms) || !m->addr[0]) {
      /* a newer incarnation we have not heard from yet, or an address we
       * lacked: dial it there */
      snprintf(m->addr, sizeof m->addr, "%s", addr);
      fresh = 1;
    }
  }
  return tr_unpack_left(&u) ? TR_EPROTO : fresh;
}

int tr_mb_gossip_apply(tr_cluster *c, uint64_t from, const uint8_t *p, size_t n, uint64_t now) {
  hb h;
  int rc = read_hb(p, n, &h);
  if (rc < 0) return rc;
  if (h.id != from || !from) return TR_EPERM; /* speaks only for itself */
  if ((rc = apply_view(c, h.view, h.view_len, 0, now)) < 0) return rc;
  member *m = tr_mb_find(c, from);
  if (!m && !(m = tr_mb_add(c, from, now))) return TR_ENOMEM;
  if (h.inc < m->inc) return 0; /* an older incarnation still talking */
  if (h.inc > m->inc) {
    if (m->inc) tr_log(TR_LOG_INFO, "cluster", "member %016llx (%s) restarted", (unsigned long long)from, h.name);
    reset(c, m, h.inc, now);
  }
  snprintf(m->name, sizeof m->name, "%s", h.name);
  if (h.addr[0]) snprintf(m->addr, sizeof m->addr, "%s", h.addr);
  snprintf(m->console, sizeof m->console, "%s", h.console);
  m->roles = (uint32_t)h.roles;
  m->draining = h.draining != 0;
  memcpy(m->kinds, h.kinds, sizeof m->kinds);
  m->nkinds = h.nkinds;
  m->said = (int)h.st;
  m->status = h.status;
  m->heard_ms = now;
  tr_phi_heartbeat(&m->phi, now);
  /* a joining node has joined once a member talks to it */
  if (c->state == TR_MEMBER_JOINING) {
    c->state = TR_MEMBER_UP;
    tr_log(TR_LOG_INFO, "cluster", "joined through %016llx (%s)", (unsigned long long)from, h.name);
  }
  int fresh = apply_view(c, h.view, h.view_len, 1, now);
  tr_mb_judge(c, now);
  return fresh;
}

/* ------------------------------------------------------------ judging */

void tr_mb_judge(tr_cluster *c, uint64_t now) {
  for (size_t i = 0; i < c->nm;) {
    member *m = &c->m[i];
    int st = m->state;
    if (m->said == TR_MEMBER_LEAVING) {
      st = TR_MEMBER_LEAVING;
      if (!m->out || !tr_link_is_up(m->out) || tr_ms_since(now, m->heard_ms) > c->o.pause_ms)
        st = TR_MEMBER_REMOVED;
    } else if (m->heard_ms) {
      double phi = tr_phi_value(&m->phi, now);
      if (phi >= c->o.phi_down) st = TR_MEMBER_DOWN;
      else if (phi >= c->o.phi_suspect) st = TR_MEMBER_SUSPECT;
      else st = m->said == TR_MEMBER_UP ? TR_MEMBER_UP : TR_MEMBER_JOINING;
    }
    set_state(m, st, now);
    /* forget the long gone, and those we never managed to hear from */
    int gone = (m->state == TR_MEMBER_DOWN || m->state == TR_MEMBER_REMOVED ||
                (!m->heard_ms && m->state == TR_MEMBER_JOINING)) &&
               tr_ms_since(now, m->since_ms) > c->o.forget_ms;
    if (gone && !m->out && !m->dialing) {
      c->m[i] = c->m[--c->nm];
      continue;
    }
    i++;
  }
}
