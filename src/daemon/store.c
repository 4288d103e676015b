/* store: the daemon's records in SQLite (WAL) under the data dir. It records what
 * happened; whether a sandbox is alive is the launcher's word, never the database's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "daemon/daemon.h"
#include "daemon/requests.h"

static sqlite3 *db;
static char head_path[4096]; /* DATA_DIR/audit-head: "<seq> <hash>" of the last entry */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char schema[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS sessions ("
        "  id TEXT PRIMARY KEY,"
        "  sandbox_id INTEGER,"
        "  status TEXT NOT NULL,"
        "  ended_reason TEXT,"
        "  created_at TEXT NOT NULL,"
        "  doc TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS executions ("
        "  id TEXT PRIMARY KEY,"
        "  session_id TEXT NOT NULL REFERENCES sessions(id),"
        "  status TEXT NOT NULL,"
        "  duration_ms REAL NOT NULL,"
        "  code_sha256 TEXT NOT NULL,"
        "  code_size INTEGER NOT NULL,"
        "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
        "CREATE INDEX IF NOT EXISTS executions_session ON executions(session_id);"
        /* API keys: only the SHA-256 of the whole bearer token is kept (tokens are random,
         * about 270 bits: a fast hash is enough, docs/adr/0006). */
        "CREATE TABLE IF NOT EXISTS keys ("
        "  id TEXT PRIMARY KEY,"
        "  token_sha256 TEXT NOT NULL UNIQUE,"
        "  tenant TEXT NOT NULL,"
        "  name TEXT NOT NULL DEFAULT '',"
        "  scopes TEXT NOT NULL,"
        "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
        "  revoked_at TEXT,"
        "  last_used_at TEXT);"
        "CREATE TABLE IF NOT EXISTS tenants ("
        "  name TEXT PRIMARY KEY,"
        "  max_sessions INTEGER NOT NULL,"
        "  max_memory_mb INTEGER NOT NULL);"
        /* The audit log: append-only, each entry's hash covers the one before it
         * (docs/adr/0007); `entry` is the canonical JSON that was hashed. */
        "CREATE TABLE IF NOT EXISTS audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time TEXT NOT NULL,"
        "  tenant TEXT NOT NULL,"
        "  session TEXT,"
        "  action TEXT NOT NULL,"
        "  entry TEXT NOT NULL,"
        "  prev_hash TEXT NOT NULL,"
        "  hash TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS audit_tenant_time ON audit(tenant, time);"
        /* Tenants' secrets, sealed (secrets.c, docs/adr/0008): never a plain value here. */
        "CREATE TABLE IF NOT EXISTS secrets ("
        "  tenant TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  sealed BLOB NOT NULL,"
        "  created_at TEXT NOT NULL,"
        "  updated_at TEXT NOT NULL,"
        "  PRIMARY KEY (tenant, name));"
        /* Interpreters: tenant '' holds the built-in ones (interpreters.c). */
        "CREATE TABLE IF NOT EXISTS interpreters ("
        "  tenant TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  doc TEXT NOT NULL,"
        "  PRIMARY KEY (tenant, name));"
        /* Uploads under way: a row from before the file is opened until it is complete or
         * removed, so that the next daemon removes what a killed one half-wrote. */
        "CREATE TABLE IF NOT EXISTS uploads ("
        "  id INTEGER PRIMARY KEY,"
        "  session_id TEXT NOT NULL,"
        "  path TEXT NOT NULL);";

/* Changes to tables that already exist, in order; PRAGMA user_version counts the ones a
 * database has had. Never edit one that has shipped: add the next. */
static const char *const migrations[] = {
        /* 1: what /v1/stats groups and sums executions by. */
        "ALTER TABLE executions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';"
        "ALTER TABLE executions ADD COLUMN interpreter TEXT NOT NULL DEFAULT 'default';"
        "ALTER TABLE executions ADD COLUMN language TEXT;"
        "ALTER TABLE executions ADD COLUMN cpu_seconds REAL;"
        "ALTER TABLE executions ADD COLUMN peak_memory_bytes INTEGER;"
        "CREATE INDEX executions_tenant_time ON executions(tenant, created_at);",
        /* 2: each key's secret, sealed (secrets.c), for SigV4 (docs/adr/0006). */
        "ALTER TABLE keys ADD COLUMN secret_sealed BLOB;",
};

static int migrate(struct diag *d) {
        sqlite3_stmt *st = NULL;
        int version = 0;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
        if (version > n)
                return diag_set(d, -EPROTO, "data_dir",
                                "the database is from a newer Airlock (schema %d, this one knows %d): upgrade, or "
                                "restore a backup made by this version",
                                version, n);
        for (int i = version; i < n; i++) {
                char pragma[40], *err = NULL;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", i + 1);
                int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(db, migrations[i], NULL, NULL, &err);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(db, pragma, NULL, NULL, &err);
                if (rc == SQLITE_OK)
                        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err);
                if (rc != SQLITE_OK) {
                        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                        diag_set(d, -EIO, "data_dir", "cannot upgrade the database to schema %d: %s", i + 1,
                                 err ? err : sqlite3_errstr(rc));
                        sqlite3_free(err);
                        return -EIO;
                }
        }
        return 0;
}

int store_open(const char *data_dir, struct diag *d) {
        char path[4096];
        if (strfmt_path(path, sizeof(path), data_dir, "airlock.db") < 0)
                return diag_set(d, -ENAMETOOLONG, "data_dir", "path too long");
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK)
                return diag_set(d, -EIO, "data_dir", "cannot open %s: %s", path, sqlite3_errstr(rc));
        sqlite3_busy_timeout(db, 5000);
        if (strfmt_path(head_path, sizeof(head_path), data_dir, "audit-head") < 0)
                return diag_set(d, -ENAMETOOLONG, "data_dir", "path too long");
        char *err = NULL;
        if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
                diag_set(d, -EIO, "data_dir", "cannot initialise %s: %s", path, err ? err : "?");
                sqlite3_free(err);
                return -EIO;
        }
        return migrate(d);
}

