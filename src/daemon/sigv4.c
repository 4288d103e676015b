#include "daemon/sigv4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/buf.h"

static int fail(const char **why, const char *what) {
        if (why)
                *why = what;
        return -EINVAL;
}

/* Copy the text up to one of stop (or the end) into out; -1 when it does not fit. */
static int take(const char **p, const char *stop, char *out, size_t cap) {
        size_t n = strcspn(*p, stop);
        if (n == 0 || n >= cap)
                return -1;
        memcpy(out, *p, n);
        out[n] = '\0';
        *p += n;
        return 0;
}

static bool all_of(const char *s, const char *set) { return s[strspn(s, set)] == '\0'; }

#define LOWER_HEX "0123456789abcdef"
#define KEY_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_."

int sigv4_parse_authorization(const char *h, struct sigv4_auth *a, const char **why) {
        memset(a, 0, sizeof(*a));
        static const char scheme[] = "AWS4-HMAC-SHA256 ";
        if (!h || strncmp(h, scheme, sizeof(scheme) - 1) != 0)
                return fail(why, "not AWS4-HMAC-SHA256");
        const char *p = h + sizeof(scheme) - 1;
        bool have_cred = false, have_signed = false, have_sig = false;
        while (*p) {
                while (*p == ' ' || *p == ',')
                        p++;
                if (!strncmp(p, "Credential=", 11)) {
                        p += 11;
                        char term[32];
                        if (have_cred || take(&p, "/", a->key_id, sizeof(a->key_id)) < 0 || *p++ != '/' ||
                            take(&p, "/", a->date, sizeof(a->date)) < 0 || *p++ != '/' ||
                            take(&p, "/", a->region, sizeof(a->region)) < 0 || *p++ != '/' ||
                            take(&p, "/", a->service, sizeof(a->service)) < 0 || *p++ != '/' ||
                            take(&p, ", ", term, sizeof(term)) < 0 || strcmp(term, "aws4_request") != 0)
                                return fail(why, "Credential is not KEY/DATE/REGION/SERVICE/aws4_request");
                        if (!all_of(a->key_id, KEY_CHARS) || strlen(a->date) != 8 || !all_of(a->date, "0123456789") ||
                            !all_of(a->region, "abcdefghijklmnopqrstuvwxyz0123456789-") ||
                            !all_of(a->service, "abcdefghijklmnopqrstuvwxyz0123456789-"))
                                return fail(why, "Credential has characters it cannot have");
                        have_cred = true;
                } else if (!strncmp(p, "SignedHeaders=", 14)) {
                        p += 14;
                        if (have_signed)
                                return fail(why, "SignedHeaders given twice");
                        while (*p && *p != ',' && *p != ' ') {
                                if (a->nsigned == SIGV4_SIGNED_MAX ||
                                    take(&p, ";, ", a->signed_headers[a->nsigned], sizeof(a->signed_headers[0])) < 0 ||
                                    !all_of(a->signed_headers[a->nsigned], "abcdefghijklmnopqrstuvwxyz0123456789-"))
                                        return fail(why, "SignedHeaders is not a list of lower-case header names");
                                if (a->nsigned && strcmp(a->signed_headers[a->nsigned - 1], a->signed_headers[a->nsigned]) >= 0)
                                        return fail(why, "SignedHeaders is not sorted");
                                a->nsigned++;
                                if (*p == ';')
                                        p++;
                        }
                        have_signed = a->nsigned > 0;
                } else if (!strncmp(p, "Signature=", 10)) {
                        p += 10;
                        if (have_sig || take(&p, ", ", a->signature, sizeof(a->signature)) < 0 ||
                            strlen(a->signature) != 64 || !all_of(a->signature, LOWER_HEX))
                                return fail(why, "Signature is not 64 lower-case hex digits");
                        have_sig = true;
                } else {
                        return fail(why, "unknown Authorization component");
                }
        }
        if (!have_cred || !have_signed || !have_sig)
                return fail(why, "Credential, SignedHeaders and Signature are all required");
        bool host = false;
        for (size_t i = 0; i < a->nsigned; i++)
                host |= !strcmp(a->signed_headers[i], "host");
        if (!host)
                return fail(why, "the host header must be signed");
        return 0;
}

