/* airlock run: one program in a fresh sandbox, no daemon. Output streams live; the exit
 * status says how it ended (0 ok, the program's own code, 124 timeout, 137 killed,
 * 125 the sandbox could not be built, 2 bad usage). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/launcher_client.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#define EXIT_USAGE 2
#define EXIT_SANDBOX 125
#define EXIT_TIMEOUT 124
#define EXIT_KILLED 137
#define DRAIN_AFTER_EXIT_MS 2000

struct run_opts {
        struct lp_create c;
        struct buf env;
        struct buf allow; /* the allow blob, after env in the CREATE */
        uint64_t output_limit;
        const char *code;
        const char *file;
        bool from_stdin;
        bool verbose;
        bool language_set;
};

static const char run_usage[] =
        "usage: airlock run [options] (-c CODE | FILE | -)\n"
        "\n"
        "Run a program in a fresh sandbox and stream its output. No daemon is needed.\n"
        "\n"
        "  -c, --code CODE            the program text\n"
        "  FILE                       a file holding the program ('-' reads standard input)\n"
        "  -l, --language L           python (default), javascript or bash; a FILE's extension\n"
        "                             (.py .js .mjs .sh) chooses when this is not given\n"
        "      --isolation B          namespace (default: bubblewrap + seccomp + Landlock + cgroups)\n"
        "                             or gvisor (runsc: a user-space kernel, slower, stronger)\n"
        "      --memory-mb N          memory limit, no swap (default 512)\n"
        "      --cpus F               CPU limit in CPUs, e.g. 0.5 (default 1)\n"
        "      --pids N               process and thread limit (default 64)\n"
        "      --timeout-seconds S    wall-clock limit: interrupt, then kill (default 60)\n"
        "      --interrupt-grace-seconds S  time between the interrupt and the kill (default 2)\n"
        "      --workspace-mb N       size of /workspace (default 512)\n"
        "      --tmp-mb N             size of /tmp and of /dev/shm (default 256)\n"
        "      --nofile N             open-file limit (default 1024)\n"
        "      --output-limit-kb N    stdout+stderr limit; past it the program is killed (default 10240)\n"
        "      --network MODE         none (default): loopback only; public: egress through\n"
        "                             slirp4netns, link-local, metadata and the host refused;\n"
        "                             allowlist: HTTP(S) through a proxy at 127.0.0.1:3128 to\n"
        "                             the --allow entries only (namespace isolation, root;\n"
        "                             docs/network.md)\n"
        "      --allow HOST:PORT      an allowlist entry (repeatable; implies --network allowlist):\n"
        "                             a DNS name, *.NAME for its subdomains, or an IPv4 address\n"
        "  -e, --env NAME=VALUE       set a variable in the sandbox (repeatable)\n"
        "      --allow-weaker LAYERS  run even without these layers: cgroup, landlock, shared-uid\n"
        "                             (comma-separated; every other layer is mandatory)\n"
        "  -v, --verbose              say which isolation the sandbox really got, and (public,\n"
        "                             allowlist) each connection allowed or refused\n"
        "  -h, --help                 this text\n"
        "\n"
        "Exit status: the program's own (0 ok; 1 for an uncaught error), 124 timeout,\n"
        "137 killed (out of memory, process limit, output limit, stopped), 125 the sandbox\n"
        "could not be built, 2 bad usage.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("airlock run: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n(see 'airlock run --help')\n", stderr);
        return EXIT_USAGE;
}

/* Whole number within [lo, hi], with the flag named in every complaint. */
static int parse_count(const char *flag, const char *s, unsigned long long lo, unsigned long long hi,
                       unsigned long long *ret) {
        unsigned long long v;
        if (parse_u64(s, &v) < 0)
                return usage_error("%s: '%s' is not a whole number", flag, s);
        if (v < lo || v > hi)
                return usage_error("%s must be between %llu and %llu (got %s)", flag, lo, hi, s);
        *ret = v;
        return 0;
}

static int parse_decimal(const char *flag, const char *s, double lo, double hi, double *ret) {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || !end || *end || end == s || !isfinite(v) || s[0] == ' ')
                return usage_error("%s: '%s' is not a number", flag, s);
        if (v < lo || v > hi)
                return usage_error("%s must be between %g and %g (got %s)", flag, lo, hi, s);
        *ret = v;
        return 0;
}