static int exec_stmt(const char *sql, const char *const *text, int ntext, const int64_t *ints, int nints) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        for (int i = 0; rc == SQLITE_OK && i < ntext; i++)
                rc = sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_TRANSIENT);
        for (int i = 0; rc == SQLITE_OK && i < nints; i++)
                rc = sqlite3_bind_int64(st, ntext + i + 1, ints[i]);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

/* The JSON documents in the first column of what sql selects (texts bound first, then
 * integers); rows that do not parse are skipped. */
static json_t *query_docs(const char *sql, const char *const *text, int ntext, const int64_t *ints, int nints) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = json_array();
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        for (int i = 0; rc == SQLITE_OK && i < ntext; i++)
                rc = sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_TRANSIENT);
        for (int i = 0; rc == SQLITE_OK && i < nints; i++)
                rc = sqlite3_bind_int64(st, ntext + i + 1, ints[i]);
        while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
                json_t *doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
                if (doc)
                        json_array_append_new(out, doc);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

int store_put_session(json_t *s, uint64_t sandbox_id) {
        char *doc = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
        if (!doc)
                return -ENOMEM;
        const char *text[] = {json_string_value(json_object_get(s, "id")),
                              json_string_value(json_object_get(s, "status")),
                              json_string_value(json_object_get(s, "ended_reason")),
                              json_string_value(json_object_get(s, "created_at")), doc};
        int64_t ints[] = {(int64_t)sandbox_id};
        int r = exec_stmt("INSERT INTO sessions(id, status, ended_reason, created_at, doc, sandbox_id) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET "
                          "status=excluded.status, ended_reason=excluded.ended_reason, doc=excluded.doc",
                          text, 5, ints, 1);
        free(doc);
        return r;
}

int store_end_session(const char *id, const char *reason) {
        const char *text[] = {reason, id};
        return exec_stmt("UPDATE sessions SET status='ended', ended_reason=?1, "
                         "doc=json_set(doc, '$.status', 'ended', '$.ended_reason', ?1) WHERE id=?2",
                         text, 2, NULL, 0);
}

