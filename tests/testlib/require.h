/* require: gate tests on what the host provides, without silent skips.
 *
 * require_or_skip(ok, why): when !ok, prints "# SKIP: why" and exits 77 (meson: SKIP),
 * unless CI=true or AIRLOCK_TESTS_MUST_RUN=1, where it prints "FAIL: cannot run: why"
 * and exits 1. Under CI every privileged test must really run (bubblewrap's
 * BWRAP_MUST_WORK, crun's 77).
 */
#pragma once
#include <stdbool.h>

void require_or_skip(bool ok, const char *why);
void require_root(void);
bool tests_must_run(void);