static int parse_language(const char *s, uint8_t *ret) {
        if (!strcmp(s, "python") || !strcmp(s, "py") || !strcmp(s, "python3"))
                *ret = LP_LANG_PYTHON;
        else if (!strcmp(s, "javascript") || !strcmp(s, "js") || !strcmp(s, "node"))
                *ret = LP_LANG_JAVASCRIPT;
        else if (!strcmp(s, "bash") || !strcmp(s, "sh") || !strcmp(s, "shell"))
                *ret = LP_LANG_BASH;
        else if (!strcmp(s, "typescript") || !strcmp(s, "ts"))
                return usage_error("--language typescript is not available in one-shot runs yet; "
                                   "use javascript, python or bash");
        else
                return usage_error("--language: unknown language '%s' (python, javascript, bash)", s);
        return 0;
}

static int parse_weaker(const char *s, uint32_t *bits) {
        for (const char *t = s; *t;) {
                size_t n = strcspn(t, ",");
                if (n == 6 && !strncmp(t, "cgroup", n))
                        *bits |= LP_ALLOW_NO_CGROUP;
                else if (n == 8 && !strncmp(t, "landlock", n))
                        *bits |= LP_ALLOW_NO_LANDLOCK;
                else if (n == 10 && !strncmp(t, "shared-uid", n))
                        *bits |= LP_ALLOW_SHARED_UID;
                else
                        return usage_error("--allow-weaker: unknown layer '%.*s' (cgroup, landlock, shared-uid; "
                                           "namespaces and seccomp are never optional)",
                                           (int)n, t);
                t += n;
                if (*t == ',')
                        t++;
        }
        return 0;
}

static int add_env(struct run_opts *o, const char *kv) {
        const char *eq = strchr(kv, '=');
        if (!eq || !lp_valid_env_name(kv, (size_t)(eq - kv)))
                return usage_error("--env '%s': expected NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*", kv);
        if (strlen(eq + 1) > LP_ENV_VALUE_MAX)
                return usage_error("--env %.*s: value longer than %d bytes", (int)(eq - kv), kv, LP_ENV_VALUE_MAX);
        if (o->c.env_count >= LP_ENV_MAX_COUNT)
                return usage_error("--env: at most %d variables", LP_ENV_MAX_COUNT);
        if (o->env.len + strlen(kv) + 1 > LP_ENV_MAX_BYTES || buf_append_str0(&o->env, kv) < 0)
                return usage_error("--env: all variables together exceed %d bytes", LP_ENV_MAX_BYTES);
        o->c.env_count++;
        return 0;
}

static int add_allow(struct run_opts *o, const char *entry) {
        struct lp_allow a;
        if (lp_parse_allow_entry(entry, strlen(entry), &a) < 0)
                return usage_error("--allow '%s': expected HOST:PORT, HOST a DNS name (*. for its subdomains) or "
                                   "an IPv4 address, PORT 1-65535",
                                   entry);
        if (o->c.allow_count >= LP_ALLOW_MAX_COUNT || o->allow.len + strlen(entry) + 1 > LP_ALLOW_MAX_BYTES)
                return usage_error("--allow: at most %d entries in %d bytes", LP_ALLOW_MAX_COUNT, LP_ALLOW_MAX_BYTES);
        if (buf_append_str0(&o->allow, entry) < 0)
                return usage_error("--allow: out of memory");
        o->c.allow_count++;
        return 0;
}

static uint8_t language_from_name(const char *path, bool *known) {
        const char *dot = strrchr(path, '.');
        *known = true;
        if (dot && (!strcmp(dot, ".js") || !strcmp(dot, ".mjs") || !strcmp(dot, ".cjs")))
                return LP_LANG_JAVASCRIPT;
        if (dot && (!strcmp(dot, ".sh") || !strcmp(dot, ".bash")))
                return LP_LANG_BASH;
        *known = dot && !strcmp(dot, ".py");
        return LP_LANG_PYTHON;
}

static const char *default_entry(uint8_t lang) {
        return lang == LP_LANG_JAVASCRIPT ? "main.js" : lang == LP_LANG_BASH ? "main.sh" : "main.py";
}

