/* plan: the sandbox's exact shape, checked without root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/fib_rules.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "sandbox/netpolicy.h"
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
                                    .json_status = 10, .resolv = -1, .block = -1};

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
        /* matplotlib's font cache: shared, so read-only */
        assert_true(HAS("--ro-bind-try", "/var/cache/airlock/matplotlib", "/run/airlock/matplotlib") >= 0);
        assert_true(HAS("--json-status-fd", "10") >= 0);
        /* the root becomes read-only only after everything is mounted on it */
        long ro = HAS("--remount-ro", "/"),
             last_mount = HAS("--ro-bind-try", "/var/cache/airlock/matplotlib", "/run/airlock/matplotlib");
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

/* BLAS/OpenMP thread pools follow the session's CPUs (rounded up); a request's own value
 * replaces it; no CPU limit, no variable. */
static void test_env_thread_pools(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        struct plan_input in = {.c = &c, .landlock_required = 1};
        struct buf b;
        struct diag d = {0};
        c.limits.cpu_millis = 1000;
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        assert_true(HAS("--setenv", "OMP_NUM_THREADS", "1") >= 0);
        assert_true(HAS("--setenv", "OPENBLAS_NUM_THREADS", "1") >= 0);
        assert_true(HAS("--setenv", "MKL_NUM_THREADS", "1") >= 0);
        buf_free(&b);
        c.limits.cpu_millis = 2500;
        const char env[] = "OPENBLAS_NUM_THREADS=8";
        c.env_count = 1, c.env_len = sizeof(env);
        in.env = env, in.env_len = sizeof(env);
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        assert_true(HAS("--setenv", "OMP_NUM_THREADS", "3") >= 0);
        assert_true(HAS("--setenv", "OPENBLAS_NUM_THREADS", "8") >= 0);
        assert_true(HAS("--setenv", "OPENBLAS_NUM_THREADS", "3") < 0); /* the request's alone */
        buf_free(&b);
        c.limits.cpu_millis = 0, c.env_count = 0, in.env = NULL, in.env_len = 0;
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        assert_true(HAS("--setenv", "OMP_NUM_THREADS") < 0);
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

/* A built runtime: read-only at its build path, its venv's python, its bins first on PATH,
 * its node_modules on NODE_PATH, once each; gVisor's plan refuses it (runsc would resolve
 * the path after the launcher's checks). */
static void test_built_runtime(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        strcpy(c.runtime, "ds@v2");
        const char env[] = "PATH=/evil";
        c.env_count = 1, c.env_len = sizeof(env);
        struct plan_input in = {.c = &c, .env = env, .env_len = sizeof(env), .landlock_required = 1,
                                .runtime_dest = "/opt/airlock/runtimes/ds/v2",
                                .runtime_src = "/var/lib/airlock/runtimes/ds/v2/root"};
        struct buf b;
        buf_init(&b, 1 << 20);
        struct diag d = {0};
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        long bind = HAS("--ro-bind", "/opt/airlock/runtimes/ds/v2", "/opt/airlock/runtimes/ds/v2");
        assert_true(bind > 0);
        assert_true(HAS("--remount-ro", "/") > bind); /* the root goes read-only after it */
        assert_true(HAS("--setenv", "PATH",
                        "/opt/airlock/runtimes/ds/v2/venv/bin:/opt/airlock/runtimes/ds/v2/node/node_modules/.bin:"
                        "/usr/local/bin:/usr/bin:/bin") >= 0);
        assert_true(HAS("--setenv", "NODE_PATH", "/workspace/node_modules:/opt/airlock/runtimes/ds/v2/node/node_modules") >= 0);
        assert_true(HAS("--setenv", "VIRTUAL_ENV", "/opt/airlock/runtimes/ds/v2/venv") >= 0);
        /* the request's own variables still come last (the daemon put the runtime's under them) */
        assert_true(HAS("--setenv", "PATH", "/evil") > HAS("--setenv", "VIRTUAL_ENV", "/opt/airlock/runtimes/ds/v2/venv"));
        buf_free(&b);
        buf_init(&b, 1 << 16);
        assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
        assert_true(HAS("--", "/opt/airlock/runtimes/ds/v2/venv/bin/python3", "-u") >= 0);
        buf_free(&b);
        buf_init(&b, 1 << 20);
        assert_true(plan_oci_config(&in, "/run/airlock/x", &b, &d) < 0);
        assert_true(b.len == 0 || !memmem(b.data, b.len, "/var/lib/airlock/runtimes", 25));
        buf_free(&b);
        /* Control: the default runtime has none of it. */
        strcpy(c.runtime, "default");
        in.runtime_dest = in.runtime_src = NULL;
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &FDS, &b, &d), 0);
        assert_int_equal(HAS("--setenv", "VIRTUAL_ENV", "/opt/airlock/runtimes/ds/v2/venv"), -1);
        assert_null(memmem(b.data, b.len, "/opt/airlock", 12));
        buf_free(&b);
}

