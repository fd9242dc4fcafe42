/* link.c - one authenticated, encrypted connection to another node.
 *
 * See link.h for the model. The invariants that keep it simple:
 *  - at most one write is in flight (tx_busy); whoever sets tx_busy owns the
 *    tx seal state and the buffer being written until the completion;
 *  - reads are one chain of nng_stream_recv completions, so frames are
 *    opened and handed over one at a time, in order, on one thread at a time;
 *  - the first failure wins (dead): it closes the stream, reports what was
 *    queued and never sent as lost, and calls down once.
 */
#include "link.h"

#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handshake.h"
#include "seal.h"

#include <sodium.h>

#define PREFIX 4                      /* length prefix of every frame */
/* Receive buffer: larger than a whole frame of TR_LINK_FRAME_TARGET, and
 * kept: first-touching fresh pages is what costs most on small VMs. */
#define RX_INITIAL (1u << 20)
#define RX_KEEP (4u << 20)            /* shrink back only from above this */
#define TX_SPARES 4                   /* frame buffers a link keeps for reuse */

typedef struct txbuf {
  struct txbuf *next;
  tr_pack pk;          /* [len 4][seal header][plaintext] (+ room for the tag) */
  tr_envelope_batch b; /* open batch (DATA frames) */
  int type;
  int raw;             /* handshake message: length prefix, not sealed */
  uint32_t nmsgs;
  size_t sent;         /* bytes written so far */
} txbuf;

struct tr_link {
  nng_stream *s;
  nng_aio *rx_aio, *tx_aio;
  const tr_identity *id;
  const tr_link_ops *ops;
  void *arg;
  int initiator;
  uint64_t started_ms;

  tr_hs hs;
  tr_seal tx, rx;
  uint64_t peer;
  uint8_t peer_pk[32];
  _Atomic int up;
  _Atomic int dead;

  /* receive side: touched only by the recv chain */
  uint8_t *rb;
  size_t rlen, rcap;
  nng_iov riov;

  /* send side */
  pthread_mutex_t mu;
  txbuf *hs_out;         /* a handshake message to send first */
  txbuf *ready_head, *ready_tail; /* closed frames, in order */
  txbuf *cur;            /* the open DATA frame */
  size_t queued;         /* bytes in ready + cur */
  int tx_busy;
  txbuf *writing;        /* owned by the tx_busy holder */
  txbuf *spare[TX_SPARES]; /* written frames kept for reuse (under mu) */
  int nspare;
  nng_iov tiov;

  pthread_mutex_t st_mu;
  tr_link_stats st;
};

static _Atomic int unsealed_for_bench;
void tr_link_set_unsealed_for_bench(int on) { atomic_store(&unsealed_for_bench, on); }

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define STAT_ADD(l, field, v)        \
  do {                               \
    pthread_mutex_lock(&(l)->st_mu); \
    (l)->st.field += (v);            \
    pthread_mutex_unlock(&(l)->st_mu); \
  } while (0)

/* ------------------------------------------------------------ buffers */

static void txbuf_free(txbuf *t) {
  if (!t) return;
  tr_pack_free(&t->pk);
  free(t);
}

/* A frame buffer with the prefix and seal header reserved: a spare one of
 * l's if there is one (caller holds l->mu), else a new one. */
static txbuf *txbuf_new_locked(tr_link *l, int type, int raw) {
  txbuf *t = l && l->nspare ? l->spare[--l->nspare] : NULL;
  if (t) {
    tr_pack_reset(&t->pk);
    memset(&t->b, 0, sizeof t->b);
    t->next = NULL;
    t->nmsgs = 0;
    t->sent = 0;
  } else if (!(t = calloc(1, sizeof *t))) {
    return NULL;
  }
  t->type = type;
  t->raw = raw;
  static const uint8_t zero[PREFIX + TR_SEAL_HEADER];
  if (tr_pack_raw(&t->pk, zero, raw ? PREFIX : sizeof zero) < 0) {
    txbuf_free(t);
    return NULL;
  }
  return t;
}

/* Makes room after pk->len for the seal's tag without counting it. */
static int reserve_tag(tr_pack *pk) {
  static const uint8_t zero[TR_SEAL_TAG];
  if (tr_pack_raw(pk, zero, sizeof zero) < 0) return pk->err;
  pk->len -= sizeof zero;
  return 0;
}

