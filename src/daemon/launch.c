/* launch: the daemon's thread-safe side of launch_proto. Requests are sent under one
 * mutex; one dispatcher thread receives every frame and hands a reply to the request
 * waiting for its req_id, or an EXITED event to the session layer. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "client/launcher_client.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"


static struct {
        struct launcher_client lc;
        struct lp_host_report host;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct waiter *waiters;
        bool dead;
        pthread_t thread;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void fail_all_locked(void) {
        L.dead = true;
        for (struct waiter *w = L.waiters; w; w = w->next) {
                w->reply->type = -ECONNRESET;
                w->done = true;
        }
        pthread_cond_broadcast(&L.cond);
}

static void *dispatch(void *arg) {
        (void)arg;
        for (;;) {
                char buf[LP_FRAME_MAX];
                int fds[FD_PASS_MAX];
                size_t nfds = 0;
                ssize_t n = fd_recv(L.lc.fd, buf, sizeof(buf), fds, &nfds, 3);
                if (n <= 0) {
                        pthread_mutex_lock(&L.lock);
                        fail_all_locked();
                        pthread_mutex_unlock(&L.lock);
                        return NULL;
                }
                struct lp_frame f;
                struct diag d = {0};
                if (lp_decode(buf, (size_t)n, &f, &d) < 0) {
                        for (size_t i = 0; i < nfds; i++)
                                close(fds[i]);
                        continue;
                }
                if (f.hdr.type == LP_EXITED) {
                        struct lp_exited ex;
                        memcpy(&ex, f.body, sizeof(ex));
                        session_on_exited(&ex);
                        continue;
                }
                if (f.hdr.type == LP_EGRESS) {
                        struct lp_egress e;
                        memcpy(&e, f.body, sizeof(e));
                        for (size_t i = 0; i < nfds; i++)
                                close(fds[i]);
                        if (lp_validate_egress(&e, &d) == 0)
                                session_on_egress(&e);
                        continue;
                }
                pthread_mutex_lock(&L.lock);
                struct waiter *w = L.waiters;
                while (w && w->req_id != f.hdr.req_id)
                        w = w->next;
                if (!w) {
                        pthread_mutex_unlock(&L.lock);
                        for (size_t i = 0; i < nfds; i++)
                                close(fds[i]);
                        continue;
                }
                struct lreply *r = w->reply;
                r->type = f.hdr.type;
                if (f.hdr.type == LP_ERROR) {
                        memcpy(&r->err, f.body, sizeof(r->err));
                        r->err.field[sizeof(r->err.field) - 1] = '\0';
                        r->err.msg[sizeof(r->err.msg) - 1] = '\0';
                } else {
                        memcpy(r->body, f.body, f.body_len < sizeof(r->body) ? f.body_len : sizeof(r->body));
                }
                memcpy(r->fds, fds, nfds * sizeof(int));
                r->nfds = nfds;
                w->done = true;
                pthread_cond_broadcast(&L.cond);
                pthread_mutex_unlock(&L.lock);
        }
}

int launch_start(struct diag *d) {
        int r = lc_start(&L.lc, d);
        if (r < 0)
                return r;
        r = lc_hello(&L.lc, 0, &L.host, d);
        if (r < 0)
                return r;
        if (pthread_create(&L.thread, NULL, dispatch, NULL) != 0)
                return diag_set(d, -EAGAIN, "launcher", "cannot start the dispatcher thread");
        pthread_detach(L.thread);
        return 0;
}

int launch_adopt(int fd, struct diag *d) {
        L.lc.fd = fd;
        L.lc.pid = -1;
        L.lc.pidfd = -1;
        L.lc.next_req = 1;
        int r = lc_hello(&L.lc, 0, &L.host, d);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < L.host.attach_count; i++) {
                char buf[LP_FRAME_MAX];
                int fds[FD_PASS_MAX];
                size_t nfds = 0;
                ssize_t n = fd_recv(fd, buf, sizeof(buf), fds, &nfds, 3);
                struct lp_frame f;
                if (n > 0 && nfds == 0 && lp_decode(buf, (size_t)n, &f, d) == 0 && f.hdr.type == LP_EGRESS) {
                        i--; /* an allowlist sandbox's event among them: not one of the ATTACHED */
                        continue;
                }
                if (n <= 0 || lp_decode(buf, (size_t)n, &f, d) < 0 || f.hdr.type != LP_ATTACHED || nfds != 3) {
                        for (size_t k = 0; k < nfds; k++)
                                close(fds[k]);
                        return diag_set(d, -EPROTO, "launcher", "expected %u ATTACHED frames", L.host.attach_count);
                }
                struct lp_attached a;
                memcpy(&a, f.body, sizeof(a));
                session_attach(&a, fds);
        }
        if (pthread_create(&L.thread, NULL, dispatch, NULL) != 0)
                return diag_set(d, -EAGAIN, "launcher", "cannot start the dispatcher thread");
        pthread_detach(L.thread);
        return 0;
}

