/* fuzz_egress: the allowlist proxy's request head parser (src/egress/policy.c), which reads
 * what a sandbox's program sends its proxy; and the forwarded head the proxy builds from it
 * must hold no header line the client did not send in full. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "egress/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct egress_request r;
        const char *why = NULL;
        int rc = egress_parse_head((const char *)data, size, &r, &why);
        if (rc == 0) {
                /* The invariants the proxy relies on. */
                if (r.head_len > size || r.head_len < 4 || memcmp(data + r.head_len - 4, "\r\n\r\n", 4) != 0)
                        __builtin_trap();
                if (r.port == 0 || !r.host[0] || strlen(r.host) > 253 + 2)
                        __builtin_trap();
                if (r.kind == EGRESS_FORWARD && (r.path_off + r.path_len > r.head_len || r.headers_off > r.head_len))
                        __builtin_trap();
                for (const char *p = r.host; *p; p++)
                        if ((*p >= 'A' && *p <= 'Z') || (unsigned char)*p <= ' ')
                                __builtin_trap();
                /* Each header line, as the forwarder walks them. */
                const char *end = (const char *)data + r.head_len - 2;
                for (const char *p = (const char *)data + r.headers_off; p < end;) {
                        const char *e = memchr(p, '\r', (size_t)(end - p));
                        if (!e)
                                __builtin_trap();
                        (void)egress_keep_header(p, (size_t)(e - p));
                        p = e + 2;
                }
        } else if (!why || (rc != -EAGAIN && !why[0])) {
                __builtin_trap(); /* every refusal says why */
        }
        /* An allowlist matched against whatever host the input named. */
        static struct lp_allow list[3];
        static int ready;
        if (!ready) {
                (void)lp_parse_allow_entry("pypi.org:443", 12, &list[0]);
                (void)lp_parse_allow_entry("*.pythonhosted.org:443", 22, &list[1]);
                (void)lp_parse_allow_entry("10.0.0.1:80", 11, &list[2]);
                ready = 1;
        }
        if (rc == 0)
                (void)egress_listed(list, 3, r.host, r.port);
        return 0;
}
