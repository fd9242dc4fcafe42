/* console.c - the admin console: protocol (keys, requests, replies,
 * snapshots, the replay guard) and the endpoint (rep0 + pub0 sockets driven
 * by aio callbacks, and the commands). See console.h and docs/console.md.
 *
 * Who frees what: each aio is a small state machine run only by its own
 * callback (receive -> reply -> receive; sleep -> publish -> sleep), so its
 * state needs no lock. A callback never frees an aio or closes a socket:
 * tr_console_stop() stops and frees the aios first, then closes the
 * context and the sockets (nng 1.5.2 can hang in nng_close otherwise).
 */
#include "console.h"

#include <ctype.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/utf8.h"
#include "status.h"
#include "troupe/supervisor.h"

#define KDF_CTX "trconsol"
#define SNAP_ACTORS 10 /* busiest actors in a snapshot */

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ============================================================ protocol */

void tr_console_keys_derive(const uint8_t admin[32], tr_console_keys *k) {
  if (sodium_init() < 0) abort(); /* cannot happen after the identity loaded */
  crypto_kdf_derive_from_key(k->req, sizeof k->req, 1, KDF_CTX, admin);
  crypto_kdf_derive_from_key(k->rep, sizeof k->rep, 2, KDF_CTX, admin);
  crypto_kdf_derive_from_key(k->stream, sizeof k->stream, 3, KDF_CTX, admin);
}

void tr_console_keys_clear(tr_console_keys *k) {
  if (k) sodium_memzero(k, sizeof *k);
}

/* One msgpack map and nothing after it. */
static int is_one_map(const void *p, size_t n) {
  tr_unpack u;
  tr_unpack_init(&u, p, n);
  return tr_unpack_peek(&u) == TR_MP_MAP && tr_unpack_skip(&u) == 0 && tr_unpack_left(&u) == 0;
}

/* Command names are short printable words: safe to echo in messages. */
static int cmd_ok(const char *s, size_t n) {
  if (n == 0 || n >= TR_CONSOLE_CMD_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && s[i] != '-') return 0;
  return 1;
}

int tr_console_request_build(const tr_console_keys *k, const char *cmd, const void *args,
                             size_t args_len, uint64_t ts_ms, const uint8_t nonce[16],
                             tr_pack *out) {
  if (!k || !cmd || !nonce || !out || !cmd_ok(cmd, strlen(cmd))) return TR_EINVAL;
  if (args && !is_one_map(args, args_len)) return TR_EINVAL;
  size_t start = out->len;
  tr_pack_map(out, args ? 5 : 4);
  tr_pack_kv_int(out, "v", TR_CONSOLE_VERSION);
  tr_pack_kv_str(out, "cmd", cmd);
  if (args) {
    tr_pack_str(out, "args");
    tr_pack_raw(out, args, args_len);
  }
  tr_pack_str(out, "ts");
  tr_pack_uint(out, ts_ms);
  tr_pack_str(out, "nonce");
  tr_pack_bin(out, nonce, TR_CONSOLE_NONCE);
  if (out->err) return out->err;
  uint8_t mac[TR_CONSOLE_MAC];
  crypto_auth_hmacsha256(mac, out->data + start, out->len - start, k->req);
  return tr_pack_raw(out, mac, sizeof mac);
}

int tr_console_request_open(const tr_console_keys *k, const void *p, size_t n,
                            tr_console_req *out) {
  if (!k || (!p && n) || !out) return TR_EINVAL;
  memset(out, 0, sizeof *out);
  if (n > TR_CONSOLE_REQ_MAX) return TR_ETOOBIG;
  if (n <= TR_CONSOLE_MAC) return TR_EPERM;
  const uint8_t *b = p;
  size_t bl = n - TR_CONSOLE_MAC;
  /* nothing of an unauthenticated body is parsed */
  if (crypto_auth_hmacsha256_verify(b + bl, b, bl, k->req) != 0) return TR_EPERM;
  if (!is_one_map(b, bl)) return TR_EPROTO;
  tr_unpack u, a;
  tr_unpack_init(&u, b, bl);
  int64_t v;
  if (tr_unpack_find_int(&u, "v", &v) < 0) return TR_EPROTO;
  if (v != TR_CONSOLE_VERSION) return TR_EVERSION;
  const char *cmd;
  size_t cl;
  if (tr_unpack_find_str(&u, "cmd", &cmd, &cl) < 0 || !cmd_ok(cmd, cl)) return TR_EPROTO;
  if (tr_unpack_find_uint(&u, "ts", &out->ts_ms) < 0) return TR_EPROTO;
  const void *nonce;
  size_t nl;
  if (tr_unpack_find(&u, "nonce", &a) < 0 || tr_unpack_bin(&a, &nonce, &nl) < 0 ||
      nl != TR_CONSOLE_NONCE)
    return TR_EPROTO;
  int rc = tr_unpack_find(&u, "args", &a);
  if (rc == 0) {
    const void *raw;
    if (tr_unpack_peek(&a) != TR_MP_MAP || tr_unpack_raw(&a, &raw, &out->args_len) < 0)
      return TR_EPROTO;
    out->args = raw;
  } else if (rc != TR_ENOENT) {
    return TR_EPROTO;
  }
  memcpy(out->cmd, cmd, cl);
  out->cmd[cl] = 0;
  memcpy(out->nonce, nonce, TR_CONSOLE_NONCE);
  return 0;
}

/* ------------------------------------------------------------ replay guard */

typedef struct gent {
  uint64_t ts;
  uint8_t nonce[TR_CONSOLE_NONCE];
} gent;

struct tr_console_guard {
  gent e[TR_CONSOLE_REPLAY_MAX]; /* a ring, oldest admitted first */
  size_t head, n;
  uint64_t floor; /* requests with ts <= floor are refused */
};

tr_console_guard *tr_console_guard_new(void) { return calloc(1, sizeof(tr_console_guard)); }
void tr_console_guard_free(tr_console_guard *g) { free(g); }

static void guard_pop(tr_console_guard *g) {
  if (g->e[g->head].ts > g->floor) g->floor = g->e[g->head].ts;
  g->head = (g->head + 1) % TR_CONSOLE_REPLAY_MAX;
  g->n--;
}

