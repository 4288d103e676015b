/* net: network mode public, the launcher's privileged part (docs/adr/0013,
 * docs/network.md). The policy itself (what is blocked, slirp4netns's arguments) is data in
 * src/sandbox/netpolicy.c.
 *
 * bwrap builds the sandbox's namespaces and mounts, then its pid 1 waits on --block-fd
 * before the shim and the program. Meanwhile, in this order:
 *   1. net_start(), once bwrap has reported its pid 1: open the sandbox's network namespace
 *      and the user namespace that owns it, and check that both are the sandbox's (owned by
 *      its private host uid: a recycled pid cannot pass);
 *   2. fork slirp4netns into the sandbox's cgroup, in a mount namespace of its own that
 *      hides the host's writable and per-user places and holds a tun device node owned by
 *      the sandbox's host uid (the host's /dev/net/tun is root's alone), then drop to that
 *      uid with no_new_privs: slirp never runs as root. It joins the user namespace (its
 *      owner may) and the network namespace, creates tap0, says "ready";
 *   3. on ready: a short-lived child joins the sandbox's network namespace and, over
 *      netlink, sets tap0 up (address, default route) and installs the rules that send
 *      refused addresses into lo (netpolicy.c); runs nft there with the ruleset that logs
 *      every new flow and refusal; and binds a netlink socket to that log, which it hands
 *      back (docs/adr/0017). The launcher itself never leaves its own namespace. Not
 *      slirp's --configure: it also brings lo up, racing bwrap, whose adding of 127.0.0.1
 *      then fails;
 *   4. release the block: the shim checks the rules from inside, then runs the program.
 *      From then on the kernel's records become EGRESS frames (read_flows).
 * slirp4netns stops with the sandbox: its --exit-fd is ours, it dies with the launcher
 * (PDEATHSIG) and with the sandbox's cgroup. Any failure before 4 is a setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "launcher/launcher.h"
#include "sandbox/flowlog.h"
#include "sandbox/host_probe.h"
#include "sandbox/netpolicy.h"

/* Host places slirp4netns has no business seeing: world-writable directories (a file it
 * left there would outlive the sandbox and meet the next holder of the same pool uid),
 * per-user data, and /run's sockets (D-Bus, systemd, container runtimes). Each gets an
 * empty read-only tmpfs in slirp's own mount namespace. */
static const char *const hidden[] = {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run", "/home", "/root", NULL};

__attribute__((noreturn, format(printf, 1, 2))) static void child_die(const char *fmt, ...) {
        char msg[256];
        int e = errno;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        dprintf(2, "airlock-launcher: %s: %s\n", msg, strerror(e));
        _exit(125);
}

/* Cover dir with an empty read-only tmpfs. When keep (the host's resolv.conf, which slirp's
 * DNS forwarder reads) lies below it, it is bound back in at its own path first. */
static void hide(const char *dir, const char *keep, int keep_fd) {
        if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return;
                child_die("hide %s", dir);
        }
        size_t n = strlen(dir);
        if (keep && keep_fd >= 0 && strncmp(keep, dir, n) == 0 && keep[n] == '/') {
                char path[PATH_MAX], src[64];
                snprintf(path, sizeof(path), "%s", keep);
                for (char *p = path + n + 1; (p = strchr(p, '/')); *p++ = '/') {
                        *p = '\0';
                        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                                child_die("mkdir %s", path);
                }
                int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
                if (fd < 0)
                        child_die("create %s", path);
                close(fd);
                snprintf(src, sizeof(src), "/proc/self/fd/%d", keep_fd);
                if (mount(src, path, NULL, MS_BIND, NULL) < 0)
                        child_die("bind %s", path);
        }
        if (mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") < 0)
                child_die("remount %s read-only", dir);
}

static void bind_ns(int fd, const char *dest) {
        char src[64];
        int f = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (f < 0)
                child_die("create %s", dest);
        close(f);
        snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
        if (mount(src, dest, NULL, MS_BIND, NULL) < 0)
                child_die("bind %s", dest);
}

/* A helper's place (slirp4netns, the proxy): the sandbox's cgroup, so that its CPU, memory
 * and processes count against the sandbox whose traffic it carries; and a mount namespace
 * of its own, the host's writable and per-user places hidden, resolv.conf still readable
 * (both resolve names on the host). */
static void own_place(struct sandbox *sb) {
        if (sb->cg) {
                struct diag d = {0};
                if (cg_attach(sb->cg, getpid(), &d) < 0) {
                        dprintf(2, "airlock-launcher: cgroup: %s\n", d.msg);
                        _exit(125);
                }
        }
        if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
                child_die("unshare");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_die("make / private");
        char resolv[PATH_MAX] = "";
        int resolv_fd = -1;
        if (realpath("/etc/resolv.conf", resolv))
                resolv_fd = open(resolv, O_PATH | O_CLOEXEC);
        for (size_t i = 0; hidden[i]; i++)
                hide(hidden[i], resolv, resolv_fd);
        if (resolv_fd >= 0)
                close(resolv_fd);
}

/* The last steps before a helper's exec. Every mount it sees read-only, not only the
 * hidden places: a compromised helper must leave nothing behind for the next holder of
 * this uid (world-writable directories such as /var/crash exist on some hosts); except,
 * for slirp, the attributes *except_attr clears on except_dir (its tun device). Its open
 * files bounded: each connection is a host socket of the helper's, and one sandbox must
 * not take the host's ephemeral ports or socket memory (it would inherit the launcher's
 * limit, e.g. the unit's 65536). Then the sandbox's own host uid (the owner of the
 * sandbox's user namespace, and nothing else on the host), and no_new_privs. */
static void lock_down(struct sandbox *sb, pid_t parent, const char *except_dir, struct mount_attr *except_attr,
                      rlim_t nofile) {
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
        if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) < 0)
                child_die("make every mount read-only");
        if (except_dir && mount_setattr(AT_FDCWD, except_dir, 0, except_attr, sizeof(*except_attr)) < 0)
                child_die("mount attributes of %s", except_dir);
        struct rlimit files = {nofile, nofile};
        if (setrlimit(RLIMIT_NOFILE, &files) < 0)
                child_die("limit open files");
        gid_t g = (gid_t)sb->host_uid;
        if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0 || setresuid(sb->host_uid, sb->host_uid, sb->host_uid) < 0)
                child_die("drop to uid %u", sb->host_uid);
        if (getuid() != sb->host_uid || geteuid() != sb->host_uid || getegid() != g)
                child_die("uid drop did not stick");
        /* The uid change cleared the parent-death signal. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                _exit(125);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_die("no_new_privs");
}

/* The child's fds until the namespaces are bound where slirp4netns finds them; it gets
 * 0-4 only (netpolicy.h). */
