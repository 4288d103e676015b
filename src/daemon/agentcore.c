/* agentcore: AgentCore Code Interpreter operations on Airlock objects.
 *
 * Identifiers: `aws.codeinterpreter.v1` is the built-in interpreter `default`; any other
 * identifier names one of the tenant's interpreters. An AgentCore sessionId is the
 * Airlock session id without its "sess_" prefix (26 lower-case alphanumerics, inside
 * AgentCore's [0-9a-zA-Z]{1,40}). Errors are AWS's: the status, x-amzn-ErrorType and
 * {"message"} (ValidationException adds "reason"); user-code failures are results with
 * isError, never 5xx (botocore would retry, running the code again).
 */
#include "daemon/agentcore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/eventstream.h"
#include "daemon/requests.h"

#define BUILTIN_ID "aws.codeinterpreter.v1"
#define READ_TOTAL_MAX (20u << 20) /* readFiles: one event stays under botocore's 24 MiB */

void agentcore_error(struct ac_reply *r, unsigned status, const char *type, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_decref(r->json);
        r->status = status;
        snprintf(r->error_type, sizeof(r->error_type), "%s", type);
        /* Names from the request may be any bytes, and a cut may split a character: the
         * message is made valid UTF-8 rather than lost. */
        size_t used = 0;
        r->json = json_pack("{s:o}", "message", utf8_string(msg, strlen(msg), false, &used));
        if (!strcmp(type, "ValidationException"))
                json_object_set_new(r->json, "reason", json_string("FieldValidationFailed"));
}

void ac_reply_free(struct ac_reply *r) {
        json_decref(r->json);
        buf_free(&r->stream);
        r->json = NULL;
}

bool agentcore_path(const char *path) {
        return !strcmp(path, "/code-interpreters") || !strncmp(path, "/code-interpreters/", 19);
}

static void iso_now(char *out, size_t cap) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char base[24];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* The interpreter an identifier names, or NULL. */
static const char *interpreter_of(const char *ident, const struct identity *who, char *name, size_t cap) {
        if (!strcmp(ident, BUILTIN_ID) || !strcmp(ident, "default")) {
                snprintf(name, cap, "default");
                return name;
        }
        /* An id CreateCodeInterpreter gave ("<name>-<10 alphanumerics>"), or a name. */
        json_t *all = interpreters_list(who->tenant);
        size_t i;
        json_t *it;
        const char *found = NULL;
        json_array_foreach(all, i, it) {
                const char *id = json_string_value(json_object_get(it, "agentcore_id"));
                const char *n = json_string_value(json_object_get(it, "name"));
                if ((id && !strcmp(id, ident)) || (n && !strcmp(n, ident)))
                        found = n;
                if (found)
                        break;
        }
        size_t n = found ? strlen(found) : 0;
        if (found && n < cap)
                memcpy(name, found, n + 1);
        json_decref(all);
        return found && n < cap ? name : NULL;
}

/* AgentCore's CodeInterpreterSessionId: [0-9a-zA-Z]{1,40}. */
static bool valid_session_id(const char *sid) {
        size_t n = sid ? strlen(sid) : 0;
        return n >= 1 && n <= 40 &&
               strspn(sid, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* "sess_" + an AgentCore session id, when it could be one of ours. */
static bool native_id(const char *sid, char *out, size_t cap) {
        if (!sid || strlen(sid) != 26 || strspn(sid, "abcdefghijklmnopqrstuvwxyz0123456789") != 26)
                return false;
        snprintf(out, cap, "sess_%s", sid);
        return true;
}

/* A session of this tenant started from this interpreter (live or ended), or NULL. */
static json_t *find_session(const char *sid, const char *iname, const struct identity *who, char *native,
                            size_t cap) {
        if (!native_id(sid, native, cap))
                return NULL;
        json_t *s = session_get_json(native);
        if (!s)
                return NULL;
        if (strcmp(session_doc_tenant(s), who->tenant) != 0 ||
            strcmp(json_string_value(json_object_get(s, "interpreter")) ?: "", iname) != 0) {
                json_decref(s);
                return NULL; /* another tenant's is as good as none */
        }
        return s;
}

static json_t *parse_body(const struct ac_request *q, struct ac_reply *r) {
        if (q->body_len == 0)
                return json_object();
        json_error_t e;
        json_t *j = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &e);
        if (!json_is_object(j)) {
                json_decref(j);
                agentcore_error(r, 400, "ValidationException", "the body is not a JSON object: %s", e.text);
                return NULL;
        }
        return j;
}

static const char *session_name(json_t *s) {
        return json_string_value(json_object_get(json_object_get(s, "metadata"), "agentcore.name"));
}

/* ---- sessions ---- */

static void start(const struct ac_request *q, const char *ident, const char *iname, struct ac_reply *r) {
        json_t *body = parse_body(q, r);
        if (!body)
                return;
        json_t *name = json_object_get(body, "name"), *ttl = json_object_get(body, "sessionTimeoutSeconds");
        json_t *token = json_object_get(body, "clientToken");
        if (name && (!json_is_string(name) || json_string_length(name) < 1 || json_string_length(name) > 100))
                agentcore_error(r, 400, "ValidationException", "name: a string of 1 to 100 characters");
        else if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 || json_integer_value(ttl) > 28800))
                agentcore_error(r, 400, "ValidationException", "sessionTimeoutSeconds: an integer from 1 to 28800");
        else if (token && (!json_is_string(token) || json_string_length(token) < 33 || json_string_length(token) > 256))
                agentcore_error(r, 400, "ValidationException", "clientToken: 33 to 256 characters");
        if (r->status) {
                json_decref(body);
                return;
        }
        /* clientToken: the same request again is the same session. */
        if (token) {
                json_t *live = sessions_list_json(q->who->tenant);
                size_t i;
                json_t *s;
                json_array_foreach(live, i, s) {
                        const char *t = json_string_value(
                                json_object_get(json_object_get(s, "metadata"), "agentcore.client_token"));
                        const char *of = json_string_value(json_object_get(s, "interpreter"));
                        if (t && !strcmp(t, json_string_value(token)) && of && !strcmp(of, iname)) {
                                r->status = 200;
                                r->json = json_pack("{s:s, s:s, s:O}", "codeInterpreterIdentifier", ident, "sessionId",
                                                    json_string_value(json_object_get(s, "id")) + 5, "createdAt",
                                                    json_object_get(s, "created_at"));
                                break;
                        }
                }
                json_decref(live);
                if (r->status) {
                        json_decref(body);
                        return;
                }
        }
        json_t *req = json_pack("{s:s, s:{}}", "interpreter", iname, "metadata");
        json_t *meta = json_object_get(req, "metadata");
        json_object_set_new(meta, "agentcore.name", name ? json_incref(name) : json_string(""));
        if (token)
                json_object_set(meta, "agentcore.client_token", token);
        json_object_set_new(req, "timeout_seconds", json_integer(ttl ? json_integer_value(ttl) : 900));
        json_decref(body);
        json_t *s = NULL;
        struct diag d = {0};
        int rc = session_create(req, q->who->tenant, &s, &d);
        json_decref(req);
        if (rc == -EDQUOT)
                agentcore_error(r, 402, "ServiceQuotaExceededException", "%s", d.msg);
        else if (rc == -EINVAL)
                agentcore_error(r, 400, "ValidationException", "%s%s%s", d.field, d.field[0] ? ": " : "", d.msg);
        else if (rc < 0)
                agentcore_error(r, 500, "InternalServerException", "cannot start a session: %s", d.msg);
        else {
                char created[40];
                iso_now(created, sizeof(created));
                audit_record(q->who, NULL, json_string_value(json_object_get(s, "id")), "session.create",
                             json_pack("{s:s, s:s, s:s, s:i}", "api", "agentcore", "interpreter", iname, "request_id",
                                       q->request_id ? q->request_id : "", "status", 200));
                r->status = 200;
                r->json = json_pack("{s:s, s:s, s:s}", "codeInterpreterIdentifier", ident, "sessionId",
                                    json_string_value(json_object_get(s, "id")) + 5, "createdAt", created);
        }
        json_decref(s);
}

