/* plan: the sandbox's exact shape, checked without root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/plan.h"

static struct lp_create spec(uint8_t lang) {
        struct lp_create c;
        memset(&c, 0, sizeof(c));
        c.backend = LP_BACKEND_NAMESPACE;
        c.language = lang;
        c.network = LP_NET_NONE;
        strcpy(c.runtime, "default");
        strcpy(c.entry_name, "job.py");
        c.limits = (struct lp_limits){.memory_bytes = 256ull << 20, .workspace_bytes = 64ull << 20,
                                      .tmp_bytes = 32ull << 20, .cpu_millis = 500, .pids = 64,
                                      .timeout_ms = 5000, .interrupt_grace_ms = 1000, .nofile = 256};
        return c;
}

static const struct plan_fds FDS = {.init = 4, .seccomp = 5, .code = 6, .passwd = 7, .group = 8, .hosts = 9,
                                    .json_status = 10};

/* Index of the first occurrence of the argument sequence a,b,c... (NULL-terminated) or -1. */
static long find_seq(const struct buf *b, const char *const *seq) {
        const char *args[1024];
        size_t n = 0;
        for (size_t off = 0; off < b->len && n < 1024; off += strlen(b->data + off) + 1)
                args[n++] = b->data + off;
        size_t k = 0;
        while (seq[k])
                k++;
        for (size_t i = 0; i + k <= n; i++) {
                size_t j = 0;
                while (j < k && strcmp(args[i + j], seq[j]) == 0)
                        j++;
                if (j == k)
                        return (long)i;
        }
        return -1;
}

#define HAS(...) find_seq(&b, (const char *const[]){__VA_ARGS__, NULL})

static void test_bwrap_layers(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        struct plan_input in = {.c = &c, .env = "", .env_len = 0, .landlock_required = 1};
        struct buf b;
        buf_init(&b, 1 << 20);
        struct diag d = {0};
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        /* every namespace, nested userns disabled and verified */
        assert_true(HAS("--unshare-user") >= 0);
        assert_true(HAS("--unshare-pid") >= 0);
        assert_true(HAS("--unshare-net") >= 0);
        assert_true(HAS("--unshare-ipc") >= 0);
        assert_true(HAS("--unshare-uts") >= 0);
        assert_true(HAS("--unshare-cgroup") >= 0);
        assert_true(HAS("--disable-userns") >= 0);
        assert_true(HAS("--assert-userns-disabled") >= 0);
        assert_true(HAS("--uid", "1000") >= 0);
        assert_true(HAS("--die-with-parent") >= 0);
        assert_true(HAS("--new-session") >= 0);
        assert_true(HAS("--clearenv") >= 0);
        assert_true(HAS("--cap-drop", "ALL") >= 0);
        assert_true(HAS("--ro-bind", "/usr", "/usr") >= 0);
        assert_true(HAS("--proc", "/proc") >= 0);
        assert_true(HAS("--dev", "/dev") >= 0);
        /* sizes are the request's */
        assert_true(HAS("--size", "33554432", "--perms", "1777", "--tmpfs", "/tmp") >= 0);
        assert_true(HAS("--size", "67108864", "--perms", "0755", "--tmpfs", "/workspace") >= 0);
        assert_true(HAS("--ro-bind-data", "6", "/run/airlock/job.py") >= 0);
        assert_true(HAS("--json-status-fd", "10") >= 0);
        /* the root becomes read-only only after everything is mounted on it */
        long ro = HAS("--remount-ro", "/"), last_mount = HAS("--ro-bind-data", "6", "/run/airlock/job.py");
        assert_true(ro > last_mount);
        /* nothing from the host beyond /usr and the listed /etc files */
        assert_true(HAS("--bind", "/", "/") < 0);
        assert_true(HAS("--ro-bind-try", "/etc/shadow", "/etc/shadow") < 0);
        assert_true(HAS("--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf") < 0);
        assert_true(HAS("--share-net") < 0);
        buf_free(&b);
}

