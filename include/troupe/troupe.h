/* troupe/troupe.h - the public SDK of troupe. Include this one header.
 *
 * Naming: tr_<noun>_<verb>. Functions return 0 or a negative TR_E* code.
 */
#ifndef TROUPE_TROUPE_H
#define TROUPE_TROUPE_H

#define TROUPE_VERSION_MAJOR 0
#define TROUPE_VERSION_MINOR 1
#define TROUPE_VERSION_PATCH 0
#define TROUPE_VERSION_STRING "0.1.0"

#include "error.h"
#include "actor.h"
#include "system.h"
#include "supervisor.h"
#include "codec.h"
#include "persist.h"
#include "virtual.h"
#include "node.h"
#include "jobs.h"
#include "loop.h"

#endif