static void ready_push(tr_link *l, txbuf *t) {
  t->next = NULL;
  if (l->ready_tail) l->ready_tail->next = t;
  else l->ready_head = t;
  l->ready_tail = t;
}

/* Closes the open DATA frame (its batch count is filled in). */
static void close_cur(tr_link *l) {
  txbuf *t = l->cur;
  if (!t) return;
  l->cur = NULL;
  tr_envelope_batch_end(&t->b);
  ready_push(l, t);
}

/* The next buffer to write, or NULL. Caller holds mu. Before the handshake
 * ends only handshake messages leave. */
static txbuf *take_locked(tr_link *l) {
  txbuf *t = l->hs_out;
  if (t) {
    l->hs_out = NULL;
    return t;
  }
  if (!atomic_load(&l->up)) return NULL;
  if (!l->ready_head && l->cur && l->cur->nmsgs) close_cur(l);
  t = l->ready_head;
  if (!t) return NULL;
  l->ready_head = t->next;
  if (!l->ready_head) l->ready_tail = NULL;
  l->queued -= t->pk.len;
  return t;
}

/* ------------------------------------------------------------ failure */

static void report_lost(tr_link *l, txbuf *t) {
  if (!t || t->raw || t->type != TR_FRAME_DATA || !t->nmsgs || !l->ops->lost) return;
  if (t == l->cur) tr_envelope_batch_end(&t->b);
  size_t off = PREFIX + TR_SEAL_HEADER;
  tr_envelope_reader r;
  uint32_t n;
  if (tr_envelope_reader_open(&r, t->pk.data + off, t->pk.len - off, &n) < 0) return;
  tr_envelope e;
  while (tr_envelope_reader_next(&r, &e) == 0) l->ops->lost(l, &e, l->arg);
}

static void link_fail(tr_link *l, int err) {
  if (atomic_exchange(&l->dead, 1)) return;
  nng_stream_close(l->s);
  /* what never left is reported; a frame being written may have arrived */
  pthread_mutex_lock(&l->mu);
  txbuf *list = l->ready_head, *cur = l->cur, *hs = l->hs_out;
  l->ready_head = l->ready_tail = l->cur = l->hs_out = NULL;
  l->queued = 0;
  pthread_mutex_unlock(&l->mu);
  while (list) {
    txbuf *next = list->next;
    report_lost(l, list);
    txbuf_free(list);
    list = next;
  }
  report_lost(l, cur);
  txbuf_free(cur);
  txbuf_free(hs);
  l->ops->down(l, err, l->arg);
}

/* ------------------------------------------------------------ sending */

static void tx_write(tr_link *l) {
  txbuf *t = l->writing;
  l->tiov.iov_buf = t->pk.data + t->sent;
  l->tiov.iov_len = t->pk.len - t->sent;
  nng_aio_set_iov(l->tx_aio, 1, &l->tiov);
  nng_stream_send(l->s, l->tx_aio);
}

/* Seals t (unless raw), writes its length prefix and starts writing it.
 * The caller holds tx_busy. */
static void tx_start(tr_link *l, txbuf *t) {
  size_t body;
  if (t->raw) {
    body = t->pk.len - PREFIX;
  } else if (atomic_load(&unsealed_for_bench)) {
    t->pk.data[PREFIX] = (uint8_t)t->type;
    body = t->pk.len - PREFIX;
  } else {
    size_t n = t->pk.len - PREFIX - TR_SEAL_HEADER;
    uint8_t *out = t->pk.data + PREFIX;
    int rc = tr_seal_frame(&l->tx, (uint8_t)t->type, out + TR_SEAL_HEADER, n, out,
                           t->pk.cap - PREFIX, &body, tr_now_ms());
    if (rc < 0) {
      txbuf_free(t);
      pthread_mutex_lock(&l->mu);
      l->tx_busy = 0;
      pthread_mutex_unlock(&l->mu);
      link_fail(l, rc);
      return;
    }
    t->pk.len = PREFIX + body;
  }
  put_be32(t->pk.data, (uint32_t)body);
  t->sent = 0;
  l->writing = t;
  if (!t->raw) {
    pthread_mutex_lock(&l->st_mu);
    l->st.frames_out++;
    l->st.msgs_out += t->nmsgs;
    l->st.bytes_out += t->pk.len;
    pthread_mutex_unlock(&l->st_mu);
  }
  tx_write(l);
}

