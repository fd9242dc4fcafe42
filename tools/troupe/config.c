/* config.c - see config.h. One table of settings feeds all three sources,
 * so a name and its validation are written once. Every loader works on a
 * copy and commits it only on success, so a bad layer changes nothing. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "troupe/troupe.h"

extern char **environ;

enum { K_DATA_DIR, K_THREADS, K_LOG_LEVEL, K_ROLES, K_NODE_NAME, K_CLUSTER_LISTEN,
       K_CONSOLE_LISTEN, K_HTTP_LISTEN, K_SEEDS, K_DURABILITY, K_MAP_LIMIT, K_HTTP_AUTH,
       K_HTTP_HEADER_TIMEOUT, K_HTTP_BODY_TIMEOUT, K_HTTP_IDLE_TIMEOUT, K_HTTP_MAX_BODY,
       K_HTTP_DRAIN, K_COUNT };

static const char *const key_names[K_COUNT] = {
    "data_dir",     "threads",        "log_level", "roles",      "node_name", "cluster_listen",
    "console_listen", "http_listen", "seeds",     "durability", "map_limit", "http_auth",
    "http_header_timeout_ms", "http_body_timeout_ms", "http_idle_timeout_ms", "http_max_body",
    "http_drain_ms"};
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const role_names[] = {"engine", "worker", "gateway"};

static void say(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

/* YAML accepts data-dir as well as data_dir; env and flags map onto these */
static int key_lookup(const char *name) {
  char k[32];
  size_t i = 0;
  for (; name[i] && i < sizeof k - 1; i++) k[i] = name[i] == '-' ? '_' : name[i];
  if (name[i]) return -1;
  k[i] = 0;
  for (int id = 0; id < K_COUNT; id++)
    if (strcmp(k, key_names[id]) == 0) return id;
  return -1;
}

void tr_node_config_defaults(tr_node_config *c) {
  memset(c, 0, sizeof *c);
  strcpy(c->data_dir, "troupe-data");
  c->log_level = TR_LOG_INFO;
  c->roles = TR_ROLE_ALL;
  if (gethostname(c->node_name, sizeof c->node_name) != 0 || !c->node_name[0])
    strcpy(c->node_name, "troupe");
  c->node_name[sizeof c->node_name - 1] = 0; /* gethostname may truncate without a NUL */
  strcpy(c->cluster_listen, "tcp://127.0.0.1:7400");
  strcpy(c->console_listen, "tcp://127.0.0.1:7401");
  strcpy(c->http_listen, "127.0.0.1:8080");
  c->durability = TR_DURABLE_SYNC;
  c->map_limit = (uint64_t)32 << 30;
  c->http_header_timeout_ms = 10000;
  c->http_body_timeout_ms = 30000;
  c->http_idle_timeout_ms = 60000;
  c->http_max_body = 1u << 20;
  c->http_drain_ms = 10000;
}

/* ---- values: each check writes "wants ..." into msg for the caller to prefix */

static int copy_str(char *dst, size_t cap, const char *s, char *msg, size_t n) {
  size_t len = strlen(s);
  if (!len) return say(msg, n, "wants a value"), TR_EINVAL;
  if (len >= cap) return say(msg, n, "is longer than %zu bytes", cap - 1), TR_EINVAL;
  for (size_t i = 0; i < len; i++) /* no newlines or escapes: printed values stay one line */
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return say(msg, n, "holds a control character"), TR_EINVAL;
  memcpy(dst, s, len + 1);
  return 0;
}

static int parse_u64(const char *s, uint64_t *v) {
  if (*s < '0' || *s > '9') return -1;
  uint64_t x = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return -1;
    x = x * 10 + (uint64_t)(*s - '0');
  }
  *v = x;
  return *s ? -1 : 0;
}

/* "12", "512K", "64M", "1G", "2T" (powers of 1024) */
static int parse_size(const char *s, uint64_t *v) {
  static const char suf[] = "KMGTkmgt";
  char digits[32];
  size_t len = strlen(s), shift = 0;
  if (!len || len >= sizeof digits) return -1;
  memcpy(digits, s, len + 1);
  const char *p = strchr(suf, digits[len - 1]);
  if (p && *p) {
    shift = 10 * (size_t)((p - suf) % 4 + 1);
    digits[len - 1] = 0;
  }
  uint64_t x;
  if (parse_u64(digits, &x) < 0 || x > (UINT64_MAX >> shift)) return -1;
  *v = x << shift;
  return 0;
}

