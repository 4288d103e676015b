#include "sandbox/plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char plan_etc_passwd[] = "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
                               "sandbox:x:1000:1000:Airlock sandbox:/workspace:/bin/bash\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const char plan_etc_group[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";
const char plan_etc_hosts[] = "127.0.0.1\tlocalhost " SANDBOX_HOSTNAME "\n::1\tlocalhost ip6-localhost\n";

/* What interpreters and common libraries read from /etc. Host secrets (shadow, ssh,
 * machine-id) and the host's resolv.conf are deliberately absent (network public gets a
 * generated one that names slirp's DNS forwarder). */
const char *const plan_etc_files[] = {
        "/etc/ld.so.cache",     "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
        "/etc/alternatives",    "/etc/ssl",        "/etc/ca-certificates", "/etc/matplotlibrc",
        "/etc/fonts",           "/etc/mime.types", "/etc/nsswitch.conf", "/etc/os-release",
        "/etc/debian_version",  "/etc/python3",    "/etc/python3.11",    "/etc/protocols",
        "/etc/services",        "/etc/bash.bashrc", "/etc/profile",      "/etc/inputrc",
        "/etc/timezone",        "/etc/gai.conf",    NULL,
};

/* The environment every sandbox starts from; the request's variables come after and
 * may override these. Nothing of the launcher's or daemon's environment is passed. */
/* NOLINTBEGIN(bugprone-suspicious-missing-comma): HOME, PYTHONPATH and NODE_PATH are joined
 * with SANDBOX_WORKSPACE on purpose. */
static const char *const base_env[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=" SANDBOX_WORKSPACE,
        "USER=sandbox",
        "LOGNAME=sandbox",
        "SHELL=/bin/bash",
        "LANG=C.UTF-8",
        "TMPDIR=/tmp",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONPATH=" SANDBOX_WORKSPACE,
        "MPLBACKEND=Agg",
        "MPLCONFIGDIR=/tmp/.matplotlib",
        /* caches (fontconfig's, pip's...) in /tmp, not among the user's files in HOME: a
         * warm pool's preload must leave the workspace as empty as a fresh one */
        "XDG_CACHE_HOME=/tmp/.cache",
        "NODE_PATH=" SANDBOX_WORKSPACE "/node_modules",
        NULL,
};
/* NOLINTEND(bugprone-suspicious-missing-comma) */

/* In-session installs (network modes allowlist and public) land in the workspace: pip
 * falls back to a user install (HOME/.local, on the runner's sys.path), since Debian marks
 * the system Python externally managed and it is read-only here anyway; npm installs into
 * ./node_modules. */
static const char *const install_env[] = {
        "PIP_BREAK_SYSTEM_PACKAGES=1",      "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1",
        "npm_config_update_notifier=false", "npm_config_fund=false",          NULL,
};

/* Mode allowlist: the only way out is the proxy on the sandbox's own loopback. Tools that
 * honour these (pip, npm, curl, requests, urllib, httpx) use it without being told;
 * "localhost" stays the sandbox's own, while 127.0.0.1 goes to the proxy, so that an
 * allowlisted 127.0.0.1:PORT (the host's) can be reached. */
#define PROXY_URL "http://127.0.0.1:3128"
_Static_assert(LP_EGRESS_PORT == 3128, "PROXY_URL");
static const char *const allowlist_env[] = {
        "HTTP_PROXY=" PROXY_URL, "HTTPS_PROXY=" PROXY_URL, "http_proxy=" PROXY_URL, "https_proxy=" PROXY_URL,
        "NO_PROXY=localhost",    "no_proxy=localhost",     NULL,
};

static int add(struct buf *b, const char *s) { return buf_append_str0(b, s); }

static int addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(struct buf *b, const char *fmt, ...) {
        char tmp[256];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        return add(b, tmp);
}

#define TRY(x)                                                                                                         \
        do {                                                                                                           \
                int _r = (x);                                                                                          \
                if (_r < 0)                                                                                            \
                        return diag_set(reterr, _r, "plan", "building the sandbox command line: %s", strerror(-_r));  \
        } while (0)

