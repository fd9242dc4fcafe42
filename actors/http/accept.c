/* accept.c - one listening socket for the whole server, watched by the
 * first scheduler's loop; accepted sockets are dealt round-robin to the
 * schedulers' loops, where they stay for their whole life.
 *
 * Why not a listening socket per loop with SO_REUSEPORT: a second process
 * of the same user could then bind the same port and silently take half of
 * the connections; a node given a port that is taken must fail to start.
 * The hand-off costs one tr_loop_post per connection, not per request.
 *
 * libuv's own uv_listen accepts into a handle of its loop, which cannot
 * move to another loop, so the socket is watched with a uv_poll_t and
 * accepted here with accept4.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/http/internal.h"

#define ACCEPT_BATCH 64       /* connections taken per wake-up */
#define EMFILE_PAUSE_MS 100   /* out of descriptors: stop accepting this long */

int tr_http_listen_open(tr_http_server *srv, const struct sockaddr_storage *ss) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return TR_EIO;
  int one = 1;
  /* SO_REUSEADDR: a restarted node binds despite old TIME_WAIT sockets;
   * it does not let two listeners share the port */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                            : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 511) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return TR_EIO;
  }
  srv->listen_fd = fd;
  return 0;
}

typedef struct handoff {
  loop_state *ls;
  int fd;
} handoff;

static void loop_adopt(void *loop, void *arg) {
  handoff h = *(handoff *)arg;
  free(arg);
  h.ls->loop = loop;
  tr_http_conn_accept(h.ls, h.fd);
}

static void deal(tr_http_server *srv, int fd) {
  uint32_t li = srv->next_loop++ % srv->nloops;
  if (li == 0) { /* this loop */
    tr_http_conn_accept(&srv->loops[0], fd);
    return;
  }
  handoff *h = malloc(sizeof *h);
  if (h) {
    h->ls = &srv->loops[li];
    h->fd = fd;
    if (tr_loop_post(srv->sys, li, loop_adopt, h) == 0) return;
    free(h);
  }
  close(fd);
}

static void on_acceptable(uv_poll_t *p, int status, int events);

static void on_pause_over(uv_timer_t *t) {
  tr_http_server *srv = t->data;
  if (srv->acc_open) uv_poll_start(&srv->acc_poll, UV_READABLE, on_acceptable);
}

static void on_acceptable(uv_poll_t *p, int status, int events) {
  tr_http_server *srv = p->data;
  (void)events;
  if (status < 0) return;
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      deal(srv, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      /* the connection stays queued and the poll would fire at once
       * again: back off instead of spinning */
      tr_log(TR_LOG_WARN, "http", "cannot accept: %s; pausing", strerror(errno));
      uv_poll_stop(&srv->acc_poll);
      uv_timer_start(&srv->acc_timer, on_pause_over, EMFILE_PAUSE_MS, 0);
    }
    return; /* EAGAIN: all taken */
  }
}

int tr_http_acceptor_start(tr_http_server *srv, void *loop) {
  int rc = uv_poll_init_socket(loop, &srv->acc_poll, srv->listen_fd);
  if (rc < 0) return rc;
  srv->acc_poll.data = srv;
  uv_timer_init(loop, &srv->acc_timer);
  srv->acc_timer.data = srv;
  srv->acc_open = 2; /* handles to close */
  return uv_poll_start(&srv->acc_poll, UV_READABLE, on_acceptable);
}

static void on_acceptor_closed(uv_handle_t *h) {
  tr_http_server *srv = h->data;
  if (--srv->acc_open) return;
  close(srv->listen_fd);
  srv->listen_fd = -1;
  tr_http_loop_check_drained(&srv->loops[0]);
}

void tr_http_acceptor_stop(tr_http_server *srv) {
  if (srv->acc_open != 2 || uv_is_closing((uv_handle_t *)&srv->acc_poll)) return;
  uv_close((uv_handle_t *)&srv->acc_poll, on_acceptor_closed);
  uv_close((uv_handle_t *)&srv->acc_timer, on_acceptor_closed);
}