static int parse_args(int argc, char **argv, struct run_opts *o) {
        enum {
                O_ISOLATION = 256,
                O_MEMORY,
                O_CPUS,
                O_PIDS,
                O_TIMEOUT,
                O_GRACE,
                O_WORKSPACE,
                O_TMP,
                O_NOFILE,
                O_OUTPUT,
                O_NETWORK,
                O_ALLOW,
                O_WEAKER,
        };
        static const struct option longopts[] = {
                {"code", required_argument, NULL, 'c'},
                {"language", required_argument, NULL, 'l'},
                {"env", required_argument, NULL, 'e'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {"isolation", required_argument, NULL, O_ISOLATION},
                {"memory-mb", required_argument, NULL, O_MEMORY},
                {"cpus", required_argument, NULL, O_CPUS},
                {"pids", required_argument, NULL, O_PIDS},
                {"timeout-seconds", required_argument, NULL, O_TIMEOUT},
                {"interrupt-grace-seconds", required_argument, NULL, O_GRACE},
                {"workspace-mb", required_argument, NULL, O_WORKSPACE},
                {"tmp-mb", required_argument, NULL, O_TMP},
                {"nofile", required_argument, NULL, O_NOFILE},
                {"output-limit-kb", required_argument, NULL, O_OUTPUT},
                {"network", required_argument, NULL, O_NETWORK},
                {"allow", required_argument, NULL, O_ALLOW},
                {"allow-weaker", required_argument, NULL, O_WEAKER},
                {NULL, 0, NULL, 0},
        };
        struct lp_limits *l = &o->c.limits;
        unsigned long long v = 0;
        double f = 0;
        int opt, r;
        bool network_set = false;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, "+:c:l:e:vh", longopts, NULL)) != -1) {
                r = 0;
                switch (opt) {
                case 'c':
                        if (o->code)
                                return usage_error("-c given twice");
                        o->code = optarg;
                        break;
                case 'l':
                        r = parse_language(optarg, &o->c.language);
                        o->language_set = true;
                        break;
                case 'e':
                        r = add_env(o, optarg);
                        break;
                case 'v':
                        o->verbose = true;
                        break;
                case 'h':
                        fputs(run_usage, stdout);
                        return -1;
                case O_ISOLATION:
                        if (!strcmp(optarg, "namespace"))
                                o->c.backend = LP_BACKEND_NAMESPACE;
                        else if (!strcmp(optarg, "gvisor"))
                                o->c.backend = LP_BACKEND_GVISOR;
                        else
                                r = usage_error("--isolation: unknown backend '%s' (namespace, gvisor)", optarg);
                        break;
                case O_MEMORY:
                        r = parse_count("--memory-mb", optarg, LP_MEMORY_MIN >> 20, LP_MEMORY_MAX >> 20, &v);
                        l->memory_bytes = v << 20;
                        break;
                case O_CPUS:
                        r = parse_decimal("--cpus", optarg, LP_CPU_MILLIS_MIN / 1000.0, LP_CPU_MILLIS_MAX / 1000.0,
                                          &f);
                        l->cpu_millis = (uint32_t)lround(f * 1000.0);
                        break;
                case O_PIDS:
                        r = parse_count("--pids", optarg, LP_PIDS_MIN, LP_PIDS_MAX, &v);
                        l->pids = (uint32_t)v;
                        break;
                case O_TIMEOUT:
                        r = parse_decimal("--timeout-seconds", optarg, LP_TIMEOUT_MS_MIN / 1000.0,
                                          LP_TIMEOUT_MS_MAX / 1000.0, &f);
                        l->timeout_ms = (uint32_t)lround(f * 1000.0);
                        break;
                case O_GRACE:
                        r = parse_decimal("--interrupt-grace-seconds", optarg, 0, LP_GRACE_MS_MAX / 1000.0, &f);
                        l->interrupt_grace_ms = (uint32_t)lround(f * 1000.0);
                        break;
                case O_WORKSPACE:
                        r = parse_count("--workspace-mb", optarg, LP_DISK_MIN >> 20, LP_DISK_MAX >> 20, &v);
                        l->workspace_bytes = v << 20;
                        break;
                case O_TMP:
                        r = parse_count("--tmp-mb", optarg, LP_DISK_MIN >> 20, LP_DISK_MAX >> 20, &v);
                        l->tmp_bytes = v << 20;
                        break;
                case O_NOFILE:
                        r = parse_count("--nofile", optarg, LP_NOFILE_MIN, LP_NOFILE_MAX, &v);
                        l->nofile = (uint32_t)v;
                        break;
                case O_OUTPUT:
                        r = parse_count("--output-limit-kb", optarg, 1, 1024ull * 1024, &v);
                        o->output_limit = v << 10;
                        break;
                case O_NETWORK:
                        if (!strcmp(optarg, "none"))
                                o->c.network = LP_NET_NONE;
                        else if (!strcmp(optarg, "public"))
                                o->c.network = LP_NET_PUBLIC;
                        else if (!strcmp(optarg, "allowlist"))
                                o->c.network = LP_NET_ALLOWLIST;
                        else
                                r = usage_error("--network: unknown mode '%s' (none, public, allowlist)", optarg);
                        network_set = true;
                        break;
                case O_ALLOW:
                        r = add_allow(o, optarg);
                        break;
                case O_WEAKER:
                        r = parse_weaker(optarg, &o->c.allow_weaker);
                        break;
                case ':':
                        return usage_error("%s needs a value", argv[optind - 1]);
                case '?':
                default:
                        if (optopt)
                                return usage_error("unknown option -%c", optopt);
                        return usage_error("unknown option %s", argv[optind - 1]);
                }
                if (r)
                        return r;
        }
        if (o->c.allow_count && !network_set)
                o->c.network = LP_NET_ALLOWLIST;
        if (o->c.allow_count && o->c.network != LP_NET_ALLOWLIST)
                return usage_error("--allow goes with --network allowlist, not %s", lp_network_name(o->c.network));
        int rest = argc - optind;
        if (o->code && rest > 0)
                return usage_error("give either -c CODE or a FILE, not both (extra: '%s')", argv[optind]);
        if (!o->code && rest == 0)
                return usage_error("nothing to run: give -c CODE, a FILE, or - for standard input");
        if (rest > 1)
                return usage_error("one FILE at a time (extra: '%s')", argv[optind + 1]);
        if (rest == 1) {
                if (!strcmp(argv[optind], "-"))
                        o->from_stdin = true;
                else
                        o->file = argv[optind];
        }
        const char *entry = NULL;
        if (o->file) {
                bool known;
                uint8_t lang = language_from_name(o->file, &known);
                if (!o->language_set)
                        o->c.language = lang;
                const char *base = strrchr(o->file, '/');
                base = base ? base + 1 : o->file;
                if (lp_valid_entry_name(base) && known && lang == o->c.language)
                        entry = base;
        }
        snprintf(o->c.entry_name, sizeof(o->c.entry_name), "%s", entry ? entry : default_entry(o->c.language));
        return 0;
}

