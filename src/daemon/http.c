/* http: the REST API on libmicrohttpd (one thread per connection). Every request is
 * authenticated before its body is read; JSON bodies are capped and validated field by
 * field (unknown fields are errors, each error names its field); file bodies stream
 * straight between the connection and an fd the launcher opened inside the workspace. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"
#include "daemon/agentcore.h"
#include "daemon/mcp.h"
#include "daemon/requests.h"
#include "daemon/sigv4.h"

#define CODE_BODY_MAX (LP_CODE_MAX_BYTES + (1u << 20))

static struct MHD_Daemon *mhd;

enum route {
        R_NONE,
        R_HEALTH,
        R_READY,
        R_METRICS,
        R_STATS, /* any key: its own tenant's figures */
        R_AGENTCORE,    /* /code-interpreters...: SigV4, AWS error shapes (agentcore.c) */
        R_MCP,          /* /mcp: the MCP server (mcp.c); a key with the sessions scope */
        R_INTERPRETERS, /* any key reads; writes take the admin scope (checked in interpreters()) */
        R_INTERPRETER,
        R_RUNTIMES, /* any key reads (docs/runtimes.md); built on the host, not through the API */
        R_RUNTIME,
        R_KEYS, /* admin routes: R_KEYS to R_TENANT */
        R_KEY,
        R_SECRETS,
        R_SECRET,
        R_AUDIT,
        R_AUDIT_VERIFY,
        R_TENANTS,
        R_TENANT,
        R_SESSIONS, /* session routes: R_SESSIONS and from R_SESSION on */
        R_SESSION,
        R_EXECUTE,
        R_FILES,
        R_FILE,
        R_COMMANDS,
        R_TASK,
        R_CONTEXTS,
        R_CONTEXT,
        R_CONTEXT_RESTART,
};

/* The route's template, for span names and logs (no ids in it). */
static const char *route_name(enum route r) {
        static const char *const names[] = {
                [R_NONE] = "(unknown route)", [R_HEALTH] = "/healthz", [R_READY] = "/readyz",
                [R_METRICS] = "/metrics", [R_STATS] = "/v1/stats", [R_INTERPRETERS] = "/v1/interpreters",
                [R_AGENTCORE] = "/code-interpreters (AgentCore)", [R_MCP] = "/mcp",
                [R_INTERPRETER] = "/v1/interpreters/{name}", [R_KEYS] = "/v1/keys",
                [R_RUNTIMES] = "/v1/runtimes", [R_RUNTIME] = "/v1/runtimes/{name}",
                [R_KEY] = "/v1/keys/{key_id}", [R_SECRETS] = "/v1/secrets", [R_SECRET] = "/v1/secrets/{name}",
                [R_AUDIT] = "/v1/audit", [R_AUDIT_VERIFY] = "/v1/audit/verify", [R_TENANTS] = "/v1/tenants",
                [R_TENANT] = "/v1/tenants/{name}", [R_SESSIONS] = "/v1/sessions", [R_SESSION] = "/v1/sessions/{id}",
                [R_EXECUTE] = "/v1/sessions/{id}/execute", [R_FILES] = "/v1/sessions/{id}/files",
                [R_FILE] = "/v1/sessions/{id}/files/{path}", [R_COMMANDS] = "/v1/sessions/{id}/commands",
                [R_TASK] = "/v1/sessions/{id}/tasks/{task_id}", [R_CONTEXTS] = "/v1/sessions/{id}/contexts",
                [R_CONTEXT] = "/v1/sessions/{id}/contexts/{context_id}",
                [R_CONTEXT_RESTART] = "/v1/sessions/{id}/contexts/{context_id}/restart",
        };
        return (size_t)r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "(unknown route)";
}

struct ctx {
        enum route route;
        struct identity who;
        char session[48];
        char path[LP_PATH_MAX];
        struct buf body;
        bool rejected; /* an error reply is queued already: discard the rest of the body */
        bool past_guard; /* may go on: the connection guard leaves it alone (guard_head_complete) */
        bool bad_session, long_path; /* route_of saw an unusable id or path */
        bool upload_started; /* the file is open or written: an unfinished upload removes it */
        int status;
        json_t *reply;
        char *raw_uri; /* as the client sent it (SigV4 signs the encoded path and query) */
        unsigned long long unverified; /* of unverified_bytes, this request's share */
        bool begun;
        bool draining; /* rejected: the guard was told the rest of the body is only dropped */
        /* observability: the request's id (X-Request-Id), its span, what was answered */
        char request_id[72];
        char method[16];
        char path_logged[256];
        struct span *span;
        double started;
        unsigned sent_status;
        /* uploads */
        struct ws_write up; /* journaled (workspace.c) */
        uint64_t written;
        int write_err;
};

/* ---- replies ---- */

/* The request this connection thread is answering (libmicrohttpd: a thread per
 * connection), so that every reply gets its id without passing ctx everywhere. */
static _Thread_local struct ctx *current;

/* Every response goes out here: it carries X-Request-Id, and its status is kept for the
 * access log and the span. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r) {
        if (current) {
                MHD_add_response_header(r, "X-Request-Id", current->request_id);
                current->sent_status = status;
        }
        return MHD_queue_response(c, status, r);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text)
                return MHD_NO;
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = queue(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* application/json, in any case, optionally with parameters (";charset=utf-8"). */
static bool is_json_media_type(const char *ct) {
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
                return false;
        char next = ct[16];
        return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static void fail(struct ctx *x, int status, json_t *err) {
        if (x->reply)
                json_decref(x->reply);
        x->status = status;
        x->reply = err;
        x->rejected = true;
}

/* ---- auth ---- */

/* The caller's identity from `Authorization: Bearer <token>` (auth.c); false when absent,
 * malformed, unknown or revoked. */
static bool authorized(struct MHD_Connection *c, struct identity *who) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return false;
        return auth_check(h + 7, who) == 0;
}

/* A session route may name only the caller's tenant's sessions: another tenant's is "not
 * found", exactly like one that never existed. */
static bool owned(struct ctx *x) {
        char tenant[72];
        if (session_tenant(x->session, tenant, sizeof(tenant)) < 0)
                return true; /* unknown: the handler answers 404 */
        return !strcmp(tenant, x->who.tenant);
}

/* ---- routing ---- */

