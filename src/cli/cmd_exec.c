/* airlock exec: run code in a session of a running daemon. Output comes back when the
 * execution ends; the exit status says how it ended, as for 'airlock run'. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "proto/launch_proto.h"

#define EXIT_TIMEOUT 124
#define EXIT_KILLED 137
#define DAEMON_DEFAULT_TIMEOUT_S 60.0 /* what the daemon allows when not told */
#define REPLY_MARGIN_S 30.0           /* past the execution's own limit: interrupt, kill, reply */

static const char exec_usage[] =
        "usage: airlock exec SESSION (-c CODE | FILE | -) [options]\n"
        "\n"
        "Run code in a session of a running daemon ('airlock sessions create' starts one).\n"
        "Variables, imports and files stay in the session for the next exec.\n"
        "\n"
        "  -c, --code CODE            the code\n"
        "  FILE                       a file holding the code ('-' reads standard input)\n"
        "  -l, --language L           python (the default), javascript, typescript or bash\n"
        "      --timeout-seconds S    interrupt the code after S seconds, as ^C would (daemon\n"
        "                             default 60); code that ignores the interrupt is killed\n"
        "                             and the session ends\n"
        "      --context ID           run in a namespace of its own within the session\n"
        "                             (default: the language's main one)\n"
        "      --clear-context        start the context afresh before running the code\n"
        "      --json                 print the daemon's JSON reply instead of the output\n"
        "      --url URL              the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY          its API key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                 this text\n"
        "\n"
        "The code's standard output goes to standard output, then the text of each result\n"
        "(display() calls, figures, a last expression's value); its standard error, then an\n"
        "error's traceback, go to standard error. A result with an image says so on standard\n"
        "error (--json has the image itself).\n"
        "\n"
        "Exit status: 0 ok, 1 the code raised an error (or the daemon refused or could not be\n"
        "reached), 124 timeout, 137 killed (out of memory, process limit, output limit; the\n"
        "session has ended), 2 bad usage.\n";

struct exec_opts {
        struct api_opts conn;
        const char *session;
        const char *code;
        const char *file;
        const char *language;
        const char *context;
        double timeout_s; /* 0: the daemon's default */
        bool from_stdin;
        bool json;
        bool clear;
};

static int parse_args(int argc, char **argv, struct exec_opts *o) {
        enum { O_TIMEOUT = 256, O_CONTEXT, O_JSON, O_CLEAR };
        static const struct option longopts[] = {
                {"code", required_argument, NULL, 'c'},
                {"language", required_argument, NULL, 'l'},
                {"timeout-seconds", required_argument, NULL, O_TIMEOUT},
                {"context", required_argument, NULL, O_CONTEXT},
                {"json", no_argument, NULL, O_JSON},
                {"clear-context", no_argument, NULL, O_CLEAR},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        int opt, r;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":c:l:h", longopts, NULL)) != -1) {
                r = 0;
                switch (opt) {
                case 'c':
                        if (o->code)
                                return cli_usage_error("exec", "-c given twice");
                        o->code = optarg;
                        break;
                case 'l':
                        o->language = optarg;
                        break;
                case O_TIMEOUT:
                        r = cli_parse_positive("exec", "--timeout-seconds", optarg, &o->timeout_s);
                        break;
                case O_CONTEXT:
                        if (!optarg || !*optarg)
                                return cli_usage_error("exec", "--context: the ID cannot be empty");
                        o->context = optarg;
                        break;
                case O_JSON:
                        o->json = true;
                        break;
                case O_CLEAR:
                        o->clear = true;
                        break;
                case 'h':
                        fputs(exec_usage, stdout);
                        return -1;
                case CLI_OPT_URL:
                case CLI_OPT_API_KEY:
                        cli_connection_option(opt, optarg, &o->conn);
                        break;
                default:
                        return cli_getopt_error("exec", opt, argv);
                }
                if (r)
                        return r;
        }
        char **rest = argv + optind;
        int nrest = argc - optind;
        if (nrest == 0)
                return cli_usage_error("exec", "which session? usage: airlock exec SESSION (-c CODE | FILE | -)");
        o->session = rest[0];
        if (!*o->session)
                return cli_usage_error("exec", "the SESSION cannot be empty");
        if (o->code && nrest > 1)
                return cli_usage_error("exec", "give either -c CODE or a FILE, not both (extra: '%s')", rest[1]);
        if (!o->code && nrest == 1)
                return cli_usage_error("exec", "nothing to run: give -c CODE, a FILE, or - for standard input");
        if (nrest > 2)
                return cli_usage_error("exec", "one FILE at a time (extra: '%s')", rest[2]);
        if (nrest == 2) {
                if (!strcmp(rest[1], "-"))
                        o->from_stdin = true;
                else
                        o->file = rest[1];
        }
        return 0;
}

