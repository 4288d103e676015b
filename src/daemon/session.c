/* session: one sandbox running the Python runner, and its executions.
 *
 * A session holds the sandbox's stdout and stderr pipes and its control socket (JSON
 * Lines, api/runner-protocol.schema.json). One execution at a time per session: the
 * executing request thread owns the fds while it runs, collects output until the
 * runner's `done`, and enforces the timeout (interrupt only, then a kill if the runner
 * does not come back). Sessions are reference-counted so that a DELETE or the reaper
 * never frees one a request still uses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"

#define RUNNER_READY_TIMEOUT_S 15.0
#define EXEC_OUTPUT_LIMIT (16u << 20) /* stdout + stderr of one execution; past it, killed */
#define INTERRUPT_GRACE_S 2.0
/* How long a dead runner's execution waits for the launcher's word on why (EXITED: oom,
 * pids, ...). It comes in milliseconds on an idle host; on a loaded one (the whole e2e
 * suite on the ASan build) an OOM-killed sandbox took more than a second to be reaped and
 * was reported `runner_exited`. */
#define EXIT_REPORT_WAIT_S 5.0
#define RUNNER_FRAME_MAX (16u << 20) /* one JSON line, newline excluded (runner protocol) */
#define CONTROL_LINE_MAX (RUNNER_FRAME_MAX + 1 + (64u << 10))

struct session {
        char id[40];
        uint64_t sandbox_id;
        int out_fd, err_fd, ctl_fd;
        pthread_mutex_t exec_lock;
        int refs;
        bool ended, executing;
        uint8_t exit_reason;
        bool exit_usage_known;            /* the sandbox's last figures, from EXITED */
        uint64_t exit_cpu_usec, exit_peak_bytes;
        char ended_reason[32];
        double expires_at, last_used, idle_timeout;
        double execution_timeout; /* an execution's when it names none (its interpreter's) */
        json_t *doc;
        struct lp_isolation iso;
        struct buf ctl_in; /* bytes read from the control socket, not yet a whole line */
        struct session *next;
};

static struct {
        pthread_mutex_t lock;
        pthread_cond_t exited;
        struct session *list;
        char *runner, *kernel; /* the Python runner; the Node kernel (runners/node) */
        size_t runner_len, kernel_len;
        char *runner_pyc;      /* the runner compiled once, or NULL: sessions then compile it */
        size_t runner_pyc_len;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .exited = PTHREAD_COND_INITIALIZER};

/* A whole file (at most 4 MiB) in memory; the runner and the kernel are read once, at start. */
static int slurp(const char *path, char **ret, size_t *ret_len, struct diag *d) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return diag_set(d, -errno, "runner", "cannot open %s: %m", path);
        struct buf b;
        buf_init(&b, 4u << 20);
        char chunk[65536];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0)
                if (buf_append(&b, chunk, (size_t)n) < 0) {
                        buf_free(&b);
                        return diag_set(d, -E2BIG, "runner", "%s is too large", path);
                }
        if (n < 0 || buf_append(&b, "", 1) < 0) { /* NUL-terminated: the kernel goes into JSON */
                buf_free(&b);
                return diag_set(d, -EIO, "runner", "cannot read %s", path);
        }
        *ret = b.data;
        *ret_len = b.len - 1;
        return 0;
}

/* The runner as bytecode, compiled once by the sandboxes' own Python: every session start
 * then skips compiling 2000+ lines (about a third of a runner's start-up CPU, which is what
 * bounds a burst of new sessions; docs/benchmarks.md). Python runs a .pyc named on its
 * command line directly. The code keeps the path the source would have had in the sandbox,
 * so tracebacks and the runner's own frame filter see the same file name. Any failure
 * here only costs that time: sessions get the source. */
#define RUNNER_PYTHON "/usr/bin/python3"
static const char compile_runner[] =
        "import importlib.util, marshal, sys\n"
        "src = open(sys.argv[1], 'rb').read()\n"
        "code = compile(src, '/run/airlock/airlock_runner.py', 'exec', dont_inherit=True)\n"
        "sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))\n";

static void precompile_runner(const char *runner_path) {
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(devnull, 2) < 0)
                        _exit(127);
                char *const argv[] = {(char *)"python3", (char *)"-I", (char *)"-S", (char *)"-c",
                                      (char *)compile_runner, (char *)runner_path, NULL};
                char *const envp[] = {NULL};
                execve(RUNNER_PYTHON, argv, envp);
                _exit(127);
        }
        close(out[1]);
        struct buf b;
        buf_init(&b, 8u << 20);
        char chunk[65536];
        ssize_t n = 0;
        bool ok = pid > 0;
        while (ok && (n = read(out[0], chunk, sizeof(chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || buf_append(&b, chunk, (size_t)n) < 0)
                        ok = false;
        }
        close(out[0]);
        int status = 0;
        while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 && b.len > 16) {
                S.runner_pyc = b.data;
                S.runner_pyc_len = b.len;
                return;
        }
        buf_free(&b);
        fprintf(stderr, "{\"level\":\"warn\",\"msg\":\"could not precompile the runner; sessions compile it "
                        "at start\",\"python\":\"" RUNNER_PYTHON "\"}\n");
}

int sessions_init(const char *runner_path, const char *kernel_path, struct diag *d) {
        int r = slurp(runner_path, &S.runner, &S.runner_len, d);
        if (r == 0)
                r = slurp(kernel_path, &S.kernel, &S.kernel_len, d);
        if (r == 0)
                precompile_runner(runner_path);
        return r;
}

static void session_unref_locked(struct session *s) {
        if (--s->refs > 0)
                return;
        for (struct session **p = &S.list; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        safe_close(s->out_fd);
        safe_close(s->err_fd);
        safe_close(s->ctl_fd);
        json_decref(s->doc);
        buf_free(&s->ctl_in);
        pthread_mutex_destroy(&s->exec_lock);
        free(s);
}

static void session_unref(struct session *s) {
        pthread_mutex_lock(&S.lock);
        session_unref_locked(s);
        pthread_mutex_unlock(&S.lock);
}

static struct session *session_ref(const char *id) {
        pthread_mutex_lock(&S.lock);
        struct session *s = S.list;
        while (s && strcmp(s->id, id) != 0)
                s = s->next;
        if (s)
                s->refs++;
        pthread_mutex_unlock(&S.lock);
        return s;
}

/* Mark ended (under S.lock) and drop the registry's reference: the record stays in the
 * store (GET answers from there), the fds go with the last reference. A caller that uses
 * s afterwards must hold a reference of its own. */
static void end_locked(struct session *s, const char *reason) {
        if (s->ended)
                return;
        s->ended = true;
        metrics_session_ended(reason);
        if (strcmp(reason, "deleted") != 0) /* a DELETE is audited with its caller */
                audit_record(NULL, session_doc_tenant(s->doc), s->id, "session.end",
                             json_pack("{s:s, s:s}", "reason", reason, "status", "ended"));
        snprintf(s->ended_reason, sizeof(s->ended_reason), "%s", reason);
        json_object_set_new(s->doc, "status", json_string("ended"));
        json_object_set_new(s->doc, "ended_reason", json_string(reason));
        store_end_session(s->id, reason);
        pthread_cond_broadcast(&S.exited);
        session_unref_locked(s);
}

static const char *reason_text(uint8_t r) {
        switch (r) {
        case LP_REASON_TIMEOUT:
                return "expired";
        case LP_REASON_OOM:
                return "oom";
        case LP_REASON_PIDS:
                return "pids";
        case LP_REASON_OUTPUT_LIMIT:
                return "output_limit";
        case LP_REASON_STOPPED:
                return "deleted";
        default:
                return "sandbox_exited";
        }
}

/* What an execution cut short by its session's end reports as killed_reason. */
static const char *killed_reason_of(const char *ended_reason) {
        if (!strcmp(ended_reason, "oom") || !strcmp(ended_reason, "pids") || !strcmp(ended_reason, "output_limit"))
                return ended_reason;
        if (!strcmp(ended_reason, "sandbox_exited"))
                return "runner_exited";
        return "stopped"; /* deleted, expired, idle, shutdown, ... */
}

/* Exits of sandboxes no session owns (yet): a runner that died while its session was
 * being made. Kept briefly, so that creation can say why (a limit too small for the
 * runtime is the caller's to fix, not "unavailable"). */
#define EARLY_EXITS 32
static struct lp_exited early_exits[EARLY_EXITS];
static unsigned early_next;

void session_on_exited(const struct lp_exited *ex) {
        pthread_mutex_lock(&S.lock);
        bool owned = false;
        for (struct session *s = S.list, *next; s; s = next) {
                next = s->next;
                if (s->sandbox_id == ex->sandbox_id && !s->ended) {
                        owned = true;
                        if (s->executing)
                                s->exit_reason = ex->reason;
                        s->exit_usage_known = true;
                        s->exit_cpu_usec = ex->cpu_usec;
                        s->exit_peak_bytes = ex->peak_memory_bytes;
                        end_locked(s, reason_text(ex->reason));
                }
        }
        if (!owned) {
                early_exits[early_next++ % EARLY_EXITS] = *ex;
                pthread_cond_broadcast(&S.exited);
        }
        pthread_mutex_unlock(&S.lock);
}

void session_on_egress(const struct lp_egress *e) {
        char sid[64] = "", tenant[64] = "";
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s; s = s->next)
                if (s->sandbox_id == e->sandbox_id) {
                        snprintf(sid, sizeof(sid), "%s", s->id);
                        snprintf(tenant, sizeof(tenant), "%s", json_string_value(json_object_get(s->doc, "tenant")) ?: "");
                        break;
                }
        pthread_mutex_unlock(&S.lock);
        metrics_egress(e->outcome, e->reason, e->dropped);
        char addr[INET6_ADDRSTRLEN] = "";
        if (e->family)
                inet_ntop(e->family, e->addr, addr, sizeof(addr));
        /* host is [a-z0-9.:_-] (lp_validate_egress): nothing in it needs escaping. */
        fprintf(stderr,
                "{\"level\":\"info\",\"msg\":\"egress\",\"outcome\":\"%s\",\"reason\":\"%s\",\"host\":\"%s\","
                "\"port\":%u,\"protocol\":\"%s\",\"address\":\"%s\",\"session\":\"%s\",\"tenant\":\"%s\",\"sandbox_id\":%llu,"
                "\"dropped_before\":%u}\n",
                lp_egress_outcome_name(e->outcome), lp_egress_reason_name(e->reason), e->host, e->port, lp_egress_protocol_name(e->protocol), addr, sid,
                tenant, (unsigned long long)e->sandbox_id, e->dropped);
}

