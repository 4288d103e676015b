#include "sandbox/host_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/buf.h"
#include "common/fdutil.h"

int landlock_abi_version(void) {
        long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        return v < 0 ? 0 : (int)v;
}

/* Run `prog --version` with a clean environment and capture the first line. */
static int tool_version(const char *prog, char *out, size_t cap) {
        out[0] = '\0';
        if (access(prog, X_OK) < 0)
                return -errno;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                close(p[0]);
                close(p[1]);
                return e;
        }
        if (pid == 0) {
                dup2(p[1], 1);
                int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (devnull >= 0)
                        dup2(devnull, 2);
                char *const argv[] = {(char *)prog, (char *)"--version", NULL};
                char *const envp[] = {(char *)"PATH=/usr/bin:/bin", NULL};
                execve(prog, argv, envp);
                _exit(127);
        }
        close(p[1]);
        char buf[256];
        size_t off = 0;
        for (;;) {
                ssize_t n = read(p[0], buf + off, sizeof(buf) - 1 - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                off += (size_t)n;
                if (off >= sizeof(buf) - 1)
                        break;
        }
        close(p[0]);
        buf[off] = '\0';
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        (void)strfmt(out, cap, "%s", buf);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOEXEC;
}

static long sysctl_long(const char *path, long dflt) {
        char buf[64];
        unsigned long long v;
        if (read_small_file(path, buf, sizeof(buf)) < 0)
                return dflt;
        buf[strcspn(buf, "\n")] = '\0';
        return parse_u64(buf, &v) == 0 ? (long)v : dflt;
}

static void note(struct lp_host_report *r, const char *line) {
        size_t used = strlen(r->notes);
        if (used + 1 < sizeof(r->notes))
                snprintf(r->notes + used, sizeof(r->notes) - used, "%s%s", used ? "\n" : "", line);
}

void host_probe_runsc_version(struct lp_host_report *r) {
        char rv[128];
        if (r->runsc_version[0])
                return;
        r->runsc = tool_version(RUNSC_PATH, rv, sizeof(rv)) == 0;
        (void)strfmt(r->runsc_version, sizeof(r->runsc_version), "%s", rv);
}

int host_probe(struct lp_host_report *r, struct cg_host *ret_cg) {
        memset(r, 0, sizeof(*r));
        r->is_root = geteuid() == 0;

        struct utsname u;
        if (uname(&u) == 0)
                (void)strfmt(r->kernel, sizeof(r->kernel), "%s %s", u.sysname, u.release);

        /* Unprivileged user namespaces: off when max_user_namespaces is 0, when the Debian
         * knob says so, or when Ubuntu's AppArmor restriction is on (bwrap then needs a
         * profile: docs/security.md). */
        long maxns = sysctl_long("/proc/sys/user/max_user_namespaces", 0);
        long deb = sysctl_long("/proc/sys/kernel/unprivileged_userns_clone", 1);
        long aa = sysctl_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 0);
        r->userns = maxns > 0 && deb != 0;
        if (!r->userns)
                note(r, "user namespaces are disabled (user.max_user_namespaces / unprivileged_userns_clone)");
        if (aa)
                note(r, "AppArmor restricts unprivileged user namespaces: install the bwrap profile (docs/security.md)");

        r->seccomp = prctl(PR_GET_SECCOMP) >= 0;
        if (!r->seccomp)
                note(r, "seccomp filters are unavailable: kernel built without CONFIG_SECCOMP_FILTER");
        int ll = landlock_abi_version();
        r->landlock_abi = (uint8_t)(ll > 255 ? 255 : ll);
        if (!ll)
                note(r, "Landlock is unavailable (kernel < 5.13 or not in the lsm= list)");
        r->tiocsti_legacy = (uint8_t)sysctl_long("/proc/sys/dev/tty/legacy_tiocsti", 1);

        r->bwrap = tool_version(BWRAP_PATH, r->bwrap_version, sizeof(r->bwrap_version)) == 0;
        if (!r->bwrap)
                note(r, "bubblewrap not found at " BWRAP_PATH " (apt-get install bubblewrap)");
        r->runsc = access(RUNSC_PATH, X_OK) == 0;
        /* Network mode public: slirp4netns, the tun driver's /dev/net (slirp gets a device
         * node of its own there, launcher/net.c) and nft (the rules that log every flow and
         * refusal). Only a sandbox asking for public is refused without them: no note. */
        struct stat tun;
        r->slirp4netns = access(SLIRP4NETNS_PATH, X_OK) == 0 && access(NFT_PATH, X_OK) == 0 &&
                         stat("/dev/net/tun", &tun) == 0 && S_ISCHR(tun.st_mode);

        struct diag d = {0};
        struct cg_host cg;
        memset(&cg, 0, sizeof(cg));
        if (!r->is_root) {
                cg.mode = CG_NONE;
                note(r, "not root: no cgroup limits unless a delegated cgroup is configured");
        } else if (cg_host_detect("/sys/fs/cgroup", "airlock", &cg, &d) < 0) {
                cg.mode = CG_NONE;
                char line[DIAG_MSG_MAX + 32];
                snprintf(line, sizeof(line), "cgroups unusable: %s", d.msg);
                note(r, line);
        }
        r->cgroup_mode = (uint8_t)cg.mode;
        r->cgroup_controllers = cg.controllers;
        if (cg.mode != CG_NONE)
                (void)strfmt(r->cgroup_root, sizeof(r->cgroup_root), "%s/%s", cg.fsroot, cg.parent);
        else if (r->is_root)
                note(r, "no usable cgroup hierarchy under /sys/fs/cgroup");
        if (ret_cg)
                *ret_cg = cg;
        return 0;
}
