/* cgroup: detection, dispatch to the v1 or v2 ops table, and the helpers both share.
 * See cgroup.h for the layout rules and cgroup_internal.h for the internal contract. */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/cgroup_internal.h"

/* ---- small helpers ------------------------------------------------------------------ */

int cg_fail(struct diag *reterr, int r, const char *what, const char *path) {
        char buf[128];
        return diag_set(reterr, r, "cgroup", "%s %s: %s", what, path, strerror_r(-r, buf, sizeof(buf)));
}

int cg_path(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        return 0;
}

bool cg_name_valid(const char *name) {
        if (!name)
                return false;
        size_t n = 0;
        for (const char *p = name; *p; p++, n++) {
                if (n >= CG_NAME_MAX)
                        return false;
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        }
        return n > 0;
}

/* The parent comes from operator configuration, not from requests, but it still ends up in
 * paths we mkdir and write to as root: components must be non-empty, not "." or "..", and
 * made of characters systemd unit and slice names use (its escapes, "\x2d", included). */
static bool parent_valid(const char *p) {
        if (!p)
                return false;
        if (*p == '/')
                p++;
        if (!*p)
                return false;
        for (;;) {
                size_t len = strcspn(p, "/");
                if (len == 0)
                        return false;
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++) {
                        char ch = p[i];
                        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                              strchr("-_.@:\\", ch)))
                                return false;
                }
                if (!p[len])
                        return true;
                p += len + 1;
        }
}

const char *cg_parent_rel(const struct cg_host *h) {
        return h->parent[0] == '/' ? h->parent + 1 : h->parent;
}

int cg_write_file(const char *path, const char *s) {
        /* O_TRUNC matters only for the fake tree (cgroupfs ignores it, as `echo >` shows);
         * there it makes the file hold exactly the last value written, as cgroupfs would. */
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t len = strlen(s);
        ssize_t n;
        do
                n = write(fd, s, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len) /* cgroupfs takes a value in one write; a partial one is an error */
                return -EIO;
        return 0;
}

int cg_read_file(const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap > max)
                                return -EFBIG;
                        size_t ncap = cap * 2;
                        char *nbuf = realloc(buf, ncap);
                        if (!nbuf)
                                return -ENOMEM;
                        buf = nbuf;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

int cg_parse_u64(const char *s, uint64_t *ret) {
        if (!s || !*s || *s == '\n')
                return -EINVAL;
        uint64_t v = 0;
        const char *p = s;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p == '\n')
                p++;
        if (*p)
                return -EINVAL;
        *ret = v;
        return 0;
}

int cg_parse_keyed(const char *buf, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);
        for (const char *line = buf; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t llen = nl ? (size_t)(nl - line) : strlen(line);
                if (llen > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ') {
                        char val[32];
                        size_t vlen = llen - klen - 1;
                        if (vlen == 0 || vlen >= sizeof(val))
                                return -EINVAL;
                        memcpy(val, line + klen + 1, vlen);
                        val[vlen] = '\0';
                        return cg_parse_u64(val, ret);
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOENT;
}

int cg_read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = cg_read_file(path, 4096, &buf);
        if (r < 0)
                return r;
        return cg_parse_u64(buf, ret);
}

int cg_read_keyed(const char *path, const char *key, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = cg_read_file(path, 64 * 1024, &buf);
        if (r < 0)
                return r;
        return cg_parse_keyed(buf, key, ret);
}

/* cgroup.procs holds at most pid_max (4194304) pids of <= 8 characters each. */
#define PROCS_MAX (40u * 1024 * 1024)

int cg_count_procs(const char *procs_path, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = cg_read_file(procs_path, PROCS_MAX, &buf);
        if (r < 0)
                return r;
        if (!buf) /* cg_read_file sets it on success; this keeps the analyzer sure of it */
                return -EIO;
        uint64_t n = 0;
        for (const char *p = buf; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (len > 0)
                        n++;
                p += len + (nl ? 1 : 0);
        }
        *ret = n;
        return 0;
}

