/* metrics: the daemon's counters and histograms, rendered in the Prometheus text
 * exposition format (version 0.0.4) at GET /metrics.
 *
 * Everything is kept in memory under one mutex (updates are a few additions per
 * execution or session); the figures start again from zero when the daemon restarts, as
 * Prometheus counters may. Labels have fixed, small sets of values (languages, statuses,
 * end reasons), except the per-session usage series: those exist for live sessions only
 * (bounded by the tenants' session quotas), vanish when the session ends, and are shown
 * only to a scrape that sends a key (they name sessions and tenants).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "daemon/daemon.h"

static const char *const languages[] = {"python", "javascript", "typescript", "bash", "unknown"};
static const char *const statuses[] = {"ok", "error", "timeout", "killed"};
static const char *const killed_reasons[] = {"oom", "pids", "output_limit", "stopped", "runner_exited"};
static const char *const end_reasons[] = {"deleted",         "expired", "idle_timeout", "oom",           "pids",
                                          "output_limit",    "execution_timeout", "sandbox_exited", "launcher_lost",
                                          "shutdown",        "other"};
#define NLANG (sizeof(languages) / sizeof(languages[0]))
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))
#define NKILLED (sizeof(killed_reasons) / sizeof(killed_reasons[0]))
#define NEND (sizeof(end_reasons) / sizeof(end_reasons[0]))
/* Connections the daemon itself closed (http.c): a request head not complete within its
 * deadline, or, while the connection slots run short, one waiting for its head (or
 * dropping a refused request's body) or a let-in request whose body came too slowly. */
static const char *const http_closed_reasons[] = {"header_deadline", "pressure", "slow_body"};
#define NHTTP_CLOSED (sizeof(http_closed_reasons) / sizeof(http_closed_reasons[0]))

/* Upper bounds in seconds: executions from a millisecond to ten minutes; session
 * creation from a millisecond (a pool hit) to ten seconds. */
static const double exec_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
static const double create_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NEXEC_BOUNDS (sizeof(exec_bounds) / sizeof(exec_bounds[0]))
#define NCREATE_BOUNDS (sizeof(create_bounds) / sizeof(create_bounds[0]))

struct histogram {
        uint64_t buckets[NEXEC_BOUNDS]; /* per bound, not cumulative; the largest bound set */
        uint64_t count;
        double sum;
};