/* Waits up to timeout_s for the exit of an unowned sandbox; true with *ret when it came. */
static bool early_exit(uint64_t sandbox_id, double timeout_s, struct lp_exited *ret) {
        double until = now_seconds() + timeout_s;
        bool found = false;
        pthread_mutex_lock(&S.lock);
        for (;;) {
                for (unsigned i = 0; i < EARLY_EXITS && !found; i++)
                        if (early_exits[i].sandbox_id == sandbox_id) {
                                *ret = early_exits[i];
                                found = true;
                        }
                double left = until - now_seconds();
                if (found || left <= 0)
                        break;
                struct timespec ts = deadline_after(CLOCK_REALTIME, left < 0.05 ? left : 0.05);
                pthread_cond_timedwait(&S.exited, &S.lock, &ts);
        }
        pthread_mutex_unlock(&S.lock);
        return found;
}

/* Why a runner did not start, from its sandbox's exit when there was one. */
static void runner_failed(const struct session *s, const double limits[3], double ttl, bool eof, struct diag *d) {
        double memory_mb = limits[0], cpus = limits[1], pids = limits[2];
        struct lp_exited ex;
        if (!eof || !early_exit(s->sandbox_id, 2.0, &ex)) {
                diag_set(d, -ETIMEDOUT, "", "the session's runner did not start%s",
                         eof ? "" : " in time (the host may be overloaded)");
                return;
        }
        if (ex.reason == LP_REASON_OOM)
                diag_set(d, -EINVAL, "limits.memory_mb",
                         "the sandbox ran out of memory before its runner was ready: limits.memory_mb %.0f is too "
                         "little for this runtime",
                         memory_mb);
        else if (ex.reason == LP_REASON_PIDS)
                diag_set(d, -EINVAL, "limits.pids",
                         "the sandbox reached its process limit before its runner was ready: limits.pids %.0f is too "
                         "few for this runtime",
                         pids);
        else if (ex.reason == LP_REASON_TIMEOUT)
                diag_set(d, -EINVAL, "timeout_seconds",
                         "the session's lifetime (timeout_seconds %.0f) ended before its runner was ready%s", ttl,
                         cpus < 0.5 ? " (with few CPUs, limits.cpus, a runner takes longer to start)" : "");
        else
                diag_set(d, -ETIMEDOUT, "", "the session's runner exited (status %d) before it was ready",
                         (int)ex.exit_code);
}

/* Read whole lines from the control socket into frames; returns the next frame, NULL on
 * EOF/error (errno set) or when no whole line is buffered and the socket has no data. */
static json_t *next_frame(struct session *s, bool *eof) {
        for (;;) {
                char *nl = s->ctl_in.len ? memchr(s->ctl_in.data, '\n', s->ctl_in.len) : NULL;
                if (nl) {
                        size_t n = (size_t)(nl - s->ctl_in.data);
                        json_error_t err;
                        /* JSON_ALLOW_NUL: a command's output may hold NUL bytes (\u0000). */
                        json_t *f = json_loadb(s->ctl_in.data, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
                        memmove(s->ctl_in.data, nl + 1, s->ctl_in.len - n - 1);
                        s->ctl_in.len -= n + 1;
                        if (f)
                                return f;
                        continue; /* a malformed line from the runner is dropped */
                }
                char chunk[65536];
                ssize_t r = read(s->ctl_fd, chunk, sizeof(chunk));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 && errno == EAGAIN)
                        return NULL;
                if (r <= 0) {
                        *eof = true;
                        return NULL;
                }
                if (buf_append(&s->ctl_in, chunk, (size_t)r) < 0) {
                        *eof = true; /* a runner line over the cap: treat the runner as broken */
                        return NULL;
                }
        }
}

static int send_frame(struct session *s, json_t *frame) {
        char *text = json_dumps(frame, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        size_t n = strlen(text);
        if (n > RUNNER_FRAME_MAX) {
                free(text);
                return -EMSGSIZE; /* the runner would refuse it; say so before sending */
        }
        text[n] = '\n'; /* json_dumps leaves room: strlen+1 bytes are ours */
        /* The socket is non-blocking (we poll it while executing): wait when it is full. */
        size_t off = 0;
        int r = 0;
        while (off < n + 1) {
                ssize_t w = write(s->ctl_fd, text + off, n + 1 - off);
                if (w > 0) {
                        off += (size_t)w;
                } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                        struct pollfd p = {.fd = s->ctl_fd, .events = POLLOUT};
                        if (poll(&p, 1, 30000) <= 0) {
                                r = -ETIMEDOUT; /* a runner that stopped reading */
                                break;
                        }
                } else {
                        r = -errno;
                        break;
                }
        }
        free(text);
        return r;
}

/* Wait for a frame of `type` (discarding others), at most timeout_s. */
/* The next frame of a type, NULL at EOF (*eof_ret true) or after timeout_s. */
static json_t *await_frame_or_eof(struct session *s, const char *type, double timeout_s, bool *eof_ret) {
        double until = now_seconds() + timeout_s;
        for (;;) {
                bool eof = false;
                json_t *f = next_frame(s, &eof);
                if (f) {
                        if (!strcmp(json_string_value(json_object_get(f, "type")) ?: "", type))
                                return f;
                        json_decref(f);
                        continue;
                }
                double left = until - now_seconds();
                if (eof_ret)
                        *eof_ret = eof;
                if (eof || left <= 0)
                        return NULL;
                struct pollfd p = {.fd = s->ctl_fd, .events = POLLIN};
                poll(&p, 1, (int)(left * 1000) + 1);
        }
}

static json_t *await_frame(struct session *s, const char *type, double timeout_s) {
        return await_frame_or_eof(s, type, timeout_s, NULL);
}

static int env_blob(json_t *env, struct buf *out, uint32_t *count, struct diag *d) {
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v) {
                if (!lp_valid_env_name(k, strlen(k)))
                        return diag_set(d, -EINVAL, "env", "variable name '%s' must match [A-Za-z_][A-Za-z0-9_]*",
                                        k);
                const char *val = json_string_value(v);
                if (!val)
                        return diag_set(d, -EINVAL, "env", "variable %s: value must be a string", k);
                if (buf_printf(out, "%s=%s", k, val) < 0 || buf_append(out, "", 1) < 0)
                        return diag_set(d, -E2BIG, "env", "variables exceed %d bytes", LP_ENV_MAX_BYTES);
                (*count)++;
        }
        return 0;
}

struct shape {
        double memory_mb, cpus, pids, workspace_mb;
        uint8_t network;  /* enum lp_network; the pool holds none only */
        json_t *allow;    /* allowlist mode: ["host:port", ...], borrowed */
        char runtime[LP_RUNTIME_MAX + 1]; /* "default" or NAME@vN; the pool holds default only */
};

/* The pool's shape: the built-in interpreter's limits as stored when the pool starts
 * (sessions_start_pool), so that its sessions are pool hits after an operator changed
 * them or a data dir kept an older default. Written once, before the filler starts. */
static struct shape default_shape = {512, 1.0, 128, 512, LP_NET_NONE, NULL, "default"};

/* The warm pool: sandboxes of the default shape whose runner is already up, so that a
 * default session is an id and a record away. The launcher's deadline for them is the
 * longest session TTL; the reaper enforces each session's own TTL.
 *
 * Preloading (pool_preload, docs/benchmarks.md): once the pool is full and no session has
 * been asked of it for POOL_PRELOAD_IDLE_S, the filler takes one not yet warm sandbox out,
 * has its runner import the modules (runner protocol `preload`: about 1.5 s of CPU for
 * pandas and pyplot), and puts it back warm. Warm ones are handed out first. Idle only,
 * one at a time: a burst of creations never competes with preloading for the CPU, and a
 * sandbox being preloaded is never handed out (its runner is busy). */
#define POOL_MAX 64
#define POOL_LAUNCHER_TTL_S 28800.0
#define POOL_PRELOAD_IDLE_S 1.0
#define POOL_PRELOAD_TIMEOUT_S 120.0
static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        struct session *items[POOL_MAX];
        bool warm[POOL_MAX];
        int n, target, nwarm;
        bool stop;
        uint64_t hits, misses;
        json_t *preload;   /* the runner's `modules` (array), or NULL for none */
        double last_asked; /* now_seconds() of the pool's last take */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void free_unregistered(struct session *s) {
        safe_close(s->out_fd);
        safe_close(s->err_fd);
        safe_close(s->ctl_fd);
        json_decref(s->doc);
        buf_free(&s->ctl_in);
        pthread_mutex_destroy(&s->exec_lock);
        free(s);
}