/* host:port with a non-empty host ([v6] allowed), port min..65535 */
static int check_hostport(const char *s, unsigned min_port) {
  const char *colon = strrchr(s, ':');
  uint64_t port;
  if (!colon || colon == s || parse_u64(colon + 1, &port) < 0 || port < min_port || port > 65535)
    return -1;
  if (s[0] == '[') return colon[-1] == ']' && colon - s > 2 ? 0 : -1;
  return memchr(s, ':', (size_t)(colon - s)) ? -1 : 0;
}

/* the nng URLs the cluster uses: tcp://host:port, or ipc://path on one host */
static int check_url(const char *s, unsigned min_port) {
  if (strncmp(s, "tcp://", 6) == 0) return check_hostport(s + 6, min_port);
  if (strncmp(s, "ipc://", 6) == 0) return s[6] ? 0 : -1;
  return -1;
}

static int set_url(char *dst, const char *s, unsigned min_port, char *msg, size_t n) {
  char tmp[TR_CFG_ADDR_MAX];
  int rc = copy_str(tmp, sizeof tmp, s, msg, n);
  if (rc) return rc;
  if (check_url(tmp, min_port) < 0)
    return say(msg, n, "wants tcp://host:port or ipc://path, not '%s'", s), TR_EINVAL;
  strcpy(dst, tmp);
  return 0;
}

/* trims spaces so "a, b" works; returns the item in buf */
static const char *trim(const char *s, size_t len, char *buf, size_t cap) {
  while (len && *s == ' ') s++, len--;
  while (len && s[len - 1] == ' ') len--;
  if (len >= cap) len = cap - 1;
  memcpy(buf, s, len);
  buf[len] = 0;
  return buf;
}

static int add_seed(tr_node_config *c, const char *s, char *msg, size_t n) {
  if (c->nseeds >= TR_CFG_SEEDS_MAX)
    return say(msg, n, "holds more than %d seeds", TR_CFG_SEEDS_MAX), TR_EINVAL;
  int rc = set_url(c->seeds[c->nseeds], s, 1, msg, n);
  if (rc == 0) c->nseeds++;
  return rc;
}

static int role_bit(const char *s, unsigned *mask, char *msg, size_t n) {
  if (strcmp(s, "all") == 0) return *mask |= TR_ROLE_ALL, 0;
  for (int i = 0; i < 3; i++)
    if (strcmp(s, role_names[i]) == 0) return *mask |= 1u << i, 0;
  return say(msg, n, "wants engine, worker, gateway or all, not '%s'", s), TR_EINVAL;
}

/* each comma-separated item of s: a role into *mask, or (mask NULL) a seed */
static int each_item(tr_node_config *c, const char *s, unsigned *mask, char *msg, size_t n) {
  char item[TR_CFG_ADDR_MAX];
  for (;;) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len >= sizeof item) return say(msg, n, "has an item over %zu bytes", sizeof item - 1), TR_EINVAL;
    trim(s, len, item, sizeof item);
    if (!item[0]) return say(msg, n, "has an empty item"), TR_EINVAL;
    int rc = mask ? role_bit(item, mask, msg, n) : add_seed(c, item, msg, n);
    if (rc) return rc;
    if (!comma) return 0;
    s = comma + 1;
  }
}

