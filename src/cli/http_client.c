/* http_client: the client verbs' connection to the daemon (libcurl) and their shared flag
 * handling. Bodies stream: uploads are read from their fd as curl sends them, downloads
 * are written as they arrive; only JSON replies (and error bodies) are held, capped. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli/http_client.h"
#include "proto/launch_proto.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"


#define CONNECT_TIMEOUT_MS 10000L
#define REPLY_MAX (256u << 20) /* a JSON reply: an execution's output is capped well below */
#define ERROR_SHOWN_MAX 200    /* bytes of a non-JSON error body worth showing */

/* ---- flags ---- */

void cli_usage_print(const char *prog, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "airlock %s: ", prog);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        /* The help text belongs to the verb: "sessions create" -> "airlock sessions --help". */
        fprintf(stderr, "\n(see 'airlock %.*s --help')\n", (int)strcspn(prog, " "), prog);
}

void cli_getopt_print(const char *prog, int opt, char **argv) {
        const char *arg = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "";
        bool is_long = !strncmp(arg, "--", 2);
        if (opt == ':') {
                if (!is_long && optopt > 0 && optopt < 128)
                        cli_usage_print(prog, "-%c needs a value", optopt);
                else
                        cli_usage_print(prog, "%s needs a value", arg);
        } else if (is_long && optopt) { /* a known long option given "=VALUE" */
                cli_usage_print(prog, "%.*s takes no value", (int)strcspn(arg, "="), arg);
        } else if (is_long) {
                cli_usage_print(prog, "unknown option %.*s", (int)strcspn(arg, "="), arg);
        } else if (optopt > 0 && optopt < 128) {
                cli_usage_print(prog, "unknown option -%c", optopt);
        } else {
                cli_usage_print(prog, "unknown option %s", arg);
        }
}

int cli_parse_count(const char *prog, const char *flag, const char *s, unsigned long long max,
                    unsigned long long *ret) {
        unsigned long long v;
        int r = parse_u64(s, &v);
        if (r == -ERANGE || (r == 0 && v > max))
                return cli_usage_error(prog, "%s: %s is too large (at most %llu)", flag, s, max);
        if (r < 0)
                return cli_usage_error(prog, "%s: '%s' is not a whole number", flag, s);
        if (v == 0)
                return cli_usage_error(prog, "%s must be at least 1 (got %s)", flag, s);
        *ret = v;
        return 0;
}

int cli_parse_positive(const char *prog, const char *flag, const char *s, double *ret) {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || !end || *end || end == s || !isfinite(v) || s[0] == ' ' || s[0] == '\t')
                return cli_usage_error(prog, "%s: '%s' is not a number", flag, s);
        if (v <= 0)
                return cli_usage_error(prog, "%s must be more than 0 (got %s)", flag, s);
        *ret = v;
        return 0;
}

/* ---- the connection ---- */

static bool header_safe(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p <= 0x20 || *p == 0x7f)
                        return false;
        return true;
}

/* A URL curl can parse, with a host; whether that host is this machine. */
static int check_url(const char *prog, const char *from, const char *url, bool *loopback) {
        CURLU *u = curl_url();
        char *host = NULL;
        CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
        if (rc == CURLUE_OK)
                rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_cleanup(u);
        if (rc != CURLUE_OK || !host) {
                curl_free(host);
                return cli_usage_error(prog, "%s: '%s' is not a valid URL (%s)", from, url,
                                       rc != CURLUE_OK ? curl_url_strerror(rc) : "no host");
        }
        struct in_addr v4;
        *loopback = !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
                    (inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127);
        curl_free(host);
        return 0;
}

static struct curl_slist *append(struct curl_slist *list, const char *line, bool *oom) {
        struct curl_slist *n = curl_slist_append(list, line);
        if (!n)
                *oom = true;
        return n ? n : list;
}

void cli_connection_option(int opt, const char *arg, struct api_opts *o) {
        if (opt == CLI_OPT_URL)
                o->url = arg;
        else if (opt == CLI_OPT_API_KEY)
                o->key = arg;
}