/* A sandbox running the runner, ready for its first execute; not yet a session. */
static struct session *spawn(const struct shape *sh, double launcher_ttl, json_t *env, struct diag *d) {
        struct lp_create c;
        memset(&c, 0, sizeof(c));
        c.backend = LP_BACKEND_NAMESPACE;
        c.language = LP_LANG_PYTHON;
        c.network = sh->network;
        c.flags = LP_CREATE_CONTROL;
        snprintf(c.runtime, sizeof(c.runtime), "%s", sh->runtime);
        snprintf(c.entry_name, sizeof(c.entry_name), S.runner_pyc ? "airlock_runner.pyc" : "airlock_runner.py");
        c.limits = (struct lp_limits){
                .memory_bytes = (uint64_t)sh->memory_mb << 20,
                .workspace_bytes = (uint64_t)sh->workspace_mb << 20,
                .tmp_bytes = (uint64_t)(sh->workspace_mb < 256 ? sh->workspace_mb : 256) << 20,
                .cpu_millis = (uint32_t)(sh->cpus * 1000 + 0.5),
                .pids = (uint32_t)sh->pids,
                .timeout_ms = (uint32_t)(launcher_ttl * 1000),
                .interrupt_grace_ms = 2000,
                .nofile = 1024,
        };
        struct buf envb;
        buf_init(&envb, LP_ENV_MAX_BYTES + LP_ALLOW_MAX_BYTES);
        int r = 0;
        if (env)
                r = env_blob(env, &envb, &c.env_count, d);
        c.env_len = (uint32_t)envb.len;
        /* The allowlist follows the variables in the same blob. */
        size_t ai;
        json_t *e;
        json_array_foreach(sh->network == LP_NET_ALLOWLIST ? sh->allow : NULL, ai, e) {
                if (r == 0 && buf_append_str0(&envb, json_string_value(e)) < 0)
                        r = diag_set(d, -E2BIG, "network.allowlist", "the allowlist is too long");
                c.allow_count++;
        }
        c.allow_len = (uint32_t)(envb.len - c.env_len);
        if (r == 0)
                r = lp_validate_create(&c, envb.data ? envb.data : "", envb.len, d);
        if (r < 0) {
                buf_free(&envb);
                return NULL;
        }
        _cleanup_close_ int code = S.runner_pyc ? memfd_with_data("runner", S.runner_pyc, S.runner_pyc_len)
                                                : memfd_with_data("runner", S.runner, S.runner_len);
        if (code < 0) {
                buf_free(&envb);
                diag_set(d, code, "", "cannot hold the runner");
                return NULL;
        }
        struct lreply rep;
        double asked = now_seconds();
        r = launch_call(LP_CREATE, &c, sizeof(c), envb.data, envb.len, &code, 1, &rep);
        buf_free(&envb);
        if (r < 0) {
                diag_set(d, -EIO, "", "the sandbox launcher is unavailable");
                return NULL;
        }
        if (rep.type == LP_ERROR) {
                /* A host that cannot build what was asked (a tool gone, say) is the service's
                 * trouble: the launcher's -ENOENT must not read as a missing session. */
                int err = rep.err.code == -ENOENT || rep.err.code == -EPERM ? -EIO : rep.err.code ?: -EIO;
                if (now_seconds() - asked >= launcher_ttl) /* its deadline (the TTL) came during setup */
                        diag_set(d, -EINVAL, "timeout_seconds",
                                 "the session's lifetime (timeout_seconds %.0f) ended while its sandbox was being set up",
                                 launcher_ttl);
                else
                        diag_set(d, err, rep.err.field, "cannot start the sandbox: %s", rep.err.msg);
                return NULL;
        }
        if (rep.type != LP_CREATED || rep.nfds != 3) {
                for (size_t i = 0; i < rep.nfds; i++)
                        close(rep.fds[i]);
                diag_set(d, -EPROTO, "", "unexpected reply from the launcher");
                return NULL;
        }
        struct lp_created cr;
        memcpy(&cr, rep.body, sizeof(cr));
        struct session *s = calloc(1, sizeof(*s));
        if (!s) {
                for (size_t i = 0; i < 3; i++)
                        close(rep.fds[i]);
                launch_signal(cr.sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                diag_set(d, -ENOMEM, "", "out of memory");
                return NULL;
        }
        s->sandbox_id = cr.sandbox_id;
        s->iso = cr.isolation;
        s->out_fd = rep.fds[0];
        s->err_fd = rep.fds[1];
        s->ctl_fd = rep.fds[2];
        for (int i = 0; i < 3; i++)
                fcntl(rep.fds[i], F_SETFL, O_NONBLOCK);
        pthread_mutex_init(&s->exec_lock, NULL);
        buf_init(&s->ctl_in, CONTROL_LINE_MAX);
        const char *failed = NULL;
        bool eof = false;
        json_t *ready = await_frame_or_eof(s, "ready", RUNNER_READY_TIMEOUT_S, &eof);
        if (!ready) {
                runner_failed(s, (const double[3]){sh->memory_mb, sh->cpus, sh->pids}, launcher_ttl, eof, d);
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
                return NULL;
        }
        json_decref(ready);
        if (!failed) {
                /* The runner starts the Node kernel from this source on the first JavaScript
                 * or TypeScript request (api/runner-protocol.schema.json, load_kernel). */
                json_t *load = json_pack("{s:s, s:s, s:s, s:s%}", "type", "load_kernel", "id", "load", "kernel",
                                         "node", "source", S.kernel, S.kernel_len);
                json_t *ack = load && send_frame(s, load) == 0 ? await_frame(s, "ack", RUNNER_READY_TIMEOUT_S) : NULL;
                if (!ack)
                        failed = "the session's runner did not take its JavaScript kernel";
                json_decref(load);
                json_decref(ack);
        }
        if (failed) {
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
                diag_set(d, -ETIMEDOUT, "", "%s", failed);
                return NULL;
        }
        return s;
}

/* One sandbox's runner imports the pool's modules; false if it did not answer. */
static bool preload(struct session *s) {
        json_t *req = json_pack("{s:s, s:s, s:O}", "type", "preload", "id", "preload", "modules", P.preload);
        json_t *ack = req && send_frame(s, req) == 0 ? await_frame(s, "ack", POOL_PRELOAD_TIMEOUT_S) : NULL;
        json_decref(req);
        bool ok = ack && json_is_array(json_object_get(ack, "preloaded"));
        json_decref(ack);
        return ok;
}

/* With P.lock held: the index of a pooled sandbox not yet warm, or -1. */
static int pool_cold_locked(void) {
        for (int i = P.n - 1; i >= 0; i--)
                if (!P.warm[i])
                        return i;
        return -1;
}

/* With P.lock held: remove item i (the last one takes its place). */
static struct session *pool_remove_locked(int i) {
        struct session *s = P.items[i];
        if (P.warm[i])
                P.nwarm--;
        P.n--;
        P.items[i] = P.items[P.n];
        P.warm[i] = P.warm[P.n];
        return s;
}

/* With P.lock held. */
static void pool_add_locked(struct session *s, bool warm) {
        P.items[P.n] = s;
        P.warm[P.n++] = warm;
        P.nwarm += warm;
}

/* With P.lock held: preload one cold sandbox if the pool has been left alone long enough;
 * true if it did something (or waited for the idle time to come). */
static bool pool_warm_one_locked(void) {
        int cold = P.preload ? pool_cold_locked() : -1;
        if (cold < 0)
                return false;
        double idle = now_seconds() - P.last_asked;
        if (idle < POOL_PRELOAD_IDLE_S) {
                struct timespec ts = deadline_after(CLOCK_REALTIME, POOL_PRELOAD_IDLE_S - idle);
                pthread_cond_timedwait(&P.wake, &P.lock, &ts);
                return true;
        }
        struct session *s = pool_remove_locked(cold);
        pthread_mutex_unlock(&P.lock);
        bool ok = preload(s);
        pthread_mutex_lock(&P.lock);
        if (ok && !P.stop && P.n < POOL_MAX) {
                pool_add_locked(s, true);
        } else {
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
        }
        return true;
}

static void *pool_fill(void *arg) {
        (void)arg;
        pthread_mutex_lock(&P.lock);
        while (!P.stop) {
                if (P.n >= P.target) {
                        if (!pool_warm_one_locked())
                                pthread_cond_wait(&P.wake, &P.lock);
                        continue;
                }
                pthread_mutex_unlock(&P.lock);
                struct diag d = {0};
                struct session *s = launch_alive() ? spawn(&default_shape, POOL_LAUNCHER_TTL_S, NULL, &d) : NULL;
                pthread_mutex_lock(&P.lock);
                if (s && !P.stop && P.n < POOL_MAX) {
                        pool_add_locked(s, false);
                } else if (s) {
                        launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                        free_unregistered(s);
                } else {
                        /* The launcher refused or is gone: do not spin. */
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 1;
                        pthread_cond_timedwait(&P.wake, &P.lock, &ts);
                }
        }
        pthread_mutex_unlock(&P.lock);
        return NULL;
}

int sessions_start_pool(int size, const char *preload) {
        P.target = size < 0 ? 0 : size > POOL_MAX ? POOL_MAX : size;
        if (P.target == 0)
                return 0;
        json_t *interp = interpreter_get("default", "default");
        json_t *lim = json_object_get(interp, "limits");
        double *dst[] = {&default_shape.memory_mb, &default_shape.cpus, &default_shape.pids,
                         &default_shape.workspace_mb};
        const char *key[] = {"memory_mb", "cpus", "pids", "workspace_mb"};
        for (size_t i = 0; i < sizeof(key) / sizeof(key[0]); i++) {
                double v = json_number_value(json_object_get(lim, key[i]));
                if (v > 0) /* else the built-in value stays */
                        *dst[i] = v;
        }
        json_decref(interp);
        /* comma-separated, checked by config_set */
        for (const char *p = preload; p && *p;) {
                size_t n = strcspn(p, ",");
                if (!P.preload)
                        P.preload = json_array();
                json_array_append_new(P.preload, json_stringn(p, n));
                p += n + (p[n] == ',');
        }
        pthread_t t;
        if (pthread_create(&t, NULL, pool_fill, NULL) != 0)
                return -EAGAIN;
        pthread_detach(t);
        return 0;
}

void sessions_pool_stats(uint64_t *hits, uint64_t *misses, int *ready, int *warm) {
        pthread_mutex_lock(&P.lock);
        *hits = P.hits;
        *misses = P.misses;
        *ready = P.n;
        *warm = P.nwarm;
        pthread_mutex_unlock(&P.lock);
}

/* A pooled sandbox, a warm one first; *ret_preloaded: the modules its runner imported (a
 * new reference), or NULL. */
static struct session *pool_take(json_t **ret_preloaded) {
        pthread_mutex_lock(&P.lock);
        P.last_asked = now_seconds();
        int pick = P.n - 1; /* a warm one first */
        for (int i = P.n - 1; i >= 0 && P.nwarm > 0; i--)
                if (P.warm[i]) {
                        pick = i;
                        break;
                }
        *ret_preloaded = pick >= 0 && P.warm[pick] ? json_deep_copy(P.preload) : NULL;
        struct session *s = pick >= 0 ? pool_remove_locked(pick) : NULL;
        if (s)
                P.hits++;
        else
                P.misses++;
        pthread_cond_signal(&P.wake);
        pthread_mutex_unlock(&P.lock);
        return s;
}

static void pool_drain(void) {
        pthread_mutex_lock(&P.lock);
        P.stop = true;
        pthread_cond_broadcast(&P.wake);
        while (P.n > 0) {
                struct session *s = pool_remove_locked(P.n - 1);
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
        }
        pthread_mutex_unlock(&P.lock);
}

/* Sessions and memory the tenant's live sessions hold (under S.lock). */
static void tenant_usage_locked(const char *tenant, int64_t *sessions, int64_t *memory_mb) {
        *sessions = *memory_mb = 0;
        for (struct session *s = S.list; s; s = s->next) {
                if (s->ended || strcmp(json_string_value(json_object_get(s->doc, "tenant")) ?: "default", tenant) != 0)
                        continue;
                (*sessions)++;
                *memory_mb += json_integer_value(json_object_get(json_object_get(s->doc, "limits"), "memory_mb"));
        }
}

int64_t sessions_active(void) {
        int64_t n = 0;
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s; s = s->next)
                n += !s->ended;
        pthread_mutex_unlock(&S.lock);
        return n;
}

