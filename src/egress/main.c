/* airlock-egress: the HTTP(S) proxy of one sandbox in network mode allowlist
 * (docs/adr/0015, docs/network.md).
 *
 * The launcher starts one per allowlist sandbox, already confined: the sandbox's own pool
 * uid, no capabilities, no_new_privs, every mount read-only, in the sandbox's cgroup, in
 * the host's network namespace. It hands over, at fixed fds:
 *   3  the read end of a pipe: EOF means the sandbox is gone, and so are we;
 *   4  a pipe to say "ready" on;
 *   5  a TCP socket listening on port 3128 *in the sandbox's network namespace* (made
 *      there by the launcher before we started): the only way out the sandbox has;
 *   6  a pipe for one struct lp_egress per connection let through or refused, which the
 *      launcher passes on to the daemon (logs, metrics).
 * and the allowlist as arguments (HOST:PORT each, launch_proto's grammar).
 *
 * Per connection (a thread each, at most EGRESS_MAX_CONNS): read one request head;
 * CONNECT host:port (HTTPS and other TCP) or an absolute http:// URL (plain HTTP, one
 * request); the HOST:PORT must be listed; a name is resolved here, never in the sandbox,
 * and every address it gives is checked (egress_addr_blocked: loopback, private,
 * link-local, metadata, the host's own...) unless the entry was that very IPv4 address;
 * we connect to the checked address itself, so a second resolution cannot swap it (DNS
 * rebinding). Then bytes flow both ways untouched; redirects are the client's to follow,
 * through us again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "egress/confine.h"
#include "egress/policy.h"

enum { FD_EXIT = 3, FD_READY = 4, FD_LISTEN = 5, FD_EVENTS = 6 };
#define EGRESS_MAX_CONNS 64
#define EGRESS_HEAD_TIMEOUT_MS 10000
#define EGRESS_CONNECT_TIMEOUT_MS 10000
#define EGRESS_IDLE_TIMEOUT_MS (600 * 1000)
#define EGRESS_HOST_ADDRS_MAX 256
#define RELAY_BUF (64 * 1024)

static struct lp_allow allow[LP_ALLOW_MAX_COUNT];
static size_t nallow;
static struct sockaddr_storage host_addrs[EGRESS_HOST_ADDRS_MAX];
static size_t nhost;
static atomic_int active;
static atomic_uint dropped;
/* Events are a log, not a firehose (launch_proto.h). */
#define EVENT_RATE LP_EGRESS_EVENT_RATE
#define EVENT_BURST LP_EGRESS_EVENT_BURST
static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static double tokens = EVENT_BURST;
static int64_t bucket_ms;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One event for the launcher; never blocks (a full pipe drops it, and the next says how
 * many were dropped). Each is one write of under PIPE_BUF bytes: never interleaved. */
static void emit(uint8_t outcome, uint8_t reason, const char *host, uint16_t port, const struct sockaddr *sa) {
        struct lp_egress e;
        memset(&e, 0, sizeof(e));
        e.outcome = outcome;
        e.reason = reason;
        e.port = port;
        e.protocol = IPPROTO_TCP;
        snprintf(e.host, sizeof(e.host), "%s", host);
        if (sa && sa->sa_family == AF_INET) {
                e.family = AF_INET;
                memcpy(e.addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        } else if (sa && sa->sa_family == AF_INET6) {
                e.family = AF_INET6;
                memcpy(e.addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        }
        pthread_mutex_lock(&bucket_lock);
        int64_t now = now_ms();
        tokens += (double)(now - bucket_ms) * EVENT_RATE / 1000.0;
        if (tokens > EVENT_BURST)
                tokens = EVENT_BURST;
        bucket_ms = now;
        bool take = tokens >= 1;
        if (take)
                tokens -= 1;
        pthread_mutex_unlock(&bucket_lock);
        if (!take) {
                atomic_fetch_add(&dropped, 1);
                return;
        }
        e.dropped = atomic_exchange(&dropped, 0);
        if (write(FD_EVENTS, &e, sizeof(e)) != (ssize_t)sizeof(e))
                atomic_fetch_add(&dropped, e.dropped + 1);
}

static int wait_fd(int fd, short events, int timeout_ms) {
        struct pollfd p = {.fd = fd, .events = events};
        int r;
        while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
        return r;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                        if (errno == EAGAIN && wait_fd(fd, POLLOUT, EGRESS_IDLE_TIMEOUT_MS) <= 0)
                                return -ETIMEDOUT;
                        continue;
                }
                if (w <= 0)
                        return -EIO;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* The proxy's own answer, before any tunnel: the client (pip, npm, curl, requests) shows
 * the status and usually the text. */
static void reply(int fd, int status, const char *reason, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reply(int fd, int status, const char *reason, const char *fmt, ...) {
        char text[768], out[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Airlock-Egress: %s\r\n"
                         "Connection: close\r\nContent-Length: %zu\r\n\r\n%s\n",
                         status, reason, status == 403 ? "refused" : "failed", strlen(text) + 1, text);
        if (n > 0)
                (void)write_all(fd, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
        /* A lingering close: what the client is still sending is read and dropped for a
         * moment, so that our close does not reset the connection before it has read the
         * answer. */
        shutdown(fd, SHUT_WR);
        char sink[4096];
        int64_t until = now_ms() + 1000;
        for (size_t total = 0; total < 256 * 1024 && now_ms() < until;) {
                if (wait_fd(fd, POLLIN, (int)(until - now_ms())) <= 0)
                        break;
                ssize_t r = read(fd, sink, sizeof(sink));
                if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR)))
                        break;
                total += r > 0 ? (size_t)r : 0;
        }
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap) {
        const void *a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                                                 : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (!inet_ntop(sa->sa_family, a, out, (socklen_t)cap))
                snprintf(out, cap, "?");
}

/* A connected, non-blocking socket to one checked address, or a negative errno. */
static int connect_to(const struct sockaddr *sa, socklen_t len) {
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
                int e = errno;
                close(fd);
                return -e;
        }
        int err = 0;
        socklen_t el = sizeof(err);
        if (wait_fd(fd, POLLOUT, EGRESS_CONNECT_TIMEOUT_MS) <= 0)
                err = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
        if (err) {
                close(fd);
                return -err;
        }
        return fd;
}

