/* runtimes: what sessions can run on (docs/runtimes.md, docs/adr/0014).
 *
 * `default` is the host's own /usr: its python3 and node, and the Debian data stack
 * scripts/install-deps.sh installs. Built runtimes are read from DATA_DIR/runtimes, where
 * `airlock runtimes build` (root, on the host) writes NAME/vN/manifest.json and, last,
 * NAME/vN/READY. Nothing is cached: a runtime built while the daemon runs is offered at
 * once, and a listing is a few small files. The daemon only reads; the launcher checks a
 * version again (root's, READY, no symlinks) before it mounts it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "daemon/daemon.h"
#include "runtime/default_stack.h"

static char runtimes_dir[600];

void runtimes_init(const char *data_dir) { snprintf(runtimes_dir, sizeof(runtimes_dir), "%s/runtimes", data_dir); }

static json_t *default_runtime(void) {
        char link[64] = "python3";
        ssize_t n = readlink("/usr/bin/python3", link, sizeof(link) - 1);
        if (n > 0)
                link[n] = '\0';
        const char *py = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
        json_t *mods = json_array(), *missing = json_array();
        for (size_t i = 0; i < ARRAY_SIZE(default_stack); i++) {
                char path[160];
                struct stat st;
                snprintf(path, sizeof(path), DEFAULT_STACK_DIR "/%s", default_stack[i].module);
                json_array_append_new(stat(path, &st) == 0 ? mods : missing,
                                      json_pack("{s:s, s:s}", "module", default_stack[i].module, "debian_package",
                                                default_stack[i].package));
        }
        return json_pack("{s:s, s:b, s:s, s:n, s:[], s:s, s:s, s:o, s:o}", "name", "default", "builtin", 1,
                         "description",
                         "The host's own /usr: its python3 with the Debian data stack, node with its built-ins, "
                         "bash. No build step.",
                         "current_version", "versions", "python", py, "node", "/usr/bin/node", "modules", mods,
                         "missing_modules", missing);
}

/* One version's public view from its manifest; NULL when the manifest is unreadable. */
static json_t *version_view(const char *name, const char *ver) {
        if (strlen(name) > LP_RUNTIME_NAME_MAX || strlen(ver) > 8)
                return NULL;
        char path[800];
        snprintf(path, sizeof(path), "%s/%s/%s/manifest.json", runtimes_dir, name, ver);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        json_t *m = json_loadfd(fd, 0, NULL);
        if (!json_is_object(m)) {
                json_decref(m);
                return NULL;
        }
        char ready[800];
        struct stat st;
        snprintf(ready, sizeof(ready), "%s/%s/%s/READY", runtimes_dir, name, ver);
        bool is_ready = lstat(ready, &st) == 0 && S_ISREG(st.st_mode) &&
                        !strcmp(json_string_value(json_object_get(m, "status")) ?: "", "ready");
        json_t *cfg = json_object_get(m, "config");
        json_t *env_names = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(cfg, "environment"), k, v) {
                json_array_append_new(env_names, json_string(k));
        }
        json_t *pk = json_object_get(cfg, "packages"), *npk = json_object_get(cfg, "npm_packages");
        json_t *out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:f}", "version", ver, "status",
                                is_ready ? "ready" : "failed", "created_at",
                                json_string_value(json_object_get(m, "created_at")) ?: "", "packages",
                                pk ? json_incref(pk) : json_array(), "npm_packages",
                                npk ? json_incref(npk) : json_array(), "environment",
                                env_names, "size_bytes", json_integer_value(json_object_get(m, "size_bytes")),
                                "build_seconds", json_number_value(json_object_get(m, "build_seconds")));
        static const char *const opt[] = {"python_version", "node_version", "installed", "npm_installed", NULL};
        for (size_t i = 0; out && opt[i]; i++)
                if ((v = json_object_get(m, opt[i])))
                        json_object_set(out, opt[i], v);
        json_t *err = json_object_get(m, "error");
        if (out && !is_ready && json_is_object(err))
                json_object_set(out, "error", err);
        if (out && (v = json_object_get(cfg, "description")))
                json_object_set(out, "description", v);
        if (out && is_ready) /* the hints' source; not part of the public view */
                json_object_set(out, "_import_names", json_object_get(m, "import_names") ?: json_object());
        json_decref(m);
        return out;
}

