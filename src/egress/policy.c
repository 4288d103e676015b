#include "egress/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* host[:port] (or [v6][:port]) in s[0..n) into r->host and r->port; port required unless
 * default_port. */
static int parse_authority(const char *s, size_t n, uint16_t default_port, struct egress_request *r,
                           const char **why) {
        size_t hn;
        const char *h, *rest;
        if (n && s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close)
                        return *why = "an IPv6 address without its ']'", -EINVAL;
                h = s + 1;
                hn = (size_t)(close - h);
                rest = close + 1;
                char tmp[INET6_ADDRSTRLEN];
                struct in6_addr a6;
                if (hn == 0 || hn >= sizeof(tmp))
                        return *why = "a bad IPv6 address", -EINVAL;
                memcpy(tmp, h, hn);
                tmp[hn] = '\0';
                if (inet_pton(AF_INET6, tmp, &a6) != 1)
                        return *why = "a bad IPv6 address", -EINVAL;
        } else {
                const char *colon = memchr(s, ':', n);
                h = s;
                hn = colon ? (size_t)(colon - s) : n;
                rest = s + hn;
                if (hn == 0 || hn > 253)
                        return *why = "no host, or a host longer than 253 characters", -EINVAL;
                for (size_t i = 0; i < hn; i++) {
                        char c = h[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                              c == '-' || c == '_'))
                                return *why = "a host with a character outside [A-Za-z0-9._-]", -EINVAL;
                }
        }
        size_t left = n - (size_t)(rest - s);
        unsigned long port = default_port;
        if (left) {
                if (rest[0] != ':' || left < 2 || left > 6)
                        return *why = "a bad port", -EINVAL;
                port = 0;
                for (size_t i = 1; i < left; i++) {
                        if (rest[i] < '0' || rest[i] > '9')
                                return *why = "a bad port", -EINVAL;
                        port = port * 10 + (unsigned long)(rest[i] - '0');
                }
        } else if (!default_port) {
                return *why = "CONNECT needs HOST:PORT", -EINVAL;
        }
        if (port < 1 || port > 65535)
                return *why = "a port outside 1-65535", -EINVAL;
        for (size_t i = 0; i < hn; i++)
                r->host[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i]);
        r->host[hn] = '\0';
        r->port = (uint16_t)port;
        return 0;
}

