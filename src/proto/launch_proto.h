/* launch_proto: the frames between an unprivileged client (the CLI's `run` and `doctor`,
 * or the daemon) and the privileged launcher. See docs/launcher-protocol.md.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET socketpair; one frame per packet; file
 * descriptors ride along as SCM_RIGHTS. Both ends run on the same host, so frames are
 * fixed-layout native-endian structs: there is nothing to parse but lengths, enums and
 * NUL-terminated fixed arrays, all checked by lp_decode() before any field is used.
 *
 * This module is pure: no I/O, no allocation, no globals. It must never learn a path,
 * uid, mount, BPF program or capability from the client: the client names a language,
 * a runtime, limits and which weaker layers it accepts; the launcher decides the rest.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"

#define LP_MAGIC 0x4b4c5241u /* "ARLK" little-endian */
#define LP_VERSION 1
#define LP_FRAME_MAX 65536
#define LP_ENV_MAX_BYTES 32768
#define LP_ENV_MAX_COUNT 256
#define LP_ENV_VALUE_MAX 4096
#define LP_CODE_MAX_BYTES (16u * 1024u * 1024u)
#define LP_ALLOW_MAX_COUNT 256
#define LP_ALLOW_MAX_BYTES 16384
#define LP_EGRESS_PORT 3128 /* the allowlist proxy, on the sandbox's own loopback */

enum lp_type {
        LP_HELLO = 1,     /* client -> launcher: first frame, once */
        LP_CREATE = 2,    /* + 1 fd: the code to run (regular file or memfd) */
        LP_SIGNAL = 3,    /* interrupt or kill a sandbox */
        LP_FILE = 4,      /* open, list, stat, remove or create in a sandbox's workspace */
        LP_USAGE = 5,     /* a sandbox's CPU and memory so far */
        LP_HELLO_OK = 101,
        LP_CREATED = 102, /* + 2 fds: read ends of the sandbox's stdout and stderr,
                           * + the control socket as a third with LP_CREATE_CONTROL */
        LP_EXITED = 103,
        LP_ERROR = 104,
        LP_FILE_OK = 105, /* + 1 fd for READ, WRITE (the open file) and LIST (a listing) */
        LP_ATTACHED = 106, /* supervisor -> a restarted daemon, after HELLO_OK, once per live
                            * session sandbox: + 3 fds (stdout, stderr, control socket) */
        LP_USAGE_OK = 107,
        LP_EGRESS = 108,   /* launcher -> client, unsolicited: one connection an allowlist
                            * sandbox's proxy let through or refused */
};

struct lp_header {
        uint32_t magic;
        uint16_t version;
        uint16_t type;
        uint32_t len; /* whole frame, header included */
        uint32_t reserved;
        uint64_t req_id;
};

enum lp_backend { LP_BACKEND_NAMESPACE = 1, LP_BACKEND_GVISOR = 2 };
enum lp_language { LP_LANG_PYTHON = 1, LP_LANG_JAVASCRIPT = 2, LP_LANG_BASH = 3 };
/* none: loopback only. public: egress through a user-mode network stack (slirp4netns),
 * with link-local, cloud metadata and the host's own addresses blocked inside the sandbox
 * (docs/network.md, docs/adr/0013). allowlist: only loopback, where the sandbox's own
 * HTTP(S) proxy listens and connects to the listed HOST:PORTs alone (docs/adr/0015).
 * Both: namespace backend only, root launcher. */
enum lp_network { LP_NET_NONE = 1, LP_NET_PUBLIC = 2, LP_NET_ALLOWLIST = 3 };

/* Layers an operator may explicitly accept as missing. Anything not listed here is
 * mandatory and its absence is an error (fail closed). */
enum lp_weaken {
        LP_ALLOW_NO_CGROUP = 1u << 0,   /* no memory/cpu/pids limits */
        LP_ALLOW_NO_LANDLOCK = 1u << 1, /* kernel without Landlock */
        LP_ALLOW_SHARED_UID = 1u << 2,  /* launcher not root: sandbox maps to caller's uid */
        LP_ALLOW_ALL = (1u << 3) - 1,
};