static void test_env_allowlist(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        const char env[] = "FOO=bar baz\0PATH=/custom";
        c.env_count = 2, c.env_len = sizeof(env);
        struct plan_input in = {.c = &c, .env = env, .env_len = sizeof(env), .landlock_required = 1};
        struct buf b;
        buf_init(&b, 1 << 20);
        struct diag d = {0};
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        assert_true(HAS("--setenv", "FOO", "bar baz") >= 0);
        /* the request's PATH comes after the base one, so it wins */
        assert_true(HAS("--setenv", "PATH", "/custom") > HAS("--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"));
        assert_true(HAS("--setenv", "HOME", "/workspace") >= 0);
        buf_free(&b);
}

static void test_payload(void **state) {
        (void)state;
        static const struct {
                uint8_t lang;
                const char *interp;
        } cases[] = {{LP_LANG_PYTHON, "/usr/bin/python3"}, {LP_LANG_JAVASCRIPT, "/usr/bin/node"},
                     {LP_LANG_BASH, "/bin/bash"}};
        for (size_t i = 0; i < 3; i++) {
                struct lp_create c = spec(cases[i].lang);
                struct plan_input in = {.c = &c, .env = "", .env_len = 0, .landlock_required = 1};
                struct buf b;
                buf_init(&b, 1 << 16);
                struct diag d = {0};
                assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
                assert_int_equal(HAS(SANDBOX_INIT), 0); /* the shim always runs first */
                assert_true(HAS("--seccomp", SANDBOX_SECCOMP) > 0);
                assert_true(HAS("--landlock-required") > 0);
                assert_true(HAS("--nofile", "256") > 0);
                assert_true(HAS("--", cases[i].interp) > 0);
                assert_true(HAS("/run/airlock/job.py") > HAS("--", cases[i].interp));
                buf_free(&b);
        }
        struct lp_create c = spec(LP_LANG_PYTHON);
        struct plan_input in = {.c = &c, .env = "", .env_len = 0, .landlock_required = 0};
        struct buf b;
        buf_init(&b, 1 << 16);
        struct diag d = {0};
        assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
        assert_true(HAS("--landlock-required") < 0);
        assert_true(HAS("--control-fd") < 0);
        buf_free(&b);
        c.flags = LP_CREATE_CONTROL;
        buf_init(&b, 1 << 16);
        assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
        assert_true(HAS("--control-fd", "11") > 0);
        assert_true(HAS("--control-fd", "11") < HAS("--", "/usr/bin/python3"));
        buf_free(&b);
}

static void test_oci_config(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        const char env[] = "Q=\"quoted\\\n";
        c.env_count = 1, c.env_len = sizeof(env);
        struct plan_input in = {.c = &c, .env = env, .env_len = sizeof(env), .landlock_required = 0};
        struct buf b;
        buf_init(&b, 1 << 20);
        struct diag d = {0};
        assert_int_equal(plan_oci_config(&in, "/run/airlock/x", &b, &d), 0);
        /* user input is escaped, not spliced */
        assert_non_null(strstr(b.data, "\"Q=\\\"quoted\\\\\\u000a\""));
        assert_non_null(strstr(b.data, "\"noNewPrivileges\":true"));
        assert_non_null(strstr(b.data, "\"bounding\":[]"));
        assert_non_null(strstr(b.data, "\"uid\":1000"));
        assert_non_null(strstr(b.data, "\"readonly\":true"));
        assert_non_null(strstr(b.data, "size=67108864"));
        assert_non_null(strstr(b.data, "\"RLIMIT_NPROC\",\"hard\":64"));
        assert_non_null(strstr(b.data, "\"source\":\"/run/airlock/x/run\""));
        assert_null(strstr(b.data, "/etc/shadow"));
        buf_free(&b);
}

static void test_caps(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        struct plan_input in = {.c = &c, .env = "", .env_len = 0, .landlock_required = 1};
        struct buf b;
        buf_init(&b, 64); /* far too small: must fail cleanly, not overflow */
        struct diag d = {0};
        assert_true(plan_bwrap_args(&in, &FDS, &b, &d) < 0);
        assert_string_equal(d.field, "plan");
        buf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bwrap_layers), cmocka_unit_test(test_env_allowlist),
                cmocka_unit_test(test_payload),      cmocka_unit_test(test_oci_config),
                cmocka_unit_test(test_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
