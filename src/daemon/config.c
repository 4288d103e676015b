/* config: see config.h. The YAML is read with libyaml's event parser: the file must be
 * one mapping of scalar keys to scalar values; anything else is refused with its line. */
#include "daemon/config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/buf.h"
#include "common/fdutil.h"

void config_defaults(struct config *c) {
        memset(c, 0, sizeof(*c));
        snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8470");
        snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/airlock");
        c->pool_size = 4;
        snprintf(c->pool_preload, sizeof(c->pool_preload), "%s", CONFIG_PRELOAD_DEFAULT);
        c->tenant_max_sessions = 256;
        c->tenant_max_memory_mb = 131072;
}

/* mcp_allowed_origins: "*", or comma-separated http(s)://host[:port] (no path), as a
 * browser sends Origin. */
static bool valid_origins(const char *v) {
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, ",");
                while (n && (*p == ' ' || *p == '\t'))
                        p++, n--;
                while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                bool star = n == 1 && *p == '*';
                size_t scheme = !strncmp(p, "http://", 7) ? 7 : !strncmp(p, "https://", 8) ? 8 : 0;
                if (!star) {
                        if (!scheme || n <= scheme)
                                return false;
                        for (size_t i = scheme; i < n; i++)
                                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", p[i]))
                                        return false;
                }
                p += strcspn(p, ",");
                if (*p == ',')
                        p++;
        }
        return true;
}

/* pool_preload: "" or comma-separated dotted Python identifiers (the runner protocol's
 * preload.modules: each part 1-64 characters, at most 8 parts), at most CONFIG_PRELOAD_MAX. */
static bool valid_preload(const char *v) {
        size_t count = 0;
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, ",");
                size_t part = 0, parts = 1;
                for (size_t i = 0; i < n; i++) {
                        char ch = p[i];
                        if (ch == '.') {
                                if (!part || ++parts > 8)
                                        return false;
                                part = 0;
                        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                                   (part && ch >= '0' && ch <= '9')) {
                                if (++part > 64)
                                        return false;
                        } else {
                                return false;
                        }
                }
                if (!part || ++count > CONFIG_PRELOAD_MAX)
                        return false;
                p += n;
                if (*p == ',' && !*++p)
                        return false; /* a trailing comma: an empty name */
        }
        return true;
}

static bool valid_listen(const char *v) {
        const char *colon = strrchr(v, ':');
        unsigned long long port;
        return colon && colon != v && (size_t)(colon - v) < 40 && parse_u64(colon + 1, &port) == 0 && port <= 65535;
}

