/* requests: the API's request bodies, parsed and validated. Pure (jansson only, no HTTP),
 * so it is fuzzed (tests/fuzz/fuzz_requests.c). Every refusal is an error object that
 * names the offending field; unknown fields are refused, not ignored. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/utf8.h"
#include "daemon/requests.h"
#include "proto/launch_proto.h"

#define ENV_MAX_ENTRIES 128
#define ENV_MAX_TOTAL (LP_ENV_MAX_BYTES - 1024) /* room for the sandbox's own variables */
#define METADATA_MAX_KEYS 32
#define METADATA_MAX_VALUE 1024

json_t *api_error(const char *code, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
json_t *api_error(const char *code, const char *field, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Messages quote what the caller sent (ids, paths, names): always one line of valid
         * UTF-8, or the JSON could not be made at all (and the request would get no answer). */
        utf8_one_line(msg);
        json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
        if (field && *field) {
                char f[4200];
                snprintf(f, sizeof(f), "%s", field);
                utf8_one_line(f);
                json_object_set_new(e, "field", json_string(f));
        }
        return json_pack("{s:o}", "error", e);
}

struct field {
        const char *name;
        int type; /* JSON_STRING, JSON_INTEGER, JSON_REAL (any number), JSON_TRUE (a boolean), JSON_OBJECT,
                   * JSON_ARRAY */
        double lo, hi;
};

/* Check that obj has only the listed fields, each of the right type and range. */
static json_t *check_fields(json_t *obj, const char *prefix, const struct field *fields, size_t n) {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
                const struct field *f = NULL;
                for (size_t i = 0; i < n; i++)
                        if (!strcmp(fields[i].name, k))
                                f = &fields[i];
                char path[128];
                snprintf(path, sizeof(path), "%s%s", prefix, k);
                if (!f)
                        return api_error("invalid_request", path, "unknown field '%s'", path);
                bool ok = f->type == JSON_REAL      ? json_is_number(v)
                          : f->type == JSON_INTEGER ? json_is_integer(v)
                          : f->type == JSON_STRING  ? json_is_string(v)
                          : f->type == JSON_TRUE    ? json_is_boolean(v)
                          : f->type == JSON_ARRAY   ? json_is_array(v)
                                                    : json_is_object(v);
                if (!ok)
                        return api_error("invalid_request", path, "'%s' must be %s", path,
                                          f->type == JSON_TRUE      ? "true or false"
                                          : f->type == JSON_REAL    ? "a number"
                                          : f->type == JSON_INTEGER ? "an integer"
                                          : f->type == JSON_STRING  ? "a string"
                                          : f->type == JSON_ARRAY   ? "an array"
                                                                    : "an object");
                if ((f->type == JSON_REAL || f->type == JSON_INTEGER) &&
                    (json_number_value(v) < f->lo || json_number_value(v) > f->hi))
                        return api_error("invalid_request", path, "'%s' must be between %g and %g", path, f->lo,
                                          f->hi);
        }
        return NULL;
}

static json_t *check_string_map(json_t *obj, const char *name, size_t max_keys) {
        if (!obj)
                return NULL;
        if (json_object_size(obj) > max_keys)
                return api_error("invalid_request", name, "'%s' has more than %zu entries", name, max_keys);
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
                if (!json_is_string(v)) {
                        char path[160];
                        snprintf(path, sizeof(path), "%s.%.100s", name, k);
                        return api_error("invalid_request", path, "'%s' must be a string", path);
                }
        }
        return NULL;
}

void json_shape_of(const char *body, size_t len, struct json_shape *ret) {
        memset(ret, 0, sizeof(*ret));
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                char c = body[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"') {
                        in_string = true;
                } else if (c == '{' || c == '[') {
                        if (++ret->depth > ret->deepest)
                                ret->deepest = ret->depth;
                } else if (c == '}' || c == ']') {
                        ret->depth--;
                } else if (c == ',' || c == ':') {
                        ret->separators++;
                }
        }
}

/* How deeply nested in objects/arrays the byte at pos is (strings respected): names a
 * duplicated key only when it is a top-level field, never a wrong one. */
static int object_depth_at(const char *body, size_t pos) {
        struct json_shape sh;
        json_shape_of(body, pos, &sh);
        return sh.depth;
}

