#!/bin/bash
# Probe: `unshare -U` / `unshare -r` (nested user namespaces) must fail. Bash version: the
# probe uses util-linux from /usr/bin as an attacker would.
escaped=()
for args in "-U true" "-r true" "-U -m true" "-n true" "-p -f true" "-m true"; do
  if out=$(unshare $args 2>&1); then
    echo "  [escape]  unshare $args succeeded"
    escaped+=("unshare $args")
  else
    echo "  [blocked] unshare $args: ${out//$'\n'/ }"
  fi
done
if [ ${#escaped[@]} -gt 0 ]; then
  echo "ESCAPED: unshare cli: ${escaped[*]}"
else
  echo "BLOCKED: unshare cli: unshare -U/-r/-m/-n/-p all refused"
fi
