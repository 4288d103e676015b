/* airlock-init: the exec shim, the last trusted code in every sandbox.
 *
 * The backend (bubblewrap or runsc) has already built namespaces, mounts, the uid
 * mapping and dropped capabilities; it then execs this static binary as the sandbox
 * user. We add, in this order, the layers a backend cannot:
 *   1. resource rlimits (open files, no core dumps); in network mode public, a check that
 *      the launcher's network rules are in force and slirp's network is up;
 *   2. Landlock: the filesystem the payload may touch, as a second wall behind the mount
 *      namespace (where the kernel has it; required unless the operator opted out);
 *   3. close every fd but 0, 1, 2 and, for a session, the control socket moved to fd 3
 *      (nothing of the launcher's may leak: CVE-2024-21626);
 *   4. no_new_privs and the seccomp filter compiled by the launcher, loaded last so that
 *      nothing after it needs a refused syscall;
 *   5. the ready marker on stderr, then execve of the interpreter.
 * Nothing the user controls runs before step 5: the code is a file the interpreter
 * reads after exec, and this binary is static so LD_PRELOAD and friends cannot load
 * anything into it. Any failure exits 126 with one line on stderr, before the marker,
 * which the launcher reports as a setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/netpolicy.h"
#include "sandbox/plan.h"

/* Newer ABI bits than Debian 12's kernel headers know. Values from the kernel's uapi. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define AL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define AL_SCOPE_SIGNAL (1ULL << 1)

struct al_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net; /* ABI 4 */
        uint64_t scoped;             /* ABI 6 */
};

extern char **environ;

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        dprintf(2, "airlock-init: %s\n", msg);
        _exit(126);
}

static uint64_t fs_rights_for_abi(int abi) {
        uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                     LANDLOCK_ACCESS_FS_MAKE_SYM;
        if (abi >= 2)
                r |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                r |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5)
                r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return r;
}

static void allow_path(int ruleset, const char *path, uint64_t access, uint64_t handled) {
        int fd = open(path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return; /* a layout without this path simply has nothing to allow */
                fail("landlock: open %s: %s", path, strerror(errno));
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                fail("landlock: stat %s: %s", path, strerror(errno));
        access &= handled;
        /* Rights that only make sense on directories are refused by the kernel on files. */
        if (!S_ISDIR(st.st_mode))
                access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                          LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
        struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                fail("landlock: rule for %s: %s", path, strerror(errno));
        close(fd);
}

/* Returns the ABI applied, 0 if the kernel has no Landlock. */
static int apply_landlock(int required) {
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (abi <= 0) {
                if (required)
                        fail("Landlock is required but unavailable here (%s)", strerror(errno));
                return 0;
        }
        uint64_t all = fs_rights_for_abi((int)abi);
        struct al_ruleset_attr attr = {.handled_access_fs = all};
        size_t attr_size = sizeof(uint64_t);
        if (abi >= 6) {
                /* No abstract unix sockets or signals across the sandbox boundary. */
                attr.scoped = AL_SCOPE_ABSTRACT_UNIX_SOCKET | AL_SCOPE_SIGNAL;
                attr_size = sizeof(attr);
        }
        int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
        if (rs < 0)
                fail("landlock: create ruleset: %s", strerror(errno));
        const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        const uint64_t rx = rd | LANDLOCK_ACCESS_FS_EXECUTE;
        const uint64_t dev = rd | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
        allow_path(rs, "/", LANDLOCK_ACCESS_FS_READ_DIR, all);
        allow_path(rs, "/usr", rx, all);
        allow_path(rs, "/etc", rd, all);
        allow_path(rs, SANDBOX_RUN_DIR, rx, all);
        /* A built runtime (read-only bind; absent on the default runtime). */
        allow_path(rs, LP_RUNTIME_MOUNT_BASE, rx, all);
        allow_path(rs, "/proc", rd, all);
        allow_path(rs, "/dev", dev, all);
        /* The writable places: everything there, execution included (scripts and tools
         * users build or install into their workspace). */
        allow_path(rs, "/tmp", all, all);
        allow_path(rs, "/dev/shm", all, all);
        allow_path(rs, SANDBOX_WORKSPACE, all, all);
        if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
                fail("landlock: restrict self: %s", strerror(errno));
        close(rs);
        return (int)abi;
}

/* close_range where the kernel has it; gVisor's older releases do not, so fall back to
 * walking /proc/self/fd (collect first, close after: closing while reading the
 * directory would close the directory's own fd too). */
static void close_inherited_fds(unsigned from) {
        if (syscall(SYS_close_range, from, ~0U, 0U) == 0)
                return;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                fail("cannot list open fds: %s", strerror(errno));
        int fds[1024], n = 0, self = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) && n < (int)(sizeof(fds) / sizeof(fds[0]))) {
                char *end = NULL;
                long v = strtol(e->d_name, &end, 10);
                if (end && *end == '\0' && end != e->d_name && v >= (long)from && v != self)
                        fds[n++] = (int)v;
        }
        closedir(d);
        if (n == (int)(sizeof(fds) / sizeof(fds[0])))
                fail("too many inherited fds");
        for (int i = 0; i < n; i++)
                close(fds[i]);
}