static json_t *check_env(json_t *env) {
        const char *k;
        json_t *v;
        char path[160];
        size_t env_bytes = 0;
        json_object_foreach(env, k, v) {
                snprintf(path, sizeof(path), "env.%.100s", k);
                env_bytes += strlen(k) + json_string_length(v) + 2;
                if (!lp_valid_env_name(k, strlen(k)))
                        return api_error("invalid_request", path,
                                         "variable name '%.100s' must match [A-Za-z_][A-Za-z0-9_]*", k);
                if (json_string_length(v) > LP_ENV_VALUE_MAX)
                        return api_error("invalid_request", path, "the value is longer than %d bytes", LP_ENV_VALUE_MAX);
                if (env_bytes > ENV_MAX_TOTAL)
                        return api_error("invalid_request", "env", "the variables together exceed %d bytes",
                                         ENV_MAX_TOTAL);
        }
        return NULL;
}

#define BODY_DEPTH_MAX 64
#define BODY_VALUES_MAX 65536

static json_t *parse_body(const char *body, size_t len, json_t **ret) {
        if (len == 0) { /* no body: no fields */
                *ret = json_object();
                return NULL;
        }
        /* Before parsing: the parser's memory grows with the number of values (~40 bytes
         * each), and no body of this API has more than a few hundred. */
        struct json_shape sh;
        json_shape_of(body ? body : "", len, &sh);
        if (sh.deepest > BODY_DEPTH_MAX)
                return api_error("invalid_request", "", "the body is nested deeper than %d levels", BODY_DEPTH_MAX);
        if (sh.separators >= BODY_VALUES_MAX)
                return api_error("invalid_request", "", "the body holds more than %d JSON values", BODY_VALUES_MAX);
        json_error_t e;
        json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &e);
        if (!j) {
                /* A duplicated key is named: jansson says `duplicate object key near '"code"'`. */
                static const char dup[] = "duplicate object key near '\"";
                char field[64] = "";
                const char *q = strstr(e.text, dup);
                if (q && body && e.position >= 0 && object_depth_at(body, (size_t)e.position < len ? (size_t)e.position : len) == 1) {
                        q += sizeof(dup) - 1;
                        size_t n = strcspn(q, "\"");
                        if (n < sizeof(field))
                                snprintf(field, sizeof(field), "%.*s", (int)n, q);
                }
                return api_error("invalid_request", field, "the body is not valid JSON: %s (line %d, column %d)",
                                 e.text, e.line, e.column);
        }
        if (!json_is_object(j)) {
                json_decref(j);
                return api_error("invalid_request", "", "the body must be a JSON object");
        }
        *ret = j;
        return NULL;
}

/* The end of every request_*(): the body on success, else the error (and no body). */
static int finish(json_t *req, json_t *err, json_t **ret_req, json_t **ret_err) {
        if (err) {
                json_decref(req);
                *ret_err = err;
                return -EINVAL;
        }
        *ret_req = req;
        return 0;
}

bool request_valid_secret_name(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n >= 1 && n <= SECRET_NAME_MAX && lp_valid_env_name(s, n);
}

/* "secrets": names of the tenant's secrets, each set as the variable of that name: valid,
 * unique, at most SECRETS_PER_SESSION, and not also in "env". */
static json_t *check_secret_names(json_t *names, json_t *env) {
        size_t i, k;
        json_t *v, *w;
        if (json_array_size(names) > SECRETS_PER_SESSION)
                return api_error("invalid_request", "secrets", "at most %d secrets per session", SECRETS_PER_SESSION);
        json_array_foreach(names, i, v) {
                char path[32];
                snprintf(path, sizeof(path), "secrets[%zu]", i);
                const char *name = json_string_value(v);
                if (!request_valid_secret_name(name))
                        return api_error("invalid_request", path,
                                         "a secret's name: 1 to %d of [A-Za-z0-9_], not starting with a digit",
                                         SECRET_NAME_MAX);
                json_array_foreach(names, k, w) {
                        if (k < i && json_equal(v, w))
                                return api_error("invalid_request", path, "secret %s is named twice", name);
                }
                if (json_object_get(env, name))
                        return api_error("invalid_request", path,
                                         "%s is both in env and a secret: the secret sets the variable", name);
        }
        return NULL;
}

