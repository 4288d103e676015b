/* auth: API keys, tenants and scopes (docs/adr/0006).
 *
 * A key is `ak_<26>.sk_<26>` (id, then secret; about 270 random bits in all). The store
 * keeps only the SHA-256 of the whole token, so a copy of the database gives no usable
 * key; a request's token is hashed and looked up, and a revoked key is as good as none.
 * Each key belongs to one tenant and carries scopes: `sessions` (sessions and all below
 * them) and `admin` (keys and tenants). Sessions belong to the tenant of the key that
 * made them, and are invisible (404) to every other tenant.
 *
 * Two keys exist without being created through the API: the bootstrap key in
 * DATA_DIR/api-key (made on first start, registered in the store like any other), and
 * AIRLOCK_API_KEY when set at start (held only in memory, compared in constant time).
 * Both are tenant `default`, scopes admin and sessions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"
#include "daemon/sigv4.h"

#define TOKEN_MAX 128
#define LAST_USED_EVERY_S 60.0 /* last_used_at is written at most this often per key */

static struct {
        char env_sha[65]; /* SHA-256 of AIRLOCK_API_KEY, "" when unset */
        int64_t default_sessions, default_memory_mb;
} A;

static void make_token(char *id, size_t id_cap, char *token, size_t token_cap) {
        char secret[40];
        random_id("ak_", id, id_cap);
        random_id("sk_", secret, sizeof(secret));
        snprintf(token, token_cap, "%s.%s", id, secret);
        OPENSSL_cleanse(secret, sizeof(secret));
}

/* The bootstrap key: read DATA_DIR/api-key, or make it (mode 0600, O_EXCL); make sure the
 * store knows its hash. A file from before keys existed (a bare `ak_...`) is registered
 * as it is, under an id derived from its hash. */
/* Keep the secret half of token (id.secret) sealed with the key, for SigV4. */
static int seal_secret(const char *id, const char *token) {
        const char *dot = strchr(token, '.');
        if (!dot)
                return -EINVAL;
        unsigned char *sealed = NULL;
        size_t len = 0;
        int r = secrets_seal(":keys", id, dot + 1, strlen(dot + 1), &sealed, &len);
        if (r == 0)
                r = store_key_seal(id, sealed, len);
        free(sealed);
        return r;
}

static int bootstrap(const char *data_dir, struct diag *d) {
        char path[4096], token[TOKEN_MAX], id[48];
        if (strfmt_path(path, sizeof(path), data_dir, "api-key") < 0)
                return diag_set(d, -ENAMETOOLONG, "data_dir", "path too long");
        ssize_t n = read_small_file(path, token, sizeof(token));
        if (n < 0 && n != -ENOENT)
                return diag_set(d, (int)n, "data_dir", "cannot read %s: %s", path, strerror((int)-n));
        if (n < 0) {
                make_token(id, sizeof(id), token, sizeof(token));
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 || write_all(fd, token, strlen(token)) < 0 || write_all(fd, "\n", 1) < 0)
                        return diag_set(d, -errno, "data_dir", "cannot write %s: %m", path);
                fprintf(stderr, "{\"level\":\"info\",\"msg\":\"generated an admin API key\",\"path\":\"%s\"}\n",
                        path);
        }
        token[strcspn(token, "\r\n")] = '\0';
        if (!token[0])
                return diag_set(d, -EINVAL, "data_dir", "%s is empty: remove it to have a new key made", path);
        char sha[65];
        sha256_hex(token, strlen(token), sha);
        json_t *known = store_key_by_token(sha);
        if (!known) {
                const char *dot = strchr(token, '.');
                if (dot && (size_t)(dot - token) < sizeof(id)) {
                        memcpy(id, token, (size_t)(dot - token));
                        id[dot - token] = '\0';
                } else {
                        snprintf(id, sizeof(id), "ak_%.26s", sha);
                }
                if (store_key_put(id, sha, "default", "bootstrap (DATA_DIR/api-key)", "admin,sessions") < 0)
                        return diag_set(d, -EIO, "data_dir", "cannot record the bootstrap key");
        } else {
                snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(known, "id")) ?: "");
        }
        /* Also for a database from before SigV4 support: the file still has the secret. */
        unsigned char *have = NULL;
        size_t have_len = 0;
        if (store_key_sealed(id, &have, &have_len) < 0 && strchr(token, '.'))
                (void)seal_secret(id, token);
        free(have);
        json_decref(known);
        OPENSSL_cleanse(token, sizeof(token));
        return 0;
}