int tr_console_guard_check(tr_console_guard *g, uint64_t ts, const uint8_t nonce[16],
                           uint64_t now) {
  if (!g || !nonce) return TR_EINVAL;
  if (ts > now + TR_CONSOLE_WINDOW_MS || ts + TR_CONSOLE_WINDOW_MS < now || ts <= g->floor)
    return TR_ETIMEDOUT;
  /* entries out of the window are refused as stale anyway; forgetting them
   * raises the floor only to a time already outside the window */
  while (g->n && g->e[g->head].ts + TR_CONSOLE_WINDOW_MS < now) guard_pop(g);
  /* a linear scan: admin traffic is a few requests a second at most, and
   * only requests with a good MAC get this far */
  for (size_t i = 0, j = g->head; i < g->n; i++, j = (j + 1) % TR_CONSOLE_REPLAY_MAX)
    if (memcmp(g->e[j].nonce, nonce, TR_CONSOLE_NONCE) == 0) return TR_EEXIST;
  if (g->n == TR_CONSOLE_REPLAY_MAX) guard_pop(g);
  gent *e = &g->e[(g->head + g->n) % TR_CONSOLE_REPLAY_MAX];
  e->ts = ts;
  memcpy(e->nonce, nonce, TR_CONSOLE_NONCE);
  g->n++;
  return 0;
}

/* ------------------------------------------------------------ replies */

static void pack_hex(tr_pack *pk, uint64_t v) {
  char s[17];
  snprintf(s, sizeof s, "%016llx", (unsigned long long)v);
  tr_pack_str(pk, s);
}

/* A name as text JSON can carry: names come from other members' gossip and
 * from whoever registered an actor, so bytes that are not UTF-8, and
 * control characters, become '?' (one bad name must not spoil a listing). */
static void pack_kv_text(tr_pack *pk, const char *key, const char *s, size_t max) {
  char buf[260];
  size_t n = strnlen(s ? s : "", max < sizeof buf ? max : sizeof buf - 1), o = 0;
  const uint8_t *u = (const uint8_t *)(s ? s : "");
  for (size_t i = 0; i < n;) {
    size_t k = tr_utf8_seq(u + i, n - i);
    if (k == 0 || (k == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
      buf[o++] = '?';
      i++;
    } else {
      memcpy(buf + o, u + i, k);
      o += k;
      i += k;
    }
  }
  tr_pack_str(pk, key);
  tr_pack_strn(pk, buf, o);
}

/* Appends a reply (body and MAC) to out. req NULL: the request could not be
 * read, so there is no nonce to echo. data: one msgpack value or NULL. */
static int reply_build(const tr_console_keys *k, uint64_t node, const tr_console_req *req,
                       int code, int auth, const char *err, const void *data, size_t dlen,
                       tr_pack *out) {
  size_t start = out->len;
  tr_pack_map(out, 5 + (req != NULL) + (err != NULL) + (auth != 0) + (data != NULL));
  tr_pack_kv_int(out, "v", TR_CONSOLE_VERSION);
  tr_pack_str(out, "ok");
  tr_pack_bool(out, code == 0);
  tr_pack_kv_int(out, "code", code);
  tr_pack_str(out, "ts");
  tr_pack_uint(out, wall_ms());
  tr_pack_str(out, "node");
  pack_hex(out, node);
  if (req) {
    tr_pack_str(out, "nonce");
    tr_pack_bin(out, req->nonce, TR_CONSOLE_NONCE);
  }
  if (err) pack_kv_text(out, "error", err, 256);
  if (auth) {
    tr_pack_str(out, "auth");
    tr_pack_bool(out, 1);
  }
  if (data) {
    tr_pack_str(out, "data");
    tr_pack_raw(out, data, dlen);
  }
  if (out->err) return out->err;
  uint8_t mac[TR_CONSOLE_MAC];
  crypto_auth_hmacsha256(mac, out->data + start, out->len - start, k->rep);
  return tr_pack_raw(out, mac, sizeof mac);
}

int tr_console_reply_open(const tr_console_keys *k, const void *p, size_t n,
                          tr_console_reply *out) {
  if (!k || (!p && n) || !out) return TR_EINVAL;
  memset(out, 0, sizeof *out);
  if (n <= TR_CONSOLE_MAC) return TR_EPROTO;
  const uint8_t *b = p;
  size_t bl = n - TR_CONSOLE_MAC;
  out->authentic = crypto_auth_hmacsha256_verify(b + bl, b, bl, k->rep) == 0;
  if (!is_one_map(b, bl)) return TR_EPROTO;
  tr_unpack u, a;
  tr_unpack_init(&u, b, bl);
  int64_t v, code;
  if (tr_unpack_find_int(&u, "v", &v) < 0 || v != TR_CONSOLE_VERSION ||
      tr_unpack_find_bool(&u, "ok", &out->ok) < 0 || tr_unpack_find_int(&u, "code", &code) < 0 ||
      code < -1000 || code > 0 || (out->ok != (code == 0)))
    return TR_EPROTO;
  out->code = (int)code;
  if (tr_unpack_find_uint(&u, "ts", &out->ts_ms) < 0) return TR_EPROTO;
  const char *s;
  size_t sl;
  char hex[17];
  if (tr_unpack_find_str(&u, "node", &s, &sl) < 0 || sl != 16) return TR_EPROTO;
  memcpy(hex, s, 16);
  hex[16] = 0;
  for (int i = 0; i < 16; i++)
    if (!isxdigit((unsigned char)hex[i])) return TR_EPROTO;
  out->node = strtoull(hex, NULL, 16);
  int rc = tr_unpack_find(&u, "nonce", &a);
  if (rc == 0) {
    const void *nonce;
    size_t nl;
    if (tr_unpack_bin(&a, &nonce, &nl) < 0 || nl != TR_CONSOLE_NONCE) return TR_EPROTO;
    memcpy(out->nonce, nonce, TR_CONSOLE_NONCE);
    out->has_nonce = 1;
  } else if (rc != TR_ENOENT) {
    return TR_EPROTO;
  }
  rc = tr_unpack_find_str(&u, "error", &s, &sl);
  if (rc == 0) {
    if (sl >= sizeof out->error) sl = sizeof out->error - 1;
    for (size_t i = 0; i < sl; i++) /* the node's words, shown on a terminal */
      out->error[i] = (s[i] >= 0x20 && s[i] != 0x7f) || (s[i] & 0x80) ? s[i] : '?';
  } else if (rc != TR_ENOENT) {
    return TR_EPROTO;
  }
  rc = tr_unpack_find_bool(&u, "auth", &out->auth);
  if (rc < 0 && rc != TR_ENOENT) return TR_EPROTO;
  rc = tr_unpack_find(&u, "data", &a);
  if (rc == 0) {
    const void *raw;
    if (tr_unpack_raw(&a, &raw, &out->data_len) < 0) return TR_EPROTO;
    out->data = raw;
  } else if (rc != TR_ENOENT) {
    return TR_EPROTO;
  }
  return 0;
}

/* ------------------------------------------------------------ snapshots */

int tr_console_snapshot_open(const tr_console_keys *k, const void *p, size_t n, uint8_t *out,
                             size_t cap, size_t *len) {
  if (!k || (!p && n) || !out || !len) return TR_EINVAL;
  if (n < TR_CONSOLE_SEAL_OVERHEAD) return TR_EPROTO;
  size_t ml = n - TR_CONSOLE_SEAL_OVERHEAD;
  if (ml > cap) return TR_ETOOBIG;
  const uint8_t *b = p;
  if (crypto_secretbox_open_easy(out, b + crypto_secretbox_NONCEBYTES,
                                 n - crypto_secretbox_NONCEBYTES, b, k->stream) != 0)
    return TR_EPERM;
  *len = ml;
  return 0;
}

int tr_console_parse_ref(const char *s, tr_ref *out) {
  if (!s || !out) return TR_EINVAL;
  uint64_t node = 0, id = 0;
  const char *colon = strchr(s, ':');
  if (colon) {
    size_t hl = (size_t)(colon - s);
    if (hl == 0 || hl > 16) return TR_EINVAL;
    for (size_t i = 0; i < hl; i++) {
      int ch = tolower((unsigned char)s[i]);
      if (!isxdigit(ch)) return TR_EINVAL;
      node = node << 4 | (uint64_t)(isdigit(ch) ? ch - '0' : ch - 'a' + 10);
    }
    s = colon + 1;
  }
  if (!*s) return TR_EINVAL;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return TR_EINVAL;
    uint64_t d = (uint64_t)(*s - '0');
    if (id > (UINT64_MAX - d) / 10) return TR_EINVAL;
    id = id * 10 + d;
  }
  if (id == 0) return TR_EINVAL;
  *out = (tr_ref){node, id};
  return 0;
}