/* The session ?sessionId= names (Get, Stop), or NULL with the error in r. */
static json_t *queried_session(const struct ac_request *q, const char *sid, const char *ident, const char *iname,
                               char *native, size_t cap, struct ac_reply *r) {
        if (!valid_session_id(sid)) {
                agentcore_error(r, 400, "ValidationException", "sessionId: [0-9a-zA-Z]{1,40}");
                return NULL;
        }
        json_t *s = find_session(sid, iname, q->who, native, cap);
        if (!s)
                agentcore_error(r, 404, "ResourceNotFoundException", "no session %.64s in %s", sid, ident);
        return s;
}

static json_t *summary(json_t *s, const char *ident) {
        bool live = strcmp(json_string_value(json_object_get(s, "status")) ?: "", "ended") != 0;
        return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "codeInterpreterIdentifier", ident, "sessionId",
                         json_string_value(json_object_get(s, "id")) + 5, "name", session_name(s) ?: "", "status",
                         live ? "READY" : "TERMINATED", "createdAt", json_object_get(s, "created_at"),
                         "lastUpdatedAt", json_object_get(s, "created_at"));
}

static void get(const struct ac_request *q, const char *ident, const char *iname, struct ac_reply *r) {
        const char *sid = q->query(q->ctx, "sessionId");
        char native[48];
        json_t *s = queried_session(q, sid, ident, iname, native, sizeof(native), r);
        if (!s)
                return;
        json_t *out = summary(s, ident);
        json_object_del(out, "lastUpdatedAt");
        time_t created = 0, expires = 0;
        struct tm tm = {0};
        if (strptime(json_string_value(json_object_get(s, "created_at")) ?: "", "%Y-%m-%dT%H:%M:%SZ", &tm))
                created = timegm(&tm);
        memset(&tm, 0, sizeof(tm));
        if (strptime(json_string_value(json_object_get(s, "expires_at")) ?: "", "%Y-%m-%dT%H:%M:%SZ", &tm))
                expires = timegm(&tm);
        json_object_set_new(out, "sessionTimeoutSeconds", json_integer((json_int_t)(expires - created)));
        r->status = 200;
        r->json = out;
        json_decref(s);
}

static bool parse_offset(const char *s, long long *ret) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > 1000000)
                return false;
        *ret = v;
        return true;
}

static void list(const struct ac_request *q, const char *ident, const char *iname, struct ac_reply *r) {
        json_t *body = parse_body(q, r);
        if (!body)
                return;
        json_t *max = json_object_get(body, "maxResults"), *next = json_object_get(body, "nextToken");
        char status_text[16] = "";
        json_t *st = json_object_get(body, "status");
        if (st && (!json_is_string(st) || json_string_length(st) >= sizeof(status_text)))
                snprintf(status_text, sizeof(status_text), "?");
        else if (st)
                snprintf(status_text, sizeof(status_text), "%s", json_string_value(st));
        const char *status = st ? status_text : NULL; /* a copy: the body is freed below */
        long long limit = max ? json_integer_value(max) : 10, offset = 0;
        if (max && (!json_is_integer(max) || limit < 1 || limit > 100))
                agentcore_error(r, 400, "ValidationException", "maxResults: an integer from 1 to 100");
        else if (status && strcmp(status, "READY") != 0 && strcmp(status, "TERMINATED") != 0)
                agentcore_error(r, 400, "ValidationException", "status: READY or TERMINATED");
        else if (next && (!json_is_string(next) || !parse_offset(json_string_value(next), &offset)))
                agentcore_error(r, 400, "ValidationException", "nextToken: not one this server gave");
        json_decref(body);
        if (r->status)
                return;
        /* READY (live) sessions first, then TERMINATED (ended) ones, newest first; the
         * token is the offset into that order. One more than asked says whether there is
         * a next page. */
        json_t *all = json_array();
        bool ready = !status || !strcmp(status, "READY"), ended = !status || !strcmp(status, "TERMINATED");
        long long live_count = 0;
        if (ready) {
                json_t *live = sessions_list_json(q->who->tenant);
                size_t i;
                json_t *s;
                json_array_foreach(live, i, s) {
                        if (strcmp(json_string_value(json_object_get(s, "interpreter")) ?: "", iname) != 0)
                                continue;
                        if (live_count++ >= offset && (long long)json_array_size(all) <= limit)
                                json_array_append(all, s);
                }
                json_decref(live);
        }
        if (ended && (long long)json_array_size(all) <= limit) {
                long long skip = offset > live_count ? offset - live_count : 0;
                json_t *old = store_ended_sessions(q->who->tenant, iname, skip,
                                                   limit + 1 - (long long)json_array_size(all));
                json_array_extend(all, old);
                json_decref(old);
        }
        json_t *items = json_array();
        size_t i;
        json_t *s;
        json_array_foreach(all, i, s) {
                if ((long long)i < limit)
                        json_array_append_new(items, summary(s, ident));
        }
        r->status = 200;
        r->json = json_pack("{s:o}", "items", items);
        if ((long long)json_array_size(all) > limit) {
                char token[24];
                snprintf(token, sizeof(token), "%lld", offset + limit);
                json_object_set_new(r->json, "nextToken", json_string(token));
        }
        json_decref(all);
}

