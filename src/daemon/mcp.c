/* mcp: see mcp.h and docs/mcp.md.
 *
 * An MCP session is made by initialize and named by its Mcp-Session-Id ("mcp_" and 26
 * random characters); it belongs to the API key that made it, and any other key is told
 * it does not exist. It may own one Airlock session, its default session: the tools use
 * it when they are not given a session_id, start it on first use (again, when it has
 * ended) and stop it when the MCP session ends (DELETE, idle expiry, eviction).
 *
 * Everything a tool does goes through the session layer, as for the REST API, and is
 * audited with "api": "mcp". A failure the model can act on (bad arguments, an unknown or
 * ended session, code that raised) is a tool result with isError, never a JSON-RPC error:
 * JSON-RPC errors are for messages this server cannot take at all.
 */
#include "daemon/mcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#define TEXT_MAX (64u << 20) /* one tool result's text: the execution's own caps keep it far below */

struct mcp_session {
        bool used;
        char id[40];
        struct identity who; /* the key it belongs to */
        char version[16];
        char default_sid[40]; /* "" until a tool needs it */
        double last_used;
};

static struct {
        pthread_mutex_t lock;
        struct mcp_session s[MCP_SESSIONS_MAX];
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the table of MCP sessions ---- */

/* A new MCP session for who; -EAGAIN when the table is full. When the key has
 * MCP_SESSIONS_PER_KEY already (or its tenant MCP_SESSIONS_PER_TENANT), its (the tenant's)
 * least recently used one ends to make room (its default session, if any, is in *evicted
 * for the caller to stop). */
static int table_add(const struct identity *who, const char *version, char id[40], struct mcp_session *evicted) {
        memset(evicted, 0, sizeof(*evicted));
        pthread_mutex_lock(&M.lock);
        struct mcp_session *free_slot = NULL, *oldest = NULL, *tenant_oldest = NULL;
        int mine = 0, tenants = 0;
        for (size_t i = 0; i < MCP_SESSIONS_MAX; i++) {
                struct mcp_session *e = &M.s[i];
                if (!e->used) {
                        free_slot = free_slot ? free_slot : e;
                        continue;
                }
                if (strcmp(e->who.tenant, who->tenant) != 0)
                        continue;
                tenants++;
                if (!tenant_oldest || e->last_used < tenant_oldest->last_used)
                        tenant_oldest = e;
                if (strcmp(e->who.key_id, who->key_id) != 0)
                        continue;
                mine++;
                if (!oldest || e->last_used < oldest->last_used)
                        oldest = e;
        }
        /* Room is made within the key, then within the tenant: a tenant can mint keys of
         * its own, so only a cap per tenant keeps one tenant from filling the table. */
        struct mcp_session *victim = mine >= MCP_SESSIONS_PER_KEY && oldest               ? oldest
                                     : tenants >= MCP_SESSIONS_PER_TENANT && tenant_oldest ? tenant_oldest
                                                                                           : NULL;
        if (victim) {
                *evicted = *victim;
                memset(victim, 0, sizeof(*victim));
                free_slot = victim;
        }
        if (!free_slot) {
                pthread_mutex_unlock(&M.lock);
                return -EAGAIN;
        }
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->used = true;
        random_id("mcp_", free_slot->id, sizeof(free_slot->id));
        free_slot->who = *who;
        snprintf(free_slot->version, sizeof(free_slot->version), "%s", version);
        free_slot->last_used = now_seconds();
        memcpy(id, free_slot->id, sizeof(free_slot->id));
        pthread_mutex_unlock(&M.lock);
        return 0;
}

/* Under M.lock: the live entry with this id that belongs to this key, or NULL. */
static struct mcp_session *table_find_locked(const char *id, const char *key_id) {
        for (size_t i = 0; id && i < MCP_SESSIONS_MAX; i++) {
                struct mcp_session *e = &M.s[i];
                if (e->used && !strcmp(e->id, id) && !strcmp(e->who.key_id, key_id))
                        return e;
        }
        return NULL;
}

/* A copy of the MCP session (now used), or false when this key has none of that id. */
static bool table_get(const char *id, const char *key_id, struct mcp_session *ret) {
        pthread_mutex_lock(&M.lock);
        struct mcp_session *e = table_find_locked(id, key_id);
        if (e) {
                e->last_used = now_seconds();
                *ret = *e;
        }
        pthread_mutex_unlock(&M.lock);
        return e != NULL;
}

static bool table_remove(const char *id, const char *key_id, struct mcp_session *ret) {
        pthread_mutex_lock(&M.lock);
        struct mcp_session *e = table_find_locked(id, key_id);
        if (e) {
                *ret = *e;
                memset(e, 0, sizeof(*e));
        }
        pthread_mutex_unlock(&M.lock);
        return e != NULL;
}

/* Record `made` as the default session unless another request changed it since we saw
 * `seen`: then theirs wins, and is returned in out. -ENOENT when the MCP session is gone. */
static int table_adopt_default(const char *id, const char *key_id, const char *seen, const char *made, char out[40]) {
        pthread_mutex_lock(&M.lock);
        struct mcp_session *e = table_find_locked(id, key_id);
        int r = e ? 0 : -ENOENT;
        if (e && strcmp(e->default_sid, seen) != 0 && e->default_sid[0]) {
                memcpy(out, e->default_sid, sizeof(e->default_sid));
                r = 1;
        } else if (e) {
                snprintf(e->default_sid, sizeof(e->default_sid), "%s", made);
                memcpy(out, e->default_sid, sizeof(e->default_sid));
        }
        pthread_mutex_unlock(&M.lock);
        return r;
}

static void table_forget_default(const char *id, const char *key_id, const char *sid) {
        pthread_mutex_lock(&M.lock);
        struct mcp_session *e = table_find_locked(id, key_id);
        if (e && !strcmp(e->default_sid, sid))
                e->default_sid[0] = '\0';
        pthread_mutex_unlock(&M.lock);
}

/* The default session of an MCP session that ended goes with it. */
static void stop_default(const struct mcp_session *gone, const char *why) {
        if (!gone->default_sid[0])
                return;
        json_t *ended = NULL;
        if (session_delete(gone->default_sid, &ended) == 0)
                audit_record(&gone->who, NULL, gone->default_sid, "session.stop",
                             json_pack("{s:s, s:s, s:i}", "api", "mcp", "reason", why, "status", 200));
        json_decref(ended);
}

void mcp_reap(void) {
        double now = now_seconds();
        for (;;) {
                struct mcp_session gone[32];
                size_t n = 0;
                pthread_mutex_lock(&M.lock);
                for (size_t i = 0; i < MCP_SESSIONS_MAX && n < ARRAY_SIZE(gone); i++) {
                        struct mcp_session *e = &M.s[i];
                        if (e->used && now - e->last_used >= MCP_IDLE_SECONDS) {
                                gone[n++] = *e;
                                memset(e, 0, sizeof(*e));
                        }
                }
                pthread_mutex_unlock(&M.lock);
                for (size_t i = 0; i < n; i++)
                        stop_default(&gone[i], "mcp_session_expired");
                if (n < ARRAY_SIZE(gone))
                        return;
        }
}

void mcp_stop_all(void) {
        pthread_mutex_lock(&M.lock);
        memset(M.s, 0, sizeof(M.s));
        pthread_mutex_unlock(&M.lock);
}

/* ---- tool results ---- */

static json_t *text_block(const char *text) {
        size_t used = 0;
        return json_pack("{s:s, s:o}", "type", "text", "text", utf8_string(text, strlen(text), false, &used));
}

static json_t *tool_result(json_t *content, json_t *structured, bool is_error) {
        json_t *r = json_pack("{s:o, s:b}", "content", content, "isError", is_error);
        if (structured)
                json_object_set_new(r, "structuredContent", structured);
        return r;
}

__attribute__((format(printf, 1, 2))) static json_t *tool_error(const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return tool_result(json_pack("[o]", text_block(msg)), NULL, true);
}

/* One tools/call in progress. */
struct call {
        const struct mcp_request *q;
        struct mcp_session s; /* a copy, as it was when the request arrived */
        bool structured;      /* the version has structuredContent */
        char note[384];       /* said first: the default session was started */
};

static void audit(const struct call *c, const char *sid, const char *action, int status, json_t *fields) {
        if (!fields)
                fields = json_object();
        json_object_set_new(fields, "api", json_string("mcp"));
        json_object_set_new(fields, "status", json_integer(status));
        json_object_set_new(fields, "request_id", json_string(c->q->request_id ? c->q->request_id : ""));
        audit_record(c->q->who, NULL, sid, action, fields);
}

/* A session-layer failure as what the model is told. */
static json_t *session_failure(const char *sid, const struct diag *d) {
        if (d->code == -ENOENT || d->code == -ESRCH)
                return tool_error("Session %s has ended: its variables and files are gone. Leave out session_id to use "
                                  "this conversation's default session, or start another with create_session.",
                                  sid);
        if (d->code == -EINVAL || d->code == -EMSGSIZE || d->code == -E2BIG || d->code == -ERANGE)
                return tool_error("%s%s%s", d->field[0] ? d->field : "", d->field[0] ? ": " : "", d->msg);
        if (d->code == -EDQUOT)
                return tool_error("The tenant's quota would be passed: %s. Stop sessions you no longer need "
                                  "(list_sessions, stop_session).",
                                  d->msg);
        return tool_error("Airlock could not do this now (%s); try again.", d->msg[0] ? d->msg : strerror(-d->code));
}

/* The caller's tenant's live session sid, or the tool error that says why it cannot be used. */
static json_t *check_named(const struct call *c, const char *sid) {
        json_t *doc = session_get_json(sid);
        if (!doc || strcmp(session_doc_tenant(doc), c->q->who->tenant) != 0) {
                json_decref(doc);
                return tool_error("There is no session %s for this API key's tenant. Leave out session_id to use this "
                                  "conversation's default session, or start one with create_session.",
                                  sid);
        }
        json_t *err = NULL;
        if (!strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "ended"))
                err = tool_error("Session %s has ended (%s): its variables and files are gone. Leave out session_id to "
                                 "use this conversation's default session, or start another with create_session.",
                                 sid, json_string_value(json_object_get(doc, "ended_reason")) ?: "ended");
        json_decref(doc);
        return err;
}

