/* expr.c - lexes and parses ${...} into a syntax tree (expr.h).
 *
 * Recursive descent over JUEL's precedence levels. Each node records its
 * subtree's height so that the evaluator's recursion is bounded by
 * TR_WF_EXPR_MAX_DEPTH, whatever the shape of the input.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/expr_int.h"
#include "troupe/error.h"

typedef enum {
  T_END, T_NUM_INT, T_NUM_DBL, T_STR, T_IDENT, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_DOT,
  T_QUEST, T_COLON, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT, T_EQ, T_NE, T_LT, T_GT, T_LE,
  T_GE, T_AND, T_OR, T_NOT, T_EMPTY, T_TRUE, T_FALSE, T_NULL, T_ERR
} tok_kind;

typedef struct parser {
  const char *src; /* the inner text, between "${" and "}" */
  size_t len, i;
  int base;        /* offset of src in the full text */
  tok_kind tok;
  size_t tstart, tlen; /* current token in src */
  int64_t ival;
  double dval;
  x_node *nodes;
  int32_t n, cap;
  uint8_t *height; /* per node */
  char *strs;
  size_t slen, scap;
  int rc;
  tr_wf_expr_error *err;
} parser;

static void fail(parser *p, int rc, size_t at, const char *fmt, const char *arg) {
  if (p->rc) return;
  p->rc = rc;
  if (p->err) {
    p->err->offset = p->base + (int)at;
    snprintf(p->err->message, sizeof p->err->message, fmt, arg ? arg : "");
  }
}

static int is_ident_start(int c) { return isalpha(c) || c == '_' || c == '$'; }
static int is_ident(int c) { return isalnum(c) || c == '_' || c == '$'; }

static tok_kind keyword(const char *s, size_t n) {
  static const struct {
    const char *w;
    tok_kind k;
  } kw[] = {{"and", T_AND}, {"or", T_OR},     {"not", T_NOT},     {"eq", T_EQ},
            {"ne", T_NE},   {"lt", T_LT},     {"gt", T_GT},       {"le", T_LE},
            {"ge", T_GE},   {"div", T_SLASH}, {"mod", T_PCT},     {"empty", T_EMPTY},
            {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL}, {"instanceof", T_ERR}};
  for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
    if (strlen(kw[k].w) == n && memcmp(kw[k].w, s, n) == 0) return kw[k].k;
  return T_IDENT;
}

static void lex_number(parser *p) {
  size_t i = p->i;
  bool dbl = false;
  while (i < p->len && isdigit((unsigned char)p->src[i])) i++;
  if (i + 1 < p->len && p->src[i] == '.' && isdigit((unsigned char)p->src[i + 1])) {
    dbl = true;
    i++;
    while (i < p->len && isdigit((unsigned char)p->src[i])) i++;
  }
  if (i < p->len && (p->src[i] == 'e' || p->src[i] == 'E')) {
    size_t j = i + 1;
    if (j < p->len && (p->src[j] == '+' || p->src[j] == '-')) j++;
    if (j < p->len && isdigit((unsigned char)p->src[j])) {
      dbl = true;
      i = j;
      while (i < p->len && isdigit((unsigned char)p->src[i])) i++;
    }
  }
  char buf[64];
  size_t n = i - p->i;
  p->tlen = n;
  if (n >= sizeof buf) {
    fail(p, TR_EPROTO, p->i, "number too long%s", NULL);
    p->tok = T_ERR;
    return;
  }
  memcpy(buf, p->src + p->i, n);
  buf[n] = 0;
  errno = 0;
  if (dbl) {
    p->dval = strtod(buf, NULL);
    p->tok = T_NUM_DBL;
  } else {
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno || v > INT64_MAX) {
      fail(p, TR_EPROTO, p->i, "integer out of range%s", NULL);
      p->tok = T_ERR;
      return;
    }
    p->ival = (int64_t)v;
    p->tok = T_NUM_INT;
  }
  p->i = i;
}

