"""What the benchmarks share: the clean environment, the bubblewrap baseline, percentiles,
the machine description, the marked sections of docs/benchmarks.md they rewrite, and what
they read from /proc (process trees, CPU times, PSS) to explain their figures.

Python standard library only; imported by bench/overhead.py, bench/run.py and its helpers
(run as scripts, so this directory is on sys.path).
"""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The suites' /proc reader (tests/testlib/procs.py): one way to walk the process table.
sys.path.insert(0, str(REPO / "tests" / "testlib"))
import procs  # noqa: E402
from procs import _stat, children, cmdline  # noqa: E402  (cmdline is used by the harnesses)

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


def progress(enabled: bool, msg: str, end: str = "\n") -> None:
    if enabled:
        print(msg, end=end, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# ---- processes, CPU time and memory, from /proc ---------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log_tail(path: Path) -> str:
    """The end of a server's log file, for an error message."""
    try:
        t = path.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return ("..." + t[-2000:]) if len(t) > 2000 else (t or "(empty log)")


def starttime(pid: int) -> str | None:
    """pid's start time (clock ticks since boot), None once it is gone or a zombie."""
    return procs.starttime(pid, zombie_is_gone=True)


def descendants(pid: int) -> list[int]:
    """Every live process below pid, parents before children."""
    kids = children()
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def kill_leftovers(tree: list[tuple[int, str]], wait: float = 10.0) -> list[str]:
    """Wait up to `wait` s for the (pid, starttime) processes to end; SIGKILL the rest (they
    are ours: they descend from a process this benchmark started). Returns what was left."""
    deadline = time.monotonic() + wait
    left = tree
    while True:
        left = [(p, st) for p, st in left if starttime(p) == st]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    out = []
    for p, st in left:
        out.append(f"{p} {cmdline(p)[:120]}")
        if starttime(p) == st:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return out


def snapshot_tree(pid: int) -> list[tuple[int, str]]:
    """pid and its descendants as (pid, starttime), so that a reused pid is not mistaken."""
    out = []
    for p in [pid, *descendants(pid)]:
        st = starttime(p)
        if st is not None:
            out.append((p, st))
    return out


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(pid's own user+system CPU s, that of its reaped children), or (0, 0) once gone."""
    rest = _stat(pid)
    if rest is None or len(rest) < 14:
        return 0.0, 0.0
    own = (int(rest[11]) + int(rest[12])) / CLK_TCK
    reaped = (int(rest[13]) + int(rest[14])) / CLK_TCK
    return own, reaped


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs of the host spent busy since boot (everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def host_cpu_seconds() -> dict[str, float]:
    """The host's CPU seconds since boot by kind (/proc/stat): user, system, irq, softirq, steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return {"user": (v[0] + v[1]) / CLK_TCK, "system": v[2] / CLK_TCK, "irq": v[5] / CLK_TCK,
            "softirq": v[6] / CLK_TCK, "steal": v[7] / CLK_TCK}


def all_process_cpu() -> dict[int, tuple[str, str, float]]:
    """Every live process: pid -> (start time, command name, user+system CPU s of itself and
    its reaped children)."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                st = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        if len(rest) < 20:
            continue
        out[int(p)] = (rest[19], name, sum(int(x) for x in rest[11:15]) / CLK_TCK)
    return out


def self_cpu_seconds() -> float:
    """This process's CPU time, all threads (the benchmark's client side)."""
    t = os.times()
    return t.user + t.system


def smaps_rollup(pid: int) -> dict[str, int] | None:
    """/proc/PID/smaps_rollup in kB (Rss, Pss, Pss_Anon, Pss_File, Private_*, ...), None if gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[0].isdigit():
            out[k.strip()] = int(parts[0])
    return out


def memory_kb(pids: list[int]) -> dict[str, int]:
    """PSS, its anonymous and file-backed parts, RSS and USS (private pages), summed, in kB."""
    tot = {"pss": 0, "pss_anon": 0, "pss_file": 0, "rss": 0, "uss": 0, "procs": 0}
    for p in pids:
        m = smaps_rollup(p)
        if m is None:
            continue
        tot["pss"] += m.get("Pss", 0)
        tot["pss_anon"] += m.get("Pss_Anon", 0)
        tot["pss_file"] += m.get("Pss_File", 0)
        tot["rss"] += m.get("Rss", 0)
        tot["uss"] += m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
        tot["procs"] += 1
    return tot


def memory_cgroup(pid: int) -> str | None:
    """The memory cgroup of pid (v1 hierarchy `memory`, else the v2 path), None if gone."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    v2 = None
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            return path
        if ctrls == "":
            v2 = path
    return v2


# ---- the bare limits: fork + unshare ------------------------------------------------------

_LIBC = ctypes.CDLL(None, use_errno=True)
# The namespaces `bwrap --unshare-all` makes: user, mount, pid, network, ipc, uts, cgroup.
UNSHARE_FLAGS = 0x10000000 | 0x00020000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000


def fork_unshare() -> int:
    """Fork this process; the child unshares the namespaces bwrap makes and exits. Returns the
    child's pid (reap it with os.waitpid; exit status 0 when unshare worked)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if _LIBC.unshare(UNSHARE_FLAGS) == 0 else 1)
        finally:
            os._exit(2)
    return pid


def fork_unshare_wait(pids: list[int]) -> None:
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise BenchFailure(f"fork+unshare child {pid} exited with {os.waitstatus_to_exitcode(status)} "
                               f"(unshare of user/mount/pid/net/ipc/uts/cgroup namespaces failed)")