int cg_kill_procs(const char *procs_path, uint64_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        int r = cg_read_file(procs_path, PROCS_MAX, &buf);
        if (r < 0)
                return r;
        if (!buf) /* cg_read_file sets it on success; this keeps the analyzer sure of it */
                return -EIO;
        uint64_t n = 0;
        int ret = 0;
        pid_t self = getpid();
        for (const char *p = buf; *p;) {
                const char *line = p, *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                p += len + (nl ? 1 : 0);
                if (len == 0)
                        continue;
                n++;
                char tok[32];
                uint64_t v;
                if (len >= sizeof(tok)) {
                        ret = -EINVAL;
                        continue;
                }
                memcpy(tok, line, len);
                tok[len] = '\0';
                /* Never pass 0 or a negative value to kill(2): those mean process groups or
                 * every process we may signal. And never kill ourselves: if the caller sits in
                 * the sandbox's cgroup that is a bug to report (-EBUSY later), not to act on. */
                if (cg_parse_u64(tok, &v) < 0 || v == 0 || v > INT_MAX) {
                        ret = -EINVAL;
                        continue;
                }
                if ((pid_t)v == self)
                        continue;
                if (kill((pid_t)v, SIGKILL) < 0 && errno != ESRCH && ret == 0)
                        ret = -errno;
        }
        if (ret_n)
                *ret_n = n;
        return ret;
}

int cg_write_attr(const char *dir, const char *file, const char *val, struct diag *reterr) {
        char path[PATH_MAX];
        int r = cg_path(path, sizeof(path), "%s/%s", dir, file);
        if (r < 0)
                return cg_fail(reterr, r, "build path for", file);
        r = cg_write_file(path, val);
        if (r < 0) {
                char buf[128];
                return diag_set(reterr, r, "cgroup", "write \"%s\" to %s: %s", val, path,
                                strerror_r(-r, buf, sizeof(buf)));
        }
        return 0;
}

bool cg_is_fs(const char *path, int64_t magic) {
        struct statfs sfs;
        return statfs(path, &sfs) == 0 && (int64_t)sfs.f_type == magic;
}

static int fake_fs_call(cg_fake_fs_fn fn, void *userdata, enum cg_fake_event ev, const char *dir) {
        if (!fn)
                return 0;
        int r = fn(ev, dir, userdata);
        return r > 0 ? -r : r;
}

int cg_mkdir_owned(struct cg *c, const char *path) {
        if (c->ndirs >= ARRAY_SIZE(c->dirs))
                return -E2BIG;
        if (mkdir(path, 0755) < 0)
                return -errno;
        /* Record before the hook so that a failing hook still gets the directory removed. */
        int r = cg_path(c->dirs[c->ndirs], sizeof(c->dirs[0]), "%s", path);
        if (r < 0) {
                (void)rmdir(path);
                return r;
        }
        c->ndirs++;
        return fake_fs_call(c->fake_fs, c->fake_fs_userdata, CG_FAKE_MKDIR, path);
}

int cg_mkdir_parents(const struct cg_host *h, const char *base, const char *rel,
                     int (*on_level)(const struct cg_host *h, const char *dir, struct diag *reterr),
                     struct diag *reterr) {
        char dir[PATH_MAX];
        int r = cg_path(dir, sizeof(dir), "%s", base);
        if (r < 0)
                return cg_fail(reterr, r, "build path for", base);
        if (on_level) {
                r = on_level(h, dir, reterr);
                if (r < 0)
                        return r;
        }
        for (const char *p = rel; *p;) {
                size_t len = strcspn(p, "/");
                size_t dlen = strlen(dir);
                r = cg_path(dir + dlen, sizeof(dir) - dlen, "/%.*s", (int)len, p);
                if (r < 0)
                        return cg_fail(reterr, r, "build path under", base);
                if (mkdir(dir, 0755) < 0) {
                        if (errno != EEXIST)
                                return cg_fail(reterr, -errno, "create parent cgroup", dir);
                } else {
                        r = fake_fs_call(h->fake_fs, h->fake_fs_userdata, CG_FAKE_MKDIR, dir);
                        if (r < 0)
                                return cg_fail(reterr, r, "populate (test hook)", dir);
                }
                if (on_level) {
                        r = on_level(h, dir, reterr);
                        if (r < 0)
                                return r;
                }
                p += len;
                if (*p == '/')
                        p++;
        }
        return 0;
}