int request_secret_put(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {{"value", JSON_STRING, 0, 0}};
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        json_t *v = json_object_get(req, "value");
        if (!err && !v)
                err = api_error("invalid_request", "value", "'value' is required");
        else if (!err && json_string_length(v) > LP_ENV_VALUE_MAX)
                err = api_error("invalid_request", "value", "the value is longer than %d bytes", LP_ENV_VALUE_MAX);
        else if (!err && strlen(json_string_value(v)) != json_string_length(v))
                err = api_error("invalid_request", "value", "the value contains a NUL character");
        return finish(req, err, ret_req, ret_err);
}

bool request_valid_interpreter_name(const char *s) {
        size_t n = s ? strlen(s) : 0;
        bool ok = n >= 1 && n <= 48 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
        for (size_t i = 1; ok && i < n; i++)
                ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                     s[i] == '_' || s[i] == '-';
        return ok;
}

/* An allowlist entry: the grammar is launch_proto's (the launcher and the proxy parse the
 * same); accepted entries are only lower-cased into out. */
int request_allow_entry(const char *e, char *out, size_t cap) {
        size_t n = e ? strlen(e) : 0;
        struct lp_allow a;
        if (!n || n >= cap || lp_parse_allow_entry(e, n, &a) < 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                out[i] = (char)(e[i] >= 'A' && e[i] <= 'Z' ? e[i] - 'A' + 'a' : e[i]);
        out[n] = '\0';
        return 0;
}

static const struct field limit_fields[] = {
        {"memory_mb", JSON_INTEGER, 16, 65536},
        {"cpus", JSON_REAL, 0.01, 256},
        {"pids", JSON_INTEGER, 4, 65536},
        {"workspace_mb", JSON_INTEGER, 1, 65536},
};

/* `start` (interpreters and sessions): how a session's sandbox is started (session.c). */
static json_t *check_start(json_t *req) {
        const char *start = json_string_value(json_object_get(req, "start"));
        if (start && strcmp(start, "warm") != 0 && strcmp(start, "fresh") != 0)
                return api_error("invalid_request", "start", "start: warm or fresh; got '%.32s'", start);
        return NULL;
}

/* POST /v1/interpreters (create: name required) and PATCH /v1/interpreters/{name}. */
int request_interpreter(const char *body, size_t len, bool create, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field top[] = {
                {"name", JSON_STRING, 0, 0},
                {"description", JSON_STRING, 0, 0},
                {"timeout_seconds", JSON_INTEGER, 1, 28800},
                {"idle_timeout_seconds", JSON_INTEGER, 1, 28800},
                {"execution_timeout_seconds", JSON_REAL, 0.1, 3600},
                {"limits", JSON_OBJECT, 0, 0},
                {"max_limits", JSON_OBJECT, 0, 0},
                {"network", JSON_OBJECT, 0, 0},
                {"runtime", JSON_STRING, 0, 0},
                {"env", JSON_OBJECT, 0, 0},
                {"start", JSON_STRING, 0, 0},
        };
        static const struct field max_fields[] = {
                {"memory_mb", JSON_INTEGER, 16, 65536},   {"cpus", JSON_REAL, 0.01, 256},
                {"pids", JSON_INTEGER, 4, 65536},         {"workspace_mb", JSON_INTEGER, 1, 65536},
                {"timeout_seconds", JSON_INTEGER, 1, 28800},
        };
        static const struct field net_fields[] = {{"mode", JSON_STRING, 0, 0}, {"allowlist", JSON_ARRAY, 0, 0}};
        if (!err)
                err = check_fields(req, "", top, ARRAY_SIZE(top));
        if (!err && json_object_get(req, "limits"))
                err = check_fields(json_object_get(req, "limits"), "limits.", limit_fields, ARRAY_SIZE(limit_fields));
        if (!err && json_object_get(req, "max_limits"))
                err = check_fields(json_object_get(req, "max_limits"), "max_limits.", max_fields, ARRAY_SIZE(max_fields));
        json_t *net = json_object_get(req, "network");
        if (!err && net)
                err = check_fields(net, "network.", net_fields, ARRAY_SIZE(net_fields));
        const char *mode = json_string_value(json_object_get(net, "mode"));
        if (!err && mode && strcmp(mode, "none") != 0 && strcmp(mode, "allowlist") != 0 && strcmp(mode, "public") != 0)
                err = api_error("invalid_request", "network.mode", "network.mode: none, allowlist or public; got '%.32s'",
                                mode);
        json_t *allow = json_object_get(net, "allowlist");
        if (!err && json_array_size(allow) > ALLOWLIST_MAX)
                err = api_error("invalid_request", "network.allowlist", "at most %d entries", ALLOWLIST_MAX);
        size_t i;
        json_t *v;
        json_array_foreach(allow, i, v) {
                char path[48], norm[264];
                snprintf(path, sizeof(path), "network.allowlist[%zu]", i);
                if (!err && request_allow_entry(json_string_value(v), norm, sizeof(norm)) < 0)
                        err = api_error("invalid_request", path,
                                        "HOST:PORT, HOST a DNS name (\"*.\" for its subdomains) or an IPv4 address, "
                                        "PORT 1-65535");
        }
        if (!err)
                err = check_string_map(json_object_get(req, "env"), "env", ENV_MAX_ENTRIES);
        if (!err)
                err = check_env(json_object_get(req, "env"));
        const char *name = json_string_value(json_object_get(req, "name"));
        if (!err && create && !name)
                err = api_error("invalid_request", "name", "'name' is required");
        else if (!err && !create && json_object_get(req, "name"))
                err = api_error("invalid_request", "name", "an interpreter cannot be renamed");
        else if (!err && name && !request_valid_interpreter_name(name))
                err = api_error("invalid_request", "name", "a letter, then up to 47 of [A-Za-z0-9_-]; got '%.64s'",
                                name);
        const char *desc = json_string_value(json_object_get(req, "description"));
        if (!err && desc && json_string_length(json_object_get(req, "description")) > 4096)
                err = api_error("invalid_request", "description", "at most 4096 bytes");
        const char *runtime = json_string_value(json_object_get(req, "runtime"));
        char rt_name[LP_RUNTIME_NAME_MAX + 1];
        unsigned rt_version;
        if (!err && runtime && lp_parse_runtime(runtime, rt_name, sizeof(rt_name), &rt_version) < 0)
                err = api_error("invalid_request", "runtime",
                                "runtime: 'default', NAME or NAME@vN (NAME a lowercase letter, then up to %d of "
                                "[a-z0-9-]); got '%.64s'", LP_RUNTIME_NAME_MAX - 1, runtime);
        if (!err)
                err = check_start(req);
        return finish(req, err, ret_req, ret_err);
}

int request_session_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field top[] = {
                {"interpreter", JSON_STRING, 0, 0},         {"timeout_seconds", JSON_INTEGER, 1, 28800},
                {"idle_timeout_seconds", JSON_INTEGER, 1, 28800}, {"limits", JSON_OBJECT, 0, 0},
                {"env", JSON_OBJECT, 0, 0},                 {"metadata", JSON_OBJECT, 0, 0},
                {"secrets", JSON_ARRAY, 0, 0},              {"start", JSON_STRING, 0, 0},
        };
        if (!err)
                err = check_fields(req, "", top, ARRAY_SIZE(top));
        if (!err)
                err = check_start(req);
        if (!err && json_object_get(req, "limits"))
                err = check_fields(json_object_get(req, "limits"), "limits.", limit_fields, ARRAY_SIZE(limit_fields));
        if (!err)
                err = check_string_map(json_object_get(req, "env"), "env", ENV_MAX_ENTRIES);
        if (!err)
                err = check_string_map(json_object_get(req, "metadata"), "metadata", METADATA_MAX_KEYS);
        if (!err)
                err = check_env(json_object_get(req, "env"));
        const char *k;
        json_t *v;
        char path[160];
        json_object_foreach(json_object_get(req, "metadata"), k, v) {
                if (err)
                        break;
                size_t kn = strlen(k);
                bool ok = kn >= 1 && kn <= 64;
                for (size_t i = 0; ok && i < kn; i++)
                        ok = (unsigned char)k[i] >= 0x20 && k[i] != 0x7f;
                snprintf(path, sizeof(path), "metadata.%.140s", k);
                if (!ok)
                        err = api_error("invalid_request", path,
                                        "metadata keys are 1-64 characters without control characters");
                else if (json_string_length(v) > METADATA_MAX_VALUE)
                        err = api_error("invalid_request", path, "the value is longer than %d characters",
                                        METADATA_MAX_VALUE);
        }
        if (!err)
                err = check_secret_names(json_object_get(req, "secrets"), json_object_get(req, "env"));
        const char *interp = json_string_value(json_object_get(req, "interpreter"));
        if (!err && interp && !request_valid_interpreter_name(interp))
                err = api_error("invalid_request", "interpreter",
                                "an interpreter's name: a letter, then up to 47 of [A-Za-z0-9_-]; got '%.64s'", interp);
        return finish(req, err, ret_req, ret_err);
}

