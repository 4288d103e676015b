#include "sandbox/uid_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

int uid_pool_acquire(const char *dir, uint32_t base, uint32_t count, struct uid_slot *ret, struct diag *reterr) {
        ret->lock_fd = -1;
        if (count == 0 || base + count < base)
                return diag_set(reterr, -EINVAL, "uid_pool", "empty or overflowing uid range");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return diag_set(reterr, -errno, "uid_pool", "cannot create %s: %m", dir);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return diag_set(reterr, -errno, "uid_pool", "cannot open %s: %m", dir);
        /* Start at a random slot so concurrent launchers rarely contend for the same file. */
        uint32_t start = 0;
        if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != (ssize_t)sizeof(start))
                start = (uint32_t)getpid();
        for (uint32_t i = 0; i < count; i++) {
                uint32_t n = (start + i) % count;
                char name[16];
                snprintf(name, sizeof(name), "%u", n);
                int fd = openat(dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return diag_set(reterr, -errno, "uid_pool", "cannot open slot %s/%s: %m", dir, name);
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        ret->lock_fd = fd;
                        ret->uid = base + n;
                        return 0;
                }
                int e = errno;
                close(fd);
                if (e != EWOULDBLOCK)
                        return diag_set(reterr, -e, "uid_pool", "cannot lock slot %s/%s", dir, name);
        }
        return diag_set(reterr, -EAGAIN, "uid_pool", "all %u sandbox uids are in use", count);
}

void uid_pool_release(struct uid_slot *s) {
        if (s && s->lock_fd >= 0) {
                close(s->lock_fd);
                s->lock_fd = -1;
        }
}
