/* seccomp_profile: the sandbox's syscall allowlist (policy in seccomp_profile.h).
 *
 * Reference: Docker/moby's default profile (profiles/seccomp/default.json). We start
 * from its unconditional allowlist and then make it stricter for an untrusted-code
 * service: no capability-dependent groups (the sandbox has no capabilities worth
 * honouring), no io_uring (Docker 25 dropped it from its default after a string of
 * io_uring LPEs), no ptrace-class calls, and argument filters on clone, ioctl, socket,
 * socketpair and personality.
 *
 * Two libseccomp behaviours this file relies on (both pinned by tests/unit/test_seccomp.c,
 * which runs the compiled program through a cBPF interpreter and in real children):
 *  - an unconditional rule for a syscall replaces every conditional rule of that syscall,
 *    so "allow ioctl except TIOCSTI" cannot be written as EPERM(TIOCSTI) + ALLOW(ioctl).
 *    The fallback is instead written as a conditional rule that is always true,
 *    `argN >= 0`, next to the specific EQ/MASKED_EQ rules;
 *  - on one tree level libseccomp (db.c, _db_chain_lt) evaluates EQ/MASKED_EQ/NE nodes
 *    before LT/LE nodes before GT/GE nodes, so the specific rules are always tested
 *    before the `>= 0` fallback, whatever order the rules are added in.
 */
#include "sandbox/seccomp_profile.h"

#include <errno.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>

#include "common/cleanup.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Every namespace flag. Docker's mask is 0x7E020000; we add CLONE_NEWTIME. On clone()
 * (not clone3) bit 0x80 lies inside CSIGNAL, the exit-signal byte, where it could only
 * mean a signal >= 128, which the kernel rejects anyway: masking it refuses nothing
 * legitimate. */
#define CLONE_NEW_ALL                                                                      \
        ((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |          \
                    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME))

/* Syscall arguments declared `int`/`unsigned int` in the kernel are truncated to 32 bits
 * before use, so a filter must compare the low 32 bits only: a 64-bit EQ would let
 * TIOCSTI | (1 << 32) through (CVE-2019-10063, the flatpak TIOCSTI bypass). MASKED_EQ
 * with a 32-bit mask makes libseccomp test the high word against 0 under a 0 mask. */
#define LOW32 UINT64_C(0xFFFFFFFF)

#define SOCK_TYPE_MASK 0xf

/* Allowed unconditionally. Names unknown on the build architecture (open, stat,
 * arch_prctl... on aarch64) are skipped, so one table serves every architecture. */