static int set_value(tr_node_config *c, int id, const char *v, char *msg, size_t n) {
  uint64_t x;
  switch (id) {
  case K_DATA_DIR:
    return copy_str(c->data_dir, sizeof c->data_dir, v, msg, n);
  case K_THREADS:
    if (parse_u64(v, &x) < 0 || x > 64)
      return say(msg, n, "wants a number from 0 (one per core) to 64, not '%s'", v), TR_EINVAL;
    c->threads = (uint32_t)x;
    return 0;
  case K_LOG_LEVEL:
    for (int i = 0; i < 4; i++)
      if (strcmp(v, level_names[i]) == 0) return c->log_level = TR_LOG_DEBUG + i, 0;
    return say(msg, n, "wants debug, info, warn or error, not '%s'", v), TR_EINVAL;
  case K_ROLES: {
    unsigned mask = 0;
    int rc = each_item(c, v, &mask, msg, n);
    if (rc == 0) c->roles = mask;
    return rc;
  }
  case K_NODE_NAME: {
    size_t len = strlen(v);
    if (!len || len >= sizeof c->node_name || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                        "0123456789._-") != len)
      return say(msg, n, "wants 1 to 63 of A-Z a-z 0-9 . _ -, not '%s'", v), TR_EINVAL;
    memcpy(c->node_name, v, len + 1);
    return 0;
  }
  case K_CLUSTER_LISTEN: /* port 0: any free port, for tests */
    return set_url(c->cluster_listen, v, 0, msg, n);
  case K_CONSOLE_LISTEN:
    return set_url(c->console_listen, v, 0, msg, n);
  case K_HTTP_LISTEN: {
    char tmp[TR_CFG_ADDR_MAX];
    int rc = copy_str(tmp, sizeof tmp, v, msg, n);
    if (rc == 0 && check_hostport(tmp, 0) < 0)
      rc = TR_EINVAL, say(msg, n, "wants host:port, not '%s'", v);
    if (rc == 0) strcpy(c->http_listen, tmp);
    return rc;
  }
  case K_SEEDS:
    c->nseeds = 0;
    return each_item(c, v, NULL, msg, n);
  case K_DURABILITY:
    if (strcmp(v, "sync") == 0) return c->durability = TR_DURABLE_SYNC, 0;
    if (strcmp(v, "nosync") == 0) return c->durability = TR_DURABLE_NOSYNC, 0;
    return say(msg, n, "wants sync or nosync, not '%s'", v), TR_EINVAL;
  case K_MAP_LIMIT:
    /* below 1 MiB LMDB cannot hold even its own pages usefully */
    if (parse_size(v, &x) < 0 || x < (1u << 20))
      return say(msg, n, "wants a size of at least 1M (suffix K, M, G or T), not '%s'", v),
             TR_EINVAL;
    c->map_limit = x;
    return 0;
  case K_HTTP_AUTH: /* "none", "bearer:TOKEN" or "basic:USER:PASSWORD" */
    if (!strcmp(v, "none")) return c->http_auth[0] = 0, 0;
    if ((!strncmp(v, "bearer:", 7) && v[7]) ||
        (!strncmp(v, "basic:", 6) && strchr(v + 6, ':') && v[6] != ':'))
      return copy_str(c->http_auth, sizeof c->http_auth, v, msg, n);
    return say(msg, n, "wants none, bearer:TOKEN or basic:USER:PASSWORD"), TR_EINVAL;
  case K_HTTP_HEADER_TIMEOUT:
  case K_HTTP_BODY_TIMEOUT:
  case K_HTTP_IDLE_TIMEOUT:
  case K_HTTP_DRAIN: {
    /* a day is far beyond any sensible HTTP timeout; 0 would mean "default"
     * deeper down, which a reader of the config would not expect */
    if (parse_u64(v, &x) < 0 || x < 1 || x > 86400000u)
      return say(msg, n, "wants milliseconds from 1 to 86400000, not '%s'", v), TR_EINVAL;
    uint32_t *t = id == K_HTTP_HEADER_TIMEOUT ? &c->http_header_timeout_ms
                  : id == K_HTTP_BODY_TIMEOUT ? &c->http_body_timeout_ms
                  : id == K_HTTP_IDLE_TIMEOUT ? &c->http_idle_timeout_ms
                                              : &c->http_drain_ms;
    *t = (uint32_t)x;
    return 0;
  }
  case K_HTTP_MAX_BODY:
    if (parse_size(v, &x) < 0 || x < 1 || x > ((uint64_t)1 << 30))
      return say(msg, n, "wants a size from 1 to 1G (suffix K, M or G), not '%s'", v), TR_EINVAL;
    c->http_max_body = x;
    return 0;
  }
  return TR_EINVAL;
}

