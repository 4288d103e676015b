/* audit: what the daemon records in the hash-chained audit log (store.c keeps the chain,
 * docs/adr/0007). One entry per session start and stop, execution, command, task stop,
 * file operation, context change, key and quota change: when, who (tenant, key id),
 * which session, what, and how it ended. Never code, output, file contents or secrets:
 * code and commands appear as their SHA-256 and size. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

/* Entries that could not be appended (the data disk full or failing) and are not yet
 * marked in the chain, counted per tenant. The next append that succeeds is preceded by
 * an `audit.gap` entry per tenant that lost entries, saying how many and between which
 * times, so that a chain that verifies is not taken for a complete one
 * (store_audit_verify() counts the gaps), and so that each tenant's own log
 * (GET /v1/audit) shows its gap. The counts are also kept in a file of the data dir
 * whose space is taken when the daemon starts (GAP_FILE): rewriting it needs no new
 * block on a full disk, so a daemon that dies before it can write the markers hands the
 * count to the next one. The lock is held across the appends so that the markers land
 * right before the first entry written after the loss. */
#define GAP_TENANTS 64 /* beyond that many tenants, losses are counted under default */
static struct {
        pthread_mutex_t lock;
        struct gap_slot {
                char tenant[64];
                uint64_t lost;
                char first[64], last[64]; /* the times of the first and last lost entry */
        } slot[GAP_TENANTS];
        unsigned n;
} gap = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* GAP_FILE: the counts not yet marked, for the next daemon. Its size is allocated at
 * start (audit_open), so that rewriting it needs no new block on a full disk. */
#define GAP_FILE "audit-gaps"
#define GAP_MAGIC "airgap1"
struct gap_file {
        char magic[8];
        uint32_t n;
        uint32_t reserved;
        struct gap_slot slot[GAP_TENANTS];
};
static int gap_fd = -1;

/* Writes the counts not yet marked (none: the file says so). Under gap.lock. Errors are
 * only logged: the counts stay in memory, as when there is no file. */
static void gap_save(void) {
        if (gap_fd < 0)
                return;
        static struct gap_file f; /* under gap.lock */
        memset(&f, 0, sizeof(f));
        memcpy(f.magic, GAP_MAGIC, sizeof(f.magic));
        f.n = gap.n;
        memcpy(f.slot, gap.slot, gap.n * sizeof(gap.slot[0]));
        if (pwrite(gap_fd, &f, sizeof(f), 0) != (ssize_t)sizeof(f) || fdatasync(gap_fd) < 0)
                fprintf(stderr, "{\"level\":\"error\",\"msg\":\"cannot keep the audit gap count\",\"error\":\"%s\"}\n",
                        strerror(errno));
}

/* Slot 0 is always default's (the operator's), where losses beyond GAP_TENANTS go. */
static struct gap_slot *gap_slot(const char *tenant) {
        if (gap.n == 0) {
                memset(&gap.slot[0], 0, sizeof(gap.slot[0]));
                snprintf(gap.slot[0].tenant, sizeof(gap.slot[0].tenant), "default");
                gap.n = 1;
        }
        for (unsigned i = 0; i < gap.n; i++)
                if (!strcmp(gap.slot[i].tenant, tenant))
                        return &gap.slot[i];
        if (gap.n == GAP_TENANTS)
                return &gap.slot[0];
        struct gap_slot *g = &gap.slot[gap.n++];
        memset(g, 0, sizeof(*g));
        snprintf(g->tenant, sizeof(g->tenant), "%s", tenant);
        return g;
}

static void lost(const char *tenant, const char *action, const char *when) {
        metrics_audit_write_failed();
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"cannot append to the audit log\",\"action\":\"%s\"}\n",
                action);
        struct gap_slot *g = gap_slot(tenant);
        if (g->lost++ == 0)
                snprintf(g->first, sizeof(g->first), "%s", when);
        snprintf(g->last, sizeof(g->last), "%s", when);
        gap_save();
}

/* The markers for what was lost, when something was; false when one cannot be written
 * (then the entry that follows would be out of place: it is counted as lost, and the
 * markers not yet written stay due). */