bool request_valid_name(const char *s) {
        size_t n = s ? strlen(s) : 0;
        bool ok = n >= 1 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
                ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                     s[i] == '_' || s[i] == '-';
        return ok;
}

bool request_valid_tenant(const char *t) {
        size_t n = t ? strlen(t) : 0;
        bool ok = n >= 1 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
                ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || (t[i] == '-' && i > 0);
        return ok;
}

/* RFC 3339 in UTC as entries write it: YYYY-MM-DDTHH:MM:SS, optional .digits, then Z. */
bool request_valid_time(const char *t) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        size_t n = t ? strlen(t) : 0;
        if (n < sizeof(shape) || n > 40)
                return false;
        for (size_t i = 0; i + 1 < sizeof(shape); i++)
                if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
                        return false;
        const char *rest = t + sizeof(shape) - 1;
        if (*rest == '.') {
                size_t digits = strspn(rest + 1, "0123456789");
                if (!digits)
                        return false;
                rest += 1 + digits;
        }
        return rest[0] == 'Z' && rest[1] == '\0';
}

static const char *const languages[] = {"python", "javascript", "typescript", "bash", NULL};

/* A valid time (request_valid_time) as Unix seconds, its fields range-checked. */
static int time_seconds(const char *t, int64_t *ret) {
        if (!request_valid_time(t))
                return -EINVAL;
        struct tm tm = {0};
        int f[6] = {0};
        for (int i = 0, off[] = {0, 5, 8, 11, 14, 17}, len[] = {4, 2, 2, 2, 2, 2}; i < 6; i++)
                for (int k = 0; k < len[i]; k++)
                        f[i] = f[i] * 10 + (t[off[i] + k] - '0');
        if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
                return -EINVAL;
        tm.tm_year = f[0] - 1900, tm.tm_mon = f[1] - 1, tm.tm_mday = f[2];
        tm.tm_hour = f[3], tm.tm_min = f[4], tm.tm_sec = f[5];
        time_t v = timegm(&tm);
        if (v == (time_t)-1 || tm.tm_mday != f[2]) /* 31 November rolls over: refused */
                return -EINVAL;
        *ret = (int64_t)v;
        return 0;
}