struct lp_limits {
        uint64_t memory_bytes;
        uint64_t workspace_bytes;
        uint64_t tmp_bytes;
        uint32_t cpu_millis; /* 1000 = one full CPU */
        uint32_t pids;
        uint32_t timeout_ms;
        uint32_t interrupt_grace_ms; /* after the interrupt, before the kill */
        uint32_t nofile;
        uint32_t reserved;
};

/* Bounds the launcher accepts; the CLI validates flags against the same numbers. */
#define LP_MEMORY_MIN (16ull << 20)
#define LP_MEMORY_MAX (64ull << 30)
#define LP_DISK_MIN (1ull << 20)
#define LP_DISK_MAX (64ull << 30)
#define LP_CPU_MILLIS_MIN 10u
#define LP_CPU_MILLIS_MAX 256000u
#define LP_PIDS_MIN 4u
#define LP_PIDS_MAX 65536u
#define LP_TIMEOUT_MS_MIN 10u
#define LP_TIMEOUT_MS_MAX (28800u * 1000u)
#define LP_GRACE_MS_MAX 60000u
#define LP_NOFILE_MIN 16u
#define LP_NOFILE_MAX 65536u

enum lp_hello_flags {
        /* Also report tool versions that cost a process start (runsc --version, ~20 ms);
         * `airlock doctor` asks, a one-shot run does not. */
        LP_HELLO_FULL_PROBE = 1u << 0,
};

struct lp_hello {
        uint32_t client_version;
        uint32_t flags; /* enum lp_hello_flags */
};

/* What this host gives a sandbox; sent in HELLO_OK and printed by `airlock doctor`. */
struct lp_host_report {
        uint8_t is_root;
        uint8_t userns;        /* unprivileged user namespaces usable */
        uint8_t seccomp;       /* seccomp filter mode available */
        uint8_t landlock_abi;  /* 0 = none */
        uint8_t cgroup_mode;   /* enum cg_mode */
        uint8_t bwrap;         /* bubblewrap found and runnable */
        uint8_t runsc;         /* gVisor runsc found */
        uint8_t tiocsti_legacy;/* dev.tty.legacy_tiocsti (1 = host allows TIOCSTI) */
        uint32_t cgroup_controllers; /* bitmask of enum cg_controller */
        char kernel[64];
        char bwrap_version[32];
        char runsc_version[48];
        char cgroup_root[96];  /* where sandboxes' cgroups are created */
        char notes[256];       /* one line per missing mandatory piece */
        uint32_t attach_count; /* ATTACHED frames that follow this HELLO_OK */
        uint8_t slirp4netns;   /* network public possible: /usr/bin/slirp4netns and /dev/net/tun */
        uint8_t egress;        /* network allowlist possible: root, and airlock-egress installed */
        uint8_t reserved[2];
};

enum lp_create_flags {
        /* Give the program a control socket: a SOCK_STREAM unix socket at fd 3 inside the
         * sandbox (the session runner's protocol channel), whose other end comes back as
         * CREATED's third fd. Namespace backend only, for now. */
        LP_CREATE_CONTROL = 1u << 0,
};

struct lp_create {
        uint8_t backend;  /* enum lp_backend */
        uint8_t language; /* enum lp_language */
        uint8_t network;  /* enum lp_network */
        uint8_t flags;    /* enum lp_create_flags */
        uint32_t allow_weaker; /* enum lp_weaken bits */
        struct lp_limits limits;
        char runtime[32];    /* "default" or a built runtime's NAME@vN (lp_parse_runtime) */
        char entry_name[64]; /* file name of the code inside the sandbox */
        uint32_t env_count;
        uint32_t env_len; /* bytes of env blob that follow this struct in the frame */
        uint32_t allow_count; /* network allowlist: entries, */
        uint32_t allow_len;   /* and bytes of their blob, which follows the env blob */
        /* env blob: env_count strings "KEY=VALUE\0" back to back;
         * allow blob: allow_count strings "host:port\0" (lp_parse_allow_entry, normalized) */
};

