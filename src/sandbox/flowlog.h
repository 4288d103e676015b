/* flowlog: network mode public's log of every flow, from the kernel (docs/adr/0017,
 * docs/network.md). Pure: no I/O, unit-tested and fuzzed; the launcher's net.c opens the
 * socket and feeds what it reads here.
 *
 * The nftables rules in a public sandbox's network namespace (netpolicy_nft_ruleset) send
 * a copy of the first packet of every new flow, and of every refused packet, to the
 * namespace's NFLOG group FLOWLOG_GROUP, prefixed FLOWLOG_ALLOWED or FLOWLOG_REFUSED. The
 * launcher holds the netlink socket bound to that group and turns each record into a
 * struct lp_egress: the daemon logs and counts those like the allowlist proxy's.
 *
 * What the kernel copies is the sandbox's own packet: its headers are whatever the program
 * wrote. Everything is bounds-checked, and a record that does not parse is counted, never
 * trusted.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "proto/launch_proto.h"

#define FLOWLOG_GROUP 1
#define FLOWLOG_ALLOWED "airlock-allowed"
#define FLOWLOG_REFUSED "airlock-refused"
/* the kernel's log limit left records out since the last such one (how many: unknown) */
#define FLOWLOG_SKIPPED "airlock-skipped"
/* Bytes of each packet copied: a whole IPv4 header with options (60) and the ports. */
#define FLOWLOG_SNAPLEN 64

/* Records the kernel gathers into one netlink message, sent after at most 10 ms. */
#define FLOWLOG_BATCH 64

/* The NFULNL_MSG_CONFIG request (with NLM_F_ACK) that binds a netlink socket to
 * FLOWLOG_GROUP, copies FLOWLOG_SNAPLEN bytes of each packet and sends records in batches
 * of up to FLOWLOG_BATCH, each within 10 ms. 0 or a negative errno. */
int flowlog_bind_msg(uint32_t seq, struct buf *out);

/* The request (no ACK) that unbinds the group: the kernel first sends the records it was
 * still gathering (the last batch), then stops logging for the socket. */
int flowlog_unbind_msg(uint32_t seq, struct buf *out);

typedef void (*flowlog_fn)(const struct lp_egress *e, void *userdata);

/* Each NFLOG packet record among the netlink messages in buf (what one recv gave), as an
 * lp_egress (sandbox_id 0, dropped 0, host the destination address as text) for fn.
 * Returns how many records were not passed on: FLOWLOG_SKIPPED markers (each stands for at
 * least one record the kernel's limit left out), and records not understood (a truncated
 * message, a prefix that is not ours, a packet that is not IPv4 or too short for its
 * header). */
size_t flowlog_parse(const void *buf, size_t len, flowlog_fn fn, void *userdata);