/* ============================================================ endpoint */

struct tr_console {
  tr_system *sys;
  tr_cluster *c;
  tr_console_keys keys;
  tr_console_opts o;
  char name[64];
  uint64_t node;
  char url[256], pub[256];
  uint32_t interval_ms;

  nng_socket rep, pubs;
  nng_ctx ctx;
  int rep_open, pub_open, ctx_open;
  nng_aio *rep_aio, *tick_aio;
  int rep_sending;   /* rep_aio's state: its callback only */
  int tick_sending;  /* tick_aio's state: its callback only */
  int leave_pending; /* rep_aio's callback only */
  /* the leave's reply went out: 1 until the hook runs (2), when the
   * client's pipe goes or LEAVE_GRACE_MS pass, whichever is first */
  atomic_int leave_armed;
  nng_aio *leave_aio;
  atomic_int stopping;
  atomic_int draining;

  pthread_mutex_t mu; /* guard, cpu sampler */
  tr_console_guard *guard;
  uint64_t start_wall;
  tr_cpu_sampler cpu;
  uint64_t seq; /* tick_aio's callback only */

  _Atomic uint64_t st_requests, st_served, st_auth, st_stale, st_replay, st_malformed, st_size,
      st_snapshots;
};

#define COUNT(con, f) atomic_fetch_add_explicit(&(con)->f, 1, memory_order_relaxed)
#define LOAD(con, f) atomic_load_explicit(&(con)->f, memory_order_relaxed)

void tr_console_get_stats(tr_console *con, tr_console_stats *s) {
  memset(s, 0, sizeof *s);
  if (!con) return;
  s->requests = LOAD(con, st_requests);
  s->served = LOAD(con, st_served);
  s->refused_auth = LOAD(con, st_auth);
  s->refused_stale = LOAD(con, st_stale);
  s->refused_replay = LOAD(con, st_replay);
  s->refused_malformed = LOAD(con, st_malformed);
  s->refused_size = LOAD(con, st_size);
  s->snapshots = LOAD(con, st_snapshots);
}

const char *tr_console_url(const tr_console *con) { return con ? con->url : ""; }
const char *tr_console_pub_url(const tr_console *con) { return con ? con->pub : ""; }

/* ------------------------------------------------------------ this node */

/* ------------------------------------------------------------ actor lists */

enum { SORT_DEPTH = 0, SORT_PROCESSED, SORT_ID, SORT_NAME };

/* <0 when a comes before b in a listing sorted by `sort` */
static int actor_cmp(const tr_actor_info *a, const tr_actor_info *b, int sort) {
  int r = 0;
  if (sort == SORT_DEPTH)
    r = (a->mailbox_depth < b->mailbox_depth) - (a->mailbox_depth > b->mailbox_depth);
  if (sort == SORT_DEPTH || sort == SORT_PROCESSED)
    if (!r) r = (a->processed < b->processed) - (a->processed > b->processed);
  if (sort == SORT_NAME && !r) {
    const char *x = a->name[0] ? a->name : a->behavior, *y = b->name[0] ? b->name : b->behavior;
    r = strcmp(x ? x : "", y ? y : "");
  }
  if (!r) r = (a->ref.id > b->ref.id) - (a->ref.id < b->ref.id);
  return r;
}

/* The first `cap` actors of a sorted listing, in bounded memory: a sorted
 * array that new entries are inserted into, the last dropping out. */
typedef struct coll {
  tr_actor_info *v;
  size_t n, cap;
  uint64_t total; /* matching the filter */
  int sort;
  const char *kind; /* behaviour filter, or NULL */
  size_t kind_len;
} coll;

