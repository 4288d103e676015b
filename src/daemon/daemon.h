/* daemon: `airlock serve`, the network-facing process (docs/adr/0005).
 *
 * Under `airlock serve` the supervising launcher starts us with its socket on fd 3
 * (--launcher-fd); started by hand we start a launcher of our own (the only fork, before
 * any thread exists). Either way we drop to our own unprivileged uid before we open a
 * socket or parse a byte from the network. HTTP (libmicrohttpd, one thread per
 * connection), JSON (jansson) and state (SQLite) live here; sandboxes are asked of the
 * launcher, whose replies a single dispatcher thread routes back to the waiting request
 * by request id.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/diag.h"
#include "proto/launch_proto.h"

#define DAEMON_UID 2099999998u /* reserved beside the client uid and the sandbox pool; the
                                 * runtime builder's uid 2099999997 (AIRLOCK_BUILDER_UID) too */
#define BODY_MAX (1u << 20)     /* JSON request bodies */
#define OUTPUT_MAX (1u << 20)   /* stdout or stderr kept per execution */
#define SESSION_ID_LEN 31       /* "sess_" + 26 */

/* ---- launcher client (launch.c) ---- */

struct lreply {
        int type; /* LP_* reply type, or a negative errno when the launcher is gone */
        char body[sizeof(struct lp_host_report) > sizeof(struct lp_file_ok) ? sizeof(struct lp_host_report)
                                                                               : sizeof(struct lp_file_ok)];
        struct lp_error err;
        int fds[3];
        size_t nfds;
};

int launch_start(struct diag *reterr);
/* Use a launcher that started us (`airlock serve`: the supervisor) on fd, and re-attach
 * the sandboxes it kept alive across a restart of ours. */
int launch_adopt(int fd, struct diag *reterr);
/* Send one request and wait for its reply (thread-safe). fds are sent with it. */
int launch_call(uint16_t type, const void *body, size_t len, const void *extra, size_t extra_len, const int *fds,
                size_t nfds, struct lreply *ret);
int launch_signal(uint64_t sandbox_id, uint8_t action, uint8_t reason);
/* One workspace file request (LP_FILE); the reply's type says how it went. */
int launch_file(uint64_t sandbox_id, uint8_t op, uint8_t flags, uint32_t mode, const char *path, struct lreply *ret);
/* A sandbox's CPU and memory so far (-ESRCH when it is gone); reset_peak starts a new
 * memory high-water mark where the host can (cgroup v1). */
int launch_usage(uint64_t sandbox_id, bool reset_peak, struct lp_usage_ok *ret);
/* The same in two halves, so that the launcher's answer overlaps other work (an
 * execution's first reading is taken while its code is sent). Every begin that returned 0
 * needs its end. */
struct waiter {
        uint64_t req_id;
        bool done;
        struct lreply *reply;
        struct waiter *next;
};
struct usage_call {
        struct waiter w;
        struct lreply reply;
        bool sent;
};
int launch_usage_begin(struct usage_call *c, uint64_t sandbox_id, bool reset_peak);
int launch_usage_end(struct usage_call *c, struct lp_usage_ok *ret);
bool launch_alive(void);
const struct lp_host_report *launch_host(void);

/* ---- workspace writes (workspace.c) ---- */

/* A workspace file the daemon writes for a client: a REST upload (streamed), MCP's
 * write_file and AgentCore's writeFiles (from a body it holds). Each is journaled in the
 * store (store_upload_begin) from before the file is opened until it is complete or
 * removed, so that a daemon killed mid-write leaves a row, and the next one removes the
 * half-written file before it serves anyone (main.c) rather than serve part of a file as
 * the whole. */