int cg_rmdir_owned(struct cg *c, bool wait) {
        int ret = 0;
        while (c->ndirs > 0) {
                const char *dir = c->dirs[c->ndirs - 1];
                (void)fake_fs_call(c->fake_fs, c->fake_fs_userdata, CG_FAKE_RMDIR, dir);
                /* EBUSY right after the last process died: the kernel drops a cgroup's
                 * "populated" state asynchronously from the exit, so retry for a while. */
                int r = 0;
                unsigned backoff = CG_POLL_FIRST_US;
                uint64_t deadline = cg_now_ms() + 500;
                for (;;) {
                        r = rmdir(dir) < 0 ? -errno : 0;
                        if (r != -EBUSY || !wait || cg_now_ms() >= deadline)
                                break;
                        cg_sleep_backoff(&backoff);
                }
                if (r == -EBUSY && !wait)
                        return r;
                if (r < 0 && r != -ENOENT && ret == 0)
                        ret = r;
                c->ndirs--;
        }
        return ret;
}

bool cg_block_forks(struct cg *c, const char *pids_dir) {
        if (!pids_dir)
                return false;
        if (!c->forks_blocked)
                c->forks_blocked = cg_write_attr(pids_dir, "pids.max", "0", NULL) == 0;
        return c->forks_blocked;
}

int cg_kill_rounds(struct cg *c) {
        uint64_t deadline = cg_now_ms() + CG_KILL_TIMEOUT_MS;
        unsigned backoff = CG_POLL_FIRST_US;
        for (;;) {
                int r = c->ops->kill_round(c);
                if (r <= 0)
                        return r;
                if (cg_now_ms() >= deadline)
                        return -EBUSY;
                cg_sleep_backoff(&backoff);
        }
}

void cg_sleep_backoff(unsigned *us) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)*us * 1000L};
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
                ;
        *us = *us * 2 > CG_POLL_MS * 1000u ? CG_POLL_MS * 1000u : *us * 2;
}

void cg_sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
                ;
}

uint64_t cg_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct cg_ops *ops_for(enum cg_mode m) {
        switch (m) {
        case CG_V1:
                return &cg_v1_ops;
        case CG_V2:
                return &cg_v2_ops;
        case CG_NONE:
        default:
                return NULL;
        }
}

const char *cg_mode_name(enum cg_mode m) {
        switch (m) {
        case CG_NONE:
                return "none";
        case CG_V1:
                return "v1";
        case CG_V2:
                return "v2";
        default:
                return "unknown";
        }
}

int cg_host_prepare(struct cg_host *h, struct diag *reterr) {
        if (!h)
                return diag_set(reterr, -EINVAL, "cgroup", "no host");
        const struct cg_ops *ops = ops_for(h->mode);
        if (!ops)
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "no usable cgroup hierarchy (mode %s)",
                                cg_mode_name(h->mode));
        if (!h->fsroot[0] || !memchr(h->fsroot, '\0', sizeof(h->fsroot)))
                return diag_set(reterr, -EINVAL, "cgroup", "bad cgroup filesystem root");
        if (!memchr(h->parent, '\0', sizeof(h->parent)) || !parent_valid(h->parent))
                return diag_set(reterr, -EINVAL, "cgroup_parent",
                                "must be a path of [A-Za-z0-9_.@:\\-] components without '.' or '..'");
        h->controllers = 0;
        return ops->prepare(h, reterr);
}