static int coll_visit(const tr_actor_info *a, void *arg) {
  coll *c = arg;
  if (c->kind) {
    const char *b = a->behavior ? a->behavior : "";
    if (strlen(b) != c->kind_len || memcmp(b, c->kind, c->kind_len) != 0) return 0;
  }
  c->total++;
  if (c->n == c->cap && (c->cap == 0 || actor_cmp(a, &c->v[c->n - 1], c->sort) >= 0)) return 0;
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (actor_cmp(&c->v[mid], a, c->sort) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (c->n == c->cap) c->n--;
  memmove(&c->v[lo + 1], &c->v[lo], (c->n - lo) * sizeof *c->v);
  c->v[lo] = *a;
  c->n++;
  return 0;
}

static int coll_run(tr_console *con, coll *c, size_t cap) {
  c->cap = cap;
  c->v = cap ? calloc(cap, sizeof *c->v) : NULL;
  if (cap && !c->v) return TR_ENOMEM;
  return tr_system_actors(con->sys, coll_visit, c);
}

static const char *actor_status_name(int s) {
  switch (s) {
    case TR_ACTOR_IDLE: return "idle";
    case TR_ACTOR_RUNNABLE: return "runnable";
    case TR_ACTOR_STOPPING: return "stopping";
    default: return "dead";
  }
}

static void pack_ref(tr_pack *pk, tr_ref r) {
  char s[48];
  snprintf(s, sizeof s, "%016llx:%llu", (unsigned long long)r.node, (unsigned long long)r.id);
  tr_pack_str(pk, s);
}

/* Ids as strings: an id is (generation << 32 | index) and may not fit a
 * JSON number exactly. */
static void pack_kv_id(tr_pack *pk, const char *key, uint64_t id) {
  char s[24];
  snprintf(s, sizeof s, "%llu", (unsigned long long)id);
  tr_pack_kv_str(pk, key, s);
}

static void pack_kv_uint(tr_pack *pk, const char *key, uint64_t v) {
  tr_pack_str(pk, key);
  tr_pack_uint(pk, v);
}

static void pack_kv_double(tr_pack *pk, const char *key, double v) {
  /* JSON has no NaN or infinity: a phi of "never heard" is clamped */
  if (!isfinite(v)) v = isnan(v) ? 0 : (v > 0 ? 1e9 : -1e9);
  tr_pack_str(pk, key);
  tr_pack_double(pk, v);
}

static void pack_kv_bool(tr_pack *pk, const char *key, int v) {
  tr_pack_str(pk, key);
  tr_pack_bool(pk, v);
}

static void pack_actor(tr_pack *pk, const tr_actor_info *a, int extra) {
  tr_pack_map(pk, 10 + extra);
  tr_pack_str(pk, "ref");
  pack_ref(pk, a->ref);
  pack_kv_id(pk, "id", a->ref.id);
  tr_pack_str(pk, "node");
  pack_hex(pk, a->ref.node);
  pack_kv_text(pk, "name", a->name, sizeof a->name);
  pack_kv_text(pk, "behavior", a->behavior, 128);
  tr_pack_kv_str(pk, "status", actor_status_name(a->status));
  pack_kv_uint(pk, "depth", a->mailbox_depth);
  pack_kv_uint(pk, "children", a->children);
  pack_kv_uint(pk, "processed", a->processed);
  tr_pack_str(pk, "parent");
  if (tr_ref_is_none(a->parent)) tr_pack_nil(pk);
  else pack_ref(pk, a->parent);
}

/* ------------------------------------------------------------ members */

static void host_name(char *out, size_t n) {
  if (gethostname(out, n) != 0 || !out[0]) snprintf(out, n, "localhost");
  out[n - 1] = 0;
}

/* This node as a member, when there is no cluster. */
static void self_member(tr_console *con, tr_member_info *m, const coll *busiest) {
  memset(m, 0, sizeof *m);
  m->node_id = con->node;
  snprintf(m->name, sizeof m->name, "%s", con->name);
  snprintf(m->console, sizeof m->console, "%s", con->url);
  m->incarnation = con->start_wall;
  m->state = TR_MEMBER_UP;
  m->self = 1;
  tr_node_status *s = &m->status;
  snprintf(s->version, sizeof s->version, "%s", tr_version());
  for (size_t i = 0; busiest && i < busiest->n && s->ntop < TR_STATUS_TOP; i++) {
    const tr_actor_info *a = &busiest->v[i];
    if (!a->mailbox_depth) break;
    s->top[s->ntop].id = a->ref.id;
    s->top[s->ntop].depth = a->mailbox_depth;
    const char *nm = a->name[0] ? a->name : (a->behavior ? a->behavior : "");
    size_t len = strnlen(nm, sizeof s->top[0].name - 1);
    memcpy(s->top[s->ntop].name, nm, len);
    s->top[s->ntop].name[len] = 0;
    s->ntop++;
  }
}

/* Every member, self first, malloc'd (caller frees); NULL on no memory.
 * This node's own figures are sampled now. */
static tr_member_info *members_get(tr_console *con, size_t *n, const coll *busiest) {
  size_t want = con->c ? tr_cluster_members(con->c, NULL, 0) + 4 : 1;
  tr_member_info *m = calloc(want, sizeof *m);
  if (!m) return NULL;
  if (con->c) {
    size_t got = tr_cluster_members(con->c, m, want);
    *n = got < want ? got : want;
  } else {
    self_member(con, m, busiest);
    *n = 1;
  }
  if (*n > 0 && m[0].self) {
    /* the heartbeat's figures are up to a second old: these are now */
    tr_node_status now;
    pthread_mutex_lock(&con->mu);
    tr_status_sample(con->sys, &con->cpu, 0, &now);
    pthread_mutex_unlock(&con->mu);
    m[0].status.cpu = now.cpu;
    m[0].status.rss = now.rss;
    m[0].status.actors = now.actors;
    m[0].status.dead_letters = now.dead_letters;
    m[0].status.uptime_ms = now.uptime_ms;
  }
  return m;
}

/* Role bits as tools/troupe/config.h names them (TR_ROLE_*). */
static void pack_roles(tr_pack *pk, uint32_t roles) {
  static const char *names[] = {"engine", "worker", "gateway"};
  uint32_t n = 0;
  for (uint32_t r = roles; r; r &= r - 1) n++;
  tr_pack_array(pk, n);
  for (int b = 0; b < 32; b++) {
    if (!(roles & (1u << b))) continue;
    if (b < 3) {
      tr_pack_str(pk, names[b]);
    } else {
      char s[16];
      snprintf(s, sizeof s, "role%d", b);
      tr_pack_str(pk, s);
    }
  }
}

static void pack_member(tr_pack *pk, const tr_member_info *m) {
  const tr_node_status *s = &m->status;
  tr_pack_map(pk, 19);
  tr_pack_str(pk, "id");
  pack_hex(pk, m->node_id);
  pack_kv_bool(pk, "draining", m->draining);
  pack_kv_text(pk, "name", m->name, sizeof m->name);
  pack_kv_text(pk, "addr", m->addr, sizeof m->addr);
  pack_kv_text(pk, "console", m->console, sizeof m->console);
  tr_pack_kv_str(pk, "state", tr_member_state_name(m->state));
  tr_pack_str(pk, "roles");
  pack_roles(pk, m->roles);
  pack_kv_uint(pk, "incarnation", m->incarnation);
  pack_kv_bool(pk, "self", m->self);
  pack_kv_double(pk, "phi", m->phi > 0 ? m->phi : 0); /* rounding gives -0.000 */
  pack_kv_uint(pk, "last_heard_ms", m->last_heard_ms);
  pack_kv_double(pk, "cpu", s->cpu);
  pack_kv_uint(pk, "rss", s->rss);
  pack_kv_uint(pk, "actors", s->actors);
  pack_kv_uint(pk, "uptime_ms", s->uptime_ms);
  pack_kv_uint(pk, "dead_letters", s->dead_letters);
  pack_kv_text(pk, "version", s->version, sizeof s->version);
  tr_pack_str(pk, "top");
  uint32_t nt = s->ntop < TR_STATUS_TOP ? s->ntop : TR_STATUS_TOP;
  tr_pack_array(pk, nt);
  for (uint32_t i = 0; i < nt; i++) {
    tr_pack_map(pk, 4);
    tr_pack_str(pk, "ref");
    pack_ref(pk, (tr_ref){m->node_id, s->top[i].id});
    pack_kv_id(pk, "id", s->top[i].id);
    pack_kv_uint(pk, "depth", s->top[i].depth);
    pack_kv_text(pk, "name", s->top[i].name, sizeof s->top[i].name);
  }
  tr_pack_str(pk, "link");
  tr_pack_map(pk, 7);
  pack_kv_uint(pk, "msgs_out", m->msgs_out);
  pack_kv_uint(pk, "msgs_in", m->msgs_in);
  pack_kv_uint(pk, "frames_out", m->frames_out);
  pack_kv_uint(pk, "frames_in", m->frames_in);
  pack_kv_uint(pk, "rejected_auth", m->rejected_auth);
  pack_kv_uint(pk, "rejected_replay", m->rejected_replay);
  pack_kv_uint(pk, "rejected_size", m->rejected_size);
}

/* ------------------------------------------------------------ commands */

typedef struct cmdctx {
  tr_console *con;
  const tr_console_req *req;
  tr_unpack args;   /* a map (possibly empty) */
  tr_pack *data;    /* the reply's data value goes here */
  char err[200];    /* a sentence when the command fails */
} cmdctx;

static int fail(cmdctx *x, int code, const char *fmt, const char *arg) {
  snprintf(x->err, sizeof x->err, fmt, arg ? arg : "");
  return code;
}

static void pack_status(tr_console *con, tr_pack *pk) {
  size_t n = 0;
  tr_member_info *m = members_get(con, &n, NULL);
  uint64_t count[TR_MEMBER_REMOVED + 1] = {0}, total_actors = 0;
  for (size_t i = 0; m && i < n; i++) {
    if (m[i].state >= TR_MEMBER_JOINING && m[i].state <= TR_MEMBER_REMOVED) count[m[i].state]++;
    if (m[i].state != TR_MEMBER_DOWN && m[i].state != TR_MEMBER_REMOVED)
      total_actors += m[i].status.actors;
  }
  const tr_member_info *self = m && n ? &m[0] : NULL;
  tr_pack_map(pk, 17);
  tr_pack_str(pk, "node");
  pack_hex(pk, con->node);
  pack_kv_text(pk, "name", self ? self->name : con->name, 64);
  tr_pack_kv_str(pk, "version", tr_version());
  tr_pack_kv_str(pk, "state", tr_member_state_name(self ? self->state : TR_MEMBER_UP));
  pack_kv_bool(pk, "draining", (self && self->draining) || atomic_load(&con->draining));
  tr_pack_kv_str(pk, "console", con->url);
  tr_pack_kv_str(pk, "pub", con->pub);
  tr_pack_kv_str(pk, "cluster", con->c ? tr_cluster_address(con->c) : "");
  pack_kv_uint(pk, "uptime_ms", self ? self->status.uptime_ms : 0);
  pack_kv_double(pk, "cpu", self ? self->status.cpu : 0);
  pack_kv_uint(pk, "rss", self ? self->status.rss : 0);
  pack_kv_uint(pk, "threads", tr_system_threads(con->sys));
  pack_kv_uint(pk, "actors", tr_system_actor_count(con->sys));
  pack_kv_uint(pk, "dead_letters", tr_system_dead_letter_count(con->sys));
  tr_pack_str(pk, "members");
  tr_pack_map(pk, 7);
  pack_kv_uint(pk, "total", m ? n : 0);
  for (int s = TR_MEMBER_JOINING; s <= TR_MEMBER_REMOVED; s++)
    pack_kv_uint(pk, tr_member_state_name(s), count[s]);
  pack_kv_uint(pk, "actors_total", total_actors);
  tr_console_stats st;
  tr_console_get_stats(con, &st);
  tr_pack_str(pk, "requests");
  tr_pack_map(pk, 7);
  pack_kv_uint(pk, "received", st.requests);
  pack_kv_uint(pk, "served", st.served);
  pack_kv_uint(pk, "refused_auth", st.refused_auth);
  pack_kv_uint(pk, "refused_stale", st.refused_stale);
  pack_kv_uint(pk, "refused_replay", st.refused_replay);
  pack_kv_uint(pk, "refused_malformed", st.refused_malformed);
  pack_kv_uint(pk, "refused_size", st.refused_size);
  free(m);
}

static int cmd_status(cmdctx *x) {
  pack_status(x->con, x->data);
  return 0;
}

static int cmd_nodes(cmdctx *x) {
  size_t n = 0;
  tr_member_info *m = members_get(x->con, &n, NULL);
  if (!m) return TR_ENOMEM;
  tr_pack_map(x->data, 1);
  tr_pack_str(x->data, "nodes");
  tr_pack_array(x->data, (uint32_t)n);
  for (size_t i = 0; i < n; i++) pack_member(x->data, &m[i]);
  free(m);
  return 0;
}

/* An optional string argument; TR_ENOENT if absent. */
static int arg_str(cmdctx *x, const char *key, char *buf, size_t cap) {
  const char *s;
  size_t n;
  int rc = tr_unpack_find_str(&x->args, key, &s, &n);
  if (rc == TR_ENOENT) return rc;
  if (rc < 0 || n >= cap || memchr(s, 0, n))
    return fail(x, TR_EINVAL, "argument '%s' must be a short string", key);
  memcpy(buf, s, n);
  buf[n] = 0;
  return 0;
}

static int cmd_actors(cmdctx *x) {
  char kind[128], sort[16];
  coll c = {.sort = SORT_DEPTH};
  int rc = arg_str(x, "kind", kind, sizeof kind);
  if (rc == 0) {
    c.kind = kind;
    c.kind_len = strlen(kind);
  } else if (rc != TR_ENOENT) {
    return rc;
  }
  rc = arg_str(x, "sort", sort, sizeof sort);
  if (rc == 0) {
    if (!strcmp(sort, "depth")) c.sort = SORT_DEPTH;
    else if (!strcmp(sort, "processed")) c.sort = SORT_PROCESSED;
    else if (!strcmp(sort, "id")) c.sort = SORT_ID;
    else if (!strcmp(sort, "name")) c.sort = SORT_NAME;
    else return fail(x, TR_EINVAL, "unknown sort '%s' (depth, processed, id, name)", sort);
  } else if (rc != TR_ENOENT) {
    return rc;
  }
  uint64_t limit = 0;
  rc = tr_unpack_find_uint(&x->args, "limit", &limit);
  if (rc < 0 && rc != TR_ENOENT) return fail(x, TR_EINVAL, "limit must be a count", NULL);
  size_t cap = limit && limit < TR_CONSOLE_LIST_MAX ? (size_t)limit : TR_CONSOLE_LIST_MAX;
  if ((rc = coll_run(x->con, &c, cap)) < 0) {
    free(c.v);
    return rc;
  }
  tr_pack *pk = x->data;
  tr_pack_map(pk, 4);
  tr_pack_str(pk, "node");
  pack_hex(pk, x->con->node);
  pack_kv_uint(pk, "total", c.total);
  pack_kv_bool(pk, "truncated", c.total > c.n && (!limit || limit > TR_CONSOLE_LIST_MAX));
  tr_pack_str(pk, "actors");
  tr_pack_array(pk, (uint32_t)c.n);
  for (size_t i = 0; i < c.n; i++) pack_actor(pk, &c.v[i], 0);
  free(c.v);
  return 0;
}

/* The actor named by args.target: a ref ("ID", "NODE:ID") or a registered
 * name. A ref of another node is refused: ask that node's console. */
static int resolve(cmdctx *x, tr_ref *ref, tr_actor_info *info) {
  char t[256];
  int rc = arg_str(x, "target", t, sizeof t);
  if (rc == TR_ENOENT) return fail(x, TR_EINVAL, "missing argument 'target'", NULL);
  if (rc < 0) return rc;
  tr_console *con = x->con;
  if (tr_console_parse_ref(t, ref) == 0) {
    if (ref->node == 0) ref->node = con->node;
    if (ref->node != con->node)
      return fail(x, TR_ENOENT, "actor %.100s lives on another node: ask that node's console", t);
    if (tr_system_actor_info(con->sys, *ref, info) == 0) return 0;
  }
  /* not a ref, or no such actor: maybe a registered name */
  if (tr_registry_lookup(con->sys, t, ref) == 0 && tr_system_actor_info(con->sys, *ref, info) == 0)
    return 0;
  return fail(x, TR_ENOENT, "no actor '%.100s' on this node", t);
}

static int cmd_actor(cmdctx *x) {
  tr_ref ref;
  tr_actor_info a, p;
  int rc = resolve(x, &ref, &a);
  if (rc < 0) return rc;
  int has_parent =
      !tr_ref_is_none(a.parent) && tr_system_actor_info(x->con->sys, a.parent, &p) == 0;
  pack_actor(x->data, &a, 2);
  pack_kv_text(x->data, "parent_behavior", has_parent ? p.behavior : "", 128);
  pack_kv_bool(x->data, "supervised",
               has_parent && p.behavior && !strcmp(p.behavior, tr_supervisor_behavior.name));
  return 0;
}

static int cmd_stop(cmdctx *x) {
  tr_ref ref;
  tr_actor_info a;
  int rc = resolve(x, &ref, &a);
  if (rc < 0) return rc;
  if ((rc = tr_system_stop(x->con->sys, ref)) < 0) return rc;
  tr_pack_map(x->data, 2);
  tr_pack_str(x->data, "stopped");
  pack_ref(x->data, ref);
  pack_kv_text(x->data, "behavior", a.behavior, 128);
  return 0;
}

/* Restart = an exit its supervisor sees as abnormal. The runtime offers
 * exit signals only from inside an actor (tr_actor_exit_signal), so a
 * throwaway actor sends TR_EXIT_KILLED (which cannot be trapped) from its
 * init and exits at once.
 * TODO(runtime): with a system-level call, as tr_system_stop is for stop,
 *   int tr_system_exit_signal(tr_system *sys, tr_ref who, int reason);
 * this becomes one line and no actor is spawned. */
static int killer_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)state;
  tr_actor_exit_signal(ctx, *(const tr_ref *)arg, TR_EXIT_KILLED);
  return TR_STOP;
}
static int killer_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)ctx, (void)state, (void)msg;
  return TR_STOP;
}
static const tr_behavior killer = {.name = "console-restart", .init = killer_init,
                                   .receive = killer_receive};

