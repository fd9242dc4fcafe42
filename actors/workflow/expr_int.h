/* expr_int.h - the syntax tree shared by the expression parser (expr.c) and
 * evaluator (expr_eval.c). Nodes sit in one array; children are indices. */
#ifndef TR_WF_EXPR_INT_H
#define TR_WF_EXPR_INT_H

#include "actors/workflow/expr.h"

typedef enum {
  X_LIT,   /* val */
  X_VAR,   /* name in str */
  X_PROP,  /* a.name */
  X_INDEX, /* a[b] */
  X_NEG,
  X_NOT,
  X_EMPTY,
  X_ADD,
  X_SUB,
  X_MUL,
  X_DIV,
  X_MOD,
  X_EQ,
  X_NE,
  X_LT,
  X_GT,
  X_LE,
  X_GE,
  X_AND,
  X_OR,
  X_COND /* a ? b : c */
} x_op;

typedef struct x_node {
  x_op op;
  int32_t a, b, c; /* children, -1 when absent */
  int32_t pos;     /* offset in the source, for errors */
  uint32_t str_off, str_len; /* X_VAR, X_PROP names and string literals in strs */
  tr_wf_value val;           /* X_LIT (strings point into strs after packing) */
} x_node;

struct tr_wf_expr {
  x_node *nodes;
  int32_t n, root;
  char *strs; /* names and decoded string literals */
  char *text; /* the source, NUL-terminated */
};

#endif
