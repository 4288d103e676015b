/* files: workspace file requests (LP_FILE). The launcher resolves, opens and returns an
 * fd; it never reads or writes file contents, so a 200 MB upload costs it one openat2.
 *
 * Confinement, in this order:
 *   1. lp_validate_file(): relative path, no '.', '..' or empty parts (fuzzed);
 *   2. every lookup starts from the workspace directory fd opened when the sandbox became
 *      ready (through /proc/<init>/root, checked to be a tmpfs), never from a path string;
 *   3. openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 *      RESOLVE_NO_XDEV: a symlink anywhere on the way, a ".." planted by the program, or
 *      a mount crossing fails with an error instead of leading elsewhere;
 *   4. O_NONBLOCK on open and an fstat() before handing anything back: only regular files
 *      are returned for READ and WRITE (a FIFO cannot stall the launcher);
 *   5. every lookup and creation runs with the filesystem uid and gid of the sandbox's
 *      user (setfsuid/setfsgid): the launcher then has exactly that user's rights in the
 *      workspace (the kernel drops root's file capabilities with fsuid != 0), and what it
 *      creates belongs to that user, as if the program had made it.
 * The program may rename things concurrently; with 3 that can make a request fail but
 * never reach outside the workspace.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "launcher/launcher.h"
#include "sandbox/plan.h"

#define LIST_MAX_ENTRIES 100000
#define REMOVE_MAX_DEPTH 64

static int resolve(int base, const char *path, int flags, mode_t mode) {
        /* openat2 is strict: O_PATH takes no flags but O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW. */
        if (!(flags & O_PATH))
                flags |= O_NOCTTY;
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .mode = (flags & O_CREAT) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd;
        do
                fd = syscall(SYS_openat2, base, path, &how, sizeof(how));
        while (fd < 0 && errno == EINTR);
        return fd < 0 ? -errno : (int)fd;
}

int sandbox_open_workspace(struct sandbox *sb) {
        if (sb->init_pid <= 0)
                return -ESRCH;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root" SANDBOX_WORKSPACE, (int)sb->init_pid);
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC) {
                close(fd);
                return -EXDEV; /* not the workspace mount we made: refuse to serve files */
        }
        sb->workspace_fd = fd;
        return 0;
}

/* Split "a/b/c" into parent "a/b" (or "." for a top-level name) and "c". */
static void split(const char *path, char *parent, size_t cap, const char **name) {
        const char *slash = strrchr(path, '/');
        if (!slash) {
                snprintf(parent, cap, ".");
                *name = path;
        } else {
                snprintf(parent, cap, "%.*s", (int)(slash - path), path);
                *name = slash + 1;
        }
}

/* Open the directory `path` beneath the workspace, creating missing parts when asked.
 * Each part is created and then opened with the same resolve rules, so a part the
 * program swaps for a symlink in between makes the request fail, nothing more. */
static int open_dir(const struct sandbox *sb, const char *path, bool create, mode_t mode) {
        if (!strcmp(path, "."))
                return resolve(sb->workspace_fd, ".", O_PATH | O_DIRECTORY, 0);
        if (!create)
                return resolve(sb->workspace_fd, path, O_PATH | O_DIRECTORY, 0);
        _cleanup_close_ int cur = resolve(sb->workspace_fd, ".", O_PATH | O_DIRECTORY, 0);
        if (cur < 0)
                return cur;
        char part[256];
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");
                snprintf(part, sizeof(part), "%.*s", (int)n, p);
                if (mkdirat(cur, part, mode ? mode : 0755) < 0 && errno != EEXIST)
                        return -errno;
                int next = resolve(cur, part, O_PATH | O_DIRECTORY, 0);
                if (next < 0)
                        return next;
                close(cur);
                cur = next;
                p += n + (p[n] == '/');
        }
        return TAKE_FD(cur);
}

static uint8_t file_type(mode_t m) {
        return S_ISREG(m) ? LP_FT_FILE : S_ISDIR(m) ? LP_FT_DIR : S_ISLNK(m) ? LP_FT_SYMLINK : LP_FT_OTHER;
}