json_t *sessions_usage(void) {
        /* Collected under the lock, asked of the launcher outside it. */
        json_t *live = json_array();
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s; s = s->next)
                if (!s->ended)
                        json_array_append_new(live, json_pack("{s:s, s:s, s:I}", "session", s->id, "tenant",
                                                              session_doc_tenant(s->doc), "sandbox",
                                                              (json_int_t)s->sandbox_id));
        pthread_mutex_unlock(&S.lock);
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(live, i, v) {
                struct lp_usage_ok u;
                if (launch_usage((uint64_t)json_integer_value(json_object_get(v, "sandbox")), false, &u) < 0)
                        continue; /* ended meanwhile */
                json_array_append_new(out, json_pack("{s:O, s:O, s:f, s:I}", "session", json_object_get(v, "session"),
                                                     "tenant", json_object_get(v, "tenant"), "cpu_seconds",
                                                     (double)u.cpu_usec / 1e6, "memory_bytes",
                                                     (json_int_t)u.memory_bytes));
        }
        json_decref(live);
        return out;
}

int64_t sessions_using_interpreter(const char *tenant, const char *name) {
        int64_t n = 0;
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s; s = s->next)
                n += !s->ended && !strcmp(session_doc_tenant(s->doc), tenant) &&
                     !strcmp(json_string_value(json_object_get(s->doc, "interpreter")) ?: "", name);
        pthread_mutex_unlock(&S.lock);
        return n;
}

void tenant_usage(const char *tenant, int64_t *sessions, int64_t *memory_mb) {
        pthread_mutex_lock(&S.lock);
        tenant_usage_locked(tenant, sessions, memory_mb);
        pthread_mutex_unlock(&S.lock);
}

/* -EDQUOT with the reason when one more session of memory_mb would pass the quota. */
static int check_quota_locked(const char *tenant, double memory_mb, struct diag *d) {
        int64_t max_sessions, max_memory, sessions, memory;
        auth_quota(tenant, &max_sessions, &max_memory);
        tenant_usage_locked(tenant, &sessions, &memory);
        if (sessions + 1 > max_sessions)
                return diag_set(d, -EDQUOT, "", "tenant %s has %lld live sessions, its quota is %lld", tenant,
                                (long long)sessions, (long long)max_sessions);
        if ((double)memory + memory_mb > (double)max_memory)
                return diag_set(d, -EDQUOT, "limits.memory_mb",
                                "tenant %s: %lld MiB in live sessions + %.0f MiB would pass its quota of %lld MiB",
                                tenant, (long long)memory, memory_mb, (long long)max_memory);
        return 0;
}

static int create(json_t *req, const char *tenant, json_t **ret, struct diag *d);
static int create_with(json_t *req, const char *tenant, const char *iname, const struct session_settings *set,
                       const struct shape *shp, double ttl, double idle, json_t *env, json_t **ret, struct diag *d);

int session_create(json_t *req, const char *tenant, json_t **ret, struct diag *d) {
        trace_begin("session.create", SPAN_INTERNAL);
        trace_attr("airlock.tenant", tenant);
        int r = create(req, tenant, ret, d);
        if (r == 0)
                trace_attr("airlock.session_id", json_string_value(json_object_get(*ret, "id")));
        else
                trace_error();
        trace_end();
        return r;
}

static int create(json_t *req, const char *tenant, json_t **ret, struct diag *d) {
        const char *iname = json_string_value(json_object_get(req, "interpreter")) ?: "default";
        json_t *interp = interpreter_get(tenant, iname);
        if (!interp)
                return diag_set(d, -EINVAL, "interpreter", "no interpreter %s", iname);
        struct session_settings set;
        memset(&set, 0, sizeof(set));
        int ar = interpreter_apply(interp, req, &set, d);
        json_decref(interp);
        if (ar < 0) {
                session_settings_free(&set);
                return ar;
        }
        struct shape sh = {set.memory_mb, set.cpus, set.pids, set.workspace_mb,
                           !strcmp(set.network, "public")      ? LP_NET_PUBLIC
                           : !strcmp(set.network, "allowlist") ? LP_NET_ALLOWLIST
                                                               : LP_NET_NONE,
                           set.allowlist, ""};
        /* The runtime's version is fixed now (NAME is its newest ready one), and its own
         * variables go under the interpreter's and the session's. */
        json_t *env = NULL;
        int r = runtime_resolve(set.runtime, sh.runtime, sizeof(sh.runtime), &env, d);
        if (r < 0) {
                session_settings_free(&set);
                return r;
        }
        if (!env)
                env = json_object();
        json_object_update(env, set.env);
        double ttl = set.ttl, idle = set.idle;
        r = create_with(req, tenant, iname, &set, &sh, ttl, idle, env, ret, d);
        json_decref(env);
        session_settings_free(&set);
        return r;
}

