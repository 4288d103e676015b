/* airlock commands: shell commands in a session of a running daemon.
 *   airlock commands run SESSION [--timeout-seconds S] [--cwd DIR] [-e K=V]... [--background] [--json] -- CMD...
 *   airlock commands task SESSION TASK_ID [--json]
 *   airlock commands stop SESSION TASK_ID [--json]
 * A foreground command's output is printed as it was produced (stdout, stderr) and its
 * exit status becomes ours (128+N for a signal, 124 when it timed out). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/cleanup.h"

#define REPLY_MARGIN_S 30.0

static const char commands_usage[] =
        "usage: airlock commands run SESSION [options] [--] COMMAND...\n"
        "       airlock commands task SESSION TASK_ID [--json]\n"
        "       airlock commands stop SESSION TASK_ID [--json]\n"
        "\n"
        "Run a shell command (/bin/bash -c) in a session's sandbox, in /workspace by default.\n"
        "Put -- before a COMMAND whose words start with '-'.\n"
        "\n"
        "  --timeout-seconds S   stop it after S seconds (default 60): SIGTERM, then SIGKILL\n"
        "  --cwd DIR             working directory (relative to /workspace, or absolute)\n"
        "  -e, --env NAME=VALUE  an environment variable for the command (repeatable)\n"
        "  --background          start it as a task and print its id; see 'commands task'\n"
        "  --json                print the daemon's JSON answer\n"
        "  --url URL, --api-key KEY   the daemon (default $AIRLOCK_URL, $AIRLOCK_API_KEY)\n"
        "\n"
        "Exit status of 'run': the command's own (128+N when killed by signal N, 124 when it\n"
        "timed out); 1 for an API error; 2 for bad usage.\n";

static void put(FILE *f, json_t *s) {
        size_t n = json_string_length(s);
        if (n)
                fwrite(json_string_value(s), 1, n, f);
}

static int print_result(json_t *r, bool json) {
        if (json) {
                cli_print_json(r);
        } else {
                put(stdout, json_object_get(r, "stdout"));
                put(stderr, json_object_get(r, "stderr"));
                json_int_t dropped = json_integer_value(json_object_get(r, "stdout_dropped_bytes")) +
                                     json_integer_value(json_object_get(r, "stderr_dropped_bytes"));
                if (dropped)
                        fprintf(stderr, "airlock: %lld more bytes of output were not kept\n", (long long)dropped);
        }
        fflush(stdout);
        if (json_is_true(json_object_get(r, "timed_out"))) {
                if (!json)
                        fprintf(stderr, "airlock: the command timed out\n");
                return 124;
        }
        json_t *sig = json_object_get(r, "signal");
        if (json_is_integer(sig))
                return 128 + (int)json_integer_value(sig);
        return (int)json_integer_value(json_object_get(r, "exit_code"));
}

static int run_command(int argc, char **argv) {
        enum { O_TIMEOUT = 1, O_CWD, O_BACKGROUND, O_JSON };
        static const struct option opts[] = {
                {"timeout-seconds", required_argument, NULL, O_TIMEOUT},
                {"cwd", required_argument, NULL, O_CWD},
                {"env", required_argument, NULL, 'e'},
                {"background", no_argument, NULL, O_BACKGROUND},
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        struct api_opts conn = {0};
        double timeout = 0;
        const char *cwd = NULL;
        bool background = false, json = false;
        json_t *env = json_object();
        int opt, r = 0;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":e:h", opts, NULL)) != -1) {
                switch (opt) {
                case O_TIMEOUT:
                        r = cli_parse_positive("commands", "--timeout-seconds", optarg, &timeout);
                        break;
                case O_CWD:
                        cwd = optarg;
                        break;
                case 'e': {
                        const char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg)
                                r = cli_usage_error("commands", "--env '%s': expected NAME=VALUE", optarg);
                        else {
                                char *name = strndup(optarg, (size_t)(eq - optarg));
                                if (name)
                                        json_object_set_new(env, name, json_string(eq + 1));
                                free(name);
                        }
                        break;
                }
                case O_BACKGROUND:
                        background = true;
                        break;
                case O_JSON:
                        json = true;
                        break;
                case 'h':
                        fputs(commands_usage, stdout);
                        json_decref(env);
                        return 0;
                case CLI_OPT_URL:
                case CLI_OPT_API_KEY:
                        cli_connection_option(opt, optarg, &conn);
                        break;
                default:
                        json_decref(env);
                        return cli_getopt_error("commands", opt, argv);
                }
                if (r) {
                        json_decref(env);
                        return r;
                }
        }
        if (argc - optind < 2) {
                json_decref(env);
                return cli_usage_error("commands", "give a SESSION and a COMMAND");
        }
        const char *session = argv[optind++];
        if (optind < argc && !strcmp(argv[optind], "--"))
                optind++; /* SESSION -- COMMAND...: the options ended at SESSION */
        if (optind >= argc) {
                json_decref(env);
                return cli_usage_error("commands", "give a SESSION and a COMMAND");
        }
        /* The command is the remaining words joined by spaces, as a shell would see them. */
        size_t len = 0;
        for (int i = optind; i < argc; i++)
                len += strlen(argv[i]) + 1;
        char *cmd = malloc(len + 1);
        if (!cmd) {
                json_decref(env);
                return CLI_EXIT_API;
        }
        size_t off = 0;
        for (int i = optind; i < argc; i++) {
                size_t n = strlen(argv[i]);
                memcpy(cmd + off, argv[i], n);
                off += n;
                if (i + 1 < argc)
                        cmd[off++] = ' ';
        }
        cmd[off] = '\0';
        json_t *req = json_pack("{s:s}", "command", cmd);
        free(cmd);
        if (!req) {
                json_decref(env);
                return cli_usage_error("commands", "the command must be valid UTF-8");
        }
        if (timeout > 0)
                json_object_set_new(req, "timeout_seconds", json_real(timeout));
        if (cwd)
                json_object_set_new(req, "cwd", json_string(cwd));
        if (json_object_size(env))
                json_object_set(req, "env", env);
        json_decref(env);
        if (background)
                json_object_set_new(req, "background", json_true());
        struct api a;
        if ((r = api_open(&a, &conn, "commands")) != 0) {
                json_decref(req);
                return r;
        }
        _cleanup_free_ char *id = api_escape(&a, session, false);
        char *path = NULL;
        json_t *reply = NULL;
        if (!id || asprintf(&path, "/v1/sessions/%s/commands", id) < 0) {
                path = NULL;
                r = CLI_EXIT_API;
        } else {
                double limit = (timeout > 0 ? timeout : 60) + REPLY_MARGIN_S;
                r = api_json(&a, "POST", path, req, (long)ceil(limit), &reply);
        }
        free(path);
        if (r == 0 && background) {
                if (json)
                        cli_print_json(reply);
                else
                        printf("%s\n", json_string_value(json_object_get(reply, "task_id")) ?: "");
        } else if (r == 0) {
                r = print_result(reply, json);
        }
        json_decref(reply);
        json_decref(req);
        api_close(&a);
        return r;
}

