/* Mode public's flow log (src/sandbox/flowlog.c): the NFLOG bind request, and records as
 * the kernel frames them, built here byte by byte, including the ones a hostile program
 * can shape (its own packet headers). tests/e2e/test_network.py reads real ones. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "sandbox/flowlog.h"
#include "sandbox/netpolicy.h"

static void attr(struct buf *b, uint16_t type, const void *data, size_t len) {
        struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type};
        static const char pad[4] = {0};
        assert_int_equal(buf_append(b, &a, sizeof(a)), 0);
        assert_int_equal(buf_append(b, data, len), 0);
        if (NLA_ALIGN(len) != len)
                assert_int_equal(buf_append(b, pad, NLA_ALIGN(len) - len), 0);
}

/* One NFULNL_MSG_PACKET with a prefix (NULL: none) and a payload, as the kernel sends it
 * (a hardware header and a timestamp first, which the parser skips). */
static void record(struct buf *b, const char *prefix, const void *pkt, size_t pkt_len) {
        size_t start = b->len;
        struct nlmsghdr h = {.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET};
        struct nfgenmsg g = {.nfgen_family = AF_INET, .version = NFNETLINK_V0, .res_id = htons(FLOWLOG_GROUP)};
        assert_int_equal(buf_append(b, &h, sizeof(h)), 0);
        assert_int_equal(buf_append(b, &g, sizeof(g)), 0);
        struct nfulnl_msg_packet_hdr ph = {.hw_protocol = htons(0x0800), .hook = 3};
        attr(b, NFULA_PACKET_HDR, &ph, sizeof(ph));
        if (prefix)
                attr(b, NFULA_PREFIX, prefix, strlen(prefix) + 1);
        uint32_t oif = htonl(2);
        attr(b, NFULA_IFINDEX_OUTDEV | NLA_F_NET_BYTEORDER, &oif, sizeof(oif));
        attr(b, NFULA_PAYLOAD, pkt, pkt_len);
        uint32_t len = (uint32_t)(b->len - start);
        memcpy(b->data + start, &len, sizeof(len));
}

/* An IPv4 header (options: ihl words beyond 5) to dst, then 4 bytes of ports. */
static size_t packet(uint8_t *p, uint8_t proto, const char *dst, uint16_t dport, int options, uint16_t frag) {
        memset(p, 0, 64);
        p[0] = (uint8_t)(0x40 | (5 + options));
        p[6] = (uint8_t)(frag >> 8);
        p[7] = (uint8_t)frag;
        p[9] = proto;
        assert_int_equal(inet_pton(AF_INET, "10.0.2.100", p + 12), 1);
        assert_int_equal(inet_pton(AF_INET, dst, p + 16), 1);
        size_t l4 = (size_t)(5 + options) * 4;
        p[l4] = 0xc0; /* source port 49153 */
        p[l4 + 1] = 0x01;
        p[l4 + 2] = (uint8_t)(dport >> 8);
        p[l4 + 3] = (uint8_t)dport;
        return l4 + 4;
}

struct seen {
        struct lp_egress e[8];
        size_t n;
};

static void collect(const struct lp_egress *e, void *userdata) {
        struct seen *s = userdata;
        struct diag d = {0};
        assert_int_equal(lp_validate_egress(e, &d), 0);
        assert_true(s->n < 8);
        s->e[s->n++] = *e;
}