/* The session a tool works on: its session_id argument, or this MCP session's default
 * session, started now when there is none (c->note says so). NULL with sid set, or the
 * tool error to return. */
static json_t *target(struct call *c, json_t *args, char sid[40]) {
        const char *given = json_string_value(json_object_get(args, "session_id"));
        if (given) {
                json_t *err = check_named(c, given);
                if (!err)
                        snprintf(sid, 40, "%s", given);
                return err;
        }
        char seen[40]; /* the table's, not our copy: another request may have made one since */
        struct mcp_session now;
        snprintf(seen, sizeof(seen), "%s",
                 table_get(c->s.id, c->s.who.key_id, &now) ? now.default_sid : c->s.default_sid);
        if (seen[0] && session_exists(seen)) {
                snprintf(sid, 40, "%s", seen);
                return NULL;
        }
        json_t *req = json_pack("{s:s, s:{s:s}}", "interpreter", "default", "metadata", "mcp",
                                "default session of an MCP connection");
        json_t *doc = NULL;
        struct diag d = {0};
        int rc = session_create(req, c->q->who->tenant, &doc, &d);
        json_decref(req);
        const char *made = json_string_value(json_object_get(doc, "id"));
        audit(c, made, "session.create", rc < 0 ? 400 : 200, json_pack("{s:s}", "interpreter", "default"));
        if (rc < 0) {
                json_decref(doc);
                return d.code == -EDQUOT ? session_failure("", &d)
                                         : tool_error("Could not start a session: %s", d.msg[0] ? d.msg : "internal error");
        }
        char chosen[40] = "";
        int adopted = table_adopt_default(c->s.id, c->s.who.key_id, seen, made, chosen);
        if (adopted != 0) { /* another request made one first, or the MCP session ended meanwhile */
                json_t *ended = NULL;
                (void)session_delete(made, &ended);
                json_decref(ended);
        }
        json_decref(doc);
        if (adopted < 0)
                return tool_error("This MCP session has ended; start a new one (initialize).");
        snprintf(sid, 40, "%s", chosen);
        snprintf(c->s.default_sid, sizeof(c->s.default_sid), "%s", chosen);
        if (adopted == 0 && seen[0])
                snprintf(c->note, sizeof(c->note),
                         "[Started a new default session %s for this conversation: the previous one (%s) had ended, so "
                         "its variables and files are gone.]\n",
                         chosen, seen);
        else if (adopted == 0)
                snprintf(c->note, sizeof(c->note),
                         "[Started default session %s for this conversation; the tools use it whenever session_id is "
                         "left out.]\n",
                         chosen);
        return NULL;
}