struct ws_write {
        int64_t journal; /* its row in the journal, 0 for none */
        uint64_t sandbox;
        int fd; /* the file, -1 when not open */
        char path[LP_PATH_MAX];
};
enum ws_status {
        WS_OK,
        WS_UNRECORDED,  /* the journal cannot be written (the data dir is full or failing) */
        WS_NO_LAUNCHER, /* the launcher is unavailable */
        WS_FAILED,      /* refused or failed: rep says why (LP_ERROR, err.code and err.msg) */
};
/* Journal, then open path for writing (LP_FILE_WRITE, its parents made). On WS_OK w->fd is
 * the file, and w needs ws_write_done or ws_write_abandon; otherwise nothing is left. */
enum ws_status ws_write_open(struct ws_write *w, const char *session_id, uint64_t sandbox, uint32_t mode,
                             const char *path, struct lreply *rep);
/* The file is complete: it stays. WS_UNRECORDED when its journal row cannot be removed (the
 * next daemon would remove the file): the file is removed now, and the write has failed. */
enum ws_status ws_write_done(struct ws_write *w);
/* The write failed: the file is removed, and its row with it (kept when the launcher cannot
 * remove it, for the next daemon). */
void ws_write_abandon(struct ws_write *w);
/* All of it at once from memory: open, write, done or abandon. */
enum ws_status ws_write_file(const char *session_id, uint64_t sandbox, uint32_t mode, const char *path,
                             const void *data, size_t len, struct lreply *rep);

/* ---- store (store.c) ---- */

int store_open(const char *data_dir, struct diag *reterr);
int store_put_session(json_t *session, uint64_t sandbox_id);
int store_end_session(const char *id, const char *reason);
struct exec_record {
        const char *session_id, *exec_id, *tenant, *interpreter, *language, *status, *code_sha256;
        double duration_ms;
        size_t code_size;
        bool usage_known;
        double cpu_seconds;
        uint64_t peak_memory_bytes;
};
int store_record_execution(const struct exec_record *e);
/* Sessions left "ready" or "busy" by a previous daemon: their sandboxes died with it. */
int store_end_orphans(const char *reason);
/* The upload journal: a row while a workspace file is being written (its id, > 0, or
 * -EIO), removed when the file is complete or gone; what is left after a crash are
 * half-written files of live sessions, {id, session, path, sandbox_id} each. */
int64_t store_upload_begin(const char *session_id, const char *path);
int store_upload_end(int64_t id);
json_t *store_uploads_abandoned(void);
/* The live (not ended) session of a sandbox, or NULL. */
json_t *store_session_of_sandbox(uint64_t sandbox_id);
json_t *store_get_session(const char *id);
/* One tenant's ended sessions of an interpreter, newest first (AgentCore's TERMINATED). */
json_t *store_ended_sessions(const char *tenant, const char *interpreter, int64_t offset, int64_t limit);
/* API keys (the token's SHA-256 only) and tenants' quotas. A key is
 * {id, tenant, name, scopes[], created_at, revoked_at, last_used_at}. */
int store_key_put(const char *id, const char *token_sha256, const char *tenant, const char *name, const char *scopes);
json_t *store_key_by_token(const char *token_sha256);
json_t *store_key_get(const char *id);
json_t *store_keys(void);
int store_key_revoke(const char *id);
int store_key_used(const char *id);
/* A key's secret sealed (secrets.c) for SigV4; -ENOENT for keys that predate it. */
int store_key_seal(const char *id, const unsigned char *sealed, size_t len);
int store_key_sealed(const char *id, unsigned char **ret, size_t *ret_len);
int store_tenant_put(const char *name, int64_t max_sessions, int64_t max_memory_mb);
bool store_tenant_get(const char *name, int64_t *max_sessions, int64_t *max_memory_mb);
json_t *store_tenants(int64_t default_sessions, int64_t default_memory_mb);
/* The audit log (docs/adr/0007): append an entry (its fields; seq and hashes are added);
 * query one tenant's entries; verify the whole chain -> {ok, entries, first_bad?, problem?}. */
int store_audit_append(json_t *entry);
json_t *store_audit_query(const char *tenant, const char *since, const char *until, const char *session,
                          const char *action, int64_t after_seq, int limit);
