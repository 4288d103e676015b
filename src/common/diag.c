#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

int diag_set(struct diag *d, int code, const char *field, const char *fmt, ...) {
        if (!d)
                return code;
        d->code = code;
        snprintf(d->field, sizeof(d->field), "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
        return code;
}

int diag_wrap(struct diag *d, const char *fmt, ...) {
        if (!d)
                return -EINVAL;
        char prefix[DIAG_MSG_MAX], old[DIAG_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, d->msg, sizeof(old));
        /* Truncation is acceptable: the start of the message carries the context. */
        size_t n = strnlen(prefix, sizeof(prefix) - 1);
        if (n > sizeof(d->msg) - 3)
                n = sizeof(d->msg) - 3;
        memcpy(d->msg, prefix, n);
        memcpy(d->msg + n, ": ", 2);
        size_t rest = sizeof(d->msg) - n - 3;
        size_t m = strnlen(old, rest);
        memcpy(d->msg + n + 2, old, m);
        d->msg[n + 2 + m] = '\0';
        return d->code;
}