int plan_payload_argv(const struct plan_input *in, struct buf *out, struct diag *reterr) {
        const struct lp_create *c = in->c;
        TRY(add(out, SANDBOX_INIT));
        TRY(add(out, "--nofile"));
        TRY(addf(out, "%u", c->limits.nofile));
        TRY(add(out, "--seccomp"));
        TRY(add(out, SANDBOX_SECCOMP));
        if (in->landlock_required)
                TRY(add(out, "--landlock-required"));
        if (c->flags & LP_CREATE_CONTROL) {
                TRY(add(out, "--control-fd"));
                TRY(addf(out, "%d", PLAN_CONTROL_FD));
        }
        /* The shim checks from inside that the network rules are in force (fail closed:
         * bwrap's --block-fd also lets the sandbox go on EOF, say if the launcher died). */
        if (c->network == LP_NET_PUBLIC)
                TRY(add(out, "--network-public"));
        TRY(add(out, "--"));
        switch (c->language) {
        case LP_LANG_PYTHON:
                /* A runtime's venv python: its site-packages first, Debian's after
                 * (--system-site-packages), so the runtime's versions win. */
                if (in->runtime_dest)
                        TRY(addf(out, "%s/venv/bin/python3", in->runtime_dest));
                else
                        TRY(add(out, "/usr/bin/python3"));
                TRY(add(out, "-u"));
                break;
        case LP_LANG_JAVASCRIPT:
                TRY(add(out, "/usr/bin/node"));
                break;
        case LP_LANG_BASH:
                TRY(add(out, "/bin/bash"));
                break;
        default:
                return diag_set(reterr, -EINVAL, "language", "unknown language %u", c->language);
        }
        TRY(addf(out, SANDBOX_RUN_DIR "/%s", c->entry_name));
        return 0;
}

/* Visit the request's own variables (NUL-separated in in->env), in order; stops at the
 * first fn that returns non-zero and returns that. */
static int each_request_env(const struct plan_input *in, int (*fn)(void *, const char *, size_t), void *ctx) {
        size_t off = 0;
        for (uint32_t i = 0; i < in->c->env_count && off < in->env_len; i++) {
                const char *s = in->env + off;
                size_t n = strnlen(s, in->env_len - off);
                int r = fn(ctx, s, n);
                if (r != 0)
                        return r;
                off += n + 1;
        }
        return 0;
}

static int names(void *name, const char *e, size_t n) {
        size_t nlen = strlen(name);
        return n > nlen && e[nlen] == '=' && !memcmp(e, name, nlen);
}

/* Whether the request's variables include NAME. */
static bool request_sets(const struct plan_input *in, const char *name) {
        return each_request_env(in, names, (void *)name) == 1;
}

/* Visit every environment entry: the base first (a built runtime's PATH and NODE_PATH
 * in place of the base ones, so each name appears once), then the request's, which
 * carries the runtime's own variables under the interpreter's and the session's. */
static int each_env(const struct plan_input *in, int (*fn)(void *, const char *, size_t), void *ctx) {
        for (size_t i = 0; base_env[i]; i++) {
                char tmp[512];
                const char *e = base_env[i];
                int n = 0;
                if (in->runtime_dest && !strncmp(e, "PATH=", 5))
                        n = snprintf(tmp, sizeof(tmp), "PATH=%s/venv/bin:%s/node/node_modules/.bin:%s",
                                     in->runtime_dest, in->runtime_dest, e + 5);
                else if (in->runtime_dest && !strncmp(e, "NODE_PATH=", 10))
                        n = snprintf(tmp, sizeof(tmp), "%s:%s/node/node_modules", e, in->runtime_dest);
                if (n < 0 || (size_t)n >= sizeof(tmp))
                        return -ENAMETOOLONG;
                if (n > 0)
                        e = tmp;
                int r = fn(ctx, e, strlen(e));
                if (r < 0)
                        return r;
        }
        if (in->runtime_dest) {
                char tmp[512];
                int n = snprintf(tmp, sizeof(tmp), "VIRTUAL_ENV=%s/venv", in->runtime_dest);
                if (n < 0 || (size_t)n >= sizeof(tmp))
                        return -ENAMETOOLONG;
                int r = fn(ctx, tmp, (size_t)n);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; install_env[i]; i++) {
                int r = fn(ctx, install_env[i], strlen(install_env[i]));
                if (r < 0)
                        return r;
        }
        /* Thread pools sized to the session's CPUs, not the host's: numpy's OpenBLAS (and
         * OpenMP, MKL) would otherwise start one thread per host core in every session,
         * which on a big host oversubscribes a 1-CPU quota and spends the process limit
         * (threads count against pids.max). A user who wants more sets them: left out when
         * the request has them (gVisor's OCI environment keeps both copies of a name, and
         * getenv() reads the first). */
        static const char *const thread_vars[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};
        uint32_t cpus = (in->c->limits.cpu_millis + 999) / 1000;
        for (size_t i = 0; cpus && i < sizeof(thread_vars) / sizeof(thread_vars[0]); i++) {
                if (request_sets(in, thread_vars[i]))
                        continue;
                char tmp[64];
                int n = snprintf(tmp, sizeof(tmp), "%s=%u", thread_vars[i], cpus);
                if (n < 0 || (size_t)n >= sizeof(tmp))
                        return -ENAMETOOLONG;
                int r = fn(ctx, tmp, (size_t)n);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; in->c->network == LP_NET_ALLOWLIST && allowlist_env[i]; i++) {
                int r = fn(ctx, allowlist_env[i], strlen(allowlist_env[i]));
                if (r < 0)
                        return r;
        }
        return each_request_env(in, fn, ctx);
}