static struct {
        pthread_mutex_t lock;
        uint64_t executions[NLANG][NSTATUS];
        uint64_t killed[NKILLED];
        struct histogram exec_seconds[NLANG];
        double exec_cpu_seconds[NLANG];
        uint64_t sessions_created;
        struct histogram create_seconds[2]; /* [0] cold start, [1] from the warm pool */
        uint64_t sessions_ended[NEND];
        uint64_t create_refused_quota;
        uint64_t egress[LP_EGRESS_FAILED + 1][LP_EGRESS_REASON_MAX + 1]; /* [outcome][reason] */
        uint64_t egress_dropped;
        uint64_t audit_write_failures;
        uint64_t http_closed[NHTTP_CLOSED];
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t index_of(const char *const *names, size_t n, const char *name) {
        for (size_t i = 0; name && i < n; i++)
                if (!strcmp(names[i], name))
                        return i;
        return n - 1; /* "unknown" / "other", last in their lists */
}

static void observe(struct histogram *h, const double *bounds, size_t nbounds, double v) {
        size_t i = 0;
        while (i < nbounds - 1 && v > bounds[i])
                i++;
        h->buckets[i] += v <= bounds[i];
        h->count++;
        h->sum += v;
}

void metrics_execution(const char *language, const char *status, const char *killed_reason, double seconds,
                       double cpu_seconds) {
        pthread_mutex_lock(&M.lock);
        size_t l = index_of(languages, NLANG, language);
        size_t s = index_of(statuses, NSTATUS, status);
        if (!strcmp(statuses[s], status ? status : ""))
                M.executions[l][s]++;
        if (killed_reason) {
                size_t k = index_of(killed_reasons, NKILLED, killed_reason);
                if (!strcmp(killed_reasons[k], killed_reason))
                        M.killed[k]++;
        }
        observe(&M.exec_seconds[l], exec_bounds, NEXEC_BOUNDS, seconds);
        M.exec_cpu_seconds[l] += cpu_seconds;
        pthread_mutex_unlock(&M.lock);
}

void metrics_session_created(bool pooled, double seconds) {
        pthread_mutex_lock(&M.lock);
        M.sessions_created++;
        observe(&M.create_seconds[pooled], create_bounds, NCREATE_BOUNDS, seconds);
        pthread_mutex_unlock(&M.lock);
}

void metrics_session_refused(void) {
        pthread_mutex_lock(&M.lock);
        M.create_refused_quota++;
        pthread_mutex_unlock(&M.lock);
}

void metrics_egress(uint8_t outcome, uint8_t reason, uint32_t dropped) {
        pthread_mutex_lock(&M.lock);
        if (outcome <= LP_EGRESS_FAILED && reason <= LP_EGRESS_REASON_MAX)
                M.egress[outcome][reason]++;
        M.egress_dropped += dropped;
        pthread_mutex_unlock(&M.lock);
}

void metrics_audit_write_failed(void) {
        pthread_mutex_lock(&M.lock);
        M.audit_write_failures++;
        pthread_mutex_unlock(&M.lock);
}

void metrics_session_ended(const char *reason) {
        pthread_mutex_lock(&M.lock);
        M.sessions_ended[index_of(end_reasons, NEND, reason)]++;
        pthread_mutex_unlock(&M.lock);
}

void metrics_http_closed(const char *reason, unsigned n) {
        pthread_mutex_lock(&M.lock);
        for (size_t i = 0; i < NHTTP_CLOSED; i++)
                if (!strcmp(http_closed_reasons[i], reason))
                        M.http_closed[i] += n;
        pthread_mutex_unlock(&M.lock);
}

static void header(struct buf *b, const char *name, const char *type, const char *help) {
        (void)buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(struct buf *b, const char *name, const char *label, const char *value,
                      const struct histogram *h, const double *bounds, size_t nbounds) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < nbounds; i++) {
                cumulative += h->buckets[i];
                (void)buf_printf(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value, bounds[i],
                                 (unsigned long long)cumulative);
        }
        (void)buf_printf(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value, (unsigned long long)h->count);
        (void)buf_printf(b, "%s_sum{%s=\"%s\"} %.6f\n", name, label, value, h->sum);
        (void)buf_printf(b, "%s_count{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)h->count);
}

/* process_* as the Prometheus client libraries export them, from /proc/self. */
static void process_metrics(struct buf *b) {
        long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        char stat[1024];
        unsigned long utime = 0, stime = 0;
        long threads = 0, rss = 0;
        unsigned long long start = 0;
        FILE *f = fopen("/proc/self/stat", "re");
        if (f) {
                if (fgets(stat, sizeof(stat), f)) {
                        /* Fields after the command name (which may hold spaces and ')'): the
                         * state is field 3 of proc(5); utime 14, stime 15, num_threads 20,
                         * starttime 22, rss 24. */
                        char *p = strrchr(stat, ')');
                        unsigned long long field[24] = {0};
                        size_t n = 0;
                        char *save = NULL;
                        for (char *t = p ? strtok_r(p + 1, " \n", &save) : NULL; t && n < 24;
                             t = strtok_r(NULL, " \n", &save), n++)
                                field[n] = strtoull(t, NULL, 10); /* the state letter reads as 0 */
                        if (n >= 22) {
                                utime = (unsigned long)field[14 - 3];
                                stime = (unsigned long)field[15 - 3];
                                threads = (long)field[20 - 3];
                                start = field[22 - 3];
                                rss = (long)field[24 - 3];
                        }
                }
                fclose(f);
        }
        int fds = 0;
        DIR *d = opendir("/proc/self/fd");
        if (d) {
                for (struct dirent *e; (e = readdir(d));)
                        fds += e->d_name[0] != '.';
                closedir(d);
                fds--; /* the directory's own fd */
        }
        double boot = 0;
        f = fopen("/proc/stat", "re");
        if (f) {
                char line[256];
                while (fgets(line, sizeof(line), f))
                        if (!strncmp(line, "btime ", 6)) {
                                boot = strtod(line + 6, NULL);
                                break;
                        }
                fclose(f);
        }
        header(b, "process_cpu_seconds_total", "counter", "CPU time of the API daemon (user and system).");
        (void)buf_printf(b, "process_cpu_seconds_total %.2f\n", ticks > 0 ? (double)(utime + stime) / (double)ticks : 0);
        header(b, "process_resident_memory_bytes", "gauge", "Resident memory of the API daemon.");
        (void)buf_printf(b, "process_resident_memory_bytes %lld\n", (long long)rss * page);
        header(b, "process_open_fds", "gauge", "Open file descriptors of the API daemon.");
        (void)buf_printf(b, "process_open_fds %d\n", fds);
        header(b, "process_threads", "gauge", "Threads of the API daemon.");
        (void)buf_printf(b, "process_threads %ld\n", threads);
        header(b, "process_start_time_seconds", "gauge", "When the API daemon started (Unix time).");
        (void)buf_printf(b, "process_start_time_seconds %.2f\n",
                         ticks > 0 ? boot + (double)start / (double)ticks : 0);
}

static bool shown(json_t *usage, const char *per_session) {
        return !strcmp(per_session, "*") ||
               !strcmp(per_session, json_string_value(json_object_get(usage, "tenant")) ?: "");
}

/* One series a live session the scrape may see: field is a number in each usage entry. */
static void session_series(struct buf *b, json_t *usage, const char *per_session, const char *name, const char *type,
                           const char *help, const char *field) {
        size_t i;
        json_t *u;
        header(b, name, type, help);
        json_array_foreach(usage, i, u) {
                if (shown(u, per_session))
                        (void)buf_printf(b, "%s{session=\"%s\",tenant=\"%s\"} %.6f\n", name,
                                         json_string_value(json_object_get(u, "session")),
                                         json_string_value(json_object_get(u, "tenant")),
                                         json_number_value(json_object_get(u, field)));
        }
}

void metrics_render(struct buf *b, const char *per_session) {
        uint64_t hits, misses;
        int ready, warm;
        sessions_pool_stats(&hits, &misses, &ready, &warm);
        int64_t active = sessions_active();
        pthread_mutex_lock(&M.lock);
        header(b, "airlock_executions_total", "counter",
               "Executions by language and final status (success rate: status=\"ok\" over all).");
        for (size_t l = 0; l < NLANG; l++)
                for (size_t s = 0; s < NSTATUS; s++)
                        (void)buf_printf(b, "airlock_executions_total{language=\"%s\",status=\"%s\"} %llu\n",
                                         languages[l], statuses[s], (unsigned long long)M.executions[l][s]);
        header(b, "airlock_executions_killed_total", "counter",
               "Executions stopped by a kill, by reason (oom: memory limit; pids: process limit).");
        for (size_t k = 0; k < NKILLED; k++)
                (void)buf_printf(b, "airlock_executions_killed_total{reason=\"%s\"} %llu\n", killed_reasons[k],
                                 (unsigned long long)M.killed[k]);
        header(b, "airlock_execution_duration_seconds", "histogram", "Wall time of executions, by language.");
        for (size_t l = 0; l < NLANG; l++)
                histogram(b, "airlock_execution_duration_seconds", "language", languages[l], &M.exec_seconds[l],
                          exec_bounds, NEXEC_BOUNDS);
        header(b, "airlock_execution_cpu_seconds_total", "counter",
               "CPU time sandboxes used during executions (their cgroups), by language.");
        for (size_t l = 0; l < NLANG; l++)
                (void)buf_printf(b, "airlock_execution_cpu_seconds_total{language=\"%s\"} %.6f\n", languages[l],
                                 M.exec_cpu_seconds[l]);
        header(b, "airlock_sessions_created_total", "counter", "Sessions created.");
        (void)buf_printf(b, "airlock_sessions_created_total %llu\n", (unsigned long long)M.sessions_created);
        header(b, "airlock_session_create_duration_seconds", "histogram",
               "Time to create a session (its sandbox and runner ready), by whether the warm pool had one.");
        for (int p = 1; p >= 0; p--)
                histogram(b, "airlock_session_create_duration_seconds", "pool", p ? "hit" : "miss",
                          &M.create_seconds[p], create_bounds, NCREATE_BOUNDS);
        header(b, "airlock_sessions_refused_total", "counter", "Session creations refused by a tenant quota.");
        (void)buf_printf(b, "airlock_sessions_refused_total{reason=\"quota\"} %llu\n",
                         (unsigned long long)M.create_refused_quota);
        header(b, "airlock_egress_connections_total", "counter",
               "Connections through the allowlist proxies, by outcome (allowed; refused by policy; failed to "
               "resolve or connect) and reason.");
        for (unsigned o = LP_EGRESS_ALLOWED; o <= LP_EGRESS_FAILED; o++)
                for (unsigned r = 0; r <= LP_EGRESS_REASON_MAX; r++) {
                        bool fits = o == LP_EGRESS_ALLOWED   ? r == LP_EGRESS_OK
                                    : o == LP_EGRESS_FAILED ? r == LP_EGRESS_RESOLVE || r == LP_EGRESS_CONNECT
                                                            : r != LP_EGRESS_OK && r != LP_EGRESS_RESOLVE &&
                                                                      r != LP_EGRESS_CONNECT;
                        if (fits)
                                (void)buf_printf(b, "airlock_egress_connections_total{outcome=\"%s\",reason=\"%s\"} %llu\n",
                                                 lp_egress_outcome_name((uint8_t)o), lp_egress_reason_name((uint8_t)r),
                                                 (unsigned long long)M.egress[o][r]);
                }
        header(b, "airlock_egress_events_dropped_total", "counter",
               "Proxy connection events lost before the daemon saw them (a proxy's event pipe was full); the "
               "connections themselves were still judged.");
        (void)buf_printf(b, "airlock_egress_events_dropped_total %llu\n", (unsigned long long)M.egress_dropped);
        header(b, "airlock_sessions_ended_total", "counter", "Sessions ended, by reason (oom: an OOM kill).");
        for (size_t e = 0; e < NEND; e++)
                (void)buf_printf(b, "airlock_sessions_ended_total{reason=\"%s\"} %llu\n", end_reasons[e],
                                 (unsigned long long)M.sessions_ended[e]);
        header(b, "airlock_audit_write_failures_total", "counter",
               "Audit entries that could not be written (the data disk full or failing): actions the log lacks.");
        (void)buf_printf(b, "airlock_audit_write_failures_total %llu\n", (unsigned long long)M.audit_write_failures);
        header(b, "airlock_http_connections_closed_total", "counter",
               "Client connections the daemon closed itself, by reason: header_deadline (no complete request head "
               "within 10 s of the connection or of its next request's first byte), pressure (waiting for a request "
               "head, or dropping a refused request's body, while more than 3/4 of the connection slots were in "
               "use; oldest first), slow_body (a request let in whose body came slower than 1 KiB/s, closed "
               "only under the same pressure, after those).");
        for (size_t i = 0; i < NHTTP_CLOSED; i++)
                (void)buf_printf(b, "airlock_http_connections_closed_total{reason=\"%s\"} %llu\n", http_closed_reasons[i],
                                 (unsigned long long)M.http_closed[i]);
        pthread_mutex_unlock(&M.lock);
        header(b, "airlock_sessions_active", "gauge", "Live sessions.");
        (void)buf_printf(b, "airlock_sessions_active %lld\n", (long long)active);
        header(b, "airlock_pool_hits_total", "counter", "Session creations served from the warm pool.");
        (void)buf_printf(b, "airlock_pool_hits_total %llu\n", (unsigned long long)hits);
        header(b, "airlock_pool_misses_total", "counter",
               "Session creations of the warm pool's shape that found it empty (pool exhaustion).");
        (void)buf_printf(b, "airlock_pool_misses_total %llu\n", (unsigned long long)misses);
        header(b, "airlock_pool_ready", "gauge", "Sandboxes waiting in the warm pool.");
        (void)buf_printf(b, "airlock_pool_ready %d\n", ready);
        header(b, "airlock_pool_preloaded", "gauge",
               "Sandboxes waiting in the warm pool whose runner has imported the pool_preload modules.");
        (void)buf_printf(b, "airlock_pool_preloaded %d\n", warm);
        if (trace_enabled()) {
                uint64_t exported, dropped, failed;
                trace_stats(&exported, &dropped, &failed);
                header(b, "airlock_trace_spans_total", "counter",
                       "Spans handed to the OTLP exporter, by outcome (dropped: the queue was full; failed: the "
                       "collector did not take them).");
                (void)buf_printf(b, "airlock_trace_spans_total{outcome=\"exported\"} %llu\n", (unsigned long long)exported);
                (void)buf_printf(b, "airlock_trace_spans_total{outcome=\"dropped\"} %llu\n", (unsigned long long)dropped);
                (void)buf_printf(b, "airlock_trace_spans_total{outcome=\"failed\"} %llu\n", (unsigned long long)failed);
        }
        json_t *usage = sessions_usage();
        size_t i;
        json_t *u;
        long long total = 0;
        json_array_foreach(usage, i, u)
                total += (long long)json_integer_value(json_object_get(u, "memory_bytes"));
        header(b, "airlock_sessions_memory_bytes", "gauge", "Memory in use by all live sessions' sandboxes.");
        (void)buf_printf(b, "airlock_sessions_memory_bytes %lld\n", total);
        if (per_session) {
                session_series(b, usage, per_session, "airlock_session_cpu_seconds_total", "counter",
                               "CPU time used by each live session's sandbox (its cgroup), all processes.",
                               "cpu_seconds");
                session_series(b, usage, per_session, "airlock_session_memory_bytes", "gauge",
                               "Memory in use by each live session's sandbox (its cgroup).", "memory_bytes");
        }
        json_decref(usage);
        process_metrics(b);
}