/* 0 when the sandbox has a route to ip, with the source address it picks in *src, else
 * the errno of the lookup. connect() on a UDP socket only looks the route up (the policy
 * rules included); nothing is sent. */
static int route_to(const char *ip, struct in_addr *src) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
        if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
                fail("network: bad address %s", ip);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                fail("network: socket: %s", strerror(errno));
        int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
        struct sockaddr_in me = {0};
        socklen_t len = sizeof(me);
        if (r == 0 && getsockname(fd, (struct sockaddr *)&me, &len) < 0)
                r = errno;
        close(fd);
        *src = me.sin_addr;
        return r;
}

/* Whether the route to ip for a socket bound to device oif goes through a gateway: the
 * kernel's answer to RTM_GETROUTE with RTA_OIF (what SO_BINDTODEVICE gets). A refusal (the
 * refusal table's prohibit route) is no gateway. */
static bool bound_route_has_gateway(const char *ip, unsigned oif) {
        struct {
                struct nlmsghdr h;
                struct rtmsg r;
                struct rtattr dst_a;
                struct in_addr dst;
                struct rtattr oif_a;
                uint32_t oif;
        } req = {
                .h = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETROUTE, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1},
                .r = {.rtm_family = AF_INET, .rtm_dst_len = 32},
                .dst_a = {.rta_len = RTA_LENGTH(sizeof(struct in_addr)), .rta_type = RTA_DST},
                .oif_a = {.rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = RTA_OIF},
                .oif = oif,
        };
        _Static_assert(sizeof(req) == NLMSG_LENGTH(sizeof(struct rtmsg)) + 2 * RTA_LENGTH(4), "packed as netlink wants");
        if (inet_pton(AF_INET, ip, &req.dst) != 1)
                fail("network: bad address %s", ip);
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                fail("network: netlink socket: %s", strerror(errno));
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)sizeof(req))
                fail("network: route query: %s", strerror(errno));
        char answer[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
        ssize_t n = recv(fd, answer, sizeof(answer), 0);
        close(fd);
        const struct nlmsghdr *h = (const void *)answer;
        if (n < (ssize_t)sizeof(*h) || !NLMSG_OK(h, (size_t)n))
                fail("network: route query: no answer");
        if (h->nlmsg_type == NLMSG_ERROR)
                return false; /* refused: no route at all */
        if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
                fail("network: route query: unexpected answer %u", h->nlmsg_type);
        int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(struct rtmsg));
        for (const struct rtattr *a = RTM_RTA(NLMSG_DATA(h)); RTA_OK(a, left); a = RTA_NEXT(a, left))
                if (a->rta_type == RTA_GATEWAY)
                        return true;
        return false;
}

/* Network mode public, seen from inside before the program runs: the launcher's rules
 * send every fixed refused address into the refusal table, whose route leads into lo
 * from NET_REFUSE_SOURCE (never to tap0), and whose prohibit route keeps a socket bound
 * to tap0 from falling through to slirp's gateway; slirp's DNS forwarder is reachable
 * through tap0 (it is up). bwrap's --block-fd lets the sandbox go on EOF too, so a
 * launcher that died half way through must not leave a sandbox with egress and without
 * its rules. */
