#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <linux/close_range.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds) {
        if (nfds > FD_PASS_MAX)
                return -EINVAL;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        union {
                char buf[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
                struct cmsghdr align;
        } ctl;
        memset(&ctl, 0, sizeof(ctl));
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds > 0) {
                msg.msg_control = ctl.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        ssize_t n;
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EMSGSIZE;
        return 0;
}

int fd_send_nowait(int sock, const void *buf, size_t len) {
        ssize_t n;
        do
                n = send(sock, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EMSGSIZE;
}

ssize_t fd_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds, size_t max_fds) {
        *nfds = 0;
        struct iovec iov = {.iov_base = buf, .iov_len = cap};
        union {
                char buf[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
                struct cmsghdr align;
        } ctl;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf)};
        ssize_t n;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        size_t got = 0;
        int tmp[FD_PASS_MAX];
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k && got < FD_PASS_MAX; i++)
                        memcpy(&tmp[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
        if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || got > max_fds) {
                for (size_t i = 0; i < got; i++)
                        close(tmp[i]);
                return -EMSGSIZE;
        }
        memcpy(fds, tmp, got * sizeof(int));
        *nfds = got;
        return n;
}

int write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

ssize_t read_small_file(const char *path, char *buf, size_t cap) {
        if (cap == 0)
                return -EINVAL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t off = 0;
        while (off < cap - 1) {
                ssize_t n = read(fd, buf + off, cap - 1 - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                off += (size_t)n;
        }
        buf[off] = '\0';
        return (ssize_t)off;
}

int memfd_with_data(const char *name, const void *data, size_t len) {
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        /* Nobody, including whoever we hand it to, may change what we wrote. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int parse_u64(const char *s, unsigned long long *ret) {
        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        errno = 0;
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (!end || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int close_fds_except(int from, const int *keep, size_t nkeep) {
        int next = from;
        for (size_t i = 0; i <= nkeep; i++) {
                int upto = i < nkeep ? keep[i] - 1 : INT_MAX;
                if (i < nkeep && keep[i] < from)
                        continue;
                if (upto >= next && syscall(SYS_close_range, (unsigned)next, (unsigned)upto, 0) < 0)
                        return -errno;
                if (i < nkeep)
                        next = keep[i] + 1;
        }
        return 0;
}

int airlock_program_path(const char *name, int mode, char *out, size_t cap) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
                return -errno;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
                return -ENOENT;
        *slash = '\0';
        static const char *const dirs[] = {"", "/../libexec/airlock"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                int k = snprintf(out, cap, "%s%s/%s", self, dirs[i], name);
                if (k > 0 && (size_t)k < cap && access(out, mode) == 0)
                        return 0;
        }
        return -ENOENT;
}
