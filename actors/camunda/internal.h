/* internal.h - what the REST API's files share: the request actor, its
 * helpers, and the endpoint table.
 *
 * A request actor (rest.c) owns a copy of its request message. Its
 * endpoint's start() reads the request and either answers at once or sends
 * asks (rq_ask) and returns; each reply (or its timeout) goes to the
 * endpoint's reply(), which sends more asks or answers. Answering
 * (rq_json, rq_status, rq_error) ends the actor: the helpers return
 * TR_STOP, which start() and reply() return in turn.
 */
#ifndef TR_CAMUNDA_INTERNAL_H
#define TR_CAMUNDA_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/camunda/camunda.h"

#define RQ_MAX_PARAMS 3
#define RQ_PARAM_MAX 320

typedef struct rq rq;

typedef struct endpoint {
  const char *method;
  const char *pattern; /* after the prefix; "{}" matches one path segment */
  int (*start)(tr_ctx *ctx, rq *r);
  /* a reply to ask number idx (0, 1, ... in the order asked); msg is a
   * TR_MSG_TIMEOUT when the ask timed out */
  int (*reply)(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg);
} endpoint;

struct rq {
  uint8_t *raw; /* the request message, which in's views point into */
  tr_http_incoming in;
  const endpoint *ep;
  char param[RQ_MAX_PARAMS][RQ_PARAM_MAX]; /* the {} segments, URL-decoded */
  json_t *body;                            /* the JSON body, if any (rq_body) */
  /* asks in flight: their correlation ids by index */
  uint64_t *corr;
  int nasks, capasks, pending;
  /* endpoint scratch, freed with the request */
  json_t *acc;
  int step, count, first, max;
  void *scratch;
  void (*scratch_free)(void *);
  /* the fan-out (fanout.c) */
  char fan_kind[16];
  uint32_t fan_type;
  uint8_t *fan_data;
  size_t fan_len;
  json_t *fan_keys; /* the keys asked, by idx - 1 */
};

/* ---- answers (each returns TR_STOP, or a negative code) ---- */
int rq_json(tr_ctx *ctx, rq *r, int status, json_t *body); /* steals body */
int rq_status(tr_ctx *ctx, rq *r, int status);             /* no body (204) */
int rq_error(tr_ctx *ctx, rq *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The answer to an engine error reply: code (TR_E*) and its text mapped to
 * Camunda's status and type (TR_ENOENT -> 404, TR_EINVAL -> 400, ...). */
int rq_engine_error(tr_ctx *ctx, rq *r, int code, const char *text);
/* The answer when msg (a reply) is an error, or 0 when it is ok. */
int rq_check(tr_ctx *ctx, rq *r, const tr_msg *msg);

/* ---- asks ---- */
/* Asks the virtual actor name; the reply comes to ep->reply with the ask's
 * index (returned, >= 0) or a negative code. pk is borrowed. */
int rq_ask(tr_ctx *ctx, rq *r, const char *name, uint32_t type, const tr_pack *pk,
           uint32_t timeout_ms);
/* The ask "<kind>/<key>" (a virtual name made from parts). */
int rq_ask2(tr_ctx *ctx, rq *r, const char *kind, const char *key, uint32_t type,
            const tr_pack *pk, uint32_t timeout_ms);

/* ---- reading the request ---- */
/* The body as a JSON object: *out (borrowed, owned by r) or NULL for an
 * empty body when empty_ok. Answers 400 itself (and returns TR_STOP) when
 * the body is not a JSON object. */
int rq_body(tr_ctx *ctx, rq *r, int empty_ok, json_t **out);
/* A query parameter, URL-decoded into buf; 1 when present, 0 when not,
 * TR_ETOOBIG when it does not fit. */
int rq_query(const rq *r, const char *name, char *buf, size_t cap);
/* Query parameters as types; *present tells whether it was given. A
 * malformed value answers 400 (TR_STOP). */
int rq_query_int(tr_ctx *ctx, rq *r, const char *name, int64_t *v, int *present);
int rq_query_bool(tr_ctx *ctx, rq *r, const char *name, int *v, int *present);
/* A header's value (NUL-terminated copy into buf), or NULL. */
const char *rq_header(const rq *r, const char *name, char *buf, size_t cap);

/* firstResult and maxResults (max -1: all); a malformed one answers 400. */
int rq_paging(tr_ctx *ctx, rq *r, int64_t *first, int64_t *max);
/* Answers a list (stolen): {"count": n} when count_only, else the page
 * [first, first + max) of it. */
int rq_list(tr_ctx *ctx, rq *r, json_t *all, int64_t first, int64_t max, int count_only);

/* ---- shared shapes ---- */
/* ms since the epoch as Camunda writes dates: "2024-01-31T12:00:00.000+0000". */
void rest_date(uint64_t ms, char out[32]);
/* Parses a Camunda date ("yyyy-MM-dd'T'HH:mm:ss[.SSS][Z|+hhmm|+hh:mm]").
 * 0 or TR_EINVAL. */
int rest_date_parse(const char *s, uint64_t *ms);
uint64_t rest_now_ms(void);

/* Variables: Camunda's {"name": {"value": v, "type": "Integer", "valueInfo":
 * {}}} <-> the engine's msgpack map. vars.c */
int rest_vars_to_msgpack(const json_t *vars, tr_pack *out, char *err, size_t errcap);
/* A msgpack map of variables (borrowed) to Camunda's object; only the names
 * in `only` (a JSON array of names, or NULL for all). NULL on malformed. */
json_t *rest_vars_from_msgpack(const void *p, size_t len, const json_t *only);
/* One msgpack value to a typed Camunda variable {"type","value","valueInfo"}. */
json_t *rest_var_from_msgpack(const void *p, size_t len);
/* A msgpack string of a reply map as a JSON string (or null). */
json_t *rest_str(const tr_unpack *map, const char *key);
/* A msgpack value (borrowed) as a plain JSON value (strings, numbers, maps,
 * arrays); NULL if it cannot be expressed. */
json_t *rest_plain_from_msgpack(const void *p, size_t len);

/* The blocking pool's answer to a deployment (a message, not a reply). */
#define REST_MSG_DEPLOYED 0x52455302u
int rest_deployment_done(tr_ctx *ctx, rq *r, const tr_msg *m);

/* The endpoints, by file. */
extern const endpoint rest_deployment_eps[];
extern const endpoint rest_definition_eps[];
extern const endpoint rest_instance_eps[];
extern const endpoint rest_external_eps[];
extern const endpoint rest_task_eps[];
extern const endpoint rest_message_eps[];
extern const endpoint rest_history_eps[];
extern const endpoint rest_misc_eps[];

/* A fan-out over every deployed process key (fanout.c): asks wfcat for
 * the keys, then `kind`/<key> with type and pk for each (or only the keys
 * in `only`, if not NULL). Replies come to the endpoint's reply with idx >=
 * 1; idx 0 is the catalog's, handled by rq_fanout_reply. */
int rq_fanout(tr_ctx *ctx, rq *r, const char *kind, uint32_t type, const tr_pack *pk);
/* Call first in reply(): 1 when the message was the catalog's and the asks
 * went out (return 0 then), TR_STOP / < 0 on an answer, 0 otherwise. When
 * no key exists the fan-out answers with an empty result through done(). */
int rq_fanout_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg,
                    int (*done)(tr_ctx *ctx, rq *r));

#endif
