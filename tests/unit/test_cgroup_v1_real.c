/* test_cgroup_v1_real: the cgroup module on this host's real v1 (or hybrid) hierarchy.
 *
 * Needs root and a v1 memory hierarchy at /sys/fs/cgroup/memory (SKIP otherwise, FAIL
 * under CI=true). Everything lives under a parent "airlock-test-<pid>" in each controller,
 * which the group teardown (and an atexit handler, for early exits) empties and removes,
 * killing whatever a failed test left running in it.
 * The test process is a child subreaper so that grandchildren orphaned inside a sandbox
 * are reparented to it and can be reaped (PID 1 in a container may not reap).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "require.h"
#include "sandbox/cgroup.h"

#define FSROOT "/sys/fs/cgroup"
#define MIB (1024u * 1024u)

static const char *const ctrls[] = { "memory", "cpu", "cpuacct", "pids", "freezer" };
static char parent[64];
static struct cg_host H;

static const char *cgdir(const char *ctrl, const char *name) {
        static char path[PATH_MAX];
        int n = name ? snprintf(path, sizeof(path), FSROOT "/%s/%s/%s", ctrl, parent, name)
                     : snprintf(path, sizeof(path), FSROOT "/%s/%s", ctrl, parent);
        assert_true(n > 0 && (size_t)n < sizeof(path));
        return path;
}

static bool dir_exists(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool read_small(const char *dir, const char *file, char *buf, size_t size) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (n < 0 || (size_t)n >= sizeof(path))
                return false;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t r = read(fd, buf, size - 1);
        close(fd);
        if (r < 0)
                return false;
        buf[r] = '\0';
        return true;
}

static const char *attr(const char *ctrl, const char *name, const char *file) {
        static char buf[256];
        if (!read_small(cgdir(ctrl, name), file, buf, sizeof(buf)))
                snprintf(buf, sizeof(buf), "<unreadable>");
        return buf;
}

static void write_small(const char *dir, const char *file, const char *val) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (n < 0 || (size_t)n >= sizeof(path))
                return;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void)!write(fd, val, strlen(val));
        close(fd);
}

static void reap_all(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* Independent of the module under test: thaw, SIGKILL every listed pid, rmdir with retries. */
static void force_remove(const char *dir) {
        for (int attempt = 0; attempt < 200; attempt++) {
                write_small(dir, "freezer.state", "THAWED");
                char procs[4096];
                if (read_small(dir, "cgroup.procs", procs, sizeof(procs))) {
                        for (char *save = NULL, *tok = strtok_r(procs, "\n", &save); tok;
                             tok = strtok_r(NULL, "\n", &save)) {
                                char *end;
                                errno = 0;
                                long pid = strtol(tok, &end, 10);
                                if (errno == 0 && *end == '\0' && pid > 1 && pid != getpid())
                                        kill((pid_t)pid, SIGKILL);
                        }
                }
                reap_all();
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return;
                usleep(10000);
        }
        fprintf(stderr, "# could not remove %s: %s\n", dir, strerror(errno));
}

static void cleanup_tree(void) {
        if (!parent[0])
                return;
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
                char top[PATH_MAX];
                snprintf(top, sizeof(top), "%s", cgdir(ctrls[i], NULL));
                DIR *d = opendir(top);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                                continue;
                        char sub[PATH_MAX];
                        if (snprintf(sub, sizeof(sub), "%s/%s", top, de->d_name) < (int)sizeof(sub))
                                force_remove(sub);
                }
                closedir(d);
                force_remove(top);
        }
}

