/* sandbox: one sandbox's life inside the launcher, from a validated CREATE to its
 * EXITED frame. The order of layers is written once, in sandbox_start():
 *
 *   1. refuse if a mandatory layer is missing (fail closed; the operator may opt out of
 *      cgroups, Landlock or a private uid, never of namespaces or seccomp);
 *   2. a private unprivileged host uid (uid_pool) and a cgroup with the limits;
 *   3. fork; the child resets its signal mask, sets PDEATHSIG, lays out its fds, enters
 *      the cgroup, drops to the sandbox's host uid (namespace backend) and execs the
 *      backend with an empty environment;
 *   4. the backend builds namespaces and mounts (plan.c); in network mode public its pid 1
 *      then waits (--block-fd) while net.c starts slirp4netns into the sandbox's network
 *      namespace and installs the rules that refuse link-local, metadata and the host;
 *      then it execs our shim, which adds rlimits, Landlock and seccomp (and checks the
 *      network rules from inside) and prints the ready marker;
 *   5. only then CREATED goes to the client, with the stdout/stderr pipes.
 * While it runs the launcher enforces the deadline (interrupt, grace, kill) and watches
 * the cgroup for OOM kills and pid-limit hits; at exit it reports, kills what is left,
 * and removes every trace (cgroup, uid slot, bundle directory).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "launcher/launcher.h"
#include "sandbox/host_probe.h"
#include "sandbox/netpolicy.h"
#include "sandbox/plan.h"

#define SETUP_TIMEOUT_MS 30000
/* Measured with runsc 20221219 (ptrace platform): ~130 host tasks for the Sentry and
 * gofer, plus ~12 per process inside. */
#define GVISOR_PIDS_BASE 256u
#define GVISOR_PIDS_PER_PROCESS 16u