/* ---- YAML: read events one at a time so nesting, anchors and aliases are
 * refused at the first sign, before libyaml builds anything large */

typedef struct {
  yaml_parser_t p;
  yaml_event_t ev;
  int have; /* ev holds an event to delete */
  const char *path;
  char *err;
  size_t n;
} yreader;

static int yfail(yreader *r, int rc, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  say(r->err, r->n, "%s:%zu:%zu: %s", r->path, (size_t)r->ev.start_mark.line + 1,
      (size_t)r->ev.start_mark.column + 1, msg);
  return rc;
}

static int ynext(yreader *r) {
  if (r->have) yaml_event_delete(&r->ev);
  r->have = 0;
  if (!yaml_parser_parse(&r->p, &r->ev)) {
    char ctx[160] = ""; /* where the broken construct began, often far above */
    if (r->p.context)
      snprintf(ctx, sizeof ctx, " (%s at %zu:%zu)", r->p.context,
               (size_t)r->p.context_mark.line + 1, (size_t)r->p.context_mark.column + 1);
    if (r->p.error == YAML_READER_ERROR) /* bad encoding: libyaml knows only the offset */
      return say(r->err, r->n, "%s: byte %zu: not valid YAML: %s", r->path,
                 (size_t)r->p.problem_offset, r->p.problem ? r->p.problem : "bad encoding"),
             TR_EPROTO;
    say(r->err, r->n, "%s:%zu:%zu: not valid YAML: %s%s", r->path,
        (size_t)r->p.problem_mark.line + 1, (size_t)r->p.problem_mark.column + 1,
        r->p.problem ? r->p.problem : "parse error", ctx);
    return TR_EPROTO;
  }
  r->have = 1;
  const yaml_event_t *e = &r->ev;
  if (e->type == YAML_ALIAS_EVENT ||
      (e->type == YAML_SCALAR_EVENT && e->data.scalar.anchor) ||
      (e->type == YAML_SEQUENCE_START_EVENT && e->data.sequence_start.anchor) ||
      (e->type == YAML_MAPPING_START_EVENT && e->data.mapping_start.anchor))
    return yfail(r, TR_EPROTO, "anchors and aliases are not allowed");
  return 0;
}

