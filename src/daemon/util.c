/* util: ids, times, hashes and paths for the daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/sha.h>

#include "daemon/daemon.h"

void random_id(const char *prefix, char *out, size_t cap) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        unsigned char raw[26];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                memset(raw, 0, sizeof(raw)); /* getrandom(0) only fails before the pool is ready */
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

double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int strfmt_path(char *out, size_t cap, const char *dir, const char *name) {
        int n = snprintf(out, cap, "%s/%s", dir, name);
        return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