/* prefix + `tail` characters of [a-z0-9]: the shape of our session and task ids */
static bool valid_id(const char *s, const char *prefix, size_t tail) {
        size_t n = strlen(prefix);
        if (strncmp(s, prefix, n) != 0 || strlen(s) != n + tail)
                return false;
        for (const char *p = s + n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static bool valid_session_id(const char *s) { return valid_id(s, "sess_", 26); }

/* url is prefix + an item short enough for x->path: the item goes to x->path. */
static bool item_route(const char *url, const char *prefix, struct ctx *x) {
        size_t n = strlen(prefix);
        if (strncmp(url, prefix, n) != 0 || strlen(url + n) >= sizeof(x->path))
                return false;
        snprintf(x->path, sizeof(x->path), "%s", url + n);
        return true;
}

static enum route route_of(const char *url, struct ctx *x) {
        static const struct {
                const char *url;
                enum route route;
        } exact[] = {
                {"/healthz", R_HEALTH},   {"/metrics", R_METRICS}, {"/readyz", R_READY},
                {"/v1/sessions", R_SESSIONS}, {"/v1/keys", R_KEYS}, {"/v1/tenants", R_TENANTS},
                {"/v1/audit", R_AUDIT},  {"/v1/audit/verify", R_AUDIT_VERIFY}, {"/v1/stats", R_STATS},
                {"/v1/secrets", R_SECRETS}, {"/v1/interpreters", R_INTERPRETERS}, {"/mcp", R_MCP},
                {"/v1/runtimes", R_RUNTIMES},
        };
        for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
                if (!strcmp(url, exact[i].url))
                        return exact[i].route;
        if (item_route(url, "/v1/keys/", x))
                return R_KEY;
        if (item_route(url, "/v1/tenants/", x))
                return R_TENANT;
        if (item_route(url, "/v1/secrets/", x))
                return R_SECRET;
        if (item_route(url, "/v1/interpreters/", x))
                return R_INTERPRETER;
        if (item_route(url, "/v1/runtimes/", x))
                return R_RUNTIME;
        if (agentcore_path(url))
                return R_AGENTCORE;
        const char *prefix = "/v1/sessions/";
        if (strncmp(url, prefix, strlen(prefix)) != 0)
                return R_NONE;
        const char *rest = url + strlen(prefix);
        size_t n = strcspn(rest, "/");
        if (n == 0)
                return R_NONE;
        if (n >= sizeof(x->session)) {
                x->bad_session = true; /* answered as an unknown session, not an unknown route */
                n = sizeof(x->session) - 1;
        }
        memcpy(x->session, rest, n);
        x->session[n] = '\0';
        rest += strcspn(rest, "/");
        if (!*rest)
                return R_SESSION;
        if (!strcmp(rest, "/execute"))
                return R_EXECUTE;
        if (!strcmp(rest, "/files"))
                return R_FILES;
        if (!strcmp(rest, "/commands"))
                return R_COMMANDS;
        if (!strncmp(rest, "/tasks/", 7) && rest[7]) {
                /* Task ids are short: a longer one is simply not found (404 task_not_found). */
                snprintf(x->path, sizeof(x->path), "%s", strlen(rest + 7) < 64 ? rest + 7 : "");
                return R_TASK;
        }
        if (!strcmp(rest, "/contexts"))
                return R_CONTEXTS;
        if (item_route(rest, "/contexts/", x)) {
                char *slash = strchr(x->path, '/');
                if (!slash)
                        return R_CONTEXT;
                if (strcmp(slash, "/restart") != 0)
                        return R_NONE;
                *slash = '\0';
                return R_CONTEXT_RESTART;
        }
        if (!strncmp(rest, "/files/", 7)) {
                x->long_path = strlen(rest + 7) >= sizeof(x->path);
                snprintf(x->path, sizeof(x->path), "%s", x->long_path ? "" : rest + 7);
                return R_FILE;
        }
        return R_NONE;
}

static const char *allowed_methods(enum route r) {
        switch (r) {
        case R_HEALTH:
        case R_READY:
        case R_METRICS:
        case R_FILES:
        case R_RUNTIMES:
        case R_RUNTIME:
                return "GET";
        case R_SESSIONS:
        case R_KEYS:
                return "GET, POST";
        case R_KEY:
                return "GET, DELETE";
        case R_SECRETS:
                return "GET";
        case R_SECRET:
                return "GET, PUT, DELETE";
        case R_INTERPRETERS:
                return "GET, POST";
        case R_INTERPRETER:
                return "GET, PATCH, DELETE";
        case R_TENANTS:
        case R_AUDIT:
        case R_AUDIT_VERIFY:
        case R_STATS:
                return "GET";
        case R_TENANT:
                return "GET, PUT";
        case R_SESSION:
                return "GET, DELETE";
        case R_EXECUTE:
                return "POST";
        case R_FILE:
                return "GET, PUT, DELETE";
        case R_COMMANDS:
                return "POST";
        case R_TASK:
                return "GET, DELETE";
        case R_CONTEXTS:
                return "GET, POST";
        case R_CONTEXT:
                return "GET, DELETE";
        case R_CONTEXT_RESTART:
                return "POST";
        case R_MCP: /* GET would be a server-initiated stream: this server sends none */
                return "POST, DELETE";
        default:
                return "";
        }
}

static bool method_allowed(enum route r, const char *m) {
        const char *list = allowed_methods(r);
        size_t n = strlen(m);
        for (const char *p = list; (p = strstr(p, m)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
                        return true;
        return false;
}

/* ---- handlers ---- */

static void map_diag(struct ctx *x, const struct diag *d, const char *default_code) {
        if (d->code == -ENOENT)
                fail(x, MHD_HTTP_NOT_FOUND, api_error("session_not_found", NULL, "no session %s", x->session));
        else if (d->code == -ESRCH)
                fail(x, MHD_HTTP_CONFLICT, api_error("session_ended", NULL, "%s", d->msg));
        else if (d->code == -EAGAIN)
                fail(x, MHD_HTTP_TOO_MANY_REQUESTS, api_error("too_many_tasks", NULL, "%s", d->msg));
        else if (d->code == -EMSGSIZE)
                fail(x, MHD_HTTP_CONTENT_TOO_LARGE, api_error("payload_too_large", d->field, "%s", d->msg));
        else if (d->code == -EINVAL || d->code == -ERANGE || d->code == -E2BIG)
                fail(x, MHD_HTTP_BAD_REQUEST, api_error("invalid_request", d->field, "%s", d->msg));
        else if (d->code == -ECONNRESET || d->code == -EIO || d->code == -ETIMEDOUT)
                fail(x, MHD_HTTP_SERVICE_UNAVAILABLE, api_error("unavailable", NULL, "%s", d->msg));
        else
                fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error(default_code, NULL, "%s", d->msg));
}

/* ---- audit ---- */

/* The audit entry of a finished request: its HTTP status, plus what the action adds. */
static void audit(const struct ctx *x, const char *action, const char *session, json_t *fields) {
        if (!fields)
                fields = json_object();
        if (!json_object_get(fields, "status"))
                json_object_set_new(fields, "status", json_integer(x->status ? x->status : MHD_HTTP_OK));
        json_object_set_new(fields, "request_id", json_string(x->request_id));
        audit_record(&x->who, NULL, session, action, fields);
}

/* A copy of the request whose env also holds the named secrets' values (opened here, for
 * the launcher's CREATE only: the session's JSON lists names, never values). NULL with
 * the reply set when a secret is missing or does not open. */
static json_t *with_secrets(struct ctx *x, json_t *req) {
        json_t *names = json_object_get(req, "secrets");
        if (!json_array_size(names))
                return json_incref(req);
        json_t *out = json_copy(req), *env = json_deep_copy(json_object_get(req, "env"));
        if (!env)
                env = json_object();
        size_t i, bytes = 0;
        json_t *n;
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v) {
                bytes += strlen(k) + json_string_length(v) + 2;
        }
        json_array_foreach(names, i, n) {
                const char *name = json_string_value(n);
                unsigned char *sealed = NULL;
                size_t len = 0;
                char *value = NULL, field[32];
                size_t value_len = 0;
                snprintf(field, sizeof(field), "secrets[%zu]", i);
                int r = store_secret_sealed(x->who.tenant, name, &sealed, &len);
                if (r == 0)
                        r = secrets_open(x->who.tenant, name, sealed, len, &value, &value_len);
                free(sealed);
                if (r == -ENOENT) {
                        fail(x, MHD_HTTP_BAD_REQUEST,
                             api_error("invalid_request", field, "no secret %s in tenant %s", name, x->who.tenant));
                } else if (r < 0) {
                        fprintf(stderr,
                                "{\"level\":\"error\",\"msg\":\"a secret does not open: the secrets key is not the "
                                "one it was sealed with, or the row was altered\",\"tenant\":\"%s\",\"secret\":\"%s\"}\n",
                                x->who.tenant, name);
                        fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             api_error("internal", field, "secret %s cannot be opened with this daemon's secrets key",
                                       name));
                } else if (value) {
                        bytes += strlen(name) + strlen(value) + 2;
                        json_object_set_new(env, name, json_stringn(value, value_len));
                        secrets_free(value, value_len);
                        if (bytes > LP_ENV_MAX_BYTES)
                                fail(x, MHD_HTTP_BAD_REQUEST,
                                     api_error("invalid_request", "secrets",
                                               "env and secrets together exceed %d bytes", LP_ENV_MAX_BYTES));
                }
                if (x->rejected) {
                        json_decref(env);
                        json_decref(out);
                        return NULL;
                }
        }
        json_object_set_new(out, "env", env);
        return out;
}

static void create_session(struct ctx *x) {
        json_t *req = NULL, *err = NULL;
        if (request_session_create(x->body.data, x->body.len, &req, &err) < 0) {
                fail(x, MHD_HTTP_BAD_REQUEST, err);
                return;
        }
        json_t *session = NULL;
        struct diag d = {0};
        json_t *full = with_secrets(x, req);
        if (!full) {
                audit(x, "session.create", NULL, json_pack("{s:O}", "secrets", json_object_get(req, "secrets")));
                json_decref(req);
                return;
        }
        int created = session_create(full, x->who.tenant, &session, &d);
        json_decref(full);
        if (created < 0) {
                if (d.code == -EDQUOT)
                        fail(x, MHD_HTTP_TOO_MANY_REQUESTS, api_error("quota_exceeded", d.field, "%s", d.msg));
                else
                        map_diag(x, &d, "internal");
        }
        else {
                x->status = MHD_HTTP_CREATED;
                x->reply = session;
        }
        audit(x, "session.create", json_string_value(json_object_get(session, "id")),
              json_pack("{s:O?, s:O?}", "memory_mb", json_object_get(json_object_get(session, "limits"), "memory_mb"),
                        "secrets", json_object_get(req, "secrets")));
        json_decref(req);
}

/* ---- streaming (Server-Sent Events) ---- */

struct sse_job {
        struct identity who; /* for the audit entry */
        char request_id[72];
        struct trace_ctx trace; /* the request's span: the worker's spans are its children */
        char session[48];
        char context[72]; /* "" when the request named none */
        char language[16];
        bool clear;
        char *code;
        size_t code_len;
        double timeout;
        int fd; /* the write end of the pipe MHD streams from */
};

static int sse_write(int fd, const char *type, json_t *data) {
        char *text = json_dumps(data, JSON_COMPACT);
        json_decref(data);
        if (!text)
                return -ENOMEM;
        struct buf b;
        buf_init(&b, (4u << 20) + strlen(text));
        int r = buf_printf(&b, "event: %s\ndata: %s\n\n", type, text);
        free(text);
        if (r == 0)
                r = write_all(fd, b.data, b.len);
        buf_free(&b);
        return r;
}

static int sse_event(void *ctx, const char *type, json_t *data) {
        return sse_write(((struct sse_job *)ctx)->fd, type, data);
}

/* An SSE comment: clients ignore it; proxies and idle timers see a live stream. A client
 * that has gone shows up at the next event (the execution runs on regardless). */
static void sse_keepalive(void *ctx) {
        static const char line[] = ": keep-alive\n\n";
        (void)write_all(((struct sse_job *)ctx)->fd, line, sizeof(line) - 1);
}

/* Runs the execution and writes its events; the final event is always exactly one `end`
 * carrying the same object a non-streaming execute returns (or an error object). */
static void *sse_worker(void *arg) {
        struct sse_job *j = arg;
        struct exec_sink sink = {.event = sse_event, .keepalive = sse_keepalive, .ctx = j};
        struct exec_req er = {.code = j->code,
                              .code_len = j->code_len,
                              .context = j->context[0] ? j->context : NULL,
                              .language = j->language[0] ? j->language : NULL,
                              .clear = j->clear,
                              .timeout_s = j->timeout,
                              .who = &j->who,
                              .request_id = j->request_id};
        trace_inherit(&j->trace);
        json_t *out = NULL;
        struct diag d = {0};
        if (session_execute(j->session, &er, &sink, &out, &d) < 0)
                out = api_error(d.code == -ENOENT ? "session_not_found" : d.code == -ESRCH ? "session_ended" : "internal",
                                 NULL, "%s", d.msg);
        (void)sse_write(j->fd, "end", out);
        close(j->fd);
        free(j->code);
        free(j);
        return NULL;
}

static bool wants_stream(struct MHD_Connection *c) {
        const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        return accept && strstr(accept, "text/event-stream");
}

static enum MHD_Result start_stream(struct MHD_Connection *c, struct ctx *x, const struct exec_req *er) {
        if (!session_exists(x->session)) {
                json_t *old = store_get_session(x->session);
                bool ended = old != NULL;
                json_decref(old);
                if (ended)
                        return send_json(c, MHD_HTTP_CONFLICT,
                                         api_error("session_ended", NULL, "session %s has ended", x->session));
                return send_json(c, MHD_HTTP_NOT_FOUND, api_error("session_not_found", NULL, "no session %s", x->session));
        }
        struct sse_job *j = calloc(1, sizeof(*j));
        int p[2] = {-1, -1};
        if (!j || !(j->code = malloc(er->code_len + 1)) || pipe2(p, O_CLOEXEC) < 0) {
                if (j)
                        free(j->code);
                free(j);
                return send_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "out of resources"));
        }
        memcpy(j->code, er->code, er->code_len);
        j->code[er->code_len] = '\0';
        j->code_len = er->code_len;
        j->who = x->who;
        snprintf(j->request_id, sizeof(j->request_id), "%s", x->request_id);
        trace_span_ids(x->span, &j->trace);
        snprintf(j->session, sizeof(j->session), "%s", x->session);
        snprintf(j->context, sizeof(j->context), "%s", er->context ? er->context : "");
        snprintf(j->language, sizeof(j->language), "%s", er->language ? er->language : "");
        j->clear = er->clear;
        j->timeout = er->timeout_s;
        j->fd = p[1];
        struct MHD_Response *r = MHD_create_response_from_pipe(p[0]);
        pthread_t t;
        if (!r || pthread_create(&t, NULL, sse_worker, j) != 0) {
                if (r)
                        MHD_destroy_response(r);
                else
                        close(p[0]);
                close(p[1]);
                free(j->code);
                free(j);
                return send_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "cannot stream"));
        }
        pthread_detach(t);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        enum MHD_Result ret = queue(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

/* Returns MHD_YES/NO when it queued a streaming response itself, -1 when x holds the reply. */
static int execute(struct ctx *x, struct MHD_Connection *c) {
        json_t *req = NULL, *err = NULL;
        struct exec_req er;
        if (request_execute(x->body.data, x->body.len, &req, &er, &err) < 0) {
                fail(x, MHD_HTTP_BAD_REQUEST, err);
                return -1;
        }
        if (er.code_len > LP_CODE_MAX_BYTES) {
                json_decref(req);
                fail(x, MHD_HTTP_CONTENT_TOO_LARGE, api_error("payload_too_large", "code", "code over %u bytes",
                                                               LP_CODE_MAX_BYTES));
                return -1;
        }
        if (wants_stream(c)) {
                enum MHD_Result ret = start_stream(c, x, &er);
                json_decref(req);
                return (int)ret;
        }
        json_t *out = NULL;
        struct diag d = {0};
        er.who = &x->who;
        er.request_id = x->request_id;
        if (session_execute(x->session, &er, NULL, &out, &d) < 0)
                map_diag(x, &d, "internal");
        else {
                x->status = MHD_HTTP_OK;
                x->reply = out;
        }
        json_decref(req);
        return -1;
}

/* ---- commands and tasks ---- */

static bool valid_task_id(const char *t) { return valid_id(t, "task_", 12); }

static void run_command(struct ctx *x) {
        json_t *req = NULL, *err = NULL;
        if (request_command(x->body.data, x->body.len, &req, &err) < 0) {
                fail(x, MHD_HTTP_BAD_REQUEST, err);
                return;
        }
        json_t *out = NULL;
        bool background = false;
        struct diag d = {0};
        if (session_command(x->session, req, &out, &background, &d) < 0)
                map_diag(x, &d, "internal");
        else {
                x->status = background ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK;
                x->reply = out;
        }
        char sha[65];
        json_t *cmd = json_object_get(req, "command");
        sha256_hex(json_string_value(cmd), json_string_length(cmd), sha);
        audit(x, "command", x->session,
              json_pack("{s:s, s:I, s:b, s:O?, s:O?, s:O?}", "command_sha256", sha, "command_size",
                        (json_int_t)json_string_length(cmd), "background", (int)background, "exit_code",
                        json_object_get(out, "exit_code"), "task_id", json_object_get(out, "task_id"), "duration_ms",
                        json_object_get(out, "duration_ms")));
        json_decref(req);
}

static void task(struct ctx *x, bool stop) {
        json_t *out = NULL;
        struct diag d = {0};
        if (!valid_task_id(x->path)) {
                fail(x, MHD_HTTP_NOT_FOUND, api_error("task_not_found", NULL, "no task %.40s", x->path));
                return;
        }
        if (session_task(x->session, x->path, stop, &out, &d) < 0) {
                if (d.code == -ENOENT && !strcmp(d.field, "task_id"))
                        fail(x, MHD_HTTP_NOT_FOUND, api_error("task_not_found", NULL, "no task %s", x->path));
                else
                        map_diag(x, &d, "internal");
        } else {
                x->status = MHD_HTTP_OK;
                x->reply = out;
        }
        if (stop)
                audit(x, "task.stop", x->session, json_pack("{s:s}", "task_id", x->path));
}

/* ---- keys and tenants (admin) ---- */

/* ---- interpreters (any key reads; the admin scope writes its tenant's) ---- */

static void interpreters(struct ctx *x, const char *method) {
        bool write = strcmp(method, "GET") != 0;
        if (write && !x->who.admin) {
                fail(x, MHD_HTTP_FORBIDDEN,
                     api_error("forbidden", NULL, "this key (%s) lacks the admin scope", x->who.key_id));
                return;
        }
        if (x->route == R_INTERPRETER && !request_valid_interpreter_name(x->path)) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", "name", "an interpreter's name: a letter, then up to 47 of "
                                                          "[A-Za-z0-9_-]"));
                return;
        }
        const char *tenant = x->who.tenant;
        json_t *req = NULL, *err = NULL, *out = NULL;
        struct diag d = {0};
        int r = 0;
        if (x->route == R_INTERPRETERS && !write) {
                x->status = MHD_HTTP_OK;
                x->reply = json_pack("{s:o}", "interpreters", interpreters_list(tenant));
                return;
        }
        if (x->route == R_INTERPRETER && !write) {
                if (!(out = interpreter_get(tenant, x->path))) {
                        fail(x, MHD_HTTP_NOT_FOUND,
                             api_error("interpreter_not_found", NULL, "no interpreter %s", x->path));
                        return;
                }
                x->status = MHD_HTTP_OK;
                x->reply = out;
                return;
        }
        if (!strcmp(method, "DELETE")) {
                r = interpreter_delete(tenant, x->path, &d);
        } else {
                bool create = x->route == R_INTERPRETERS;
                if (request_interpreter(x->body.data, x->body.len, create, &req, &err) < 0) {
                        fail(x, MHD_HTTP_BAD_REQUEST, err);
                        return;
                }
                r = create ? interpreter_create(tenant, req, &out, &d)
                           : interpreter_update(tenant, x->who.admin && !strcmp(tenant, "default"), x->path, req,
                                                &out, &d);
        }
        const char *name = x->route == R_INTERPRETER ? x->path : json_string_value(json_object_get(req, "name"));
        const char *action = !strcmp(method, "DELETE") ? "interpreter.delete"
                             : x->route == R_INTERPRETERS ? "interpreter.create"
                                                          : "interpreter.update";
        if (r == -ENOENT)
                fail(x, MHD_HTTP_NOT_FOUND, api_error("interpreter_not_found", NULL, "%s", d.msg));
        else if (r == -EEXIST || r == -EBUSY)
                fail(x, MHD_HTTP_CONFLICT,
                     api_error(r == -EEXIST ? "interpreter_exists" : "interpreter_in_use", d.field[0] ? d.field : NULL,
                               "%s", d.msg));
        else if (r == -EPERM)
                fail(x, MHD_HTTP_FORBIDDEN, api_error("forbidden", NULL, "%s", d.msg));
        else if (r < 0)
                fail(x, MHD_HTTP_BAD_REQUEST, api_error("invalid_request", d.field[0] ? d.field : NULL, "%s", d.msg));
        else if (!strcmp(method, "DELETE"))
                x->status = MHD_HTTP_NO_CONTENT;
        else {
                x->status = x->route == R_INTERPRETERS ? MHD_HTTP_CREATED : MHD_HTTP_OK;
                x->reply = out;
        }
        /* What changed, by field name (values may be long; the new document is in the API). */
        json_t *fields = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(req, k, v) {
                json_array_append_new(fields, json_string(k));
        }
        audit(x, action, NULL, json_pack("{s:s?, s:o}", "interpreter", name, "fields", fields));
        json_decref(req);
}