/* ---- the tools ---- */

static json_t *session_summary(json_t *doc) {
        json_t *limits = json_object_get(doc, "limits");
        json_t *s = json_pack("{s:s, s:s, s:s, s:O, s:O, s:o}", "session_id",
                              json_string_value(json_object_get(doc, "id")) ?: "", "interpreter",
                              json_string_value(json_object_get(doc, "interpreter")) ?: "", "status",
                              json_string_value(json_object_get(doc, "status")) ?: "", "created_at",
                              json_object_get(doc, "created_at") ?: json_null(), "expires_at",
                              json_object_get(doc, "expires_at") ?: json_null(), "limits",
                              limits ? json_incref(limits) : json_object());
        json_t *idle = json_object_get(doc, "idle_timeout_seconds"), *exec = json_object_get(doc, "execution_timeout_seconds");
        if (json_is_integer(idle))
                json_object_set(s, "idle_timeout_seconds", idle);
        if (json_is_number(exec))
                json_object_set(s, "execution_timeout_seconds", exec);
        return s;
}

static json_t *create_session(struct call *c, json_t *args) {
        json_t *req = json_object();
        json_t *interp = json_object_get(args, "interpreter"), *ttl = json_object_get(args, "timeout_seconds");
        if (interp)
                json_object_set(req, "interpreter", interp);
        if (ttl)
                json_object_set(req, "timeout_seconds", ttl);
        json_t *doc = NULL;
        struct diag d = {0};
        int rc = session_create(req, c->q->who->tenant, &doc, &d);
        json_decref(req);
        const char *sid = json_string_value(json_object_get(doc, "id"));
        audit(c, sid, "session.create", rc < 0 ? 400 : 200,
              json_pack("{s:s}", "interpreter", json_string_value(interp) ?: "default"));
        if (rc < 0) {
                json_decref(doc);
                return session_failure("", &d);
        }
        json_t *limits = json_object_get(doc, "limits");
        char text[768];
        snprintf(text, sizeof(text),
                 "Created session %s (interpreter %s). It expires at %s, or earlier after %lld s without use. Limits: "
                 "%lld MiB of memory, %g CPUs, %lld processes, %lld MiB of files in /workspace; no network. Pass "
                 "session_id \"%s\" to run_code, run_command and the file tools, and stop it with stop_session when you "
                 "are done.",
                 sid, json_string_value(json_object_get(doc, "interpreter")) ?: "default",
                 json_string_value(json_object_get(doc, "expires_at")) ?: "?",
                 (long long)json_integer_value(json_object_get(doc, "idle_timeout_seconds")),
                 (long long)json_integer_value(json_object_get(limits, "memory_mb")),
                 json_number_value(json_object_get(limits, "cpus")),
                 (long long)json_integer_value(json_object_get(limits, "pids")),
                 (long long)json_integer_value(json_object_get(limits, "workspace_mb")), sid);
        json_t *structured = c->structured ? session_summary(doc) : NULL;
        json_decref(doc);
        return tool_result(json_pack("[o]", text_block(text)), structured, false);
}

static json_t *stop_session(struct call *c, json_t *args) {
        const char *sid = json_string_value(json_object_get(args, "session_id"));
        json_t *doc = session_get_json(sid);
        if (!doc || strcmp(session_doc_tenant(doc), c->q->who->tenant) != 0) {
                json_decref(doc);
                return tool_error("There is no session %s for this API key's tenant (list_sessions shows the live ones).", sid);
        }
        bool was_live = strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "ended") != 0;
        json_decref(doc);
        json_t *ended = NULL;
        (void)session_delete(sid, &ended); /* stopping an ended session changes nothing */
        char reason[40];
        snprintf(reason, sizeof(reason), "%s", json_string_value(json_object_get(ended, "ended_reason")) ?: "ended");
        json_decref(ended);
        audit(c, sid, "session.stop", 200, NULL);
        table_forget_default(c->s.id, c->s.who.key_id, sid);
        char text[256];
        if (was_live)
                snprintf(text, sizeof(text), "Stopped session %s: its processes, variables and files are gone.", sid);
        else
                snprintf(text, sizeof(text), "Session %s had already ended (%s).", sid, reason);
        return tool_result(json_pack("[o]", text_block(text)), NULL, false);
}

static json_t *list_sessions(struct call *c) {
        json_t *live = sessions_list_json(c->q->who->tenant), *items = json_array(), *s;
        struct buf b;
        buf_init(&b, TEXT_MAX);
        size_t i;
        json_array_foreach(live, i, s) {
                json_t *one = session_summary(s);
                const char *id = json_string_value(json_object_get(s, "id")) ?: "";
                bool is_default = !strcmp(id, c->s.default_sid);
                json_object_set_new(one, "default", json_boolean(is_default));
                json_array_append_new(items, one);
                (void)buf_printf(&b, "%s  interpreter %s, %s, expires at %s%s\n", id,
                                 json_string_value(json_object_get(s, "interpreter")) ?: "",
                                 json_string_value(json_object_get(s, "status")) ?: "",
                                 json_string_value(json_object_get(s, "expires_at")) ?: "",
                                 is_default ? "  (this conversation's default session)" : "");
        }
        json_decref(live);
        if (!b.len)
                (void)buf_printf(&b, "No live sessions. The tools start this conversation's default session when "
                                     "they are called without session_id.");
        json_t *content = json_pack("[o]", text_block(b.data ? b.data : ""));
        buf_free(&b);
        json_t *structured = json_pack("{s:o}", "sessions", items);
        if (!c->structured) {
                json_decref(structured);
                structured = NULL;
        }
        return tool_result(content, structured, false);
}

