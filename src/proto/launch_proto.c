#include "proto/launch_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct lp_header) == 24, "header layout");
_Static_assert(sizeof(struct lp_limits) == 48, "limits layout");
_Static_assert(sizeof(struct lp_create) == 168, "create layout");
_Static_assert(sizeof(struct lp_egress) == 296, "egress layout");
_Static_assert(sizeof(struct lp_exited) == 56, "exited layout");
_Static_assert(sizeof(struct lp_usage) == 16, "usage layout");
_Static_assert(sizeof(struct lp_usage_ok) == 32, "usage_ok layout");
_Static_assert(sizeof(struct lp_host_report) == 516, "host report layout");

static int body_size_for(uint16_t type, size_t *min, size_t *max) {
        switch (type) {
        case LP_HELLO:
                *min = *max = sizeof(struct lp_hello);
                return 0;
        case LP_CREATE:
                *min = sizeof(struct lp_create);
                *max = sizeof(struct lp_create) + LP_ENV_MAX_BYTES + LP_ALLOW_MAX_BYTES;
                return 0;
        case LP_EGRESS:
                *min = *max = sizeof(struct lp_egress);
                return 0;
        case LP_SIGNAL:
                *min = *max = sizeof(struct lp_signal);
                return 0;
        case LP_FILE:
                *min = *max = sizeof(struct lp_file);
                return 0;
        case LP_FILE_OK:
                *min = *max = sizeof(struct lp_file_ok);
                return 0;
        case LP_USAGE:
                *min = *max = sizeof(struct lp_usage);
                return 0;
        case LP_USAGE_OK:
                *min = *max = sizeof(struct lp_usage_ok);
                return 0;
        case LP_ATTACHED:
                *min = *max = sizeof(struct lp_attached);
                return 0;
        case LP_HELLO_OK:
                *min = *max = sizeof(struct lp_host_report);
                return 0;
        case LP_CREATED:
                *min = *max = sizeof(struct lp_created);
                return 0;
        case LP_EXITED:
                *min = *max = sizeof(struct lp_exited);
                return 0;
        case LP_ERROR:
                *min = *max = sizeof(struct lp_error);
                return 0;
        default:
                return -EPROTO;
        }
}

int lp_decode(const void *buf, size_t len, struct lp_frame *ret, struct diag *reterr) {
        if (!buf || !ret)
                return diag_set(reterr, -EINVAL, "frame", "no frame");
        if (len < sizeof(struct lp_header))
                return diag_set(reterr, -EPROTO, "frame", "frame of %zu bytes is shorter than a header", len);
        if (len > LP_FRAME_MAX)
                return diag_set(reterr, -EMSGSIZE, "frame", "frame of %zu bytes exceeds %d", len, LP_FRAME_MAX);
        struct lp_header h;
        memcpy(&h, buf, sizeof(h));
        if (h.magic != LP_MAGIC)
                return diag_set(reterr, -EPROTO, "magic", "bad magic 0x%08x", h.magic);
        if (h.version != LP_VERSION)
                return diag_set(reterr, -EPROTONOSUPPORT, "version", "protocol version %u, expected %u", h.version,
                                LP_VERSION);
        if (h.len != len)
                return diag_set(reterr, -EPROTO, "len", "header says %u bytes, packet has %zu", h.len, len);
        if (h.reserved != 0)
                return diag_set(reterr, -EPROTO, "reserved", "reserved header field is not zero");
        size_t min, max, body_len = len - sizeof(h);
        if (body_size_for(h.type, &min, &max) < 0)
                return diag_set(reterr, -EPROTO, "type", "unknown frame type %u", h.type);
        if (body_len < min || body_len > max)
                return diag_set(reterr, -EPROTO, "len", "body of %zu bytes for frame type %u (expected %zu..%zu)",
                                body_len, h.type, min, max);
        ret->hdr = h;
        ret->body = (const char *)buf + sizeof(h);
        ret->body_len = body_len;
        return 0;
}