static void stop(const struct ac_request *q, const char *ident, const char *iname, struct ac_reply *r) {
        const char *sid = q->query(q->ctx, "sessionId");
        char native[48];
        json_t *s = queried_session(q, sid, ident, iname, native, sizeof(native), r);
        if (!s)
                return;
        json_decref(s);
        json_t *ended = NULL;
        (void)session_delete(native, &ended); /* stopping a stopped session is a no-op */
        json_decref(ended);
        audit_record(q->who, NULL, native, "session.stop", json_pack("{s:s, s:s}", "api", "agentcore", "request_id",
                                                                      q->request_id ? q->request_id : ""));
        char now[40];
        iso_now(now, sizeof(now));
        r->status = 200;
        r->json = json_pack("{s:s, s:s, s:s}", "codeInterpreterIdentifier", ident, "sessionId", sid, "lastUpdatedAt",
                            now);
}

/* ---- InvokeCodeInterpreter ---- */

/* A session layer failure as the AWS error a client expects. */
static void error_of(struct ac_reply *r, const struct diag *d) {
        if (d->code == -ENOENT || d->code == -ESRCH)
                agentcore_error(r, 404, "ResourceNotFoundException", "%s", d->msg);
        else if (d->code == -EINVAL || d->code == -EMSGSIZE)
                agentcore_error(r, 400, "ValidationException", "%s", d->msg);
        else if (d->code == -EBUSY || d->code == -EAGAIN || d->code == -EDQUOT)
                agentcore_error(r, 402, "ServiceQuotaExceededException", "%s", d->msg);
        else
                agentcore_error(r, 500, "InternalServerException", "%s", d->msg);
}

static json_t *text_block(const char *text) { return json_pack("{s:s, s:s}", "type", "text", "text", text); }

/* The one `result` event, as the stream body. */
static void result_event(struct ac_reply *r, json_t *content, json_t *structured, bool is_error) {
        json_t *res = json_pack("{s:o, s:b}", "content", content, "isError", is_error);
        if (structured)
                json_object_set_new(res, "structuredContent", structured);
        char *text = json_dumps(res, JSON_COMPACT);
        json_decref(res);
        static const char *const names[] = {":message-type", ":event-type", ":content-type"};
        static const char *const values[] = {"event", "result", "application/json"};
        buf_init(&r->stream, ES_PAYLOAD_MAX + 4096);
        if (!text || es_encode(&r->stream, names, values, 3, text, strlen(text)) < 0) {
                free(text);
                buf_free(&r->stream);
                /* Not a 5xx: botocore would retry, doing the work again. */
                agentcore_error(r, 400, "ValidationException",
                                "the result is larger than one event can carry (24 MiB): ask for less at a time");
                return;
        }
        free(text);
        r->status = 200;
        r->is_stream = true;
}

static const char *arg_string(json_t *args, const char *key, struct ac_reply *r, bool required) {
        json_t *v = json_object_get(args, key);
        if (!v && !required)
                return NULL;
        if (!json_is_string(v)) {
                agentcore_error(r, 400, "ValidationException", "arguments.%s: %s", key,
                                v ? "must be a string" : "is required");
                return NULL;
        }
        return json_string_value(v);
}

static void execute_code(const char *native, json_t *args, const struct ac_request *q, struct ac_reply *r) {
        const char *code = arg_string(args, "code", r, true);
        if (!code)
                return;
        const char *lang = arg_string(args, "language", r, false);
        const char *runtime = arg_string(args, "runtime", r, false);
        json_t *clear = json_object_get(args, "clearContext");
        if (r->status)
                return;
        if (lang && strcmp(lang, "python") != 0 && strcmp(lang, "javascript") != 0 && strcmp(lang, "typescript") != 0) {
                agentcore_error(r, 400, "ValidationException", "arguments.language: python, javascript or typescript");
                return;
        }
        if (runtime && strcmp(runtime, "python") != 0 && strcmp(runtime, "nodejs") != 0 && strcmp(runtime, "deno") != 0) {
                agentcore_error(r, 400, "ValidationException", "arguments.runtime: nodejs, deno or python");
                return;
        }
        if (clear && !json_is_boolean(clear)) {
                agentcore_error(r, 400, "ValidationException", "arguments.clearContext: must be a boolean");
                return;
        }
        struct exec_req er = {.code = code,
                              .code_len = json_string_length(json_object_get(args, "code")),
                              .language = lang ? lang : "python",
                              .clear = json_is_true(clear),
                              .who = q->who,
                              .request_id = q->request_id};
        json_t *out = NULL;
        struct diag d = {0};
        if (session_execute(native, &er, NULL, &out, &d) < 0) {
                error_of(r, &d);
                return;
        }
        const char *status = json_string_value(json_object_get(out, "status")) ?: "error";
        const char *stdout_text = json_string_value(json_object_get(out, "stdout")) ?: "";
        struct buf err;
        buf_init(&err, 4u << 20);
        (void)buf_printf(&err, "%s", json_string_value(json_object_get(out, "stderr")) ?: "");
        json_t *content = json_array();
        if (*stdout_text)
                json_array_append_new(content, text_block(stdout_text));
        /* Values and displays: images as image blocks, the rest as their text. */
        size_t i;
        json_t *res;
        json_array_foreach(json_object_get(out, "results"), i, res) {
                const char *png = json_string_value(json_object_get(res, "image/png"));
                const char *jpeg = json_string_value(json_object_get(res, "image/jpeg"));
                const char *plain = json_string_value(json_object_get(res, "text/plain"));
                if (png || jpeg)
                        json_array_append_new(content, json_pack("{s:s, s:s, s:s}", "type", "image", "data",
                                                                 png ? png : jpeg, "mimeType",
                                                                 png ? "image/png" : "image/jpeg"));
                else if (plain)
                        json_array_append_new(content, text_block(plain));
        }
        json_t *error = json_object_get(out, "error");
        if (json_is_object(error)) {
                json_t *tb = json_object_get(error, "traceback");
                json_t *line;
                json_array_foreach(tb, i, line) {
                        (void)buf_printf(&err, "%s", json_string_value(line) ?: "");
                }
                if (!json_array_size(tb))
                        (void)buf_printf(&err, "%s: %s\n", json_string_value(json_object_get(error, "name")) ?: "Error",
                                         json_string_value(json_object_get(error, "value")) ?: "");
        }
        const char *killed = json_string_value(json_object_get(out, "killed_reason"));
        if (!strcmp(status, "timeout"))
                (void)buf_printf(&err, "TimeoutError: the execution did not end within its time limit\n");
        else if (killed)
                (void)buf_printf(&err, "Killed: %s\n", killed);
        bool failed = strcmp(status, "ok") != 0;
        if (failed && err.len)
                json_array_append_new(content, text_block(err.data));
        json_t *structured = json_pack("{s:s, s:s%, s:i, s:f}", "stdout", stdout_text, "stderr", err.data ? err.data : "",
                                       err.len, "exitCode", failed ? 1 : 0, "executionTime",
                                       json_number_value(json_object_get(out, "duration_ms")) / 1000.0);
        buf_free(&err);
        json_decref(out);
        result_event(r, content, structured, failed);
}