/* What the sandbox really got, reported back to the client (and later the API). */
struct lp_isolation {
        uint8_t backend;
        uint8_t cgroup_mode; /* 0 = none */
        uint8_t landlock_abi;
        uint8_t seccomp;
        uint8_t userns;
        uint8_t uid_private; /* sandbox maps to a host uid used by no other sandbox */
        uint8_t network;
        uint8_t reserved;
        uint32_t host_uid;
};

struct lp_created {
        uint64_t sandbox_id;
        uint32_t init_pid; /* host pid of the sandbox's pid-namespace init, informational */
        uint32_t reserved;
        struct lp_isolation isolation;
};

/* A sandbox that outlived the daemon that asked for it (docs/adr/0005). */
struct lp_attached {
        uint64_t sandbox_id;
        struct lp_isolation isolation;
        uint64_t age_ms; /* since it was created */
};

enum lp_signal_action {
        LP_SIG_INTERRUPT = 1, /* SIGINT to every process, then the kill after the grace time */
        LP_SIG_KILL = 2,
        LP_SIG_INTERRUPT_ONLY = 3, /* SIGINT to every process and nothing more: a session's
                                    * runner turns it into KeyboardInterrupt and lives on */
};

enum lp_reason {
        LP_REASON_NONE = 0,
        LP_REASON_TIMEOUT = 1,
        LP_REASON_OOM = 2,
        LP_REASON_PIDS = 3,
        LP_REASON_OUTPUT_LIMIT = 4,
        LP_REASON_STOPPED = 5,
        LP_REASON_SETUP = 6, /* killed while still starting (setup took over 30 s); a setup
                              * that fails outright is an ERROR reply to CREATE instead */
};

struct lp_signal {
        uint64_t sandbox_id;
        uint8_t action; /* enum lp_signal_action */
        uint8_t reason; /* enum lp_reason, recorded if this ends the sandbox */
        uint8_t reserved[6];
};

struct lp_exited {
        uint64_t sandbox_id;
        int32_t exit_code; /* the program's exit status; a program killed by signal N gives
                            * 128+N (the backend reports it that way) */
        int32_t signal;    /* set only when the backend itself was killed by a signal (the
                            * launcher's kill); then exit_code is 128+signal */
        uint8_t reason;    /* enum lp_reason */
        uint8_t reserved[7];
        uint64_t peak_memory_bytes;
        uint64_t cpu_usec;
        uint64_t wall_ms;
        uint64_t limit_value; /* the limit that was hit, for the message (bytes, pids, ms) */
};

enum lp_usage_flags {
        /* Start a new high-water mark after reading this one (cgroup v1's
         * memory.max_usage_in_bytes; v2's memory.peak cannot be reset before Linux 6.12,
         * so there the peak stays the sandbox's own). */
        LP_USAGE_RESET_PEAK = 1u << 0,
};

struct lp_usage {
        uint64_t sandbox_id;
        uint32_t flags; /* enum lp_usage_flags */
        uint32_t reserved;
};

/* An unknown sandbox (just exited, or never was) is an ERROR with -ESRCH. */
enum lp_egress_outcome { LP_EGRESS_ALLOWED = 1, LP_EGRESS_REFUSED = 2, LP_EGRESS_FAILED = 3 };
enum lp_egress_reason {
        LP_EGRESS_OK = 0,
        LP_EGRESS_NOT_LISTED = 1,    /* refused: HOST:PORT is not in the allowlist */
        LP_EGRESS_BLOCKED_ADDR = 2,  /* refused: every address it resolves to is loopback, private,
                                      * link-local, metadata or the host's own */
        LP_EGRESS_BAD_REQUEST = 3,   /* refused: not an HTTP proxy request the proxy takes */
        LP_EGRESS_BUSY = 4,          /* refused: too many connections at once */
        LP_EGRESS_RESOLVE = 5,       /* failed: the name does not resolve */
        LP_EGRESS_CONNECT = 6,       /* failed: no address accepted the connection */
        LP_EGRESS_REASON_MAX = 6,
};