static int create_with(json_t *req, const char *tenant, const char *iname, const struct session_settings *set,
                       const struct shape *shp, double ttl, double idle, json_t *env, json_t **ret, struct diag *d) {
        struct shape sh = *shp;
        double started = now_seconds();
        pthread_mutex_lock(&S.lock);
        int q = check_quota_locked(tenant, sh.memory_mb, d); /* early: before a sandbox is made */
        pthread_mutex_unlock(&S.lock);
        if (q < 0) {
                metrics_session_refused();
                return q;
        }
        /* start: fresh never takes a pooled sandbox: nothing has run in its sandbox before
         * its first execution (no preloaded modules, a sandbox made for it alone). */
        bool pooled = !set->fresh && sh.memory_mb == default_shape.memory_mb && sh.cpus == default_shape.cpus &&
                      sh.pids == default_shape.pids && sh.workspace_mb == default_shape.workspace_mb &&
                      sh.network == default_shape.network && !strcmp(sh.runtime, default_shape.runtime) &&
                      json_object_size(env) == 0;
        trace_begin("sandbox.start", SPAN_INTERNAL);
        json_t *preloaded = NULL;
        struct session *s = pooled ? pool_take(&preloaded) : NULL;
        bool from_pool = s != NULL;
        if (!s)
                s = spawn(&sh, ttl, env, d);
        trace_attr("airlock.pool", set->fresh ? "fresh" : from_pool ? "hit" : pooled ? "miss" : "not_pooled");
        if (s)
                trace_attr_int("airlock.sandbox_id", (long long)s->sandbox_id);
        else
                trace_error();
        trace_end();
        if (!s) {
                json_decref(preloaded);
                return d->code ? d->code : -EIO;
        }
        random_id("sess_", s->id, sizeof(s->id));
        s->refs = 1; /* the registry's */
        double now = now_seconds();
        s->expires_at = now + ttl;
        s->last_used = now;
        s->idle_timeout = idle;
        s->execution_timeout = set->execution_timeout > 0 ? set->execution_timeout : 60;

        time_t wall = time(NULL);
        char created[32], expires[32];
        rfc3339(wall, created, sizeof(created));
        rfc3339(wall + (time_t)ttl, expires, sizeof(expires));
        const struct lp_isolation *iso = &s->iso;
        json_t *metadata = json_object_get(req, "metadata");
        metadata = metadata ? json_incref(metadata) : json_object(); /* the pack below takes it */
        s->doc = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:{s:I, s:f, s:I, s:I}, s:{s:s, s:s, s:I, s:b, s:b, s:s}, s:o, s:n}",
                "id", s->id, "tenant", tenant, "interpreter", iname, "status", "ready", "created_at", created, "expires_at", expires,
                "idle_timeout_seconds", (json_int_t)idle, "limits", "memory_mb", (json_int_t)sh.memory_mb, "cpus",
                sh.cpus, "pids", (json_int_t)sh.pids, "workspace_mb", (json_int_t)sh.workspace_mb, "isolation",
                "backend", lp_backend_name(iso->backend), "cgroup",
                iso->cgroup_mode == 2   ? "v2"
                : iso->cgroup_mode == 1 ? "v1"
                                        : "none",
                "landlock_abi", (json_int_t)iso->landlock_abi, "seccomp", (int)iso->seccomp, "uid_private",
                (int)iso->uid_private, "network", lp_network_name(iso->network), "metadata", metadata,
                "ended_reason");
        if (s->doc && json_array_size(json_object_get(req, "secrets")))
                json_object_set(s->doc, "secrets", json_object_get(req, "secrets")); /* names only */
        if (s->doc)
                json_object_set_new(s->doc, "execution_timeout_seconds", json_real(s->execution_timeout));
        if (s->doc) /* the version it got: "default" or NAME@vN */
                json_object_set_new(s->doc, "runtime", json_string(sh.runtime));
        if (s->doc) /* how its sandbox was started, and what ran in it before the session */
                json_object_set_new(s->doc, "start",
                                    json_pack("{s:s, s:b, s:o}", "mode", set->fresh ? "fresh" : "warm", "from_pool",
                                              (int)from_pool, "preloaded", preloaded ? preloaded : json_array()));
        else
                json_decref(preloaded);
        if (!s->doc) {
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
                return diag_set(d, -ENOMEM, "", "out of memory");
        }
        pthread_mutex_lock(&S.lock);
        /* Again, now that it counts: concurrent creates may have raced past the first check. */
        if ((q = check_quota_locked(tenant, sh.memory_mb, d)) < 0) {
                pthread_mutex_unlock(&S.lock);
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
                metrics_session_refused();
                return q;
        }
        /* A session the store cannot record would be lost at the next daemon restart (its
         * sandbox unknown, killed) and its creation missing from the audit log: refuse it
         * (a full data dir, docs/reliability.md). */
        if (store_put_session(s->doc, s->sandbox_id) < 0) {
                pthread_mutex_unlock(&S.lock);
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                free_unregistered(s);
                return diag_set(d, -EIO, "", "the service cannot record the session (its data dir is full or "
                                             "failing): retry later");
        }
        metrics_session_created(from_pool, now_seconds() - started);
        s->next = S.list;
        S.list = s;
        *ret = json_deep_copy(s->doc);
        pthread_mutex_unlock(&S.lock);
        return 0;
}

bool session_exists(const char *id) {
        pthread_mutex_lock(&S.lock);
        struct session *s = S.list;
        while (s && strcmp(s->id, id) != 0)
                s = s->next;
        pthread_mutex_unlock(&S.lock);
        return s != NULL;
}

static time_t parse_rfc3339(const char *s) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
                return 0;
        return timegm(&tm);
}

void session_attach(const struct lp_attached *a, const int fds[3]) {
        json_t *doc = store_session_of_sandbox(a->sandbox_id);
        const char *id = json_string_value(json_object_get(doc, "id"));
        struct session *s = doc && id && strlen(id) < sizeof(((struct session *)0)->id) ? calloc(1, sizeof(*s)) : NULL;
        if (!s) {
                /* Nobody's session any more: end it. */
                json_decref(doc);
                for (int i = 0; i < 3; i++)
                        close(fds[i]);
                launch_signal(a->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                return;
        }
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->sandbox_id = a->sandbox_id;
        s->out_fd = fds[0];
        s->err_fd = fds[1];
        s->ctl_fd = fds[2];
        for (int i = 0; i < 3; i++)
                fcntl(fds[i], F_SETFL, O_NONBLOCK);
        pthread_mutex_init(&s->exec_lock, NULL);
        buf_init(&s->ctl_in, CONTROL_LINE_MAX);
        s->refs = 1;
        double now = now_seconds();
        time_t expires = parse_rfc3339(json_string_value(json_object_get(doc, "expires_at")));
        s->expires_at = now + (double)(expires > time(NULL) ? expires - time(NULL) : 0);
        s->last_used = now;
        s->idle_timeout = (double)json_integer_value(json_object_get(doc, "idle_timeout_seconds"));
        if (s->idle_timeout <= 0)
                s->idle_timeout = 900;
        s->execution_timeout = json_number_value(json_object_get(doc, "execution_timeout_seconds"));
        if (s->execution_timeout <= 0)
                s->execution_timeout = 60;
        json_object_set_new(doc, "status", json_string("ready"));
        s->doc = doc;
        store_put_session(s->doc, s->sandbox_id);
        pthread_mutex_lock(&S.lock);
        s->next = S.list;
        S.list = s;
        pthread_mutex_unlock(&S.lock);
        fprintf(stderr, "{\"level\":\"info\",\"msg\":\"re-attached session\",\"session\":\"%s\"}\n", s->id);
}

json_t *session_get_json(const char *id) {
        struct session *s = session_ref(id);
        if (!s)
                return store_get_session(id); /* ended by an earlier daemon */
        pthread_mutex_lock(&S.lock);
        json_t *out = json_deep_copy(s->doc);
        pthread_mutex_unlock(&S.lock);
        session_unref(s);
        return out;
}

const char *session_doc_tenant(json_t *doc) { return json_string_value(json_object_get(doc, "tenant")) ?: "default"; }

int session_tenant(const char *id, char *out, size_t cap) {
        json_t *doc = session_get_json(id);
        if (!doc)
                return -ENOENT;
        snprintf(out, cap, "%s", session_doc_tenant(doc));
        json_decref(doc);
        return 0;
}

json_t *sessions_list_json(const char *tenant) {
        json_t *arr = json_array();
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s; s = s->next) /* newest first in the list */
                if (!strcmp(session_doc_tenant(s->doc), tenant))
                        json_array_insert_new(arr, 0, json_deep_copy(s->doc));
        pthread_mutex_unlock(&S.lock);
        return arr;
}

int session_delete(const char *id, json_t **ret) {
        struct session *s = session_ref(id);
        if (!s) {
                json_t *old = store_get_session(id);
                if (!old)
                        return -ENOENT;
                *ret = old;
                return 0;
        }
        pthread_mutex_lock(&S.lock);
        if (!s->ended)
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
        end_locked(s, "deleted");
        pthread_mutex_unlock(&S.lock);
        pthread_mutex_lock(&S.lock);
        *ret = json_deep_copy(s->doc);
        pthread_mutex_unlock(&S.lock);
        session_unref(s);
        return 0;
}

int session_sandbox(const char *id, uint64_t *ret) {
        struct session *s = session_ref(id);
        if (!s) {
                json_t *old = store_get_session(id);
                bool ended = old != NULL;
                json_decref(old);
                return ended ? -ESRCH : -ENOENT;
        }
        pthread_mutex_lock(&S.lock);
        bool ended = s->ended;
        *ret = s->sandbox_id;
        s->last_used = now_seconds();
        pthread_mutex_unlock(&S.lock);
        session_unref(s);
        return ended ? -ESRCH : 0;
}

struct stream {
        const char *name; /* "stdout", "stderr" */
        struct buf text;  /* kept for the final response, up to OUTPUT_MAX */
        size_t dropped;
        struct buf pend;  /* streaming: the start of a UTF-8 character cut by a read */
        /* Past OUTPUT_MAX the whole stream also goes to a workspace file (its path is in the
         * reply), opened through the launcher as the sandbox's user: the quota applies. It
         * is journaled as an upload is (workspace.c): a daemon killed while it grows leaves
         * a row, and the next one removes the file rather than serve part of it as all. */
        const char *session_id;
        uint64_t sandbox_id;
        char spill_path[LP_PATH_MAX]; /* "" until the stream overflows, and again when it failed */
        struct ws_write spill;        /* spill.fd -1: not open (not yet, or it failed) */
        bool spill_failed;
};

/* Open the stream's spill file and write what was kept so far; on any failure (the
 * journal cannot be written, the workspace is full) the stream just stays cut
 * (spill_failed, no path in the reply), as it was before spilling existed, and nothing
 * is left at the path. */
static void spill_open(struct stream *st, const char *exec_id) {
        char path[128];
        snprintf(path, sizeof(path), ".airlock/outputs/%s-%s.txt", exec_id, st->name);
        struct lreply rep;
        if (ws_write_open(&st->spill, st->session_id, st->sandbox_id, 0, path, &rep) != WS_OK) {
                st->spill.fd = -1; /* ws_write_open left nothing open, nor at the path */
                st->spill_failed = true;
                return;
        }
        snprintf(st->spill_path, sizeof(st->spill_path), "%s", path);
        if (write_all(st->spill.fd, st->text.data, st->text.len) < 0) {
                ws_write_abandon(&st->spill);
                st->spill_failed = true;
                st->spill_path[0] = '\0';
        }
}

static void spill_write(struct stream *st, const char *data, size_t len) {
        if (st->spill.fd < 0 || !len)
                return;
        if (write_all(st->spill.fd, data, len) < 0) { /* the workspace is full: keep the cut */
                ws_write_abandon(&st->spill);
                st->spill_failed = true;
                st->spill_path[0] = '\0';
        }
}

/* The execution is over: the spill file is complete. Its journal row that cannot be
 * removed (the data dir is full) takes the file with it (ws_write_done), and the path
 * leaves the reply: the stream is cut, as when the workspace is full. */
