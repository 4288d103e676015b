/* interpreters: named session configurations (AgentCore's "code interpreters").
 *
 * An interpreter holds the defaults a session starts from (TTL, idle timeout, execution
 * timeout, limits, network, runtime, env) and the ceilings a session may ask up to
 * (max_limits). A session may tighten anything and loosen up to the ceilings; defaults
 * never exceed ceilings. `default` is built in, shared by every tenant, and only the
 * operator (an admin key of tenant default) may change it; every other interpreter
 * belongs to the tenant whose admin made it. Stored as JSON documents in SQLite.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/requests.h"

#define GLOBAL "" /* the tenant column of built-in interpreters */

static const char *const limit_names[] = {"memory_mb", "cpus", "pids", "workspace_mb"};

/* What `default` starts as, and what any field a new interpreter leaves out takes. The
 * built-in ceilings are the API's own bounds: by default a session may ask for anything
 * the API accepts (the tenant's quotas still apply). */
static json_t *builtin_default(void) {
        return json_pack("{s:s, s:s, s:b, s:i, s:i, s:f, s:{s:i, s:f, s:i, s:i}, s:{s:i, s:f, s:i, s:i, s:i}, "
                         "s:{s:s, s:[]}, s:s, s:{}, s:s}",
                         "name", "default", "description", "The built-in interpreter: Python, JavaScript, TypeScript "
                         "and bash on the default runtime, no network.", "builtin", 1, "timeout_seconds", 900,
                         "idle_timeout_seconds", 900, "execution_timeout_seconds", 60.0, "limits", "memory_mb", 512,
                         "cpus", 1.0, "pids", 64, "workspace_mb", 512, "max_limits", "memory_mb", 65536, "cpus",
                         256.0, "pids", 65536, "workspace_mb", 65536, "timeout_seconds", 28800, "network", "mode",
                         "none", "allowlist", "runtime", "default", "env", "start", "warm");
}

/* Interpreters stored before `start` existed start warm, as they did then. */
static json_t *with_start(json_t *i) {
        if (i && !json_object_get(i, "start"))
                json_object_set_new(i, "start", json_string("warm"));
        return i;
}

int interpreters_init(void) {
        json_t *cur = store_interpreter_get(GLOBAL, "default");
        if (cur) {
                json_decref(cur);
                return 0;
        }
        json_t *d = builtin_default();
        char now[32];
        rfc3339(time(NULL), now, sizeof(now));
        json_object_set_new(d, "created_at", json_string(now));
        json_object_set_new(d, "updated_at", json_string(now));
        int r = store_interpreter_put(GLOBAL, "default", d, true);
        json_decref(d);
        return r;
}

/* A tenant sees the built-in ones and its own. */
json_t *interpreter_get(const char *tenant, const char *name) {
        json_t *i = store_interpreter_get(GLOBAL, name);
        return with_start(i ? i : store_interpreter_get(tenant, name));
}

json_t *interpreters_list(const char *tenant) {
        json_t *out = store_interpreters(GLOBAL);
        json_t *own = store_interpreters(tenant);
        json_array_extend(out, own);
        json_decref(own);
        size_t k;
        json_t *i;
        json_array_foreach(out, k, i) {
                with_start(i);
        }
        return out;
}