/* Egress events are a log, not a firehose: per sandbox, a token bucket of this many a
 * second up to the burst; past it they are counted as dropped (the connections are still
 * judged). The proxy applies it to its own, the launcher to mode public's. */
#define LP_EGRESS_EVENT_RATE 20
#define LP_EGRESS_EVENT_BURST 100

/* One record of the proxy's event pipe, and the body of an EGRESS frame (the launcher
 * fills sandbox_id; everything else comes from the proxy, which the launcher does not
 * trust: lp_validate_egress before use). In mode public the launcher makes them from the
 * kernel's log of the sandbox's new flows (sandbox/flowlog.h). */
struct lp_egress {
        uint64_t sandbox_id;
        uint8_t outcome; /* enum lp_egress_outcome */
        uint8_t reason;  /* enum lp_egress_reason */
        uint16_t port;
        uint8_t family;  /* AF_INET, AF_INET6, or 0 when no address was chosen */
        uint8_t protocol; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, or 0 for another */
        uint8_t reserved[2];
        uint8_t addr[16];
        uint32_t dropped; /* events that could not be sent before this one */
        uint32_t reserved2;
        char host[256];   /* as asked, lower-cased (the address itself in mode public); NUL-terminated */
};

struct lp_usage_ok {
        uint64_t cpu_usec;
        uint64_t memory_bytes;      /* now */
        uint64_t memory_peak_bytes; /* since the sandbox started or the last reset */
        uint8_t peak_resettable;    /* 1 when LP_USAGE_RESET_PEAK works on this host */
        uint8_t reserved[7];
};

/* Workspace files (namespace backend). The launcher resolves `path` beneath the
 * sandbox's /workspace with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) and hands back an open fd: bytes never pass
 * through the launcher, and no path the client sends is ever used outside the workspace. */
#define LP_PATH_MAX 1024
#define LP_PATH_DEPTH_MAX 64

enum lp_file_op {
        LP_FILE_READ = 1,   /* fd: the file, read-only */
        LP_FILE_WRITE = 2,  /* fd: the file, write-only, created or truncated */
        LP_FILE_LIST = 3,   /* fd: a sealed memfd of struct lp_dirent records; "" is the root */
        LP_FILE_STAT = 4,
        LP_FILE_REMOVE = 5, /* a file or link; a directory (tree) only with LP_FILE_RECURSIVE */
        LP_FILE_MKDIR = 6,
};

enum lp_file_flags {
        LP_FILE_PARENTS = 1u << 0,   /* WRITE, MKDIR: create missing parent directories */
        LP_FILE_RECURSIVE = 1u << 1, /* REMOVE: a directory and everything below it */
};

struct lp_file {
        uint64_t sandbox_id;
        uint8_t op;    /* enum lp_file_op */
        uint8_t flags; /* enum lp_file_flags */
        uint16_t reserved;
        uint32_t mode; /* permission bits for WRITE and MKDIR, <= 0777 */
        char path[LP_PATH_MAX]; /* relative, '/'-separated, no '.', '..' or empty parts */
};

enum lp_file_type { LP_FT_FILE = 1, LP_FT_DIR = 2, LP_FT_SYMLINK = 3, LP_FT_OTHER = 4 };

struct lp_file_ok {
        int64_t size;
        int64_t mtime_sec;
        uint32_t mtime_nsec;
        uint32_t mode; /* st_mode */
        uint32_t entries; /* LIST: number of records in the memfd */
        uint8_t type;     /* enum lp_file_type */
        uint8_t reserved[3];
};

/* One LIST record in the memfd; `name_len` bytes of name follow (no NUL). */
struct lp_dirent {
        int64_t size;
        int64_t mtime_sec;
        uint32_t mode;
        uint16_t name_len;
        uint8_t type;
        uint8_t reserved;
};

/* The next record of a LIST memfd's bytes at *off: true with *de and *name (de->name_len
 * bytes, not NUL-terminated) filled and *off advanced; false at the end or at a record cut
 * short. */
bool lp_dirent_next(const void *data, size_t len, size_t *off, struct lp_dirent *de, const char **name);