static json_t *check_language(const char *lang, const char *field);

static int refuse(json_t **ret_err, json_t *e) {
        *ret_err = e;
        return -EINVAL;
}

const char *const stats_query_names[STATS_Q_COUNT] = {"since", "until", "bucket", "by", "interpreter", "language",
                                                      "tenant"};

int request_stats_query(const char *const v[STATS_Q_COUNT], int64_t now, struct stats_query *q, json_t **err) {
        memset(q, 0, sizeof(*q));
        q->until = now + 1; /* executions recorded this second are in */
        q->since = now - 86400;
        q->by = "interpreter";
        if (v[STATS_Q_SINCE] && time_seconds(v[STATS_Q_SINCE], &q->since) < 0)
                return refuse(err,
                              api_error("invalid_request", "since", "since: an RFC 3339 UTC time, e.g. 2026-01-31T00:00:00Z"));
        if (v[STATS_Q_UNTIL] && time_seconds(v[STATS_Q_UNTIL], &q->until) < 0)
                return refuse(err,
                              api_error("invalid_request", "until", "until: an RFC 3339 UTC time, e.g. 2026-01-31T00:00:00Z"));
        if (q->until <= q->since)
                return refuse(err, api_error("invalid_request", "until", "until must be after since"));
        q->bucket = q->until - q->since;
        const char *b = v[STATS_Q_BUCKET];
        if (b) {
                char *end = NULL;
                errno = 0;
                long long n = *b >= '0' && *b <= '9' ? strtoll(b, &end, 10) : -1;
                long long unit = end && !strcmp(end, "") ? 1 : end && !strcmp(end, "s") ? 1
                                 : end && !strcmp(end, "m") ? 60 : end && !strcmp(end, "h") ? 3600
                                 : end && !strcmp(end, "d") ? 86400 : 0;
                if (n < 1 || errno || !unit || n > 366LL * 86400 / unit || n * unit < 60)
                        return refuse(err,
                                      api_error("invalid_request", "bucket",
                                                "bucket: seconds, or a number with m, h or d; from 60 s to 366 d"));
                q->bucket = n * unit;
        }
        if ((q->until - q->since + q->bucket - 1) / q->bucket > 10000)
                return refuse(err,
                              api_error("invalid_request", "bucket", "more than 10000 buckets: use a larger bucket"));
        if (v[STATS_Q_BY]) {
                static const char *const cols[] = {"interpreter", "tenant", "language"};
                q->by = NULL;
                for (size_t i = 0; i < 3; i++)
                        if (!strcmp(v[STATS_Q_BY], cols[i]))
                                q->by = cols[i];
                if (!q->by)
                        return refuse(err,
                                      api_error("invalid_request", "by", "by: interpreter, tenant or language"));
        }
        const char *interp = v[STATS_Q_INTERPRETER], *lang = v[STATS_Q_LANGUAGE], *tenant = v[STATS_Q_TENANT];
        if (interp && !request_valid_name(interp))
                return refuse(err,
                              api_error("invalid_request", "interpreter", "interpreter: 1 to 64 of [A-Za-z0-9_-]"));
        json_t *bad = lang ? check_language(lang, "language") : NULL;
        if (bad)
                return refuse(err, bad);
        if (tenant && !request_valid_tenant(tenant))
                return refuse(err, api_error("invalid_request", "tenant", "tenant: 1 to 64 of [a-z0-9-]"));
        snprintf(q->interpreter, sizeof(q->interpreter), "%s", interp ? interp : "");
        snprintf(q->language, sizeof(q->language), "%s", lang ? lang : "");
        snprintf(q->tenant, sizeof(q->tenant), "%s", tenant ? tenant : "");
        for (int i = 0; i < 2; i++) {
                time_t t = (time_t)(i ? q->until : q->since);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(i ? q->until_text : q->since_text, sizeof(q->since_text), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        }
        return 0;
}

/* NULL when lang is absent or one of the languages; else the error naming `field`. */
static json_t *check_language(const char *lang, const char *field) {
        if (!lang)
                return NULL;
        for (size_t i = 0; languages[i]; i++)
                if (!strcmp(lang, languages[i]))
                        return NULL;
        return api_error("invalid_request", field, "'%s' must be one of python, javascript, typescript, bash; got '%.64s'",
                         field, lang);
}

int request_execute(const char *body, size_t len, json_t **ret_req, struct exec_req *ret, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {
                {"code", JSON_STRING, 0, 0},
                {"language", JSON_STRING, 0, 0},
                {"context_id", JSON_STRING, 0, 0},
                {"clear_context", JSON_TRUE, 0, 0},
                {"timeout_seconds", JSON_REAL, 0.1, 3600},
        };
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        if (!err && !json_object_get(req, "code"))
                err = api_error("invalid_request", "code", "'code' is required");
        const char *lang = json_string_value(json_object_get(req, "language"));
        if (!err)
                err = check_language(lang, "language");
        const char *context = json_string_value(json_object_get(req, "context_id"));
        if (!err && context && !request_valid_name(context))
                err = api_error("invalid_request", "context_id", "'context_id' must match [A-Za-z0-9_-]{1,64}");
        if (err)
                return finish(req, err, ret_req, ret_err);
        json_t *code = json_object_get(req, "code");
        double timeout = json_number_value(json_object_get(req, "timeout_seconds"));
        *ret = (struct exec_req){.code = json_string_value(code),
                                 .code_len = json_string_length(code),
                                 .context = context,
                                 .language = lang,
                                 .clear = json_is_true(json_object_get(req, "clear_context")),
                                 .timeout_s = timeout > 0 ? timeout : 0}; /* 0: the session's default */
        *ret_req = req; /* owns the strings in *ret */
        return 0;
}

int request_context_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {
                {"id", JSON_STRING, 0, 0},
                {"language", JSON_STRING, 0, 0},
        };
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        if (!err)
                err = check_language(json_string_value(json_object_get(req, "language")), "language");
        const char *id = json_string_value(json_object_get(req, "id"));
        if (!err && id && !request_valid_name(id))
                err = api_error("invalid_request", "id", "'id' must match [A-Za-z0-9_-]{1,64}");
        return finish(req, err, ret_req, ret_err);
}