int lp_encode(uint16_t type, uint64_t req_id, const void *body, size_t len, const void *extra, size_t extra_len,
              void *out, size_t out_size) {
        size_t total = sizeof(struct lp_header) + len + extra_len;
        if (total > LP_FRAME_MAX || total > out_size)
                return -EMSGSIZE;
        struct lp_header h = {
                .magic = LP_MAGIC,
                .version = LP_VERSION,
                .type = type,
                .len = (uint32_t)total,
                .req_id = req_id,
        };
        memcpy(out, &h, sizeof(h));
        if (len)
                memcpy((char *)out + sizeof(h), body, len);
        if (extra_len)
                memcpy((char *)out + sizeof(h) + len, extra, extra_len);
        return (int)total;
}

/* A fixed char array holds a C string only if a NUL lies inside it. */
static int fixed_str_ok(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

static int all_zero(const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++)
                if (c[i])
                        return 0;
        return 1;
}

int lp_valid_entry_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '.')
                return 0;
        /* The launcher's own files live beside the code in /run/airlock. */
        if (!strcmp(s, "init") || !strcmp(s, "seccomp.bpf"))
                return 0;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '-'))
                        return 0;
        }
        return 1;
}

int lp_valid_env_name(const char *s, size_t len) {
        if (len == 0 || len > 128)
                return 0;
        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return 0;
        for (size_t i = 1; i < len; i++) {
                char ch = s[i];
                if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
                        return 0;
        }
        return 1;
}

int lp_parse_runtime(const char *s, char *name, size_t name_cap, unsigned *version) {
        size_t n = strnlen(s, LP_RUNTIME_MAX + 1);
        if (n == 0 || n > LP_RUNTIME_MAX)
                return -EINVAL;
        if (!strcmp(s, "default")) {
                if (name_cap < sizeof("default"))
                        return -ENAMETOOLONG;
                memcpy(name, "default", sizeof("default"));
                *version = 0;
                return 0;
        }
        const char *at = memchr(s, '@', n);
        size_t nlen = at ? (size_t)(at - s) : n;
        if (!lp_valid_runtime_name(s, nlen) || nlen >= name_cap)
                return -EINVAL;
        unsigned v = 0;
        if (at) {
                const char *d = at + 1;
                size_t dl = n - nlen - 1;
                /* "v" then 1-5 digits without a leading zero: one spelling per version */
                if (dl < 2 || dl > 6 || d[0] != 'v' || d[1] < '1' || d[1] > '9')
                        return -EINVAL;
                for (size_t i = 1; i < dl; i++) {
                        if (d[i] < '0' || d[i] > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned)(d[i] - '0');
                }
        }
        memcpy(name, s, nlen);
        name[nlen] = '\0';
        *version = v;
        return 0;
}

