/* launch_proto: the trust boundary's codec. Every rejection names the field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/launch_proto.h"

static struct lp_create good_create(void) {
        struct lp_create c;
        memset(&c, 0, sizeof(c));
        c.backend = LP_BACKEND_NAMESPACE;
        c.language = LP_LANG_PYTHON;
        c.network = LP_NET_NONE;
        strcpy(c.runtime, "default");
        strcpy(c.entry_name, "main.py");
        c.limits = (struct lp_limits){.memory_bytes = 256ull << 20, .workspace_bytes = 64ull << 20,
                                      .tmp_bytes = 64ull << 20, .cpu_millis = 1000, .pids = 64,
                                      .timeout_ms = 5000, .interrupt_grace_ms = 1000, .nofile = 256};
        return c;
}

static void test_runtime_names(void **state) {
        (void)state;
        char name[LP_RUNTIME_NAME_MAX + 1];
        unsigned v = 99;
        assert_int_equal(lp_parse_runtime("default", name, sizeof(name), &v), 0);
        assert_string_equal(name, "default");
        assert_int_equal(v, 0);
        assert_int_equal(lp_parse_runtime("data-science2", name, sizeof(name), &v), 0);
        assert_string_equal(name, "data-science2");
        assert_int_equal(v, 0);
        assert_int_equal(lp_parse_runtime("ds@v12", name, sizeof(name), &v), 0);
        assert_string_equal(name, "ds");
        assert_int_equal(v, 12);
        assert_int_equal(lp_parse_runtime("abcdefghijklmnopqrstuvwx@v99999", name, sizeof(name), &v), 0);
        static const char *const bad[] = {"", "@v1", "ds@", "ds@1", "ds@v", "ds@v0", "ds@v012", "ds@v100000",
                                          "1ds", "-ds", "ds-", "d_s", "DS", "ds@v1@v2", "d s",
                                          "abcdefghijklmnopqrstuvwxy", "ds@vx", "../x", NULL};
        for (size_t i = 0; bad[i]; i++)
                assert_int_equal(lp_parse_runtime(bad[i], name, sizeof(name), &v), -EINVAL);
        struct lp_create c = good_create();
        memset(c.runtime, 0, sizeof(c.runtime));
        strcpy(c.runtime, "ds@v3");
        struct diag d = {0};
        if (lp_validate_create(&c, "", 0, &d) != 0)
                fail_msg("%s: %s", d.field, d.msg);
}

static void test_roundtrip(void **state) {
        (void)state;
        struct lp_create c = good_create();
        const char env[] = "A=1\0B=two";
        c.env_count = 2;
        c.env_len = sizeof(env);
        char frame[LP_FRAME_MAX];
        int n = lp_encode(LP_CREATE, 7, &c, sizeof(c), env, sizeof(env), frame, sizeof(frame));
        assert_int_equal(n, (int)(sizeof(struct lp_header) + sizeof(c) + sizeof(env)));
        struct lp_frame f;
        struct diag d = {0};
        assert_int_equal(lp_decode(frame, (size_t)n, &f, &d), 0);
        assert_int_equal(f.hdr.type, LP_CREATE);
        assert_int_equal(f.hdr.req_id, 7);
        struct lp_create got;
        memcpy(&got, f.body, sizeof(got));
        assert_int_equal(lp_validate_create(&got, (const char *)f.body + sizeof(got), f.body_len - sizeof(got), &d),
                         0);
}

static void expect_decode_error(const void *buf, size_t len, const char *field) {
        struct lp_frame f;
        struct diag d = {0};
        assert_true(lp_decode(buf, len, &f, &d) < 0);
        assert_string_equal(d.field, field);
}

static void test_decode_rejects(void **state) {
        (void)state;
        struct lp_hello h = {.client_version = 1};
        char frame[LP_FRAME_MAX];
        int n = lp_encode(LP_HELLO, 1, &h, sizeof(h), NULL, 0, frame, sizeof(frame));
        assert_true(n > 0);
        expect_decode_error(frame, 10, "frame");                       /* shorter than a header */
        expect_decode_error(frame, (size_t)n - 1, "len");              /* header length disagrees */
        struct lp_header *hdr = (struct lp_header *)frame;
        hdr->magic ^= 1;
        expect_decode_error(frame, (size_t)n, "magic");
        hdr->magic ^= 1;
        hdr->version = 2;
        expect_decode_error(frame, (size_t)n, "version");
        hdr->version = LP_VERSION;
        hdr->type = 99;
        expect_decode_error(frame, (size_t)n, "type");
        hdr->type = LP_SIGNAL; /* a HELLO-sized body is the wrong size for SIGNAL */
        expect_decode_error(frame, (size_t)n, "len");
        hdr->type = LP_HELLO;
        hdr->reserved = 1;
        expect_decode_error(frame, (size_t)n, "reserved");
        /* An oversized frame never decodes. */
        static char big[LP_FRAME_MAX + 1];
        expect_decode_error(big, sizeof(big), "frame");
        /* Encoding refuses to build one either. */
        assert_int_equal(lp_encode(LP_CREATE, 1, big, sizeof(big), NULL, 0, frame, sizeof(frame)), -EMSGSIZE);
}

