/* cgroup v1 (and hybrid, where memory/cpu/pids are on v1): one directory per sandbox in
 * every hierarchy we use, <fsroot>/<ctrl>/<parent>/<name>. Co-mounted controllers
 * ("cpu,cpuacct" with cpu and cpuacct as symlinks) share one directory. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/cgroup_internal.h"

static const struct {
        uint32_t bit;
        const char *name;
} v1_ctrls[CG_V1_NCTRL] = {
        [CG_V1_MEMORY] = { CG_C_MEMORY, "memory" },
        [CG_V1_CPU] = { CG_C_CPU, "cpu" },
        [CG_V1_CPUACCT] = { CG_C_CPUACCT, "cpuacct" },
        [CG_V1_PIDS] = { CG_C_PIDS, "pids" },
        [CG_V1_FREEZER] = { CG_C_FREEZER, "freezer" },
};

static int v1_prepare(struct cg_host *h, struct diag *reterr) {
        char root[PATH_MAX];
        int r;
        for (size_t i = 0; i < CG_V1_NCTRL; i++) {
                r = cg_path(root, sizeof(root), "%s/%s", h->fsroot, v1_ctrls[i].name);
                if (r < 0)
                        return cg_fail(reterr, r, "build path under", h->fsroot);
                if (!cg_is_fs(root, CGROUP_SUPER_MAGIC))
                        continue;
                r = cg_mkdir_parents(h, root, cg_parent_rel(h), NULL, reterr);
                if (r < 0)
                        return r;
                h->controllers |= v1_ctrls[i].bit;
        }
        /* Swap accounting (memsw) is a boot-time choice (swapaccount=, CONFIG_MEMCG_SWAP). */
        if (h->controllers & CG_C_MEMORY) {
                r = cg_path(root, sizeof(root), "%s/memory/memory.memsw.limit_in_bytes", h->fsroot);
                if (r < 0)
                        return cg_fail(reterr, r, "build path under", h->fsroot);
                if (access(root, F_OK) == 0)
                        h->controllers |= CG_C_MEMSW;
        }
        return 0;
}

static const char *ctrl_dir(const struct cg *c, enum cg_v1_ctrl i) {
        return c->v1_dir[i] >= 0 ? c->dirs[c->v1_dir[i]] : NULL;
}

