/* airlock keys / tenants / secrets / audit: the admin verbs of a running daemon (an admin
 * key is needed: DATA_DIR/api-key is one): API keys, tenants' quotas, secrets, the audit
 * log. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/cleanup.h"

#define ADMIN_REQUEST_TIMEOUT_S 60L

/* The end of every admin verb's help that prints JSON on request. */
#define ADMIN_USAGE_FOOTER                                                                                        \
        "\n"                                                                                                      \
        "      --json                   print the daemon's JSON\n"                                               \
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"          \
        "      --api-key KEY            an admin key (default $AIRLOCK_API_KEY)\n"                               \
        "  -h, --help                   this text\n"                                                             \
        "\n"                                                                                                      \
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n"

static const char keys_usage[] =
        "usage: airlock keys <create|ls|get|revoke> [options]\n"
        "\n"
        "Manage the API keys of a running daemon (needs a key with the admin scope, such as\n"
        "the one in DATA_DIR/api-key). A key belongs to a tenant: the sessions it creates are\n"
        "that tenant's, invisible to every other tenant.\n"
        "\n"
        "  airlock keys create [options]  make a key; prints its id and secret (shown only\n"
        "                                 now) and the token to use: id.secret\n"
        "      --tenant T               its tenant: [a-z0-9-], 1 to 64 (default: default)\n"
        "      --name NAME              what it is for\n"
        "      --scope S                sessions or admin (repeatable; default sessions)\n"
        "  airlock keys ls              list every key (never a secret)\n"
        "  airlock keys get ID          show one key\n"
        "  airlock keys revoke ID...    revoke keys, at once\n"
        "\n"
        "      --json                   print the daemon's JSON (create: {\"id\", \"secret\", ...})\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            an admin key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n";

static const char tenants_usage[] =
        "usage: airlock tenants <ls|get|set> [options]\n"
        "\n"
        "Tenants' quotas on a running daemon (needs an admin key). A tenant without quotas of\n"
        "its own has the daemon's defaults (tenant_max_sessions, tenant_max_memory_mb).\n"
        "\n"
        "  airlock tenants ls           every tenant a key or a quota names: quotas and use\n"
        "  airlock tenants get NAME     one tenant\n"
        "  airlock tenants set NAME --max-sessions N --max-memory-mb M\n"
        "                               set its quotas (live sessions; their memory in all)\n"
        ADMIN_USAGE_FOOTER;

static const char audit_usage[] =
        "usage: airlock audit <ls|verify> [options]\n"
        "\n"
        "The audit log of a running daemon (needs an admin key): every session start and stop,\n"
        "execution, command, file operation, key and quota change, hash-chained.\n"
        "\n"
        "  airlock audit ls [options]   your tenant's entries, oldest first, as JSON lines\n"
        "      --session ID             of one session\n"
        "      --action A               of one action (execution, file.write, session.create...)\n"
        "      --since T, --until T     RFC 3339 UTC times, e.g. 2026-01-31T00:00:00Z\n"
        "      --after SEQ              entries after this one (paging)\n"
        "      --limit N                at most N (default 100, at most 10000)\n"
        "  airlock audit verify         check the whole chain (an admin key of tenant default);\n"
        "                               exit status 1 when an entry was edited, removed,\n"
        "                               reordered or cut from the end\n"
        "\n"
        "      --json                   verify: print the daemon's JSON\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            an admin key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached (or the chain is\n"
        "broken), 2 bad usage.\n";

static const char secrets_usage[] =
        "usage: airlock secrets <set|ls|get|rm> [options]\n"
        "\n"
        "Your tenant's secrets on a running daemon (needs an admin key): values for external\n"
        "APIs, sealed at rest, never shown again. A session gets one as an environment\n"
        "variable of the same name when created with --secret NAME.\n"
        "\n"
        "  airlock secrets set NAME     set (or replace) it; the value is read from standard\n"
        "                               input (one trailing newline is dropped), never from\n"
        "                               the command line\n"
        "      --from-file FILE         read the value from FILE instead (as is)\n"
        "  airlock secrets ls           the names, with when they were set\n"
        "  airlock secrets get NAME     one secret's name and times (not its value)\n"
        "  airlock secrets rm NAME...   delete them\n"
        ADMIN_USAGE_FOOTER;

