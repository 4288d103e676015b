/* airlock interpreters: the named session configurations of a running daemon. Anyone
 * with a key lists them; creating, changing and removing take an admin key. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/cleanup.h"

#define REQUEST_TIMEOUT_S 60L
#define COUNT_MAX 1000000000ull /* far past any limit; the daemon judges the range */

static const char usage[] =
        "usage: airlock interpreters <create|update|ls|get|rm> [options]\n"
        "\n"
        "Interpreters are named session configurations: a session started from one gets its\n"
        "defaults and may tighten them, or loosen them up to its ceilings (--max-*). 'default'\n"
        "is built in. Creating, updating and removing need an admin key.\n"
        "\n"
        "  airlock interpreters create NAME [settings]   NAME: a letter, then [A-Za-z0-9_-]\n"
        "  airlock interpreters update NAME [settings]   change the given settings only\n"
        "  airlock interpreters ls                       list them\n"
        "  airlock interpreters get NAME                 show one\n"
        "  airlock interpreters rm NAME...               remove them (not while in use)\n"
        "\n"
        "Settings:\n"
        "      --description TEXT\n"
        "      --memory-mb N, --cpus F, --pids N, --workspace-mb N\n"
        "                               sessions' default limits\n"
        "      --max-memory-mb N, --max-cpus F, --max-pids N, --max-workspace-mb N\n"
        "                               the most a session may ask for (create: default the\n"
        "                               limits themselves: sessions may only tighten)\n"
        "      --timeout-seconds S      sessions' default lifetime; --max-timeout-seconds S\n"
        "      --idle-timeout-seconds S sessions end after S seconds without an execution\n"
        "      --execution-timeout-seconds S\n"
        "                               an execution's timeout when it names none\n"
        "      --network MODE           none (loopback only), allowlist (HTTP(S) through a proxy to\n"
        "                               the --allow entries only) or public (egress); docs/network.md\n"
        "      --allow HOST:PORT        an allowlist entry (repeatable): a DNS name, *.NAME for its\n"
        "                               subdomains, or an IPv4 address\n"
        "      --runtime RUNTIME        default, a built runtime's NAME (its newest version\n"
        "                               at each session's start) or NAME@vN ('airlock\n"
        "                               runtimes ls')\n"
        "      --start warm|fresh       warm (the default): sessions may take a sandbox from the\n"
        "                               daemon's warm pool, whose runner may have imported numpy,\n"
        "                               pandas and pyplot already; fresh: each session a sandbox\n"
        "                               started for it alone\n"
        "  -e, --env NAME=VALUE         a variable of every session (repeatable)\n"
        "\n"
        "      --json                   print the daemon's JSON\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            a key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n";

struct opts {
        struct api_opts conn;
        bool json;
        json_t *req;
        char **args;
        int nargs;
};

/* obj[key] (an object member of req, made on first use) = v. */
static int set_in(json_t *req, const char *obj, const char *key, json_t *v) {
        if (!v)
                return -1;
        if (!obj)
                return json_object_set_new(req, key, v);
        json_t *o = json_object_get(req, obj);
        if (!o && json_object_set_new(req, obj, o = json_object()) < 0)
                return -1;
        return json_object_set_new(o, key, v);
}