/* ---- runtimes (any key reads; `airlock runtimes build` makes them on the host) ---- */

static void runtimes(struct ctx *x) {
        if (x->route == R_RUNTIMES) {
                x->status = MHD_HTTP_OK;
                x->reply = json_pack("{s:o}", "runtimes", runtimes_list());
                return;
        }
        if (strcmp(x->path, "default") != 0 && !lp_valid_runtime_name(x->path, strlen(x->path))) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", "name", "a runtime's name: a lowercase letter, then up to %d of "
                                                          "[a-z0-9-]", LP_RUNTIME_NAME_MAX - 1));
                return;
        }
        json_t *rt = runtime_get(x->path);
        if (!rt) {
                fail(x, MHD_HTTP_NOT_FOUND,
                     api_error("runtime_not_found", NULL, "no runtime %s on this host", x->path));
                return;
        }
        x->status = MHD_HTTP_OK;
        x->reply = rt;
}

/* ---- secrets (admin, the key's own tenant; values go in, never out) ---- */

static void secrets(struct ctx *x, const char *method) {
        const char *tenant = x->who.tenant;
        if (x->route == R_SECRETS) {
                x->status = MHD_HTTP_OK;
                x->reply = json_pack("{s:o}", "secrets", store_secrets(tenant));
                return;
        }
        if (!request_valid_secret_name(x->path)) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", "name",
                               "a secret's name: 1 to %d of [A-Za-z0-9_], not starting with a digit", SECRET_NAME_MAX));
                return;
        }
        if (!strcmp(method, "PUT")) {
                json_t *req = NULL, *err = NULL;
                if (request_secret_put(x->body.data, x->body.len, &req, &err) < 0) {
                        fail(x, MHD_HTTP_BAD_REQUEST, err);
                        return;
                }
                json_t *v = json_object_get(req, "value");
                unsigned char *sealed = NULL;
                size_t sealed_len = 0;
                bool created = false;
                int r = secrets_seal(tenant, x->path, json_string_value(v), json_string_length(v), &sealed, &sealed_len);
                json_decref(req);
                if (r == 0)
                        r = store_secret_put(tenant, x->path, sealed, sealed_len, &created);
                free(sealed);
                if (r < 0) {
                        fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             api_error("internal", NULL, "cannot store the secret: %s", strerror(-r)));
                        return;
                }
                x->status = created ? MHD_HTTP_CREATED : MHD_HTTP_OK;
                x->reply = store_secret_meta(tenant, x->path);
                audit(x, "secret.put", NULL, json_pack("{s:s, s:b}", "secret", x->path, "created", created));
                return;
        }
        if (!strcmp(method, "DELETE")) {
                int r = store_secret_delete(tenant, x->path);
                if (r == -ENOENT)
                        fail(x, MHD_HTTP_NOT_FOUND, api_error("secret_not_found", NULL, "no secret %s", x->path));
                else if (r < 0)
                        fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "cannot delete the secret"));
                else
                        x->status = MHD_HTTP_NO_CONTENT;
                audit(x, "secret.delete", NULL, json_pack("{s:s}", "secret", x->path));
                return;
        }
        json_t *meta = store_secret_meta(tenant, x->path);
        if (!meta) {
                fail(x, MHD_HTTP_NOT_FOUND, api_error("secret_not_found", NULL, "no secret %s", x->path));
                return;
        }
        x->status = MHD_HTTP_OK;
        x->reply = meta;
}

/* The operator: an admin key of tenant default. Other admin keys manage their own tenant
 * only (ADR 0006): its keys, never another tenant's, and never quotas (a tenant that could
 * raise its own quota would have none). */
static bool is_operator(const struct ctx *x) { return x->who.admin && !strcmp(x->who.tenant, "default"); }

/* A key this caller may see: any for the operator, its own tenant's for other admins. */
static json_t *visible_key(const struct ctx *x, const char *id) {
        json_t *k = store_key_get(id);
        if (k && !is_operator(x) && strcmp(json_string_value(json_object_get(k, "tenant")) ?: "", x->who.tenant) != 0) {
                json_decref(k);
                return NULL;
        }
        return k;
}

static void keys(struct ctx *x, const char *method) {
        json_t *out = NULL, *req = NULL, *err = NULL;
        struct diag d = {0};
        if (x->route == R_KEYS && !strcmp(method, "GET")) {
                json_t *all = store_keys(), *k;
                size_t i;
                if (!is_operator(x)) {
                        json_t *own = json_array();
                        json_array_foreach(all, i, k) {
                                if (!strcmp(json_string_value(json_object_get(k, "tenant")) ?: "", x->who.tenant))
                                        json_array_append(own, k);
                        }
                        json_decref(all);
                        all = own;
                }
                x->status = MHD_HTTP_OK;
                x->reply = json_pack("{s:o}", "keys", all);
                return;
        }
        if (x->route == R_KEYS) {
                if (request_key_create(x->body.data, x->body.len, &req, &err) < 0) {
                        fail(x, MHD_HTTP_BAD_REQUEST, err);
                        return;
                }
                const char *tenant = json_string_value(json_object_get(req, "tenant"));
                if (!tenant) /* a key of the caller's own tenant unless it says otherwise */
                        json_object_set_new(req, "tenant", json_string(x->who.tenant));
                else if (strcmp(tenant, x->who.tenant) != 0 && !is_operator(x)) {
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", "tenant",
                                       "an admin key of tenant %s makes keys of tenant %s only (other tenants' keys "
                                       "take an admin key of tenant default)",
                                       x->who.tenant, x->who.tenant));
                        json_decref(req);
                        return;
                }
                int r = auth_create_key(req, &out, &d);
                json_decref(req);
                if (r < 0) {
                        map_diag(x, &d, "internal");
                        return;
                }
                x->status = MHD_HTTP_CREATED;
                x->reply = out;
                audit(x, "key.create", NULL,
                      json_pack("{s:O, s:O, s:O}", "key", json_object_get(out, "id"), "key_tenant",
                                json_object_get(out, "tenant"), "scopes", json_object_get(out, "scopes")));
                return;
        }
        /* Another tenant's key is not found, exactly as one that never existed. */
        json_t *k = visible_key(x, x->path);
        if (!k) {
                fail(x, MHD_HTTP_NOT_FOUND, api_error("key_not_found", NULL, "no key %.64s", x->path));
                return;
        }
        if (!strcmp(method, "DELETE")) {
                json_decref(k);
                audit(x, "key.revoke", NULL, json_pack("{s:s}", "key", x->path));
                if (auth_revoke_key(x->path, &out, &d) < 0) {
                        if (d.code == -ENOENT)
                                fail(x, MHD_HTTP_NOT_FOUND, api_error("key_not_found", NULL, "no key %.64s", x->path));
                        else
                                map_diag(x, &d, "internal");
                        return;
                }
        } else
                out = k;
        x->status = MHD_HTTP_OK;
        x->reply = out;
}

static json_t *tenant_json(const char *name) {
        int64_t max_sessions, max_memory, sessions, memory;
        auth_quota(name, &max_sessions, &max_memory);
        tenant_usage(name, &sessions, &memory);
        return json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", name, "max_sessions", (json_int_t)max_sessions,
                         "max_memory_mb", (json_int_t)max_memory, "sessions", (json_int_t)sessions, "memory_mb",
                         (json_int_t)memory);
}

