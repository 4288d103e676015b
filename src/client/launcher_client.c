#include "client/launcher_client.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"

int lc_start(struct launcher_client *lc, struct diag *d) {
        char path[PATH_MAX];
        lc->fd = -1;
        lc->pid = -1;
        lc->pidfd = -1;
        lc->next_req = 1;
        if (airlock_program_path("airlock-launcher", X_OK, path, sizeof(path)) < 0)
                return diag_set(d, -ENOENT, "launcher", "airlock-launcher not found next to this program");
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return diag_set(d, -errno, "launcher", "socketpair: %m");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                return diag_set(d, -e, "launcher", "fork: %s", strerror(e));
        }
        if (pid == 0) {
                /* fd 3 is the client socket by convention; nothing else crosses over. */
                if (dup2(sv[1], 3) < 0)
                        _exit(127);
                syscall(SYS_close_range, 4U, ~0U, 0U);
                char *const argv[] = {(char *)"airlock-launcher", NULL};
                char *const envp[] = {NULL};
                execve(path, argv, envp);
                dprintf(2, "airlock: cannot start %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        close(sv[1]);
        lc->fd = sv[0];
        lc->pid = pid;
        lc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        return 0;
}

static int send_frame(struct launcher_client *lc, uint16_t type, const void *body, size_t len, const void *extra,
                      size_t extra_len, const int *fds, size_t nfds) {
        char frame[LP_FRAME_MAX];
        int n = lp_encode(type, lc->next_req++, body, len, extra, extra_len, frame, sizeof(frame));
        if (n < 0)
                return n;
        return fd_send(lc->fd, frame, (size_t)n, fds, nfds);
}

static int recv_frame(struct launcher_client *lc, struct lp_frame *f, char *buf, size_t cap, int *fds,
                      size_t *nfds, size_t max_fds, struct diag *d) {
        ssize_t n = fd_recv(lc->fd, buf, cap, fds, nfds, max_fds);
        if (n == 0)
                return diag_set(d, -ECONNRESET, "launcher", "the launcher exited (see its message above)");
        if (n < 0)
                return diag_set(d, (int)n, "launcher", "reading from the launcher: %s", strerror((int)-n));
        int r = lp_decode(buf, (size_t)n, f, d);
        if (r < 0) {
                for (size_t i = 0; i < *nfds; i++)
                        close(fds[i]);
                return r;
        }
        return f->hdr.type;
}

static int error_frame(const struct lp_frame *f, struct diag *d) {
        struct lp_error e;
        memcpy(&e, f->body, sizeof(e));
        e.field[sizeof(e.field) - 1] = '\0';
        e.msg[sizeof(e.msg) - 1] = '\0';
        return diag_set(d, e.code < 0 ? e.code : -EIO, e.field, "%s", e.msg);
}

int lc_hello(struct launcher_client *lc, uint32_t flags, struct lp_host_report *ret, struct diag *d) {
        struct lp_hello h = {.client_version = LP_VERSION, .flags = flags};
        int r = send_frame(lc, LP_HELLO, &h, sizeof(h), NULL, 0, NULL, 0);
        if (r < 0)
                return diag_set(d, r, "launcher", "the launcher did not start");
        char buf[LP_FRAME_MAX];
        struct lp_frame f;
        int fds[FD_PASS_MAX];
        size_t nfds = 0;
        do /* a launcher never sends EGRESS before HELLO_OK; skipped all the same */
                r = recv_frame(lc, &f, buf, sizeof(buf), fds, &nfds, 0, d);
        while (r == LP_EGRESS);
        if (r < 0)
                return r;
        if (r == LP_ERROR)
                return error_frame(&f, d);
        if (r != LP_HELLO_OK)
                return diag_set(d, -EPROTO, "launcher", "unexpected frame %d", r);
        memcpy(ret, f.body, sizeof(*ret));
        ret->notes[sizeof(ret->notes) - 1] = '\0';
        return 0;
}

int lc_create(struct launcher_client *lc, const struct lp_create *c, const char *env, size_t env_len, int code_fd,
              struct lp_created *ret, int *ret_stdout, int *ret_stderr, struct diag *d) {
        int r = send_frame(lc, LP_CREATE, c, sizeof(*c), env, env_len, &code_fd, 1);
        if (r < 0)
                return diag_set(d, r, "launcher", "sending the request: %s", strerror(-r));
        char buf[LP_FRAME_MAX];
        struct lp_frame f;
        int fds[FD_PASS_MAX];
        size_t nfds = 0;
        /* An allowlist sandbox's first connections may be reported before its CREATED:
         * those events are the run loop's business, not the reply. */
        do {
                nfds = 0;
                r = recv_frame(lc, &f, buf, sizeof(buf), fds, &nfds, 2, d);
        } while (r == LP_EGRESS && nfds == 0);
        if (r < 0)
                return r;
        if (r == LP_ERROR)
                return error_frame(&f, d);
        /* The CLI never asks for a control socket: exactly stdout and stderr. */
        if (r != LP_CREATED || nfds != 2) {
                for (size_t i = 0; i < nfds; i++)
                        close(fds[i]);
                return diag_set(d, -EPROTO, "launcher", "unexpected reply %d with %zu fds", r, nfds);
        }
        memcpy(ret, f.body, sizeof(*ret));
        *ret_stdout = fds[0];
        *ret_stderr = fds[1];
        return 0;
}

int lc_signal(struct launcher_client *lc, uint64_t sandbox_id, uint8_t action, uint8_t reason) {
        struct lp_signal s;
        memset(&s, 0, sizeof(s));
        s.sandbox_id = sandbox_id;
        s.action = action;
        s.reason = reason;
        return send_frame(lc, LP_SIGNAL, &s, sizeof(s), NULL, 0, NULL, 0);
}

int lc_recv(struct launcher_client *lc, struct lp_frame *f, char *buf, size_t cap, struct diag *d) {
        int fds[FD_PASS_MAX];
        size_t nfds = 0;
        int r = recv_frame(lc, f, buf, cap, fds, &nfds, 0, d);
        if (r == LP_ERROR)
                return error_frame(f, d);
        return r;
}

void lc_stop(struct launcher_client *lc) {
        lc->fd = safe_close(lc->fd);
        if (lc->pid > 0) {
                /* EOF tells the launcher to clean up and exit; give it up to 5 s to do so
                 * (it kills and removes every sandbox first). */
                if (lc->pidfd >= 0) {
                        struct pollfd p = {.fd = lc->pidfd, .events = POLLIN};
                        while (poll(&p, 1, 5000) < 0 && errno == EINTR)
                                ;
                        (void)waitpid(lc->pid, NULL, WNOHANG);
                } else {
                        for (int i = 0; i < 5000 && waitpid(lc->pid, NULL, WNOHANG) == 0; i++)
                                usleep(1000);
                }
                lc->pid = -1;
        }
        lc->pidfd = safe_close(lc->pidfd);
}

int lc_drop_privileges(struct diag *d) {
        if (geteuid() != 0)
                return 0;
        /* Not `nobody`: any host process running as nobody could signal us. A uid of its
         * own, reserved beside the sandboxes' range (docs/security.md). */
        const uid_t u = AIRLOCK_CLIENT_UID;
        if (setgroups(0, NULL) < 0 || setresgid(u, u, u) < 0 || setresuid(u, u, u) < 0)
                return diag_set(d, -errno, "privileges", "cannot drop to uid %u: %m", (unsigned)u);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        return 0;
}