static int is_null(const yaml_event_t *e) {
  const char *v = (const char *)e->data.scalar.value;
  return e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

/* the value of key id, starting at the current event */
static int yvalue(yreader *r, tr_node_config *c, int id) {
  char msg[400];
  const char *key = key_names[id];
  int rc;
  if (r->ev.type == YAML_SCALAR_EVENT) {
    const char *v = (const char *)r->ev.data.scalar.value;
    if (id == K_SEEDS) return yfail(r, TR_EINVAL, "seeds: wants a list of addresses");
    if (is_null(&r->ev)) return yfail(r, TR_EINVAL, "%s: wants a value", key);
    if ((id == K_THREADS || id == K_MAP_LIMIT || id == K_HTTP_HEADER_TIMEOUT ||
         id == K_HTTP_BODY_TIMEOUT || id == K_HTTP_IDLE_TIMEOUT || id == K_HTTP_MAX_BODY ||
         id == K_HTTP_DRAIN) &&
        r->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
      return yfail(r, TR_EINVAL, "%s: wants a number, not a quoted string", key);
    if (strlen(v) != r->ev.data.scalar.length) return yfail(r, TR_EINVAL, "%s: holds a NUL", key);
    if ((rc = set_value(c, id, v, msg, sizeof msg))) return yfail(r, rc, "%s %s", key, msg);
    return 0;
  }
  if (r->ev.type != YAML_SEQUENCE_START_EVENT || (id != K_ROLES && id != K_SEEDS))
    return yfail(r, TR_EINVAL, "%s: wants a %s", key,
                 id == K_ROLES ? "list or a string" : id == K_SEEDS ? "list" : "single value");
  unsigned mask = 0;
  c->nseeds = id == K_SEEDS ? 0 : c->nseeds;
  for (;;) {
    if ((rc = ynext(r))) return rc;
    if (r->ev.type == YAML_SEQUENCE_END_EVENT) break;
    if (r->ev.type != YAML_SCALAR_EVENT || is_null(&r->ev))
      return yfail(r, TR_EINVAL, "%s: wants a list of strings", key);
    const char *v = (const char *)r->ev.data.scalar.value;
    rc = id == K_ROLES ? role_bit(v, &mask, msg, sizeof msg) : add_seed(c, v, msg, sizeof msg);
    if (rc) return yfail(r, rc, "%s %s", key, msg);
  }
  if (id == K_ROLES) {
    if (!mask) return yfail(r, TR_EINVAL, "roles: wants at least one role");
    c->roles = mask;
  }
  return 0;
}

static int yparse(yreader *r, tr_node_config *c) {
  int rc;
  unsigned seen = 0;
  if ((rc = ynext(r)) || (rc = ynext(r))) return rc; /* stream start, then: */
  if (r->ev.type == YAML_STREAM_END_EVENT) return 0;   /* empty or only comments */
  if ((rc = ynext(r))) return rc;                      /* after document start */
  if (r->ev.type != YAML_MAPPING_START_EVENT)
    return yfail(r, TR_EPROTO, "wants a mapping of settings at the top");
  for (;;) {
    if ((rc = ynext(r))) return rc;
    if (r->ev.type == YAML_MAPPING_END_EVENT) break;
    if (r->ev.type != YAML_SCALAR_EVENT) return yfail(r, TR_EINVAL, "wants a setting name");
    int id = key_lookup((const char *)r->ev.data.scalar.value);
    if (id < 0)
      return yfail(r, TR_EINVAL, "unknown setting '%.64s'", (const char *)r->ev.data.scalar.value);
    if (seen & (1u << id)) return yfail(r, TR_EINVAL, "%s is set twice", key_names[id]);
    seen |= 1u << id;
    if ((rc = ynext(r)) || (rc = yvalue(r, c, id))) return rc;
  }
  if ((rc = ynext(r)) || (rc = ynext(r))) return rc; /* document end, then: */
  if (r->ev.type != YAML_STREAM_END_EVENT)
    return yfail(r, TR_EPROTO, "wants one document, found another");
  return 0;
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    say(err, n, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? TR_ENOENT : TR_EIO;
  }
  char *buf = malloc(TR_CFG_FILE_MAX + 1);
  if (!buf) return fclose(f), TR_ENOMEM;
  /* one byte more than allowed tells "too big" from "exactly the limit" */
  size_t got = fread(buf, 1, TR_CFG_FILE_MAX + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || got > TR_CFG_FILE_MAX) {
    free(buf);
    if (bad) return say(err, n, "%s: read error", path), TR_EIO;
    return say(err, n, "%s: larger than %d bytes", path, TR_CFG_FILE_MAX), TR_ETOOBIG;
  }
  *out = buf;
  *len = got;
  return 0;
}

int tr_node_config_load_yaml(tr_node_config *c, const char *path, char *err, size_t errlen) {
  if (!c || !path) return say(err, errlen, "no configuration file"), TR_EINVAL;
  if (strlen(path) >= sizeof c->config_path) return say(err, errlen, "path too long"), TR_EINVAL;
  char *buf;
  size_t len;
  int rc = read_file(path, &buf, &len, err, errlen);
  if (rc) return rc;
  tr_node_config *w = malloc(sizeof *w);
  yreader r = {.path = path, .err = err, .n = errlen};
  if (!w || !yaml_parser_initialize(&r.p)) {
    free(w);
    free(buf);
    return say(err, errlen, "out of memory"), TR_ENOMEM;
  }
  *w = *c;
  yaml_parser_set_input_string(&r.p, (const unsigned char *)buf, len);
  rc = yparse(&r, w);
  if (r.have) yaml_event_delete(&r.ev);
  yaml_parser_delete(&r.p);
  if (rc == 0) {
    strcpy(w->config_path, path);
    *c = *w;
  }
  free(w);
  free(buf);
  return rc;
}

/* ---- environment */

static const char *env_get(char *const *envp, const char *name) {
  size_t len = strlen(name);
  for (; envp && *envp; envp++)
    if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=') return *envp + len + 1;
  return NULL;
}

int tr_node_config_load_env(tr_node_config *c, char *const *envp, char *err, size_t errlen) {
  if (!envp) envp = environ;
  tr_node_config *w = malloc(sizeof *w);
  if (!w) return say(err, errlen, "out of memory"), TR_ENOMEM;
  *w = *c;
  char name[48], msg[400];
  int rc = 0;
  for (int id = 0; id < K_COUNT && rc == 0; id++) {
    size_t i = 0;
    i += (size_t)snprintf(name, sizeof name, "TROUPE_");
    for (const char *k = key_names[id]; *k; k++) name[i++] = (char)(*k - (*k >= 'a' ? 32 : 0));
    name[i] = 0;
    const char *v = env_get(envp, name);
    /* empty counts as unset: templates (compose, helm) often leave it so */
    if (v && *v && (rc = set_value(w, id, v, msg, sizeof msg)))
      say(err, errlen, "%s %s", name, msg);
  }
  const char *path = env_get(envp, "TROUPE_CONFIG");
  if (rc == 0 && path && *path)
    if ((rc = copy_str(w->config_path, sizeof w->config_path, path, msg, sizeof msg)))
      say(err, errlen, "TROUPE_CONFIG %s", msg);
  if (rc == 0) *c = *w;
  free(w);
  return rc;
}

/* ---- flags */

enum { OPT_CONFIG = 1000, OPT_JSON, OPT_KEY = 2000 /* + K_* */ };

/* the first K_COUNT entries are in K_* order, so longs[id] names a setting's flag */
static const struct option longs[] = {
    {"data-dir", required_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 't'},
    {"log-level", required_argument, NULL, 'l'},
    {"roles", required_argument, NULL, OPT_KEY + K_ROLES},
    {"node-name", required_argument, NULL, OPT_KEY + K_NODE_NAME},
    {"cluster-listen", required_argument, NULL, OPT_KEY + K_CLUSTER_LISTEN},
    {"console-listen", required_argument, NULL, OPT_KEY + K_CONSOLE_LISTEN},
    {"http-listen", required_argument, NULL, OPT_KEY + K_HTTP_LISTEN},
    {"seed", required_argument, NULL, OPT_KEY + K_SEEDS},
    {"durability", required_argument, NULL, OPT_KEY + K_DURABILITY},
    {"map-limit", required_argument, NULL, OPT_KEY + K_MAP_LIMIT},
    {"http-auth", required_argument, NULL, OPT_KEY + K_HTTP_AUTH},
    {"http-header-timeout-ms", required_argument, NULL, OPT_KEY + K_HTTP_HEADER_TIMEOUT},
    {"http-body-timeout-ms", required_argument, NULL, OPT_KEY + K_HTTP_BODY_TIMEOUT},
    {"http-idle-timeout-ms", required_argument, NULL, OPT_KEY + K_HTTP_IDLE_TIMEOUT},
    {"http-max-body", required_argument, NULL, OPT_KEY + K_HTTP_MAX_BODY},
    {"http-drain-ms", required_argument, NULL, OPT_KEY + K_HTTP_DRAIN},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

void tr_node_config_usage(FILE *f) {
  fprintf(f,
          "usage: troupe [options] [command]\n"
          "\n"
          "With no command, starts a node. Commands: init, config.\n"
          "Settings come from defaults < --config FILE (or TROUPE_CONFIG) < TROUPE_*\n"
          "environment variables < these flags.\n"
          "\n"
          "options:\n"
          "  -d, --data-dir DIR        data directory (default: ./troupe-data)\n"
          "  -t, --threads N           scheduler threads, 0 = one per core (default: 0)\n"
          "  -l, --log-level L         debug, info, warn or error (default: info)\n"
          "      --roles R,...         engine, worker, gateway or all (default: all)\n"
          "      --node-name NAME      this node's name (default: the host name)\n"
          "      --cluster-listen URL  node-to-node (default: tcp://127.0.0.1:7400)\n"
          "      --console-listen URL  admin console (default: tcp://127.0.0.1:7401)\n"
          "      --http-listen H:P     HTTP (default: 127.0.0.1:8080)\n"
          "      --http-auth A         none, bearer:TOKEN or basic:USER:PASSWORD (default:\n"
          "                            none; prefer TROUPE_HTTP_AUTH or the file: flags\n"
          "                            are visible to every user of the host)\n"
          "      --http-header-timeout-ms MS  request headers (default: 10000)\n"
          "      --http-body-timeout-ms MS    request body (default: 30000)\n"
          "      --http-idle-timeout-ms MS    idle keep-alive connection (default: 60000)\n"
          "      --http-max-body SIZE  largest request body (default: 1M)\n"
          "      --http-drain-ms MS    on stop, time for requests in flight (default: 10000)\n"
          "      --seed URL            a node to join through; repeat for more\n"
          "      --durability D        sync or nosync (default: sync)\n"
          "      --map-limit SIZE      most the store may grow to, e.g. 64G (default: 32G)\n"
          "      --config FILE         YAML file with the same settings\n"
          "      --json                `troupe config` prints JSON\n"
          "  -h, --help                this text\n"
          "  -V, --version             print the version and exit\n");
}

static int parse_into(tr_node_config *c, int argc, char **argv, int *cmd, char *err, size_t n) {
  char msg[400];
  int opt, seeded = 0, rc;
  optind = 0; /* glibc: 0 re-initialises fully, so repeated calls (tests, resolve) work */
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":d:t:l:hV", longs, NULL)) != -1) {
    int id = opt == 'd' ? K_DATA_DIR : opt == 't' ? K_THREADS : opt == 'l' ? K_LOG_LEVEL
                                                                            : opt - OPT_KEY;
    switch (opt) {
    case 'h':
      return TR_CFG_HELP;
    case 'V':
      return TR_CFG_VERSION;
    case OPT_JSON:
      c->json = 1;
      break;
    case OPT_CONFIG:
      if ((rc = copy_str(c->config_path, sizeof c->config_path, optarg, msg, sizeof msg)))
        return say(err, n, "--config %s", msg), rc;
      break;
    case ':':
      return say(err, n, "option '%s' needs a value", argv[optind - 1]), TR_EINVAL;
    case '?':
      if (strncmp(argv[optind - 1], "--", 2) != 0)
        return say(err, n, "unknown option '-%c'", optopt), TR_EINVAL;
      if (optopt) /* a known long option given a value it does not take */
        return say(err, n, "option '%s' takes no value", argv[optind - 1]), TR_EINVAL;
      return say(err, n, "unknown option '%s'", argv[optind - 1]), TR_EINVAL;
    default:
      if (id == K_SEEDS) { /* the first --seed replaces the list, later ones add */
        if (!seeded++) c->nseeds = 0;
        rc = each_item(c, optarg, NULL, msg, sizeof msg);
      } else {
        rc = set_value(c, id, optarg, msg, sizeof msg);
      }
      if (rc) return say(err, n, "--%s %s", longs[id].name, msg), rc;
    }
  }
  if (cmd) *cmd = optind < argc ? optind : -1;
  return 0;
}