static void tenants(struct ctx *x, const char *method) {
        if (x->route == R_TENANTS) {
                json_t *list = auth_tenants(), *t, *out = json_array();
                size_t i;
                json_array_foreach(list, i, t) {
                        const char *name = json_string_value(json_object_get(t, "name"));
                        if (is_operator(x) || !strcmp(name ?: "", x->who.tenant))
                                json_array_append_new(out, tenant_json(name));
                }
                json_decref(list);
                x->status = MHD_HTTP_OK;
                x->reply = json_pack("{s:o}", "tenants", out);
                return;
        }
        if (!request_valid_tenant(x->path)) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", "tenant",
                                "a tenant is 1 to 64 characters from [a-z0-9-], not starting with '-'"));
                return;
        }
        if (!is_operator(x) && (strcmp(method, "GET") != 0 || strcmp(x->path, x->who.tenant) != 0)) {
                if (!strcmp(method, "GET"))
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL, "an admin key of tenant %s sees tenant %s only",
                                       x->who.tenant, x->who.tenant));
                else
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL,
                                       "quotas are set with an admin key of tenant default, not of tenant %s",
                                       x->who.tenant));
                return;
        }
        if (!strcmp(method, "PUT")) {
                json_t *req = NULL, *err = NULL;
                if (request_tenant_put(x->body.data, x->body.len, &req, &err) < 0) {
                        fail(x, MHD_HTTP_BAD_REQUEST, err);
                        return;
                }
                int r = store_tenant_put(x->path, json_integer_value(json_object_get(req, "max_sessions")),
                                         json_integer_value(json_object_get(req, "max_memory_mb")));
                audit(x, "tenant.quota", NULL,
                      json_pack("{s:s, s:O, s:O}", "quota_tenant", x->path, "max_sessions",
                                json_object_get(req, "max_sessions"), "max_memory_mb",
                                json_object_get(req, "max_memory_mb")));
                json_decref(req);
                if (r < 0) {
                        fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "cannot record the quota"));
                        return;
                }
        }
        x->status = MHD_HTTP_OK;
        x->reply = tenant_json(x->path);
}

/* ---- audit log (admin) ---- */

static enum MHD_Result respond(struct MHD_Connection *c, struct ctx *x);

static enum MHD_Result audit_log(struct ctx *x, struct MHD_Connection *c) {
        if (x->route == R_AUDIT_VERIFY) {
                if (strcmp(x->who.tenant, "default") != 0) {
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL, "verifying the whole log takes an admin key of tenant default"));
                        return respond(c, x);
                }
                return send_json(c, MHD_HTTP_OK, store_audit_verify());
        }
        const char *q[] = {"since", "until", "session", "action", "after", "limit", "format"};
        const char *v[7];
        for (size_t i = 0; i < 7; i++)
                v[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, q[i]);
        unsigned long long after = 0, limit = 100;
        const char *bad = NULL;
        if (v[0] && !request_valid_time(v[0]))
                bad = "since";
        else if (v[1] && !request_valid_time(v[1]))
                bad = "until";
        else if (v[3] && (strlen(v[3]) > 32 || strspn(v[3], "abcdefghijklmnopqrstuvwxyz.") != strlen(v[3])))
                bad = "action";
        else if (v[4] && parse_u64(v[4], &after) < 0)
                bad = "after";
        else if (v[5] && (parse_u64(v[5], &limit) < 0 || limit < 1 || limit > 10000))
                bad = "limit";
        else if (v[6] && strcmp(v[6], "json") != 0 && strcmp(v[6], "jsonl") != 0)
                bad = "format";
        if (bad) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", bad,
                                "'%s': since/until are RFC 3339 UTC times (…Z), action is [a-z.], after a seq, limit "
                                "1 to 10000, format json or jsonl",
                                bad));
                return respond(c, x);
        }
        /* Entries' times have milliseconds: compare with the bounds written the same way
         * (2026-01-31T00:00:00Z is 2026-01-31T00:00:00.000Z), as strings compare. */
        char bound[2][32];
        for (int i = 0; i < 2; i++) {
                if (!v[i])
                        continue;
                const char *frac = v[i][19] == '.' ? v[i] + 20 : "";
                size_t digits = strspn(frac, "0123456789");
                snprintf(bound[i], sizeof(bound[i]), "%.19s.%.*s%.*sZ", v[i], (int)(digits < 3 ? digits : 3), frac,
                         (int)(digits < 3 ? 3 - digits : 0), "000");
                v[i] = bound[i];
        }
        json_t *entries =
                store_audit_query(x->who.tenant, v[0], v[1], v[2], v[3], (int64_t)after, (int)limit);
        if (!v[6] || !strcmp(v[6], "json"))
                return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "entries", entries));
        /* JSON Lines: one entry a line, for export. */
        struct buf b;
        buf_init(&b, 256u << 20);
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) {
                char *line = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
                if (line && buf_printf(&b, "%s\n", line) < 0)
                        i = json_array_size(entries);
                free(line);
        }
        json_decref(entries);
        struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data ? b.data : (void *)"",
                                                                 b.data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
        enum MHD_Result ret = queue(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

/* ---- statistics ---- */

/* Computed from the recorded executions. A key sees its own tenant's; an admin key of
 * tenant default may name any tenant, or none for all of them. */
static void stats(struct ctx *x, struct MHD_Connection *c) {
        const char *v[STATS_Q_COUNT];
        for (size_t i = 0; i < STATS_Q_COUNT; i++)
                v[i] = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, stats_query_names[i]);
        struct stats_query q;
        json_t *err = NULL;
        if (request_stats_query(v, (int64_t)time(NULL), &q, &err) < 0) {
                fail(x, MHD_HTTP_BAD_REQUEST, err);
                return;
        }
        bool operator = is_operator(x);
        if (q.tenant[0] && strcmp(q.tenant, x->who.tenant) != 0 && !operator) {
                fail(x, MHD_HTTP_FORBIDDEN,
                     api_error("forbidden", "tenant", "another tenant's figures take an admin key of tenant default"));
                return;
        }
        const char *tenant = q.tenant[0] ? q.tenant : operator ? NULL : x->who.tenant;
        char since[32], until[32];
        rfc3339((time_t)q.since, since, sizeof(since));
        rfc3339((time_t)q.until, until, sizeof(until));
        x->status = MHD_HTTP_OK;
        x->reply = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:o}", "since", since, "until", until, "bucket_seconds",
                             (json_int_t)q.bucket, "by", q.by, "tenant", tenant, "series", store_stats(&q, tenant));
}

/* ---- the AgentCore-compatible API (agentcore.c; docs/agentcore.md) ---- */

static bool agentcore_unsigned_loopback; /* agentcore_allow_unsigned_loopback */

/* Bodies of AgentCore requests are buffered before their signature can be checked (it
 * covers them). A key id is not a secret, so all such bytes together are capped: past
 * the cap, requests are throttled rather than buffered. */
#define UNVERIFIED_BYTES_MAX (512ull << 20)
static _Atomic unsigned long long unverified_bytes;

void http_allow_unsigned_agentcore(bool on) { agentcore_unsigned_loopback = on; }

static enum MHD_Result send_ac(struct MHD_Connection *c, struct ac_reply *r) {
        struct MHD_Response *resp;
        if (r->is_stream) {
                resp = MHD_create_response_from_buffer(r->stream.len, r->stream.data, MHD_RESPMEM_MUST_FREE);
                r->stream.data = NULL;
                MHD_add_response_header(resp, "Content-Type", "application/vnd.amazon.eventstream");
        } else {
                char *text = r->json ? json_dumps(r->json, JSON_COMPACT) : strdup("{}");
                if (!text) {
                        ac_reply_free(r);
                        return MHD_NO;
                }
                resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
                MHD_add_response_header(resp, "Content-Type", "application/json");
                if (r->error_type[0])
                        MHD_add_response_header(resp, "x-amzn-ErrorType", r->error_type);
        }
        if (r->session_id[0])
                MHD_add_response_header(resp, "x-amzn-code-interpreter-session-id", r->session_id);
        if (current)
                MHD_add_response_header(resp, "x-amzn-RequestId", current->request_id);
        enum MHD_Result ret = queue(c, r->status, resp);
        MHD_destroy_response(resp);
        ac_reply_free(r);
        return ret;
}