static void spill_close(struct stream *st) {
        if (st->spill.fd < 0)
                return;
        if (ws_write_done(&st->spill) != WS_OK) {
                st->spill_failed = true;
                st->spill_path[0] = '\0';
        }
}

/* Append what a pipe has now (up to OUTPUT_MAX for the response; the rest is counted as
 * dropped and saved whole in the spill file) and, when streaming, send all of it as events
 * of whole UTF-8 characters. */
static void drain(int fd, struct stream *st, const char *exec_id, const struct exec_sink *sink, bool *listening) {
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                size_t room = st->text.len < OUTPUT_MAX ? OUTPUT_MAX - st->text.len : 0;
                size_t keep = (size_t)n < room ? (size_t)n : room;
                if (keep)
                        (void)buf_append(&st->text, chunk, keep);
                st->dropped += (size_t)n - keep;
                if ((size_t)n > keep && st->spill.fd < 0 && !st->spill_failed)
                        spill_open(st, exec_id); /* writes the kept part, then: */
                spill_write(st, chunk + keep, (size_t)n - keep);
                if (!sink || !*listening || buf_append(&st->pend, chunk, (size_t)n) < 0)
                        continue;
                size_t used = 0;
                json_t *t = utf8_string(st->pend.data, st->pend.len, true, &used);
                if (t && used) {
                        memmove(st->pend.data, st->pend.data + used, st->pend.len - used);
                        st->pend.len -= used;
                        if (sink->event(sink->ctx, st->name, json_pack("{s:o}", "text", t)) < 0)
                                *listening = false;
                } else {
                        json_decref(t);
                }
        }
}

static void discard_pending(int fd) {
        char chunk[65536];
        while (read(fd, chunk, sizeof(chunk)) > 0)
                ;
}

static json_t *text_field(const struct buf *b) {
        json_t *s = utf8_string(b->data ? b->data : "", b->len, false, NULL);
        return s ? s : json_string("");
}

/* A reference to a live session, or NULL with the reason in d: -ENOENT for an id nobody
 * ever had, -ESRCH (with the ended_reason) for one that has ended. */
static struct session *session_ref_or_why(const char *id, struct diag *d) {
        struct session *s = session_ref(id);
        if (s)
                return s;
        json_t *old = store_get_session(id);
        if (old)
                diag_set(d, -ESRCH, "", "session %s has ended (%s)", id,
                         json_string_value(json_object_get(old, "ended_reason")) ?: "unknown");
        else
                diag_set(d, -ENOENT, "", "no session %s", id);
        json_decref(old);
        return NULL;
}

static int execute(const char *id, const struct exec_req *req, const char *sha, const struct exec_sink *sink,
                   json_t **ret, struct diag *d) {
        struct session *s = session_ref_or_why(id, d);
        if (!s)
                return d->code;
        pthread_mutex_lock(&s->exec_lock);
        pthread_mutex_lock(&S.lock);
        bool ended = s->ended;
        if (!ended) {
                s->executing = true;
                json_object_set_new(s->doc, "status", json_string("busy"));
        }
        pthread_mutex_unlock(&S.lock);
        if (ended) {
                pthread_mutex_unlock(&s->exec_lock);
                session_unref(s);
                return diag_set(d, -ESRCH, "", "session %s has ended", id);
        }
        struct stream out = {.name = "stdout", .session_id = id, .sandbox_id = s->sandbox_id, .spill.fd = -1},
                      err = {.name = "stderr", .session_id = id, .sandbox_id = s->sandbox_id, .spill.fd = -1};
        buf_init(&out.text, OUTPUT_MAX + 1);
        buf_init(&err.text, OUTPUT_MAX + 1);
        buf_init(&out.pend, 2 * 65536);
        buf_init(&err.pend, 2 * 65536);
        bool listening = sink != NULL;
        discard_pending(s->out_fd); /* what background processes printed since the last one */
        discard_pending(s->err_fd);

        char exec_id[40];
        random_id("exec_", exec_id, sizeof(exec_id));
        json_t *results = json_array(), *error = json_null();
        const char *status = "ok", *killed_reason = NULL;
        json_int_t count = 0;
        bool state_kept = true, interrupted = false, finished = false, capped = false;
        /* CPU is the sandbox's cgroup counter across the execution (background tasks
         * included); the memory peak is the execution's own where the host can reset it
         * (cgroup v1), else the sandbox's since it started. The first reading (and the
         * reset) is asked for just before the code is sent and collected after it ran, so
         * the launcher's answer costs the execution no wait; it may land a few dozen
         * microseconds into the code's run. */
        trace_begin("sandbox.exec", SPAN_INTERNAL);
        trace_attr_int("airlock.sandbox_id", (long long)s->sandbox_id);
        struct lp_usage_ok before = {0}, after = {0};
        struct usage_call first;
        bool usage_known = launch_usage_begin(&first, s->sandbox_id, true) == 0;
        double start = now_seconds(), deadline = start + (req->timeout_s > 0 ? req->timeout_s : s->execution_timeout);

        json_t *frame = json_pack("{s:s, s:s, s:s%}", "type", "execute", "id", exec_id, "code", req->code,
                                  req->code_len);
        if (frame && req->context)
                json_object_set_new(frame, "context", json_string(req->context));
        if (frame && req->language)
                json_object_set_new(frame, "language", json_string(req->language));
        if (frame && req->clear)
                json_object_set_new(frame, "clear", json_true());
        char refused[32] = "", refusal[256] = "", language[16] = "";
        trace_begin("execution", SPAN_INTERNAL);
        trace_attr("airlock.execution_id", exec_id);
        int r = frame ? send_frame(s, frame) : -ENOMEM;
        json_decref(frame);
        double keepalive_at = now_seconds() + EXEC_KEEPALIVE_S;
        while (r == 0 && !finished) {
                struct pollfd p[3] = {{s->ctl_fd, POLLIN, 0}, {s->out_fd, POLLIN, 0}, {s->err_fd, POLLIN, 0}};
                if (listening && sink->keepalive && now_seconds() >= keepalive_at) {
                        sink->keepalive(sink->ctx);
                        keepalive_at = now_seconds() + EXEC_KEEPALIVE_S;
                }
                double left = deadline - now_seconds();
                if (left <= 0) {
                        if (!interrupted) {
                                /* Like ^C in a notebook: KeyboardInterrupt in the user's code. */
                                launch_signal(s->sandbox_id, LP_SIG_INTERRUPT_ONLY, LP_REASON_NONE);
                                interrupted = true;
                                deadline = now_seconds() + INTERRUPT_GRACE_S;
                                continue;
                        }
                        /* The runner did not come back: the session's state is lost. */
                        pthread_mutex_lock(&S.lock);
                        end_locked(s, "execution_timeout"); /* we hold a reference */
                        pthread_mutex_unlock(&S.lock);
                        launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_TIMEOUT);
                        status = "timeout";
                        state_kept = false;
                        break;
                }
                double wake = listening && sink->keepalive && keepalive_at - now_seconds() < left
                                      ? keepalive_at - now_seconds()
                                      : left;
                poll(p, 3, wake > 0 ? (int)(wake * 1000) + 1 : 0);
                /* Frames before pipes: the runner sends a value only once the pipes are empty
                 * (we have read what was printed before it), so output waiting in a pipe
                 * together with a frame was printed after that frame and goes after it. */
                bool eof = false;
                json_t *f;
                while (!finished && (f = next_frame(s, &eof))) {
                        const char *type = json_string_value(json_object_get(f, "type")) ?: "";
                        const char *fid = json_string_value(json_object_get(f, "id")) ?: "";
                        if (strcmp(fid, exec_id) != 0) {
                                json_decref(f);
                                continue;
                        }
                        if (!strcmp(type, "result") || !strcmp(type, "display")) {
                                json_t *data = json_object_get(f, "data");
                                if (json_is_object(data)) {
                                        /* In the cell's order: the runner sends a value only once
                                         * we have read the output printed before it (and drained). */
                                        json_array_append(results, data);
                                        if (listening && sink->event(sink->ctx, "result", json_incref(data)) < 0)
                                                listening = false;
                                }
                        } else if (!strcmp(type, "error")) {
                                json_decref(error);
                                error = json_pack("{s:O?, s:O?, s:O?}", "name", json_object_get(f, "name"), "value",
                                                  json_object_get(f, "value"), "traceback",
                                                  json_object_get(f, "traceback"));
                                runtime_hint_error(error);
                                if (listening && sink->event(sink->ctx, "error", json_incref(error)) < 0)
                                        listening = false;
                        } else if (!strcmp(type, "protocol_error")) {
                                /* The runner refused our request: final, like `done`. */
                                snprintf(refused, sizeof(refused), "%s",
                                         json_string_value(json_object_get(f, "code")) ?: "");
                                snprintf(refusal, sizeof(refusal), "%s",
                                         json_string_value(json_object_get(f, "message")) ?: "refused");
                                json_decref(error);
                                error = json_pack("{s:s, s:O?, s:[]}", "name", "AirlockProtocolError", "value",
                                                  json_object_get(f, "message"), "traceback");
                                status = "error";
                                finished = true;
                        } else if (!strcmp(type, "done")) {
                                const char *st = json_string_value(json_object_get(f, "status")) ?: "error";
                                snprintf(language, sizeof(language), "%s",
                                         json_string_value(json_object_get(f, "language")) ?: "");
                                count = json_integer_value(json_object_get(f, "execution_count"));
                                json_t *kept = json_object_get(f, "state_kept");
                                if (json_is_boolean(kept))
                                        state_kept = json_is_true(kept);
                                status = !strcmp(st, "ok") ? "ok" : (interrupted ? "timeout" : "error");
                                finished = true;
                        }
                        json_decref(f);
                }
                drain(s->out_fd, &out, exec_id, sink, &listening);
                drain(s->err_fd, &err, exec_id, sink, &listening);
                if (!capped && out.text.len + out.dropped + err.text.len + err.dropped > EXEC_OUTPUT_LIMIT) {
                        /* A flood: the sandbox is killed and the EOF below reports it. */
                        capped = true;
                        launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_OUTPUT_LIMIT);
                }
                if (!finished && eof) {
                        /* The runner is gone: the launcher tells us why (EXITED). */
                        double until = now_seconds() + EXIT_REPORT_WAIT_S;
                        pthread_mutex_lock(&S.lock);
                        while (!s->ended && now_seconds() < until) {
                                struct timespec ts = deadline_after(CLOCK_REALTIME, 0.05);
                                pthread_cond_timedwait(&S.exited, &S.lock, &ts);
                        }
                        if (!s->ended)
                                end_locked(s, "sandbox_exited");
                        killed_reason = killed_reason_of(s->ended_reason);
                        pthread_mutex_unlock(&S.lock);
                        status = interrupted ? "timeout" : "killed";
                        state_kept = false;
                        break;
                }
        }
        trace_attr("airlock.status", status);
        if (language[0])
                trace_attr("airlock.language", language);
        if (strcmp(status, "ok") != 0)
                trace_error();
        trace_end(); /* execution */
        bool bad_context = !strcmp(refused, "wrong_language"), no_kernel = !strcmp(refused, "kernel_unavailable");
        if (r == -EMSGSIZE || bad_context || no_kernel) {
                if (usage_known) /* its waiter must not outlive this frame */
                        (void)launch_usage_end(&first, &before);
                spill_close(&out);
                spill_close(&err);
                json_decref(results);
                json_decref(error);
                buf_free(&out.text);
                buf_free(&err.text);
                buf_free(&out.pend);
                buf_free(&err.pend);
                pthread_mutex_lock(&S.lock);
                s->executing = false;
                if (!s->ended)
                        json_object_set_new(s->doc, "status", json_string("ready"));
                pthread_mutex_unlock(&S.lock);
                pthread_mutex_unlock(&s->exec_lock);
                session_unref(s);
                trace_end(); /* sandbox.exec */
                if (bad_context)
                        return diag_set(d, -EINVAL, "context_id", "%s", refusal);
                if (no_kernel)
                        return diag_set(d, -EIO, "language", "%s", refusal);
                return diag_set(d, -EMSGSIZE, "code", "the code is too large once encoded (over %u bytes)",
                                RUNNER_FRAME_MAX);
        }
        if (r < 0) {
                status = "killed";
                killed_reason = "runner_exited";
                pthread_mutex_lock(&S.lock);
                end_locked(s, "sandbox_exited");
                pthread_mutex_unlock(&S.lock);
                launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                state_kept = false;
        }
        drain(s->out_fd, &out, exec_id, sink, &listening); /* written before `done`, so already in the pipes */
        drain(s->err_fd, &err, exec_id, sink, &listening);
        double ms = (now_seconds() - start) * 1000.0;
        if (usage_known) /* sent before the code: answered long ago */
                usage_known = launch_usage_end(&first, &before) == 0;
        if (usage_known && launch_usage(s->sandbox_id, false, &after) < 0) {
                /* Ended during the execution: its last figures came with EXITED. */
                pthread_mutex_lock(&S.lock);
                usage_known = s->exit_usage_known;
                after.cpu_usec = s->exit_cpu_usec;
                after.memory_peak_bytes = s->exit_peak_bytes;
                pthread_mutex_unlock(&S.lock);
        }
        double cpu_s = usage_known && after.cpu_usec >= before.cpu_usec
                               ? (double)(after.cpu_usec - before.cpu_usec) / 1e6
                               : 0;
        uint64_t peak = usage_known ? after.memory_peak_bytes : 0;
        if (usage_known) {
                trace_attr_int("airlock.cpu_us", (long long)(cpu_s * 1e6));
                trace_attr_int("airlock.peak_memory_bytes", (long long)peak);
        }
        trace_end(); /* sandbox.exec */

        pthread_mutex_lock(&S.lock);
        s->executing = false;
        s->last_used = now_seconds();
        if (!s->ended)
                json_object_set_new(s->doc, "status", json_string("ready"));
        pthread_mutex_unlock(&S.lock);

        *ret = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:f, s:I, s:b, s:s?}", "execution_id", exec_id, "status",
                         status, "stdout", text_field(&out.text), "stderr", text_field(&err.text),
                         "results", results, "error", error, "duration_ms", ms, "execution_count", count,
                         "state_kept", state_kept, "killed_reason", killed_reason);
        if (*ret && !killed_reason)
                json_object_set_new(*ret, "killed_reason", json_null());
        if (*ret) {
                json_object_set_new(*ret, "cpu_seconds", usage_known ? json_real(cpu_s) : json_null());
                json_object_set_new(*ret, "peak_memory_bytes",
                                    usage_known ? json_integer((json_int_t)peak) : json_null());
        }
        if (*ret && out.dropped)
                json_object_set_new(*ret, "stdout_dropped_bytes", json_integer((json_int_t)out.dropped));
        if (*ret && err.dropped)
                json_object_set_new(*ret, "stderr_dropped_bytes", json_integer((json_int_t)err.dropped));
        spill_close(&out); /* before the paths: one that cannot be kept is not offered */
        spill_close(&err);
        pthread_mutex_lock(&S.lock);
        bool gone = s->ended; /* its workspace went with it: no path to offer */
        pthread_mutex_unlock(&S.lock);
        if (*ret && out.spill_path[0] && !gone)
                json_object_set_new(*ret, "stdout_path", json_string(out.spill_path));
        if (*ret && err.spill_path[0] && !gone)
                json_object_set_new(*ret, "stderr_path", json_string(err.spill_path));
        /* The runner names the context's language; without a `done` (killed), the request's,
         * else Python's when it named no context either (the runner's own default). */
        const char *lang = language[0]     ? language
                           : req->language ? req->language
                           : !req->context ? "python"
                                           : NULL;
        store_record_execution(&(struct exec_record){.session_id = s->id,
                                                     .exec_id = exec_id,
                                                     .tenant = session_doc_tenant(s->doc),
                                                     .interpreter = json_string_value(
                                                             json_object_get(s->doc, "interpreter")),
                                                     .language = lang,
                                                     .status = status,
                                                     .duration_ms = ms,
                                                     .code_sha256 = sha,
                                                     .code_size = req->code_len,
                                                     .usage_known = usage_known,
                                                     .cpu_seconds = cpu_s,
                                                     .peak_memory_bytes = peak});
        if (*ret)
                json_object_set_new(*ret, "language", lang ? json_string(lang) : json_null());
        metrics_execution(lang ? lang : "unknown", status, killed_reason, ms / 1000.0, cpu_s);
        buf_free(&out.text);
        buf_free(&err.text);
        buf_free(&out.pend);
        buf_free(&err.pend);
        pthread_mutex_unlock(&s->exec_lock);
        session_unref(s);
        return *ret ? 0 : diag_set(d, -ENOMEM, "", "out of memory");
}