static int cmd_restart(cmdctx *x) {
  tr_ref ref;
  tr_actor_info a, p;
  int rc = resolve(x, &ref, &a);
  if (rc < 0) return rc;
  if (tr_ref_is_none(a.parent) || tr_system_actor_info(x->con->sys, a.parent, &p) < 0 ||
      !p.behavior || strcmp(p.behavior, tr_supervisor_behavior.name))
    return fail(x, TR_ENOTSUP, "%.100s has no supervisor to restart it (use stop)", a.behavior);
  if ((rc = tr_system_spawn(x->con->sys, &killer, &ref, NULL, NULL)) < 0) return rc;
  tr_pack_map(x->data, 3);
  tr_pack_str(x->data, "restarted");
  pack_ref(x->data, ref);
  tr_pack_str(x->data, "supervisor");
  pack_ref(x->data, a.parent);
  pack_kv_text(x->data, "behavior", a.behavior, 128);
  return 0;
}

static int cmd_leave(cmdctx *x) {
  tr_console *con = x->con;
  if (!con->o.leave) return fail(x, TR_ENOTSUP, "this node cannot leave from the console", NULL);
  con->leave_pending = 1; /* the hook runs once the reply has gone out */
  tr_pack_map(x->data, 1);
  pack_kv_bool(x->data, "leaving", 1);
  return 0;
}

