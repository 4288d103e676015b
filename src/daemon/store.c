/* store: the daemon's records in SQLite (WAL) under the data dir. It records what
 * happened; whether a sandbox is alive is the launcher's word, never the database's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

static sqlite3 *db;
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
        "  max_memory_mb INTEGER NOT NULL);";

int store_open(const char *data_dir, struct diag *d) {
        char path[4096];
        if (strfmt_path(path, sizeof(path), data_dir, "airlock.db") < 0)
                return diag_set(d, -ENAMETOOLONG, "data_dir", "path too long");
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK)
                return diag_set(d, -EIO, "data_dir", "cannot open %s: %s", path, sqlite3_errstr(rc));
        sqlite3_busy_timeout(db, 5000);
        char *err = NULL;
        if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
                diag_set(d, -EIO, "data_dir", "cannot initialise %s: %s", path, err ? err : "?");
                sqlite3_free(err);
                return -EIO;
        }
        return 0;
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

int store_record_execution(const char *session_id, const char *exec_id, const char *status, double duration_ms,
                           const char *code_sha256, size_t code_len) {
        pthread_mutex_lock(&lock);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db,
                                    "INSERT INTO executions(id, session_id, status, duration_ms, code_sha256, code_size) "
                                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                    -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, exec_id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, session_id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, status, -1, SQLITE_TRANSIENT);
                sqlite3_bind_double(st, 4, duration_ms);
                sqlite3_bind_text(st, 5, code_sha256, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 6, (sqlite3_int64)code_len);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&lock);
        return rc == SQLITE_DONE ? 0 : -EIO;
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
