#!/usr/bin/env bash
# Fails on calls to unbounded or error-blind libc functions in src/ (curl's checksrc list,
# systemd's "functions to avoid"). Use snprintf/strfmt, buf_*, parse_u64 instead.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|stpcpy|strcat|strncat|strncpy|strtok|atoi|atol|atoll|gets|alloca|system|tmpnam|mktemp)[[:space:]]*\('
if grep -rnE "$banned" src --include='*.c' --include='*.h' | grep -vE '^\S+:\s*(/\*|\*)'; then
  echo "check-banned: the calls above are not allowed in src/ (see scripts/check-banned.sh)" >&2
  exit 1
fi
echo "check-banned: ok"
