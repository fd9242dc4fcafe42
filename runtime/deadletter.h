/* deadletter.h - counting and keeping the last undeliverable messages. */
#ifndef TR_DEADLETTER_H
#define TR_DEADLETTER_H

#include "troupe/system.h"

#define TR_DL_KEEP 256

typedef struct tr_deadletters tr_deadletters;

tr_deadletters *tr_dl_new(void);
void tr_dl_free(tr_deadletters *d);
/* Records m (borrowed) as undeliverable to `to` for `reason`. */
void tr_dl_record(tr_deadletters *d, tr_ref to, const tr_msg *m, int reason);
uint64_t tr_dl_count(tr_deadletters *d);
size_t tr_dl_copy(tr_deadletters *d, tr_dead_letter *out, size_t max);

#endif