static int bwrap_setenv(void *ctx, const char *kv, size_t n) {
        struct buf *b = ctx;
        const char *eq = memchr(kv, '=', n);
        if (!eq)
                return -EINVAL;
        int r = add(b, "--setenv");
        if (r == 0)
                r = buf_append(b, kv, (size_t)(eq - kv));
        if (r == 0)
                r = buf_append(b, "", 1);
        if (r == 0)
                r = buf_append(b, eq + 1, n - (size_t)(eq - kv) - 1);
        return r < 0 ? r : buf_append(b, "", 1);
}

int plan_bwrap_args(const struct plan_input *in, const struct plan_fds *fds, struct buf *out, struct diag *reterr) {
        const struct lp_limits *l = &in->c->limits;
        /* 1. Namespaces. A user namespace first (it is what lets an unprivileged host uid
         *    do the rest), then pid/net/ipc/uts/cgroup. --disable-userns nests one more user
         *    namespace with max_user_namespaces=1 so the sandbox cannot create its own
         *    (CVE-2022-0185 class), and --assert-userns-disabled makes bwrap verify it. */
        static const char *const ns[] = {"--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                                         "--unshare-uts",  "--unshare-cgroup", "--disable-userns",
                                         "--assert-userns-disabled", NULL};
        for (size_t i = 0; ns[i]; i++)
                TRY(add(out, ns[i]));
        TRY(add(out, "--uid"));
        TRY(addf(out, "%d", SANDBOX_UID));
        TRY(add(out, "--gid"));
        TRY(addf(out, "%d", SANDBOX_GID));
        TRY(add(out, "--hostname"));
        TRY(add(out, SANDBOX_HOSTNAME));
        /* 2. Process hygiene: die with the launcher, no controlling terminal (TIOCSTI,
         *    CVE-2017-5226), an environment built only from the allowlist. */
        TRY(add(out, "--die-with-parent"));
        TRY(add(out, "--new-session"));
        TRY(add(out, "--clearenv"));
        TRY(each_env(in, bwrap_setenv, out));
        /* 3. Filesystem: the runtime read-only, then fresh proc/dev, then writable tmpfs
         *    with sizes, then our files, then the root itself read-only. */
        TRY(add(out, "--ro-bind"));
        TRY(add(out, "/usr"));
        TRY(add(out, "/usr"));
        static const char *const links[][2] = {{"usr/bin", "/bin"}, {"usr/sbin", "/sbin"}, {"usr/lib", "/lib"},
                                               {"usr/lib64", "/lib64"}};
        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
                TRY(add(out, "--symlink"));
                TRY(add(out, links[i][0]));
                TRY(add(out, links[i][1]));
        }
        /* A built runtime, read-only at the path it was built for. The launcher's child
         * has already bound the directory it opened and checked there, in a mount
         * namespace of its own (sandbox.c: stage_runtime), so the path resolves to that
         * very directory and no other. */
        if (in->runtime_dest) {
                TRY(add(out, "--ro-bind"));
                TRY(add(out, in->runtime_dest));
                TRY(add(out, in->runtime_dest));
        }
        for (size_t i = 0; plan_etc_files[i]; i++) {
                TRY(add(out, "--ro-bind-try"));
                TRY(add(out, plan_etc_files[i]));
                TRY(add(out, plan_etc_files[i]));
        }
        const struct {
                int fd;
                const char *dest;
        } etc[] = {{fds->passwd, "/etc/passwd"}, {fds->group, "/etc/group"}, {fds->hosts, "/etc/hosts"}};
        for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++) {
                TRY(add(out, "--perms"));
                TRY(add(out, "0444"));
                TRY(add(out, "--ro-bind-data"));
                TRY(addf(out, "%d", etc[i].fd));
                TRY(add(out, etc[i].dest));
        }
        /* Public: slirp's DNS forwarder, never the host's own resolver configuration. */
        if (in->c->network == LP_NET_PUBLIC) {
                TRY(add(out, "--perms"));
                TRY(add(out, "0444"));
                TRY(add(out, "--ro-bind-data"));
                TRY(addf(out, "%d", fds->resolv));
                TRY(add(out, "/etc/resolv.conf"));
        }
        TRY(add(out, "--proc"));
        TRY(add(out, "/proc"));
        TRY(add(out, "--dev"));
        TRY(add(out, "/dev"));
        const struct {
                uint64_t size;
                const char *dest;
        } tmpfs[] = {{l->tmp_bytes, "/tmp"}, {l->tmp_bytes, "/dev/shm"}, {l->workspace_bytes, SANDBOX_WORKSPACE}};
        for (size_t i = 0; i < sizeof(tmpfs) / sizeof(tmpfs[0]); i++) {
                TRY(add(out, "--size"));
                TRY(addf(out, "%llu", (unsigned long long)tmpfs[i].size));
                TRY(add(out, "--perms"));
                TRY(add(out, i < 2 ? "1777" : "0755"));
                TRY(add(out, "--tmpfs"));
                TRY(add(out, tmpfs[i].dest));
        }
        TRY(add(out, "--dir"));
        TRY(add(out, SANDBOX_RUN_DIR));
        const struct {
                int fd;
                const char *perms;
                char dest[96];
        } files[] = {
                {fds->init, "0555", SANDBOX_INIT},
                {fds->seccomp, "0444", SANDBOX_SECCOMP},
                {fds->code, "0444", ""},
        };
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                TRY(add(out, "--perms"));
                TRY(add(out, files[i].perms));
                TRY(add(out, "--ro-bind-data"));
                TRY(addf(out, "%d", files[i].fd));
                if (files[i].dest[0])
                        TRY(add(out, files[i].dest));
                else
                        TRY(addf(out, SANDBOX_RUN_DIR "/%s", in->c->entry_name));
        }
        /* Shared by every sandbox, so read-only; absent on a host that has not built it
         * (sessions then build their own, as matplotlib does by itself). */
        TRY(add(out, "--ro-bind-try"));
        TRY(add(out, PLAN_FONT_CACHE));
        TRY(add(out, SANDBOX_FONT_CACHE));
        TRY(add(out, "--remount-ro"));
        TRY(add(out, "/"));
        TRY(add(out, "--chdir"));
        TRY(add(out, SANDBOX_WORKSPACE));
        /* 4. Capabilities: none (bwrap drops the bounding set too when run as root). */
        TRY(add(out, "--cap-drop"));
        TRY(add(out, "ALL"));
        TRY(add(out, "--json-status-fd"));
        TRY(addf(out, "%d", fds->json_status));
        /* Public, allowlist: pid 1 waits here, namespaces and mounts built, until the
         *    launcher has brought tap0 up and installed the rules in the sandbox's network
         *    namespace (public), or the proxy listens on its loopback (allowlist). */
        if (in->c->network != LP_NET_NONE) {
                TRY(add(out, "--block-fd"));
                TRY(addf(out, "%d", fds->block));
        }
        /* 5. The payload (plan_payload_argv) follows on bwrap's own command line: bwrap
         *    takes the command only from there, never from --args. */
        return 0;
}