/* Runs before cmocka prints its plan, so that a SKIP is the only TAP plan printed. */
static void setup_host(void) {
        require_root();
        struct diag d = { 0 };
        snprintf(parent, sizeof(parent), "airlock-test-%d", (int)getpid());
        atexit(cleanup_tree);
        int r = cg_host_detect(FSROOT, parent, &H, &d);
        if (r < 0) {
                printf("Bail out! cg_host_detect: %d %s\n", r, d.msg);
                exit(1);
        }
        require_or_skip(H.mode == CG_V1, "host has no cgroup v1 memory hierarchy at " FSROOT "/memory");
        /* Orphaned grandchildren come to us, not to a PID 1 that may never reap them. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                printf("Bail out! PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
                exit(1);
        }
}

static int group_teardown(void **state) {
        (void)state;
        cleanup_tree();
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                if (dir_exists(cgdir(ctrls[i], NULL)))
                        return -1;
        return 0;
}

static int test_teardown(void **state) {
        (void)state;
        reap_all();
        return 0;
}

static struct cg *create_ok(const char *name, const struct cg_limits *l) {
        struct diag d = { 0 };
        struct cg *c = NULL;
        int r = cg_create(&H, name, l, &c, &d);
        if (r < 0)
                fail_msg("cg_create(%s): %d %s", name, r, d.msg);
        return c;
}

static void assert_gone(const char *name) {
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                if (dir_exists(cgdir(ctrls[i], name)))
                        fail_msg("%s still exists", cgdir(ctrls[i], name));
}

/* The child's side of the pipe protocol: attach itself, then report one byte. */
static void child_attach_or_die(struct cg *c) {
        struct diag d = { 0 };
        if (cg_attach(c, getpid(), &d) < 0) {
                fprintf(stderr, "# child: cg_attach: %s\n", d.msg);
                _exit(90);
        }
}

static void test_detect(void **state) {
        (void)state;
        assert_int_equal(H.mode, CG_V1);
        const uint32_t want = CG_C_MEMORY | CG_C_MEMSW | CG_C_CPU | CG_C_CPUACCT | CG_C_PIDS | CG_C_FREEZER;
        if ((H.controllers & want) != want)
                fail_msg("controllers 0x%x, want at least 0x%x", H.controllers, want);
        assert_false(H.controllers & CG_C_KILL);
        assert_string_equal(H.parent, parent);
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                assert_true(dir_exists(cgdir(ctrls[i], NULL)));

        /* Detecting again (a restart) reuses the existing parent. */
        struct cg_host again;
        struct diag d = { 0 };
        assert_int_equal(cg_host_detect(FSROOT, parent, &again, &d), 0);
        assert_int_equal(again.mode, CG_V1);
        assert_int_equal(again.controllers, H.controllers);
}

static void test_create_writes_limits(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 32 * MIB, .cpu_millis = 500, .pids = 16 };
        struct cg *c = create_ok("limits", &l);
        assert_string_equal(attr("memory", "limits", "memory.limit_in_bytes"), "33554432\n");
        assert_string_equal(attr("memory", "limits", "memory.memsw.limit_in_bytes"), "33554432\n");
        assert_string_equal(attr("memory", "limits", "memory.swappiness"), "0\n");
        assert_string_equal(attr("cpu", "limits", "cpu.cfs_period_us"), "100000\n");
        assert_string_equal(attr("cpu", "limits", "cpu.cfs_quota_us"), "50000\n");
        assert_string_equal(attr("pids", "limits", "pids.max"), "16\n");
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                assert_true(dir_exists(cgdir(ctrls[i], "limits")));

        /* The same name again is refused and does not disturb the first. */
        struct cg *c2 = NULL;
        struct diag d = { 0 };
        assert_int_equal(cg_create(&H, "limits", &l, &c2, &d), -EEXIST);
        assert_null(c2);
        assert_true(dir_exists(cgdir("memory", "limits")));

        assert_null(cg_destroy(c));
        assert_gone("limits");
}

static void test_create_failure_leaves_nothing(void **state) {
        (void)state;
        /* 1 millicpu = a 100 us quota, below the kernel's 1 ms minimum: the last write fails. */
        struct cg_limits l = { .memory_bytes = 32 * MIB, .cpu_millis = 1, .pids = 16 };
        struct cg *c = NULL;
        struct diag d = { 0 };
        assert_int_equal(cg_create(&H, "bad-cpu", &l, &c, &d), -EINVAL);
        assert_null(c);
        assert_non_null(strstr(d.msg, "cpu.cfs_quota_us"));
        assert_gone("bad-cpu");
}