int api_open(struct api *a, const struct api_opts *o, const char *prog) {
        memset(a, 0, sizeof(*a));
        const char *url = o->url, *url_from = "--url";
        if (!url) {
                url = getenv("AIRLOCK_URL");
                url_from = "AIRLOCK_URL";
        }
        if (!url || !*url)
                url = CLI_DEFAULT_URL;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
                return cli_usage_error(prog, "%s: '%s' is not an http:// or https:// URL", url_from, url);
        if (!header_safe(url))
                return cli_usage_error(prog, "%s: the URL has a space or control character", url_from);
        bool loopback = false;
        int r = check_url(prog, url_from, url, &loopback);
        if (r)
                return r;

        const char *key = o->key, *key_from = "--api-key";
        if (!key) {
                key = getenv("AIRLOCK_API_KEY");
                key_from = "AIRLOCK_API_KEY";
        }
        if (!key || !*key)
                return cli_usage_error(prog, "no API key: give --api-key KEY or set AIRLOCK_API_KEY "
                                             "(the daemon writes one to DATA_DIR/api-key)");
        if (!header_safe(key))
                return cli_usage_error(prog, "%s: the key has a space or control character", key_from);

        a->loopback = loopback;
        const char *ca = getenv("AIRLOCK_CA_CERT");
        if (ca && *ca && access(ca, R_OK) < 0)
                return cli_usage_error(prog, "AIRLOCK_CA_CERT: cannot read %s: %m", ca);
        a->cacert = ca && *ca ? ca : NULL;
        a->base = strdup(url);
        if (!a->base) {
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        for (size_t n = strlen(a->base); n > 0 && a->base[n - 1] == '/'; n--)
                a->base[n - 1] = '\0';

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(a->curl = curl_easy_init())) {
                fprintf(stderr, "airlock: cannot start libcurl\n");
                api_close(a);
                return CLI_EXIT_API;
        }
        _cleanup_free_ char *auth = NULL;
        bool oom = asprintf(&auth, "Authorization: Bearer %s", key) < 0;
        if (oom)
                auth = NULL;
        else {
                a->headers = append(a->headers, auth, &oom);
                a->json_headers = append(a->json_headers, auth, &oom);
                a->json_headers = append(a->json_headers, "Content-Type: application/json", &oom);
        }
        if (oom) {
                fprintf(stderr, "airlock: out of memory\n");
                api_close(a);
                return CLI_EXIT_API;
        }
        return 0;
}

void api_close(struct api *a) {
        if (a->curl)
                curl_easy_cleanup(a->curl);
        curl_slist_free_all(a->headers);
        curl_slist_free_all(a->json_headers);
        free(a->base);
        memset(a, 0, sizeof(*a));
}

char *api_escape(struct api *a, const char *s, bool keep_slash) {
        struct buf out;
        buf_init(&out, 3 * strlen(s) + 1);
        int r = buf_append(&out, "", 0);
        while (r == 0) {
                size_t n = keep_slash ? strcspn(s, "/") : strlen(s);
                char *seg = n ? curl_easy_escape(a->curl, s, (int)n) : NULL;
                if (n && !seg)
                        r = -ENOMEM;
                else if (seg)
                        r = buf_append(&out, seg, strlen(seg));
                curl_free(seg);
                if (r < 0 || !s[n])
                        break;
                r = buf_append(&out, "/", 1);
                s += n + 1;
        }
        if (r < 0) {
                buf_free(&out);
                return NULL;
        }
        return out.data;
}

/* ---- one transfer ---- */

struct xfer {
        CURL *curl;
        const char *method;
        const char *path;
        long timeout_s;
        long status;
        struct buf body; /* the JSON reply, or the error body of a download */
        bool too_big;
        /* upload */
        int in_fd;
        const char *in_name;
        int read_err;
        /* download */
        bool download;
        const char *local; /* NULL: standard output */
        int out_fd;
        bool out_owned;  /* we opened it (and close it) */
        bool out_remove; /* a regular file we created: removed if the transfer breaks */
        int write_err;
};

static void xfer_init(struct xfer *x, struct api *a, const char *method, const char *path) {
        memset(x, 0, sizeof(*x));
        x->curl = a->curl;
        x->method = method;
        x->path = path;
        x->in_fd = -1;
        x->out_fd = -1;
        buf_init(&x->body, REPLY_MAX);
}

