/* airlock mcp: the MCP server over stdio, for clients that start their servers as
 * programs (Claude Desktop, IDEs). There is one MCP implementation, in the daemon: this
 * bridge reads newline-delimited JSON-RPC messages from standard input, POSTs each to the
 * daemon's /mcp with the key and the Mcp-Session-Id it was given, and writes each answer
 * as one line on standard output. Standard output carries nothing else (the protocol owns
 * it); every diagnostic goes to standard error. At the end of input the MCP session is
 * ended (DELETE), which stops its default sandbox session, and the program exits 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#define LINE_MAX_BYTES (24u << 20) /* the daemon's own limit for one POST */
#define END_TIMEOUT_S 10L

/* SIGTERM, SIGINT or SIGHUP: the client is closing us. Reading stops (the handler is
 * installed without SA_RESTART) and the MCP session is ended as at EOF, so its default
 * sandbox does not wait for the idle timeout. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
        (void)sig;
        stop_requested = 1;
}

static const char mcp_usage[] =
        "usage: airlock mcp [options]\n"
        "\n"
        "Serve the Model Context Protocol (MCP) over standard input and output, for MCP clients\n"
        "that start their servers as programs (Claude Desktop: \"command\": \"airlock\",\n"
        "\"args\": [\"mcp\"], with AIRLOCK_API_KEY in \"env\"). The tools run code, shell commands\n"
        "and file operations in sandboxes of a running daemon ('airlock serve'): each JSON-RPC\n"
        "message (one per line) goes to the daemon's /mcp endpoint, and its answer comes back as\n"
        "one line. Messages are handled one at a time, in order. At the end of the input the MCP\n"
        "session ends, and with it its default sandbox session. See docs/mcp.md.\n"
        "\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            a key with the sessions scope (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 at the end of the input, 1 when standard output fails, 2 bad usage.\n";

struct bridge {
        struct api api;
        char session[256]; /* Mcp-Session-Id; "" before initialize */
        char version[32];  /* the negotiated protocol version, sent as MCP-Protocol-Version */
        char *init;        /* the client's initialize, to start again when the daemon forgot us */
        size_t init_len;
};

/* ---- standard input, one line at a time ---- */

struct reader {
        struct buf pending;
        bool eof, skipping;
};

/* The next line (without its "\n") in line: 1; 0 at the end of input; -E2BIG for a line
 * over LINE_MAX_BYTES, which is skipped. */
static int next_line(struct reader *r, struct buf *line) {
        for (;;) {
                char *nl = r->pending.len ? memchr(r->pending.data, '\n', r->pending.len) : NULL;
                if (nl || (r->eof && r->pending.len)) {
                        size_t n = nl ? (size_t)(nl - r->pending.data) : r->pending.len;
                        bool was_skipping = r->skipping;
                        line->len = 0;
                        int a = was_skipping ? 0 : buf_append(line, r->pending.data, n);
                        size_t used = nl ? n + 1 : n;
                        memmove(r->pending.data, r->pending.data + used, r->pending.len - used);
                        r->pending.len -= used;
                        r->skipping = false;
                        return was_skipping || a < 0 ? -E2BIG : 1;
                }
                if (r->eof)
                        return 0;
                if (r->pending.len > LINE_MAX_BYTES) { /* no newline in sight: drop until there is one */
                        r->skipping = true;
                        r->pending.len = 0;
                }
                char chunk[65536];
                ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
                if (got < 0 && errno == EINTR && !stop_requested)
                        continue;
                if (got <= 0) {
                        r->eof = true;
                        continue;
                }
                if (buf_append(&r->pending, chunk, (size_t)got) < 0)
                        return -ENOMEM;
        }
}

/* ---- standard output: JSON-RPC only ---- */