int64_t sigv4_parse_amz_date(const char *s) {
        if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
                return -1;
        struct tm tm = {0};
        int f[6] = {0};
        const int off[] = {0, 4, 6, 9, 11, 13}, len[] = {4, 2, 2, 2, 2, 2};
        for (int i = 0; i < 6; i++)
                for (int k = 0; k < len[i]; k++) {
                        char c = s[off[i] + k];
                        if (c < '0' || c > '9')
                                return -1;
                        f[i] = f[i] * 10 + (c - '0');
                }
        if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
                return -1;
        tm.tm_year = f[0] - 1900, tm.tm_mon = f[1] - 1, tm.tm_mday = f[2];
        tm.tm_hour = f[3], tm.tm_min = f[4], tm.tm_sec = f[5];
        time_t t = timegm(&tm);
        return t == (time_t)-1 ? -1 : (int64_t)t;
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) as
 * %XX in upper case. */
static int uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                             c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
                int r = plain ? buf_append(out, (const char *)&c, 1) : buf_printf(out, "%%%02X", c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Percent-decode s[0..n) into out (a strict decoder: a bad escape is an error). */
static int uri_decode(const char *s, size_t n, struct buf *out) {
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '%') {
                        if (i + 2 >= n)
                                return -EINVAL;
                        int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
                        if (h < 0 || l < 0)
                                return -EINVAL;
                        c = (char)(h << 4 | l);
                        i += 2;
                }
                if (buf_append(out, &c, 1) < 0)
                        return -ENOMEM;
        }
        return 0;
}

struct pair {
        char *key, *value; /* encoded */
};

static int cmp_pair(const void *x, const void *y) {
        const struct pair *a = x, *b = y;
        int c = strcmp(a->key, b->key);
        return c ? c : strcmp(a->value, b->value);
}

/* name=value pairs decoded, re-encoded strictly and sorted, joined with '&'. */
static int canonical_query(const char *q, struct buf *out) {
        if (!q || !*q)
                return 0;
        /* A raw '+' means a space to some parsers and a plus to others: refused, so that the
         * bytes signed and the values the server reads cannot differ. */
        if (strchr(q, '+'))
                return -EINVAL;
        size_t n = 1;
        for (const char *p = q; *p; p++)
                n += *p == '&';
        if (n > 256)
                return -EINVAL;
        struct pair *pairs = calloc(n, sizeof(*pairs));
        if (!pairs)
                return -ENOMEM;
        int r = 0;
        size_t k = 0;
        for (const char *p = q; r == 0;) {
                size_t len = strcspn(p, "&");
                const char *eq = memchr(p, '=', len);
                size_t klen = eq ? (size_t)(eq - p) : len;
                struct buf dk, dv, ek, ev;
                buf_init(&dk, 8192);
                buf_init(&dv, 8192);
                buf_init(&ek, 24576);
                buf_init(&ev, 24576);
                r = uri_decode(p, klen, &dk);
                if (r == 0 && eq)
                        r = uri_decode(eq + 1, len - klen - 1, &dv);
                if (r == 0)
                        r = uri_encode(&ek, dk.data ? dk.data : "", dk.len, false);
                if (r == 0)
                        r = uri_encode(&ev, dv.data ? dv.data : "", dv.len, false);
                if (r == 0 && (buf_append(&ek, "", 1) < 0 || buf_append(&ev, "", 1) < 0))
                        r = -ENOMEM;
                if (r == 0 && len > 0) { /* "a&&b": the empty pair is dropped, as clients do */
                        pairs[k].key = ek.data;
                        pairs[k].value = ev.data;
                        ek.data = ev.data = NULL;
                        k++;
                }
                buf_free(&dk);
                buf_free(&dv);
                buf_free(&ek);
                buf_free(&ev);
                if (!p[len])
                        break;
                p += len + 1;
        }
        if (r == 0) {
                qsort(pairs, k, sizeof(*pairs), cmp_pair);
                /* A repeated name: which value the server uses is not what the signature
                 * fixes (reordering them keeps it valid), so it is refused. */
                for (size_t i = 1; r == 0 && i < k; i++)
                        if (!strcmp(pairs[i - 1].key, pairs[i].key))
                                r = -EINVAL;
                for (size_t i = 0; r == 0 && i < k; i++)
                        r = buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value);
        }
        for (size_t i = 0; i < k; i++) {
                free(pairs[i].key);
                free(pairs[i].value);
        }
        free(pairs);
        return r;
}