int sandbox_watch(struct launcher *L, struct sandbox *sb, int fd) {
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.u64 = ((sb->id & 0xffffffffu) << 32) | (uint32_t)fd;
        return epoll_ctl(L->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* cgroupfs event files poll readable at all times: what changes is EPOLLPRI. */
static int watch_priority(struct launcher *L, struct sandbox *sb, int fd) {
        struct epoll_event ev = {.events = EPOLLPRI};
        ev.data.u64 = ((sb->id & 0xffffffffu) << 32) | (uint32_t)fd;
        return epoll_ctl(L->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int sandbox_unwatch_close(struct launcher *L, int fd) {
        if (fd >= 0) {
                epoll_ctl(L->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
        }
        return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st;
        (void)ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

/* Remove a directory tree the launcher created, without following links or crossing
 * into another filesystem. */
void remove_tree(const char *path) {
        if (path[0])
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The sandbox's cgroup and uid slot: released now if its cgroup is empty, else kept in a
 * grave until it is (launcher.h). */
static void bury(struct launcher *L, struct sandbox *sb) {
        if (cg_destroy_nowait(&sb->cg) == 0) {
                uid_pool_release(&sb->slot);
                return;
        }
        struct grave *g = calloc(1, sizeof(*g));
        if (!g) { /* no room to come back later: wait, as before graves existed */
                sb->cg = cg_destroy(sb->cg);
                uid_pool_release(&sb->slot);
                return;
        }
        g->cg = TAKE_PTR(sb->cg);
        g->slot = sb->slot;
        sb->slot.lock_fd = -1;
        g->since_ms = now_ms();
        g->next = L->graves;
        L->graves = g;
}

void graves_tick(struct launcher *L) {
        uint64_t now = now_ms();
        for (struct grave **p = &L->graves; *p;) {
                struct grave *g = *p;
                if (cg_destroy_nowait(&g->cg) == -EBUSY && now - g->since_ms < GRAVE_GIVE_UP_MS) {
                        p = &g->next;
                        continue;
                }
                g->cg = cg_destroy(g->cg); /* NULL already, or given up on after a last try */
                uid_pool_release(&g->slot);
                *p = g->next;
                free(g);
        }
}

void graves_flush(struct launcher *L) {
        while (L->graves) {
                struct grave *g = L->graves;
                L->graves = g->next;
                g->cg = cg_destroy(g->cg);
                uid_pool_release(&g->slot);
                free(g);
        }
}

void sandbox_free(struct launcher *L, struct sandbox *sb) {
        if (!sb)
                return;
        net_free(L, sb);
        free(sb->allow);
        sb->allow = NULL;
        sb->stderr_r = sandbox_unwatch_close(L, sb->stderr_r);
        sb->json_r = sandbox_unwatch_close(L, sb->json_r);
        sb->pids_events = sandbox_unwatch_close(L, sb->pids_events);
        sb->stdout_r = safe_close(sb->stdout_r);
        sb->control = safe_close(sb->control);
        sb->workspace_fd = safe_close(sb->workspace_fd);
        for (int i = 0; i < 3; i++)
                sb->keep[i] = safe_close(sb->keep[i]);
        bury(L, sb);
        remove_tree(sb->run_dir);
        buf_free(&sb->setup_text);
        launcher_unlink(L, sb);
        free(sb);
}

/* Move fds into the fixed layout 0..n-1 for the backend, closing everything else.
 * Runs in the forked child only. */
int sandbox_layout_fds(const int *src, int n) {
        int hi[16];
        if (n > 16)
                return -EINVAL;
        for (int i = 0; i < n; i++) {
                hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64);
                if (hi[i] < 0)
                        return -errno;
        }
        for (int i = 0; i < n; i++)
                if (dup2(hi[i], i) < 0) /* dup2 clears CLOEXEC on the target: these survive exec */
                        return -errno;
        if (syscall(SYS_close_range, (unsigned)n, ~0U, 0U) < 0)
                return -errno;
        return 0;
}

__attribute__((noreturn)) static void child_fail(const char *what) {
        dprintf(2, "airlock-launcher: %s: %s\n", what, strerror(errno));
        _exit(125);
}

/* The forked child, before it becomes the backend: signals back to default, die with
 * the launcher, join the cgroup (so the backend and all it starts are limited from
 * their first instruction), lay out fds, drop to the sandbox's host uid. */
static void child_prepare(struct sandbox *sb, pid_t parent, const int *fds, int nfds, bool drop_uid) {
        umask(022); /* the launcher's own 077 is not the sandbox's business */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
                _exit(125);
        if (sandbox_layout_fds(fds, nfds) < 0)
                _exit(125); /* fd 2 may not be set up yet: the launcher reports the exit */
        if (sb->cg) {
                struct diag d = {0};
                if (cg_attach(sb->cg, getpid(), &d) < 0) {
                        dprintf(2, "airlock-launcher: cgroup: %s\n", d.msg);
                        _exit(125);
                }
        }
        if (drop_uid) {
                gid_t g = (gid_t)sb->host_uid;
                if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0)
                        child_fail("setresgid");
                if (setresuid(sb->host_uid, sb->host_uid, sb->host_uid) < 0)
                        child_fail("setresuid");
                if (getuid() != sb->host_uid || geteuid() != sb->host_uid)
                        child_fail("uid drop did not stick");
        }
}

struct io {
        int devnull, out_r, out_w, err_r, err_w;
};

static void io_close(struct io *io) {
        io->devnull = safe_close(io->devnull);
        io->out_r = safe_close(io->out_r);
        io->out_w = safe_close(io->out_w);
        io->err_r = safe_close(io->err_r);
        io->err_w = safe_close(io->err_w);
}

static int io_open(struct io *io, struct diag *d) {
        int p[2];
        *io = (struct io){-1, -1, -1, -1, -1};
        io->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (io->devnull < 0)
                return diag_set(d, -errno, "sandbox", "open /dev/null: %m");
        if (pipe2(p, O_CLOEXEC) < 0)
                return diag_set(d, -errno, "sandbox", "pipe: %m");
        io->out_r = p[0];
        io->out_w = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                return diag_set(d, -errno, "sandbox", "pipe: %m");
        io->err_r = p[0];
        io->err_w = p[1];
        /* Bigger pipes: fewer wakeups for chatty programs, and room for a burst while the
         * client is busy. Best effort. */
        fcntl(io->out_r, F_SETPIPE_SZ, 1 << 20);
        fcntl(io->err_r, F_SETPIPE_SZ, 1 << 18);
        return 0;
}

/* In the backend's child, still root: a mount namespace of its own, where the runtime
 * directory the launcher checked (runtime_fd) is bound read-only at dest on a small tmpfs
 * over /opt. bwrap, running as the sandbox's uid, binds dest from there: it resolves
 * source paths by name, and the real one lies under the daemon's 0700 data directory.
 * Nothing propagates to the host (everything is made private first). */
static void stage_runtime(int runtime_fd, const char *host_path, const char *dest) {
        char src[64], dir[160];
        umask(022); /* the launcher's 077 would hide the path from the sandbox's uid */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail("runtime: a private mount namespace");
        /* A mount of the old namespace cannot be bound from here: open the path again in
         * ours and make sure it is the very directory the launcher checked. */
        struct stat want, got;
        int fd = open(host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &got) < 0 || fstat(runtime_fd, &want) < 0 || got.st_dev != want.st_dev ||
            got.st_ino != want.st_ino)
                child_fail("runtime: the directory changed after it was checked");
        snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
        if (mount("airlock-runtime", "/opt", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0)
                child_fail("runtime: tmpfs on /opt");
        for (const char *p = strchr(dest + 1, '/');; p = strchr(p + 1, '/')) {
                size_t n = p ? (size_t)(p - dest) : strlen(dest);
                snprintf(dir, sizeof(dir), "%.*s", (int)n, dest);
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        child_fail("runtime: mkdir");
                if (!p)
                        break;
        }
        if (mount(src, dest, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
                child_fail("runtime: bind");
        close(fd);
}

static int spawn_bwrap(struct launcher *L, struct sandbox *sb, const struct plan_input *in, int code_fd,
                       int runtime_fd, struct io *io, struct diag *d) {
        int r;
        const bool public = in->c->network == LP_NET_PUBLIC, blocked = in->c->network != LP_NET_NONE;
        _cleanup_close_ int args_fd = -1, init_fd = -1, seccomp_fd = -1, passwd_fd = -1, group_fd = -1,
                            hosts_fd = -1, json_w = -1, control_child = -1, resolv_fd = -1, block_r = -1;
        if (in->c->flags & LP_CREATE_CONTROL) {
                int sp[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                        return diag_set(d, -errno, "sandbox", "socketpair: %m");
                sb->control = sp[0];
                control_child = sp[1];
        }
        int jp[2];
        if (pipe2(jp, O_CLOEXEC | O_NONBLOCK) < 0)
                return diag_set(d, -errno, "sandbox", "pipe: %m");
        sb->json_r = jp[0];
        json_w = jp[1];
        init_fd = open(L->init_path, O_RDONLY | O_CLOEXEC);
        if (init_fd < 0)
                return diag_set(d, -errno, "sandbox", "open %s: %m", L->init_path);
        seccomp_fd = memfd_with_data("seccomp", L->seccomp_bpf, L->seccomp_len);
        passwd_fd = memfd_with_data("passwd", plan_etc_passwd, strlen(plan_etc_passwd));
        group_fd = memfd_with_data("group", plan_etc_group, strlen(plan_etc_group));
        hosts_fd = memfd_with_data("hosts", plan_etc_hosts, strlen(plan_etc_hosts));
        if (seccomp_fd < 0 || passwd_fd < 0 || group_fd < 0 || hosts_fd < 0)
                return diag_set(d, -ENOMEM, "sandbox", "cannot create the sandbox's files");
        if (blocked) {
                int bp[2];
                if (public)
                        resolv_fd = memfd_with_data("resolv.conf", netpolicy_resolv_conf, strlen(netpolicy_resolv_conf));
                if ((public && resolv_fd < 0) || pipe2(bp, O_CLOEXEC) < 0)
                        return diag_set(d, -errno, "sandbox", "cannot create the sandbox's network files: %m");
                block_r = bp[0];
                sb->net_block = bp[1];
        }
        /* fd numbers as the backend will see them (sandbox_layout_fds below). */
        const struct plan_fds pf = {.init = 4, .seccomp = 5, .code = 6, .passwd = 7, .group = 8, .hosts = 9,
                                    .json_status = 10, .resolv = public ? PLAN_CONTROL_FD + 1 : -1,
                                    .block = blocked ? PLAN_CONTROL_FD + 2 : -1};
        struct buf args;
        buf_init(&args, LP_FRAME_MAX * 2);
        r = plan_bwrap_args(in, &pf, &args, d);
        if (r < 0) {
                buf_free(&args);
                return r;
        }
        args_fd = memfd_with_data("bwrap-args", args.data, args.len);
        buf_free(&args);
        if (args_fd < 0)
                return diag_set(d, args_fd, "sandbox", "cannot pass bwrap its arguments");
        /* argv: bwrap --args 3 -- <shim and payload>, built before fork. */
        struct buf payload;
        buf_init(&payload, 64 * 1024);
        r = plan_payload_argv(in, &payload, d);
        char *argv[32];
        size_t argc = 0;
        argv[argc++] = (char *)"bwrap";
        argv[argc++] = (char *)"--args";
        argv[argc++] = (char *)"3";
        argv[argc++] = (char *)"--";
        for (size_t off = 0; r == 0 && off < payload.len; off += strlen(payload.data + off) + 1) {
                if (argc >= ARRAY_SIZE(argv) - 1) {
                        r = diag_set(d, -E2BIG, "sandbox", "payload command line too long");
                        break;
                }
                argv[argc++] = payload.data + off;
        }
        argv[argc] = NULL;
        if (r < 0) {
                buf_free(&payload);
                return r;
        }
        if (lseek(code_fd, 0, SEEK_SET) < 0)
                return diag_set(d, -errno, "code", "code fd is not seekable: %m");

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                buf_free(&payload);
                return diag_set(d, -errno, "sandbox", "fork: %m");
        }
        if (pid == 0) {
                /* index = fd number in bwrap; then the control socket (PLAN_CONTROL_FD; /dev/null
                 * in its place when there is none but more follow), then, in modes public and
                 * allowlist, resolv.conf (public only; /dev/null in its place) and the block pipe */
                const int fds[] = {io->devnull, io->out_w, io->err_w, args_fd, init_fd, seccomp_fd, code_fd,
                                   passwd_fd, group_fd, hosts_fd, json_w,
                                   control_child >= 0 ? control_child : io->devnull,
                                   resolv_fd >= 0 ? resolv_fd : io->devnull, block_r};
                _Static_assert(ARRAY_SIZE(fds) == PLAN_CONTROL_FD + 3, "fd layout");
                if (runtime_fd >= 0)
                        stage_runtime(runtime_fd, in->runtime_src, in->runtime_dest);
                child_prepare(sb, parent, fds,
                              blocked               ? (int)ARRAY_SIZE(fds)
                              : control_child >= 0 ? PLAN_CONTROL_FD + 1
                                                   : PLAN_CONTROL_FD,
                              geteuid() == 0);
                char *const envp[] = {NULL};
                execve(BWRAP_PATH, argv, envp);
                child_fail("exec " BWRAP_PATH);
        }
        buf_free(&payload);
        sb->pid = pid;
        return 0;
}

static int write_file_at(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                         struct diag *d) {
        char path[512];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
                return diag_set(d, -ENAMETOOLONG, "sandbox", "path too long");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return diag_set(d, -errno, "sandbox", "create %s: %m", path);
        int r = write_all(fd, data, len);
        if (r < 0)
                return diag_set(d, r, "sandbox", "write %s: %s", path, strerror(-r));
        if (fchmod(fd, mode) < 0)
                return diag_set(d, -errno, "sandbox", "chmod %s: %m", path);
        return 0;
}

static int copy_fd_to(const char *dir, const char *name, int src, mode_t mode, struct diag *d) {
        struct stat st;
        if (fstat(src, &st) < 0)
                return diag_set(d, -errno, "sandbox", "stat: %m");
        if (st.st_size > (off_t)LP_CODE_MAX_BYTES)
                return diag_set(d, -EFBIG, "sandbox", "file too large");
        _cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
        if (!data)
                return diag_set(d, -ENOMEM, "sandbox", "out of memory");
        ssize_t n = pread(src, data, (size_t)st.st_size, 0);
        if (n < 0)
                return diag_set(d, -errno, "sandbox", "read: %m");
        return write_file_at(dir, name, data, (size_t)n, mode, d);
}

/* gVisor: an OCI bundle under the launcher's state dir, then `runsc run`. runsc does its
 * own namespaces and drops its own privileges (its Sentry is the wall); it stays in our
 * cgroup (--ignore-cgroups), so our limits cover the Sentry and everything inside. */
static int spawn_runsc(struct launcher *L, struct sandbox *sb, const struct plan_input *in, int code_fd,
                       struct io *io, struct diag *d) {
        int r;
        char *name = sb->gv_name;
        snprintf(sb->gv_name, sizeof(sb->gv_name), "airlock-%d-%llu", (int)getpid(), (unsigned long long)sb->id);
        if ((size_t)snprintf(sb->run_dir, sizeof(sb->run_dir), LAUNCHER_STATE_DIR "/%s", name) >=
            sizeof(sb->run_dir))
                return diag_set(d, -ENAMETOOLONG, "sandbox", "state path too long");
        if (mkdir(sb->run_dir, 0711) < 0 || chmod(sb->run_dir, 0711) < 0) {
                int e = errno;
                sb->run_dir[0] = '\0'; /* not ours: never remove it */
                return diag_set(d, -e, "sandbox", "mkdir %s/%s: %s", LAUNCHER_STATE_DIR, name, strerror(e));
        }
        static const char *const dirs[] = {"rootfs", "rootfs/usr", "rootfs/etc", "rootfs/proc", "rootfs/dev",
                                           "rootfs/tmp", "rootfs/workspace", "rootfs/run", "rootfs/run/airlock",
                                           "run", "etc", "state", NULL};
        for (size_t i = 0; dirs[i]; i++) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", sb->run_dir, dirs[i]);
                /* explicit chmod: the launcher's umask is 077 */
                if (mkdir(p, 0755) < 0 || chmod(p, 0755) < 0)
                        return diag_set(d, -errno, "sandbox", "mkdir %s: %m", p);
        }
        static const char *const links[][2] = {{"usr/bin", "bin"}, {"usr/sbin", "sbin"}, {"usr/lib", "lib"},
                                               {"usr/lib64", "lib64"}};
        for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
                char p[512];
                snprintf(p, sizeof(p), "%s/rootfs/%s", sb->run_dir, links[i][1]);
                if (symlink(links[i][0], p) < 0)
                        return diag_set(d, -errno, "sandbox", "symlink %s: %m", p);
        }
        /* Mount points for the /etc entries this host has; runsc binds onto them. */
        for (size_t i = 0; plan_etc_files[i]; i++) {
                struct stat st;
                char p[512];
                if (stat(plan_etc_files[i], &st) < 0)
                        continue;
                snprintf(p, sizeof(p), "%s/rootfs%s", sb->run_dir, plan_etc_files[i]);
                if (S_ISDIR(st.st_mode) ? (mkdir(p, 0755) || chmod(p, 0755))
                                        : close(open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444)))
                        return diag_set(d, -errno, "sandbox", "mount point %s: %m", p);
        }
        static const char *const gen[] = {"passwd", "group", "hosts"};
        for (size_t i = 0; i < ARRAY_SIZE(gen); i++) {
                char p[512];
                snprintf(p, sizeof(p), "%s/rootfs/etc/%s", sb->run_dir, gen[i]);
                if (close(open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444)) < 0)
                        return diag_set(d, -errno, "sandbox", "mount point %s: %m", p);
        }
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/etc", sb->run_dir);
        if ((r = write_file_at(dir, "passwd", plan_etc_passwd, strlen(plan_etc_passwd), 0444, d)) < 0 ||
            (r = write_file_at(dir, "group", plan_etc_group, strlen(plan_etc_group), 0444, d)) < 0 ||
            (r = write_file_at(dir, "hosts", plan_etc_hosts, strlen(plan_etc_hosts), 0444, d)) < 0)
                return r;
        snprintf(dir, sizeof(dir), "%s/run", sb->run_dir);
        _cleanup_close_ int init_fd = open(L->init_path, O_RDONLY | O_CLOEXEC);
        if (init_fd < 0)
                return diag_set(d, -errno, "sandbox", "open %s: %m", L->init_path);
        if ((r = copy_fd_to(dir, "init", init_fd, 0555, d)) < 0 ||
            (r = write_file_at(dir, "seccomp.bpf", L->seccomp_bpf, L->seccomp_len, 0444, d)) < 0 ||
            (r = copy_fd_to(dir, in->c->entry_name, code_fd, 0444, d)) < 0)
                return r;
        struct buf cfg;
        buf_init(&cfg, 1 << 20);
        r = plan_oci_config(in, sb->run_dir, &cfg, d);
        if (r == 0)
                r = write_file_at(sb->run_dir, "config.json", cfg.data, cfg.len, 0444, d);
        buf_free(&cfg);
        if (r < 0)
                return r;

        char state[512], bundle[512];
        snprintf(state, sizeof(state), "--root=%s/state", sb->run_dir);
        snprintf(bundle, sizeof(bundle), "--bundle=%s", sb->run_dir);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return diag_set(d, -errno, "sandbox", "fork: %m");
        if (pid == 0) {
                const int fds[] = {io->devnull, io->out_w, io->err_w};
                child_prepare(sb, parent, fds, (int)ARRAY_SIZE(fds), false);
                char *const argv[] = {(char *)"runsc", state, (char *)"--network=none", (char *)"--ignore-cgroups",
                                      (char *)"--host-uds=none", (char *)"run", bundle, name, NULL};
                char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
                execve(RUNSC_PATH, argv, envp);
                child_fail("exec " RUNSC_PATH);
        }
        sb->pid = pid;
        return 0;
}

static uint32_t gvisor_host_pids(uint32_t pids) {
        uint64_t v = GVISOR_PIDS_BASE + (uint64_t)pids * GVISOR_PIDS_PER_PROCESS;
        return v > LP_PIDS_MAX ? LP_PIDS_MAX : (uint32_t)v;
}

/* The client's code fd may be an unsealed memfd it can still grow or rewrite: copy at
 * most LP_CODE_MAX_BYTES into a sealed memfd of our own, once, and use only that. */
static int own_code_copy(int code_fd, struct diag *d) {
        struct buf code;
        buf_init(&code, LP_CODE_MAX_BYTES);
        char chunk[65536];
        off_t off = 0;
        for (;;) {
                ssize_t n = pread(code_fd, chunk, sizeof(chunk), off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        buf_free(&code);
                        return diag_set(d, -e, "code", "cannot read the code: %s", strerror(e));
                }
                if (n == 0)
                        break;
                if (buf_append(&code, chunk, (size_t)n) < 0) {
                        buf_free(&code);
                        return diag_set(d, -EFBIG, "code", "code is larger than %u bytes", LP_CODE_MAX_BYTES);
                }
                off += n;
        }
        int fd = memfd_with_data("code", code.data ? code.data : "", code.len);
        buf_free(&code);
        return fd < 0 ? diag_set(d, fd, "code", "cannot hold the code: %s", strerror(-fd)) : fd;
}

int sandbox_start(struct launcher *L, uint64_t req_id, const struct lp_create *c, const char *env, size_t env_len,
                  int client_code_fd, struct sandbox **ret, struct diag *d) {
        const struct lp_host_report *h = &L->host;
        bool gvisor = c->backend == LP_BACKEND_GVISOR;
        int r;

        /* 1. Fail closed on anything missing. */
        if (L->nsandboxes >= LAUNCHER_MAX_SANDBOXES)
                return diag_set(d, -EAGAIN, "sandbox", "this launcher already runs %u sandboxes", L->nsandboxes);
        /* A built runtime: found and checked now; its fd is what the sandbox gets. */
        char rt_dest[128], rt_src[512];
        _cleanup_close_ int rt_fd = -1;
        if (strcmp(c->runtime, "default") != 0) {
                /* runsc would resolve the runtime's path by name, long after our checks, in a
                 * directory the daemon owns: only bwrap gets the checked fd. */
                if (gvisor)
                        return diag_set(d, -EOPNOTSUPP, "runtime",
                                        "built runtimes need the namespace backend (gVisor sessions use default)");
                rt_fd = runtime_open(L, c->runtime, rt_dest, sizeof(rt_dest), rt_src, sizeof(rt_src), d);
                if (rt_fd < 0)
                        return rt_fd;
        }
        struct stat st;
        if (fstat(client_code_fd, &st) < 0 || !S_ISREG(st.st_mode))
                return diag_set(d, -EINVAL, "code", "the code fd must be a regular file or memfd");
        if ((fcntl(client_code_fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
                return diag_set(d, -EBADF, "code", "the code fd is not readable");
        if ((uint64_t)st.st_size > LP_CODE_MAX_BYTES)
                return diag_set(d, -EFBIG, "code", "code is %lld bytes, the limit is %u", (long long)st.st_size,
                                LP_CODE_MAX_BYTES);
        if (!h->seccomp)
                return diag_set(d, -ENOSYS, "seccomp", "this kernel has no seccomp filters; refusing to run");
        if (gvisor) {
                if (!h->runsc)
                        return diag_set(d, -ENOENT, "isolation", "gVisor's runsc is not installed at " RUNSC_PATH);
                if (!h->is_root)
                        return diag_set(d, -EPERM, "isolation", "the gvisor backend needs the launcher to run as root");
        } else {
                if (!h->bwrap)
                        return diag_set(d, -ENOENT, "isolation", "bubblewrap is not installed at " BWRAP_PATH);
                if (!h->userns)
                        return diag_set(d, -EPERM, "userns", "user namespaces are disabled on this host");
                if (!h->landlock_abi && !(c->allow_weaker & LP_ALLOW_NO_LANDLOCK))
                        return diag_set(d, -ENOSYS, "landlock",
                                        "this kernel has no Landlock; allow it explicitly to run without");
        }
        if (c->network != LP_NET_NONE && !h->is_root)
                /* slirp4netns and the proxy run as the sandbox's private uid, slirp with a tun
                 * device node of its own, the proxy with a socket made in the sandbox's network
                 * namespace (net.c): all take a root launcher. */
                return diag_set(d, -EPERM, "network", "network mode %s needs the launcher to run as root",
                                lp_network_name(c->network));
        if (c->network == LP_NET_ALLOWLIST && L->egress_fd < 0)
                return diag_set(d, -ENOENT, "network",
                                "network mode allowlist needs airlock-egress next to the launcher (a broken install)");
        if (c->network == LP_NET_PUBLIC) {
                if (!h->slirp4netns)
                        return diag_set(d, -ENOENT, "network",
                                        "network mode public needs slirp4netns at " SLIRP4NETNS_PATH ", nft at " NFT_PATH
                                        " (apt-get install slirp4netns nftables) and the tun driver (/dev/net/tun)");
        }
        if (L->cg.mode == CG_NONE && !(c->allow_weaker & LP_ALLOW_NO_CGROUP))
                return diag_set(d, -ENOSYS, "cgroup",
                                "no usable cgroup hierarchy (memory, cpu and pids limits); allow it explicitly "
                                "to run without limits");
        if (!h->is_root && !gvisor && !(c->allow_weaker & LP_ALLOW_SHARED_UID))
                return diag_set(d, -EPERM, "uid",
                                "not root: the sandbox would map to the caller's own uid; allow it explicitly");

        _cleanup_close_ int code_fd = own_code_copy(client_code_fd, d);
        if (code_fd < 0)
                return code_fd;
        _cleanup_free_ struct sandbox *sb = calloc(1, sizeof(*sb));
        if (!sb)
                return diag_set(d, -ENOMEM, "sandbox", "out of memory");
        sb->id = L->next_id++;
        sb->create_req_id = req_id;
        sb->client_gen = L->client_gen;
        sb->spec = *c;
        sb->stdout_r = sb->stderr_r = sb->json_r = sb->control = sb->workspace_fd = sb->pids_events = -1;
        sb->keep[0] = sb->keep[1] = sb->keep[2] = -1;
        sb->net_pid = -1;
        sb->net_block = sb->net_ready = sb->net_exit = sb->net_log = sb->net_ns = sb->net_events = sb->net_flows = sb->net_cfg = -1;
        sb->net_cfg_pid = -1;
        sb->slot.lock_fd = -1;
        buf_init(&sb->setup_text, LAUNCHER_SETUP_TEXT_MAX);
        sb->state = SB_STARTING;

        /* 2. A private host uid, and the cgroup. */
        if (h->is_root && !gvisor) {
                r = uid_pool_acquire(LAUNCHER_STATE_DIR "/uids", UID_POOL_BASE, UID_POOL_COUNT, &sb->slot, d);
                if (r < 0)
                        return r;
                sb->host_uid = sb->slot.uid;
        } else {
                sb->host_uid = gvisor ? 0 : getuid();
        }
        if (L->cg.mode != CG_NONE) {
                char name[64];
                snprintf(name, sizeof(name), "sb-%d-%llu", (int)getpid(), (unsigned long long)sb->id);
                /* Under gVisor the program's process limit is RLIMIT_NPROC inside the Sentry
                 * (exact: the fork past it fails with EAGAIN). The Sentry's own threads and
                 * ptrace stubs share our cgroup, whose pids limit is a backstop with a margin
                 * for them. */
                struct cg_limits cl = {.memory_bytes = c->limits.memory_bytes, .cpu_millis = c->limits.cpu_millis,
                                       .pids = gvisor ? gvisor_host_pids(c->limits.pids) : c->limits.pids};
                r = cg_create(&L->cg, name, &cl, &sb->cg, d);
                if (r < 0) {
                        uid_pool_release(&sb->slot);
                        return r;
                }
        }

        /* 3-4. Fork the backend. */
        struct plan_input in = {.c = c, .env = env, .env_len = c->env_len,
                                .landlock_required = !gvisor && !(c->allow_weaker & LP_ALLOW_NO_LANDLOCK),
                                .runtime_dest = rt_fd >= 0 ? rt_dest : NULL,
                                .runtime_src = rt_fd >= 0 ? rt_src : NULL};
        struct io io;
        r = io_open(&io, d);
        if (r == 0)
                r = gvisor ? spawn_runsc(L, sb, &in, code_fd, &io, d) : spawn_bwrap(L, sb, &in, code_fd, rt_fd, &io, d);
        safe_close(io.devnull);
        safe_close(io.out_w);
        safe_close(io.err_w);
        io.devnull = io.out_w = io.err_w = -1;
        sb->stdout_r = io.out_r;
        sb->stderr_r = io.err_r;
        if (r < 0) {
                sb->json_r = safe_close(sb->json_r);
                sb->control = safe_close(sb->control);
                sb->net_block = safe_close(sb->net_block);
                io_close(&io);
                sb->stdout_r = sb->stderr_r = -1;
                sb->cg = cg_destroy(sb->cg);
                uid_pool_release(&sb->slot);
                remove_tree(sb->run_dir);
                buf_free(&sb->setup_text);
                return r;
        }
        /* The allowlist, for the proxy (net.c); validated with the rest of the CREATE. A copy
         * that fails leaves the proxy without entries: it then refuses everything. */
        if (c->allow_len && (size_t)c->env_len + c->allow_len <= env_len && (sb->allow = malloc(c->allow_len))) {
                memcpy(sb->allow, env + c->env_len, c->allow_len);
                sb->allow_len = c->allow_len;
        }
        sb->started_ms = now_ms();
        sb->deadline_ms = sb->started_ms + c->limits.timeout_ms;
        fcntl(sb->stderr_r, F_SETFL, O_NONBLOCK);
        /* v2: the first refused fork ends the sandbox as it happens, not at the next tick:
         * a program that ignores the refusals (a fork loop) would otherwise go on trying
         * for up to a tick, on CPUs the other sandboxes and the daemon share. v1 never
         * notifies (cgroup.h): the tick reads it there. */
        if (sb->cg && (sb->pids_events = cg_open_pids_events(sb->cg)) < 0)
                sb->pids_events = -1;
        if (sandbox_watch(L, sb, sb->stderr_r) < 0 ||
            (sb->json_r >= 0 && sandbox_watch(L, sb, sb->json_r) < 0) ||
            (sb->pids_events >= 0 && watch_priority(L, sb, sb->pids_events) < 0)) {
                r = -errno;
                kill(sb->pid, SIGKILL);
                while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                struct sandbox *p = TAKE_PTR(sb);
                p->next = NULL;
                L->nsandboxes++; /* sandbox_free unlinks and decrements */
                p->next = L->sandboxes;
                L->sandboxes = p;
                sandbox_free(L, p);
                return diag_set(d, r, "sandbox", "cannot watch the sandbox: %s", strerror(-r));
        }
        sb->next = L->sandboxes;
        L->sandboxes = sb;
        L->nsandboxes++;
        *ret = TAKE_PTR(sb);
        return 0;
}

static void read_json_status(struct launcher *L, struct sandbox *sb);

static void became_ready(struct launcher *L, struct sandbox *sb, const char *marker_line) {
        const char *ll = strstr(marker_line, "landlock=");
        unsigned long long abi = 0;
        if (ll) {
                char tmp[8];
                snprintf(tmp, sizeof(tmp), "%.*s", (int)strcspn(ll + 9, " \n"), ll + 9);
                if (parse_u64(tmp, &abi) < 0)
                        abi = 0;
        }
        sb->landlock_abi = (int)abi;
        sb->state = SB_RUNNING;
        /* The daemon that asked for it died while it was set up: no session will ever own
         * it (the next daemon re-attached only what was running then), and a restarted
         * daemon, numbering its requests afresh, would take the reply for one of its own. */
        if (sb->client_gen != L->client_gen) {
                sandbox_kill(L, sb, LP_REASON_STOPPED);
                return;
        }
        if (sb->spec.backend == LP_BACKEND_NAMESPACE) {
                /* bwrap reported its pid-namespace init long before the shim's marker; make
                 * sure we have read it, then hold the workspace for file requests. */
                if (sb->init_pid <= 0 && sb->json_r >= 0)
                        read_json_status(L, sb);
                (void)sandbox_open_workspace(sb);
        }
        struct lp_created cr;
        memset(&cr, 0, sizeof(cr));
        cr.sandbox_id = sb->id;
        cr.init_pid = (uint32_t)(sb->init_pid > 0 ? sb->init_pid : sb->pid);
        cr.isolation.backend = sb->spec.backend;
        cr.isolation.cgroup_mode = sb->cg ? (uint8_t)L->cg.mode : 0;
        cr.isolation.landlock_abi = (uint8_t)sb->landlock_abi;
        cr.isolation.seccomp = 1;
        cr.isolation.userns = sb->spec.backend == LP_BACKEND_NAMESPACE;
        /* runsc always runs its Sentry as nobody: no private host uid under gVisor. */
        cr.isolation.uid_private = sb->slot.lock_fd >= 0;
        cr.isolation.network = sb->spec.network;
        cr.isolation.host_uid = sb->host_uid;
        int fds[3] = {sb->stdout_r, sb->stderr_r, sb->control};
        if (L->supervise && sb->control >= 0)
                for (int i = 0; i < 3; i++) /* for the next daemon, should this one die */
                        sb->keep[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        sb->isolation = cr.isolation;
        launcher_send(L, LP_CREATED, sb->create_req_id, &cr, sizeof(cr), fds, sb->control >= 0 ? 3 : 2);
        /* The client owns the output now; holding our copies would only delay its EOF. */
        sb->stderr_r = sandbox_unwatch_close(L, sb->stderr_r);
        sb->stdout_r = safe_close(sb->stdout_r);
        sb->control = safe_close(sb->control);
}

/* Before the marker, the sandbox's stderr carries the backend's and the shim's own
 * messages. Read it a byte at a time so not one byte of the program's output (which
 * follows the marker) is consumed here. */
static void read_setup(struct launcher *L, struct sandbox *sb) {
        for (;;) {
                char ch;
                ssize_t n = read(sb->stderr_r, &ch, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0) /* every writer is gone: the exit handler reports it */
                                sb->stderr_r = sandbox_unwatch_close(L, sb->stderr_r);
                        return;
                }
                if (ch != '\n' && sb->line_len < sizeof(sb->line) - 1) {
                        sb->line[sb->line_len++] = ch;
                        continue;
                }
                sb->line[sb->line_len] = '\0';
                sb->line_len = 0;
                if (strncmp(sb->line, SANDBOX_READY_MARKER, strlen(SANDBOX_READY_MARKER)) == 0) {
                        became_ready(L, sb, sb->line);
                        return;
                }
                (void)buf_printf(&sb->setup_text, "%s%s", sb->setup_text.len ? "; " : "", sb->line);
        }
}

static void read_json_status(struct launcher *L, struct sandbox *sb) {
        char tmp[512];
        for (;;) {
                ssize_t n = read(sb->json_r, tmp, sizeof(tmp) - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n == 0)
                                sb->json_r = sandbox_unwatch_close(L, sb->json_r);
                        return;
                }
                tmp[n] = '\0';
                /* bwrap writes `{ "child-pid": N, ... }` first: the pid-namespace init. */
                const char *p = strstr(tmp, "\"child-pid\":");
                if (p && sb->init_pid <= 0) {
                        p += strlen("\"child-pid\":");
                        while (*p == ' ')
                                p++;
                        char num[16];
                        snprintf(num, sizeof(num), "%.*s", (int)strspn(p, "0123456789"), p);
                        unsigned long long v;
                        if (parse_u64(num, &v) == 0 && v > 0 && v < (1u << 22))
                                sb->init_pid = (pid_t)v;
                        /* Public, allowlist: its namespaces exist now; pid 1 waits on --block-fd. */
                        if (sb->init_pid > 0 && sb->spec.network != LP_NET_NONE && sb->state == SB_STARTING &&
                            sb->net_pid < 0 && !sb->net_failed)
                                net_start(L, sb);
                }
        }
}

/* pids.events changed (v2): a fork was refused. Reading it also rearms the event. */
static void on_pids_event(struct launcher *L, struct sandbox *sb) {
        uint64_t hits = 0;
        if (cg_read_pids_events(sb->pids_events, &hits) < 0 || hits > 0)
                sb->pids_events = sandbox_unwatch_close(L, sb->pids_events); /* once is enough */
        if (hits > 0 && sb->reason == LP_REASON_NONE && sb->state != SB_DONE) {
                sb->limit_value = sb->spec.limits.pids;
                sandbox_kill(L, sb, LP_REASON_PIDS);
        }
}

void sandbox_on_readable(struct launcher *L, struct sandbox *sb, int fd) {
        if (fd == sb->pids_events)
                on_pids_event(L, sb);
        else if (fd == sb->stderr_r && sb->state == SB_STARTING)
                read_setup(L, sb);
        else if (fd == sb->json_r)
                read_json_status(L, sb);
        else
                (void)net_on_readable(L, sb, fd);
}

void sandbox_on_exit(struct launcher *L, struct sandbox *sb, int status) {
        if (sb->state == SB_STARTING) {
                /* Whatever the backend said before dying is the reason. */
                if (sb->stderr_r >= 0)
                        read_setup(L, sb);
        }
        if (sb->state == SB_STARTING) {
                struct diag d = {0};
                if (sb->setup_text.len)
                        diag_set(&d, -ECHILD, "sandbox", "sandbox setup failed: %s", sb->setup_text.data);
                else
                        diag_set(&d, -ECHILD, "sandbox", "sandbox setup failed: backend exited with status %d%s",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                 sb->reason == LP_REASON_TIMEOUT ? " (timed out while starting)" : "");
                /* Only to the daemon that asked: a restarted one numbers its requests afresh,
                 * and would take this for the answer to one of its own. */
                if (sb->client_gen == L->client_gen)
                        launcher_reply_error(L, sb->create_req_id, &d);
                sandbox_free(L, sb);
                return;
        }
        struct lp_exited ex;
        memset(&ex, 0, sizeof(ex));
        ex.sandbox_id = sb->id;
        if (WIFEXITED(status)) {
                ex.exit_code = WEXITSTATUS(status);
        } else {
                ex.signal = WTERMSIG(status);
                ex.exit_code = 128 + ex.signal;
        }
        struct cg_stats cs = {0};
        if (sb->cg && cg_read_stats(sb->cg, &cs) == 0) {
                ex.peak_memory_bytes = cs.memory_peak_bytes;
                ex.cpu_usec = cs.cpu_usec;
                /* The kernel's OOM killer may have ended the program before our tick saw it. */
                if (sb->reason == LP_REASON_NONE && cs.oom_kills > 0) {
                        sb->reason = LP_REASON_OOM;
                        sb->limit_value = sb->spec.limits.memory_bytes;
                }
        }
        ex.reason = sb->reason;
        ex.limit_value = sb->limit_value;
        ex.wall_ms = now_ms() - sb->started_ms;
        sb->state = SB_DONE;
        net_drain(L, sb); /* its connections' events before its end */
        /* Only to a client that has said HELLO: a daemon being restarted learns of the
         * sandboxes that ended meanwhile from the ATTACHED frames it does not get. */
        if (L->hello_done)
                launcher_send(L, LP_EXITED, 0, &ex, sizeof(ex), NULL, 0);
        sandbox_free(L, sb);
}

/* SIGINT to every descendant of pid (depth first, bounded), as ^C reaches a whole
 * foreground job. Children are listed per thread, so every task's list is read. The
 * pid-namespace init itself is spared: it is bwrap's reaper. */
/* The session id of a process (field 6 of /proc/PID/stat), or -1. */
static pid_t session_of(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_small_file(path, buf, sizeof(buf)) <= 0)
                return -1;
        const char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
        int field = 2;
        for (; p && *p && field < 6; p++)
                if (*p == ' ')
                        field++;
        unsigned long long v;
        char num[16];
        if (!p)
                return -1;
        snprintf(num, sizeof(num), "%.*s", (int)strspn(p, "0123456789"), p);
        return parse_u64(num, &v) == 0 ? (pid_t)v : -1;
}

static void interrupt_descendants(pid_t pid, int depth, unsigned *budget, pid_t only_session) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        if (depth > 32)
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)) && *budget > 0) {
                if (e->d_name[0] == '.')
                        continue;
                char path[128], buf[4096];
                if (strfmt(path, sizeof(path), "%s/%s/children", dir, e->d_name) < 0 ||
                    read_small_file(path, buf, sizeof(buf)) <= 0)
                        continue;
                for (char *tok = buf, *end; *tok && *budget > 0; tok = end) {
                        end = tok + strcspn(tok, " \n");
                        char save = *end;
                        *end = '\0';
                        unsigned long long v;
                        if (parse_u64(tok, &v) == 0 && v > 1 && v < (1u << 22)) {
                                (*budget)--;
                                if (only_session <= 0 || session_of((pid_t)v) == only_session)
                                        kill((pid_t)v, SIGINT);
                                interrupt_descendants((pid_t)v, depth + 1, budget, only_session);
                        }
                        *end = save;
                        end += strspn(end, " \n");
                }
        }
        closedir(d);
}