struct admin_opts {
        struct api_opts conn;
        bool json;
        json_t *body; /* keys create, tenants set */
        json_t *scopes;
        bool have_sessions, have_memory;
        const char *query[6]; /* audit ls: session, action, since, until, after, limit */
        const char *from_file; /* secrets set */
        char **args;
        int nargs;
};

static const char *str(json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "-";
}

static int parse_args(const char *prog, const char *usage, int argc, char **argv, struct admin_opts *o) {
        enum { O_JSON = 256, O_TENANT, O_NAME, O_SCOPE, O_MAX_SESSIONS, O_MAX_MEMORY, O_FROM_FILE, O_Q0 };
        static const struct option opts[] = {
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {"tenant", required_argument, NULL, O_TENANT},
                {"name", required_argument, NULL, O_NAME},
                {"scope", required_argument, NULL, O_SCOPE},
                {"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
                {"max-memory-mb", required_argument, NULL, O_MAX_MEMORY},
                {"from-file", required_argument, NULL, O_FROM_FILE},
                {"session", required_argument, NULL, O_Q0},
                {"action", required_argument, NULL, O_Q0 + 1},
                {"since", required_argument, NULL, O_Q0 + 2},
                {"until", required_argument, NULL, O_Q0 + 3},
                {"after", required_argument, NULL, O_Q0 + 4},
                {"limit", required_argument, NULL, O_Q0 + 5},
                {NULL, 0, NULL, 0},
        };
        bool create = strstr(prog, "create") != NULL, set = !strcmp(prog, "tenants set"),
             audit_ls = !strcmp(prog, "audit ls");
        unsigned long long v;
        int opt, r, at = -1;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, &at)) != -1) {
                r = 0;
                if ((opt == O_TENANT || opt == O_NAME || opt == O_SCOPE) && !create)
                        return cli_usage_error(prog, "--%s applies to 'keys create' only", opts[at].name);
                if ((opt == O_MAX_SESSIONS || opt == O_MAX_MEMORY) && !set)
                        return cli_usage_error(prog, "--%s applies to 'tenants set' only", opts[at].name);
                if (opt == O_FROM_FILE) {
                        if (strcmp(prog, "secrets set") != 0)
                                return cli_usage_error(prog, "--from-file applies to 'secrets set' only");
                        o->from_file = optarg;
                        continue;
                }
                if (opt >= O_Q0 && opt < O_Q0 + 6) {
                        if (!audit_ls)
                                return cli_usage_error(prog, "--%s applies to 'audit ls' only", opts[at].name);
                        if (!*optarg)
                                return cli_usage_error(prog, "--%s: the value cannot be empty", opts[at].name);
                        o->query[opt - O_Q0] = optarg;
                        continue;
                }
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
                case O_TENANT:
                case O_NAME: {
                        json_t *s = json_string(optarg);
                        if (!s)
                                return cli_usage_error(prog, "%s: not valid UTF-8", opt == O_TENANT ? "--tenant" : "--name");
                        r = json_object_set_new(o->body, opt == O_TENANT ? "tenant" : "name", s);
                        break;
                }
                case O_SCOPE:
                        if (strcmp(optarg, "sessions") != 0 && strcmp(optarg, "admin") != 0)
                                return cli_usage_error(prog, "--scope '%s': expected sessions or admin", optarg);
                        r = json_array_append_new(o->scopes, json_string(optarg));
                        break;
                case O_MAX_SESSIONS:
                case O_MAX_MEMORY:
                        /* 0 is a quota too (no sessions at all): parse from 0, not 1. */
                        if (!strcmp(optarg, "0"))
                                v = 0;
                        else if ((r = cli_parse_count(prog, opt == O_MAX_SESSIONS ? "--max-sessions" : "--max-memory-mb",
                                                      optarg, 1ull << 40, &v)))
                                return r;
                        r = json_object_set_new(o->body, opt == O_MAX_SESSIONS ? "max_sessions" : "max_memory_mb",
                                                json_integer((json_int_t)v));
                        *(opt == O_MAX_SESSIONS ? &o->have_sessions : &o->have_memory) = true;
                        break;
                default:
                        return cli_getopt_error(prog, opt, argv);
                }
                if (r < 0)
                        return cli_usage_error(prog, "out of memory");
        }
        o->args = argv + optind;
        o->nargs = argc - optind;
        return 0;
}