static void test_records(void **state) {
        (void)state;
        struct buf b;
        buf_init(&b, 1 << 16);
        uint8_t p[64];
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0));
        record(&b, FLOWLOG_REFUSED, p, packet(p, IPPROTO_UDP, "169.254.169.254", 53, 0, 0x4000 /* DF */));
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_ICMP, "198.51.100.1", 0x0800, 0, 0));
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.8", 8080, 10, 0)); /* 40 bytes of options */
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_UDP, "192.0.2.9", 9999, 0, 0x2000 | 3)); /* later fragment */
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_SCTP, "192.0.2.10", 1, 0, 0));
        struct seen s = {0};
        assert_int_equal(flowlog_parse(b.data, b.len, collect, &s), 0);
        assert_int_equal(s.n, 6);
        assert_int_equal(s.e[0].outcome, LP_EGRESS_ALLOWED);
        assert_int_equal(s.e[0].reason, LP_EGRESS_OK);
        assert_int_equal(s.e[0].protocol, IPPROTO_TCP);
        assert_int_equal(s.e[0].port, 443);
        assert_int_equal(s.e[0].family, AF_INET);
        assert_string_equal(s.e[0].host, "192.0.2.7");
        assert_memory_equal(s.e[0].addr, ((uint8_t[]){192, 0, 2, 7}), 4);
        assert_int_equal(s.e[1].outcome, LP_EGRESS_REFUSED);
        assert_int_equal(s.e[1].reason, LP_EGRESS_BLOCKED_ADDR);
        assert_int_equal(s.e[1].protocol, IPPROTO_UDP);
        assert_int_equal(s.e[1].port, 53);
        assert_string_equal(s.e[1].host, "169.254.169.254");
        assert_int_equal(s.e[2].protocol, IPPROTO_ICMP);
        assert_int_equal(s.e[2].port, 0); /* no ports in ICMP */
        assert_int_equal(s.e[3].port, 8080);
        assert_int_equal(s.e[4].port, 0); /* a later fragment holds no ports */
        assert_int_equal(s.e[5].protocol, 0);
        assert_string_equal(s.e[5].host, "192.0.2.10");
        buf_free(&b);
}

static void test_bad_records(void **state) {
        (void)state;
        struct buf b;
        uint8_t p[64];
        struct seen s = {0};

        /* each of these is counted, not reported; the good record after them still is */
        buf_init(&b, 1 << 16);
        record(&b, NULL, p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0));             /* no prefix */
        record(&b, "airlock-allowedX", p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0)); /* not ours */
        record(&b, "airlock-", p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0));
        record(&b, FLOWLOG_ALLOWED, p, 19); /* shorter than an IPv4 header */
        packet(p, IPPROTO_TCP, "192.0.2.7", 443, 10, 0);
        record(&b, FLOWLOG_ALLOWED, p, 40); /* its header says 60 bytes */
        packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0);
        p[0] = 0x60; /* IPv6 */
        record(&b, FLOWLOG_ALLOWED, p, 40);
        p[0] = 0x44; /* IHL below 5 */
        record(&b, FLOWLOG_ALLOWED, p, 24);
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0) - 4); /* no ports: port 0 */
        record(&b, FLOWLOG_SKIPPED, p, packet(p, IPPROTO_UDP, "192.0.2.12", 53, 0, 0)); /* counted, no event */
        record(&b, FLOWLOG_REFUSED, p, packet(p, IPPROTO_TCP, "192.0.2.11", 22, 0, 0));
        assert_int_equal(flowlog_parse(b.data, b.len, collect, &s), 8);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.e[0].port, 0);
        assert_string_equal(s.e[1].host, "192.0.2.11");
        buf_free(&b);

        /* an attribute longer than its message */
        buf_init(&b, 1 << 16);
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0));
        struct nlattr *last = (struct nlattr *)(void *)(b.data + b.len - NLA_ALIGN(NLA_HDRLEN + 24));
        last->nla_len = 200;
        s.n = 0;
        assert_int_equal(flowlog_parse(b.data, b.len, collect, &s), 1);
        assert_int_equal(s.n, 0);
        buf_free(&b);

        /* a message longer than what was read: the rest cannot be framed */
        buf_init(&b, 1 << 16);
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.7", 443, 0, 0));
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_TCP, "192.0.2.8", 443, 0, 0));
        s.n = 0;
        assert_int_equal(flowlog_parse(b.data, b.len - 8, collect, &s), 1);
        assert_int_equal(s.n, 1);
        /* a length below the header's */
        uint32_t tiny = 8;
        memcpy(b.data, &tiny, sizeof(tiny));
        s.n = 0;
        assert_int_equal(flowlog_parse(b.data, b.len, collect, &s), 1);
        assert_int_equal(s.n, 0);
        buf_free(&b);

        /* an acknowledgement is not a record, and not an error */
        buf_init(&b, 1 << 16);
        struct {
                struct nlmsghdr h;
                struct nlmsgerr e;
        } ack = {{.nlmsg_len = sizeof(ack), .nlmsg_type = NLMSG_ERROR}, {0}};
        assert_int_equal(buf_append(&b, &ack, sizeof(ack)), 0);
        record(&b, FLOWLOG_ALLOWED, p, packet(p, IPPROTO_UDP, "192.0.2.7", 53, 0, 0));
        s.n = 0;
        assert_int_equal(flowlog_parse(b.data, b.len, collect, &s), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(flowlog_parse(b.data, 0, collect, &s), 0);
        buf_free(&b);
}

