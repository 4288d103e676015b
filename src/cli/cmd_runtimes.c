/* airlock runtimes: build a runtime on this host (root, like `airlock serve`), and list
 * the runtimes a running daemon offers (docs/runtimes.md, docs/adr/0014).
 *
 * `build NAME --from CONFIG` makes DATA_DIR/runtimes/NAME/vN (N the next number):
 *   vN/root        the tree sandboxes mount read-only at /opt/airlock/runtimes/NAME/vN:
 *                  venv/ (python3 -m venv --system-site-packages, then pip) and node/
 *                  (npm install), built at that same path so absolute paths hold
 *   vN/build.log   everything the build printed (also streamed to our stderr)
 *   vN/manifest.json  config, status, versions, what got installed, size, duration
 *   vN/READY       written last, only when the build succeeded: the launcher's check
 * The build itself runs confined: a child drops to AIRLOCK_BUILDER_UID with
 * no_new_privs and runs the steps in bubblewrap, where the host's / is read-only, the data
 * directories, /root, /home and /run are hidden, and only vN/root is writable (the host
 * network is shared: pip and npm fetch). Afterwards vN/root is handed to root and made
 * read-only; a version never changes again, and a failed one never becomes current.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "client/launcher_client.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "proto/launch_proto.h"
#include "runtime/runtime_config.h"

#define REQUEST_TIMEOUT_S 60L
#define BWRAP "/usr/bin/bwrap"
#define RESULT_FILE ".airlock-build.json" /* the builder's report, in its writable root */
#define RESULT_MAX (4u << 20)
#define LOG_TAIL 400 /* bytes of the log repeated when no package is to blame */

static const char usage[] =
        "usage: airlock runtimes <build|ls|get|rm> [options]\n"
        "\n"
        "A runtime is an immutable, versioned, read-only tree (a Python venv over the host's\n"
        "python, npm packages, environment variables) that sandboxes mount. 'default' is the\n"
        "host's own /usr and needs no build. docs/runtimes.md explains them.\n"
        "\n"
        "  airlock runtimes build NAME --from CONFIG.json [--data-dir DIR]\n"
        "        build version N+1 of NAME on this host (as root, like `airlock serve`); the\n"
        "        daemon offers it at once. NAME: a lowercase letter, then up to 23 of [a-z0-9-].\n"
        "        CONFIG: {\"language\": \"python3\", \"packages\": [...], \"npm_packages\": [...],\n"
        "        \"environment\": {...}, \"apt\": [...], \"index_url\": URL, \"extra_index_urls\": [...]}\n"
        "        --data-dir DIR   the daemon's data directory (default $AIRLOCK_DATA_DIR, else\n"
        "                         /var/lib/airlock)\n"
        "  airlock runtimes rm NAME[@vN] [--data-dir DIR]\n"
        "        remove every version of NAME, or one (root, on the host); refused while an\n"
        "        interpreter or a live session uses it\n"
        "  airlock runtimes ls             the runtimes a daemon offers\n"
        "  airlock runtimes get NAME       one of them, with its versions\n"
        "\n"
        "      --json                   print the daemon's JSON (ls, get)\n"
        "      --url URL                the daemon (default $AIRLOCK_URL, else " CLI_DEFAULT_URL ")\n"
        "      --api-key KEY            a key (default $AIRLOCK_API_KEY)\n"
        "  -h, --help                   this text\n"
        "\n"
        "Use one in an interpreter: airlock interpreters create NAME --runtime RUNTIME[@vN].\n"
        "Exit status: 0 ok, 1 the build failed or the daemon refused, 2 bad usage or config.\n";

/* ---- build ---- */

struct build {
        const char *name;
        const char *data_dir;
        json_t *cfg;
        unsigned version;
        char vdir[500], root[520], dest[128];
        int log_fd;
        double started;
};

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *name, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "airlock: runtime %s build failed: ", name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return CLI_EXIT_API;
}

/* Run argv (no shell), its stdout into out (at most cap-1 bytes). Returns the exit status
 * or -errno. */