/* The code as a JSON string (it travels in the request body, so it is read whole). */
static int load_code(const struct exec_opts *o, json_t **ret) {
        if (o->code) {
                if (strlen(o->code) > LP_CODE_MAX_BYTES)
                        return cli_usage_error("exec", "the code is larger than the limit of %u MiB",
                                               LP_CODE_MAX_BYTES >> 20);
                *ret = json_string(o->code);
                if (!*ret)
                        return cli_usage_error("exec", "-c: the code is not valid UTF-8");
                return 0;
        }
        const char *name = o->file ? o->file : "standard input";
        _cleanup_close_ int fd = o->file ? open(o->file, O_RDONLY | O_CLOEXEC | O_NOCTTY) : dup(STDIN_FILENO);
        if (fd < 0)
                return cli_usage_error("exec", "%s: %s", name, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
                return cli_usage_error("exec", "%s: is a directory", name);
        struct buf code;
        buf_init(&code, LP_CODE_MAX_BYTES);
        int r = buf_append(&code, "", 0);
        char chunk[65536];
        while (r == 0) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        buf_free(&code);
                        return cli_usage_error("exec", "reading %s: %s", name, strerror(e));
                }
                if (n == 0)
                        break;
                r = buf_append(&code, chunk, (size_t)n);
        }
        if (r == 0) {
                *ret = json_stringn(code.data, code.len);
                buf_free(&code);
                if (!*ret)
                        return cli_usage_error("exec", "%s: the code is not valid UTF-8", name);
                return 0;
        }
        buf_free(&code);
        if (r == -E2BIG)
                return cli_usage_error("exec", "%s: the code is larger than the limit of %u MiB", name,
                                       LP_CODE_MAX_BYTES >> 20);
        fprintf(stderr, "airlock: out of memory\n");
        return CLI_EXIT_API;
}

static void put_text(FILE *f, json_t *s) {
        size_t n = json_string_length(s);
        if (n)
                fwrite(json_string_value(s), 1, n, f);
}

/* What the session said, where a terminal user expects it. */
static void print_output(json_t *reply) {
        put_text(stdout, json_object_get(reply, "stdout"));
        put_text(stderr, json_object_get(reply, "stderr"));
        size_t i;
        json_t *res;
        json_array_foreach(json_object_get(reply, "results"), i, res) {
                json_t *text = json_object_get(res, "text/plain");
                size_t n = json_string_length(text);
                if (json_is_string(text)) {
                        put_text(stdout, text);
                        if (!n || json_string_value(text)[n - 1] != '\n')
                                fputc('\n', stdout);
                        const char *k;
                        json_t *v;
                        json_object_foreach(res, k, v) {
                                if (!strncmp(k, "image/", 6))
                                        fprintf(stderr, "airlock: result %zu has an image (%s, %zu base64 bytes); --json shows it\n",
                                                i + 1, k, json_string_length(v));
                        }
                } else {
                        const char *kind = "no text form";
                        const char *k;
                        json_t *v;
                        json_object_foreach(res, k, v) {
                                kind = k;
                                break;
                        }
                        fprintf(stderr, "airlock: result %zu is %s; --json shows it\n", i + 1, kind);
                }
        }
        json_t *err = json_object_get(reply, "error");
        if (!json_is_object(err))
                return;
        json_t *tb = json_object_get(err, "traceback");
        json_t *line;
        json_array_foreach(tb, i, line) {
                put_text(stderr, line);
        }
        if (!json_array_size(tb)) {
                const char *name = json_string_value(json_object_get(err, "name"));
                const char *value = json_string_value(json_object_get(err, "value"));
                fprintf(stderr, "%s%s%s\n", name ? name : "error", value && *value ? ": " : "",
                        value ? value : "");
        }
}

