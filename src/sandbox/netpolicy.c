#include "sandbox/netpolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "sandbox/flowlog.h"
#include "sandbox/host_probe.h"

const char netpolicy_resolv_conf[] = "nameserver " NET_DNS "\n";

/* Refused from inside every public sandbox, whatever the host's routes say. */
static const struct net_addr blocked[] = {
        /* link-local, which holds the metadata service of AWS, GCP, Azure, OpenStack,
         * DigitalOcean, Oracle... at 169.254.169.254 */
        {AF_INET, 16, {169, 254}},
        /* slirp's alias for the host's own 127.0.0.1 (also refused by slirp itself with
         * --disable-host-loopback): the Airlock daemon and every host loopback service */
        {AF_INET, 32, {10, 0, 2, 2}},
        /* the host's loopback itself: a socket bound to tap0 skips the sandbox's own local
         * routes, and slirp would connect to 127.x on the host (--disable-host-loopback covers
         * only 10.0.2.2). The local table, ahead of these rules, still serves the sandbox's
         * own 127.x to every socket that is not bound to tap0. 0.0.0.0/8 likewise. */
        {AF_INET, 8, {127}},
        {AF_INET, 8, {0}},
        /* metadata outside link-local: Alibaba Cloud, Azure's WireServer */
        {AF_INET, 32, {100, 100, 100, 200}},
        {AF_INET, 32, {168, 63, 129, 16}},
        /* IPv6 link-local and AWS's IPv6 metadata (slirp carries no IPv6 today: these hold
         * should that change) */
        {AF_INET6, 10, {0xfe, 0x80}},
        {AF_INET6, 128, {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54}},
};

const struct net_addr *netpolicy_blocked(size_t *n) {
        *n = sizeof(blocked) / sizeof(blocked[0]);
        return blocked;
}

int netpolicy_slirp_argv(struct buf *out, struct diag *reterr) {
        static const char *const argv[] = {
                SLIRP4NETNS_PATH,
                /* no --configure: the launcher sets tap0 up itself (net.c), after bwrap has
                 * set up lo (slirp's --configure brings lo up too, and bwrap's adding of
                 * 127.0.0.1 then fails) */
                "--mtu=" NET_MTU,
                "--disable-host-loopback", /* 10.0.2.2 is not the host's 127.0.0.1 */
                "--enable-seccomp",       /* its own filter: no execve, ptrace, mount, setns, ... */
                "--exit-fd=3",
                "--ready-fd=4",
                "--netns-type=path",
                "--userns-path=" NET_SLIRP_USERNS,
                NET_SLIRP_NETNS,
                NET_TAP_NAME,
                NULL,
        };
        _Static_assert(NET_SLIRP_EXIT_FD == 3 && NET_SLIRP_READY_FD == 4, "slirp4netns fds");
        for (size_t i = 0; argv[i]; i++) {
                int r = buf_append_str0(out, argv[i]);
                if (r < 0)
                        return diag_set(reterr, r, "network", "building slirp4netns's command line: %s", strerror(-r));
        }
        return 0;
}

/* What the launcher loads with nft into a public sandbox's network namespace (net.c),
 * after the routes and rules. Output only: the sandbox starts every flow it has.
 *  - Refused, through lo: what the rules sent into lo for an address that is not the
 *    sandbox's own (the refusal table). Logged, then TCP gets a reset (ECONNREFUSED at
 *    once) and the rest is dropped (EPERM).
 *  - Refused, through any other device: a refused address on a socket bound to tap0
 *    (SO_BINDTODEVICE, IP_UNICAST_IF, IP_PKTINFO), whose route lookup skips the refusal
 *    table's lo route (the table's prohibit route keeps it from the main table's default
 *    route; the kernel then tries the address on-link, where only slirp's own addresses
 *    answer): logged and refused here, by address. For bound sockets this is the lock.
 *  - Allowed: the first packet of each new flow through tap0, each logged once: a TCP
 *    SYN (per source port, so a retransmitted SYN is not a second flow), a UDP flow per
 *    address and port, anything else per address; a flow seen again after the set's
 *    timeout is logged again. The sets are bounded: once one is full, update fails after
 *    the log statement, so every packet of a new flow is logged rather than none.
 *  - Every log statement is limited (NET_LOG_RATE a second per rule, bursts of twice that):
 *    a flood costs the launcher, which reads the records, a bounded amount of work. What the
 *    limit skips is still refused or carried, just not logged; a companion rule says, at
 *    most twice a second, that records were skipped (FLOWLOG_SKIPPED), which the launcher
 *    counts as dropped events.
 * The blocked addresses are the fixed ones and the host's (IPv4: IPv6 has no route). */
