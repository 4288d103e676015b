/* test_cgroup_v2: the cgroup v2 code against a fake cgroupfs in a temporary directory.
 *
 * A plain directory is not a cgroupfs: mkdir does not create interface files and rmdir
 * refuses a directory holding them. The module's test seam (cg_host.fake_fs, see
 * cgroup.h) calls fake_fs() below after each mkdir and before each rmdir, which plays the
 * kernel's part. Hosts are built by hand with mode = CG_V2 and set up with
 * cg_host_prepare(), since cg_host_detect() rightly says CG_NONE for this tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_internal.h"

struct fake {
        char root[64];
        bool no_swap_max;     /* no swap accounting: memory.swap.max absent */
        bool no_kill;         /* pre-5.14 kernel: cgroup.kill absent */
        bool no_pids_max;     /* make the pids.max write fail with ENOENT */
        bool memory_max_dir;  /* make the memory.max write fail with EISDIR */
        bool fail_populate;   /* the hook itself fails */
        int mkdirs, rmdirs;
};

static struct fake F;
static struct cg_host H;

#define MIB (1024u * 1024u)

static void put(const char *dir, const char *file, const char *content) {
        char path[PATH_MAX];
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, file) < (int)sizeof(path));
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        size_t len = strlen(content);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        close(fd);
}

/* Contents of dir/file, or "<absent>". Returns a static buffer. */
static const char *get(const char *dir, const char *file) {
        static char buf[4096];
        char path[PATH_MAX];
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, file) < (int)sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(buf, sizeof(buf), "<absent>");
                return buf;
        }
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
        return buf;
}

/* dir/file, checked; a static buffer. */
static const char *path_in(const char *dir, const char *file) {
        static char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
        assert_true(n > 0 && (size_t)n < sizeof(path));
        return path;
}

static const char *sub(const char *rel) {
        static char path[PATH_MAX];
        assert_true(snprintf(path, sizeof(path), "%s/%s", F.root, rel) < (int)sizeof(path));
        return path;
}

static bool exists(const char *rel) {
        struct stat st;
        return stat(sub(rel), &st) == 0;
}