static const char *header_of(void *ctx, const char *name) {
        return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static const char *query_of(void *ctx, const char *name) {
        return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static bool from_loopback(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr_in *sin = ci ? (const struct sockaddr_in *)ci->client_addr : NULL;
        return sin && sin->sin_family == AF_INET && (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

static void release_unverified(struct ctx *x) {
        if (x->unverified) {
                atomic_fetch_sub(&unverified_bytes, x->unverified);
                x->unverified = 0;
        }
}

static enum MHD_Result agentcore(struct ctx *x, struct MHD_Connection *c, const char *url, const char *method) {
        struct ac_reply r;
        memset(&r, 0, sizeof(r));
        release_unverified(x); /* the whole body is here: it is verified or refused now */
        const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!authz && agentcore_unsigned_loopback && from_loopback(c)) {
                /* Local development only, and only when the operator said so. */
                snprintf(x->who.key_id, sizeof(x->who.key_id), "unsigned-loopback");
                snprintf(x->who.tenant, sizeof(x->who.tenant), "default");
                x->who.sessions = true;
        } else if (!authz) {
                agentcore_error(&r, 403, "AccessDeniedException", "Missing Authentication Token (sign with SigV4)");
                return send_ac(c, &r);
        } else if (!x->raw_uri) {
                agentcore_error(&r, 414, "ValidationException", "the request URI is longer than 16 KiB");
                return send_ac(c, &r);
        } else {
                char path[16384];
                const char *raw = x->raw_uri, *qm = strchr(raw, '?');
                snprintf(path, sizeof(path), "%.*s", (int)(qm ? (size_t)(qm - raw) : strlen(raw)), raw);
                struct sigv4_request sr = {.method = method,
                                           .raw_path = path,
                                           .raw_query = qm ? qm + 1 : NULL,
                                           .amz_date = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Date"),
                                           .header = header_of,
                                           .ctx = c,
                                           .body = x->body.data,
                                           .body_len = x->body.len};
                const char *bad = "invalid signature";
                if (auth_sigv4(authz, &sr, &x->who, &bad) < 0) {
                        agentcore_error(&r, 403, "AccessDeniedException", "%s", bad);
                        return send_ac(c, &r);
                }
        }
        struct sigv4_auth scope; /* the region ARNs are made with */
        const char *why = NULL;
        bool signed_scope = authz && sigv4_parse_authorization(authz, &scope, &why) == 0;
        struct ac_request q = {.region = signed_scope ? scope.region : "us-east-1",
                               .method = method,
                               .path = url,
                               .query = query_of,
                               .session_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                             "x-amzn-code-interpreter-session-id"),
                               .ctx = c,
                               .body = x->body.data,
                               .body_len = x->body.len,
                               .who = &x->who,
                               .request_id = x->request_id};
        agentcore_handle(&q, &r);
        return send_ac(c, &r);
}

/* ---- the MCP server (mcp.c; docs/mcp.md) ---- */

static char mcp_origins[1024]; /* mcp_allowed_origins: besides loopback ones */

void http_allow_mcp_origins(const char *origins) { snprintf(mcp_origins, sizeof(mcp_origins), "%s", origins); }

static enum MHD_Result mcp(struct ctx *x, struct MHD_Connection *c, const char *method) {
        struct mcp_request q = {.method = method,
                                .session_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id"),
                                .protocol_version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version"),
                                .accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"),
                                .body = x->body.data,
                                .body_len = x->body.len,
                                .who = &x->who,
                                .request_id = x->request_id};
        struct mcp_reply r;
        mcp_handle(&q, &r);
        char *text = r.json ? json_dumps(r.json, JSON_COMPACT) : NULL;
        bool lost = r.json && !text;
        mcp_reply_free(&r);
        if (lost)
                return MHD_NO;
        struct MHD_Response *resp = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                                         : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        if (text)
                MHD_add_response_header(resp, "Content-Type", "application/json");
        if (r.session_id[0])
                MHD_add_response_header(resp, "Mcp-Session-Id", r.session_id);
        x->status = (int)r.status;
        enum MHD_Result ret = queue(c, r.status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- contexts ---- */

static void contexts(struct ctx *x, const char *method) {
        json_t *out = NULL, *req = NULL, *err = NULL;
        struct diag d = {0};
        int r = 0;
        bool create = !strcmp(method, "POST") && x->route == R_CONTEXTS;
        if (x->route == R_CONTEXTS && !create) {
                r = session_contexts(x->session, &out, &d);
        } else if (create) {
                if (request_context_create(x->body.data, x->body.len, &req, &err) < 0) {
                        fail(x, MHD_HTTP_BAD_REQUEST, err);
                        return;
                }
                char made[40];
                const char *id = json_string_value(json_object_get(req, "id"));
                if (!id) {
                        random_id("ctx_", made, sizeof(made));
                        id = made;
                }
                r = session_context_op(x->session, "create_context", id,
                                       json_string_value(json_object_get(req, "language")), &out, &d);
                json_decref(req);
        } else if (!request_valid_name(x->path)) {
                fail(x, MHD_HTTP_NOT_FOUND, api_error("context_not_found", NULL, "no context %.64s", x->path));
                return;
        } else if (x->route == R_CONTEXT_RESTART) {
                r = session_context_op(x->session, "reset_context", x->path, NULL, &out, &d);
        } else if (!strcmp(method, "DELETE")) {
                r = session_context_op(x->session, "delete_context", x->path, NULL, &out, &d);
        } else {
                r = session_context_get(x->session, x->path, &out, &d);
        }
        if (r < 0) {
                if (d.code == -ENOENT && !strcmp(d.field, "context_id"))
                        fail(x, MHD_HTTP_NOT_FOUND, api_error("context_not_found", NULL, "%s", d.msg));
                else if (d.code == -EEXIST)
                        fail(x, MHD_HTTP_CONFLICT, api_error("context_exists", "id", "%s", d.msg));
                else if (d.code == -EPERM)
                        fail(x, MHD_HTTP_CONFLICT, api_error("context_protected", NULL, "%s", d.msg));
                else
                        map_diag(x, &d, "internal");
                return;
        }
        x->status = create ? MHD_HTTP_CREATED : out ? MHD_HTTP_OK : MHD_HTTP_NO_CONTENT;
        x->reply = out;
        if (create || x->route == R_CONTEXT_RESTART || !strcmp(method, "DELETE"))
                audit(x, create ? "context.create" : x->route == R_CONTEXT_RESTART ? "context.restart" : "context.delete",
                      x->session,
                      json_pack("{s:s?}", "context_id",
                                create ? json_string_value(json_object_get(out, "id")) : x->path));
}

/* ---- files ---- */

/* The session's sandbox for a file request on path, or the failure. */
static int file_target(struct ctx *x, uint8_t op, const char *path, uint64_t *sandbox) {
        int r = session_sandbox(x->session, sandbox);
        if (r == -ENOENT) {
                fail(x, MHD_HTTP_NOT_FOUND, api_error("session_not_found", NULL, "no session %s", x->session));
                return r;
        }
        if (r < 0) {
                fail(x, MHD_HTTP_CONFLICT, api_error("session_ended", NULL, "session %s has ended", x->session));
                return r;
        }
        if (!lp_valid_path(path, strlen(path), op == LP_FILE_LIST)) {
                fail(x, MHD_HTTP_BAD_REQUEST,
                     api_error("invalid_request", "path",
                                "'%s' is not a workspace path: relative, '/'-separated, no '.', '..' or empty parts",
                                path));
                return -EINVAL;
        }
        return 0;
}

/* The launcher's refusal (LP_ERROR) as the reply. */
static int file_refused(struct ctx *x, const struct lreply *rep) {
        int e = -rep->err.code;
        if (e == ENOENT)
                fail(x, MHD_HTTP_NOT_FOUND, api_error("file_not_found", "path", "%s", rep->err.msg));
        else if (e == ENOSPC)
                fail(x, MHD_HTTP_INSUFFICIENT_STORAGE, api_error("workspace_full", "path", "%s", rep->err.msg));
        else if (e == ESRCH)
                fail(x, MHD_HTTP_CONFLICT, api_error("session_ended", NULL, "session %s has ended", x->session));
        else
                fail(x, MHD_HTTP_BAD_REQUEST, api_error("invalid_request", "path", "%s", rep->err.msg));
        return -e;
}

static int file_request_raw(struct ctx *x, uint8_t op, uint8_t flags, const char *path, struct lreply *rep) {
        uint64_t sandbox;
        int r = file_target(x, op, path, &sandbox);
        if (r < 0)
                return r;
        r = launch_file(sandbox, op, flags, 0, path, rep);
        if (r < 0) {
                fail(x, MHD_HTTP_SERVICE_UNAVAILABLE, api_error("unavailable", NULL, "the launcher is unavailable"));
                return r;
        }
        return rep->type == LP_ERROR ? file_refused(x, rep) : 0;
}

/* Every file operation goes through here and is audited (a write when it completes, with
 * its size: see the PUT handler). */
static int file_request(struct ctx *x, uint8_t op, uint8_t flags, const char *path, struct lreply *rep) {
        int r = file_request_raw(x, op, flags, path, rep);
        const char *action = op == LP_FILE_READ     ? "file.read"
                             : op == LP_FILE_LIST   ? "file.list"
                             : op == LP_FILE_REMOVE ? "file.delete"
                             : op == LP_FILE_MKDIR  ? "file.mkdir"
                             : op == LP_FILE_STAT   ? "file.stat"
                                                    : NULL;
        if (action || r < 0)
                audit(x, action ? action : "file.write", x->session,
                      json_pack("{s:s, s:i}", "path", path, "status", r < 0 ? x->status : MHD_HTTP_OK));
        return r;
}

static const char *type_name(uint8_t t) {
        return t == LP_FT_FILE ? "file" : t == LP_FT_DIR ? "directory" : t == LP_FT_SYMLINK ? "symlink" : "other";
}

static void list_files(struct ctx *x, struct MHD_Connection *c) {
        const char *path = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
        path = path ? path : "";
        struct lreply rep;
        if (file_request(x, LP_FILE_LIST, 0, path, &rep) < 0)
                return;
        if (rep.nfds != 1) {
                fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "no listing"));
                return;
        }
        _cleanup_close_ int fd = rep.fds[0];
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size > (64 << 20)) {
                fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR, api_error("internal", NULL, "bad listing"));
                return;
        }
        _cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
        ssize_t n = data ? pread(fd, data, (size_t)st.st_size, 0) : -1;
        json_t *entries = json_array();
        struct {
                const char *name;
                size_t len;
                struct lp_dirent de;
        } *list = NULL;
        size_t count = 0, cap = 0;
        struct lp_dirent next;
        const char *raw;
        for (size_t off = 0; n > 0 && lp_dirent_next(data, (size_t)n, &off, &next, &raw);) {
                if (count == cap) {
                        cap = cap ? cap * 2 : 64;
                        void *p = realloc(list, cap * sizeof(*list));
                        if (!p)
                                break;
                        list = p;
                }
                list[count].name = raw;
                list[count].len = next.name_len;
                list[count++].de = next;
        }
        /* Bytewise by name, so that listings are stable. */
        for (size_t i = 1; i < count; i++)
                for (size_t j = i; j > 0; j--) {
                        size_t m = list[j - 1].len < list[j].len ? list[j - 1].len : list[j].len;
                        int c2 = memcmp(list[j - 1].name, list[j].name, m);
                        if (c2 < 0 || (c2 == 0 && list[j - 1].len <= list[j].len))
                                break;
                        __typeof__(*list) t = list[j];
                        list[j] = list[j - 1];
                        list[j - 1] = t;
                }
        for (size_t i = 0; i < count; i++) {
                const struct lp_dirent *de = &list[i].de;
                char mtime[32], mode[8];
                rfc3339((time_t)de->mtime_sec, mtime, sizeof(mtime));
                snprintf(mode, sizeof(mode), "%04o", de->mode & 07777);
                json_array_append_new(entries, json_pack("{s:s%, s:s, s:I, s:s, s:s}", "name", list[i].name,
                                                         list[i].len, "type", type_name(de->type), "size",
                                                         (json_int_t)(de->type == LP_FT_DIR ? 0 : de->size), "mode",
                                                         mode, "mtime", mtime));
        }
        free(list);
        x->status = MHD_HTTP_OK;
        x->reply = json_pack("{s:s, s:o}", "path", path, "entries", entries);
}

static enum MHD_Result download(struct ctx *x, struct MHD_Connection *c) {
        struct lreply rep;
        if (file_request(x, LP_FILE_READ, 0, x->path, &rep) < 0)
                return send_json(c, (unsigned)x->status, TAKE_PTR(x->reply));
        struct lp_file_ok ok;
        memcpy(&ok, rep.body, sizeof(ok));
        /* MHD sends straight from the fd (sendfile) and closes it: nothing is buffered here. */
        struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)ok.size, rep.fds[0]);
        if (!r) {
                close(rep.fds[0]);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/octet-stream");
        enum MHD_Result ret = queue(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static void remove_file(struct ctx *x, struct MHD_Connection *c) {
        const char *rec = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "recursive");
        if (rec && strcmp(rec, "true") != 0 && strcmp(rec, "false") != 0) {
                fail(x, MHD_HTTP_BAD_REQUEST, api_error("invalid_request", "recursive", "recursive is true or false"));
                return;
        }
        bool recursive = rec && !strcmp(rec, "true");
        struct lreply rep;
        memset(&rep, 0, sizeof(rep));
        if (file_request(x, LP_FILE_REMOVE, recursive ? LP_FILE_RECURSIVE : 0, x->path, &rep) < 0) {
                if (x->status == MHD_HTTP_BAD_REQUEST && (rep.err.code == -EISDIR || rep.err.code == -ENOTEMPTY)) {
                        json_decref(x->reply);
                        x->reply = api_error("invalid_request", "recursive",
                                             "%s is a directory: delete it with recursive=true", x->path);
                }
                return;
        }
        x->status = MHD_HTTP_NO_CONTENT;
}

/* ---- the access handler ---- */

static enum MHD_Result respond(struct MHD_Connection *c, struct ctx *x) {
        if (x->route == R_AGENTCORE && x->status >= 400) {
                struct ac_reply r;
                memset(&r, 0, sizeof(r));
                json_t *e = json_object_get(x->reply, "error");
                const char *type = x->status == MHD_HTTP_TOO_MANY_REQUESTS ? "ThrottlingException"
                                   : x->status == MHD_HTTP_FORBIDDEN          ? "AccessDeniedException"
                                   : x->status == MHD_HTTP_NOT_FOUND         ? "ResourceNotFoundException"
                                   : x->status < MHD_HTTP_INTERNAL_SERVER_ERROR ? "ValidationException"
                                                                             : "InternalServerException";
                agentcore_error(&r, (unsigned)x->status, type, "%s",
                                json_string_value(json_object_get(e, "message")) ?: "error");
                return send_ac(c, &r);
        }
        if (x->route == R_SESSIONS && x->status == MHD_HTTP_CREATED && x->reply) {
                char loc[96]; /* where the new session lives */
                snprintf(loc, sizeof(loc), "/v1/sessions/%s", json_string_value(json_object_get(x->reply, "id")) ?: "");
                char *text = json_dumps(x->reply, JSON_COMPACT);
                json_decref(TAKE_PTR(x->reply));
                if (!text)
                        return MHD_NO;
                struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
                MHD_add_response_header(r, "Content-Type", "application/json");
                MHD_add_response_header(r, "Location", loc);
                enum MHD_Result ret = queue(c, MHD_HTTP_CREATED, r);
                MHD_destroy_response(r);
                return ret;
        }
        if (x->status == MHD_HTTP_NO_CONTENT) {
                struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                enum MHD_Result ret = queue(c, MHD_HTTP_NO_CONTENT, r);
                MHD_destroy_response(r);
                return ret;
        }
        if (x->status == MHD_HTTP_UNAUTHORIZED || x->status == MHD_HTTP_METHOD_NOT_ALLOWED) {
                char *text = json_dumps(x->reply, JSON_COMPACT);
                json_decref(TAKE_PTR(x->reply));
                if (!text)
                        return MHD_NO;
                struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
                MHD_add_response_header(r, "Content-Type", "application/json");
                if (x->status == MHD_HTTP_UNAUTHORIZED)
                        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"airlock\"");
                else
                        MHD_add_response_header(r, "Allow", allowed_methods(x->route));
                enum MHD_Result ret = queue(c, (unsigned)x->status, r);
                MHD_destroy_response(r);
                return ret;
        }
        return send_json(c, (unsigned)x->status, TAKE_PTR(x->reply));
}

