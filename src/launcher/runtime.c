/* runtime: find a built runtime (docs/runtimes.md) for a sandbox, without trusting the
 * client with a path.
 *
 * The client names NAME@vN (validated by lp_validate_create). The launcher builds the
 * path from its own data directory, opens it one component at a time with O_NOFOLLOW
 * (a symlink anywhere is refused), and checks that the build finished (the READY marker
 * `airlock runtimes build` writes last) and that nothing in it is writable by anyone
 * but root: the fd it checked is the one bwrap binds (--ro-bind-fd), so no path is
 * resolved twice. The data directory comes from the daemon's own settings, which the
 * operator gave `airlock serve`: --data-dir, AIRLOCK_DATA_DIR, a config file's data_dir,
 * else /var/lib/airlock (the daemon's precedence: flags over environment over file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "launcher/launcher.h"

/* `data_dir: VALUE` at the start of a line of the daemon's YAML config (its settings are
 * one flat mapping); quotes around VALUE are dropped. */
static void data_dir_from_file(const char *file, char *out, size_t cap) {
        FILE *f = fopen(file, "re");
        if (!f)
                return; /* the daemon reports an unreadable config itself */
        char line[1024];
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "data_dir:", 9) != 0)
                        continue;
                char *v = line + 9;
                v += strspn(v, " \t");
                size_t n = strcspn(v, "\r\n#");
                while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                        n--;
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                        v++;
                        n -= 2;
                }
                if (n && n < cap && v[0] == '/')
                        snprintf(out, cap, "%.*s", (int)n, v);
        }
        fclose(f);
}

void runtime_find_data_dir(struct launcher *L) {
        char dir[sizeof(L->data_dir)] = "/var/lib/airlock";
        const char *config = NULL, *flag = NULL;
        for (int i = 0; i < L->ndaemon_args; i++) {
                const char *a = L->daemon_args[i];
                if (!a)
                        break;
                const char *next = i + 1 < L->ndaemon_args ? L->daemon_args[i + 1] : NULL;
                if ((!strcmp(a, "--config") || !strcmp(a, "-c")) && next)
                        config = next;
                else if (!strncmp(a, "--config=", 9))
                        config = a + 9;
                else if ((!strcmp(a, "--data-dir") || !strcmp(a, "-d")) && next)
                        flag = next;
                else if (!strncmp(a, "--data-dir=", 11))
                        flag = a + 11;
        }
        if (config)
                data_dir_from_file(config, dir, sizeof(dir));
        const char *env = getenv("AIRLOCK_DATA_DIR");
        if (env && env[0] == '/' && strlen(env) < sizeof(dir))
                snprintf(dir, sizeof(dir), "%s", env);
        if (flag && flag[0] == '/' && strlen(flag) < sizeof(dir))
                snprintf(dir, sizeof(dir), "%s", flag);
        snprintf(L->data_dir, sizeof(L->data_dir), "%s", dir);
}

/* One component below dirfd: a directory, no symlink, root's, written by nobody else. */
static int open_component(int dirfd, const char *name, const char *what, struct diag *d) {
        int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return diag_set(d, -errno, "runtime", "%s: %s", what,
                                errno == ENOENT ? "no such runtime version on this host" : strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = -errno;
                close(fd);
                return diag_set(d, e, "runtime", "%s: %s", what, strerror(-e));
        }
        if (st.st_uid != 0 || (st.st_mode & 022)) {
                close(fd);
                return diag_set(d, -EPERM, "runtime", "%s is not root's and read-only; refusing to mount it", what);
        }
        return fd;
}

int runtime_open(const struct launcher *L, const char *spec, char *dest, size_t dest_cap, char *src, size_t src_cap,
                 struct diag *d) {
        char name[LP_RUNTIME_NAME_MAX + 1], ver[16];
        unsigned version;
        if (lp_parse_runtime(spec, name, sizeof(name), &version) < 0 || version == 0)
                return diag_set(d, -EINVAL, "runtime", "not a runtime version: '%s'", spec);
        if (!L->supervise)
                return diag_set(d, -EOPNOTSUPP, "runtime",
                                "built runtimes run only under `airlock serve` (this launcher has: default)");
        snprintf(ver, sizeof(ver), "v%u", version);
        if ((size_t)snprintf(dest, dest_cap, LP_RUNTIME_MOUNT_BASE "/%s/%s", name, ver) >= dest_cap ||
            (size_t)snprintf(src, src_cap, "%s/runtimes/%s/%s/root", L->data_dir, name, ver) >= src_cap)
                return diag_set(d, -ENAMETOOLONG, "runtime", "the runtime's path is too long");
        char runtimes[sizeof(L->data_dir) + 16];
        snprintf(runtimes, sizeof(runtimes), "%s/runtimes", L->data_dir);
        _cleanup_close_ int top = open(runtimes, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return diag_set(d, -errno, "runtime", "runtime %s: %s: %m", spec, runtimes);
        /* The data dir is the daemon's: a `runtimes` there that is not root's (or one the
         * daemon swapped in) is not trusted. */
        struct stat tst;
        if (fstat(top, &tst) < 0 || tst.st_uid != 0 || (tst.st_mode & 022))
                return diag_set(d, -EPERM, "runtime", "%s is not root's and read-only; refusing to mount from it",
                                runtimes);
        _cleanup_close_ int nfd = open_component(top, name, spec, d);
        if (nfd < 0)
                return nfd;
        _cleanup_close_ int vfd = open_component(nfd, ver, spec, d);
        if (vfd < 0)
                return vfd;
        struct stat st;
        if (fstatat(vfd, "READY", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0)
                return diag_set(d, -ENOENT, "runtime", "runtime %s did not build (no READY marker)", spec);
        return open_component(vfd, "root", spec, d);
}