int netpolicy_nft_ruleset(const struct net_addr *host, size_t nhost, struct buf *out) {
/* A logged rule: limited, and marks what it logged (the mark lives only while the chain
 * runs: it never leaves the namespace, and the program cannot set it without CAP_NET_ADMIN). */
#define LOG(what)                                                                                   \
        "limit rate " STRINGIFY(NET_LOG_RATE) "/second burst " STRINGIFY(NET_LOG_BURST)             \
        " packets meta mark set " STRINGIFY(NET_LOG_MARK) " log group " STRINGIFY(FLOWLOG_GROUP)     \
        " snaplen " STRINGIFY(FLOWLOG_SNAPLEN) " prefix \"" what "\""
/* Its companion, with the same match: what the limit left out, told a few times a second
 * (the launcher counts each as a dropped event; how many were left out is not known). */
#define SKIPPED                                                                                     \
        "meta mark != " STRINGIFY(NET_LOG_MARK) " limit rate 2/second log group "                   \
        STRINGIFY(FLOWLOG_GROUP) " snaplen " STRINGIFY(FLOWLOG_SNAPLEN) " prefix \"" FLOWLOG_SKIPPED "\""
        if (nhost > NET_HOST_ADDRS_MAX)
                return -E2BIG;
        int r = buf_printf(out, "define blocked = {");
        const size_t nfixed = sizeof(blocked) / sizeof(blocked[0]);
        const char *sep = " ";
        for (size_t i = 0; r == 0 && i < nfixed + nhost; i++) {
                const struct net_addr *a = i < nfixed ? &blocked[i] : &host[i - nfixed];
                char text[INET_ADDRSTRLEN];
                if (a->family != AF_INET)
                        continue;
                if (a->prefix_len > 32 || !inet_ntop(AF_INET, a->addr, text, sizeof(text)))
                        return -EINVAL;
                r = buf_printf(out, "%s%s/%u", sep, text, a->prefix_len);
                sep = ", ";
        }
        if (r == 0)
                r = buf_printf(
                        out,
                        " }\n"
                        "table ip airlock {\n"
                        "  set tcp_seen { type ipv4_addr . inet_service . inet_service; size 4096; flags dynamic, "
                        "timeout; timeout 30s; }\n"
                        "  set udp_seen { type ipv4_addr . inet_service; size 4096; flags dynamic, timeout; timeout 60s; }\n"
                        "  set other_seen { type ipv4_addr; size 1024; flags dynamic, timeout; timeout 60s; }\n"
                        "  chain out {\n"
                        "    type filter hook output priority 0; policy accept;\n"
                        "    oifname \"lo\" ip daddr != { 127.0.0.0/8, " NET_GUEST " } " LOG(FLOWLOG_REFUSED) "\n"
                        "    oifname \"lo\" ip daddr != { 127.0.0.0/8, " NET_GUEST " } " SKIPPED "\n"
                        "    oifname \"lo\" ip daddr != { 127.0.0.0/8, " NET_GUEST " } meta l4proto tcp reject with tcp "
                        "reset\n"
                        "    oifname \"lo\" ip daddr != { 127.0.0.0/8, " NET_GUEST " } drop\n"
                        "    oifname != \"lo\" ip daddr $blocked " LOG(FLOWLOG_REFUSED) "\n"
                        "    oifname != \"lo\" ip daddr $blocked " SKIPPED "\n"
                        "    oifname != \"lo\" ip daddr $blocked meta l4proto tcp reject with tcp reset\n"
                        "    oifname != \"lo\" ip daddr $blocked drop\n"
                        "    oifname \"" NET_TAP_NAME "\" tcp flags & (syn | ack) == syn ip daddr . tcp dport . tcp sport "
                        "!= @tcp_seen " LOG(FLOWLOG_ALLOWED) " update @tcp_seen { ip daddr . tcp dport . tcp sport }\n"
                        "    oifname \"" NET_TAP_NAME "\" tcp flags & (syn | ack) == syn ip daddr . tcp dport . tcp sport "
                        "!= @tcp_seen " SKIPPED "\n"
                        "    oifname \"" NET_TAP_NAME "\" meta l4proto udp ip daddr . udp dport != @udp_seen "
                        LOG(FLOWLOG_ALLOWED) " update @udp_seen { ip daddr . udp dport }\n"
                        "    oifname \"" NET_TAP_NAME "\" meta l4proto udp ip daddr . udp dport != @udp_seen " SKIPPED "\n"
                        "    oifname \"" NET_TAP_NAME "\" meta l4proto != { tcp, udp } ip daddr != @other_seen "
                        LOG(FLOWLOG_ALLOWED) " update @other_seen { ip daddr }\n"
                        "    oifname \"" NET_TAP_NAME "\" meta l4proto != { tcp, udp } ip daddr != @other_seen " SKIPPED
                        "\n"
                        "  }\n"
                        "}\n");
#undef LOG
#undef SKIPPED
        return r;
}

