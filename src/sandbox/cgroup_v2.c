/* cgroup v2 (unified hierarchy): one directory per sandbox under the parent, controllers
 * enabled top-down through every cgroup.subtree_control on the way to the parent. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/cgroup_internal.h"

static const struct {
        uint32_t bit;
        const char *name;
} v2_ctrls[] = {
        /* This order is the order of "+memory +cpu +pids" in subtree_control writes. */
        { CG_C_MEMORY, "memory" },
        { CG_C_CPU, "cpu" },
        { CG_C_PIDS, "pids" },
};

/* buf holds whitespace-separated controller names (cgroup.controllers/subtree_control). */
static bool has_token(const char *buf, const char *tok) {
        size_t tlen = strlen(tok);
        for (const char *p = buf; *p;) {
                p += strspn(p, " \t\n");
                size_t len = strcspn(p, " \t\n");
                if (len == tlen && memcmp(p, tok, len) == 0)
                        return true;
                p += len;
        }
        return false;
}

/* Enable the wanted controllers (h->controllers) in dir's cgroup.subtree_control, writing
 * only those not yet enabled: levels we do not own (the root, a systemd slice) are then
 * left untouched whenever they already delegate what we need. */
static int v2_enable(const struct cg_host *h, const char *dir, struct diag *reterr) {
        char path[PATH_MAX];
        int r = cg_path(path, sizeof(path), "%s/cgroup.subtree_control", dir);
        if (r < 0)
                return cg_fail(reterr, r, "build path under", dir);
        _cleanup_free_ char *cur = NULL;
        r = cg_read_file(path, 4096, &cur);
        if (r < 0)
                return cg_fail(reterr, r, "read", path);

        char add[64] = "";
        size_t len = 0;
        for (size_t i = 0; i < ARRAY_SIZE(v2_ctrls); i++) {
                if (!(h->controllers & v2_ctrls[i].bit) || has_token(cur, v2_ctrls[i].name))
                        continue;
                r = cg_path(add + len, sizeof(add) - len, "%s+%s", len ? " " : "", v2_ctrls[i].name);
                if (r < 0)
                        return cg_fail(reterr, r, "build controller list for", path);
                len = strlen(add);
        }
        if (len == 0)
                return 0;
        r = cg_write_file(path, add);
        if (r < 0) {
                char buf[128];
                return diag_set(reterr, r, "cgroup", "write \"%s\" to %s: %s%s", add, path,
                                strerror_r(-r, buf, sizeof(buf)),
                                r == -EBUSY ? " (the cgroup has member processes: move them into a leaf cgroup)" : "");
        }
        return 0;
}

static int v2_prepare(struct cg_host *h, struct diag *reterr) {
        /* What the host offers at the top of our view of the hierarchy; every level below
         * can only offer a subset, and v2_enable() turns the subset into all of it. */
        char path[PATH_MAX];
        int r = cg_path(path, sizeof(path), "%s/cgroup.controllers", h->fsroot);
        if (r < 0)
                return cg_fail(reterr, r, "build path under", h->fsroot);
        _cleanup_free_ char *avail = NULL;
        r = cg_read_file(path, 4096, &avail);
        if (r < 0)
                return cg_fail(reterr, r, "read", path);
        for (size_t i = 0; i < ARRAY_SIZE(v2_ctrls); i++)
                if (has_token(avail, v2_ctrls[i].name))
                        h->controllers |= v2_ctrls[i].bit;

        r = cg_mkdir_parents(h, h->fsroot, cg_parent_rel(h), v2_enable, reterr);
        if (r < 0)
                return r;

        /* cgroup.kill (Linux 5.14) exists in every non-root cgroup or in none. */
        r = cg_path(path, sizeof(path), "%s/%s/cgroup.kill", h->fsroot, cg_parent_rel(h));
        if (r < 0)
                return cg_fail(reterr, r, "build path under", h->fsroot);
        if (access(path, F_OK) == 0)
                h->controllers |= CG_C_KILL;
        return 0;
}

