/* eventstream: the AWS event-stream binary framing (application/vnd.amazon.eventstream)
 * that InvokeCodeInterpreter's response body is made of (docs/agentcore.md).
 *
 * A message: total length (u32), headers length (u32), prelude CRC-32 (u32), headers,
 * payload, message CRC-32 (u32); big-endian; CRC-32 as zlib's. Headers are name (u8
 * length), type (u8), value; we write strings (type 7) only and read every type.
 *
 * Pure: no I/O, no globals. The decoder takes hostile input (it is fuzzed).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ES_PRELUDE 12
#define ES_OVERHEAD 16
#define ES_HEADERS_MAX (128u * 1024u)        /* botocore's limits */
#define ES_PAYLOAD_MAX (24u * 1024u * 1024u)
#define ES_HEADERS_COUNT_MAX 32

struct es_header {
        char name[256];
        uint8_t type;
        /* string (7) and bytes (6): value points into the message; others: as integers */
        const uint8_t *value;
        uint16_t value_len;
        int64_t number; /* byte, short, integer, long, timestamp; bool: 1 true, 0 false */
};

struct es_message {
        struct es_header headers[ES_HEADERS_COUNT_MAX];
        size_t nheaders;
        const uint8_t *payload;
        size_t payload_len;
        size_t total_len; /* bytes of the input this message used */
};

/* Append one message with string headers (names[i] = values[i]) and the payload. */
int es_encode(struct buf *out, const char *const *names, const char *const *values, size_t nheaders,
              const void *payload, size_t payload_len);

/* Decode the message at the start of data. 0 and *ret filled; -EAGAIN when more bytes
 * are needed; -EBADMSG for a bad length, CRC or header (nothing past the input is read). */
int es_decode(const uint8_t *data, size_t len, struct es_message *ret);

/* A string header's value, NUL-terminated into out (NULL when absent or not a string). */
const char *es_header_string(const struct es_message *m, const char *name, char *out, size_t cap);