static void test_oom_kill(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 32 * MIB, .cpu_millis = 1000, .pids = 16 };
        struct cg *c = create_ok("oom", &l);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_attach_or_die(c);
                size_t len = 200u * MIB;
                char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(91);
                for (size_t off = 0; off < len; off += 4096)
                        ((volatile char *)p)[off] = 1;
                _exit(0); /* survived: the limit did not hold */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
                fail_msg("child was not killed: exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        assert_int_equal(WTERMSIG(status), SIGKILL);

        struct cg_stats s;
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.oom_kills < 1)
                fail_msg("oom_kills = %llu", (unsigned long long)s.oom_kills);
        struct cg_stats e; /* the launcher tick's read: the same count, and nothing else */
        assert_int_equal(cg_read_events(c, &e), 0);
        assert_int_equal(e.oom_kills, s.oom_kills);
        assert_int_equal(e.memory_peak_bytes + e.cpu_usec + e.nprocs, 0);
        assert_true(s.memory_peak_bytes > 0);
        assert_true(s.memory_peak_bytes <= 32 * MIB);
        assert_true(s.cpu_usec > 0);
        assert_int_equal(s.nprocs, 0);
        assert_null(cg_destroy(c));
        assert_gone("oom");
}

static void test_pids_limit(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 256 * MIB, .pids = 8 };
        struct cg *c = create_ok("pids", &l);
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                child_attach_or_die(c);
                int report[2] = { 0, 0 }; /* forks that worked, errno of the first failure */
                for (int i = 0; i < 20; i++) {
                        pid_t g = fork();
                        if (g < 0) {
                                report[1] = errno;
                                break;
                        }
                        if (g == 0) {
                                for (;;)
                                        pause();
                        }
                        report[0]++;
                }
                (void)!write(fds[1], report, sizeof(report));
                _exit(0);
        }
        close(fds[1]);
        int report[2] = { -1, -1 };
        assert_int_equal(read(fds[0], report, sizeof(report)), (ssize_t)sizeof(report));
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(report[1], EAGAIN);
        assert_int_equal(report[0], 7); /* the child itself + 7 = pids.max */

        struct cg_stats s;
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.pids_max_hits < 1)
                fail_msg("pids_max_hits = %llu", (unsigned long long)s.pids_max_hits);
        struct cg_stats e;
        assert_int_equal(cg_read_events(c, &e), 0);
        assert_int_equal(e.pids_max_hits, s.pids_max_hits);
        assert_int_equal(e.nprocs, 0);
        assert_int_equal(s.nprocs, 7); /* the orphaned sleepers */

        assert_int_equal(cg_kill_all(c), 0);
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.nprocs, 0);
        assert_null(cg_destroy(c));
        assert_gone("pids");
}

static void test_kill_all_tree(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 256 * MIB, .cpu_millis = 1000, .pids = 64 };
        struct cg *c = create_ok("kill", &l);
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                child_attach_or_die(c);
                /* Three sleepers, the first with a sleeping child of its own. */
                for (int i = 0; i < 3; i++) {
                        pid_t g = fork();
                        if (g < 0)
                                _exit(92);
                        if (g == 0) {
                                if (i == 0 && fork() < 0)
                                        _exit(93);
                                for (;;)
                                        pause();
                        }
                }
                (void)!write(fds[1], "r", 1);
                for (;;)
                        pause();
        }
        close(fds[1]);
        char ready;
        assert_int_equal(read(fds[0], &ready, 1), 1);
        close(fds[0]);

        /* The grand-grandchild may still be on its way in; wait for all five. */
        struct cg_stats s = { 0 };
        for (int i = 0; i < 200 && s.nprocs < 5; i++) {
                assert_int_equal(cg_read_stats(c, &s), 0);
                if (s.nprocs < 5)
                        usleep(5000);
        }
        assert_int_equal(s.nprocs, 5);

        assert_int_equal(cg_kill_all(c), 0);
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.nprocs, 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        /* Everything else (reparented to us) was killed too: reap exactly four more. */
        int reaped = 0;
        for (int i = 0; i < 200 && reaped < 4; i++) {
                pid_t w = waitpid(-1, &status, WNOHANG);
                if (w > 0) {
                        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                        reaped++;
                } else {
                        usleep(5000);
                }
        }
        assert_int_equal(reaped, 4);
        /* The freezer was left thawed. */
        assert_string_equal(attr("freezer", "kill", "freezer.state"), "THAWED\n");
        assert_null(cg_destroy(c));
        assert_gone("kill");
}

