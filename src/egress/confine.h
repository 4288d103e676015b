/* egress confine: what the allowlist proxy gives up before its first connection
 * (src/egress/confine.c says what and why). */
#pragma once
#include <stddef.h>

#include "common/diag.h"
#include "proto/launch_proto.h"

/* Landlock (no writes, no binds, connect only to the listed ports and 53) when the kernel
 * has it, then the seccomp filter. *ret_landlock_abi: 0 without Landlock. */
int egress_confine(const struct lp_allow *allow, size_t n, int *ret_landlock_abi, struct diag *d);