bool launch_alive(void) {
        pthread_mutex_lock(&L.lock);
        bool alive = !L.dead;
        pthread_mutex_unlock(&L.lock);
        return alive;
}

const struct lp_host_report *launch_host(void) { return &L.host; }

/* Send a request and register its waiter (under L.lock); the reply is awaited apart. */
static int send_locked(struct waiter *w, uint16_t type, const void *body, size_t len, const void *extra,
                       size_t extra_len, const int *fds, size_t nfds) {
        char frame[LP_FRAME_MAX];
        if (L.dead)
                return -ECONNRESET;
        w->req_id = L.lc.next_req++;
        int n = lp_encode(type, w->req_id, body, len, extra, extra_len, frame, sizeof(frame));
        if (n < 0)
                return n;
        w->next = L.waiters;
        L.waiters = w;
        if (fd_send(L.lc.fd, frame, (size_t)n, fds, nfds) < 0)
                fail_all_locked();
        return 0;
}

static void wait_locked(struct waiter *w) {
        while (!w->done)
                pthread_cond_wait(&L.cond, &L.lock);
        for (struct waiter **p = &L.waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
}

int launch_call(uint16_t type, const void *body, size_t len, const void *extra, size_t extra_len, const int *fds,
                size_t nfds, struct lreply *ret) {
        memset(ret, 0, sizeof(*ret));
        struct waiter w = {.reply = ret};
        pthread_mutex_lock(&L.lock);
        int r = send_locked(&w, type, body, len, extra, extra_len, fds, nfds);
        if (r == 0)
                wait_locked(&w);
        pthread_mutex_unlock(&L.lock);
        if (r < 0)
                return r;
        return ret->type < 0 ? ret->type : 0;
}

int launch_signal(uint64_t sandbox_id, uint8_t action, uint8_t reason) {
        struct lp_signal s;
        memset(&s, 0, sizeof(s));
        s.sandbox_id = sandbox_id;
        s.action = action;
        s.reason = reason;
        char frame[LP_FRAME_MAX];
        pthread_mutex_lock(&L.lock);
        int n = lp_encode(LP_SIGNAL, L.lc.next_req++, &s, sizeof(s), NULL, 0, frame, sizeof(frame));
        int r = n < 0 ? n : fd_send(L.lc.fd, frame, (size_t)n, NULL, 0);
        pthread_mutex_unlock(&L.lock);
        return r;
}

int launch_usage_begin(struct usage_call *c, uint64_t sandbox_id, bool reset_peak) {
        memset(c, 0, sizeof(*c));
        struct lp_usage u;
        memset(&u, 0, sizeof(u));
        u.sandbox_id = sandbox_id;
        u.flags = reset_peak ? LP_USAGE_RESET_PEAK : 0;
        c->w.reply = &c->reply;
        pthread_mutex_lock(&L.lock);
        int r = send_locked(&c->w, LP_USAGE, &u, sizeof(u), NULL, 0, NULL, 0);
        pthread_mutex_unlock(&L.lock);
        c->sent = r == 0;
        return r;
}

int launch_usage_end(struct usage_call *c, struct lp_usage_ok *ret) {
        if (!c->sent)
                return -ECONNRESET;
        pthread_mutex_lock(&L.lock);
        wait_locked(&c->w);
        pthread_mutex_unlock(&L.lock);
        c->sent = false;
        if (c->reply.type < 0)
                return c->reply.type;
        if (c->reply.type != LP_USAGE_OK)
                return c->reply.type == LP_ERROR ? c->reply.err.code : -EPROTO;
        memcpy(ret, c->reply.body, sizeof(*ret));
        return 0;
}

int launch_usage(uint64_t sandbox_id, bool reset_peak, struct lp_usage_ok *ret) {
        struct usage_call c;
        int r = launch_usage_begin(&c, sandbox_id, reset_peak);
        return r < 0 ? r : launch_usage_end(&c, ret);
}

int launch_file(uint64_t sandbox_id, uint8_t op, uint8_t flags, uint32_t mode, const char *path, struct lreply *ret) {
        struct lp_file f;
        memset(&f, 0, sizeof(f));
        f.sandbox_id = sandbox_id;
        f.op = op;
        f.flags = flags;
        f.mode = mode;
        if ((size_t)snprintf(f.path, sizeof(f.path), "%s", path) >= sizeof(f.path))
                return -ENAMETOOLONG;
        return launch_call(LP_FILE, &f, sizeof(f), NULL, 0, NULL, 0, ret);
}