json_t *store_audit_verify(void);
/* Execution statistics (GET /v1/stats): [{group, buckets: [{start, executions, ...}]}];
 * tenant NULL = every tenant. */
struct stats_query;
json_t *store_stats(const struct stats_query *q, const char *tenant);

/* Secrets (sealed values only; secrets.c seals and opens them). */
int store_secret_put(const char *tenant, const char *name, const unsigned char *sealed, size_t len, bool *created);
json_t *store_secret_meta(const char *tenant, const char *name); /* {name, created_at, updated_at} or NULL */
json_t *store_secrets(const char *tenant);
int store_secret_sealed(const char *tenant, const char *name, unsigned char **ret, size_t *ret_len);
int store_secret_delete(const char *tenant, const char *name);

/* Interpreters' documents; tenant "" holds the built-in ones. put: create (fails when
 * the name is taken) or replace. */
json_t *store_interpreter_get(const char *tenant, const char *name);
json_t *store_interpreters(const char *tenant);
int store_interpreter_put(const char *tenant, const char *name, json_t *doc, bool create);
int store_interpreter_delete(const char *tenant, const char *name);

/* ---- interpreters (interpreters.c) ---- */

/* What a session gets from its interpreter and its own request. */
struct session_settings {
        double memory_mb, cpus, pids, workspace_mb;
        double ttl, idle, execution_timeout;
        char network[16];  /* none | allowlist | public */
        json_t *allowlist; /* ["host:port", ...] */
        char runtime[32];
        json_t *env;       /* the interpreter's variables with the session's over them */
        bool fresh;        /* start: fresh, never from the warm pool (docs/architecture.md 6.5) */
};

int interpreters_init(void); /* the built-in `default`, on first start */
/* NULL when the tenant has no such interpreter (built-in ones are everyone's). */
json_t *interpreter_get(const char *tenant, const char *name);
json_t *interpreters_list(const char *tenant);
/* -EEXIST (field name), -EINVAL/-ENOTSUP naming the field. */
int interpreter_create(const char *tenant, json_t *req, json_t **ret, struct diag *reterr);
/* -ENOENT, -EPERM (a built-in one, by anyone but the operator), -EINVAL/-ENOTSUP. */
int interpreter_update(const char *tenant, bool operator, const char *name, json_t *req, json_t **ret,
                       struct diag *reterr);
/* -ENOENT, -EPERM (built in), -EBUSY (live sessions use it). */
int interpreter_delete(const char *tenant, const char *name, struct diag *reterr);
/* The session's settings: the request's values within the interpreter's ceilings (else
 * -EINVAL naming the field), the interpreter's defaults for the rest. */
int interpreter_apply(json_t *interp, json_t *req, struct session_settings *ret, struct diag *reterr);
void session_settings_free(struct session_settings *s);

/* ---- runtimes (runtimes.c, docs/runtimes.md) ---- */

void runtimes_init(const char *data_dir);
/* `default` first, then the built ones (DATA_DIR/runtimes), read afresh each call. */
json_t *runtimes_list(void);
/* NULL when there is no such runtime. */
json_t *runtime_get(const char *name);
/* "default", NAME (its newest ready version) or NAME@vN into "default" or NAME@vN, and the
 * runtime's environment (a new object; NULL for default). -EINVAL naming `runtime` when
 * it does not exist or did not build. */
int runtime_resolve(const char *spec, char *out, size_t cap, json_t **ret_env, struct diag *reterr);
/* For a missing module's error ("No module named 'x'", "Cannot find module 'x'"): the
 * sentence naming the runtimes whose ready versions have it, or NULL (free it). */
char *runtime_hint(const char *error_text);
/* Append that hint to an execution error's value ({name, value, traceback}), if any. */
void runtime_hint_error(json_t *error);

/* ---- secrets (secrets.c, docs/adr/0008) ---- */

