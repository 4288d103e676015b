/* egress policy: the pure part of the allowlist proxy (docs/adr/0015, docs/network.md).
 *
 * What a sandbox's program sends its proxy is hostile input: egress_parse_head() reads
 * one HTTP proxy request head from it (fuzzed: tests/fuzz/fuzz_egress.c). Which
 * HOST:PORT may be reached is egress_listed(); which addresses a listed name may resolve
 * to is egress_addr_blocked(). No I/O, no allocation, no globals.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/launch_proto.h"

#define EGRESS_HEAD_MAX 16384 /* a request head larger than this is refused */

enum egress_kind {
        EGRESS_CONNECT = 1, /* CONNECT host:port: a tunnel (HTTPS, or anything over TCP) */
        EGRESS_FORWARD = 2, /* GET http://host[:port]/path: plain HTTP, forwarded once */
};

struct egress_request {
        enum egress_kind kind;
        char method[16];
        char host[256]; /* lower-cased; an IPv6 literal without its brackets */
        uint16_t port;
        size_t head_len;    /* bytes of the head, the final CRLFCRLF included */
        size_t path_off;    /* FORWARD: the origin-form target within the buffer, */
        size_t path_len;    /* "/" when the URL had none (path_len 0) */
        size_t headers_off; /* the first header line within the buffer */
        uint64_t content_length; /* FORWARD: the request body's bytes (0 without a body) */
};

/* Parse the head in buf[0..len). 0: *ret is filled; -EAGAIN: no CRLFCRLF yet (and len <
 * EGRESS_HEAD_MAX); another negative errno: refused, *why says why (a static string). */
int egress_parse_head(const char *buf, size_t len, struct egress_request *ret, const char **why);

/* Headers a forwarded request keeps: every one but the hop-by-hop and proxy ones, and
 * Host (the proxy writes its own from the target). line/len: one header line without
 * its CRLF. */
bool egress_keep_header(const char *line, size_t len);

/* The allowlist entry that lets host:port through, or NULL. */
const struct lp_allow *egress_listed(const struct lp_allow *list, size_t n, const char *host, uint16_t port);

/* Why an address must not be reached (a static string such as "loopback"), or NULL when it
 * may. host_addrs: the host's own addresses (struct sockaddr_storage), also refused. */
const char *egress_addr_blocked(const struct sockaddr *sa, const struct sockaddr_storage *host_addrs, size_t nhost);
