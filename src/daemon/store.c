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
        "CREATE INDEX IF NOT EXISTS executions_session ON executions(session_id);";

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
