/* wsc.h - a small blocking WebSocket client for the tests, on client.h:
 * the handshake, frames out (masked or not, any opcode and FIN, so that
 * tests can send what a good client would not) and frames in (servers do
 * not mask). Waits are bounded by the connection's wait_ms. */
#ifndef TR_TEST_WSC_H
#define TR_TEST_WSC_H

#include "client.h"

/* Sends the handshake for path (with extra header lines, each ending in
 * \r\n, or NULL) and reads the answer's head; the status (101 when
 * accepted) or -1. */
static inline int ws_open(hc_conn *c, const char *path, const char *extra) {
  char req[2048];
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           path, extra ? extra : "");
  if (hc_send_str(c, req) < 0) return -1;
  hc_resp r;
  int rc = hc_read(c, &r, 1);
  int st = rc < 0 ? -1 : r.status;
  hc_free(&r);
  return st;
}

/* One frame into out (caller's, >= len + 14 bytes); its length. */
static inline size_t ws_frame(uint8_t *out, int fin, int opcode, int masked, const void *data,
                              size_t len) {
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  uint8_t m = masked ? 0x80 : 0;
  if (len < 126) {
    out[n++] = (uint8_t)(m | len);
  } else if (len < 65536) {
    out[n++] = m | 126;
    out[n++] = (uint8_t)(len >> 8), out[n++] = (uint8_t)len;
  } else {
    out[n++] = m | 127;
    for (int i = 7; i >= 0; i--) out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) memcpy(out + n, key, 4), n += 4;
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++) out[n + i] = masked ? p[i] ^ key[i & 3] : p[i];
  return n + len;
}

static inline int ws_send(hc_conn *c, int fin, int opcode, int masked, const void *data,
                          size_t len) {
  uint8_t *f = malloc(len + 14);
  size_t n = ws_frame(f, fin, opcode, masked, data, len);
  int rc = hc_send(c, f, n);
  free(f);
  return rc;
}

static inline int ws_send_text(hc_conn *c, const char *s) {
  return ws_send(c, 1, 1, 1, s, strlen(s));
}

/* The next frame: opcode and FIN, payload into *data (malloc'd, NUL-
 * terminated; free it). 0, or -1 on EOF or the deadline. */
static inline int ws_recv(hc_conn *c, int *opcode, int *fin, char **data, size_t *len) {
  uint64_t deadline = hc_now() + (uint64_t)c->wait_ms;
  for (;;) {
    if (c->len >= 2) {
      const uint8_t *b = (const uint8_t *)c->buf;
      size_t hl = 2, pl = b[1] & 0x7f;
      if (pl == 126) hl = 4;
      if (pl == 127) hl = 10;
      if (c->len >= hl) {
        if (pl == 126) pl = (size_t)b[2] << 8 | b[3];
        if (pl == 127) {
          pl = 0;
          for (int i = 0; i < 8; i++) pl = pl << 8 | b[2 + i];
        }
        if (c->len >= hl + pl) {
          *opcode = b[0] & 0x0f;
          *fin = b[0] >> 7;
          *data = malloc(pl + 1);
          memcpy(*data, c->buf + hl, pl);
          (*data)[pl] = 0;
          *len = pl;
          hc_take(c, hl + pl);
          return 0;
        }
      }
    }
    if (hc_fill(c, deadline) < 0) return -1;
  }
}

/* The next data message's text (skipping pings), or NULL; free it. */
static inline char *ws_recv_text(hc_conn *c) {
  int op, fin;
  char *d;
  size_t n;
  while (ws_recv(c, &op, &fin, &d, &n) == 0) {
    if (op == 1 || op == 2 || op == 8) {
      if (op == 8) {
        free(d);
        return NULL;
      }
      return d;
    }
    free(d);
  }
  return NULL;
}

#endif