/* Read the key file (made, 0400, when missing); before privileges are dropped. */
int secrets_init(const char *key_path, struct diag *reterr);
/* AES-256-GCM bound to tenant and name. -ENOKEY without secrets_init. */
int secrets_seal(const char *tenant, const char *name, const char *value, size_t len, unsigned char **ret,
                 size_t *ret_len);
/* -EBADMSG when it does not open (another key; the row edited or moved). Free with secrets_free. */
int secrets_open(const char *tenant, const char *name, const unsigned char *sealed, size_t len, char **ret,
                 size_t *ret_len);
void secrets_free(char *value, size_t len);

/* ---- sessions (session.c) ---- */

struct session;

/* Live events of an execution (SSE): stream is "stdout" or "stderr" with text, or
 * "result"/"error" with a JSON object. Returns < 0 when the listener is gone (the
 * execution goes on; only the streaming stops). */
struct exec_sink {
        int (*event)(void *ctx, const char *type, json_t *data);
        /* Called every EXEC_KEEPALIVE_S seconds while the execution runs (NULL: never), so
         * that a quiet execution keeps its stream alive through proxies and idle timeouts. */
        void (*keepalive)(void *ctx);
        void *ctx;
};
#define EXEC_KEEPALIVE_S 15.0

struct exec_req {
        const char *code;
        size_t code_len;
        const char *context;  /* NULL: the language's default context */
        const char *language; /* NULL: the context's own (python for a new one) */
        bool clear;           /* start the context afresh first */
        double timeout_s;
        const struct identity *who; /* for the audit entry */
        const char *request_id;     /* likewise */
};

/* The Python runner, and the Node kernel it starts for JavaScript/TypeScript. */
int sessions_init(const char *runner_path, const char *kernel_path, struct diag *reterr);
/* Keep `size` default-shaped sandboxes ready (0 turns the pool off). */
/* size sandboxes of the default shape kept ready; preload: their runners' modules
 * (config pool_preload: comma-separated, checked), "" or NULL for none. */
int sessions_start_pool(int size, const char *preload);
void sessions_pool_stats(uint64_t *hits, uint64_t *misses, int *ready, int *warm);
/* Create from a validated request body (http.c checks it). Returns the session JSON. */
/* -EDQUOT when the tenant's quota (sessions, memory) would be passed. */
int session_create(json_t *req, const char *tenant, json_t **ret, struct diag *reterr);
json_t *session_get_json(const char *id);
/* The live sessions of one tenant. */
json_t *sessions_list_json(const char *tenant);
/* The tenant a session (live or ended) belongs to, or -ENOENT. */
int session_tenant(const char *id, char *out, size_t cap);
const char *session_doc_tenant(json_t *doc);
/* Live sessions and the memory they were given, of one tenant. */
void tenant_usage(const char *tenant, int64_t *sessions, int64_t *memory_mb);
int session_delete(const char *id, json_t **ret);
int session_execute(const char *id, const struct exec_req *req, const struct exec_sink *sink, json_t **ret,
                    struct diag *reterr);
/* A shell command in the session (validated body); *ret_background says whether the
 * reply is a started task (202) or the finished command (200). */
int session_command(const char *id, json_t *req, json_t **ret, bool *ret_background, struct diag *reterr);
/* A background task's state; stop ends it first. -ENOENT (field task_id) when unknown. */
int session_task(const char *id, const char *task_id, bool stop, json_t **ret, struct diag *reterr);
/* A session's contexts: {"contexts": [{id, language, execution_count}]}. */
int session_contexts(const char *id, json_t **ret, struct diag *reterr);
/* One context, or -ENOENT with field "context_id". */
int session_context_get(const char *id, const char *context, json_t **ret, struct diag *reterr);
/* create_context (language may be NULL: python), delete_context or reset_context. Errors:
 * -ENOENT (field context_id) no such context, -EEXIST it exists, -EPERM the default one
 * can't be deleted, -EINVAL bad language. On success *ret is the context (NULL for delete). */