static void expect_create_error(struct lp_create c, const char *env, size_t env_len, const char *field) {
        struct diag d = {0};
        assert_true(lp_validate_create(&c, env, env_len, &d) < 0);
        assert_string_equal(d.field, field);
        assert_true(strlen(d.msg) > 0);
}

static void test_create_fields(void **state) {
        (void)state;
        struct lp_create c;
        c = good_create(), c.backend = 9, expect_create_error(c, "", 0, "backend");
        c = good_create(), c.language = 0, expect_create_error(c, "", 0, "language");
        c = good_create(), c.network = 0, expect_create_error(c, "", 0, "network");
        c = good_create(), c.network = 4, expect_create_error(c, "", 0, "network");
        c = good_create(), c.network = LP_NET_ALLOWLIST, c.backend = LP_BACKEND_GVISOR,
        expect_create_error(c, "", 0, "network");
        /* public needs the namespace backend: gVisor sandboxes have no network */
        c = good_create(), c.network = LP_NET_PUBLIC, c.backend = LP_BACKEND_GVISOR,
        expect_create_error(c, "", 0, "network");
        struct diag ok = {0};
        c = good_create(), c.network = LP_NET_PUBLIC;
        assert_int_equal(lp_validate_create(&c, "", 0, &ok), 0);
        assert_string_equal(lp_network_name(LP_NET_PUBLIC), "public");
        assert_string_equal(lp_network_name(LP_NET_NONE), "none");
        assert_string_equal(lp_network_name(9), "unknown");
        c = good_create(), c.allow_weaker = 1u << 7, expect_create_error(c, "", 0, "allow_weaker");
        c = good_create(), c.limits.memory_bytes = 1, expect_create_error(c, "", 0, "memory");
        c = good_create(), c.limits.memory_bytes = UINT64_MAX, expect_create_error(c, "", 0, "memory");
        c = good_create(), c.limits.cpu_millis = 0, expect_create_error(c, "", 0, "cpus");
        c = good_create(), c.limits.pids = 1, expect_create_error(c, "", 0, "pids");
        c = good_create(), c.limits.timeout_ms = 0, expect_create_error(c, "", 0, "timeout");
        c = good_create(), c.limits.interrupt_grace_ms = 61000, expect_create_error(c, "", 0, "interrupt_grace");
        c = good_create(), c.limits.nofile = 3, expect_create_error(c, "", 0, "nofile");
        c = good_create(), c.limits.workspace_bytes = 0, expect_create_error(c, "", 0, "workspace");
        c = good_create(), c.limits.reserved = 1, expect_create_error(c, "", 0, "reserved");
        c = good_create(), c.flags = 0x40, expect_create_error(c, "", 0, "flags");
        c = good_create(), c.flags = LP_CREATE_CONTROL, c.backend = LP_BACKEND_GVISOR,
        expect_create_error(c, "", 0, "flags");
        c = good_create(), memset(c.runtime, 'a', sizeof(c.runtime)), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "../etc"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), c.runtime[10] = 'x', expect_create_error(c, "", 0, "runtime"); /* junk after NUL */
        /* a built runtime goes by NAME@vN only: the daemon picks the version */
        c = good_create(), strcpy(c.runtime, "datascience"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "ds@v0"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "ds@v01"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "ds@v123456"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "ds/x@v1"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "Ds@v1"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.runtime, "ds-@v1"), expect_create_error(c, "", 0, "runtime");
        c = good_create(), strcpy(c.entry_name, "../x.py"), expect_create_error(c, "", 0, "entry_name");
        c = good_create(), strcpy(c.entry_name, ".hidden"), expect_create_error(c, "", 0, "entry_name");
        c = good_create(), strcpy(c.entry_name, "a/b.py"), expect_create_error(c, "", 0, "entry_name");
        c = good_create(), strcpy(c.entry_name, "init"), expect_create_error(c, "", 0, "entry_name");
        c = good_create(), strcpy(c.entry_name, "seccomp.bpf"), expect_create_error(c, "", 0, "entry_name");
        c = good_create(), memset(c.entry_name, 'a', sizeof(c.entry_name)),
        expect_create_error(c, "", 0, "entry_name");
}

