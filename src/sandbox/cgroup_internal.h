/* cgroup_internal: what cgroup.c shares with cgroup_v1.c and cgroup_v2.c (and the unit
 * tests): the per-mode ops table, struct cg, and small file/parse helpers.
 * Not for use outside src/sandbox/cgroup*.c and tests/unit/test_cgroup_*.c.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"

/* v1 controllers this module uses, in the order directories are created. */
enum cg_v1_ctrl { CG_V1_MEMORY, CG_V1_CPU, CG_V1_CPUACCT, CG_V1_PIDS, CG_V1_FREEZER, CG_V1_NCTRL };

#define CG_CPU_PERIOD_USEC 100000u
/* How long cg_kill_all() waits for the cgroup to empty, and its poll interval. */
#define CG_KILL_TIMEOUT_MS 1000
#define CG_POLL_MS 10
#define CG_POLL_FIRST_US 250u

struct cg_ops {
        /* Create the parent under h->fsroot and fill h->controllers. */
        int (*prepare)(struct cg_host *h, struct diag *reterr);
        /* Create c's directories and write l. Each directory is recorded in c->dirs as soon
         * as it exists, so that the caller can remove them all when this fails. */
        int (*create)(struct cg *c, const struct cg_host *h, const struct cg_limits *l, struct diag *reterr);
        int (*attach)(struct cg *c, pid_t pid, struct diag *reterr);
        int (*read_stats)(struct cg *c, struct cg_stats *ret);
        /* CPU time and memory (now and peak) only: what each execution reads twice, so
         * the cheap subset of read_stats. */
        int (*read_usage)(struct cg *c, struct cg_stats *ret);
        /* The limit-event counters only (OOM kills, refused forks): the tick's read. */
        int (*read_events)(struct cg *c, struct cg_stats *ret);
        /* Start a new memory high-water mark; -EOPNOTSUPP where the layout has none. */
        int (*reset_peak)(struct cg *c);
        /* One round: SIGKILL to everything inside, forks racing with it stopped (see
         * cg_kill_nowait()). Returns how many processes were listed, or -errno. */
        int (*kill_round)(struct cg *c);
        /* rmdir every directory in c->dirs (deepest last-created first); c is freed by the
         * caller. With wait false, one attempt each: -EBUSY leaves the rest in c->dirs. */
        int (*destroy)(struct cg *c, bool wait);
        /* Record the directories of an existing cgroup called c->name (for removing one a
         * dead launcher left behind). -ENOENT when there is none. */
        int (*adopt)(struct cg *c, const struct cg_host *h);
        /* An fd polling EPOLLPRI at a refused fork; -EOPNOTSUPP where the kernel never
         * notifies (v1). */
        int (*open_pids_events)(struct cg *c);
        /* Path of the directory whose subdirectories are the sandboxes' cgroups. */
        int (*parent_dir)(const struct cg_host *h, char *buf, size_t size);
        /* cg_host_join_cpu_group() past its argument and controller checks. */
        int (*join_cpu_group)(const struct cg_host *h, const char *name, unsigned weight, pid_t pid,
                              struct diag *reterr);
};

extern const struct cg_ops cg_v1_ops;
extern const struct cg_ops cg_v2_ops;

struct cg {
        const struct cg_ops *ops;
        uint32_t controllers;           /* copied from the host */
        char name[CG_NAME_MAX + 1];
        /* Every directory this cgroup owns, created by us (never a pre-existing one).
         * v2 uses dirs[0]; v1 one per distinct hierarchy (co-mounted controllers such as
         * "cpu,cpuacct" share one directory). */
        size_t ndirs;
        char dirs[CG_V1_NCTRL][PATH_MAX];
        int v1_dir[CG_V1_NCTRL];        /* v1: index into dirs per controller, -1 when unused */
        bool forks_blocked;             /* pids.max set to 0 by a kill round */
        cg_fake_fs_fn fake_fs;
        void *fake_fs_userdata;
};