/* ctrls (space-separated names) holds name: "cpuset" is not "cpu". */
static bool has_ctrl(const char *ctrls, const char *name) {
        size_t n = strlen(name);
        for (const char *p = ctrls; (p = strstr(p, name)); p += n)
                if ((p == ctrls || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

/* Plays the kernel: what cgroupfs puts in a new non-root cgroup, and takes away on rmdir. */
static int fake_fs(enum cg_fake_event ev, const char *dir, void *userdata) {
        struct fake *f = userdata;
        if (ev == CG_FAKE_RMDIR) {
                f->rmdirs++;
                DIR *d = opendir(dir);
                if (!d)
                        return -errno;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_type == DT_REG)
                                (void)unlinkat(dirfd(d), de->d_name, 0);
                        else if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                                (void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
                }
                closedir(d);
                return 0;
        }
        f->mkdirs++;
        if (f->fail_populate)
                return -EIO;
        /* cgroup.controllers of a child = what its parent enabled for it. */
        char parent[PATH_MAX], ctrls[256] = "";
        assert_true(snprintf(parent, sizeof(parent), "%s", dir) < (int)sizeof(parent));
        *strrchr(parent, '/') = '\0';
        const char *sc = get(parent, "cgroup.subtree_control");
        size_t o = 0;
        for (const char *p = sc; *p && o + 1 < sizeof(ctrls); p++)
                if (*p != '+')
                        ctrls[o++] = *p;
        ctrls[o] = '\0';
        put(dir, "cgroup.controllers", ctrls);
        put(dir, "cgroup.subtree_control", "");
        put(dir, "cgroup.procs", "");
        put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
        put(dir, "cgroup.freeze", "0\n");
        if (!f->no_kill)
                put(dir, "cgroup.kill", "");
        if (f->memory_max_dir) {
                assert_int_equal(mkdir(path_in(dir, "memory.max"), 0755), 0);
        } else {
                put(dir, "memory.max", "max\n");
        }
        if (!f->no_swap_max)
                put(dir, "memory.swap.max", "max\n");
        put(dir, "memory.current", "0\n");
        put(dir, "memory.peak", "0\n");
        put(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        put(dir, "cpu.max", "max 100000\n");
        /* cpu.weight, unlike cpu.max here, only where the parent enables cpu: what the
         * service's group needs to be checked against. */
        if (has_ctrl(ctrls, "cpu"))
                put(dir, "cpu.weight", "100\n");
        put(dir, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
        if (!f->no_pids_max)
                put(dir, "pids.max", "max\n");
        put(dir, "pids.current", "0\n");
        put(dir, "pids.events", "max 0\n");
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

/* A root cgroup as the kernel shows it: no cgroup.kill, nothing enabled yet. */
static int setup(void **state) {
        (void)state;
        memset(&F, 0, sizeof(F));
        snprintf(F.root, sizeof(F.root), "/tmp/airlock-cg2-XXXXXX");
        if (!mkdtemp(F.root))
                return -1;
        put(F.root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        put(F.root, "cgroup.subtree_control", "");
        put(F.root, "cgroup.procs", "1\n");
        memset(&H, 0, sizeof(H));
        H.mode = CG_V2;
        snprintf(H.fsroot, sizeof(H.fsroot), "%s", F.root);
        snprintf(H.parent, sizeof(H.parent), "airlock");
        H.fake_fs = fake_fs;
        H.fake_fs_userdata = &F;
        return 0;
}

static int teardown(void **state) {
        (void)state;
        return nftw(F.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void prepare_ok(void) {
        struct diag d = { 0 };
        int r = cg_host_prepare(&H, &d);
        if (r < 0)
                fail_msg("cg_host_prepare: %d %s", r, d.msg);
}

static struct cg *create_ok(const char *name, const struct cg_limits *l) {
        struct diag d = { 0 };
        struct cg *c = NULL;
        int r = cg_create(&H, name, l, &c, &d);
        if (r < 0)
                fail_msg("cg_create(%s): %d %s", name, r, d.msg);
        assert_non_null(c);
        return c;
}

/* ---- detection and parent ------------------------------------------------------------ */

static void test_detect_plain_dir_is_none(void **state) {
        (void)state;
        struct cg_host h;
        struct diag d = { 0 };
        memset(&h, 0x5a, sizeof(h));
        assert_int_equal(cg_host_detect(F.root, "airlock", &h, &d), 0);
        assert_int_equal(h.mode, CG_NONE);
        assert_int_equal(h.controllers, 0);
        assert_null(h.fake_fs);
        assert_false(exists("airlock")); /* nothing created when there is no hierarchy */

        assert_int_equal(cg_host_detect(sub("does-not-exist"), "airlock", &h, &d), 0);
        assert_int_equal(h.mode, CG_NONE);
        assert_string_equal(cg_mode_name(CG_NONE), "none");
        assert_string_equal(cg_mode_name(CG_V1), "v1");
        assert_string_equal(cg_mode_name(CG_V2), "v2");
}

static void test_detect_rejects_long_root(void **state) {
        (void)state;
        char longroot[CG_PATH_MAX + 10];
        memset(longroot, 'a', sizeof(longroot) - 1);
        longroot[0] = '/';
        longroot[sizeof(longroot) - 1] = '\0';
        struct cg_host h;
        struct diag d = { 0 };
        assert_int_equal(cg_host_detect(longroot, "airlock", &h, &d), -ENAMETOOLONG);
        assert_int_equal(d.code, -ENAMETOOLONG);
}

static void test_prepare_enables_controllers(void **state) {
        (void)state;
        prepare_ok();
        assert_string_equal(get(F.root, "cgroup.subtree_control"), "+memory +cpu +pids");
        assert_true(exists("airlock"));
        assert_string_equal(get(sub("airlock"), "cgroup.subtree_control"), "+memory +cpu +pids");
        assert_int_equal(H.controllers, CG_C_MEMORY | CG_C_CPU | CG_C_PIDS | CG_C_KILL);
}

static void test_prepare_writes_only_missing(void **state) {
        (void)state;
        /* The host has no pids controller and memory is already enabled at the root. */
        put(F.root, "cgroup.controllers", "cpu io memory\n");
        put(F.root, "cgroup.subtree_control", "memory\n");
        prepare_ok();
        assert_string_equal(get(F.root, "cgroup.subtree_control"), "+cpu");
        assert_string_equal(get(sub("airlock"), "cgroup.subtree_control"), "+memory +cpu");
        assert_int_equal(H.controllers, CG_C_MEMORY | CG_C_CPU | CG_C_KILL);

        /* A limit the host cannot enforce fails instead of running unlimited. */
        struct cg_limits l = { .memory_bytes = 32 * MIB, .pids = 10 };
        struct cg *c = NULL;
        struct diag d = { 0 };
        assert_int_equal(cg_create(&H, "box", &l, &c, &d), -EOPNOTSUPP);
        assert_null(c);
        assert_non_null(strstr(d.msg, "pids"));
        assert_false(exists("airlock/box"));
}

static void test_prepare_leaves_enabled_levels_alone(void **state) {
        (void)state;
        put(F.root, "cgroup.subtree_control", "cpu io memory pids\n");
        /* An existing parent (second start of the service) is fine. */
        assert_int_equal(mkdir(sub("airlock"), 0755), 0);
        assert_int_equal(fake_fs(CG_FAKE_MKDIR, sub("airlock"), &F), 0);
        put(sub("airlock"), "cgroup.subtree_control", "memory cpu pids\n");
        int mkdirs = F.mkdirs;
        prepare_ok();
        assert_string_equal(get(F.root, "cgroup.subtree_control"), "cpu io memory pids\n");
        assert_string_equal(get(sub("airlock"), "cgroup.subtree_control"), "memory cpu pids\n");
        assert_int_equal(F.mkdirs, mkdirs);
        assert_int_equal(H.controllers, CG_C_MEMORY | CG_C_CPU | CG_C_PIDS | CG_C_KILL);
}

static void test_prepare_nested_absolute_parent(void **state) {
        (void)state;
        /* systemd delegation: sandboxes under the service's own (delegated) cgroup. */
        put(F.root, "cgroup.subtree_control", "cpu memory pids\n");
        assert_int_equal(mkdir(sub("system.slice"), 0755), 0);
        assert_int_equal(fake_fs(CG_FAKE_MKDIR, sub("system.slice"), &F), 0);
        put(sub("system.slice"), "cgroup.subtree_control", "memory pids\n");
        snprintf(H.parent, sizeof(H.parent), "/system.slice/airlock.service/sandboxes");
        prepare_ok();
        assert_string_equal(get(F.root, "cgroup.subtree_control"), "cpu memory pids\n");
        assert_string_equal(get(sub("system.slice"), "cgroup.subtree_control"), "+cpu");
        assert_string_equal(get(sub("system.slice/airlock.service"), "cgroup.subtree_control"),
                            "+memory +cpu +pids");
        assert_string_equal(get(sub("system.slice/airlock.service/sandboxes"), "cgroup.subtree_control"),
                            "+memory +cpu +pids");

        struct cg_limits l = { .memory_bytes = 64 * MIB };
        struct cg *c = create_ok("abc", &l);
        assert_string_equal(get(sub("system.slice/airlock.service/sandboxes/abc"), "memory.max"), "67108864");
        c = cg_destroy(c);
        assert_null(c);
        assert_false(exists("system.slice/airlock.service/sandboxes/abc"));
        assert_true(exists("system.slice/airlock.service/sandboxes"));
}

static void test_prepare_refuses_bad_parent(void **state) {
        (void)state;
        static const char *const bad[] = { "", "/", "..", "a/../b", "a//b", "a/", "./a", "a b", "a\nb", "x/." };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct diag d = { 0 };
                snprintf(H.parent, sizeof(H.parent), "%s", bad[i]);
                int r = cg_host_prepare(&H, &d);
                if (r != -EINVAL)
                        fail_msg("parent \"%s\": got %d", bad[i], r);
                assert_string_equal(d.field, "cgroup_parent");
        }
        assert_string_equal(get(F.root, "cgroup.subtree_control"), "");
}

static void test_prepare_reports_ebusy_like_failures(void **state) {
        (void)state;
        /* A subtree_control that cannot be written (here: a directory) names the file. */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", path_in(F.root, "cgroup.subtree_control"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        struct diag d = { 0 };
        int r = cg_host_prepare(&H, &d);
        assert_true(r < 0);
        assert_int_equal(d.code, r);
        assert_non_null(strstr(d.msg, "cgroup.subtree_control"));
        assert_int_equal(rmdir(path), 0);
}

/* ---- create ------------------------------------------------------------------------- */

static void test_create_writes_limits(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .memory_bytes = 32 * MIB, .cpu_millis = 500, .pids = 64 };
        struct cg *c = create_ok("sbx-1", &l);
        const char *dir = sub("airlock/sbx-1");
        assert_string_equal(get(dir, "memory.max"), "33554432");
        assert_string_equal(get(dir, "memory.swap.max"), "0");
        assert_string_equal(get(dir, "cpu.max"), "50000 100000");
        assert_string_equal(get(dir, "pids.max"), "64");
        c = cg_destroy(c);

        struct cg_limits l2 = { .memory_bytes = 1024ull * MIB * 8, .cpu_millis = 1500, .pids = 1 };
        c = create_ok("sbx-2", &l2);
        dir = sub("airlock/sbx-2");
        assert_string_equal(get(dir, "memory.max"), "8589934592");
        assert_string_equal(get(dir, "cpu.max"), "150000 100000");
        assert_string_equal(get(dir, "pids.max"), "1");
        cg_destroy(c);
}

static void test_create_zero_limits_leave_defaults(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { 0 };
        struct cg *c = create_ok("plain", &l);
        const char *dir = sub("airlock/plain");
        assert_string_equal(get(dir, "memory.max"), "max\n");
        assert_string_equal(get(dir, "memory.swap.max"), "max\n");
        assert_string_equal(get(dir, "cpu.max"), "max 100000\n");
        assert_string_equal(get(dir, "pids.max"), "max\n");
        cg_destroy(c);
}

static void test_create_without_swap_accounting(void **state) {
        (void)state;
        F.no_swap_max = true;
        prepare_ok();
        struct cg_limits l = { .memory_bytes = 16 * MIB };
        struct diag d = { 0 };
        struct cg *c = NULL;
        assert_int_equal(cg_create(&H, "noswap", &l, &c, &d), 0);
        assert_int_equal(d.code, 0);
        assert_string_equal(get(sub("airlock/noswap"), "memory.max"), "16777216");
        assert_string_equal(get(sub("airlock/noswap"), "memory.swap.max"), "<absent>");
        cg_destroy(c);
}

static void test_create_failure_cleans_up(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .memory_bytes = 32 * MIB, .cpu_millis = 1000, .pids = 16 };
        struct cg *c = NULL;
        struct diag d = { 0 };

        F.memory_max_dir = true;
        assert_int_equal(cg_create(&H, "broken", &l, &c, &d), -EISDIR);
        assert_null(c);
        assert_int_equal(d.code, -EISDIR);
        assert_string_equal(d.field, "cgroup");
        assert_non_null(strstr(d.msg, "airlock/broken/memory.max"));
        assert_non_null(strstr(d.msg, "33554432"));
        assert_false(exists("airlock/broken"));

        F.memory_max_dir = false;
        F.no_pids_max = true;
        memset(&d, 0, sizeof(d));
        assert_int_equal(cg_create(&H, "broken", &l, &c, &d), -ENOENT);
        assert_null(c);
        assert_non_null(strstr(d.msg, "pids.max"));
        assert_false(exists("airlock/broken"));

        F.no_pids_max = false;
        F.fail_populate = true;
        memset(&d, 0, sizeof(d));
        assert_int_equal(cg_create(&H, "broken", &l, &c, &d), -EIO);
        assert_null(c);
        assert_false(exists("airlock/broken"));
        assert_int_equal(F.rmdirs, 3);

        /* The name is free again afterwards. */
        F.fail_populate = false;
        c = create_ok("broken", &l);
        cg_destroy(c);
}

static void test_create_refuses_existing(void **state) {
        (void)state;
        prepare_ok();
        assert_int_equal(mkdir(sub("airlock/taken"), 0755), 0);
        put(sub("airlock/taken"), "marker", "x");
        struct cg_limits l = { .memory_bytes = 32 * MIB };
        struct cg *c = NULL;
        struct diag d = { 0 };
        assert_int_equal(cg_create(&H, "taken", &l, &c, &d), -EEXIST);
        assert_null(c);
        assert_non_null(strstr(d.msg, "already exists"));
        /* Someone else's directory is neither adopted nor removed. */
        assert_string_equal(get(sub("airlock/taken"), "marker"), "x");
        assert_int_equal(F.rmdirs, 0);
}

static void test_invalid_names_refused(void **state) {
        (void)state;
        prepare_ok();
        static const char *const bad[] = {
                "", "A", "box_1", "a.b", "..", ".", "a/b", "/abs", "a b", "tab\t", "é",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        };
        struct cg_limits l = { .memory_bytes = 32 * MIB };
        int mkdirs = F.mkdirs;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct cg *c = NULL;
                struct diag d = { 0 };
                int r = cg_create(&H, bad[i], &l, &c, &d);
                if (r != -EINVAL)
                        fail_msg("name \"%s\": got %d", bad[i], r);
                assert_null(c);
                assert_string_equal(d.field, "cgroup_name");
        }
        struct cg *c = NULL;
        assert_int_equal(cg_create(&H, NULL, &l, &c, NULL), -EINVAL);
        assert_int_equal(F.mkdirs, mkdirs);

        assert_true(cg_name_valid("a"));
        assert_true(cg_name_valid("0-9-z"));
        /* 64 characters is the maximum and is accepted. */
        c = create_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &l);
        cg_destroy(c);
}

static void test_create_on_none_host(void **state) {
        (void)state;
        struct cg_host none = { .mode = CG_NONE };
        struct cg_limits l = { 0 };
        struct cg *c = NULL;
        struct diag d = { 0 };
        assert_int_equal(cg_create(&none, "x", &l, &c, &d), -EOPNOTSUPP);
        assert_null(c);
}

/* ---- attach, stats, kill, destroy --------------------------------------------------- */

static void test_attach_writes_pid(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .pids = 4 };
        struct cg *c = create_ok("att", &l);
        struct diag d = { 0 };
        assert_int_equal(cg_attach(c, 4242, &d), 0);
        assert_string_equal(get(sub("airlock/att"), "cgroup.procs"), "4242");
        assert_int_equal(cg_attach(c, 0, &d), -EINVAL);
        assert_int_equal(cg_attach(NULL, 1, &d), -EINVAL);

        /* A failed attach names the file. */
        assert_int_equal(unlink(path_in(sub("airlock/att"), "cgroup.procs")), 0);
        memset(&d, 0, sizeof(d));
        assert_int_equal(cg_attach(c, 4242, &d), -ENOENT);
        assert_non_null(strstr(d.msg, "cgroup.procs"));
        put(sub("airlock/att"), "cgroup.procs", "");
        cg_destroy(c);
}

static void test_stats_parse(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .memory_bytes = 32 * MIB, .pids = 8 };
        struct cg *c = create_ok("st", &l);
        const char *dir = sub("airlock/st");
        /* oom_group_kill comes before oom_kill here on purpose: keys match exactly. */
        put(dir, "memory.events", "low 0\nhigh 0\nmax 12\noom 4\noom_group_kill 9\noom_kill 3\n");
        put(dir, "memory.peak", "33550336\n");
        put(dir, "memory.current", "4096\n");
        put(dir, "cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n"
                             "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
        put(dir, "pids.events", "max 7\n");
        put(dir, "cgroup.procs", "101\n102\n103\n");

        struct cg_stats s;
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.memory_peak_bytes, 33550336);
        assert_int_equal(s.memory_current_bytes, 4096);
        assert_int_equal(s.cpu_usec, 1234567);
        /* The lean read for executions: the same three figures, nothing else. */
        struct cg_stats u;
        assert_int_equal(cg_read_usage(c, &u), 0);
        assert_int_equal(u.memory_peak_bytes, 33550336);
        assert_int_equal(u.memory_current_bytes, 4096);
        assert_int_equal(u.cpu_usec, 1234567);
        assert_int_equal(u.oom_kills + u.pids_max_hits + u.nprocs, 0);
        /* The tick's read: the two event counters, nothing else. */
        struct cg_stats e;
        assert_int_equal(cg_read_events(c, &e), 0);
        assert_int_equal(e.oom_kills, 3);
        assert_int_equal(e.pids_max_hits, 7);
        assert_int_equal(e.memory_peak_bytes + e.memory_current_bytes + e.cpu_usec + e.nprocs, 0);
        /* v2 has no resettable peak before Linux 6.12: said so, and nothing is written. */
        assert_int_equal(cg_reset_peak(c), -EOPNOTSUPP);
        assert_int_equal(s.oom_kills, 3);
        assert_int_equal(s.pids_max_hits, 7);
        assert_int_equal(s.nprocs, 3);

        /* Before Linux 5.19 there is no memory.peak: memory.current stands in. */
        assert_int_equal(unlink(path_in(dir, "memory.peak")), 0);
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.memory_peak_bytes, 4096);
        assert_int_equal(cg_read_usage(c, &u), 0);
        assert_int_equal(u.memory_peak_bytes, 4096);

        /* A malformed value is an error, and the rest is still filled in. */
        put(dir, "pids.events", "max 7x\n");
        assert_int_equal(cg_read_stats(c, &s), -EINVAL);
        assert_int_equal(s.cpu_usec, 1234567);
        assert_int_equal(s.pids_max_hits, 0);

        /* An older kernel without the oom_kill key reads as 0. */
        put(dir, "pids.events", "max 0\n");
        put(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\n");
        put(dir, "cgroup.procs", "");
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.oom_kills, 0);
        assert_int_equal(s.nprocs, 0);
        cg_destroy(c);
}

