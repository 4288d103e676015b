/* runtime_config: what `airlock runtimes build` reads and what it says when a build fails
 * (docs/runtimes.md). Pure: no I/O, so every rule is unit-tested.
 *
 * A config is one JSON object:
 *   language          "python3" or "python3.X" (the host's python; checked by the CLI)
 *   packages          pip requirement strings
 *   npm_packages      npm package specs (name, name@range, or a tarball URL)
 *   environment       {NAME: VALUE}: variables of every sandbox of the runtime
 *   apt               Debian packages that must already be installed on the host
 *   index_url, extra_index_urls   where pip looks (default: pip's own)
 *   description       free text
 * Anything else is refused, naming the field.
 */
#pragma once
#include <stddef.h>

#include <jansson.h>

#include "common/diag.h"

#define RUNTIME_PACKAGES_MAX 256
#define RUNTIME_SPEC_MAX 256
#define RUNTIME_ENV_MAX 64
#define RUNTIME_APT_MAX 128
#define RUNTIME_URLS_MAX 8
#define RUNTIME_URL_MAX 512
#define RUNTIME_CONFIG_MAX (1u << 20)

/* Parse and check text; *ret is the config as given (fields unchanged), for the manifest
 * and the builder. The diag's field is the config's field ("packages[2]", say). */
int runtime_config_parse(const char *text, size_t len, json_t **ret, struct diag *reterr);

/* language against the host's python (python_name: "python3.11", the target of
 * /usr/bin/python3). */
int runtime_config_check_language(json_t *cfg, const char *python_name, struct diag *reterr);

/* Which package a failed build's log blames, and why: pip's "No matching distribution
 * found for X", "Failed building wheel for X", "Failed to build X", "Invalid requirement",
 * npm's E404 "'x@...' is not in this registry". 0 with pkg and why filled, -ENOENT when the
 * log names no package (the last lines of the log then say more). */
int runtime_failure_package(const char *log, size_t len, char *pkg, size_t pkg_cap, char *why, size_t why_cap);
