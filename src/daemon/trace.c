/* trace: OpenTelemetry spans, exported over OTLP/HTTP (JSON encoding) when the operator
 * configures otlp_endpoint; W3C trace context from the client's `traceparent` honoured.
 *
 * A request's span is the root of what the daemon does for it: session.create ->
 * sandbox.start, or session.execute -> sandbox.exec -> execution. The current span lives
 * in a thread-local (libmicrohttpd runs one thread per connection; the SSE worker thread
 * is handed the request's context), so session.c opens children without plumbing.
 *
 * Spans that end go into a bounded queue; one exporter thread posts them in batches with
 * libcurl. Nothing blocks a request: a full queue drops spans (counted, and shown in
 * /metrics). Without an endpoint, span ids are still made (for the logs) but nothing is
 * kept or sent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "daemon/daemon.h"

#define QUEUE_MAX 4096
#define BATCH_MAX 512
#define FLUSH_EVERY_MS 500
#define STACK_MAX 8

struct span {
        char trace_id[33], span_id[17], parent_id[17];
        char name[96];
        int kind; /* OTLP SpanKind: 1 internal, 2 server */
        uint64_t start_ns, end_ns;
        bool error;
        json_t *attributes; /* OTLP KeyValue list */
};

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool enabled, stopping;
        char url[600];
        struct span *queue[QUEUE_MAX];
        size_t n;
        uint64_t dropped, exported, failed;
        pthread_t thread;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* The thread's open spans, innermost last. */
static _Thread_local struct span *stack[STACK_MAX];
static _Thread_local int depth;
/* A context handed to this thread (another thread's span, or a client's traceparent)
 * that its first span takes as parent. */
static _Thread_local struct trace_ctx inherited;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void random_hex(char *out, size_t bytes) {
        unsigned char raw[16];
        bool zero;
        do {
                if (getrandom(raw, bytes, 0) != (ssize_t)bytes)
                        abort(); /* as random_id(): ids must be unpredictable */
                zero = true;
                for (size_t i = 0; i < bytes; i++)
                        zero &= raw[i] == 0; /* all-zero ids are invalid in W3C trace context */
        } while (zero);
        for (size_t i = 0; i < bytes; i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int trace_init(const char *endpoint, struct diag *d) {
        if (!endpoint || !endpoint[0])
                return 0;
        /* OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; the signal's path is added. */
        size_t n = strlen(endpoint);
        while (n > 0 && endpoint[n - 1] == '/')
                n--;
        const char *suffix = n >= 10 && !strncmp(endpoint + n - 10, "/v1/traces", 10) ? "" : "/v1/traces";
        if (snprintf(T.url, sizeof(T.url), "%.*s%s", (int)n, endpoint, suffix) >= (int)sizeof(T.url))
                return diag_set(d, -ENAMETOOLONG, "otlp_endpoint", "the URL is too long");
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return diag_set(d, -EIO, "otlp_endpoint", "cannot start libcurl");
        T.enabled = true;
        return 0;
}

bool trace_enabled(void) { return T.enabled; }

/* OTLP's KeyValue. */
static json_t *kv_string(const char *k, const char *v) {
        return json_pack("{s:s, s:{s:s}}", "key", k, "value", "stringValue", v ? v : "");
}

static json_t *kv_int(const char *k, long long v) {
        char text[24];
        snprintf(text, sizeof(text), "%lld", v);
        return json_pack("{s:s, s:{s:s}}", "key", k, "value", "intValue", text);
}

struct span *trace_open(const char *name, int kind, const struct trace_ctx *parent) {
        struct span *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->kind = kind;
        s->start_ns = now_ns();
        random_hex(s->span_id, 8);
        if (parent && parent->trace_id[0]) {
                memcpy(s->trace_id, parent->trace_id, sizeof(s->trace_id));
                memcpy(s->parent_id, parent->span_id, sizeof(s->parent_id));
        } else {
                random_hex(s->trace_id, 16);
        }
        s->attributes = T.enabled ? json_array() : NULL;
        return s;
}

void trace_span_ids(const struct span *s, struct trace_ctx *ret) {
        memset(ret, 0, sizeof(*ret));
        if (s) {
                memcpy(ret->trace_id, s->trace_id, sizeof(ret->trace_id));
                memcpy(ret->span_id, s->span_id, sizeof(ret->span_id));
        }
}

void trace_span_attr(struct span *s, const char *key, const char *value) {
        if (s && s->attributes && value)
                json_array_append_new(s->attributes, kv_string(key, value));
}

void trace_span_attr_int(struct span *s, const char *key, long long value) {
        if (s && s->attributes)
                json_array_append_new(s->attributes, kv_int(key, value));
}

void trace_span_error(struct span *s) {
        if (s)
                s->error = true;
}

void trace_close(struct span *s) {
        if (!s)
                return;
        s->end_ns = now_ns();
        if (T.enabled) {
                pthread_mutex_lock(&T.lock);
                if (T.n < QUEUE_MAX) {
                        T.queue[T.n++] = s;
                        s = NULL;
                        if (T.n >= BATCH_MAX)
                                pthread_cond_signal(&T.wake);
                } else {
                        T.dropped++;
                }
                pthread_mutex_unlock(&T.lock);
        }
        if (s) {
                json_decref(s->attributes);
                free(s);
        }
}

static struct span *top(void) { return depth > 0 && depth <= STACK_MAX ? stack[depth - 1] : NULL; }

void trace_push(struct span *s) {
        if (depth < STACK_MAX)
                stack[depth] = s;
        depth++;
}

void trace_pop(void) {
        if (depth <= 0)
                return;
        depth--;
        if (depth < STACK_MAX)
                stack[depth] = NULL;
}

void trace_begin(const char *name, int kind) {
        struct trace_ctx parent;
        bool have = trace_current(&parent);
        trace_push(trace_open(name, kind, have ? &parent : NULL));
}

void trace_end(void) {
        struct span *s = top();
        trace_pop();
        trace_close(s);
}

void trace_attr(const char *key, const char *value) { trace_span_attr(top(), key, value); }

void trace_attr_int(const char *key, long long value) { trace_span_attr_int(top(), key, value); }

void trace_error(void) { trace_span_error(top()); }

bool trace_current(struct trace_ctx *ret) {
        struct span *s = NULL;
        for (int i = (depth < STACK_MAX ? depth : STACK_MAX) - 1; i >= 0 && !s; i--)
                s = stack[i];
        if (s) {
                memcpy(ret->trace_id, s->trace_id, sizeof(ret->trace_id));
                memcpy(ret->span_id, s->span_id, sizeof(ret->span_id));
                return true;
        }
        *ret = inherited;
        return ret->trace_id[0] != '\0';
}

void trace_inherit(const struct trace_ctx *ctx) {
        if (ctx)
                inherited = *ctx;
        else
                memset(&inherited, 0, sizeof(inherited));
}

static json_t *span_json(struct span *s) {
        char start[24], end[24];
        snprintf(start, sizeof(start), "%llu", (unsigned long long)s->start_ns);
        snprintf(end, sizeof(end), "%llu", (unsigned long long)s->end_ns);
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:{s:i}}", "traceId", s->trace_id, "spanId",
                              s->span_id, "name", s->name, "kind", s->kind, "startTimeUnixNano", start,
                              "endTimeUnixNano", end, "attributes", s->attributes ? s->attributes : json_array(),
                              "status", "code", s->error ? 2 : 1);
        s->attributes = NULL;
        if (j && s->parent_id[0])
                json_object_set_new(j, "parentSpanId", json_string(s->parent_id));
        return j;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
        (void)p;
        (void)ud;
        return size * n;
}