int store_end_orphans(const char *reason) {
        /* Collect first: ending one is a write, which must not happen under the cursor. */
        char (*ids)[48] = NULL;
        size_t n = 0, cap = 0;
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT id FROM sessions WHERE status != 'ended'", -1, &st, NULL) == SQLITE_OK) {
                while (sqlite3_step(st) == SQLITE_ROW) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 64;
                                void *p = realloc(ids, cap * sizeof(*ids));
                                if (!p)
                                        break;
                                ids = p;
                        }
                        snprintf(ids[n++], sizeof(ids[0]), "%s", (const char *)sqlite3_column_text(st, 0));
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        for (size_t i = 0; i < n; i++)
                if (!session_exists(ids[i])) /* re-attached sessions are alive */
                        store_end_session(ids[i], reason);
        free(ids);
        return 0;
}

int64_t store_upload_begin(const char *session_id, const char *path) {
        const char *text[] = {session_id, path};
        pthread_mutex_lock(&lock); /* held across the insert and its rowid */
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "INSERT INTO uploads(session_id, path) VALUES(?1, ?2)", -1, &st, NULL);
        for (int i = 0; rc == SQLITE_OK && i < 2; i++)
                rc = sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        int64_t id = rc == SQLITE_DONE ? (int64_t)sqlite3_last_insert_rowid(db) : -EIO;
        pthread_mutex_unlock(&lock);
        return id;
}

int store_upload_end(int64_t id) {
        return exec_stmt("DELETE FROM uploads WHERE id=?1", NULL, 0, &id, 1);
}

json_t *store_uploads_abandoned(void) {
        /* Sessions that ended took their workspace with them: only live ones matter. */
        json_t *out = query_docs("SELECT json_object('id', u.id, 'session', u.session_id, 'path', u.path, "
                                 "'sandbox_id', s.sandbox_id) FROM uploads u JOIN sessions s ON s.id = u.session_id "
                                 "WHERE s.status != 'ended'",
                                 NULL, 0, NULL, 0);
        (void)exec_stmt("DELETE FROM uploads WHERE session_id NOT IN (SELECT id FROM sessions WHERE status != 'ended')",
                        NULL, 0, NULL, 0);
        return out;
}

json_t *store_session_of_sandbox(uint64_t sandbox_id) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = NULL;
        if (sqlite3_prepare_v2(db, "SELECT doc FROM sessions WHERE sandbox_id=?1 AND status != 'ended'", -1, &st,
                               NULL) == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, (sqlite3_int64)sandbox_id);
                if (sqlite3_step(st) == SQLITE_ROW)
                        out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

int store_record_execution(const struct exec_record *e) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db,
                                    "INSERT INTO executions(id, session_id, status, duration_ms, code_sha256, code_size, "
                                    "tenant, interpreter, language, cpu_seconds, peak_memory_bytes) "
                                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                    -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, e->exec_id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, e->session_id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, e->status, -1, SQLITE_TRANSIENT);
                sqlite3_bind_double(st, 4, e->duration_ms);
                sqlite3_bind_text(st, 5, e->code_sha256, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 6, (sqlite3_int64)e->code_size);
                sqlite3_bind_text(st, 7, e->tenant ? e->tenant : "default", -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 8, e->interpreter ? e->interpreter : "default", -1, SQLITE_TRANSIENT);
                if (e->language)
                        sqlite3_bind_text(st, 9, e->language, -1, SQLITE_TRANSIENT);
                if (e->usage_known) {
                        sqlite3_bind_double(st, 10, e->cpu_seconds);
                        sqlite3_bind_int64(st, 11, (sqlite3_int64)e->peak_memory_bytes);
                }
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

json_t *store_ended_sessions(const char *tenant, const char *interpreter, int64_t offset, int64_t limit) {
        const char *text[] = {tenant, interpreter};
        int64_t ints[] = {limit, offset};
        return query_docs("SELECT doc FROM sessions WHERE status='ended' AND json_extract(doc, '$.tenant')=?1 "
                          "AND json_extract(doc, '$.interpreter')=?2 ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
                          text, 2, ints, 2);
}

