#include "daemon/eventstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }

int es_encode(struct buf *out, const char *const *names, const char *const *values, size_t nheaders,
              const void *payload, size_t payload_len) {
        size_t hlen = 0;
        for (size_t i = 0; i < nheaders; i++) {
                size_t n = strlen(names[i]), v = strlen(values[i]);
                if (n == 0 || n > 255 || v > 65535)
                        return -EINVAL;
                hlen += 1 + n + 1 + 2 + v;
        }
        if (hlen > ES_HEADERS_MAX || payload_len > ES_PAYLOAD_MAX)
                return -E2BIG;
        size_t total = ES_OVERHEAD + hlen + payload_len;
        size_t start = out->len;
        uint8_t prelude[ES_PRELUDE];
        put32(prelude, (uint32_t)total);
        put32(prelude + 4, (uint32_t)hlen);
        put32(prelude + 8, crc(prelude, 8));
        int r = buf_append(out, prelude, sizeof(prelude));
        for (size_t i = 0; r == 0 && i < nheaders; i++) {
                size_t n = strlen(names[i]), v = strlen(values[i]);
                uint8_t head[4] = {(uint8_t)n, 0, 0, 0};
                r = buf_append(out, head, 1);
                if (r == 0)
                        r = buf_append(out, names[i], n);
                head[0] = 7; /* string */
                head[1] = (uint8_t)(v >> 8);
                head[2] = (uint8_t)v;
                if (r == 0)
                        r = buf_append(out, head, 3);
                if (r == 0)
                        r = buf_append(out, values[i], v);
        }
        if (r == 0 && payload_len)
                r = buf_append(out, payload, payload_len);
        if (r == 0) {
                uint8_t tail[4];
                put32(tail, crc((const uint8_t *)out->data + start, total - 4));
                r = buf_append(out, tail, 4);
        }
        if (r < 0)
                out->len = start;
        return r;
}

/* Value sizes by type; 0 for the variable ones (6, 7), -1 for unknown types. */
static int fixed_size(uint8_t type) {
        switch (type) {
        case 0:
        case 1:
                return 0;
        case 2:
                return 1;
        case 3:
                return 2;
        case 4:
                return 4;
        case 5:
        case 8:
                return 8;
        case 9:
                return 16;
        case 6:
        case 7:
                return 0;
        default:
                return -1;
        }
}

int es_decode(const uint8_t *data, size_t len, struct es_message *m) {
        if (len < ES_PRELUDE)
                return -EAGAIN;
        uint32_t total = get32(data), hlen = get32(data + 4);
        if (get32(data + 8) != crc(data, 8))
                return -EBADMSG;
        if (total < ES_OVERHEAD || hlen > ES_HEADERS_MAX || hlen > total - ES_OVERHEAD ||
            total - ES_OVERHEAD - hlen > ES_PAYLOAD_MAX)
                return -EBADMSG;
        if (len < total)
                return -EAGAIN;
        if (get32(data + total - 4) != crc(data, total - 4))
                return -EBADMSG;
        memset(m, 0, sizeof(*m));
        const uint8_t *p = data + ES_PRELUDE, *end = p + hlen;
        while (p < end) {
                if (m->nheaders == ES_HEADERS_COUNT_MAX)
                        return -EBADMSG;
                struct es_header *h = &m->headers[m->nheaders];
                size_t n = *p++;
                if (n == 0 || (size_t)(end - p) < n + 1)
                        return -EBADMSG;
                memcpy(h->name, p, n);
                h->name[n] = '\0';
                if (memchr(h->name, '\0', n))
                        return -EBADMSG;
                for (size_t i = 0; i < m->nheaders; i++)
                        if (!strcmp(m->headers[i].name, h->name))
                                return -EBADMSG; /* each name once */
                p += n;
                h->type = *p++;
                int size = fixed_size(h->type);
                if (size < 0)
                        return -EBADMSG;
                if (h->type == 6 || h->type == 7) {
                        if (end - p < 2)
                                return -EBADMSG;
                        h->value_len = (uint16_t)(p[0] << 8 | p[1]);
                        p += 2;
                        if ((size_t)(end - p) < h->value_len)
                                return -EBADMSG;
                        h->value = p;
                        p += h->value_len;
                } else {
                        if (end - p < size)
                                return -EBADMSG;
                        h->value = p;
                        h->value_len = (uint16_t)size;
                        if (h->type <= 1)
                                h->number = h->type == 0;
                        else if (size >= 1 && size <= 8) {
                                uint64_t v = 0;
                                for (int i = 0; i < size; i++)
                                        v = v << 8 | p[i];
                                /* sign-extend the narrower integer types */
                                uint64_t sign = (uint64_t)1 << (8 * size - 1);
                                h->number = (int64_t)((v ^ sign) - sign);
                        }
                        p += size;
                }
                m->nheaders++;
        }
        m->payload = end;
        m->payload_len = total - ES_OVERHEAD - hlen;
        m->total_len = total;
        return 0;
}

const char *es_header_string(const struct es_message *m, const char *name, char *out, size_t cap) {
        for (size_t i = 0; i < m->nheaders; i++) {
                const struct es_header *h = &m->headers[i];
                if (strcmp(h->name, name) != 0)
                        continue;
                if (h->type != 7 || cap == 0 || h->value_len >= cap)
                        return NULL;
                memcpy(out, h->value, h->value_len);
                out[h->value_len] = '\0';
                return out;
        }
        return NULL;
}
