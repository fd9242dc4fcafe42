/* parse.c - see parse.h. http-parser does the grammar; this file keeps
 * copies of what the callbacks hand over (they point into the caller's read
 * buffer, which the connection reuses) and enforces the limits as the bytes
 * arrive, so an oversize request is refused before it is buffered. */
#include "actors/http/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEEP_BUFFER (64u << 10) /* buffers above this are freed between requests */

void tr_http_limits_default(tr_http_limits *l) {
  if (!l->max_url) l->max_url = 8u << 10;
  if (!l->max_header_bytes) l->max_header_bytes = 16u << 10;
  if (!l->max_headers) l->max_headers = 100;
  if (!l->max_body) l->max_body = 1u << 20;
  if (!l->max_conns) l->max_conns = 1024;
  if (!l->max_pipeline) l->max_pipeline = 16;
  if (!l->header_timeout_ms) l->header_timeout_ms = 10000;
  if (!l->body_timeout_ms) l->body_timeout_ms = 30000;
  if (!l->idle_timeout_ms) l->idle_timeout_ms = 60000;
  if (!l->handler_timeout_ms) l->handler_timeout_ms = 30000;
  if (!l->max_stream_buffer) l->max_stream_buffer = 1u << 20;
  if (!l->ws_max_message) l->ws_max_message = 64u << 10;
  if (!l->ws_close_timeout_ms) l->ws_close_timeout_ms = 2000;
}

static tr_http_parser *hp_of(http_parser *p) { return p->data; }

/* Stops the parse with status (the callback's non-zero return makes
 * http_parser_execute return early). */
static int fail(tr_http_parser *hp, int status, const char *why) {
  if (!hp->status) {
    hp->status = status;
    hp->error = why;
  }
  return -1;
}

/* Room for len more bytes after the current piece and its NUL. */
static int reserve(tr_http_parser *hp, size_t len) {
  if (hp->alen + len + 1 <= hp->acap) return 0;
  size_t cap = hp->acap ? hp->acap : 1024;
  while (cap < hp->alen + len + 1) cap *= 2;
  char *a = realloc(hp->arena, cap);
  if (!a) return -1;
  hp->arena = a;
  hp->acap = cap;
  return 0;
}

/* Appends to the arena; the limits were checked by the caller. */
static int arena_put(tr_http_parser *hp, const char *at, size_t len) {
  if (reserve(hp, len) < 0) return -1;
  memcpy(hp->arena + hp->alen, at, len);
  hp->alen += len;
  hp->arena[hp->alen] = 0; /* a NUL after every piece: the last one stays */
  return 0;
}

/* Ends the current piece: the next one starts after a NUL. */
static void arena_end(tr_http_parser *hp) {
  if (hp->alen < hp->acap) hp->alen++; /* over the NUL arena_put left */
}

static int on_begin(http_parser *p) {
  (void)p;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  tr_http_parser *hp = hp_of(p);
  if ((size_t)hp->url_len + len > hp->lim.max_url)
    return fail(hp, 414, "the request target is longer than the server accepts");
  hp->header_bytes += len;
  if (hp->header_bytes > hp->lim.max_header_bytes)
    return fail(hp, 431, "the request line and headers are larger than the server accepts");
  if (arena_put(hp, at, len) < 0) return fail(hp, 503, "out of memory");
  hp->url_len += (uint32_t)len;
  return 0;
}

static int header_piece(tr_http_parser *hp, const char *at, size_t len, int value) {
  hp->header_bytes += len;
  if (hp->header_bytes > hp->lim.max_header_bytes)
    return fail(hp, 431, "the request line and headers are larger than the server accepts");
  if (!value && (!hp->nh || hp->in_value)) {
    /* a new header line: the url (first) or the previous value ends here */
    if (hp->nh >= hp->lim.max_headers)
      return fail(hp, 431, "the request has more header lines than the server accepts");
    if (hp->nh == hp->hcap) {
      uint32_t cap = hp->hcap ? hp->hcap * 2 : 16;
      struct hdr_off *h = realloc(hp->hoff, cap * sizeof *h);
      if (!h) return fail(hp, 503, "out of memory");
      hp->hoff = h;
      hp->hcap = cap;
    }
    arena_end(hp);
    hp->hoff[hp->nh++] = (struct hdr_off){(uint32_t)hp->alen, 0, 0, 0};
    hp->header_bytes += 4; /* ": " and CRLF count too */
  } else if (value && !hp->in_value) {
    arena_end(hp);
    hp->hoff[hp->nh - 1].value = (uint32_t)hp->alen;
  }
  hp->in_value = value;
  if (arena_put(hp, at, len) < 0) return fail(hp, 503, "out of memory");
  if (value)
    hp->hoff[hp->nh - 1].value_len += (uint32_t)len;
  else
    hp->hoff[hp->nh - 1].name_len += (uint32_t)len;
  return 0;
}

