/* auth.c - optional bearer-token or basic authentication of the routes
 * that are not public. Comparisons run in constant time (sodium_memcmp on
 * equal lengths) so that a client cannot learn the secret byte by byte. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "actors/http/internal.h"

static int same(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return 0;
  return sodium_memcmp(a, b, alen) == 0;
}

int tr_http_auth_check(const tr_http_server *srv, const tr_http_request *req, char *challenge,
                       size_t cap) {
  if (!srv->bearer && !srv->basic) return 0;
  size_t len = 0;
  const char *v = tr_http_request_header(req, "authorization", &len);
  if (v) {
    if (srv->bearer && len > 7 && !strncasecmp(v, "Bearer ", 7)) {
      const char *t = v + 7;
      size_t tlen = len - 7;
      while (tlen && *t == ' ') t++, tlen--;
      if (same(t, tlen, srv->bearer)) return 0;
    }
    if (srv->basic && len > 6 && !strncasecmp(v, "Basic ", 6)) {
      char dec[512];
      size_t dlen = 0;
      const char *b64 = v + 6;
      while (*b64 == ' ') b64++;
      if (sodium_base642bin((unsigned char *)dec, sizeof dec - 1, b64, len - (size_t)(b64 - v),
                            NULL, &dlen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
          same(dec, dlen, srv->basic)) {
        sodium_memzero(dec, sizeof dec);
        return 0;
      }
      sodium_memzero(dec, sizeof dec);
    }
  }
  const char *realm = srv->realm ? srv->realm : "troupe";
  if (srv->bearer && srv->basic)
    snprintf(challenge, cap, "Bearer realm=\"%s\", Basic realm=\"%s\"", realm, realm);
  else
    snprintf(challenge, cap, "%s realm=\"%s\"", srv->bearer ? "Bearer" : "Basic", realm);
  return TR_EPERM;
}

/* The token as a query parameter, percent-decoded: browsers cannot give a
 * WebSocket or an EventSource a header. Only routes that ask for it
 * (TR_HTTP_ROUTE_QUERY_TOKEN) look here: a token in a URL ends up in logs. */
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int tr_http_auth_query(const tr_http_server *srv, const tr_http_request *req) {
  if (!srv->bearer) return TR_EPERM;
  const char *q = req->query, *end = req->query + req->query_len;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    if (!amp) amp = end;
    if (amp - q > 13 && !memcmp(q, "access_token=", 13)) {
      char tok[512];
      size_t n = 0;
      int ok = 1;
      for (const char *p = q + 13; p < amp && ok; p++) {
        if (n + 1 >= sizeof tok) ok = 0;
        else if (*p == '%' && amp - p > 2 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0)
          tok[n++] = (char)(hexval(p[1]) << 4 | hexval(p[2])), p += 2;
        else tok[n++] = *p == '+' ? ' ' : *p;
      }
      int pass = ok && same(tok, n, srv->bearer);
      sodium_memzero(tok, sizeof tok);
      if (pass) return 0;
    }
    q = amp + 1;
  }
  return TR_EPERM;
}
