/* fuzz_flowlog: mode public's NFLOG records (src/sandbox/flowlog.c). The kernel frames
 * them, but each carries the first bytes of a packet the sandbox's program wrote: every
 * event made from them must pass the same check as the allowlist proxy's, which the
 * launcher applies to what it does not trust. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "sandbox/flowlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct lp_egress *e, void *userdata) {
        size_t *n = userdata;
        struct diag d = {0};
        if (lp_validate_egress(e, &d) < 0 || e->family != AF_INET || e->sandbox_id || e->dropped)
                __builtin_trap();
        (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t events = 0;
        size_t bad = flowlog_parse(data, size, check, &events);
        /* at most one outcome (an event or a count) per 16-byte netlink header */
        if (bad + events > size / 16 + 1)
                __builtin_trap();
        return 0;
}
