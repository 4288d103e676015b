#!/usr/bin/env bash
# matplotlib's font cache, built once on the host for every sandbox instead of in every
# session's first `import matplotlib.pyplot` (about 65 ms of it: docs/benchmarks.md, B1p).
#
#   scripts/build-font-cache.sh      as root; install-deps.sh (so `make run`, CI) runs it
#
# The cache goes to /var/cache/airlock/matplotlib, root-owned and read-only; sandboxes
# see that directory read-only at /run/airlock/matplotlib (src/sandbox/plan.c), and the
# session runner copies its files into the session's own MPLCONFIGDIR, which stays the
# session's (matplotlib needs it writable), so no session can write what another reads.
# Run it again after fonts are added or matplotlib is upgraded: until then sessions keep
# finding the old fonts (a cache of another matplotlib version is not read: sessions then
# build their own, as without this cache).
set -euo pipefail
dest=/var/cache/airlock/matplotlib
python=/usr/bin/python3 # the sandboxes' own (the default runtime)

if [ "$(id -u)" -ne 0 ]; then
  echo "build-font-cache.sh: run it as root (the cache is root-owned)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Built as a sandbox would build it: the same python3, /usr and /etc/fonts, and no fonts
# of a home directory (a session's HOME, /workspace, starts empty): a font the sandboxes
# cannot see would make every session rebuild the cache when it looks that font up.
env -i PATH=/usr/bin:/bin HOME=/nonexistent LANG=C.UTF-8 MPLCONFIGDIR="$work" \
  "$python" -I -c 'import matplotlib.font_manager' 2>"$work/stderr" || {
  echo "build-font-cache.sh: $python could not build matplotlib's font cache:" >&2
  cat "$work/stderr" >&2
  exit 1
}
shopt -s nullglob
built=("$work"/fontlist-v*.json)
if [ ${#built[@]} -ne 1 ]; then
  echo "build-font-cache.sh: expected one fontlist-v*.json from matplotlib, found ${#built[@]}" >&2
  exit 1
fi
name=$(basename "${built[0]}")
install -d -m 0755 -o root -g root "$dest"
# Replaced by a rename: a sandbox starting meanwhile sees the old file or the new one.
install -m 0444 -o root -g root "${built[0]}" "$dest/.$name.new"
mv -f "$dest/.$name.new" "$dest/$name"
for old in "$dest"/fontlist-v*.json; do
  [ "$old" = "$dest/$name" ] || rm -f "$old"
done
echo "matplotlib font cache: $dest/$name"