static int parse(const char *prog, bool settings, int argc, char **argv, struct opts *o) {
        enum { O_JSON = 256, O_DESC, O_NETWORK, O_ALLOW, O_RUNTIME, O_START, O_NUM };
        /* The numeric settings: flag, object ("" = top level), member, integer or not. */
        static const struct {
                const char *flag, *obj, *key;
                bool integer;
        } nums[] = {
                {"memory-mb", "limits", "memory_mb", true},
                {"cpus", "limits", "cpus", false},
                {"pids", "limits", "pids", true},
                {"workspace-mb", "limits", "workspace_mb", true},
                {"max-memory-mb", "max_limits", "memory_mb", true},
                {"max-cpus", "max_limits", "cpus", false},
                {"max-pids", "max_limits", "pids", true},
                {"max-workspace-mb", "max_limits", "workspace_mb", true},
                {"max-timeout-seconds", "max_limits", "timeout_seconds", true},
                {"timeout-seconds", "", "timeout_seconds", true},
                {"idle-timeout-seconds", "", "idle_timeout_seconds", true},
                {"execution-timeout-seconds", "", "execution_timeout_seconds", false},
        };
        enum { NNUMS = sizeof(nums) / sizeof(nums[0]) };
        /* 9 fixed entries, --env, the numeric ones, the terminator. */
        struct option opts[9 + 1 + NNUMS + 1] = {
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {"description", required_argument, NULL, O_DESC},
                {"network", required_argument, NULL, O_NETWORK},
                {"allow", required_argument, NULL, O_ALLOW},
                {"runtime", required_argument, NULL, O_RUNTIME},
                {"start", required_argument, NULL, O_START},
        };
        opts[9] = (struct option){"env", required_argument, NULL, 'e'};
        for (size_t i = 0; i < NNUMS; i++)
                opts[10 + i] = (struct option){nums[i].flag, required_argument, NULL, O_NUM + (int)i};
        opts[10 + NNUMS] = (struct option){NULL, 0, NULL, 0};
        int opt, at = -1, r;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":he:", opts, &at)) != -1) {
                r = 0;
                const char *name = at >= 0 ? opts[at].name : "env";
                at = -1;
                if (!settings && (opt == O_DESC || opt == O_NETWORK || opt == O_ALLOW || opt == O_RUNTIME ||
                                  opt == O_START || opt == 'e' || opt >= O_NUM))
                        return cli_usage_error(prog, "--%s applies to create and update only", name);
                if (opt >= O_NUM) {
                        size_t i = (size_t)(opt - O_NUM);
                        unsigned long long n;
                        double f;
                        char flag[48];
                        snprintf(flag, sizeof(flag), "--%s", nums[i].flag);
                        if (nums[i].integer) {
                                if ((r = cli_parse_count(prog, flag, optarg, COUNT_MAX, &n)))
                                        return r;
                                r = set_in(o->req, nums[i].obj[0] ? nums[i].obj : NULL, nums[i].key,
                                           json_integer((json_int_t)n));
                        } else {
                                if ((r = cli_parse_positive(prog, flag, optarg, &f)))
                                        return r;
                                r = set_in(o->req, nums[i].obj[0] ? nums[i].obj : NULL, nums[i].key, json_real(f));
                        }
                } else {
                        switch (opt) {
                        case 'h':
                                fputs(usage, stdout);
                                return -1;
                        case O_JSON:
                                o->json = true;
                                break;
                        case CLI_OPT_URL:
                        case CLI_OPT_API_KEY:
                                cli_connection_option(opt, optarg, &o->conn);
                                break;
                        case O_DESC:
                                r = set_in(o->req, NULL, "description", json_string(optarg));
                                break;
                        case O_RUNTIME:
                                r = set_in(o->req, NULL, "runtime", json_string(optarg));
                                break;
                        case O_START:
                                if (strcmp(optarg, "warm") != 0 && strcmp(optarg, "fresh") != 0)
                                        return cli_usage_error(prog, "--start: warm or fresh, got '%s'", optarg);
                                r = set_in(o->req, NULL, "start", json_string(optarg));
                                break;
                        case O_NETWORK:
                                r = set_in(o->req, "network", "mode", json_string(optarg));
                                break;
                        case O_ALLOW: {
                                json_t *net = json_object_get(o->req, "network");
                                json_t *list = json_object_get(net, "allowlist");
                                if (!list)
                                        r = set_in(o->req, "network", "allowlist", list = json_array());
                                if (r == 0)
                                        r = json_array_append_new(list, json_string(optarg));
                                break;
                        }
                        case 'e':
                                r = cli_add_pair(prog, "--env", o->req, "env", optarg);
                                if (r > 0)
                                        return r;
                                break;
                        default:
                                return cli_getopt_error(prog, opt, argv);
                        }
                }
                if (r < 0)
                        return cli_usage_error(prog, "--%s: not valid UTF-8, or out of memory", name);
        }
        o->args = argv + optind;
        o->nargs = argc - optind;
        return 0;
}

static const char *str(json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "-";
}

static void print_one(json_t *i) {
        json_t *lim = json_object_get(i, "limits"), *max = json_object_get(i, "max_limits");
        json_t *net = json_object_get(i, "network");
        printf("name:              %s%s\n", str(i, "name"), json_is_true(json_object_get(i, "builtin")) ? " (built in)" : "");
        printf("description:       %s\n", str(i, "description"));
        printf("limits:            memory %lld MiB, %g CPUs, %lld pids, workspace %lld MiB\n",
               (long long)json_integer_value(json_object_get(lim, "memory_mb")),
               json_number_value(json_object_get(lim, "cpus")),
               (long long)json_integer_value(json_object_get(lim, "pids")),
               (long long)json_integer_value(json_object_get(lim, "workspace_mb")));
        printf("ceilings:          memory %lld MiB, %g CPUs, %lld pids, workspace %lld MiB, lifetime %lld s\n",
               (long long)json_integer_value(json_object_get(max, "memory_mb")),
               json_number_value(json_object_get(max, "cpus")),
               (long long)json_integer_value(json_object_get(max, "pids")),
               (long long)json_integer_value(json_object_get(max, "workspace_mb")),
               (long long)json_integer_value(json_object_get(max, "timeout_seconds")));
        printf("lifetime:          %lld s (idle %lld s); executions %g s\n",
               (long long)json_integer_value(json_object_get(i, "timeout_seconds")),
               (long long)json_integer_value(json_object_get(i, "idle_timeout_seconds")),
               json_number_value(json_object_get(i, "execution_timeout_seconds")));
        printf("network:           %s", str(net, "mode"));
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(net, "allowlist"), k, e) {
                printf("%s%s", k ? ", " : " (allow ", json_string_value(e));
        }
        printf("%s\n", json_array_size(json_object_get(net, "allowlist")) ? ")" : "");
        printf("runtime:           %s\n", str(i, "runtime"));
        printf("start:             %s\n", str(i, "start"));
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(i, "env"), name, v) {
                printf("env:               %s=%s\n", name, json_string_value(v));
        }
        printf("updated:           %s\n", str(i, "updated_at"));
}

