/* chat - virtual actors: one persistent actor per chat, addressed by name.
 *
 * A bot keeps a conversation per chat id. Nobody spawns the chats: sending
 * to "chat/<id>" activates it (recovering what it said before from the
 * journal), and a chat that stays quiet is passivated. Here the idle time
 * is 100 ms so you can watch a chat go and come back with its history.
 *
 *   $ chat ./data
 *   chat/alice: 1 message(s)
 *   chat/bob: 1 message(s)
 *   chat/alice: 2 message(s)
 *   active chats: 2
 *   (quiet...) active chats: 0
 *   chat/alice: 3 message(s), recovered
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <troupe/troupe.h>

enum { SAY = 1, ANSWER };

typedef struct {
  uint32_t said;      /* messages in this conversation */
  int recovered;      /* this activation replayed earlier events */
} chat_state;

/* Replays one stored event (a message's length, as a byte) into the state. */
static int chat_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx, (void)seq, (void)ev, (void)len;
  chat_state *s = st;
  s->said++;
  s->recovered = 1;
  return 0;
}

static int chat_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  chat_state *s = st;
  if (m->type != SAY) return 0; /* TR_MSG_PERSISTED, TR_MSG_RECOVERED */
  uint8_t ev = (uint8_t)m->len;
  s->said++; /* apply, then append: the state always matches the journal */
  int rc = tr_persist_append(ctx, &ev, 1, NULL);
  if (rc < 0) return rc;
  char text[64];
  int n = snprintf(text, sizeof text, "%u message(s)%s", s->said,
                   s->recovered ? ", recovered" : "");
  return tr_actor_reply(ctx, m, ANSWER, text, (size_t)n);
}

static const tr_persistent chat = {
    .base = {.name = "chat", .state_size = sizeof(chat_state), .receive = chat_receive},
    .apply = chat_apply};

static void say(tr_system *sys, const char *name, const char *text) {
  tr_msg *r;
  int rc = tr_system_virtual_ask(sys, name, SAY, text, strlen(text), 5000, &r);
  if (rc < 0) {
    printf("%s: %s\n", name, tr_strerror(rc));
    return;
  }
  printf("%s: %.*s\n", name, (int)r->len, (const char *)r->data);
  tr_msg_free(r);
}

int main(int argc, char **argv) {
  tr_config cfg = {.data_dir = argc > 1 ? argv[1] : "./chat-data"};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  if (tr_kind_register(sys, &(tr_kind){.name = "chat", .persistent = &chat, .idle_ms = 100}) < 0)
    return 1;
  say(sys, "chat/alice", "hi");
  say(sys, "chat/bob", "hello");
  say(sys, "chat/alice", "how are you?");
  printf("active chats: %zu\n", tr_virtual_count(sys));
  for (int i = 0; i < 3000 && tr_virtual_count(sys); i++) usleep(10000); /* let them idle */
  printf("(quiet...) active chats: %zu\n", tr_virtual_count(sys));
  say(sys, "chat/alice", "still there?");
  tr_system_free(sys);
  return 0;
}