enum { CHILD_NETNS_FD = 5, CHILD_USERNS_FD = 6 };
/* The network's set-up in the sandbox (step 3), nft included, ends within this. */
#define NET_CONFIGURE_TIMEOUT_S 10
#define NET_SLIRP_MAX_FILES 4096 /* slirp's open files: about the guest's concurrent connections */

/* The forked child that becomes slirp4netns (step 2). fds: /dev/null, its stderr pipe,
 * the exit and ready pipes, the network and user namespaces. */
__attribute__((noreturn)) static void slirp_child(struct sandbox *sb, pid_t parent, int devnull, int log_w,
                                                   int exit_r, int ready_w, int netns, int userns,
                                                   char *const *argv) {
        umask(022);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                _exit(125);
        const int fds[] = {devnull, devnull, log_w, exit_r, ready_w, netns, userns};
        _Static_assert(NET_SLIRP_EXIT_FD == 3 && NET_SLIRP_READY_FD == 4 && CHILD_NETNS_FD == 5 &&
                               CHILD_USERNS_FD == 6,
                       "fd layout");
        if (sandbox_layout_fds(fds, (int)ARRAY_SIZE(fds)) < 0)
                _exit(125); /* no stderr yet: the launcher reports the exit status */
        own_place(sb);
        /* The tun device and the namespaces, at the paths slirp4netns is given. */
        if (mount("tmpfs", NET_SLIRP_DIR, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") < 0)
                child_die("mount a tmpfs on " NET_SLIRP_DIR " (is the tun driver there?)");
        if (mknod(NET_SLIRP_TUN, S_IFCHR | 0600, makedev(10, 200)) < 0 ||
            chown(NET_SLIRP_TUN, sb->host_uid, sb->host_uid) < 0)
                child_die("mknod " NET_SLIRP_TUN);
        bind_ns(CHILD_NETNS_FD, NET_SLIRP_NETNS);
        bind_ns(CHILD_USERNS_FD, NET_SLIRP_USERNS);
        close(CHILD_NETNS_FD);
        close(CHILD_USERNS_FD);
        if (mount(NULL, NET_SLIRP_DIR, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") < 0)
                child_die("remount " NET_SLIRP_DIR " read-only");
        struct mount_attr tun_dev = {.attr_clr = MOUNT_ATTR_NODEV};
        lock_down(sb, parent, NET_SLIRP_DIR, &tun_dev, NET_SLIRP_MAX_FILES);
        char *const envp[] = {NULL};
        execve(SLIRP4NETNS_PATH, argv, envp);
        child_die("exec " SLIRP4NETNS_PATH);
}

/* Any failure while starting: one line for the CREATE's error, then the sandbox goes. */
__attribute__((format(printf, 3, 4))) static void net_fail(struct launcher *L, struct sandbox *sb, const char *fmt,
                                                          ...) {
        if (sb->net_failed || sb->state != SB_STARTING)
                return;
        sb->net_failed = true;
        char msg[DIAG_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        (void)buf_printf(&sb->setup_text, "%snetwork: %s", sb->setup_text.len ? "; " : "", msg);
        sandbox_kill(L, sb, LP_REASON_SETUP);
}

/* 1. The sandbox's network namespace and the user namespace that owns it, checked to be
 * the sandbox's: owned by its private host uid (a recycled pid cannot pass), not ours. */
static int sandbox_netns(struct sandbox *sb, int *ret_netns, int *ret_userns, struct diag *d) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)sb->init_pid);
        _cleanup_close_ int netns = open(path, O_RDONLY | O_CLOEXEC);
        if (netns < 0)
                return diag_set(d, -errno, "network", "open %s: %m", path);
        _cleanup_close_ int userns = ioctl(netns, NS_GET_USERNS);
        if (userns < 0)
                return diag_set(d, -errno, "network", "the owner of the sandbox's network namespace: %m");
        uid_t owner = (uid_t)-1;
        if (ioctl(userns, NS_GET_OWNER_UID, &owner) < 0)
                return diag_set(d, -errno, "network", "the owner of the sandbox's user namespace: %m");
        struct stat ours, theirs;
        if (stat("/proc/self/ns/net", &ours) < 0 || fstat(netns, &theirs) < 0)
                return diag_set(d, -errno, "network", "stat a network namespace: %m");
        if (owner != sb->host_uid || owner == 0 || (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino))
                return diag_set(d, -ESRCH, "network", "process %d is not the sandbox's (its namespaces belong to uid %u)",
                                (int)sb->init_pid, (unsigned)owner);
        *ret_netns = TAKE_FD(netns);
        *ret_userns = TAKE_FD(userns);
        return 0;
}

/* The pipes between the launcher and a network helper (slirp4netns or the proxy): its
 * stderr, the exit pipe it stops on, its ready signal and, for the proxy, its events. */
struct helper_pipes {
        int log[2], ex[2], ready[2], ev[2];
};

static int helper_pipes_open(struct helper_pipes *p, bool events, struct diag *d) {
        *p = (struct helper_pipes){{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
        if (pipe2(p->log, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(p->ex, O_CLOEXEC) < 0 ||
            pipe2(p->ready, O_CLOEXEC | O_NONBLOCK) < 0 || (events && pipe2(p->ev, O_CLOEXEC | O_NONBLOCK) < 0))
                return diag_set(d, -errno, "network", "pipe: %m");
        return 0;
}

/* After the fork (or its failure): the child's ends go; on failure ours too. Otherwise the
 * helper becomes the sandbox's, its fds watched. */
static int helper_adopt(struct launcher *L, struct sandbox *sb, struct helper_pipes *p, pid_t pid, int r,
                        const char *what, struct diag *d) {
        safe_close(p->log[1]);
        safe_close(p->ex[0]);
        safe_close(p->ready[1]);
        safe_close(p->ev[1]);
        if (r < 0) {
                safe_close(p->log[0]);
                safe_close(p->ex[1]);
                safe_close(p->ready[0]);
                safe_close(p->ev[0]);
                return r;
        }
        sb->net_pid = pid;
        sb->net_log = p->log[0];
        sb->net_exit = p->ex[1];
        sb->net_ready = p->ready[0];
        sb->net_events = p->ev[0];
        if (sandbox_watch(L, sb, sb->net_log) < 0 || sandbox_watch(L, sb, sb->net_ready) < 0 ||
            (sb->net_events >= 0 && sandbox_watch(L, sb, sb->net_events) < 0))
                return diag_set(d, -EIO, "network", "cannot watch %s", what);
        return 0;
}

static int start(struct launcher *L, struct sandbox *sb, struct diag *d) {
        /* 1. The sandbox's network namespace and its owner. */
        _cleanup_close_ int netns = -1, userns = -1;
        int r0 = sandbox_netns(sb, &netns, &userns, d);
        if (r0 < 0)
                return r0;

        /* 2. slirp4netns. */
        struct buf argb;
        buf_init(&argb, 4096);
        int r = netpolicy_slirp_argv(&argb, d);
        char *argv[16];
        size_t argc = 0;
        for (size_t off = 0; r == 0 && off < argb.len && argc < ARRAY_SIZE(argv) - 1; off += strlen(argb.data + off) + 1)
                argv[argc++] = argb.data + off;
        argv[argc] = NULL;
        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        struct helper_pipes hp;
        if (r == 0 && devnull < 0)
                r = diag_set(d, -errno, "network", "open /dev/null: %m");
        if (r == 0)
                r = helper_pipes_open(&hp, false, d);
        else
                hp = (struct helper_pipes){{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
        pid_t pid = -1;
        if (r == 0) {
                pid_t parent = getpid();
                pid = fork();
                if (pid < 0)
                        r = diag_set(d, -errno, "network", "fork: %m");
                else if (pid == 0)
                        slirp_child(sb, parent, devnull, hp.log[1], hp.ex[0], hp.ready[1], netns, userns, argv);
        }
        buf_free(&argb);
        r = helper_adopt(L, sb, &hp, pid, r, "slirp4netns", d);
        if (r == 0)
                sb->net_ns = TAKE_FD(netns);
        return r;
}

/* Mode allowlist: the proxy's fds (airlock-egress's header says what each is for). */
enum { EGRESS_EXIT_FD = 3, EGRESS_READY_FD = 4, EGRESS_LISTEN_FD = 5, EGRESS_EVENTS_FD = 6, EGRESS_PROGRAM_FD = 7 };
#define EGRESS_MAX_FILES 256 /* the proxy's open files: 64 connections take 128 */

/* The listening socket, made inside the sandbox's network namespace: the sandbox reaches
 * the proxy at 127.0.0.1:LP_EGRESS_PORT on its own loopback, and has nothing else. The
 * socket keeps the namespace it was made in; the proxy itself stays in the host's. */
static int listen_in(int netns) {
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0 || setns(netns, CLONE_NEWNET) < 0)
                child_die("enter the sandbox's network namespace");
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(LP_EGRESS_PORT),
                                .sin_addr.s_addr = htonl(INADDR_ANY)}; /* only lo is there */
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0)
                child_die("listen on port %d in the sandbox", LP_EGRESS_PORT);
        if (setns(self, CLONE_NEWNET) < 0)
                child_die("return to the host's network namespace");
        close(self);
        return fd;
}

__attribute__((noreturn)) static void egress_child(struct sandbox *sb, pid_t parent, int program, int devnull,
                                                    int log_w, int exit_r, int ready_w, int netns, int events_w,
                                                    char *const *argv) {
        umask(077);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                _exit(125);
        int listener = listen_in(netns);
        const int fds[] = {devnull, devnull, log_w, exit_r, ready_w, listener, events_w, program};
        _Static_assert(EGRESS_EXIT_FD == 3 && EGRESS_READY_FD == 4 && EGRESS_LISTEN_FD == 5 && EGRESS_EVENTS_FD == 6 &&
                               EGRESS_PROGRAM_FD == 7,
                       "fd layout");
        if (sandbox_layout_fds(fds, (int)ARRAY_SIZE(fds)) < 0)
                _exit(125);
        if (fcntl(EGRESS_PROGRAM_FD, F_SETFD, FD_CLOEXEC) < 0)
                _exit(125);
        own_place(sb);
        lock_down(sb, parent, NULL, NULL, EGRESS_MAX_FILES);
        char *const envp[] = {NULL};
        /* By fd: opened by root at start, so the pool uid needs no path to it. */
        fexecve(EGRESS_PROGRAM_FD, argv, envp);
        child_die("exec airlock-egress");
}

static int egress_start(struct launcher *L, struct sandbox *sb, struct diag *d) {
        _cleanup_close_ int netns = -1, userns = -1;
        int r = sandbox_netns(sb, &netns, &userns, d);
        if (r < 0)
                return r;
        /* argv: the program, then the allowlist (validated with the CREATE). */
        char *argv[LP_ALLOW_MAX_COUNT + 2] = {(char *)"airlock-egress"};
        size_t n = 1;
        for (size_t off = 0; off < sb->allow_len && n < LP_ALLOW_MAX_COUNT + 1; off += strlen(sb->allow + off) + 1)
                argv[n++] = sb->allow + off;
        argv[n] = NULL;
        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        struct helper_pipes hp;
        r = devnull < 0 ? diag_set(d, -errno, "network", "open /dev/null: %m") : helper_pipes_open(&hp, true, d);
        if (devnull < 0)
                hp = (struct helper_pipes){{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
        pid_t pid = -1;
        if (r == 0) {
                pid_t parent = getpid();
                pid = fork();
                if (pid < 0)
                        r = diag_set(d, -errno, "network", "fork: %m");
                else if (pid == 0)
                        egress_child(sb, parent, L->egress_fd, devnull, hp.log[1], hp.ex[0], hp.ready[1], netns,
                                     hp.ev[1], argv);
        }
        return helper_adopt(L, sb, &hp, pid, r, "the egress proxy", d);
}

/* One event, validated, to the client as an EGRESS frame. Never before the client's HELLO
 * (a restarted daemon expects HELLO_OK and its ATTACHED frames first), and never blocking
 * the launcher on a daemon busy writing logs: what cannot go now is counted in the next
 * record that can. */
static void egress_forward(struct launcher *L, struct sandbox *sb, struct lp_egress *e) {
        e->sandbox_id = sb->id;
        uint64_t dropped = (uint64_t)e->dropped + sb->ev_dropped;
        e->dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
        char frame[sizeof(struct lp_header) + sizeof(*e)];
        int len = lp_encode(LP_EGRESS, 0, e, sizeof(*e), NULL, 0, frame, sizeof(frame));
        if (L->hello_done && len > 0 && fd_send_nowait(L->client_fd, frame, (size_t)len) == 0)
                sb->ev_dropped = 0;
        else
                sb->ev_dropped = dropped + 1;
}

struct flow_ctx {
        struct launcher *L;
        struct sandbox *sb;
};

/* Mode public: one of the kernel's records, within the sandbox's event budget (the same
 * as the proxy's, launch_proto.h). */
static void on_flow(const struct lp_egress *rec, void *userdata) {
        struct flow_ctx *x = userdata;
        struct sandbox *sb = x->sb;
        int64_t now = (int64_t)now_ms();
        sb->flow_tokens += (double)(now - sb->flow_ms) * LP_EGRESS_EVENT_RATE / 1000.0;
        if (sb->flow_tokens > LP_EGRESS_EVENT_BURST)
                sb->flow_tokens = LP_EGRESS_EVENT_BURST;
        sb->flow_ms = now;
        if (sb->flow_tokens < 1) {
                sb->ev_dropped++;
                return;
        }
        sb->flow_tokens -= 1;
        struct lp_egress e = *rec;
        struct diag d = {0};
        if (lp_validate_egress(&e, &d) == 0) /* flowlog makes only valid ones: a second lock */
                egress_forward(x->L, sb, &e);
}

/* Mode public's flow log, a bounded number of reads per wakeup (the launcher is
 * single-threaded). Records the kernel could not queue (ENOBUFS: the sandbox made flows
 * faster than they were read) count as one dropped event: how many is unknown. */
static void read_flows(struct launcher *L, struct sandbox *sb) {
        static char buf[1 << 16] __attribute__((aligned(NLMSG_ALIGNTO)));
        struct flow_ctx x = {L, sb};
        for (int reads = 0; reads < 16; reads++) {
                ssize_t n = recv(sb->net_flows, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && errno == ENOBUFS) {
                        sb->ev_dropped++;
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        /* Not expected of the kernel: the log ends here, which the next
                         * sandbox's events (and this one's dropped count) cannot show, so say it. */
                        fprintf(stderr,
                                "{\"level\":\"error\",\"msg\":\"the flow log of a public sandbox ended\","
                                "\"sandbox_id\":%llu,\"error\":\"%s\"}\n",
                                (unsigned long long)sb->id, n < 0 ? strerror(errno) : "end of file");
                        sb->net_flows = sandbox_unwatch_close(L, sb->net_flows);
                        return;
                }
                sb->ev_dropped += flowlog_parse(buf, (size_t)n, on_flow, &x);
        }
}

/* The proxy's events, passed on to the client as EGRESS frames. The proxy runs as the
 * sandbox's uid and may be the sandbox's by now: every record is validated, and a bounded
 * number is read per wakeup (the launcher is single-threaded). A bad record ends the
 * reading: the stream can no longer be trusted to be aligned. */
static void read_events(struct launcher *L, struct sandbox *sb) {
        for (int reads = 0; reads < 16; reads++) {
                ssize_t n = read(sb->net_events, sb->ev_buf + sb->ev_len, sizeof(sb->ev_buf) - sb->ev_len);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        sb->net_events = sandbox_unwatch_close(L, sb->net_events);
                        return;
                }
                sb->ev_len += (size_t)n;
                while (sb->ev_len >= sizeof(struct lp_egress)) {
                        struct lp_egress e;
                        memcpy(&e, sb->ev_buf, sizeof(e));
                        sb->ev_len -= sizeof(e);
                        memmove(sb->ev_buf, sb->ev_buf + sizeof(e), sb->ev_len);
                        struct diag d = {0};
                        if (e.sandbox_id != 0 || lp_validate_egress(&e, &d) < 0) {
                                sb->net_events = sandbox_unwatch_close(L, sb->net_events);
                                return;
                        }
                        egress_forward(L, sb, &e);
                }
        }
}

void net_start(struct launcher *L, struct sandbox *sb) {
        struct diag d = {0};
        if ((sb->spec.network == LP_NET_ALLOWLIST ? egress_start(L, sb, &d) : start(L, sb, &d)) < 0)
                net_fail(L, sb, "%s", d.msg);
}

/* The host's own addresses, which a public sandbox must not reach through slirp (it
 * connects from the host: a service bound to 0.0.0.0 would see a local peer). Loopback
 * and IPv6 link-local are covered otherwise. */
static int host_addrs(struct net_addr *out, size_t cap, size_t *n, struct diag *d) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) < 0)
                return diag_set(d, -errno, "network", "list the host's addresses: %m");
        *n = 0;
        int r = 0;
        for (struct ifaddrs *i = ifa; i && r == 0; i = i->ifa_next) {
                if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
                        continue;
                struct net_addr a = {.family = (uint8_t)i->ifa_addr->sa_family};
                if (a.family == AF_INET) {
                        memcpy(a.addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
                        a.prefix_len = 32;
                        if (a.addr[0] == 127)
                                continue;
                } else {
                        const struct in6_addr *v6 = &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
                        memcpy(a.addr, v6, 16);
                        a.prefix_len = 128;
                        if (IN6_IS_ADDR_LOOPBACK(v6) || IN6_IS_ADDR_LINKLOCAL(v6))
                                continue;
                }
                if (*n >= cap)
                        r = diag_set(d, -E2BIG, "network", "the host has more than %zu addresses to block", cap);
                else
                        out[(*n)++] = a;
        }
        freeifaddrs(ifa);
        return r;
}

/* Send each request on fd and check its acknowledgement; a positive errno on the first
 * refusal. */
static int send_on(int fd, const char *msgs, size_t len) {
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        int r = 0;
        for (size_t off = 0; r == 0 && off + sizeof(struct nlmsghdr) <= len;) {
                const struct nlmsghdr *h = (const void *)(msgs + off);
                off += NLMSG_ALIGN(h->nlmsg_len);
                if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)h->nlmsg_len) {
                        r = errno ? errno : EIO;
                        break;
                }
                char ack[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t n = recv(fd, ack, sizeof(ack), 0);
                const struct nlmsghdr *a = (const void *)ack;
                if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || a->nlmsg_type != NLMSG_ERROR ||
                    a->nlmsg_seq != h->nlmsg_seq)
                        r = EPROTO;
                else if (((const struct nlmsgerr *)NLMSG_DATA(a))->error)
                        r = -((const struct nlmsgerr *)NLMSG_DATA(a))->error;
        }
        return r;
}

/* From here to configure(): the child of step 3, inside the sandbox's network namespace.
 * Each step says what failed in *why. */

/* bwrap brings lo up (127.0.0.1, then up) in the sandbox while slirp4netns makes tap0; the
 * refusal table's route goes through lo, which must be up first (ENETDOWN otherwise).
 * Waited for, not done here: bwrap's adding of 127.0.0.1 fails if lo is up already. */
static int wait_lo_up(struct diag *why) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return diag_set(why, -errno, "network", "socket: %m");
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        int r = -ETIMEDOUT;
        for (int i = 0; i < 5000 && r == -ETIMEDOUT; i++) {
                if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                        r = -errno;
                else if (ifr.ifr_flags & IFF_UP)
                        r = 0;
                else
                        usleep(1000);
        }
        close(fd);
        return r ? diag_set(why, r, "network", "the sandbox's lo did not come up: %s", strerror(-r)) : 0;
}