static void execute_command(const char *native, json_t *args, bool background, const struct ac_request *q,
                            struct ac_reply *r) {
        const char *cmd = arg_string(args, "command", r, true);
        if (!cmd)
                return;
        json_t *req = json_pack("{s:s, s:b}", "command", cmd, "background", background);
        if (!background)
                json_object_set_new(req, "timeout_seconds", json_integer(900)); /* AgentCore's request limit */
        json_t *out = NULL;
        bool bg = false;
        struct diag d = {0};
        int rc = session_command(native, req, &out, &bg, &d);
        json_decref(req);
        audit_record(q->who, NULL, native, "command", json_pack("{s:s, s:b, s:s}", "api", "agentcore", "background",
                                                                 background, "request_id",
                                                                 q->request_id ? q->request_id : ""));
        if (rc < 0) {
                error_of(r, &d);
                return;
        }
        if (background) {
                json_t *content = json_pack("[o]", text_block("Successfully started a command execution task"));
                json_t *st = json_pack("{s:O, s:s, s:s, s:s}", "taskId", json_object_get(out, "task_id"), "taskStatus",
                                       "submitted", "stdout", "", "stderr", "");
                json_decref(out);
                result_event(r, content, st, false);
                return;
        }
        json_t *code = json_object_get(out, "exit_code");
        int exit_code = json_is_integer(code) ? (int)json_integer_value(code)
                                              : 128 + (int)json_integer_value(json_object_get(out, "signal"));
        const char *so = json_string_value(json_object_get(out, "stdout")) ?: "";
        const char *se = json_string_value(json_object_get(out, "stderr")) ?: "";
        json_t *content = json_array();
        json_array_append_new(content, text_block(*so || !*se ? so : se));
        json_t *st = json_pack("{s:s, s:s, s:i, s:f}", "stdout", so, "stderr", se, "exitCode", exit_code,
                               "executionTime", json_number_value(json_object_get(out, "duration_ms")) / 1000.0);
        json_decref(out);
        result_event(r, content, st, exit_code != 0);
}

static void task(const char *native, json_t *args, bool stop_it, struct ac_reply *r) {
        const char *id = arg_string(args, "taskId", r, true);
        if (!id)
                return;
        json_t *out = NULL;
        struct diag d = {0};
        if (strlen(id) > 64 || session_task(native, id, stop_it, &out, &d) < 0) {
                agentcore_error(r, 404, "ResourceNotFoundException", "no task %.64s", id);
                return;
        }
        const char *s = json_string_value(json_object_get(out, "status")) ?: "";
        json_t *code = json_object_get(out, "exit_code");
        const char *ts = !strcmp(s, "running")                                  ? "working"
                         : stop_it || !strcmp(s, "killed")                      ? "canceled"
                         : !strcmp(s, "exited") && json_integer_value(code) == 0 ? "completed"
                                                                                 : "failed";
        if (stop_it) {
                json_decref(out);
                result_event(r, json_pack("[o]", text_block("Successfully canceled a command execution task")), NULL,
                             false);
                return;
        }
        char text[64];
        snprintf(text, sizeof(text), "Task is %s", ts);
        json_t *st = json_pack("{s:s, s:s, s:O, s:O}", "taskId", id, "taskStatus", ts, "stdout",
                               json_object_get(out, "stdout"), "stderr", json_object_get(out, "stderr"));
        if (json_is_integer(code))
                json_object_set(st, "exitCode", code);
        json_decref(out);
        result_event(r, json_pack("[o]", text_block(text)), st, false);
}

/* ---- files: the session's workspace, paths relative to it ---- */

static int file_op(uint64_t sandbox, uint8_t op, uint8_t flags, uint32_t mode, const char *path, struct lreply *rep) {
        int rc = launch_file(sandbox, op, flags, mode, path, rep);
        if (rc < 0)
                return rc;
        return rep->type == LP_ERROR ? rep->err.code : 0;
}

/* Bytes a JSON string of d takes: quotes and backslashes escaped in two, other control
 * characters in up to six. */
static size_t json_escaped_size(const unsigned char *d, size_t n) {
        size_t size = 2;
        for (size_t i = 0; i < n; i++)
                size += d[i] == '"' || d[i] == '\\' ? 2 : d[i] < 0x20 ? 6 : 1;
        return size;
}