static int run_capture(char *const argv[], char *out, size_t cap) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return -errno;
        }
        if (pid == 0) {
                dup2(p[1], 1);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, 2);
                char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LANG=C", NULL};
                execve(argv[0], argv, envp);
                _exit(127);
        }
        close(p[1]);
        size_t n = 0;
        for (;;) {
                ssize_t k = read(p[0], out + n, cap - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (n == cap - 1)
                        break;
        }
        out[n] = '\0';
        close(p[0]);
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The Debian packages of `apt` that are not installed here. Building other roots than
 * the host's is out of scope: they must be installed on the host first. */
static int check_apt(const char *name, json_t *cfg) {
        size_t i;
        json_t *v;
        char missing[2048] = "";
        size_t m = 0;
        json_array_foreach(json_object_get(cfg, "apt"), i, v) {
                char out[256];
                char *const argv[] = {(char *)"/usr/bin/dpkg-query", (char *)"-W", (char *)"-f=${Status}",
                                      (char *)json_string_value(v), NULL};
                int r = run_capture(argv, out, sizeof(out));
                if (r == 0 && strstr(out, "install ok installed"))
                        continue;
                m += (size_t)snprintf(missing + m, m < sizeof(missing) ? sizeof(missing) - m : 0, "%s%s",
                                      m ? " " : "", json_string_value(v));
                if (m >= sizeof(missing))
                        m = sizeof(missing) - 1;
        }
        if (!m)
                return 0;
        return fail(name,
                    "apt: not installed on this host: %s (install them first: apt-get install %s; a runtime is "
                    "layered over the host's own /usr, other roots are not built)",
                    missing, missing);
}

/* "python3.11": what /usr/bin/python3 is. */
static int host_python(char *out, size_t cap) {
        char link[64];
        ssize_t n = readlink("/usr/bin/python3", link, sizeof(link) - 1);
        if (n <= 0)
                return -ENOENT;
        link[n] = '\0';
        const char *base = strrchr(link, '/');
        snprintf(out, cap, "%s", base ? base + 1 : link);
        return 0;
}

/* DATA/runtimes, opened once and checked: root's and written by nobody else. The data dir
 * is the daemon's (it may rename anything in it at any moment), so root never resolves a
 * path through it after this: every path of a build or a removal is /proc/self/fd/N/...,
 * N this fd, which stays open for the whole command. Below it everything is root's, but a
 * version's root, which is the builder's until its processes are gone and it is sealed. */
static int open_runtimes(const char *data_dir, bool create, char *base, size_t cap) {
        _cleanup_close_ int dfd = open(data_dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (create && mkdirat(dfd, "runtimes", 0755) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(dfd, "runtimes", O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022 && fchmod(fd, 0755) < 0)) {
                close(fd);
                return -EPERM;
        }
        snprintf(base, cap, "/proc/self/fd/%d", fd);
        return fd;
}

static int mkdir_owned(const char *path, mode_t mode) {
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
                return -ENOTDIR;
        return 0;
}

/* The next version number of NAME: one past the highest vN present, failed ones included
 * (a number is never reused). */
static unsigned next_version(const char *name_dir) {
        unsigned max = 0;
        /* Removed versions too: `.removing-vN-PID` while they go, and NAME/.last for good. */
        char last_path[520], text[16] = "";
        snprintf(last_path, sizeof(last_path), "%s/.last", name_dir);
        int lf = open(last_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (lf >= 0) {
                ssize_t n = read(lf, text, sizeof(text) - 1);
                close(lf);
                char *end = NULL;
                unsigned long v = n > 0 ? strtoul(text, &end, 10) : 0;
                if (n > 0 && end != text && v < 1000000)
                        max = (unsigned)v;
        }
        DIR *d = opendir(name_dir);
        if (!d)
                return max + 1;
        struct dirent *e;
        while ((e = readdir(d))) {
                char name[LP_RUNTIME_MAX + 1];
                unsigned v;
                char spec[300];
                const char *entry = e->d_name;
                if (!strncmp(entry, ".removing-", 10))
                        entry += 10;
                snprintf(spec, sizeof(spec), "x@%.*s", (int)strcspn(entry, "-"), entry);
                if (lp_parse_runtime(spec, name, sizeof(name), &v) == 0 && v > max)
                        max = v;
        }
        closedir(d);
        return max + 1;
}

/* NAME/.last: the highest version number ever given, so that removing one never frees it. */
static void note_version(const char *name_dir, unsigned version) {
        char path[520], text[16];
        snprintf(path, sizeof(path), "%s/.last", name_dir);
        int n = snprintf(text, sizeof(text), "%u\n", version);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
                (void)write_all(fd, text, (size_t)n);
                close(fd);
        }
}

/* Everything below the root: root's, and written by no one. */
static uint64_t tree_bytes;
static int lock_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)ftw;
        /* A hard link the builder made to a file it does not own would be handed to root
         * here (fs.protected_hardlinks normally forbids making one): refuse the build. */
        if (type == FTW_F && st->st_nlink > 1 && st->st_uid != AIRLOCK_BUILDER_UID) {
                errno = EPERM;
                return -1;
        }
        if (lchown(path, 0, 0) < 0)
                return -1;
        if (type == FTW_SL)
                return 0;
        tree_bytes += (uint64_t)st->st_size;
        mode_t mode = st->st_mode & 07555;
        mode &= (mode_t)~(S_ISUID | S_ISGID);
        if (type == FTW_D || type == FTW_DP)
                mode |= 0555;
        else
                mode |= 0444;
        return chmod(path, mode) < 0 ? -1 : 0;
}

static int lock_tree(const char *root, uint64_t *bytes) {
        tree_bytes = 0;
        int r = nftw(root, lock_one, 64, FTW_PHYS | FTW_DEPTH);
        *bytes = tree_bytes;
        return r < 0 ? -errno : 0;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len) {
        char path[640];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        return write_all(fd, data, len);
}

/* The child: drop to the builder uid, then bubblewrap runs the steps (the script) with
 * only the version's root writable, at its final path. fds: 0 /dev/null, 1 and 2 the log
 * pipe, 3 the script, 4 the config. */