static void upload_begin(struct ctx *x) {
        uint64_t sandbox;
        struct lreply rep;
        if (file_target(x, LP_FILE_WRITE, x->path, &sandbox) < 0) {
                audit(x, "file.write", x->session, json_pack("{s:s, s:i}", "path", x->path, "status", x->status));
                return;
        }
        switch (ws_write_open(&x->up, x->session, sandbox, 0, x->path, &rep)) {
        case WS_OK:
                x->upload_started = true;
                return;
        case WS_UNRECORDED: /* not audited: the store that would keep it is failing */
                fail(x, MHD_HTTP_SERVICE_UNAVAILABLE,
                     api_error("unavailable", NULL, "the service cannot record the upload (its data dir is full or "
                                                    "failing): retry later"));
                return;
        case WS_NO_LAUNCHER:
                fail(x, MHD_HTTP_SERVICE_UNAVAILABLE, api_error("unavailable", NULL, "the launcher is unavailable"));
                break;
        case WS_FAILED:
                file_refused(x, &rep);
                break;
        }
        audit(x, "file.write", x->session, json_pack("{s:s, s:i}", "path", x->path, "status", x->status));
}

/* An upload that did not finish (the client went, or the write failed) leaves no
 * half-written file behind. */
static void upload_abandon(struct ctx *x, json_t *status) {
        ws_write_abandon(&x->up);
        x->upload_started = false;
        audit(x, "file.write", x->session, json_pack("{s:s, s:o}", "path", x->path, "status", status));
}

static enum MHD_Result handle(struct ctx *x, struct MHD_Connection *c, const char *url, const char *method,
                              const char *data, size_t *size, bool first);

/* A request id from the client's X-Request-Id when it is a plain token, else our own. */
static void request_id_of(struct MHD_Connection *c, char *out, size_t cap) {
        const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
        size_t n = given ? strlen(given) : 0;
        bool ok = n >= 1 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
                ok = (given[i] >= 'a' && given[i] <= 'z') || (given[i] >= 'A' && given[i] <= 'Z') ||
                     (given[i] >= '0' && given[i] <= '9') || strchr("-_.:", given[i]);
        if (ok)
                snprintf(out, cap, "%s", given);
        else
                random_id("req_", out, cap);
}

/* ---- connection slots: the request-head deadline and eviction under pressure ----
 *
 * Connections: one thread each. Idle ones are closed by libmicrohttpd after 300 s without
 * traffic (long executions, streams and 100 MB uploads need that much), and one client
 * address may hold at most a quarter of them (ADR 0016). libmicrohttpd 0.9.75 has no
 * deadline for a request's head, so a client trickling a header byte a second was never
 * idle long enough to be closed, and four or five addresses could hold every slot. The
 * guard below (ADR 0018) adds that deadline and, when the slots run short, closes the
 * connections that are only waiting for a head, oldest first, then requests whose body
 * comes too slowly.
 *
 * It learns of connections from libmicrohttpd's notifications (started, closed), of a
 * complete head from the handler's first call, of body bytes and the body's end from its
 * later calls, of a request's end from completed(). It
 * closes a connection by shutdown(2) of its socket, which wakes the connection's thread
 * to see an end of file and close it the ordinary way; it never closes the fd itself.
 * That is race-free with libmicrohttpd's own close because its "closed" notification
 * comes before it closes the fd (MHD_cleanup_connections, 0.9.75) and takes the guard's
 * lock, under which every shutdown is made: an fd the guard holds is still the
 * connection's. Not settings: one set of numbers right for direct clients (as in ADR 0016);
 * a reverse proxy in front should apply its own. */
#define CONNECTIONS_MAX 1000
#define CONNECTIONS_PER_CLIENT 250
/* Seconds a connection has to deliver a complete request head, from its acceptance (TLS
 * handshake included) or from the first byte of its next request on a keep-alive
 * connection. Any client sends its head in well under a second, even over a slow link;
 * nginx's client_header_timeout is 60 s, Apache's mod_reqtimeout 20-40 s. An idle
 * keep-alive connection has no head deadline: it is closed at 300 s, or under pressure. */
#define HEAD_DEADLINE_S 10.0
/* Past this many open connections, the ones waiting for a head are closed, oldest first,
 * until this many are open again: a quarter of the slots are kept free for new clients. */
#define PRESSURE_MARK (CONNECTIONS_MAX * 3 / 4)
/* ... but not one younger than this: a new client gets time to send its head. */
#define PRESSURE_GRACE_S 1.0
/* Then, if still past the mark, requests that were let in (a key checked) but whose body
 * comes slower than this, slowest first: a key holder trickling bodies must not hold the
 * slots either. A byte a second is an attack; a 100 MB upload over an 8 kbit/s link takes
 * a day. Never without pressure: a slow link alone is no reason to cut an upload. The
 * rate is taken over the current window and the one before (windows of BODY_WINDOW_S),
 * so a fast upload's short stall is carried by what it sent just before, with
 * BODY_BURST bytes of slack, and judged once the span is PRESSURE_GRACE_S long. */
#define BODY_MIN_RATE 1024.0
#define BODY_WINDOW_S 10.0
#define BODY_BURST 1024.0
/* How often the guard looks: a queued client waits about this long for a slot. */
#define GUARD_TICK_MS 200
/* One log line per this many seconds at most, with the closes counted since the last. */
#define GUARD_LOG_EVERY_S 10.0

enum close_reason { CLOSE_HEAD_DEADLINE, CLOSE_PRESSURE, CLOSE_SLOW_BODY, NCLOSE_REASONS };
static const char *const close_reason_names[NCLOSE_REASONS] = {"header_deadline", "pressure", "slow_body"};

struct conn {
        bool used;
        bool in_request; /* the head is complete; until completed() */
        bool draining;   /* in a request already refused, whose body is read only to be dropped */
        bool closing;    /* shut down, waiting for libmicrohttpd's "closed" */
        bool receiving;  /* let in, its body still coming (until the handler's final call) */
        int fd;          /* libmicrohttpd's socket: shut down, never closed here */
        double waiting_since; /* accepted, or its last request ended */
        double head_since;    /* when its head's clock started; 0 = not yet (keep-alive, idle:
                               * it starts with the next request's first byte) */
        double body_since;    /* receiving: when the current body window began */
        uint64_t body_bytes;  /* receiving: body bytes since body_since */
        double prev_span;     /* receiving: the window before (0 = none), its length and bytes */
        uint64_t prev_bytes;
        double shortfall;     /* guard_check: how far below BODY_MIN_RATE the body is, in bytes */
        char client[INET6_ADDRSTRLEN];
};

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        struct conn conns[CONNECTIONS_MAX];
        bool stop;
        pthread_t thread;
        bool running;
        /* closes not yet logged, by reason (enum close_reason), and the last one's client */
        unsigned pending[NCLOSE_REASONS];
        char pending_client[INET6_ADDRSTRLEN];
        double logged_at;
} guard = {.lock = PTHREAD_MUTEX_INITIALIZER}; /* .wake: guard_start (on the monotonic clock) */

static struct conn *conn_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
        (void)cls;
        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                struct conn *k = *socket_context;
                if (k) {
                        pthread_mutex_lock(&guard.lock);
                        k->used = false; /* from here on the fd is libmicrohttpd's to close */
                        pthread_mutex_unlock(&guard.lock);
                }
                *socket_context = NULL;
                return;
        }
        const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char client[INET6_ADDRSTRLEN] = "?";
        if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ai->client_addr)->sin_addr, client,
                          sizeof(client));
        pthread_mutex_lock(&guard.lock);
        struct conn *k = NULL;
        for (size_t i = 0; fdi && i < CONNECTIONS_MAX && !k; i++)
                if (!guard.conns[i].used)
                        k = &guard.conns[i];
        if (k) {
                double now = now_seconds();
                *k = (struct conn){.used = true, .fd = fdi->connect_fd, .waiting_since = now, .head_since = now};
                snprintf(k->client, sizeof(k->client), "%s", client);
        }
        pthread_mutex_unlock(&guard.lock);
        /* None free cannot happen (libmicrohttpd admits CONNECTIONS_MAX): such a connection
         * would only go unguarded. */
        *socket_context = k;
}

/* The request may go on: it is authenticated (a key, or AgentCore's whole signed body
 * received) or needs nothing (a body-less probe). From here the guard leaves the
 * connection alone. False when the guard has already shut the connection down (it was
 * deciding while the head completed): the request must then do nothing, since its answer
 * cannot reach the client. */
static bool guard_head_complete(struct MHD_Connection *c, bool body_coming) {
        struct conn *k = conn_of(c);
        if (!k)
                return true;
        pthread_mutex_lock(&guard.lock);
        bool closing = k->closing;
        k->in_request = !closing;
        k->draining = false;
        k->receiving = !closing && body_coming;
        k->body_since = now_seconds();
        k->body_bytes = 0;
        k->prev_span = 0;
        k->prev_bytes = 0;
        pthread_mutex_unlock(&guard.lock);
        return !closing;
}

/* A request that was let in received `got` more body bytes, or (got 0: the handler's
 * final call) all of them: from here it is answered, however long that takes. False when
 * the guard has shut the connection down (the kernel may still hand over bytes that were
 * already here): the request must then stop, and not be carried out unanswered. */
static bool guard_body(struct MHD_Connection *c, size_t got) {
        struct conn *k = conn_of(c);
        if (!k)
                return true;
        pthread_mutex_lock(&guard.lock);
        bool closing = k->closing;
        if (got == 0)
                k->receiving = false;
        else
                k->body_bytes += got;
        pthread_mutex_unlock(&guard.lock);
        return !closing;
}

/* A request whose body is read before anyone knows it may go on: refused (no key, no
 * route, too large...: the body is read only to be dropped before the error is answered),
 * or an AgentCore request whose signature covers the body still coming. Under pressure
 * its connection may be closed like one waiting for a head (a slow body nobody vouched for
 * must not hold a slot when others need it), counted from now. Not subject to the head
 * deadline: a slow link still gets its error, and a slow signed upload its answer. */
static void guard_draining(struct MHD_Connection *c) {
        struct conn *k = conn_of(c);
        if (!k)
                return;
        pthread_mutex_lock(&guard.lock);
        k->in_request = true;
        k->draining = true;
        k->waiting_since = now_seconds();
        pthread_mutex_unlock(&guard.lock);
}

/* completed(): the request ended; a keep-alive connection now waits for its next one. */
static void guard_request_done(struct MHD_Connection *c) {
        struct conn *k = conn_of(c);
        if (!k)
                return;
        pthread_mutex_lock(&guard.lock);
        k->in_request = false;
        k->draining = false;
        k->receiving = false;
        k->waiting_since = now_seconds();
        k->head_since = 0;
        pthread_mutex_unlock(&guard.lock);
}

/* Whether a keep-alive connection has received a byte since its last request ended: its
 * next request has begun (libmicrohttpd reads it at once, so the kernel's time of the
 * last data received is the only trace). Called under the lock. */
static bool next_request_begun(struct conn *k, double now) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        /* The kernel fills as much as both it and this header know of. */
        if (getsockopt(k->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
            len < offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(ti.tcpi_last_data_recv))
                return false;
        /* The kernel counts in jiffies: a byte within 50 ms of the end may be the last
         * request's own (its clock starts with the next one). */
        double at = now - ti.tcpi_last_data_recv / 1000.0;
        if (at <= k->waiting_since + 0.05)
                return false;
        k->head_since = at;
        return true;
}

static void guard_close(struct conn *k, enum close_reason reason, unsigned closed[NCLOSE_REASONS]) {
        shutdown(k->fd, SHUT_RDWR); /* the connection's thread sees the end and closes it */
        k->closing = true;
        closed[reason]++;
        snprintf(guard.pending_client, sizeof(guard.pending_client), "%s", k->client);
}

/* For qsort of slot indices, under the lock: the longest waiting first. */
static int by_waiting_since(const void *a, const void *b) {
        double x = guard.conns[*(const size_t *)a].waiting_since, y = guard.conns[*(const size_t *)b].waiting_since;
        return (x > y) - (x < y);
}

/* Whether a let-in request's body is coming slower than BODY_MIN_RATE over the current
 * window and the one before; its shortfall in bytes goes to k->shortfall. Under the lock. */
static bool body_too_slow(struct conn *k, double now) {
        double t = now - k->body_since;
        if (t >= BODY_WINDOW_S) {
                k->prev_span = t;
                k->prev_bytes = k->body_bytes;
                k->body_since = now;
                k->body_bytes = 0;
                t = 0;
        }
        double span = k->prev_span + t;
        k->shortfall = BODY_MIN_RATE * span - (double)(k->prev_bytes + k->body_bytes) - BODY_BURST;
        return span >= PRESSURE_GRACE_S && k->shortfall > 0;
}

