/* diag: the one error convention of Airlock's C code.
 *
 * A fallible function returns int: >= 0 on success, a negative errno on failure.
 * When a failure must be explained to a person (a bad flag, a bad request field, a
 * sandbox step that failed), the function also takes `struct diag *reterr` last and
 * fills it with diag_set(), which returns the negative errno so callers can write
 *     return diag_set(reterr, -EINVAL, "memory_mb", "must be between %d and %d", lo, hi);
 * The struct is fixed-size: no allocation on the error path. reterr may be NULL.
 */
#pragma once
#include <stddef.h>

#define DIAG_MSG_MAX 256

struct diag {
        int code;                /* negative errno, 0 when unset */
        char field[48];          /* which input field or setup step failed ("" if none) */
        char msg[DIAG_MSG_MAX];  /* human-readable, complete sentence fragment */
};

__attribute__((format(printf, 4, 5)))
int diag_set(struct diag *d, int code, const char *field, const char *fmt, ...);

/* Prefix an existing message with context: "context: old message". Returns d->code. */
__attribute__((format(printf, 2, 3)))
int diag_wrap(struct diag *d, const char *fmt, ...);
