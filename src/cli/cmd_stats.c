/* airlock stats: execution statistics of a running daemon, per interpreter, tenant or
 * language and per period (GET /v1/stats), computed from the executions it recorded. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/cleanup.h"

static const char stats_usage[] =
        "usage: airlock stats [options]\n"
        "\n"
        "Execution statistics over a time range: count, success and error rates, timeouts,\n"
        "average and p95 duration, CPU seconds and peak memory, per group and period.\n"
        "Computed by the daemon from the executions it recorded (no Prometheus needed).\n"
        "A key sees its own tenant's figures; an admin key of tenant default sees every\n"
        "tenant's (or one, with --tenant).\n"
        "\n"
        "      --since T, --until T     RFC 3339 UTC times, e.g. 2026-01-31T00:00:00Z\n"
        "                               (default: the last 24 hours)\n"
        "      --bucket B               period: seconds, or N followed by m, h or d (60 s to\n"
        "                               366 d; default: the whole range as one period)\n"
        "      --by G                   group by interpreter (default), tenant or language\n"
        "      --interpreter NAME       only this interpreter's executions\n"
        "      --language L             only python, javascript, typescript or bash\n"
        "      --tenant T               only this tenant's (an admin key of tenant default)\n"
        "      --json                   print the daemon's JSON\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            a key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n";

static void print_table(json_t *reply) {
        printf("%-20s  %-20s  %8s  %7s  %7s  %6s  %6s  %10s  %10s  %9s  %10s\n", "GROUP", "PERIOD START", "EXECS",
               "SUCCESS", "ERRORS", "T/OUT", "KILLED", "AVG MS", "P95 MS", "CPU S", "PEAK MIB");
        size_t i, k;
        json_t *s, *b;
        json_array_foreach(json_object_get(reply, "series"), i, s) {
                json_array_foreach(json_object_get(s, "buckets"), k, b) {
                        json_t *peak = json_object_get(b, "peak_memory_bytes");
                        char peak_text[32] = "-";
                        if (json_is_integer(peak))
                                snprintf(peak_text, sizeof(peak_text), "%.1f",
                                         (double)json_integer_value(peak) / (1024.0 * 1024.0));
                        printf("%-20s  %-20s  %8lld  %6.1f%%  %6.1f%%  %6lld  %6lld  %10.2f  %10.2f  %9.3f  %10s\n",
                               json_string_value(json_object_get(s, "group")),
                               json_string_value(json_object_get(b, "start")),
                               (long long)json_integer_value(json_object_get(b, "executions")),
                               100 * json_number_value(json_object_get(b, "success_rate")),
                               100 * json_number_value(json_object_get(b, "error_rate")),
                               (long long)json_integer_value(json_object_get(b, "timeouts")),
                               (long long)json_integer_value(json_object_get(b, "killed")),
                               json_number_value(json_object_get(b, "avg_duration_ms")),
                               json_number_value(json_object_get(b, "p95_duration_ms")),
                               json_number_value(json_object_get(b, "cpu_seconds")), peak_text);
                }
        }
        if (json_array_size(json_object_get(reply, "series")) == 0)
                printf("(no executions from %s to %s)\n", json_string_value(json_object_get(reply, "since")),
                       json_string_value(json_object_get(reply, "until")));
}

int cmd_stats(int argc, char **argv) {
        static const char *const names[] = {"since", "until", "bucket", "by", "interpreter", "language", "tenant"};
        enum { O_JSON = 256, O_Q0 };
        static const struct option opts[] = {
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {"since", required_argument, NULL, O_Q0},
                {"until", required_argument, NULL, O_Q0 + 1},
                {"bucket", required_argument, NULL, O_Q0 + 2},
                {"by", required_argument, NULL, O_Q0 + 3},
                {"interpreter", required_argument, NULL, O_Q0 + 4},
                {"language", required_argument, NULL, O_Q0 + 5},
                {"tenant", required_argument, NULL, O_Q0 + 6},
                {NULL, 0, NULL, 0},
        };
        const char *query[7] = {0};
        struct api_opts conn = {0};
        bool json = false;
        int opt, at = -1;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, &at)) != -1) {
                if (opt >= O_Q0 && opt < O_Q0 + 7) {
                        if (!*optarg)
                                return cli_usage_error("stats", "--%s: the value cannot be empty", opts[at].name);
                        query[opt - O_Q0] = optarg;
                        continue;
                }
                switch (opt) {
                case 'h':
                        fputs(stats_usage, stdout);
                        return 0;
                case O_JSON:
                        json = true;
                        break;
                case CLI_OPT_URL:
                case CLI_OPT_API_KEY:
                        cli_connection_option(opt, optarg, &conn);
                        break;
                default:
                        return cli_getopt_error("stats", opt, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
        struct api a;
        int r = api_open(&a, &conn, "stats");
        if (r)
                return r;
        char path[2048] = "/v1/stats";
        size_t len = strlen(path);
        for (size_t i = 0; i < 7 && r == 0; i++) {
                if (!query[i])
                        continue;
                _cleanup_free_ char *esc = api_escape(&a, query[i], false);
                int n = esc ? snprintf(path + len, sizeof(path) - len, "%c%s=%s", len == 9 ? '?' : '&', names[i], esc)
                            : -1;
                if (n < 0 || (size_t)n >= sizeof(path) - len)
                        r = cli_usage_error("stats", "--%s: the value is too long", names[i]);
                else
                        len += (size_t)n;
        }
        json_t *reply = NULL;
        if (r == 0)
                r = api_json(&a, "GET", path, NULL, 60L, &reply);
        if (r == 0) {
                if (json)
                        cli_print_json(reply);
                else
                        print_table(reply);
        }
        json_decref(reply);
        api_close(&a);
        return r;
}
