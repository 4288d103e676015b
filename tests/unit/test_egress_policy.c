/* The allowlist proxy's pure part: the allowlist grammar, matching, which addresses a name
 * may resolve to, and the request head parser (src/egress/policy.c, src/proto). The e2e
 * suite (tests/e2e/test_network_allowlist.py) drives the real proxy; the address ranges
 * that no test server can sit on (private, metadata, 6to4...) are checked here. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "egress/policy.h"

static struct lp_allow entry(const char *s) {
        struct lp_allow a;
        assert_int_equal(lp_parse_allow_entry(s, strlen(s), &a), 0);
        return a;
}

static void test_allow_grammar(void **state) {
        (void)state;
        struct lp_allow a = entry("PyPI.org:443");
        assert_string_equal(a.host, "pypi.org");
        assert_int_equal(a.port, 443);
        assert_false(a.wildcard);
        assert_false(a.ipv4);
        a = entry("*.pythonhosted.org:443");
        assert_string_equal(a.host, "pythonhosted.org");
        assert_true(a.wildcard);
        a = entry("10.1.2.3:8080");
        assert_true(a.ipv4);
        assert_string_equal(a.host, "10.1.2.3");
        static const char *const bad[] = {"pypi.org",      "pypi.org:",   ":443",        "pypi.org:0",   "pypi.org:65536",
                                          "pypi.org:+443", "a..b:1",      "-a.b:1",      "a-.b:1",       "*.:1",
                                          "*.10.0.0.1:80", "a_b.c:1",     "[::1]:443",   "a b:1",        "pypi.org:123456",
                                          "*.*.a:1",       "a.b:1:2",     "",            "*:1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct lp_allow b;
                if (lp_parse_allow_entry(bad[i], strlen(bad[i]), &b) == 0)
                        fail_msg("accepted '%s'", bad[i]);
        }
}

static void test_listed(void **state) {
        (void)state;
        struct lp_allow list[] = {entry("pypi.org:443"), entry("*.pythonhosted.org:443"), entry("127.0.0.1:8080")};
        assert_non_null(egress_listed(list, 3, "pypi.org", 443));
        assert_null(egress_listed(list, 3, "pypi.org", 80));         /* the port is part of it */
        assert_null(egress_listed(list, 3, "evilpypi.org", 443));    /* no suffix match without the dot */
        assert_null(egress_listed(list, 3, "pypi.org.evil.com", 443));
        assert_non_null(egress_listed(list, 3, "files.pythonhosted.org", 443));
        assert_non_null(egress_listed(list, 3, "a.b.pythonhosted.org", 443));
        assert_null(egress_listed(list, 3, "pythonhosted.org", 443)); /* "*." is subdomains only */
        assert_null(egress_listed(list, 3, "xpythonhosted.org", 443));
        assert_true(egress_listed(list, 3, "127.0.0.1", 8080)->ipv4);
        assert_null(egress_listed(list, 3, "127.0.0.1", 8081));
        assert_null(egress_listed(list, 3, "", 443));
}

static const char *blocked(const char *text) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (strchr(text, ':')) {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
        } else {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
        }
        struct sockaddr_storage host[1];
        memset(host, 0, sizeof(host));
        ((struct sockaddr_in *)&host[0])->sin_family = AF_INET;
        inet_pton(AF_INET, "203.0.113.7", &((struct sockaddr_in *)&host[0])->sin_addr);
        return egress_addr_blocked((struct sockaddr *)&ss, host, 1);
}

