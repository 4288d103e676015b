/* airlock-daemon (`airlock serve`): start the launcher, drop privileges, serve HTTP.
 *
 * Order matters: everything that needs root or reads from a trusted place happens
 * first (the launcher is started, the data dir created and handed to our uid, the
 * runner read); then setgroups/setresgid/setresuid to DAEMON_UID and no_new_privs; only
 * then is a socket opened or a byte of network input parsed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/launcher_client.h"
#include "daemon/config.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"
#include "daemon/mcp.h"

static const char usage[] =
        "usage: airlock serve [--config FILE] [--listen ADDRESS:PORT] [--data-dir DIR] [--pool-size N]\n"
        "\n"
        "Run the Airlock service: the REST API on ADDRESS:PORT (default 127.0.0.1:8470), state\n"
        "in DIR (default /var/lib/airlock; an admin API key is written to DIR/api-key on first\n"
        "start). N sandboxes of the default shape are kept ready (default 4, 0 to disable), their\n"
        "runners with pool_preload's modules imported (default numpy,pandas,matplotlib.pyplot).\n"
        "Settings come from FILE (YAML: listen, data_dir, pool_size, pool_preload, tenant_max_sessions,\n"
        "tenant_max_memory_mb, secrets_key_file, tls_cert_file, tls_key_file, otlp_endpoint,\n"
        "mcp_allowed_origins), then the environment (AIRLOCK_LISTEN, AIRLOCK_DATA_DIR,\n"
        "AIRLOCK_POOL_SIZE, AIRLOCK_POOL_PRELOAD, AIRLOCK_TENANT_MAX_SESSIONS, AIRLOCK_TENANT_MAX_MEMORY_MB,\n"
        "AIRLOCK_SECRETS_KEY_FILE, AIRLOCK_TLS_CERT_FILE, AIRLOCK_TLS_KEY_FILE,\n"
        "OTEL_EXPORTER_OTLP_ENDPOINT, AIRLOCK_MCP_ALLOWED_ORIGINS), then these flags. A tenant without quotas of its own (PUT /v1/tenants/NAME) gets the tenant_max_*\n"
        "ones (default 256 sessions, 131072 MiB). Secrets are sealed with the key in\n"
        "secrets_key_file (default DIR/secrets.key, made on first start). With tls_cert_file and\n"
        "tls_key_file (PEM) the API is served over HTTPS. With otlp_endpoint, traces are sent\n"
        "there (OTLP/HTTP JSON). The MCP server (/mcp) serves browser pages of loopback origins\n"
        "only, and of the origins in mcp_allowed_origins (comma-separated, or *).\n"
        "Needs root: it starts the sandbox launcher, then drops its own privileges.\n";

/* A PEM file, whole, at most 1 MiB, NUL-terminated. */
static int read_pem(const char *path, const char *field, char **ret, struct diag *d) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return diag_set(d, -errno, field, "cannot open %s: %m", path);
        size_t cap = 1u << 20, len = 0;
        char *text = malloc(cap + 1);
        ssize_t n = 0;
        while (text && len < cap && (n = read(fd, text + len, cap - len)) > 0)
                len += (size_t)n;
        close(fd);
        if (!text || n < 0 || len == cap || len == 0) {
                free(text);
                return diag_set(d, -EINVAL, field, "cannot read %s (empty, unreadable or over 1 MiB)", path);
        }
        text[len] = '\0';
        if (!strstr(text, "-----BEGIN ")) {
                free(text);
                return diag_set(d, -EINVAL, field, "%s is not PEM (no -----BEGIN line)", path);
        }
        *ret = text;
        return 0;
}

static int read_tls(const struct config *c, char **cert, char **key, struct diag *d) {
        if (!c->tls_cert_file[0] && !c->tls_key_file[0])
                return 0;
        if (!c->tls_cert_file[0] || !c->tls_key_file[0])
                return diag_set(d, -EINVAL, c->tls_cert_file[0] ? "tls_key_file" : "tls_cert_file",
                                "HTTPS needs both tls_cert_file and tls_key_file");
        if (read_pem(c->tls_cert_file, "tls_cert_file", cert, d) < 0)
                return -EINVAL;
        if (read_pem(c->tls_key_file, "tls_key_file", key, d) < 0) {
                free(*cert);
                *cert = NULL;
                return -EINVAL;
        }
        return 0;
}

/* Before anything is audited (adopting the sandboxes of a restart ends sessions): the
 * count of entries an earlier daemon lost is marked before this one's first. Not fatal. */
static void open_audit_gaps(const char *data_dir) {
        int r = audit_open(data_dir);
        if (r < 0)
                fprintf(stderr,
                        "{\"level\":\"warn\",\"msg\":\"cannot open the audit gap file: audit entries lost on a full "
                        "disk are counted in memory only\",\"error\":\"%s\"}\n",
                        strerror(-r));
}