static const char *sink_name(const struct xfer *x) { return x->local ? x->local : "standard output"; }

static int open_sink(struct xfer *x) {
        if (!x->local) {
                x->out_fd = STDOUT_FILENO;
                return 0;
        }
        x->out_fd = open(x->local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
        if (x->out_fd < 0) {
                x->write_err = errno;
                return -errno;
        }
        x->out_owned = true;
        struct stat st;
        x->out_remove = fstat(x->out_fd, &st) == 0 && S_ISREG(st.st_mode);
        return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        struct xfer *x = userdata;
        size_t len = size * n;
        if (x->download) {
                if (!x->status)
                        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
                if (x->status / 100 == 2) {
                        if (x->out_fd < 0 && open_sink(x) < 0)
                                return 0;
                        int r = write_all(x->out_fd, p, len);
                        if (r < 0) {
                                x->write_err = -r;
                                return 0;
                        }
                        return len;
                }
        }
        if (buf_append(&x->body, p, len) < 0) {
                x->too_big = true;
                return 0;
        }
        return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *userdata) {
        struct xfer *x = userdata;
        for (;;) {
                ssize_t r = read(x->in_fd, p, size * n);
                if (r >= 0)
                        return (size_t)r;
                if (errno != EINTR) {
                        x->read_err = errno;
                        return CURL_READFUNC_ABORT;
                }
        }
}

static int prepare(struct api *a, struct xfer *x, const struct curl_slist *headers) {
        _cleanup_free_ char *url = NULL;
        if (asprintf(&url, "%s%s", a->base, x->path) < 0) {
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        curl_easy_reset(a->curl);
        a->errbuf[0] = '\0';
        curl_easy_setopt(a->curl, CURLOPT_URL, url); /* curl keeps its own copy */
        curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, a->errbuf);
        curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
        if (a->loopback) /* as Go's net/http does: a proxy is never the way to this machine */
                curl_easy_setopt(a->curl, CURLOPT_NOPROXY, "*");
        if (a->cacert) /* a daemon whose certificate the system's store does not know */
                curl_easy_setopt(a->curl, CURLOPT_CAINFO, a->cacert);
        curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        if (x->timeout_s > 0)
                curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, x->timeout_s * 1000L);
        curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "airlock/" AIRLOCK_VERSION);
        curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, x);
        return 0;
}

static bool unreachable(CURL *curl, CURLcode rc) {
        switch (rc) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
                return true;
        case CURLE_OPERATION_TIMEDOUT: {
                curl_off_t connected = 0;
                return curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected) != CURLE_OK || connected == 0;
        }
        default:
                return false;
        }
}

/* The transfer itself failed: say why, in the caller's terms where we can. */
static int transport_error(struct api *a, const struct xfer *x, CURLcode rc) {
        const char *why = a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc);
        if (x->write_err)
                fprintf(stderr, "airlock: writing %s: %s\n", sink_name(x), strerror(x->write_err));
        else if (x->read_err)
                fprintf(stderr, "airlock: reading %s: %s\n", x->in_name, strerror(x->read_err));
        else if (x->too_big)
                fprintf(stderr, "airlock: the daemon's reply is larger than %u MiB\n", REPLY_MAX >> 20);
        else if (unreachable(a->curl, rc))
                fprintf(stderr, "airlock: cannot reach %s: %s\n", a->base, why);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
                fprintf(stderr, "airlock: no reply from %s within %ld s\n", a->base, x->timeout_s);
        else
                fprintf(stderr, "airlock: %s %s%s: %s\n", x->method, a->base, x->path, why);
        return CLI_EXIT_API;
}

