/* client.h - a small blocking HTTP/1.1 client for the server's tests:
 * raw bytes out (whole or a byte at a time), one response in (Content-Length,
 * chunked, or up to the close). Waits are bounded by a deadline, a liveness
 * bound only. */
#ifndef TR_TEST_HTTP_CLIENT_H
#define TR_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct hc_resp {
  int status;        /* 0: no response (closed or timed out first) */
  char head[8192];   /* status line and headers, NUL-terminated */
  char *body;        /* malloc'd, NUL-terminated; free with hc_free */
  size_t body_len;
  int closed;        /* the server closed the connection after it */
} hc_resp;

typedef struct hc_conn {
  int fd;
  char buf[65536 + 1]; /* one more for a NUL after the data */
  size_t len;        /* bytes in buf not yet consumed */
  int eof;
  int wait_ms;
} hc_conn;

static inline uint64_t hc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline int hc_connect(hc_conn *c, int port, int wait_ms) {
  memset(c, 0, sizeof *c);
  c->wait_ms = wait_ms;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  return 0;
}

static inline void hc_close(hc_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

static inline int hc_send(hc_conn *c, const void *p, size_t n) {
  const char *s = p;
  while (n) {
    ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    s += k, n -= (size_t)k;
  }
  return 0;
}

static inline int hc_send_str(hc_conn *c, const char *s) { return hc_send(c, s, strlen(s)); }

/* one write per byte, each a separate segment (TCP_NODELAY is on the
 * server side; here a short pause lets each go out alone) */
static inline int hc_send_bytewise(hc_conn *c, const char *s) {
  for (; *s; s++) {
    if (hc_send(c, s, 1) < 0) return -1;
    usleep(200);
  }
  return 0;
}

/* More bytes into buf; 0 on data, -1 on EOF, error or deadline. */
static inline int hc_fill(hc_conn *c, uint64_t deadline) {
  if (c->eof || c->len == sizeof c->buf - 1) return -1;
  for (;;) {
    uint64_t now = hc_now();
    if (now >= deadline) return -1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, (int)(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      c->eof = 1;
      return -1;
    }
    c->len += (size_t)k;
    return 0;
  }
}

static inline void hc_take(hc_conn *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

static inline void hc_body_add(hc_resp *r, const char *p, size_t n) {
  r->body = realloc(r->body, r->body_len + n + 1);
  memcpy(r->body + r->body_len, p, n);
  r->body_len += n;
  r->body[r->body_len] = 0;
}

/* A header's value in r->head (case-insensitive name), copied into out. */
static inline const char *hc_header(const hc_resp *r, const char *name, char *out, size_t cap) {
  size_t n = strlen(name);
  for (const char *l = strstr(r->head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (!strncasecmp(h, name, n) && h[n] == ':') {
      h += n + 1;
      while (*h == ' ') h++;
      const char *e = strstr(h, "\r\n");
      size_t len = e ? (size_t)(e - h) : strlen(h);
      if (len >= cap) len = cap - 1;
      memcpy(out, h, len);
      out[len] = 0;
      return out;
    }
  }
  return NULL;
}

/* Reads one response (skipping 100 Continue if skip_1xx). head_only: a
 * response to HEAD (no body whatever the headers say). */
static inline int hc_read(hc_conn *c, hc_resp *r, int head_only) {
  memset(r, 0, sizeof *r);
  uint64_t deadline = hc_now() + (uint64_t)c->wait_ms;
  char *end;
  for (;;) {
    c->buf[c->len] = 0;
    if ((end = strstr(c->buf, "\r\n\r\n")) != NULL) break;
    if (hc_fill(c, deadline) < 0) {
      r->closed = c->eof;
      return -1;
    }
  }
  size_t hl = (size_t)(end - c->buf) + 4;
  if (hl >= sizeof r->head) return -1;
  memcpy(r->head, c->buf, hl);
  r->head[hl] = 0;
  hc_take(c, hl);
  if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) return -1;
  char v[64];
  r->body = calloc(1, 1);
  int nobody = head_only || r->status == 204 || r->status == 304 || r->status < 200;
  if (nobody) {
  } else if (hc_header(r, "content-length", v, sizeof v)) {
    size_t want = strtoul(v, NULL, 10);
    while (c->len < want && c->len < sizeof c->buf - 1)
      if (hc_fill(c, deadline) < 0) return -1;
    if (c->len < want) return -1;
    hc_body_add(r, c->buf, want);
    hc_take(c, want);
  } else if (hc_header(r, "transfer-encoding", v, sizeof v)) {
    for (;;) { /* size line, data, CRLF; 0 ends (no trailers here) */
      char *nl;
      while (c->buf[c->len] = 0, !(nl = strstr(c->buf, "\r\n")))
        if (hc_fill(c, deadline) < 0) return -1;
      size_t sz = strtoul(c->buf, NULL, 16);
      size_t at = (size_t)(nl - c->buf) + 2;
      while (c->len < at + sz + 2)
        if (hc_fill(c, deadline) < 0) return -1;
      hc_body_add(r, c->buf + at, sz);
      hc_take(c, at + sz + 2);
      if (!sz) break;
    }
  } else { /* up to the close */
    while (hc_fill(c, deadline) == 0) {
    }
    hc_body_add(r, c->buf, c->len);
    hc_take(c, c->len);
  }
  if (hc_header(r, "connection", v, sizeof v) && !strcasecmp(v, "close")) {
    /* the server must close now: see the EOF */
    while (hc_fill(c, deadline) == 0) {
    }
    r->closed = c->eof;
  }
  return 0;
}

/* Whether the server closes the connection (EOF, or a reset) with no
 * bytes first, within the wait. */
static inline int hc_expect_eof(hc_conn *c) {
  uint64_t deadline = hc_now() + (uint64_t)c->wait_ms;
  while (hc_fill(c, deadline) == 0) {
  }
  return c->eof && c->len == 0;
}

static inline void hc_free(hc_resp *r) {
  free(r->body);
  r->body = NULL;
}

#endif
