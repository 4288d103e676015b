/* fuzz_eventstream: the event-stream decoder on arbitrary bytes, message after message as
 * a client reads a body; every decoded message must re-encode (string headers) to bytes
 * that decode to the same headers and payload. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t off = 0;
        struct es_message m;
        while (off < size && es_decode(data + off, size - off, &m) == 0) {
                if (m.total_len < ES_OVERHEAD || m.total_len > size - off)
                        __builtin_trap();
                /* Re-encode the string headers and check the round trip. */
                char names[ES_HEADERS_COUNT_MAX][256], values[ES_HEADERS_COUNT_MAX][256];
                const char *np[ES_HEADERS_COUNT_MAX], *vp[ES_HEADERS_COUNT_MAX];
                size_t k = 0;
                for (size_t i = 0; i < m.nheaders; i++) {
                        const struct es_header *h = &m.headers[i];
                        if (h->type != 7 || h->value_len >= 256 || memchr(h->value, 0, h->value_len))
                                continue;
                        memcpy(names[k], h->name, sizeof(names[k]));
                        memcpy(values[k], h->value, h->value_len);
                        values[k][h->value_len] = '\0';
                        np[k] = names[k];
                        vp[k] = values[k];
                        k++;
                }
                struct buf b;
                buf_init(&b, 64u << 20);
                if (es_encode(&b, np, vp, k, m.payload, m.payload_len) == 0) {
                        struct es_message again;
                        if (es_decode((const uint8_t *)b.data, b.len, &again) != 0 || again.nheaders != k ||
                            again.payload_len != m.payload_len)
                                __builtin_trap();
                }
                buf_free(&b);
                off += m.total_len;
        }
        return 0;
}