int config_set(struct config *c, const char *key, const char *value, const char *where, struct diag *d) {
        if (!strcmp(key, "listen")) {
                if (!valid_listen(value) || strlen(value) >= sizeof(c->listen))
                        return diag_set(d, -EINVAL, key, "%s: listen: expected ADDRESS:PORT, got '%s'", where, value);
                snprintf(c->listen, sizeof(c->listen), "%s", value);
        } else if (!strcmp(key, "data_dir")) {
                if (value[0] != '/' || strlen(value) >= sizeof(c->data_dir))
                        return diag_set(d, -EINVAL, key, "%s: data_dir: expected an absolute path, got '%s'", where,
                                        value);
                snprintf(c->data_dir, sizeof(c->data_dir), "%s", value);
        } else if (!strcmp(key, "pool_size")) {
                unsigned long long v;
                if (parse_u64(value, &v) < 0 || v > 64)
                        return diag_set(d, -EINVAL, key, "%s: pool_size: expected a whole number from 0 to 64, got '%s'",
                                        where, value);
                c->pool_size = (int)v;
        } else if (!strcmp(key, "pool_preload")) {
                if (!strcmp(value, "none"))
                        value = ""; /* what an environment variable can say for nothing */
                if (strlen(value) >= sizeof(c->pool_preload) || !valid_preload(value))
                        return diag_set(d, -EINVAL, key,
                                        "%s: pool_preload: expected comma-separated Python module names such as "
                                        "numpy,pandas,matplotlib.pyplot (at most %d, no spaces), or none, got "
                                        "'%.200s'",
                                        where, CONFIG_PRELOAD_MAX, value);
                snprintf(c->pool_preload, sizeof(c->pool_preload), "%s", value);
        } else if (!strcmp(key, "tenant_max_sessions") || !strcmp(key, "tenant_max_memory_mb")) {
                bool sessions = !strcmp(key, "tenant_max_sessions");
                unsigned long long v, max = sessions ? 100000 : 1u << 24;
                if (parse_u64(value, &v) < 0 || v > max)
                        return diag_set(d, -EINVAL, key, "%s: %s: expected a whole number from 0 to %llu, got '%s'",
                                        where, key, max, value);
                *(sessions ? &c->tenant_max_sessions : &c->tenant_max_memory_mb) = (long long)v;
        } else if (!strcmp(key, "secrets_key_file") || !strcmp(key, "tls_cert_file") || !strcmp(key, "tls_key_file")) {
                char *dst = !strcmp(key, "secrets_key_file") ? c->secrets_key_file
                            : !strcmp(key, "tls_cert_file")  ? c->tls_cert_file
                                                             : c->tls_key_file;
                if (value[0] != '/' || strlen(value) >= sizeof(c->tls_cert_file))
                        return diag_set(d, -EINVAL, key, "%s: %s: expected an absolute path, got '%s'", where, key,
                                        value);
                snprintf(dst, sizeof(c->tls_cert_file), "%s", value);
        } else if (!strcmp(key, "agentcore_allow_unsigned_loopback")) {
                if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
                        return diag_set(d, -EINVAL, key, "%s: %s: expected true or false, got '%s'", where, key, value);
                c->agentcore_allow_unsigned_loopback = !strcmp(value, "true");
        } else if (!strcmp(key, "mcp_allowed_origins")) {
                if (strlen(value) >= sizeof(c->mcp_allowed_origins) || !valid_origins(value))
                        return diag_set(d, -EINVAL, key,
                                        "%s: mcp_allowed_origins: expected \"*\" or comma-separated origins such as "
                                        "https://app.example.com:8443 (scheme, host, optional port; no path), got '%.200s'",
                                        where, value);
                snprintf(c->mcp_allowed_origins, sizeof(c->mcp_allowed_origins), "%s", value);
        } else if (!strcmp(key, "otlp_endpoint")) {
                bool scheme = !strncmp(value, "http://", 7) || !strncmp(value, "https://", 8);
                if (value[0] && (!scheme || strlen(value) >= sizeof(c->otlp_endpoint) ||
                                 strpbrk(value, " \t\r\n\"\\") != NULL))
                        return diag_set(d, -EINVAL, key,
                                        "%s: otlp_endpoint: expected an http:// or https:// URL (the collector's "
                                        "OTLP/HTTP address, e.g. http://127.0.0.1:4318), got '%s'",
                                        where, value);
                snprintf(c->otlp_endpoint, sizeof(c->otlp_endpoint), "%s", value);
        } else {
                return diag_set(d, -EINVAL, key,
                                "%s: unknown setting '%s' (listen, data_dir, pool_size, pool_preload, tenant_max_sessions, "
                                "tenant_max_memory_mb, secrets_key_file, tls_cert_file, tls_key_file, otlp_endpoint, "
                                "agentcore_allow_unsigned_loopback, mcp_allowed_origins)",
                                where, key);
        }
        return 0;
}