static int task_verb(int argc, char **argv, bool stop) {
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        struct api_opts conn = {0};
        bool json = false;
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (opt == 'j')
                        json = true;
                else if (opt == 'h') {
                        fputs(commands_usage, stdout);
                        return 0;
                } else if (opt == CLI_OPT_URL)
                        conn.url = optarg;
                else if (opt == CLI_OPT_API_KEY)
                        conn.key = optarg;
                else
                        return cli_getopt_error("commands", opt, argv);
        }
        if (argc - optind != 2)
                return cli_usage_error("commands", "give a SESSION and a TASK_ID");
        struct api a;
        int r = api_open(&a, &conn, "commands");
        if (r)
                return r;
        _cleanup_free_ char *sid = api_escape(&a, argv[optind], false);
        _cleanup_free_ char *tid = api_escape(&a, argv[optind + 1], false);
        char *path = NULL;
        json_t *reply = NULL;
        if (!sid || !tid || asprintf(&path, "/v1/sessions/%s/tasks/%s", sid, tid) < 0) {
                path = NULL;
                r = CLI_EXIT_API;
        } else {
                r = api_json(&a, stop ? "DELETE" : "GET", path, NULL, 60, &reply);
        }
        free(path);
        if (r == 0) {
                if (json) {
                        cli_print_json(reply);
                } else {
                        printf("%s %s", json_string_value(json_object_get(reply, "task_id")) ?: "",
                               json_string_value(json_object_get(reply, "status")) ?: "");
                        if (json_is_integer(json_object_get(reply, "exit_code")))
                                printf(" (exit %lld)", (long long)json_integer_value(json_object_get(reply, "exit_code")));
                        printf("\n");
                        put(stdout, json_object_get(reply, "stdout"));
                        put(stderr, json_object_get(reply, "stderr"));
                }
        }
        json_decref(reply);
        api_close(&a);
        return r;
}

int cmd_commands(int argc, char **argv) {
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                fputs(commands_usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? CLI_EXIT_USAGE : 0;
        }
        if (!strcmp(argv[1], "run"))
                return run_command(argc - 1, argv + 1);
        if (!strcmp(argv[1], "task"))
                return task_verb(argc - 1, argv + 1, false);
        if (!strcmp(argv[1], "stop"))
                return task_verb(argc - 1, argv + 1, true);
        return cli_usage_error("commands", "unknown verb '%s' (run, task, stop)", argv[1]);
}
