/* airlock-launcher: see launcher.h. This file is the process shell: hardening at start,
 * the request table, and the event loop. sandbox.c builds and tears down sandboxes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "launcher/launcher.h"
#include "sandbox/host_probe.h"
#include "sandbox/seccomp_profile.h"

#define CLIENT_FD 3
#define MAX_PROTOCOL_ERRORS 16

extern char **environ;

uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void launcher_send(struct launcher *L, uint16_t type, uint64_t req_id, const void *body, size_t len, const int *fds,
                   size_t nfds) {
        char frame[LP_FRAME_MAX];
        int n = lp_encode(type, req_id, body, len, NULL, 0, frame, sizeof(frame));
        if (n < 0)
                return;
        /* A client that cannot take a reply is gone; the EOF on its socket ends us. */
        (void)fd_send(L->client_fd, frame, (size_t)n, fds, nfds);
}

void launcher_reply_error(struct launcher *L, uint64_t req_id, const struct diag *d) {
        struct lp_error e;
        memset(&e, 0, sizeof(e));
        e.code = d->code ? d->code : -EIO;
        snprintf(e.field, sizeof(e.field), "%s", d->field);
        snprintf(e.msg, sizeof(e.msg), "%s", d->msg);
        launcher_send(L, LP_ERROR, req_id, &e, sizeof(e), NULL, 0);
}

void launcher_unlink(struct launcher *L, struct sandbox *sb) {
        for (struct sandbox **p = &L->sandboxes; *p; p = &(*p)->next)
                if (*p == sb) {
                        *p = sb->next;
                        L->nsandboxes--;
                        return;
                }
}

static struct sandbox *find_sandbox(struct launcher *L, uint64_t id) {
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next)
                if (sb->id == id && sb->state != SB_DONE)
                        return sb;
        return NULL;
}

/* HELLO_OK, then (supervisor, after a daemon restart) one ATTACHED per live session
 * sandbox, carrying our copies of its stdout, stderr and control socket. */
static void send_hello_ok(struct launcher *L, uint64_t req_id) {
        uint32_t n = 0;
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next)
                n += sb->state == SB_RUNNING && sb->keep[2] >= 0;
        L->host.attach_count = n;
        launcher_send(L, LP_HELLO_OK, req_id, &L->host, sizeof(L->host), NULL, 0);
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next) {
                if (sb->state != SB_RUNNING || sb->keep[2] < 0)
                        continue;
                struct lp_attached a;
                memset(&a, 0, sizeof(a));
                a.sandbox_id = sb->id;
                a.isolation = sb->isolation;
                a.age_ms = now_ms() - sb->started_ms;
                launcher_send(L, LP_ATTACHED, req_id, &a, sizeof(a), sb->keep, 3);
        }
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

/* A sandbox's CPU and memory from its cgroup; the peak starts afresh when asked. */
static void send_usage(struct launcher *L, uint64_t req_id, const struct lp_usage *u) {
        struct diag d = {0};
        struct sandbox *sb = find_sandbox(L, u->sandbox_id);
        if (!sb || sb->state == SB_DONE) {
                diag_set(&d, -ESRCH, "sandbox_id", "no running sandbox %llu", (unsigned long long)u->sandbox_id);
                launcher_reply_error(L, req_id, &d);
                return;
        }
        struct lp_usage_ok ok;
        memset(&ok, 0, sizeof(ok));
        struct cg_stats cs = {0};
        if (sb->cg && cg_read_usage(sb->cg, &cs) == 0) {
                ok.cpu_usec = cs.cpu_usec;
                ok.memory_bytes = cs.memory_current_bytes;
                ok.memory_peak_bytes = cs.memory_peak_bytes;
                if (u->flags & LP_USAGE_RESET_PEAK)
                        ok.peak_resettable = cg_reset_peak(sb->cg) == 0;
        }
        launcher_send(L, LP_USAGE_OK, req_id, &ok, sizeof(ok), NULL, 0);
}

/* One request from the client. Anything malformed is answered with ERROR and counted;
 * too many and the client is treated as hostile and dropped. */