/* A labelled part of a tool's text. Output may hold NUL bytes (binary data printed): they
 * are shown as \0, not allowed to end the text early. */
static void section_n(struct buf *b, const char *label, const char *text, size_t n) {
        if (!text || !n)
                return;
        (void)buf_printf(b, "%s%s:\n", b->len ? "\n" : "", label);
        for (size_t i = 0; i < n;) {
                const char *nul = memchr(text + i, '\0', n - i);
                size_t run = nul ? (size_t)(nul - (text + i)) : n - i;
                (void)buf_append(b, text + i, run);
                i += run;
                if (nul) {
                        (void)buf_append(b, "\\0", 2);
                        i++;
                }
        }
        if (text[n - 1] != '\n')
                (void)buf_append(b, "\n", 1);
}

static void section(struct buf *b, const char *label, const char *text) {
        section_n(b, label, text, text ? strlen(text) : 0);
}

static void section_json(struct buf *b, const char *label, json_t *str) {
        section_n(b, label, json_string_value(str), json_string_length(str));
}

static const char *killed_text(const char *reason) {
        if (!strcmp(reason, "oom"))
                return "out of memory (the session's memory limit): use less memory, or a session with more";
        if (!strcmp(reason, "pids"))
                return "too many processes (the session's process limit)";
        if (!strcmp(reason, "output_limit"))
                return "more than 16 MiB of output: print less";
        if (!strcmp(reason, "stopped"))
                return "the session was stopped or expired";
        if (!strcmp(reason, "runner_exited"))
                return "the interpreter itself exited (os._exit(), a crash or a signal): its state is gone";
        return reason;
}

/* The execution as an MCP tool result: a text block (note, output, values, error), an
 * image block per PNG or JPEG, an embedded resource per SVG; the record itself as
 * structuredContent without the image data (that is in the image blocks). */
static json_t *execution_result(struct call *c, const char *sid, json_t *out) {
        struct buf b;
        buf_init(&b, TEXT_MAX);
        (void)buf_printf(&b, "%s", c->note);
        size_t note_len = b.len;
        const char *status = json_string_value(json_object_get(out, "status")) ?: "error";
        section_json(&b, "stdout", json_object_get(out, "stdout"));
        section_json(&b, "stderr", json_object_get(out, "stderr"));
        json_t *content = json_array(), *images = json_array(), *charts = json_array();
        json_array_append_new(content, json_null()); /* the text block, made last */
        size_t i, figures = 0;
        json_t *res;
        const char *eid = json_string_value(json_object_get(out, "execution_id")) ?: "exec";
        json_array_foreach(json_object_get(out, "results"), i, res) {
                const char *png = json_string_value(json_object_get(res, "image/png"));
                const char *jpeg = json_string_value(json_object_get(res, "image/jpeg"));
                const char *svg = json_string_value(json_object_get(res, "image/svg+xml"));
                json_t *chart = json_object_get(res, "application/vnd.airlock.chart+json");
                if (json_is_object(chart))
                        json_array_append(charts, chart);
                if (png || jpeg) {
                        figures++;
                        json_array_append_new(images, json_pack("{s:s, s:s, s:s}", "type", "image", "data",
                                                                png ? png : jpeg, "mimeType",
                                                                png ? "image/png" : "image/jpeg"));
                        (void)buf_printf(&b, "%s[image %zu: %s, returned as image content%s]\n", b.len > note_len ? "\n" : "",
                                         figures, png ? "PNG" : "JPEG",
                                         json_is_object(chart) ? "; what it plots is in structuredContent.charts" : "");
                } else if (svg) {
                        char uri[160];
                        snprintf(uri, sizeof(uri), "airlock://%s/%s/result-%zu.svg", sid, eid, i + 1);
                        json_array_append_new(images, json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource",
                                                                "uri", uri, "mimeType", "image/svg+xml", "text", svg));
                        (void)buf_printf(&b, "%s[SVG image, returned as a resource: %s]\n", b.len > note_len ? "\n" : "",
                                         uri);
                } else {
                        section_json(&b, "result", json_object_get(res, "text/plain"));
                }
                /* The structured record keeps everything but the image bytes. */
                json_object_del(res, "image/png");
                json_object_del(res, "image/jpeg");
        }
        json_t *err = json_object_get(out, "error");
        if (json_is_object(err)) {
                struct buf tb;
                buf_init(&tb, TEXT_MAX);
                json_t *line;
                json_array_foreach(json_object_get(err, "traceback"), i, line) {
                        (void)buf_printf(&tb, "%s", json_string_value(line) ?: "");
                }
                if (!tb.len)
                        (void)buf_printf(&tb, "%s: %s\n", json_string_value(json_object_get(err, "name")) ?: "Error",
                                         json_string_value(json_object_get(err, "value")) ?: "");
                section(&b, "error", tb.data);
                buf_free(&tb);
        }
        bool kept = json_is_true(json_object_get(out, "state_kept"));
        if (!strcmp(status, "timeout"))
                (void)buf_printf(&b, "%stimed out: the code was interrupted at its time limit; %s\n", b.len > note_len ? "\n" : "",
                                 kept ? "its variables were kept" : "its context was restarted, so its variables are gone");
        else if (!strcmp(status, "killed"))
                (void)buf_printf(&b, "%skilled: %s\n", b.len > note_len ? "\n" : "",
                                 killed_text(json_string_value(json_object_get(out, "killed_reason")) ?: "unknown"));
        if (b.len == note_len)
                (void)buf_printf(&b, "(no output)\n");
        json_array_set_new(content, 0, text_block(b.data ? b.data : ""));
        buf_free(&b);
        json_array_extend(content, images);
        json_decref(images);
        json_t *structured = NULL;
        if (c->structured) {
                structured = json_incref(out);
                json_object_set_new(structured, "session_id", json_string(sid));
                json_object_set(structured, "charts", charts);
        } else if (json_array_size(charts)) {
                /* Before 2025-06-18 there is no structuredContent: the chart data goes as text. */
                char *text = json_dumps(charts, JSON_COMPACT);
                struct buf cb;
                buf_init(&cb, TEXT_MAX);
                (void)buf_printf(&cb, "chart data (application/vnd.airlock.chart+json):\n%s", text ? text : "[]");
                json_array_append_new(content, text_block(cb.data ? cb.data : ""));
                buf_free(&cb);
                free(text);
        }
        json_decref(charts);
        return tool_result(content, structured, strcmp(status, "ok") != 0);
}

