/* utf8: the one UTF-8 validity rule every parser and message writer shares. */
#pragma once
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1-4), 0 if invalid (overlong forms,
 * surrogates and code points past U+10FFFF included), -1 if cut short by the end (n). */
int utf8_seq(const unsigned char *p, size_t n);

/* Makes the NUL-terminated s one line of valid UTF-8, in place: control characters
 * (C0, DEL, and C1 such as U+0085 NEL) and invalid bytes become '?', and a sequence cut
 * short at the end is dropped. For text that may carry caller input (error messages). */
void utf8_one_line(char *s);