/* tap0 up with its address and route, the refusal table, then the rules (netpolicy_msgs). */
static int set_up(const struct net_addr *host, size_t nhost, struct diag *why) {
        if (wait_lo_up(why) < 0)
                return -1;
        struct buf msgs;
        buf_init(&msgs, 1 << 20);
        int r = netpolicy_msgs((int)if_nametoindex(NET_TAP_NAME), (int)if_nametoindex("lo"), host, nhost, 1, &msgs,
                               why);
        if (r >= 0) {
                int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
                int e = fd < 0 ? errno : send_on(fd, msgs.data, msgs.len);
                if (fd >= 0)
                        close(fd);
                r = e ? diag_set(why, -e, "network", "setting up the sandbox's network and its rules: %s", strerror(e))
                      : 0;
        }
        buf_free(&msgs);
        return r;
}

/* nft -f /dev/stdin with the ruleset that logs every flow and refusal, in this namespace.
 * nft's own message, if it has one, is the error. */
static int load_ruleset(const struct net_addr *host, size_t nhost, struct diag *why) {
        struct buf rules;
        buf_init(&rules, 1 << 16);
        int r = netpolicy_nft_ruleset(host, nhost, &rules);
        int in[2] = {-1, -1}, err[2] = {-1, -1};
        if (r == 0 && (pipe2(in, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))
                r = -errno;
        pid_t parent = getpid();
        pid_t pid = r == 0 ? fork() : -1;
        if (pid == 0) {
                /* dies with the set-up child, whose alarm bounds the whole set-up */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                        _exit(125);
                if (dup2(in[0], 0) < 0 || dup2(err[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(125);
                char *const argv[] = {(char *)"nft", (char *)"-f", (char *)"/dev/stdin", NULL};
                char *const envp[] = {NULL};
                execve(NFT_PATH, argv, envp);
                _exit(127);
        }
        if (r == 0 && pid < 0)
                r = -errno;
        safe_close(in[0]);
        safe_close(err[1]);
        /* a ruleset of a few KiB at most (256 host addresses): the pipe takes it whole */
        if (r == 0 && write(in[1], rules.data, rules.len) != (ssize_t)rules.len)
                r = -EIO;
        safe_close(in[1]);
        char said[256];
        size_t n = 0;
        for (ssize_t k; err[0] >= 0 && n < sizeof(said) - 1 && (k = read(err[0], said + n, sizeof(said) - 1 - n)) != 0;)
                if (k > 0)
                        n += (size_t)k;
                else if (errno != EINTR)
                        break;
        said[n] = '\0';
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)said[i] < 0x20 || said[i] == 0x7f)
                        said[i] = ' ';
        safe_close(err[0]);
        int status = 0;
        while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        buf_free(&rules);
        if (r < 0)
                return diag_set(why, r, "network", "running " NFT_PATH ": %s", strerror(-r));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return diag_set(why, -EIO, "network", NFT_PATH " could not load the flow log's rules (status %d)%s%s",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), n ? ": " : "", said);
        return 0;
}

/* A netlink socket bound to this namespace's NFLOG group: the launcher reads it from then
 * on. Its buffer holds a burst; past that the kernel drops records and the socket says
 * ENOBUFS (read_flows counts it). */
static int open_flows(struct diag *why) {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return diag_set(why, -errno, "network", "the flow log's netlink socket: %m");
        int size = 1 << 20;
        struct buf msg;
        buf_init(&msg, 4096);
        int r = flowlog_bind_msg(1, &msg);
        if (r == 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                r = -errno;
        struct sockaddr_nl me = {.nl_family = AF_NETLINK};
        if (r == 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0)
                r = -errno;
        if (r == 0)
                r = -send_on(fd, msg.data, msg.len);
        buf_free(&msg);
        if (r < 0) {
                close(fd);
                return diag_set(why, r, "network", "binding the flow log (NFLOG group %d): %s", FLOWLOG_GROUP,
                                strerror(-r));
        }
        return fd;
}

/* The child of step 3: the network, the log's rules, the log's socket; then one message
 * on back: the error text ("" for none), with the socket attached on success. */
__attribute__((noreturn)) static void configure_child(int netns, int back, const struct net_addr *host,
                                                       size_t nhost) {
        struct diag why = {0};
        int fd = -1;
        if (setns(netns, CLONE_NEWNET) < 0)
                diag_set(&why, -errno, "network", "enter the sandbox's network namespace: %m");
        else if (set_up(host, nhost, &why) == 0 && load_ruleset(host, nhost, &why) == 0)
                fd = open_flows(&why);
        struct iovec iov = {.iov_base = why.msg, .iov_len = strlen(why.msg) + 1};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } c;
        memset(&c, 0, sizeof(c));
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
                m.msg_control = c.buf;
                m.msg_controllen = sizeof(c.buf);
                struct cmsghdr *h = CMSG_FIRSTHDR(&m);
                h->cmsg_level = SOL_SOCKET;
                h->cmsg_type = SCM_RIGHTS;
                h->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(h), &fd, sizeof(int));
        }
        _exit(sendmsg(back, &m, MSG_NOSIGNAL) < 0 || fd < 0 ? 1 : 0);
}