static int handle_request(struct launcher *L, const char *pkt, size_t len, int *fds, size_t nfds) {
        struct diag d = {0};
        struct lp_frame f;
        uint64_t req_id = 0;
        if (lp_decode(pkt, len, &f, &d) < 0)
                goto protocol_error;
        req_id = f.hdr.req_id;
        if (!L->hello_done && f.hdr.type != LP_HELLO) {
                diag_set(&d, -EPROTO, "type", "the first frame must be HELLO");
                goto protocol_error;
        }
        switch (f.hdr.type) {
        case LP_HELLO:
                if (L->hello_done) {
                        diag_set(&d, -EPROTO, "type", "HELLO may be sent once");
                        goto protocol_error;
                }
                if (nfds)
                        break;
                struct lp_hello h;
                memcpy(&h, f.body, sizeof(h));
                if (lp_validate_hello(&h, &d) < 0)
                        goto protocol_error;
                L->hello_done = true;
                if (h.flags & LP_HELLO_FULL_PROBE)
                        host_probe_runsc_version(&L->host);
                send_hello_ok(L, req_id);
                return 0;
        case LP_CREATE: {
                struct lp_create c;
                memcpy(&c, f.body, sizeof(c));
                const char *env = (const char *)f.body + sizeof(c);
                size_t env_len = f.body_len - sizeof(c);
                if (nfds != 1) {
                        diag_set(&d, -EPROTO, "fds", "CREATE carries exactly one fd (the code), got %zu", nfds);
                        goto protocol_error;
                }
                if (lp_validate_create(&c, env, env_len, &d) < 0) {
                        close_fds(fds, nfds);
                        launcher_reply_error(L, req_id, &d);
                        return 0;
                }
                struct sandbox *sb = NULL;
                if (sandbox_start(L, req_id, &c, env, env_len, fds[0], &sb, &d) < 0) { /* env: env + allow blobs */
                        close_fds(fds, nfds);
                        launcher_reply_error(L, req_id, &d);
                        return 0;
                }
                close_fds(fds, nfds);
                return 0;
        }
        case LP_SIGNAL: {
                if (nfds)
                        break;
                struct lp_signal s;
                memcpy(&s, f.body, sizeof(s));
                if (lp_validate_signal(&s, &d) < 0) {
                        launcher_reply_error(L, req_id, &d);
                        return 0;
                }
                struct sandbox *sb = find_sandbox(L, s.sandbox_id);
                if (!sb) {
                        /* Not an error worth an answer: the sandbox may have just exited and
                         * its EXITED frame is on its way. */
                        return 0;
                }
                if (s.action == LP_SIG_INTERRUPT)
                        sandbox_interrupt(L, sb, s.reason);
                else if (s.action == LP_SIG_INTERRUPT_ONLY)
                        sandbox_interrupt_only(sb);
                else
                        sandbox_kill(L, sb, s.reason ? s.reason : LP_REASON_STOPPED);
                return 0;
        }
        case LP_FILE: {
                if (nfds)
                        break;
                struct lp_file fr;
                memcpy(&fr, f.body, sizeof(fr));
                if (lp_validate_file(&fr, &d) < 0) {
                        launcher_reply_error(L, req_id, &d);
                        return 0;
                }
                files_handle(L, req_id, &fr);
                return 0;
        }
        case LP_USAGE: {
                if (nfds)
                        break;
                struct lp_usage u;
                memcpy(&u, f.body, sizeof(u));
                if (lp_validate_usage(&u, &d) < 0) {
                        launcher_reply_error(L, req_id, &d);
                        return 0;
                }
                send_usage(L, req_id, &u);
                return 0;
        }
        default:
                diag_set(&d, -EPROTO, "type", "frame type %u is not a request", f.hdr.type);
                goto protocol_error;
        }
        diag_set(&d, -EPROTO, "fds", "this frame carries no fds");
protocol_error:
        close_fds(fds, nfds);
        launcher_reply_error(L, req_id, &d);
        if (++L->protocol_errors >= MAX_PROTOCOL_ERRORS)
                return -EPROTO;
        return 0;
}

/* We are a child subreaper: a sandbox's pid-namespace init and anything else its
 * backend leaves behind is re-parented to us, not to the host's init (which may never
 * reap). Reap everything; a direct child's exit is its sandbox's exit. */
static int spawn_daemon(struct launcher *L);

