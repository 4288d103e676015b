/* airlock files: move files in and out of a session's /workspace. Contents stream in both
 * directions; nothing here holds a whole file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "proto/launch_proto.h"

#define LIST_TIMEOUT_S 120L

static const char files_usage[] =
        "usage: airlock files <put|get|ls|rm> SESSION ... [options]\n"
        "\n"
        "Move files in and out of a session's /workspace. REMOTE paths are relative to\n"
        "/workspace ('data/x.csv'); a leading '/workspace/' is accepted and dropped.\n"
        "\n"
        "  airlock files put SESSION LOCAL [REMOTE]    upload LOCAL ('-': standard input, then\n"
        "                                              REMOTE is needed) to REMOTE (default:\n"
        "                                              LOCAL's name; a REMOTE ending in '/' is\n"
        "                                              a directory); missing directories are made\n"
        "  airlock files get SESSION REMOTE [LOCAL|-]  download REMOTE to LOCAL (default: its name\n"
        "                                              in the current directory; a directory: into\n"
        "                                              it; '-': standard output)\n"
        "  airlock files ls SESSION [DIR]              list DIR (default: /workspace itself)\n"
        "  airlock files rm SESSION PATH... [-r]       remove files; with -r, directories and all\n"
        "                                              they hold\n"
        "\n"
        "      --json                 print the daemon's JSON (ls)\n"
        "      --url URL              the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY          its API key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                 this text\n"
        "\n"
        "Exit status: 0 ok, 1 the daemon refused or could not be reached, 2 bad usage.\n";

struct files_opts {
        struct api_opts conn;
        bool json;
        bool recursive;
        char **args; /* the operands, SESSION first */
        int nargs;
};

static int parse_args(const char *prog, int argc, char **argv, struct files_opts *o) {
        enum { O_JSON = 256 };
        static const struct option longopts[] = {
                {"json", no_argument, NULL, O_JSON},
                {"recursive", no_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},
                CLI_CONNECTION_OPTIONS,
                {NULL, 0, NULL, 0},
        };
        bool is_ls = !strcmp(prog, "files ls"), is_rm = !strcmp(prog, "files rm");
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":rh", longopts, NULL)) != -1) {
                switch (opt) {
                case 'h':
                        fputs(files_usage, stdout);
                        return -1;
                case O_JSON:
                        if (!is_ls)
                                return cli_usage_error(prog, "--json applies to 'files ls' only");
                        o->json = true;
                        break;
                case 'r':
                        if (!is_rm)
                                return cli_usage_error(prog, "-r applies to 'files rm' only");
                        o->recursive = true;
                        break;
                case CLI_OPT_URL:
                case CLI_OPT_API_KEY:
                        cli_connection_option(opt, optarg, &o->conn);
                        break;
                default:
                        return cli_getopt_error(prog, opt, argv);
                }
        }
        o->args = argv + optind;
        o->nargs = argc - optind;
        if (o->nargs == 0)
                return cli_usage_error(prog, "which session? give its ID first");
        if (!o->args[0][0])
                return cli_usage_error(prog, "the SESSION cannot be empty");
        return 0;
}

/* The operands' count, before anything is opened or asked. */
static int check_operands(const char *prog, const struct files_opts *o) {
        const char *sub = prog + strlen("files ");
        int n = o->nargs;
        if (!strcmp(sub, "put")) {
                if (n < 2)
                        return cli_usage_error(prog, "what to upload? usage: airlock files put SESSION LOCAL [REMOTE]");
                if (n > 3)
                        return cli_usage_error(prog, "one file at a time (extra: '%s')", o->args[3]);
                if (n == 2 && !strcmp(o->args[1], "-"))
                        return cli_usage_error(prog, "uploading standard input needs a REMOTE name");
        } else if (!strcmp(sub, "get")) {
                if (n < 2)
                        return cli_usage_error(prog,
                                               "what to download? usage: airlock files get SESSION REMOTE [LOCAL|-]");
                if (n > 3)
                        return cli_usage_error(prog, "one file at a time (extra: '%s')", o->args[3]);
        } else if (!strcmp(sub, "ls")) {
                if (n > 2)
                        return cli_usage_error(prog, "one DIR at a time (extra: '%s')", o->args[2]);
        } else if (n < 2) {
                return cli_usage_error(prog, "what to remove? usage: airlock files rm SESSION PATH... [-r]");
        }
        return 0;
}

/* given + suffix as a workspace path in out: "/workspace/a/b/" -> "a/b" (the daemon
 * wants relative paths without empty parts). */