static void print_key(json_t *k) {
        size_t i;
        json_t *s;
        printf("id:        %s\n", str(k, "id"));
        printf("tenant:    %s\n", str(k, "tenant"));
        printf("name:      %s\n", str(k, "name"));
        printf("scopes:   ");
        json_array_foreach(json_object_get(k, "scopes"), i, s) {
                printf(" %s", json_string_value(s));
        }
        printf("\ncreated:   %s\n", str(k, "created_at"));
        printf("last used: %s\n", str(k, "last_used_at"));
        printf("revoked:   %s\n", str(k, "revoked_at"));
}

static void print_keys(json_t *keys) {
        size_t i;
        json_t *k;
        printf("%-29s  %-16s  %-15s  %-20s  %s\n", "ID", "TENANT", "SCOPES", "REVOKED", "NAME");
        json_array_foreach(keys, i, k) {
                char scopes[32] = "";
                size_t j;
                json_t *s;
                json_array_foreach(json_object_get(k, "scopes"), j, s) {
                        size_t n = strlen(scopes);
                        snprintf(scopes + n, sizeof(scopes) - n, "%s%s", n ? "," : "", json_string_value(s));
                }
                printf("%-29s  %-16s  %-15s  %-20s  %s\n", str(k, "id"), str(k, "tenant"), scopes,
                       str(k, "revoked_at"), str(k, "name"));
        }
}

static void print_tenant(json_t *t) {
        printf("%-24s  %4lld / %-6lld sessions  %8lld / %-8lld MiB\n", str(t, "name"),
               (long long)json_integer_value(json_object_get(t, "sessions")),
               (long long)json_integer_value(json_object_get(t, "max_sessions")),
               (long long)json_integer_value(json_object_get(t, "memory_mb")),
               (long long)json_integer_value(json_object_get(t, "max_memory_mb")));
}

/* One request; prints its reply with `human` unless --json. */
static int call(struct api *a, struct admin_opts *o, const char *method, const char *path, json_t *body,
                void (*human)(json_t *)) {
        json_t *reply = NULL;
        int r = api_json(a, method, path, body, ADMIN_REQUEST_TIMEOUT_S, &reply);
        if (r == 0 && human) {
                if (o->json)
                        cli_print_json(reply);
                else
                        human(reply);
        }
        json_decref(reply);
        return r;
}

static void print_created(json_t *k) {
        printf("id:     %s\nsecret: %s\ntoken:  %s\n", str(k, "id"), str(k, "secret"), str(k, "token"));
        fprintf(stderr, "airlock: the secret is shown only now; use the token as the API key\n");
}

static void print_key_list(json_t *reply) { print_keys(json_object_get(reply, "keys")); }

static void print_tenant_list(json_t *reply) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(reply, "tenants"), i, t) {
                print_tenant(t);
        }
}