/* Bytes both ways until both sides are done (or idle too long). up_limit: how many bytes
 * of the client's may go up (a forwarded request's body); UINT64_MAX for a tunnel. */
static void relay_with(int c, int u, uint64_t up_limit, char *b1, char *b2) {
        size_t n1 = 0, o1 = 0, n2 = 0, o2 = 0; /* 1: client -> upstream, 2: upstream -> client */
        /* A bodiless forwarded request sends nothing more up (no half-close: Connection:
         * close already says the server ends the exchange). */
        bool c_eof = up_limit == 0, u_eof = false, c_shut = false, u_shut = false;
        for (;;) {
                if (c_eof && n1 == o1 && !u_shut && up_limit == UINT64_MAX) {
                        shutdown(u, SHUT_WR);
                        u_shut = true;
                }
                if (u_eof && n2 == o2 && !c_shut) {
                        shutdown(c, SHUT_WR);
                        c_shut = true;
                }
                if (u_eof && n2 == o2 && (c_eof || up_limit != UINT64_MAX))
                        return; /* the response is complete: a forwarded request ends here */
                if (c_eof && u_eof && n1 == o1 && n2 == o2)
                        return;
                struct pollfd p[2] = {{.fd = c, .events = 0}, {.fd = u, .events = 0}};
                if (!c_eof && n1 == o1)
                        p[0].events |= POLLIN;
                if (n2 > o2)
                        p[0].events |= POLLOUT;
                if (!u_eof && n2 == o2)
                        p[1].events |= POLLIN;
                if (n1 > o1)
                        p[1].events |= POLLOUT;
                /* A side nothing is wanted from is left out: its POLLHUP would wake us for
                 * nothing, again and again. */
                for (int i = 0; i < 2; i++)
                        if (!p[i].events)
                                p[i].fd = -1;
                int r = poll(p, 2, EGRESS_IDLE_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return;
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && !c_eof && n1 == o1) {
                        size_t want = up_limit < RELAY_BUF ? (size_t)up_limit : RELAY_BUF;
                        ssize_t n = read(c, b1, want);
                        if (n > 0) {
                                n1 = (size_t)n, o1 = 0;
                                if (up_limit != UINT64_MAX && (up_limit -= (uint64_t)n) == 0)
                                        c_eof = true; /* the body is all there: read no more of the client */
                        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                                c_eof = true;
                                if (up_limit != UINT64_MAX)
                                        return; /* the client left before its body was sent */
                        }
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR) && !u_eof && n2 == o2) {
                        ssize_t n = read(u, b2, RELAY_BUF);
                        if (n > 0)
                                n2 = (size_t)n, o2 = 0;
                        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                u_eof = true;
                }
                if (p[1].revents & POLLOUT && n1 > o1) {
                        ssize_t w = write(u, b1 + o1, n1 - o1);
                        if (w < 0 && errno != EAGAIN && errno != EINTR)
                                return;
                        if (w > 0 && (o1 += (size_t)w) == n1)
                                n1 = o1 = 0;
                }
                if (p[0].revents & POLLOUT && n2 > o2) {
                        ssize_t w = write(c, b2 + o2, n2 - o2);
                        if (w < 0 && errno != EAGAIN && errno != EINTR)
                                return;
                        if (w > 0 && (o2 += (size_t)w) == n2)
                                n2 = o2 = 0;
                }
        }
}