/* The code goes to the launcher as a sealed memfd: bounded, immutable, no path. */
static int load_code(struct run_opts *o) {
        struct buf code;
        buf_init(&code, LP_CODE_MAX_BYTES);
        int r = 0;
        if (o->code) {
                r = buf_append(&code, o->code, strlen(o->code));
        } else {
                _cleanup_close_ int fd = o->from_stdin ? dup(0) : open(o->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        fprintf(stderr, "airlock run: %s: %s\n", o->from_stdin ? "standard input" : o->file,
                                strerror(errno));
                        buf_free(&code);
                        return -EXIT_USAGE;
                }
                struct stat st;
                if (!o->from_stdin && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                        fprintf(stderr, "airlock run: %s: is a directory\n", o->file);
                        buf_free(&code);
                        return -EXIT_USAGE;
                }
                char chunk[65536];
                for (;;) {
                        ssize_t n = read(fd, chunk, sizeof(chunk));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                fprintf(stderr, "airlock run: reading %s: %s\n", o->file ? o->file : "stdin",
                                        strerror(errno));
                                buf_free(&code);
                                return -EXIT_USAGE;
                        }
                        if (n == 0)
                                break;
                        if ((r = buf_append(&code, chunk, (size_t)n)) < 0)
                                break;
                }
        }
        if (r == -E2BIG) {
                fprintf(stderr, "airlock run: the code is larger than the limit of %u MiB\n", LP_CODE_MAX_BYTES >> 20);
                buf_free(&code);
                return -EXIT_USAGE;
        }
        int fd = r < 0 ? r : memfd_with_data("code", code.data ? code.data : "", code.len);
        buf_free(&code);
        if (fd < 0) {
                fprintf(stderr, "airlock run: cannot hold the code: %s\n", strerror(-fd));
                return -EXIT_SANDBOX;
        }
        return fd;
}