json_t *store_get_session(const char *id) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = NULL;
        if (sqlite3_prepare_v2(db, "SELECT doc FROM sessions WHERE id=?1", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW)
                        out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

/* ---- keys and tenants ---- */

static json_t *key_row(sqlite3_stmt *st) {
        json_t *scopes = json_array();
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(st, 3));
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                json_array_append_new(scopes, json_string(tok));
        json_t *k = json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", (const char *)sqlite3_column_text(st, 0), "tenant",
                              (const char *)sqlite3_column_text(st, 1), "name",
                              (const char *)sqlite3_column_text(st, 2), "scopes", scopes, "created_at",
                              (const char *)sqlite3_column_text(st, 4));
        for (int i = 5; k && i <= 6; i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                json_object_set_new(k, i == 5 ? "revoked_at" : "last_used_at", v ? json_string(v) : json_null());
        }
        return k;
}

#define KEY_COLUMNS "id, tenant, name, scopes, created_at, revoked_at, last_used_at"

int store_key_put(const char *id, const char *token_sha256, const char *tenant, const char *name, const char *scopes) {
        const char *text[] = {id, token_sha256, tenant, name, scopes};
        return exec_stmt("INSERT INTO keys(id, token_sha256, tenant, name, scopes) VALUES(?1, ?2, ?3, ?4, ?5)", text,
                         5, NULL, 0);
}

static json_t *key_query(const char *sql, const char *arg) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
                if (arg)
                        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
                out = json_array();
                while (out && sqlite3_step(st) == SQLITE_ROW)
                        json_array_append_new(out, key_row(st));
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

json_t *store_key_by_token(const char *token_sha256) {
        json_t *all = key_query("SELECT " KEY_COLUMNS " FROM keys WHERE token_sha256=?1", token_sha256);
        json_t *k = json_incref(json_array_get(all, 0));
        json_decref(all);
        return k;
}

json_t *store_key_get(const char *id) {
        json_t *all = key_query("SELECT " KEY_COLUMNS " FROM keys WHERE id=?1", id);
        json_t *k = json_incref(json_array_get(all, 0));
        json_decref(all);
        return k;
}

json_t *store_keys(void) { return key_query("SELECT " KEY_COLUMNS " FROM keys ORDER BY created_at, id", NULL); }

int store_key_revoke(const char *id) {
        const char *text[] = {id};
        return exec_stmt("UPDATE keys SET revoked_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') "
                         "WHERE id=?1 AND revoked_at IS NULL",
                         text, 1, NULL, 0);
}

int store_key_used(const char *id) {
        const char *text[] = {id};
        return exec_stmt("UPDATE keys SET last_used_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?1", text, 1, NULL,
                         0);
}

int store_tenant_put(const char *name, int64_t max_sessions, int64_t max_memory_mb) {
        const char *text[] = {name};
        int64_t ints[] = {max_sessions, max_memory_mb};
        return exec_stmt("INSERT INTO tenants(name, max_sessions, max_memory_mb) VALUES(?1, ?2, ?3) "
                         "ON CONFLICT(name) DO UPDATE SET max_sessions=excluded.max_sessions, "
                         "max_memory_mb=excluded.max_memory_mb",
                         text, 1, ints, 2);
}