static void relay(int c, int u, uint64_t up_limit) {
        char *bufs = malloc(2 * RELAY_BUF);
        if (!bufs)
                return;
        relay_with(c, u, up_limit, bufs, bufs + RELAY_BUF);
        free(bufs);
}

/* The request head as the origin server gets it: origin-form target, our Host, the
 * client's end-to-end headers, Connection: close (one request per connection). */
static int forward_head(const char *buf, const struct egress_request *rq, struct buf *out) {
        const char *path = buf + rq->path_off;
        bool v6 = strchr(rq->host, ':') != NULL;
        int r = buf_printf(out, "%s %s%.*s HTTP/1.1\r\nHost: %s%s%s", rq->method,
                           rq->path_len && path[0] == '/' ? "" : "/", (int)rq->path_len, path, v6 ? "[" : "", rq->host,
                           v6 ? "]" : "");
        if (r == 0 && rq->port != 80)
                r = buf_printf(out, ":%u", rq->port);
        if (r == 0)
                r = buf_printf(out, "\r\n");
        const char *end = buf + rq->head_len - 2;
        for (const char *p = buf + rq->headers_off; r == 0 && p < end;) {
                const char *e = memchr(p, '\r', (size_t)(end - p));
                if (!e)
                        break;
                if (egress_keep_header(p, (size_t)(e - p)))
                        r = buf_printf(out, "%.*s\r\n", (int)(e - p), p);
                p = e + 2;
        }
        if (r == 0)
                r = buf_printf(out, "Connection: close\r\n\r\n");
        return r;
}

static void serve(int c) {
        char buf[EGRESS_HEAD_MAX + 1];
        size_t got = 0;
        struct egress_request rq;
        const char *why = "";
        int r = -EAGAIN;
        int64_t deadline = now_ms() + EGRESS_HEAD_TIMEOUT_MS;
        while (r == -EAGAIN) {
                int64_t left = deadline - now_ms();
                if (left <= 0 || wait_fd(c, POLLIN, (int)left) <= 0) {
                        reply(c, 408, "Request Timeout", "airlock: no complete request head within %d s",
                              EGRESS_HEAD_TIMEOUT_MS / 1000);
                        emit(LP_EGRESS_REFUSED, LP_EGRESS_BAD_REQUEST, "", 0, NULL);
                        return;
                }
                ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n <= 0)
                        return; /* gone before asking anything */
                got += (size_t)n;
                r = egress_parse_head(buf, got, &rq, &why);
        }
        if (r < 0) {
                reply(c, 400, "Bad Request", "airlock: not a request this proxy takes: %s", why);
                emit(LP_EGRESS_REFUSED, LP_EGRESS_BAD_REQUEST, "", 0, NULL);
                return;
        }
        char hp[300];
        snprintf(hp, sizeof(hp), "%s%s%s:%u", strchr(rq.host, ':') ? "[" : "", rq.host, strchr(rq.host, ':') ? "]" : "",
                 rq.port);
        const struct lp_allow *entry = egress_listed(allow, nallow, rq.host, rq.port);
        if (!entry) {
                reply(c, 403, "Forbidden", "airlock: %s is not in this session's network allowlist", hp);
                emit(LP_EGRESS_REFUSED, LP_EGRESS_NOT_LISTED, rq.host, rq.port, NULL);
                return;
        }
        /* An entry that is an IPv4 address is that address, on purpose: it is not checked. */
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        char port[8];
        snprintf(port, sizeof(port), "%u", rq.port);
        struct addrinfo *res = NULL;
        int gr = getaddrinfo(rq.host, port, &hints, &res);
        if (gr != 0) {
                reply(c, 502, "Bad Gateway", "airlock: cannot resolve %s: %s", rq.host, gai_strerror(gr));
                emit(LP_EGRESS_FAILED, LP_EGRESS_RESOLVE, rq.host, rq.port, NULL);
                return;
        }
        int u = -1, last_err = 0;
        const char *blocked = NULL;
        const struct sockaddr *blocked_addr = NULL, *used = NULL;
        for (struct addrinfo *ai = res; ai && u < 0; ai = ai->ai_next) {
                const char *b = entry->ipv4 ? NULL : egress_addr_blocked(ai->ai_addr, host_addrs, nhost);
                if (b) {
                        if (!blocked)
                                blocked = b, blocked_addr = ai->ai_addr;
                        continue;
                }
                u = connect_to(ai->ai_addr, ai->ai_addrlen);
                if (u < 0)
                        last_err = -u, u = -1, used = ai->ai_addr;
                else
                        used = ai->ai_addr;
        }
        char at[INET6_ADDRSTRLEN] = "";
        if (u < 0 && !last_err && blocked) {
                addr_text(blocked_addr, at, sizeof(at));
                reply(c, 403, "Forbidden", "airlock: %s resolves to %s, which is %s: refused", rq.host, at, blocked);
                emit(LP_EGRESS_REFUSED, LP_EGRESS_BLOCKED_ADDR, rq.host, rq.port, blocked_addr);
        } else if (u < 0) {
                if (used)
                        addr_text(used, at, sizeof(at));
                reply(c, 502, "Bad Gateway", "airlock: cannot connect to %s (%s): %s", hp, at,
                      strerror(last_err ? last_err : EHOSTUNREACH));
                emit(LP_EGRESS_FAILED, LP_EGRESS_CONNECT, rq.host, rq.port, used);
        } else {
                emit(LP_EGRESS_ALLOWED, LP_EGRESS_OK, rq.host, rq.port, used);
        }
        freeaddrinfo(res);
        if (u < 0)
                return;
        size_t extra = got - rq.head_len;
        if (rq.kind == EGRESS_CONNECT) {
                static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                if (write_all(c, ok, sizeof(ok) - 1) == 0 && write_all(u, buf + rq.head_len, extra) == 0)
                        relay(c, u, UINT64_MAX);
        } else {
                struct buf head;
                buf_init(&head, EGRESS_HEAD_MAX + 1024);
                size_t body_now = extra < rq.content_length ? extra : (size_t)rq.content_length;
                if (forward_head(buf, &rq, &head) == 0 && write_all(u, head.data, head.len) == 0 &&
                    write_all(u, buf + rq.head_len, body_now) == 0)
                        relay(c, u, rq.content_length - body_now);
                buf_free(&head);
        }
        close(u);
}

