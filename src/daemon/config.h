/* config: the daemon's settings from a YAML file, the environment and flags, in that
 * order of precedence (flags win). Every bad value names its source and key. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"

struct config {
        char listen[64];
        char data_dir[512];
        int pool_size;
        /* Python modules each warm-pool runner imports before it is handed out, comma-
         * separated dotted names (at most CONFIG_PRELOAD_MAX); "" (or "none" as given) = none. */
        char pool_preload[1024];
        /* Quotas of a tenant that has none of its own (PUT /v1/tenants/{name}). */
        long long tenant_max_sessions, tenant_max_memory_mb;
        /* Absolute paths; "" = the default or off (see config_set). */
        char secrets_key_file[512]; /* default DATA_DIR/secrets.key */
        char tls_cert_file[512], tls_key_file[512]; /* both, or neither (plain HTTP) */
        char otlp_endpoint[512];    /* http(s)://host:port[/v1/traces]; "" = no tracing */
        bool agentcore_allow_unsigned_loopback; /* unsigned AgentCore requests from 127/8 */
        /* Origins besides loopback ones whose browser pages may use /mcp: comma-separated
         * scheme://host[:port] entries, or "*" for any; "" = loopback only. */
        char mcp_allowed_origins[1024];
};

#define CONFIG_PRELOAD_MAX 32
#define CONFIG_PRELOAD_DEFAULT "numpy,pandas,matplotlib.pyplot"

void config_defaults(struct config *c);
/* Parse YAML text (a mapping of scalars). `source` names it in messages ("FILE:LINE"). */
int config_parse_yaml(struct config *c, const char *text, size_t len, const char *source, struct diag *reterr);
int config_load_file(struct config *c, const char *path, struct diag *reterr);
/* AIRLOCK_LISTEN, AIRLOCK_DATA_DIR, AIRLOCK_POOL_SIZE */
int config_from_env(struct config *c, struct diag *reterr);
/* One setting by name, as the file, the environment and flags give it. */
int config_set(struct config *c, const char *key, const char *value, const char *where, struct diag *reterr);
