/* respond.c - answers as bytes: the status line and headers, chunked
 * framing, and the error body every 4xx/5xx of the server carries, in
 * Camunda's shape {"type": ..., "message": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/http/internal.h"

const char *tr_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

/* Exception names in the style of Camunda's REST errors, so that clients
 * of the engine API see one shape for the server's errors and the API's. */
const char *tr_http_error_type(int status) {
  switch (status) {
  case 400: return "InvalidRequestException";
  case 401: return "AuthenticationException";
  case 403: return "AuthorizationException";
  case 404: return "NotFoundException";
  case 405: return "MethodNotAllowedException";
  case 408: return "RequestTimeoutException";
  case 413: return "PayloadTooLargeException";
  case 414: return "UriTooLongException";
  case 417: return "ExpectationFailedException";
  case 431: return "HeaderFieldsTooLargeException";
  case 503: return "ServiceUnavailableException";
  case 504: return "GatewayTimeoutException";
  case 505: return "HttpVersionNotSupportedException";
  default: return status >= 500 ? "ServerException" : "RestException";
  }
}

static size_t put_json_str(char *buf, size_t cap, size_t at, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (; *s && at + 7 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      buf[at++] = '\\';
      buf[at++] = (char)ch;
    } else if (ch < 0x20) {
      memcpy(buf + at, "\\u00", 4);
      buf[at + 4] = hex[ch >> 4];
      buf[at + 5] = hex[ch & 15];
      at += 6;
    } else {
      buf[at++] = (char)ch;
    }
  }
  return at;
}

size_t tr_http_error_json(char *buf, size_t cap, const char *type, const char *message) {
  if (cap < 64) return 0;
  size_t at = 0;
  memcpy(buf, "{\"type\":\"", 9), at = 9;
  at = put_json_str(buf, cap - 24, at, type ? type : "RestException");
  memcpy(buf + at, "\",\"message\":\"", 13), at += 13;
  at = put_json_str(buf, cap - 4, at, message ? message : "");
  memcpy(buf + at, "\"}", 3), at += 2; /* with its NUL */
  return at;
}

int tr_http_ex_append(exchange *ex, const void *p, size_t len) {
  if (ex->out_len + len > ex->out_cap) {
    size_t cap = ex->out_cap ? ex->out_cap : 512;
    while (cap < ex->out_len + len) cap *= 2;
    char *o = realloc(ex->out, cap);
    if (!o) return TR_ENOMEM;
    ex->out = o;
    ex->out_cap = cap;
  }
  if (len) memcpy(ex->out + ex->out_len, p, len);
  ex->out_len += len;
  return 0;
}

/* "Date:" wants the time of the answer; a second's resolution is what the
 * format has, so one formatting per second per thread is enough. */
static const char *http_date(void) {
  static _Thread_local time_t last;
  static _Thread_local char text[48];
  time_t now = time(NULL);
  if (now != last) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = now;
  }
  return text;
}

int tr_http_head_write(exchange *ex, const tr_http_response *r, int draining) {
  int no_body = r->status == 204 || r->status == 304 || r->status < 200;
  if (draining || !ex->keep_alive) ex->close = 1;
  if (r->stream && ex->http10) ex->close = 1; /* no chunking: the end is the close */
  ex->chunked = r->stream && !ex->http10 && !no_body;
  char h[512];
  int n = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status,
                   tr_http_reason(r->status), http_date());
  if (r->content_type && n > 0 && (size_t)n < sizeof h)
    n += snprintf(h + n, sizeof h - (size_t)n, "Content-Type: %.200s\r\n", r->content_type);
  if (n > 0 && (size_t)n < sizeof h) {
    if (ex->chunked)
      n += snprintf(h + n, sizeof h - (size_t)n, "Transfer-Encoding: chunked\r\n");
    else if (!r->stream && !no_body)
      n += snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %zu\r\n", r->body_len);
  }
  if (n > 0 && (size_t)n < sizeof h) {
    if (ex->close)
      n += snprintf(h + n, sizeof h - (size_t)n, "Connection: close\r\n");
    else if (ex->http10)
      n += snprintf(h + n, sizeof h - (size_t)n, "Connection: keep-alive\r\n");
  }
  if (n < 0 || (size_t)n >= sizeof h) return TR_ETOOBIG;
  int rc = tr_http_ex_append(ex, h, (size_t)n);
  if (!rc && r->headers) rc = tr_http_ex_append(ex, r->headers, strlen(r->headers));
  if (!rc) rc = tr_http_ex_append(ex, "\r\n", 2);
  if (!rc && !r->stream && !no_body && !ex->head && r->body_len)
    rc = tr_http_ex_append(ex, r->body, r->body_len);
  if (!rc && r->stream && !no_body && !ex->head && r->body_len) {
    if (ex->chunked) {
      char sz[24];
      int k = snprintf(sz, sizeof sz, "%zx\r\n", r->body_len);
      rc = tr_http_ex_append(ex, sz, (size_t)k);
      if (!rc) rc = tr_http_ex_append(ex, r->body, r->body_len);
      if (!rc) rc = tr_http_ex_append(ex, "\r\n", 2);
    } else {
      rc = tr_http_ex_append(ex, r->body, r->body_len);
    }
  }
  return rc;
}