static bool header_is(const char *line, size_t len, const char *name) {
        size_t n = strlen(name);
        return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static const char *header_value(const char *line, size_t len, size_t *vlen) {
        const char *v = (const char *)memchr(line, ':', len) + 1;
        const char *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *vlen = (size_t)(end - v);
        return v;
}

int egress_parse_head(const char *buf, size_t len, struct egress_request *r, const char **why) {
        memset(r, 0, sizeof(*r));
        *why = "";
        const char *end = NULL;
        for (size_t i = 0; i + 3 < len && i + 4 <= EGRESS_HEAD_MAX; i++)
                if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
                        end = buf + i;
                        break;
                }
        if (!end)
                return len >= EGRESS_HEAD_MAX ? (*why = "a request head over 16 KiB", -E2BIG) : -EAGAIN;
        r->head_len = (size_t)(end - buf) + 4;
        /* Request line: METHOD SP TARGET SP HTTP/1.x */
        const char *line_end = memchr(buf, '\r', (size_t)(end - buf) + 1);
        if (line_end[1] != '\n')
                return *why = "a bare CR in the request line", -EINVAL;
        const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
        if (!sp1 || sp1 == buf || (size_t)(sp1 - buf) >= sizeof(r->method))
                return *why = "a bad request line", -EINVAL;
        for (const char *p = buf; p < sp1; p++)
                if (!is_tchar(*p))
                        return *why = "a bad method", -EINVAL;
        memcpy(r->method, buf, (size_t)(sp1 - buf));
        const char *target = sp1 + 1;
        const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
        if (!sp2 || sp2 == target)
                return *why = "a bad request line", -EINVAL;
        size_t vlen = (size_t)(line_end - sp2 - 1);
        if (!(vlen == 8 && (memcmp(sp2 + 1, "HTTP/1.1", 8) == 0 || memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)))
                return *why = "not HTTP/1.0 or HTTP/1.1", -EINVAL;
        size_t tlen = (size_t)(sp2 - target);
        for (size_t i = 0; i < tlen; i++)
                if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
                        return *why = "a control character or space in the target", -EINVAL;
        int rc;
        if (strcmp(r->method, "CONNECT") == 0) {
                r->kind = EGRESS_CONNECT;
                rc = parse_authority(target, tlen, 0, r, why);
        } else {
                r->kind = EGRESS_FORWARD;
                if (tlen < 8 || strncasecmp(target, "http://", 7) != 0)
                        return *why = "only CONNECT and absolute http:// URLs go through this proxy (an https:// URL "
                                      "goes by CONNECT)",
                               -EINVAL;
                const char *auth = target + 7;
                size_t alen = 0;
                while (alen < tlen - 7 && auth[alen] != '/' && auth[alen] != '?' && auth[alen] != '#')
                        alen++;
                if (memchr(auth, '@', alen))
                        return *why = "credentials in the URL", -EINVAL;
                rc = parse_authority(auth, alen, 80, r, why);
                r->path_off = (size_t)(auth + alen - buf);
                r->path_len = tlen - 7 - alen;
                if (r->path_len && auth[alen] == '#')
                        return *why = "a fragment in the target", -EINVAL;
        }
        if (rc < 0)
                return rc;
        /* Header lines: each "name: value", no bare CR or LF, no NUL; body framing known. */
        r->headers_off = (size_t)(line_end - buf) + 2;
        bool have_length = false;
        for (const char *p = buf + r->headers_off; p < end;) {
                const char *e = memchr(p, '\r', (size_t)(end - p) + 1);
                if (e[1] != '\n')
                        return *why = "a bare CR in a header", -EINVAL;
                size_t n = (size_t)(e - p);
                const char *colon = memchr(p, ':', n);
                if (!colon || colon == p)
                        return *why = "a header line without a name", -EINVAL;
                for (const char *q = p; q < colon; q++)
                        if (!is_tchar(*q))
                                return *why = "a bad header name", -EINVAL;
                for (const char *q = colon; q < e; q++)
                        if (*q == '\n' || *q == '\0')
                                return *why = "a bare LF or NUL in a header", -EINVAL;
                if (header_is(p, n, "transfer-encoding"))
                        return *why = "a chunked request body (send Content-Length)", -EINVAL;
                if (header_is(p, n, "content-length")) {
                        size_t vl;
                        const char *v = header_value(p, n, &vl);
                        uint64_t cl = 0;
                        if (have_length || vl == 0 || vl > 15)
                                return *why = "a bad or repeated Content-Length", -EINVAL;
                        for (size_t i = 0; i < vl; i++) {
                                if (v[i] < '0' || v[i] > '9')
                                        return *why = "a bad Content-Length", -EINVAL;
                                cl = cl * 10 + (uint64_t)(v[i] - '0');
                        }
                        have_length = true;
                        r->content_length = cl;
                }
                p = e + 2;
        }
        return 0;
}

bool egress_keep_header(const char *line, size_t len) {
        static const char *const drop[] = {"host",       "connection", "proxy-connection", "proxy-authorization",
                                           "keep-alive", "upgrade",    "te",               "trailer"};
        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
                if (header_is(line, len, drop[i]))
                        return false;
        return true;
}

const struct lp_allow *egress_listed(const struct lp_allow *list, size_t n, const char *host, uint16_t port) {
        size_t hl = strlen(host);
        for (size_t i = 0; i < n; i++) {
                const struct lp_allow *a = &list[i];
                if (a->port != port)
                        continue;
                size_t al = strlen(a->host);
                if (!a->wildcard && hl == al && memcmp(host, a->host, hl) == 0)
                        return a;
                /* "*.example.com": a.example.com and a.b.example.com, not example.com */
                if (a->wildcard && hl > al + 1 && host[hl - al - 1] == '.' && memcmp(host + hl - al, a->host, al) == 0)
                        return a;
        }
        return NULL;
}

static bool in4(uint32_t a, uint32_t net, unsigned bits) {
        uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;
        return (a & mask) == (net & mask);
}