static void files(const char *native, const char *tool, json_t *args, const struct ac_request *q, struct ac_reply *r) {
        uint64_t sandbox;
        int rc = session_sandbox(native, &sandbox);
        if (rc < 0) {
                agentcore_error(r, 404, "ResourceNotFoundException", "session %s has ended or never was", native + 5);
                return;
        }
        char path[LP_PATH_MAX];
        json_t *content = json_array();
        bool is_error = false;
        size_t i, total = 0;
        json_t *v;
        if (!strcmp(tool, "writeFiles")) {
                json_t *items = json_object_get(args, "content");
                if (!json_is_array(items) || !json_array_size(items)) {
                        json_decref(content);
                        agentcore_error(r, 400, "ValidationException", "arguments.content: a list of {path, text|blob}");
                        return;
                }
                json_array_foreach(items, i, v) {
                        const char *p = json_string_value(json_object_get(v, "path"));
                        json_t *text = json_object_get(v, "text"), *blob = json_object_get(v, "blob");
                        if (!p || !workspace_path(p, path, sizeof(path), false) || (!text == !blob) ||
                            (text && !json_is_string(text)) || (blob && !json_is_string(blob))) {
                                json_decref(content);
                                agentcore_error(r, 400, "ValidationException",
                                                "arguments.content[%zu]: a workspace path and one of text or blob", i);
                                return;
                        }
                }
                size_t written = 0;
                json_array_foreach(items, i, v) {
                        workspace_path(json_string_value(json_object_get(v, "path")), path, sizeof(path), false);
                        json_t *text = json_object_get(v, "text");
                        size_t len = 0;
                        unsigned char *bytes = text ? NULL
                                                    : b64_decode(json_string_value(json_object_get(v, "blob")),
                                                                 json_string_length(json_object_get(v, "blob")), &len);
                        const void *data = text ? (const void *)json_string_value(text) : bytes;
                        if (text)
                                len = json_string_length(text);
                        /* Journaled (workspace.c): a daemon killed mid-write leaves no
                         * half-written file. */
                        struct lreply rep;
                        enum ws_status ws = !text && !bytes ? WS_FAILED
                                                            : ws_write_file(native, sandbox, 0644, path, data, len, &rep);
                        const char *why = !text && !bytes         ? "the blob is not base64"
                                          : ws == WS_UNRECORDED  ? "the service cannot record the write (its data dir "
                                                                   "is full or failing): retry later"
                                          : ws == WS_NO_LAUNCHER ? "the sandbox launcher is unavailable"
                                          : ws == WS_FAILED      ? strerror(-rep.err.code)
                                                                 : NULL;
                        free(bytes);
                        audit_record(q->who, NULL, native, "file.write",
                                     json_pack("{s:s, s:I, s:s, s:i}", "path", path, "size", (json_int_t)len, "api",
                                               "agentcore", "status",
                                               ws == WS_OK ? 200 : ws == WS_FAILED ? 400 : 503));
                        if (ws != WS_OK) {
                                char msg[LP_PATH_MAX + 64 + 128];
                                snprintf(msg, sizeof(msg), "Failed to write %s: %s", path, why);
                                json_array_append_new(content, text_block(msg));
                                is_error = true;
                        } else {
                                written++;
                        }
                }
                if (!is_error) {
                        char msg[64];
                        snprintf(msg, sizeof(msg), "Successfully wrote all %zu files", written);
                        json_array_append_new(content, text_block(msg));
                }
        } else if (!strcmp(tool, "readFiles") || !strcmp(tool, "removeFiles")) {
                json_t *paths = json_object_get(args, "paths");
                bool read = !strcmp(tool, "readFiles");
                if (!json_is_array(paths) || !json_array_size(paths)) {
                        json_decref(content);
                        agentcore_error(r, 400, "ValidationException", "arguments.paths: a list of paths");
                        return;
                }
                size_t done = 0;
                json_array_foreach(paths, i, v) {
                        const char *p = json_string_value(v);
                        char uri[LP_PATH_MAX + 16], msg[LP_PATH_MAX + 64];
                        if (!p || !workspace_path(p, path, sizeof(path), false)) {
                                snprintf(msg, sizeof(msg), "Invalid path: %.1024s", p ? p : "(not a string)");
                                json_array_append_new(content, text_block(msg));
                                is_error = true;
                                continue;
                        }
                        snprintf(uri, sizeof(uri), "file:///%s", path);
                        struct lreply rep;
                        rc = file_op(sandbox, read ? LP_FILE_READ : LP_FILE_REMOVE, read ? 0 : LP_FILE_RECURSIVE, 0,
                                     path, &rep);
                        audit_record(q->who, NULL, native, read ? "file.read" : "file.delete",
                                     json_pack("{s:s, s:s, s:i}", "path", path, "api", "agentcore", "status",
                                               rc == 0 ? 200 : 404));
                        if (rc < 0) {
                                snprintf(msg, sizeof(msg), "%s %s: %s", read ? "Cannot read" : "Cannot remove", path,
                                         rc == -ENOENT ? "no such file" : strerror(-rc));
                                json_array_append_new(content, text_block(msg));
                                is_error = true;
                                continue;
                        }
                        if (!read) {
                                done++;
                                continue;
                        }
                        if (rep.nfds != 1) {
                                for (size_t f = 0; f < rep.nfds; f++)
                                        close(rep.fds[f]);
                                snprintf(msg, sizeof(msg), "Cannot read %s", path);
                                json_array_append_new(content, text_block(msg));
                                is_error = true;
                                continue;
                        }
                        _cleanup_close_ int fd = rep.fds[0];
                        struct stat st;
                        char too_big[LP_PATH_MAX + 96];
                        snprintf(too_big, sizeof(too_big), "Cannot read %s: over the %u MiB one reply can carry",
                                 path, READ_TOTAL_MAX >> 20);
                        if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > READ_TOTAL_MAX - total) {
                                json_array_append_new(content, text_block(too_big));
                                is_error = true;
                                continue;
                        }
                        unsigned char *data = malloc((size_t)st.st_size + 1);
                        ssize_t n = data ? pread(fd, data, (size_t)st.st_size, 0) : -1;
                        if (n < 0) {
                                free(data);
                                snprintf(msg, sizeof(msg), "Cannot read %s: %s", path, strerror(errno));
                                json_array_append_new(content, text_block(msg));
                                is_error = true;
                                continue;
                        }
                        json_t *res = json_pack("{s:s, s:s}", "uri", uri, "mimeType", mime_of(path));
                        /* What it costs in the event once encoded (base64, or JSON escapes). */
                        size_t cost;
                        if (utf8_text(data, (size_t)n)) {
                                json_object_set_new(res, "type", json_string("text"));
                                json_object_set_new(res, "text", json_stringn((const char *)data, (size_t)n));
                                cost = json_escaped_size(data, (size_t)n);
                        } else {
                                char *b64 = b64_encode(data, (size_t)n);
                                json_object_set_new(res, "type", json_string("blob"));
                                json_object_set_new(res, "blob", json_string(b64 ? b64 : ""));
                                free(b64);
                                cost = 4 * (((size_t)n + 2) / 3);
                        }
                        free(data);
                        if (cost > READ_TOTAL_MAX - total) {
                                json_decref(res);
                                json_array_append_new(content, text_block(too_big));
                                is_error = true;
                                continue;
                        }
                        total += cost;
                        done++;
                        json_array_append_new(content, json_pack("{s:s, s:o}", "type", "resource", "resource", res));
                }
                if (!read && !is_error) {
                        char msg[64];
                        snprintf(msg, sizeof(msg), "Successfully removed all %zu files", done);
                        json_array_append_new(content, text_block(msg));
                }
        } else { /* listFiles: `directoryPath` (the docs, LangChain) or `path` (the service, Strands) */
                const char *p = json_string_value(json_object_get(args, "directoryPath"));
                if (!p)
                        p = json_string_value(json_object_get(args, "path"));
                if (!workspace_path(p ? p : "", path, sizeof(path), true)) {
                        json_decref(content);
                        agentcore_error(r, 400, "ValidationException", "arguments.path: a directory in the workspace");
                        return;
                }
                struct lreply rep;
                rc = file_op(sandbox, LP_FILE_LIST, 0, 0, path, &rep);
                if (rc < 0 || rep.nfds != 1) {
                        char msg[LP_PATH_MAX + 64];
                        snprintf(msg, sizeof(msg), "Cannot list %s: %s", path[0] ? path : ".",
                                 rc == -ENOENT ? "no such directory" : strerror(rc < 0 ? -rc : EIO));
                        json_array_append_new(content, text_block(msg));
                        is_error = true;
                } else {
                        _cleanup_close_ int fd = rep.fds[0];
                        struct stat st;
                        size_t size = fstat(fd, &st) == 0 && st.st_size < (64 << 20) ? (size_t)st.st_size : 0;
                        _cleanup_free_ char *data = malloc(size + 1);
                        ssize_t n = data ? pread(fd, data, size, 0) : -1;
                        struct lp_dirent de;
                        const char *raw;
                        for (size_t off = 0; n > 0 && lp_dirent_next(data, (size_t)n, &off, &de, &raw);) {
                                char name[LP_PATH_MAX], uri[2 * LP_PATH_MAX + 16];
                                snprintf(name, sizeof(name), "%.*s", (int)de.name_len, raw);
                                snprintf(uri, sizeof(uri), "file:///%s%s%s", path, path[0] ? "/" : "", name);
                                json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "type", "resource_link", "uri", uri, "name",
                                                      name, "description", de.type == LP_FT_DIR ? "Directory" : "File");
                                if (de.type != LP_FT_DIR) {
                                        json_object_set_new(b, "mimeType", json_string(mime_of(name)));
                                        json_object_set_new(b, "size", json_integer((json_int_t)de.size));
                                }
                                json_array_append_new(content, b);
                        }
                }
                audit_record(q->who, NULL, native, "file.list",
                             json_pack("{s:s, s:s, s:i}", "path", path, "api", "agentcore", "status", is_error ? 404 : 200));
        }
        result_event(r, content, NULL, is_error);
}

