/* cgroup: per-sandbox resource limits on cgroup v1/hybrid and v2 (crun-style ops table).
 *
 * Owns: detecting the host layout, creating one cgroup per sandbox with memory (no swap),
 * CPU and pids limits, moving a process into it before it execs, reading usage and
 * limit events (OOM kills, pid-limit hits), killing everything inside, removing it.
 * Never: decides limits (the launcher validated them), forks, or touches namespaces.
 *
 * Layout rules (see docs/architecture.md):
 *  - v2 (unified): one directory <parent>/<name>; controllers enabled in the parent's
 *    cgroup.subtree_control. memory.max + memory.swap.max=0, cpu.max, pids.max.
 *  - v1 and hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified): one directory
 *    per controller, <mount>/<ctrl>/<parent>/<name>, for memory (limit_in_bytes and
 *    memsw.limit_in_bytes = same value, i.e. no swap), cpu (cfs_quota/period), pids,
 *    cpuacct (usage) and freezer (for a race-free kill).
 * All paths are built by this module from the detected mount points and a name matching
 * [a-z0-9-]{1,64}; fsroot is a parameter so tests can run against a fake tree.
 */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "common/diag.h"

enum cg_mode { CG_NONE = 0, CG_V1 = 1, CG_V2 = 2 };

enum cg_controller {
        CG_C_MEMORY = 1u << 0,
        CG_C_MEMSW = 1u << 1, /* v1 memory.memsw.* present (swap accounting) */
        CG_C_CPU = 1u << 2,
        CG_C_CPUACCT = 1u << 3,
        CG_C_PIDS = 1u << 4,
        CG_C_FREEZER = 1u << 5,
        CG_C_KILL = 1u << 6, /* v2 cgroup.kill */
};

#define CG_PATH_MAX 256
#define CG_NAME_MAX 64

/* Test seam for a fake tree. A real cgroupfs fills every new directory with its interface
 * files and lets rmdir remove a directory that still holds them; a plain directory does
 * neither. So that production code never has to create files (no O_CREAT) nor accept a
 * pre-existing sandbox directory, tests set cg_host.fake_fs: it is called right after
 * each mkdir this module does (to create the files the kernel would) and right before
 * each rmdir (to delete them). A nonzero return from CG_FAKE_MKDIR fails the operation.
 * cg_host_detect() always leaves it NULL, and a NULL hook is the production path. */
enum cg_fake_event { CG_FAKE_MKDIR, CG_FAKE_RMDIR };
typedef int (*cg_fake_fs_fn)(enum cg_fake_event ev, const char *dir, void *userdata);

struct cg_host {
        enum cg_mode mode;
        uint32_t controllers;  /* enum cg_controller bits usable for sandboxes */
        char fsroot[CG_PATH_MAX];  /* "/sys/fs/cgroup" or a test tree */
        char parent[CG_PATH_MAX];  /* relative parent under which sandboxes go, e.g. "airlock" */
        cg_fake_fs_fn fake_fs;     /* tests only, see above; NULL in production */
        void *fake_fs_userdata;
};

/* A zero field leaves that limit unset (the kernel default, "max"). A nonzero field whose
 * controller is not usable on the host makes cg_create() fail rather than run unlimited. */
struct cg_limits {
        uint64_t memory_bytes;
        uint32_t cpu_millis; /* 1000 = one CPU; quota = cpu_millis * period / 1000 */
        uint32_t pids;
};

struct cg_stats {
        uint64_t memory_peak_bytes;
        uint64_t memory_current_bytes;
        uint64_t cpu_usec;
        uint64_t oom_kills;   /* v2 memory.events oom_kill; v1 memory.oom_control oom_kill */
        uint64_t pids_max_hits; /* v2 pids.events max; v1 pids.events max */
        uint64_t nprocs;      /* processes currently inside */
};

struct cg; /* one sandbox's cgroup */

/* Detect the layout under fsroot ("/sys/fs/cgroup" in production) and prepare the
 * parent directory `parent` (created if missing; on v2 controllers enabled in its
 * subtree_control). On a v2 host where the caller's own cgroup must be used (delegation),
 * parent may be absolute inside the hierarchy, e.g. "/system.slice/airlock.service/sandboxes".
 * Returns CG_NONE in ret->mode (and 0) when no usable hierarchy exists; the caller
 * decides whether that is fatal. */
int cg_host_detect(const char *fsroot, const char *parent, struct cg_host *ret, struct diag *reterr);

/* The second half of cg_host_detect(): given h->mode, h->fsroot and h->parent already set
 * (and, in tests, h->fake_fs), create the parent and fill h->controllers. Tests call it
 * on a hand-built cg_host with mode = CG_V2 and fsroot = a temporary directory, since
 * detection rightly reports CG_NONE for a tree that is not a cgroup filesystem.
 * v2: the process calling this must not live in the parent or any cgroup between it and
 * the root other than the root itself ("no internal processes": a non-root cgroup with
 * member processes cannot enable controllers for its children; the write fails EBUSY).
 * Under systemd delegation, move the daemon into a leaf such as ".../supervisor" first. */
int cg_host_prepare(struct cg_host *h, struct diag *reterr);

