/* client.c - see client.h. Requests are synchronous (a command-line tool
 * waits anyway); timeouts bound every wait. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int say(char *err, size_t n, int code, const char *fmt, ...) {
  if (err && n) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return code;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tc_key_load(const char *path, uint8_t key[32], char *err, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return say(err, n, TC_EXIT_AUTH,
               "cannot read the admin key %s: %s (use --key FILE or TROUPE_ADMIN_KEY_FILE)",
               path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return say(err, n, TC_EXIT_AUTH, "the admin key %s is not a regular file", path);
  }
  if (st.st_mode & 077) {
    close(fd);
    return say(err, n, TC_EXIT_AUTH,
               "the admin key %s is readable by others (mode %03o): chmod 600 it", path,
               (unsigned)(st.st_mode & 0777));
  }
  char line[256];
  ssize_t got = read(fd, line, sizeof line - 1);
  close(fd);
  size_t len = got > 0 ? (size_t)got : 0;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
  size_t bin = 0;
  int rc = sodium_base642bin(key, 32, line, len, NULL, &bin, NULL, sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(line, sizeof line);
  if (rc != 0 || bin != 32)
    return say(err, n, TC_EXIT_AUTH, "the admin key %s is not a base64 key of 32 bytes", path);
  return TC_EXIT_OK;
}

/* Options every client socket gets; 0 or an nng error. */
static int socket_opts(nng_socket s, uint32_t timeout_ms) {
  int rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, TR_CONSOLE_MSG_MAX);
  if (!rv) rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
  if (!rv) rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
  if (!rv) rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
  if (!rv) rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 500);
  return rv;
}

static int dial(nng_socket s, const char *url, char *err, size_t n) {
  /* not blocking: a send then waits (up to its timeout) for a connection,
   * so an unreachable node costs the timeout, never longer */
  int rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
  if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL)
    return say(err, n, TC_EXIT_USAGE, "bad node URL '%s': %s", url, nng_strerror(rv));
  if (rv != 0) return say(err, n, TC_EXIT_UNREACHABLE, "cannot dial %s: %s", url, nng_strerror(rv));
  return TC_EXIT_OK;
}