static void describe(const struct lp_created *cr) {
        const struct lp_isolation *i = &cr->isolation;
        char landlock[32], uid[48];
        if (i->backend == LP_BACKEND_GVISOR) {
                snprintf(landlock, sizeof(landlock), "n/a");
                snprintf(uid, sizeof(uid), "gVisor user-space kernel");
        } else {
                if (i->landlock_abi)
                        snprintf(landlock, sizeof(landlock), "abi %u", i->landlock_abi);
                else
                        snprintf(landlock, sizeof(landlock), "none (opted out)");
                snprintf(uid, sizeof(uid), "%s uid %u", i->uid_private ? "private" : "shared", i->host_uid);
        }
        fprintf(stderr, "airlock: sandbox %llu: %s, cgroup %s, landlock %s, seccomp %s, %s, network %s\n",
                (unsigned long long)cr->sandbox_id, lp_backend_name(i->backend),
                i->cgroup_mode == 2 ? "v2" : i->cgroup_mode == 1 ? "v1" : "none (opted out)", landlock,
                i->seccomp ? "on" : "off", uid, lp_network_name(i->network));
}

static int report_exit(const struct lp_exited *ex, const struct run_opts *o) {
        switch (ex->reason) {
        case LP_REASON_TIMEOUT:
                fprintf(stderr, "airlock: timeout after %g s\n", o->c.limits.timeout_ms / 1000.0);
                return EXIT_TIMEOUT;
        case LP_REASON_OOM:
                fprintf(stderr, "airlock: killed: out of memory (limit %llu MiB)\n",
                        (unsigned long long)(o->c.limits.memory_bytes >> 20));
                return EXIT_KILLED;
        case LP_REASON_PIDS:
                fprintf(stderr, "airlock: killed: process limit reached (%u processes)\n", o->c.limits.pids);
                return EXIT_KILLED;
        case LP_REASON_OUTPUT_LIMIT:
                fprintf(stderr, "airlock: killed: output limit reached (%llu KiB)\n",
                        (unsigned long long)(o->output_limit >> 10));
                return EXIT_KILLED;
        case LP_REASON_STOPPED:
                fprintf(stderr, "airlock: killed: stopped\n");
                return EXIT_KILLED;
        case LP_REASON_SETUP:
                fprintf(stderr, "airlock: the sandbox did not start in time\n");
                return EXIT_SANDBOX;
        default:
                return ex->exit_code;
        }
}

struct stream {
        int fd;
        int out;
};

/* Copy one chunk; count it against the output limit; past the limit, discard. */
static int pump(struct stream *s, uint64_t *total, uint64_t limit, bool *over) {
        char chunk[65536];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0) {
                s->fd = safe_close(s->fd);
                return 0;
        }
        size_t keep = (size_t)n;
        if (*total + keep > limit) {
                keep = *total >= limit ? 0 : (size_t)(limit - *total);
                *over = true;
        }
        *total += (uint64_t)n;
        if (keep)
                (void)write_all(s->out, chunk, keep);
        return 0;
}

