/* airlock sessions: create, list, show and end sessions on a running daemon. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/cleanup.h"
#include "proto/launch_proto.h"

#define SESSION_REQUEST_TIMEOUT_S 120L /* creating one starts a sandbox and its runner */
#define COUNT_MAX 1000000000ull        /* far past any limit; the daemon judges the range */

static const char sessions_usage[] =
        "usage: airlock sessions <create|ls|get|rm> [options]\n"
        "\n"
        "Manage the sessions of a running daemon ('airlock serve'). A session is a sandbox\n"
        "whose state (variables, imports, files) lasts from one 'airlock exec' to the next.\n"
        "\n"
        "  airlock sessions create [options]  start a session and print its id\n"
        "      --memory-mb N            memory limit, no swap (daemon default 512)\n"
        "      --cpus F                 CPU limit in CPUs, e.g. 0.5 (daemon default 1)\n"
        "      --pids N                 process and thread limit (daemon default 64)\n"
        "      --workspace-mb N         size of /workspace (daemon default 512)\n"
        "      --timeout-seconds S      lifetime: the session ends S seconds after it starts\n"
        "      --idle-timeout-seconds S the session ends after S seconds without an execution\n"
        "  -e, --env NAME=VALUE         a variable in the session (repeatable)\n"
        "      --metadata KEY=VALUE     a label kept with the session (repeatable)\n"
        "      --interpreter NAME       start from this interpreter's settings (default: default;\n"
        "                               see 'airlock interpreters')\n"
        "      --secret NAME            set your tenant's secret NAME as the variable NAME\n"
        "                               (repeatable; see 'airlock secrets')\n"
        "      --start fresh            a sandbox started for this session alone, not one from\n"
        "                               the warm pool (whose runner may have imported numpy,\n"
        "                               pandas and pyplot already); default the interpreter's\n"
        "  airlock sessions ls          list the live sessions\n"
        "  airlock sessions get ID      show one session, live or ended\n"
        "  airlock sessions rm ID...    end sessions (their workspaces go with them)\n"
        "\n"
        "      --json                   print the daemon's JSON (create, ls, get)\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            its API key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n";

struct sessions_opts {
        struct api_opts conn;
        bool json;
        json_t *req;    /* create: the request body */
        json_t *limits; /* create: its "limits" */
        char **args;    /* the operands */
        int nargs;
};

static int set_number(json_t *obj, const char *key, json_t *v) {
        return v ? json_object_set_new(obj, key, v) : -1;
}

static int parse_args(const char *prog, bool create, bool json_ok, int argc, char **argv, struct sessions_opts *o) {
        enum { O_JSON = 256, O_MEMORY, O_CPUS, O_PIDS, O_WORKSPACE, O_TIMEOUT, O_IDLE, O_METADATA, O_SECRET, O_INTERPRETER, O_START };
        static const struct option common_opts[] = {
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        static const struct option create_opts[] = {
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {"memory-mb", required_argument, NULL, O_MEMORY},
                {"cpus", required_argument, NULL, O_CPUS},
                {"pids", required_argument, NULL, O_PIDS},
                {"workspace-mb", required_argument, NULL, O_WORKSPACE},
                {"timeout-seconds", required_argument, NULL, O_TIMEOUT},
                {"idle-timeout-seconds", required_argument, NULL, O_IDLE},
                {"env", required_argument, NULL, 'e'},
                {"metadata", required_argument, NULL, O_METADATA},
                {"secret", required_argument, NULL, O_SECRET},
                {"interpreter", required_argument, NULL, O_INTERPRETER},
                {"start", required_argument, NULL, O_START},
                {NULL, 0, NULL, 0},
        };
        unsigned long long v = 0;
        double f = 0;
        int opt, r;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, create ? ":he:" : ":h", create ? create_opts : common_opts, NULL)) !=
               -1) {
                r = 0;
                switch (opt) {
                case 'h':
                        fputs(sessions_usage, stdout);
                        return -1;
                case O_JSON:
                        if (!json_ok)
                                return cli_usage_error(prog, "--json does not apply here");
                        o->json = true;
                        break;
                case CLI_OPT_URL:
                case CLI_OPT_API_KEY:
                        cli_connection_option(opt, optarg, &o->conn);
                        break;
                case O_MEMORY:
                        if (!(r = cli_parse_count(prog, "--memory-mb", optarg, COUNT_MAX, &v)))
                                r = set_number(o->limits, "memory_mb", json_integer((json_int_t)v));
                        break;
                case O_CPUS:
                        if (!(r = cli_parse_positive(prog, "--cpus", optarg, &f)))
                                r = set_number(o->limits, "cpus", json_real(f));
                        break;
                case O_PIDS:
                        if (!(r = cli_parse_count(prog, "--pids", optarg, COUNT_MAX, &v)))
                                r = set_number(o->limits, "pids", json_integer((json_int_t)v));
                        break;
                case O_WORKSPACE:
                        if (!(r = cli_parse_count(prog, "--workspace-mb", optarg, COUNT_MAX, &v)))
                                r = set_number(o->limits, "workspace_mb", json_integer((json_int_t)v));
                        break;
                case O_TIMEOUT:
                        if (!(r = cli_parse_count(prog, "--timeout-seconds", optarg, COUNT_MAX, &v)))
                                r = set_number(o->req, "timeout_seconds", json_integer((json_int_t)v));
                        break;
                case O_IDLE:
                        if (!(r = cli_parse_count(prog, "--idle-timeout-seconds", optarg, COUNT_MAX, &v)))
                                r = set_number(o->req, "idle_timeout_seconds", json_integer((json_int_t)v));
                        break;
                case 'e':
                        r = cli_add_pair(prog, "--env", o->req, "env", optarg);
                        break;
                case O_METADATA:
                        r = cli_add_pair(prog, "--metadata", o->req, "metadata", optarg);
                        break;
                case O_INTERPRETER:
                        if (!*optarg)
                                return cli_usage_error(prog, "--interpreter: the name cannot be empty");
                        r = json_object_set_new(o->req, "interpreter", json_string(optarg));
                        break;
                case O_START:
                        if (strcmp(optarg, "warm") != 0 && strcmp(optarg, "fresh") != 0)
                                return cli_usage_error(prog, "--start: warm or fresh, got '%s'", optarg);
                        r = json_object_set_new(o->req, "start", json_string(optarg));
                        break;
                case O_SECRET: {
                        if (!lp_valid_env_name(optarg, strlen(optarg)))
                                return cli_usage_error(prog, "--secret '%s': a name matching [A-Za-z_][A-Za-z0-9_]*",
                                                       optarg);
                        json_t *list = json_object_get(o->req, "secrets");
                        if (!list) {
                                list = json_array();
                                r = json_object_set_new(o->req, "secrets", list);
                        }
                        if (r == 0)
                                r = json_array_append_new(list, json_string(optarg));
                        break;
                }
                default:
                        return cli_getopt_error(prog, opt, argv);
                }
                if (r < 0)
                        return cli_usage_error(prog, "out of memory");
                if (r)
                        return r;
        }
        o->args = argv + optind;
        o->nargs = argc - optind;
        return 0;
}