static void test_kill_all_uses_cgroup_kill(void **state) {
        (void)state;
        prepare_ok();
        assert_true(H.controllers & CG_C_KILL);
        struct cg_limits l = { 0 };
        struct cg *c = create_ok("k", &l);
        assert_int_equal(cg_kill_all(c), 0);
        assert_string_equal(get(sub("airlock/k"), "cgroup.kill"), "1");
        assert_null(cg_destroy(c));
        assert_false(exists("airlock/k"));
        assert_null(cg_destroy(NULL));
}

static void test_kill_all_fallback_signals_listed_pids(void **state) {
        (void)state;
        F.no_kill = true;
        prepare_ok();
        assert_false(H.controllers & CG_C_KILL);
        struct cg_limits l = { 0 };
        struct cg *c = create_ok("k", &l);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                for (;;)
                        pause();
        }
        /* Our own pid and 0 must never be signalled (0 would be our process group). */
        char procs[128];
        snprintf(procs, sizeof(procs), "0\n%d\n%d\n", (int)getpid(), (int)child);
        put(sub("airlock/k"), "cgroup.procs", procs);

        /* The fake file never empties, so this runs into its bound. */
        assert_int_equal(cg_kill_all(c), -EBUSY);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        /* With the pids controller on, forks are refused from the first round on, and
         * the freezer is left alone. */
        assert_string_equal(get(sub("airlock/k"), "pids.max"), "0");
        assert_string_equal(get(sub("airlock/k"), "cgroup.freeze"), "0\n");

        put(sub("airlock/k"), "cgroup.procs", "");
        assert_int_equal(cg_kill_all(c), 0);
        cg_destroy(c);
        assert_false(exists("airlock/k"));
}

