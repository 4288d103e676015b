/* Fuzz target: the launcher's request parser (frame decode + field validation), the only
 * code in the privileged process that reads bytes an unprivileged client chose. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/launch_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The path rule on its own, over raw bytes (the file request checks it too). */
        (void)lp_valid_path((const char *)data, size < LP_PATH_MAX ? size : LP_PATH_MAX - 1, size & 1);
        struct lp_frame f;
        struct diag d = {0};
        if (lp_decode(data, size, &f, &d) < 0)
                return 0;
        if (f.hdr.type == LP_CREATE) {
                struct lp_create c;
                memcpy(&c, f.body, sizeof(c));
                (void)lp_validate_create(&c, (const char *)f.body + sizeof(c), f.body_len - sizeof(c), &d);
        } else if (f.hdr.type == LP_HELLO) {
                struct lp_hello h;
                memcpy(&h, f.body, sizeof(h));
                (void)lp_validate_hello(&h, &d);
        } else if (f.hdr.type == LP_FILE) {
                struct lp_file fr;
                memcpy(&fr, f.body, sizeof(fr));
                (void)lp_validate_file(&fr, &d);
        } else if (f.hdr.type == LP_SIGNAL) {
                struct lp_signal s;
                memcpy(&s, f.body, sizeof(s));
                (void)lp_validate_signal(&s, &d);
        } else if (f.hdr.type == LP_USAGE) {
                struct lp_usage u;
                memcpy(&u, f.body, sizeof(u));
                (void)lp_validate_usage(&u, &d);
        } else if (f.hdr.type == LP_EGRESS) {
                /* what an allowlist sandbox's proxy (which may be the sandbox's by then) sends */
                struct lp_egress e;
                memcpy(&e, f.body, sizeof(e));
                if (lp_validate_egress(&e, &d) == 0 && !memchr(e.host, '\0', sizeof(e.host)))
                        __builtin_trap();
        }
        /* The allowlist grammar over raw bytes: an accepted entry is lower-case and has a port. */
        struct lp_allow a;
        if (lp_parse_allow_entry((const char *)data, size < 300 ? size : 300, &a) == 0 &&
            (a.port == 0 || strlen(a.host) == 0 || strlen(a.host) > 253))
                __builtin_trap();
        return 0;
}