/* Network mode none (the default above) has neither resolv.conf nor a block; public has both,
 * and the shim checks the rules. */
static void test_network_public(void **state) {
        (void)state;
        struct lp_create c = spec(LP_LANG_PYTHON);
        struct plan_input in = {.c = &c, .env = "", .env_len = 0, .landlock_required = 1};
        struct plan_fds fds = FDS;
        struct buf b;
        struct diag d = {0};
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &fds, &b, &d), 0);
        assert_true(HAS("--block-fd") < 0);
        assert_true(HAS("/etc/resolv.conf") < 0);
        buf_free(&b);
        buf_init(&b, 1 << 16);
        assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
        assert_true(HAS("--network-public") < 0);
        buf_free(&b);

        c.network = LP_NET_PUBLIC;
        fds.resolv = 12, fds.block = 13;
        buf_init(&b, 1 << 20);
        assert_int_equal(plan_bwrap_args(&in, &fds, &b, &d), 0);
        assert_true(HAS("--unshare-net") >= 0); /* its own namespace still: slirp comes from outside */
        assert_true(HAS("--share-net") < 0);
        assert_true(HAS("--perms", "0444", "--ro-bind-data", "12", "/etc/resolv.conf") >= 0);
        assert_true(HAS("--block-fd", "13") >= 0);
        assert_true(HAS("--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf") < 0); /* never the host's */
        buf_free(&b);
        buf_init(&b, 1 << 16);
        assert_int_equal(plan_payload_argv(&in, &b, &d), 0);
        assert_true(HAS("--network-public") > 0 && HAS("--network-public") < HAS("--", "/usr/bin/python3"));
        buf_free(&b);
        assert_string_equal(netpolicy_resolv_conf, "nameserver 10.0.2.3\n");
}

static void test_slirp_argv(void **state) {
        (void)state;
        struct buf b;
        struct diag d = {0};
        buf_init(&b, 4096);
        assert_int_equal(netpolicy_slirp_argv(&b, &d), 0);
        assert_int_equal(HAS("/usr/bin/slirp4netns"), 0);
        assert_true(HAS("--configure") < 0); /* the launcher sets tap0 up, after bwrap's lo */
        assert_true(HAS("--disable-host-loopback") > 0); /* 10.0.2.2 is not the host's 127.0.0.1 */
        assert_true(HAS("--enable-seccomp") > 0);
        assert_true(HAS("--exit-fd=3") > 0 && HAS("--ready-fd=4") > 0);
        assert_true(HAS("--netns-type=path") > 0);
        assert_true(HAS("--userns-path=/dev/net/airlock-userns") > 0);
        assert_true(HAS("/dev/net/airlock-netns", "tap0") > 0);
        assert_true(HAS("--enable-ipv6") < 0 && HAS("-6") < 0); /* IPv4 only */
        assert_true(HAS("--api-socket") < 0 && HAS("-a") < 0);  /* no port forwarding into the sandbox */
        buf_free(&b);
}