int cg_host_detect(const char *fsroot, const char *parent, struct cg_host *ret, struct diag *reterr) {
        if (!fsroot || !parent || !ret)
                return diag_set(reterr, -EINVAL, "cgroup", "missing argument");
        struct cg_host h = { .mode = CG_NONE };
        if (cg_path(h.fsroot, sizeof(h.fsroot), "%s", fsroot) < 0)
                return diag_set(reterr, -ENAMETOOLONG, "cgroup", "cgroup root path too long");
        if (cg_path(h.parent, sizeof(h.parent), "%s", parent) < 0)
                return diag_set(reterr, -ENAMETOOLONG, "cgroup_parent", "too long");

        struct statfs sfs;
        if (statfs(fsroot, &sfs) < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return cg_fail(reterr, -errno, "statfs", fsroot);
                *ret = h;
                return 0;
        }
        if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
                h.mode = CG_V2;
        } else if (sfs.f_type == TMPFS_MAGIC) {
                /* v1 or hybrid: a tmpfs holding one mount per v1 hierarchy. On hybrid hosts the
                 * cgroup2 mount at "unified" carries no memory/cpu/pids, so those are on v1. */
                char mem[PATH_MAX];
                if (cg_path(mem, sizeof(mem), "%s/memory", fsroot) < 0)
                        return diag_set(reterr, -ENAMETOOLONG, "cgroup", "cgroup root path too long");
                if (cg_is_fs(mem, CGROUP_SUPER_MAGIC))
                        h.mode = CG_V1;
        }
        if (h.mode == CG_NONE) {
                *ret = h;
                return 0;
        }
        int r = cg_host_prepare(&h, reterr);
        if (r < 0)
                return r;
        *ret = h;
        return 0;
}

int cg_create(const struct cg_host *h, const char *name, const struct cg_limits *l, struct cg **ret,
              struct diag *reterr) {
        if (!h || !l || !ret)
                return diag_set(reterr, -EINVAL, "cgroup", "missing argument");
        if (!cg_name_valid(name))
                return diag_set(reterr, -EINVAL, "cgroup_name", "must match [a-z0-9-]{1,%d}", CG_NAME_MAX);
        const struct cg_ops *ops = ops_for(h->mode);
        if (!ops)
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "no usable cgroup hierarchy");
        /* Fail closed: a limit the host cannot enforce is not silently dropped. */
        if (l->memory_bytes && !(h->controllers & CG_C_MEMORY))
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "memory limit requested but the memory controller is not available");
        if (l->cpu_millis && !(h->controllers & CG_C_CPU))
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "cpu limit requested but the cpu controller is not available");
        if (l->pids && !(h->controllers & CG_C_PIDS))
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "pids limit requested but the pids controller is not available");

        _cleanup_free_ struct cg *c = calloc(1, sizeof(*c));
        if (!c)
                return diag_set(reterr, -ENOMEM, "cgroup", "out of memory");
        c->ops = ops;
        c->controllers = h->controllers;
        memcpy(c->name, name, strlen(name) + 1);
        for (size_t i = 0; i < ARRAY_SIZE(c->v1_dir); i++)
                c->v1_dir[i] = -1;
        c->fake_fs = h->fake_fs;
        c->fake_fs_userdata = h->fake_fs_userdata;

        int r = ops->create(c, h, l, reterr);
        if (r < 0) {
                /* Nothing was attached yet, so there is nothing to kill: only the directories. */
                (void)ops->destroy(c, true);
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int cg_attach(struct cg *c, pid_t pid, struct diag *reterr) {
        if (!c || pid <= 0)
                return diag_set(reterr, -EINVAL, "cgroup", "bad attach arguments");
        return c->ops->attach(c, pid, reterr);
}

int cg_read_stats(struct cg *c, struct cg_stats *ret) {
        if (!c || !ret)
                return -EINVAL;
        *ret = (struct cg_stats){ 0 };
        return c->ops->read_stats(c, ret);
}

int cg_read_usage(struct cg *c, struct cg_stats *ret) {
        if (!c || !ret)
                return -EINVAL;
        *ret = (struct cg_stats){ 0 };
        return c->ops->read_usage(c, ret);
}

int cg_read_events(struct cg *c, struct cg_stats *ret) {
        if (!c || !ret)
                return -EINVAL;
        *ret = (struct cg_stats){ 0 };
        return c->ops->read_events(c, ret);
}

int cg_reset_peak(struct cg *c) {
        if (!c)
                return -EINVAL;
        return c->ops->reset_peak ? c->ops->reset_peak(c) : -EOPNOTSUPP;
}

int cg_kill_all(struct cg *c) {
        if (!c)
                return -EINVAL;
        return cg_kill_rounds(c);
}

int cg_kill_nowait(struct cg *c) {
        if (!c)
                return -EINVAL;
        return c->ops->kill_round(c);
}

int cg_host_join_cpu_group(const struct cg_host *h, const char *name, unsigned weight, pid_t pid,
                           struct diag *reterr) {
        if (!h || !cg_name_valid(name) || weight < 1 || weight > 10000 || pid <= 0)
                return diag_set(reterr, -EINVAL, "cgroup", "bad cpu group arguments");
        const struct cg_ops *ops = ops_for(h->mode);
        if (!ops || !ops->join_cpu_group)
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "no usable cgroup hierarchy (mode %s)",
                                cg_mode_name(h->mode));
        if (!(h->controllers & CG_C_CPU))
                return diag_set(reterr, -EOPNOTSUPP, "cgroup", "the cpu controller is not available (%s)",
                                cg_mode_name(h->mode));
        size_t nlen = strlen(name);
        for (const char *p = cg_parent_rel(h); *p;) {
                size_t len = strcspn(p, "/");
                if (len == nlen && !strncmp(p, name, len))
                        return diag_set(reterr, -EINVAL, "cgroup_parent",
                                        "cgroup_parent '%s' names the service's own cpu group %s: choose another",
                                        h->parent, name);
                p += len + (p[len] == '/');
        }
        return ops->join_cpu_group(h, name, weight, pid, reterr);
}