static void reap_children(struct launcher *L) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (L->supervise && pid == L->daemon_pid) {
                        L->daemon_pid = -1;
                        if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
                                /* Bad usage or configuration: restarting cannot help. */
                                L->stopping = true;
                                L->exit_status = 2;
                        }
                        if (!L->stopping) {
                                fprintf(stderr, "{\"level\":\"error\",\"msg\":\"the daemon exited; restarting it\","
                                                "\"status\":%d}\n",
                                        status);
                                if (spawn_daemon(L) < 0) {
                                        L->stopping = true; /* crash loop: give up (the loop ends) */
                                        L->exit_status = 1;
                                }
                        }
                        continue;
                }
                for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next) {
                        if (sb->pid == pid && sb->state != SB_DONE) {
                                sandbox_on_exit(L, sb, status);
                                break;
                        }
                        if (sb->net_pid == pid) { /* a public sandbox's slirp4netns */
                                net_on_exit(L, sb, status);
                                break;
                        }
                        if (sb->net_cfg_pid == pid) { /* its set-up child: what it says arrives on net_cfg */
                                sb->net_cfg_pid = -1;
                                break;
                        }
                }
        }
}

static void kill_everything(struct launcher *L) {
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next)
                if (sb->state != SB_DONE)
                        sandbox_kill(L, sb, LP_REASON_STOPPED);
        /* Reap what we killed so cgroups and uid slots are released before we exit. */
        uint64_t until = now_ms() + 3000;
        while (L->sandboxes && now_ms() < until) {
                reap_children(L);
                if (L->sandboxes)
                        usleep(5000);
        }
        /* Not reaped in time: at least nothing of theirs runs on (killing waits here). */
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next)
                if (sb->cg)
                        (void)cg_kill_all(sb->cg);
        graves_flush(L);
        /* As the subreaper we also hold every orphan of the sandboxes (a pid-namespace
         * init still dying, say). Leaving before they are reaped would hand them to the
         * host's init, which may never reap them: wait, bounded, until none is left. */
        while (now_ms() < until) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);
                if (pid < 0 && errno != EINTR)
                        break; /* ECHILD: no child at all */
                if (pid == 0)
                        usleep(2000);
        }
}

/* A sandbox's cgroup and gVisor bundle are named after the launcher that made it
 * (sb-<pid>-<n>, airlock-<pid>-<n>). Anything whose launcher is gone (SIGKILL, a crash,
 * power loss) is killed and removed, so leftovers never accumulate or clash. */
static bool launcher_alive(unsigned long long pid) {
        if (pid == (unsigned long long)getpid())
                return false; /* a previous launcher with our pid: certainly dead */
        char path[64], comm[32];
        snprintf(path, sizeof(path), "/proc/%llu/comm", pid);
        if (read_small_file(path, comm, sizeof(comm)) < 0)
                return false;
        return strncmp(comm, "airlock-launche", 15) == 0; /* comm holds 15 characters */
}

static bool stale_name(const char *name, const char *prefix) {
        size_t n = strlen(prefix);
        if (strncmp(name, prefix, n) != 0)
                return false;
        char pid[16];
        size_t k = strspn(name + n, "0123456789");
        if (k == 0 || k >= sizeof(pid) || name[n + k] != '-')
                return false;
        memcpy(pid, name + n, k);
        pid[k] = '\0';
        unsigned long long v;
        return parse_u64(pid, &v) == 0 && !launcher_alive(v);
}

static void remove_stale_cgroup(const char *name, void *userdata) {
        const struct cg_host *h = userdata;
        struct cg *c = NULL;
        if (stale_name(name, "sb-") && cg_adopt(h, name, &c) == 0)
                cg_destroy(c);
}

static void sweep_leftovers(struct launcher *L) {
        if (L->cg.mode != CG_NONE)
                (void)cg_for_each_child(&L->cg, remove_stale_cgroup, &L->cg);
        DIR *d = opendir(LAUNCHER_STATE_DIR);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                char path[512];
                if (e->d_type == DT_DIR && stale_name(e->d_name, "airlock-") &&
                    strfmt(path, sizeof(path), LAUNCHER_STATE_DIR "/%s", e->d_name) > 0)
                        remove_tree(path);
        }
        closedir(d);
}

static void drop_client(struct launcher *L) {
        if (L->client_fd >= 0) {
                epoll_ctl(L->epoll_fd, EPOLL_CTL_DEL, L->client_fd, NULL);
                close(L->client_fd);
        }
        L->client_fd = -1;
        L->client_gen++;
        L->hello_done = false;
        L->protocol_errors = 0;
}

/* Start (or restart) the daemon as our child on a fresh socketpair. At most
 * SUPERVISE_MAX_RESTARTS in SUPERVISE_RESTART_WINDOW_MS: past that it is a crash loop. */