/* For qsort of slot indices, under the lock: the slowest body first. */
static int by_shortfall(const void *a, const void *b) {
        double x = guard.conns[*(const size_t *)a].shortfall, y = guard.conns[*(const size_t *)b].shortfall;
        return (x < y) - (x > y);
}

/* One look at every connection, under the lock; closed[] counts what it closed, by
 * reason. Under pressure, connections waiting for a head (or draining a refused body) go
 * first, oldest first, then let-in requests with too slow a body, slowest first. */
static void guard_check(double now, unsigned closed[NCLOSE_REASONS]) {
        static size_t waiting[CONNECTIONS_MAX], slow[CONNECTIONS_MAX]; /* slot indices; the guard's thread only */
        size_t open = 0, nwaiting = 0, nslow = 0;
        for (size_t i = 0; i < CONNECTIONS_MAX; i++) {
                struct conn *k = &guard.conns[i];
                if (!k->used || k->closing)
                        continue;
                if (!k->in_request && (k->head_since > 0 || next_request_begun(k, now)) &&
                    now - k->head_since >= HEAD_DEADLINE_S) {
                        guard_close(k, CLOSE_HEAD_DEADLINE, closed);
                        continue;
                }
                open++;
                if ((!k->in_request || k->draining) && now - k->waiting_since >= PRESSURE_GRACE_S)
                        waiting[nwaiting++] = i;
                else if (k->in_request && k->receiving && !k->draining && body_too_slow(k, now))
                        slow[nslow++] = i;
        }
        if (open <= PRESSURE_MARK)
                return;
        qsort(waiting, nwaiting, sizeof(waiting[0]), by_waiting_since);
        for (size_t i = 0; i < nwaiting && open > PRESSURE_MARK; i++, open--)
                guard_close(&guard.conns[waiting[i]], CLOSE_PRESSURE, closed);
        qsort(slow, nslow, sizeof(slow[0]), by_shortfall);
        for (size_t i = 0; i < nslow && open > PRESSURE_MARK; i++, open--)
                guard_close(&guard.conns[slow[i]], CLOSE_SLOW_BODY, closed);
}

static void *guard_run(void *arg) {
        (void)arg;
        pthread_mutex_lock(&guard.lock);
        while (!guard.stop) {
                struct timespec until = deadline_after(CLOCK_MONOTONIC, GUARD_TICK_MS / 1000.0);
                pthread_cond_timedwait(&guard.wake, &guard.lock, &until);
                if (guard.stop)
                        break;
                double now = now_seconds();
                unsigned closed[NCLOSE_REASONS] = {0}, logged[NCLOSE_REASONS] = {0};
                guard_check(now, closed);
                bool any = false, pending = false;
                for (size_t r = 0; r < NCLOSE_REASONS; r++) {
                        guard.pending[r] += closed[r];
                        any = any || closed[r];
                        pending = pending || guard.pending[r];
                }
                /* Counted at once; logged at most once per GUARD_LOG_EVERY_S (a flood must
                 * not flood the log), with everything closed since the last line. */
                bool log = pending && (guard.logged_at == 0 || now - guard.logged_at >= GUARD_LOG_EVERY_S);
                char client[INET6_ADDRSTRLEN];
                snprintf(client, sizeof(client), "%s", guard.pending_client);
                if (log) {
                        memcpy(logged, guard.pending, sizeof(logged));
                        memset(guard.pending, 0, sizeof(guard.pending));
                        guard.logged_at = now;
                }
                if (!log && !any)
                        continue;
                pthread_mutex_unlock(&guard.lock);
                for (size_t r = 0; r < NCLOSE_REASONS; r++)
                        if (closed[r])
                                metrics_http_closed(close_reason_names[r], closed[r]);
                if (log)
                        fprintf(stderr,
                                "{\"level\":\"warn\",\"msg\":\"closed slow connections\",\"header_deadline\":%u,"
                                "\"pressure\":%u,\"slow_body\":%u,\"last_client\":\"%s\"}\n",
                                logged[CLOSE_HEAD_DEADLINE], logged[CLOSE_PRESSURE], logged[CLOSE_SLOW_BODY], client);
                pthread_mutex_lock(&guard.lock);
        }
        pthread_mutex_unlock(&guard.lock);
        return NULL;
}

/* The guard's thread starts with the server and stops before it. */
static int guard_start(struct diag *d) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&guard.wake, &ca);
        pthread_condattr_destroy(&ca);
        guard.stop = false;
        int r = pthread_create(&guard.thread, NULL, guard_run, NULL);
        if (r != 0)
                return diag_set(d, -r, "listen", "cannot start the connection guard: %s", strerror(r));
        guard.running = true;
        return 0;
}

static void guard_stop(void) {
        if (!guard.running)
                return;
        pthread_mutex_lock(&guard.lock);
        guard.stop = true;
        pthread_cond_signal(&guard.wake);
        pthread_mutex_unlock(&guard.lock);
        pthread_join(guard.thread, NULL);
        guard.running = false;
}

/* libmicrohttpd's first look at a request: the URI exactly as it came (before decoding),
 * which SigV4 signs. It runs in the connection's own thread just before the handler's
 * first call for the same request, so a thread-local hands it over (nothing allocated
 * here: a request MHD refuses before the handler would never free it). */
static _Thread_local char raw_uri_seen[16384];
static _Thread_local bool raw_uri_cut; /* longer than raw_uri_seen: never signed as seen */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c) {
        (void)cls;
        (void)c;
        raw_uri_cut = (size_t)snprintf(raw_uri_seen, sizeof(raw_uri_seen), "%s", uri) >= sizeof(raw_uri_seen);
        return NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *size, void **con_cls) {
        (void)cls;
        (void)version;
        struct ctx *x = *con_cls;
        bool first = !x;
        if (!x) {
                x = calloc(1, sizeof(*x));
                if (!x)
                        return MHD_NO;
                x->up.fd = -1;
                *con_cls = x;
        }
        if (first) {
                x->begun = true;
                x->raw_uri = raw_uri_cut ? NULL : strdup(raw_uri_seen);
                raw_uri_seen[0] = '\0';
                x->started = now_seconds();
                request_id_of(c, x->request_id, sizeof(x->request_id));
                snprintf(x->method, sizeof(x->method), "%s", method);
                snprintf(x->path_logged, sizeof(x->path_logged), "%s", url);
                /* W3C trace context: the client's trace, or a new one. */
                struct trace_ctx parent;
                const char *tp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent");
                bool have_parent = tp && request_traceparent(tp, &parent) == 0;
                x->route = route_of(url, x);
                char name[96];
                snprintf(name, sizeof(name), "%s %s", x->method, route_name(x->route));
                x->span = trace_open(name, SPAN_SERVER, have_parent ? &parent : NULL);
                trace_span_attr(x->span, "http.request.method", x->method);
                trace_span_attr(x->span, "http.route", route_name(x->route));
                trace_span_attr(x->span, "url.path", x->path_logged);
                trace_span_attr(x->span, "airlock.request_id", x->request_id);
        }
        current = x;
        trace_push(x->span);
        enum MHD_Result r;
        size_t got = *size; /* 0 on the final call: the body (if any) is all here */
        /* Protected from the guard only once it may go on: a keyed request once its key is
         * checked (after the first call), an AgentCore one once its signed body is all here
         * (the final call, before the signature is checked: from then on it is answered at
         * once; until then it may be closed under pressure, guard_draining). So no one
         * without a key holds a connection by trickling a body. */
        bool signed_body_here = x->route == R_AGENTCORE && !first && *size == 0 && !x->rejected;
        /* A let-in request's body, counted for the minimum rate (BODY_MIN_RATE); the final
         * call ends it before the request is handled, however long that takes. */
        bool cut = x->past_guard && !first && !guard_body(c, got);
        if (!cut && signed_body_here && !x->past_guard)
                cut = !(x->past_guard = guard_head_complete(c, false));
        r = cut ? MHD_NO : handle(x, c, url, method, data, size, first);
        if (first && x->route == R_AGENTCORE && !x->rejected)
                guard_draining(c);
        else if (first && !x->rejected && r == MHD_YES && !(x->past_guard = guard_head_complete(c, true)))
                r = MHD_NO;
        /* Refused while a body may still be coming: it is only drained (a refusal on the
         * final call is answered at once, and its connection stays as it was). */
        if (x->rejected && !x->draining && (first || got > 0)) {
                x->draining = true;
                guard_draining(c);
        }
        trace_pop();
        current = NULL;
        return r;
}