static void test_allowlist_blob(void **state) {
        (void)state;
        struct diag d = {0};
        const char blob[] = "A=1\0pypi.org:443\0*.example.com:80\0";
        struct lp_create c = good_create();
        c.network = LP_NET_ALLOWLIST, c.env_count = 1, c.env_len = 4, c.allow_count = 2, c.allow_len = sizeof(blob) - 1 - 4;
        assert_int_equal(lp_validate_create(&c, blob, sizeof(blob) - 1, &d), 0);
        assert_string_equal(lp_network_name(LP_NET_ALLOWLIST), "allowlist");
        /* an allowlist only with mode allowlist */
        c.network = LP_NET_NONE, expect_create_error(c, blob, sizeof(blob) - 1, "allowlist");
        c.network = LP_NET_ALLOWLIST;
        c.allow_count = 3, expect_create_error(c, blob, sizeof(blob) - 1, "allowlist"); /* entry 2 is missing */
        c.allow_count = 1, expect_create_error(c, blob, sizeof(blob) - 1, "allowlist"); /* trailing bytes */
        c.allow_count = 2, c.allow_len = 5, expect_create_error(c, blob, sizeof(blob) - 1, "env_len");
        const char bad[] = "a..b:1\0";
        c = good_create(), c.network = LP_NET_ALLOWLIST, c.allow_count = 1, c.allow_len = sizeof(bad) - 1;
        expect_create_error(c, bad, sizeof(bad) - 1, "allowlist");
        /* mode allowlist with no entries: everything refused, which is valid */
        c = good_create(), c.network = LP_NET_ALLOWLIST;
        assert_int_equal(lp_validate_create(&c, "", 0, &d), 0);
        struct lp_egress e;
        memset(&e, 0, sizeof(e));
        e.outcome = LP_EGRESS_REFUSED, e.reason = LP_EGRESS_NOT_LISTED, e.port = 443;
        strcpy(e.host, "pypi.org");
        assert_int_equal(lp_validate_egress(&e, &d), 0);
        e.reason = LP_EGRESS_OK, assert_true(lp_validate_egress(&e, &d) < 0); /* refused but ok */
        e.reason = LP_EGRESS_NOT_LISTED, e.host[3] = '\n', assert_true(lp_validate_egress(&e, &d) < 0);
        e.host[3] = 'i', memset(e.host, 'a', sizeof(e.host)), assert_true(lp_validate_egress(&e, &d) < 0);
        memset(e.host, 0, sizeof(e.host)), e.family = 7, assert_true(lp_validate_egress(&e, &d) < 0);
        e.family = 0, e.outcome = 9, assert_true(lp_validate_egress(&e, &d) < 0);
}