static int v2_create(struct cg *c, const struct cg_host *h, const struct cg_limits *l, struct diag *reterr) {
        char dir[PATH_MAX];
        int r = cg_path(dir, sizeof(dir), "%s/%s/%s", h->fsroot, cg_parent_rel(h), c->name);
        if (r < 0)
                return cg_fail(reterr, r, "build path for cgroup", c->name);
        r = cg_mkdir_owned(c, dir);
        if (r == -EEXIST)
                return diag_set(reterr, r, "cgroup", "cgroup %s already exists (name clash or leftover)", dir);
        if (r < 0)
                return cg_fail(reterr, r, "create cgroup", dir);

        char val[64]; /* two u64 in decimal fit: the (void) cg_path()s below cannot truncate */
        if (l->memory_bytes) {
                (void)cg_path(val, sizeof(val), "%" PRIu64, l->memory_bytes);
                r = cg_write_attr(dir, "memory.max", val, reterr);
                if (r < 0)
                        return r;
                /* Absent without swap accounting (CONFIG_SWAP off, swapaccount=0): then there
                 * is no swap to escape to either. */
                char path[PATH_MAX];
                r = cg_path(path, sizeof(path), "%s/memory.swap.max", dir);
                if (r < 0)
                        return cg_fail(reterr, r, "build path under", dir);
                r = cg_write_file(path, "0");
                if (r < 0 && r != -ENOENT)
                        return cg_fail(reterr, r, "write \"0\" to", path);
        }
        if (l->cpu_millis) {
                uint64_t quota = (uint64_t)l->cpu_millis * CG_CPU_PERIOD_USEC / 1000u;
                (void)cg_path(val, sizeof(val), "%" PRIu64 " %u", quota, CG_CPU_PERIOD_USEC);
                r = cg_write_attr(dir, "cpu.max", val, reterr);
                if (r < 0)
                        return r;
        }
        if (l->pids) {
                (void)cg_path(val, sizeof(val), "%" PRIu32, l->pids);
                r = cg_write_attr(dir, "pids.max", val, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v2_attach(struct cg *c, pid_t pid, struct diag *reterr) {
        char val[32];
        (void)cg_path(val, sizeof(val), "%d", (int)pid);
        return cg_write_attr(c->dirs[0], "cgroup.procs", val, reterr);
}

/* Stats are best effort: a missing file or key (older kernel) reads as 0, and the first
 * real error is returned after everything else has been filled in. */
static void keep_first(int *ret, int r) {
        if (r < 0 && r != -ENOENT && *ret == 0)
                *ret = r;
}

static int v2_read_usage(struct cg *c, struct cg_stats *ret) {
        const char *dir = c->dirs[0];
        char path[PATH_MAX];
        int res = 0, r;
        if (c->controllers & CG_C_MEMORY) {
                if (cg_path(path, sizeof(path), "%s/memory.current", dir) == 0)
                        keep_first(&res, cg_read_u64(path, &ret->memory_current_bytes));
                if (cg_path(path, sizeof(path), "%s/memory.peak", dir) == 0) {
                        r = cg_read_u64(path, &ret->memory_peak_bytes);
                        if (r == -ENOENT) /* before Linux 5.19 */
                                ret->memory_peak_bytes = ret->memory_current_bytes, r = 0;
                        keep_first(&res, r);
                }
        }
        if (cg_path(path, sizeof(path), "%s/cpu.stat", dir) == 0)
                keep_first(&res, cg_read_keyed(path, "usage_usec", &ret->cpu_usec));
        return res;
}

static int v2_read_events(struct cg *c, struct cg_stats *ret) {
        const char *dir = c->dirs[0];
        char path[PATH_MAX];
        int res = 0;
        if ((c->controllers & CG_C_MEMORY) && cg_path(path, sizeof(path), "%s/memory.events", dir) == 0)
                keep_first(&res, cg_read_keyed(path, "oom_kill", &ret->oom_kills));
        if ((c->controllers & CG_C_PIDS) && cg_path(path, sizeof(path), "%s/pids.events", dir) == 0)
                keep_first(&res, cg_read_keyed(path, "max", &ret->pids_max_hits));
        return res;
}

static int v2_read_stats(struct cg *c, struct cg_stats *ret) {
        const char *dir = c->dirs[0];
        char path[PATH_MAX];
        int res = v2_read_usage(c, ret);
        keep_first(&res, v2_read_events(c, ret));
        if (cg_path(path, sizeof(path), "%s/cgroup.procs", dir) == 0)
                keep_first(&res, cg_count_procs(path, &ret->nprocs));
        return res;
}

static int v2_kill_round(struct cg *c) {
        const char *dir = c->dirs[0];
        char procs[PATH_MAX], freeze[PATH_MAX];
        if (cg_path(procs, sizeof(procs), "%s/cgroup.procs", dir) < 0 ||
            cg_path(freeze, sizeof(freeze), "%s/cgroup.freeze", dir) < 0)
                return -ENAMETOOLONG;
        /* cgroup.kill kills every process, including ones forked while it runs, in one go;
         * what is still listed afterwards is exiting (a later round kills it again,
         * harmlessly). */
        bool killed = false;
        if (c->controllers & CG_C_KILL) {
                int r = cg_write_attr(dir, "cgroup.kill", "1", NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
                killed = r == 0;
        }
        uint64_t n = 0;
        int r = cg_count_procs(procs, &n);
        if (r == -ENOENT)
                return 0; /* the directory is gone: nothing left inside */
        if (r < 0)
                return r;
        if (n > 0 && !killed) {
                /* Pre-5.14 fallback: forks refused from now on (pids.max 0) where the pids
                 * controller is on, else frozen, so that nothing inside can fork between our
                 * read of cgroup.procs and the kills; v2's freezer lets SIGKILL through. */
                bool frozen = !cg_block_forks(c, (c->controllers & CG_C_PIDS) ? dir : NULL) &&
                              cg_write_file(freeze, "1") == 0;
                (void)cg_kill_procs(procs, NULL);
                if (frozen)
                        (void)cg_write_file(freeze, "0");
        }
        return n > INT_MAX ? INT_MAX : (int)n;
}

static int v2_destroy(struct cg *c, bool wait) {
        return cg_rmdir_owned(c, wait);
}

static int v2_adopt(struct cg *c, const struct cg_host *h) {
        char path[PATH_MAX];
        struct stat st;
        if (cg_path(path, sizeof(path), "%s/%s/%s", h->fsroot, cg_parent_rel(h), c->name) < 0 ||
            stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return -ENOENT;
        memcpy(c->dirs[0], path, strlen(path) + 1);
        c->ndirs = 1;
        return 0;
}

static int v2_open_pids_events(struct cg *c) {
        if (!(c->controllers & CG_C_PIDS))
                return -ENOENT;
        char path[PATH_MAX];
        int r = cg_path(path, sizeof(path), "%s/pids.events", c->dirs[0]);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

static int v2_parent_dir(const struct cg_host *h, char *buf, size_t size) {
        return cg_path(buf, size, "%s/%s", h->fsroot, cg_parent_rel(h));
}

/* The service's cpu group goes next to the sandboxes' parent, in the same directory: with
 * the default parent ("airlock") at the top of the hierarchy, as v1's; under a delegated
 * parent (".../airlock.service/sandboxes") inside the delegation, where the service's
 * processes then live in a leaf of their own, as the no-internal-processes rule wants.
 * The two then share the cpu controller of the level above them, which prepare() enabled,
 * and the weight is the service's against the sandboxes' parent as a whole. */
static int v2_join_cpu_group(const struct cg_host *h, const char *name, unsigned weight, pid_t pid,
                             struct diag *reterr) {
        const char *rel = cg_parent_rel(h), *slash = strrchr(rel, '/');
        if (!slash) {
                (void)diag_set(reterr, 0, "cgroup_parent",
                               "the sandboxes' parent %s is at the top of the hierarchy: the service stays in its "
                               "own cgroup (a delegated cgroup_parent, Delegate=yes, weighs it above them)",
                               rel);
                return 1;
        }
        int up = (int)(slash - rel);
        char dir[PATH_MAX], val[32];
        int r = cg_path(dir, sizeof(dir), "%s/%.*s/%s", h->fsroot, up, rel, name);
        if (r < 0)
                return cg_fail(reterr, r, "build path under", h->fsroot);
        /* An existing group is the one an earlier `airlock serve` made (it is kept, as on
         * v1: every service on the host shares it); a new one gets the kernel's files. */
        if (mkdir(dir, 0755) < 0) {
                if (errno != EEXIST)
                        return cg_fail(reterr, -errno, "create cgroup", dir);
        } else if (h->fake_fs) {
                r = h->fake_fs(CG_FAKE_MKDIR, dir, h->fake_fs_userdata);
                if (r != 0) {
                        (void)rmdir(dir);
                        return cg_fail(reterr, r > 0 ? -r : r, "populate (test hook)", dir);
                }
        }
        /* The weight before the move, so that a failure leaves the process where it was;
         * cpu.weight is absent when the cpu controller is not enabled at that level. */
        (void)cg_path(val, sizeof(val), "%u", weight);
        r = cg_write_attr(dir, "cpu.weight", val, reterr);
        if (r < 0)
                return r == -ENOENT ? cg_fail(reterr, r, "no cpu controller for the service's group: open cpu.weight in",
                                              dir)
                                    : r;
        (void)cg_path(val, sizeof(val), "%d", (int)pid);
        return cg_write_attr(dir, "cgroup.procs", val, reterr);
}

const struct cg_ops cg_v2_ops = {
        .join_cpu_group = v2_join_cpu_group,
        .read_usage = v2_read_usage,
        .read_events = v2_read_events,
        .open_pids_events = v2_open_pids_events,
        .adopt = v2_adopt,
        .parent_dir = v2_parent_dir,
        .prepare = v2_prepare,
        .create = v2_create,
        .attach = v2_attach,
        .read_stats = v2_read_stats,
        .kill_round = v2_kill_round,
        .destroy = v2_destroy,
};