/* Starts a write if none is in flight and something is ready. */
static void kick(tr_link *l) {
  pthread_mutex_lock(&l->mu);
  txbuf *t = NULL;
  if (!l->tx_busy && !atomic_load(&l->dead)) {
    t = take_locked(l);
    if (t) l->tx_busy = 1;
  }
  pthread_mutex_unlock(&l->mu);
  if (t) tx_start(l, t);
}

static void tx_done(void *arg) {
  tr_link *l = arg;
  txbuf *t = l->writing;
  int rv = nng_aio_result(l->tx_aio);
  if (rv == 0) {
    t->sent += nng_aio_count(l->tx_aio);
    if (t->sent < t->pk.len) { /* a partial write: the rest */
      tx_write(l);
      return;
    }
  }
  l->writing = NULL;
  if (rv != 0) {
    txbuf_free(t);
    pthread_mutex_lock(&l->mu);
    l->tx_busy = 0;
    pthread_mutex_unlock(&l->mu);
    link_fail(l, TR_EIO);
    return;
  }
  pthread_mutex_lock(&l->mu);
  /* keep data frame buffers of a usual size for the next frames */
  if (!t->raw && t->type == TR_FRAME_DATA && l->nspare < TX_SPARES &&
      t->pk.cap <= 2 * TR_LINK_FRAME_TARGET)
    l->spare[l->nspare++] = t;
  else
    txbuf_free(t);
  t = atomic_load(&l->dead) ? NULL : take_locked(l);
  if (!t) l->tx_busy = 0;
  pthread_mutex_unlock(&l->mu);
  if (t) tx_start(l, t);
}

int tr_link_send(tr_link *l, const tr_envelope *e) {
  size_t need = tr_envelope_size(e);
  if (!need) return TR_EINVAL;
  if (need > TR_LINK_FRAME_MAX - 16) return TR_ETOOBIG;
  pthread_mutex_lock(&l->mu);
  if (atomic_load(&l->dead)) {
    pthread_mutex_unlock(&l->mu);
    return TR_ESTOPPED;
  }
  if (l->queued + need > TR_LINK_QUEUE_MAX) {
    pthread_mutex_unlock(&l->mu);
    return TR_EAGAIN;
  }
  if (l->cur && l->cur->pk.len + need > TR_LINK_FRAME_TARGET && l->cur->nmsgs) close_cur(l);
  if (!l->cur) {
    txbuf *t = txbuf_new_locked(l, TR_FRAME_DATA, 0);
    if (!t || tr_envelope_batch_begin(&t->b, &t->pk) < 0) {
      txbuf_free(t);
      pthread_mutex_unlock(&l->mu);
      return TR_ENOMEM;
    }
    l->cur = t;
    l->queued += t->pk.len;
  }
  txbuf *t = l->cur;
  size_t before = t->pk.len;
  int rc = tr_envelope_batch_add(&t->b, e);
  if (rc == 0) rc = reserve_tag(&t->pk);
  if (rc < 0) {
    pthread_mutex_unlock(&l->mu);
    return rc;
  }
  t->nmsgs++;
  l->queued += t->pk.len - before;
  txbuf *go = NULL;
  if (!l->tx_busy && atomic_load(&l->up)) {
    go = take_locked(l);
    if (go) l->tx_busy = 1;
  }
  pthread_mutex_unlock(&l->mu);
  if (go) tx_start(l, go);
  return 0;
}

int tr_link_send_frame(tr_link *l, int type, const void *p, size_t n) {
  if (type == TR_FRAME_DATA || n > TR_LINK_FRAME_MAX - 16) return TR_EINVAL;
  txbuf *t = txbuf_new_locked(NULL, type, 0);
  if (!t) return TR_ENOMEM;
  if (tr_pack_raw(&t->pk, p, n) < 0 || reserve_tag(&t->pk) < 0) {
    txbuf_free(t);
    return TR_ENOMEM;
  }
  pthread_mutex_lock(&l->mu);
  if (atomic_load(&l->dead)) {
    pthread_mutex_unlock(&l->mu);
    txbuf_free(t);
    return TR_ESTOPPED;
  }
  close_cur(l); /* keeps the order of everything sent so far */
  ready_push(l, t);
  l->queued += t->pk.len;
  pthread_mutex_unlock(&l->mu);
  kick(l);
  return 0;
}

