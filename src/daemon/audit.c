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
 * marked in the chain, counted per tenant. The next append that succeeds is preceded by
 * an `audit.gap` entry per tenant that lost entries, saying how many and between which
 * times, so that a chain that verifies is not taken for a complete one
 * (store_audit_verify() counts the gaps), and so that each tenant's own log
 * (GET /v1/audit) shows its gap. In memory only: a daemon that dies before that append
 * loses the count (its log lines and airlock_audit_write_failures_total remain). The lock
 * is held across the appends so that the markers land right before the first entry
 * written after the loss. */
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
                        return false;
                }
                json_decref(e);
                fprintf(stderr,
                        "{\"level\":\"warn\",\"msg\":\"recorded a gap in the audit log\",\"tenant\":\"%s\",\"lost\":%llu,"
                        "\"first_lost\":\"%s\",\"last_lost\":\"%s\"}\n",
                        g->tenant, (unsigned long long)g->lost, g->first, g->last);
                g->lost = 0;
        }
        gap.n = 0;
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
