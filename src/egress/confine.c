/* The proxy's own confinement, on top of what the launcher gave it (the sandbox's uid, no
 * capabilities, no_new_privs, read-only mounts, the sandbox's cgroup): it reads what a
 * hostile program sends, so it gives up, before the first connection, what a proxy never
 * needs. A compromised proxy is then a read-only, unprivileged process in the host's
 * network namespace that can connect to the TCP ports the allowlist names, on any address,
 * and send UDP (docs/network.md states it).
 *
 *   Landlock: no file is written, no TCP port bound, and TCP connections go only to the
 *     ports the allowlist names (and 53, DNS over TCP), on any address: Landlock matches
 *     ports, not addresses; no abstract UNIX socket or signal outside the process. Ports
 *     need Linux 6.7 (ABI 4), scoping 6.12 (ABI 6), files 5.13. Without Landlock the rest
 *     still holds (stated in docs/network.md). UDP is not restricted (the resolver).
 *   seccomp (libseccomp, default allow): no exec, no new namespaces or mounts, no ptrace or
 *     cross-process memory, no kernel keyring, BPF, perf, io_uring, userfaultfd, module or
 *     reboot calls; sockets only AF_INET, AF_INET6 and AF_UNIX (the resolver, nscd), never
 *     raw; no bind or listen: it serves the one listener it was given.
 */
#include <errno.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "egress/confine.h"

/* Landlock's network rules (ABI 4) postdate the build host's kernel headers: their
 * layouts, which are ABI, spelled out here. */
struct ll_ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net; /* ABI 4 */
        uint64_t scoped;             /* ABI 6 */
};
struct ll_net_port_attr {
        uint64_t allowed_access;
        uint64_t port;
};
#define LL_RULE_NET_PORT 2
#define LL_ACCESS_FS_TRUNCATE (1ull << 14) /* ABI 3 */
#define LL_ACCESS_NET_BIND_TCP (1ull << 0)
#define LL_ACCESS_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0)
#define LL_SCOPE_SIGNAL (1ull << 1)

static int landlock(const struct lp_allow *allow, size_t n, int *ret_abi, struct diag *d) {
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        *ret_abi = abi > 0 ? (int)abi : 0;
        if (abi <= 0)
                return 0; /* no Landlock on this kernel: the seccomp filter still applies */
        uint64_t fs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                      LANDLOCK_ACCESS_FS_MAKE_SYM;
        if (abi >= 2)
                fs |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                fs |= LL_ACCESS_FS_TRUNCATE;
        /* From ABI 6: no abstract UNIX socket and no signal outside this process (the host's
         * network namespace has abstract sockets: D-Bus, X11, container runtimes). */
        struct ll_ruleset_attr attr = {.handled_access_fs = fs,
                                       .handled_access_net = abi >= 4 ? LL_ACCESS_NET_BIND_TCP | LL_ACCESS_NET_CONNECT_TCP : 0,
                                       .scoped = abi >= 6 ? LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL : 0};
        size_t size = abi >= 6 ? sizeof(attr) : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
        int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
        if (rs < 0)
                return diag_set(d, -errno, "landlock", "create a ruleset: %m");
        int r = 0;
        for (size_t i = 0; abi >= 4 && i <= n && r == 0; i++) {
                /* Each listed port, and 53 for the resolver's TCP fallback. */
                struct ll_net_port_attr port = {.allowed_access = LL_ACCESS_NET_CONNECT_TCP,
                                                .port = i < n ? allow[i].port : 53};
                if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &port, 0) < 0)
                        r = diag_set(d, -errno, "landlock", "allow port %llu: %m", (unsigned long long)port.port);
        }
        if (r == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
                r = diag_set(d, -errno, "landlock", "restrict self: %m");
        close(rs);
        return r;
}

static int seccomp(struct diag *d) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return diag_set(d, -ENOMEM, "seccomp", "seccomp_init failed");
        static const char *const denied[] = {
                "execve",          "execveat",        "ptrace",           "process_vm_readv", "process_vm_writev",
                "mount",           "umount2",         "pivot_root",       "chroot",           "unshare",
                "setns",           "mount_setattr",   "move_mount",       "open_tree",        "fsopen",
                "fsconfig",        "fsmount",         "fspick",           "keyctl",           "add_key",
                "request_key",     "bpf",             "perf_event_open",  "userfaultfd",      "io_uring_setup",
                "io_uring_enter",  "io_uring_register", "kexec_load",     "kexec_file_load",  "init_module",
                "finit_module",    "delete_module",   "reboot",           "swapon",           "swapoff",
                "open_by_handle_at", "name_to_handle_at", "mknod",        "mknodat",          "acct",
                "quotactl",        "syslog",          "personality",      "iopl",             "ioperm",
                "bind",            "listen",          "pidfd_getfd",      "kcmp",             "setuid",
                "setgid",          "setreuid",        "setregid",         "setresuid",        "setresgid",
                "setgroups",       "capset",          "clone3",
        };
        int r = 0;
        for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]) && r == 0; i++) {
                int nr = seccomp_syscall_resolve_name(denied[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture */
                /* clone3's flags sit behind a pointer, out of a filter's reach: ENOSYS makes
                 * glibc fall back to clone, whose flags are checked below. */
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(strcmp(denied[i], "clone3") ? EPERM : ENOSYS), nr, 0);
        }
        /* clone: threads only (no new process, which would outlive a kill of ours without
         * the cgroup), never new namespaces (one rule per flag: any set is refused). */
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
        static const uint64_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
                                            CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};
        for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]) && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
        /* socket: AF_UNIX (1), AF_INET (2), AF_INET6 (10) only, and never raw or packet. */
        for (int fam = 0; fam <= 10 && r == 0; fam++)
                if (fam != AF_UNIX && fam != AF_INET && fam != AF_INET6)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam, 0));
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                     SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)AF_INET6, 0));
        static const int bad_types[] = {SOCK_RAW, SOCK_PACKET};
        for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]) && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)bad_types[i]));
        if (r == 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r < 0 ? diag_set(d, r, "seccomp", "cannot load the proxy's filter: %s", strerror(-r)) : 0;
}

int egress_confine(const struct lp_allow *allow, size_t n, int *ret_landlock_abi, struct diag *d) {
        int r = landlock(allow, n, ret_landlock_abi, d);
        return r < 0 ? r : seccomp(d);
}