static void print_list(json_t *reply) {
        printf("%-24s  %8s  %6s  %8s  %9s  %-9s  %s\n", "NAME", "MEMORY", "CPUS", "LIFETIME", "EXEC (S)", "NETWORK",
               "DESCRIPTION");
        size_t k;
        json_t *i;
        json_array_foreach(json_object_get(reply, "interpreters"), k, i) {
                json_t *lim = json_object_get(i, "limits");
                printf("%-24s  %8lld  %6g  %8lld  %9g  %-9s  %.60s\n", str(i, "name"),
                       (long long)json_integer_value(json_object_get(lim, "memory_mb")),
                       json_number_value(json_object_get(lim, "cpus")),
                       (long long)json_integer_value(json_object_get(i, "timeout_seconds")),
                       json_number_value(json_object_get(i, "execution_timeout_seconds")),
                       str(json_object_get(i, "network"), "mode"), str(i, "description"));
        }
}

static int call(struct api *a, struct opts *o, const char *method, const char *path, json_t *body,
                void (*human)(json_t *)) {
        json_t *reply = NULL;
        int r = api_json(a, method, path, body, REQUEST_TIMEOUT_S, &reply);
        if (r == 0 && human) {
                if (o->json)
                        cli_print_json(reply);
                else
                        human(reply);
        }
        json_decref(reply);
        return r;
}

static int act(struct api *a, struct opts *o, const char *sub) {
        if (!strcmp(sub, "ls")) {
                if (o->nargs)
                        return cli_usage_error("interpreters ls", "unexpected argument '%s'", o->args[0]);
                return call(a, o, "GET", "/v1/interpreters", NULL, print_list);
        }
        if (o->nargs == 0)
                return cli_usage_error("interpreters", "which interpreter? give its NAME");
        if (strcmp(sub, "rm") != 0 && o->nargs > 1)
                return cli_usage_error("interpreters", "one interpreter at a time (extra: '%s')", o->args[1]);
        if (!strcmp(sub, "create")) {
                if (json_object_set_new(o->req, "name", json_string(o->args[0])) < 0)
                        return cli_usage_error("interpreters create", "the name is not valid UTF-8");
                return call(a, o, "POST", "/v1/interpreters", o->req, print_one);
        }
        for (int i = 0; i < o->nargs; i++) {
                _cleanup_free_ char *esc = api_escape(a, o->args[i], false), *path = NULL;
                if (!esc || asprintf(&path, "/v1/interpreters/%s", esc) < 0) {
                        fprintf(stderr, "airlock: out of memory\n");
                        return CLI_EXIT_API;
                }
                int r = !strcmp(sub, "get")      ? call(a, o, "GET", path, NULL, print_one)
                        : !strcmp(sub, "update") ? call(a, o, "PATCH", path, o->req, print_one)
                                                 : call(a, o, "DELETE", path, NULL, NULL);
                if (r)
                        return r;
        }
        return 0;
}

int cmd_interpreters(int argc, char **argv) {
        static const char *const subs[] = {"create", "update", "ls", "get", "rm", NULL};
        const char *sub = NULL;
        char prog[32];
        int pick = cli_subcommand("interpreters", usage, subs, "create, update, ls, get or rm", argc, argv, &sub, prog,
                                  sizeof(prog));
        if (pick)
                return pick < 0 ? 0 : pick;
        struct opts o;
        memset(&o, 0, sizeof(o));
        o.req = json_object();
        bool settings = !strcmp(sub, "create") || !strcmp(sub, "update");
        int r = parse(prog, settings, argc - 1, argv + 1, &o);
        struct api a;
        if (r == 0 && (r = api_open(&a, &o.conn, prog)) == 0) {
                r = act(&a, &o, sub);
                api_close(&a);
        }
        json_decref(o.req);
        return r < 0 ? 0 : r;
}