static json_t *run_code(struct call *c, json_t *args) {
        char sid[40];
        json_t *err = target(c, args, sid);
        if (err)
                return err;
        json_t *code = json_object_get(args, "code");
        struct exec_req er = {.code = json_string_value(code),
                              .code_len = json_string_length(code),
                              .context = json_string_value(json_object_get(args, "context_id")),
                              .language = json_string_value(json_object_get(args, "language")),
                              .timeout_s = json_number_value(json_object_get(args, "timeout_seconds")),
                              .who = c->q->who,
                              .request_id = c->q->request_id};
        json_t *out = NULL;
        struct diag d = {0};
        if (session_execute(sid, &er, NULL, &out, &d) < 0)
                return session_failure(sid, &d);
        json_t *r = execution_result(c, sid, out);
        json_decref(out);
        return r;
}

static json_t *run_command(struct call *c, json_t *args) {
        char sid[40];
        json_t *err = target(c, args, sid);
        if (err)
                return err;
        json_t *req = json_pack("{s:O}", "command", json_object_get(args, "command"));
        if (json_object_get(args, "cwd"))
                json_object_set(req, "cwd", json_object_get(args, "cwd"));
        if (json_object_get(args, "timeout_seconds"))
                json_object_set(req, "timeout_seconds", json_object_get(args, "timeout_seconds"));
        json_t *out = NULL;
        bool background = false;
        struct diag d = {0};
        int rc = session_command(sid, req, &out, &background, &d);
        char sha[65];
        json_t *cmd = json_object_get(args, "command");
        sha256_hex(json_string_value(cmd), json_string_length(cmd), sha);
        audit(c, sid, "command", rc < 0 ? 400 : 200,
              json_pack("{s:s, s:I, s:b, s:O?, s:O?}", "command_sha256", sha, "command_size",
                        (json_int_t)json_string_length(cmd), "background", 0, "exit_code", json_object_get(out, "exit_code"),
                        "duration_ms", json_object_get(out, "duration_ms")));
        json_decref(req);
        if (rc < 0)
                return session_failure(sid, &d);
        struct buf b;
        buf_init(&b, TEXT_MAX);
        (void)buf_printf(&b, "%s", c->note);
        json_t *code = json_object_get(out, "exit_code"), *sig = json_object_get(out, "signal");
        bool timed_out = json_is_true(json_object_get(out, "timed_out"));
        if (timed_out)
                (void)buf_printf(&b, "timed out: the command was killed at its time limit\n");
        else if (json_is_integer(code))
                (void)buf_printf(&b, "exit code %lld\n", (long long)json_integer_value(code));
        else
                (void)buf_printf(&b, "ended by signal %lld\n", (long long)json_integer_value(sig));
        section_json(&b, "stdout", json_object_get(out, "stdout"));
        section_json(&b, "stderr", json_object_get(out, "stderr"));
        for (int k = 0; k < 2; k++) {
                json_int_t dropped = json_integer_value(json_object_get(out, k ? "stderr_dropped_bytes" : "stdout_dropped_bytes"));
                if (dropped > 0)
                        (void)buf_printf(&b, "(%lld more bytes of %s were not kept)\n", (long long)dropped,
                                         k ? "stderr" : "stdout");
        }
        bool failed = timed_out || !json_is_integer(code) || json_integer_value(code) != 0;
        json_t *content = json_pack("[o]", text_block(b.data ? b.data : ""));
        buf_free(&b);
        json_t *structured = NULL;
        if (c->structured) {
                structured = json_incref(out);
                json_object_set_new(structured, "session_id", json_string(sid));
        }
        json_decref(out);
        return tool_result(content, structured, failed);
}

/* A workspace request's failure as what the model is told (and the status audited). */
static json_t *file_failure(const char *path, const struct lreply *rep, int *status) {
        int e = rep->type == LP_ERROR ? -rep->err.code : EIO;
        *status = e == ENOENT ? 404 : e == ENOSPC ? 507 : 400;
        const char *shown = path[0] ? path : ".";
        switch (e) {
        case ENOENT:
                return tool_error("There is no %s in /workspace (list_files shows what there is).", shown);
        case EISDIR:
                return tool_error("%s is a directory: use list_files for it.", shown);
        case ENOTDIR:
                return tool_error("%s: a part of the path is not a directory.", shown);
        case ENOSPC:
                return tool_error("The workspace is full: remove files (run_command rm ...) or use a session with more "
                                  "space.");
        default:
                return tool_error("%s: %s", shown, rep->err.msg[0] ? rep->err.msg : strerror(e));
        }
}

/* The sandbox of a tool's session, or the tool error. */
static json_t *sandbox_of(const char *sid, uint64_t *sandbox) {
        if (session_sandbox(sid, sandbox) == 0)
                return NULL;
        struct diag d = {.code = -ESRCH};
        return session_failure(sid, &d);
}

static void close_fds(struct lreply *rep) {
        for (size_t i = 0; rep->type >= 0 && i < rep->nfds; i++)
                close(rep->fds[i]);
        rep->nfds = 0;
}

/* file:///workspace/<path>, percent-encoded where a URI needs it. */
static void file_uri(const char *path, char *out, size_t cap) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = (size_t)snprintf(out, cap, "file:///workspace/");
        for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < cap; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
                        out[o++] = (char)*p;
                } else {
                        out[o++] = '%';
                        out[o++] = hex[*p >> 4];
                        out[o++] = hex[*p & 15];
                }
        }
        out[o < cap ? o : cap - 1] = '\0';
}

/* The image type a file's first bytes say, or NULL. */
static const char *image_type(const unsigned char *d, size_t n) {
        if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
                return "image/png";
        if (n >= 3 && !memcmp(d, "\xff\xd8\xff", 3))
                return "image/jpeg";
        if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
                return "image/gif";
        if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
                return "image/webp";
        return NULL;
}