static int sha256_hex_of(const void *data, size_t len, char out[65]) {
        unsigned char md[32];
        unsigned int n = 0;
        if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
                return -EIO;
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static int hmac(const void *key, size_t klen, const char *data, unsigned char out[32]) {
        size_t n = 0;
        return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, (const unsigned char *)data, strlen(data), out,
                         32, &n) && n == 32
                       ? 0
                       : -EIO;
}

int sigv4_expected(const struct sigv4_auth *a, const struct sigv4_request *r, const char *secret, char out[65]) {
        struct buf c;
        buf_init(&c, 1u << 20);
        int rc = buf_printf(&c, "%s\n", r->method);
        if (rc == 0)
                rc = uri_encode(&c, r->raw_path, strlen(r->raw_path), true);
        if (rc == 0)
                rc = buf_append(&c, "\n", 1);
        if (rc == 0)
                rc = canonical_query(r->raw_query, &c);
        if (rc == 0)
                rc = buf_append(&c, "\n", 1);
        for (size_t i = 0; rc == 0 && i < a->nsigned; i++) {
                const char *v = r->header(r->ctx, a->signed_headers[i]);
                if (!v) {
                        rc = -EINVAL; /* a signed header that was not sent */
                        break;
                }
                /* Trimmed, inner runs of spaces collapsed to one. */
                while (*v == ' ' || *v == '\t')
                        v++;
                rc = buf_printf(&c, "%s:", a->signed_headers[i]);
                bool space = false;
                for (; rc == 0 && *v; v++) {
                        if (*v == ' ' || *v == '\t') {
                                space = true;
                                continue;
                        }
                        if (space && (rc = buf_append(&c, " ", 1)) < 0)
                                break;
                        space = false;
                        rc = buf_append(&c, v, 1);
                }
                if (rc == 0)
                        rc = buf_append(&c, "\n", 1);
        }
        if (rc == 0)
                rc = buf_append(&c, "\n", 1);
        for (size_t i = 0; rc == 0 && i < a->nsigned; i++)
                rc = buf_printf(&c, "%s%s", i ? ";" : "", a->signed_headers[i]);
        char body_hash[65], canon_hash[65];
        if (rc == 0)
                rc = sha256_hex_of(r->body_len ? r->body : "", r->body_len, body_hash);
        if (rc == 0)
                rc = buf_printf(&c, "\n%s", body_hash);
        if (rc == 0)
                rc = sha256_hex_of(c.data, c.len, canon_hash);
        buf_free(&c);
        if (rc < 0)
                return rc;
        char sts[512];
        if (snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, a->date,
                     a->region, a->service, canon_hash) >= (int)sizeof(sts))
                return -EINVAL;
        char k0[160];
        if (snprintf(k0, sizeof(k0), "AWS4%s", secret) >= (int)sizeof(k0))
                return -EINVAL;
        unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
        rc = hmac(k0, strlen(k0), a->date, k1);
        if (rc == 0)
                rc = hmac(k1, 32, a->region, k2);
        if (rc == 0)
                rc = hmac(k2, 32, a->service, k3);
        if (rc == 0)
                rc = hmac(k3, 32, "aws4_request", k4);
        if (rc == 0)
                rc = hmac(k4, 32, sts, sig);
        OPENSSL_cleanse(k0, sizeof(k0));
        OPENSSL_cleanse(k1, sizeof(k1));
        OPENSSL_cleanse(k2, sizeof(k2));
        OPENSSL_cleanse(k3, sizeof(k3));
        OPENSSL_cleanse(k4, sizeof(k4));
        if (rc < 0)
                return rc;
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", sig[i]);
        return 0;
}

bool sigv4_equal(const char *a, const char *b) {
        return strlen(a) == 64 && strlen(b) == 64 && CRYPTO_memcmp(a, b, 64) == 0;
}