static void invoke(const struct ac_request *q, const char *ident, const char *iname, struct ac_reply *r) {
        (void)ident;
        const char *sid = q->session_header;
        char native[48];
        if (!valid_session_id(sid)) {
                agentcore_error(r, 400, "ValidationException",
                                "the x-amzn-code-interpreter-session-id header must be a session id ([0-9a-zA-Z]{1,40})");
                return;
        }
        json_t *s = find_session(sid, iname, q->who, native, sizeof(native));
        bool live = s && strcmp(json_string_value(json_object_get(s, "status")) ?: "", "ended") != 0;
        json_decref(s);
        if (!live) {
                agentcore_error(r, 404, "ResourceNotFoundException", "session %.64s does not exist or has been terminated",
                                sid);
                return;
        }
        snprintf(r->session_id, sizeof(r->session_id), "%s", sid);
        json_t *body = parse_body(q, r);
        if (!body)
                return;
        const char *tool = json_string_value(json_object_get(body, "name"));
        json_t *args = json_object_get(body, "arguments"); /* absent: {} */
        json_t *empty = json_object();
        if (!args)
                args = empty;
        if (!tool)
                agentcore_error(r, 400, "ValidationException", "name: the tool's name is required");
        else if (!json_is_object(args))
                agentcore_error(r, 400, "ValidationException", "arguments: must be an object");
        else if (!strcmp(tool, "executeCode"))
                execute_code(native, args, q, r);
        else if (!strcmp(tool, "executeCommand") || !strcmp(tool, "startCommandExecution"))
                execute_command(native, args, !strcmp(tool, "startCommandExecution"), q, r);
        else if (!strcmp(tool, "getTask") || !strcmp(tool, "stopTask"))
                task(native, args, !strcmp(tool, "stopTask"), r);
        else if (!strcmp(tool, "writeFiles") || !strcmp(tool, "readFiles") || !strcmp(tool, "listFiles") ||
                 !strcmp(tool, "removeFiles"))
                files(native, tool, args, q, r);
        else
                agentcore_error(r, 400, "ValidationException",
                                "name: executeCode, executeCommand, readFiles, listFiles, removeFiles, writeFiles, "
                                "startCommandExecution, getTask or stopTask; got '%.64s'",
                                tool);
        json_decref(empty);
        json_decref(body);
}

/* ---- the control plane: CreateCodeInterpreter and friends, on Airlock interpreters ---- */

/* A 12-digit "account" per tenant, stable, for ARNs. */
static void account_of(const char *tenant, char out[13]) {
        char sha[65];
        sha256_hex(tenant, strlen(tenant), sha);
        for (int i = 0; i < 12; i++)
                out[i] = (char)('0' + (unsigned char)sha[i] % 10);
        out[12] = '\0';
}

