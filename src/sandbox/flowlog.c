#include "sandbox/flowlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

static int put_attr(struct buf *b, uint16_t type, const void *data, uint16_t len) {
        static const char pad[NLA_ALIGNTO] = {0};
        struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type};
        int r = buf_append(b, &a, sizeof(a));
        if (r == 0)
                r = buf_append(b, data, len);
        if (r == 0 && NLA_ALIGN(len) != len)
                r = buf_append(b, pad, NLA_ALIGN(len) - len);
        return r;
}

/* A NFULNL_MSG_CONFIG request for FLOWLOG_GROUP with its command; the bind's settings when
 * bind. Its length is patched in at the end. */
static int config_msg(uint32_t seq, bool bind, struct buf *out) {
        const size_t start = out->len;
        const struct nlmsghdr h = {.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
                                   .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | (bind ? NLM_F_ACK : 0)),
                                   .nlmsg_seq = seq};
        const struct nfgenmsg g = {.nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
                                   .res_id = htons(FLOWLOG_GROUP)};
        const struct nfulnl_msg_config_cmd cmd = {.command = bind ? NFULNL_CFG_CMD_BIND : NFULNL_CFG_CMD_UNBIND};
        const struct nfulnl_msg_config_mode mode = {.copy_range = htonl(FLOWLOG_SNAPLEN),
                                                    .copy_mode = NFULNL_COPY_PACKET};
        /* Records in batches (one recv for many: the launcher's work per record stays small
         * under a flood), none waiting longer than 10 ms. */
        const uint32_t qthresh = htonl(FLOWLOG_BATCH), timeout = htonl(1);
        int r = buf_append(out, &h, sizeof(h));
        if (r == 0)
                r = buf_append(out, &g, sizeof(g));
        if (r == 0)
                r = put_attr(out, NFULA_CFG_CMD, &cmd, sizeof(cmd));
        if (r == 0 && bind)
                r = put_attr(out, NFULA_CFG_MODE, &mode, sizeof(mode));
        if (r == 0 && bind)
                r = put_attr(out, NFULA_CFG_QTHRESH, &qthresh, sizeof(qthresh));
        if (r == 0 && bind)
                r = put_attr(out, NFULA_CFG_TIMEOUT, &timeout, sizeof(timeout));
        if (r < 0)
                return r;
        const uint32_t len = (uint32_t)(out->len - start);
        memcpy(out->data + start + offsetof(struct nlmsghdr, nlmsg_len), &len, sizeof(len));
        return 0;
}

int flowlog_bind_msg(uint32_t seq, struct buf *out) {
        return config_msg(seq, true, out);
}

int flowlog_unbind_msg(uint32_t seq, struct buf *out) {
        return config_msg(seq, false, out);
}

/* The packet (from its IPv4 header) into e; false when it is not one we can read. */
static bool parse_packet(const uint8_t *p, size_t len, struct lp_egress *e) {
        if (len < 20 || p[0] >> 4 != 4)
                return false;
        const size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len)
                return false;
        e->family = AF_INET;
        memcpy(e->addr, p + 16, 4);
        const uint8_t proto = p[9];
        e->protocol = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMP ? proto : 0;
        /* Ports only in a first fragment that holds them. */
        const bool first_fragment = ((p[6] & 0x1f) | p[7]) == 0;
        if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && first_fragment && len >= ihl + 4)
                e->port = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
        if (!inet_ntop(AF_INET, e->addr, e->host, sizeof(e->host)))
                return false;
        return true;
}

/* One NFULNL_MSG_PACKET's attributes (after its nfgenmsg): 1 an event in e, 0 a skip
 * marker, -1 not understood. */
static int parse_record(const uint8_t *p, size_t len, struct lp_egress *e) {
        const uint8_t *payload = NULL;
        size_t payload_len = 0;
        int outcome = 0;
        for (size_t off = 0; off + NLA_HDRLEN <= len;) {
                struct nlattr a;
                memcpy(&a, p + off, sizeof(a));
                if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off)
                        return -1;
                const uint8_t *data = p + off + NLA_HDRLEN;
                const size_t n = a.nla_len - NLA_HDRLEN;
                switch (a.nla_type & NLA_TYPE_MASK) {
                case NFULA_PREFIX:
                        /* the prefix with its NUL, as nft set it */
                        if (n == sizeof(FLOWLOG_ALLOWED) && !memcmp(data, FLOWLOG_ALLOWED, n))
                                outcome = LP_EGRESS_ALLOWED;
                        else if (n == sizeof(FLOWLOG_REFUSED) && !memcmp(data, FLOWLOG_REFUSED, n))
                                outcome = LP_EGRESS_REFUSED;
                        else if (n == sizeof(FLOWLOG_SKIPPED) && !memcmp(data, FLOWLOG_SKIPPED, n))
                                return 0;
                        else
                                return -1;
                        break;
                case NFULA_PAYLOAD:
                        payload = data;
                        payload_len = n;
                        break;
                default:
                        break;
                }
                off += NLA_ALIGN(a.nla_len);
        }
        if (!outcome || !payload)
                return -1;
        memset(e, 0, sizeof(*e));
        e->outcome = (uint8_t)outcome;
        e->reason = outcome == LP_EGRESS_ALLOWED ? LP_EGRESS_OK : LP_EGRESS_BLOCKED_ADDR;
        return parse_packet(payload, payload_len, e) ? 1 : -1;
}

size_t flowlog_parse(const void *buf, size_t len, flowlog_fn fn, void *userdata) {
        const uint8_t *p = buf;
        size_t bad = 0;
        for (size_t off = 0; off + sizeof(struct nlmsghdr) <= len;) {
                struct nlmsghdr h;
                memcpy(&h, p + off, sizeof(h));
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
                        return bad + 1; /* the rest cannot be framed */
                const size_t body = h.nlmsg_len - sizeof(h);
                if (h.nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
                        struct lp_egress e;
                        const size_t g = NLMSG_ALIGN(sizeof(struct nfgenmsg));
                        if (body >= g && parse_record(p + off + sizeof(h) + g, body - g, &e) > 0)
                                fn(&e, userdata);
                        else
                                bad++;
                }
                /* NLMSG_ERROR (acks), NLMSG_DONE and anything else: not records */
                const size_t step = NLMSG_ALIGN(h.nlmsg_len);
                if (step > len - off)
                        break;
                off += step;
        }
        return bad;
}