static int cmd_drain(cmdctx *x) {
  tr_console *con = x->con;
  int on = 1;
  int rc = tr_unpack_find_bool(&x->args, "on", &on);
  if (rc < 0 && rc != TR_ENOENT) return fail(x, TR_EINVAL, "argument 'on' must be a boolean", NULL);
  if (!con->o.drain) return fail(x, TR_ENOTSUP, "this node cannot drain from the console", NULL);
  con->o.drain(con->o.arg, on);
  atomic_store(&con->draining, on);
  tr_pack_map(x->data, 1);
  pack_kv_bool(x->data, "draining", on);
  return 0;
}

static int cmd_events(cmdctx *x) {
  return tr_console_events(x->con->sys, &x->args, x->data, x->err, sizeof x->err);
}

static const struct {
  const char *name;
  int (*run)(cmdctx *x);
} commands[] = {
    {"status", cmd_status}, {"nodes", cmd_nodes}, {"actors", cmd_actors},
    {"actor", cmd_actor},   {"stop", cmd_stop},   {"restart", cmd_restart},
    {"leave", cmd_leave},   {"drain", cmd_drain},   {"events", cmd_events},
};

/* One request p[0..n) from the network in, one reply into out. */
static void handle(tr_console *con, const uint8_t *p, size_t n, tr_pack *out) {
  COUNT(con, st_requests);
  tr_console_req req;
  int rc = tr_console_request_open(&con->keys, p, n, &req);
  const char *why = NULL;
  int auth = 0;
  if (rc == TR_ETOOBIG) {
    COUNT(con, st_size);
    why = "request too large";
  } else if (rc == TR_EPERM) {
    COUNT(con, st_auth);
    why = "authentication failed: the request is not signed with this node's admin key";
    auth = 1;
  } else if (rc == TR_EVERSION) {
    COUNT(con, st_malformed);
    why = "unsupported console protocol version";
  } else if (rc < 0) {
    COUNT(con, st_malformed);
    why = "malformed request";
  }
  if (why) {
    reply_build(&con->keys, con->node, NULL, rc, auth, why, NULL, 0, out);
    return;
  }
  pthread_mutex_lock(&con->mu);
  rc = tr_console_guard_check(con->guard, req.ts_ms, req.nonce, wall_ms());
  pthread_mutex_unlock(&con->mu);
  if (rc < 0) {
    if (rc == TR_EEXIST) COUNT(con, st_replay);
    else COUNT(con, st_stale);
    why = rc == TR_EEXIST ? "authentication failed: replayed request (nonce already seen)"
                          : "authentication failed: request timestamp is more than 60 s away "
                            "from the node's clock";
    reply_build(&con->keys, con->node, &req, rc, 1, why, NULL, 0, out);
    return;
  }
  cmdctx x = {.con = con, .req = &req};
  static const uint8_t empty_map = 0x80;
  tr_unpack_init(&x.args, req.args ? req.args : &empty_map, req.args ? req.args_len : 1);
  rc = TR_EINVAL;
  int found = 0;
  tr_pack data = TR_PACK_INIT;
  data.max = TR_CONSOLE_MSG_MAX - 4096; /* room for the envelope and MAC */
  x.data = &data;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, req.cmd)) {
      found = 1;
      COUNT(con, st_served);
      rc = commands[i].run(&x);
      break;
    }
  if (!found) {
    COUNT(con, st_malformed);
    fail(&x, TR_EINVAL, "unknown command '%s'", req.cmd);
  }
  if (rc == 0 && data.err) {
    rc = data.err;
    snprintf(x.err, sizeof x.err, "reply too large: %s", tr_strerror(rc));
  }
  if (rc < 0 && !x.err[0]) snprintf(x.err, sizeof x.err, "%s", tr_strerror(rc));
  if (rc < 0) reply_build(&con->keys, con->node, &req, rc, 0, x.err, NULL, 0, out);
  else reply_build(&con->keys, con->node, &req, 0, 0, NULL, data.data, data.len, out);
  tr_pack_free(&data);
}

