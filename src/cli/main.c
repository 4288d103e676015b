/* airlock: the command-line entry point; one function per verb in cmd_*.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/fdutil.h"


static const char usage[] =
        "usage: airlock <command> [options]\n"
        "\n"
        "Commands:\n"
        "  serve    run the service (REST API, sessions); see 'airlock serve --help'\n"
        "  run      run a program in a fresh sandbox (no daemon needed)\n"
        "  doctor   report what isolation this host can give a sandbox\n"
        "\n"
        "  sessions create, list, show and end sessions of a running daemon\n"
        "  exec     run code in a session (its state stays for the next exec)\n"
        "  files    put, get, list and remove files in a session's workspace\n"
        "  commands run a shell command (or a background task) in a session\n"
        "  interpreters  named session configurations: defaults and ceilings\n"
        "  runtimes build a runtime here (root; Python and npm packages), list a daemon's\n"
        "  keys     create, list and revoke API keys (tenants, scopes)\n"
        "  tenants  tenants' quotas of sessions and memory\n"
        "  secrets  set, list and remove secrets sessions can get as variables\n"
        "  audit    the audit log: list entries, verify the hash chain\n"
        "  stats    execution statistics over a time range (count, rates, durations, CPU)\n"
        "  mcp      the MCP server over stdio, for MCP clients (Claude Desktop, IDEs)\n"
        "           (these find the daemon with --url or AIRLOCK_URL and\n"
        "           authenticate with --api-key or AIRLOCK_API_KEY; for an https://\n"
        "           daemon whose certificate the system does not trust, set\n"
        "           AIRLOCK_CA_CERT to its CA certificate file)\n"
        "\n"
        "  version  print the version\n"
        "\n"
        "'airlock <command> --help' describes a command.\n";

int main(int argc, char **argv) {
        if (argc < 2) {
                fputs(usage, stderr);
                return 2;
        }
        const char *cmd = argv[1];
        if (!strcmp(cmd, "serve")) {
                /* The launcher supervises the daemon (its own program, with HTTP, JSON and
                 * SQLite) so that sessions outlive a daemon crash (docs/adr/0005). */
                char path[PATH_MAX];
                if (airlock_program_path("airlock-launcher", X_OK, path, sizeof(path)) < 0) {
                        fprintf(stderr, "airlock: airlock-launcher not found next to this program\n");
                        return 1;
                }
                if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
                        if (airlock_program_path("airlock-daemon", X_OK, path, sizeof(path)) < 0)
                                return 1;
                        execv(path, argv + 1);
                        return 1;
                }
                argv[0] = (char *)"airlock-launcher";
                argv[1] = (char *)"--supervise";
                execv(path, argv);
                fprintf(stderr, "airlock: cannot run %s: %s\n", path, strerror(errno));
                return 1;
        }
        if (!strcmp(cmd, "run"))
                return cmd_run(argc - 1, argv + 1);
        if (!strcmp(cmd, "doctor"))
                return cmd_doctor(argc - 1, argv + 1);
        if (!strcmp(cmd, "sessions"))
                return cmd_sessions(argc - 1, argv + 1);
        if (!strcmp(cmd, "exec"))
                return cmd_exec(argc - 1, argv + 1);
        if (!strcmp(cmd, "commands"))
                return cmd_commands(argc - 1, argv + 1);
        if (!strcmp(cmd, "keys"))
                return cmd_keys(argc - 1, argv + 1);
        if (!strcmp(cmd, "tenants"))
                return cmd_tenants(argc - 1, argv + 1);
        if (!strcmp(cmd, "audit"))
                return cmd_audit(argc - 1, argv + 1);
        if (!strcmp(cmd, "interpreters"))
                return cmd_interpreters(argc - 1, argv + 1);
        if (!strcmp(cmd, "runtimes"))
                return cmd_runtimes(argc - 1, argv + 1);
        if (!strcmp(cmd, "secrets"))
                return cmd_secrets(argc - 1, argv + 1);
        if (!strcmp(cmd, "stats"))
                return cmd_stats(argc - 1, argv + 1);
        if (!strcmp(cmd, "files"))
                return cmd_files(argc - 1, argv + 1);
        if (!strcmp(cmd, "mcp"))
                return cmd_mcp(argc - 1, argv + 1);
        if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
                printf("airlock %s\n", AIRLOCK_VERSION);
                return 0;
        }
        if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
                fputs(usage, stdout);
                return 0;
        }
        fprintf(stderr, "airlock: unknown command '%s' (try 'airlock help')\n", cmd);
        return 2;
}
