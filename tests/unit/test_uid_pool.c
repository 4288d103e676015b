/* uid_pool: distinct uids for concurrent holders; a slot frees when its holder dies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/uid_pool.h"

static char dir[] = "/tmp/airlock-uidpool-XXXXXX";

static void test_distinct_and_exhaustion(void **state) {
        (void)state;
        struct uid_slot s[4];
        struct diag d = {0};
        for (int i = 0; i < 4; i++) {
                assert_int_equal(uid_pool_acquire(dir, 5000, 4, &s[i], &d), 0);
                assert_true(s[i].uid >= 5000 && s[i].uid < 5004);
                for (int j = 0; j < i; j++)
                        assert_int_not_equal(s[i].uid, s[j].uid);
        }
        struct uid_slot extra;
        assert_int_equal(uid_pool_acquire(dir, 5000, 4, &extra, &d), -EAGAIN);
        assert_non_null(strstr(d.msg, "in use"));
        uint32_t freed = s[2].uid;
        uid_pool_release(&s[2]);
        assert_int_equal(uid_pool_acquire(dir, 5000, 4, &extra, &d), 0);
        assert_int_equal(extra.uid, freed);
        uid_pool_release(&extra);
        for (int i = 0; i < 4; i++)
                uid_pool_release(&s[i]);
}

static void test_holder_death_frees(void **state) {
        (void)state;
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
                struct uid_slot s;
                struct diag d = {0};
                if (uid_pool_acquire(dir, 7000, 1, &s, &d) < 0)
                        _exit(1);
                (void)!write(p[1], "x", 1);
                pause();
                _exit(0);
        }
        char ch;
        assert_int_equal(read(p[0], &ch, 1), 1);
        struct uid_slot s;
        struct diag d = {0};
        assert_int_equal(uid_pool_acquire(dir, 7000, 1, &s, &d), -EAGAIN); /* held by the child */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        assert_int_equal(uid_pool_acquire(dir, 7000, 1, &s, &d), 0); /* the kernel dropped the lock */
        uid_pool_release(&s);
        close(p[0]);
        close(p[1]);
}

static void test_bad_range(void **state) {
        (void)state;
        struct uid_slot s;
        struct diag d = {0};
        assert_int_equal(uid_pool_acquire(dir, UINT32_MAX - 1, 4, &s, &d), -EINVAL);
        assert_int_equal(uid_pool_acquire(dir, 1, 0, &s, &d), -EINVAL);
}

static int setup(void **state) {
        (void)state;
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_distinct_and_exhaustion),
                cmocka_unit_test(test_holder_death_frees),
                cmocka_unit_test(test_bad_range),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