static void *conn_thread(void *arg) {
        int c = (int)(intptr_t)arg;
        serve(c);
        close(c);
        atomic_fetch_sub(&active, 1);
        return NULL;
}

static void host_addresses(void) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i && nhost < EGRESS_HOST_ADDRS_MAX; i = i->ifa_next) {
                if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
                        continue;
                memset(&host_addrs[nhost], 0, sizeof(host_addrs[nhost]));
                memcpy(&host_addrs[nhost], i->ifa_addr,
                       i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
                nhost++;
        }
        freeifaddrs(ifa);
}

int main(int argc, char **argv) {
        if (argc - 1 > LP_ALLOW_MAX_COUNT) {
                fprintf(stderr, "airlock-egress: %d allowlist entries, at most %d\n", argc - 1, LP_ALLOW_MAX_COUNT);
                return 2;
        }
        for (int i = 1; i < argc; i++)
                if (lp_parse_allow_entry(argv[i], strlen(argv[i]), &allow[nallow++]) < 0) {
                        fprintf(stderr, "airlock-egress: allowlist entry %d is not HOST:PORT\n", i);
                        return 2;
                }
        signal(SIGPIPE, SIG_IGN);
        host_addresses();
        if (fcntl(FD_EVENTS, F_SETFL, O_NONBLOCK) < 0 || fcntl(FD_LISTEN, F_SETFL, O_NONBLOCK) < 0) {
                perror("airlock-egress: fds from the launcher");
                return 2;
        }
        /* Before any connection: what a proxy never needs goes (confine.c). */
        struct diag d = {0};
        int abi = 0;
        if (egress_confine(allow, nallow, &abi, &d) < 0) {
                fprintf(stderr, "airlock-egress: %s: %s\n", d.field, d.msg);
                return 2;
        }
        if (write(FD_READY, "1", 1) != 1) {
                perror("airlock-egress: ready");
                return 2;
        }
        close(FD_READY);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        for (;;) {
                struct pollfd p[2] = {{.fd = FD_LISTEN, .events = POLLIN}, {.fd = FD_EXIT, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (p[1].revents)
                        return 0; /* the launcher closed its end: the sandbox is gone */
                if (!(p[0].revents & POLLIN))
                        continue;
                int c = accept4(FD_LISTEN, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c < 0)
                        continue;
                pthread_t t;
                if (atomic_fetch_add(&active, 1) >= EGRESS_MAX_CONNS ||
                    pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)c) != 0) {
                        atomic_fetch_sub(&active, 1);
                        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nX-Airlock-Egress: refused\r\n"
                                                   "Connection: close\r\nContent-Length: 0\r\n\r\n";
                        (void)!write(c, busy, sizeof(busy) - 1); /* once, never blocking the accept loop */
                        emit(LP_EGRESS_REFUSED, LP_EGRESS_BUSY, "", 0, NULL);
                        close(c);
                }
        }
}