static int on_field(http_parser *p, const char *at, size_t len) {
  return header_piece(hp_of(p), at, len, 0);
}

static int on_value(http_parser *p, const char *at, size_t len) {
  tr_http_parser *hp = hp_of(p);
  if (!hp->nh) return fail(hp, 400, "a header value without a name");
  return header_piece(hp, at, len, 1);
}

static int on_headers(http_parser *p) {
  tr_http_parser *hp = hp_of(p);
  if (p->http_major != 1) return fail(hp, 505, "only HTTP/1.0 and HTTP/1.1 are served");
  /* a header with a name and no value callback still needs its offset */
  if (hp->nh && !hp->in_value) {
    arena_end(hp);
    hp->hoff[hp->nh - 1].value = (uint32_t)hp->alen;
    if (arena_put(hp, "", 0) < 0) return fail(hp, 503, "out of memory");
  }
  arena_end(hp);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > hp->lim.max_body)
    return fail(hp, 413, "the request body is larger than the server accepts");
  hp->headers_done = 1;
  for (uint32_t i = 0; i < hp->nh; i++) {
    const struct hdr_off *h = &hp->hoff[i];
    if (h->name_len == 6 && !strncasecmp(hp->arena + h->name, "expect", 6)) {
      if (h->value_len == 12 && !strncasecmp(hp->arena + h->value, "100-continue", 12))
        hp->expect_continue = 1;
      else
        return fail(hp, 417, "only Expect: 100-continue is supported");
    }
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  tr_http_parser *hp = hp_of(p);
  if (hp->blen + len > hp->lim.max_body)
    return fail(hp, 413, "the request body is larger than the server accepts");
  if (hp->blen + len > hp->bcap) {
    size_t cap = hp->bcap ? hp->bcap : 1024;
    while (cap < hp->blen + len) cap *= 2;
    if (cap > hp->lim.max_body) cap = hp->lim.max_body;
    uint8_t *b = realloc(hp->body, cap);
    if (!b) return fail(hp, 503, "out of memory");
    hp->body = b;
    hp->bcap = cap;
  }
  memcpy(hp->body + hp->blen, at, len);
  hp->blen += len;
  return 0;
}

/* Builds hp->req: path and query get NUL-terminated copies at the end of
 * the arena, then every view is made (the arena no longer moves). */
static int finish(tr_http_parser *hp) {
  http_parser *p = &hp->p;
  tr_http_request *r = &hp->req;
  const char *u = hp->arena + hp->url_off;
  size_t path_off = 0, path_len = 0, query_off = hp->url_len, query_len = 0;
  /* origin form "/p?q", asterisk form "*", or absolute form "http://h/p?q" */
  if (u[0] == '/' || (u[0] == '*' && hp->url_len == 1)) {
    const char *q = memchr(u, '?', hp->url_len);
    path_len = q ? (size_t)(q - u) : hp->url_len;
    if (q) query_off = path_len + 1, query_len = hp->url_len - path_len - 1;
  } else {
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (http_parser_parse_url(u, hp->url_len, p->method == HTTP_CONNECT, &pu) != 0)
      return fail(hp, 400, "the request target is not a valid URL");
    if (pu.field_set & (1 << UF_PATH))
      path_off = pu.field_data[UF_PATH].off, path_len = pu.field_data[UF_PATH].len;
    if (pu.field_set & (1 << UF_QUERY))
      query_off = pu.field_data[UF_QUERY].off, query_len = pu.field_data[UF_QUERY].len;
  }
  /* room first: the copies are read from the arena itself */
  if (arena_put(hp, "", 0) < 0 || reserve(hp, path_len + query_len + 4) < 0)
    return fail(hp, 503, "out of memory");
  arena_end(hp);
  size_t path_at = hp->alen;
  if (path_len)
    memcpy(hp->arena + path_at, hp->arena + hp->url_off + path_off, path_len);
  else
    hp->arena[path_at] = '/', path_len = 1;
  hp->arena[path_at + path_len] = 0;
  size_t query_at = path_at + path_len + 1;
  memcpy(hp->arena + query_at, hp->arena + hp->url_off + query_off, query_len);
  hp->arena[query_at + query_len] = 0;
  hp->alen = query_at + query_len;

  free(hp->hv);
  hp->hv = hp->nh ? malloc(hp->nh * sizeof *hp->hv) : NULL;
  if (hp->nh && !hp->hv) return fail(hp, 503, "out of memory");
  for (uint32_t i = 0; i < hp->nh; i++) {
    const struct hdr_off *h = &hp->hoff[i];
    hp->hv[i] = (tr_http_header){hp->arena + h->name, hp->arena + h->value, h->name_len,
                                 h->value_len};
  }
  memset(r, 0, sizeof *r);
  r->method = http_method_str((enum http_method)p->method);
  r->url = hp->arena + hp->url_off;
  r->url_len = hp->url_len;
  r->path = hp->arena + path_at;
  r->path_len = path_len;
  r->query = hp->arena + query_at;
  r->query_len = query_len;
  r->headers = hp->hv;
  r->nheaders = hp->nh;
  r->body = hp->blen ? hp->body : NULL;
  r->body_len = hp->blen;
  r->version_minor = (uint8_t)p->http_minor;
  r->keep_alive = (uint8_t)http_should_keep_alive(p);
  r->upgrade = (uint8_t)p->upgrade;
  r->expect_continue = (uint8_t)hp->expect_continue;
  return 0;
}