bool store_tenant_get(const char *name, int64_t *max_sessions, int64_t *max_memory_mb) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        bool found = false;
        if (sqlite3_prepare_v2(db, "SELECT max_sessions, max_memory_mb FROM tenants WHERE name=?1", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW) {
                        *max_sessions = sqlite3_column_int64(st, 0);
                        *max_memory_mb = sqlite3_column_int64(st, 1);
                        found = true;
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return found;
}

/* Every tenant a key or a quota names, with its quota (defaults where it has none). */
json_t *store_tenants(int64_t default_sessions, int64_t default_memory_mb) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = json_array();
        if (out && sqlite3_prepare_v2(db,
                                      "SELECT n.name, t.max_sessions, t.max_memory_mb FROM "
                                      "(SELECT tenant AS name FROM keys UNION SELECT name FROM tenants) n "
                                      "LEFT JOIN tenants t ON t.name = n.name ORDER BY n.name",
                                      -1, &st, NULL) == SQLITE_OK) {
                while (sqlite3_step(st) == SQLITE_ROW) {
                        bool set = sqlite3_column_type(st, 1) != SQLITE_NULL;
                        json_array_append_new(
                                out, json_pack("{s:s, s:I, s:I}", "name", (const char *)sqlite3_column_text(st, 0),
                                               "max_sessions",
                                               (json_int_t)(set ? sqlite3_column_int64(st, 1) : default_sessions),
                                               "max_memory_mb",
                                               (json_int_t)(set ? sqlite3_column_int64(st, 2) : default_memory_mb)));
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

/* ---- the audit log ---- */

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The hash of an entry: SHA-256 over the previous entry's hash, a newline, and the
 * canonical JSON (sorted keys, compact) of the entry with its seq. */
static void audit_hash(const char *prev, const char *canonical, char out[65]) {
        const void *parts[] = {prev, "\n", canonical};
        size_t lens[] = {strlen(prev), 1, strlen(canonical)};
        sha256_hex_parts(parts, lens, 3, out);
}

/* The head file: "<seq> <64 hex hash>\n". */
static int parse_head(const char *text, long long *seq, char hash[65]) {
        char *end = NULL;
        errno = 0;
        *seq = strtoll(text, &end, 10);
        if (errno || end == text || *end != ' ' || strspn(end + 1, "0123456789abcdef") != 64)
                return -EINVAL;
        memcpy(hash, end + 1, 64);
        hash[64] = '\0';
        return 0;
}

static int write_head(int64_t seq, const char *hash) {
        char tmp[4200], text[96];
        snprintf(tmp, sizeof(tmp), "%s.tmp", head_path);
        int n = snprintf(text, sizeof(text), "%lld %s\n", (long long)seq, hash);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, text, (size_t)n);
        close(fd);
        if (r == 0 && rename(tmp, head_path) < 0)
                r = -errno;
        return r;
}

int store_audit_append(json_t *entry) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int64_t seq = 1;
        char prev[65] = ZERO_HASH;
        if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &st, NULL) ==
                    SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
                seq = sqlite3_column_int64(st, 0) + 1;
                snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
        json_object_set_new(entry, "seq", json_integer((json_int_t)seq));
        char *canonical = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
        int rc = SQLITE_NOMEM;
        char hash[65] = "";
        if (canonical) {
                audit_hash(prev, canonical, hash);
                rc = sqlite3_prepare_v2(db,
                                        "INSERT INTO audit(seq, time, tenant, session, action, entry, prev_hash, hash) "
                                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                        -1, &st, NULL);
                if (rc == SQLITE_OK) {
                        sqlite3_bind_int64(st, 1, seq);
                        sqlite3_bind_text(st, 2, json_string_value(json_object_get(entry, "time")), -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 3, json_string_value(json_object_get(entry, "tenant")), -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 4, json_string_value(json_object_get(entry, "session")), -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 5, json_string_value(json_object_get(entry, "action")), -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 6, canonical, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 7, prev, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 8, hash, -1, SQLITE_TRANSIENT);
                        rc = sqlite3_step(st);
                }
                sqlite3_finalize(st);
        }
        if (rc == SQLITE_DONE)
                (void)write_head(seq, hash); /* a lost head is reported by verify, not fatal here */
        pthread_mutex_unlock(&lock);
        free(canonical);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

json_t *store_audit_query(const char *tenant, const char *since, const char *until, const char *session,
                          const char *action, int64_t after_seq, int limit) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = json_array();
        if (out && sqlite3_prepare_v2(db,
                                      "SELECT entry, hash FROM audit WHERE tenant=?1 AND (?2 IS NULL OR time >= ?2) "
                                      "AND (?3 IS NULL OR time < ?3) AND (?4 IS NULL OR session=?4) "
                                      "AND (?5 IS NULL OR action=?5) AND seq > ?6 ORDER BY seq LIMIT ?7",
                                      -1, &st, NULL) == SQLITE_OK) {
                const char *text[] = {tenant, since, until, session, action};
                for (int i = 0; i < 5; i++)
                        sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 6, after_seq);
                sqlite3_bind_int(st, 7, limit);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        json_t *e = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
                        if (!e)
                                continue;
                        json_object_set_new(e, "hash", json_string((const char *)sqlite3_column_text(st, 1)));
                        json_array_append_new(out, e);
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

/* Walk the whole chain: every entry's hash recomputed from its stored canonical form and
 * the hash before it, seqs 1..n without a gap, the columns equal to the hashed fields, and
 * the last entry equal to the head file (which catches entries cut from the end). Also
 * count the `audit.gap` entries (audit.c) and the entries they say were lost: an intact
 * chain with gaps is intact, but not complete, and the caller must be able to tell. */
json_t *store_audit_verify(void) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        char prev[65] = ZERO_HASH, problem[256] = "";
        int64_t expect = 1, bad = 0, gaps = 0, lost = 0;
        if (sqlite3_prepare_v2(db, "SELECT seq, time, tenant, session, action, entry, prev_hash, hash FROM audit "
                                   "ORDER BY rowid",
                               -1, &st, NULL) == SQLITE_OK) {
                while (!bad && sqlite3_step(st) == SQLITE_ROW) {
                        int64_t seq = sqlite3_column_int64(st, 0);
                        const char *entry = (const char *)sqlite3_column_text(st, 5);
                        const char *stored_prev = (const char *)sqlite3_column_text(st, 6);
                        const char *stored = (const char *)sqlite3_column_text(st, 7);
                        json_t *e = entry ? json_loads(entry, 0, NULL) : NULL;
                        char again[65] = "";
                        if (entry)
                                audit_hash(prev, entry, again);
                        const char *cols[] = {"time", "tenant", "session", "action"};
                        bool columns_match = e != NULL;
                        for (int i = 0; columns_match && i < 4; i++) {
                                const char *col = (const char *)sqlite3_column_text(st, i + 1);
                                const char *val = json_string_value(json_object_get(e, cols[i]));
                                columns_match = (!col && !val) || (col && val && !strcmp(col, val));
                        }
                        if (seq != expect)
                                snprintf(problem, sizeof(problem), "entry %lld is missing or out of order (found %lld)",
                                         (long long)expect, (long long)seq);
                        else if (!stored_prev || strcmp(stored_prev, prev) != 0)
                                snprintf(problem, sizeof(problem),
                                         "entry %lld does not follow entry %lld (removed or reordered)", (long long)seq,
                                         (long long)(seq - 1));
                        else if (!e || json_integer_value(json_object_get(e, "seq")) != seq || !stored ||
                                 strcmp(stored, again) != 0)
                                snprintf(problem, sizeof(problem), "entry %lld was edited (its hash does not match)",
                                         (long long)seq);
                        else if (!columns_match)
                                snprintf(problem, sizeof(problem), "entry %lld was edited (a column differs from what was hashed)",
                                         (long long)seq);
                        if (problem[0]) {
                                bad = seq ? seq : expect;
                        } else {
                                snprintf(prev, sizeof(prev), "%s", stored);
                                if (!strcmp(json_string_value(json_object_get(e, "action")) ?: "", "audit.gap")) {
                                        gaps++;
                                        lost += json_integer_value(json_object_get(e, "lost"));
                                }
                        }
                        json_decref(e);
                        expect++;
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        int64_t count = expect - 1;
        if (!bad) {
                char text[128] = "";
                ssize_t n = read_small_file(head_path, text, sizeof(text));
                long long head_seq = 0;
                char head_hash[65] = "";
                if (n < 0 && count > 0)
                        snprintf(problem, sizeof(problem), "the head file is missing: the end of the log can't be checked");
                else if (n >= 0 && (parse_head(text, &head_seq, head_hash) < 0 || head_seq != count ||
                                    strcmp(head_hash, count ? prev : ZERO_HASH) != 0))
                        snprintf(problem, sizeof(problem),
                                 "the log ends at entry %lld but the head file says %lld: entries were removed from the end",
                                 (long long)count, head_seq);
                if (problem[0])
                        bad = count + 1;
        }
        json_t *out = json_pack("{s:b, s:I, s:I, s:I}", "ok", !problem[0], "entries", (json_int_t)count, "gaps",
                                (json_int_t)gaps, "lost_entries", (json_int_t)lost);
        if (problem[0]) {
                json_object_set_new(out, "first_bad", json_integer((json_int_t)bad));
                json_object_set_new(out, "problem", json_string(problem));
        }
        return out;
}

/* Executions grouped by q->by and by bucket, over [since, until), one tenant's (or every
 * tenant's when tenant is NULL). p95 is the nearest rank: the ceil(0.95 n)-th duration. */
json_t *store_stats(const struct stats_query *q, const char *tenant) {
        char sql[2048];
        snprintf(sql, sizeof(sql),
                 "WITH e AS (SELECT %s AS g,"
                 "  (CAST(strftime('%%s', created_at) AS INTEGER) - ?1) / ?2 AS b,"
                 "  status, duration_ms, cpu_seconds, peak_memory_bytes FROM executions"
                 "  WHERE created_at >= ?3 AND created_at < ?4 AND (?5 IS NULL OR tenant = ?5)"
                 "  AND (?6 = '' OR interpreter = ?6) AND (?7 = '' OR language = ?7)),"
                 " r AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY g, b ORDER BY duration_ms) AS rn,"
                 "  COUNT(*) OVER (PARTITION BY g, b) AS n FROM e)"
                 " SELECT g, b, COUNT(*), SUM(status = 'ok'), SUM(status = 'error'), SUM(status = 'timeout'),"
                 "  SUM(status = 'killed'), AVG(duration_ms),"
                 "  MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN duration_ms END),"
                 "  TOTAL(cpu_seconds), MAX(peak_memory_bytes)"
                 " FROM r GROUP BY g, b ORDER BY g, b",
                 q->by); /* q->by is one of three column names (requests.c), never user text */
        json_t *series = json_array();
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, q->since);
                sqlite3_bind_int64(st, 2, q->bucket);
                sqlite3_bind_text(st, 3, q->since_text, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 4, q->until_text, -1, SQLITE_TRANSIENT);
                if (tenant)
                        sqlite3_bind_text(st, 5, tenant, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 6, q->interpreter, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 7, q->language, -1, SQLITE_TRANSIENT);
        }
        json_t *cur = NULL;
        while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
                const char *g = (const char *)sqlite3_column_text(st, 0);
                if (!g)
                        g = "unknown"; /* an execution killed before its language was known */
                if (!cur || strcmp(json_string_value(json_object_get(cur, "group")), g) != 0) {
                        cur = json_pack("{s:s, s:[]}", "group", g, "buckets");
                        json_array_append_new(series, cur);
                }
                int64_t n = sqlite3_column_int64(st, 2), ok = sqlite3_column_int64(st, 3),
                        errs = sqlite3_column_int64(st, 4);
                time_t start = (time_t)(q->since + sqlite3_column_int64(st, 1) * q->bucket);
                char when[32];
                rfc3339(start, when, sizeof(when));
                json_t *peak = sqlite3_column_type(st, 10) == SQLITE_NULL
                                       ? json_null()
                                       : json_integer((json_int_t)sqlite3_column_int64(st, 10));
                json_array_append_new(
                        json_object_get(cur, "buckets"),
                        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:o}", "start", when,
                                  "executions", (json_int_t)n, "ok", (json_int_t)ok, "errors", (json_int_t)errs,
                                  "timeouts", (json_int_t)sqlite3_column_int64(st, 5), "killed",
                                  (json_int_t)sqlite3_column_int64(st, 6), "success_rate", (double)ok / (double)n,
                                  "error_rate", (double)errs / (double)n, "avg_duration_ms",
                                  sqlite3_column_double(st, 7), "p95_duration_ms", sqlite3_column_double(st, 8),
                                  "cpu_seconds", sqlite3_column_double(st, 9), "peak_memory_bytes", peak));
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return series;
}

