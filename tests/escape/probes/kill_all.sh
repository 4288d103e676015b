#!/bin/bash
# Probe (outcome-judged): `kill -9 -1` from inside must not touch host processes. The
# driver starts host sleepers (as root, nobody and an unused uid) and checks they survive.
if [ "$(id -u)" = 0 ]; then
  echo "BLOCKED: refusing to run kill -9 -1 as uid 0 (safety guard for host controls)"
  exit 3
fi
kill -9 -1 2>/dev/null
rc=$?
sleep 0.5
echo "BLOCKED: kill -9 -1 returned $rc; the driver checks the host sleepers"
