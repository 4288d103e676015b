/* uid_pool: a distinct unprivileged host uid for each concurrent sandbox.
 *
 * A slot is a file <dir>/<n> held with flock(LOCK_EX): the lock dies with the holder,
 * so a crashed launcher never leaks a uid, and separate launchers (several `airlock run`
 * at once) never hand out the same uid. The sandbox's uid 1000 maps to base + n on the
 * host; no host account owns that range (docs/security.md: reserve it).
 */
#pragma once
#include <stdint.h>

#include "common/diag.h"

#define UID_POOL_BASE 2100000000u
#define UID_POOL_COUNT 65536u

struct uid_slot {
        int lock_fd; /* -1 when not held */
        uint32_t uid;
};

int uid_pool_acquire(const char *dir, uint32_t base, uint32_t count, struct uid_slot *ret, struct diag *reterr);
void uid_pool_release(struct uid_slot *s);
