/* audit: what the daemon records in the hash-chained audit log (store.c keeps the chain,
 * docs/adr/0007). One entry per session start and stop, execution, command, task stop,
 * file operation, context change, key and quota change: when, who (tenant, key id),
 * which session, what, and how it ended. Never code, output, file contents or secrets:
 * code and commands appear as their SHA-256 and size. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "daemon/daemon.h"

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
        if (store_audit_append(entry) < 0) {
                metrics_audit_write_failed();
                fprintf(stderr, "{\"level\":\"error\",\"msg\":\"cannot append to the audit log\",\"action\":\"%s\"}\n",
                        action);
        }
        json_decref(entry);
}