static int cmp_versions(const void *a, const void *b) {
        unsigned long long x = 0, y = 0;
        (void)parse_u64(json_string_value(json_object_get(*(json_t *const *)a, "version")) + 1, &x);
        (void)parse_u64(json_string_value(json_object_get(*(json_t *const *)b, "version")) + 1, &y);
        return x < y ? -1 : x > y;
}

/* NAME's runtime document (versions oldest first), or NULL when it has none. */
static json_t *built_runtime(const char *name) {
        if (!lp_valid_runtime_name(name, strlen(name)))
                return NULL;
        char dir[700];
        snprintf(dir, sizeof(dir), "%s/%s", runtimes_dir, name);
        DIR *d = opendir(dir);
        if (!d)
                return NULL;
        json_t *list[512];
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < ARRAY_SIZE(list)) {
                char spec[300], nm[LP_RUNTIME_NAME_MAX + 1];
                unsigned v;
                snprintf(spec, sizeof(spec), "%s@%s", name, e->d_name);
                if (lp_parse_runtime(spec, nm, sizeof(nm), &v) < 0 || v == 0)
                        continue;
                json_t *vv = version_view(name, e->d_name);
                if (vv)
                        list[n++] = vv;
        }
        closedir(d);
        if (!n)
                return NULL;
        qsort(list, n, sizeof(json_t *), cmp_versions);
        json_t *versions = json_array();
        const char *current = NULL, *desc = NULL;
        for (size_t i = 0; i < n; i++) {
                if (!strcmp(json_string_value(json_object_get(list[i], "status")), "ready")) {
                        current = json_string_value(json_object_get(list[i], "version"));
                        desc = json_string_value(json_object_get(list[i], "description"));
                }
                json_array_append_new(versions, list[i]);
        }
        return json_pack("{s:s, s:b, s:s?, s:s?, s:o}", "name", name, "builtin", 0, "description", desc,
                         "current_version", current, "versions", versions);
}

/* The public view: without the hints' private index. */
static void strip_private(json_t *rt) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rt, "versions"), i, v) {
                json_object_del(v, "_import_names");
        }
        if (!json_is_string(json_object_get(rt, "description")))
                json_object_set_new(rt, "description", json_string(""));
        if (!json_object_get(rt, "current_version"))
                json_object_set_new(rt, "current_version", json_null());
}

static json_t *all_built(void) {
        json_t *out = json_array();
        DIR *d = opendir(runtimes_dir);
        if (!d)
                return out;
        struct dirent *e;
        while ((e = readdir(d))) {
                json_t *rt = built_runtime(e->d_name);
                if (rt)
                        json_array_append_new(out, rt);
        }
        closedir(d);
        return out;
}

json_t *runtimes_list(void) {
        json_t *out = json_array();
        json_array_append_new(out, default_runtime());
        json_t *built = all_built();
        size_t i;
        json_t *v;
        json_array_foreach(built, i, v) {
                strip_private(v);
                json_array_append(out, v);
        }
        json_decref(built);
        return out;
}

json_t *runtime_get(const char *name) {
        if (!strcmp(name, "default"))
                return default_runtime();
        json_t *rt = built_runtime(name);
        if (rt)
                strip_private(rt);
        return rt;
}

int runtime_resolve(const char *spec, char *out, size_t cap, json_t **ret_env, struct diag *d) {
        char name[LP_RUNTIME_NAME_MAX + 1];
        unsigned want;
        if (ret_env)
                *ret_env = NULL;
        if (lp_parse_runtime(spec, name, sizeof(name), &want) < 0)
                return diag_set(d, -EINVAL, "runtime",
                                "runtime: 'default', NAME or NAME@vN (NAME a lowercase letter, then up to %d of "
                                "[a-z0-9-]); got '%.64s'",
                                LP_RUNTIME_NAME_MAX - 1, spec);
        if (!strcmp(name, "default")) {
                snprintf(out, cap, "default");
                return 0;
        }
        json_t *rt = built_runtime(name);
        if (!rt)
                return diag_set(d, -EINVAL, "runtime",
                                "no runtime '%s' on this host (build it: airlock runtimes build %s --from CONFIG)",
                                name, name);
        const char *ver = NULL;
        char wanted[16];
        snprintf(wanted, sizeof(wanted), "v%u", want);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rt, "versions"), i, v) {
                bool ready = !strcmp(json_string_value(json_object_get(v, "status")), "ready");
                const char *vn = json_string_value(json_object_get(v, "version"));
                if (want ? !strcmp(vn, wanted) : ready) {
                        ver = vn;
                        if (want && !ready) {
                                json_decref(rt);
                                return diag_set(d, -EINVAL, "runtime", "runtime %s@%s did not build (status failed)",
                                                name, wanted);
                        }
                }
        }
        if (!ver) {
                json_decref(rt);
                return want ? diag_set(d, -EINVAL, "runtime", "runtime %s has no version %s", name, wanted)
                            : diag_set(d, -EINVAL, "runtime", "runtime %s has no version that built", name);
        }
        snprintf(out, cap, "%s@%s", name, ver);
        if (ret_env) {
                /* The runtime's own variables, from its (root-written) manifest. */
                char path[800];
                snprintf(path, sizeof(path), "%s/%s/%s/manifest.json", runtimes_dir, name, ver);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                json_t *m = fd >= 0 ? json_loadfd(fd, 0, NULL) : NULL;
                json_t *env = json_object_get(json_object_get(m, "config"), "environment");
                *ret_env = json_is_object(env) ? json_deep_copy(env) : json_object();
                json_decref(m);
        }
        json_decref(rt);
        return 0;
}

