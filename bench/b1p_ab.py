#!/usr/bin/env python3
"""B1p for two builds at once: the rounds of `run.py`'s B1p (a pool hit: create a session,
execute `import pandas, matplotlib.pyplot as plt` and `1+1`, delete it), interleaved round
by round between a daemon of each build, and every third round `run.py`'s import profile
(`import pandas`, then `import matplotlib` + `.pyplot`, timed inside a fresh session, and
whether matplotlib's font cache was there). On a machine shared with other work, both
builds see the same load, which a before run and an after run one after the other do not.

    sudo python3 bench/b1p_ab.py --before OLD/build/airlock --after build/airlock [--rounds 30]

Prints JSON: per build n, p50, p90, mean, min (ms) and the profile's medians. Never fails
on timing; only on a wrong answer or a daemon that does not start.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import run as R
from airlockd import Daemon


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="the `airlock` of the build before")
    ap.add_argument("--after", type=Path, default=R.REPO / "build" / "airlock", help="the `airlock` of the build after")
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds per build (one untimed warm-up first)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="airlock-b1p-ab-"))
    tmp.chmod(0o755)  # the daemons drop to their own uid: they must reach their data dirs
    ds = {"before": Daemon(a.before, R.POOL_SIZE, tmp, "before"), "after": Daemon(a.after, R.POOL_SIZE, tmp, "after")}
    code = R.PANDAS + "\n1+1"
    ms: dict[str, list[float]] = {k: [] for k in ds}
    prof: dict[str, list[list[float]]] = {k: [] for k in ds}
    try:
        for d in ds.values():
            d.start()
        for i in range(a.rounds + 1):
            for k in list(ds) if i % 2 == 0 else list(ds)[::-1]:
                c = ds[k].c
                R.settle_pool(c)
                t0 = R.now_ms()
                doc = c.create()
                ex = c.execute(doc["id"], code)
                t = R.now_ms() - t0
                if R.result_text(ex) != "2":
                    raise R.BenchFailure(f"{k}: first `{code}` answered {ex}")
                c.delete(doc["id"])
                if i:
                    ms[k].append(t)
                if i and i % 3 == 0:
                    R.settle_pool(c)
                    doc = c.create()
                    ex = c.execute(doc["id"], R.IMPORT_PROFILE_SRC)
                    c.delete(doc["id"])
                    prof[k].append([float(x) for x in ex.get("stdout", "").split()])
    finally:
        for d in ds.values():
            d.stop()
    out = {}
    for k in ds:
        v = sorted(ms[k])
        out[k] = {"n": len(v), "p50": round(statistics.median(v), 1), "p90": round(v[int(0.9 * len(v))], 1),
                  "mean": round(statistics.mean(v), 1), "min": round(v[0], 1), "profile_n": len(prof[k]),
                  "pandas_ms": round(statistics.median(x[0] for x in prof[k]), 1),
                  "pyplot_ms": round(statistics.median(x[1] for x in prof[k]), 1),
                  "pyplot_only_ms": round(statistics.median(x[2] for x in prof[k]), 1),
                  "font_cache_present": int(sum(x[3] for x in prof[k]))}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