/* What a refused execution's audit entry says instead of a status. */
static const char *refusal_of(int code) {
        switch (code) {
        case -ENOENT:
                return "session_not_found";
        case -ESRCH:
                return "session_ended";
        case -EINVAL:
                return "invalid_request";
        case -EMSGSIZE:
                return "payload_too_large";
        case -EIO:
        case -ETIMEDOUT:
                return "unavailable";
        default:
                return "internal";
        }
}

/* The execution, and its audit entry: the code's hash (computed once, for the store too)
 * and size, never the code; how it ended, or why it was refused. */
int session_execute(const char *id, const struct exec_req *req, const struct exec_sink *sink, json_t **ret,
                    struct diag *d) {
        char sha[65];
        sha256_hex(req->code, req->code_len, sha);
        trace_begin("session.execute", SPAN_INTERNAL);
        trace_attr("airlock.session_id", id);
        int r = execute(id, req, sha, sink, ret, d);
        if (r < 0)
                trace_error();
        trace_end();
        json_t *out = r == 0 ? *ret : NULL;
        /* The language it ran in, from the reply; the request's when there is no reply. */
        const char *lang = json_string_value(json_object_get(out, "language")) ?: req->language;
        audit_record(req->who, NULL, id, "execution",
                     json_pack("{s:s, s:I, s:s?, s:s?, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:s?}", "code_sha256", sha,
                               "code_size", (json_int_t)req->code_len, "language", lang, "context_id",
                               req->context, "execution_id", json_object_get(out, "execution_id"), "status",
                               out ? json_string_value(json_object_get(out, "status")) : refusal_of(r),
                               "duration_ms", json_object_get(out, "duration_ms"), "killed_reason",
                               json_object_get(out, "killed_reason"), "cpu_seconds",
                               json_object_get(out, "cpu_seconds"), "peak_memory_bytes",
                               json_object_get(out, "peak_memory_bytes"), "request_id", req->request_id));
        return r;
}

void sessions_reap(void) {
        double now = now_seconds();
        struct session *victims[64];
        size_t n = 0;
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list; s && n < 64; s = s->next) {
                if (s->ended || s->executing)
                        continue;
                const char *why = now >= s->expires_at                  ? "expired"
                                  : now - s->last_used >= s->idle_timeout ? "idle_timeout"
                                                                          : NULL;
                if (!why)
                        continue;
                s->refs++;
                end_locked(s, why);
                victims[n++] = s;
        }
        pthread_mutex_unlock(&S.lock);
        for (size_t i = 0; i < n; i++) {
                launch_signal(victims[i]->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                session_unref(victims[i]);
        }
}