/* ---- helpers for rows keyed by one or two texts ---- */

/* A BLOB column of the row sql (?1 = a, ?2 = b when given) selects, copied: -ENOENT when
 * there is no row or the column is not a BLOB. */
static int fetch_blob(const char *sql, const char *a, const char *b, unsigned char **ret, size_t *ret_len) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int r = -ENOENT;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
                if (b)
                        sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
                        int n = sqlite3_column_bytes(st, 0);
                        const void *blob = sqlite3_column_blob(st, 0);
                        *ret = n > 0 ? malloc((size_t)n) : NULL;
                        r = *ret ? 0 : -ENOMEM;
                        if (*ret) {
                                memcpy(*ret, blob, (size_t)n);
                                *ret_len = (size_t)n;
                        }
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return r;
}

/* Delete what sql (?1 = a, ?2 = b) names: -ENOENT when nothing was. */
static int delete_row(const char *sql, const char *a, const char *b) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
                rc = sqlite3_step(st);
        }
        int changed = sqlite3_changes(db);
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return rc != SQLITE_DONE ? -EIO : changed ? 0 : -ENOENT;
}

/* ---- secrets (sealed values only) ---- */

int store_secret_put(const char *tenant, const char *name, const unsigned char *sealed, size_t len, bool *created) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        bool existed = false;
        int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM secrets WHERE tenant=?1 AND name=?2", -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
                existed = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        st = NULL;
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO secrets(tenant, name, sealed, created_at, updated_at) VALUES(?1, ?2, ?3, "
                                "strftime('%Y-%m-%dT%H:%M:%SZ','now'), strftime('%Y-%m-%dT%H:%M:%SZ','now')) "
                                "ON CONFLICT(tenant, name) DO UPDATE SET sealed=excluded.sealed, "
                                "updated_at=excluded.updated_at",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 3, sealed, (int)len, SQLITE_TRANSIENT);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        *created = !existed;
        return rc == SQLITE_DONE ? 0 : -EIO;
}