int auth_init(const char *data_dir, int64_t default_sessions, int64_t default_memory_mb, struct diag *d) {
        A.default_sessions = default_sessions;
        A.default_memory_mb = default_memory_mb;
        const char *env = getenv("AIRLOCK_API_KEY");
        if (env && *env) {
                if (strlen(env) >= TOKEN_MAX)
                        return diag_set(d, -EINVAL, "AIRLOCK_API_KEY", "longer than %d characters", TOKEN_MAX - 1);
                sha256_hex(env, strlen(env), A.env_sha);
        }
        return bootstrap(data_dir, d);
}

static void set_identity(struct identity *who, const char *id, const char *tenant, bool admin, bool sessions) {
        snprintf(who->key_id, sizeof(who->key_id), "%s", id);
        snprintf(who->tenant, sizeof(who->tenant), "%s", tenant);
        who->admin = admin;
        who->sessions = sessions;
}

/* A stored key's identity: its id, tenant and scopes. */
static void key_identity(json_t *k, struct identity *who) {
        bool admin = false, sessions = false;
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(k, "scopes"), i, s) {
                admin |= !strcmp(json_string_value(s) ?: "", "admin");
                sessions |= !strcmp(json_string_value(s) ?: "", "sessions");
        }
        set_identity(who, json_string_value(json_object_get(k, "id")) ?: "",
                     json_string_value(json_object_get(k, "tenant")) ?: "", admin, sessions);
}

int auth_check(const char *token, struct identity *who) {
        size_t n = token ? strlen(token) : 0;
        if (n == 0 || n >= TOKEN_MAX)
                return -EACCES;
        char sha[65];
        sha256_hex(token, n, sha);
        if (A.env_sha[0] && CRYPTO_memcmp(sha, A.env_sha, 64) == 0) {
                set_identity(who, "env:AIRLOCK_API_KEY", "default", true, true);
                return 0;
        }
        /* The lookup is by hash: timing tells nothing about a key's secret. */
        json_t *k = store_key_by_token(sha);
        if (!k || !json_is_null(json_object_get(k, "revoked_at"))) {
                json_decref(k);
                return -EACCES;
        }
        key_identity(k, who);
        const char *used = json_string_value(json_object_get(k, "last_used_at"));
        time_t last = 0;
        struct tm tm = {0};
        if (used && strptime(used, "%Y-%m-%dT%H:%M:%SZ", &tm))
                last = timegm(&tm);
        if (!used || difftime(time(NULL), last) >= LAST_USED_EVERY_S)
                store_key_used(who->key_id);
        json_decref(k);
        return 0;
}

int auth_create_key(json_t *req, json_t **ret, struct diag *d) {
        const char *tenant = json_string_value(json_object_get(req, "tenant")) ?: "default";
        const char *name = json_string_value(json_object_get(req, "name")) ?: "";
        json_t *scopes = json_object_get(req, "scopes");
        bool admin = false, sessions = false;
        size_t i;
        json_t *s;
        if (!scopes)
                sessions = true;
        json_array_foreach(scopes, i, s) {
                admin |= !strcmp(json_string_value(s), "admin");
                sessions |= !strcmp(json_string_value(s), "sessions");
        }
        const char *list = admin && sessions ? "admin,sessions" : admin ? "admin" : "sessions";
        char id[48], token[TOKEN_MAX], sha[65];
        make_token(id, sizeof(id), token, sizeof(token));
        sha256_hex(token, strlen(token), sha);
        if (store_key_put(id, sha, tenant, name, list) < 0 || seal_secret(id, token) < 0) {
                OPENSSL_cleanse(token, sizeof(token));
                return diag_set(d, -EIO, "", "cannot record the key");
        }
        json_t *k = store_key_get(id);
        if (k) {
                /* The only time the secret exists outside the caller: this reply. */
                const char *dot = strchr(token, '.');
                json_object_set_new(k, "secret", json_string(dot ? dot + 1 : ""));
                json_object_set_new(k, "token", json_string(token));
        }
        OPENSSL_cleanse(token, sizeof(token));
        *ret = k;
        return k ? 0 : diag_set(d, -EIO, "", "cannot read the key back");
}