struct lp_error {
        int32_t code; /* negative errno */
        uint32_t reserved;
        char field[48];
        char msg[DIAG_MSG_MAX];
};

/* A decoded frame: header plus a pointer into the caller's buffer. */
struct lp_frame {
        struct lp_header hdr;
        const void *body;
        size_t body_len;
};

/* Check magic, version, declared length, type and the exact body size for `type`.
 * Does not look inside CREATE's fields; call lp_validate_create() for that. */
int lp_decode(const void *buf, size_t len, struct lp_frame *ret, struct diag *reterr);

/* Write a frame of `type` with `body` (len bytes) and `extra` (extra_len bytes, CREATE's
 * env blob) into out. Returns the frame length or a negative errno. */
int lp_encode(uint16_t type, uint64_t req_id, const void *body, size_t len, const void *extra,
              size_t extra_len, void *out, size_t out_size);

/* Validate every field of a CREATE body, naming the first bad one. extra points at what
 * followed the struct: the env blob, then the allow blob (c->env_len + c->allow_len). */
int lp_validate_create(const struct lp_create *c, const char *extra, size_t extra_len, struct diag *reterr);

int lp_validate_signal(const struct lp_signal *s, struct diag *reterr);
int lp_validate_hello(const struct lp_hello *h, struct diag *reterr);
int lp_validate_file(const struct lp_file *f, struct diag *reterr);
int lp_validate_usage(const struct lp_usage *u, struct diag *reterr);
int lp_validate_egress(const struct lp_egress *e, struct diag *reterr);

/* A network allowlist entry: HOST:PORT, HOST a DNS name (a leading "*." for its
 * subdomains) or a dotted-quad IPv4 address, PORT 1-65535. The one grammar of the API,
 * the launcher and the proxy. */
struct lp_allow {
        char host[254]; /* lower-cased, without the "*." */
        uint16_t port;
        bool wildcard;  /* "*.host": subdomains of host, not host itself */
        bool ipv4;      /* host is an IPv4 literal: that address is allowed even when private */
};
int lp_parse_allow_entry(const char *s, size_t len, struct lp_allow *ret);

/* A workspace path: relative, '/'-separated, at most LP_PATH_MAX-1 bytes and
 * LP_PATH_DEPTH_MAX parts, no empty, "." or ".." part, no control characters. The empty
 * string (the workspace itself) is valid only when allow_root is set. */
int lp_valid_path(const char *path, size_t len, int allow_root);

/* Names for messages and reports. */
const char *lp_reason_name(uint8_t reason);
const char *lp_language_name(uint8_t language);
const char *lp_backend_name(uint8_t backend);
const char *lp_network_name(uint8_t network);
const char *lp_egress_outcome_name(uint8_t outcome);
const char *lp_egress_reason_name(uint8_t reason);
/* "tcp", "udp", "icmp", or "" for 0 or another protocol. */
const char *lp_egress_protocol_name(uint8_t protocol);

/* Runtimes (docs/runtimes.md): "default", or a built one as NAME or NAME@vN. NAME is a
 * lowercase letter, then [a-z0-9-], at most LP_RUNTIME_NAME_MAX, not ending in '-'; N is
 * 1-99999 without a leading zero. The launcher takes only NAME@vN: which version is the
 * daemon's choice, at session create. */
#define LP_RUNTIME_NAME_MAX 24
#define LP_RUNTIME_MAX 31
/* Where a built runtime NAME@vN appears inside a sandbox, and where it was built: the
 * same path, so the venv's absolute paths and scripts' shebangs hold in both. */
#define LP_RUNTIME_MOUNT_BASE "/opt/airlock/runtimes"
/* Split s into name and version (0 when s names no version; "default" is version 0).
 * 0 or -EINVAL. */
int lp_parse_runtime(const char *s, char *name, size_t name_cap, unsigned *version);
int lp_valid_runtime_name(const char *s, size_t n);

/* Helpers shared by the validator and the CLI. */
int lp_valid_entry_name(const char *s);
int lp_valid_env_name(const char *s, size_t len);