int tr_node_config_parse_args(tr_node_config *c, int argc, char **argv, int *command_index,
                              char *err, size_t errlen) {
  if (command_index) *command_index = -1;
  tr_node_config *w = malloc(sizeof *w);
  if (!w) return say(err, errlen, "out of memory"), TR_ENOMEM;
  *w = *c;
  int rc = parse_into(w, argc, argv, command_index, err, errlen);
  if (rc == 0) *c = *w;
  free(w);
  return rc;
}

int tr_node_config_resolve(tr_node_config *c, int argc, char **argv, char *const *envp,
                           int *command_index, char *err, size_t errlen) {
  if (!envp) envp = environ;
  tr_node_config *w = malloc(sizeof *w);
  if (!w) return say(err, errlen, "out of memory"), TR_ENOMEM;
  /* a first pass finds --config (and refuses bad flags before any file is
   * read); the second applies the flags over the file and the environment */
  tr_node_config_defaults(w);
  int rc = tr_node_config_parse_args(w, argc, argv, command_index, err, errlen);
  char path[TR_CFG_PATH_MAX];
  const char *env_path = env_get(envp, "TROUPE_CONFIG");
  snprintf(path, sizeof path, "%s", w->config_path[0] ? w->config_path : env_path ? env_path : "");
  if (rc == 0) {
    tr_node_config_defaults(w);
    if (path[0]) rc = tr_node_config_load_yaml(w, path, err, errlen);
  }
  if (rc == 0) rc = tr_node_config_load_env(w, envp, err, errlen);
  if (rc == 0) rc = tr_node_config_parse_args(w, argc, argv, command_index, err, errlen);
  if (rc == 0) {
    snprintf(w->config_path, sizeof w->config_path, "%s", path); /* the file actually read */
    *c = *w;
  }
  free(w);
  return rc;
}