/* Defaults within ceilings, and a mode the launcher can give. */
static int check(json_t *i, struct diag *d) {
        json_t *lim = json_object_get(i, "limits"), *max = json_object_get(i, "max_limits");
        for (size_t k = 0; k < sizeof(limit_names) / sizeof(limit_names[0]); k++) {
                double v = json_number_value(json_object_get(lim, limit_names[k]));
                double m = json_number_value(json_object_get(max, limit_names[k]));
                if (v > m)
                        return diag_set(d, -EINVAL, "max_limits", "max_limits.%s (%g) is below limits.%s (%g)",
                                        limit_names[k], m, limit_names[k], v);
        }
        double ttl = json_number_value(json_object_get(i, "timeout_seconds"));
        double max_ttl = json_number_value(json_object_get(max, "timeout_seconds"));
        if (ttl > max_ttl)
                return diag_set(d, -EINVAL, "max_limits", "max_limits.timeout_seconds (%g) is below timeout_seconds (%g)",
                                max_ttl, ttl);
        const char *mode = json_string_value(json_object_get(json_object_get(i, "network"), "mode"));
        /* Fail closed: a mode this daemon cannot enforce is refused, never run as another. */
        if (mode && strcmp(mode, "none") != 0 && strcmp(mode, "public") != 0 && strcmp(mode, "allowlist") != 0)
                return diag_set(d, -ENOTSUP, "network.mode", "unknown network mode '%s' (none, allowlist, public)",
                                mode);
        /* Said here, when the operator sets it up, rather than at every session's start. */
        const struct lp_host_report *h = launch_host();
        if (mode && !strcmp(mode, "allowlist") && !h->egress)
                return diag_set(d, -ENOTSUP, "network.mode",
                                "network mode allowlist needs the launcher running as root with airlock-egress "
                                "installed beside it on this host");
        size_t allow_bytes = 0;
        size_t ai;
        json_t *av;
        json_array_foreach(json_object_get(json_object_get(i, "network"), "allowlist"), ai, av) {
                allow_bytes += json_string_length(av) + 1;
        }
        if (allow_bytes > LP_ALLOW_MAX_BYTES)
                return diag_set(d, -E2BIG, "network.allowlist", "the entries together exceed %d bytes",
                                LP_ALLOW_MAX_BYTES);
        if (mode && !strcmp(mode, "public") && (!h->is_root || !h->slirp4netns))
                return diag_set(d, -ENOTSUP, "network.mode",
                                "network mode public needs slirp4netns and nft (apt-get install slirp4netns "
                                "nftables), the tun driver (/dev/net/tun) and the launcher running as root on this "
                                "host");
        /* A runtime that exists and built (NAME: some version of it did); which version a
         * session gets is decided when it starts. */
        char rt[LP_RUNTIME_MAX + 1];
        const char *runtime = json_string_value(json_object_get(i, "runtime"));
        if (runtime && runtime_resolve(runtime, rt, sizeof(rt), NULL, d) < 0)
                return d ? d->code : -EINVAL;
        size_t env_bytes = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(i, "env"), k, v) {
                env_bytes += strlen(k) + json_string_length(v) + 2;
        }
        if (env_bytes > LP_ENV_MAX_BYTES - 1024)
                return diag_set(d, -E2BIG, "env", "the variables together exceed %d bytes", LP_ENV_MAX_BYTES - 1024);
        return 0;
}

/* Overlay req's fields on base: objects (limits, max_limits, network) field by field,
 * the rest whole. */
static void overlay(json_t *base, json_t *req) {
        const char *k;
        json_t *v;
        json_object_foreach(req, k, v) {
                json_t *cur = json_object_get(base, k);
                if (json_is_object(v) && json_is_object(cur) && strcmp(k, "env") != 0)
                        json_object_update(cur, v);
                else
                        json_object_set(base, k, v);
        }
}

int interpreter_create(const char *tenant, json_t *req, json_t **ret, struct diag *d) {
        const char *name = json_string_value(json_object_get(req, "name"));
        json_t *exists = interpreter_get(tenant, name);
        if (exists) {
                json_decref(exists);
                return diag_set(d, -EEXIST, "name", "interpreter %s exists", name);
        }
        json_t *i = builtin_default();
        json_object_set_new(i, "builtin", json_false());
        json_object_set_new(i, "description", json_string(""));
        /* Left out, the ceilings are the defaults: sessions may only tighten. */
        json_t *max = json_object_get(req, "max_limits");
        overlay(i, req);
        json_t *lim = json_object_get(i, "limits"), *imax = json_object_get(i, "max_limits");
        for (size_t k = 0; k < sizeof(limit_names) / sizeof(limit_names[0]); k++)
                if (!json_object_get(max, limit_names[k]))
                        json_object_set(imax, limit_names[k], json_object_get(lim, limit_names[k]));
        if (!json_object_get(max, "timeout_seconds"))
                json_object_set(imax, "timeout_seconds", json_object_get(i, "timeout_seconds"));
        char now[32];
        rfc3339(time(NULL), now, sizeof(now));
        json_object_set_new(i, "created_at", json_string(now));
        json_object_set_new(i, "updated_at", json_string(now));
        int r = check(i, d);
        if (r == 0 && store_interpreter_put(tenant, name, i, true) < 0)
                r = diag_set(d, -EEXIST, "name", "interpreter %s exists", name);
        if (r < 0) {
                json_decref(i);
                return r;
        }
        *ret = i;
        return 0;
}

int interpreter_update(const char *tenant, bool operator, const char *name, json_t *req, json_t **ret,
                       struct diag *d) {
        bool builtin = true;
        json_t *i = store_interpreter_get(GLOBAL, name);
        if (!i) {
                builtin = false;
                i = store_interpreter_get(tenant, name);
        }
        if (!i)
                return diag_set(d, -ENOENT, "", "no interpreter %s", name);
        with_start(i);
        if (builtin && !operator) {
                json_decref(i);
                return diag_set(d, -EPERM, "", "the built-in interpreter %s takes an admin key of tenant default", name);
        }
        overlay(i, req);
        char now[32];
        rfc3339(time(NULL), now, sizeof(now));
        json_object_set_new(i, "updated_at", json_string(now));
        int r = check(i, d);
        if (r == 0 && store_interpreter_put(builtin ? GLOBAL : tenant, name, i, false) < 0)
                r = diag_set(d, -EIO, "", "cannot store interpreter %s", name);
        if (r < 0) {
                json_decref(i);
                return r;
        }
        *ret = i;
        return 0;
}