static const char *const allow_names[] = {
        /* process lifetime, identity (set*id only ever drops: no capabilities) */
        "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
        "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "restart_syscall",
        "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "capget", "capset", "prctl", "seccomp",
        "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
        "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "umask", "uname",
        "sysinfo", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getrandom",
        /* Landlock only ever restricts the caller; a runtime sandboxing itself further is
         * welcome. */
        "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        /* x86: TLS setup (ARCH_SET_FS) and CET status queries by glibc's loader */
        "arch_prctl", "get_thread_area", "set_thread_area",
        /* scheduling, threads */
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
        "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
        "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "getcpu", "futex", "futex_waitv", "membarrier",
        /* signals */
        "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
        "signalfd", "signalfd4", "pause",
        /* time */
        "clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time",
        "nanosleep", "alarm", "getitimer", "setitimer", "timer_create", "timer_delete",
        "timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create",
        "timerfd_gettime", "timerfd_settime",
        /* memory */
        "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
        "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
        "memfd_create", "pkey_alloc", "pkey_free", "pkey_mprotect",
        /* CET shadow stacks: a CET-enabled glibc (>= 2.39) maps one per new thread */
        "map_shadow_stack",
        /* files and descriptors */
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
        "preadv2", "pwritev2", "lseek", "open", "openat", "openat2", "creat", "close",
        "close_range", "dup", "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync",
        "sync", "syncfs", "sync_file_range", "fadvise64", "readahead", "fallocate",
        "truncate", "ftruncate", "copy_file_range", "sendfile", "splice", "tee",
        "vmsplice", "pipe", "pipe2", "stat", "fstat", "lstat", "newfstatat", "statx",
        "statfs", "fstatfs", "access", "faccessat", "faccessat2", "getcwd", "chdir",
        "fchdir", "getdents", "getdents64", "mkdir", "mkdirat", "rmdir", "rename",
        "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink",
        "unlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2",
        "chown", "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat",
        "futimesat",
        /* mkfifo(3) is mknodat(S_IFIFO); device nodes still need CAP_MKNOD */
        "mknod", "mknodat",
        "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
        "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
        "fremovexattr",
        /* event loops (libuv, asyncio, selectors); AIO but not io_uring */
        "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
        "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
        "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
        "io_pgetevents",
        /* networking; socket() and socketpair() are filtered separately */
        "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
        "getsockopt", "setsockopt", "shutdown", "sendto", "sendmsg", "sendmmsg",
        "recvfrom", "recvmsg", "recvmmsg",
        /* System V and POSIX IPC (multiprocessing, shared memory; scoped by the IPC
         * namespace the launcher creates) */
        "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
        "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedreceive", "mq_notify", "mq_getsetattr",
};

/* Refused with EPERM, whatever the sandbox's credentials: kernel attack surface or
 * host-wide state with no use in an interpreter. EPERM rather than ENOSYS so that a
 * runtime reports "not permitted" instead of silently falling back. Several of these
 * Docker allows only with a capability (CAP_SYS_ADMIN, CAP_SYS_PTRACE, ...); the rest it
 * leaves at its default action. */
static const char *const eperm_names[] = {
        /* ptrace-class: read or steal another process's memory or descriptors */
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
        /* mounts (classic and the new mount API), root changes, namespaces */
        "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "unshare",
        "setns",
        /* kernel keyrings: shared with the host kernel's key management (CVE-2016-0728) */
        "keyctl", "add_key", "request_key",
        /* large kernel attack surface: eBPF verifier, userfaultfd race amplification,
         * perf (CVE-2013-2094 and successors), io_uring (Docker's default profile
         * dropped it in Docker 25 after a run of io_uring LPEs) */
        "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter",
        "io_uring_register",
        /* kernel modules, kexec, raw I/O ports */
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "create_module", "get_kernel_syms", "query_module", "iopl", "ioperm",
        "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
        /* host administration */
        "acct", "swapon", "swapoff", "reboot", "syslog", "quotactl", "quotactl_fd",
        "lookup_dcookie", "vhangup", "sethostname", "setdomainname", "nfsservctl",
        "uselib", "ustat", "sysfs", "_sysctl",
        /* clock changes; adjtimex/clock_adjtime also in their read-only form, which only
         * ntp daemons use */
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        /* file handles bypass path-based checks (the 2014 "shocker" Docker escape) */
        "open_by_handle_at", "name_to_handle_at",
};

/* Refused with ENOSYS on purpose, by the default action. (They cannot be listed as
 * rules: libseccomp rejects a rule whose action equals the default one, with EACCES.)
 *  - clone3: seccomp cannot read its struct clone_args, so its namespace flags cannot be
 *    filtered. glibc (>= 2.34 tries clone3 first) falls back to clone() on ENOSYS; musl
 *    does not use clone3. Docker does the same;
 *  - NUMA memory policy (get_mempolicy, set_mempolicy, mbind, migrate_pages, move_pages,
 *    set_mempolicy_home_node): Docker gates these behind CAP_SYS_NICE. ENOSYS is what a
 *    kernel without CONFIG_NUMA answers, so libnuma (numa_available()), hwloc and
 *    OpenBLAS take it as "no NUMA" and carry on; numpy works without them (tested).
 *    They have had their own kernel bugs (CVE-2018-10675, get_mempolicy use-after-free);
 *  - also left out of Docker's list: modify_ldt (16-bit segments; CVE-2015-3290 is why
 *    CONFIG_MODIFY_LDT_SYSCALL exists; only Wine and DOS emulators use it),
 *    memfd_secret and process_mrelease (no runtime uses them), fanotify_mark (useless
 *    without fanotify_init, which Docker refuses too), epoll_ctl_old and epoll_wait_old
 *    (never implemented). */

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* Resolve for the native architecture. Returns < 0 when the name is not a syscall here:
 * libseccomp gives __NR_SCMP_ERROR for names it does not know and negative pseudo
 * numbers for syscalls of other architectures. */