/* Reads the next token into p->tok (T_ERR with p->rc set on a lexical error). */
static void next(parser *p) {
  while (p->i < p->len && isspace((unsigned char)p->src[p->i])) p->i++;
  p->tstart = p->i;
  p->tlen = 1;
  if (p->i >= p->len) {
    p->tok = T_END;
    p->tlen = 0;
    return;
  }
  const char *s = p->src + p->i;
  size_t rest = p->len - p->i;
  char c = s[0], d = rest > 1 ? s[1] : 0;
  if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)d))) {
    lex_number(p);
    return;
  }
  if (is_ident_start((unsigned char)c)) {
    size_t n = 1;
    while (n < rest && is_ident((unsigned char)s[n])) n++;
    p->tlen = n;
    p->i += n;
    p->tok = keyword(s, n);
    if (p->tok == T_ERR) fail(p, TR_EPROTO, p->tstart, "instanceof is not supported%s", NULL);
    return;
  }
  if (c == '\'' || c == '"') {
    p->tok = T_STR; /* decoded by the parser, which owns the string buffer */
    size_t n = 1;
    while (n < rest && s[n] != c) n += s[n] == '\\' ? 2 : 1;
    if (n >= rest) {
      fail(p, TR_EPROTO, p->tstart, "unterminated string%s", NULL);
      p->tok = T_ERR;
      return;
    }
    p->tlen = n + 1;
    p->i += n + 1;
    return;
  }
  p->i++;
  switch (c) {
  case '(': p->tok = T_LPAREN; return;
  case ')': p->tok = T_RPAREN; return;
  case '[': p->tok = T_LBRACK; return;
  case ']': p->tok = T_RBRACK; return;
  case '.': p->tok = T_DOT; return;
  case '?': p->tok = T_QUEST; return;
  case ':': p->tok = T_COLON; return;
  case '+': p->tok = T_PLUS; return;
  case '-': p->tok = T_MINUS; return;
  case '*': p->tok = T_STAR; return;
  case '/': p->tok = T_SLASH; return;
  case '%': p->tok = T_PCT; return;
  default: break;
  }
  p->tlen = 2;
  p->tok = T_ERR;
  if (c == '=' && d == '=') p->tok = T_EQ;
  else if (c == '!' && d == '=') p->tok = T_NE;
  else if (c == '<' && d == '=') p->tok = T_LE;
  else if (c == '>' && d == '=') p->tok = T_GE;
  else if (c == '&' && d == '&') p->tok = T_AND;
  else if (c == '|' && d == '|') p->tok = T_OR;
  else {
    p->tlen = 1;
    if (c == '<') p->tok = T_LT;
    else if (c == '>') p->tok = T_GT;
    else if (c == '!') p->tok = T_NOT;
    if (p->tok == T_LT || p->tok == T_GT || p->tok == T_NOT) return;
    {
      char ch[2] = {c, 0};
      fail(p, TR_EPROTO, p->tstart,
           c == '}' ? "text around ${...} is not supported%s" : "unexpected character '%s'",
           c == '}' ? NULL : (isprint((unsigned char)c) ? ch : "?"));
      p->tok = T_ERR;
      return;
    }
  }
  p->i++;
}

/* Copies bytes into the string buffer; returns their offset or -1. */
static long str_put(parser *p, const char *s, size_t n) {
  if (p->slen + n + 1 > p->scap) {
    size_t cap = (p->slen + n + 1) * 2;
    char *b = realloc(p->strs, cap);
    if (!b) {
      fail(p, TR_ENOMEM, 0, "out of memory%s", NULL);
      return -1;
    }
    p->strs = b;
    p->scap = cap;
  }
  long off = (long)p->slen;
  memcpy(p->strs + p->slen, s, n);
  p->slen += n;
  p->strs[p->slen++] = 0;
  return off;
}

