/* parse.h - HTTP/1.x requests out of a byte stream, one at a time, within
 * limits. A wrapper around http-parser that owns the copies of the request
 * line, headers and body, so the connection may reuse its read buffer, and
 * that stops after each complete request, so pipelined requests are handed
 * out one by one (the server answers them in order and stops reading while
 * too many wait).
 *
 * Pure: no I/O, no clock, no allocation beyond its own buffers; the unit
 * tests and the fuzz target drive it directly.
 */
#ifndef TR_HTTP_PARSE_H
#define TR_HTTP_PARSE_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/http/http.h"

/* What a feed ended with. */
enum {
  TR_HTTP_EV_MORE = 0,   /* every byte consumed; the request is not complete */
  TR_HTTP_EV_REQUEST,    /* hp->req holds a complete request: tr_http_parser_next() */
  TR_HTTP_EV_ERROR       /* hp->status / hp->error: answer, then close the connection */
};

typedef struct tr_http_parser {
  http_parser p;
  tr_http_limits lim;
  /* the current request: url and header text in one arena (NUL after each) */
  char *arena;
  size_t alen, acap;
  struct hdr_off { uint32_t name, name_len, value, value_len; } *hoff;
  uint32_t nh, hcap;
  int in_value;              /* the last header callback was for a value */
  uint32_t url_off, url_len;
  size_t header_bytes;       /* request line and headers, as counted for the limit */
  uint8_t *body;
  size_t blen, bcap;
  size_t consumed;           /* bytes of this request seen so far */
  int headers_done, complete, expect_continue;
  /* outcome */
  int status;                /* on TR_HTTP_EV_ERROR: 400, 413, 414, 431, 505 */
  const char *error;         /* static English text saying what was wrong */
  tr_http_header *hv;        /* built at completion, views into the arena */
  tr_http_request req;       /* valid until the next feed, next or free */
} tr_http_parser;

/* Starts an empty parser; lim is copied (zero fields take the defaults of
 * tr_http_limits_default). */
void tr_http_parser_init(tr_http_parser *hp, const tr_http_limits *lim);
/* Frees the parser's buffers (not hp itself). */
void tr_http_parser_free(tr_http_parser *hp);

/* Feeds data[0..len) (the caller's, only read during the call). *consumed
 * gets how many bytes were used: all of them with TR_HTTP_EV_MORE, up to
 * the end of the request with TR_HTTP_EV_REQUEST (the rest belongs to the
 * next one: feed it after tr_http_parser_next). After TR_HTTP_EV_ERROR the
 * stream cannot be resynchronised; further feeds return the same error. */
int tr_http_parser_feed(tr_http_parser *hp, const char *data, size_t len, size_t *consumed);

/* Forgets the completed request (hp->req) and gets ready for the next one,
 * keeping the buffers for reuse up to a modest size. */
void tr_http_parser_next(tr_http_parser *hp);

/* Whether any byte of a request not yet complete has been seen (for the
 * header and body timeouts); 2 once its headers are complete. */
int tr_http_parser_progress(const tr_http_parser *hp);

/* A header's value by name (case-insensitive), or NULL; *len gets its
 * length. r and the returned pointer are the parser's (see req). */
const char *tr_http_request_header(const tr_http_request *r, const char *name, size_t *len);

#endif
