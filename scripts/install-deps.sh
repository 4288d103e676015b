#!/usr/bin/env bash
# Installs what Airlock builds and runs with, from the distribution's packages.
#   scripts/install-deps.sh          build + run (what `make run` needs)
#   scripts/install-deps.sh --test   also the test tooling (what `make test` and CI need)
# Idempotent: installs nothing when every package is already installed; then (re)builds
# matplotlib's font cache for the sandboxes (build-font-cache.sh).
set -euo pipefail

packages=(
  # build
  meson ninja-build gcc pkg-config libseccomp-dev libcmocka-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libyaml-dev libcurl4-openssl-dev zlib1g-dev
  # the namespace sandbox and the default runtime
  bubblewrap python3 python3-numpy python3-pandas python3-matplotlib python3-pil nodejs procps
  # the rest of the default runtime's data stack (docs/runtimes.md) and venv for built runtimes
  python3-scipy python3-statsmodels python3-sympy python3-seaborn python3-sklearn python3-networkx
  python3-requests python3-bs4 python3-lxml python3-openpyxl python3-xlrd python3-pypdf python3-docx python3-yaml
  python3-venv python3-pip
  # the JavaScript/TypeScript kernel: acorn parses cells, esbuild transpiles TypeScript
  node-acorn esbuild
  # network mode public: a user-mode network stack per sandbox (docs/network.md)
  slirp4netns
  nftables
)
# npm installs built runtimes' Node packages (docs/runtimes.md). A nodejs from NodeSource
# bundles it (and conflicts with Debian's npm package): only where there is none.
command -v npm >/dev/null 2>&1 || packages+=(npm)
# gVisor is an optional backend: installed where the distribution has it.
optional=(runsc)
if [ "${1:-}" = "--test" ]; then
  # clang with its sanitizer and libFuzzer runtimes, linters, the test runner
  packages+=(clang libclang-rt-14-dev clang-tidy cppcheck python3-pytest openssl)
  # the network tests build their own namespace, veth pair and servers (tests/testlib/netlab.py)
  packages+=(iproute2)
  # the benchmark's Jupyter kernels run Debian's python3 with its ipykernel (bench/run.py)
  packages+=(python3-ipykernel)
  optional=()
  packages+=(runsc) # the hostile suite runs on both backends
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
want_optional=()
for p in "${optional[@]}"; do
  installed "$p" || want_optional+=("$p")
done
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if [ ${#missing[@]} -gt 0 ] || [ ${#want_optional[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  for p in "${want_optional[@]}"; do
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" ||
      echo "note: $p is not available here; that backend stays off (airlock doctor says so)"
  done
fi
# Every time (a fraction of a second), so that it follows the installed matplotlib and fonts.
"${sudo[@]}" "$(dirname "$0")/build-font-cache.sh" >/dev/null