/* 4: release bwrap's pid 1; the shim checks the rules from inside. */
static void release(struct launcher *L, struct sandbox *sb) {
        sb->net_ns = safe_close(sb->net_ns);
        if (write(sb->net_block, "1", 1) != 1) {
                net_fail(L, sb, "cannot release the sandbox: %m");
                return;
        }
        sb->net_block = safe_close(sb->net_block);
        sb->net_up = true;
}

/* Step 3, started: the child does the work while the launcher goes on serving others (nft
 * takes tens of milliseconds); its one message arrives on sb->net_cfg (configured()). */
static int configure_start(struct launcher *L, struct sandbox *sb, struct diag *d) {
        struct net_addr host[NET_HOST_ADDRS_MAX];
        size_t nhost = 0;
        int r = host_addrs(host, ARRAY_SIZE(host), &nhost, d);
        if (r < 0)
                return r;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0)
                return diag_set(d, -errno, "network", "socketpair: %m");
        /* A child joins the sandbox's namespace: the launcher itself never leaves its own. */
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                        _exit(125);
                alarm(NET_CONFIGURE_TIMEOUT_S); /* a hung nft ends as a setup error, not a stuck sandbox */
                /* Only what it needs (its stdio, the namespace, its socket): other sandboxes'
                 * pipes and sockets must not outlive their owners in here. */
                int ns = fcntl(sb->net_ns, F_DUPFD, 100), back = fcntl(sp[1], F_DUPFD, 100);
                if (ns < 0 || back < 0 || dup2(ns, 3) < 0 || dup2(back, 4) < 0 || close_range(5, ~0U, 0) < 0)
                        _exit(125);
                configure_child(3, 4, host, nhost);
        }
        close(sp[1]);
        if (pid < 0) {
                close(sp[0]);
                return diag_set(d, -errno, "network", "fork: %m");
        }
        sb->net_cfg = sp[0];
        sb->net_cfg_pid = pid; /* reaped with the launcher's other unknown children */
        if (sandbox_watch(L, sb, sb->net_cfg) < 0)
                return diag_set(d, -EIO, "network", "cannot watch the network's set-up");
        return 0;
}