static int remote_path(const char *prog, const char *given, const char *suffix, char out[LP_PATH_MAX]) {
        if (!strcmp(given, "/workspace"))
                given = "";
        else if (!strncmp(given, "/workspace/", 11))
                given += 11;
        if (strfmt(out, LP_PATH_MAX, "%s%s", given, suffix) < 0)
                return cli_usage_error(prog, "'%s%s' is longer than the workspace's limit of %d bytes", given, suffix,
                                       LP_PATH_MAX - 1);
        for (size_t n = strlen(out); n > 0 && out[n - 1] == '/'; n--)
                out[n - 1] = '\0';
        return 0;
}

static const char *base_name(const char *p) {
        const char *slash = strrchr(p, '/');
        return slash ? slash + 1 : p;
}

/* /v1/sessions/ID/files[/PATH][?query] */
static int files_url(struct api *a, const char *session, const char *path, const char *query, char **ret) {
        _cleanup_free_ char *id = api_escape(a, session, false);
        _cleanup_free_ char *esc = path ? api_escape(a, path, true) : NULL;
        if (!id || (path && !esc) ||
            asprintf(ret, "/v1/sessions/%s/files%s%s%s", id, path ? "/" : "", esc ? esc : "", query ? query : "") < 0) {
                *ret = NULL;
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        return 0;
}

static int files_put(struct api *a, const struct files_opts *o) {
        const char *prog = "files put";
        const char *local = o->args[1];
        bool from_stdin = !strcmp(local, "-");
        _cleanup_close_ int fd = from_stdin ? dup(STDIN_FILENO) : open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        const char *what = from_stdin ? "standard input" : local;
        if (fd < 0)
                return cli_usage_error(prog, "%s: %s", what, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return cli_usage_error(prog, "%s: %s", what, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return cli_usage_error(prog, "%s: is a directory (put one file at a time)", what);
        long long size = S_ISREG(st.st_mode) ? (long long)st.st_size : -1;

        const char *given = o->nargs == 3 ? o->args[2] : "";
        size_t glen = strlen(given);
        char rpath[LP_PATH_MAX];
        int r = remote_path(prog, given, glen == 0 || given[glen - 1] == '/' ? base_name(local) : "", rpath);
        if (r)
                return r;
        if (!*rpath)
                return cli_usage_error(prog, "REMOTE names the workspace itself; give a file name");

        _cleanup_free_ char *path = NULL;
        r = files_url(a, o->args[0], rpath, NULL, &path);
        json_t *reply = NULL;
        if (r == 0)
                r = api_upload(a, path, fd, size, what, &reply);
        json_t *stored = json_object_get(reply, "size");
        if (r == 0 && size >= 0 && json_is_integer(stored) && json_integer_value(stored) != size) {
                fprintf(stderr, "airlock: the daemon stored %lld of %lld bytes\n",
                        (long long)json_integer_value(stored), size);
                r = CLI_EXIT_API;
        }
        json_decref(reply);
        return r;
}

static int files_get(struct api *a, const struct files_opts *o) {
        const char *prog = "files get";
        char rpath[LP_PATH_MAX];
        int r = remote_path(prog, o->args[1], "", rpath);
        if (r)
                return r;
        if (!*rpath)
                return cli_usage_error(prog, "REMOTE names the workspace itself; give a file name");
        const char *local = o->nargs == 3 ? o->args[2] : base_name(rpath);
        _cleanup_free_ char *into = NULL;
        struct stat st;
        if (strcmp(local, "-") != 0 && stat(local, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (asprintf(&into, "%s/%s", local, base_name(rpath)) < 0) {
                        into = NULL;
                        fprintf(stderr, "airlock: out of memory\n");
                        return CLI_EXIT_API;
                }
                local = into;
        }
        _cleanup_free_ char *path = NULL;
        r = files_url(a, o->args[0], rpath, NULL, &path);
        return r ? r : api_download(a, path, local);
}

static int by_name(const void *x, const void *y, void *entries) {
        const char *a = json_string_value(json_object_get(json_array_get(entries, *(const size_t *)x), "name"));
        const char *b = json_string_value(json_object_get(json_array_get(entries, *(const size_t *)y), "name"));
        return strcmp(a ? a : "", b ? b : "");
}

/* "0644" and "directory" -> "drwxr-xr-x" */
static void mode_text(const char *type, const char *octal, char out[11]) {
        unsigned long m = octal ? strtoul(octal, NULL, 8) : 0;
        static const char rwx[] = "rwxrwxrwx";
        out[0] = !type                       ? '?'
                 : !strcmp(type, "directory") ? 'd'
                 : !strcmp(type, "symlink")   ? 'l'
                 : !strcmp(type, "file")      ? '-'
                                              : '?';
        for (int i = 0; i < 9; i++)
                out[1 + i] = (m & (0400ul >> i)) ? rwx[i] : '-';
        out[10] = '\0';
}

static void print_listing(json_t *entries) {
        size_t n = json_array_size(entries);
        size_t *order = calloc(n ? n : 1, sizeof(*order));
        if (!order) {
                fprintf(stderr, "airlock: out of memory\n");
                return;
        }
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        qsort_r(order, n, sizeof(*order), by_name, entries);
        int size_w = 4;
        for (size_t i = 0; i < n; i++) {
                char num[32];
                int w = snprintf(num, sizeof(num), "%lld",
                                 (long long)json_integer_value(json_object_get(json_array_get(entries, i), "size")));
                size_w = w > size_w ? w : size_w;
        }
        printf("%-10s  %*s  %-20s  %s\n", "MODE", size_w, "SIZE", "MODIFIED", "NAME");
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(entries, order[i]);
                const char *type = json_string_value(json_object_get(e, "type"));
                const char *name = json_string_value(json_object_get(e, "name"));
                const char *mtime = json_string_value(json_object_get(e, "mtime"));
                char mode[11];
                mode_text(type, json_string_value(json_object_get(e, "mode")), mode);
                printf("%s  %*lld  %-20s  %s%s\n", mode, size_w, (long long)json_integer_value(json_object_get(e, "size")),
                       mtime ? mtime : "-", name ? name : "?", mode[0] == 'd' ? "/" : "");
        }
        free(order);
}

static int files_ls(struct api *a, const struct files_opts *o) {
        char rdir[LP_PATH_MAX];
        int r = remote_path("files ls", o->nargs == 2 ? o->args[1] : "", "", rdir);
        if (r)
                return r;
        if (!strcmp(rdir, "."))
                rdir[0] = '\0';
        _cleanup_free_ char *esc = api_escape(a, rdir, false);
        _cleanup_free_ char *query = NULL;
        if (!esc || asprintf(&query, "?path=%s", esc) < 0) {
                query = NULL;
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        _cleanup_free_ char *path = NULL;
        r = files_url(a, o->args[0], NULL, query, &path);
        json_t *reply = NULL;
        if (r == 0)
                r = api_json(a, "GET", path, NULL, LIST_TIMEOUT_S, &reply);
        if (r == 0) {
                if (o->json)
                        cli_print_json(reply);
                else
                        print_listing(json_object_get(reply, "entries"));
        }
        json_decref(reply);
        return r;
}

/* Every PATH is tried; the status is 1 if any could not be removed. */
static int files_rm(struct api *a, const struct files_opts *o) {
        int rc = 0;
        for (int i = 1; i < o->nargs; i++) {
                char rpath[LP_PATH_MAX];
                int r = remote_path("files rm", o->args[i], "", rpath);
                if (r) {
                        rc = rc ? rc : r;
                        continue;
                }
                if (!*rpath) {
                        fprintf(stderr, "airlock: files rm: '%s' is the workspace itself; it cannot be removed\n",
                                o->args[i]);
                        rc = rc ? rc : CLI_EXIT_API;
                        continue;
                }
                _cleanup_free_ char *path = NULL;
                r = files_url(a, o->args[0], rpath, o->recursive ? "?recursive=true" : NULL, &path);
                if (r == 0)
                        r = api_json(a, "DELETE", path, NULL, LIST_TIMEOUT_S, NULL);
                rc = rc ? rc : r;
        }
        return rc;
}

int cmd_files(int argc, char **argv) {
        static const char *const subs[] = {"put", "get", "ls", "rm", NULL};
        const char *sub = NULL;
        char prog[32];
        int pick = cli_subcommand("files", files_usage, subs, "put, get, ls or rm", argc, argv, &sub, prog, sizeof(prog));
        if (pick)
                return pick < 0 ? 0 : pick;
        int (*fn)(struct api *, const struct files_opts *) = !strcmp(sub, "put")  ? files_put
                                                             : !strcmp(sub, "get") ? files_get
                                                             : !strcmp(sub, "ls")  ? files_ls
                                                             : !strcmp(sub, "rm")  ? files_rm
                                                                                   : NULL;
        if (!fn)
                return CLI_EXIT_USAGE; /* cannot happen: sub is one of subs */
        struct files_opts o;
        memset(&o, 0, sizeof(o));
        int r = parse_args(prog, argc - 1, argv + 1, &o);
        if (r == 0)
                r = check_operands(prog, &o);
        if (r)
                return r < 0 ? 0 : r;
        struct api a;
        if ((r = api_open(&a, &o.conn, prog)) == 0) {
                r = fn(&a, &o);
                api_close(&a);
        }
        return r;
}