int cg_open_pids_events(struct cg *c) {
        if (!c)
                return -EINVAL;
        return c->ops->open_pids_events ? c->ops->open_pids_events(c) : -EOPNOTSUPP;
}

int cg_read_pids_events(int fd, uint64_t *ret) {
        char buf[256];
        ssize_t n;
        while ((n = pread(fd, buf, sizeof(buf) - 1, 0)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return cg_parse_keyed(buf, "max", ret);
}

struct cg *cg_destroy(struct cg *c) {
        if (!c)
                return NULL;
        (void)cg_kill_rounds(c);
        (void)c->ops->destroy(c, true);
        free(c);
        return NULL;
}

int cg_destroy_nowait(struct cg **cp) {
        if (!cp || !*cp)
                return 0;
        struct cg *c = *cp;
        int r = c->ops->kill_round(c);
        /* Something still inside: rmdir would only say EBUSY. An error reading the list
         * is not a reason to keep the cgroup forever: rmdir decides then. */
        if (r > 0)
                return -EBUSY;
        if (c->ops->destroy(c, false) == -EBUSY)
                return -EBUSY;
        free(c);
        *cp = NULL;
        return 0;
}

int cg_for_each_child(const struct cg_host *h, void (*fn)(const char *name, void *userdata), void *userdata) {
        const struct cg_ops *ops = h ? ops_for(h->mode) : NULL;
        if (!ops)
                return -EOPNOTSUPP;
        char dir[PATH_MAX];
        int r = ops->parent_dir(h, dir, sizeof(dir));
        if (r < 0)
                return r;
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_type == DT_DIR && cg_name_valid(e->d_name))
                        fn(e->d_name, userdata);
        closedir(d);
        return 0;
}

int cg_adopt(const struct cg_host *h, const char *name, struct cg **ret) {
        const struct cg_ops *ops = h ? ops_for(h->mode) : NULL;
        if (!ops || !ret)
                return -EINVAL;
        if (!cg_name_valid(name))
                return -EINVAL;
        _cleanup_free_ struct cg *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->ops = ops;
        c->controllers = h->controllers;
        memcpy(c->name, name, strlen(name) + 1);
        for (size_t i = 0; i < ARRAY_SIZE(c->v1_dir); i++)
                c->v1_dir[i] = -1;
        int r = ops->adopt(c, h);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
