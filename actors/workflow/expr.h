/* expr.h - the ${...} expression language of conditions and mappings.
 *
 * A subset of JUEL, the language Camunda 7 evaluates: literals (strings in
 * '' or "", integers, decimals, true, false, null), variables and a.b /
 * a[i] access into Json values, unary - ! not empty, * / div % mod, + -,
 * < > <= >= lt gt le ge, == != eq ne, && and, || or, and c ? a : b.
 * An expression is parsed once, when a model is deployed, and evaluated
 * many times against an instance's variables through a lookup callback, so
 * the engine can plug in its own variable store.
 *
 * Values have Camunda's variable types. Integer arithmetic is on 64 bits
 * and fails with TR_ERANGE on overflow; / always gives a Double (as in
 * JUEL); dividing by zero fails with TR_ERANGE instead of giving Infinity.
 * Numeric strings meet numbers as numbers, as JUEL coerces them; null is 0
 * in arithmetic and false in logic; any other mix of types is TR_ETYPE.
 */
#ifndef TR_WF_EXPR_H
#define TR_WF_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

typedef enum {
  TR_WF_VNULL,
  TR_WF_VSTRING,
  TR_WF_VINTEGER, /* 32-bit, in i */
  TR_WF_VLONG,
  TR_WF_VDOUBLE,
  TR_WF_VBOOLEAN,
  TR_WF_VDATE, /* epoch ms, in i */
  TR_WF_VJSON
} tr_wf_vtype;

/* A value. Strings and Json are borrowed: from the expression (literals) or
 * from whatever the lookup returned; the value is valid while both are. */
typedef struct tr_wf_value {
  tr_wf_vtype type;
  union {
    bool b;
    int64_t i;
    double d;
    struct {
      const char *ptr;
      size_t len;
    } s;
    const struct json_t *json;
  } u;
} tr_wf_value;

/* Looks variable name[0..len) up (not NUL-terminated) and fills *out with
 * a value whose strings or Json the store keeps alive for the evaluation.
 * Returns 0, TR_ENOENT for an unknown variable, or another TR_E* code that
 * the evaluation passes on. */
typedef int (*tr_wf_lookup_fn)(void *ud, const char *name, size_t len, tr_wf_value *out);

enum {
  TR_WF_EXPR_MAX_LEN = 8192,   /* bytes of source text */
  TR_WF_EXPR_MAX_DEPTH = 64,   /* height of the syntax tree */
  TR_WF_EXPR_MAX_NODES = 2048
};

typedef struct tr_wf_expr tr_wf_expr;

/* Where and why parsing or evaluation failed. */
typedef struct tr_wf_expr_error {
  int offset;       /* byte offset into the source text, -1 when none */
  char message[160];
} tr_wf_expr_error;

/* Parses text[0..len) (borrowed), which must be "${...}" or "#{...}" with
 * optional surrounding white space, into *out (owned by the caller, freed
 * with tr_wf_expr_free). Returns 0, TR_EPROTO (syntax; err says where),
 * TR_ETOOBIG (over a limit) or TR_ENOMEM. err may be NULL. */
int tr_wf_expr_parse(const char *text, size_t len, tr_wf_expr **out, tr_wf_expr_error *err);
void tr_wf_expr_free(tr_wf_expr *e);
/* The source text, NUL-terminated, owned by e. */
const char *tr_wf_expr_text(const tr_wf_expr *e);

/* Evaluates e (borrowed) into *out (see tr_wf_value for what it borrows).
 * Returns 0, TR_ETYPE (operands of the wrong type), TR_ENOENT (unknown
 * variable or Json property), TR_ERANGE (division by zero, overflow), or
 * a code the lookup returned. err may be NULL. */
int tr_wf_expr_eval(const tr_wf_expr *e, tr_wf_lookup_fn lookup, void *ud, tr_wf_value *out,
                    tr_wf_expr_error *err);
/* As tr_wf_expr_eval for a condition: the result must be a Boolean (null
 * counts as false); anything else is TR_ETYPE. */
int tr_wf_expr_eval_bool(const tr_wf_expr *e, tr_wf_lookup_fn lookup, void *ud, bool *out,
                         tr_wf_expr_error *err);

/* Camunda's name of a type ("String", "Integer", ...). Never NULL. */
const char *tr_wf_vtype_name(tr_wf_vtype t);

#endif