static int on_complete(http_parser *p) {
  tr_http_parser *hp = hp_of(p);
  if (finish(hp) < 0) return -1;
  hp->complete = 1;
  http_parser_pause(p, 1); /* one request per feed: the rest waits its turn */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void tr_http_parser_init(tr_http_parser *hp, const tr_http_limits *lim) {
  memset(hp, 0, sizeof *hp);
  if (lim) hp->lim = *lim;
  tr_http_limits_default(&hp->lim);
  http_parser_init(&hp->p, HTTP_REQUEST);
  hp->p.data = hp;
}

void tr_http_parser_free(tr_http_parser *hp) {
  free(hp->arena);
  free(hp->hoff);
  free(hp->body);
  free(hp->hv);
  memset(hp, 0, sizeof *hp);
}

static int status_of(enum http_errno e) {
  switch (e) {
  case HPE_HEADER_OVERFLOW: return 431;
  default: return 400;
  }
}

int tr_http_parser_feed(tr_http_parser *hp, const char *data, size_t len, size_t *consumed) {
  *consumed = 0;
  if (hp->status) return TR_HTTP_EV_ERROR;
  if (hp->complete) return TR_HTTP_EV_REQUEST; /* tr_http_parser_next first */
  if (!len) return TR_HTTP_EV_MORE;
  size_t n = http_parser_execute(&hp->p, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&hp->p);
  hp->consumed += n;
  *consumed = n;
  if (hp->complete) {
    /* paused at the end of the request: HPE_PAUSED is expected; an upgrade
     * (or CONNECT) ends the HTTP stream here, whatever follows is not ours */
    return TR_HTTP_EV_REQUEST;
  }
  if (hp->status) return TR_HTTP_EV_ERROR;
  if (e != HPE_OK) {
    hp->status = status_of(e);
    hp->error = e == HPE_HEADER_OVERFLOW ? "the request line and headers are larger than the server accepts"
                : e == HPE_INVALID_VERSION ? "malformed HTTP version in the request line"
                : http_errno_description(e);
    return TR_HTTP_EV_ERROR;
  }
  if (n != len) { /* http-parser stopped without saying why */
    hp->status = 400;
    hp->error = "malformed request";
    return TR_HTTP_EV_ERROR;
  }
  return TR_HTTP_EV_MORE;
}

void tr_http_parser_next(tr_http_parser *hp) {
  if (hp->status) return; /* an error is final */
  if (hp->acap > KEEP_BUFFER) {
    free(hp->arena);
    hp->arena = NULL;
    hp->acap = 0;
  }
  if (hp->bcap > KEEP_BUFFER) {
    free(hp->body);
    hp->body = NULL;
    hp->bcap = 0;
  }
  hp->alen = hp->blen = 0;
  hp->nh = 0;
  hp->in_value = 0;
  hp->url_off = hp->url_len = 0;
  hp->header_bytes = 0;
  hp->consumed = 0;
  hp->headers_done = hp->complete = hp->expect_continue = 0;
  memset(&hp->req, 0, sizeof hp->req);
  if (hp->p.upgrade) { /* the stream is no longer HTTP: refuse what follows */
    hp->status = 400;
    hp->error = "data after an upgrade request";
    return;
  }
  http_parser_pause(&hp->p, 0);
}

int tr_http_parser_progress(const tr_http_parser *hp) {
  if (hp->headers_done) return 2;
  return hp->consumed > 0;
}

const char *tr_http_request_header(const tr_http_request *r, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < r->nheaders; i++) {
    const tr_http_header *h = &r->headers[i];
    if (h->name_len == n && !strncasecmp(h->name, name, n)) {
      if (len) *len = h->value_len;
      return h->value;
    }
  }
  return NULL;
}