/* A file's bytes as one content block: text, an image, or a base64 blob; NULL out of memory. */
static json_t *file_block(const char *path, const unsigned char *data, size_t n) {
        const char *image = image_type(data, n);
        if (!image && utf8_text(data, n))
                return json_pack("{s:s, s:s%}", "type", "text", "text", (const char *)data, n);
        char *b64 = b64_encode(data, n);
        if (!b64)
                return NULL;
        char uri[3 * LP_PATH_MAX + 32];
        file_uri(path, uri, sizeof(uri));
        json_t *block = image ? json_pack("{s:s, s:s, s:s}", "type", "image", "data", b64, "mimeType", image)
                              : json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource", "uri", uri,
                                          "mimeType", mime_of(path), "blob", b64);
        free(b64);
        return block;
}

/* What read_file and list_files both do first: the target session, the path, and the
 * launcher's fd for it (the file, or the directory listing). The error to return, if any,
 * with *status 0 when it came before the request (nothing to audit). */
static json_t *file_request(struct call *c, json_t *args, uint8_t op, char sid[40], char path[LP_PATH_MAX], int *fd,
                            int *status) {
        *fd = -1;
        *status = 0;
        json_t *err = target(c, args, sid);
        if (err)
                return err;
        bool dir = op == LP_FILE_LIST;
        (void)workspace_path(json_string_value(json_object_get(args, "path")) ?: (dir ? "" : NULL), path, LP_PATH_MAX,
                             dir);
        uint64_t sandbox;
        if ((err = sandbox_of(sid, &sandbox)))
                return err;
        struct lreply rep;
        memset(&rep, 0, sizeof(rep));
        *status = 200;
        if (launch_file(sandbox, op, 0, 0, path, &rep) < 0) {
                err = tool_error("The sandbox launcher is unavailable; try again.");
                *status = 503;
        } else if (rep.type == LP_ERROR || rep.nfds != 1) {
                close_fds(&rep);
                err = file_failure(path, &rep, status);
        } else {
                *fd = rep.fds[0];
        }
        return err;
}

static json_t *read_file(struct call *c, json_t *args) {
        char sid[40], path[LP_PATH_MAX];
        int status, opened;
        json_t *err = file_request(c, args, LP_FILE_READ, sid, path, &opened, &status);
        if (err && !status)
                return err;
        _cleanup_close_ int fd = opened;
        struct stat st = {0};
        if (!err && (fstat(fd, &st) < 0 || (uint64_t)st.st_size > MCP_READ_MAX)) {
                err = tool_error("%s is %lld bytes: read_file returns at most %u MiB. Read parts of it with run_command "
                                 "(head, tail, grep) or run_code.",
                                 path, (long long)st.st_size, MCP_READ_MAX >> 20);
                status = 413;
        }
        unsigned char *data = !err ? malloc((size_t)st.st_size + 1) : NULL;
        size_t n = 0;
        while (data && n < (size_t)st.st_size) {
                ssize_t got = pread(fd, data + n, (size_t)st.st_size - n, (off_t)n);
                if (got <= 0)
                        break;
                n += (size_t)got;
        }
        json_t *block = data ? file_block(path, data, n) : NULL;
        free(data);
        if (!err && !block) {
                err = tool_error("Out of memory reading %s.", path);
                status = 500;
        }
        audit(c, sid, "file.read", status, json_pack("{s:s}", "path", path));
        return err ? err : tool_result(json_pack("[o]", block), NULL, false);
}

static json_t *write_file(struct call *c, json_t *args) {
        char sid[40], path[LP_PATH_MAX];
        json_t *err = target(c, args, sid);
        if (err)
                return err;
        (void)workspace_path(json_string_value(json_object_get(args, "path")), path, sizeof(path), false);
        json_t *content = json_object_get(args, "content");
        bool base64 = !strcmp(json_string_value(json_object_get(args, "encoding")) ?: "text", "base64");
        size_t len = json_string_length(content);
        _cleanup_free_ unsigned char *bytes = base64 ? b64_decode(json_string_value(content), len, &len) : NULL;
        if (base64 && !bytes)
                return tool_error("'content' is not valid base64: use the standard alphabet (A-Z a-z 0-9 + /) with '=' "
                                  "padding only at the end, and no spaces or line breaks.");
        const void *data = base64 ? (const void *)bytes : (const void *)json_string_value(content);
        uint64_t sandbox;
        if ((err = sandbox_of(sid, &sandbox)))
                return err;
        /* Journaled (workspace.c): a daemon killed mid-write leaves no half-written file. */
        struct lreply rep;
        int status = 200;
        switch (ws_write_file(sid, sandbox, 0, path, data, len, &rep)) {
        case WS_OK:
                break;
        case WS_UNRECORDED:
                err = tool_error("The service cannot record the write (its data dir is full or failing); try again "
                                 "later.");
                status = 503;
                break;
        case WS_NO_LAUNCHER:
                err = tool_error("The sandbox launcher is unavailable; try again.");
                status = 503;
                break;
        case WS_FAILED:
                err = file_failure(path, &rep, &status);
                break;
        }
        audit(c, sid, "file.write", status, json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)len));
        if (err)
                return err;
        char text[LP_PATH_MAX + 512];
        snprintf(text, sizeof(text), "%sWrote %zu bytes to /workspace/%s.", c->note, len, path);
        return tool_result(json_pack("[o]", text_block(text)), NULL, false);
}

static const char *type_name(uint8_t t) {
        return t == LP_FT_FILE ? "file" : t == LP_FT_DIR ? "directory" : t == LP_FT_SYMLINK ? "symlink" : "other";
}

struct listed {
        const char *name;
        size_t len;
        struct lp_dirent de;
};

static int by_name(const void *a, const void *b) {
        const struct listed *x = a, *y = b;
        size_t m = x->len < y->len ? x->len : y->len;
        int c = memcmp(x->name, y->name, m);
        return c ? c : (x->len > y->len) - (x->len < y->len);
}