static void builder_child(const struct build *b, int log_w, int script_fd, int cfg_fd) {
        const int fds[] = {-1, log_w, log_w, script_fd, cfg_fd};
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
                _exit(125);
        /* Still root. The version's root as we made it (through the runtimes fd), then a mount
         * namespace of our own and, in it, the same directory by name: a bind takes a source
         * in the caller's namespace. The daemon owns the directories on that name's way and
         * may have swapped them, so what the name reaches must be the very directory (device
         * and inode) we made; the bind then goes through that fd, not the name. */
        struct stat made, found;
        if (stat(b->root, &made) < 0)
                _exit(125);
        char by_name[700];
        snprintf(by_name, sizeof(by_name), "%s/runtimes/%s/v%u/root", b->data_dir, b->name, b->version);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                dprintf(2, "airlock-build: cannot make a mount namespace: %s\n", strerror(errno));
                _exit(125);
        }
        int root_fd = open(by_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root_fd < 0 || fstat(root_fd, &found) < 0 || found.st_dev != made.st_dev || found.st_ino != made.st_ino) {
                dprintf(2, "airlock-build: %s is not the directory made for this build (the data dir changed under "
                           "us); refusing\n", by_name);
                _exit(125);
        }
        if ((root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 100)) < 0)
                _exit(125);
        int src[ARRAY_SIZE(fds)];
        for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
                src[i] = fds[i] < 0 ? null : fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
        for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
                if (src[i] < 0 || dup2(src[i], (int)i) < 0)
                        _exit(125);
        close_fds_except((int)ARRAY_SIZE(fds), &root_fd, 1);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Still root: a mount namespace of our own where the version's root appears at its
         * final path, on a small tmpfs over /opt (the host's /opt is not the build's).
         * bwrap, as the builder uid, binds it from there: it resolves sources by name, and
         * the real path lies under the data directory, which that uid cannot search. */
        char dir[sizeof(b->dest)];
        umask(022);
        if (mount("airlock-build", "/opt", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0) {
                dprintf(2, "airlock-build: cannot stage the runtime at %s (a mount namespace, /opt): %s\n", b->dest,
                        strerror(errno));
                _exit(125);
        }
        for (const char *p = strchr(b->dest + 1, '/');; p = strchr(p + 1, '/')) {
                snprintf(dir, sizeof(dir), "%.*s", (int)(p ? (size_t)(p - b->dest) : strlen(b->dest)), b->dest);
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        _exit(125);
                if (!p)
                        break;
        }
        char root_src[64];
        snprintf(root_src, sizeof(root_src), "/proc/self/fd/%d", root_fd);
        if (mount(root_src, b->dest, NULL, MS_BIND, NULL) < 0) {
                dprintf(2, "airlock-build: cannot bind the runtime's root at %s: %s\n", b->dest, strerror(errno));
                _exit(125);
        }
        if (setgroups(0, NULL) < 0 || setresgid(AIRLOCK_BUILDER_UID, AIRLOCK_BUILDER_UID, AIRLOCK_BUILDER_UID) < 0 ||
            setresuid(AIRLOCK_BUILDER_UID, AIRLOCK_BUILDER_UID, AIRLOCK_BUILDER_UID) < 0 ||
            getuid() != AIRLOCK_BUILDER_UID || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                dprintf(2, "airlock-build: cannot drop to the builder uid %u: %s\n", AIRLOCK_BUILDER_UID,
                        strerror(errno));
                _exit(125);
        }
        char *argv[96];
        int n = 0;
#define A(s) argv[n++] = (char *)(s)
        A("bwrap");
        A("--unshare-user");
        A("--unshare-pid");
        A("--unshare-ipc");
        A("--unshare-uts");
        A("--unshare-cgroup-try");
        A("--die-with-parent");
        A("--new-session");
        A("--clearenv");
        A("--setenv"), A("PATH"), A("/usr/local/bin:/usr/bin:/bin");
        A("--setenv"), A("HOME"), A("/tmp/home");
        A("--setenv"), A("LANG"), A("C.UTF-8");
        A("--setenv"), A("PIP_DISABLE_PIP_VERSION_CHECK"), A("1");
        A("--setenv"), A("PYTHONDONTWRITEBYTECODE"), A("1");
        A("--ro-bind"), A("/"), A("/");
        A("--dev"), A("/dev");
        A("--proc"), A("/proc");
        /* The root at its final path (staged above), the one writable place. */
        A("--bind"), A(b->dest), A(b->dest);
        /* Hidden: people's homes, root's, the services' state (the launcher's under /run,
         * every data directory), the launcher's socket directory. */
        static const char *const hide[] = {"/tmp", "/root", "/home", "/run", "/var/lib/airlock", NULL};
        for (size_t i = 0; hide[i]; i++) {
                struct stat st;
                if (stat(hide[i], &st) == 0 && S_ISDIR(st.st_mode)) {
                        A("--tmpfs");
                        A(hide[i]);
                }
        }
        struct stat st;
        if (stat(b->data_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
                A("--tmpfs");
                A(b->data_dir);
        }
        A("--dir"), A("/tmp/home");
        A("--ro-bind-data"), A("3"), A("/run/airlock-build/build.py");
        A("--ro-bind-data"), A("4"), A("/run/airlock-build/config.json");
        A("--chdir"), A("/tmp");
        A("--cap-drop"), A("ALL");
        A("--");
        A("/usr/bin/python3");
        A("-I");
        A("/run/airlock-build/build.py");
        A("/run/airlock-build/config.json");
        A(b->dest);
        A(NULL);
#undef A
        char *const envp[] = {NULL};
        execve(BWRAP, argv, envp);
        dprintf(2, "airlock-build: cannot run " BWRAP ": %s\n", strerror(errno));
        _exit(127);
}

/* Copy the builder's output to the log and our stderr until it closes; keep it all for
 * the failure parser. */
static void pump(int from, int log_fd, struct buf *all) {
        char chunk[8192];
        for (;;) {
                ssize_t n = read(from, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                (void)write_all(log_fd, chunk, (size_t)n);
                /* The terminal gets no control sequences from a package's build output. */
                for (ssize_t i = 0; i < n; i++)
                        if (((unsigned char)chunk[i] < 0x20 && chunk[i] != '\n' && chunk[i] != '\t') ||
                            chunk[i] == 0x7f)
                                chunk[i] = '?';
                (void)write_all(2, chunk, (size_t)n);
                (void)buf_append(all, chunk, (size_t)n);
        }
}

/* The builder's report (written inside the sandbox: untrusted, so only known fields of
 * the expected types are copied into the manifest). */
static json_t *read_result(const struct build *b) {
        char path[640];
        snprintf(path, sizeof(path), "%s/" RESULT_FILE, b->root);
        /* Non-blocking: a FIFO left there would otherwise hold root here forever. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)RESULT_MAX)
                return NULL;
        json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, NULL);
        unlink(path);
        if (!j)
                return NULL;
        json_t *out = json_object();
        static const char *const strs[] = {"python_version", "node_version", NULL};
        for (size_t i = 0; strs[i]; i++) {
                json_t *v = json_object_get(j, strs[i]);
                if (json_is_string(v) && json_string_length(v) < 64)
                        json_object_set(out, strs[i], v);
        }
        json_t *freeze = json_array(), *imports = json_object(), *npm = json_object();
        size_t i;
        json_t *v;
        const char *k;
        json_array_foreach(json_object_get(j, "freeze"), i, v) {
                if (json_is_string(v) && json_string_length(v) < 512)
                        json_array_append(freeze, v);
        }
        json_object_foreach(json_object_get(j, "import_names"), k, v) {
                if (json_is_string(v) && strlen(k) < 128 && json_string_length(v) < 128)
                        json_object_set(imports, k, v);
        }
        json_object_foreach(json_object_get(j, "npm"), k, v) {
                if (json_is_string(v) && strlen(k) < 215 && json_string_length(v) < 128)
                        json_object_set(npm, k, v);
        }
        json_object_set_new(out, "installed", freeze);
        json_object_set_new(out, "import_names", imports);
        json_object_set_new(out, "npm_installed", npm);
        json_decref(j);
        return out;
}

static int runtimes_build(int argc, char **argv) {
        const char *prog = "runtimes build";
        struct build b;
        memset(&b, 0, sizeof(b));
        b.log_fd = -1;
        const char *from = NULL;
        b.data_dir = getenv("AIRLOCK_DATA_DIR");
        static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                             {"data-dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (opt == 'f')
                        from = optarg;
                else if (opt == 'd')
                        b.data_dir = optarg;
                else if (opt == 'h') {
                        fputs(usage, stdout);
                        return 0;
                } else
                        return cli_getopt_error(prog, opt, argv);
        }
        if (optind >= argc)
                return cli_usage_error(prog, "which runtime? give its NAME");
        if (optind + 1 < argc)
                return cli_usage_error(prog, "unexpected argument '%s'", argv[optind + 1]);
        b.name = argv[optind];
        if (!strcmp(b.name, "default") || !lp_valid_runtime_name(b.name, strlen(b.name)))
                return cli_usage_error(prog,
                                       "NAME: a lowercase letter, then up to %d of [a-z0-9-], not ending in '-' and "
                                       "not 'default'; got '%.64s'",
                                       LP_RUNTIME_NAME_MAX - 1, b.name);
        if (!from)
                return cli_usage_error(prog, "--from CONFIG.json is required");
        if (!b.data_dir || !b.data_dir[0])
                b.data_dir = "/var/lib/airlock";
        if (b.data_dir[0] != '/' || strlen(b.data_dir) > 300)
                return cli_usage_error(prog, "--data-dir: an absolute path of at most 300 bytes");
        if (geteuid() != 0)
                return cli_usage_error(prog, "building a runtime needs root (it runs the build as a reserved "
                                             "uid and hands the result to root, read-only)");

        /* 1. The config, and what the host must have. */
        static char text[RUNTIME_CONFIG_MAX + 1];
        ssize_t tn = read_small_file(from, text, sizeof(text));
        if (tn < 0) {
                fprintf(stderr, "airlock %s: --from %s: %s\n", prog, from, strerror((int)-tn));
                return CLI_EXIT_USAGE;
        }
        struct diag d = {0};
        char py[64];
        if (host_python(py, sizeof(py)) < 0) {
                fprintf(stderr, "airlock %s: this host has no /usr/bin/python3\n", prog);
                return CLI_EXIT_USAGE;
        }
        if (runtime_config_parse(text, (size_t)tn, &b.cfg, &d) < 0 ||
            runtime_config_check_language(b.cfg, py, &d) < 0) {
                fprintf(stderr, "airlock %s: %s: %s\n", prog, from, d.msg);
                json_decref(b.cfg);
                return CLI_EXIT_USAGE;
        }
        int r = check_apt(b.name, b.cfg);
        if (r == 0 && json_array_size(json_object_get(b.cfg, "npm_packages")) && access("/usr/bin/npm", X_OK) < 0)
                r = fail(b.name, "npm_packages: this host has no /usr/bin/npm (install Node.js with npm)");
        if (r == 0 && access(BWRAP, X_OK) < 0)
                r = fail(b.name, "bubblewrap is not installed at " BWRAP);
        char script[512];
        if (r == 0 && airlock_program_path("airlock_runtime_build.py", R_OK, script, sizeof(script)) < 0)
                r = fail(b.name, "airlock_runtime_build.py is not beside this program");
        if (r) {
                json_decref(b.cfg);
                return r;
        }

        /* 2. The version's directories, one build of NAME at a time. */
        char top[400], name_dir[480];
        if (mkdir(b.data_dir, 0700) < 0 && errno != EEXIST) {
                json_decref(b.cfg);
                return fail(b.name, "cannot make %s: %s", b.data_dir, strerror(errno));
        }
        /* Held until we exit, and locked: one build or removal at a time on this host, so
         * that no other build's processes (the same builder uid) run while a tree is sealed. */
        int tfd = open_runtimes(b.data_dir, true, top, sizeof(top));
        if (tfd >= 0 && flock(tfd, LOCK_EX) < 0)
                tfd = -errno;
        if (tfd < 0) {
                json_decref(b.cfg);
                return fail(b.name, "%s/runtimes: %s", b.data_dir,
                            tfd == -EPERM ? "not root's and read-only; refusing to build there" : strerror(-tfd));
        }
        snprintf(name_dir, sizeof(name_dir), "%s/%s", top, b.name);
        if (mkdir_owned(name_dir, 0755) < 0) {
                json_decref(b.cfg);
                return fail(b.name, "cannot make %s/runtimes/%s (root's directory): %s", b.data_dir, b.name,
                            strerror(errno));
        }
        chmod(name_dir, 0755);
        char lock_path[520];
        snprintf(lock_path, sizeof(lock_path), "%s/.lock", name_dir);
        _cleanup_close_ int lock = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0) {
                json_decref(b.cfg);
                return fail(b.name, "cannot lock %s: %s", lock_path, strerror(errno));
        }
        b.version = next_version(name_dir);
        note_version(name_dir, b.version);
        snprintf(b.vdir, sizeof(b.vdir), "%s/v%u", name_dir, b.version);
        snprintf(b.root, sizeof(b.root), "%s/root", b.vdir);
        snprintf(b.dest, sizeof(b.dest), LP_RUNTIME_MOUNT_BASE "/%s/v%u", b.name, b.version);
        if (mkdir(b.vdir, 0755) < 0 || mkdir(b.root, 0755) < 0 ||
            chown(b.root, AIRLOCK_BUILDER_UID, AIRLOCK_BUILDER_UID) < 0) {
                json_decref(b.cfg);
                return fail(b.name, "cannot make %s: %s", b.root, strerror(errno));
        }
        char log_path[640], log_shown[700];
        snprintf(log_path, sizeof(log_path), "%s/build.log", b.vdir);
        snprintf(log_shown, sizeof(log_shown), "%s/runtimes/%s/v%u/build.log", b.data_dir, b.name, b.version);
        b.log_fd = open(log_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (b.log_fd < 0) {
                json_decref(b.cfg);
                return fail(b.name, "cannot create %s: %s", log_shown, strerror(errno));
        }
        fprintf(stderr, "airlock: building runtime %s@v%u in %s/runtimes/%s/v%u (log: build.log there)\n", b.name,
                b.version, b.data_dir, b.name, b.version);

        /* 3. The confined build. */
        b.started = now_s();
        _cleanup_free_ char *cfg_text = json_dumps(b.cfg, JSON_COMPACT);
        char script_text[65536];
        ssize_t sn = read_small_file(script, script_text, sizeof(script_text));
        _cleanup_close_ int script_fd = sn > 0 ? memfd_with_data("build.py", script_text, (size_t)sn) : -1;
        _cleanup_close_ int cfg_fd = cfg_text ? memfd_with_data("config.json", cfg_text, strlen(cfg_text)) : -1;
        int lp[2];
        if (script_fd < 0 || cfg_fd < 0 || pipe2(lp, O_CLOEXEC) < 0) {
                json_decref(b.cfg);
                close(b.log_fd);
                return fail(b.name, "cannot prepare the build: %s", strerror(errno));
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
                builder_child(&b, lp[1], script_fd, cfg_fd);
        close(lp[1]);
        struct buf out;
        buf_init(&out, 16u << 20);
        if (pid > 0)
                pump(lp[0], b.log_fd, &out);
        close(lp[0]);
        int st = 0;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        bool ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        double secs = now_s() - b.started;

        /* 4. Freeze: root's, read-only, whatever the outcome; then the manifest. */
        json_t *result = ok ? read_result(&b) : NULL;
        if (ok && !result)
                ok = false;
        char rmpath[640];
        snprintf(rmpath, sizeof(rmpath), "%s/" RESULT_FILE, b.root);
        unlink(rmpath);
        uint64_t bytes = 0;
        if (lock_tree(b.root, &bytes) < 0) {
                ok = false;
                fprintf(stderr, "airlock: cannot hand %s to root read-only: %s\n", b.root, strerror(errno));
        }
        char pkg[128] = "", why[96] = "";
        bool blamed = !ok && out.len && runtime_failure_package(out.data, out.len, pkg, sizeof(pkg), why, sizeof(why)) == 0;
        char created[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
        char vname[16];
        snprintf(vname, sizeof(vname), "v%u", b.version);
        json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:O, s:f, s:I}", "name", b.name, "version", vname, "status",
                              ok ? "ready" : "failed", "created_at", created, "config", b.cfg, "build_seconds",
                              (double)(long long)(secs * 10 + 0.5) / 10, "size_bytes", (json_int_t)bytes);
        if (m && result)
                json_object_update(m, result);
        if (m && !ok) {
                const char *tail = out.len > LOG_TAIL ? out.data + out.len - LOG_TAIL : out.data ? out.data : "";
                json_object_set_new(m, "error",
                                    blamed ? json_pack("{s:s, s:s}", "package", pkg, "message", why)
                                           : json_pack("{s:s#}", "message", tail,
                                                       (int)(out.len > LOG_TAIL ? LOG_TAIL : out.len)));
        }
        json_decref(result);
        _cleanup_free_ char *mtext = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(m);
        json_decref(b.cfg);
        buf_free(&out);
        close(b.log_fd);
        if (!mtext || write_file(b.vdir, "manifest.json", mtext, strlen(mtext)) < 0)
                return fail(b.name, "cannot write %s/manifest.json", b.vdir);
        if (!ok) {
                if (blamed)
                        return fail(b.name, "package '%s' %s (v%u kept as failed; log: %s)", pkg, why, b.version,
                                    log_shown);
                return fail(b.name, "%s (v%u kept as failed; log: %s)",
                            pid < 0                ? "cannot fork the builder"
                            : !WIFEXITED(st)      ? "the builder was killed"
                            : WEXITSTATUS(st) == 0 ? "the builder left no report"
                                                   : "a build step failed (see the log's last lines above)",
                            b.version, log_shown);
        }
        if (write_file(b.vdir, "READY", "", 0) < 0)
                return fail(b.name, "cannot write %s/READY: %s", b.vdir, strerror(errno));
        chmod(b.vdir, 0555);
        fprintf(stderr, "airlock: runtime %s@v%u is ready: %.1f s, %.1f MiB; use it with \"runtime\": \"%s\"\n",
                b.name, b.version, secs, (double)bytes / 1048576.0, b.name);
        printf("%s@v%u\n", b.name, b.version);
        return 0;
}

/* ---- rm ---- */

/* Who still needs NAME (all_versions) or NAME@vN: interpreters that name it (every tenant's)
 * and sessions not yet ended that run on it, from the daemon's store, read-only. Returns
 * the count and the first few in `who`; -errno when the store cannot be read. */
static int stop_after(void *deadline) { return time(NULL) > *(const time_t *)deadline; }

static int users_of(const char *data_dir, const char *name, const char *version, bool name_loses_all, char *who,
                    size_t cap) {
        char db_path[400];
        snprintf(db_path, sizeof(db_path), "%s/airlock.db", data_dir);
        if (access(db_path, F_OK) < 0)
                return 0; /* no daemon has used this data directory: nobody to ask */
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                sqlite3_close(db);
                return -EIO;
        }
        sqlite3_busy_timeout(db, 5000);
        /* The store is the daemon's file: read it as untrusted (no functions from its
         * schema, no writes through it), and give up on a query that runs away. */
        static time_t give_up;
        give_up = time(NULL) + 10;
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
        sqlite3_progress_handler(db, 10000, stop_after, &give_up);
        char exact[64];
        snprintf(exact, sizeof(exact), "%s@%s", name, version ? version : "");
        /* Interpreters: NAME@vN pins a version; a bare NAME needs some ready version, so it
         * counts only when this removal leaves none. */
        static const char *const sql[] = {
                "SELECT 'interpreter ' || CASE tenant WHEN '' THEN '' ELSE tenant || '/' END || name, "
                "json_extract(doc, '$.runtime') FROM interpreters",
                "SELECT 'session ' || id, json_extract(doc, '$.runtime') FROM sessions WHERE status != 'ended'",
        };
        int count = 0;
        size_t len = 0;
        who[0] = '\0';
        for (size_t q = 0; q < ARRAY_SIZE(sql); q++) {
                sqlite3_stmt *st = NULL;
                if (sqlite3_prepare_v2(db, sql[q], -1, &st, NULL) != SQLITE_OK) {
                        sqlite3_close(db);
                        return -EIO;
                }
                while (sqlite3_step(st) == SQLITE_ROW) {
                        const char *label = (const char *)sqlite3_column_text(st, 0);
                        const char *rt = (const char *)sqlite3_column_text(st, 1);
                        if (!label || !rt)
                                continue;
                        size_t nl = strlen(name);
                        bool same_name = !strncmp(rt, name, nl) && (rt[nl] == '\0' || rt[nl] == '@');
                        bool hit = version ? !strcmp(rt, exact) || (!strcmp(rt, name) && name_loses_all && q == 0)
                                           : same_name;
                        if (!hit)
                                continue;
                        if (count++ < 5) {
                                int n = snprintf(who + len, len < cap ? cap - len : 0, "%s%s (%s)", len ? ", " : "",
                                                 label, rt);
                                if (n > 0)
                                        len = len + (size_t)n < cap ? len + (size_t)n : cap - 1;
                        }
                }
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return count;
}

static int remove_tree_at(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)st;
        (void)ftw;
        return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int runtimes_rm(int argc, char **argv) {
        const char *prog = "runtimes rm";
        const char *data_dir = getenv("AIRLOCK_DATA_DIR");
        static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (opt == 'd')
                        data_dir = optarg;
                else if (opt == 'h') {
                        fputs(usage, stdout);
                        return 0;
                } else
                        return cli_getopt_error(prog, opt, argv);
        }
        if (optind + 1 != argc)
                return cli_usage_error(prog, optind >= argc ? "which runtime? give NAME or NAME@vN" : "one at a time");
        if (!data_dir || !data_dir[0])
                data_dir = "/var/lib/airlock";
        if (data_dir[0] != '/' || strlen(data_dir) > 300)
                return cli_usage_error(prog, "--data-dir: an absolute path of at most 300 bytes");
        char name[LP_RUNTIME_NAME_MAX + 1];
        unsigned version;
        if (lp_parse_runtime(argv[optind], name, sizeof(name), &version) < 0 || !strcmp(name, "default"))
                return cli_usage_error(prog, "NAME or NAME@vN of a built runtime; got '%.64s'", argv[optind]);
        if (geteuid() != 0)
                return cli_usage_error(prog, "removing a runtime needs root (its files are root's)");
        char top[64], name_dir[420], lock_path[440];
        int tfd = open_runtimes(data_dir, false, top, sizeof(top)); /* held and locked until we exit */
        if (tfd < 0 || flock(tfd, LOCK_EX) < 0) {
                fprintf(stderr, "airlock: no runtimes in %s (or its runtimes directory is not root's)\n", data_dir);
                return CLI_EXIT_API;
        }
        snprintf(name_dir, sizeof(name_dir), "%s/%s", top, name);
        snprintf(lock_path, sizeof(lock_path), "%s/.lock", name_dir);
        _cleanup_close_ int lock = open(lock_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (lock < 0 || flock(lock, LOCK_EX) < 0) {
                fprintf(stderr, "airlock: no runtime %s in %s/runtimes\n", name, data_dir);
                return CLI_EXIT_API;
        }
        /* Which versions go, and whether a ready one stays (what a bare NAME would get). */
        char victims[64][16];
        size_t nv = 0;
        bool ready_left = false;
        DIR *d = opendir(name_dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                char spec[300], nm[LP_RUNTIME_NAME_MAX + 1];
                unsigned v;
                snprintf(spec, sizeof(spec), "x@%s", e->d_name);
                if (lp_parse_runtime(spec, nm, sizeof(nm), &v) < 0)
                        continue;
                if (!version || v == version) {
                        if (nv < ARRAY_SIZE(victims))
                                snprintf(victims[nv++], sizeof(victims[0]), "v%u", v);
                } else {
                        char ready[700];
                        snprintf(ready, sizeof(ready), "%s/%s/READY", name_dir, e->d_name);
                        ready_left |= access(ready, F_OK) == 0;
                }
        }
        if (d)
                closedir(d);
        if (!nv) {
                fprintf(stderr, "airlock: runtime %s has no version %s\n", name, argv[optind]);
                return CLI_EXIT_API;
        }
        char who[512];
        int users = users_of(data_dir, name, version ? victims[0] : NULL, !ready_left, who, sizeof(who));
        if (users < 0) {
                fprintf(stderr, "airlock: cannot read %s/airlock.db to see who uses %s: %s\n", data_dir, argv[optind],
                        strerror(-users));
                return CLI_EXIT_API;
        }
        if (users > 0) {
                fprintf(stderr, "airlock: runtime %s is in use by %d: %s%s; change or remove those first\n",
                        argv[optind], users, who, users > 5 ? ", ..." : "");
                return CLI_EXIT_API;
        }
        /* Out of sight first (one rename each: the daemon and the launcher stop seeing
         * it at once), then gone. */
        for (size_t i = 0; i < nv; i++) {
                char from[700], to[720];
                snprintf(from, sizeof(from), "%s/%s", name_dir, victims[i]);
                snprintf(to, sizeof(to), "%s/.removing-%s-%d", name_dir, victims[i], (int)getpid());
                if (rename(from, to) < 0 || nftw(to, remove_tree_at, 64, FTW_PHYS | FTW_DEPTH) < 0) {
                        fprintf(stderr, "airlock: cannot remove %s: %s\n", from, strerror(errno));
                        return CLI_EXIT_API;
                }
                printf("removed %s@%s\n", name, victims[i]);
        }
        if (!version) { /* NAME is gone: a new build of it starts again at v1 */
                char last[460];
                snprintf(last, sizeof(last), "%s/.last", name_dir);
                unlink(last);
                unlink(lock_path);
                rmdir(name_dir);
        }
        return 0;
}

/* ---- ls, get (the daemon's view) ---- */

static const char *str(json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "-";
}

static void print_one(json_t *rt) {
        printf("name:        %s%s\n", str(rt, "name"), json_is_true(json_object_get(rt, "builtin")) ? " (built in)" : "");
        printf("current:     %s\n", str(rt, "current_version"));
        printf("description: %s\n", str(rt, "description"));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rt, "versions"), i, v) {
                printf("%-6s %-7s %s  %6.1f MiB  %zu pip, %zu npm%s%s\n", str(v, "version"), str(v, "status"),
                       str(v, "created_at"), (double)json_integer_value(json_object_get(v, "size_bytes")) / 1048576.0,
                       json_array_size(json_object_get(v, "packages")),
                       json_array_size(json_object_get(v, "npm_packages")),
                       json_object_get(v, "error") ? "  error: " : "",
                       json_object_get(v, "error") ? str(json_object_get(v, "error"), "message") : "");
        }
}