/* ---- printing ---- */

static const char *str(json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "-";
}

static void number(json_t *v, char *out, size_t cap) {
        if (json_is_integer(v))
                snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
                snprintf(out, cap, "%g", json_real_value(v));
        else
                snprintf(out, cap, "-");
}

static void status_text(json_t *s, char *out, size_t cap) {
        const char *reason = json_string_value(json_object_get(s, "ended_reason"));
        if (reason)
                snprintf(out, cap, "%s (%s)", str(s, "status"), reason);
        else
                snprintf(out, cap, "%s", str(s, "status"));
}

static void print_table(json_t *sessions) {
        int id_w = 2, status_w = 6;
        size_t i;
        json_t *s;
        char status[96], mem[32];
        json_array_foreach(sessions, i, s) {
                int n = (int)strlen(str(s, "id"));
                id_w = n > id_w ? n : id_w;
                status_text(s, status, sizeof(status));
                n = (int)strlen(status);
                status_w = n > status_w ? n : status_w;
        }
        printf("%-*s  %-*s  %-20s  %-20s  %s\n", id_w, "ID", status_w, "STATUS", "CREATED", "EXPIRES", "MEMORY");
        json_array_foreach(sessions, i, s) {
                status_text(s, status, sizeof(status));
                number(json_object_get(json_object_get(s, "limits"), "memory_mb"), mem, sizeof(mem));
                printf("%-*s  %-*s  %-20s  %-20s  %s MiB\n", id_w, str(s, "id"), status_w, status,
                       str(s, "created_at"), str(s, "expires_at"), mem);
        }
}

static void print_session(json_t *s) {
        char buf[96], a[32], b[32], c[32], d[32];
        status_text(s, buf, sizeof(buf));
        printf("id:            %s\n", str(s, "id"));
        printf("status:        %s\n", buf);
        printf("created:       %s\n", str(s, "created_at"));
        printf("expires:       %s\n", str(s, "expires_at"));
        number(json_object_get(s, "idle_timeout_seconds"), a, sizeof(a));
        printf("idle timeout:  %s s\n", a);
        json_t *l = json_object_get(s, "limits");
        number(json_object_get(l, "memory_mb"), a, sizeof(a));
        number(json_object_get(l, "cpus"), b, sizeof(b));
        number(json_object_get(l, "pids"), c, sizeof(c));
        number(json_object_get(l, "workspace_mb"), d, sizeof(d));
        printf("limits:        memory %s MiB, cpus %s, pids %s, workspace %s MiB\n", a, b, c, d);
        json_t *iso = json_object_get(s, "isolation");
        if (iso) {
                number(json_object_get(iso, "landlock_abi"), a, sizeof(a));
                printf("isolation:     %s, cgroup %s, landlock abi %s, seccomp %s, %s uid, network %s\n",
                       str(iso, "backend"), str(iso, "cgroup"), a,
                       json_is_true(json_object_get(iso, "seccomp")) ? "on" : "off",
                       json_is_true(json_object_get(iso, "uid_private")) ? "private" : "shared",
                       str(iso, "network"));
        }
        json_t *start = json_object_get(s, "start");
        if (start) {
                printf("start:         %s, %s", str(start, "mode"),
                       json_is_true(json_object_get(start, "from_pool")) ? "from the warm pool" : "started for it");
                size_t k;
                json_t *m;
                json_array_foreach(json_object_get(start, "preloaded"), k, m) {
                        printf("%s%s", k ? ", " : "; preloaded ", json_is_string(m) ? json_string_value(m) : "?");
                }
                printf("\n");
        }
        json_t *meta = json_object_get(s, "metadata");
        if (json_object_size(meta)) {
                const char *k;
                json_t *v;
                const char *lead = "metadata:      ";
                json_object_foreach(meta, k, v) {
                        printf("%s%s=%s\n", lead, k, json_is_string(v) ? json_string_value(v) : "?");
                        lead = "               ";
                }
        }
}