static json_t *list_files(struct call *c, json_t *args) {
        char sid[40], path[LP_PATH_MAX];
        int status, opened;
        json_t *err = file_request(c, args, LP_FILE_LIST, sid, path, &opened, &status);
        if (err && !status)
                return err;
        audit(c, sid, "file.list", status, json_pack("{s:s}", "path", path));
        if (err)
                return err;
        _cleanup_close_ int fd = opened;
        struct stat st;
        size_t size = fstat(fd, &st) == 0 && st.st_size < (64 << 20) ? (size_t)st.st_size : 0;
        _cleanup_free_ char *data = malloc(size + 1);
        ssize_t n = data ? pread(fd, data, size, 0) : -1;
        _cleanup_free_ struct listed *list = NULL;
        size_t count = 0, cap = 0;
        struct lp_dirent de;
        const char *raw;
        for (size_t off = 0; n > 0 && lp_dirent_next(data, (size_t)n, &off, &de, &raw);) {
                if (count == cap) {
                        cap = cap ? cap * 2 : 64;
                        struct listed *more = realloc(list, cap * sizeof(*list));
                        if (!more)
                                break;
                        list = more;
                }
                list[count++] = (struct listed){raw, de.name_len, de};
        }
        if (count)
                qsort(list, count, sizeof(*list), by_name); /* bytewise by name: stable listings */
        struct buf b;
        buf_init(&b, TEXT_MAX);
        (void)buf_printf(&b, "%s/workspace%s%s: %zu %s\n", c->note, path[0] ? "/" : "", path, count,
                         count == 1 ? "entry" : "entries");
        json_t *entries = json_array();
        for (size_t i = 0; i < count; i++) {
                size_t used = 0;
                json_t *name = utf8_string(list[i].name, list[i].len, false, &used);
                char mtime[32];
                rfc3339((time_t)list[i].de.mtime_sec, mtime, sizeof(mtime));
                (void)buf_printf(&b, "%-9s %12lld  %s  %s%s\n", type_name(list[i].de.type), (long long)list[i].de.size,
                                 mtime, json_string_value(name) ?: "", list[i].de.type == LP_FT_DIR ? "/" : "");
                json_array_append_new(entries, json_pack("{s:o, s:s, s:I, s:s}", "name", name, "type",
                                                         type_name(list[i].de.type), "size", (json_int_t)list[i].de.size,
                                                         "mtime", mtime));
        }
        json_t *content = json_pack("[o]", text_block(b.data ? b.data : ""));
        buf_free(&b);
        json_t *structured = json_pack("{s:s, s:s, s:o}", "session_id", sid, "path", path, "entries", entries);
        if (!c->structured) {
                json_decref(structured);
                structured = NULL;
        }
        return tool_result(content, structured, false);
}

/* ---- JSON-RPC ---- */

static json_t *tools_call(const struct mcp_request *q, const struct mcp_session *s, const struct mcp_msg *m) {
        const char *name = json_string_value(json_object_get(m->params, "name"));
        if (!name)
                return mcp_error(m->id, MCP_INVALID_PARAMS, "Invalid params: tools/call needs params.name (a string)");
        int tool = mcp_tool_of(name);
        if (tool < 0)
                return mcp_error(m->id, MCP_INVALID_PARAMS, "Unknown tool: %.64s (tools/list names them)", name);
        trace_attr("mcp.tool", mcp_tool_name(tool));
        json_t *args = json_object_get(m->params, "arguments");
        char why[512];
        if (mcp_check_args(tool, args, why, sizeof(why)) < 0)
                return mcp_response(m->id, tool_error("Invalid arguments for %s: %s.", mcp_tool_name(tool), why));
        struct call c = {.q = q, .s = *s, .structured = mcp_version_at_least(s->version, "2025-06-18")};
        json_t *r;
        switch (tool) {
        case MCP_T_CREATE_SESSION:
                r = create_session(&c, args);
                break;
        case MCP_T_STOP_SESSION:
                r = stop_session(&c, args);
                break;
        case MCP_T_LIST_SESSIONS:
                r = list_sessions(&c);
                break;
        case MCP_T_RUN_CODE:
                r = run_code(&c, args);
                break;
        case MCP_T_RUN_COMMAND:
                r = run_command(&c, args);
                break;
        case MCP_T_READ_FILE:
                r = read_file(&c, args);
                break;
        case MCP_T_WRITE_FILE:
                r = write_file(&c, args);
                break;
        case MCP_T_LIST_FILES:
        default:
                r = list_files(&c, args);
                break;
        }
        return r ? mcp_response(m->id, r) : mcp_error(m->id, MCP_INTERNAL_ERROR, "Internal error: out of memory");
}

/* The answer to one message inside an MCP session: a response, or NULL for none. */
static json_t *dispatch(const struct mcp_request *q, const struct mcp_session *s, const struct mcp_msg *m) {
        if (m->kind == MCP_INVALID)
                return mcp_error(m->id, m->error_code, "%s", m->error);
        if (m->kind != MCP_REQUEST)
                return NULL; /* notifications (initialized, cancelled, ...) and responses need no answer */
        trace_attr("mcp.method", m->method);
        if (m->params && !json_is_object(m->params))
                return mcp_error(m->id, MCP_INVALID_PARAMS, "Invalid params: params must be an object");
        if (!strcmp(m->method, "ping"))
                return mcp_response(m->id, json_object());
        if (!strcmp(m->method, "tools/list"))
                return mcp_response(m->id, mcp_tools_list(s->version));
        if (!strcmp(m->method, "tools/call"))
                return tools_call(q, s, m);
        if (!strcmp(m->method, "initialize"))
                return mcp_error(m->id, MCP_INVALID_REQUEST,
                                 "Invalid Request: this MCP session is initialized already; send initialize without "
                                 "Mcp-Session-Id (and not in a batch) to start another");
        return mcp_error(m->id, MCP_METHOD_NOT_FOUND, "Method not found: %s (this server offers tools only)", m->method);
}

static void reply(struct mcp_reply *r, unsigned status, json_t *body) {
        json_decref(r->json);
        r->status = status;
        r->json = body;
}