static void fill_ok(struct lp_file_ok *ok, const struct stat *st) {
        ok->size = st->st_size;
        ok->mtime_sec = st->st_mtim.tv_sec;
        ok->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
        ok->mode = st->st_mode;
        ok->type = file_type(st->st_mode);
}

/* An fd for the client: a regular file, blocking again. */
static int regular_only(int fd, struct stat *st) {
        if (fstat(fd, st) < 0)
                return -errno;
        if (S_ISDIR(st->st_mode))
                return -EISDIR;
        if (!S_ISREG(st->st_mode))
                return -EINVAL;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static int do_list(const struct sandbox *sb, const char *path, struct lp_file_ok *ok) {
        _cleanup_close_ int dfd = resolve(sb->workspace_fd, path[0] ? path : ".", O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0)
                return dfd;
        int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return -errno;
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return -errno;
        }
        struct buf out;
        buf_init(&out, 64u << 20);
        int r = 0;
        uint32_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* removed meanwhile */
                if (n >= LIST_MAX_ENTRIES) {
                        r = -E2BIG;
                        break;
                }
                struct lp_dirent de = {.size = st.st_size, .mtime_sec = st.st_mtim.tv_sec, .mode = st.st_mode,
                                       .name_len = (uint16_t)strlen(e->d_name), .type = file_type(st.st_mode)};
                if ((r = buf_append(&out, &de, sizeof(de))) < 0 ||
                    (r = buf_append(&out, e->d_name, de.name_len)) < 0)
                        break;
                n++;
        }
        closedir(d);
        if (r == 0) {
                struct stat st;
                if (fstat(dfd, &st) == 0)
                        fill_ok(ok, &st);
                ok->entries = n;
                r = memfd_with_data("listing", out.data ? out.data : "", out.len);
        }
        buf_free(&out);
        return r;
}