static int attr(struct buf *b, uint16_t type, const void *data, uint16_t len) {
        struct rtattr a = {.rta_len = (unsigned short)RTA_LENGTH(len), .rta_type = type};
        static const char pad[RTA_ALIGNTO] = {0};
        int r = buf_append(b, &a, sizeof(a));
        if (r == 0)
                r = buf_append(b, data, len);
        if (r == 0 && RTA_ALIGN(len) != len)
                r = buf_append(b, pad, RTA_ALIGN(len) - len);
        return r;
}

/* A request: the netlink header (its length patched in by end()), then the family header. */
static int begin(struct buf *b, uint16_t type, uint16_t flags, uint32_t seq, const void *fam, size_t fam_len,
                 size_t *start) {
        static const char pad[NLMSG_ALIGNTO] = {0};
        struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags),
                             .nlmsg_seq = seq};
        *start = b->len;
        int r = buf_append(b, &h, sizeof(h));
        if (r == 0)
                r = buf_append(b, fam, fam_len);
        if (r == 0 && NLMSG_ALIGN(fam_len) != fam_len)
                r = buf_append(b, pad, NLMSG_ALIGN(fam_len) - fam_len);
        return r;
}

static int end(struct buf *b, size_t start, int r) {
        if (r == 0) {
                uint32_t len = (uint32_t)(b->len - start);
                memcpy(b->data + start + offsetof(struct nlmsghdr, nlmsg_len), &len, sizeof(len));
        }
        return r;
}

/* IPv4: to the refusal table, whose one route leads into the sandbox's own loopback, where
 * the nftables rules log and refuse what arrives (docs/adr/0017). IPv6, which public mode
 * does not carry at all (no route, ENETUNREACH for every address): prohibit, should that
 * change. */
static int rule_msg(struct buf *b, const struct net_addr *a, uint32_t seq) {
        const bool v4 = a->family == AF_INET;
        const struct fib_rule_hdr f = {
                .family = a->family,
                .dst_len = a->prefix_len,
                .table = v4 ? NET_REFUSE_TABLE : RT_TABLE_UNSPEC,
                .action = v4 ? FR_ACT_TO_TBL : FR_ACT_PROHIBIT,
        };
        uint32_t prio = NET_RULE_PRIORITY;
        size_t start;
        int r = begin(b, RTM_NEWRULE, NLM_F_CREATE, seq, &f, sizeof(f), &start);
        if (r == 0)
                r = attr(b, FRA_PRIORITY, &prio, sizeof(prio));
        if (r == 0)
                r = attr(b, FRA_DST, a->addr, a->family == AF_INET ? 4 : 16);
        return end(b, start, r);
}

/* The refusal table's routes. First, everything into lo, from 127.0.0.1: nothing leaves
 * the namespace that way whether or not the nftables rules are there (the kernel drops what
 * lo hands back for an address that is not local); with them, the program gets
 * ECONNREFUSED (TCP) or EPERM (UDP) at once and the launcher a log record. The source
 * 127.0.0.1 is what the shim checks before the program starts. Second, at a worse metric, a
 * prohibit route for lookups that must use another device (a socket bound to tap0 skips
 * the lo route; without it the lookup would fall through to the main table's default
 * route, through slirp's gateway). The kernel then assumes such an address is on-link, and
 * on tap0 only slirp's own addresses answer ARP; the nftables rules refuse it by address
 * before that (netpolicy_nft_ruleset). */
