/* troupe/error.h - error codes shared by every troupe API.
 *
 * Every function returns 0 (TR_OK) or a negative TR_E* code; none aborts on
 * bad input. Exit reasons of actors reuse the same space: 0 is a normal exit,
 * small positive values are the runtime's own reasons, negative values are
 * failures.
 */
#ifndef TROUPE_ERROR_H
#define TROUPE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TR_OK = 0,
  TR_EINVAL = -1,      /* bad argument */
  TR_ENOMEM = -2,      /* out of memory */
  TR_ENOENT = -3,      /* no such actor, name, key or file */
  TR_EEXIST = -4,      /* name or key already taken */
  TR_EAGAIN = -5,      /* mailbox full (reject policy), try later */
  TR_ETIMEDOUT = -6,   /* ask or wait timed out */
  TR_ESTOPPED = -7,    /* the system or actor is stopping */
  TR_EDEADLK = -8,     /* a blocking call made on a scheduler thread */
  TR_ETOOBIG = -9,     /* payload or value over a limit */
  TR_EFAILED = -10,    /* generic failure reported by a behaviour */
  TR_EIO = -11,        /* I/O or storage error */
  TR_ECORRUPT = -12,   /* stored or received data failed validation */
  TR_EPROTO = -13,     /* malformed input, protocol violation */
  TR_ENOTSUP = -14,    /* not supported */
  TR_EPERM = -15,      /* not allowed */
  TR_EFULL = -16,      /* storage at its configured limit */
  TR_ECANCELED = -17,  /* cancelled */
  TR_EINTENSITY = -18, /* supervisor exceeded its restart intensity */
  TR_ENOPROC = -19,    /* the linked or monitored actor did not exist */
  TR_ETYPE = -20,      /* value of another type than asked for */
  TR_ERANGE = -21,     /* value out of range */
  TR_EVERSION = -22,   /* unknown or newer format version */
  TR_EBUSY = -23       /* held by someone else (a claimed task) */
};

/* Exit reasons with a meaning of their own (see also negative TR_E* codes). */
enum {
  TR_EXIT_NORMAL = 0,   /* finished; links are not triggered */
  TR_EXIT_SHUTDOWN = 1, /* stopped by its parent, a supervisor or tr_actor_stop */
  TR_EXIT_KILLED = 2    /* killed by an untrappable exit signal */
};

/* Static English text for a TR_E* code or exit reason. Never NULL. */
const char *tr_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
