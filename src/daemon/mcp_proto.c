/* mcp_proto: see mcp_proto.h. Every refusal here says what was expected, in words a
 * model can act on: tool argument errors go back to it as tool results (isError), so
 * that it can correct the call, as the 2025-11-25 specification asks. */
#include "daemon/mcp_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "common/cleanup.h"
#include "daemon/daemon.h"
#include "daemon/requests.h"

/* ---- protocol versions ---- */

/* 2024-11-05 only for old stdio clients behind `airlock mcp`: streamable HTTP came later. */
const char *const mcp_versions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", NULL};

static int version_index(const char *v) {
        for (int i = 0; v && mcp_versions[i]; i++)
                if (!strcmp(v, mcp_versions[i]))
                        return i;
        return -1;
}

bool mcp_version_supported(const char *v) { return version_index(v) >= 0; }

const char *mcp_negotiate(const char *requested) {
        int i = version_index(requested);
        return i >= 0 ? mcp_versions[i] : mcp_versions[ARRAY_SIZE(mcp_versions) - 2];
}

bool mcp_version_at_least(const char *v, const char *min) {
        int a = version_index(v), b = version_index(min);
        return a >= 0 && b >= 0 && a >= b;
}

/* ---- HTTP headers ---- */

static const char *skip_space(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

static const char *trim_end(const char *start, const char *end) {
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        return end;
}

static bool token_is(const char *p, const char *end, const char *word) {
        size_t n = strlen(word);
        return (size_t)(end - p) == n && strncasecmp(p, word, n) == 0;
}

/* q=0, q=0.0, q=0.00, q=0.000: "not acceptable" (RFC 9110 12.4.2). */
static bool q_zero(const char *p, const char *end) {
        if (end - p < 3 || strncasecmp(p, "q=", 2) != 0)
                return false;
        p += 2;
        if (*p != '0')
                return false;
        p++;
        if (p < end && *p == '.')
                p++;
        while (p < end && *p == '0')
                p++;
        return p == end;
}

bool mcp_accepts_json(const char *accept) {
        if (!accept)
                return true;
        for (const char *p = accept; *p;) {
                const char *end = p + strcspn(p, ",");
                const char *semi = memchr(p, ';', (size_t)(end - p));
                const char *type = skip_space(p, end), *type_end = trim_end(type, semi ? semi : end);
                bool ok = token_is(type, type_end, "application/json") || token_is(type, type_end, "application/*") ||
                          token_is(type, type_end, "*/*");
                for (const char *param = semi; ok && param && param < end;) {
                        const char *next = memchr(param + 1, ';', (size_t)(end - param - 1));
                        const char *a = skip_space(param + 1, next ? next : end), *b = trim_end(a, next ? next : end);
                        if (q_zero(a, b))
                                ok = false;
                        param = next;
                }
                if (ok)
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

static bool loopback_origin(const char *o) {
        const char *host;
        if (!strncasecmp(o, "http://", 7))
                host = o + 7;
        else if (!strncasecmp(o, "https://", 8))
                host = o + 8;
        else
                return false;
        size_t n = host[0] == '[' ? strcspn(host, "]") : strcspn(host, ":/");
        if (host[0] == '[') {
                if (host[n] != ']')
                        return false; /* "[" without its "]": no address, and no reading past the end */
                n++;
        }
        const char *port = host + n;
        if (port[0] == ':') {
                size_t digits = strspn(port + 1, "0123456789");
                if (digits < 1 || digits > 5 || port[1 + digits] != '\0')
                        return false;
        } else if (port[0] != '\0') {
                return false; /* a path, a query or junk: not an origin */
        }
        char name[64];
        if (n == 0 || n >= sizeof(name))
                return false;
        memcpy(name, host, n);
        name[n] = '\0';
        struct in_addr v4;
        return !strcasecmp(name, "localhost") || !strcmp(name, "[::1]") ||
               (inet_pton(AF_INET, name, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127);
}

bool mcp_origin_allowed(const char *origin, const char *allowed) {
        if (!origin)
                return true;
        if (loopback_origin(origin))
                return true;
        size_t olen = strlen(origin);
        for (const char *p = allowed ? allowed : ""; *p;) {
                const char *end = p + strcspn(p, ",");
                const char *a = skip_space(p, end), *b = trim_end(a, end);
                if (token_is(a, b, "*") || ((size_t)(b - a) == olen && olen && strncasecmp(a, origin, olen) == 0))
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

/* ---- JSON-RPC messages ---- */

json_t *mcp_parse(const char *body, size_t len, char *why, size_t cap) {
        if (!body || len == 0) {
                snprintf(why, cap, "the body is empty: send one JSON-RPC message");
                return NULL;
        }
        /* Checked before parsing: no parser recursion depends on the sender, and a body of
         * millions of tiny values (~40 bytes of memory each once parsed) is refused before
         * it costs hundreds of megabytes. Tool arguments are a few values; code and files
         * are one string each. */
        struct json_shape sh;
        json_shape_of(body, len, &sh);
        if (sh.deepest > MCP_DEPTH_MAX) {
                snprintf(why, cap, "JSON nested deeper than %d levels", MCP_DEPTH_MAX);
                return NULL;
        }
        if (sh.separators >= MCP_VALUES_MAX) {
                snprintf(why, cap, "more than %d JSON values in one message", MCP_VALUES_MAX);
                return NULL;
        }
        json_error_t e;
        /* NUL is valid JSON (\u0000): file contents and code may hold it. */
        json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!j)
                snprintf(why, cap, "not valid JSON: %s (line %d, column %d)", e.text, e.line, e.column);
        return j;
}

static void invalid(struct mcp_msg *m, int code, const char *msg) {
        m->kind = MCP_INVALID;
        m->error_code = code;
        snprintf(m->error, sizeof(m->error), "%s", msg);
}

void mcp_classify(json_t *msg, struct mcp_msg *m) {
        memset(m, 0, sizeof(*m));
        if (!json_is_object(msg)) {
                invalid(m, MCP_INVALID_REQUEST, "Invalid Request: a JSON-RPC message is an object");
                return;
        }
        json_t *id = json_object_get(msg, "id"), *method = json_object_get(msg, "method");
        bool has_result = json_object_get(msg, "result") != NULL, has_error = json_object_get(msg, "error") != NULL;
        bool id_ok = json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= MCP_ID_MAX);
        if (id_ok)
                m->id = id; /* usable in an error reply even when the rest is wrong */
        if (strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0) {
                invalid(m, MCP_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
                return;
        }
        if (id && !id_ok && !(json_is_null(id) && !method)) {
                invalid(m, MCP_INVALID_REQUEST,
                        json_is_string(id) ? "Invalid Request: the id is longer than 256 bytes"
                                           : "Invalid Request: \"id\" must be a string or an integer (not null)");
                return;
        }
        if (method) {
                if (!json_is_string(method) || json_string_length(method) < 1 ||
                    json_string_length(method) > MCP_METHOD_MAX) {
                        invalid(m, MCP_INVALID_REQUEST, "Invalid Request: \"method\" must be a string of 1 to 128 bytes");
                        return;
                }
                if (has_result || has_error) {
                        invalid(m, MCP_INVALID_REQUEST,
                                "Invalid Request: a message has a method or a result/error, not both");
                        return;
                }
                m->kind = id ? MCP_REQUEST : MCP_NOTIFICATION;
                m->method = json_string_value(method);
                m->params = json_object_get(msg, "params");
                return;
        }
        if (id && has_result != has_error) {
                m->kind = MCP_RESPONSE;
                return;
        }
        invalid(m, MCP_INVALID_REQUEST,
                "Invalid Request: a message needs a method (request, notification) or an id with a result or an "
                "error (response)");
}

json_t *mcp_error(json_t *id, int code, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Messages may quote what was sent, and a cut may split a character. */
        size_t used = 0;
        return json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                         code, "message", utf8_string(msg, strlen(msg), false, &used));
}

json_t *mcp_response(json_t *id, json_t *result) {
        return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                         result ? result : json_object());
}

/* ---- tools ---- */

enum arg_kind {
        K_TEXT,        /* any string of lo to hi bytes */
        K_ENUM,        /* one of choices; the first is the default */
        K_SESSION,     /* sess_ and 26 of [a-z0-9] */
        K_NAME,        /* a context id: 1 to 64 of [A-Za-z0-9_-] */
        K_INTERPRETER, /* an interpreter's name */
        K_FILE,        /* a workspace file path */
        K_DIR,         /* a workspace directory, the workspace itself included */
        K_INT,         /* a whole number from lo to hi */
        K_NUMBER,      /* a number from lo to hi */
};

struct arg {
        const char *name;
        enum arg_kind kind;
        bool required;
        double lo, hi;
        const char *const *choices;
        const char *description;
};

struct tool {
        const char *name, *title, *description;
        const struct arg *args;
        size_t nargs;
        bool read_only, destructive, idempotent;
        const char *output_schema; /* JSON text, or NULL: no structured result */
};

static const char *const languages[] = {"python", "javascript", "typescript", "bash", NULL};
static const char *const encodings[] = {"text", "base64", NULL};

#define SESSION_ARG                                                                                                   \
        {"session_id", K_SESSION, false, 0, 0, NULL,                                                                  \
         "The session to use (an id from create_session or list_sessions). Leave it out to use this conversation's " \
         "default session, which is started on first use."}

static const struct arg create_args[] = {
        {"interpreter", K_INTERPRETER, false, 0, 0, NULL,
         "The interpreter (a named session configuration with its own limits) to start from. Default: \"default\"."},
        {"timeout_seconds", K_INT, false, 1, 28800, NULL,
         "How long the session may live, in seconds (1 to 28800, within the interpreter's ceiling). Default: the "
         "interpreter's."},
};
static const struct arg stop_args[] = {
        {"session_id", K_SESSION, true, 0, 0, NULL, "The session to stop."},
};
static const struct arg run_code_args[] = {
        {"code", K_TEXT, true, 0, 16u << 20, NULL,
         "The code to run, like one notebook cell (at most 16 MiB). The value of its last expression is returned."},
        {"language", K_ENUM, false, 0, 0, languages, "python (the default), javascript, typescript or bash."},
        SESSION_ARG,
        {"context_id", K_NAME, false, 0, 0, NULL,
         "A separate namespace in the session (1 to 64 of A-Z, a-z, 0-9, _ and -), made on first use; its "
         "variables are its own, the files are shared. Leave it out for the language's default context."},
        {"timeout_seconds", K_NUMBER, false, 0.1, 3600, NULL,
         "Interrupt the code after this many seconds (0.1 to 3600). Default: the session's (usually 60)."},
};
static const struct arg run_command_args[] = {
        {"command", K_TEXT, true, 1, 1u << 20, NULL,
         "The shell command line, run with /bin/bash -c (1 byte to 1 MiB), e.g. \"ls -la && wc -l data.csv\"."},
        SESSION_ARG,
        {"cwd", K_TEXT, false, 0, 1023, NULL,
         "The working directory: absolute, or relative to /workspace. Default: /workspace."},
        {"timeout_seconds", K_NUMBER, false, 0.1, 86400, NULL,
         "Kill the command after this many seconds (0.1 to 86400). Default: 60."},
};
static const struct arg read_args[] = {
        {"path", K_FILE, true, 0, 0, NULL,
         "The file, relative to /workspace (or an absolute path inside /workspace), e.g. \"out/report.csv\"."},
        SESSION_ARG,
};
static const struct arg write_args[] = {
        {"path", K_FILE, true, 0, 0, NULL,
         "The file, relative to /workspace (or an absolute path inside /workspace). Missing directories are made."},
        {"content", K_TEXT, true, 0, MCP_BODY_MAX, NULL,
         "What the file will hold: the text itself, or base64 of the bytes when encoding is \"base64\"."},
        {"encoding", K_ENUM, false, 0, 0, encodings,
         "\"text\" (the default: content is written as UTF-8) or \"base64\" (content is decoded first; use it "
         "for binary files)."},
        SESSION_ARG,
};
static const struct arg list_args[] = {
        {"path", K_DIR, false, 0, 0, NULL, "The directory, relative to /workspace. Default: /workspace itself."},
        SESSION_ARG,
};

static const char session_schema[] =
        "{\"type\": \"object\", \"properties\": {"
        "\"session_id\": {\"type\": \"string\"}, \"interpreter\": {\"type\": \"string\"},"
        "\"status\": {\"type\": \"string\"}, \"created_at\": {\"type\": \"string\"}, \"expires_at\": {\"type\": \"string\"},"
        "\"idle_timeout_seconds\": {\"type\": \"integer\"}, \"execution_timeout_seconds\": {\"type\": \"number\"},"
        "\"limits\": {\"type\": \"object\", \"properties\": {\"memory_mb\": {\"type\": \"integer\"},"
        " \"cpus\": {\"type\": \"number\"}, \"pids\": {\"type\": \"integer\"}, \"workspace_mb\": {\"type\": \"integer\"}}}},"
        "\"required\": [\"session_id\", \"interpreter\", \"expires_at\", \"limits\"]}";

static const char sessions_schema[] =
        "{\"type\": \"object\", \"properties\": {\"sessions\": {\"type\": \"array\", \"items\": {\"type\": \"object\","
        " \"properties\": {\"session_id\": {\"type\": \"string\"}, \"interpreter\": {\"type\": \"string\"},"
        " \"status\": {\"type\": \"string\"}, \"created_at\": {\"type\": \"string\"}, \"expires_at\": {\"type\": \"string\"},"
        " \"default\": {\"type\": \"boolean\", \"description\": \"This conversation's default session.\"}},"
        " \"required\": [\"session_id\", \"interpreter\", \"status\", \"expires_at\", \"default\"]}}},"
        " \"required\": [\"sessions\"]}";

static const char execution_schema[] =
        "{\"type\": \"object\", \"properties\": {"
        "\"session_id\": {\"type\": \"string\", \"description\": \"The session the code ran in.\"},"
        "\"execution_id\": {\"type\": \"string\"},"
        "\"status\": {\"type\": \"string\", \"enum\": [\"ok\", \"error\", \"timeout\", \"killed\"]},"
        "\"language\": {\"type\": [\"string\", \"null\"]},"
        "\"stdout\": {\"type\": \"string\"}, \"stderr\": {\"type\": \"string\"},"
        "\"results\": {\"type\": \"array\", \"items\": {\"type\": \"object\"}, \"description\": \"The values shown, as "
        "MIME bundles (text/plain, text/html, application/json, application/vnd.airlock.chart+json, ...) in order; "
        "image/png and image/jpeg data are left out here: they are the result's image content.\"},"
        "\"charts\": {\"type\": \"array\", \"items\": {\"type\": \"object\"}, \"description\": \"What each matplotlib "
        "figure shows, as data (type, title, axes, elements), in order (application/vnd.airlock.chart+json).\"},"
        "\"error\": {\"type\": [\"object\", \"null\"], \"description\": \"The exception: name, value, traceback.\"},"
        "\"execution_count\": {\"type\": \"integer\"}, \"duration_ms\": {\"type\": \"number\"},"
        "\"state_kept\": {\"type\": \"boolean\"}, \"killed_reason\": {\"type\": [\"string\", \"null\"]}},"
        "\"required\": [\"session_id\", \"status\", \"stdout\", \"stderr\", \"results\", \"charts\", \"error\"]}";

static const char command_schema[] =
        "{\"type\": \"object\", \"properties\": {"
        "\"session_id\": {\"type\": \"string\"},"
        "\"exit_code\": {\"type\": [\"integer\", \"null\"], \"description\": \"null when a signal ended it.\"},"
        "\"signal\": {\"type\": [\"integer\", \"null\"]}, \"stdout\": {\"type\": \"string\"}, \"stderr\": {\"type\": \"string\"},"
        "\"duration_ms\": {\"type\": \"number\"}, \"timed_out\": {\"type\": \"boolean\"}},"
        "\"required\": [\"session_id\", \"exit_code\", \"stdout\", \"stderr\", \"timed_out\"]}";

static const char files_schema[] =
        "{\"type\": \"object\", \"properties\": {"
        "\"session_id\": {\"type\": \"string\"}, \"path\": {\"type\": \"string\"},"
        "\"entries\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
        "\"name\": {\"type\": \"string\"}, \"type\": {\"type\": \"string\", \"enum\": [\"file\", \"directory\", \"symlink\", \"other\"]},"
        "\"size\": {\"type\": \"integer\"}, \"mtime\": {\"type\": \"string\"}}, \"required\": [\"name\", \"type\", \"size\"]}}},"
        "\"required\": [\"session_id\", \"path\", \"entries\"]}";

#define ARGS(a) a, ARRAY_SIZE(a)

static const struct tool tools[MCP_T_COUNT] = {
        [MCP_T_CREATE_SESSION] =
                {"create_session", "Create a session",
                 "Start a new sandbox session: its own interpreter state and its own /workspace files, isolated from "
                 "every other session, without network access. You rarely need it: the other tools use this "
                 "conversation's default session when you leave out session_id. Create one for a separate, "
                 "independent environment (e.g. to try two approaches side by side), pass its session_id to the "
                 "other tools, and stop it with stop_session when you are done. Returns the session_id, when the "
                 "session expires and its limits (memory, CPUs, processes, workspace size).",
                 ARGS(create_args), false, false, false, session_schema},
        [MCP_T_STOP_SESSION] =
                {"stop_session", "Stop a session",
                 "Stop a session and discard everything in it: variables, running processes and the files in its "
                 "/workspace. Use it for sessions you made with create_session once you no longer need them. "
                 "Stopping this conversation's default session is allowed: the next call without session_id "
                 "starts a fresh one. Stopping a session that has already ended does nothing.",
                 ARGS(stop_args), false, true, true, NULL},
        [MCP_T_LIST_SESSIONS] =
                {"list_sessions", "List sessions",
                 "List the live sessions this API key's tenant has (including this conversation's default session, "
                 "marked as such): each one's session_id, interpreter and expiry time.",
                 NULL, 0, true, false, true, sessions_schema},
        [MCP_T_RUN_CODE] =
                {"run_code", "Run code",
                 "Run code in a sandboxed, stateful interpreter, like a notebook cell: variables, imports and "
                 "functions stay for the next call in the same session and context. Languages: python (the default; "
                 "numpy, pandas and matplotlib are installed), javascript and typescript (Node.js; top-level await "
                 "works), bash (a persistent shell). The value of the last expression is returned, as in Jupyter. "
                 "matplotlib figures come back as PNG images (call plt.show(), or leave the figure open), and what "
                 "they plot as data in the structured result (charts). The working directory is /workspace, shared "
                 "with run_command and the file tools. There is no network access (pip install will fail). If the "
                 "code fails the result has isError set and shows the traceback: fix the code and run it again. "
                 "Leave out session_id to use this conversation's default session.",
                 ARGS(run_code_args), false, true, false, execution_schema},
        [MCP_T_RUN_COMMAND] =
                {"run_command", "Run a shell command",
                 "Run a shell command (/bin/bash -c) in the session's sandbox and wait for it to end; returns its "
                 "exit code, stdout and stderr (isError is set when the exit code is not 0 or it timed out). The "
                 "working directory is /workspace unless cwd says otherwise. Use it to manage files, run scripts or "
                 "command-line tools. There is no network access. Leave out session_id to use this conversation's "
                 "default session.",
                 ARGS(run_command_args), false, true, false, command_schema},
        [MCP_T_READ_FILE] =
                {"read_file", "Read a file",
                 "Read a file from the session's /workspace. UTF-8 text comes back as text, PNG, JPEG, GIF and WebP "
                 "images as images, other files as base64 (an embedded resource blob). Files over 8 MiB are refused: "
                 "read parts of them with run_command (head, tail, grep) or run_code. Leave out session_id to use "
                 "this conversation's default session.",
                 ARGS(read_args), true, false, true, NULL},
        [MCP_T_WRITE_FILE] =
                {"write_file", "Write a file",
                 "Create or replace a file in the session's /workspace (missing directories are made). Text is "
                 "written as given (encoding \"text\", the default); for binary data send base64 with encoding "
                 "\"base64\". The file is then there for run_code and run_command. Leave out session_id to use this "
                 "conversation's default session.",
                 ARGS(write_args), false, true, true, NULL},
        [MCP_T_LIST_FILES] =
                {"list_files", "List files",
                 "List a directory of the session's /workspace: each entry's name, type (file, directory, symlink), "
                 "size in bytes and modification time. Without path, the top of /workspace. Leave out session_id to "
                 "use this conversation's default session.",
                 ARGS(list_args), true, false, true, files_schema},
};

const char mcp_instructions[] =
        "Airlock runs code for you in isolated sandboxes without network access. A session is one sandbox: "
        "interpreter state that persists between calls (Python, JavaScript/TypeScript, bash) and files in "
        "/workspace. Every tool that takes session_id uses this conversation's default session when you leave it "
        "out; it is started on first use and ends when this MCP connection ends or its session expires (the tool "
        "results then say a new one was started: variables and files are gone). Use run_code to compute, analyse "
        "data and plot (matplotlib figures come back as images, their data as structured content), run_command "
        "for shell commands, and write_file, read_file and list_files for files (paths are relative to "
        "/workspace). Use create_session only when you need a separate environment, and stop_session when you "
        "are done with it. When code fails, the result carries isError and the traceback: fix the code and try "
        "again.";

int mcp_tool_of(const char *name) {
        for (int i = 0; name && i < MCP_T_COUNT; i++)
                if (!strcmp(name, tools[i].name))
                        return i;
        return -1;
}

const char *mcp_tool_name(int tool) { return tool >= 0 && tool < MCP_T_COUNT ? tools[tool].name : "?"; }

bool mcp_tool_structured(int tool) { return tool >= 0 && tool < MCP_T_COUNT && tools[tool].output_schema; }

static json_t *arg_schema(const struct arg *a) {
        json_t *s = json_pack("{s:s}", "description", a->description);
        switch (a->kind) {
        case K_INT:
        case K_NUMBER:
                json_object_set_new(s, "type", json_string(a->kind == K_INT ? "integer" : "number"));
                json_object_set_new(s, "minimum", a->kind == K_INT ? json_integer((json_int_t)a->lo) : json_real(a->lo));
                json_object_set_new(s, "maximum", a->kind == K_INT ? json_integer((json_int_t)a->hi) : json_real(a->hi));
                break;
        case K_ENUM: {
                json_t *e = json_array();
                for (size_t i = 0; a->choices[i]; i++)
                        json_array_append_new(e, json_string(a->choices[i]));
                json_object_set_new(s, "type", json_string("string"));
                json_object_set_new(s, "enum", e);
                json_object_set_new(s, "default", json_string(a->choices[0]));
                break;
        }
        case K_SESSION:
                json_object_set_new(s, "type", json_string("string"));
                json_object_set_new(s, "pattern", json_string("^sess_[a-z0-9]{26}$"));
                break;
        case K_NAME:
                json_object_set_new(s, "type", json_string("string"));
                json_object_set_new(s, "pattern", json_string("^[A-Za-z0-9_-]{1,64}$"));
                break;
        case K_INTERPRETER:
                json_object_set_new(s, "type", json_string("string"));
                json_object_set_new(s, "pattern", json_string("^[A-Za-z][A-Za-z0-9_-]{0,47}$"));
                break;
        case K_TEXT:
                json_object_set_new(s, "type", json_string("string"));
                if (a->lo > 0)
                        json_object_set_new(s, "minLength", json_integer((json_int_t)a->lo));
                break;
        case K_FILE:
        case K_DIR:
        default:
                json_object_set_new(s, "type", json_string("string"));
                break;
        }
        return s;
}

static json_t *input_schema(const struct tool *t) {
        json_t *props = json_object(), *required = json_array();
        for (size_t i = 0; i < t->nargs; i++) {
                json_object_set_new(props, t->args[i].name, arg_schema(&t->args[i]));
                if (t->args[i].required)
                        json_array_append_new(required, json_string(t->args[i].name));
        }
        json_t *s = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props, "additionalProperties", 0);
        if (json_array_size(required))
                json_object_set_new(s, "required", required);
        else
                json_decref(required);
        return s;
}

json_t *mcp_tools_list(const char *version) {
        bool annotations = mcp_version_at_least(version, "2025-03-26");
        bool structured = mcp_version_at_least(version, "2025-06-18");
        json_t *list = json_array();
        for (size_t i = 0; i < MCP_T_COUNT; i++) {
                const struct tool *t = &tools[i];
                json_t *d = json_pack("{s:s, s:s, s:o}", "name", t->name, "description", t->description, "inputSchema",
                                      input_schema(t));
                if (structured)
                        json_object_set_new(d, "title", json_string(t->title));
                if (structured && t->output_schema) {
                        json_error_t e;
                        json_t *os = json_loads(t->output_schema, 0, &e);
                        if (os) /* a constant: the unit test proves that it parses */
                                json_object_set_new(d, "outputSchema", os);
                }
                if (annotations) {
                        json_t *a = json_pack("{s:s, s:b, s:b}", "title", t->title, "readOnlyHint", t->read_only,
                                              "openWorldHint", 0);
                        if (!t->read_only) /* meaningful only for tools that change something */
                                json_object_set_new(a, "destructiveHint", json_boolean(t->destructive));
                        json_object_set_new(a, "idempotentHint", json_boolean(t->idempotent));
                        json_object_set_new(d, "annotations", a);
                }
                json_array_append_new(list, d);
        }
        return json_pack("{s:o}", "tools", list);
}

static bool session_id_shape(const char *s) {
        if (strncmp(s, "sess_", 5) != 0 || strlen(s) != 31)
                return false;
        return strspn(s + 5, "abcdefghijklmnopqrstuvwxyz0123456789") == 26;
}

/* One argument against its spec: 0, or -EINVAL with why. */
static int check_arg(const struct arg *a, json_t *v, char *why, size_t cap) {
        char buf[LP_PATH_MAX];
        if (a->kind == K_INT || a->kind == K_NUMBER) {
                bool ok = a->kind == K_INT ? json_is_integer(v) : json_is_number(v);
                double n = json_number_value(v);
                if (!ok || n < a->lo || n > a->hi) {
                        snprintf(why, cap, "'%s' must be %s from %g to %g", a->name,
                                 a->kind == K_INT ? "a whole number" : "a number", a->lo, a->hi);
                        return -EINVAL;
                }
                return 0;
        }
        if (!json_is_string(v)) {
                snprintf(why, cap, "'%s' must be a string", a->name);
                return -EINVAL;
        }
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        /* NUL is data only in code and file contents (carried with their lengths); anywhere
         * else it would cut the value short where C reads it. */
        if (memchr(s, '\0', n) && strcmp(a->name, "code") != 0 && strcmp(a->name, "content") != 0) {
                snprintf(why, cap, "'%s' must not contain NUL characters", a->name);
                return -EINVAL;
        }
        bool ok = true;
        const char *expected = "";
        switch (a->kind) {
        case K_TEXT:
                if (n < (size_t)a->lo) {
                        snprintf(why, cap, "'%s' must not be empty", a->name);
                        return -EINVAL;
                }
                if (n > (size_t)a->hi) {
                        snprintf(why, cap, "'%s' is %zu bytes: at most %.0f", a->name, n, a->hi);
                        return -EINVAL;
                }
                break;
        case K_ENUM:
                ok = false;
                for (size_t i = 0; a->choices[i]; i++)
                        ok |= !strcmp(s, a->choices[i]);
                expected = a->choices == languages ? "python, javascript, typescript or bash" : "text or base64";
                break;
        case K_SESSION:
                ok = session_id_shape(s);
                expected = "a session id: sess_ and 26 lower-case letters and digits";
                break;
        case K_NAME:
                ok = request_valid_name(s);
                expected = "1 to 64 of A-Z, a-z, 0-9, _ and -";
                break;
        case K_INTERPRETER:
                ok = request_valid_interpreter_name(s);
                expected = "an interpreter's name: a letter, then up to 47 of A-Z, a-z, 0-9, _ and -";
                break;
        case K_FILE:
        case K_DIR:
                ok = n < sizeof(buf) && workspace_path(s, buf, sizeof(buf), a->kind == K_DIR);
                expected = a->kind == K_FILE ? "a file path inside /workspace: '/'-separated names, no '.', '..' or "
                                               "empty names, at most 1023 bytes"
                                             : "a directory inside /workspace: '/'-separated names, no '..', at "
                                               "most 1023 bytes";
                break;
        case K_INT:
        case K_NUMBER:
        default:
                break;
        }
        if (!ok) {
                snprintf(why, cap, "'%s' must be %s", a->name, expected);
                return -EINVAL;
        }
        return 0;
}

int mcp_check_args(int tool, json_t *args, char *why, size_t cap) {
        if (tool < 0 || tool >= MCP_T_COUNT) {
                snprintf(why, cap, "no such tool");
                return -EINVAL;
        }
        const struct tool *t = &tools[tool];
        if (args && !json_is_object(args)) {
                snprintf(why, cap, "the arguments of %s must be an object", t->name);
                return -EINVAL;
        }
        const char *k;
        json_t *v;
        json_object_foreach(args, k, v) {
                const struct arg *a = NULL;
                for (size_t i = 0; i < t->nargs && !a; i++)
                        if (!strcmp(k, t->args[i].name))
                                a = &t->args[i];
                if (!a) {
                        char names[256] = "";
                        size_t used = 0;
                        for (size_t i = 0; i < t->nargs && used < sizeof(names); i++) {
                                int w = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                                                 t->args[i].name);
                                used += w > 0 ? (size_t)w : 0;
                        }
                        snprintf(why, cap, "%s has no argument '%.64s' (%s%s)", t->name, k,
                                 t->nargs ? "its arguments: " : "it takes none", names);
                        return -EINVAL;
                }
                if (check_arg(a, v, why, cap) < 0)
                        return -EINVAL;
        }
        for (size_t i = 0; i < t->nargs; i++)
                if (t->args[i].required && !json_object_get(args, t->args[i].name)) {
                        snprintf(why, cap, "'%s' is required", t->args[i].name);
                        return -EINVAL;
                }
        return 0;
}