/* ------------------------------------------------------------ handshake */

static int queue_hs(tr_link *l) {
  txbuf *t = txbuf_new_locked(NULL, 0, 1);
  if (!t) return TR_ENOMEM;
  uint8_t msg[TR_HS_MSG_MAX];
  size_t n;
  int rc = tr_hs_write(&l->hs, msg, sizeof msg, &n);
  if (rc == 0) rc = tr_pack_raw(&t->pk, msg, n);
  if (rc < 0) {
    txbuf_free(t);
    return rc;
  }
  pthread_mutex_lock(&l->mu);
  l->hs_out = t;
  pthread_mutex_unlock(&l->mu);
  kick(l);
  return 0;
}

static int hs_finish(tr_link *l) {
  int rc = tr_hs_split(&l->hs, &l->tx, &l->rx, l->peer_pk, &l->peer, tr_now_ms());
  tr_hs_clear(&l->hs);
  if (rc < 0) return rc;
  atomic_store(&l->up, 1);
  l->ops->up(l, l->arg);
  kick(l); /* what was queued during the handshake */
  return 0;
}

/* Writes what the handshake has to say next, and ends it when it is done:
 * the initiator writes msg1, then msg3 after reading msg2 (which ends its
 * side); the responder writes msg2 after msg1 and ends on reading msg3. */
static int hs_advance(tr_link *l) {
  while (tr_hs_next(&l->hs) == TR_HS_WRITE) {
    int rc = queue_hs(l);
    if (rc < 0) return rc;
  }
  if (tr_hs_done(&l->hs)) return hs_finish(l);
  return 0;
}

static int hs_step(tr_link *l, const uint8_t *p, size_t n) {
  int rc = tr_hs_read(&l->hs, p, n);
  return rc < 0 ? rc : hs_advance(l);
}

/* ------------------------------------------------------------ receiving */

static void frame_in(tr_link *l, uint8_t *p, size_t n) {
  int type;
  uint8_t *pt;
  size_t ptlen;
  if (atomic_load(&unsealed_for_bench)) {
    type = p[0];
    pt = p + TR_SEAL_HEADER;
    ptlen = n - TR_SEAL_HEADER;
  } else {
    uint8_t ty;
    int rc = tr_seal_open(&l->rx, p, n, &ty, &pt, &ptlen);
    if (rc < 0) {
      /* dropped and counted; the link goes on (seal.h: state unchanged) */
      if (rc == TR_SEAL_EREPLAY) STAT_ADD(l, rejected_replay, 1);
      else if (rc == TR_ETOOBIG || rc == TR_EPROTO) STAT_ADD(l, rejected_size, 1);
      else STAT_ADD(l, rejected_auth, 1);
      return;
    }
    type = ty;
  }
  pthread_mutex_lock(&l->st_mu);
  l->st.frames_in++;
  l->st.bytes_in += n + PREFIX;
  pthread_mutex_unlock(&l->st_mu);
  l->ops->frame(l, type, pt, ptlen, l->arg);
  if (type == TR_FRAME_BYE) link_fail(l, TR_ESTOPPED);
}

static void rx_arm(tr_link *l) {
  l->riov.iov_buf = l->rb + l->rlen;
  l->riov.iov_len = l->rcap - l->rlen;
  nng_aio_set_iov(l->rx_aio, 1, &l->riov);
  nng_stream_recv(l->s, l->rx_aio);
}