static void initialize(const struct mcp_request *q, const struct mcp_msg *m, struct mcp_reply *r) {
        trace_attr("mcp.method", "initialize");
        json_t *pv = json_object_get(m->params, "protocolVersion");
        if ((m->params && !json_is_object(m->params)) || !json_is_string(pv)) {
                reply(r, 200, mcp_error(m->id, MCP_INVALID_PARAMS,
                                        "Invalid params: initialize needs params.protocolVersion (a string)"));
                return;
        }
        const char *version = mcp_negotiate(json_string_value(pv));
        char id[40];
        struct mcp_session evicted;
        if (table_add(q->who, version, id, &evicted) < 0) {
                reply(r, 503, mcp_error(m->id, MCP_SERVER_ERROR,
                                        "Too many MCP sessions on this server; end unused ones (DELETE /mcp) or retry "
                                        "later"));
                return;
        }
        stop_default(&evicted, "mcp_session_evicted");
        json_t *info = json_pack("{s:s, s:s}", "name", "airlock", "version", AIRLOCK_VERSION);
        if (mcp_version_at_least(version, "2025-06-18"))
                json_object_set_new(info, "title", json_string("Airlock code interpreter"));
        json_t *result = json_pack("{s:s, s:{s:{s:b}}, s:o, s:s}", "protocolVersion", version, "capabilities", "tools",
                                   "listChanged", 0, "serverInfo", info, "instructions", mcp_instructions);
        reply(r, 200, mcp_response(m->id, result));
        snprintf(r->session_id, sizeof(r->session_id), "%s", id);
        json_t *client = json_object_get(json_object_get(m->params, "clientInfo"), "name");
        json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "level", "info", "msg", "mcp session started",
                                 "tenant", q->who->tenant, "key_id", q->who->key_id, "protocol_version", version,
                                 "request_id", q->request_id ? q->request_id : "");
        if (json_is_string(client) && json_string_length(client) <= 128)
                json_object_set(line, "client", client);
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (text)
                fprintf(stderr, "%s\n", text);
        free(text);
        json_decref(line);
}

/* The MCP session a request names, or false with the reply set (400 without the header,
 * 404 for one this key does not have). */
static bool session_of(const struct mcp_request *q, json_t *id, struct mcp_session *s, struct mcp_reply *r) {
        if (!q->session_id) {
                reply(r, 400, mcp_error(id, MCP_SERVER_ERROR,
                                        "Bad Request: no Mcp-Session-Id header; start with initialize"));
                return false;
        }
        if (!table_get(q->session_id, q->who->key_id, s)) {
                reply(r, 404, mcp_error(id, MCP_SESSION_NOT_FOUND,
                                        "Session not found: the MCP session has ended or was never this key's; "
                                        "initialize a new one"));
                return false;
        }
        return true;
}

static void post(const struct mcp_request *q, struct mcp_reply *r) {
        if (!mcp_accepts_json(q->accept)) {
                reply(r, 406, mcp_error(NULL, MCP_SERVER_ERROR,
                                        "Not Acceptable: this server answers with application/json; send Accept: "
                                        "application/json, text/event-stream"));
                return;
        }
        if (q->protocol_version && !mcp_version_supported(q->protocol_version)) {
                reply(r, 400, mcp_error(NULL, MCP_INVALID_REQUEST,
                                        "Bad Request: unsupported MCP-Protocol-Version %.32s (supported: 2024-11-05, "
                                        "2025-03-26, 2025-06-18, 2025-11-25)",
                                        q->protocol_version));
                return;
        }
        char why[256];
        json_t *body = mcp_parse(q->body, q->body_len, why, sizeof(why));
        if (!body) {
                reply(r, 400, mcp_error(NULL, MCP_PARSE_ERROR, "Parse error: %s", why));
                return;
        }
        struct mcp_session s;
        if (!json_is_array(body)) {
                struct mcp_msg m;
                mcp_classify(body, &m);
                if (m.kind == MCP_REQUEST && !strcmp(m.method, "initialize"))
                        initialize(q, &m, r);
                else if (m.kind == MCP_INVALID)
                        reply(r, 400, mcp_error(m.id, m.error_code, "%s", m.error));
                else if (session_of(q, m.id, &s, r)) {
                        json_t *answer = dispatch(q, &s, &m);
                        reply(r, answer ? 200 : 202, answer);
                }
                json_decref(body);
                return;
        }
        /* A batch: only in 2025-03-26, which added them (2025-06-18 took them out again). */
        if (!session_of(q, NULL, &s, r)) {
                json_decref(body);
                return;
        }
        size_t n = json_array_size(body);
        if (strcmp(s.version, "2025-03-26") != 0 || n == 0 || n > MCP_BATCH_MAX) {
                reply(r, 400, mcp_error(NULL, MCP_INVALID_REQUEST,
                                        n == 0 || n > MCP_BATCH_MAX
                                                ? "Invalid Request: a batch holds 1 to 32 messages"
                                                : "Invalid Request: JSON-RPC batches exist in protocol version "
                                                  "2025-03-26 only; send one message per POST"));
                json_decref(body);
                return;
        }
        json_t *answers = json_array(), *one;
        size_t i;
        json_array_foreach(body, i, one) {
                struct mcp_msg m;
                mcp_classify(one, &m);
                json_t *answer = dispatch(q, &s, &m);
                if (answer)
                        json_array_append_new(answers, answer);
        }
        json_decref(body);
        if (json_array_size(answers))
                reply(r, 200, answers);
        else {
                json_decref(answers);
                reply(r, 202, NULL);
        }
}

static void end(const struct mcp_request *q, struct mcp_reply *r) {
        struct mcp_session gone;
        if (!q->session_id) {
                reply(r, 400, mcp_error(NULL, MCP_SERVER_ERROR, "Bad Request: no Mcp-Session-Id header"));
                return;
        }
        if (!table_remove(q->session_id, q->who->key_id, &gone)) {
                reply(r, 404, mcp_error(NULL, MCP_SESSION_NOT_FOUND,
                                        "Session not found: the MCP session has ended or was never this key's"));
                return;
        }
        stop_default(&gone, "mcp_session_deleted");
        reply(r, 204, NULL);
}

void mcp_handle(const struct mcp_request *q, struct mcp_reply *r) {
        memset(r, 0, sizeof(*r));
        if (!strcmp(q->method, "DELETE"))
                end(q, r);
        else
                post(q, r);
        if (r->status != 202 && r->status != 204 && !r->json) /* a reply that could not be built */
                reply(r, 500, mcp_error(NULL, MCP_INTERNAL_ERROR, "Internal error: out of memory"));
}

void mcp_reply_free(struct mcp_reply *r) {
        json_decref(r->json);
        r->json = NULL;
}
