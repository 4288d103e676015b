#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void buf_init(struct buf *b, size_t max) { *b = (struct buf){.max = max}; }

void buf_free(struct buf *b) {
        free(b->data);
        *b = (struct buf){.max = b->max};
}

static int reserve(struct buf *b, size_t extra) {
        if (extra > b->max || b->len > b->max - extra)
                return -E2BIG;
        size_t need = b->len + extra + 1; /* room for a NUL so data is always a C string */
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int buf_append(struct buf *b, const void *p, size_t n) {
        int r = reserve(b, n);
        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int buf_append_str0(struct buf *b, const char *s) { return buf_append(b, s, strlen(s) + 1); }

int buf_printf(struct buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        int r = reserve(b, (size_t)n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

int buf_json_str(struct buf *b, const char *s) {
        int r = buf_append(b, "\"", 1);
        for (const unsigned char *p = (const unsigned char *)s; r == 0 && *p; p++) {
                if (*p == '"' || *p == '\\') {
                        char esc[2] = {'\\', (char)*p};
                        r = buf_append(b, esc, 2);
                } else if (*p < 0x20) {
                        r = buf_printf(b, "\\u%04x", *p);
                } else {
                        r = buf_append(b, p, 1);
                }
        }
        return r < 0 ? r : buf_append(b, "\"", 1);
}

int strfmt(char *dst, size_t cap, const char *fmt, ...) {
        if (cap == 0)
                return -ENAMETOOLONG;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(dst, cap, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        return (size_t)n >= cap ? -ENAMETOOLONG : n;
}