/* Without cgroup.kill nor the pids controller: frozen around the kills, thawed after. */
static void test_kill_fallback_without_pids_freezes(void **state) {
        (void)state;
        F.no_kill = true;
        put(F.root, "cgroup.controllers", "cpuset cpu io memory\n");
        prepare_ok();
        assert_false(H.controllers & (CG_C_KILL | CG_C_PIDS));
        struct cg_limits l = { 0 };
        struct cg *c = create_ok("k", &l);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                for (;;)
                        pause();
        }
        char procs[64];
        snprintf(procs, sizeof(procs), "%d\n", (int)child);
        put(sub("airlock/k"), "cgroup.procs", procs);
        assert_int_equal(cg_kill_nowait(c), 1);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_string_equal(get(sub("airlock/k"), "cgroup.freeze"), "0");
        assert_string_equal(get(sub("airlock/k"), "pids.max"), "max\n");
        put(sub("airlock/k"), "cgroup.procs", "");
        cg_destroy(c);
}

/* The launcher's kill and teardown never wait: one round says how many processes were
 * inside, and a destroy with processes inside keeps the cgroup (-EBUSY) for later. */
static void test_kill_and_destroy_nowait(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .pids = 16 };
        struct cg *c = create_ok("busy", &l);
        put(sub("airlock/busy"), "cgroup.procs", "");
        assert_int_equal(cg_kill_nowait(c), 0);
        /* Listed pids that are not ours to kill: ESRCH is fine, the count is what counts. */
        put(sub("airlock/busy"), "cgroup.procs", "2147483646\n2147483645\n");
        assert_int_equal(cg_kill_nowait(c), 2);
        assert_string_equal(get(sub("airlock/busy"), "cgroup.kill"), "1");
        assert_string_equal(get(sub("airlock/busy"), "pids.max"), "16"); /* cgroup.kill needs no fork block */
        int rmdirs = F.rmdirs;
        assert_int_equal(cg_destroy_nowait(&c), -EBUSY);
        assert_non_null(c);
        assert_true(exists("airlock/busy"));
        assert_int_equal(F.rmdirs, rmdirs);
        put(sub("airlock/busy"), "cgroup.procs", "");
        assert_int_equal(cg_destroy_nowait(&c), 0);
        assert_null(c);
        assert_false(exists("airlock/busy"));
        assert_int_equal(cg_destroy_nowait(&c), 0);
}

