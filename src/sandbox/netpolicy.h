/* netpolicy: network mode public, as data (docs/network.md, docs/adr/0013). Pure: no I/O,
 * so every address the sandbox must not reach and every argument slirp4netns gets is
 * unit-tested without root; the launcher's net.c does the privileged acts with it.
 *
 * A public sandbox's network namespace holds `lo` and `tap0`, whose other end is
 * slirp4netns, a user-mode TCP/IP stack on the host that turns the sandbox's packets into
 * ordinary sockets of its own. Inside, in slirp's default layout (set by the launcher):
 *   10.0.2.100/24 on tap0 (the sandbox), 10.0.2.2 (the gateway; slirp's alias for the
 *   host's loopback, refused: --disable-host-loopback and a rule below), 10.0.2.3 (slirp's
 *   DNS forwarder, the sandbox's /etc/resolv.conf), IPv4 only.
 * Policy-routing rules in the sandbox's namespace send link-local, cloud metadata, slirp's
 * host alias and the host's own addresses to a table whose one route leads into the
 * sandbox's own lo, before any other route is looked at: nothing for them ever reaches
 * tap0. nftables rules (netpolicy_nft_ruleset) log and refuse what arrives there and log
 * the first packet of every flow through tap0 (flowlog.h). The sandbox has no
 * CAP_NET_ADMIN over its namespace, so it can remove neither.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/diag.h"

#define NET_TAP_NAME "tap0"
#define NET_MTU "65520"
#define NET_MTU_VALUE 65520u
#define NET_GUEST "10.0.2.100"
#define NET_PREFIX_LEN 24
#define NET_GATEWAY "10.0.2.2"
#define NET_DNS "10.0.2.3"
/* Addresses the rules must refuse, which the shim probes before the program starts
 * (connect() on a UDP socket and a route query bound to tap0: lookups, no packet). */
#define NET_PROBE_METADATA "169.254.169.254"
#define NET_PROBES_REFUSED {NET_PROBE_METADATA, NET_GATEWAY, "100.100.100.200", "168.63.129.16", "127.0.0.1"}
#define NET_RULE_PRIORITY 100u
/* The routing table the IPv4 rules send refused destinations to: one route, into lo,
 * from NET_REFUSE_SOURCE (what the shim checks a refused address gets). */
#define NET_REFUSE_TABLE 100
#define NET_REFUSE_SOURCE "127.0.0.1"
/* The refusal table's prohibit route, for lookups bound to another device than lo. */
#define NET_REFUSE_PROHIBIT_METRIC 4096u
/* Each log rule's limit (records a second, and the burst): netpolicy_nft_ruleset. */
#define NET_LOG_RATE 200
#define NET_LOG_BURST 400
#define NET_LOG_MARK 0x1a1
/* The host's own addresses are blocked one by one; more than this many is refused. */
#define NET_HOST_ADDRS_MAX 256

/* The sandbox's /etc/resolv.conf in mode public. */
extern const char netpolicy_resolv_conf[];

/* Inside slirp4netns's private mount namespace (launcher net.c): a tmpfs on /dev/net that
 * holds the tun device node slirp opens, owned by the sandbox's host uid, and bind mounts
 * of the sandbox's network namespace and the user namespace that owns it. */
#define NET_SLIRP_DIR "/dev/net"
#define NET_SLIRP_TUN NET_SLIRP_DIR "/tun"
#define NET_SLIRP_NETNS NET_SLIRP_DIR "/airlock-netns"
#define NET_SLIRP_USERNS NET_SLIRP_DIR "/airlock-userns"
/* slirp4netns's fds: 0 /dev/null, 1 /dev/null, 2 its messages, then these. */
#define NET_SLIRP_EXIT_FD 3  /* it exits when this reads EOF: the launcher holds the write end */
#define NET_SLIRP_READY_FD 4 /* it writes "1" here once tap0 is configured */

struct net_addr {
        uint8_t family; /* AF_INET, AF_INET6 */
        uint8_t prefix_len;
        uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
};

/* slirp4netns's argv (NUL-separated into out): --disable-host-loopback, its own seccomp
 * filter, the fds above, the namespaces at the paths above. It only creates tap0. */
int netpolicy_slirp_argv(struct buf *out, struct diag *reterr);

/* The fixed list of blocked prefixes (link-local, metadata, slirp's host alias); *n set. */
const struct net_addr *netpolicy_blocked(size_t *n);

/* The netlink requests (NLM_F_ACK each, numbered from seq, back to back into out) that set
 * the sandbox's network up once slirp4netns has created tap0 (its ifindex): tap0 up with
 * NET_MTU, NET_GUEST/24 on it, the default route via NET_GATEWAY; the refusal table's routes
 * (into lo_index, and prohibit for lookups bound to another device); then one rule at NET_RULE_PRIORITY per fixed prefix and per host
 * address (IPv4: to NET_REFUSE_TABLE; IPv6: prohibit). The rules come last because the
 * kernel checks a new route's gateway against them. Returns the number of requests, or a
 * negative errno (-E2BIG beyond NET_HOST_ADDRS_MAX). */
int netpolicy_msgs(int tap_index, int lo_index, const struct net_addr *host, size_t nhost, uint32_t seq,
                   struct buf *out, struct diag *reterr);

/* The nftables ruleset (nft's syntax) that logs every flow and refusal (flowlog.h), and
 * refuses the blocked addresses (the fixed ones and host's IPv4 ones) on any device. 0, or a
 * negative errno (-E2BIG beyond NET_HOST_ADDRS_MAX). */
int netpolicy_nft_ruleset(const struct net_addr *host, size_t nhost, struct buf *out);
