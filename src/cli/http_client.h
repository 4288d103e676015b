/* http_client: what the client verbs (sessions, exec, files) share: the daemon's address
 * and key, flag parsing with precise complaints, and the HTTP calls on libcurl.
 *
 * Every function here that can fail prints its one-line reason on stderr and returns the
 * exit status to end with: 1 for anything the daemon said or could not say (an API error
 * is printed as "airlock: <code>: <message> (field: x)", an unreachable daemon as
 * "airlock: cannot reach URL: <reason>"), 2 for a local usage error. 0 means success.
 */
#pragma once
#include <stdbool.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"

#define CLI_EXIT_API 1
#define CLI_EXIT_USAGE 2
#define CLI_DEFAULT_URL "http://127.0.0.1:8470"

/* The connection flags every client verb takes (--url, --api-key) and their long-option
 * ids, for the verbs' getopt tables. */
enum { CLI_OPT_URL = 1000, CLI_OPT_API_KEY };
#define CLI_CONNECTION_OPTIONS \
        {"url", required_argument, NULL, CLI_OPT_URL}, {"api-key", required_argument, NULL, CLI_OPT_API_KEY}

struct api_opts {
        const char *url; /* --url, else $AIRLOCK_URL, else CLI_DEFAULT_URL */
        const char *key; /* --api-key, else $AIRLOCK_API_KEY; required */
};

/* Store a CLI_CONNECTION_OPTIONS option (CLI_OPT_URL or CLI_OPT_API_KEY) in o. */
void cli_connection_option(int opt, const char *arg, struct api_opts *o);

struct api {
        CURL *curl;
        struct curl_slist *headers;      /* Authorization, Accept */
        struct curl_slist *json_headers; /* the same and Content-Type: application/json */
        char *base;                      /* scheme://host[:port][/prefix], no trailing '/' */
        bool loopback;                   /* the daemon is on this machine: no proxy */
        const char *cacert;              /* $AIRLOCK_CA_CERT: the CA bundle for https:// URLs */
        char errbuf[CURL_ERROR_SIZE];
};

/* "airlock <prog>: <message>" and a pointer to --help; evaluates to CLI_EXIT_USAGE. (Macros,
 * so that the status is visible where they are used, to readers and to the analyzer.) */
__attribute__((format(printf, 2, 3))) void cli_usage_print(const char *prog, const char *fmt, ...);
#define cli_usage_error(prog, ...) (cli_usage_print((prog), __VA_ARGS__), CLI_EXIT_USAGE)
/* A getopt_long result of ':' or '?' as a precise complaint; evaluates to CLI_EXIT_USAGE. */
void cli_getopt_print(const char *prog, int opt, char **argv);
#define cli_getopt_error(prog, opt, argv) (cli_getopt_print((prog), (opt), (argv)), CLI_EXIT_USAGE)
/* A whole number in [1, max]; *ret untouched on error. */
int cli_parse_count(const char *prog, const char *flag, const char *s, unsigned long long max,
                    unsigned long long *ret);
/* --env NAME=VALUE (NAME a variable name) or --metadata KEY=VALUE into parent[member]
 * (created when missing); flag names the option in messages. */
int cli_add_pair(const char *prog, const char *flag, json_t *parent, const char *member, const char *kv);
/* The subcommand of `airlock VERB SUB ...`: subs is NULL-terminated, choices says them
 * in words ("create, ls, get or rm"); "list" means "ls" and "delete" "rm". Returns 0 with
 * *ret_sub and prog ("VERB SUB") set, -1 when it printed usage (--help: exit 0), or the
 * usage error's exit status. */
int cli_subcommand(const char *verb, const char *usage, const char *const *subs, const char *choices, int argc,
                   char **argv, const char **ret_sub, char *prog, size_t prog_cap);
/* A finite decimal number > 0. */
int cli_parse_positive(const char *prog, const char *flag, const char *s, double *ret);

/* Resolve the URL and key, start libcurl. On failure nothing needs closing. */
int api_open(struct api *a, const struct api_opts *o, const char *prog);
void api_close(struct api *a);

/* One path segment (a session id) or a workspace path ('/' kept) percent-escaped for a
 * URL. NULL when out of memory. Free with free(). */
char *api_escape(struct api *a, const char *s, bool keep_slash);

/* A JSON call: method and path ("/v1/..."), a body (NULL for none), an overall limit in
 * seconds (0 for none). On a 2xx reply *reply is its JSON (NULL for an empty body). */
int api_json(struct api *a, const char *method, const char *path, json_t *body, long timeout_s, json_t **reply);

/* PUT path with the body read from fd as it is sent (size -1: unknown, sent chunked).
 * what names the source in messages. */
int api_upload(struct api *a, const char *path, int fd, long long size, const char *what, json_t **reply);

/* GET path, written as it arrives to local (NULL or "-": standard output). The file is
 * created only once the daemon has said yes, and removed again if the transfer breaks. */
int api_download(struct api *a, const char *path, const char *local);

/* A request relayed as it is (`airlock mcp`): the reply is kept whatever its status. */
struct api_raw_reply {
        long status;
        struct buf body;
        char header[256]; /* the value of the header api_raw was asked to keep; "" when absent */
        char error[CURL_ERROR_SIZE + 64]; /* why no reply came */
};

/* method and path, extra header lines (NULL-terminated; the key is always sent), a body
 * (NULL: none), the header whose value to keep (NULL: none), an overall limit in seconds
 * (0: none). 0 when a reply came, whatever its status (free it with api_raw_free); else
 * CLI_EXIT_API with the reason in ret->error, nothing printed. */
int api_raw(struct api *a, const char *method, const char *path, const char *const *headers, const char *body,
            size_t len, const char *keep_header, long timeout_s, struct api_raw_reply *ret);
void api_raw_free(struct api_raw_reply *r);

/* Print a JSON document (--json) on standard output. */
void cli_print_json(json_t *j);
