/* workspace: the files the daemon writes into a session's workspace for a client, each
 * journaled (daemon.h). One path for every API, so that none of them can leave a
 * half-written file that a later daemon serves as complete. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"

static void close_reply_fds(struct lreply *rep) {
        for (size_t i = 0; rep->type >= 0 && i < rep->nfds; i++)
                close(rep->fds[i]);
        rep->nfds = 0;
}

static void failed(struct lreply *rep, int code) {
        rep->type = LP_ERROR;
        rep->err.code = code;
        snprintf(rep->err.msg, sizeof(rep->err.msg), "%s", strerror(-code));
}

static void journal_end(struct ws_write *w) {
        if (w->journal > 0)
                (void)store_upload_end(w->journal);
        w->journal = 0;
}

enum ws_status ws_write_open(struct ws_write *w, const char *session_id, uint64_t sandbox, uint32_t mode,
                             const char *path, struct lreply *rep) {
        memset(w, 0, sizeof(*w));
        w->fd = -1;
        w->sandbox = sandbox;
        snprintf(w->path, sizeof(w->path), "%s", path);
        memset(rep, 0, sizeof(*rep));
        /* Journaled before the file is opened. Without the journal the promise could not be
         * kept: refuse. */
        int64_t id = store_upload_begin(session_id, path);
        if (id < 0)
                return WS_UNRECORDED;
        w->journal = id;
        int r = launch_file(sandbox, LP_FILE_WRITE, LP_FILE_PARENTS, mode, path, rep);
        if (r == 0 && rep->type == LP_FILE_OK && rep->nfds == 1) {
                w->fd = rep->fds[0];
                rep->nfds = 0;
                return WS_OK;
        }
        /* Not opened: nothing was written, nothing to remove. */
        journal_end(w);
        if (r < 0)
                return WS_NO_LAUNCHER;
        if (rep->type != LP_ERROR) {
                close_reply_fds(rep);
                failed(rep, -EIO);
        }
        return WS_FAILED;
}

enum ws_status ws_write_done(struct ws_write *w) {
        w->fd = safe_close(w->fd);
        if (w->journal > 0 && store_upload_end(w->journal) < 0) {
                ws_write_abandon(w);
                return WS_UNRECORDED;
        }
        w->journal = 0;
        return WS_OK;
}

void ws_write_abandon(struct ws_write *w) {
        w->fd = safe_close(w->fd);
        struct lreply rep;
        memset(&rep, 0, sizeof(rep));
        int r = launch_file(w->sandbox, LP_FILE_REMOVE, 0, 0, w->path, &rep);
        /* Removed, or nothing to remove (or no sandbox any more). Otherwise (the launcher is
         * gone) the row stays, and the next daemon removes the file. */
        if (r == 0 && (rep.type != LP_ERROR || rep.err.code == -ENOENT || rep.err.code == -ESRCH))
                journal_end(w);
        close_reply_fds(&rep);
}

enum ws_status ws_write_file(const char *session_id, uint64_t sandbox, uint32_t mode, const char *path,
                             const void *data, size_t len, struct lreply *rep) {
        struct ws_write w;
        enum ws_status s = ws_write_open(&w, session_id, sandbox, mode, path, rep);
        if (s != WS_OK)
                return s;
        int r = write_all(w.fd, data, len);
        if (r < 0) {
                ws_write_abandon(&w);
                failed(rep, r);
                return WS_FAILED;
        }
        return ws_write_done(&w);
}