/* v2 notifies a refused fork: the launcher polls pids.events of the sandbox's own cgroup
 * for EPOLLPRI and reads the count of refusals from it. */
static void test_pids_events_fd(void **state) {
        (void)state;
        prepare_ok();
        struct cg_limits l = { .pids = 16 };
        struct cg *c = create_ok("ev", &l);
        int fd = cg_open_pids_events(c);
        assert_true(fd >= 0);
        uint64_t hits = 99;
        assert_int_equal(cg_read_pids_events(fd, &hits), 0);
        assert_int_equal(hits, 0);
        put(sub("airlock/ev"), "pids.events", "max 3\n");
        assert_int_equal(cg_read_pids_events(fd, &hits), 0); /* the same fd, read afresh */
        assert_int_equal(hits, 3);
        struct stat a, b;
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(stat(path_in(sub("airlock/ev"), "pids.events"), &b), 0);
        assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        close(fd);
        cg_destroy(c);

        /* Without the pids controller there is nothing to watch. */
        teardown(NULL);
        setup(NULL);
        put(F.root, "cgroup.controllers", "cpu memory\n");
        prepare_ok();
        c = create_ok("ev", &(struct cg_limits){ 0 });
        assert_int_equal(cg_open_pids_events(c), -ENOENT);
        cg_destroy(c);
}