static const char *killed_text(const char *reason) {
        if (!reason)
                return "the session's runner was stopped";
        if (!strcmp(reason, "oom"))
                return "out of memory";
        if (!strcmp(reason, "pids"))
                return "process limit reached";
        if (!strcmp(reason, "output_limit"))
                return "output limit reached";
        if (!strcmp(reason, "deleted"))
                return "the session was deleted";
        if (!strcmp(reason, "idle_timeout") || !strcmp(reason, "expired") || !strcmp(reason, "stopped"))
                return "the session was stopped";
        if (!strcmp(reason, "daemon_stopped"))
                return "the daemon stopped";
        if (!strcmp(reason, "runner_exited"))
                return "the session's runner exited";
        return reason;
}

static int exit_status(json_t *reply, const struct exec_opts *o) {
        const char *status = json_string_value(json_object_get(reply, "status"));
        bool kept = json_is_true(json_object_get(reply, "state_kept"));
        if (!status) {
                fprintf(stderr, "airlock: the daemon's reply has no status\n");
                return CLI_EXIT_API;
        }
        if (!strcmp(status, "ok"))
                return 0;
        if (!strcmp(status, "error"))
                return 1;
        if (!strcmp(status, "timeout")) {
                if (!o->json)
                        fprintf(stderr, "airlock: timeout after %g s%s\n",
                                o->timeout_s > 0 ? o->timeout_s : DAEMON_DEFAULT_TIMEOUT_S,
                                kept ? "" : "; the code did not stop at the interrupt and the session has ended");
                return EXIT_TIMEOUT;
        }
        if (!strcmp(status, "killed")) {
                if (!o->json)
                        fprintf(stderr, "airlock: killed: %s; the session has ended\n",
                                killed_text(json_string_value(json_object_get(reply, "killed_reason"))));
                return EXIT_KILLED;
        }
        fprintf(stderr, "airlock: the execution ended with an unknown status '%s'\n", status);
        return CLI_EXIT_API;
}

static int run(struct api *a, const struct exec_opts *o, json_t *req) {
        _cleanup_free_ char *id = api_escape(a, o->session, false);
        _cleanup_free_ char *path = NULL;
        if (!id || asprintf(&path, "/v1/sessions/%s/execute", id) < 0) {
                path = NULL;
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        double limit = (o->timeout_s > 0 ? o->timeout_s : DAEMON_DEFAULT_TIMEOUT_S) + REPLY_MARGIN_S;
        json_t *reply = NULL;
        int r = api_json(a, "POST", path, req, (long)ceil(limit), &reply);
        if (r == 0) {
                if (o->json)
                        cli_print_json(reply);
                else
                        print_output(reply);
                fflush(stdout);
                r = exit_status(reply, o);
        }
        json_decref(reply);
        return r;
}

int cmd_exec(int argc, char **argv) {
        struct exec_opts o;
        memset(&o, 0, sizeof(o));
        int r = parse_args(argc, argv, &o);
        if (r)
                return r < 0 ? 0 : r;
        json_t *code = NULL;
        if ((r = load_code(&o, &code)))
                return r;
        json_t *req = json_pack("{s:o}", "code", code);
        if (req && o.language)
                r = json_object_set_new(req, "language", json_string(o.language));
        if (req && o.context && r == 0)
                r = json_object_set_new(req, "context_id", json_string(o.context));
        if (req && o.clear && r == 0)
                r = json_object_set_new(req, "clear_context", json_true());
        if (req && o.timeout_s > 0 && r == 0)
                r = json_object_set_new(req, "timeout_seconds", json_real(o.timeout_s));
        if (!req || r < 0) {
                json_decref(req);
                return cli_usage_error("exec", "--language and --context must be valid UTF-8");
        }
        struct api a;
        if ((r = api_open(&a, &o.conn, "exec")) == 0) {
                r = run(&a, &o, req);
                api_close(&a);
        }
        json_decref(req);
        return r;
}