static void test_bind_msg(void **state) {
        (void)state;
        struct buf b;
        buf_init(&b, 4096);
        assert_int_equal(flowlog_bind_msg(9, &b), 0);
        const struct nlmsghdr *h = (const void *)b.data;
        assert_int_equal(h->nlmsg_len, b.len);
        assert_int_equal(h->nlmsg_type, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);
        assert_int_equal(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_int_equal(h->nlmsg_seq, 9);
        const struct nfgenmsg *g = NLMSG_DATA(h);
        assert_int_equal(ntohs(g->res_id), FLOWLOG_GROUP);
        int cmd = -1, copy = -1, qthresh = -1, timeout = -1;
        for (size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*g)); off + NLA_HDRLEN <= b.len;) {
                const struct nlattr *a = (const void *)(b.data + off);
                const void *v = (const char *)a + NLA_HDRLEN;
                if (a->nla_type == NFULA_CFG_CMD)
                        cmd = ((const struct nfulnl_msg_config_cmd *)v)->command;
                if (a->nla_type == NFULA_CFG_MODE)
                        copy = (int)ntohl(((const struct nfulnl_msg_config_mode *)v)->copy_range);
                if (a->nla_type == NFULA_CFG_QTHRESH)
                        qthresh = (int)ntohl(*(const uint32_t *)v);
                if (a->nla_type == NFULA_CFG_TIMEOUT)
                        timeout = (int)ntohl(*(const uint32_t *)v);
                off += NLA_ALIGN(a->nla_len);
        }
        assert_int_equal(cmd, NFULNL_CFG_CMD_BIND);
        assert_int_equal(copy, FLOWLOG_SNAPLEN);
        assert_int_equal(qthresh, FLOWLOG_BATCH);
        assert_int_equal(timeout, 1); /* 1/100 s */
        buf_free(&b);
        /* and its unbinding, which flushes the last batch: no ACK to mix with the records */
        buf_init(&b, 4096);
        assert_int_equal(flowlog_unbind_msg(3, &b), 0);
        h = (const void *)b.data;
        assert_int_equal(h->nlmsg_len, b.len);
        assert_int_equal(h->nlmsg_flags, NLM_F_REQUEST);
        const struct nlattr *a = (const void *)(b.data + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
        assert_int_equal(a->nla_type, NFULA_CFG_CMD);
        assert_int_equal(((const struct nfulnl_msg_config_cmd *)((const char *)a + NLA_HDRLEN))->command,
                         NFULNL_CFG_CMD_UNBIND);
        buf_free(&b);
}

/* The ruleset logs to the group the launcher binds, with the prefixes the parser takes,
 * refuses what the rules sent into lo, and the blocked addresses (the host's IPv4 ones
 * included) on any other device; every log statement is limited. */