/* ---- the service's cpu group -------------------------------------------------------- */

static int join(const char *name, unsigned weight, int pid, struct diag *d) {
        return cg_host_join_cpu_group(&H, name, weight, pid, d);
}

static const char *pid_line(int pid) {
        static char buf[32];
        snprintf(buf, sizeof(buf), "%d", pid);
        return buf;
}

/* A delegated parent, the only layout in which the service moves. */
static void delegated_parent(void) {
        put(F.root, "cgroup.subtree_control", "cpu memory pids\n");
        assert_int_equal(mkdir(sub("system.slice"), 0755), 0);
        assert_int_equal(fake_fs(CG_FAKE_MKDIR, sub("system.slice"), &F), 0);
        snprintf(H.parent, sizeof(H.parent), "/system.slice/airlock.service/sandboxes");
}
#define SVC "system.slice/airlock.service/airlock-service"
#define OTHER_SVC "system.slice/airlock.service/other-service"

/* `airlock serve` weighs itself above the sandboxes' parent when that parent is inside a
 * delegation: a group of its own next to the parent, cpu.weight 400, then the pid moved
 * into it; the parent is left alone. With the parent at the top of the hierarchy (the
 * default), nothing is made and the service stays in its own cgroup (its unit's). */
static void test_join_cpu_group_next_to_parent(void **state) {
        (void)state;
        prepare_ok();
        struct diag d = { 0 };
        int mkdirs = F.mkdirs;
        assert_int_equal(join("airlock-service", 400, 4242, &d), 1);
        assert_non_null(strstr(d.msg, "top of the hierarchy"));
        assert_false(exists("airlock-service"));
        assert_int_equal(F.mkdirs, mkdirs);
        assert_string_equal(get(sub("airlock"), "cgroup.procs"), "");

        /* A delegated parent: the group goes inside the delegation, next to the parent, so
         * that the unit's own cgroup keeps no process (v2's no-internal-processes rule). */
        teardown(NULL);
        setup(NULL);
        delegated_parent();
        prepare_ok();
        int r = join("airlock-service", 400, 4242, &d);
        if (r < 0)
                fail_msg("cg_host_join_cpu_group (delegated): %d %s", r, d.msg);
        assert_string_equal(get(sub("system.slice/airlock.service/airlock-service"), "cpu.weight"), "400");
        assert_string_equal(get(sub("system.slice/airlock.service/airlock-service"), "cgroup.procs"), pid_line(4242));
        assert_false(exists("airlock-service"));

        /* The service started again (or another one on the host): the group is reused. */
        int again = F.mkdirs;
        assert_int_equal(join("airlock-service", 400, 4343, &d), 0);
        assert_int_equal(F.mkdirs, again);
        assert_string_equal(get(sub("system.slice/airlock.service/airlock-service"), "cgroup.procs"), pid_line(4343));

        /* A parent that names the service's group would put the sandboxes in it. */
        snprintf(H.parent, sizeof(H.parent), "/system.slice/airlock-service/sandboxes");
        memset(&d, 0, sizeof(d));
        assert_int_equal(join("airlock-service", 400, 4242, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "cgroup_parent"));
}