void sessions_stop_all(void) {
        pool_drain();
        pthread_mutex_lock(&S.lock);
        for (struct session *s = S.list, *next; s; s = next) {
                next = s->next;
                if (!s->ended) {
                        launch_signal(s->sandbox_id, LP_SIG_KILL, LP_REASON_STOPPED);
                        end_locked(s, "shutdown");
                }
        }
        pthread_mutex_unlock(&S.lock);
}

/* A request to the runner other than an execution (a shell command, a task query). It
 * holds the session's execution lock: one reader of the control socket at a time. The
 * reply is the runner's terminal frame for our id, without "type" and "id". */
static int runner_call(const char *id, json_t *frame, const char *const *terminal, double timeout_s, json_t **ret,
                       char *ret_type, size_t type_cap, struct diag *d) {
        struct session *s = session_ref_or_why(id, d);
        if (!s)
                return d->code;
        pthread_mutex_lock(&s->exec_lock);
        pthread_mutex_lock(&S.lock);
        bool ended = s->ended;
        if (!ended)
                s->executing = true;
        pthread_mutex_unlock(&S.lock);
        int r = 0;
        if (ended) {
                r = diag_set(d, -ESRCH, "", "session %s has ended", id);
                goto out;
        }
        char req_id[40];
        random_id("req_", req_id, sizeof(req_id));
        json_object_set_new(frame, "id", json_string(req_id));
        r = send_frame(s, frame);
        if (r < 0) {
                r = diag_set(d, r == -EMSGSIZE ? -EMSGSIZE : -EIO, "", "cannot reach the session's runner");
                goto out;
        }
        double until = now_seconds() + timeout_s;
        for (;;) {
                bool eof = false;
                json_t *f = next_frame(s, &eof);
                if (f) {
                        const char *type = json_string_value(json_object_get(f, "type")) ?: "";
                        bool mine = !strcmp(json_string_value(json_object_get(f, "id")) ?: "", req_id);
                        bool final = false;
                        for (size_t i = 0; terminal[i]; i++)
                                final |= !strcmp(type, terminal[i]);
                        if (mine && final) {
                                snprintf(ret_type, type_cap, "%s", type);
                                json_object_del(f, "type");
                                json_object_del(f, "id");
                                *ret = f;
                                break;
                        }
                        json_decref(f);
                        continue;
                }
                double left = until - now_seconds();
                if (eof) {
                        r = diag_set(d, -ESRCH, "", "the session's runner exited");
                        break;
                }
                if (left <= 0) {
                        r = diag_set(d, -ETIMEDOUT, "", "the session's runner did not answer");
                        break;
                }
                struct pollfd p[3] = {{s->ctl_fd, POLLIN, 0}, {s->out_fd, POLLIN, 0}, {s->err_fd, POLLIN, 0}};
                poll(p, 3, (int)(left * 1000) + 1);
                discard_pending(s->out_fd); /* a command's output is captured by the runner */
                discard_pending(s->err_fd);
        }
out:
        pthread_mutex_lock(&S.lock);
        s->executing = false;
        s->last_used = now_seconds();
        pthread_mutex_unlock(&S.lock);
        pthread_mutex_unlock(&s->exec_lock);
        session_unref(s);
        return r;
}

/* runner_call() for a request answered at once (30 s at most); takes the frame. */
static int runner_ask(const char *id, json_t *frame, const char *const *terminal, json_t **ret, char type[32],
                      struct diag *d) {
        int r = frame ? runner_call(id, frame, terminal, 30, ret, type, 32, d) : diag_set(d, -ENOMEM, "", "out of memory");
        json_decref(frame);
        return r;
}

int session_command(const char *id, json_t *req, json_t **ret, bool *ret_background, struct diag *d) {
        double timeout = json_number_value(json_object_get(req, "timeout_seconds"));
        timeout = timeout > 0 ? timeout : 60;
        bool background = json_is_true(json_object_get(req, "background"));
        json_t *frame = json_pack("{s:s, s:O, s:I, s:b}", "type", "command", "command", json_object_get(req, "command"),
                                  "timeout_ms", (json_int_t)(timeout * 1000), "background", (int)background);
        if (json_object_get(req, "cwd"))
                json_object_set(frame, "cwd", json_object_get(req, "cwd"));
        if (json_object_get(req, "env"))
                json_object_set(frame, "env", json_object_get(req, "env"));
        static const char *const terminal[] = {"command_done", "task_started", "protocol_error", NULL};
        char type[32] = "";
        json_t *reply = NULL;
        /* A foreground command ends by its own timeout (plus the runner's kill grace). */
        int r = runner_call(id, frame, terminal, background ? 30 : timeout + 30, &reply, type, sizeof(type), d);
        json_decref(frame);
        if (r < 0)
                return r;
        if (!strcmp(type, "protocol_error")) {
                const char *code = json_string_value(json_object_get(reply, "code")) ?: "";
                r = diag_set(d,
                             !strcmp(code, "too_many_tasks") ? -EAGAIN
                             : !strcmp(code, "spawn_failed") ? -EIO /* out of processes, memory or /tmp */
                                                             : -EINVAL,
                             !strcmp(code, "bad_cwd") ? "cwd" : "", "%s",
                             json_string_value(json_object_get(reply, "message")) ?: code);
                json_decref(reply);
                return r;
        }
        *ret_background = !strcmp(type, "task_started");
        if (*ret_background)
                json_object_set_new(reply, "status", json_string("running"));
        json_object_del(reply, "truncated"); /* only ever set for a command echo of many MiB */
        *ret = reply;
        return 0;
}

int session_task(const char *id, const char *task_id, bool stop, json_t **ret, struct diag *d) {
        static const char *const terminal[] = {"task", "protocol_error", NULL};
        char type[32] = "";
        json_t *reply = NULL;
        int r = runner_ask(id, json_pack("{s:s, s:s}", "type", stop ? "task_stop" : "task_status", "task_id", task_id),
                           terminal, &reply, type, d);
        if (r < 0)
                return r;
        if (!strcmp(type, "protocol_error")) {
                const char *code = json_string_value(json_object_get(reply, "code")) ?: "";
                r = !strcmp(code, "task_not_found") ? diag_set(d, -ENOENT, "task_id", "no task %s", task_id)
                                                    : diag_set(d, -EINVAL, "", "%s",
                                                               json_string_value(json_object_get(reply, "message")) ?: code);
                json_decref(reply);
                return r;
        }
        json_object_del(reply, "truncated"); /* only ever set for a command echo of many MiB */
        *ret = reply;
        return 0;
}

/* ---- contexts ---- */

static json_t *context_json(json_t *entry) {
        return json_pack("{s:O, s:O, s:O}", "id", json_object_get(entry, "context"), "language",
                         json_object_get(entry, "language"), "execution_count", json_object_get(entry, "execution_count"));
}

int session_contexts(const char *id, json_t **ret, struct diag *d) {
        static const char *const terminal[] = {"contexts", "protocol_error", NULL};
        char type[32] = "";
        json_t *reply = NULL;
        int r = runner_ask(id, json_pack("{s:s}", "type", "list_contexts"), terminal, &reply, type, d);
        if (r < 0)
                return r;
        if (strcmp(type, "contexts") != 0) {
                json_decref(reply);
                return diag_set(d, -EPROTO, "", "the session's runner refused to list its contexts");
        }
        json_t *list = json_array(), *entry;
        size_t i;
        json_array_foreach(json_object_get(reply, "contexts"), i, entry) {
                json_array_append_new(list, context_json(entry));
        }
        json_decref(reply);
        *ret = json_pack("{s:o}", "contexts", list);
        return *ret ? 0 : diag_set(d, -ENOMEM, "", "out of memory");
}

int session_context_get(const char *id, const char *context, json_t **ret, struct diag *d) {
        json_t *all = NULL;
        int r = session_contexts(id, &all, d);
        if (r < 0)
                return r;
        json_t *entry;
        size_t i;
        *ret = NULL;
        json_array_foreach(json_object_get(all, "contexts"), i, entry) {
                if (!strcmp(json_string_value(json_object_get(entry, "id")) ?: "", context))
                        *ret = json_incref(entry);
        }
        json_decref(all);
        return *ret ? 0 : diag_set(d, -ENOENT, "context_id", "no context %s in session %s", context, id);
}

int session_context_op(const char *id, const char *op, const char *context, const char *language, json_t **ret,
                       struct diag *d) {
        json_t *frame = json_pack("{s:s, s:s}", "type", op, "context", context);
        if (frame && language)
                json_object_set_new(frame, "language", json_string(language));
        static const char *const terminal[] = {"ack", "protocol_error", NULL};
        char type[32] = "";
        json_t *reply = NULL;
        int r = runner_ask(id, frame, terminal, &reply, type, d);
        if (r < 0)
                return r;
        if (!strcmp(type, "protocol_error")) {
                const char *code = json_string_value(json_object_get(reply, "code")) ?: "";
                const char *msg = json_string_value(json_object_get(reply, "message")) ?: code;
                r = !strcmp(code, "context_not_found")    ? diag_set(d, -ENOENT, "context_id", "%s", msg)
                    : !strcmp(code, "context_exists")     ? diag_set(d, -EEXIST, "id", "%s", msg)
                    : !strcmp(code, "context_protected")  ? diag_set(d, -EPERM, "context_id", "%s", msg)
                    : !strcmp(code, "kernel_unavailable") ? diag_set(d, -EIO, "language", "%s", msg)
                                                          : diag_set(d, -EINVAL, "", "%s", msg);
                json_decref(reply);
                return r;
        }
        json_decref(reply);
        *ret = NULL;
        if (!strcmp(op, "delete_context"))
                return 0;
        return session_context_get(id, context, ret, d);
}