int tc_open(tc_client *c, const char *url, const uint8_t admin[32], uint32_t timeout_ms,
            char *err, size_t n) {
  memset(c, 0, sizeof *c);
  c->timeout_ms = timeout_ms ? timeout_ms : TC_TIMEOUT_MS;
  snprintf(c->url, sizeof c->url, "%s", url);
  tr_console_keys_derive(admin, &c->keys);
  int rv = nng_req0_open(&c->s);
  if (rv) return say(err, n, TC_EXIT_FAILED, "cannot open a socket: %s", nng_strerror(rv));
  c->open = 1;
  /* a resent request would be refused as a replay: never resend */
  rv = socket_opts(c->s, c->timeout_ms);
  if (!rv) rv = nng_socket_set_ms(c->s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
  if (rv) {
    tc_close(c);
    return say(err, n, TC_EXIT_FAILED, "cannot set up a socket: %s", nng_strerror(rv));
  }
  int ex = dial(c->s, url, err, n);
  if (ex != TC_EXIT_OK) tc_close(c);
  return ex;
}

void tc_close(tc_client *c) {
  if (c->open) nng_close(c->s);
  c->open = 0;
  tr_console_keys_clear(&c->keys);
}

void tc_result_free(tc_result *res) {
  if (res->raw) nng_free(res->raw, res->raw_len);
  res->raw = NULL;
  res->raw_len = 0;
}

/* Is this reply to be believed, and what did it say? */
static int judge(tc_client *c, const uint8_t *nonce, tc_result *res) {
  tr_console_reply *r = &res->r;
  if (tr_console_reply_open(&c->keys, res->raw, res->raw_len, r) < 0)
    return say(res->err, sizeof res->err, TC_EXIT_FAILED,
               "malformed reply from %s: is it a troupe console?", c->url);
  if (!r->authentic) {
    if (r->auth)
      return say(res->err, sizeof res->err, TC_EXIT_AUTH,
                 "the node at %s refused our admin key (%s): use the admin.key of its data dir",
                 c->url, r->error);
    return say(res->err, sizeof res->err, TC_EXIT_AUTH,
               "the reply from %s is not signed with our admin key: the node holds another key",
               c->url);
  }
  if (nonce && (r->has_nonce ? memcmp(r->nonce, nonce, TR_CONSOLE_NONCE) != 0 : r->ok))
    return say(res->err, sizeof res->err, TC_EXIT_AUTH,
               "the reply from %s does not answer our request", c->url);
  if (!r->ok)
    return say(res->err, sizeof res->err, r->auth ? TC_EXIT_AUTH : TC_EXIT_FAILED, "%s: %s",
               c->url, r->error[0] ? r->error : tr_strerror(r->code));
  return TC_EXIT_OK;
}

int tc_call_raw(tc_client *c, const void *req, size_t len, const uint8_t *nonce,
                tc_result *res) {
  memset(res, 0, sizeof *res);
  nng_msg *m;
  if (nng_msg_alloc(&m, len) != 0)
    return say(res->err, sizeof res->err, TC_EXIT_FAILED, "out of memory");
  memcpy(nng_msg_body(m), req, len);
  int rv = nng_sendmsg(c->s, m, 0);
  if (rv) {
    nng_msg_free(m);
    return say(res->err, sizeof res->err, TC_EXIT_UNREACHABLE,
               "cannot reach the console at %s within %u ms: is the node running, and its "
               "console listening there?",
               c->url, c->timeout_ms);
  }
  nng_msg *r;
  rv = nng_recvmsg(c->s, &r, 0);
  if (rv)
    return say(res->err, sizeof res->err, TC_EXIT_UNREACHABLE, "no reply from %s within %u ms: %s",
               c->url, c->timeout_ms, nng_strerror(rv));
  res->raw_len = nng_msg_len(r);
  res->raw = nng_alloc(res->raw_len ? res->raw_len : 1);
  if (res->raw) memcpy(res->raw, nng_msg_body(r), res->raw_len);
  nng_msg_free(r);
  if (!res->raw) return say(res->err, sizeof res->err, TC_EXIT_FAILED, "out of memory");
  return judge(c, nonce, res);
}

int tc_call(tc_client *c, const char *cmd, const void *args, size_t args_len, tc_result *res) {
  memset(res, 0, sizeof *res);
  uint8_t nonce[TR_CONSOLE_NONCE];
  randombytes_buf(nonce, sizeof nonce);
  tr_pack pk = TR_PACK_INIT;
  int rc = tr_console_request_build(&c->keys, cmd, args, args_len, wall_ms(), nonce, &pk);
  if (rc < 0) {
    tr_pack_free(&pk);
    return say(res->err, sizeof res->err, TC_EXIT_USAGE, "cannot build a '%s' request: %s", cmd,
               tr_strerror(rc));
  }
  int ex = tc_call_raw(c, pk.data, pk.len, nonce, res);
  tr_pack_free(&pk);
  return ex;
}

/* ------------------------------------------------------------ stream */

int tc_sub_open(tc_sub *s, const char *url, const uint8_t admin[32], char *err, size_t n) {
  memset(s, 0, sizeof *s);
  tr_console_keys_derive(admin, &s->keys);
  int rv = nng_sub0_open(&s->s);
  if (rv) return say(err, n, TC_EXIT_FAILED, "cannot open a socket: %s", nng_strerror(rv));
  s->open = 1;
  rv = socket_opts(s->s, TC_TIMEOUT_MS);
  if (!rv) rv = nng_socket_set(s->s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
  if (rv) {
    tc_sub_close(s);
    return say(err, n, TC_EXIT_FAILED, "cannot set up a socket: %s", nng_strerror(rv));
  }
  int ex = dial(s->s, url, err, n);
  if (ex != TC_EXIT_OK) tc_sub_close(s);
  return ex;
}

int tc_sub_next(tc_sub *s, uint32_t timeout_ms, uint8_t **out, size_t *len, char *err,
                size_t n) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint64_t start = (uint64_t)t0.tv_sec * 1000u + (uint64_t)t0.tv_nsec / 1000000u, now = start;
  while (now < start + timeout_ms) {
    nng_socket_set_ms(s->s, NNG_OPT_RECVTIMEO, (nng_duration)(start + timeout_ms - now));
    nng_msg *m;
    int rv = nng_recvmsg(s->s, &m, 0);
    if (rv == NNG_ETIMEDOUT) break;
    if (rv) return say(err, n, TC_EXIT_UNREACHABLE, "snapshot stream: %s", nng_strerror(rv));
    size_t ml = nng_msg_len(m), pl = 0;
    uint8_t *p = malloc(ml ? ml : 1);
    int rc = p ? tr_console_snapshot_open(&s->keys, nng_msg_body(m), ml, p, ml, &pl) : TR_ENOMEM;
    nng_msg_free(m);
    uint64_t seq = 0;
    tr_unpack u;
    tr_unpack_init(&u, p, pl);
    /* sealed by a key holder, and newer than what we showed: an old
     * snapshot sent again is dropped */
    if (rc == 0 && tr_unpack_find_uint(&u, "seq", &seq) == 0 && seq > s->last_seq) {
      s->last_seq = seq;
      *out = p;
      *len = pl;
      return TC_EXIT_OK;
    }
    if (rc == TR_EPERM || rc == TR_EPROTO) s->refused++;
    free(p);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    now = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
  }
  if (s->refused)
    return say(err, n, TC_EXIT_AUTH,
               "%llu snapshots arrived but none opens with our admin key: the node holds "
               "another key",
               (unsigned long long)s->refused);
  return say(err, n, TC_EXIT_UNREACHABLE, "no snapshot within %u ms", timeout_ms);
}

void tc_sub_close(tc_sub *s) {
  if (s->open) nng_close(s->s);
  s->open = 0;
  tr_console_keys_clear(&s->keys);
}

/* ------------------------------------------------------------ helpers */

json_t *tc_json(const void *mp, size_t len) {
  tr_pack out = TR_PACK_INIT;
  json_t *j = NULL;
  if (tr_json_from_msgpack(mp, len, NULL, &out, NULL, 0) == 0) {
    json_error_t e;
    j = json_loadb((const char *)out.data, out.len, JSON_DECODE_ANY, &e);
  }
  tr_pack_free(&out);
  return j;
}

/* "tcp://host:port" -> the part before ":port"; 0 if not tcp. */
static size_t tcp_host_end(const char *url) {
  if (strncmp(url, "tcp://", 6) && strncmp(url, "tcp4://", 7) && strncmp(url, "tcp6://", 7))
    return 0;
  const char *c = strrchr(url, ':');
  return c && c > strstr(url, "://") + 2 ? (size_t)(c - url) : 0;
}

void tc_stream_url(const char *node_url, const char *pub, char *out, size_t n) {
  size_t h = tcp_host_end(node_url), p = tcp_host_end(pub);
  if (h && p) snprintf(out, n, "%.*s%s", (int)h, node_url, pub + p);
  else snprintf(out, n, "%s", pub);
}