int interpreter_delete(const char *tenant, const char *name, struct diag *d) {
        json_t *g = store_interpreter_get(GLOBAL, name);
        if (g) {
                json_decref(g);
                return diag_set(d, -EPERM, "", "the built-in interpreter %s cannot be deleted", name);
        }
        int64_t live = sessions_using_interpreter(tenant, name);
        if (live > 0)
                return diag_set(d, -EBUSY, "", "interpreter %s has %lld live sessions: end them first", name,
                                (long long)live);
        int r = store_interpreter_delete(tenant, name);
        return r == -ENOENT ? diag_set(d, -ENOENT, "", "no interpreter %s", name) : r;
}

/* One limit: the request's when given (within the ceiling), else the interpreter's. */
static int pick(json_t *req_obj, json_t *defaults, json_t *max, const char *key, const char *field_prefix,
                const char *iname, double *ret, struct diag *d) {
        json_t *asked = json_object_get(req_obj, key);
        double ceiling = json_number_value(json_object_get(max, key));
        if (asked) {
                double v = json_number_value(asked);
                if (v > ceiling)
                        return diag_set(d, -EINVAL, "", "%s%s: %g is above interpreter %s's ceiling of %g", field_prefix,
                                        key, v, iname, ceiling);
                *ret = v;
        } else {
                *ret = json_number_value(json_object_get(defaults, key));
        }
        return 0;
}

int interpreter_apply(json_t *interp, json_t *req, struct session_settings *out, struct diag *d) {
        const char *iname = json_string_value(json_object_get(interp, "name"));
        json_t *lim = json_object_get(interp, "limits"), *max = json_object_get(interp, "max_limits");
        json_t *rl = json_object_get(req, "limits");
        /* First, before anything is held. fresh is the stricter start: a session may ask
         * for it, not out of it. */
        bool interp_fresh = !strcmp(json_string_value(json_object_get(interp, "start")) ?: "warm", "fresh");
        const char *asked = json_string_value(json_object_get(req, "start"));
        if (interp_fresh && asked && !strcmp(asked, "warm"))
                return diag_set(d, -EINVAL, "start",
                                "start: interpreter %s starts every session fresh; a session cannot ask for warm",
                                iname);
        out->fresh = interp_fresh || (asked && !strcmp(asked, "fresh"));
        double *dst[] = {&out->memory_mb, &out->cpus, &out->pids, &out->workspace_mb};
        for (size_t k = 0; k < sizeof(limit_names) / sizeof(limit_names[0]); k++) {
                int r = pick(rl, lim, max, limit_names[k], "limits.", iname, dst[k], d);
                if (r < 0) {
                        snprintf(d->field, sizeof(d->field), "limits.%s", limit_names[k]);
                        return r;
                }
        }
        if (pick(req, interp, max, "timeout_seconds", "", iname, &out->ttl, d) < 0) {
                snprintf(d->field, sizeof(d->field), "timeout_seconds");
                return -EINVAL;
        }
        json_t *idle = json_object_get(req, "idle_timeout_seconds");
        out->idle = idle ? json_number_value(idle) : json_number_value(json_object_get(interp, "idle_timeout_seconds"));
        out->execution_timeout = json_number_value(json_object_get(interp, "execution_timeout_seconds"));
        json_t *net = json_object_get(interp, "network");
        snprintf(out->network, sizeof(out->network), "%s", json_string_value(json_object_get(net, "mode")) ?: "none");
        out->allowlist = json_incref(json_object_get(net, "allowlist"));
        snprintf(out->runtime, sizeof(out->runtime), "%s",
                 json_string_value(json_object_get(interp, "runtime")) ?: "default");
        /* The interpreter's variables, then the session's own over them. */
        out->env = json_deep_copy(json_object_get(interp, "env"));
        if (!out->env)
                out->env = json_object();
        json_object_update(out->env, json_object_get(req, "env"));
        size_t bytes = 0;
        const char *k;
        json_t *v;
        json_object_foreach(out->env, k, v) {
                bytes += strlen(k) + json_string_length(v) + 2;
        }
        if (bytes > LP_ENV_MAX_BYTES) {
                json_decref(out->env);
                json_decref(out->allowlist);
                out->env = out->allowlist = NULL;
                return diag_set(d, -EINVAL, "env", "the interpreter's and the session's variables exceed %d bytes",
                                LP_ENV_MAX_BYTES);
        }
        return 0;
}

void session_settings_free(struct session_settings *s) {
        json_decref(s->env);
        json_decref(s->allowlist);
        s->env = s->allowlist = NULL;
}