static enum MHD_Result handle(struct ctx *x, struct MHD_Connection *c, const char *url, const char *method,
                              const char *data, size_t *size, bool first) {
        if (first && x->route == R_AGENTCORE) {
                /* SigV4 covers the body: the signature is checked once it is all here. What
                 * can be judged without it is judged now, so that nobody without a live key
                 * gets to send a large body into memory. */
                buf_init(&x->body, AGENTCORE_BODY_MAX);
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
                const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
                unsigned long long declared = 0;
                struct sigv4_auth a;
                const char *why = NULL;
                json_t *k = NULL;
                if (!authz && !(agentcore_unsigned_loopback && from_loopback(c)))
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL, "Missing Authentication Token (sign with SigV4)"));
                else if (authz && sigv4_parse_authorization(authz, &a, &why) < 0)
                        fail(x, MHD_HTTP_FORBIDDEN, api_error("forbidden", NULL, "%s", why));
                else if (authz && (!(k = store_key_get(a.key_id)) || !json_is_null(json_object_get(k, "revoked_at"))))
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL,
                                       "The security token included in the request is invalid (unknown or revoked key)"));
                else if (cl && parse_u64(cl, &declared) == 0 && declared > x->body.max)
                        fail(x, MHD_HTTP_CONTENT_TOO_LARGE,
                             api_error("payload_too_large", NULL, "the body is larger than %zu bytes", x->body.max));
                json_decref(k);
                return MHD_YES;
        }
        if (first) {
                bool is_upload = x->route == R_FILE && !strcmp(method, "PUT");
                buf_init(&x->body, x->route == R_MCP                                 ? MCP_BODY_MAX
                                   : x->route == R_EXECUTE || x->route == R_COMMANDS ? CODE_BODY_MAX
                                                                                     : BODY_MAX);
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
                unsigned long long declared = 0;
                bool has_body = cl && parse_u64(cl, &declared) == 0 && declared > 0;
                if (!cl && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding"))
                        has_body = true;
                /* The key is checked first for everything under /v1 and for /mcp: nothing, not
                 * even which routes exist, is told to a caller without one. Before that, /mcp
                 * refuses browsers' requests from foreign origins (DNS rebinding). */
                bool keyed = (!strncmp(url, "/v1", 3) && (url[3] == '/' || url[3] == '\0')) || x->route == R_MCP;
                if (x->route == R_MCP &&
                    !mcp_origin_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"), mcp_origins))
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL,
                                       "this Origin may not use /mcp (DNS rebinding protection); the operator can "
                                       "allow it with mcp_allowed_origins"));
                else if (keyed && !authorized(c, &x->who))
                        fail(x, MHD_HTTP_UNAUTHORIZED,
                             api_error("unauthorized", NULL, "missing or invalid API key (Authorization: Bearer <key>)"));
                else if (x->route == R_NONE)
                        fail(x, MHD_HTTP_NOT_FOUND, api_error("not_found", NULL, "no route %s", url));
                else if (!keyed && has_body) /* the probes: a body there could only be a way to hold a slot */
                        fail(x, MHD_HTTP_BAD_REQUEST,
                             api_error("invalid_request", NULL, "%s takes no request body", route_name(x->route)));
                else if (!method_allowed(x->route, method))
                        fail(x, MHD_HTTP_METHOD_NOT_ALLOWED,
                             api_error("method_not_allowed", NULL, "%s is not allowed here (allowed: %s)", method,
                                       allowed_methods(x->route)));
                else if (x->route >= R_KEYS && x->route <= R_TENANT && !x->who.admin)
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL, "this key (%s) lacks the admin scope", x->who.key_id));
                else if ((x->route >= R_SESSIONS || x->route == R_MCP) && !x->who.sessions)
                        fail(x, MHD_HTTP_FORBIDDEN,
                             api_error("forbidden", NULL, "this key (%s) lacks the sessions scope", x->who.key_id));
                else if (x->route >= R_SESSION && (x->bad_session || !valid_session_id(x->session) || !owned(x)))
                        fail(x, MHD_HTTP_NOT_FOUND, api_error("session_not_found", NULL, "no session %.40s", x->session));
                else if (x->route == R_FILE && x->long_path)
                        fail(x, MHD_HTTP_BAD_REQUEST,
                             api_error("invalid_request", "path", "the path is longer than %d bytes", LP_PATH_MAX - 1));
                else if (!is_upload && has_body && declared > x->body.max)
                        fail(x, MHD_HTTP_CONTENT_TOO_LARGE,
                             api_error("payload_too_large", NULL, "the body is larger than %zu bytes", x->body.max));
                else if (!is_upload && (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) && has_body &&
                         !is_json_media_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
                        fail(x, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                             api_error("unsupported_media_type", NULL, "send Content-Type: application/json"));
                if (!x->rejected && is_upload)
                        upload_begin(x);
                return MHD_YES;
        }
        if (*size) {
                /* After a rejection the rest of the body is read and dropped, so the
                 * connection stays usable and the error can be answered. */
                if (!x->rejected && x->route == R_FILE) {
                        if (x->up.fd >= 0 && !x->write_err) {
                                int r = write_all(x->up.fd, data, *size);
                                if (r < 0)
                                        x->write_err = -r;
                                else
                                        x->written += *size;
                        }
                } else if (!x->rejected && x->route == R_AGENTCORE &&
                           atomic_fetch_add(&unverified_bytes, *size) + *size > UNVERIFIED_BYTES_MAX) {
                        atomic_fetch_sub(&unverified_bytes, *size);
                        fail(x, MHD_HTTP_TOO_MANY_REQUESTS,
                             api_error("throttled", NULL, "too many unverified request bytes in flight: retry later"));
                } else if (!x->rejected && buf_append(&x->body, data, *size) < 0) {
                        fail(x, MHD_HTTP_CONTENT_TOO_LARGE,
                             api_error("payload_too_large", NULL, "the body is larger than %zu bytes", x->body.max));
                } else if (!x->rejected && x->route == R_AGENTCORE) {
                        x->unverified += *size;
                }
                *size = 0;
                return MHD_YES;
        }
        if (x->rejected)
                return respond(c, x);
        switch (x->route) {
        case R_AGENTCORE:
                return agentcore(x, c, url, method);
        case R_MCP:
                return mcp(x, c, method);
        case R_HEALTH:
                return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
        case R_METRICS: {
                /* Anonymous scrapes (like the probes) see aggregates only; per-session series
                 * name sessions and tenants, so they need a key: an admin key of tenant
                 * default (the operator's) sees every tenant's, any other key its own
                 * tenant's. A key that is sent must be valid. */
                const char *per_session = NULL;
                if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) {
                        if (!authorized(c, &x->who)) {
                                fail(x, MHD_HTTP_UNAUTHORIZED,
                                     api_error("unauthorized", NULL, "invalid API key (Authorization: Bearer <key>)"));
                                return respond(c, x);
                        }
                        per_session = x->who.admin && !strcmp(x->who.tenant, "default") ? "*" : x->who.tenant;
                }
                struct buf b;
                buf_init(&b, 1u << 20);
                metrics_render(&b, per_session);
                struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data ? b.data : (void *)"",
                                                                         b.data ? MHD_RESPMEM_MUST_FREE
                                                                                : MHD_RESPMEM_PERSISTENT);
                MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                enum MHD_Result ret = queue(c, MHD_HTTP_OK, r);
                MHD_destroy_response(r);
                return ret;
        }
        case R_READY:
                if (launch_alive())
                        return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
                return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 api_error("unavailable", NULL, "the sandbox launcher is not running"));
        case R_SESSIONS:
                if (!strcmp(method, "POST"))
                        create_session(x);
                else {
                        x->status = MHD_HTTP_OK;
                        x->reply = json_pack("{s:o}", "sessions", sessions_list_json(x->who.tenant));
                }
                return respond(c, x);
        case R_SESSION: {
                json_t *s = NULL;
                if (!strcmp(method, "DELETE")) {
                        if (session_delete(x->session, &s) < 0)
                                s = NULL;
                        else
                                audit(x, "session.stop", x->session, NULL);
                } else {
                        s = session_get_json(x->session);
                }
                if (!s)
                        return send_json(c, MHD_HTTP_NOT_FOUND,
                                         api_error("session_not_found", NULL, "no session %s", x->session));
                return send_json(c, MHD_HTTP_OK, s);
        }
        case R_EXECUTE: {
                int queued = execute(x, c);
                return queued >= 0 ? (enum MHD_Result)queued : respond(c, x);
        }
        case R_FILES:
                list_files(x, c);
                return respond(c, x);
        case R_COMMANDS:
                run_command(x);
                return respond(c, x);
        case R_TASK:
                task(x, !strcmp(method, "DELETE"));
                return respond(c, x);
        case R_CONTEXTS:
        case R_CONTEXT:
        case R_CONTEXT_RESTART:
                contexts(x, method);
                return respond(c, x);
        case R_KEYS:
        case R_KEY:
                keys(x, method);
                return respond(c, x);
        case R_SECRETS:
        case R_SECRET:
                secrets(x, method);
                return respond(c, x);
        case R_INTERPRETERS:
        case R_INTERPRETER:
                interpreters(x, method);
                return respond(c, x);
        case R_RUNTIMES:
        case R_RUNTIME:
                runtimes(x);
                return respond(c, x);
        case R_TENANTS:
        case R_TENANT:
                tenants(x, method);
                return respond(c, x);
        case R_AUDIT:
        case R_AUDIT_VERIFY:
                return audit_log(x, c);
        case R_STATS:
                stats(x, c);
                return respond(c, x);
        case R_FILE:
                if (!strcmp(method, "GET"))
                        return download(x, c);
                if (!strcmp(method, "DELETE")) {
                        remove_file(x, c);
                        return respond(c, x);
                }
                /* PUT: the body went straight into the file */
                if (x->write_err) {
                        if (x->write_err == ENOSPC)
                                fail(x, MHD_HTTP_INSUFFICIENT_STORAGE,
                                     api_error("workspace_full", "path", "the workspace is full"));
                        else
                                fail(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                     api_error("internal", NULL, "write failed: %s", strerror(x->write_err)));
                        upload_abandon(x, json_integer(x->status));
                        return respond(c, x);
                }
                x->upload_started = false; /* complete: the file stays */
                if (ws_write_done(&x->up) != WS_OK) {
                        fail(x, MHD_HTTP_SERVICE_UNAVAILABLE,
                             api_error("unavailable", NULL, "the service cannot record the upload (its data dir is "
                                                            "full or failing): retry later"));
                        return respond(c, x);
                }
                x->status = MHD_HTTP_CREATED;
                x->reply = json_pack("{s:s, s:I}", "path", x->path, "size", (json_int_t)x->written);
                audit(x, "file.write", x->session, json_pack("{s:s, s:I}", "path", x->path, "size", (json_int_t)x->written));
                return respond(c, x);
        default:
                return MHD_NO;
        }
}

/* The access log (one JSON line a request, with its id and trace) and the end of its span. */
static void log_request(struct ctx *x, enum MHD_RequestTerminationCode toe) {
        double ms = (now_seconds() - x->started) * 1000.0;
        struct trace_ctx ids;
        trace_span_ids(x->span, &ids);
        trace_span_attr_int(x->span, "http.response.status_code", x->sent_status);
        if (x->who.tenant[0])
                trace_span_attr(x->span, "airlock.tenant", x->who.tenant);
        if (x->session[0])
                trace_span_attr(x->span, "airlock.session_id", x->session);
        if (x->sent_status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                trace_span_error(x->span);
        trace_close(x->span);
        x->span = NULL;
        json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:s, s:s}", "level",
                                 x->sent_status >= 500 ? "error" : "info", "msg", "request", "request_id",
                                 x->request_id, "method", x->method, "route", route_name(x->route), "path",
                                 x->path_logged, "status", (int)x->sent_status, "duration_ms", ms, "trace_id",
                                 ids.trace_id, "span_id", ids.span_id);
        if (line && x->who.key_id[0]) {
                json_object_set_new(line, "tenant", json_string(x->who.tenant));
                json_object_set_new(line, "key_id", json_string(x->who.key_id));
        }
        if (line && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                json_object_set_new(line, "aborted", json_true());
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(line);
        if (text)
                fprintf(stderr, "%s\n", text);
        free(text);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        (void)cls;
        guard_request_done(c);
        struct ctx *x = *con_cls;
        if (!x)
                return;
        if (x->upload_started)
                upload_abandon(x, json_string("aborted"));
        log_request(x, toe);
        release_unverified(x);
        buf_free(&x->body);
        json_decref(x->reply);
        free(x->raw_uri);
        free(x);
        *con_cls = NULL;
}

static int hexval(char ch) {
        return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decoding for paths and query values. MHD's own stops at a decoded NUL, which
 * would silently shorten "x%00y" to "x"; here a NUL becomes 0x01, a control character
 * that every path and id check refuses. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
        (void)cls;
        (void)c;
        char *out = s;
        for (const char *in = s; *in; in++) {
                int hi, lo;
                if (in[0] == '%' && (hi = hexval(in[1])) >= 0 && (lo = hexval(in[2])) >= 0) {
                        char v = (char)(hi * 16 + lo);
                        *out++ = v ? v : '\x01';
                        in += 2;
                } else {
                        *out++ = *in;
                }
        }
        *out = '\0';
        return (size_t)(out - s);
}

/* libmicrohttpd's own messages, as JSON lines like every other log line. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
        (void)cls;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        json_t *line = json_pack("{s:s, s:s, s:s}", "level", "warn", "msg", "http server", "detail", msg);
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(line);
        if (text)
                fprintf(stderr, "%s\n", text);
        free(text);
}

/* The server is up: its connections' guard starts too, or the server stops again. */
static int started(struct diag *d) {
        int r = guard_start(d);
        if (r < 0) {
                MHD_stop_daemon(mhd);
                mhd = NULL;
        }
        return r;
}

int http_start(const char *listen_addr, const char *tls_cert, const char *tls_key, struct diag *d) {
        char host[64];
        const char *colon = strrchr(listen_addr, ':');
        unsigned long long port;
        if (!colon || (size_t)(colon - listen_addr) >= sizeof(host) || parse_u64(colon + 1, &port) < 0 || port > 65535)
                return diag_set(d, -EINVAL, "listen", "expected ADDRESS:PORT, got '%s'", listen_addr);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_addr), listen_addr);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                return diag_set(d, -EINVAL, "listen", "'%s' is not an IPv4 address", host);
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        if (tls_cert) {
                /* HTTPS through libmicrohttpd's GnuTLS support; the PEM texts were read
                 * before privileges were dropped (main.c), so the files may stay root's. */
                if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                        return diag_set(d, -ENOTSUP, "tls_cert_file", "this libmicrohttpd was built without TLS");
                flags |= MHD_USE_TLS;
                mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                       MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
                                       notify_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
                                       unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                                       MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                                       MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONNECTIONS_PER_CLIENT,
                                       MHD_OPTION_HTTPS_MEM_CERT, tls_cert,
                                       MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_HTTPS_PRIORITIES,
                                       "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
                if (!mhd)
                        return diag_set(d, -EINVAL, "tls_cert_file",
                                        "cannot serve HTTPS on %s: the address is in use, or the certificate and key "
                                        "(PEM) do not load or do not match",
                                        listen_addr);
                return started(d);
        }
        mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                               MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
                               notify_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                               MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned)300, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                               MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONNECTIONS_PER_CLIENT, MHD_OPTION_END);
        if (!mhd)
                return diag_set(d, -EADDRINUSE, "listen", "cannot listen on %s", listen_addr);
        return started(d);
}

void http_stop(void) {
        guard_stop(); /* first: nothing is shut down while libmicrohttpd closes everything */
        if (mhd)
                MHD_stop_daemon(mhd);
        mhd = NULL;
}
