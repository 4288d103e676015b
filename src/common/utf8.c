#include "common/utf8.h"

#include <string.h>

int utf8_seq(const unsigned char *p, size_t n) {
        if (p[0] < 0x80)
                return 1;
        int len = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || (len == 2 && p[0] < 0xc2) || p[0] > 0xf4)
                return 0;
        for (int i = 1; i < len; i++) {
                if ((size_t)i >= n)
                        return -1;
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        }
        if ((len == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (len == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
            (len == 4 && p[0] == 0xf0 && p[1] < 0x90) || (len == 4 && p[0] == 0xf4 && p[1] >= 0x90))
                return 0; /* overlong, surrogate, or beyond U+10FFFF */
        return len;
}

void utf8_one_line(char *s) {
        unsigned char *p = (unsigned char *)s;
        size_t n = strlen(s), i = 0, o = 0;
        while (i < n) {
                int k = utf8_seq(p + i, n - i);
                if (k < 0)
                        break; /* cut short (a message truncated mid-character) */
                if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) || (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
                        p[o++] = '?';
                        i += k ? (size_t)k : 1;
                        continue;
                }
                memmove(p + o, p + i, (size_t)k);
                o += (size_t)k;
                i += (size_t)k;
        }
        p[o] = '\0';
}
