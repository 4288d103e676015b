#!/usr/bin/env bash
# The whole test suite, as CI runs it. Needs root (sandboxes build cgroups and map uids).
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    lint, release build, unit, e2e and escape suites only
#
# Stages: deps, lint (banned calls, cppcheck, clang-tidy), release build (gcc, hardened)
# with unit + fuzz-replay + CLI e2e + escape suites on both backends (and in daemon sessions,
# warm and fresh), the e2e suite again with sessions started fresh, the same suites on
# a clang ASan+UBSan build, libFuzzer runs of every fuzz target for a bounded time, and a
# smoke run of the benchmark harnesses. Under CI=true nothing may skip.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1
fuzz_seconds=${AIRLOCK_FUZZ_SECONDS:-60}
export AIRLOCK_TESTS_MUST_RUN=${AIRLOCK_TESTS_MUST_RUN:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}

passed=0
failed=0
failures=()
stage() { # stage NAME CMD...
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

pytest_cmd() {
  if python3 -m pytest --version >/dev/null 2>&1; then
    echo python3
  else
    echo /usr/bin/python3
  fi
}
PY=$(pytest_cmd)

setup_build() { # setup_build DIR [meson options...]
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null
}

run_suites() { # run_suites BUILD_DIR
  local dir=$1
  meson test -C "$dir" --suite unit --suite fuzz-replay --print-errorlogs || return 1
  local suites=()
  for s in tests/runner tests/launcher tests/cli tests/e2e tests/escape; do
    ls "$s"/test_*.py >/dev/null 2>&1 && suites+=("$s")
  done
  # One pytest run per suite: each has its own conftest.
  for s in "${suites[@]}"; do
    AIRLOCK_BUILD=$dir $PY -m pytest -q -p no:cacheprovider "$s" || return 1
  done
}

lint() {
  scripts/check-banned.sh || return 1
  $PY -m ruff check --quiet . || return 1
  # The Python SDK is typed for its users: mypy --strict over it (settings in its pyproject).
  (cd sdk/python && $PY -m mypy --no-error-summary) || return 1
  cppcheck --enable=warning,portability,performance --inline-suppr --error-exitcode=1 -q \
    --std=c11 -D_GNU_SOURCE -I src src || return 1
  # The findings, not clang-tidy's status (which is non-zero for any finding, even in
  # headers it was told to leave alone): any error or warning line fails the stage.
  local findings
  findings=$(clang-tidy -p build-asan --quiet src/*/*.c 2>&1 | grep -E 'error|warning:')
  if [ -n "$findings" ]; then
    echo "$findings"
    return 1
  fi
  return 0
}

fuzz() {
  local dir=build-fuzz
  CC=clang setup_build "$dir" -Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=true || return 1
  for target in "$dir"/tests/fuzz_*; do
    case "$target" in *_replay | *.p) continue ;; esac
    local name
    name=$(basename "$target")
    local work
    work=$(mktemp -d)
    cp tests/fuzz/corpus/"${name#fuzz_}"/* "$work"/
    echo "fuzzing $name for ${fuzz_seconds}s"
    "$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$work" 2>&1 | tail -3 || {
      rm -rf "$work"
      return 1
    }
    rm -rf "$work"
  done
}

[ "${AIRLOCK_SKIP_DEPS:-0}" = 1 ] || stage "dependencies" scripts/install-deps.sh --test
if [ "${CI:-}" = true ] || [ "$(id -u)" -ne 0 ]; then
  [ "$(id -u)" -eq 0 ] || echo "warning: not root: privileged tests will skip (or fail under CI=true)"
fi

stage "release build (gcc, hardened)" setup_build build
asan_build() { CC=clang setup_build build-asan -Db_sanitize=address,undefined -Db_lundef=false; }
stage "asan build (clang, ASan+UBSan)" asan_build
stage "lint (banned calls, cppcheck, clang-tidy)" lint
stage "suites on the release build" run_suites build
# The separate-start setting (issue 9; docs/architecture.md 6.5): the e2e suite once more
# with the built-in interpreter's `start: fresh`, so that no session takes a pooled sandbox.
e2e_fresh() { AIRLOCK_BUILD=build AIRLOCK_E2E_START=fresh $PY -m pytest -q -p no:cacheprovider tests/e2e; }
stage "e2e suite, sessions started fresh (release build)" e2e_fresh
if [ $quick -eq 0 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  stage "suites on the ASan+UBSan build" run_suites build-asan
  stage "fuzzing (${fuzz_seconds}s per target)" fuzz
  stage "benchmark harnesses, smoke run" bash -c "$PY bench/overhead.py --quick --airlock '$root/build/airlock' >/dev/null && $PY bench/run.py --quick --airlock '$root/build/airlock' >/dev/null"
fi

echo
echo "stages: ${passed} passed, ${failed} failed"
for f in "${failures[@]}"; do echo "  failed: $f"; done
[ $failed -eq 0 ]