int request_command(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {
                {"command", JSON_STRING, 0, 0},    {"timeout_seconds", JSON_REAL, 0.1, 86400},
                {"cwd", JSON_STRING, 0, 0},        {"env", JSON_OBJECT, 0, 0},
                {"background", JSON_TRUE, 0, 0},
        };
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        const char *cmd = json_string_value(json_object_get(req, "command"));
        if (!err && !cmd)
                err = api_error("invalid_request", "command", "'command' is required");
        if (!err && (json_string_length(json_object_get(req, "command")) == 0 ||
                     json_string_length(json_object_get(req, "command")) > (1u << 20)))
                err = api_error("invalid_request", "command", "'command' must be 1 byte to 1 MiB");
        if (!err && json_string_length(json_object_get(req, "cwd")) > 1023)
                err = api_error("invalid_request", "cwd", "'cwd' is longer than 1023 bytes");
        if (!err)
                err = check_string_map(json_object_get(req, "env"), "env", ENV_MAX_ENTRIES);
        if (!err)
                err = check_env(json_object_get(req, "env"));
        return finish(req, err, ret_req, ret_err);
}

int request_key_create(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {
                {"tenant", JSON_STRING, 0, 0},
                {"name", JSON_STRING, 0, 0},
                {"scopes", JSON_ARRAY, 0, 0},
        };
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        const char *tenant = json_string_value(json_object_get(req, "tenant"));
        if (!err && tenant && !request_valid_tenant(tenant))
                err = api_error("invalid_request", "tenant",
                                "'tenant' must be 1 to 64 characters from [a-z0-9-], not starting with '-'");
        const char *name = json_string_value(json_object_get(req, "name"));
        if (!err && name && json_string_length(json_object_get(req, "name")) > 128)
                err = api_error("invalid_request", "name", "'name' is longer than 128 bytes");
        for (const char *p = name; !err && p && *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        err = api_error("invalid_request", "name", "'name' must not contain control characters");
        json_t *scopes = json_object_get(req, "scopes");
        if (!err && scopes && json_array_size(scopes) == 0)
                err = api_error("invalid_request", "scopes", "'scopes' must name at least one of sessions, admin");
        size_t i;
        json_t *sc;
        json_array_foreach(scopes, i, sc) {
                const char *v = json_string_value(sc);
                if (!err && (!v || (strcmp(v, "sessions") != 0 && strcmp(v, "admin") != 0)))
                        err = api_error("invalid_request", "scopes", "'scopes[%zu]' must be \"sessions\" or \"admin\"", i);
        }
        return finish(req, err, ret_req, ret_err);
}

int request_tenant_put(const char *body, size_t len, json_t **ret_req, json_t **ret_err) {
        json_t *req = NULL, *err = parse_body(body, len, &req);
        static const struct field fields[] = {
                {"max_sessions", JSON_INTEGER, 0, 100000},
                {"max_memory_mb", JSON_INTEGER, 0, 1 << 24},
        };
        if (!err)
                err = check_fields(req, "", fields, ARRAY_SIZE(fields));
        for (size_t i = 0; !err && i < ARRAY_SIZE(fields); i++)
                if (!json_object_get(req, fields[i].name))
                        err = api_error("invalid_request", fields[i].name, "'%s' is required", fields[i].name);
        return finish(req, err, ret_req, ret_err);
}

static bool lower_hex(const char *s, size_t n) {
        bool nonzero = false;
        for (size_t i = 0; i < n; i++) {
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
                nonzero |= s[i] != '0';
        }
        return nonzero;
}

/* W3C Trace Context: "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>"; a later
 * version may add fields after a '-', which are ignored as the spec says. Version ff and
 * all-zero ids are invalid. */
int request_traceparent(const char *h, struct trace_ctx *ret) {
        size_t n = h ? strlen(h) : 0;
        if (n < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-')
                return -EINVAL;
        if (!((h[0] >= '0' && h[0] <= '9') || (h[0] >= 'a' && h[0] <= 'f')) ||
            !((h[1] >= '0' && h[1] <= '9') || (h[1] >= 'a' && h[1] <= 'f')) || (h[0] == 'f' && h[1] == 'f'))
                return -EINVAL;
        if (!strncmp(h, "00", 2) && n != 55)
                return -EINVAL;
        if (n > 55 && h[55] != '-')
                return -EINVAL;
        if (!lower_hex(h + 3, 32) || !lower_hex(h + 36, 16))
                return -EINVAL;
        for (int i = 53; i < 55; i++)
                if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
                        return -EINVAL;
        memcpy(ret->trace_id, h + 3, 32);
        ret->trace_id[32] = '\0';
        memcpy(ret->span_id, h + 36, 16);
        ret->span_id[16] = '\0';
        return 0;
}