/* ------------------------------------------------------------ sockets */

static int closed(int rv) { return rv == NNG_ECLOSED || rv == NNG_ECANCELED; }

/* A sent reply is only queued to the pipe: had the node gone at once, it
 * could close the connection before the bytes left, and troupectl leave
 * saw "Connection reset". So the hook waits for the client to hang up
 * (it has its reply then), or for LEAVE_GRACE_MS. */
enum { LEAVE_GRACE_MS = 1000 };

static void leave_now(tr_console *con) {
  int armed = 1;
  if (atomic_compare_exchange_strong(&con->leave_armed, &armed, 2)) con->o.leave(con->o.arg);
}

static void leave_timer_cb(void *arg) {
  tr_console *con = arg;
  if (nng_aio_result(con->leave_aio) == 0 && !atomic_load(&con->stopping)) leave_now(con);
}

static void pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg) {
  (void)p, (void)ev;
  tr_console *con = arg;
  if (!atomic_load(&con->stopping)) leave_now(con);
}

static void rep_cb(void *arg) {
  tr_console *con = arg;
  nng_aio *aio = con->rep_aio;
  int rv = nng_aio_result(aio);
  if (con->rep_sending) { /* a reply went out (or not) */
    con->rep_sending = 0;
    if (rv != 0) nng_msg_free(nng_aio_get_msg(aio));
    if (con->leave_pending) {
      con->leave_pending = 0;
      atomic_store(&con->leave_armed, 1);
      nng_sleep_aio(LEAVE_GRACE_MS, con->leave_aio);
    }
  } else if (rv == 0) { /* a request came in */
    nng_msg *m = nng_aio_get_msg(aio);
    tr_pack out = TR_PACK_INIT;
    handle(con, nng_msg_body(m), nng_msg_len(m), &out);
    nng_msg_free(m);
    nng_msg *r = NULL;
    if (!out.err && nng_msg_alloc(&r, out.len) == 0) {
      memcpy(nng_msg_body(r), out.data, out.len);
      tr_pack_free(&out);
      nng_aio_set_msg(aio, r);
      con->rep_sending = 1;
      nng_ctx_send(con->ctx, aio);
      return;
    }
    tr_pack_free(&out); /* no memory for a reply: the client times out */
    con->leave_pending = 0;
  }
  if (closed(rv) || atomic_load(&con->stopping)) return;
  nng_ctx_recv(con->ctx, aio);
}

/* The sealed snapshot, as an nng message; NULL on no memory. */
static nng_msg *snapshot(tr_console *con) {
  coll busiest = {.sort = SORT_DEPTH};
  coll_run(con, &busiest, SNAP_ACTORS);
  size_t n = 0;
  tr_member_info *m = members_get(con, &n, &busiest);
  tr_pack pk = TR_PACK_INIT;
  pk.max = TR_CONSOLE_MSG_MAX - TR_CONSOLE_SEAL_OVERHEAD;
  tr_pack_map(&pk, 7);
  tr_pack_kv_int(&pk, "v", TR_CONSOLE_VERSION);
  pack_kv_uint(&pk, "seq", ++con->seq);
  pack_kv_uint(&pk, "ts", wall_ms());
  tr_pack_str(&pk, "node");
  pack_hex(&pk, con->node);
  tr_pack_str(&pk, "status");
  pack_status(con, &pk);
  tr_pack_str(&pk, "nodes");
  tr_pack_array(&pk, (uint32_t)(m ? n : 0));
  for (size_t i = 0; m && i < n; i++) pack_member(&pk, &m[i]);
  tr_pack_str(&pk, "actors");
  tr_pack_array(&pk, (uint32_t)busiest.n);
  for (size_t i = 0; i < busiest.n; i++) pack_actor(&pk, &busiest.v[i], 0);
  free(m);
  free(busiest.v);
  nng_msg *msg = NULL;
  if (!pk.err && nng_msg_alloc(&msg, pk.len + TR_CONSOLE_SEAL_OVERHEAD) == 0) {
    uint8_t *b = nng_msg_body(msg);
    randombytes_buf(b, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, pk.data, pk.len, b, con->keys.stream);
  }
  tr_pack_free(&pk);
  return msg;
}