static int32_t node(parser *p, x_op op, size_t pos, int32_t a, int32_t b, int32_t c) {
  if (p->rc) return -1;
  if (p->n >= TR_WF_EXPR_MAX_NODES) {
    fail(p, TR_ETOOBIG, pos, "expression has too many terms%s", NULL);
    return -1;
  }
  if (p->n == p->cap) {
    int32_t cap = p->cap ? p->cap * 2 : 16;
    x_node *nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
    uint8_t *nh = nn ? realloc(p->height, (size_t)cap) : NULL;
    if (nn) p->nodes = nn;
    if (!nn || !nh) {
      fail(p, TR_ENOMEM, 0, "out of memory%s", NULL);
      return -1;
    }
    p->height = nh;
    p->cap = cap;
  }
  int h = 0;
  int32_t kids[3] = {a, b, c};
  for (int k = 0; k < 3; k++)
    if (kids[k] >= 0 && p->height[kids[k]] > h) h = p->height[kids[k]];
  if (h + 1 > TR_WF_EXPR_MAX_DEPTH) {
    fail(p, TR_ETOOBIG, pos, "expression nested too deeply%s", NULL);
    return -1;
  }
  x_node *x = &p->nodes[p->n];
  memset(x, 0, sizeof *x);
  x->op = op;
  x->a = a;
  x->b = b;
  x->c = c;
  x->pos = p->base + (int32_t)pos;
  p->height[p->n] = (uint8_t)(h + 1);
  return p->n++;
}

/* Decodes the current string token (JUEL escapes: \\ \' \") into strs. */
static int32_t string_lit(parser *p) {
  const char *s = p->src + p->tstart + 1;
  size_t n = p->tlen - 2, o = 0;
  char *tmp = malloc(n + 1);
  if (!tmp) {
    fail(p, TR_ENOMEM, 0, "out of memory%s", NULL);
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    if (s[k] == '\\' && k + 1 < n && (s[k + 1] == '\\' || s[k + 1] == '\'' || s[k + 1] == '"'))
      k++;
    tmp[o++] = s[k];
  }
  long off = str_put(p, tmp, o);
  free(tmp);
  int32_t x = node(p, X_LIT, p->tstart, -1, -1, -1);
  if (x < 0 || off < 0) return -1;
  p->nodes[x].val.type = TR_WF_VSTRING;
  p->nodes[x].str_off = (uint32_t)off;
  p->nodes[x].str_len = (uint32_t)o;
  return x;
}

static int32_t cond(parser *p, int depth);

static bool accept(parser *p, tok_kind k) {
  if (p->tok != k) return false;
  next(p);
  return true;
}

static void expect(parser *p, tok_kind k, const char *what) {
  if (!accept(p, k)) fail(p, TR_EPROTO, p->tstart, "expected %s", what);
}

static int32_t primary(parser *p, int depth) {
  size_t at = p->tstart;
  int32_t x;
  switch (p->tok) {
  case T_NUM_INT:
  case T_NUM_DBL:
  case T_TRUE:
  case T_FALSE:
  case T_NULL:
    x = node(p, X_LIT, at, -1, -1, -1);
    if (x >= 0) {
      tr_wf_value *v = &p->nodes[x].val;
      if (p->tok == T_NUM_INT) v->type = TR_WF_VLONG, v->u.i = p->ival;
      else if (p->tok == T_NUM_DBL) v->type = TR_WF_VDOUBLE, v->u.d = p->dval;
      else if (p->tok == T_NULL) v->type = TR_WF_VNULL;
      else v->type = TR_WF_VBOOLEAN, v->u.b = p->tok == T_TRUE;
    }
    next(p);
    return x;
  case T_STR:
    x = string_lit(p);
    next(p);
    return x;
  case T_IDENT: {
    long off = str_put(p, p->src + p->tstart, p->tlen);
    x = node(p, X_VAR, at, -1, -1, -1);
    if (x < 0 || off < 0) return -1;
    p->nodes[x].str_off = (uint32_t)off;
    p->nodes[x].str_len = (uint32_t)p->tlen;
    next(p);
    if (p->tok == T_LPAREN) fail(p, TR_ENOTSUP, p->tstart, "function calls are not supported%s", NULL);
    return x;
  }
  case T_LPAREN:
    next(p);
    x = cond(p, depth + 1);
    expect(p, T_RPAREN, "')'");
    return x;
  case T_END:
    fail(p, TR_EPROTO, at, "unexpected end of expression%s", NULL);
    return -1;
  default:
    fail(p, TR_EPROTO, at, "unexpected token%s", NULL);
    return -1;
  }
}