/* Create <parent>/<name> and write the limits. On failure nothing is left behind. */
int cg_create(const struct cg_host *h, const char *name, const struct cg_limits *l, struct cg **ret,
              struct diag *reterr);

/* Move pid (usually the caller itself via getpid() in the forked child) into the cgroup. */
int cg_attach(struct cg *c, pid_t pid, struct diag *reterr);

int cg_read_stats(struct cg *c, struct cg_stats *ret);
/* Only cpu_usec, memory_current_bytes and memory_peak_bytes (three reads): for the
 * per-execution figures, where read_stats' process count and event files would cost. */
int cg_read_usage(struct cg *c, struct cg_stats *ret);
/* Only oom_kills and pids_max_hits (two reads): what the launcher's tick looks at, every
 * 50 ms for every sandbox, where read_stats' six files were most of its work. */
int cg_read_events(struct cg *c, struct cg_stats *ret);

/* Make the memory peak count from now (one execution's own, not the sandbox's).
 * v1: memory.max_usage_in_bytes is reset by writing 0 to it. v2: -EOPNOTSUPP (memory.peak
 * became resettable only in Linux 6.12, and then per open file). */
int cg_reset_peak(struct cg *c);

/* Kill every process inside and wait (bounded, ~1 s) until none are left: rounds of
 * cg_kill_nowait(). For callers that may block (shutdown, leftovers of a dead launcher). */
int cg_kill_all(struct cg *c);

/* One round of cg_kill_all() without its wait. Returns how many processes were inside
 * (0: none, nothing to do), or -errno. Every listed process gets SIGKILL; a fork racing
 * with the round cannot leave a process behind for good:
 *  - v2 with cgroup.kill: the kernel kills the cgroup's processes, forks in flight included;
 *  - otherwise, with the pids controller, pids.max drops to 0 first, so no fork succeeds
 *    from then on and a child forked just before shows up in the next round;
 *  - without either, the freezer holds the processes while they are listed and killed.
 * Hundreds of processes take tens of milliseconds to exit: an event loop (the launcher,
 * which serves every other sandbox meanwhile) calls this and comes back later rather
 * than wait for them. */
int cg_kill_nowait(struct cg *c);

/* Kill what is left, rmdir every directory, free c. Accepts NULL. Returns NULL. */
struct cg *cg_destroy(struct cg *c);

/* cg_destroy() without waiting: a kill round, then each directory removed once.
 * 0 when everything is gone (*c freed and set to NULL; also when the kernel refused for
 * another reason than a busy cgroup, as cg_destroy() gives up); -EBUSY while processes
 * are still inside or exiting: *c is kept, with the directories not yet removed, for
 * another call later. */
int cg_destroy_nowait(struct cg **c);

/* An fd on which poll/epoll reports EPOLLPRI when the cgroup refuses a fork (pids.events
 * changed), for a caller that ends a sandbox at its first refused fork as it happens
 * rather than at its next look. v2 only: -EOPNOTSUPP on v1, whose pids.events counts
 * but never wakes poll or inotify (measured on Linux 6.18, docs/reliability.md), and
 * where the caller reads cg_read_stats() on a timer instead.
 * -ENOENT without the pids controller. The caller closes it. */
int cg_open_pids_events(struct cg *c);
/* Read such an fd from its start (which also clears its poll state) and return the
 * count of refused forks ("max" in pids.events). */
int cg_read_pids_events(int fd, uint64_t *ret);

/* Move pid into the cpu group `name` (created if missing, kept afterwards: every service
 * on the host shares it) of the given weight (v2 units, default 100), for the service's
 * own processes, so that they weigh more than the sandboxes' parent (one group of the
 * default weight, however many sandboxes it holds) without the sandboxes weighing less
 * than anything else on the host.
 *  - v1: the cpu hierarchy's top-level group, cpu.shares = weight * 1024 / 100.
 *  - v2: next to the parent, inside the delegation (a parent with a directory above it,
 *    ".../airlock.service/sandboxes"), cpu.weight = weight. A parent at the top of the
 *    hierarchy (the default "airlock") gets nothing: returns 1 and pid stays where it is.
 *    Moving it to the top would take it out of its systemd unit (its accounting, its
 *    stop) and weigh it against every other slice of the host, not just the sandboxes;
 *    there the unit's slice already sets it apart from the sandboxes' parent.
 * The weight is written before the pid moves: a failure leaves pid where it was. -EINVAL
 * when name is a component of the parent (the sandboxes would share the service's group).
 * -EOPNOTSUPP without the cpu controller (or without cgroups); -ENOENT on v2 when the
 * level above the parent does not enable cpu for its children (no cpu.weight). */
int cg_host_join_cpu_group(const struct cg_host *h, const char *name, unsigned weight, pid_t pid,
                           struct diag *reterr);

const char *cg_mode_name(enum cg_mode m);

/* Leftovers of a launcher that died without cleaning up (SIGKILL, power loss): call
 * fn for the name of every cgroup under the parent; cg_adopt() then takes one over so
 * that cg_destroy() kills what is inside and removes it. */
int cg_for_each_child(const struct cg_host *h, void (*fn)(const char *name, void *userdata), void *userdata);
int cg_adopt(const struct cg_host *h, const char *name, struct cg **ret);