int config_parse_yaml(struct config *c, const char *text, size_t len, const char *source, struct diag *d) {
        yaml_parser_t p;
        if (!yaml_parser_initialize(&p))
                return diag_set(d, -ENOMEM, "config", "out of memory");
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        int r = 0, depth = 0;
        bool done = false;
        char key[64] = "";
        bool have_key = false;
        while (r == 0 && !done) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&p, &ev)) {
                        r = diag_set(d, -EINVAL, "config", "%s:%zu: %s", source, p.problem_mark.line + 1,
                                     p.problem ? p.problem : "not valid YAML");
                        break;
                }
                char where[600];
                snprintf(where, sizeof(where), "%s:%zu", source, ev.start_mark.line + 1);
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_MAPPING_START_EVENT:
                        if (++depth > 1)
                                r = diag_set(d, -EINVAL, key, "%s: '%s' must be a single value, not a mapping", where,
                                             key);
                        break;
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                case YAML_SEQUENCE_START_EVENT:
                        r = diag_set(d, -EINVAL, have_key ? key : "config", "%s: lists are not settings here", where);
                        break;
                case YAML_ALIAS_EVENT:
                        r = diag_set(d, -EINVAL, "config", "%s: aliases are not allowed", where);
                        break;
                case YAML_SCALAR_EVENT: {
                        const char *v = (const char *)ev.data.scalar.value;
                        if (depth != 1) {
                                if (ev.data.scalar.length) /* an empty document is fine */
                                        r = diag_set(d, -EINVAL, "config", "%s: expected a mapping of settings", where);
                        } else if (!have_key) {
                                if (ev.data.scalar.length >= sizeof(key))
                                        r = diag_set(d, -EINVAL, "config", "%s: unknown setting '%.40s...'", where, v);
                                else {
                                        snprintf(key, sizeof(key), "%s", v);
                                        have_key = true;
                                }
                        } else {
                                if (strlen(v) != ev.data.scalar.length)
                                        r = diag_set(d, -EINVAL, key, "%s: '%s' contains a NUL byte", where, key);
                                else
                                        r = config_set(c, key, v, where, d);
                                have_key = false;
                        }
                        break;
                }
                case YAML_NO_EVENT:
                case YAML_STREAM_START_EVENT:
                case YAML_DOCUMENT_START_EVENT:
                case YAML_DOCUMENT_END_EVENT:
                case YAML_SEQUENCE_END_EVENT:
                default:
                        break;
                }
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&p);
        return r;
}

int config_load_file(struct config *c, const char *path, struct diag *d) {
        char *text = NULL;
        struct buf b;
        buf_init(&b, 1 << 20);
        FILE *f = fopen(path, "re");
        if (!f)
                return diag_set(d, -errno, "config", "cannot read %s: %m", path);
        char chunk[4096];
        size_t n;
        int r = 0;
        while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                r = buf_append(&b, chunk, n);
        fclose(f);
        if (r < 0) {
                buf_free(&b);
                return diag_set(d, r, "config", "%s is larger than 1 MiB", path);
        }
        text = b.data;
        r = config_parse_yaml(c, text ? text : "", b.len, path, d);
        buf_free(&b);
        return r;
}

int config_from_env(struct config *c, struct diag *d) {
        static const struct {
                const char *env, *key;
        } vars[] = {{"AIRLOCK_LISTEN", "listen"}, {"AIRLOCK_DATA_DIR", "data_dir"}, {"AIRLOCK_POOL_SIZE", "pool_size"},
                   {"AIRLOCK_POOL_PRELOAD", "pool_preload"},
                   {"AIRLOCK_TENANT_MAX_SESSIONS", "tenant_max_sessions"},
                   {"AIRLOCK_TENANT_MAX_MEMORY_MB", "tenant_max_memory_mb"},
                   {"AIRLOCK_SECRETS_KEY_FILE", "secrets_key_file"}, {"AIRLOCK_TLS_CERT_FILE", "tls_cert_file"},
                   {"AIRLOCK_TLS_KEY_FILE", "tls_key_file"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"},
                   {"AIRLOCK_AGENTCORE_ALLOW_UNSIGNED_LOOPBACK", "agentcore_allow_unsigned_loopback"},
                   {"AIRLOCK_MCP_ALLOWED_ORIGINS", "mcp_allowed_origins"}};
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                const char *v = getenv(vars[i].env);
                if (v && *v) {
                        int r = config_set(c, vars[i].key, v, vars[i].env, d);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