static json_t *secret_row(sqlite3_stmt *st) {
        return json_pack("{s:s, s:s, s:s}", "name", (const char *)sqlite3_column_text(st, 0), "created_at",
                         (const char *)sqlite3_column_text(st, 1), "updated_at", (const char *)sqlite3_column_text(st, 2));
}

json_t *store_secret_meta(const char *tenant, const char *name) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = NULL;
        if (sqlite3_prepare_v2(db, "SELECT name, created_at, updated_at FROM secrets WHERE tenant=?1 AND name=?2", -1,
                               &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW)
                        out = secret_row(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

json_t *store_secrets(const char *tenant) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = json_array();
        if (sqlite3_prepare_v2(db, "SELECT name, created_at, updated_at FROM secrets WHERE tenant=?1 ORDER BY name", -1,
                               &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
                while (sqlite3_step(st) == SQLITE_ROW)
                        json_array_append_new(out, secret_row(st));
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

int store_secret_sealed(const char *tenant, const char *name, unsigned char **ret, size_t *ret_len) {
        return fetch_blob("SELECT sealed FROM secrets WHERE tenant=?1 AND name=?2", tenant, name, ret, ret_len);
}

int store_secret_delete(const char *tenant, const char *name) {
        return delete_row("DELETE FROM secrets WHERE tenant=?1 AND name=?2", tenant, name);
}

/* ---- interpreters ---- */

json_t *store_interpreter_get(const char *tenant, const char *name) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        json_t *out = NULL;
        if (sqlite3_prepare_v2(db, "SELECT doc FROM interpreters WHERE tenant=?1 AND name=?2", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW)
                        out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return out;
}

json_t *store_interpreters(const char *tenant) {
        const char *text[] = {tenant};
        return query_docs("SELECT doc FROM interpreters WHERE tenant=?1 ORDER BY name", text, 1, NULL, 0);
}

int store_interpreter_put(const char *tenant, const char *name, json_t *doc, bool create) {
        char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        const char *t[] = {tenant, name, text};
        int r = exec_stmt(create ? "INSERT INTO interpreters(tenant, name, doc) VALUES(?1, ?2, ?3)"
                                 : "UPDATE interpreters SET doc=?3 WHERE tenant=?1 AND name=?2",
                          t, 3, NULL, 0);
        free(text);
        return r;
}

int store_interpreter_delete(const char *tenant, const char *name) {
        return delete_row("DELETE FROM interpreters WHERE tenant=?1 AND name=?2", tenant, name);
}

int store_key_seal(const char *id, const unsigned char *sealed, size_t len) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "UPDATE keys SET secret_sealed=?2 WHERE id=?1", -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_TRANSIENT);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

int store_key_sealed(const char *id, unsigned char **ret, size_t *ret_len) {
        return fetch_blob("SELECT secret_sealed FROM keys WHERE id=?1", id, NULL, ret, ret_len);
}