/* Step 3, done: what the child said (it sends before it exits; EOF if it died first).
 * Returns the flow log's socket. */
static int configure_finish(struct sandbox *sb, struct diag *d) {
        char said[DIAG_MSG_MAX];
        struct iovec iov = {.iov_base = said, .iov_len = sizeof(said) - 1};
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } c;
        memset(&c, 0, sizeof(c));
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf)};
        ssize_t n = recvmsg(sb->net_cfg, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -EAGAIN;
        int fd = -1;
        struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
        if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&fd, CMSG_DATA(h), sizeof(int));
        said[n > 0 ? (size_t)n : 0] = '\0';
        if (fd >= 0 && !said[0] && !(m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
                if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
                        int e = errno;
                        close(fd);
                        return diag_set(d, -e, "network", "the flow log's socket: %s", strerror(e));
                }
                return fd;
        }
        safe_close(fd);
        if (said[0])
                return diag_set(d, -EIO, "network", "%s", said);
        return diag_set(d, -EIO, "network", "setting up the sandbox's network: the helper %s",
                        n == 0 ? "died (or took longer than " STRINGIFY(NET_CONFIGURE_TIMEOUT_S) " s)" : "said nothing");
}

/* 3: slirp4netns has tap0 up. */
static void net_ready(struct launcher *L, struct sandbox *sb) {
        struct diag d = {0};
        sb->net_ready = sandbox_unwatch_close(L, sb->net_ready);
        if (sb->spec.network == LP_NET_PUBLIC) {
                if (configure_start(L, sb, &d) < 0)
                        net_fail(L, sb, "%s", d.msg);
                return; /* released in configured() */
        }
        /* The proxy needs nothing inside: its socket is there already. */
        release(L, sb);
}