static void rx_done(void *arg) {
  tr_link *l = arg;
  int rv = nng_aio_result(l->rx_aio);
  if (rv != 0) {
    link_fail(l, rv == NNG_ECLOSED ? TR_ESTOPPED : TR_EIO);
    return;
  }
  l->rlen += nng_aio_count(l->rx_aio);
  size_t off = 0;
  while (!atomic_load(&l->dead) && l->rlen - off >= PREFIX) {
    uint32_t flen = get_be32(l->rb + off);
    int up = atomic_load(&l->up);
    size_t max = up ? TR_LINK_FRAME_MAX + TR_SEAL_OVERHEAD : TR_HS_MSG_MAX;
    if (flen == 0 || flen > max || (up && flen < TR_SEAL_HEADER)) {
      /* a length we cannot trust: the stream cannot be resynchronised */
      STAT_ADD(l, rejected_size, 1);
      link_fail(l, TR_EPROTO);
      return;
    }
    if (l->rlen - off - PREFIX < flen) break;
    uint8_t *p = l->rb + off + PREFIX;
    off += PREFIX + flen;
    if (up) {
      frame_in(l, p, flen);
    } else {
      int rc = hs_step(l, p, flen);
      if (rc < 0) {
        link_fail(l, rc);
        return;
      }
    }
  }
  if (atomic_load(&l->dead)) return;
  if (off) {
    memmove(l->rb, l->rb + off, l->rlen - off);
    l->rlen -= off;
  }
  /* room for the whole next frame; shrink again after a big one */
  size_t need = RX_INITIAL;
  if (l->rlen >= PREFIX) {
    size_t f = (size_t)get_be32(l->rb) + PREFIX;
    if (f > need) need = f;
  }
  if (need > l->rcap || (l->rcap > RX_KEEP && l->rlen <= RX_INITIAL && need == RX_INITIAL)) {
    uint8_t *nb = realloc(l->rb, need);
    if (!nb) {
      link_fail(l, TR_ENOMEM);
      return;
    }
    l->rb = nb;
    l->rcap = need;
  }
  rx_arm(l);
}

/* ------------------------------------------------------------ lifecycle */

int tr_link_new(nng_stream *s, int initiator, const tr_identity *id, const tr_link_ops *ops,
                void *arg, tr_link **out) {
  if (!s || !id || !ops || !out) return TR_EINVAL;
  tr_link *l = calloc(1, sizeof *l);
  if (!l) return TR_ENOMEM;
  l->s = s;
  l->id = id;
  l->ops = ops;
  l->arg = arg;
  l->initiator = initiator;
  l->started_ms = tr_now_ms();
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->st_mu, NULL);
  l->rb = malloc(RX_INITIAL);
  l->rcap = RX_INITIAL;
  if (!l->rb || nng_aio_alloc(&l->rx_aio, rx_done, l) != 0 ||
      nng_aio_alloc(&l->tx_aio, tx_done, l) != 0 || tr_hs_init(&l->hs, initiator, id) < 0) {
    nng_aio_free(l->rx_aio);
    nng_aio_free(l->tx_aio);
    free(l->rb);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->st_mu);
    free(l);
    return TR_ENOMEM;
  }
  *out = l;
  return 0;
}

int tr_link_start(tr_link *l) {
  int rc = hs_advance(l);
  if (rc < 0) {
    link_fail(l, rc);
    return rc;
  }
  rx_arm(l);
  return 0;
}

void tr_link_close(tr_link *l) { link_fail(l, TR_ESTOPPED); }

void tr_link_quiesce(tr_link *l) {
  link_fail(l, TR_ESTOPPED);
  /* after the stream is closed both aios complete; stop waits for their
   * callbacks (the order nng 1.5.2 needs: aios first, then the stream) */
  nng_aio_stop(l->rx_aio);
  nng_aio_stop(l->tx_aio);
}

void tr_link_free(tr_link *l) {
  if (!l) return;
  tr_link_quiesce(l);
  txbuf_free(l->writing);
  for (int i = 0; i < l->nspare; i++) txbuf_free(l->spare[i]);
  nng_aio_free(l->rx_aio);
  nng_aio_free(l->tx_aio);
  nng_stream_free(l->s);
  tr_hs_clear(&l->hs);
  tr_seal_clear(&l->tx);
  tr_seal_clear(&l->rx);
  free(l->rb);
  pthread_mutex_destroy(&l->mu);
  pthread_mutex_destroy(&l->st_mu);
  free(l);
}

int tr_link_is_up(const tr_link *l) { return atomic_load(&l->up) && !atomic_load(&l->dead); }
uint64_t tr_link_peer(const tr_link *l) { return atomic_load(&l->up) ? l->peer : 0; }
uint64_t tr_link_started_ms(const tr_link *l) { return l->started_ms; }

void tr_link_get_stats(tr_link *l, tr_link_stats *out) {
  pthread_mutex_lock(&l->st_mu);
  *out = l->st;
  pthread_mutex_unlock(&l->st_mu);
}