/* Remove name under dirfd and, for a directory, all below it, without following links. */
static int remove_at(int parent, const char *name, int depth) {
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent, name, 0) < 0 ? -errno : 0;
        if (depth > REMOVE_MAX_DEPTH)
                return -ELOOP;
        int sub = resolve(parent, name, O_RDONLY | O_DIRECTORY, 0);
        if (sub < 0)
                return sub;
        DIR *d = fdopendir(sub);
        if (!d) {
                int e = -errno;
                close(sub);
                return e;
        }
        int r = 0;
        struct dirent *e;
        while (r == 0 && (e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        r = remove_at(dirfd(d), e->d_name, depth + 1);
        closedir(d);
        if (r < 0)
                return r;
        return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static const char *explain(int err) {
        switch (-err) {
        case ELOOP:
                return "a symbolic link is in the way (links are not followed)";
        case EXDEV:
                return "the path leaves the workspace";
        case ENOENT:
                return "no such file or directory";
        case EISDIR:
                return "is a directory";
        case ENOTDIR:
                return "a part of the path is not a directory";
        case ENOTEMPTY:
                return "the directory is not empty (remove it recursively)";
        case EEXIST:
                return "already exists";
        case EINVAL:
                return "not a regular file";
        case ENOSPC:
                return "the workspace is full";
        case E2BIG:
                return "too many entries to list";
        default:
                return strerror(-err);
        }
}

static void file_op(struct sandbox *sb, const struct lp_file *f, struct lp_file_ok *ok, int *ret_fd, int *ret_r) {
        struct stat st;
        memset(&st, 0, sizeof(st));
        int fd = -1, r = 0;
        char parent[LP_PATH_MAX];
        const char *name;
        mode_t mode = f->mode ? f->mode : 0;
        switch (f->op) {
        case LP_FILE_READ:
                fd = resolve(sb->workspace_fd, f->path, O_RDONLY | O_NONBLOCK, 0);
                if (fd >= 0 && (r = regular_only(fd, &st)) == 0)
                        fill_ok(ok, &st);
                break;
        case LP_FILE_WRITE: {
                split(f->path, parent, sizeof(parent), &name);
                _cleanup_close_ int pfd = open_dir(sb, parent, f->flags & LP_FILE_PARENTS, 0);
                if (pfd < 0) {
                        r = pfd;
                        break;
                }
                fd = resolve(pfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, mode ? mode : 0644);
                if (fd >= 0 && (r = regular_only(fd, &st)) == 0)
                        fill_ok(ok, &st);
                break;
        }
        case LP_FILE_LIST:
                fd = do_list(sb, f->path, ok);
                break;
        case LP_FILE_STAT: {
                _cleanup_close_ int pfd = resolve(sb->workspace_fd, f->path[0] ? f->path : ".", O_PATH, 0);
                if (pfd < 0)
                        r = pfd;
                else if (fstatat(pfd, "", &st, AT_EMPTY_PATH) < 0)
                        r = -errno;
                else
                        fill_ok(ok, &st);
                break;
        }
        case LP_FILE_REMOVE: {
                split(f->path, parent, sizeof(parent), &name);
                _cleanup_close_ int pfd = resolve(sb->workspace_fd, parent, O_RDONLY | O_DIRECTORY, 0);
                if (pfd < 0)
                        r = pfd;
                else if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (S_ISDIR(st.st_mode) && !(f->flags & LP_FILE_RECURSIVE))
                        r = -EISDIR; /* a directory, even an empty one, is removed only when asked */
                else
                        r = remove_at(pfd, name, 0);
                break;
        }
        case LP_FILE_MKDIR: {
                if (f->flags & LP_FILE_PARENTS) {
                        _cleanup_close_ int dfd = open_dir(sb, f->path, true, mode);
                        r = dfd < 0 ? dfd : (fstat(dfd, &st) < 0 ? -errno : 0);
                } else {
                        split(f->path, parent, sizeof(parent), &name);
                        _cleanup_close_ int pfd = open_dir(sb, parent, false, 0);
                        if (pfd < 0)
                                r = pfd;
                        else if (mkdirat(pfd, name, mode ? mode : 0755) < 0 ||
                                 fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                r = -errno;
                }
                if (r == 0)
                        fill_ok(ok, &st);
                break;
        }
        default:
                r = -EINVAL;
        }
        *ret_fd = fd;
        *ret_r = r;
}

void files_handle(struct launcher *L, uint64_t req_id, const struct lp_file *f) {
        struct diag d = {0};
        struct sandbox *sb = NULL;
        for (struct sandbox *s = L->sandboxes; s; s = s->next)
                if (s->id == f->sandbox_id && s->state == SB_RUNNING)
                        sb = s;
        if (!sb) {
                diag_set(&d, -ESRCH, "sandbox_id", "no running sandbox %llu", (unsigned long long)f->sandbox_id);
                launcher_reply_error(L, req_id, &d);
                return;
        }
        if (sb->workspace_fd < 0) {
                diag_set(&d, -ENOTSUP, "sandbox_id", "this sandbox's workspace is not reachable (%s backend)",
                         lp_backend_name(sb->spec.backend));
                launcher_reply_error(L, req_id, &d);
                return;
        }
        struct lp_file_ok ok;
        memset(&ok, 0, sizeof(ok));
        int fd = -1, r = 0;
        /* As the sandbox's user, for every lookup below (see the header comment). */
        bool as_user = geteuid() == 0;
        if (as_user) {
                setfsgid((gid_t)sb->host_uid);
                setfsuid((uid_t)sb->host_uid);
        }
        /* Modes as asked (the launcher's own umask is 077): the mode bits are the client's to
         * choose, within 0777 (lp_validate_file). */
        mode_t old_umask = umask(0);
        file_op(sb, f, &ok, &fd, &r);
        umask(old_umask);
        if (as_user) {
                setfsuid(0);
                setfsgid(0);
        }
        if (fd < 0 && r == 0 && (f->op == LP_FILE_READ || f->op == LP_FILE_WRITE || f->op == LP_FILE_LIST))
                r = fd;
        if (r < 0) {
                safe_close(fd);
                diag_set(&d, r, "path", "%s: %s", f->path[0] ? f->path : "(workspace)", explain(r));
                launcher_reply_error(L, req_id, &d);
                return;
        }
        launcher_send(L, LP_FILE_OK, req_id, &ok, sizeof(ok), fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
        safe_close(fd);
}