/* 3-4: the network and its rules are in (mode public); the flow log from now on. */
static void configured(struct launcher *L, struct sandbox *sb) {
        struct diag d = {0};
        int flows = configure_finish(sb, &d);
        if (flows == -EAGAIN)
                return;
        sb->net_cfg = sandbox_unwatch_close(L, sb->net_cfg);
        if (flows < 0) {
                net_fail(L, sb, "%s", d.msg);
                return;
        }
        sb->net_flows = flows;
        sb->flow_tokens = LP_EGRESS_EVENT_BURST;
        sb->flow_ms = (int64_t)now_ms();
        if (sandbox_watch(L, sb, sb->net_flows) < 0) {
                net_fail(L, sb, "cannot watch the flow log");
                return;
        }
        release(L, sb);
}

static void keep_text(struct sandbox *sb, const char *p, size_t n) {
        for (size_t i = 0; i < n && sb->net_text_len < sizeof(sb->net_text) - 1; i++)
                sb->net_text[sb->net_text_len++] = p[i] == '\n' ? ' ' : (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
        sb->net_text[sb->net_text_len] = '\0';
}

bool net_on_readable(struct launcher *L, struct sandbox *sb, int fd) {
        if (fd < 0)
                return false;
        if (fd == sb->net_ready) {
                char b;
                ssize_t n = read(fd, &b, 1);
                if (n == 1)
                        net_ready(L, sb);
                else if (n == 0) /* slirp4netns is gone; its exit says why */
                        sb->net_ready = sandbox_unwatch_close(L, sb->net_ready);
                return true;
        }
        if (fd == sb->net_events) {
                read_events(L, sb);
                return true;
        }
        if (fd == sb->net_flows) {
                read_flows(L, sb);
                return true;
        }
        if (fd == sb->net_cfg) {
                configured(L, sb);
                return true;
        }
        if (fd == sb->net_log) {
                /* Kept for an error while starting, then drained so slirp never blocks on it. */
                char buf[1024];
                ssize_t n = 0;
                /* A bounded drain per wakeup: the launcher is single-threaded, and a writer
                 * that keeps the pipe full must not hold it here. */
                for (int reads = 0; reads < 16 && (n = read(fd, buf, sizeof(buf))) > 0; reads++)
                        if (!sb->net_up)
                                keep_text(sb, buf, (size_t)n);
                if (n == 0)
                        sb->net_log = sandbox_unwatch_close(L, sb->net_log);
                return true;
        }
        return false;
}

void net_on_exit(struct launcher *L, struct sandbox *sb, int status) {
        sb->net_pid = -1;
        if (sb->net_log >= 0)
                net_on_readable(L, sb, sb->net_log);
        /* Once the program runs, a sandbox whose slirp4netns is gone has no egress left:
         * nothing to refuse, nothing is weaker. Before that, it is a setup error. */
        if (!sb->net_up)
                net_fail(L, sb, "%s exited with status %d%s%s",
                         sb->spec.network == LP_NET_ALLOWLIST ? "the egress proxy" : "slirp4netns",
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                         sb->net_text_len ? ": " : "", sb->net_text);
}

void net_drain(struct launcher *L, struct sandbox *sb) {
        if (sb->net_flows < 0)
                return;
        /* Unbinding the log's instance makes the kernel send what it holds back first. */
        struct buf msg;
        buf_init(&msg, 4096);
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (flowlog_unbind_msg(2, &msg) == 0)
                (void)sendto(sb->net_flows, msg.data, msg.len, MSG_DONTWAIT, (struct sockaddr *)&kernel, sizeof(kernel));
        buf_free(&msg);
        read_flows(L, sb);
        sb->net_flows = sandbox_unwatch_close(L, sb->net_flows);
}

void net_free(struct launcher *L, struct sandbox *sb) {
        sb->net_exit = safe_close(sb->net_exit); /* slirp4netns exits on EOF */
        if (sb->net_pid > 0)
                kill(sb->net_pid, SIGKILL); /* not reaped yet, so still ours; reap_children reaps it */
        sb->net_pid = -1;
        sb->net_block = safe_close(sb->net_block);
        sb->net_ns = safe_close(sb->net_ns);
        sb->net_cfg = sandbox_unwatch_close(L, sb->net_cfg);
        if (sb->net_cfg_pid > 0)
                kill(sb->net_cfg_pid, SIGKILL); /* not reaped yet (reap_children clears it), so still ours */
        sb->net_cfg_pid = -1;
        sb->net_ready = sandbox_unwatch_close(L, sb->net_ready);
        sb->net_log = sandbox_unwatch_close(L, sb->net_log);
        if (sb->net_events >= 0) /* what it said last, before it went */
                read_events(L, sb);
        sb->net_events = sandbox_unwatch_close(L, sb->net_events);
        net_drain(L, sb);
}