static int spawn_daemon(struct launcher *L) {
        uint64_t now = now_ms();
        if (L->restarts[0] && now - L->restarts[0] < SUPERVISE_RESTART_WINDOW_MS) {
                fprintf(stderr, "{\"level\":\"error\",\"msg\":\"the daemon keeps exiting; stopping\"}\n");
                return -EAGAIN;
        }
        memmove(L->restarts, L->restarts + 1, sizeof(L->restarts) - sizeof(L->restarts[0]));
        L->restarts[SUPERVISE_MAX_RESTARTS - 1] = now;
        drop_client(L);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        char *argv[64];
        int argc = 0;
        argv[argc++] = (char *)"airlock serve";
        argv[argc++] = (char *)"--launcher-fd";
        argv[argc++] = (char *)"3";
        for (int i = 0; i < L->ndaemon_args && argc < 63; i++)
                argv[argc++] = L->daemon_args[i];
        argv[argc] = NULL;
        pid_t pid = fork();
        if (pid < 0) {
                close(sv[0]);
                close(sv[1]);
                return -errno;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (dup2(sv[1], 3) < 0)
                        _exit(127);
                int keep[] = {3};
                close_fds_except(4, keep, 0);
                execve(L->daemon_path, argv, L->daemon_env);
                _exit(127);
        }
        close(sv[1]);
        L->daemon_pid = pid;
        L->client_fd = sv[0];
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.u64 = (uint64_t)L->client_fd;
        return epoll_ctl(L->epoll_fd, EPOLL_CTL_ADD, L->client_fd, &ev) < 0 ? -errno : 0;
}

/* A message for a JSON log line's string: what could end or escape it becomes '?'. The
 * launcher has no JSON library (docs/architecture.md), and a cgroup path may hold a
 * backslash (systemd's escapes). */
static void log_safe(char *s) {
        for (; *s; s++)
                if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
                        *s = '?';
}