/* "No module named 'x.y'" or "Cannot find module 'x/z'": the top-level name, or "". */
static void missing_module(const char *text, bool *is_node, char *out, size_t cap) {
        out[0] = '\0';
        const char *p = strstr(text, "ModuleNotFoundError: No module named '");
        *is_node = false;
        if (p)
                p += strlen("ModuleNotFoundError: No module named '");
        else if ((p = strstr(text, "Cannot find module '"))) {
                p += strlen("Cannot find module '");
                *is_node = true;
        }
        if (!p)
                return;
        size_t n = 0;
        if (*is_node && *p == '@') /* a scoped package: @scope/name */
                out[n++] = *p++;
        while (*p && n + 1 < cap) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          (*is_node && (c == '-' || c == '.' || (c == '/' && out[0] == '@' && !strchr(out, '/'))));
                if (!ok)
                        break;
                out[n++] = c;
                p++;
        }
        out[n] = '\0';
        /* a relative or absolute path is the program's own file, not a package */
        if (*is_node && (out[0] == '.' || out[0] == '\0'))
                out[0] = '\0';
}

char *runtime_hint(const char *error_text) {
        bool node;
        char mod[128];
        if (!error_text || !runtimes_dir[0])
                return NULL;
        missing_module(error_text, &node, mod, sizeof(mod));
        if (!mod[0])
                return NULL;
        json_t *built = all_built();
        char list[512] = "";
        size_t len = 0, count = 0;
        const char *first = NULL;
        size_t i;
        json_t *rt;
        json_array_foreach(built, i, rt) {
                /* per runtime, its newest ready version that has the module */
                json_t *versions = json_object_get(rt, "versions");
                for (size_t j = json_array_size(versions); j-- > 0;) {
                        json_t *v = json_array_get(versions, j);
                        const char *vn = json_string_value(json_object_get(v, "version"));
                        bool has = node ? json_object_get(json_object_get(v, "npm_installed"), mod) != NULL
                                        : json_object_get(json_object_get(v, "_import_names"), mod) != NULL;
                        if (!has || strcmp(json_string_value(json_object_get(v, "status")), "ready") != 0)
                                continue;
                        int n = snprintf(list + len, sizeof(list) - len, "%s%s@%s", count ? ", " : "",
                                         json_string_value(json_object_get(rt, "name")), vn);
                        if (n > 0 && (size_t)n < sizeof(list) - len) {
                                len += (size_t)n;
                                if (!count)
                                        first = json_string_value(json_object_get(rt, "name"));
                                count++;
                        }
                        break;
                }
        }
        char *hint = NULL;
        if (count && asprintf(&hint, "(%s is in runtime%s %s: use an interpreter with \"runtime\": \"%s\")", mod,
                              count > 1 ? "s" : "", list, first) < 0)
                hint = NULL;
        json_decref(built);
        return hint;
}

void runtime_hint_error(json_t *error) {
        const char *name = json_string_value(json_object_get(error, "name"));
        const char *value = json_string_value(json_object_get(error, "value"));
        if (!name || !value)
                return;
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "%s: %s", name, value) < 0)
                return;
        _cleanup_free_ char *hint = runtime_hint(text);
        if (hint)
                json_object_set_new(error, "value", json_sprintf("%s %s", value, hint));
}
