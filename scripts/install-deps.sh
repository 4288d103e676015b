#!/usr/bin/env bash
# Installs everything Airlock builds, runs and tests with, from Debian's packages.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(
  # build
  meson ninja-build gcc clang pkg-config libseccomp-dev libcmocka-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libyaml-dev libcurl4-openssl-dev
  # sandbox backends and the default runtime
  bubblewrap runsc python3 python3-numpy python3-pandas python3-matplotlib nodejs
  # checks: sanitizers and libFuzzer runtimes, linters, test runner
  libclang-rt-14-dev clang-tidy cppcheck python3-pytest procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