static const char *v4_blocked(uint32_t a) {
        static const struct {
                uint32_t net;
                unsigned bits;
                const char *why;
        } ranges[] = {
                {0x00000000, 8, "unspecified (0.0.0.0/8)"},
                {0x0a000000, 8, "private (10.0.0.0/8)"},
                {0x64400000, 10, "shared address space (100.64.0.0/10; Alibaba Cloud's metadata)"},
                {0x7f000000, 8, "loopback (127.0.0.0/8)"},
                {0xa9fea9fe, 32, "cloud metadata (169.254.169.254)"},
                {0xa9fe0000, 16, "link-local (169.254.0.0/16)"},
                {0xac100000, 12, "private (172.16.0.0/12)"},
                {0xc0000000, 24, "IETF protocol assignments (192.0.0.0/24)"},
                {0xc0a80000, 16, "private (192.168.0.0/16)"},
                {0xc6120000, 15, "benchmarking (198.18.0.0/15)"},
                {0xa83f8110, 32, "Azure's WireServer (168.63.129.16)"},
                {0xe0000000, 4, "multicast (224.0.0.0/4)"},
                {0xf0000000, 4, "reserved or broadcast (240.0.0.0/4)"},
        };
        for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
                if (in4(a, ranges[i].net, ranges[i].bits))
                        return ranges[i].why;
        return NULL;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b) {
        if (a->sa_family != b->ss_family)
                return false;
        if (a->sa_family == AF_INET)
                return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
}

/* An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96, SIIT
 * ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and the local-use 64:ff9b:1::/48, IPv4-compatible
 * ::/96, 6to4 2002::/16): true with the IPv4 address in *v4 (host byte order). Such
 * addresses are judged as that IPv4 address, for the ranges and the host's own alike. */
static bool embedded_v4(const uint8_t *b, uint32_t *v4) {
        static const uint8_t zero[16];
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const uint8_t siit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
        static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
        static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};
        const uint8_t *p = NULL;
        /* the last 32 bits: mapped, SIIT, NAT64, and IPv4-compatible (deprecated; not :: or ::1) */
        if (memcmp(b, mapped, 12) == 0 || memcmp(b, siit, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
            memcmp(b, nat64_local, 6) == 0 ||
            (memcmp(b, zero, 12) == 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1)))
                p = b + 12;
        else if (b[0] == 0x20 && b[1] == 0x02)
                p = b + 2;
        if (!p)
                return false;
        *v4 = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        return true;
}

static bool host_v4(uint32_t v4, const struct sockaddr_storage *host_addrs, size_t nhost) {
        for (size_t i = 0; i < nhost; i++) {
                uint32_t h;
                if (host_addrs[i].ss_family == AF_INET &&
                    ntohl(((const struct sockaddr_in *)(const void *)&host_addrs[i])->sin_addr.s_addr) == v4)
                        return true;
                if (host_addrs[i].ss_family == AF_INET6 &&
                    embedded_v4(((const struct sockaddr_in6 *)(const void *)&host_addrs[i])->sin6_addr.s6_addr, &h) &&
                    h == v4)
                        return true;
        }
        return false;
}

static const char *v6_blocked(const uint8_t *b) {
        static const uint8_t zero[16];
        if (memcmp(b, zero, 15) == 0)
                return b[15] == 1 ? "loopback (::1)" : "unspecified (::)";
        if ((b[0] & 0xfe) == 0xfc)
                return b[0] == 0xfd && b[1] == 0x00 && b[2] == 0x0e && b[3] == 0xc2 ? "cloud metadata (fd00:ec2::/32)"
                                                                                   : "unique local (fc00::/7)";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return "link-local (fe80::/10)";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
                return "site-local (fec0::/10, deprecated)";
        if (b[0] == 0xff)
                return "multicast (ff00::/8)";
        return NULL;
}

const char *egress_addr_blocked(const struct sockaddr *sa, const struct sockaddr_storage *host_addrs, size_t nhost) {
        uint32_t v4;
        if (sa->sa_family == AF_INET)
                v4 = ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr);
        else if (sa->sa_family != AF_INET6)
                return "not an IP address";
        const uint8_t *b = sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr
                                                     : NULL;
        if (b && !embedded_v4(b, &v4)) {
                const char *why = v6_blocked(b);
                for (size_t i = 0; !why && i < nhost; i++)
                        if (same_addr(sa, &host_addrs[i]))
                                why = "this host's own address";
                return why;
        }
        const char *why = v4_blocked(v4);
        if (!why && host_v4(v4, host_addrs, nhost))
                why = "this host's own address";
        /* Mapped, SIIT and NAT64 forms read as their IPv4 address's reason; the two
         * deprecated carriers say what they are. */
        if (why && b && b[0] == 0x20)
                return "6to4 (2002::/16) of a blocked IPv4 address";
        if (why && b && memcmp(b, (const uint8_t[12]){0}, 12) == 0)
                return "IPv4-compatible (::/96, deprecated) of a blocked IPv4 address";
        return why;
}
