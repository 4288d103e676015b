/* util: ids, times, hashes and paths for the daemon. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/utf8.h"
#include "daemon/daemon.h"

void random_id(const char *prefix, char *out, size_t cap) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        unsigned char raw[26];
        /* Ids and API keys must be unpredictable: without randomness there is nothing safe
         * to hand out, so stop rather than fall back. */
        ssize_t got;
        do
                got = getrandom(raw, sizeof(raw), 0);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof(raw))
                abort();
        char tail[27];
        for (size_t i = 0; i < 26; i++)
                tail[i] = alphabet[raw[i] % 36];
        tail[26] = '\0';
        snprintf(out, cap, "%s%s", prefix, tail);
}

void rfc3339(time_t t, char *out, size_t cap) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sha256_hex(const void *data, size_t len, char out[65]) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256(data, len, md);
        for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void sha256_hex_parts(const void *const *parts, const size_t *lens, size_t n, char out[65]) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        unsigned int len = 0;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
        for (size_t i = 0; ok && i < n; i++)
                ok = EVP_DigestUpdate(c, parts[i], lens[i]) == 1;
        ok = ok && EVP_DigestFinal_ex(c, md, &len) == 1 && len == SHA256_DIGEST_LENGTH;
        EVP_MD_CTX_free(c);
        if (!ok)
                abort(); /* as for ids: no hash, no safe answer */
        for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec deadline_after(clockid_t clock, double seconds) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        long ns = ts.tv_nsec + (long)(seconds * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        return ts;
}

int strfmt_path(char *out, size_t cap, const char *dir, const char *name) {
        int n = snprintf(out, cap, "%s/%s", dir, name);
        return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

json_t *utf8_string(const char *data, size_t len, bool keep_tail, size_t *consumed) {
        const unsigned char *p = (const unsigned char *)data;
        char *out = malloc(len * 3 + 1);
        if (!out)
                return NULL;
        size_t i = 0, o = 0;
        while (i < len) {
                int k = utf8_seq(p + i, len - i);
                if (k < 0 && keep_tail)
                        break;
                if (k <= 0) {
                        out[o++] = (char)0xef; /* U+FFFD, the replacement character */
                        out[o++] = (char)0xbf;
                        out[o++] = (char)0xbd;
                        i++;
                        continue;
                }
                memcpy(out + o, p + i, (size_t)k);
                o += (size_t)k;
                i += (size_t)k;
        }
        if (consumed)
                *consumed = i;
        json_t *s = json_stringn(out, o);
        free(out);
        return s;
}

bool workspace_path(const char *in, char *out, size_t cap, bool allow_root) {
        const char *p = in;
        if (p[0] == '/') { /* absolute: only inside the workspace */
                if (strncmp(p, "/workspace", 10) != 0 || (p[10] != '/' && p[10]))
                        return false;
                p += 10;
        }
        while (*p == '/')
                p++;
        if (!strcmp(p, ".") || !strncmp(p, "./", 2))
                p += p[1] ? 2 : 1;
        size_t n = strlen(p);
        while (n && p[n - 1] == '/')
                n--;
        if (n >= cap)
                return false;
        memcpy(out, p, n);
        out[n] = '\0';
        return lp_valid_path(out, n, allow_root);
}

/* Only the standard alphabet, padding only at the end: whitespace, '=' inside or another
 * alphabet would make the bytes written differ from the ones meant. */
unsigned char *b64_decode(const char *s, size_t n, size_t *ret_len) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        if (n % 4 || n > INT32_MAX / 2)
                return NULL;
        size_t pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
        for (size_t i = 0; i < n - pad; i++)
                if (!s[i] || !strchr(alphabet, s[i]))
                        return NULL;
        unsigned char *out = malloc(n / 4 * 3 + 1);
        if (!out)
                return NULL;
        int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
        if (got < 0) {
                free(out);
                return NULL;
        }
        *ret_len = (size_t)got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        return out;
}

char *b64_encode(const unsigned char *d, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (out)
                EVP_EncodeBlock((unsigned char *)out, d, (int)n);
        return out;
}

const char *mime_of(const char *path) {
        static const struct {
                const char *ext, *mime;
        } t[] = {{".txt", "text/plain"}, {".py", "text/x-python"}, {".csv", "text/csv"}, {".json", "application/json"},
                 {".md", "text/markdown"}, {".html", "text/html"}, {".js", "text/javascript"},
                 {".ts", "text/x-typescript"}, {".png", "image/png"}, {".jpg", "image/jpeg"},
                 {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".webp", "image/webp"}, {".svg", "image/svg+xml"},
                 {".pdf", "application/pdf"}};
        const char *dot = strrchr(path, '.');
        for (size_t i = 0; dot && i < sizeof(t) / sizeof(t[0]); i++)
                if (!strcasecmp(dot, t[i].ext))
                        return t[i].mime;
        return "application/octet-stream";
}

/* NUL bytes are not text either: they end C strings and confuse every reader. */
bool utf8_text(const unsigned char *d, size_t n) {
        size_t used = 0;
        json_t *s = utf8_string((const char *)d, n, false, &used);
        bool ok = s && json_string_length(s) == n && memcmp(json_string_value(s), d, n) == 0 && !memchr(d, 0, n);
        json_decref(s);
        return ok;
}