/* "/v1/<collection>/<escaped id>" into *ret. */
static int item_path(struct api *a, const char *collection, const char *id, char **ret) {
        _cleanup_free_ char *esc = api_escape(a, id, false);
        if (!esc || asprintf(ret, "/v1/%s/%s", collection, esc) < 0) {
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        return 0;
}

static int run(const char *verb, const char *usage, const char *const *subs, const char *choices, int argc,
               char **argv, int (*act)(struct api *, struct admin_opts *, const char *)) {
        const char *sub = NULL;
        char prog[32];
        int pick = cli_subcommand(verb, usage, subs, choices, argc, argv, &sub, prog, sizeof(prog));
        if (pick)
                return pick < 0 ? 0 : pick;
        struct admin_opts o;
        memset(&o, 0, sizeof(o));
        o.body = json_object();
        o.scopes = json_array();
        int r = parse_args(prog, usage, argc - 1, argv + 1, &o);
        struct api a;
        if (r == 0 && (r = api_open(&a, &o.conn, prog)) == 0) {
                r = act(&a, &o, sub);
                api_close(&a);
        }
        json_decref(o.body);
        json_decref(o.scopes);
        return r < 0 ? 0 : r;
}

static int keys_act(struct api *a, struct admin_opts *o, const char *sub) {
        bool needs_id = !strcmp(sub, "get") || !strcmp(sub, "revoke");
        if (!needs_id && o->nargs > 0)
                return cli_usage_error("keys", "unexpected argument '%s'", o->args[0]);
        if (needs_id && o->nargs == 0)
                return cli_usage_error("keys", "which key? give its ID");
        if (!strcmp(sub, "create")) {
                if (json_array_size(o->scopes) && json_object_set(o->body, "scopes", o->scopes) < 0)
                        return cli_usage_error("keys create", "out of memory");
                return call(a, o, "POST", "/v1/keys", o->body, print_created);
        }
        if (!strcmp(sub, "ls"))
                return call(a, o, "GET", "/v1/keys", NULL, print_key_list);
        int rc = 0;
        for (int i = 0; i < o->nargs && (i == 0 || !strcmp(sub, "revoke")); i++) {
                _cleanup_free_ char *path = NULL;
                int r = item_path(a, "keys", o->args[i], &path);
                if (r == 0)
                        r = call(a, o, !strcmp(sub, "get") ? "GET" : "DELETE", path, NULL,
                                 !strcmp(sub, "get") || o->json ? print_key : NULL);
                rc = rc ? rc : r;
        }
        return rc;
}

/* The arguments of `VERB ls` (none) and of the verbs on items (one NAME, or several with
 * `many`): 0 when they fit, else the usage error. */
static int item_args(const char *verb, const char *sub, const struct admin_opts *o, const char *what, bool many) {
        if (!strcmp(sub, "ls"))
                return o->nargs > 0 ? cli_usage_error(verb, "unexpected argument '%s'", o->args[0]) : 0;
        if (o->nargs == 0)
                return cli_usage_error(verb, "which %s? give its %s", what, !strcmp(what, "secret") ? "NAME" : "name");
        if (!many && o->nargs > 1)
                return cli_usage_error(verb, "one %s at a time (extra: '%s')", what, o->args[1]);
        return 0;
}

static int tenants_act(struct api *a, struct admin_opts *o, const char *sub) {
        int bad = item_args(!strcmp(sub, "ls") ? "tenants ls" : "tenants", sub, o, "tenant", false);
        if (bad)
                return bad;
        if (!strcmp(sub, "ls"))
                return call(a, o, "GET", "/v1/tenants", NULL, print_tenant_list);
        if (!strcmp(sub, "set") && (!o->have_sessions || !o->have_memory))
                return cli_usage_error("tenants set", "give both --max-sessions and --max-memory-mb");
        _cleanup_free_ char *path = NULL;
        int r = item_path(a, "tenants", o->args[0], &path);
        if (r)
                return r;
        return call(a, o, !strcmp(sub, "set") ? "PUT" : "GET", path, !strcmp(sub, "set") ? o->body : NULL,
                    print_tenant);
}

static int audit_act(struct api *a, struct admin_opts *o, const char *sub) {
        if (o->nargs > 0)
                return cli_usage_error("audit", "unexpected argument '%s'", o->args[0]);
        if (!strcmp(sub, "verify")) {
                json_t *reply = NULL;
                int r = api_json(a, "GET", "/v1/audit/verify", NULL, ADMIN_REQUEST_TIMEOUT_S, &reply);
                if (r == 0) {
                        bool ok = json_is_true(json_object_get(reply, "ok"));
                        long long n = (long long)json_integer_value(json_object_get(reply, "entries"));
                        long long gaps = (long long)json_integer_value(json_object_get(reply, "gaps"));
                        long long lost = (long long)json_integer_value(json_object_get(reply, "lost_entries"));
                        if (o->json)
                                cli_print_json(reply);
                        else if (ok && gaps)
                                /* Whole, but not complete: still 0 (nothing was tampered with; the
                                 * loss was logged and alerted on when it happened), said plainly. */
                                printf("ok: %lld entries, the chain is whole; %lld gap%s: %lld entr%s lost while "
                                       "the data disk was full or failing (airlock audit ls --action audit.gap)\n",
                                       n, gaps, gaps == 1 ? "" : "s", lost, lost == 1 ? "y was" : "ies were");
                        else if (ok)
                                printf("ok: %lld entries, the chain is whole\n", n);
                        else
                                printf("BROKEN at entry %lld: %s\n",
                                       (long long)json_integer_value(json_object_get(reply, "first_bad")),
                                       str(reply, "problem"));
                        r = ok ? 0 : CLI_EXIT_API;
                }
                json_decref(reply);
                return r;
        }
        static const char *const names[] = {"session", "action", "since", "until", "after", "limit"};
        char *path = NULL;
        if (asprintf(&path, "/v1/audit?format=json") < 0)
                return CLI_EXIT_API;
        for (size_t i = 0; i < 6; i++) {
                if (!o->query[i])
                        continue;
                _cleanup_free_ char *esc = api_escape(a, o->query[i], false);
                char *longer = NULL;
                if (!esc || asprintf(&longer, "%s&%s=%s", path, names[i], esc) < 0) {
                        free(path);
                        return CLI_EXIT_API;
                }
                free(path);
                path = longer;
        }
        json_t *reply = NULL;
        int r = api_json(a, "GET", path, NULL, ADMIN_REQUEST_TIMEOUT_S, &reply);
        free(path);
        if (r == 0) {
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(reply, "entries"), i, e) {
                        char *line = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
                        if (line)
                                printf("%s\n", line);
                        free(line);
                }
        }
        json_decref(reply);
        return r;
}