static int resolve(const char *name) {
        int nr = seccomp_syscall_resolve_name(name);
        return nr < 0 ? -1 : nr;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
                    unsigned int argc, const struct scmp_arg_cmp *argv, struct diag *reterr) {
        int nr = resolve(name);
        if (nr < 0)
                return 0;
        int r = seccomp_rule_add_exact_array(ctx, action, nr, argc, argv);
        if (r < 0)
                return diag_set(reterr, r, "seccomp", "cannot add a rule for %s (errno %d)",
                                name, -r);
        return 0;
}

static int add_table(scmp_filter_ctx ctx, uint32_t action, const char *const *names,
                     size_t n, struct diag *reterr) {
        for (size_t i = 0; i < n; i++) {
                int r = add_rule(ctx, action, names[i], 0, NULL, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Rule helpers: one argument comparison, or a chain of them (ANDed). */
#define RULE(ctx, action, name, reterr, ...)                                              \
        add_rule((ctx), (action), (name),                                                  \
                 ARRAY_SIZE(((const struct scmp_arg_cmp[]){ __VA_ARGS__ })),               \
                 ((const struct scmp_arg_cmp[]){ __VA_ARGS__ }), (reterr))

/* Always-true comparison (unsigned >= 0) used as the "otherwise" branch of an argument
 * filter; see the file comment for why it cannot simply be an unconditional rule. */
#define OTHERWISE(arg) SCMP_CMP64((arg), SCMP_CMP_GE, 0, 0)

static int add_clone_rules(scmp_filter_ctx ctx, struct diag *reterr) {
        /* clone() flags are the first argument on x86_64 and aarch64 (s390 swaps the first
         * two; not a target). The kernel uses the low 32 bits only. */
        int r = RULE(ctx, SCMP_ACT_ALLOW, "clone", reterr,
                     SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, CLONE_NEW_ALL, 0));
        if (r < 0)
                return r;
        return RULE(ctx, SCMP_ACT_ERRNO(EPERM), "clone", reterr, OTHERWISE(0));
}

static int add_ioctl_rules(scmp_filter_ctx ctx, struct diag *reterr) {
        /* TIOCSTI pushes bytes into a terminal's input queue: code in the sandbox holding
         * an fd of the caller's tty could type commands into the caller's shell
         * (CVE-2016-7545, CVE-2017-5226). TIOCLINUX can do the same on a virtual console
         * through the selection buffer (CVE-2023-1523, snapd). The request argument is an
         * unsigned int
         * in the kernel, so only its low 32 bits are compared (CVE-2019-10063). */
        static const unsigned long refused[] = { TIOCSTI, TIOCLINUX };
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                int r = RULE(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", reterr,
                             SCMP_CMP64(1, SCMP_CMP_MASKED_EQ, LOW32, refused[i]));
                if (r < 0)
                        return r;
        }
        return RULE(ctx, SCMP_ACT_ALLOW, "ioctl", reterr, OTHERWISE(1));
}

static int add_socket_rules(scmp_filter_ctx ctx, struct diag *reterr) {
        int r;

        /* Local sockets: any type. */
        r = RULE(ctx, SCMP_ACT_ALLOW, "socket", reterr,
                 SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, AF_UNIX));
        if (r < 0)
                return r;

        /* IP: stream and datagram only. SOCK_RAW and SOCK_PACKET forge packets; they need
         * CAP_NET_RAW, which the sandbox lacks, and are refused outright so that a
         * capability slip cannot reopen them. SOCK_DCCP and SCTP (SOCK_SEQPACKET, or
         * SOCK_STREAM with IPPROTO_SCTP) autoload rarely used protocol modules with a
         * history of LPEs (CVE-2017-6074, CVE-2021-23133). Everything else on IP is
         * EPERM. */
        static const int inet_families[] = { AF_INET, AF_INET6 };
        for (size_t i = 0; i < ARRAY_SIZE(inet_families); i++) {
                uint64_t fam = (uint64_t)inet_families[i];

                r = RULE(ctx, SCMP_ACT_ERRNO(EPERM), "socket", reterr,
                         SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, fam),
                         SCMP_CMP64(1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_STREAM),
                         SCMP_CMP64(2, SCMP_CMP_MASKED_EQ, LOW32, IPPROTO_SCTP));
                if (r < 0)
                        return r;
                r = RULE(ctx, SCMP_ACT_ALLOW, "socket", reterr,
                         SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, fam),
                         SCMP_CMP64(1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_STREAM),
                         OTHERWISE(2));
                if (r < 0)
                        return r;
                r = RULE(ctx, SCMP_ACT_ALLOW, "socket", reterr,
                         SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, fam),
                         SCMP_CMP64(1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_DGRAM));
                if (r < 0)
                        return r;
                r = RULE(ctx, SCMP_ACT_ERRNO(EPERM), "socket", reterr,
                         SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, fam), OTHERWISE(1));
                if (r < 0)
                        return r;
        }

        /* Netlink, route protocol only: how libc, Node's os.networkInterfaces() and
         * Python's if_nameindex() list interfaces. Inside the sandbox's own network
         * namespace it shows only `lo`, and changing anything needs CAP_NET_ADMIN, which
         * the sandbox lacks. Audit, uevent, xfrm and the rest stay refused below. */
        r = RULE(ctx, SCMP_ACT_ALLOW, "socket", reterr,
                 SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, AF_NETLINK),
                 SCMP_CMP64(2, SCMP_CMP_MASKED_EQ, LOW32, NETLINK_ROUTE));
        if (r < 0)
                return r;

        /* Every other family (other netlink, packet, vsock, AF_ALG, bluetooth, ...): a large,
         * rarely audited kernel surface (AF_VSOCK CVE-2021-26708, AF_PACKET
         * CVE-2020-14386, AF_ALG CVE-2015-8970). EAFNOSUPPORT is what a kernel without
         * the family returns, so runtimes handle it. Docker only refuses AF_VSOCK. */
        r = RULE(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", reterr, OTHERWISE(0));
        if (r < 0)
                return r;

        /* socketpair() exists only for AF_UNIX anyway; refuse the rest up front. */
        r = RULE(ctx, SCMP_ACT_ALLOW, "socketpair", reterr,
                 SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, AF_UNIX));
        if (r < 0)
                return r;
        return RULE(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socketpair", reterr, OTHERWISE(0));
}

