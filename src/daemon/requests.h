/* requests: parse and validate API request bodies (see requests.c). */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "daemon/daemon.h"

/* {"error": {"code", "message", "field"?}} */
__attribute__((format(printf, 3, 4))) json_t *api_error(const char *code, const char *field, const char *fmt, ...);

/* On success *ret_req is the validated body; on failure *ret_err is the 400 error object. */
int request_session_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err);
/* *ret points into *ret_req, which the caller frees after use. */
int request_execute(const char *body, size_t len, json_t **ret_req, struct exec_req *ret, json_t **ret_err);
/* {"command", "timeout_seconds"?, "cwd"?, "env"?, "background"?} */
/* POST /v1/sessions/{id}/contexts: {id?, language?}. */
int request_context_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err);
#define SECRET_NAME_MAX 64
#define SECRETS_PER_SESSION 32
/* Secret names are variable names: [A-Za-z_][A-Za-z0-9_]*, at most 64. */
bool request_valid_secret_name(const char *s);
/* PUT /v1/secrets/{name}: {"value": string of at most 4096 bytes, no NUL}. */
int request_secret_put(const char *body, size_t len, json_t **ret_req, json_t **ret_err);
/* Interpreter names: a letter, then up to 47 of [A-Za-z0-9_-] (AgentCore's names are the
 * subset without '-'). */
bool request_valid_interpreter_name(const char *s);
#define ALLOWLIST_MAX 256
/* A network allowlist entry HOST:PORT, lower-cased into out (cap >= 264). */
int request_allow_entry(const char *entry, char *out, size_t cap);
/* POST /v1/interpreters (create) and PATCH /v1/interpreters/{name}. */
int request_interpreter(const char *body, size_t len, bool create, json_t **ret_req, json_t **ret_err);
/* Context ids and names: 1 to 64 of [A-Za-z0-9_-]. */
bool request_valid_name(const char *s);
/* A time parameter (audit queries): YYYY-MM-DDTHH:MM:SS[.digits]Z, at most 40 bytes. */
bool request_valid_time(const char *t);
/* Tenant names: 1 to 64 of [a-z0-9-], not starting with '-'. */
bool request_valid_tenant(const char *s);
/* POST /v1/keys: {tenant?, name?, scopes?}; PUT /v1/tenants/{name}: {max_sessions, max_memory_mb}. */
/* The shape of JSON text, scanned without parsing it (strings skipped): the nesting depth
 * at its end, the deepest nesting, and the commas and colons outside strings (about the
 * number of values and keys). To refuse, before a parser allocates, what is too deep or has
 * too many values. */
struct json_shape {
        int depth, deepest;
        size_t separators;
};
void json_shape_of(const char *body, size_t len, struct json_shape *ret);

int request_key_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err);
int request_tenant_put(const char *body, size_t len, json_t **ret_req, json_t **ret_err);
int request_command(const char *body, size_t len, json_t **ret_req, json_t **ret_err);

/* GET /v1/stats query: since, until (RFC 3339 UTC; default the last 24 hours), bucket
 * (seconds, or Nm/Nh/Nd; default the whole range), by (interpreter|tenant|language;
 * default interpreter), and filters interpreter, language, tenant. NULL = absent. */
struct stats_query {
        int64_t since, until, bucket; /* Unix seconds; until > since; at most 10000 buckets */
        char since_text[32], until_text[32]; /* as the store writes times: ...T..:..:...mmmZ */
        const char *by;                      /* a column name: static storage */
        char interpreter[72], language[16], tenant[72]; /* "" = any */
};
enum { STATS_Q_SINCE, STATS_Q_UNTIL, STATS_Q_BUCKET, STATS_Q_BY, STATS_Q_INTERPRETER, STATS_Q_LANGUAGE,
       STATS_Q_TENANT, STATS_Q_COUNT };
extern const char *const stats_query_names[STATS_Q_COUNT];
int request_stats_query(const char *const v[STATS_Q_COUNT], int64_t now, struct stats_query *ret, json_t **ret_err);

/* A W3C traceparent header -> ctx; -EINVAL when malformed (the request starts a new trace). */
int request_traceparent(const char *header, struct trace_ctx *ret);
