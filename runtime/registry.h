/* registry.h - local names for actors. */
#ifndef TR_REGISTRY_H
#define TR_REGISTRY_H

#include "troupe/actor.h"

typedef struct tr_registry tr_registry;

tr_registry *tr_registry_new(void);
void tr_registry_free(tr_registry *r);
/* Removes name only if it still maps to ref (exit of the owner). */
void tr_registry_remove_if(tr_registry *r, const char *name, tr_ref ref);

#endif