static int32_t postfix(parser *p, int depth) {
  int32_t x = primary(p, depth);
  while (!p->rc) {
    size_t at = p->tstart;
    if (accept(p, T_DOT)) {
      if (p->tok != T_IDENT) {
        fail(p, TR_EPROTO, p->tstart, "expected a property name after '.'%s", NULL);
        return -1;
      }
      long off = str_put(p, p->src + p->tstart, p->tlen);
      int32_t y = node(p, X_PROP, at, x, -1, -1);
      if (y < 0 || off < 0) return -1;
      p->nodes[y].str_off = (uint32_t)off;
      p->nodes[y].str_len = (uint32_t)p->tlen;
      next(p);
      if (p->tok == T_LPAREN) fail(p, TR_ENOTSUP, p->tstart, "method calls are not supported%s", NULL);
      x = y;
    } else if (accept(p, T_LBRACK)) {
      int32_t i = cond(p, depth + 1);
      expect(p, T_RBRACK, "']'");
      x = node(p, X_INDEX, at, x, i, -1);
    } else {
      break;
    }
  }
  return x;
}

static int32_t unary(parser *p, int depth) {
  if (depth > TR_WF_EXPR_MAX_DEPTH) {
    fail(p, TR_ETOOBIG, p->tstart, "expression nested too deeply%s", NULL);
    return -1;
  }
  size_t at = p->tstart;
  x_op op;
  switch (p->tok) {
  case T_MINUS: op = X_NEG; break;
  case T_NOT: op = X_NOT; break;
  case T_EMPTY: op = X_EMPTY; break;
  default: return postfix(p, depth);
  }
  next(p);
  int32_t a = unary(p, depth + 1);
  return node(p, op, at, a, -1, -1);
}

/* One left-associative binary level: ops[k] token maps to xops[k]. */
typedef int32_t (*level_fn)(parser *, int);

static int32_t binary(parser *p, int depth, level_fn sub, const tok_kind *toks,
                      const x_op *ops, int n) {
  int32_t x = sub(p, depth);
  for (;;) {
    if (p->rc) return -1;
    int k = 0;
    while (k < n && p->tok != toks[k]) k++;
    if (k == n) return x;
    size_t at = p->tstart;
    next(p);
    int32_t y = sub(p, depth);
    x = node(p, ops[k], at, x, y, -1);
  }
}

static int32_t mul(parser *p, int d) {
  static const tok_kind t[] = {T_STAR, T_SLASH, T_PCT};
  static const x_op o[] = {X_MUL, X_DIV, X_MOD};
  return binary(p, d, unary, t, o, 3);
}
static int32_t add(parser *p, int d) {
  static const tok_kind t[] = {T_PLUS, T_MINUS};
  static const x_op o[] = {X_ADD, X_SUB};
  return binary(p, d, mul, t, o, 2);
}
static int32_t rel(parser *p, int d) {
  static const tok_kind t[] = {T_LT, T_GT, T_LE, T_GE};
  static const x_op o[] = {X_LT, X_GT, X_LE, X_GE};
  return binary(p, d, add, t, o, 4);
}
static int32_t eq(parser *p, int d) {
  static const tok_kind t[] = {T_EQ, T_NE};
  static const x_op o[] = {X_EQ, X_NE};
  return binary(p, d, rel, t, o, 2);
}
static int32_t and_(parser *p, int d) {
  static const tok_kind t[] = {T_AND};
  static const x_op o[] = {X_AND};
  return binary(p, d, eq, t, o, 1);
}
static int32_t or_(parser *p, int d) {
  static const tok_kind t[] = {T_OR};
  static const x_op o[] = {X_OR};
  return binary(p, d, and_, t, o, 1);
}