static void print_list(json_t *reply) {
        printf("%-24s  %-8s  %-8s  %s\n", "NAME", "CURRENT", "VERSIONS", "DESCRIPTION");
        size_t i;
        json_t *rt;
        json_array_foreach(json_object_get(reply, "runtimes"), i, rt) {
                printf("%-24s  %-8s  %8zu  %.60s\n", str(rt, "name"), str(rt, "current_version"),
                       json_array_size(json_object_get(rt, "versions")), str(rt, "description"));
        }
}

static int runtimes_remote(const char *sub, int argc, char **argv) {
        char prog[32];
        snprintf(prog, sizeof(prog), "runtimes %s", sub);
        struct api_opts conn = {0};
        bool json = false;
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             CLI_CONNECTION_OPTIONS,
                                             {NULL, 0, NULL, 0}};
        int opt;
        opterr = 0;
        optind = 1;
        while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (opt == 'j')
                        json = true;
                else if (opt == CLI_OPT_URL || opt == CLI_OPT_API_KEY)
                        cli_connection_option(opt, optarg, &conn);
                else if (opt == 'h') {
                        fputs(usage, stdout);
                        return 0;
                } else
                        return cli_getopt_error(prog, opt, argv);
        }
        bool ls = !strcmp(sub, "ls");
        if (ls && optind < argc)
                return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
        if (!ls && optind + 1 != argc)
                return cli_usage_error(prog, optind >= argc ? "which runtime? give its NAME" : "one runtime at a time");
        struct api a;
        int r = api_open(&a, &conn, prog);
        if (r)
                return r;
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ char *esc = ls ? NULL : api_escape(&a, argv[optind], false);
        if ((!ls && !esc) || asprintf(&path, ls ? "/v1/runtimes" : "/v1/runtimes/%s", esc) < 0) {
                api_close(&a);
                fprintf(stderr, "airlock: out of memory\n");
                return CLI_EXIT_API;
        }
        json_t *reply = NULL;
        r = api_json(&a, "GET", path, NULL, REQUEST_TIMEOUT_S, &reply);
        if (r == 0) {
                if (json)
                        cli_print_json(reply);
                else if (ls)
                        print_list(reply);
                else
                        print_one(reply);
        }
        json_decref(reply);
        api_close(&a);
        return r;
}

int cmd_runtimes(int argc, char **argv) {
        static const char *const subs[] = {"build", "ls", "get", "rm", NULL};
        const char *sub = NULL;
        char prog[32];
        int pick = cli_subcommand("runtimes", usage, subs, "build, ls, get or rm", argc, argv, &sub, prog, sizeof(prog));
        if (pick)
                return pick < 0 ? 0 : pick;
        if (!strcmp(sub, "build"))
                return runtimes_build(argc - 1, argv + 1);
        if (!strcmp(sub, "rm"))
                return runtimes_rm(argc - 1, argv + 1);
        return runtimes_remote(sub, argc - 1, argv + 1);
}