static void tick_cb(void *arg) {
  tr_console *con = arg;
  nng_aio *aio = con->tick_aio;
  int rv = nng_aio_result(aio);
  if (con->tick_sending) { /* a snapshot went out */
    con->tick_sending = 0;
    if (rv != 0) nng_msg_free(nng_aio_get_msg(aio));
    else COUNT(con, st_snapshots);
  } else if (rv == 0 && !atomic_load(&con->stopping)) { /* time for one */
    nng_msg *m = snapshot(con);
    if (m) {
      nng_aio_set_msg(aio, m);
      con->tick_sending = 1;
      nng_send_aio(con->pubs, aio); /* pub0 never waits for subscribers */
      return;
    }
  }
  if (closed(rv) || atomic_load(&con->stopping)) return;
  nng_sleep_aio((nng_duration)con->interval_ms, aio);
}

/* Splits a tcp URL into the part before the port and the port; -1 if it
 * is not tcp://host:port. */
static int tcp_port(const char *url, size_t *prefix) {
  if (strncmp(url, "tcp://", 6) && strncmp(url, "tcp4://", 7) && strncmp(url, "tcp6://", 7))
    return -1;
  const char *c = strrchr(url, ':');
  if (!c || c < strstr(url, "://") + 3 || !c[1]) return -1;
  long port = 0;
  for (const char *p = c + 1; *p; p++) {
    if (!isdigit((unsigned char)*p) || port > 65535) return -1;
    port = port * 10 + (*p - '0');
  }
  if (port > 65535) return -1;
  *prefix = (size_t)(c - url);
  return (int)port;
}

static int derive_pub(const char *url, char *out, size_t n) {
  size_t pre;
  int port = tcp_port(url, &pre);
  int w;
  if (port >= 0) {
    if (port == 65535) return TR_EINVAL;
    w = snprintf(out, n, "%.*s:%d", (int)pre, url, port ? port + 1 : 0);
  } else if (!strncmp(url, "ipc://", 6)) {
    w = snprintf(out, n, "%s.pub", url);
  } else {
    return TR_EINVAL; /* other transports: say where with opts.pub */
  }
  return w > 0 && (size_t)w < n ? 0 : TR_EINVAL;
}

/* Listens on url; writes the dialable URL (bound port) to out. */
static int listen_on(nng_socket s, const char *url, char *out, size_t n) {
  nng_listener l;
  size_t max = TR_CONSOLE_MSG_MAX;
  if (nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, max) != 0) return TR_EIO;
  int rv = nng_listen(s, url, &l, 0);
  if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL) return TR_EINVAL;
  if (rv != 0) return TR_EIO;
  size_t pre;
  int port = tcp_port(url, &pre), bound = 0;
  if (port == 0 && nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &bound) == 0 && bound > 0)
    snprintf(out, n, "%.*s:%d", (int)pre, url, bound);
  else
    snprintf(out, n, "%s", url);
  return 0;
}

void tr_console_stop(tr_console *con) {
  if (!con) return;
  atomic_store(&con->stopping, 1);
  /* aios first: each stop waits for a running callback and cancels what
   * is pending (the callback frees a message it had in flight) */
  if (con->rep_aio) nng_aio_stop(con->rep_aio);
  if (con->tick_aio) nng_aio_stop(con->tick_aio);
  if (con->leave_aio) nng_aio_stop(con->leave_aio);
  nng_aio_free(con->rep_aio);
  nng_aio_free(con->tick_aio);
  nng_aio_free(con->leave_aio);
  if (con->ctx_open) nng_ctx_close(con->ctx);
  if (con->rep_open) nng_close(con->rep);
  if (con->pub_open) nng_close(con->pubs);
  tr_console_guard_free(con->guard);
  tr_console_keys_clear(&con->keys);
  pthread_mutex_destroy(&con->mu);
  free(con);
}

int tr_console_start(tr_system *sys, tr_cluster *c, const tr_identity *id, const char *url,
                     const tr_console_opts *o, tr_console **out) {
  if (!sys || !id || !url || !out || strlen(url) >= 200) return TR_EINVAL;
  *out = NULL;
  tr_console *con = calloc(1, sizeof *con);
  if (!con) return TR_ENOMEM;
  pthread_mutex_init(&con->mu, NULL);
  con->sys = sys;
  con->c = c;
  if (o) con->o = *o;
  con->o.pub = con->o.name = NULL; /* copied below; not kept */
  con->interval_ms = o && o->interval_ms ? o->interval_ms : 1000;
  con->node = tr_system_node_id(sys);
  con->start_wall = wall_ms();
  if (o && o->name) snprintf(con->name, sizeof con->name, "%s", o->name);
  else host_name(con->name, sizeof con->name);
  tr_console_keys_derive(id->admin, &con->keys);
  char pub[256];
  int rc = 0;
  if (!(con->guard = tr_console_guard_new())) rc = TR_ENOMEM;
  if (rc == 0 && o && o->pub) rc = strlen(o->pub) < sizeof pub ? 0 : TR_EINVAL;
  if (rc == 0) {
    if (o && o->pub) snprintf(pub, sizeof pub, "%s", o->pub);
    else rc = derive_pub(url, pub, sizeof pub);
  }
  if (rc == 0 && nng_rep0_open(&con->rep) != 0) rc = TR_EIO;
  if (rc == 0) {
    con->rep_open = 1;
    rc = listen_on(con->rep, url, con->url, sizeof con->url);
  }
  if (rc == 0 && nng_pub0_open(&con->pubs) != 0) rc = TR_EIO;
  if (rc == 0) {
    con->pub_open = 1;
    rc = listen_on(con->pubs, pub, con->pub, sizeof con->pub);
  }
  if (rc == 0 && nng_ctx_open(&con->ctx, con->rep) != 0) rc = TR_EIO;
  if (rc == 0) con->ctx_open = 1;
  if (rc == 0 && (nng_aio_alloc(&con->rep_aio, rep_cb, con) != 0 ||
                  nng_aio_alloc(&con->tick_aio, tick_cb, con) != 0 ||
                  nng_aio_alloc(&con->leave_aio, leave_timer_cb, con) != 0))
    rc = TR_ENOMEM;
  if (rc == 0 && nng_pipe_notify(con->rep, NNG_PIPE_EV_REM_POST, pipe_gone, con) != 0) rc = TR_EIO;
  if (rc < 0) {
    tr_console_stop(con);
    return rc;
  }
  tr_node_status first; /* the CPU figure is per interval: start one */
  tr_status_sample(sys, &con->cpu, 0, &first);
  nng_ctx_recv(con->ctx, con->rep_aio);
  nng_sleep_aio((nng_duration)con->interval_ms, con->tick_aio);
  *out = con;
  return 0;
}