/* ---- printing */

/* values hold no control characters (copy_str), so escaping " and \ is
 * enough for both YAML double-quoted scalars and JSON strings */
static void put_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void put_size(FILE *f, uint64_t v) {
  static const char suf[] = "TGMK";
  for (int i = 0; i < 4; i++) {
    unsigned shift = 10u * (unsigned)(4 - i);
    if (v && (v & ((1ull << shift) - 1)) == 0) {
      fprintf(f, "%llu%c", (unsigned long long)(v >> shift), suf[i]);
      return;
    }
  }
  fprintf(f, "%llu", (unsigned long long)v);
}

void tr_node_config_print(const tr_node_config *c, FILE *f, int json) {
  const char *sep = json ? ",\n  " : "\n", *colon = json ? "\": " : ": ";
  const char *open = json ? "\"" : "";
  const char *level = c->log_level >= 0 && c->log_level < 4 ? level_names[c->log_level] : "info";
  if (json) fputs("{\n  ", f);
  else if (c->config_path[0]) fprintf(f, "# troupe configuration (file: %s)\n", c->config_path);
  else fputs("# troupe configuration\n", f);
#define KEY(k) fprintf(f, "%s%s%s", open, k, colon)
  KEY("data_dir"), put_str(f, c->data_dir), fputs(sep, f);
  KEY("threads"), fprintf(f, "%u%s", c->threads, sep);
  KEY("log_level"), put_str(f, level), fputs(sep, f);
  KEY("roles"), fputc('[', f);
  for (int i = 0, first = 1; i < 3; i++)
    if (c->roles & (1u << i)) fprintf(f, "%s\"%s\"", first ? "" : ", ", role_names[i]), first = 0;
  fprintf(f, "]%s", sep);
  KEY("node_name"), put_str(f, c->node_name), fputs(sep, f);
  KEY("cluster_listen"), put_str(f, c->cluster_listen), fputs(sep, f);
  KEY("console_listen"), put_str(f, c->console_listen), fputs(sep, f);
  KEY("http_listen"), put_str(f, c->http_listen), fputs(sep, f);
  /* the secret is never printed; "<hidden>" does not load back, so a
   * printed config fed back in fails loudly instead of dropping auth */
  KEY("http_auth"), put_str(f, c->http_auth[0] ? "<hidden>" : "none"), fputs(sep, f);
  KEY("http_header_timeout_ms"), fprintf(f, "%u%s", c->http_header_timeout_ms, sep);
  KEY("http_body_timeout_ms"), fprintf(f, "%u%s", c->http_body_timeout_ms, sep);
  KEY("http_idle_timeout_ms"), fprintf(f, "%u%s", c->http_idle_timeout_ms, sep);
  KEY("http_max_body");
  if (json) fprintf(f, "%llu", (unsigned long long)c->http_max_body);
  else put_size(f, c->http_max_body);
  fputs(sep, f);
  KEY("http_drain_ms"), fprintf(f, "%u%s", c->http_drain_ms, sep);
  KEY("seeds"), fputc('[', f);
  for (uint32_t i = 0; i < c->nseeds && i < TR_CFG_SEEDS_MAX; i++)
    fputs(i ? ", " : "", f), put_str(f, c->seeds[i]);
  fprintf(f, "]%s", sep);
  KEY("durability"), put_str(f, c->durability == TR_DURABLE_NOSYNC ? "nosync" : "sync");
  fputs(sep, f);
  KEY("map_limit");
  if (json) fprintf(f, "%llu\n}\n", (unsigned long long)c->map_limit);
  else put_size(f, c->map_limit), fputc('\n', f);
#undef KEY
}