static int setup(struct launcher *L) {
        /* Nobody may ptrace or read our memory through /proc, and nothing we create is
         * readable by others unless we say so. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        umask(077);
        /* Our own session: a ^C in the terminal reaches the client, which asks us to
         * interrupt; it must not kill us and, through us, every sandbox. As the service's
         * supervisor we are the top process, and a ^C is meant for us. */
        if (!L->supervise)
                setsid();
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        if (L->supervise) {
                /* The daemon's settings from our caller's environment; nothing else passes. */
                static const char *const names[] = {"AIRLOCK_API_KEY", "AIRLOCK_LISTEN", "AIRLOCK_DATA_DIR",
                                                    "AIRLOCK_POOL_SIZE", "AIRLOCK_TENANT_MAX_SESSIONS",
                                                    "AIRLOCK_TENANT_MAX_MEMORY_MB", "AIRLOCK_SECRETS_KEY_FILE",
                                                    "AIRLOCK_TLS_CERT_FILE", "AIRLOCK_TLS_KEY_FILE",
                                                    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
                                                    "AIRLOCK_AGENTCORE_ALLOW_UNSIGNED_LOOPBACK",
                                                    "AIRLOCK_MCP_ALLOWED_ORIGINS"};
                _Static_assert(ARRAY_SIZE(names) < ARRAY_SIZE(((struct launcher *)0)->daemon_env), "room for NULL");
                int n = 0;
                for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                        const char *v = getenv(names[i]);
                        if (!v)
                                continue;
                        if (strlen(v) > 4096) {
                                fprintf(stderr, "airlock-launcher: %s is too long\n", names[i]);
                                return -E2BIG;
                        }
                        if (asprintf(&L->daemon_env[n], "%s=%s", names[i], v) < 0)
                                return -ENOMEM;
                        n++;
                }
                L->daemon_env[n] = NULL;
                runtime_find_data_dir(L);
        }
        static char *empty_env[] = {NULL};
        environ = empty_env;
        if (L->supervise) {
                if (close_fds_except(3, NULL, 0) < 0)
                        return -errno;
                if (airlock_program_path("airlock-daemon", X_OK, L->daemon_path, sizeof(L->daemon_path)) < 0) {
                        fprintf(stderr, "airlock-launcher: airlock-daemon not found next to the launcher\n");
                        return -ENOENT;
                }
        } else {
                int keep[] = {CLIENT_FD};
                if (close_fds_except(3, keep, 1) < 0)
                        return -errno;
                struct stat st;
                if (fstat(CLIENT_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                        fprintf(stderr, "airlock-launcher: fd %d is not the client socket; run me through `airlock`\n",
                                CLIENT_FD);
                        return -EBADF;
                }
                L->client_fd = CLIENT_FD;
                if (fcntl(CLIENT_FD, F_SETFD, FD_CLOEXEC) < 0)
                        return -errno;
        }

        host_probe(&L->host, &L->cg);
        if (L->supervise && L->cg.mode != CG_NONE) {
                /* Best effort, a weight is no safeguard: without it (no cpu controller, say)
                 * we run where we were started, and say so. */
                struct diag wd = {0};
                int wr = cg_host_join_cpu_group(&L->cg, LAUNCHER_SERVICE_CPU_GROUP, LAUNCHER_SERVICE_CPU_WEIGHT,
                                                getpid(), &wd);
                if (wr < 0) {
                        log_safe(wd.msg);
                        fprintf(stderr, "{\"level\":\"warn\",\"msg\":\"cannot weigh the service above the sandboxes\","
                                        "\"error\":\"%s\",\"detail\":\"%s\"}\n",
                                strerror(-wr), wd.msg);
                } else if (wr > 0) {
                        log_safe(wd.msg);
                        fprintf(stderr, "{\"level\":\"info\",\"msg\":\"the service keeps its cgroup\",\"detail\":\"%s\"}\n",
                                wd.msg);
                }
        }
        if (geteuid() == 0 && mkdir(LAUNCHER_STATE_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (geteuid() == 0)
                sweep_leftovers(L);
        /* The shim, from a trusted place (not the caller's environment, which we dropped). */
        if (airlock_program_path("airlock-init", R_OK, L->init_path, sizeof(L->init_path)) < 0) {
                fprintf(stderr, "airlock-launcher: cannot find airlock-init next to the launcher\n");
                return -ENOENT;
        }
        /* The allowlist proxy; a launcher without it refuses that mode only. */
        char egress_path[512];
        L->egress_fd = -1;
        if (airlock_program_path("airlock-egress", R_OK, egress_path, sizeof(egress_path)) == 0)
                L->egress_fd = open(egress_path, O_RDONLY | O_CLOEXEC);
        L->host.egress = L->egress_fd >= 0 && L->host.is_root;
        struct diag d = {0};
        if (seccomp_profile_compile(&L->seccomp_bpf, &L->seccomp_len, &d) < 0) {
                fprintf(stderr, "airlock-launcher: seccomp profile: %s\n", d.msg);
                return d.code;
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGPIPE);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        L->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        L->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        L->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (L->signal_fd < 0 || L->epoll_fd < 0 || L->timer_fd < 0)
                return -errno;
        struct itimerspec its = {.it_interval = {0, LAUNCHER_TICK_MS * 1000000L},
                                 .it_value = {0, LAUNCHER_TICK_MS * 1000000L}};
        if (timerfd_settime(L->timer_fd, 0, &its, NULL) < 0)
                return -errno;
        int fds[] = {L->signal_fd, L->timer_fd, L->client_fd};
        for (size_t i = 0; i < ARRAY_SIZE(fds) - (L->supervise ? 1 : 0); i++) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
                ev.data.u64 = (uint64_t)fds[i];
                if (epoll_ctl(L->epoll_fd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
                        return -errno;
        }
        if (L->supervise)
                return spawn_daemon(L);
        return 0;
}

/* epoll data: small values are our own fds; sandbox fds carry (sandbox id << 32 | fd)
 * so a stale event for a freed sandbox is recognised, not dereferenced. */
static struct sandbox *sandbox_for_event(struct launcher *L, uint64_t data, int *fd) {
        *fd = (int)(data & 0xffffffffu);
        uint64_t id = data >> 32;
        for (struct sandbox *sb = L->sandboxes; sb; sb = sb->next)
                if ((sb->id & 0xffffffffu) == id)
                        return sb;
        return NULL;
}

static int loop(struct launcher *L) {
        for (;;) {
                struct epoll_event evs[32];
                int n = epoll_wait(L->epoll_fd, evs, 32, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        uint64_t data = evs[i].data.u64;
                        if (data == (uint64_t)L->client_fd) {
                                char pkt[LP_FRAME_MAX];
                                int fds[FD_PASS_MAX];
                                size_t nfds = 0;
                                ssize_t len = fd_recv(L->client_fd, pkt, sizeof(pkt), fds, &nfds, FD_PASS_MAX);
                                if (len == 0 || (len < 0 && len != -EAGAIN && len != -EMSGSIZE)) {
                                        if (!L->supervise)
                                                return 0; /* client gone */
                                        /* The daemon went away: its sandboxes stay; it is
                                         * restarted when we reap it. */
                                        drop_client(L);
                                        if (L->daemon_pid > 0)
                                                kill(L->daemon_pid, SIGTERM);
                                        continue;
                                }
                                if (len == -EMSGSIZE) {
                                        struct diag d = {0};
                                        diag_set(&d, -EMSGSIZE, "frame", "frame or fd list too large");
                                        launcher_reply_error(L, 0, &d);
                                        if (++L->protocol_errors >= MAX_PROTOCOL_ERRORS) {
                                                if (!L->supervise)
                                                        return -EPROTO;
                                                drop_client(L); /* restart the misbehaving daemon */
                                                if (L->daemon_pid > 0)
                                                        kill(L->daemon_pid, SIGKILL);
                                        }
                                        continue;
                                }
                                if (len > 0 && handle_request(L, pkt, (size_t)len, fds, nfds) < 0) {
                                        if (!L->supervise)
                                                return -EPROTO;
                                        drop_client(L); /* a misbehaving daemon is restarted */
                                        if (L->daemon_pid > 0)
                                                kill(L->daemon_pid, SIGKILL);
                                }
                        } else if (data == (uint64_t)L->signal_fd) {
                                struct signalfd_siginfo si;
                                while (read(L->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                        if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT &&
                                            si.ssi_signo != SIGHUP)
                                                continue;
                                        if (!L->supervise)
                                                return 0;
                                        /* Let the daemon stop first (it ends its sessions). */
                                        L->stopping = true;
                                        L->stop_deadline_ms = now_ms() + 10000;
                                        if (L->daemon_pid > 0)
                                                kill(L->daemon_pid, SIGTERM);
                                }
                                reap_children(L);
                                if (L->supervise && L->stopping && L->daemon_pid <= 0)
                                        return 0;
                        } else if (data == (uint64_t)L->timer_fd) {
                                uint64_t ticks;
                                (void)!read(L->timer_fd, &ticks, sizeof(ticks));
                                if (L->supervise && L->stopping && L->daemon_pid > 0 &&
                                    now_ms() > L->stop_deadline_ms)
                                        kill(L->daemon_pid, SIGKILL);
                                for (struct sandbox *sb = L->sandboxes, *next; sb; sb = next) {
                                        next = sb->next;
                                        sandbox_tick(L, sb);
                                }
                                graves_tick(L);
                        } else {
                                int fd;
                                struct sandbox *sb = sandbox_for_event(L, data, &fd);
                                if (!sb)
                                        continue;
                                sandbox_on_readable(L, sb, fd);
                        }
                }
        }
}

int main(int argc, char **argv) {
        struct launcher L = {.client_fd = -1, .epoll_fd = -1, .timer_fd = -1, .signal_fd = -1, .next_id = 1,
                             .daemon_pid = -1};
        /* `airlock-launcher --supervise [DAEMON ARGS...]` is `airlock serve`: we start the
         * daemon and outlive it. Without arguments we serve one client on fd 3. */
        if (argc >= 2 && !strcmp(argv[1], "--supervise")) {
                L.supervise = true;
                L.daemon_args = argv + 2;
                L.ndaemon_args = argc - 2;
        } else if (argc != 1) {
                fprintf(stderr, "airlock-launcher takes no arguments; it is started by `airlock`\n");
                return 2;
        }
        /* Every signal to its default action: an ignored one (a service started from a shell
         * background job ignores SIGINT, nohup SIGHUP) would be inherited by the daemon, the
         * helpers and every sandbox's program across exec, and an interrupt of an execution
         * would then do nothing. Signals we wait for are blocked and read in setup(). */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)signal(sig, SIG_DFL);
        int r = setup(&L);
        if (r < 0) {
                fprintf(stderr, "airlock-launcher: setup failed: %s\n", strerror(-r));
                return 1;
        }
        r = loop(&L);
        for (int i = 0; L.daemon_env[i]; i++)
                free(L.daemon_env[i]);
        if (L.supervise && L.daemon_pid > 0) {
                kill(L.daemon_pid, SIGKILL);
                waitpid(L.daemon_pid, NULL, 0);
        }
        kill_everything(&L);
        free(L.seccomp_bpf);
        return r < 0 ? 1 : L.exit_status;
}