static int v1_create(struct cg *c, const struct cg_host *h, const struct cg_limits *l, struct diag *reterr) {
        dev_t devs[CG_V1_NCTRL] = {0};
        char path[PATH_MAX];
        int r;

        for (size_t i = 0; i < CG_V1_NCTRL; i++) {
                if (!(h->controllers & v1_ctrls[i].bit))
                        continue;
                r = cg_path(path, sizeof(path), "%s/%s", h->fsroot, v1_ctrls[i].name);
                if (r < 0)
                        return cg_fail(reterr, r, "build path under", h->fsroot);
                struct stat st;
                if (stat(path, &st) < 0)
                        return cg_fail(reterr, -errno, "stat", path);
                devs[i] = st.st_dev;
                /* One superblock per hierarchy: same st_dev means co-mounted, same directory. */
                for (size_t j = 0; j < i; j++)
                        if (c->v1_dir[j] >= 0 && devs[j] == st.st_dev) {
                                c->v1_dir[i] = c->v1_dir[j];
                                break;
                        }
                if (c->v1_dir[i] >= 0)
                        continue;

                r = cg_path(path, sizeof(path), "%s/%s/%s/%s", h->fsroot, v1_ctrls[i].name, cg_parent_rel(h),
                            c->name);
                if (r < 0)
                        return cg_fail(reterr, r, "build path for cgroup", c->name);
                r = cg_mkdir_owned(c, path);
                if (r == -EEXIST)
                        return diag_set(reterr, r, "cgroup", "cgroup %s already exists (name clash or leftover)", path);
                if (r < 0)
                        return cg_fail(reterr, r, "create cgroup", path);
                c->v1_dir[i] = (int)c->ndirs - 1;
        }

        char val[64]; /* two u64 in decimal fit: the (void) cg_path()s below cannot truncate */
        const char *dir;
        if (l->memory_bytes && (dir = ctrl_dir(c, CG_V1_MEMORY))) {
                (void)cg_path(val, sizeof(val), "%" PRIu64, l->memory_bytes);
                /* The kernel keeps memsw >= limit at all times: in a new cgroup both are
                 * unlimited, so the limit goes first, then memsw down to the same value
                 * (memory + swap = memory: no swap). */
                r = cg_write_attr(dir, "memory.limit_in_bytes", val, reterr);
                if (r < 0)
                        return r;
                if (c->controllers & CG_C_MEMSW) {
                        r = cg_write_attr(dir, "memory.memsw.limit_in_bytes", val, reterr);
                        if (r < 0)
                                return r;
                }
                /* Without memsw this is what keeps the sandbox off swap; with it, it only
                 * spares reclaim the attempt. Best effort: the root cgroup's knob is absent. */
                (void)cg_write_attr(dir, "memory.swappiness", "0", NULL);
        }
        if (l->cpu_millis && (dir = ctrl_dir(c, CG_V1_CPU))) {
                uint64_t quota = (uint64_t)l->cpu_millis * CG_CPU_PERIOD_USEC / 1000u;
                (void)cg_path(val, sizeof(val), "%u", CG_CPU_PERIOD_USEC);
                r = cg_write_attr(dir, "cpu.cfs_period_us", val, reterr);
                if (r < 0)
                        return r;
                (void)cg_path(val, sizeof(val), "%" PRIu64, quota);
                r = cg_write_attr(dir, "cpu.cfs_quota_us", val, reterr);
                if (r < 0)
                        return r;
        }
        if (l->pids && (dir = ctrl_dir(c, CG_V1_PIDS))) {
                (void)cg_path(val, sizeof(val), "%" PRIu32, l->pids);
                r = cg_write_attr(dir, "pids.max", val, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_attach(struct cg *c, pid_t pid, struct diag *reterr) {
        char val[32];
        (void)cg_path(val, sizeof(val), "%d", (int)pid);
        for (size_t i = 0; i < c->ndirs; i++) {
                int r = cg_write_attr(c->dirs[i], "cgroup.procs", val, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Best effort, as in v2: a missing file or key reads as 0; the first real error is
 * returned after everything else has been filled in. */
static void keep_first(int *ret, int r) {
        if (r < 0 && r != -ENOENT && *ret == 0)
                *ret = r;
}

static int v1_read_usage(struct cg *c, struct cg_stats *ret) {
        char path[PATH_MAX];
        const char *dir;
        int res = 0;
        if ((dir = ctrl_dir(c, CG_V1_MEMORY))) {
                if (cg_path(path, sizeof(path), "%s/memory.max_usage_in_bytes", dir) == 0)
                        keep_first(&res, cg_read_u64(path, &ret->memory_peak_bytes));
                if (cg_path(path, sizeof(path), "%s/memory.usage_in_bytes", dir) == 0)
                        keep_first(&res, cg_read_u64(path, &ret->memory_current_bytes));
        }
        if ((dir = ctrl_dir(c, CG_V1_CPUACCT))) {
                uint64_t ns = 0;
                if (cg_path(path, sizeof(path), "%s/cpuacct.usage", dir) == 0)
                        keep_first(&res, cg_read_u64(path, &ns));
                ret->cpu_usec = ns / 1000u;
        }
        return res;
}

static int v1_read_events(struct cg *c, struct cg_stats *ret) {
        char path[PATH_MAX];
        const char *dir;
        int res = 0;
        if ((dir = ctrl_dir(c, CG_V1_MEMORY))) {
                if (cg_path(path, sizeof(path), "%s/memory.oom_control", dir) == 0)
                        keep_first(&res, cg_read_keyed(path, "oom_kill", &ret->oom_kills));
        }
        if ((dir = ctrl_dir(c, CG_V1_PIDS))) {
                if (cg_path(path, sizeof(path), "%s/pids.events", dir) == 0)
                        keep_first(&res, cg_read_keyed(path, "max", &ret->pids_max_hits));
        }
        return res;
}

static int v1_read_stats(struct cg *c, struct cg_stats *ret) {
        char path[PATH_MAX];
        const char *dir;
        int res = v1_read_usage(c, ret);
        keep_first(&res, v1_read_events(c, ret));
        dir = ctrl_dir(c, CG_V1_PIDS);
        if (!dir)
                dir = ctrl_dir(c, CG_V1_MEMORY);
        if (!dir && c->ndirs > 0)
                dir = c->dirs[0];
        if (dir && cg_path(path, sizeof(path), "%s/cgroup.procs", dir) == 0)
                keep_first(&res, cg_count_procs(path, &ret->nprocs));
        return res;
}

/* FROZEN is reached asynchronously (FREEZING until every task stopped); wait for it a
 * little, but a task stuck in the kernel must not stall the kill: proceed regardless. */
static bool v1_freeze(const char *dir) {
        if (cg_write_attr(dir, "freezer.state", "FROZEN", NULL) < 0)
                return false;
        char path[PATH_MAX];
        if (cg_path(path, sizeof(path), "%s/freezer.state", dir) < 0)
                return true;
        for (int i = 0; i < 100; i++) {
                _cleanup_free_ char *state = NULL;
                if (cg_read_file(path, 64, &state) == 0 && strcmp(state, "FROZEN\n") == 0)
                        break;
                cg_sleep_ms(1);
        }
        return true;
}

static int v1_kill_round(struct cg *c) {
        char path[PATH_MAX];
        /* A process may sit in some hierarchies only (a half-done attach): every
         * directory must be empty. */
        uint64_t total = 0, counts[CG_V1_NCTRL] = {0};
        for (size_t i = 0; i < c->ndirs; i++) {
                if (cg_path(path, sizeof(path), "%s/cgroup.procs", c->dirs[i]) < 0)
                        return -ENAMETOOLONG;
                int r = cg_count_procs(path, &counts[i]);
                if (r < 0 && r != -ENOENT)
                        return r;
                total += counts[i];
        }
        if (total == 0)
                return 0;
        /* With forks refused (pids.max 0) the listed processes are all there will be,
         * give or take a child forked just before, which the next round sees: no need to
         * wait for the freezer, which on v1 reaches FROZEN only once every task has
         * stopped (up to 100 ms here). Without a pids directory, frozen, nothing can fork
         * between reading cgroup.procs and the kills. v1's freezer holds the SIGKILLs
         * until the thaw, which must therefore always follow: a cgroup left FROZEN with
         * dying tasks could never be removed. */
        const char *freezer = ctrl_dir(c, CG_V1_FREEZER);
        bool frozen = !cg_block_forks(c, ctrl_dir(c, CG_V1_PIDS)) && freezer && v1_freeze(freezer);
        /* Every process of the sandbox is in every hierarchy (it joined them all before it
         * could fork): the pids directory's list is the whole of it, and another list is
         * worth killing from only when it is longer. A dying fork bomb is listed with its
         * hundreds of processes in each of five directories, every tick until it is gone. */
        int pids = c->v1_dir[CG_V1_PIDS];
        for (size_t i = 0; i < c->ndirs; i++)
                if ((pids < 0 || (int)i == pids || counts[i] > counts[pids]) &&
                    cg_path(path, sizeof(path), "%s/cgroup.procs", c->dirs[i]) == 0)
                        (void)cg_kill_procs(path, NULL);
        if (frozen)
                (void)cg_write_attr(freezer, "freezer.state", "THAWED", NULL);
        return total > INT_MAX ? INT_MAX : (int)total;
}

static int v1_destroy(struct cg *c, bool wait) {
        return cg_rmdir_owned(c, wait);
}

static int v1_adopt(struct cg *c, const struct cg_host *h) {
        for (size_t i = 0; i < CG_V1_NCTRL; i++) {
                if (!(h->controllers & v1_ctrls[i].bit) || c->ndirs >= CG_V1_NCTRL)
                        continue;
                char path[PATH_MAX];
                struct stat st;
                if (cg_path(path, sizeof(path), "%s/%s/%s/%s", h->fsroot, v1_ctrls[i].name, cg_parent_rel(h),
                            c->name) < 0 ||
                    stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                memcpy(c->dirs[c->ndirs], path, strlen(path) + 1);
                c->v1_dir[i] = (int)c->ndirs++;
        }
        return c->ndirs ? 0 : -ENOENT;
}

static int v1_parent_dir(const struct cg_host *h, char *buf, size_t size) {
        /* Every sandbox has a pids (or memory) directory: list that hierarchy. */
        const char *ctrl = (h->controllers & CG_C_PIDS) ? "pids" : "memory";
        return cg_path(buf, size, "%s/%s/%s", h->fsroot, ctrl, cg_parent_rel(h));
}

static int v1_reset_peak(struct cg *c) {
        const char *dir = ctrl_dir(c, CG_V1_MEMORY);
        if (!dir)
                return -EOPNOTSUPP;
        return cg_write_attr(dir, "memory.max_usage_in_bytes", "0", NULL);
}

/* The cpu hierarchy's top-level group `name`, cpu.shares from the v2-unit weight, then the
 * pid (cg_host_join_cpu_group() checked the arguments and the cpu controller). */
static int v1_join_cpu_group(const struct cg_host *h, const char *name, unsigned weight, pid_t pid,
                             struct diag *reterr) {
        char dir[PATH_MAX], val[32];
        int r = cg_path(dir, sizeof(dir), "%s/cpu/%s", h->fsroot, name);
        if (r < 0)
                return cg_fail(reterr, r, "build path under", h->fsroot);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return cg_fail(reterr, -errno, "create cgroup", dir);
        (void)cg_path(val, sizeof(val), "%u", weight * 1024u / 100u < 2 ? 2 : weight * 1024u / 100u);
        r = cg_write_attr(dir, "cpu.shares", val, reterr);
        if (r < 0)
                return r;
        (void)cg_path(val, sizeof(val), "%d", (int)pid);
        return cg_write_attr(dir, "cgroup.procs", val, reterr);
}

const struct cg_ops cg_v1_ops = {
        .join_cpu_group = v1_join_cpu_group,
        .reset_peak = v1_reset_peak,
        .read_usage = v1_read_usage,
        .read_events = v1_read_events,
        .adopt = v1_adopt,
        .parent_dir = v1_parent_dir,
        .prepare = v1_prepare,
        .create = v1_create,
        .attach = v1_attach,
        .read_stats = v1_read_stats,
        .kill_round = v1_kill_round,
        .destroy = v1_destroy,
};