static int emit(json_t *msg) {
        char *text = json_dumps(msg, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        int r = fputs(text, stdout) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0 ? -EIO : 0;
        free(text);
        return r;
}

/* An error answer the bridge makes itself (the daemon could not answer in JSON-RPC): only
 * requests get one, notifications have nobody waiting. */
__attribute__((format(printf, 3, 4))) static int emit_error(json_t *id, int code, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "airlock mcp: %s\n", msg);
        if (!id)
                return 0;
        json_t *e = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", code, "message",
                              msg);
        int r = e ? emit(e) : 0; /* a message that is not UTF-8 is only logged */
        json_decref(e);
        return r;
}

/* ---- the daemon ---- */

static int post(struct bridge *b, const char *body, size_t len, bool with_session, struct api_raw_reply *rep) {
        char session[300], version[64];
        const char *headers[5] = {"Content-Type: application/json", "Accept: application/json, text/event-stream"};
        size_t n = 2;
        if (with_session && b->session[0]) {
                snprintf(session, sizeof(session), "Mcp-Session-Id: %s", b->session);
                headers[n++] = session;
        }
        if (with_session && b->version[0]) {
                snprintf(version, sizeof(version), "MCP-Protocol-Version: %s", b->version);
                headers[n++] = version;
        }
        headers[n] = NULL;
        return api_raw(&b->api, "POST", "/mcp", headers, body, len, "Mcp-Session-Id", 0, rep);
}

/* Remember what an initialize answer says: the session's id and version. */
static void learn(struct bridge *b, const struct api_raw_reply *rep) {
        if (rep->status != 200 || !rep->header[0])
                return;
        snprintf(b->session, sizeof(b->session), "%s", rep->header);
        json_error_t e;
        json_t *j = json_loadb(rep->body.data ? rep->body.data : "", rep->body.len, JSON_ALLOW_NUL, &e);
        const char *v = json_string_value(json_object_get(json_object_get(j, "result"), "protocolVersion"));
        snprintf(b->version, sizeof(b->version), "%s", v && strlen(v) < sizeof(b->version) ? v : "");
        json_decref(j);
}

/* The daemon no longer knows our MCP session (it expired, or the daemon restarted): start
 * a new one with the client's own initialize, as the client would have to. */
static bool start_again(struct bridge *b) {
        if (!b->init)
                return false;
        fprintf(stderr, "airlock mcp: the daemon ended the MCP session; starting a new one\n");
        b->session[0] = b->version[0] = '\0';
        struct api_raw_reply rep;
        if (post(b, b->init, b->init_len, false, &rep) != 0) {
                fprintf(stderr, "airlock mcp: %s\n", rep.error);
                return false;
        }
        learn(b, &rep);
        api_raw_free(&rep);
        if (!b->session[0])
                return false;
        static const char initialized[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
        if (post(b, initialized, strlen(initialized), true, &rep) == 0)
                api_raw_free(&rep);
        return true;
}

/* One message from the client: relay it, and its answer. < 0 when standard output fails. */
static int relay(struct bridge *b, const char *line, size_t len) {
        json_error_t e;
        json_t *msg = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e); /* to know its id; the daemon judges it */
        json_t *id = json_is_object(msg) && json_object_get(msg, "method") ? json_object_get(msg, "id") : NULL;
        /* A notification is never answered (JSON-RPC 2.0 §4.1), not even with an error. */
        bool notification = json_is_object(msg) && json_object_get(msg, "method") && !id;
        bool is_init = id && !strcmp(json_string_value(json_object_get(msg, "method")) ?: "", "initialize");
        if (is_init) {
                free(b->init);
                b->init = malloc(len);
                if (b->init)
                        memcpy(b->init, line, len);
                b->init_len = b->init ? len : 0;
        }
        struct api_raw_reply rep;
        int r = 0;
        if (post(b, line, len, !is_init, &rep) != 0) {
                if (notification)
                        fprintf(stderr, "airlock mcp: a notification was lost: %s\n", rep.error);
                else
                        r = emit_error(id, -32000, "cannot reach the Airlock daemon: %s", rep.error);
                json_decref(msg);
                return r;
        }
        if (rep.status == 404 && !is_init && b->session[0] && start_again(b)) {
                api_raw_free(&rep);
                if (post(b, line, len, true, &rep) != 0) {
                        r = emit_error(id, -32000, "cannot reach the Airlock daemon: %s", rep.error);
                        json_decref(msg);
                        return r;
                }
        }
        if (is_init)
                learn(b, &rep);
        json_t *answer = rep.body.len ? json_loadb(rep.body.data, rep.body.len, JSON_ALLOW_NUL, &e) : NULL;
        bool rpc = (json_is_object(answer) && json_object_get(answer, "jsonrpc")) || json_is_array(answer);
        if (notification) {
                if (rep.status / 100 != 2)
                        fprintf(stderr, "airlock mcp: the daemon refused a notification (HTTP %ld)\n", rep.status);
        } else if (rpc) {
                /* An error the daemon gave before it could read the id is still this request's. */
                if (id && json_is_object(answer) && json_is_null(json_object_get(answer, "id")))
                        json_object_set(answer, "id", id);
                r = emit(answer);
        } else if (rep.status / 100 != 2 || id) {
                json_t *err = json_object_get(answer, "error");
                const char *why = json_string_value(json_object_get(err, "message"));
                r = emit_error(id, -32000, "the Airlock daemon answered HTTP %ld%s%s", rep.status, why ? ": " : "",
                               why ? why : "");
        }
        json_decref(answer);
        json_decref(msg);
        api_raw_free(&rep);
        return r;
}