static void test_env(void **state) {
        (void)state;
        struct lp_create c = good_create();
        struct diag d = {0};
        const char ok[] = "PATH_X=1\0_y=";
        c.env_count = 2, c.env_len = sizeof(ok);
        assert_int_equal(lp_validate_create(&c, ok, sizeof(ok), &d), 0);
        c.env_len = 3;
        expect_create_error(c, ok, sizeof(ok), "env_len");
        const char noeq[] = "NOEQUALS";
        c.env_count = 1, c.env_len = sizeof(noeq);
        expect_create_error(c, noeq, sizeof(noeq), "env");
        const char badname[] = "1A=x";
        c.env_len = sizeof(badname);
        expect_create_error(c, badname, sizeof(badname), "env");
        const char unterminated[3] = {'A', '=', 'b'};
        c.env_len = sizeof(unterminated);
        expect_create_error(c, unterminated, sizeof(unterminated), "env");
        const char trailing[] = "A=1\0junk";
        c.env_count = 1, c.env_len = sizeof(trailing);
        expect_create_error(c, trailing, sizeof(trailing), "env");
        c.env_count = LP_ENV_MAX_COUNT + 1, c.env_len = sizeof(ok);
        expect_create_error(c, ok, sizeof(ok), "env");
        static char big[LP_ENV_VALUE_MAX + 8];
        memset(big, 'v', sizeof(big) - 1);
        big[0] = 'A', big[1] = '=', big[sizeof(big) - 1] = '\0';
        c.env_count = 1, c.env_len = sizeof(big);
        expect_create_error(c, big, sizeof(big), "env");
}

static void test_signal(void **state) {
        (void)state;
        struct lp_signal s;
        memset(&s, 0, sizeof(s));
        struct diag d = {0};
        s.action = LP_SIG_INTERRUPT, s.reason = LP_REASON_TIMEOUT;
        assert_int_equal(lp_validate_signal(&s, &d), 0);
        s.action = LP_SIG_INTERRUPT_ONLY;
        assert_int_equal(lp_validate_signal(&s, &d), 0);
        s.action = 4;
        assert_true(lp_validate_signal(&s, &d) < 0);
        s.action = LP_SIG_KILL, s.reason = LP_REASON_OOM; /* only the launcher may claim OOM */
        assert_true(lp_validate_signal(&s, &d) < 0);
        s.reason = LP_REASON_STOPPED, s.reserved[2] = 1;
        assert_true(lp_validate_signal(&s, &d) < 0);
}

static void test_usage(void **state) {
        (void)state;
        struct diag d = {0};
        struct lp_usage u = {.sandbox_id = 7, .flags = LP_USAGE_RESET_PEAK};
        assert_int_equal(lp_validate_usage(&u, &d), 0);
        u.flags = 2;
        assert_true(lp_validate_usage(&u, &d) < 0);
        assert_string_equal(d.field, "flags");
        u.flags = 0, u.reserved = 1;
        assert_true(lp_validate_usage(&u, &d) < 0);
        assert_string_equal(d.field, "reserved");
        /* A USAGE body must be exactly its struct's size. */
        char frame[128];
        int n = lp_encode(LP_USAGE, 1, &u, sizeof(u) - 1, NULL, 0, frame, sizeof(frame));
        struct lp_frame f;
        assert_true(n < 0 || lp_decode(frame, (size_t)n, &f, &d) < 0);
}

static void test_dirent_next(void **state) {
        (void)state;
        char buf[128];
        struct lp_dirent a = {.size = 5, .name_len = 3, .type = LP_FT_FILE}, b = {.name_len = 2, .type = LP_FT_DIR};
        memcpy(buf, &a, sizeof(a));
        memcpy(buf + sizeof(a), "abc", 3);
        memcpy(buf + sizeof(a) + 3, &b, sizeof(b));
        memcpy(buf + 2 * sizeof(a) + 3, "de", 2);
        size_t len = 2 * sizeof(a) + 5, off = 0;
        struct lp_dirent de;
        const char *name;
        assert_true(lp_dirent_next(buf, len, &off, &de, &name));
        assert_int_equal(de.size, 5);
        assert_memory_equal(name, "abc", 3);
        assert_true(lp_dirent_next(buf, len, &off, &de, &name));
        assert_int_equal(de.type, LP_FT_DIR);
        assert_memory_equal(name, "de", 2);
        assert_false(lp_dirent_next(buf, len, &off, &de, &name)); /* the end */
        off = 0;
        assert_true(lp_dirent_next(buf, len - 1, &off, &de, &name));
        assert_false(lp_dirent_next(buf, len - 1, &off, &de, &name)); /* a name cut short */
        off = 0;
        assert_false(lp_dirent_next(buf, sizeof(a) - 1, &off, &de, &name)); /* a record cut short */
}