/* Name rule for sandbox cgroups: [a-z0-9-]{1,64}. */
bool cg_name_valid(const char *name);

/* snprintf into buf; -ENAMETOOLONG instead of a silently truncated path. */
__attribute__((format(printf, 3, 4)))
int cg_path(char *buf, size_t size, const char *fmt, ...);

/* The parent as a relative path (h->parent may be given absolute, "/a/b"). */
const char *cg_parent_rel(const struct cg_host *h);

/* Write s with a single write(2) (cgroupfs parses each write as one value). No O_CREAT:
 * a missing interface file is an error (-ENOENT), never something to create. */
int cg_write_file(const char *path, const char *s);
/* Write val to <dir>/<file>; on failure reterr names the value, the file and the errno. */
int cg_write_attr(const char *dir, const char *file, const char *val, struct diag *reterr);
/* path is on a filesystem with this statfs magic (linux/magic.h). */
bool cg_is_fs(const char *path, int64_t magic);
/* Read the whole file into a malloc'd NUL-terminated buffer; -EFBIG past max bytes. */
int cg_read_file(const char *path, size_t max, char **ret);

/* Decimal u64: digits only, optionally followed by one "\n"; no sign, no spaces, no
 * overflow. */
int cg_parse_u64(const char *s, uint64_t *ret);
/* In "key value\n" lines (memory.events, cpu.stat, pids.events, memory.oom_control),
 * the value for exactly key. -ENOENT when absent, -EINVAL when malformed. */
int cg_parse_keyed(const char *buf, const char *key, uint64_t *ret);
/* Read a single-number file (memory.peak, cpuacct.usage). */
int cg_read_u64(const char *path, uint64_t *ret);
/* Read a keyed file and look up key. */
int cg_read_keyed(const char *path, const char *key, uint64_t *ret);

/* Number of processes listed in a cgroup.procs file. */
int cg_count_procs(const char *procs_path, uint64_t *ret);
/* SIGKILL every pid listed in a cgroup.procs file; *ret_n = how many were listed. */
int cg_kill_procs(const char *procs_path, uint64_t *ret_n);

/* mkdir 0755 + the fake_fs hook; records the directory in c->dirs. -EEXIST is returned
 * as is (a name clash must not adopt someone else's cgroup). */
int cg_mkdir_owned(struct cg *c, const char *path);
/* mkdir -p for the parent: each missing component under base is created (EEXIST fine),
 * with the fake_fs hook; on_level (may be NULL) runs on base and on every directory
 * on the way down, before descending further. */
int cg_mkdir_parents(const struct cg_host *h, const char *base, const char *rel,
                     int (*on_level)(const struct cg_host *h, const char *dir, struct diag *reterr),
                     struct diag *reterr);
/* rmdir every owned directory, newest first. With wait, EBUSY is retried for a while
 * (the kernel lets go of a cgroup asynchronously from its last exit) and then given up
 * on; without, the first EBUSY is returned and that directory and the older ones stay
 * in c->dirs for a later call. */
int cg_rmdir_owned(struct cg *c, bool wait);
/* The kill rounds of cg_kill_all(), until empty or CG_KILL_TIMEOUT_MS. */
int cg_kill_rounds(struct cg *c);
/* Refuse every fork in the cgroup from now on (pids.max 0), once; false when there is no
 * pids directory to do it with. */
bool cg_block_forks(struct cg *c, const char *pids_dir);

void cg_sleep_ms(unsigned ms);
/* Sleep *us microseconds, then double it up to CG_POLL_MS: the usual wait (a process
 * finishing its exit) takes well under a millisecond, so do not pay 10 ms for it. */
void cg_sleep_backoff(unsigned *us);
uint64_t cg_now_ms(void);

/* diag_set with "<what> <path>: <strerror>" in the "cgroup" field. */
int cg_fail(struct diag *reterr, int r, const char *what, const char *path);