static int add_personality_rules(scmp_filter_ctx ctx, struct diag *reterr) {
        /* personality(2) takes an unsigned int. Only PER_LINUX and the 0xffffffff query
         * are allowed: the other values turn off ASLR (ADDR_NO_RANDOMIZE), make mappings
         * executable (READ_IMPLIES_EXEC), allow mapping page 0 (MMAP_PAGE_ZERO, the
         * classic NULL-dereference exploit helper) or fake the kernel version and
         * architecture. Docker also allows PER_LINUX32 and UNAME26 (for 32-bit build
         * chroots); nothing an interpreter runs needs them. */
        static const uint64_t allowed[] = { 0, 0xFFFFFFFF };
        for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
                int r = RULE(ctx, SCMP_ACT_ALLOW, "personality", reterr,
                             SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, allowed[i]));
                if (r < 0)
                        return r;
        }
        return RULE(ctx, SCMP_ACT_ERRNO(EPERM), "personality", reterr, OTHERWISE(0));
}

/* seccomp_export_bpf() writes to an fd only (seccomp_export_bpf_mem() is libseccomp
 * 2.6), so export into a memfd and read it back. */
static int export_to_memory(scmp_filter_ctx ctx, void **ret_bpf, size_t *ret_len,
                            struct diag *reterr) {
        _cleanup_close_ int fd = memfd_create("airlock-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return diag_set(reterr, -errno, "seccomp", "memfd_create failed (errno %d)",
                                errno);

        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return diag_set(reterr, r, "seccomp", "exporting the filter failed (errno %d)",
                                -r);

        struct stat st;
        if (fstat(fd, &st) < 0)
                return diag_set(reterr, -errno, "seccomp", "fstat on the memfd failed (errno %d)",
                                errno);
        size_t len = (size_t)st.st_size;
        /* The kernel refuses programs over BPF_MAXINSNS instructions; better to learn it
         * here, at launcher start, than in every sandbox. */
        if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
            len / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return diag_set(reterr, -E2BIG, "seccomp",
                                "compiled filter has an unusable size of %zu bytes", len);

        _cleanup_free_ void *buf = malloc(len);
        if (!buf)
                return diag_set(reterr, -ENOMEM, "seccomp", "out of memory");
        size_t done = 0;
        while (done < len) {
                ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return diag_set(reterr, -errno, "seccomp",
                                        "reading back the filter failed (errno %d)", errno);
                if (n == 0)
                        return diag_set(reterr, -EIO, "seccomp",
                                        "filter memfd shorter than reported");
                done += (size_t)n;
        }

        *ret_bpf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int seccomp_profile_compile(void **ret_bpf, size_t *ret_len, struct diag *reterr) {
        if (!ret_bpf || !ret_len)
                return diag_set(reterr, -EINVAL, "seccomp", "no place to return the filter");

        /* ENOSYS for anything not listed: a runtime probing a syscall newer than this
         * table (or than libseccomp) falls back as it would on an older kernel. */
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
        if (!ctx)
                return diag_set(reterr, -ENOMEM, "seccomp", "seccomp_init failed");

        /* The context holds the native architecture only. Any other ABI reaching the
         * filter (int 0x80 i386 calls, x32 calls with __X32_SYSCALL_BIT on x86_64, arm32
         * on aarch64) would use different syscall numbers and bypass every rule here:
         * kill the whole process, not just the thread. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return diag_set(reterr, r, "seccomp", "cannot set the bad-arch action (errno %d)",
                                -r);
        /* A binary tree over syscall numbers instead of a linear scan of ~300 compares:
         * the filter runs on every syscall of the payload. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return diag_set(reterr, r, "seccomp", "cannot enable the binary tree (errno %d)",
                                -r);

        r = add_table(ctx, SCMP_ACT_ALLOW, allow_names, ARRAY_SIZE(allow_names), reterr);
        if (r < 0)
                return r;
        r = add_table(ctx, SCMP_ACT_ERRNO(EPERM), eperm_names, ARRAY_SIZE(eperm_names), reterr);
        if (r < 0)
                return r;
        r = add_clone_rules(ctx, reterr);
        if (r < 0)
                return r;
        r = add_ioctl_rules(ctx, reterr);
        if (r < 0)
                return r;
        r = add_socket_rules(ctx, reterr);
        if (r < 0)
                return r;
        r = add_personality_rules(ctx, reterr);
        if (r < 0)
                return r;

        return export_to_memory(ctx, ret_bpf, ret_len, reterr);
}