static int refuse_route_msgs(struct buf *b, int lo, uint32_t seq) {
        const struct rtmsg route = {.rtm_family = AF_INET, .rtm_table = NET_REFUSE_TABLE, .rtm_protocol = RTPROT_BOOT,
                                    .rtm_scope = RT_SCOPE_LINK, .rtm_type = RTN_UNICAST};
        uint32_t oif = (uint32_t)lo, table = NET_REFUSE_TABLE, metric = NET_REFUSE_PROHIBIT_METRIC;
        struct in_addr src;
        if (inet_pton(AF_INET, NET_REFUSE_SOURCE, &src) != 1)
                return -EINVAL;
        size_t start;
        int r = begin(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq, &route, sizeof(route), &start);
        if (r == 0)
                r = attr(b, RTA_TABLE, &table, sizeof(table));
        if (r == 0)
                r = attr(b, RTA_OIF, &oif, sizeof(oif));
        if (r == 0)
                r = attr(b, RTA_PREFSRC, &src, sizeof(src));
        if ((r = end(b, start, r)) < 0)
                return r;
        const struct rtmsg prohibit = {.rtm_family = AF_INET, .rtm_table = NET_REFUSE_TABLE,
                                       .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE,
                                       .rtm_type = RTN_PROHIBIT};
        r = begin(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq + 1, &prohibit, sizeof(prohibit), &start);
        if (r == 0)
                r = attr(b, RTA_TABLE, &table, sizeof(table));
        if (r == 0)
                r = attr(b, RTA_PRIORITY, &metric, sizeof(metric));
        return end(b, start, r);
}

/* tap0 up with slirp's MTU, its address, the default route through slirp's gateway. */
static int link_msgs(struct buf *b, int tap, uint32_t seq) {
        const struct ifinfomsg link = {.ifi_family = AF_UNSPEC, .ifi_index = tap, .ifi_flags = IFF_UP,
                                       .ifi_change = IFF_UP};
        const struct ifaddrmsg addr = {.ifa_family = AF_INET, .ifa_prefixlen = NET_PREFIX_LEN,
                                       .ifa_flags = IFA_F_PERMANENT, .ifa_scope = RT_SCOPE_UNIVERSE,
                                       .ifa_index = (uint32_t)tap};
        const struct rtmsg route = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                                    .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
        uint32_t mtu = NET_MTU_VALUE, oif = (uint32_t)tap;
        struct in_addr me, gw;
        if (inet_pton(AF_INET, NET_GUEST, &me) != 1 || inet_pton(AF_INET, NET_GATEWAY, &gw) != 1)
                return -EINVAL;
        size_t start;
        int r = begin(b, RTM_NEWLINK, 0, seq, &link, sizeof(link), &start);
        if (r == 0)
                r = attr(b, IFLA_MTU, &mtu, sizeof(mtu));
        if ((r = end(b, start, r)) < 0)
                return r;
        r = begin(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, seq + 1, &addr, sizeof(addr), &start);
        if (r == 0)
                r = attr(b, IFA_LOCAL, &me, sizeof(me));
        if (r == 0)
                r = attr(b, IFA_ADDRESS, &me, sizeof(me));
        if ((r = end(b, start, r)) < 0)
                return r;
        r = begin(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq + 2, &route, sizeof(route), &start);
        if (r == 0)
                r = attr(b, RTA_GATEWAY, &gw, sizeof(gw));
        if (r == 0)
                r = attr(b, RTA_OIF, &oif, sizeof(oif));
        return end(b, start, r);
}

int netpolicy_msgs(int tap_index, int lo_index, const struct net_addr *host, size_t nhost, uint32_t seq, struct buf *out,
                   struct diag *reterr) {
        if (nhost > NET_HOST_ADDRS_MAX)
                return diag_set(reterr, -E2BIG, "network", "the host has %zu addresses; at most %d can be blocked",
                                nhost, NET_HOST_ADDRS_MAX);
        if (tap_index <= 0)
                return diag_set(reterr, -ENODEV, "network", "no " NET_TAP_NAME " in the sandbox");
        if (lo_index <= 0)
                return diag_set(reterr, -ENODEV, "network", "no lo in the sandbox");
        int r = link_msgs(out, tap_index, seq);
        /* the table before the rules that point at it: a rule to an empty table would fall
         * through to the default route */
        if (r == 0)
                r = refuse_route_msgs(out, lo_index, seq + 3);
        if (r < 0)
                return diag_set(reterr, r, "network", "building the network's set-up: %s", strerror(-r));
        int n = 5;
        const size_t nfixed = sizeof(blocked) / sizeof(blocked[0]);
        for (size_t i = 0; i < nfixed + nhost; i++) {
                const struct net_addr *a = i < nfixed ? &blocked[i] : &host[i - nfixed];
                if ((a->family != AF_INET || a->prefix_len > 32) && (a->family != AF_INET6 || a->prefix_len > 128))
                        return diag_set(reterr, -EINVAL, "network", "bad address to block (family %u, /%u)",
                                        a->family, a->prefix_len);
                r = rule_msg(out, a, seq + (uint32_t)n);
                if (r < 0)
                        return diag_set(reterr, r, "network", "building the network rules: %s", strerror(-r));
                n++;
        }
        return n;
}
