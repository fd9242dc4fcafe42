/* inst.h - the inside of a process instance, shared by its files:
 *
 *   instance.c  the actor: requests, the journal, recovery, acks, GET
 *   interp.c    the interpreter: tokens through the model (no I/O)
 *   waits.c     what the interpreter asks of the outside world: jobs, user
 *               tasks, message subscriptions, timers, child instances,
 *               history; retried until answered
 *   iomap.c     input/output mappings and call activity variables
 *
 * The interpreter runs with ctx NULL while it replays the journal: then it
 * only computes where tokens go, and waits.c does nothing; once the replay
 * is over, waits_resume() performs the effects of every token that waits.
 * Everything the interpreter decides depends only on the model and the
 * journal's events (their variables and times), so a replay always ends
 * in the same state with the same wait numbers.
 */
#ifndef TR_WF_INST_H
#define TR_WF_INST_H

#include <stddef.h>
#include <stdint.h>

#include "actors/workflow/model.h"
#include "troupe/troupe.h"

enum { I_NEW = 0, I_LOADING, I_RUNNING, I_COMPLETED, I_FAILED, I_TERMINATED };

/* token states */
enum {
  T_ACTIVE = 1, /* moving: the pump handles it */
  T_WAIT,       /* at an activity or catch event, waiting for its wait (kind) */
  T_BOUND,      /* a timer or message boundary event of its host token */
  T_SCOPE,      /* an embedded subprocess: done when no token is inside */
  T_JOIN,       /* arrived at a parallel or inclusive join */
  T_GONE
};
/* what a wait waits for */
enum { W_NONE = 0, W_JOB, W_TASK, W_MSG, W_TIMER, W_CALL };

/* journal event kinds: [kind, ...] (instance.c documents the shapes) */
enum {
  EV_STARTED = 1,
  EV_JOB_DONE = 2,
  EV_TASK_DONE = 3,
  EV_MSG = 4,
  EV_TIMER = 5,
  EV_JOB_ERROR = 6,
  EV_CHILD_DONE = 7,
  EV_HIST_ACKED = 8,   /* wfhist took TR_WFH_ENDED: not sent again */
  EV_PARENT_ACKED = 9, /* the parent took TR_WF_CHILD_DONE: not sent again */
  EV_CANCELED = 10     /* the parent cancelled this child: [10, 0, nil, time, ""] */
};

/* actor timer types */
enum { TM_RETRY = 1, TM_RELOAD, TM_FIRE, TM_KEEP };

typedef struct token {
  int id;      /* never reused */
  int state;   /* T_* */
  int kind;    /* W_* while T_WAIT or T_BOUND */
  int wait;    /* its wait number ("<pi>:<wait>"), 0 when none */
  int32_t el;  /* the element it is at */
  int scope;   /* id of the T_SCOPE token it is inside, 0: the process */
  int host;    /* T_BOUND: id of the token of the activity it is attached to */
  int act;     /* index into the activity history, -1 when none */
  int confirmed;  /* the registration of its wait was answered ok */
  uint64_t corr;  /* the registration ask */
  uint64_t tid;   /* the tr_timer of a timer wait, 0 when none */
  int64_t due;    /* timer waits: when it fires (epoch ms) */
  int64_t since;  /* when it began to wait (the event's time: the same on replay) */
  int32_t left;   /* cycle timers: firings left, -1 unbounded */
  uint8_t *local; /* io inputs: the activity's variables over the instance's */
  size_t llen;
} token;

typedef struct evrec { /* a journal event kept for the replay */
  int kind;
  int32_t wait;
  int64_t time;
  uint8_t *vars;
  size_t len;
  char code[128];
} evrec;

typedef struct actrec { /* one activity instance, for history and GET */
  int32_t el;
  int64_t start, end; /* end -1 while running */
  int canceled;
} actrec;

typedef struct ackq { /* a note to ack once what it caused is durable */
  uint64_t seq;
  uint32_t type;
  char name[TR_VIRTUAL_NAME_MAX + 1], id[300];
} ackq;