static void test_cpu_usage(void **state) {
        (void)state;
        struct cg_limits l = { .cpu_millis = 1000 };
        struct cg *c = create_ok("cpu", &l);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_attach_or_die(c);
                struct timespec ts;
                do
                        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
                while (ts.tv_sec == 0 && ts.tv_nsec < 100 * 1000 * 1000);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        struct cg_stats s;
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.cpu_usec < 90000)
                fail_msg("cpu_usec = %llu", (unsigned long long)s.cpu_usec);
        assert_null(cg_destroy(c));
        assert_gone("cpu");
}

/* The peak resets to what is in use now: a 64 MiB high-water mark from a finished child
 * is gone afterwards, and a later 8 MiB one is seen as itself. */
static void touch_in_child(struct cg *c, size_t len) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_attach_or_die(c);
                char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(91);
                for (size_t off = 0; off < len; off += 4096)
                        ((volatile char *)p)[off] = 1;
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_reset_peak(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 256 * MIB };
        struct cg *c = create_ok("peak", &l);
        touch_in_child(c, 64 * MIB);
        struct cg_stats s;
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.memory_peak_bytes < 64 * MIB)
                fail_msg("peak before reset = %llu", (unsigned long long)s.memory_peak_bytes);
        assert_true(s.memory_current_bytes < s.memory_peak_bytes);
        struct cg_stats u;
        assert_int_equal(cg_read_usage(c, &u), 0); /* the lean read agrees */
        assert_int_equal(u.memory_peak_bytes, s.memory_peak_bytes);
        assert_true(u.cpu_usec >= s.cpu_usec && u.cpu_usec > 0);
        assert_int_equal(cg_reset_peak(c), 0);
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.memory_peak_bytes >= 32 * MIB)
                fail_msg("peak after reset = %llu", (unsigned long long)s.memory_peak_bytes);
        touch_in_child(c, 8 * MIB);
        assert_int_equal(cg_read_stats(c, &s), 0);
        if (s.memory_peak_bytes < 8 * MIB || s.memory_peak_bytes >= 32 * MIB)
                fail_msg("peak of the second child = %llu", (unsigned long long)s.memory_peak_bytes);
        assert_null(cg_destroy(c));
        assert_gone("peak");
}

static void test_destroy_with_live_process(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 64 * MIB, .cpu_millis = 200, .pids = 4 };
        struct cg *c = create_ok("destroy", &l);
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                assert_true(dir_exists(cgdir(ctrls[i], "destroy")));
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                child_attach_or_die(c);
                (void)!write(fds[1], "r", 1);
                for (;;)
                        pause();
        }
        close(fds[1]);
        char ready;
        assert_int_equal(read(fds[0], &ready, 1), 1);
        close(fds[0]);
        /* cg_destroy kills what is left before removing the directories. */
        assert_null(cg_destroy(c));
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_gone("destroy");
        assert_null(cg_destroy(NULL));
}

/* What the launcher does with a fork bomb (docs/reliability.md, "Noisy neighbours"): it
 * must not wait for hundreds of exits, so it kills in rounds that return at once. The
 * first round refuses every fork from then on (pids.max 0: the real v1 file), so the bomb
 * cannot grow back between rounds, and the rounds end with the cgroup empty. */
static void test_kill_nowait_ends_a_fork_bomb(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 256 * MIB, .cpu_millis = 1000, .pids = 64 };
        struct cg *c = create_ok("bomb", &l);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_attach_or_die(c);
                for (;;)
                        (void)fork(); /* every process forks for ever, refused or not */
        }
        struct cg_stats s = { 0 };
        for (int i = 0; i < 2000 && s.pids_max_hits == 0; i++) {
                assert_int_equal(cg_read_stats(c, &s), 0);
                if (s.pids_max_hits == 0)
                        usleep(5000);
        }
        if (s.pids_max_hits == 0)
                fail_msg("the fork bomb never reached pids.max");

        int n = cg_kill_nowait(c);
        if (n <= 0)
                fail_msg("the first round saw %d processes", n);
        assert_string_equal(attr("pids", "bomb", "pids.max"), "0\n");
        /* Rounds until empty, each without waiting; a bound, not a timing: 10 s. */
        int rounds = 1;
        while ((n = cg_kill_nowait(c)) > 0 && rounds < 2000) {
                rounds++;
                usleep(5000);
        }
        assert_int_equal(n, 0);
        assert_int_equal(cg_read_stats(c, &s), 0);
        assert_int_equal(s.nprocs, 0);
        /* v1's pids.events never notifies (the launcher reads it on its tick instead). */
        assert_int_equal(cg_open_pids_events(c), -EOPNOTSUPP);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        reap_all(); /* the bomb's orphans, reparented to us */
        assert_int_equal(cg_destroy_nowait(&c), 0);
        assert_null(c);
        assert_gone("bomb");
}