static int prepare_data_dir(const char *dir, struct diag *d) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return diag_set(d, -errno, "data_dir", "cannot create %s: %m", dir);
        struct stat st;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return diag_set(d, -ENOTDIR, "data_dir", "%s is not a directory", dir);
        if (geteuid() == 0 && (chown(dir, DAEMON_UID, DAEMON_UID) < 0 || chmod(dir, 0700) < 0))
                return diag_set(d, -errno, "data_dir", "cannot hand %s to the daemon's uid: %m", dir);
        return 0;
}

static int drop_privileges(struct diag *d) {
        if (geteuid() != 0)
                return 0;
        if (setgroups(0, NULL) < 0 || setresgid(DAEMON_UID, DAEMON_UID, DAEMON_UID) < 0 ||
            setresuid(DAEMON_UID, DAEMON_UID, DAEMON_UID) < 0)
                return diag_set(d, -errno, "privileges", "cannot drop to uid %u: %m", DAEMON_UID);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return diag_set(d, -errno, "privileges", "no_new_privs: %m");
        return 0;
}

/* Uploads a killed daemon left half-written in live sessions (the journal, store.c) are
 * removed before anyone is served, as any failed upload is (docs/api.md), and logged. */
static void remove_abandoned_uploads(void) {
        json_t *left = store_uploads_abandoned();
        size_t i;
        json_t *u;
        json_array_foreach(left, i, u) {
                const char *path = json_string_value(json_object_get(u, "path"));
                json_int_t sandbox = json_integer_value(json_object_get(u, "sandbox_id"));
                struct lreply rep;
                int r = path ? launch_file((uint64_t)sandbox, LP_FILE_REMOVE, 0, 0, path, &rep) : -EINVAL;
                bool gone = r == 0 && (rep.type != LP_ERROR || rep.err.code == -ENOENT);
                json_t *line = json_pack("{s:s, s:s, s:O, s:O, s:s?}", "level", gone ? "warn" : "error", "msg",
                                         gone ? "removed a half-written upload" : "cannot remove a half-written upload",
                                         "session", json_object_get(u, "session"), "path", json_object_get(u, "path"),
                                         "detail", gone ? NULL : r < 0 ? strerror(-r) : rep.err.msg);
                char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
                if (text)
                        fprintf(stderr, "%s\n", text);
                free(text);
                json_decref(line);
                if (gone)
                        (void)store_upload_end(json_integer_value(json_object_get(u, "id")));
        }
        json_decref(left);
}