static json_t *ci_doc(json_t *it, const struct ac_request *q, bool summary) {
        const char *name = json_string_value(json_object_get(it, "name")) ?: "";
        bool builtin = json_is_true(json_object_get(it, "builtin"));
        const char *id = builtin ? BUILTIN_ID : json_string_value(json_object_get(it, "agentcore_id")) ?: name;
        char arn[256], account[13];
        account_of(q->who->tenant, account);
        snprintf(arn, sizeof(arn), "arn:aws:bedrock-agentcore:%s:%s:code-interpreter%s/%s", q->region ? q->region : "us-east-1",
                 builtin ? "aws" : account, builtin ? "" : "-custom", id);
        const char *mode = json_string_value(json_object_get(json_object_get(it, "network"), "mode")) ?: "none";
        const char *desc = json_string_value(json_object_get(it, "description")) ?: "";
        json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "codeInterpreterId", id, "codeInterpreterArn", arn,
                              "name", builtin ? "Amazon Bedrock AgentCore Code Interpreter" : name, "status", "READY",
                              "createdAt", json_object_get(it, "created_at"), "lastUpdatedAt",
                              json_object_get(it, "updated_at"));
        if (*desc)
                json_object_set_new(d, "description", json_string(desc));
        if (!summary) {
                json_object_set_new(d, "networkConfiguration",
                                    json_pack("{s:s}", "networkMode", !strcmp(mode, "public") ? "PUBLIC" : "SANDBOX"));
                json_t *role = json_object_get(json_object_get(it, "agentcore"), "executionRoleArn");
                if (role)
                        json_object_set(d, "executionRoleArn", role);
        }
        return d;
}

static bool pattern_name(const char *s) {
        size_t n = s ? strlen(s) : 0;
        bool ok = n >= 1 && n <= 48 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
        for (size_t i = 1; ok && i < n; i++)
                ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                     s[i] == '_';
        return ok;
}

static void ci_create(const struct ac_request *q, struct ac_reply *r) {
        if (!q->who->admin) {
                agentcore_error(r, 403, "AccessDeniedException", "creating a code interpreter takes an admin key");
                return;
        }
        json_t *body = parse_body(q, r);
        if (!body)
                return;
        const char *name = json_string_value(json_object_get(body, "name"));
        json_t *desc = json_object_get(body, "description"), *role = json_object_get(body, "executionRoleArn");
        json_t *net = json_object_get(body, "networkConfiguration");
        const char *mode = json_string_value(json_object_get(net, "networkMode"));
        if (!pattern_name(name))
                agentcore_error(r, 400, "ValidationException", "name: [a-zA-Z][a-zA-Z0-9_]{0,47}");
        else if (desc && (!json_is_string(desc) || json_string_length(desc) < 1 || json_string_length(desc) > 4096))
                agentcore_error(r, 400, "ValidationException", "description: 1 to 4096 characters");
        else if (role && (!json_is_string(role) || json_string_length(role) > 2048 ||
                          strncmp(json_string_value(role), "arn:aws", 7) != 0))
                agentcore_error(r, 400, "ValidationException", "executionRoleArn: an IAM role ARN");
        else if (!mode)
                agentcore_error(r, 400, "ValidationException", "networkConfiguration.networkMode is required");
        else if (strcmp(mode, "SANDBOX") != 0 && strcmp(mode, "PUBLIC") != 0 && strcmp(mode, "VPC") != 0)
                agentcore_error(r, 400, "ValidationException", "networkConfiguration.networkMode: PUBLIC, SANDBOX or VPC");
        else if (!strcmp(mode, "VPC"))
                agentcore_error(r, 400, "ValidationException",
                                "networkMode VPC has no equivalent on a self-hosted Airlock: use SANDBOX or PUBLIC");
        if (r->status) {
                json_decref(body);
                return;
        }
        /* clientToken: the same create again is the same interpreter. */
        json_t *exists = interpreter_get(q->who->tenant, name);
        const char *token = json_string_value(json_object_get(body, "clientToken"));
        const char *had = json_string_value(json_object_get(json_object_get(exists, "agentcore"), "clientToken"));
        if (exists && token && had && !strcmp(token, had)) {
                r->status = 202;
                json_t *d = ci_doc(exists, q, false);
                r->json = json_pack("{s:O, s:O, s:O, s:s}", "codeInterpreterId", json_object_get(d, "codeInterpreterId"),
                                    "codeInterpreterArn", json_object_get(d, "codeInterpreterArn"), "createdAt",
                                    json_object_get(d, "createdAt"), "status", "READY");
                json_decref(d);
                json_decref(exists);
                json_decref(body);
                return;
        }
        json_decref(exists);
        char suffix[40], id[96];
        random_id("", suffix, sizeof(suffix));
        snprintf(id, sizeof(id), "%s-%.10s", name, suffix);
        json_t *req = json_pack("{s:s, s:s, s:{s:s}}", "name", name, "description", desc ? json_string_value(desc) : "",
                                "network", "mode", !strcmp(mode, "PUBLIC") ? "public" : "none");
        json_t *it = NULL;
        struct diag d = {0};
        int rc = interpreter_create(q->who->tenant, req, &it, &d);
        json_decref(req);
        if (rc == -EEXIST)
                agentcore_error(r, 409, "ConflictException", "a code interpreter named %s exists", name);
        else if (rc == -ENOTSUP)
                agentcore_error(r, 400, "ValidationException", "networkMode %s: %s", mode, d.msg);
        else if (rc < 0)
                agentcore_error(r, 400, "ValidationException", "%s", d.msg);
        if (rc < 0) {
                json_decref(body);
                return;
        }
        /* What AgentCore knows it by, kept with the interpreter. */
        json_t *extra = json_pack("{s:s, s:{}}", "agentcore_id", id, "agentcore");
        json_t *ac = json_object_get(extra, "agentcore");
        if (role)
                json_object_set(ac, "executionRoleArn", role);
        if (token)
                json_object_set_new(ac, "clientToken", json_string(token));
        if (json_object_get(body, "tags"))
                json_object_set(ac, "tags", json_object_get(body, "tags"));
        json_object_update(it, extra);
        json_decref(extra);
        (void)store_interpreter_put(q->who->tenant, name, it, false);
        audit_record(q->who, NULL, NULL, "interpreter.create",
                     json_pack("{s:s, s:s, s:s, s:i}", "interpreter", name, "api", "agentcore", "request_id",
                               q->request_id ? q->request_id : "", "status", 202));
        json_t *doc = ci_doc(it, q, false);
        r->status = 202;
        r->json = json_pack("{s:O, s:O, s:O, s:s}", "codeInterpreterId", json_object_get(doc, "codeInterpreterId"),
                            "codeInterpreterArn", json_object_get(doc, "codeInterpreterArn"), "createdAt",
                            json_object_get(doc, "createdAt"), "status", "READY");
        json_decref(doc);
        json_decref(it);
        json_decref(body);
}