/* ---- the verbs ---- */

static int sessions_create(struct api *a, struct sessions_opts *o) {
        if (json_object_size(o->limits) && json_object_set(o->req, "limits", o->limits) < 0) {
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        json_t *reply = NULL;
        int r = api_json(a, "POST", "/v1/sessions", o->req, SESSION_REQUEST_TIMEOUT_S, &reply);
        if (r == 0) {
                if (o->json)
                        cli_print_json(reply);
                else
                        printf("%s\n", str(reply, "id"));
        }
        json_decref(reply);
        return r;
}

static int sessions_ls(struct api *a, struct sessions_opts *o) {
        json_t *reply = NULL;
        int r = api_json(a, "GET", "/v1/sessions", NULL, SESSION_REQUEST_TIMEOUT_S, &reply);
        if (r == 0) {
                if (o->json)
                        cli_print_json(reply);
                else
                        print_table(json_object_get(reply, "sessions"));
        }
        json_decref(reply);
        return r;
}

static int session_path(struct api *a, const char *id, char **ret) {
        _cleanup_free_ char *esc = api_escape(a, id, false);
        if (!esc || asprintf(ret, "/v1/sessions/%s", esc) < 0) {
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        return 0;
}

static int sessions_get(struct api *a, struct sessions_opts *o) {
        _cleanup_free_ char *path = NULL;
        int r = session_path(a, o->args[0], &path);
        if (r)
                return r;
        json_t *reply = NULL;
        r = api_json(a, "GET", path, NULL, SESSION_REQUEST_TIMEOUT_S, &reply);
        if (r == 0) {
                if (o->json)
                        cli_print_json(reply);
                else
                        print_session(reply);
        }
        json_decref(reply);
        return r;
}

/* Every ID is tried; the status is 1 if any could not be ended. */
static int sessions_rm(struct api *a, struct sessions_opts *o) {
        int rc = 0;
        for (int i = 0; i < o->nargs; i++) {
                _cleanup_free_ char *path = NULL;
                json_t *reply = NULL;
                int r = session_path(a, o->args[i], &path);
                if (r == 0)
                        r = api_json(a, "DELETE", path, NULL, SESSION_REQUEST_TIMEOUT_S, &reply);
                json_decref(reply);
                rc = rc ? rc : r;
        }
        return rc;
}

int cmd_sessions(int argc, char **argv) {
        static const char *const subs[] = {"create", "ls", "get", "rm", NULL};
        const char *sub = NULL;
        char prog[32];
        int pick = cli_subcommand("sessions", sessions_usage, subs, "create, ls, get or rm", argc, argv, &sub, prog,
                                  sizeof(prog));
        if (pick)
                return pick < 0 ? 0 : pick;
        bool create = !strcmp(sub, "create"), ls = !strcmp(sub, "ls"), get = !strcmp(sub, "get"),
             rm = !strcmp(sub, "rm");

        struct sessions_opts o;
        memset(&o, 0, sizeof(o));
        o.req = json_object();
        o.limits = json_object();
        int r = parse_args(prog, create, !rm, argc - 1, argv + 1, &o);
        if (r == 0) {
                if ((create || ls) && o.nargs > 0)
                        r = cli_usage_error(prog, "unexpected argument '%s'", o.args[0]);
                else if ((get || rm) && o.nargs == 0)
                        r = cli_usage_error(prog, "which session? give its ID");
                else if (get && o.nargs > 1)
                        r = cli_usage_error(prog, "one ID at a time (extra: '%s')", o.args[1]);
                for (int i = 0; r == 0 && i < o.nargs && (get || rm); i++)
                        if (!o.args[i][0])
                                r = cli_usage_error(prog, "a session ID cannot be empty");
        }
        struct api a;
        if (r == 0 && (r = api_open(&a, &o.conn, prog)) == 0) {
                r = create ? sessions_create(&a, &o)
                    : ls   ? sessions_ls(&a, &o)
                    : get  ? sessions_get(&a, &o)
                           : sessions_rm(&a, &o);
                api_close(&a);
        }
        json_decref(o.req);
        json_decref(o.limits);
        return r < 0 ? 0 : r;
}