/* Walk the netlink requests: tap0 up, its address, the default route, the refusal table's
 * route into lo, then every one a rule at NET_RULE_PRIORITY with its prefix: IPv4 to the
 * refusal table, IPv6 prohibit. */
static void test_network_msgs(void **state) {
        (void)state;
        struct net_addr host[2] = {{.family = AF_INET, .prefix_len = 32, .addr = {192, 0, 2, 2}},
                                   {.family = AF_INET6, .prefix_len = 128, .addr = {0xfd, [15] = 2}}};
        struct buf b;
        struct diag d = {0};
        size_t nfixed;
        (void)netpolicy_blocked(&nfixed);
        buf_init(&b, 1 << 16);
        int n = netpolicy_msgs(5, 1, host, 2, 7, &b, &d);
        assert_int_equal(n, 5 + (int)nfixed + 2);
        int seen_metadata = 0, seen_host_alias = 0, seen_v6_ll = 0, seen_host = 0;
        size_t off = 0;
        static const uint16_t first[] = {RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWROUTE, RTM_NEWROUTE};
        for (int i = 0; i < n; i++) {
                assert_true(off + sizeof(struct nlmsghdr) <= b.len);
                const struct nlmsghdr *h = (const void *)(b.data + off);
                assert_int_equal(h->nlmsg_seq, 7 + i);
                assert_true(h->nlmsg_flags & NLM_F_ACK);
                assert_true(off + h->nlmsg_len <= b.len);
                off += NLMSG_ALIGN(h->nlmsg_len);
                if (i < 5) {
                        assert_int_equal(h->nlmsg_type, first[i]);
                        if (i == 0) {
                                const struct ifinfomsg *l = NLMSG_DATA(h);
                                assert_int_equal(l->ifi_index, 5);
                                assert_int_equal(l->ifi_flags & IFF_UP, IFF_UP);
                        } else if (i == 1) {
                                const struct ifaddrmsg *a = NLMSG_DATA(h);
                                assert_int_equal(a->ifa_index, 5);
                                assert_int_equal(a->ifa_prefixlen, 24);
                        } else if (i == 2) {
                                const struct rtmsg *r = NLMSG_DATA(h);
                                assert_int_equal(r->rtm_dst_len, 0); /* the default route */
                                assert_int_equal(r->rtm_table, RT_TABLE_MAIN);
                        } else if (i == 4) {
                                /* and prohibit, for lookups bound to another device (tap0) */
                                const struct rtmsg *r = NLMSG_DATA(h);
                                assert_int_equal(r->rtm_type, RTN_PROHIBIT);
                                assert_int_equal(r->rtm_table, NET_REFUSE_TABLE);
                                uint32_t metric = 0, oif = 0;
                                int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*r));
                                for (const struct rtattr *a = (const void *)((const char *)r + NLMSG_ALIGN(sizeof(*r)));
                                     RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                                        if (a->rta_type == RTA_PRIORITY)
                                                memcpy(&metric, RTA_DATA(a), 4);
                                        if (a->rta_type == RTA_OIF)
                                                memcpy(&oif, RTA_DATA(a), 4);
                                }
                                assert_int_equal(metric, NET_REFUSE_PROHIBIT_METRIC);
                                assert_int_equal(oif, 0);
                        } else {
                                /* the refusal table: everything into lo (ifindex 1), from 127.0.0.1 */
                                const struct rtmsg *r = NLMSG_DATA(h);
                                assert_int_equal(r->rtm_dst_len, 0);
                                assert_int_equal(r->rtm_table, NET_REFUSE_TABLE);
                                uint32_t oif = 0, table = 0;
                                uint8_t src[4] = {0};
                                int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*r));
                                for (const struct rtattr *a = (const void *)((const char *)r + NLMSG_ALIGN(sizeof(*r)));
                                     RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                                        if (a->rta_type == RTA_OIF)
                                                memcpy(&oif, RTA_DATA(a), 4);
                                        if (a->rta_type == RTA_TABLE)
                                                memcpy(&table, RTA_DATA(a), 4);
                                        if (a->rta_type == RTA_PREFSRC)
                                                memcpy(src, RTA_DATA(a), 4);
                                }
                                assert_int_equal(oif, 1);
                                assert_int_equal(table, NET_REFUSE_TABLE);
                                assert_memory_equal(src, ((uint8_t[]){127, 0, 0, 1}), 4);
                        }
                        continue;
                }
                assert_int_equal(h->nlmsg_type, RTM_NEWRULE);
                const struct fib_rule_hdr *f = NLMSG_DATA(h);
                if (f->family == AF_INET) {
                        assert_int_equal(f->action, FR_ACT_TO_TBL);
                        assert_int_equal(f->table, NET_REFUSE_TABLE);
                } else {
                        assert_int_equal(f->action, FR_ACT_PROHIBIT);
                }
                uint32_t prio = 0;
                const uint8_t *dst = NULL;
                int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*f));
                for (const struct rtattr *a = (const void *)((const char *)f + NLMSG_ALIGN(sizeof(*f)));
                     RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                        if (a->rta_type == FRA_PRIORITY)
                                memcpy(&prio, RTA_DATA(a), 4);
                        if (a->rta_type == FRA_DST) {
                                assert_int_equal(RTA_PAYLOAD(a), f->family == AF_INET ? 4 : 16);
                                dst = RTA_DATA(a);
                        }
                }
                assert_int_equal(prio, NET_RULE_PRIORITY);
                assert_non_null(dst);
                if (f->family == AF_INET && f->dst_len == 16 && dst[0] == 169 && dst[1] == 254)
                        seen_metadata = 1;
                if (f->family == AF_INET && f->dst_len == 32 && !memcmp(dst, (uint8_t[]){10, 0, 2, 2}, 4))
                        seen_host_alias = 1;
                if (f->family == AF_INET6 && f->dst_len == 10 && dst[0] == 0xfe && dst[1] == 0x80)
                        seen_v6_ll = 1;
                if (f->family == AF_INET && f->dst_len == 32 && !memcmp(dst, (uint8_t[]){192, 0, 2, 2}, 4))
                        seen_host = 1;
        }
        assert_int_equal(off, b.len);
        assert_true(seen_metadata && seen_host_alias && seen_v6_ll && seen_host);
        buf_free(&b);
        /* more host addresses than can be blocked: refused, not cut short */
        static struct net_addr many[NET_HOST_ADDRS_MAX + 1];
        for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
                many[i] = (struct net_addr){.family = AF_INET, .prefix_len = 32, .addr = {10, 9, (uint8_t)(i >> 8), (uint8_t)i}};
        buf_init(&b, 1 << 20);
        assert_int_equal(netpolicy_msgs(5, 1, many, sizeof(many) / sizeof(many[0]), 1, &b, &d), -E2BIG);
        assert_string_equal(d.field, "network");
        buf_free(&b);
        struct net_addr bad = {.family = AF_INET, .prefix_len = 33};
        buf_init(&b, 1 << 16);
        assert_true(netpolicy_msgs(5, 1, &bad, 1, 1, &b, &d) < 0);
        buf_free(&b);
        buf_init(&b, 1 << 16);
        assert_int_equal(netpolicy_msgs(0, 1, NULL, 0, 1, &b, &d), -ENODEV); /* no tap0: nothing to set up */
        assert_int_equal(netpolicy_msgs(5, 0, NULL, 0, 1, &b, &d), -ENODEV); /* no lo */
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
                cmocka_unit_test(test_env_thread_pools),
                cmocka_unit_test(test_payload),      cmocka_unit_test(test_oci_config), cmocka_unit_test(test_built_runtime),
                cmocka_unit_test(test_caps),        cmocka_unit_test(test_network_public),
                cmocka_unit_test(test_slirp_argv),  cmocka_unit_test(test_network_msgs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