static void ci_list(const struct ac_request *q, struct ac_reply *r) {
        const char *type = q->query(q->ctx, "type"), *max = q->query(q->ctx, "maxResults"),
                   *next = q->query(q->ctx, "nextToken");
        long long limit = 10, offset = 0;
        if (type && strcmp(type, "SYSTEM") != 0 && strcmp(type, "CUSTOM") != 0) {
                agentcore_error(r, 400, "ValidationException", "type: SYSTEM or CUSTOM");
                return;
        }
        if ((max && (!parse_offset(max, &limit) || limit < 1 || limit > 100)) || (next && !parse_offset(next, &offset))) {
                agentcore_error(r, 400, "ValidationException", "maxResults: 1 to 100; nextToken: one this server gave");
                return;
        }
        json_t *all = interpreters_list(q->who->tenant), *items = json_array();
        size_t i;
        json_t *it;
        long long seen = 0;
        bool more = false;
        json_array_foreach(all, i, it) {
                bool builtin = json_is_true(json_object_get(it, "builtin"));
                if (type && builtin != !strcmp(type, "SYSTEM"))
                        continue;
                if (seen++ < offset)
                        continue;
                if ((long long)json_array_size(items) == limit) {
                        more = true;
                        break;
                }
                json_array_append_new(items, ci_doc(it, q, true));
        }
        json_decref(all);
        r->status = 200;
        r->json = json_pack("{s:o}", "codeInterpreterSummaries", items);
        if (more) {
                char t[24];
                snprintf(t, sizeof(t), "%lld", offset + limit);
                json_object_set_new(r->json, "nextToken", json_string(t));
        }
}

static void ci_get_or_delete(const struct ac_request *q, const char *ident, struct ac_reply *r) {
        char iname[64];
        json_t *it = interpreter_of(ident, q->who, iname, sizeof(iname)) ? interpreter_get(q->who->tenant, iname) : NULL;
        if (!it) {
                agentcore_error(r, 404, "ResourceNotFoundException", "no code interpreter %.64s", ident);
                return;
        }
        if (!strcmp(q->method, "GET")) {
                r->status = 200;
                r->json = ci_doc(it, q, false);
                json_decref(it);
                return;
        }
        json_decref(it);
        if (!q->who->admin) {
                agentcore_error(r, 403, "AccessDeniedException", "deleting a code interpreter takes an admin key");
                return;
        }
        struct diag d = {0};
        int rc = interpreter_delete(q->who->tenant, iname, &d);
        if (rc == -EBUSY || rc == -EPERM)
                agentcore_error(r, 409, "ConflictException", "%s", d.msg);
        else if (rc < 0)
                agentcore_error(r, 404, "ResourceNotFoundException", "%s", d.msg);
        else {
                audit_record(q->who, NULL, NULL, "interpreter.delete",
                             json_pack("{s:s, s:s, s:s, s:i}", "interpreter", iname, "api", "agentcore", "request_id",
                                       q->request_id ? q->request_id : "", "status", 202));
                char now[40];
                iso_now(now, sizeof(now));
                r->status = 202;
                r->json = json_pack("{s:s, s:s, s:s}", "codeInterpreterId", ident, "status", "DELETED", "lastUpdatedAt",
                                    now);
        }
}

void agentcore_handle(const struct ac_request *q, struct ac_reply *r) {
        memset(r, 0, sizeof(*r));
        /* /code-interpreters/{id}/sessions/{start,get,list,stop} and /tools/invoke */
        const char *rest = q->path + strlen("/code-interpreters");
        if (*rest == '\0' || !strcmp(rest, "/")) {
                if (!strcmp(q->method, "PUT"))
                        ci_create(q, r);
                else if (!strcmp(q->method, "POST"))
                        ci_list(q, r);
                else
                        agentcore_error(r, 405, "ValidationException", "%s /code-interpreters is not an operation",
                                        q->method);
                return;
        }
        rest++;
        if (!strchr(rest, '/')) { /* GetCodeInterpreter, DeleteCodeInterpreter */
                if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "DELETE") != 0)
                        agentcore_error(r, 405, "ValidationException", "%s is not an operation here", q->method);
                else if (strlen(rest) > 100)
                        agentcore_error(r, 404, "ResourceNotFoundException", "no such code interpreter");
                else
                        ci_get_or_delete(q, rest, r);
                return;
        }
        char ident[128];
        size_t n = strcspn(rest, "/");
        if (n == 0 || n >= sizeof(ident)) {
                agentcore_error(r, 404, "ResourceNotFoundException", "no such code interpreter");
                return;
        }
        memcpy(ident, rest, n);
        ident[n] = '\0';
        const char *op = rest + n;
        char iname[64];
        if (!interpreter_of(ident, q->who, iname, sizeof(iname))) {
                agentcore_error(r, 404, "ResourceNotFoundException", "no code interpreter %.64s", ident);
                return;
        }
        if (!q->who->sessions) {
                agentcore_error(r, 403, "AccessDeniedException", "this key (%s) lacks the sessions scope", q->who->key_id);
                return;
        }
        struct {
                const char *method, *op;
                void (*fn)(const struct ac_request *, const char *, const char *, struct ac_reply *);
        } routes[] = {{"PUT", "/sessions/start", start}, {"GET", "/sessions/get", get}, {"POST", "/sessions/list", list},
                      {"PUT", "/sessions/stop", stop},   {"POST", "/tools/invoke", invoke}};
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
                if (strcmp(op, routes[i].op) != 0)
                        continue;
                if (strcmp(q->method, routes[i].method) != 0) {
                        agentcore_error(r, 405, "ValidationException", "%s %s is not an operation", q->method, op);
                        return;
                }
                routes[i].fn(q, ident, iname, r);
                return;
        }
        agentcore_error(r, 404, "ResourceNotFoundException", "no operation %.64s", op);
}