int auth_revoke_key(const char *id, json_t **ret, struct diag *d) {
        json_t *k = store_key_get(id);
        if (!k)
                return diag_set(d, -ENOENT, "key_id", "no key %s", id);
        json_decref(k);
        if (store_key_revoke(id) < 0)
                return diag_set(d, -EIO, "", "cannot revoke the key");
        *ret = store_key_get(id);
        return *ret ? 0 : diag_set(d, -EIO, "", "cannot read the key back");
}

void auth_quota(const char *tenant, int64_t *max_sessions, int64_t *max_memory_mb) {
        if (!store_tenant_get(tenant, max_sessions, max_memory_mb)) {
                *max_sessions = A.default_sessions;
                *max_memory_mb = A.default_memory_mb;
        }
}

json_t *auth_tenants(void) { return store_tenants(A.default_sessions, A.default_memory_mb); }

/* ---- SigV4 (the AgentCore-compatible API) ---- */

#define SIGV4_SKEW_S 900 /* as AWS: 15 minutes either way */

int auth_sigv4(const char *authorization, const struct sigv4_request *req, struct identity *who, const char **why) {
        struct sigv4_auth a;
        if (sigv4_parse_authorization(authorization, &a, why) < 0)
                return -EACCES;
        if (strcmp(a.service, "bedrock-agentcore") != 0) {
                *why = "the credential scope's service must be bedrock-agentcore";
                return -EACCES;
        }
        int64_t t = sigv4_parse_amz_date(req->amz_date);
        if (t < 0) {
                *why = "X-Amz-Date is missing or not yyyymmddThhmmssZ";
                return -EACCES;
        }
        if (strncmp(req->amz_date, a.date, 8) != 0) {
                *why = "the credential scope's date is not X-Amz-Date's";
                return -EACCES;
        }
        int64_t now = (int64_t)time(NULL);
        if (t > now + SIGV4_SKEW_S || t < now - SIGV4_SKEW_S) {
                *why = "Signature expired: X-Amz-Date is more than 15 minutes from the server's time";
                return -EACCES;
        }
        /* Headers that change what the request does must be covered by the signature. */
        static const char *const must_sign[] = {"x-amz-date", "x-amzn-code-interpreter-session-id",
                                                "x-amz-security-token", "content-type"};
        for (size_t m = 0; m < sizeof(must_sign) / sizeof(must_sign[0]); m++) {
                if (!req->header(req->ctx, must_sign[m]))
                        continue;
                bool listed = false;
                for (size_t i = 0; i < a.nsigned; i++)
                        listed |= !strcmp(a.signed_headers[i], must_sign[m]);
                if (!listed) {
                        *why = "a header that must be signed (x-amz-date, x-amzn-code-interpreter-session-id, "
                               "content-type) is not in SignedHeaders";
                        return -EACCES;
                }
        }
        json_t *k = store_key_get(a.key_id);
        if (!k || !json_is_null(json_object_get(k, "revoked_at"))) {
                json_decref(k);
                *why = "The security token included in the request is invalid (unknown or revoked key)";
                return -EACCES;
        }
        unsigned char *sealed = NULL;
        size_t len = 0;
        char *secret = NULL;
        size_t secret_len = 0;
        int r = store_key_sealed(a.key_id, &sealed, &len);
        if (r == 0)
                r = secrets_open(":keys", a.key_id, sealed, len, &secret, &secret_len);
        free(sealed);
        if (r < 0) {
                json_decref(k);
                *why = "this key cannot sign requests (it predates SigV4 support, or the secrets key changed): "
                       "create a new key";
                return -EACCES;
        }
        char expected[65];
        r = sigv4_expected(&a, req, secret, expected);
        secrets_free(secret, secret_len);
        if (r < 0 || !sigv4_equal(expected, a.signature)) {
                json_decref(k);
                *why = "The request signature we calculated does not match the signature you provided";
                return -EACCES;
        }
        key_identity(k, who);
        json_decref(k);
        return 0;
}