static int32_t cond(parser *p, int depth) {
  if (depth > TR_WF_EXPR_MAX_DEPTH) {
    fail(p, TR_ETOOBIG, p->tstart, "expression nested too deeply%s", NULL);
    return -1;
  }
  int32_t c = or_(p, depth);
  size_t at = p->tstart;
  if (p->rc || !accept(p, T_QUEST)) return c;
  int32_t a = cond(p, depth + 1);
  expect(p, T_COLON, "':'");
  int32_t b = cond(p, depth + 1);
  return node(p, X_COND, at, c, a, b);
}

int tr_wf_expr_parse(const char *text, size_t len, tr_wf_expr **out, tr_wf_expr_error *err) {
  *out = NULL;
  if (err) {
    err->offset = -1;
    err->message[0] = 0;
  }
  parser p = {.err = err};
  if (len > TR_WF_EXPR_MAX_LEN) {
    fail(&p, TR_ETOOBIG, 0, "expression longer than 8192 bytes%s", NULL);
    return p.rc;
  }
  size_t b = 0, e = len;
  while (b < e && isspace((unsigned char)text[b])) b++;
  while (e > b && isspace((unsigned char)text[e - 1])) e--;
  if (e - b < 3 || (text[b] != '$' && text[b] != '#') || text[b + 1] != '{' || text[e - 1] != '}') {
    fail(&p, TR_EPROTO, b, "an expression is written ${...}%s", NULL);
    return p.rc;
  }
  if (memchr(text, 0, len)) {
    fail(&p, TR_EPROTO, 0, "NUL byte in expression%s", NULL);
    return p.rc;
  }
  p.src = text + b + 2;
  p.len = e - b - 3;
  p.base = (int)b + 2;
  next(&p);
  int32_t root = cond(&p, 0);
  if (!p.rc && p.tok != T_END) fail(&p, TR_EPROTO, p.tstart, "unexpected token%s", NULL);
  tr_wf_expr *x = NULL;
  if (!p.rc) {
    x = calloc(1, sizeof *x);
    char *t = malloc(len + 1);
    if (!x || !t || (!p.strs && !(p.strs = malloc(1)))) {
      free(x);
      free(t);
      x = NULL;
      fail(&p, TR_ENOMEM, 0, "out of memory%s", NULL);
    } else {
      memcpy(t, text, len);
      t[len] = 0;
      x->text = t;
      x->nodes = p.nodes;
      x->n = p.n;
      x->root = root;
      x->strs = p.strs;
      /* literals point into the final string buffer */
      for (int32_t k = 0; k < p.n; k++)
        if (p.nodes[k].op == X_LIT && p.nodes[k].val.type == TR_WF_VSTRING) {
          p.nodes[k].val.u.s.ptr = p.strs + p.nodes[k].str_off;
          p.nodes[k].val.u.s.len = p.nodes[k].str_len;
        }
      p.nodes = NULL;
      p.strs = NULL;
    }
  }
  free(p.nodes);
  free(p.height);
  free(p.strs);
  *out = x;
  return p.rc;
}

void tr_wf_expr_free(tr_wf_expr *e) {
  if (!e) return;
  free(e->nodes);
  free(e->strs);
  free(e->text);
  free(e);
}

const char *tr_wf_expr_text(const tr_wf_expr *e) { return e ? e->text : ""; }