int main(int argc, char **argv) {
        int launcher_fd = -1;
        const char *config_file = NULL;
        struct {
                const char *key, *value;
        } flags[8];
        int nflags = 0;
        static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"data-dir", required_argument, NULL, 'd'},
                                             {"pool-size", required_argument, NULL, 'p'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"launcher-fd", required_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        int opt;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if ((opt == 'l' || opt == 'd' || opt == 'p') && nflags < 8) {
                        flags[nflags].key = opt == 'l' ? "listen" : opt == 'd' ? "data_dir" : "pool_size";
                        flags[nflags++].value = optarg;
                } else if (opt == 'c') {
                        config_file = optarg;
                } else if (opt == 'f') {
                        /* internal: set by the supervising launcher (`airlock serve`) */
                        unsigned long long v;
                        if (parse_u64(optarg, &v) < 0 || v < 3 || v > 1024) {
                                fprintf(stderr, "airlock serve: bad --launcher-fd %s\n", optarg);
                                return 2;
                        }
                        launcher_fd = (int)v;
                } else if (opt == 'h') {
                        fputs(usage, stdout);
                        return 0;
                } else if (opt == ':') {
                        fprintf(stderr, "airlock serve: %s needs a value\n", argv[optind - 1]);
                        return 2;
                } else {
                        fprintf(stderr, "airlock serve: unknown option %s\n", argv[optind - 1]);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "airlock serve: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        /* Precedence: defaults, the file, the environment, the flags. */
        struct config cfg;
        config_defaults(&cfg);
        struct diag cd = {0};
        if ((config_file && config_load_file(&cfg, config_file, &cd) < 0) || config_from_env(&cfg, &cd) < 0) {
                fprintf(stderr, "airlock serve: %s\n", cd.msg);
                return 2;
        }
        for (int i = 0; i < nflags; i++) {
                char where[32];
                snprintf(where, sizeof(where), "--%s", !strcmp(flags[i].key, "data_dir")    ? "data-dir"
                                                     : !strcmp(flags[i].key, "pool_size") ? "pool-size"
                                                                                          : flags[i].key);
                if (config_set(&cfg, flags[i].key, flags[i].value, where, &cd) < 0) {
                        fprintf(stderr, "airlock serve: %s\n", cd.msg);
                        return 2;
                }
        }
        const char *listen_addr = cfg.listen, *data_dir = cfg.data_dir;
        int pool_size = cfg.pool_size;

        /* Signals go to sigwait below, not to the HTTP or dispatcher threads. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct diag d = {0};
        char runner[PATH_MAX], kernel[PATH_MAX];
        if (airlock_program_path("airlock_runner.py", R_OK, runner, sizeof(runner)) < 0) {
                fprintf(stderr, "airlock serve: airlock_runner.py not found next to the daemon\n");
                return 1;
        }
        if (airlock_program_path("airlock_kernel.js", R_OK, kernel, sizeof(kernel)) < 0) {
                fprintf(stderr, "airlock serve: airlock_kernel.js not found next to the daemon\n");
                return 1;
        }
        /* Without a supervising launcher (airlock-daemon started by hand) we start our own,
         * and our sandboxes die with us. */
        /* The secrets key is read as root, before the drop: the file may stay root-only. */
        char key_path[PATH_MAX];
        if (cfg.secrets_key_file[0])
                snprintf(key_path, sizeof(key_path), "%s", cfg.secrets_key_file);
        else
                snprintf(key_path, sizeof(key_path), "%s/secrets.key", data_dir);
        if (sessions_init(runner, kernel, &d) < 0 || prepare_data_dir(data_dir, &d) < 0)  {
                fprintf(stderr, "airlock serve: %s%s%s\n", d.field, d.field[0] ? ": " : "", d.msg);
                return 1;
        }
        /* Settings to fix when these fail: restarting cannot help (status 2 stops the
         * supervisor). Both are read as root: the files may stay root-only. */
        char *tls_cert = NULL, *tls_key = NULL;
        if (secrets_init(key_path, &d) < 0 || read_tls(&cfg, &tls_cert, &tls_key, &d) < 0) {
                fprintf(stderr, "airlock serve: %s: %s\n", d.field, d.msg);
                return 2;
        }
        if ((launcher_fd < 0 && launch_start(&d) < 0) || drop_privileges(&d) < 0 || store_open(data_dir, &d) < 0 ||
            (open_audit_gaps(data_dir), 0) ||
            auth_init(data_dir, cfg.tenant_max_sessions, cfg.tenant_max_memory_mb, &d) < 0 ||
            (runtimes_init(data_dir), 0) ||
            (interpreters_init() < 0 && diag_set(&d, -EIO, "data_dir", "cannot store the built-in interpreter") < 0) ||
            (launcher_fd >= 0 && launch_adopt(launcher_fd, &d) < 0)) {
                fprintf(stderr, "airlock serve: %s%s%s\n", d.field, d.field[0] ? ": " : "", d.msg);
                return 1;
        }
        /* setresuid cleared the parent-death signal the supervisor set: arm it again, so
         * that a killed supervisor (and with it every sandbox) never leaves us serving. */
        if (launcher_fd >= 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (getppid() == 1) /* it died already */
                        return 1;
        }
        /* Sessions whose sandbox the supervisor did not hand back are gone. */
        store_end_orphans("launcher_lost");
        remove_abandoned_uploads();
        if (trace_init(cfg.otlp_endpoint, &d) < 0 || trace_start(&d) < 0) {
                fprintf(stderr, "airlock serve: %s: %s\n", d.field, d.msg);
                return 2;
        }
        http_allow_unsigned_agentcore(cfg.agentcore_allow_unsigned_loopback);
        http_allow_mcp_origins(cfg.mcp_allowed_origins);
        /* Before the server's threads: the pool's shape is read by every create. */
        sessions_start_pool(pool_size, cfg.pool_preload);
        int started = http_start(listen_addr, tls_cert, tls_key, &d);
        if (tls_key) /* libmicrohttpd keeps its own copy */
                explicit_bzero(tls_key, strlen(tls_key));
        free(tls_cert);
        free(tls_key);
        if (started < 0) {
                /* An address we cannot use: a restart would not help (status 2 stops the
                 * supervisor instead of looping). */
                fprintf(stderr, "airlock serve: %s: %s\n", d.field, d.msg);
                return 2;
        }
        fprintf(stderr,
                "{\"level\":\"info\",\"msg\":\"listening\",\"address\":\"%s\",\"scheme\":\"%s\",\"data_dir\":\"%s\"}\n",
                listen_addr, cfg.tls_cert_file[0] ? "https" : "http", data_dir);
        for (;;) {
                struct timespec tick = {1, 0};
                int sig = sigtimedwait(&mask, NULL, &tick);
                if (sig > 0)
                        break;
                if (!launch_alive()) {
                        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"the sandbox launcher exited\"}\n");
                        break;
                }
                sessions_reap();
                mcp_reap();
        }
        http_stop();
        mcp_stop_all();
        sessions_stop_all();
        trace_stop();
        fprintf(stderr, "{\"level\":\"info\",\"msg\":\"stopped\"}\n");
        return 0;
}