/* A weight is no safeguard: every failure is reported (the launcher logs it and starts
 * anyway, where it was), and none moves the process. */
static void test_join_cpu_group_failures(void **state) {
        (void)state;
        struct diag d = { 0 };
        /* No cpu controller on the host: refused before anything is made. */
        put(F.root, "cgroup.controllers", "memory pids\n");
        delegated_parent();
        prepare_ok();
        assert_int_equal(join("airlock-service", 400, 4242, &d), -EOPNOTSUPP);
        assert_non_null(strstr(d.msg, "cpu controller"));
        assert_false(exists(SVC));

        /* Offered, but not enabled for the level's children (cpu.weight absent): the weight
         * is written first, so the pid stays where it was. */
        teardown(NULL);
        setup(NULL);
        delegated_parent();
        prepare_ok();
        put(sub("system.slice/airlock.service"), "cgroup.subtree_control", "memory pids\n");
        memset(&d, 0, sizeof(d));
        int r = join("airlock-service", 400, 4242, &d);
        assert_int_equal(r, -ENOENT);
        assert_non_null(strstr(d.msg, "cpu.weight"));
        assert_string_equal(get(sub(SVC), "cgroup.procs"), "");

        /* The weight refused (here: cpu.weight is a directory, EISDIR): not moved either. */
        teardown(NULL);
        setup(NULL);
        delegated_parent();
        prepare_ok();
        assert_int_equal(mkdir(sub(SVC), 0755), 0);
        assert_int_equal(fake_fs(CG_FAKE_MKDIR, sub(SVC), &F), 0);
        assert_int_equal(unlink(path_in(sub(SVC), "cpu.weight")), 0);
        assert_int_equal(mkdir(path_in(sub(SVC), "cpu.weight"), 0755), 0);
        memset(&d, 0, sizeof(d));
        assert_int_equal(join("airlock-service", 400, 4242, &d), -EISDIR);
        assert_non_null(strstr(d.msg, "cpu.weight"));
        assert_string_equal(get(sub(SVC), "cgroup.procs"), "");
        assert_int_equal(rmdir(path_in(sub(SVC), "cpu.weight")), 0);

        /* The group cannot be populated (the kernel's files): nothing left behind. */
        F.fail_populate = true;
        assert_int_equal(join("other-service", 400, 4242, &d), -EIO);
        assert_false(exists(OTHER_SVC));
        F.fail_populate = false;

        /* Bad arguments, and a host without cgroups. */
        assert_int_equal(join("Bad/Name", 400, 4242, &d), -EINVAL);
        assert_int_equal(join("airlock-service", 0, 4242, &d), -EINVAL);
        assert_int_equal(join("airlock-service", 400, 0, &d), -EINVAL);
        H.mode = CG_NONE;
        assert_int_equal(join("airlock-service", 400, 4242, &d), -EOPNOTSUPP);
}