/* A reply that is not 2xx: the daemon's {"error": {...}} in one line. */
static int api_error(const struct xfer *x) {
        json_error_t e;
        json_t *j = x->body.len ? json_loadb(x->body.data, x->body.len, 0, &e) : NULL;
        json_t *err = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        const char *field = json_string_value(json_object_get(err, "field"));
        if (code && msg) {
                fprintf(stderr, "airlock: %s: %s", code, msg);
                if (field && *field)
                        fprintf(stderr, " (field: %s)", field);
                fputc('\n', stderr);
        } else {
                const char *text = x->body.data ? x->body.data : "";
                size_t n = strcspn(text, "\r\n");
                fprintf(stderr, "airlock: the daemon answered HTTP %ld%s%.*s\n", x->status, n ? ": " : "",
                        (int)(n > ERROR_SHOWN_MAX ? ERROR_SHOWN_MAX : n), text);
        }
        json_decref(j);
        return CLI_EXIT_API;
}

/* Run the prepared transfer; on a 2xx reply parse the JSON body into *reply. */
static int perform(struct api *a, struct xfer *x, json_t **reply) {
        CURLcode rc = curl_easy_perform(a->curl);
        if (rc != CURLE_OK)
                return transport_error(a, x, rc);
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &x->status);
        if (x->status / 100 != 2)
                return api_error(x);
        if (!reply || x->download)
                return 0;
        *reply = NULL;
        if (!x->body.len)
                return 0;
        json_error_t e;
        *reply = json_loadb(x->body.data, x->body.len, JSON_ALLOW_NUL, &e); /* output may hold NULs */
        if (!*reply) {
                fprintf(stderr, "airlock: the daemon's reply is not JSON: %s\n", e.text);
                return CLI_EXIT_API;
        }
        return 0;
}

int api_json(struct api *a, const char *method, const char *path, json_t *body, long timeout_s, json_t **reply) {
        struct xfer x;
        xfer_init(&x, a, method, path);
        x.timeout_s = timeout_s;
        _cleanup_free_ char *text = NULL;
        if (body && !(text = json_dumps(body, JSON_COMPACT))) {
                fprintf(stderr, "airlock: cannot encode the request\n");
                return CLI_EXIT_API;
        }
        int r = prepare(a, &x, body ? a->json_headers : a->headers);
        if (r == 0) {
                if (text) {
                        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, text);
                        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
                }
                if (strcmp(method, text ? "POST" : "GET") != 0)
                        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
                r = perform(a, &x, reply);
        }
        buf_free(&x.body);
        return r;
}

int api_upload(struct api *a, const char *path, int fd, long long size, const char *what, json_t **reply) {
        struct xfer x;
        xfer_init(&x, a, "PUT", path);
        x.in_fd = fd;
        x.in_name = what;
        int r = prepare(a, &x, a->headers);
        if (r == 0) {
                curl_easy_setopt(a->curl, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(a->curl, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(a->curl, CURLOPT_READDATA, &x);
                if (size >= 0)
                        curl_easy_setopt(a->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
                r = perform(a, &x, reply);
        }
        buf_free(&x.body);
        return r;
}

int api_download(struct api *a, const char *path, const char *local) {
        struct xfer x;
        xfer_init(&x, a, "GET", path);
        x.download = true;
        x.local = local && strcmp(local, "-") != 0 ? local : NULL;
        int r = prepare(a, &x, a->headers);
        if (r == 0)
                r = perform(a, &x, NULL);
        /* An empty file never reaches on_body: create it now. */
        if (r == 0 && x.out_fd < 0 && open_sink(&x) < 0) {
                fprintf(stderr, "airlock: writing %s: %s\n", sink_name(&x), strerror(x.write_err));
                r = CLI_EXIT_API;
        }
        if (x.out_owned && close(x.out_fd) < 0 && r == 0) {
                fprintf(stderr, "airlock: writing %s: %s\n", sink_name(&x), strerror(errno));
                r = CLI_EXIT_API;
        }
        if (r != 0 && x.out_remove && x.local)
                (void)unlink(x.local);
        buf_free(&x.body);
        return r;
}

struct kept_header {
        const char *name;
        char *out;
        size_t cap;
};

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        struct kept_header *k = userdata;
        size_t len = size * n, name_len = strlen(k->name);
        if (len > name_len && p[name_len] == ':' && strncasecmp(p, k->name, name_len) == 0) {
                const char *v = p + name_len + 1, *end = p + len;
                while (v < end && (*v == ' ' || *v == '\t'))
                        v++;
                while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                        end--;
                if ((size_t)(end - v) < k->cap) {
                        memcpy(k->out, v, (size_t)(end - v));
                        k->out[end - v] = '\0';
                }
        }
        return len;
}

int api_raw(struct api *a, const char *method, const char *path, const char *const *headers, const char *body,
            size_t len, const char *keep_header, long timeout_s, struct api_raw_reply *ret) {
        memset(ret, 0, sizeof(*ret));
        struct xfer x;
        xfer_init(&x, a, method, path);
        x.timeout_s = timeout_s;
        bool oom = false;
        struct curl_slist *list = NULL;
        for (const struct curl_slist *h = a->headers; h; h = h->next)
                list = append(list, h->data, &oom);
        for (size_t i = 0; headers && headers[i]; i++)
                list = append(list, headers[i], &oom);
        int r = oom ? CLI_EXIT_API : prepare(a, &x, list);
        struct kept_header kept = {keep_header, ret->header, sizeof(ret->header)};
        if (oom)
                snprintf(ret->error, sizeof(ret->error), "out of memory");
        if (r == 0) {
                if (keep_header) {
                        curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
                        curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, &kept);
                }
                if (body) {
                        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
                        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
                }
                if (strcmp(method, body ? "POST" : "GET") != 0)
                        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, method);
                CURLcode rc = curl_easy_perform(a->curl);
                if (rc != CURLE_OK) {
                        snprintf(ret->error, sizeof(ret->error), "%s %s%s: %s", method, a->base, path,
                                 x.too_big ? "the reply is too large" : a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
                        r = CLI_EXIT_API;
                } else {
                        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &ret->status);
                        ret->body = x.body;
                        buf_init(&x.body, REPLY_MAX); /* handed over */
                }
        }
        curl_slist_free_all(list);
        buf_free(&x.body);
        return r;
}

