/* error.c - text for error codes and exit reasons. */
#include "troupe/error.h"

const char *tr_strerror(int code) {
  switch (code) {
  case TR_OK: return "ok (normal exit)";
  case TR_EXIT_SHUTDOWN: return "shutdown";
  case TR_EXIT_KILLED: return "killed";
  case TR_EINVAL: return "invalid argument";
  case TR_ENOMEM: return "out of memory";
  case TR_ENOENT: return "no such actor, name or key";
  case TR_EEXIST: return "already exists";
  case TR_EAGAIN: return "mailbox full, try again";
  case TR_ETIMEDOUT: return "timed out";
  case TR_ESTOPPED: return "stopped or stopping";
  case TR_EDEADLK: return "blocking call on a scheduler thread";
  case TR_ETOOBIG: return "over the size limit";
  case TR_EFAILED: return "failed";
  case TR_EIO: return "I/O error";
  case TR_ECORRUPT: return "corrupt data";
  case TR_EPROTO: return "malformed input";
  case TR_ENOTSUP: return "not supported";
  case TR_EPERM: return "not permitted";
  case TR_EFULL: return "storage full";
  case TR_ECANCELED: return "cancelled";
  case TR_EINTENSITY: return "supervisor restart intensity reached";
  case TR_ENOPROC: return "no such process";
  case TR_ETYPE: return "wrong type";
  case TR_ERANGE: return "out of range";
  case TR_EVERSION: return "unsupported version";
  case TR_EBUSY: return "held by someone else";
  default: return "unknown error";
  }
}
