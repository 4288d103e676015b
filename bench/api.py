#!/usr/bin/env python3
"""Superseded by bench/run.py, whose B1 and B2 are what this script measured (plus Jupyter
Kernel Gateway, the SDK and fork+unshare). Kept only so that callers of `bench/api.py`
(scripts/test.sh's smoke run) keep working until they call run.py; it runs run.py with the
same arguments (--quick, --runs, --exec-runs, --warmup, --write, --json, --airlock, --quiet).
"""

import os
import sys
from pathlib import Path

run = Path(__file__).resolve().with_name("run.py")
os.execv(sys.executable, [sys.executable, str(run), *sys.argv[1:]])