int lp_valid_runtime_name(const char *s, size_t n) {
        if (n == 0 || n > LP_RUNTIME_NAME_MAX || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-')
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return 0;
        return 1;
}

static int validate_allow(const struct lp_create *c, const char *blob, size_t len, struct diag *reterr) {
        if (c->network != LP_NET_ALLOWLIST && (c->allow_count || len))
                return diag_set(reterr, -EINVAL, "allowlist", "an allowlist only goes with network mode allowlist");
        if (c->allow_count > LP_ALLOW_MAX_COUNT || len > LP_ALLOW_MAX_BYTES)
                return diag_set(reterr, -E2BIG, "allowlist", "%u entries in %zu bytes, at most %d in %d",
                                c->allow_count, len, LP_ALLOW_MAX_COUNT, LP_ALLOW_MAX_BYTES);
        size_t off = 0;
        for (uint32_t i = 0; i < c->allow_count; i++) {
                const char *nul = off < len ? memchr(blob + off, '\0', len - off) : NULL;
                if (!nul)
                        return diag_set(reterr, -EPROTO, "allowlist", "entry %u is missing or not NUL-terminated", i);
                size_t n = (size_t)(nul - (blob + off));
                struct lp_allow a;
                if (lp_parse_allow_entry(blob + off, n, &a) < 0)
                        return diag_set(reterr, -EINVAL, "allowlist", "entry %u is not HOST:PORT", i);
                off += n + 1;
        }
        if (off != len)
                return diag_set(reterr, -EPROTO, "allowlist", "%zu trailing bytes after the last entry", len - off);
        return 0;
}

#define RANGE(field, v, lo, hi, unit)                                                                                  \
        do {                                                                                                           \
                if ((v) < (lo) || (v) > (hi))                                                                          \
                        return diag_set(reterr, -ERANGE, field, "%llu is outside %llu..%llu " unit,                   \
                                        (unsigned long long)(v), (unsigned long long)(lo), (unsigned long long)(hi)); \
        } while (0)

int lp_parse_allow_entry(const char *s, size_t len, struct lp_allow *ret) {
        memset(ret, 0, sizeof(*ret));
        const char *colon = NULL;
        for (size_t i = len; i > 0; i--)
                if (s[i - 1] == ':') {
                        colon = s + i - 1;
                        break;
                }
        if (!colon || colon == s)
                return -EINVAL;
        size_t digits = len - (size_t)(colon - s) - 1;
        if (digits == 0 || digits > 5)
                return -EINVAL;
        unsigned long port = 0;
        for (size_t i = 1; i <= digits; i++) {
                if (colon[i] < '0' || colon[i] > '9')
                        return -EINVAL;
                port = port * 10 + (unsigned long)(colon[i] - '0');
        }
        if (port < 1 || port > 65535)
                return -EINVAL;
        const char *host = s;
        size_t hn = (size_t)(colon - s);
        if (hn > 2 && host[0] == '*' && host[1] == '.') { /* subdomains of the rest */
                ret->wildcard = true;
                host += 2;
                hn -= 2;
        }
        if (hn > 253)
                return -EINVAL;
        size_t label = 0;
        for (size_t i = 0; i < hn; i++) {
                char c = host[i];
                ret->host[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
                if (c == '.') {
                        if (label == 0 || host[i - 1] == '-')
                                return -EINVAL;
                        label = 0;
                        continue;
                }
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          (c == '-' && label > 0);
                if (!ok || ++label > 63)
                        return -EINVAL;
        }
        if (label == 0 || host[hn - 1] == '-')
                return -EINVAL;
        ret->host[hn] = '\0';
        ret->port = (uint16_t)port;
        unsigned char a4[4];
        ret->ipv4 = inet_pton(AF_INET, ret->host, a4) == 1;
        if (ret->ipv4 && ret->wildcard)
                return -EINVAL; /* "*.10.0.0.1" names nothing */
        return 0;
}

int lp_validate_egress(const struct lp_egress *e, struct diag *reterr) {
        if (e->outcome < LP_EGRESS_ALLOWED || e->outcome > LP_EGRESS_FAILED)
                return diag_set(reterr, -EINVAL, "outcome", "unknown egress outcome %u", e->outcome);
        if (e->reason > LP_EGRESS_REASON_MAX || (e->outcome == LP_EGRESS_ALLOWED) != (e->reason == LP_EGRESS_OK))
                return diag_set(reterr, -EINVAL, "reason", "egress reason %u does not fit outcome %u", e->reason,
                                e->outcome);
        if (e->family != 0 && e->family != AF_INET && e->family != AF_INET6)
                return diag_set(reterr, -EINVAL, "family", "unknown address family %u", e->family);
        if (e->protocol != 0 && e->protocol != IPPROTO_TCP && e->protocol != IPPROTO_UDP && e->protocol != IPPROTO_ICMP)
                return diag_set(reterr, -EINVAL, "protocol", "unknown protocol %u", e->protocol);
        if (!all_zero(e->reserved, sizeof(e->reserved)) || e->reserved2)
                return diag_set(reterr, -EINVAL, "reserved", "reserved fields must be zero");
        if (!fixed_str_ok(e->host, sizeof(e->host)))
                return diag_set(reterr, -EINVAL, "host", "host is not NUL-terminated");
        /* What a request may name: a DNS name, an IPv4 or a bracketless IPv6 literal. Anything
         * else (control characters for the log) is refused. */
        for (const char *p = e->host; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':' ||
                      *p == '_'))
                        return diag_set(reterr, -EINVAL, "host", "host has a character outside [a-z0-9.:_-]");
        return 0;
}

int lp_validate_create(const struct lp_create *c, const char *extra, size_t extra_len, struct diag *reterr) {
        if (c->backend != LP_BACKEND_NAMESPACE && c->backend != LP_BACKEND_GVISOR)
                return diag_set(reterr, -EINVAL, "backend", "unknown isolation backend %u", c->backend);
        if (c->language < LP_LANG_PYTHON || c->language > LP_LANG_BASH)
                return diag_set(reterr, -EINVAL, "language", "unknown language %u", c->language);
        if (c->network != LP_NET_NONE && c->network != LP_NET_PUBLIC && c->network != LP_NET_ALLOWLIST)
                return diag_set(reterr, -EOPNOTSUPP, "network",
                                "unknown network mode %u (none 1, public 2, allowlist 3)", c->network);
        /* runsc runs with --network=none; its own netstack is not wired to any egress. */
        if (c->network != LP_NET_NONE && c->backend != LP_BACKEND_NAMESPACE)
                return diag_set(reterr, -EOPNOTSUPP, "network",
                                "network mode %s needs the namespace backend (gVisor sandboxes have no network)",
                                lp_network_name(c->network));
        if (c->flags & ~(unsigned)LP_CREATE_CONTROL)
                return diag_set(reterr, -EINVAL, "flags", "unknown CREATE flags 0x%x", c->flags);
        if ((c->flags & LP_CREATE_CONTROL) && c->backend != LP_BACKEND_NAMESPACE)
                return diag_set(reterr, -EOPNOTSUPP, "flags", "a control socket needs the namespace backend");
        if (c->limits.reserved)
                return diag_set(reterr, -EINVAL, "reserved", "reserved fields must be zero");
        if (c->allow_weaker & ~(uint32_t)LP_ALLOW_ALL)
                return diag_set(reterr, -EINVAL, "allow_weaker", "unknown bits 0x%x", c->allow_weaker);
        const struct lp_limits *l = &c->limits;
        RANGE("memory", l->memory_bytes, LP_MEMORY_MIN, LP_MEMORY_MAX, "bytes");
        RANGE("workspace", l->workspace_bytes, LP_DISK_MIN, LP_DISK_MAX, "bytes");
        RANGE("tmp", l->tmp_bytes, LP_DISK_MIN, LP_DISK_MAX, "bytes");
        RANGE("cpus", l->cpu_millis, LP_CPU_MILLIS_MIN, LP_CPU_MILLIS_MAX, "millicpus");
        RANGE("pids", l->pids, LP_PIDS_MIN, LP_PIDS_MAX, "processes");
        RANGE("timeout", l->timeout_ms, LP_TIMEOUT_MS_MIN, LP_TIMEOUT_MS_MAX, "ms");
        if (l->interrupt_grace_ms > LP_GRACE_MS_MAX)
                return diag_set(reterr, -ERANGE, "interrupt_grace", "%u is above %u ms", l->interrupt_grace_ms,
                                LP_GRACE_MS_MAX);
        RANGE("nofile", l->nofile, LP_NOFILE_MIN, LP_NOFILE_MAX, "files");
        char rt_name[LP_RUNTIME_NAME_MAX + 1];
        unsigned rt_version;
        if (!fixed_str_ok(c->runtime, sizeof(c->runtime)) ||
            lp_parse_runtime(c->runtime, rt_name, sizeof(rt_name), &rt_version) < 0 ||
            (strcmp(rt_name, "default") != 0 && rt_version == 0))
                return diag_set(reterr, -EINVAL, "runtime",
                                "runtime must be 'default' or NAME@vN (NAME a letter, then up to %d of [a-z0-9-]; "
                                "N 1-99999)", LP_RUNTIME_NAME_MAX - 1);
        if (!all_zero(c->runtime + strlen(c->runtime), sizeof(c->runtime) - strlen(c->runtime)))
                return diag_set(reterr, -EINVAL, "runtime", "bytes after the runtime name must be zero");
        if (!fixed_str_ok(c->entry_name, sizeof(c->entry_name)) || !lp_valid_entry_name(c->entry_name))
                return diag_set(reterr, -EINVAL, "entry_name",
                                "file name must be 1-63 characters of [A-Za-z0-9._-], not starting with '.' "
                                "and not 'init' or 'seccomp.bpf'");
        if ((size_t)c->env_len + c->allow_len != extra_len)
                return diag_set(reterr, -EPROTO, "env_len", "env_len %u and allow_len %u but %zu bytes follow",
                                c->env_len, c->allow_len, extra_len);
        const char *env = extra;
        size_t env_len = c->env_len;
        if (c->env_count > LP_ENV_MAX_COUNT)
                return diag_set(reterr, -E2BIG, "env", "%u variables, at most %d", c->env_count, LP_ENV_MAX_COUNT);
        size_t off = 0;
        for (uint32_t i = 0; i < c->env_count; i++) {
                if (off >= env_len)
                        return diag_set(reterr, -EPROTO, "env", "blob ends before variable %u", i);
                const char *s = env + off;
                const char *nul = memchr(s, '\0', env_len - off);
                if (!nul)
                        return diag_set(reterr, -EPROTO, "env", "variable %u is not NUL-terminated", i);
                size_t n = (size_t)(nul - s);
                const char *eq = memchr(s, '=', n);
                if (!eq || !lp_valid_env_name(s, (size_t)(eq - s)))
                        return diag_set(reterr, -EINVAL, "env", "variable %u: name must match [A-Za-z_][A-Za-z0-9_]*",
                                        i);
                if (n - (size_t)(eq - s) - 1 > LP_ENV_VALUE_MAX)
                        return diag_set(reterr, -E2BIG, "env", "variable %u: value longer than %d bytes", i,
                                        LP_ENV_VALUE_MAX);
                off += n + 1;
        }
        if (off != env_len)
                return diag_set(reterr, -EPROTO, "env", "%zu trailing bytes after the last variable", env_len - off);
        return validate_allow(c, extra ? extra + env_len : "", c->allow_len, reterr); /* NULL when empty */
}

int lp_validate_hello(const struct lp_hello *h, struct diag *reterr) {
        if (h->client_version != LP_VERSION)
                return diag_set(reterr, -EPROTONOSUPPORT, "client_version", "client speaks version %u, launcher %u",
                                h->client_version, LP_VERSION);
        if (h->flags & ~(uint32_t)LP_HELLO_FULL_PROBE)
                return diag_set(reterr, -EINVAL, "flags", "unknown HELLO flags 0x%x", h->flags);
        return 0;
}

int lp_valid_path(const char *path, size_t len, int allow_root) {
        if (len == 0)
                return allow_root;
        if (len >= LP_PATH_MAX || path[0] == '/' || path[len - 1] == '/')
                return 0;
        size_t parts = 0;
        for (size_t i = 0; i < len;) {
                size_t n = 0;
                while (i + n < len && path[i + n] != '/')
                        n++;
                if (n == 0 || (n == 1 && path[i] == '.') || (n == 2 && path[i] == '.' && path[i + 1] == '.') ||
                    n > 255 || ++parts > LP_PATH_DEPTH_MAX)
                        return 0;
                for (size_t k = 0; k < n; k++) {
                        unsigned char ch = (unsigned char)path[i + k];
                        if (ch < 0x20 || ch == 0x7f)
                                return 0;
                }
                i += n + 1;
        }
        return 1;
}

int lp_validate_file(const struct lp_file *f, struct diag *reterr) {
        if (f->op < LP_FILE_READ || f->op > LP_FILE_MKDIR)
                return diag_set(reterr, -EINVAL, "op", "unknown file operation %u", f->op);
        if (f->flags & ~(unsigned)(LP_FILE_PARENTS | LP_FILE_RECURSIVE))
                return diag_set(reterr, -EINVAL, "flags", "unknown file flags 0x%x", f->flags);
        if (f->reserved)
                return diag_set(reterr, -EINVAL, "reserved", "reserved fields must be zero");
        if (f->mode > 0777)
                return diag_set(reterr, -EINVAL, "mode", "mode 0%o has bits beyond 0777", f->mode);
        const char *nul = memchr(f->path, '\0', sizeof(f->path));
        if (!nul)
                return diag_set(reterr, -ENAMETOOLONG, "path", "path is not NUL-terminated within %d bytes",
                                LP_PATH_MAX);
        size_t len = (size_t)(nul - f->path);
        if (!all_zero(nul, sizeof(f->path) - len))
                return diag_set(reterr, -EINVAL, "path", "bytes after the path must be zero");
        if (!lp_valid_path(f->path, len, f->op == LP_FILE_LIST || f->op == LP_FILE_STAT))
                return diag_set(reterr, -EINVAL, "path",
                                "must be relative to the workspace, '/'-separated, without empty, '.' or '..' "
                                "parts or control characters, at most %d parts",
                                LP_PATH_DEPTH_MAX);
        return 0;
}

int lp_validate_signal(const struct lp_signal *s, struct diag *reterr) {
        if (s->action < LP_SIG_INTERRUPT || s->action > LP_SIG_INTERRUPT_ONLY)
                return diag_set(reterr, -EINVAL, "action", "unknown signal action %u", s->action);
        if (s->reason > LP_REASON_STOPPED || s->reason == LP_REASON_OOM || s->reason == LP_REASON_PIDS)
                return diag_set(reterr, -EINVAL, "reason", "reason %u cannot be requested", s->reason);
        if (!all_zero(s->reserved, sizeof(s->reserved)))
                return diag_set(reterr, -EINVAL, "reserved", "reserved fields must be zero");
        return 0;
}

int lp_validate_usage(const struct lp_usage *u, struct diag *reterr) {
        if (u->flags & ~(uint32_t)LP_USAGE_RESET_PEAK)
                return diag_set(reterr, -EINVAL, "flags", "unknown usage flags 0x%x", u->flags);
        if (u->reserved)
                return diag_set(reterr, -EINVAL, "reserved", "reserved fields must be zero");
        return 0;
}

const char *lp_reason_name(uint8_t reason) {
        switch (reason) {
        case LP_REASON_NONE:
                return "none";
        case LP_REASON_TIMEOUT:
                return "timeout";
        case LP_REASON_OOM:
                return "oom";
        case LP_REASON_PIDS:
                return "pids";
        case LP_REASON_OUTPUT_LIMIT:
                return "output_limit";
        case LP_REASON_STOPPED:
                return "stopped";
        case LP_REASON_SETUP:
                return "setup";
        default:
                return "unknown";
        }
}

const char *lp_language_name(uint8_t language) {
        switch (language) {
        case LP_LANG_PYTHON:
                return "python";
        case LP_LANG_JAVASCRIPT:
                return "javascript";
        case LP_LANG_BASH:
                return "bash";
        default:
                return "unknown";
        }
}

const char *lp_backend_name(uint8_t backend) {
        switch (backend) {
        case LP_BACKEND_NAMESPACE:
                return "namespace";
        case LP_BACKEND_GVISOR:
                return "gvisor";
        default:
                return "unknown";
        }
}

const char *lp_network_name(uint8_t network) {
        switch (network) {
        case LP_NET_NONE:
                return "none";
        case LP_NET_PUBLIC:
                return "public";
        case LP_NET_ALLOWLIST:
                return "allowlist";
        default:
                return "unknown";
        }
}

const char *lp_egress_outcome_name(uint8_t outcome) {
        switch (outcome) {
        case LP_EGRESS_ALLOWED:
                return "allowed";
        case LP_EGRESS_REFUSED:
                return "refused";
        case LP_EGRESS_FAILED:
                return "failed";
        default:
                return "unknown";
        }
}

const char *lp_egress_reason_name(uint8_t reason) {
        static const char *const names[] = {"ok", "not_listed", "blocked_address", "bad_request", "busy", "unresolved",
                                            "connect_failed"};
        return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "unknown";
}

const char *lp_egress_protocol_name(uint8_t protocol) {
        return protocol == IPPROTO_TCP ? "tcp" : protocol == IPPROTO_UDP ? "udp" : protocol == IPPROTO_ICMP ? "icmp" : "";
}

bool lp_dirent_next(const void *data, size_t len, size_t *off, struct lp_dirent *de, const char **name) {
        if (!data || *off > len || len - *off < sizeof(*de))
                return false;
        memcpy(de, (const char *)data + *off, sizeof(*de));
        if (len - *off - sizeof(*de) < de->name_len)
                return false;
        *name = (const char *)data + *off + sizeof(*de);
        *off += sizeof(*de) + de->name_len;
        return true;
}