/* only_payload_session: interrupt only the processes in the payload's own session (a
 * session runner and the code it runs), not the background tasks it started in sessions
 * of their own. */
static void send_interrupt(struct sandbox *sb, bool only_payload_session) {
        if (sb->spec.backend == LP_BACKEND_NAMESPACE && sb->init_pid > 0) {
                unsigned budget = 4096;
                pid_t session = -1;
                if (only_payload_session) {
                        char path[64], buf[64];
                        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", sb->init_pid, sb->init_pid);
                        unsigned long long v;
                        if (read_small_file(path, buf, sizeof(buf)) > 0) {
                                buf[strcspn(buf, " \n")] = '\0';
                                if (parse_u64(buf, &v) == 0 && v > 1 && v < (1u << 22))
                                        session = session_of((pid_t)v);
                        }
                }
                interrupt_descendants(sb->init_pid, 0, &budget, session);
                return;
        }
        if (sb->spec.backend == LP_BACKEND_GVISOR) {
                /* `runsc run` does not pass a SIGINT on to the program; `runsc kill --all`
                 * delivers it to every process in the container.
                 * Fire and forget: the SIGCHLD loop reaps it. */
                char root[200];
                snprintf(root, sizeof(root), "--root=%s/state", sb->run_dir);
                pid_t pid = fork();
                if (pid == 0) {
                        sigset_t none;
                        sigemptyset(&none);
                        sigprocmask(SIG_SETMASK, &none, NULL);
                        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                        const int fds[] = {devnull, devnull, devnull};
                        if (devnull < 0 || sandbox_layout_fds(fds, 3) < 0)
                                _exit(125);
                        char *const argv[] = {(char *)"runsc", root,       (char *)"kill", (char *)"--all",
                                              sb->gv_name,   (char *)"INT", NULL};
                        char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
                        execve(RUNSC_PATH, argv, envp);
                        _exit(127);
                }
                return;
        }
        kill(sb->pid, SIGINT);
}