static void test_ruleset(void **state) {
        (void)state;
        struct net_addr host[2] = {{.family = AF_INET, .prefix_len = 32, .addr = {192, 0, 2, 2}},
                                   {.family = AF_INET6, .prefix_len = 128, .addr = {0xfd, [15] = 2}}};
        struct buf b;
        buf_init(&b, 1 << 16);
        assert_int_equal(netpolicy_nft_ruleset(host, 2, &b), 0);
        assert_int_equal(buf_append(&b, "", 1), 0);
        assert_non_null(strstr(b.data, "define blocked = { 169.254.0.0/16, 10.0.2.2/32, 127.0.0.0/8, 0.0.0.0/8, "
                                       "100.100.100.200/32, 168.63.129.16/32, 192.0.2.2/32 }\n"));
        assert_null(strstr(b.data, "fd00")); /* IPv6: no route, nothing to list */
        assert_non_null(strstr(b.data, "oifname \"lo\" ip daddr != { 127.0.0.0/8, 10.0.2.100 } limit rate 200/second "
                                       "burst 400 packets meta mark set 0x1a1 log group 1 snaplen 64 prefix \""
                                       FLOWLOG_REFUSED "\"\n"));
        assert_non_null(strstr(b.data, "oifname \"lo\" ip daddr != { 127.0.0.0/8, 10.0.2.100 } meta mark != 0x1a1 "
                                       "limit rate 2/second log group 1 snaplen 64 prefix \"" FLOWLOG_SKIPPED "\"\n"));
        assert_non_null(strstr(b.data, "oifname \"lo\" ip daddr != { 127.0.0.0/8, 10.0.2.100 } meta l4proto tcp "
                                       "reject with tcp reset\n"));
        assert_non_null(strstr(b.data, "oifname != \"lo\" ip daddr $blocked limit rate"));
        assert_non_null(strstr(b.data, "oifname != \"lo\" ip daddr $blocked drop\n"));
        assert_non_null(strstr(b.data, "oifname \"tap0\" meta l4proto udp"));
        assert_non_null(strstr(b.data, "prefix \"" FLOWLOG_ALLOWED "\" update @udp_seen"));
        /* every log statement comes after its limit: five logged rules, each with its
         * companion that tells of what the limit left out */
        static const char logged[] = "limit rate 200/second burst 400 packets meta mark set 0x1a1";
        static const char skipped[] = "meta mark != 0x1a1 limit rate 2/second";
        size_t nlogged = 0, nskipped = 0;
        for (const char *p = b.data; (p = strstr(p, " log group ")) != NULL; p++) {
                if (!memcmp(p - strlen(logged), logged, strlen(logged)))
                        nlogged++;
                else if (!memcmp(p - strlen(skipped), skipped, strlen(skipped)))
                        nskipped++;
                else
                        fail_msg("a log statement without its limit: %.80s", p - 60);
        }
        assert_int_equal(nlogged, 5);
        assert_int_equal(nskipped, 5);
        /* the allowed-flow rules (after the refusals) neither drop nor reject: routes decide */
        const char *tap = strstr(b.data, "oifname \"tap0\"");
        assert_non_null(tap);
        assert_null(strstr(tap, "reject"));
        assert_null(strstr(tap, "drop"));
        buf_free(&b);
        /* too many host addresses, or a bad one: refused */
        static struct net_addr many[NET_HOST_ADDRS_MAX + 1];
        buf_init(&b, 1 << 16);
        assert_int_equal(netpolicy_nft_ruleset(many, NET_HOST_ADDRS_MAX + 1, &b), -E2BIG);
        struct net_addr bad = {.family = AF_INET, .prefix_len = 33};
        assert_int_equal(netpolicy_nft_ruleset(&bad, 1, &b), -EINVAL);
        buf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_records),
                cmocka_unit_test(test_bad_records),
                cmocka_unit_test(test_bind_msg),
                cmocka_unit_test(test_ruleset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