int session_context_op(const char *id, const char *op, const char *context, const char *language, json_t **ret,
                       struct diag *reterr);
/* Resolve a file request for a session: the sandbox id, or -ENOENT. */
int session_sandbox(const char *id, uint64_t *ret_sandbox);
void session_on_exited(const struct lp_exited *ex);
/* An allowlist sandbox's proxy judged a connection: one JSON log line, and the metrics. */
void session_on_egress(const struct lp_egress *e);
/* A sandbox a previous daemon created, handed back by the supervisor with its fds. */
void session_attach(const struct lp_attached *a, const int fds[3]);
bool session_exists(const char *id);
void sessions_reap(void); /* TTL and idle timeouts */
void sessions_stop_all(void);

/* ---- keys, tenants, scopes (auth.c) ---- */

struct identity {
        char key_id[48];
        char tenant[72];
        bool admin, sessions; /* scopes */
};

/* Register the bootstrap key (DATA_DIR/api-key, made on first start) and AIRLOCK_API_KEY;
 * quotas of tenants without their own. After store_open. */
int auth_init(const char *data_dir, int64_t default_sessions, int64_t default_memory_mb, struct diag *reterr);
/* A bearer token's identity, or -EACCES (unknown, malformed or revoked). */
int auth_check(const char *token, struct identity *who);
/* {tenant?, name?, scopes?} (validated by requests.c) -> the key, with its secret and
 * token shown this once. */
int auth_create_key(json_t *req, json_t **ret, struct diag *reterr);
int auth_revoke_key(const char *id, json_t **ret, struct diag *reterr);
void auth_quota(const char *tenant, int64_t *max_sessions, int64_t *max_memory_mb);
/* SigV4 (AgentCore API): the request as received -> the identity of its key, or -EACCES
 * with *why (for AccessDeniedException's message). A key id is the access key id and the
 * key's secret ("sk_...") the secret access key. */
struct sigv4_request;
int auth_sigv4(const char *authorization, const struct sigv4_request *req, struct identity *who, const char **why);
json_t *auth_tenants(void);

/* ---- audit (audit.c) ---- */

/* The file that keeps the count of audit entries lost (a full or failing data disk) for
 * the next daemon, until they are marked in the chain; reads what the last one left.
 * Without it (a negative errno) the count is kept in memory only. */
int audit_open(const char *data_dir);
/* Append an entry: who (NULL for the daemon itself, then `tenant`), the session, the
 * action ("session.create", "execution", "file.write", ...) and its fields (taken). */
void audit_record(const struct identity *who, const char *tenant, const char *session, const char *action,
                  json_t *fields);

/* ---- metrics (metrics.c): GET /metrics, Prometheus text format ---- */

struct buf;
void metrics_execution(const char *language, const char *status, const char *killed_reason, double seconds,
                       double cpu_seconds);
void metrics_session_created(bool pooled, double seconds);
void metrics_session_refused(void);
void metrics_egress(uint8_t outcome, uint8_t reason, uint32_t dropped);
void metrics_audit_write_failed(void);
void metrics_session_ended(const char *reason);
/* n client connections closed by the daemon (http.c): "header_deadline", "pressure" or "slow_body". */
void metrics_http_closed(const char *reason, unsigned n);
/* per_session: NULL (aggregates only), "*" (every live session's usage) or a tenant. */
void metrics_render(struct buf *out, const char *per_session);
/* Live sessions (all tenants). */
int64_t sessions_active(void);
/* Live sessions of one tenant started from the interpreter `name`. */
int64_t sessions_using_interpreter(const char *tenant, const char *name);
/* Each live session's CPU and memory now: [{session, tenant, cpu_seconds, memory_bytes}]. */
json_t *sessions_usage(void);

/* ---- tracing (trace.c): OpenTelemetry spans over OTLP/HTTP JSON ---- */