void sandbox_interrupt_only(struct sandbox *sb) {
        if (sb->state == SB_RUNNING)
                send_interrupt(sb, true);
}

void sandbox_interrupt(struct launcher *L, struct sandbox *sb, uint8_t reason) {
        (void)L;
        if (sb->state == SB_DONE || sb->interrupted)
                return;
        if (sb->reason == LP_REASON_NONE) {
                sb->reason = reason;
                if (reason == LP_REASON_TIMEOUT)
                        sb->limit_value = sb->spec.limits.timeout_ms;
        }
        sb->interrupted = true;
        sb->kill_at_ms = now_ms() + sb->spec.limits.interrupt_grace_ms;
        if (sb->state == SB_RUNNING)
                send_interrupt(sb, false);
        if (sb->spec.limits.interrupt_grace_ms == 0 || sb->state == SB_STARTING)
                sandbox_kill(L, sb, reason);
}

void sandbox_kill(struct launcher *L, struct sandbox *sb, uint8_t reason) {
        (void)L;
        if (sb->state == SB_DONE)
                return;
        if (sb->reason == LP_REASON_NONE)
                sb->reason = reason;
        sb->kill_at_ms = 0;
        /* With a cgroup, everything the sandbox started gets SIGKILL at once, the backend
         * process included, and cannot fork any more (cg_kill_nowait()). Without one,
         * killing the backend kills the pid namespace's init (PDEATHSIG) and with it every
         * process inside. Not waited for: a fork bomb's hundreds of exits take tens of
         * milliseconds, in which this loop serves every other sandbox; the next ticks
         * send another round until the backend's exit is reaped, and its cgroup is
         * removed once empty (graves). */
        if (sb->cg) {
                (void)cg_kill_nowait(sb->cg);
                sb->kill_sent = true;
        }
        if (sb->init_pid > 0)
                kill(sb->init_pid, SIGKILL);
        kill(sb->pid, SIGKILL);
}

