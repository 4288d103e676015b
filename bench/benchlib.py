"""What both benchmarks share: the clean environment, the bubblewrap baseline, percentiles,
the machine description and the marked section of docs/benchmarks.md each one rewrites.

Python standard library only; imported by bench/overhead.py and bench/api.py (run as
scripts, so this directory is on sys.path).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# One clean environment for every scenario, so no variable of the caller's shell
# (PYTHON*, NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ...) favours or handicaps one of them.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/nonexistent"}

PYTHON = "/usr/bin/python3"
BWRAP = "/usr/bin/bwrap"

# The bubblewrap baseline: roughly what any bwrap-based sandbox pays, without Airlock's
# launcher, shim, seccomp, Landlock or cgroups.
BWRAP_ARGS = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session",
              "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
              "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
              "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


class BenchFailure(Exception):
    """A wrong answer (never a slow one): the benchmark exits 1."""


def shell_quote(s: str) -> str:
    if s and re.fullmatch(r"[A-Za-z0-9_./=:,+-]+", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


# ---- statistics ----------------------------------------------------------------------

def pct(sorted_ms: list[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_ms) == 1:
        return sorted_ms[0]
    pos = (len(sorted_ms) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def stats_ms(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return dict(n=len(ms), p50=pct(ms, 0.50), p90=pct(ms, 0.90), p99=pct(ms, 0.99),
                mean=statistics.fmean(ms), min=ms[0], max=ms[-1],
                stdev=statistics.stdev(ms) if len(ms) > 1 else 0.0)


# ---- machine description --------------------------------------------------------------

def cmd_out(argv: list[str], cwd: Path | None = None) -> str | None:
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    return (p.stdout or p.stderr).decode("utf-8", "replace").strip()


def loadavg() -> str:
    la = os.getloadavg()
    return f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"


def machine(tools: list[tuple[str, list[str]]]) -> dict[str, str]:
    """The host, the commit and the versions of `tools` ((name, version argv) pairs)."""
    m: dict[str, str] = {}
    cpu, mem = "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("model name", "Hardware", "cpu model", "Model"):
                cpu = v.strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    avail = len(os.sched_getaffinity(0))
    m["cpus"] = f"{avail} (nproc)" + ("" if avail == os.cpu_count() else f" of {os.cpu_count()} online")
    m["cpu model"] = cpu
    m["memory"] = mem
    m["kernel"] = f"{platform.system()} {platform.release()}"
    m["load average at start"] = loadavg()
    m["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = cmd_out(["git", "rev-parse", "--short", "HEAD"], REPO)
    if head is None:
        m["git commit"] = "unknown (no git checkout or git missing)"
    else:
        dirty = cmd_out(["git", "status", "--porcelain", "--untracked-files=no"], REPO)
        m["git commit"] = head + (" (dirty: the working tree has uncommitted changes)" if dirty else "")
    vers = []
    for name, argv in tools:
        out = cmd_out(argv)
        if out:
            v = re.search(r"\d+(\.[\w~.+-]+)+", out.splitlines()[0])
            vers.append(f"{name} {v.group(0) if v else out.splitlines()[0]}")
    m["versions"] = ", ".join(vers)
    return m


# ---- docs/benchmarks.md ----------------------------------------------------------------

DOC_INTRO = """# Benchmarks

Numbers measured on real machines by the scripts in `bench/`. They are figures to
compare, never pass/fail thresholds. See `bench/README.md` for how to run them.

"""


def write_doc(path: Path, name: str, section: str, body: str) -> None:
    """Replace the block between <!-- bench:NAME:start/end --> markers in `path` with `body`;
    without the markers, append `section` (its heading and introduction) and the block."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body}\n{end}"
    if path.exists():
        text = path.read_text()
        i, j = text.find(start), text.find(end)
        if i >= 0 and j > i:
            text = text[:i] + block + text[j + len(end):]
        else:
            text = text.rstrip("\n") + "\n\n" + section + block + "\n"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = DOC_INTRO + section + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