typedef struct inst {
  char id[80], def_id[160], key[128], bk[128];
  char start_el[128], start_msg[128]; /* where it starts: element or message name */
  char parent[128];                   /* the parent's wait id, "" when none */
  uint32_t version;
  int state;
  char error[256];
  char err_code[128]; /* a BPMN error that ended it (a child: for the parent) */
  uint8_t *vars;
  size_t vlen;
  const tr_wf_model *model; /* shared with the definition's other instances (mcache.h) */
  int load_src;              /* ask for the source: the model is not cached */
  int32_t proc;
  token *t;
  int nt, cap, next_token, next_wait;
  int64_t now;       /* the time of the event being applied (epoch ms) */
  int64_t start_time, end_time;
  evrec *ev; /* events to replay once the model is here */
  int nev, capev;
  actrec *acts;
  int nacts, capacts;
  /* the start request waiting for its definition, then for durability */
  tr_ref starter;
  uint64_t starter_corr, starter_seq, load_corr;
  int starting;
  uint64_t acked;
  ackq *acks;
  int nacks, capacks;
  struct { tr_ref who; uint64_t corr; } gets[16]; /* GETs waiting for the replay */
  int ngets;
  /* outside effects that are not tokens' */
  int retry_armed, retry_armed_n, keep_armed;
  uint64_t keep_tid;
  int hist_started_ok, hist_ended_ok, hist_sent_ended, parent_acked, parent_sent, end_seen;
  /* cancels of index registrations (a task, a subscription) whose token
   * left another way: sent until an index answers, again after a recovery
   * (the replay finds them again; an index takes a repeat as the same) */
  struct cancelq {
    uint32_t type;
    char name[TR_VIRTUAL_NAME_MAX + 1], id[128];
    uint64_t corr; /* the ask in flight, 0 when none */
  } *cancels;
  int ncancels, capcancels;
  uint64_t hist_corr;
  int passivating; /* asked the directory to passivate it (instance.c) */
} inst;

/* ---- interp.c ---- */
int wf_fail(inst *s, const char *what, const char *el);
/* Places the first token (at start, replaying or live) and runs it. */
int wf_begin_tokens(tr_ctx *ctx, inst *s, int32_t start);
/* Applies an outside event (live or replayed) and runs the tokens on. */
int wf_apply_event(tr_ctx *ctx, inst *s, const evrec *ev);
/* The token index waiting for wait number w of kind (0: any), or -1. */
int wf_find_wait(const inst *s, int32_t w, int kind);
int wf_token_index(const inst *s, int id);
const char *wf_state_name(int st);

/* ---- waits.c ---- */
void waits_enter(tr_ctx *ctx, inst *s, int ti); /* a new wait: its effect */
void waits_cancel(tr_ctx *ctx, inst *s, int ti); /* a wait left another way */
void waits_resume(tr_ctx *ctx, inst *s);        /* after a replay: every wait again */
void waits_retry(tr_ctx *ctx, inst *s);         /* the retry timer: what is unanswered */
void waits_reply(tr_ctx *ctx, inst *s, const tr_msg *m); /* an answer or a timeout */
void waits_ended(tr_ctx *ctx, inst *s);         /* after each message: end effects */
void waits_retry_soon(tr_ctx *ctx, inst *s);
/* Computes a timer wait's due time from now (deterministic). */
int waits_timer_due(inst *s, token *t, const tr_wf_element *e);
void waits_emit(tr_ctx *ctx, inst *s, const char *type, const token *t);
int64_t wf_wall_ms(void);
void wf_pack_acts(tr_pack *pk, const inst *s); /* the activity records, for GET */

/* ---- journal.c ---- */
int wf_keep_event(inst *s, const evrec *e);
int wf_journal_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len);
int wf_journal_started(tr_ctx *ctx, inst *s, uint64_t *seq);
int wf_journal_event(tr_ctx *ctx, inst *s, evrec *e); /* journals, then applies */
int wf_on_cancel(tr_ctx *ctx, inst *s, const tr_msg *m); /* TR_WF_CANCEL from the parent */
int wf_journal_mark(tr_ctx *ctx, int kind);            /* EV_HIST_ACKED, EV_PARENT_ACKED */
void wf_send_acks(tr_ctx *ctx, inst *s);
int wf_on_job_note(tr_ctx *ctx, inst *s, const tr_msg *m);
int wf_on_idx_note(tr_ctx *ctx, inst *s, const tr_msg *m);
int wf_on_timer(tr_ctx *ctx, inst *s, const tr_msg *m);
int wf_on_ack(tr_ctx *ctx, inst *s, const tr_msg *m);

/* ---- iomap.c ---- */
/* t->local = instance variables with e's inputs set over them. */
int io_inputs(inst *s, token *t, const tr_wf_element *e);
/* Sets e's outputs on the instance, evaluated over its variables and t's. */
int io_outputs(inst *s, const token *t, const tr_wf_element *e);
/* The variables a call activity passes to its child (camunda:in) into out. */
int io_call_in(inst *s, const token *t, const tr_wf_element *e, tr_pack *out);
/* Sets what camunda:out takes from the child's variables on the instance. */
int io_call_out(inst *s, const tr_wf_element *e, const uint8_t *child, size_t clen);
/* Sets the instance's variables to a merge of upd over them. */
int io_merge(inst *s, const uint8_t *upd, size_t ulen);
/* Evaluates a ${...} text over the variables of t (or the instance) into
 * buf as a string; a text without ${ is copied. 0, or a TR_E* code. */
int io_text(inst *s, const token *t, const char *text, char *buf, size_t cap);

#endif
