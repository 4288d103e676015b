/* buf: a growable byte buffer with a mandatory cap (curl's dynbuf). Appending past the
 * cap fails with -E2BIG and leaves the contents as they were. */
#pragma once
#include <stddef.h>

struct buf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str0(struct buf *b, const char *s); /* appends s and its NUL */
__attribute__((format(printf, 2, 3))) int buf_printf(struct buf *b, const char *fmt, ...);
/* Appends s as a JSON string literal, quotes included. */
int buf_json_str(struct buf *b, const char *s);

/* snprintf into a fixed array where truncation is acceptable (labels, reports).
 * Returns the length written, or -ENAMETOOLONG when the text was cut. */
__attribute__((format(printf, 3, 4))) int strfmt(char *dst, size_t cap, const char *fmt, ...);