static void end_session(struct bridge *b) {
        if (!b->session[0])
                return;
        char session[300];
        snprintf(session, sizeof(session), "Mcp-Session-Id: %s", b->session);
        const char *headers[] = {session, NULL};
        struct api_raw_reply rep;
        if (api_raw(&b->api, "DELETE", "/mcp", headers, NULL, 0, NULL, END_TIMEOUT_S, &rep) != 0)
                fprintf(stderr, "airlock mcp: could not end the MCP session: %s\n", rep.error);
        else
                api_raw_free(&rep);
}

int cmd_mcp(int argc, char **argv) {
        static const struct option opts[] = {
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        struct api_opts conn = {0};
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (opt == 'h') {
                        fputs(mcp_usage, stdout);
                        return 0;
                }
                if (opt == CLI_OPT_URL || opt == CLI_OPT_API_KEY)
                        cli_connection_option(opt, optarg, &conn);
                else
                        return cli_getopt_error("mcp", opt, argv);
        }
        if (optind < argc)
                return cli_usage_error("mcp", "unexpected argument '%s'", argv[optind]);
        struct bridge b;
        memset(&b, 0, sizeof(b));
        int r = api_open(&b.api, &conn, "mcp");
        if (r)
                return r;
        signal(SIGPIPE, SIG_IGN); /* a client gone is a write error, handled */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        struct reader in = {.eof = false};
        struct buf line;
        buf_init(&in.pending, LINE_MAX_BYTES + 65536);
        buf_init(&line, LINE_MAX_BYTES);
        int status = 0;
        while (!stop_requested) {
                int got = next_line(&in, &line);
                if (got == 0 || stop_requested)
                        break;
                if (got == -ENOMEM) {
                        fprintf(stderr, "airlock mcp: out of memory\n");
                        status = 1;
                        break;
                }
                if (got == -E2BIG) {
                        if (emit_error(json_null(), -32600, "a message of more than %u MiB was dropped",
                                       LINE_MAX_BYTES >> 20) < 0) {
                                status = 1;
                                break;
                        }
                        continue;
                }
                size_t n = line.len;
                while (n && (line.data[n - 1] == '\r' || line.data[n - 1] == ' ' || line.data[n - 1] == '\t'))
                        n--;
                size_t start = 0;
                while (start < n && (line.data[start] == ' ' || line.data[start] == '\t'))
                        start++;
                if (start == n)
                        continue; /* blank lines carry nothing */
                if (relay(&b, line.data + start, n - start) < 0) {
                        fprintf(stderr, "airlock mcp: cannot write to standard output\n");
                        status = 1;
                        break;
                }
        }
        end_session(&b);
        buf_free(&line);
        buf_free(&in.pending);
        free(b.init);
        api_close(&b.api);
        return status;
}