static bool mark_gap(const char *when) {
        for (unsigned i = 0; i < gap.n; i++) {
                struct gap_slot *g = &gap.slot[i];
                if (g->lost == 0)
                        continue;
                json_t *e = json_pack("{s:s, s:s, s:n, s:n, s:s, s:s, s:I, s:s, s:s}", "time", when, "tenant",
                                      g->tenant, "key_id", "session", "action", "audit.gap", "status", "lost", "lost",
                                      (json_int_t)g->lost, "first_lost", g->first, "last_lost", g->last);
                if (!e || store_audit_append(e) < 0) {
                        json_decref(e);
                        gap_save(); /* the markers written so far are no longer due */
                        return false;
                }
                json_decref(e);
                fprintf(stderr,
                        "{\"level\":\"warn\",\"msg\":\"recorded a gap in the audit log\",\"tenant\":\"%s\",\"lost\":%llu,"
                        "\"first_lost\":\"%s\",\"last_lost\":\"%s\"}\n",
                        g->tenant, (unsigned long long)g->lost, g->first, g->last);
                g->lost = 0;
        }
        bool had = gap.n > 0;
        gap.n = 0;
        if (had)
                gap_save();
        return true;
}

void audit_record(const struct identity *who, const char *tenant, const char *session, const char *action,
                  json_t *fields) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        char when[64], secs[24];
        strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when, sizeof(when), "%s.%03dZ", secs, (int)(tv.tv_usec / 1000) % 1000);
        const char *owner = who ? who->tenant : tenant ? tenant : "default";
        json_t *entry = json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "time", when, "tenant", owner, "key_id",
                                  who ? who->key_id : NULL, "session", session, "action", action);
        if (!entry) {
                json_decref(fields);
                pthread_mutex_lock(&gap.lock);
                lost(owner, action, when);
                pthread_mutex_unlock(&gap.lock);
                return;
        }
        if (!json_object_get(entry, "key_id"))
                json_object_set_new(entry, "key_id", json_null());
        if (!json_object_get(entry, "session"))
                json_object_set_new(entry, "session", json_null());
        if (fields)
                json_object_update(entry, fields);
        json_decref(fields);
        pthread_mutex_lock(&gap.lock);
        if (!mark_gap(when) || store_audit_append(entry) < 0)
                lost(owner, action, when);
        pthread_mutex_unlock(&gap.lock);
        json_decref(entry);
}

int audit_open(const char *data_dir) {
        char path[4096];
        if (strfmt_path(path, sizeof(path), data_dir, GAP_FILE) < 0)
                return -ENAMETOOLONG;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        static struct gap_file f;
        ssize_t got = pread(fd, &f, sizeof(f), 0);
        int r = posix_fallocate(fd, 0, sizeof(f));
        if (r != 0) {
                close(fd);
                return -r;
        }
        pthread_mutex_lock(&gap.lock);
        /* What an earlier daemon could not mark: added to this one's counts, to be marked
         * before the first entry this one writes. A file not ours, or torn, says nothing. */
        if (got == (ssize_t)sizeof(f) && !memcmp(f.magic, GAP_MAGIC, sizeof(f.magic)) && f.n <= GAP_TENANTS) {
                for (uint32_t i = 0; i < f.n; i++) {
                        struct gap_slot *was = &f.slot[i];
                        was->tenant[sizeof(was->tenant) - 1] = '\0';
                        was->first[sizeof(was->first) - 1] = '\0';
                        was->last[sizeof(was->last) - 1] = '\0';
                        if (was->lost == 0 || !was->tenant[0])
                                continue;
                        struct gap_slot *g = gap_slot(was->tenant);
                        if (g->lost == 0 || strcmp(was->first, g->first) < 0)
                                snprintf(g->first, sizeof(g->first), "%s", was->first);
                        if (g->lost == 0 || strcmp(was->last, g->last) > 0)
                                snprintf(g->last, sizeof(g->last), "%s", was->last);
                        g->lost += was->lost;
                }
        }
        gap_fd = fd;
        gap_save();
        pthread_mutex_unlock(&gap.lock);
        return 0;
}