static void check_network_public(void) {
        static const char *const refused[] = NET_PROBES_REFUSED;
        struct in_addr src, lo, guest;
        if (inet_pton(AF_INET, NET_REFUSE_SOURCE, &lo) != 1 || inet_pton(AF_INET, NET_GUEST, &guest) != 1)
                fail("network public: bad built-in addresses");
        for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
                int e = route_to(refused[k], &src);
                if (e || src.s_addr != lo.s_addr)
                        fail("network public: %s is not sent into lo by the sandbox's rules (%s)", refused[k],
                             e ? strerror(e) : "routed elsewhere");
                unsigned tap = if_nametoindex(NET_TAP_NAME);
                if (!tap)
                        fail("network public: no " NET_TAP_NAME);
                if (bound_route_has_gateway(refused[k], tap))
                        fail("network public: %s is routed through slirp for a socket bound to " NET_TAP_NAME,
                             refused[k]);
        }
        int e = route_to(NET_DNS, &src);
        if (e)
                fail("network public: no route to %s: %s", NET_DNS, strerror(e));
        if (src.s_addr != guest.s_addr)
                fail("network public: %s is not reached through " NET_TAP_NAME, NET_DNS);
}

static void load_seccomp(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail("seccomp: open %s: %s", path, strerror(errno));
        static struct sock_filter insns[BPF_MAXINSNS];
        size_t off = 0;
        for (;;) {
                ssize_t n = read(fd, (char *)insns + off, sizeof(insns) - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        fail("seccomp: read: %s", strerror(errno));
                if (n == 0)
                        break;
                off += (size_t)n;
                if (off == sizeof(insns))
                        fail("seccomp: filter larger than %d instructions", BPF_MAXINSNS);
        }
        close(fd);
        if (off == 0 || off % sizeof(struct sock_filter))
                fail("seccomp: filter of %zu bytes is not a whole number of instructions", off);
        struct sock_fprog prog = {.len = (unsigned short)(off / sizeof(struct sock_filter)), .filter = insns};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                fail("no_new_privs: %s", strerror(errno));
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                fail("seccomp: load: %s", strerror(errno));
}

int main(int argc, char **argv) {
        unsigned long nofile = 1024;
        const char *seccomp_path = NULL;
        int landlock_required = 0, network_public = 0, control_fd = -1, i;
        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                } else if (strcmp(argv[i], "--nofile") == 0 && i + 1 < argc) {
                        char *end = NULL;
                        errno = 0;
                        nofile = strtoul(argv[++i], &end, 10);
                        if (errno || !end || *end || nofile < 16)
                                fail("bad --nofile %s", argv[i]);
                } else if (strcmp(argv[i], "--seccomp") == 0 && i + 1 < argc) {
                        seccomp_path = argv[++i];
                } else if (strcmp(argv[i], "--control-fd") == 0 && i + 1 < argc) {
                        char *end = NULL;
                        errno = 0;
                        long v = strtol(argv[++i], &end, 10);
                        if (errno || !end || *end || v < 3 || v > 1024)
                                fail("bad --control-fd %s", argv[i]);
                        control_fd = (int)v;
                } else if (strcmp(argv[i], "--landlock-required") == 0) {
                        landlock_required = 1;
                } else if (strcmp(argv[i], "--network-public") == 0) {
                        network_public = 1;
                } else {
                        fail("unknown argument %s", argv[i]);
                }
        }
        if (i >= argc)
                fail("no program to run");
        if (!seccomp_path)
                fail("--seccomp is required");

        struct rlimit rl = {.rlim_cur = nofile, .rlim_max = nofile};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                fail("setrlimit NOFILE: %s", strerror(errno));
        struct rlimit core = {0, 0};
        if (setrlimit(RLIMIT_CORE, &core) < 0)
                fail("setrlimit CORE: %s", strerror(errno));
        if (network_public)
                check_network_public();

        int abi = apply_landlock(landlock_required);

        /* The control socket, when there is one, becomes fd 3 (inherited by the program;
         * the runner marks it close-on-exec for everything it starts). All else goes. */
        if (control_fd >= 0) {
                struct stat st;
                if (fstat(control_fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                        fail("--control-fd %d is not a socket", control_fd);
                if (control_fd != 3 && dup2(control_fd, 3) < 0)
                        fail("dup2 control socket: %s", strerror(errno));
                close_inherited_fds(4);
        } else {
                close_inherited_fds(3);
        }

        if (access(argv[i], X_OK) < 0)
                fail("cannot execute %s: %s", argv[i], strerror(errno));

        load_seccomp(seccomp_path);

        dprintf(2, SANDBOX_READY_MARKER " landlock=%d\n", abi);
        execve(argv[i], argv + i, environ);
        /* After the marker the launcher counts output as the program's; say it plainly. */
        dprintf(2, "airlock-init: exec %s: %s\n", argv[i], strerror(errno));
        _exit(126);
}