struct oci_env_ctx {
        struct buf *b;
        int first;
};

static int oci_env(void *ctx, const char *kv, size_t n) {
        struct oci_env_ctx *e = ctx;
        char tmp[LP_ENV_VALUE_MAX + 256];
        if (n >= sizeof(tmp))
                return -E2BIG;
        memcpy(tmp, kv, n);
        tmp[n] = '\0';
        int r = e->first ? 0 : buf_append(e->b, ",", 1);
        e->first = 0;
        return r < 0 ? r : buf_json_str(e->b, tmp);
}

static int oci_mount(struct buf *b, const char *dest, const char *type, const char *src, const char *opts) {
        int r = buf_printf(b, ",{\"destination\":");
        if (r == 0)
                r = buf_json_str(b, dest);
        if (r == 0)
                r = buf_printf(b, ",\"type\":\"%s\",\"source\":", type);
        if (r == 0)
                r = buf_json_str(b, src);
        return r < 0 ? r : buf_printf(b, ",\"options\":[%s]}", opts);
}

int plan_oci_config(const struct plan_input *in, const char *run_dir, struct buf *out, struct diag *reterr) {
        /* runsc would resolve a built runtime's path by name, long after the launcher checked
         * it (docs/runtimes.md): refused here too, not only by the launcher. */
        if (in->runtime_dest)
                return diag_set(reterr, -EOPNOTSUPP, "runtime",
                                "built runtimes need the namespace backend (gVisor sessions use default)");
        const struct lp_limits *l = &in->c->limits;
        struct buf argv;
        buf_init(&argv, 64 * 1024);
        int r = plan_payload_argv(in, &argv, reterr);
        if (r < 0) {
                buf_free(&argv);
                return r;
        }
        r = buf_printf(out, "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
                            "\"user\":{\"uid\":%d,\"gid\":%d},\"args\":[",
                       SANDBOX_UID, SANDBOX_GID);
        for (size_t off = 0; r == 0 && off < argv.len; off += strlen(argv.data + off) + 1)
                r = (off ? buf_append(out, ",", 1) : 0) ?: buf_json_str(out, argv.data + off);
        buf_free(&argv);
        if (r == 0)
                r = buf_printf(out, "],\"env\":[");
        struct oci_env_ctx ec = {.b = out, .first = 1};
        if (r == 0)
                r = each_env(in, oci_env, &ec);
        if (r == 0)
                r = buf_printf(out,
                               "],\"cwd\":\"" SANDBOX_WORKSPACE "\",\"noNewPrivileges\":true,"
                               "\"capabilities\":{\"bounding\":[],\"effective\":[],\"inheritable\":[],"
                               "\"permitted\":[],\"ambient\":[]},"
                               "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":%u,\"soft\":%u},"
                               "{\"type\":\"RLIMIT_CORE\",\"hard\":0,\"soft\":0},"
                               "{\"type\":\"RLIMIT_NPROC\",\"hard\":%u,\"soft\":%u}]},"
                               "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
                               "\"hostname\":\"" SANDBOX_HOSTNAME "\",\"mounts\":["
                               "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}",
                               l->nofile, l->nofile, l->pids, l->pids);
        if (r == 0)
                r = oci_mount(out, "/usr", "bind", "/usr", "\"rbind\",\"ro\",\"nosuid\",\"nodev\"");
        for (size_t i = 0; r == 0 && plan_etc_files[i]; i++)
                r = oci_mount(out, plan_etc_files[i], "bind", plan_etc_files[i],
                              "\"rbind\",\"ro\",\"nosuid\",\"nodev\"");
        static const char *const gen[] = {"passwd", "group", "hosts"};
        for (size_t i = 0; r == 0 && i < sizeof(gen) / sizeof(gen[0]); i++) {
                char src[512], dest[64];
                snprintf(dest, sizeof(dest), "/etc/%s", gen[i]);
                if ((size_t)snprintf(src, sizeof(src), "%s/etc/%s", run_dir, gen[i]) >= sizeof(src))
                        r = -ENAMETOOLONG;
                else
                        r = oci_mount(out, dest, "bind", src, "\"bind\",\"ro\",\"nosuid\",\"nodev\"");
        }
        const struct {
                uint64_t size;
                const char *dest;
                const char *mode;
        } tmpfs[] = {{l->tmp_bytes, "/tmp", "1777"},
                     {l->tmp_bytes, "/dev/shm", "1777"},
                     {l->workspace_bytes, SANDBOX_WORKSPACE, "0755"}};
        for (size_t i = 0; r == 0 && i < sizeof(tmpfs) / sizeof(tmpfs[0]); i++) {
                char opts[160];
                snprintf(opts, sizeof(opts), "\"nosuid\",\"nodev\",\"size=%llu\",\"mode=%s\",\"uid=%d\",\"gid=%d\"",
                         (unsigned long long)tmpfs[i].size, tmpfs[i].mode, i < 2 ? 0 : SANDBOX_UID,
                         i < 2 ? 0 : SANDBOX_GID);
                r = oci_mount(out, tmpfs[i].dest, "tmpfs", "tmpfs", opts);
        }
        char runsrc[512];
        if (r == 0 && (size_t)snprintf(runsrc, sizeof(runsrc), "%s/run", run_dir) >= sizeof(runsrc))
                r = -ENAMETOOLONG;
        if (r == 0)
                r = oci_mount(out, SANDBOX_RUN_DIR, "bind", runsrc, "\"rbind\",\"ro\",\"nosuid\",\"nodev\"");
        if (r == 0)
                r = buf_printf(out, "],\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},"
                                    "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
                                    "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\","
                                    "\"/proc/sched_debug\",\"/sys/firmware\"],"
                                    "\"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\",\"/proc/irq\","
                                    "\"/proc/bus\"]}}");
        if (r < 0)
                return diag_set(reterr, r, "plan", "building the OCI config: %s", strerror(-r));
        return 0;
}