void api_raw_free(struct api_raw_reply *r) { buf_free(&r->body); }

void cli_print_json(json_t *j) {
        if (json_dumpf(j, stdout, JSON_INDENT(2)) == 0)
                fputc('\n', stdout);
}

int cli_add_pair(const char *prog, const char *flag, json_t *parent, const char *member, const char *kv) {
        const char *eq = strchr(kv, '=');
        bool env = !strcmp(flag, "--env");
        if (!eq || eq == kv || (env && !lp_valid_env_name(kv, (size_t)(eq - kv))))
                return cli_usage_error(prog, "%s '%s': expected %s=VALUE%s", flag, kv, env ? "NAME" : "KEY",
                                       env ? " with NAME matching [A-Za-z_][A-Za-z0-9_]*" : " with a non-empty KEY");
        size_t len = (size_t)(eq - kv);
        json_t *obj = json_object_get(parent, member);
        if (!obj) {
                obj = json_object();
                if (json_object_set_new(parent, member, obj) < 0)
                        return cli_usage_error(prog, "out of memory");
        }
        if (json_object_getn(obj, kv, len))
                return cli_usage_error(prog, "%s %.*s given twice", flag, (int)len, kv);
        json_t *value = json_string(eq + 1);
        if (!value)
                return cli_usage_error(prog, "%s %.*s: the value is not valid UTF-8", flag, (int)len, kv);
        if (json_object_setn_new(obj, kv, len, value) < 0)
                return cli_usage_error(prog, "%s %.*s: the name is not valid UTF-8", flag, (int)len, kv);
        return 0;
}

int cli_subcommand(const char *verb, const char *usage, const char *const *subs, const char *choices, int argc,
                   char **argv, const char **ret_sub, char *prog, size_t prog_cap) {
        if (argc < 2)
                return cli_usage_error(verb, "which one? %s", choices);
        const char *sub = argv[1];
        if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
                fputs(usage, stdout);
                return -1;
        }
        const char *alias = !strcmp(sub, "list") ? "ls" : !strcmp(sub, "delete") ? "rm" : sub;
        for (size_t i = 0; subs[i]; i++)
                if (!strcmp(alias, subs[i])) {
                        *ret_sub = subs[i];
                        snprintf(prog, prog_cap, "%s %s", verb, subs[i]);
                        return 0;
                }
        return cli_usage_error(verb, "unknown subcommand '%s' (%s)", sub, choices);
}