/* A cgroup with a live process is not removed by a destroy that must not wait: the
 * process is killed, the call says -EBUSY and keeps every directory for the next call,
 * which removes them once the process is gone. */
static void test_destroy_nowait_keeps_a_busy_cgroup(void **state) {
        (void)state;
        struct cg_limits l = { .memory_bytes = 64 * MIB, .pids = 4 };
        struct cg *c = create_ok("later", &l);
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                child_attach_or_die(c);
                (void)!write(fds[1], "r", 1);
                for (;;)
                        pause();
        }
        close(fds[1]);
        char ready;
        assert_int_equal(read(fds[0], &ready, 1), 1);
        close(fds[0]);
        assert_int_equal(cg_destroy_nowait(&c), -EBUSY);
        assert_non_null(c);
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                assert_true(dir_exists(cgdir(ctrls[i], "later")));
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        int r = -EBUSY;
        for (int i = 0; i < 2000 && r == -EBUSY; i++) {
                r = cg_destroy_nowait(&c);
                if (r == -EBUSY)
                        usleep(5000);
        }
        assert_int_equal(r, 0);
        assert_null(c);
        assert_gone("later");
        assert_int_equal(cg_destroy_nowait(&c), 0); /* NULL: nothing to do */
}

/* `airlock serve` weighs itself above the sandboxes' parent: a top-level cpu group of its
 * own with four times the default shares, the pid moved into it (the real v1 files). */
static void test_join_cpu_group(void **state) {
        (void)state;
        char name[sizeof(parent) + 8], dir[PATH_MAX];
        snprintf(name, sizeof(name), "%s-svc", parent);
        snprintf(dir, sizeof(dir), FSROOT "/cpu/%s", name);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                for (;;)
                        pause();
        }
        struct diag d = { 0 };
        int r = cg_host_join_cpu_group(&H, name, 400, pid, &d);
        char shares[32] = "", mine[4096] = "", want[128];
        (void)read_small(dir, "cpu.shares", shares, sizeof(shares));
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        (void)read_small(path, "cgroup", mine, sizeof(mine));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        force_remove(dir);
        if (r < 0)
                fail_msg("cg_host_join_cpu_group: %d %s", r, d.msg);
        assert_string_equal(shares, "4096\n");
        snprintf(want, sizeof(want), ":cpu:/%s\n", name);
        if (!strstr(mine, want) && !(snprintf(want, sizeof(want), ",cpu:/%s\n", name), strstr(mine, want)))
                fail_msg("the process is not in %s: %s", name, mine);
        assert_int_equal(cg_host_join_cpu_group(&H, "Bad/Name", 400, getpid(), &d), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_detect, test_teardown),
                cmocka_unit_test_teardown(test_create_writes_limits, test_teardown),
                cmocka_unit_test_teardown(test_create_failure_leaves_nothing, test_teardown),
                cmocka_unit_test_teardown(test_oom_kill, test_teardown),
                cmocka_unit_test_teardown(test_pids_limit, test_teardown),
                cmocka_unit_test_teardown(test_kill_all_tree, test_teardown),
                cmocka_unit_test_teardown(test_cpu_usage, test_teardown),
                cmocka_unit_test_teardown(test_reset_peak, test_teardown),
                cmocka_unit_test_teardown(test_destroy_with_live_process, test_teardown),
                cmocka_unit_test_teardown(test_kill_nowait_ends_a_fork_bomb, test_teardown),
                cmocka_unit_test_teardown(test_destroy_nowait_keeps_a_busy_cgroup, test_teardown),
                cmocka_unit_test_teardown(test_join_cpu_group, test_teardown),
        };
        setup_host();
        return cmocka_run_group_tests(tests, NULL, group_teardown);
}