void sandbox_tick(struct launcher *L, struct sandbox *sb) {
        if (sb->state == SB_DONE)
                return;
        uint64_t now = now_ms();
        if (sb->kill_sent) {
                /* A child forked just before the first round (cg_kill_nowait()). */
                (void)cg_kill_nowait(sb->cg);
                return;
        }
        if (sb->state == SB_STARTING && now >= sb->started_ms + SETUP_TIMEOUT_MS) {
                sandbox_kill(L, sb, LP_REASON_SETUP);
                return;
        }
        if (!sb->interrupted && now >= sb->deadline_ms)
                sandbox_interrupt(L, sb, LP_REASON_TIMEOUT);
        if (sb->kill_at_ms && now >= sb->kill_at_ms)
                sandbox_kill(L, sb, sb->reason);
        if (sb->cg && sb->reason == LP_REASON_NONE) {
                struct cg_stats cs;
                if (cg_read_events(sb->cg, &cs) == 0) {
                        if (cs.oom_kills > 0) {
                                sb->limit_value = sb->spec.limits.memory_bytes;
                                sandbox_kill(L, sb, LP_REASON_OOM);
                        } else if (cs.pids_max_hits > 0) {
                                sb->limit_value = sb->spec.limits.pids;
                                sandbox_kill(L, sb, LP_REASON_PIDS);
                        }
                }
        }
}