struct trace_ctx {
        char trace_id[33], span_id[17]; /* lower-case hex; "" = none */
};
struct span;
enum { SPAN_INTERNAL = 1, SPAN_SERVER = 2 };

/* endpoint "" or NULL: spans get ids (for logs) but are neither kept nor sent. */
int trace_init(const char *endpoint, struct diag *reterr);
int trace_start(struct diag *reterr); /* the exporter thread */
void trace_stop(void);                /* sends what is queued, then returns */
bool trace_enabled(void);
void trace_stats(uint64_t *exported, uint64_t *dropped, uint64_t *failed);
/* A span outside the thread's stack (an HTTP request's, which outlives one callback). */
struct span *trace_open(const char *name, int kind, const struct trace_ctx *parent);
void trace_close(struct span *s); /* ends it; NULL is fine */
void trace_span_ids(const struct span *s, struct trace_ctx *ret);
void trace_span_attr(struct span *s, const char *key, const char *value);
void trace_span_attr_int(struct span *s, const char *key, long long value);
void trace_span_error(struct span *s);
/* The thread's stack of open spans: children are opened under its top. */
void trace_push(struct span *s);
void trace_pop(void);
void trace_begin(const char *name, int kind); /* open a child of the current span, push it */
void trace_end(void);                          /* pop and close it */
void trace_attr(const char *key, const char *value);
void trace_attr_int(const char *key, long long value);
void trace_error(void);
/* The current span's ids (or the inherited context's); false when there is none. */
bool trace_current(struct trace_ctx *ret);
/* Give this thread a parent for its first span (another thread's request), or NULL. */
void trace_inherit(const struct trace_ctx *ctx);

/* ---- http (http.c) ---- */

/* tls_cert and tls_key: PEM texts for HTTPS, or both NULL for plain HTTP. */
int http_start(const char *listen_addr, const char *tls_cert, const char *tls_key, struct diag *reterr);
void http_stop(void);
/* AgentCore API: accept unsigned requests from 127.0.0.0/8 (agentcore_allow_unsigned_loopback). */
void http_allow_unsigned_agentcore(bool on);
/* MCP: origins (comma-separated, "*" for any) allowed besides loopback ones (mcp_allowed_origins). */
void http_allow_mcp_origins(const char *origins);

/* helpers (util.c) */
void random_id(const char *prefix, char *out, size_t cap); /* prefix + 26 [a-z0-9] */
void rfc3339(time_t t, char *out, size_t cap);
void sha256_hex(const void *data, size_t len, char out[65]);
/* The SHA-256 of parts[0..n) one after the other. */
void sha256_hex_parts(const void *const *parts, const size_t *lens, size_t n, char out[65]);
double now_seconds(void);
/* A pthread_cond_timedwait() deadline `seconds` (0 to a few) from now on `clock`, the
 * condition variable's clock. */
struct timespec deadline_after(clockid_t clock, double seconds);
int strfmt_path(char *out, size_t cap, const char *dir, const char *name);
/* Valid UTF-8 from arbitrary bytes: invalid sequences become U+FFFD. With keep_tail, an
 * incomplete sequence at the end is not converted; *consumed says how much was used. */
json_t *utf8_string(const char *data, size_t len, bool keep_tail, size_t *consumed);
/* d is valid UTF-8 without NUL bytes. */
bool utf8_text(const unsigned char *d, size_t n);
/* A path as tools name it (AgentCore, MCP) as a workspace path: relative to /workspace (an
 * absolute one must be inside it; "." and "" are the workspace itself, only with
 * allow_root), then checked by lp_valid_path. */
bool workspace_path(const char *in, char *out, size_t cap, bool allow_root);
/* Strict standard base64 (NULL when it is not, or out of memory); free() the result. */
unsigned char *b64_decode(const char *s, size_t n, size_t *ret_len);
char *b64_encode(const unsigned char *d, size_t n);
/* A MIME type from a file name's extension; application/octet-stream when unknown. */
const char *mime_of(const char *path);