static void print_secret(json_t *s) {
        printf("%-40s  set %s  (first %s)\n", str(s, "name"), str(s, "updated_at"), str(s, "created_at"));
}

static void print_secret_list(json_t *reply) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(reply, "secrets"), i, s) {
                print_secret(s);
        }
}

/* The value for `secrets set`: a file as is, or standard input less one trailing newline
 * (what `echo` and a terminal add). At most 4096 bytes, as the daemon takes. */
static int read_value(const struct admin_opts *o, char *out, size_t cap, size_t *ret_len) {
        FILE *f = o->from_file ? fopen(o->from_file, "re") : stdin;
        if (!f)
                return cli_usage_error("secrets set", "--from-file %s: %m", o->from_file);
        size_t n = fread(out, 1, cap, f);
        bool err = ferror(f);
        if (o->from_file)
                fclose(f);
        if (err)
                return cli_usage_error("secrets set", "cannot read the value");
        if (n == cap)
                return cli_usage_error("secrets set", "the value is longer than %zu bytes", cap - 1);
        if (!o->from_file && n && out[n - 1] == '\n')
                n--;
        if (!o->from_file && n && out[n - 1] == '\r')
                n--;
        out[n] = '\0';
        if (memchr(out, '\0', n))
                return cli_usage_error("secrets set", "the value contains a NUL byte");
        *ret_len = n;
        return 0;
}

static int secrets_act(struct api *a, struct admin_opts *o, const char *sub) {
        int bad = item_args("secrets", sub, o, "secret", !strcmp(sub, "rm"));
        if (bad)
                return bad;
        if (!strcmp(sub, "ls"))
                return call(a, o, "GET", "/v1/secrets", NULL, print_secret_list);
        if (!strcmp(sub, "rm")) {
                for (int i = 0; i < o->nargs; i++) {
                        _cleanup_free_ char *path = NULL;
                        int r = item_path(a, "secrets", o->args[i], &path);
                        if (!r)
                                r = call(a, o, "DELETE", path, NULL, NULL);
                        if (r)
                                return r;
                }
                return 0;
        }
        _cleanup_free_ char *path = NULL;
        int r = item_path(a, "secrets", o->args[0], &path);
        if (r)
                return r;
        if (!strcmp(sub, "get"))
                return call(a, o, "GET", path, NULL, print_secret);
        char value[4097];
        size_t len = 0;
        if ((r = read_value(o, value, sizeof(value), &len)))
                return r;
        json_t *body = json_pack("{s:s%}", "value", value, len);
        explicit_bzero(value, sizeof(value));
        if (!body)
                return cli_usage_error("secrets set", "the value is not valid UTF-8");
        r = call(a, o, "PUT", path, body, print_secret);
        json_decref(body);
        return r;
}

int cmd_secrets(int argc, char **argv) {
        static const char *const subs[] = {"set", "ls", "get", "rm", NULL};
        return run("secrets", secrets_usage, subs, "set, ls, get or rm", argc, argv, secrets_act);
}

int cmd_audit(int argc, char **argv) {
        static const char *const subs[] = {"ls", "verify", NULL};
        return run("audit", audit_usage, subs, "ls or verify", argc, argv, audit_act);
}

int cmd_keys(int argc, char **argv) {
        static const char *const subs[] = {"create", "ls", "get", "revoke", NULL};
        return run("keys", keys_usage, subs, "create, ls, get or revoke", argc, argv, keys_act);
}

int cmd_tenants(int argc, char **argv) {
        static const char *const subs[] = {"ls", "get", "set", NULL};
        return run("tenants", tenants_usage, subs, "ls, get or set", argc, argv, tenants_act);
}