/* ---- parsers ------------------------------------------------------------------------ */

static void test_parse_u64(void **state) {
        (void)state;
        uint64_t v = 99;
        assert_int_equal(cg_parse_u64("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(cg_parse_u64("42\n", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(cg_parse_u64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(cg_parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(cg_parse_u64("99999999999999999999999", &v), -ERANGE);
        static const char *const bad[] = { "", "\n", "-1", "+1", " 1", "1 ", "1\n\n", "0x10", "max", "1.5", "12a" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(cg_parse_u64(bad[i], &v), -EINVAL);
}

static void test_parse_keyed(void **state) {
        (void)state;
        uint64_t v = 0;
        const char *oc = "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n";
        assert_int_equal(cg_parse_keyed(oc, "oom_kill", &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(cg_parse_keyed(oc, "under_oom", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(cg_parse_keyed(oc, "oom", &v), -ENOENT);
        assert_int_equal(cg_parse_keyed("max 3", "max", &v), 0); /* no final newline */
        assert_int_equal(v, 3);
        assert_int_equal(cg_parse_keyed("max\n", "max", &v), -ENOENT);
        assert_int_equal(cg_parse_keyed("max \n", "max", &v), -EINVAL);
        assert_int_equal(cg_parse_keyed("max -1\n", "max", &v), -EINVAL);
        assert_int_equal(cg_parse_keyed("max 1 2\n", "max", &v), -EINVAL);
        assert_int_equal(cg_parse_keyed("", "max", &v), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_detect_plain_dir_is_none, setup, teardown),
                cmocka_unit_test_setup_teardown(test_detect_rejects_long_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_enables_controllers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_writes_only_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_leaves_enabled_levels_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_nested_absolute_parent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_refuses_bad_parent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_reports_ebusy_like_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_writes_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_zero_limits_leave_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_without_swap_accounting, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_failure_cleans_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_refuses_existing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_names_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_on_none_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_attach_writes_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stats_parse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_all_uses_cgroup_kill, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_all_fallback_signals_listed_pids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_fallback_without_pids_freezes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_and_destroy_nowait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pids_events_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_join_cpu_group_next_to_parent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_join_cpu_group_failures, setup, teardown),
                cmocka_unit_test(test_parse_u64),
                cmocka_unit_test(test_parse_keyed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