static void export_batch(CURL *curl, struct span **batch, size_t n) {
        json_t *spans = json_array();
        for (size_t i = 0; i < n; i++) {
                json_array_append_new(spans, span_json(batch[i]));
                free(batch[i]);
        }
        json_t *doc = json_pack(
                "{s:[{s:{s:[o, o]}, s:[{s:{s:s, s:s}, s:o}]}]}", "resourceSpans", "resource", "attributes",
                kv_string("service.name", "airlock"), kv_string("service.version", AIRLOCK_VERSION), "scopeSpans",
                "scope", "name", "airlock", "version", AIRLOCK_VERSION, "spans", spans);
        char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        bool ok = false;
        if (body) {
                struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
                curl_easy_reset(curl);
                curl_easy_setopt(curl, CURLOPT_URL, T.url);
                curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
                curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
                curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
                long code = 0;
                if (curl_easy_perform(curl) == CURLE_OK &&
                    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
                        ok = code >= 200 && code < 300;
                curl_slist_free_all(h);
                free(body);
        }
        pthread_mutex_lock(&T.lock);
        if (ok)
                T.exported += n;
        else
                T.failed += n; /* OTLP allows retries; a lost batch of traces is not worth a backlog */
        pthread_mutex_unlock(&T.lock);
}

static void *exporter(void *arg) {
        (void)arg;
        CURL *curl = curl_easy_init();
        static struct span *batch[QUEUE_MAX];
        pthread_mutex_lock(&T.lock);
        for (;;) {
                struct timespec ts = deadline_after(CLOCK_REALTIME, FLUSH_EVERY_MS / 1000.0);
                while (!T.stopping && T.n < BATCH_MAX &&
                       pthread_cond_timedwait(&T.wake, &T.lock, &ts) != ETIMEDOUT) {
                }
                size_t n = T.n;
                memcpy(batch, T.queue, n * sizeof(struct span *));
                T.n = 0;
                bool stop = T.stopping;
                pthread_mutex_unlock(&T.lock);
                for (size_t off = 0; off < n; off += BATCH_MAX) {
                        size_t k = n - off < BATCH_MAX ? n - off : BATCH_MAX;
                        if (curl)
                                export_batch(curl, batch + off, k);
                        else
                                for (size_t i = 0; i < k; i++) {
                                        json_decref(batch[off + i]->attributes);
                                        free(batch[off + i]);
                                }
                }
                pthread_mutex_lock(&T.lock);
                if (stop)
                        break;
        }
        pthread_mutex_unlock(&T.lock);
        if (curl)
                curl_easy_cleanup(curl);
        return NULL;
}

int trace_start(struct diag *d) {
        if (!T.enabled)
                return 0;
        if (pthread_create(&T.thread, NULL, exporter, NULL) != 0)
                return diag_set(d, -EAGAIN, "otlp_endpoint", "cannot start the trace exporter thread");
        return 0;
}

void trace_stop(void) {
        if (!T.enabled)
                return;
        pthread_mutex_lock(&T.lock);
        T.stopping = true;
        pthread_cond_signal(&T.wake);
        pthread_mutex_unlock(&T.lock);
        pthread_join(T.thread, NULL); /* the last batch is sent first */
}

void trace_stats(uint64_t *exported, uint64_t *dropped, uint64_t *failed) {
        pthread_mutex_lock(&T.lock);
        *exported = T.exported;
        *dropped = T.dropped;
        *failed = T.failed;
        pthread_mutex_unlock(&T.lock);
}