static int run_loop(struct launcher_client *lc, const struct lp_created *cr, int out_fd, int err_fd,
                    const struct run_opts *o) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        struct stream st[2] = {{out_fd, 1}, {err_fd, 2}};
        uint64_t total = 0;
        bool over = false, limit_sent = false, exited = false;
        int interrupts = 0;
        struct lp_exited ex;
        memset(&ex, 0, sizeof(ex));
        uint64_t drain_until = 0;
        for (;;) {
                struct pollfd p[4] = {{st[0].fd, POLLIN, 0}, {st[1].fd, POLLIN, 0}, {exited ? -1 : lc->fd, POLLIN, 0},
                                      {sfd, POLLIN, 0}};
                if (exited && st[0].fd < 0 && st[1].fd < 0)
                        break;
                int timeout = -1;
                if (exited) {
                        struct timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
                        if (!drain_until)
                                drain_until = now + DRAIN_AFTER_EXIT_MS;
                        if (now >= drain_until)
                                break;
                        timeout = (int)(drain_until - now);
                }
                int n = poll(p, 4, timeout);
                if (n < 0 && errno != EINTR)
                        break;
                for (int i = 0; i < 2; i++)
                        if (st[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                pump(&st[i], &total, o->output_limit, &over);
                if (over && !limit_sent) {
                        lc_signal(lc, cr->sandbox_id, LP_SIG_KILL, LP_REASON_OUTPUT_LIMIT);
                        limit_sent = true;
                }
                if (p[3].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                                interrupts++;
                        if (!exited)
                                lc_signal(lc, cr->sandbox_id, interrupts > 1 ? LP_SIG_KILL : LP_SIG_INTERRUPT,
                                          LP_REASON_STOPPED);
                }
                if (!exited && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
                        char buf[LP_FRAME_MAX];
                        struct lp_frame f;
                        struct diag d = {0};
                        int t = lc_recv(lc, &f, buf, sizeof(buf), &d);
                        if (t == LP_EXITED) {
                                memcpy(&ex, f.body, sizeof(ex));
                                if (ex.sandbox_id == cr->sandbox_id)
                                        exited = true;
                        } else if (t == LP_EGRESS && o->verbose) {
                                struct lp_egress e;
                                memcpy(&e, f.body, sizeof(e));
                                if (lp_validate_egress(&e, &d) == 0)
                                        fprintf(stderr, "airlock: egress %s %s:%u (%s)\n", lp_egress_outcome_name(e.outcome),
                                                e.host, e.port, lp_egress_reason_name(e.reason));
                        } else if (t < 0) {
                                fprintf(stderr, "airlock: lost the launcher: %s\n", d.msg);
                                return EXIT_SANDBOX;
                        }
                }
        }
        if (o->verbose)
                fprintf(stderr, "airlock: exit %d, wall %llu ms, cpu %llu ms, peak memory %llu KiB\n", ex.exit_code,
                        (unsigned long long)ex.wall_ms, (unsigned long long)ex.cpu_usec / 1000,
                        (unsigned long long)ex.peak_memory_bytes >> 10);
        return report_exit(&ex, o);
}

int cmd_run(int argc, char **argv) {
        struct run_opts o;
        memset(&o, 0, sizeof(o));
        o.c.backend = LP_BACKEND_NAMESPACE;
        o.c.language = LP_LANG_PYTHON;
        o.c.network = LP_NET_NONE;
        snprintf(o.c.runtime, sizeof(o.c.runtime), "default");
        o.c.limits = (struct lp_limits){.memory_bytes = 512ull << 20,
                                        .workspace_bytes = 512ull << 20,
                                        .tmp_bytes = 256ull << 20,
                                        .cpu_millis = 1000,
                                        .pids = 64,
                                        .timeout_ms = 60000,
                                        .interrupt_grace_ms = 2000,
                                        .nofile = 1024};
        o.output_limit = 10ull << 20;
        buf_init(&o.env, LP_ENV_MAX_BYTES + LP_ALLOW_MAX_BYTES);
        buf_init(&o.allow, LP_ALLOW_MAX_BYTES);
        int r = parse_args(argc, argv, &o);
        o.c.env_len = (uint32_t)o.env.len;
        o.c.allow_len = (uint32_t)o.allow.len;
        /* One blob for the CREATE: the variables, then the allowlist. */
        if (!r && o.allow.len && buf_append(&o.env, o.allow.data, o.allow.len) < 0)
                r = usage_error("--allow: out of memory");
        buf_free(&o.allow);
        if (r) {
                buf_free(&o.env);
                return r < 0 ? 0 : r;
        }
        struct diag d = {0};
        if (lp_validate_create(&o.c, o.env.data, o.env.len, &d) < 0) {
                buf_free(&o.env);
                return usage_error("%s: %s", d.field, d.msg);
        }
        _cleanup_close_ int code_fd = load_code(&o);
        if (code_fd < 0) {
                buf_free(&o.env);
                return -code_fd;
        }

        struct launcher_client lc;
        struct lp_host_report host;
        struct lp_created cr;
        int out_fd = -1, err_fd = -1, rc = EXIT_SANDBOX;
        if (lc_start(&lc, &d) < 0 || lc_drop_privileges(&d) < 0 || lc_hello(&lc, 0, &host, &d) < 0 ||
            lc_create(&lc, &o.c, o.env.data, o.env.len, code_fd, &cr, &out_fd, &err_fd, &d) < 0) {
                fprintf(stderr, "airlock: cannot start the sandbox: %s%s%s\n", d.field[0] ? d.field : "",
                        d.field[0] ? ": " : "", d.msg);
                if (!strcmp(d.field, "landlock") || !strcmp(d.field, "cgroup") || !strcmp(d.field, "uid"))
                        fprintf(stderr, "airlock: run 'airlock doctor' for what this host supports; "
                                        "--allow-weaker %s accepts the weaker sandbox\n",
                                !strcmp(d.field, "uid") ? "shared-uid" : d.field);
        } else {
                if (o.verbose)
                        describe(&cr);
                rc = run_loop(&lc, &cr, out_fd, err_fd, &o);
        }
        lc_stop(&lc);
        buf_free(&o.env);
        return rc;
}
