#include "runtime/runtime_config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/launch_proto.h"

static bool printable(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* Every item a string of 1..max printable bytes that cannot be read as an option of pip,
 * npm or apt (no leading '-'), starting as `first` allows. */
static int check_list(json_t *cfg, const char *key, size_t max_items, size_t max_len, bool (*first)(char),
                      const char *expect, struct diag *d) {
        json_t *a = json_object_get(cfg, key);
        if (!a)
                return 0;
        if (!json_is_array(a))
                return diag_set(d, -EINVAL, key, "%s: expected an array of strings", key);
        if (json_array_size(a) > max_items)
                return diag_set(d, -EINVAL, key, "%s: at most %zu entries", key, max_items);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
                char field[48];
                snprintf(field, sizeof(field), "%s[%zu]", key, i);
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);
                if (!s || n == 0 || n > max_len || strlen(s) != n || !printable(s, n) || !first(s[0]) ||
                    strpbrk(s, "\\`$") != NULL)
                        return diag_set(d, -EINVAL, field, "%s: %s, at most %zu bytes; got '%.80s'", field, expect,
                                        max_len, s ? s : "(not a string)");
        }
        return 0;
}

static bool pip_first(char c) { return alnum(c); }
static bool npm_first(char c) { return alnum(c) || c == '@'; }
static bool apt_first(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static bool apt_name(const char *s) {
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.'))
                        return false;
        return true;
}

static bool url_ok(const char *s, size_t n) {
        if (n > RUNTIME_URL_MAX || strlen(s) != n || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

/* Variables the launcher sets for a runtime, or that would change what runs before the
 * program does: not the runtime's to set. */
static bool env_reserved(const char *k) {
        static const char *const names[] = {"PATH", "HOME", "NODE_PATH", "VIRTUAL_ENV", "PYTHONHOME",
                                            "PYTHONPATH", "PYTHONSTARTUP", "NODE_OPTIONS", NULL};
        for (size_t i = 0; names[i]; i++)
                if (!strcmp(k, names[i]))
                        return true;
        return !strncmp(k, "LD_", 3) || !strncmp(k, "AIRLOCK_", 8);
}

int runtime_config_parse(const char *text, size_t len, json_t **ret, struct diag *d) {
        *ret = NULL;
        if (len > RUNTIME_CONFIG_MAX)
                return diag_set(d, -EFBIG, "config", "the config is larger than %u bytes", RUNTIME_CONFIG_MAX);
        json_error_t je;
        json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!cfg)
                return diag_set(d, -EINVAL, "config", "not JSON: %s (line %d)", je.text, je.line);
        int r = 0;
        static const char *const known[] = {"language", "packages", "npm_packages", "environment", "apt",
                                            "index_url", "extra_index_urls", "description", NULL};
        const char *k;
        json_t *v;
        if (!json_is_object(cfg)) {
                r = diag_set(d, -EINVAL, "config", "the config must be a JSON object");
                goto out;
        }
        json_object_foreach(cfg, k, v) {
                bool ok = false;
                for (size_t i = 0; known[i] && !ok; i++)
                        ok = !strcmp(k, known[i]);
                if (!ok) {
                        r = diag_set(d, -EINVAL, "config",
                                     "unknown field '%.64s' (language, packages, npm_packages, environment, apt, "
                                     "index_url, extra_index_urls, description)", k);
                        goto out;
                }
        }
        const char *lang = json_string_value(json_object_get(cfg, "language"));
        if (json_object_get(cfg, "language")) {
                bool ok = lang && !strncmp(lang, "python3", 7);
                if (ok && lang[7]) {
                        ok = lang[8] != '\0' && lang[7] == '.' && strlen(lang) <= 12;
                        for (const char *p = lang + 8; ok && *p; p++)
                                ok = *p >= '0' && *p <= '9';
                }
                if (!ok) {
                        r = diag_set(d, -EINVAL, "language", "language: \"python3\" or \"python3.X\"; got '%.32s'",
                                     lang ? lang : "(not a string)");
                        goto out;
                }
        }
        if ((r = check_list(cfg, "packages", RUNTIME_PACKAGES_MAX, RUNTIME_SPEC_MAX, pip_first,
                            "a pip requirement (\"name\", \"name==1.2\", \"name>=1,<2\")", d)) < 0 ||
            (r = check_list(cfg, "npm_packages", RUNTIME_PACKAGES_MAX, RUNTIME_SPEC_MAX, npm_first,
                            "an npm package (\"name\", \"name@range\", \"@scope/name\" or a tarball URL)", d)) < 0 ||
            (r = check_list(cfg, "apt", RUNTIME_APT_MAX, 64, apt_first, "a Debian package name", d)) < 0)
                goto out;
        size_t i;
        json_array_foreach(json_object_get(cfg, "apt"), i, v) {
                if (!apt_name(json_string_value(v))) {
                        r = diag_set(d, -EINVAL, "apt", "apt[%zu]: a Debian package name ([a-z0-9+.-]); got '%.64s'",
                                     i, json_string_value(v));
                        goto out;
                }
        }
        json_t *env = json_object_get(cfg, "environment");
        if (env && !json_is_object(env)) {
                r = diag_set(d, -EINVAL, "environment", "environment: expected an object of NAME: \"value\"");
                goto out;
        }
        if (json_object_size(env) > RUNTIME_ENV_MAX) {
                r = diag_set(d, -EINVAL, "environment", "environment: at most %d variables", RUNTIME_ENV_MAX);
                goto out;
        }
        json_object_foreach(env, k, v) {
                char field[96];
                snprintf(field, sizeof(field), "environment.%.80s", k);
                if (!lp_valid_env_name(k, strlen(k))) {
                        r = diag_set(d, -EINVAL, field, "%s: a name is a letter or '_', then [A-Za-z0-9_]", field);
                        goto out;
                }
                if (env_reserved(k)) {
                        r = diag_set(d, -EINVAL, field,
                                     "%s: set by Airlock for every runtime (PATH, HOME, NODE_PATH, VIRTUAL_ENV, "
                                     "PYTHON*, NODE_OPTIONS, LD_*, AIRLOCK_*)", field);
                        goto out;
                }
                const char *s = json_string_value(v);
                if (!s || json_string_length(v) > LP_ENV_VALUE_MAX || strlen(s) != json_string_length(v)) {
                        r = diag_set(d, -EINVAL, field, "%s: a string of at most %d bytes without NUL", field,
                                     LP_ENV_VALUE_MAX);
                        goto out;
                }
        }
        json_t *u = json_object_get(cfg, "index_url");
        if (u && !url_ok(json_string_value(u) ?: "", json_string_length(u))) {
                r = diag_set(d, -EINVAL, "index_url", "index_url: an http:// or https:// URL of at most %d bytes",
                             RUNTIME_URL_MAX);
                goto out;
        }
        json_t *extra = json_object_get(cfg, "extra_index_urls");
        if (extra && (!json_is_array(extra) || json_array_size(extra) > RUNTIME_URLS_MAX)) {
                r = diag_set(d, -EINVAL, "extra_index_urls", "extra_index_urls: an array of at most %d URLs",
                             RUNTIME_URLS_MAX);
                goto out;
        }
        json_array_foreach(extra, i, v) {
                if (!url_ok(json_string_value(v) ?: "", json_string_length(v))) {
                        r = diag_set(d, -EINVAL, "extra_index_urls",
                                     "extra_index_urls[%zu]: an http:// or https:// URL of at most %d bytes", i,
                                     RUNTIME_URL_MAX);
                        goto out;
                }
        }
        json_t *desc = json_object_get(cfg, "description");
        if (desc && (!json_is_string(desc) || json_string_length(desc) > 1024)) {
                r = diag_set(d, -EINVAL, "description", "description: a string of at most 1024 bytes");
                goto out;
        }
        if (!json_array_size(json_object_get(cfg, "packages")) && !json_array_size(json_object_get(cfg, "npm_packages")) &&
            !json_object_size(env) && !json_array_size(json_object_get(cfg, "apt"))) {
                r = diag_set(d, -EINVAL, "packages", "the config adds nothing: give packages, npm_packages, "
                                                     "environment or apt");
                goto out;
        }
        *ret = cfg;
        return 0;
out:
        json_decref(cfg);
        return r;
}

int runtime_config_check_language(json_t *cfg, const char *python_name, struct diag *d) {
        const char *lang = json_string_value(json_object_get(cfg, "language"));
        if (!lang || !strcmp(lang, "python3") || !strcmp(lang, python_name))
                return 0;
        return diag_set(d, -EINVAL, "language",
                        "language: this host's python is %s (/usr/bin/python3); a runtime is built on it, so "
                        "\"%s\" cannot be had here (use \"python3\" or \"%s\")",
                        python_name, lang, python_name);
}

/* The line of log that holds needle, as [start, end). */
static const char *find_in(const char *log, size_t len, const char *needle, const char **line_end) {
        size_t nl = strlen(needle);
        for (size_t i = 0; i + nl <= len; i++) {
                if (memcmp(log + i, needle, nl) != 0)
                        continue;
                const char *e = memchr(log + i, '\n', len - i);
                *line_end = e ? e : log + len;
                return log + i + nl;
        }
        return NULL;
}

/* A requirement or package name at p (up to end): the name only, without version
 * specifiers, extras, markers or quotes. */
static int take_name(const char *p, const char *end, bool npm, char *out, size_t cap) {
        while (p < end && (*p == ' ' || *p == '\'' || *p == '"'))
                p++;
        size_t n = 0;
        /* npm: a scope's '@' first, then the name up to the version's '@' */
        if (npm && p < end && *p == '@' && n + 1 < cap)
                out[n++] = *p++;
        while (p < end && n + 1 < cap) {
                char c = *p;
                if (!(alnum(c) || c == '-' || c == '_' || c == '.' || (npm && c == '/')))
                        break;
                out[n++] = c;
                p++;
        }
        while (n && out[n - 1] == '.') /* a sentence's full stop */
                n--;
        out[n] = '\0';
        return n ? 0 : -ENOENT;
}

int runtime_failure_package(const char *log, size_t len, char *pkg, size_t pkg_cap, char *why, size_t why_cap) {
        static const struct {
                const char *needle;
                bool npm;
                const char *why;
        } pats[] = {
                {"No matching distribution found for ", false, "was not found in the package index"},
                {"Could not find a version that satisfies the requirement ", false,
                 "was not found in the package index"},
                {"Failed building wheel for ", false, "failed to build"},
                {"Failed to build ", false, "failed to build"},
                {"Invalid requirement: ", false, "is not a valid pip requirement"},
                {"Getting requirements to build wheel did not run successfully", false, NULL},
                {"is not in this registry", true, "was not found in the npm registry"},
                {"No matching version found for ", true, "has no matching version in the npm registry"},
        };
        const char *end;
        for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
                const char *p = find_in(log, len, pats[i].needle, &end);
                if (!p || !pats[i].why)
                        continue;
                if (pats[i].npm && !strcmp(pats[i].needle, "is not in this registry")) {
                        /* npm error 404  'name@range' is not in this registry. */
                        const char *line = p - strlen(pats[i].needle);
                        while (line > log && line[-1] != '\n')
                                line--;
                        const char *q = memchr(line, '\'', (size_t)(p - line));
                        if (!q || take_name(q + 1, p, true, pkg, pkg_cap) < 0)
                                continue;
                } else if (take_name(p, end, pats[i].npm, pkg, pkg_cap) < 0) {
                        continue;
                }
                snprintf(why, why_cap, "%s", pats[i].why);
                return 0;
        }
        /* A failed metadata step names its package on the "× ..." line above pip's note. */
        const char *p = find_in(log, len, "Getting requirements to build wheel did not run successfully", &end);
        if (p) {
                const char *q = find_in(log, len, "Collecting ", &end);
                const char *last = NULL, *last_end = NULL;
                while (q) {
                        last = q;
                        last_end = end;
                        q = find_in(end, len - (size_t)(end - log), "Collecting ", &end);
                }
                if (last && take_name(last, last_end, false, pkg, pkg_cap) == 0) {
                        snprintf(why, why_cap, "failed to build");
                        return 0;
                }
        }
        return -ENOENT;
}
