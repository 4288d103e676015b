/* audit: what the daemon records in the hash-chained audit log (store.c keeps the chain,
 * docs/adr/0007). One entry per session start and stop, execution, command, task stop,
 * file operation, context change, key and quota change: when, who (tenant, key id),
 * which session, what, and how it ended. Never code, output, file contents or secrets:
 * code and commands appear as their SHA-256 and size. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "daemon/daemon.h"

/* Entries that could not be appended (the data disk full or failing) and are not yet
 * marked in the chain. The next append that succeeds is preceded by an `audit.gap` entry
 * saying how many were lost and between which times, so that a chain that verifies is not
 * taken for a complete one (store_audit_verify() counts the gaps). In memory only: a
 * daemon that dies before that append loses the count (its log lines and
 * airlock_audit_write_failures_total remain). The lock is held across the appends so that
 * the marker lands right before the first entry written after the loss. */
static struct {
        pthread_mutex_t lock;
        uint64_t lost;
        char first[64], last[64]; /* the times of the first and last lost entry */
} gap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void lost(const char *action, const char *when) {
        metrics_audit_write_failed();
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"cannot append to the audit log\",\"action\":\"%s\"}\n",
                action);
        if (gap.lost++ == 0)
                snprintf(gap.first, sizeof(gap.first), "%s", when);
        snprintf(gap.last, sizeof(gap.last), "%s", when);
}

/* The marker for what was lost, when something was; false when it cannot be written
 * either (then the entry that follows would be out of place: it is counted as lost). */
static bool mark_gap(const char *when) {
        if (gap.lost == 0)
                return true;
        /* The operator's tenant (default): the entries lost may have been anyone's. */
        json_t *e = json_pack("{s:s, s:s, s:n, s:n, s:s, s:s, s:I, s:s, s:s}", "time", when, "tenant", "default",
                              "key_id", "session", "action", "audit.gap", "status", "lost", "lost",
                              (json_int_t)gap.lost, "first_lost", gap.first, "last_lost", gap.last);
        if (!e || store_audit_append(e) < 0) {
                json_decref(e);
                return false;
        }
        json_decref(e);
        fprintf(stderr,
                "{\"level\":\"warn\",\"msg\":\"recorded a gap in the audit log\",\"lost\":%llu,\"first_lost\":\"%s\","
                "\"last_lost\":\"%s\"}\n",
                (unsigned long long)gap.lost, gap.first, gap.last);
        gap.lost = 0;
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
        json_t *entry = json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "time", when, "tenant",
                                  who ? who->tenant : tenant ? tenant : "default", "key_id", who ? who->key_id : NULL,
                                  "session", session, "action", action);
        if (!entry) {
                json_decref(fields);
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
                lost(action, when);
        pthread_mutex_unlock(&gap.lock);
        json_decref(entry);
}