static void test_hello(void **state) {
        (void)state;
        struct diag d = {0};
        struct lp_hello h = {.client_version = LP_VERSION, .flags = LP_HELLO_FULL_PROBE};
        assert_int_equal(lp_validate_hello(&h, &d), 0);
        h.flags = 1u << 5;
        assert_true(lp_validate_hello(&h, &d) < 0);
        assert_string_equal(d.field, "flags");
        h.flags = 0, h.client_version = 9;
        assert_true(lp_validate_hello(&h, &d) < 0);
        assert_string_equal(d.field, "client_version");
}

static void test_paths(void **state) {
        (void)state;
        static const char *const good[] = {"a", "a/b", "data.csv", "dir/sub/file.txt", "...", "a..b", ".hidden",
                                           "with space", "ünïcode"};
        static const char *const bad[] = {"/abs", "a/", "a//b", ".", "..", "a/..", "../a", "a/./b", "a\nb",
                                          "a\x7f"};
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_true(lp_valid_path(good[i], strlen(good[i]), 0));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(lp_valid_path(bad[i], strlen(bad[i]), 0));
        assert_false(lp_valid_path("", 0, 0));
        assert_true(lp_valid_path("", 0, 1));
        char deep[LP_PATH_MAX];
        size_t n = 0;
        for (int i = 0; i < LP_PATH_DEPTH_MAX + 1; i++)
                n += (size_t)snprintf(deep + n, sizeof(deep) - n, i ? "/a" : "a");
        assert_false(lp_valid_path(deep, n, 0));
        char long_part[300];
        memset(long_part, 'x', sizeof(long_part));
        assert_false(lp_valid_path(long_part, 256, 0));
        assert_true(lp_valid_path(long_part, 255, 0));

        struct lp_file f;
        memset(&f, 0, sizeof(f));
        struct diag d = {0};
        f.op = LP_FILE_READ;
        strcpy(f.path, "x");
        assert_int_equal(lp_validate_file(&f, &d), 0);
        f.path[5] = 'j'; /* junk after the NUL */
        assert_true(lp_validate_file(&f, &d) < 0);
        assert_string_equal(d.field, "path");
        f.path[5] = 0, f.op = 9;
        assert_true(lp_validate_file(&f, &d) < 0);
        assert_string_equal(d.field, "op");
        f.op = LP_FILE_MKDIR, f.mode = 01777;
        assert_true(lp_validate_file(&f, &d) < 0);
        assert_string_equal(d.field, "mode");
        f.mode = 0755, f.flags = 0x10;
        assert_true(lp_validate_file(&f, &d) < 0);
        assert_string_equal(d.field, "flags");
        f.flags = 0, f.op = LP_FILE_WRITE, f.path[0] = 0; /* the root is not a file */
        assert_true(lp_validate_file(&f, &d) < 0);
        f.op = LP_FILE_LIST;
        assert_int_equal(lp_validate_file(&f, &d), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_runtime_names),
                cmocka_unit_test(test_decode_rejects), cmocka_unit_test(test_create_fields),
                cmocka_unit_test(test_env),           cmocka_unit_test(test_allowlist_blob),
                cmocka_unit_test(test_signal),        cmocka_unit_test(test_hello),
                cmocka_unit_test(test_paths),        cmocka_unit_test(test_usage),
                cmocka_unit_test(test_dirent_next),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