static void test_blocked_addresses(void **state) {
        (void)state;
        static const struct {
                const char *addr, *why;
        } cases[] = {
                {"127.0.0.1", "loopback"},          {"127.255.0.9", "loopback"},
                {"10.0.0.5", "private"},            {"172.16.0.1", "private"},
                {"172.31.255.255", "private"},      {"192.168.1.1", "private"},
                {"169.254.169.254", "metadata"},    {"169.254.1.1", "link-local"},
                {"100.100.100.200", "shared"},      {"100.64.0.1", "shared"},
                {"168.63.129.16", "WireServer"},    {"0.0.0.0", "unspecified"},
                {"224.0.0.1", "multicast"},         {"255.255.255.255", "broadcast"},
                {"192.0.0.192", "IETF"},            {"198.18.0.1", "benchmarking"},
                {"203.0.113.7", "own address"},     {"::1", "loopback"},
                {"::", "unspecified"},              {"::ffff:127.0.0.1", "loopback"},
                {"::ffff:10.1.1.1", "private"},     {"64:ff9b::a9fe:a9fe", "metadata"},
                {"fe80::1", "link-local"},          {"fd00:ec2::254", "metadata"},
                {"fc00::1", "unique local"},        {"ff02::1", "multicast"},
                {"2002:a00:1::1", "6to4"},          {"::10.0.0.1", "IPv4-compatible"},
                {"fec0::1", "site-local"},          {"::ffff:203.0.113.7", "own address"},
                {"64:ff9b::cb00:7107", "own address"}, {"2002:cb00:7107::1", "6to4"},
                {"64:ff9b:1::a9fe:a9fe", "metadata"}, {"::ffff:0:7f00:1", "loopback"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *why = blocked(cases[i].addr);
                if (!why || !strstr(why, cases[i].why))
                        fail_msg("%s: got '%s', want '%s'", cases[i].addr, why ? why : "(allowed)", cases[i].why);
        }
        /* Controls: ordinary public addresses pass, including neighbours of blocked ranges. */
        static const char *const ok[] = {"8.8.8.8",     "1.1.1.1",      "172.32.0.1",         "172.15.255.255",
                                         "192.169.0.1", "100.128.0.1",  "169.253.255.255",    "11.0.0.1",
                                         "2606:4700::1111", "2a00:1450::1", "2002:808:808::1", "::ffff:8.8.8.8"};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                if (blocked(ok[i]))
                        fail_msg("%s: refused as '%s'", ok[i], blocked(ok[i]));
}

static int parse(const char *head, struct egress_request *r, const char **why) {
        return egress_parse_head(head, strlen(head), r, why);
}

static void test_parse_connect_and_forward(void **state) {
        (void)state;
        struct egress_request r;
        const char *why;
        assert_int_equal(parse("CONNECT PyPI.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\nTLS...", &r, &why), 0);
        assert_int_equal(r.kind, EGRESS_CONNECT);
        assert_string_equal(r.host, "pypi.org");
        assert_int_equal(r.port, 443);
        assert_int_equal(r.head_len, strlen("CONNECT PyPI.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n"));
        assert_int_equal(parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", &r, &why), 0);
        assert_string_equal(r.host, "2001:db8::1");
        assert_int_equal(r.port, 8443);
        const char *fwd = "GET http://Example.com/a/b?c=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n";
        assert_int_equal(parse(fwd, &r, &why), 0);
        assert_int_equal(r.kind, EGRESS_FORWARD);
        assert_string_equal(r.method, "GET");
        assert_string_equal(r.host, "example.com");
        assert_int_equal(r.port, 80);
        assert_memory_equal(fwd + r.path_off, "/a/b?c=1", r.path_len);
        assert_int_equal(r.content_length, 12);
        assert_int_equal(parse("GET http://h:8080 HTTP/1.0\r\n\r\n", &r, &why), 0);
        assert_int_equal(r.port, 8080);
        assert_int_equal(r.path_len, 0);
        assert_int_equal(parse("CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi", &r, &why), -EAGAIN);
}

static void test_parse_refusals_say_why(void **state) {
        (void)state;
        static const struct {
                const char *head, *why;
        } cases[] = {
                {"hello\r\n\r\n", "request line"},
                {"CONNECT pypi.org HTTP/1.1\r\n\r\n", "HOST:PORT"},
                {"CONNECT pypi.org:0 HTTP/1.1\r\n\r\n", "port"},
                {"CONNECT pypi.org:99999 HTTP/1.1\r\n\r\n", "port"},
                {"CONNECT [::1 HTTP/1.1\r\n\r\n", "IPv6"},
                {"CONNECT a/b:1 HTTP/1.1\r\n\r\n", "character"},
                {"GET https://pypi.org/ HTTP/1.1\r\n\r\n", "CONNECT"},
                {"GET /relative HTTP/1.1\r\n\r\n", "CONNECT"},
                {"GET http://u:p@h/ HTTP/1.1\r\n\r\n", "credentials"},
                {"GET http://h/ HTTP/2.0\r\n\r\n", "HTTP/1"},
                {"GET http://h/\x01 HTTP/1.1\r\n\r\n", "control"},
                {"GET http://h/ HTTP/1.1\r\nno colon\r\n\r\n", "without a name"},
                {"GET http://h/ HTTP/1.1\r\nA: b\nC: d\r\n\r\n", "bare LF"},
                {"GET http://h/ HTTP/1.1\r\nA: b\rC: d\r\n\r\n", "bare CR"},
                {"POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"},
                {"POST http://h/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "Content-Length"},
                {"POST http://h/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
                {"G(T http://h/ HTTP/1.1\r\n\r\n", "method"},
                {"GET http://h/a HTTP/1.1\rX\r\n\r\n", "bare CR in the request line"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct egress_request r;
                const char *why = "";
                int rc = parse(cases[i].head, &r, &why);
                if (rc >= 0 || rc == -EAGAIN || !strstr(why, cases[i].why))
                        fail_msg("case %zu: rc %d, why '%s', want '%s'", i, rc, why, cases[i].why);
        }
        /* A head that never ends is refused once it passes the limit, not waited for. */
        static char big[EGRESS_HEAD_MAX + 10];
        memset(big, 'a', sizeof(big));
        struct egress_request r;
        const char *why = "";
        assert_int_equal(egress_parse_head(big, sizeof(big), &r, &why), -E2BIG);
        assert_non_null(strstr(why, "16 KiB"));
        assert_int_equal(egress_parse_head(big, 100, &r, &why), -EAGAIN);
}

static void test_kept_headers(void **state) {
        (void)state;
        assert_true(egress_keep_header("Accept: */*", 11));
        assert_true(egress_keep_header("User-Agent: pip", 15));
        assert_true(egress_keep_header("Hostile: x", 10)); /* a prefix is not the name */
        static const char *const dropped[] = {"Host: a",       "host: a",          "Connection: keep-alive",
                                              "Proxy-Connection: x", "Proxy-Authorization: Basic x",
                                              "Keep-Alive: 5", "Upgrade: websocket", "TE: trailers"};
        for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
                assert_false(egress_keep_header(dropped[i], strlen(dropped[i])));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_allow_grammar),         cmocka_unit_test(test_listed),
                cmocka_unit_test(test_blocked_addresses),     cmocka_unit_test(test_parse_connect_and_forward),
                cmocka_unit_test(test_parse_refusals_say_why), cmocka_unit_test(test_kept_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
