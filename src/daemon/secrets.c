/* secrets: tenants' named secrets for external APIs, sealed at rest (docs/adr/0008).
 *
 * Each value is sealed with AES-256-GCM under a 32-byte key that lives in a file outside
 * the database (config secrets_key_file; default DATA_DIR/secrets.key, made on first
 * start, 0400 root). The daemon reads it as root, before it drops privileges, and keeps it
 * in memory only: a copy of airlock.db (a backup, a leaked file) holds ciphertext. The
 * associated data binds a sealed value to its tenant and name, so that a row moved to
 * another tenant or renamed in the database fails to open instead of leaking there.
 *
 * Sealed layout: version (1 byte, 1) | nonce (12, random) | ciphertext | tag (16).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "daemon/daemon.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SEALED_VERSION 1

static unsigned char key[KEY_LEN];
static bool have_key;

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A new key file: 64 hex digits and a newline, created exclusively, readable by its owner. */
static int make_key_file(const char *path, struct diag *d) {
        unsigned char raw[KEY_LEN];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                return diag_set(d, -EIO, "secrets_key_file", "no randomness for a new key: %m");
        char text[2 * KEY_LEN + 2];
        for (size_t i = 0; i < KEY_LEN; i++)
                snprintf(text + 2 * i, 3, "%02x", raw[i]);
        text[2 * KEY_LEN] = '\n';
        text[2 * KEY_LEN + 1] = '\0';
        OPENSSL_cleanse(raw, sizeof(raw));
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
        if (fd < 0) {
                OPENSSL_cleanse(text, sizeof(text));
                return errno == EEXIST ? 0 : diag_set(d, -errno, "secrets_key_file", "cannot create %s: %m", path);
        }
        ssize_t n = write(fd, text, 2 * KEY_LEN + 1);
        OPENSSL_cleanse(text, sizeof(text));
        if (n != 2 * KEY_LEN + 1 || fsync(fd) < 0) {
                unlink(path);
                return diag_set(d, -EIO, "secrets_key_file", "cannot write %s", path);
        }
        return 0;
}

int secrets_init(const char *path, struct diag *d) {
        int r = make_key_file(path, d);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return diag_set(d, -errno, "secrets_key_file", "cannot open %s: %m", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return diag_set(d, -EINVAL, "secrets_key_file", "%s is not a regular file", path);
        /* Fail closed: a key others can read or replace protects nothing. */
        if (st.st_uid != geteuid())
                return diag_set(d, -EPERM, "secrets_key_file", "%s is owned by uid %u, not by this process's uid %u",
                                path, (unsigned)st.st_uid, (unsigned)geteuid());
        if (st.st_mode & 077)
                return diag_set(d, -EPERM, "secrets_key_file", "%s is readable by group or others (mode %03o): chmod 400 it",
                                path, (unsigned)(st.st_mode & 0777));
        char text[2 * KEY_LEN + 3];
        ssize_t n = read(fd, text, sizeof(text));
        size_t len = n > 0 ? (size_t)n : 0;
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                len--;
        bool ok = len == 2 * KEY_LEN;
        for (size_t i = 0; ok && i < KEY_LEN; i++) {
                int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
                ok = hi >= 0 && lo >= 0;
                key[i] = (unsigned char)(ok ? hi << 4 | lo : 0);
        }
        OPENSSL_cleanse(text, sizeof(text));
        if (!ok) {
                OPENSSL_cleanse(key, sizeof(key));
                return diag_set(d, -EINVAL, "secrets_key_file",
                                "%s must hold 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`", path);
        }
        have_key = true;
        return 0;
}

/* tenant NUL name: what a sealed value is bound to. */
static size_t bind_to(const char *tenant, const char *name, char *out, size_t cap) {
        int n = snprintf(out, cap, "%s%c%s", tenant, '\0', name);
        return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int secrets_seal(const char *tenant, const char *name, const char *value, size_t len, unsigned char **ret,
                 size_t *ret_len) {
        if (!have_key)
                return -ENOKEY;
        char aad[160];
        size_t aad_len = bind_to(tenant, name, aad, sizeof(aad));
        if (!aad_len || len > INT32_MAX / 2)
                return -EINVAL;
        size_t total = 1 + NONCE_LEN + len + TAG_LEN;
        unsigned char *out = malloc(total);
        if (!out)
                return -ENOMEM;
        out[0] = SEALED_VERSION;
        if (getrandom(out + 1, NONCE_LEN, 0) != NONCE_LEN) {
                free(out);
                return -EIO;
        }
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, fin = 0;
        bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out + 1) == 1 &&
                  EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)aad_len) == 1 &&
                  EVP_EncryptUpdate(c, out + 1 + NONCE_LEN, &n, (const unsigned char *)value, (int)len) == 1 &&
                  EVP_EncryptFinal_ex(c, out + 1 + NONCE_LEN + n, &fin) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + 1 + NONCE_LEN + len) == 1;
        EVP_CIPHER_CTX_free(c);
        if (!ok) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_len = total;
        return 0;
}

int secrets_open(const char *tenant, const char *name, const unsigned char *sealed, size_t sealed_len, char **ret,
                 size_t *ret_len) {
        if (!have_key)
                return -ENOKEY;
        if (sealed_len > INT32_MAX / 2)
                return -EBADMSG;
        char aad[160];
        size_t aad_len = bind_to(tenant, name, aad, sizeof(aad));
        if (!aad_len || sealed_len < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEALED_VERSION)
                return -EBADMSG;
        size_t len = sealed_len - 1 - NONCE_LEN - TAG_LEN;
        char *out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        unsigned char tag[TAG_LEN];
        memcpy(tag, sealed + 1 + NONCE_LEN + len, TAG_LEN);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, fin = 0;
        bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, sealed + 1) == 1 &&
                  EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)aad_len) == 1 &&
                  EVP_DecryptUpdate(c, (unsigned char *)out, &n, sealed + 1 + NONCE_LEN, (int)len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
                  EVP_DecryptFinal_ex(c, (unsigned char *)out + n, &fin) == 1;
        EVP_CIPHER_CTX_free(c);
        if (!ok) {
                OPENSSL_cleanse(out, len + 1);
                free(out);
                return -EBADMSG; /* another key, or the row was edited or moved */
        }
        out[len] = '\0';
        *ret = out;
        *ret_len = len;
        return 0;
}

void secrets_free(char *value, size_t len) {
        if (value) {
                OPENSSL_cleanse(value, len);
                free(value);
        }
}
