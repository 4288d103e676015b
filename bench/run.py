#!/usr/bin/env python3
"""The benchmark of product.md section 5, in one command: Airlock against Jupyter Kernel Gateway
and the bare limits, all measured in the same invocation, reported as ratios.

  B1  session created -> first `1+1` result, client side over HTTP: Airlock with a warm
      pool (hit) and without one (miss), the same through the Python SDK, Jupyter Kernel
      Gateway (start a kernel, open its websocket, execute), and the bare limits: a fresh
      `python3 -c`, the same under bwrap, and fork+unshare of the namespaces bwrap makes.
      B1p is the same with `import pandas, matplotlib.pyplot` in the first execution, with
      a bare zygote (fork of a warm Python that imported them) as the limit.
  B2  execute round trip in an existing session (`x += 1`).
  B3  burst: sessions requested at once (100) -> time until all have answered `1+1`.
  B4  density: N idle sessions with pandas and matplotlib.pyplot imported -> PSS per session
      (/proc/PID/smaps_rollup of every process of each sandbox, found by memory cgroup) and
      the N that fits in 24 GiB.
  B5  throughput: small executions per second across 50 sessions.
  B6  file upload and download of 100 MB.

It starts its own daemons (`airlock serve`: one with the default warm pool of 4, one with no
pool), its own Jupyter Kernel Gateway, and its baselines, on 127.0.0.1 only, and stops them
all at the end, checking that nothing is left running. It never passes or fails on time:
it fails (exit 1) only when an answer is wrong, a request fails, or something outlived its
stop; exit 2 when something it needs is missing (Jupyter Kernel Gateway included, unless
--no-jupyter).

Usage (as root, from anywhere):

    python3 bench/run.py --quick                     # tiny N, a few seconds per scenario (CI smoke run)
    python3 bench/run.py --out docs/benchmarks.md    # the full benchmark, rewriting its docs section

See bench/README.md.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jupyter_kg
from airlockd import Client, Conn, Daemon, result_text
from benchlib import (
    BWRAP,
    BWRAP_ARGS,
    CLEAN_ENV,
    PYTHON,
    REPO,
    BenchFailure,
    all_process_cpu,
    descendants,
    fork_unshare,
    fork_unshare_wait,
    host_cpu_seconds,
    loadavg,
    machine,
    machine_busy_seconds,
    memory_kb,
    progress,
    self_cpu_seconds,
    shell_quote,
    stats_ms,
    write_doc,
)

POOL_SIZE = 4                  # the daemon's default
PANDAS = "import pandas, matplotlib.pyplot as plt"
GIB = 1024 ** 3

# product.md section 5
T_B1_P50, T_B1_P99 = 10.0, 50.0     # ms, warm pool
T_B2_P50 = 1.0                       # ms
T_B3_ALL = 2000.0                    # ms for 100 sessions
T_B4_PSS_MIB, T_B4_N = 15.0, 1000    # per idle session with pandas imported; sessions in 24 GB
T_B5_RATE = 500.0                    # executions/s across 50 sessions

# The B2/B5 bare limit: a live interpreter reading one line of code, exec-ing it in a
# persistent namespace and answering one line.
REPL_SRC = r"""
import os
ns = {}
buf = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    buf += chunk
    while b"\n" in buf:
        line, _, buf = buf.partition(b"\n")
        exec(line.decode(), ns)
        os.write(1, b"ok\n")
"""

# The bare limits that import pandas and matplotlib get matplotlib's font cache built
# beforehand (MPLCONFIGDIR, set up by pandas_env()) and its Agg backend, as in Airlock's
# sandboxes; under bwrap they also need /etc/alternatives (Debian's numpy finds its BLAS
# there) and /etc/matplotlibrc.
PANDAS_ENV: dict[str, str] = dict(CLEAN_ENV)
BWRAP_PANDAS_ARGS: list[str] = list(BWRAP_ARGS)


def pandas_env(tmp: Path) -> None:
    mpl = tmp / "mpl"
    mpl.mkdir(exist_ok=True)
    PANDAS_ENV.update(MPLCONFIGDIR=str(mpl), MPLBACKEND="Agg")
    BWRAP_PANDAS_ARGS[:] = BWRAP_ARGS + ["--ro-bind", "/etc/alternatives", "/etc/alternatives",
                                         "--ro-bind", "/etc/matplotlibrc", "/etc/matplotlibrc", "--bind", str(mpl), str(mpl)]
    p = subprocess.run([PYTHON, "-c", PANDAS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=PANDAS_ENV, timeout=120)
    if p.returncode != 0:
        raise BenchFailure(f"`python3 -c '{PANDAS}'` failed: {p.stdout[-1000:]!r}")

# The B4 bare limit: a Python with pandas and pyplot imported, idle.
IDLE_SRC = PANDAS + "\nimport sys\nsys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()\n"

# The zygote limit (B1p, B4): a Python that imported pandas and pyplot once, then forks on
# request. `run`: a child answers 1+1 and exits. `hold`: a child stays, idle, until `release`.
ZYGOTE_SRC = PANDAS + r"""
import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
hold_r, hold_w = os.pipe()
os.write(1, b"ready\n")
while True:
    line = sys.stdin.buffer.readline()
    if not line:
        break
    cmd = line.strip()
    if cmd == b"run":
        if os.fork() == 0:
            os.write(1, b"%d\n" % (1 + 1))
            os._exit(0)
    elif cmd == b"hold":
        pid = os.fork()
        if pid == 0:
            os.close(hold_w)
            os.read(hold_r, 1)
            os._exit(0)
        os.write(1, b"held %d\n" % pid)
    elif cmd == b"release":
        os.close(hold_w)
        hold_r, hold_w = os.pipe()
        os.write(1, b"released\n")
"""


@dataclass
class Series:
    key: str
    what: str
    ms: list[float] = field(default_factory=list)

    def stats(self) -> dict:
        return stats_ms(self.ms) if self.ms else {}


def now_ms() -> float:
    return time.perf_counter_ns() / 1e6


def settle_pool(c: Client, want: int = POOL_SIZE, timeout: float = 5.0, warm: bool = False) -> None:
    """Wait (untimed) until the daemon's warm pool is full again; with warm, until its
    sandboxes have also preloaded pool_preload's modules (the daemon does that once the
    pool has been left alone for a second, one sandbox at a time: docs/architecture.md 6.5)."""
    metric = "airlock_pool_preloaded" if warm else "airlock_pool_ready"
    deadline = time.monotonic() + (timeout if not warm else max(timeout, 60.0))
    while c.metrics().get(metric, 0) < want and time.monotonic() < deadline:
        time.sleep(0.01)


# ---- the bare baselines ----------------------------------------------------------------------

def run_proc(argv: list[str], expect: bytes = b"2\n", env: dict | None = None) -> float:
    t0 = now_ms()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env or CLEAN_ENV, cwd="/", timeout=120)
    t1 = now_ms()
    if p.returncode != 0 or p.stdout != expect or p.stderr:
        raise BenchFailure(f"expected {expect!r}, got exit {p.returncode}, stdout {p.stdout[:300]!r}, stderr "
                           f"{p.stderr[-800:]!r}\n  command: {' '.join(shell_quote(a) for a in argv)}")
    return t1 - t0


def time_fork_unshare() -> float:
    t0 = now_ms()
    fork_unshare_wait([fork_unshare()])
    return now_ms() - t0


class Repl:
    def __init__(self):
        self.p = subprocess.Popen([PYTHON, "-c", REPL_SRC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=CLEAN_ENV, cwd="/", bufsize=0)
        self.w, self.r = self.p.stdin.fileno(), self.p.stdout.fileno()

    def send(self, line: str) -> None:
        os.write(self.w, line.encode() + b"\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = os.read(self.r, 4096)
            if not chunk:
                self.p.wait(timeout=10)
                raise BenchFailure(f"local REPL baseline died on {line!r}: {self.p.stderr.read()[-1000:]!r}")
            got += chunk
        if got != b"ok\n":
            raise BenchFailure(f"local REPL baseline answered {got!r} to {line!r}")

    def close(self) -> None:
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class Zygote:
    def __init__(self):
        self.p = subprocess.Popen([PYTHON, "-c", ZYGOTE_SRC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=PANDAS_ENV, cwd="/")
        self.expect(b"ready")

    def expect(self, prefix: bytes) -> bytes:
        line = self.p.stdout.readline()
        if not line.startswith(prefix):
            self.close()
            raise BenchFailure(f"zygote baseline: expected {prefix!r}, got {line!r}; stderr "
                               f"{self.p.stderr.read()[-1000:]!r}")
        return line

    def cmd(self, c: bytes) -> None:
        self.p.stdin.write(c + b"\n")
        self.p.stdin.flush()

    def run(self) -> float:
        t0 = now_ms()
        self.cmd(b"run")
        self.expect(b"2\n")
        return now_ms() - t0

    def hold(self) -> int:
        self.cmd(b"hold")
        return int(self.expect(b"held ").split()[1])

    def release(self) -> None:
        self.cmd(b"release")
        self.expect(b"released")

    def close(self) -> None:
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---- the systems under test ------------------------------------------------------------------

class Systems:
    def __init__(self, airlock: Path, tmp: Path, jupyter: bool):
        self.pooled = Daemon(airlock, POOL_SIZE, tmp, "pool")
        self.cold = Daemon(airlock, 0, tmp, "nopool")
        self.gw = jupyter_kg.Gateway(tmp) if jupyter else None
        self.sdk = None
        self.tmp = tmp

    def start(self) -> None:
        self.pooled.start()
        self.cold.start()
        from airlock import Airlock
        self.sdk = Airlock(url=f"http://127.0.0.1:{self.pooled.port}", api_key=self.pooled.key, timeout=300)
        if self.gw:
            self.gw.start()

    def stop(self) -> list[str]:
        left = []
        if self.sdk is not None:
            self.sdk.close()
        for d in (self.pooled, self.cold):
            left += d.stop()
        if self.gw:
            left += self.gw.stop()
        return left


# ---- B1: session created -> first result -----------------------------------------------------

def b1(S: Systems, runs: int, warmup: int, show: bool, pandas: bool = False) -> dict:
    code = f"{PANDAS}\n1+1" if pandas else "1+1"
    bare_argv = [PYTHON, "-c", (PANDAS + "; " if pandas else "") + "print(1+1)"]
    ser: dict[str, Series] = {}
    parts: dict[str, dict[str, list[float]]] = {}
    hits = {"hit": 0, "miss": 0}
    pc = S.pooled.c

    def add(key: str, ms: float, record: bool, **split: float) -> None:
        if record:
            ser.setdefault(key, Series(key, "")).ms.append(ms)
            for k, v in split.items():
                parts.setdefault(key, {}).setdefault(k, []).append(v)

    def airlock(d: Daemon, key: str, record: bool) -> None:
        c = d.c
        if d is S.pooled:
            settle_pool(c, warm=pandas)
            before = c.metrics().get("airlock_pool_hits_total", 0)
        t0 = now_ms()
        doc = c.create()
        t1 = now_ms()
        ex = c.execute(doc["id"], code)
        t2 = now_ms()
        if result_text(ex) != "2":
            raise BenchFailure(f"airlock {d.name}: first `{code}` answered {ex}")
        if d is S.pooled and record:
            hits["hit" if c.metrics().get("airlock_pool_hits_total", 0) > before else "miss"] += 1
        c.delete(doc["id"])
        add(key, t2 - t0, record, create=t1 - t0, execute=t2 - t1)

    def sdk(record: bool) -> None:
        settle_pool(pc)
        t0 = now_ms()
        s = S.sdk.sessions.create()
        t1 = now_ms()
        ex = s.run_code(code)
        t2 = now_ms()
        if ex.text != "2":
            raise BenchFailure(f"SDK: first `{code}` answered {ex}")
        s.stop()
        add("airlock-sdk", t2 - t0, record, create=t1 - t0, execute=t2 - t1)

    def jupyter(record: bool) -> None:
        t0 = now_ms()
        k = S.gw.kernel()
        t1 = now_ms()
        _, res = k.execute(code)
        t2 = now_ms()
        if res != "2":
            raise BenchFailure(f"Jupyter: first `{code}` answered {res!r}")
        k.close()
        add("jupyter", t2 - t0, record, create=t1 - t0, execute=t2 - t1)

    steps: list[Callable[[bool], None]] = [lambda r: airlock(S.pooled, "airlock-pool", r)]
    if pandas:
        zyg = Zygote()
        steps += [lambda r: add("py-zygote", zyg.run(), r)]
    else:
        zyg = None
        steps += [lambda r: airlock(S.cold, "airlock-nopool", r), sdk,
                  lambda r: add("py-bwrap", run_proc(BWRAP_ARGS + bare_argv), r),
                  lambda r: add("fork-unshare", time_fork_unshare(), r)]
    steps += [lambda r: add("py-bare", run_proc(bare_argv, env=PANDAS_ENV if pandas else None), r)]
    if S.gw:
        steps.append(jupyter)
    try:
        n = len(steps)
        for rnd in range(-warmup, runs):
            for j in range(n):
                steps[(j + rnd) % n](rnd >= 0)
            if show and (rnd < 0 or rnd % 10 == 9 or rnd == runs - 1):
                label = f"warm-up {rnd + warmup + 1}/{warmup}" if rnd < 0 else f"round {rnd + 1}/{runs}"
                progress(True, f"\r  {'B1p' if pandas else 'B1'} {label}   ", end="")
        progress(show, "")
    finally:
        if zyg:
            zyg.close()
    return {"series": {k: s.stats() for k, s in ser.items()},
            "parts": {k: {p: stats_ms(v) for p, v in d.items()} for k, d in parts.items()},
            "raw": {k: s.ms for k, s in ser.items()}, "hits": hits}


def cold_profile(airlock: Path, rounds: int) -> dict:
    """Pieces of a cold session start measured on the bare host (medians of `rounds`): the
    interpreter's start, the runner's top-level imports, and compiling the runner's source
    (what the daemon saves every start by compiling it once, at its own start)."""
    runner = airlock.parent / "airlock_runner.py"
    src = runner.read_text()
    mods = []
    for node in ast.parse(src).body:
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.append(node.module)
    imports = "import " + ", ".join(dict.fromkeys(mods))
    code = ("import time\nt0 = time.perf_counter()\n" + imports + "\nt1 = time.perf_counter()\n"
            f"src = open({str(runner)!r}).read()\nt2 = time.perf_counter()\n"
            "compile(src, 'airlock_runner.py', 'exec')\nt3 = time.perf_counter()\n"
            "print(f'{1000 * (t1 - t0):.2f} {1000 * (t3 - t2):.2f}')")
    start, imp, comp = [], [], []
    for _ in range(rounds):
        start.append(run_proc([PYTHON, "-c", "pass"], expect=b""))
        p = subprocess.run([PYTHON, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CLEAN_ENV,
                           timeout=60)
        f = p.stdout.split()
        if p.returncode != 0 or len(f) != 2:
            raise BenchFailure(f"cold profile: {p.stdout!r} {p.stderr[-500:]!r}")
        imp.append(float(f[0]))
        comp.append(float(f[1]))
    return {"n": rounds, "python_start_ms": statistics.median(start), "runner_imports_ms": statistics.median(imp),
            "runner_compile_ms": statistics.median(comp), "runner_lines": src.count("\n"), "imports": imports}


IMPORT_PROFILE_SRC = """import glob, os, time
t0 = time.perf_counter()
import pandas
t1 = time.perf_counter()
import matplotlib
cached = bool(glob.glob(os.path.join(matplotlib.get_cachedir(), 'fontlist-*.json')))
t2 = time.perf_counter()
import matplotlib.pyplot
t3 = time.perf_counter()
print(f'{1000 * (t1 - t0):.1f} {1000 * (t3 - t1):.1f} {1000 * (t3 - t2):.1f} {int(cached)}')
"""


def import_profile(S: Systems, rounds: int, tmp: Path) -> dict:
    """Where B1p's time goes: `import pandas` and `import matplotlib.pyplot` timed inside a
    fresh Airlock session, and in a bare python3 with and without matplotlib's font cache."""
    out: dict[str, list[list[float]]] = {"airlock": [], "py-bare": [], "py-bare-cold-font-cache": []}

    def parse(text: str, who: str) -> list[float]:
        f = text.split()
        if len(f) != 4:
            raise BenchFailure(f"import profile ({who}): {text!r}")
        return [float(x) for x in f]

    c = S.pooled.c
    for i in range(rounds):
        settle_pool(c)
        sid = c.create()["id"]
        ex = c.execute(sid, IMPORT_PROFILE_SRC)
        c.delete(sid)
        out["airlock"].append(parse(ex.get("stdout", ""), "airlock"))
        p = subprocess.run([PYTHON, "-c", IMPORT_PROFILE_SRC], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=PANDAS_ENV, timeout=120)
        out["py-bare"].append(parse(p.stdout.decode(), "py-bare"))
        cold = tmp / f"mpl-cold-{i}"
        p = subprocess.run([PYTHON, "-c", IMPORT_PROFILE_SRC], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env={**PANDAS_ENV, "MPLCONFIGDIR": str(cold)}, timeout=120)
        out["py-bare-cold-font-cache"].append(parse(p.stdout.decode(), "py-bare, cold cache"))
    return {k: {"pandas_ms": statistics.median(x[0] for x in v), "pyplot_ms": statistics.median(x[1] for x in v),
                "pyplot_only_ms": statistics.median(x[2] for x in v), "font_cache_present": sum(x[3] for x in v),
                "n": len(v)} for k, v in out.items()}


# ---- B2: execute round trip --------------------------------------------------------------------

def b2(S: Systems, runs: int, warmup: int, nagle_runs: int, show: bool) -> dict:
    c = S.pooled.c
    sid = c.create()["id"]
    sdk_s = S.sdk.sessions.create()
    repl = Repl()
    k = S.gw.kernel() if S.gw else None
    ser = {key: Series(key, "") for key in ("airlock", "airlock-sdk", "runner", "healthz", "local-repl", "jupyter",
                                            "jupyter-default-tcp")}
    count = 0
    try:
        c.execute(sid, "x = 0")
        sdk_s.run_code("x = 0")
        repl.send("x = 0")
        if k:
            k.execute("x = 0")

        def air(record: bool) -> None:
            t0 = now_ms()
            doc = c.execute(sid, "x += 1")
            t1 = now_ms()
            if doc.get("results") or doc.get("stdout") or doc.get("stderr"):
                raise BenchFailure(f"execute `x += 1` answered {doc}")
            if record:
                ser["airlock"].ms.append(t1 - t0)
                ser["runner"].ms.append(float(doc["duration_ms"]))

        def sdk(record: bool) -> None:
            t0 = now_ms()
            sdk_s.run_code("x += 1")
            if record:
                ser["airlock-sdk"].ms.append(now_ms() - t0)

        def health(record: bool) -> None:
            t0 = now_ms()
            st, _ = c.raw("GET", "/healthz", auth=False)
            t1 = now_ms()
            if st != 200:
                raise BenchFailure(f"GET /healthz: HTTP {st}")
            if record:
                ser["healthz"].ms.append(t1 - t0)

        def rep(record: bool) -> None:
            t0 = now_ms()
            repl.send("x += 1")
            if record:
                ser["local-repl"].ms.append(now_ms() - t0)

        def jup(record: bool) -> None:
            t0 = now_ms()
            k.execute("x += 1")
            if record:
                ser["jupyter"].ms.append(now_ms() - t0)

        steps = [air, sdk, health, rep] + ([jup] if k else [])
        for rnd in range(-warmup, runs):
            for j in range(len(steps)):
                steps[(j + rnd) % len(steps)](rnd >= 0)
            count += 1
            if show and rnd >= 0 and (rnd % 100 == 99 or rnd == runs - 1):
                progress(True, f"\r  B2 round {rnd + 1}/{runs}   ", end="")
        progress(show, "")
        for name, got in (("airlock", result_text(c.execute(sid, "x"))), ("SDK", sdk_s.run_code("x").text),
                          ("jupyter", k.execute("x")[1] if k else str(count))):
            if got != str(count):
                raise BenchFailure(f"B2: after {count} `x += 1` the {name} session has x = {got}")
        repl.send(f"assert x == {count}, x")
        if k:
            # Jupyter as a client without TCP_QUICKACK sees it (Nagle + delayed ACK): fewer rounds.
            k.quickack = False
            for i in range(nagle_runs):
                t0 = now_ms()
                k.execute("x += 1")
                ser["jupyter-default-tcp"].ms.append(now_ms() - t0)
                if show and (i % 20 == 19 or i == nagle_runs - 1):
                    progress(True, f"\r  B2 Jupyter without TCP_QUICKACK {i + 1}/{nagle_runs}   ", end="")
            progress(show, "")
    finally:
        repl.close()
        if k:
            k.close()
        sdk_s.stop()
        c.delete(sid)
    return {"series": {k_: s.stats() for k_, s in ser.items() if s.ms}, "raw": {k_: s.ms for k_, s in ser.items()}}


# ---- B3: a burst of sessions -------------------------------------------------------------------

def background_cores(seconds: float = 1.0) -> float:
    """How many CPUs the rest of the machine keeps busy while the benchmark is idle (other
    jobs on a shared host): sampled just before a profiled window."""
    b0, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy_seconds() - b0) / (time.monotonic() - t0)


def cpu_window(S: Systems) -> dict:
    """CPU seconds so far per component (deltas of two of these are a profile of a window)."""
    out: dict = {"wall": time.monotonic(), "machine": machine_busy_seconds(), "client": self_cpu_seconds(),
                 "_host": host_cpu_seconds(), "_procs": all_process_cpu()}
    for d in (S.pooled, S.cold):
        for k, v in d.cpu().items():
            out[f"airlock {k}"] = out.get(f"airlock {k}", 0.0) + v
    if S.gw:
        for k, v in S.gw.cpu().items():
            out[f"jupyter {k}"] = v
    ours = set()
    for root in [S.pooled.proc, S.cold.proc] + ([S.gw.proc] if S.gw else []):
        if root is not None:
            ours |= {root.pid, *descendants(root.pid)}
    out["_ours"] = ours | set(descendants(os.getpid()))
    return out


def cpu_delta(a: dict, b: dict, background: float | None = None) -> dict:
    d = {k: b[k] - a.get(k, 0.0) for k in b if not k.startswith("_")}
    d["other (rest of the machine)"] = d["machine"] - sum(v for k, v in d.items() if k not in ("machine", "wall"))
    if background is not None:
        d["background_cores"] = background
    # What "other" was: the host's time by kind, and the processes outside the benchmark's
    # trees that used the most CPU in the window (by command name; kernel threads included).
    d["_host"] = {k: b["_host"][k] - a["_host"][k] for k in b["_host"]}
    mine = {os.getpid()} | a["_ours"] | b["_ours"]
    others: dict[str, float] = {}
    for pid, (st, name, cpu) in b["_procs"].items():
        if pid in mine:
            continue
        before = a["_procs"].get(pid)
        used = cpu - before[2] if before and before[0] == st else cpu
        if used > 0:
            key = re.sub(r"[/:]\S*$", "", name) if name.startswith("kworker") else name
            others[key] = others.get(key, 0.0) + used
    d["_others"] = dict(sorted(others.items(), key=lambda kv: -kv[1])[:6])
    return d


def burst_threads(n: int, prepare: Callable[[int], object], work: Callable[[object], None],
                  tolerate: bool = False) -> tuple[float, list[float], list[str]]:
    """n threads, each prepared (untimed), released at once; returns (ms until the last one
    finished, each successful one's ms, the errors). An error fails the run unless `tolerate`."""
    objs = [prepare(i) for i in range(n)]
    gate = threading.Barrier(n + 1)
    done: list[float | None] = [None] * n
    errors: list[BaseException] = []

    def go(i: int) -> None:
        gate.wait()
        try:
            work(objs[i])
            done[i] = now_ms()
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    gate.wait()
    t0 = now_ms()
    for t in ts:
        t.join()
    t1 = now_ms()
    if errors and not tolerate:
        raise errors[0]
    each = [d - t0 for d in done if d is not None]
    return (max(each) if each else t1 - t0), each, [str(e)[:300] for e in errors]


PERF = "/usr/bin/perf"


def perf_start(tmp: Path) -> subprocess.Popen:
    """`perf record` of the whole host (sampling, no tracing of the benchmark's processes)."""
    return subprocess.Popen([PERF, "record", "-a", "-F", "997", "-q", "-o", str(tmp / "burst.perf"), "--", "sleep", "600"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def perf_stop(p: subprocess.Popen, tmp: Path) -> list[tuple[float, str, str]]:
    """Stop the recording; the samples' shares by command and binary (kernel included), largest first."""
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    q = subprocess.run([PERF, "report", "-i", str(tmp / "burst.perf"), "--no-children", "--sort", "comm,dso", "-q",
                        "--stdio", "-g", "none"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    out = []
    for line in q.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+(.+?)\s{2,}(\S.*?)\s*$", line)
        if m:
            out.append((float(m.group(1)), m.group(2).strip(), m.group(3)))
    return out


def burst_airlock(S: Systems, n: int, perf: bool = False) -> tuple[float, list[float], dict]:
    d = S.pooled
    # a full pool, and no preload in flight (one would share the CPU with the burst for up to
    # 1.5 s: docs/architecture.md 6.5)
    settle_pool(d.c, warm=True)
    m0 = d.c.metrics()
    d.log_mark()
    sessions: list[tuple[Client, str]] = []
    lock = threading.Lock()

    def prep(i: int) -> Client:
        c = d.client()
        c.raw("GET", "/healthz", auth=False)   # connected before the burst
        return c

    created: list[float] = []

    def work(c: Client) -> None:
        sid = c.create()["id"]
        with lock:
            created.append(now_ms())
            sessions.append((c, sid))
        ex = c.execute(sid, "1+1")
        if result_text(ex) != "2":
            raise BenchFailure(f"B3: `1+1` answered {ex}")

    bg = background_cores()
    rec = perf_start(S.tmp) if perf else None
    if rec:
        time.sleep(0.5)   # perf is recording before the burst starts
    cpu0 = cpu_window(S)
    t0 = now_ms()
    try:
        total, each, _ = burst_threads(n, prep, work)
        cpu1 = cpu_window(S)
        m1 = d.c.metrics()
        samples = perf_stop(rec, S.tmp) if rec else None
    finally:
        for c, sid in sessions:
            c.delete(sid)
            c.close()
    created.sort()
    extra = {"hits": m1.get("airlock_pool_hits_total", 0) - m0.get("airlock_pool_hits_total", 0),
             "misses": m1.get("airlock_pool_misses_total", 0) - m0.get("airlock_pool_misses_total", 0),
             "create_server_ms": d.access_log("/v1/sessions"),
             "execute_server_ms": d.access_log("/v1/sessions/{id}/execute"), "cpu": cpu_delta(cpu0, cpu1, bg),
             "created_ms": [x - t0 for x in created]}
    if samples is not None:
        extra["perf"] = samples
    return total, each, extra


def burst_jupyter(S: Systems, n: int) -> tuple[float, list[float], dict]:
    kernels: list[jupyter_kg.Kernel] = []
    lock = threading.Lock()

    def work(_: object) -> None:
        k = S.gw.kernel()
        with lock:
            kernels.append(k)
        _, res = k.execute("1+1")
        if res != "2":
            raise BenchFailure(f"B3 Jupyter: `1+1` answered {res!r}")

    bg = background_cores()
    cpu0 = cpu_window(S)
    try:
        total, each, errors = burst_threads(n, lambda i: None, work, tolerate=True)
        cpu1 = cpu_window(S)
    finally:
        parallel(kernels, lambda k: k.close(), 8)
    return total, each, {"cpu": cpu_delta(cpu0, cpu1, bg), "errors": errors}


def burst_procs(argv: list[str], n: int) -> tuple[float, list[float]]:
    t0 = now_ms()
    procs = [subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=CLEAN_ENV, cwd="/") for _ in range(n)]
    each = []
    for p in procs:
        o, e = p.communicate(timeout=300)
        each.append(now_ms() - t0)
        if p.returncode != 0 or o != b"2\n":
            raise BenchFailure(f"B3: exit {p.returncode}, stdout {o!r}, stderr {e[-500:]!r}\n  command: "
                               f"{' '.join(shell_quote(x) for x in argv)}")
    return max(each), each


def b3(S: Systems, n: int, reps: int, jupyter_reps: int, show: bool, perf: bool = False) -> dict:
    out: dict[str, dict] = {}

    def record(key: str, total: float, each: list[float], extra: dict | None = None) -> None:
        o = out.setdefault(key, {"total_ms": [], "each": [], "extra": []})
        o["total_ms"].append(total)
        o["each"].extend(each)
        if extra:
            o["extra"].append(extra)

    for rep in range(reps):
        progress(show, f"  B3 round {rep + 1}/{reps}: Airlock ({n} sessions at once), bare limits")
        record("airlock", *burst_airlock(S, n, perf and rep == 0))
        time.sleep(1.0)   # the deleted sandboxes are torn down
        record("py-bare", *burst_procs([PYTHON, "-c", "print(1+1)"], n))
        record("py-bwrap", *burst_procs(BWRAP_ARGS + [PYTHON, "-c", "print(1+1)"], n))
        t0 = now_ms()
        fork_unshare_wait([fork_unshare() for _ in range(n)])
        record("fork-unshare", now_ms() - t0, [])
        time.sleep(0.5)
    for rep in range(jupyter_reps if S.gw else 0):
        progress(show, f"  B3 round {rep + 1}/{jupyter_reps}: Jupyter ({n} kernels at once)")
        record("jupyter", *burst_jupyter(S, n))
        time.sleep(1.0)
    return out


def parallel(items: list, fn: Callable, width: int) -> None:
    """fn over items in `width` threads (teardown of many sessions or kernels)."""
    items = list(items)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not items:
                    return
                it = items.pop()
            try:
                fn(it)
            except BaseException as e:
                errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(width)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


# ---- B4 density and B5 throughput ------------------------------------------------------------

def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def mem_summary(groups: list[list[int]], service: list[int]) -> dict:
    """Per-session memory (each group: one session's processes) and the service's own."""
    per = [memory_kb(g) for g in groups]
    kinds: dict[str, dict[str, int]] = {}
    for g in groups:
        for p in g:
            m = memory_kb([p])
            k = kinds.setdefault(comm(p), {"pss": 0, "pss_anon": 0, "pss_file": 0, "uss": 0, "procs": 0})
            for f in k:
                k[f] += m[f]
    n = len(per)
    mean = {f: sum(x[f] for x in per) / n for f in per[0]} if n else {}
    svc = memory_kb(service) if service else None
    return {"n": n, "mean_kb": mean, "pss_kb": sorted(x["pss"] for x in per),
            "by_process": {k: {f: v / n for f, v in d.items()} for k, d in kinds.items()},
            "service_kb": svc}


def b4_b5(S: Systems, n: int, b5_sessions: int, b5_seconds: float, show: bool) -> tuple[dict, dict]:
    b4: dict[str, dict] = {}
    b5: dict[str, dict] = {}
    settle = 2.0

    # Airlock: the no-pool daemon, so every sandbox it runs is a session.
    d = S.cold
    sids: list[str] = []
    try:
        progress(show, f"  B4 Airlock: {n} sessions, `{PANDAS}` in each")
        for _ in range(max(n, b5_sessions)):
            sids.append(d.c.create()["id"])
        for sid in sids[:n]:
            d.c.execute(sid, PANDAS)
        time.sleep(settle)
        groups = d.sandboxes()
        if len(groups) != len(sids):
            raise BenchFailure(f"B4: {len(sids)} sessions but {len(groups)} sandbox cgroups under the launcher")
        # Sessions beyond n (only when B5 needs more) have no pandas: left out of B4.
        pandas_groups = [g for g in groups.values() if any(_imports_pandas(p) for p in g)]
        if len(pandas_groups) != n:
            raise BenchFailure(f"B4: {n} sessions imported pandas but {len(pandas_groups)} sandboxes map it")
        lp, dp = d.launcher_pid, d.daemon_pid()
        b4["airlock"] = mem_summary(pandas_groups, [lp, dp] if dp else [lp])
        progress(show, f"  B5 Airlock: {b5_sessions} sessions, `x += 1` for {b5_seconds:g} s")
        b5["airlock"] = throughput(S, [(d, sid) for sid in sids[:b5_sessions]], "airlock", b5_seconds)
    finally:
        for sid in sids:
            d.c.delete(sid)

    if S.gw:
        kernels: list[jupyter_kg.Kernel] = []
        try:
            progress(show, f"  B4 Jupyter: {n} kernels, `{PANDAS}` in each")
            for i in range(max(n, b5_sessions)):
                k = S.gw.kernel()
                kernels.append(k)
                k.execute(PANDAS if i < n else "1+1")
            time.sleep(settle)
            roots = S.gw.kernel_roots()
            if len(roots) != len(kernels):
                raise BenchFailure(f"B4: {len(kernels)} kernels but {len(roots)} kernel processes")
            groups = [[r, *descendants(r)] for r in roots]
            groups = [g for g in groups if any(_imports_pandas(p) for p in g)]
            b4["jupyter"] = mem_summary(groups, [S.gw.proc.pid])
            progress(show, f"  B5 Jupyter: {b5_sessions} kernels, `x += 1` for {b5_seconds:g} s")
            b5["jupyter"] = throughput(S, kernels[:b5_sessions], "jupyter", b5_seconds)
        finally:
            parallel(kernels, lambda k: k.close(), 8)

    progress(show, f"  B4 bare: {n} python3 processes that imported pandas and pyplot, bare and under bwrap")
    for key, prefix in (("py-bare", []), ("py-bwrap", BWRAP_PANDAS_ARGS)):
        procs = []
        try:
            for _ in range(n):
                p = subprocess.Popen(prefix + [PYTHON, "-c", IDLE_SRC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=PANDAS_ENV, cwd="/")
                procs.append(p)
                if p.stdout.readline() != b"ready\n":
                    raise BenchFailure(f"B4 {key}: the idle python did not start: {p.stderr.read()[-800:]!r}")
            time.sleep(settle)
            b4[key] = mem_summary([[p.pid, *descendants(p.pid)] for p in procs], [])
        finally:
            for p in procs:
                p.stdin.close()
            for p in procs:
                p.wait(timeout=30)

    progress(show, f"  B4 zygote: {n} children forked from one python3 that imported pandas and pyplot")
    z = Zygote()
    try:
        kids = [z.hold() for _ in range(n)]
        time.sleep(settle)
        b4["py-zygote"] = mem_summary([[k] for k in kids], [z.p.pid])
        z.release()
    finally:
        z.close()

    progress(show, f"  B5 bare: {b5_sessions} local REPL processes, `x += 1` for {b5_seconds:g} s")
    repls = [Repl() for _ in range(b5_sessions)]
    try:
        b5["local-repl"] = throughput(S, repls, "repl", b5_seconds)
    finally:
        for r in repls:
            r.close()
    return b4, b5


def _imports_pandas(pid: int) -> bool:
    """Whether pid has pandas mapped (its C extensions are loaded once imported)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "/pandas/" in f.read()
    except OSError:
        return False


def throughput(S: Systems, targets: list, kind: str, seconds: float) -> dict:
    """`x += 1` as fast as each target answers, one thread per target, for `seconds`."""
    n = len(targets)
    counts = [0] * n
    lat: list[list[float]] = [[] for _ in range(n)]
    ends = [0.0] * n

    def prep(i: int):
        t = targets[i]
        if kind == "airlock":
            d, sid = t
            c = d.client()
            c.execute(sid, "x = 0")
            for _ in range(3):
                c.execute(sid, "x += 1")
            return (c, sid, i)
        if kind == "jupyter":
            t.execute("x = 0")
            for _ in range(3):
                t.execute("x += 1")
            return (t, None, i)
        t.send("x = 0")
        return (t, None, i)

    stop_at = [0.0]

    def work(o) -> None:
        t, sid, i = o
        stop = stop_at[0]
        c = 0
        mine = lat[i]
        while True:
            t0 = now_ms()
            if t0 >= stop:
                break
            if kind == "airlock":
                t.execute(sid, "x += 1")
            elif kind == "jupyter":
                t.execute("x += 1")
            else:
                t.send("x += 1")
            t1 = now_ms()
            mine.append(t1 - t0)
            c += 1
        counts[i] = c
        ends[i] = now_ms()

    prepared = [prep(i) for i in range(n)]
    gate = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        gate.wait()
        try:
            work(prepared[i])
        except BaseException as e:
            errors.append(e)

    bg = background_cores()
    ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    cpu0 = cpu_window(S)
    t0 = now_ms()
    stop_at[0] = t0 + seconds * 1000
    gate.wait()
    for t in ts:
        t.join()
    cpu1 = cpu_window(S)
    if errors:
        raise errors[0]
    elapsed = max(ends) - t0
    total = sum(counts)
    if kind == "airlock":
        for c, sid, i in prepared:
            got = result_text(c.execute(sid, "x"))
            if got != str(3 + counts[i]):
                raise BenchFailure(f"B5: session {sid} has x = {got} after {3 + counts[i]} `x += 1`")
            c.close()
    elif kind == "jupyter":
        for k, _, i in prepared:
            got = k.execute("x")[1]
            if got != str(3 + counts[i]):
                raise BenchFailure(f"B5: a kernel has x = {got} after {3 + counts[i]} `x += 1`")
    else:
        for r, _, i in prepared:
            r.send(f"assert x == {counts[i]}, x")
    return {"sessions": n, "executions": total, "elapsed_s": elapsed / 1000, "rate": total / (elapsed / 1000),
            "per_session_min": min(counts), "per_session_max": max(counts),
            "latency": stats_ms([x for m in lat for x in m]), "cpu": cpu_delta(cpu0, cpu1, bg)}


# ---- B6: files ---------------------------------------------------------------------------------

def b6(S: Systems, size: int, reps: int, jupyter_reps: int, show: bool) -> dict:
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    ser = {k: Series(k, "") for k in ("airlock-up", "airlock-down", "airlock-sdk-up", "airlock-sdk-down",
                                      "jupyter-up", "jupyter-down", "tmpfs-write", "tmpfs-read")}
    c = S.pooled.c
    sid = c.create()["id"]
    sdk_s = S.sdk.sessions.create()
    check = "import hashlib\nhashlib.sha256(open('/workspace/bench.bin', 'rb').read()).hexdigest()"
    try:
        for rep in range(reps):
            progress(show, f"  B6 round {rep + 1}/{reps}: Airlock, SDK, tmpfs")
            t0 = now_ms()
            c.put_file(sid, "bench.bin", data)
            ser["airlock-up"].ms.append(now_ms() - t0)
            if result_text(c.execute(sid, check)) != repr(digest):
                raise BenchFailure("B6: the uploaded file's SHA-256 differs")
            t0 = now_ms()
            got = c.get_file(sid, "bench.bin")
            ser["airlock-down"].ms.append(now_ms() - t0)
            if hashlib.sha256(got).hexdigest() != digest:
                raise BenchFailure("B6: the downloaded file's SHA-256 differs")
            del got
            t0 = now_ms()
            sdk_s.files.write("bench.bin", data)
            ser["airlock-sdk-up"].ms.append(now_ms() - t0)
            t0 = now_ms()
            got = sdk_s.files.read("bench.bin")
            ser["airlock-sdk-down"].ms.append(now_ms() - t0)
            if hashlib.sha256(got).hexdigest() != digest:
                raise BenchFailure("B6: the file the SDK read back differs")
            del got
            with tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="airlock-bench-") as f:
                t0 = now_ms()
                with open(f.name, "wb") as w:
                    w.write(data)
                ser["tmpfs-write"].ms.append(now_ms() - t0)
                t0 = now_ms()
                with open(f.name, "rb") as r:
                    got = r.read()
                ser["tmpfs-read"].ms.append(now_ms() - t0)
                if got != data:
                    raise BenchFailure("B6: tmpfs read back differs")
                del got
    finally:
        sdk_s.stop()
        c.delete(sid)

    if S.gw:
        import base64
        k = S.gw.kernel()
        chunk = 3 * (1 << 20)   # 4 MiB of base64 per message: under tornado's 10 MiB websocket limit
        try:
            k.execute("import base64, hashlib")
            for rep in range(jupyter_reps):
                progress(show, f"  B6 round {rep + 1}/{jupyter_reps}: Jupyter (base64 through execute)")
                t0 = now_ms()
                k.execute("_f = open('bench.bin', 'wb')")
                for i in range(0, size, chunk):
                    k.execute(f"_f.write(base64.b64decode('{base64.b64encode(data[i:i + chunk]).decode()}'))")
                k.execute("_f.close()")
                ser["jupyter-up"].ms.append(now_ms() - t0)
                if k.execute("hashlib.sha256(open('bench.bin', 'rb').read()).hexdigest()")[1] != repr(digest):
                    raise BenchFailure("B6: the file uploaded through Jupyter differs")
                t0 = now_ms()
                k.execute("_f = open('bench.bin', 'rb')")
                parts = []
                for _ in range(0, size, chunk):
                    out, _ = k.execute(f"print(base64.b64encode(_f.read({chunk})).decode())")
                    parts.append(base64.b64decode(out))
                k.execute("_f.close()")
                got = b"".join(parts)
                ser["jupyter-down"].ms.append(now_ms() - t0)
                if hashlib.sha256(got).hexdigest() != digest:
                    raise BenchFailure("B6: the file downloaded through Jupyter differs")
            k.execute("import os; os.unlink('bench.bin')")
        finally:
            k.close()
    return {"size": size, "series": {k_: s.stats() for k_, s in ser.items() if s.ms},
            "raw": {k_: s.ms for k_, s in ser.items()}}


# ---- report ------------------------------------------------------------------------------------

def fmt(x: float, nd: int = 1) -> str:
    return f"{x:.{nd}f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def stat_row(key: str, what: str, x: dict, nd: int = 1) -> str:
    return (f"| {key} | {what} | {x['n']} | {fmt(x['p50'], nd)} | {fmt(x['p90'], nd)} | {fmt(x['p99'], nd)} | "
            f"{fmt(x['mean'], nd)} | {fmt(x['min'], nd)} | {fmt(x['max'], nd)} |")


STAT_HEAD = ["| scenario | what is timed | n | p50 | p90 | p99 | mean | min | max |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]


def ratio(x: float) -> str:
    return f"{x:.3f}×" if x < 0.1 else f"{x:.2f}×" if x < 100 else f"{x:.0f}×"


def ratio_rows(series: dict, mine: list[str], others: list[str], nd: int = 1) -> list[str]:
    L = ["| ratio | p50 | mean | the other way, p50 | added, p50 ms |", "|---|---:|---:|---:|---:|"]
    for a in mine:
        for b in others:
            if a in series and b in series:
                x, y = series[a], series[b]
                L.append(f"| {a} ÷ {b} | {ratio(x['p50'] / y['p50'])} | {ratio(x['mean'] / y['mean'])} | "
                         f"{b} ÷ {a}: {ratio(y['p50'] / x['p50'])} | {x['p50'] - y['p50']:+.{nd}f} |")
    return L


def cpu_table(cpu: dict[str, float], per: float | None, per_label: str) -> list[str]:
    L = [f"| component | CPU s | share{'' if per is None else ' | ' + per_label} |",
         "|---|---:|---:|" + ("" if per is None else "---:|")]
    tot = cpu["machine"]
    for k, v in sorted(((k, v) for k, v in cpu.items() if not k.startswith("_")), key=lambda kv: -kv[1]):
        if k in ("machine", "wall", "background_cores") or abs(v) < 0.0005:
            continue
        L.append(f"| {k} | {v:.3f} | {100 * v / tot:.0f}% |" + ("" if per is None else f" {1000 * v / per:.2f} |"))
    L.append(f"| **all CPUs of the host, busy** | **{tot:.3f}** | |" + ("" if per is None else f" {1000 * tot / per:.2f} |"))
    ncpu = len(os.sched_getaffinity(0))
    note = (f"Window: {cpu['wall']:.2f} s wall on {ncpu} CPUs = {ncpu * cpu['wall']:.2f} CPU s available, "
            f"{100 * tot / (ncpu * cpu['wall']):.0f}% of it busy.")
    if cpu.get("_host"):
        note += " The host's busy time by kind (/proc/stat): " + ", ".join(
            f"{k} {v:.2f} s" for k, v in cpu["_host"].items()) + "."
    if cpu.get("_others"):
        note += (" Processes outside the benchmark that used the most CPU meanwhile: " + ", ".join(
            f"`{k}` {v:.2f} s" for k, v in cpu["_others"].items()) + ".")
    if "background_cores" in cpu:
        note += (f" Just before it, with the benchmark idle, the rest of the machine kept "
                 f"{cpu['background_cores']:.2f} CPUs busy (other jobs on this shared host).")
    return L + ["", note]


def report(r: dict) -> str:
    L: list[str] = []
    a = r["args"]
    L.append(f"Generated by `{r['cmdline']}` in {r['elapsed_s'] / 60:.1f} min. Client-side wall-clock ms "
             f"(`time.perf_counter_ns`) from one Python process on the same host, over HTTP/1.1 keep-alive on "
             f"127.0.0.1 (Airlock: `http.client` with TCP_NODELAY, and the `airlock` SDK on httpx; Jupyter: "
             f"`http.client` and websocket-client). Every answer was checked (`1+1` → `2`, the counters of B2 "
             f"and B5, the SHA-256 of every file of B6).")
    L.append("")
    L.append("**Machine**")
    L.append("")
    for k, v in r["machine"].items():
        L.append(f"- {k}: {v}")
    L.append(f"- session runtime: {r['runtime']}")
    iso = r.get("isolation") or {}
    if iso:
        L.append("- Airlock session isolation (from `POST /v1/sessions`): " + ", ".join(
            f"{k} {json.dumps(v) if isinstance(v, bool) else v}" for k, v in iso.items()))
    L.append(f"- Airlock daemons: `airlock serve --pool-size {POOL_SIZE}` (the default, with the default "
             f"`pool_preload` of numpy, pandas and matplotlib.pyplot; B1 pool, B1p, B2, B3, B6) and "
             f"`airlock serve --pool-size 0` (B1 no pool, B4, B5), as root, for the whole run")
    if r.get("jupyter"):
        L.append(f"- Jupyter: {r['jupyter']}; `python -m kernel_gateway` (jupyter-websocket mode, token auth), "
                 f"kernelspec `/usr/bin/python3 -m ipykernel_launcher` (the sessions' interpreter and libraries)")
    else:
        L.append("- Jupyter Kernel Gateway: **not measured** (`--no-jupyter`)")
    L.append(f"- bare limits: `/usr/bin/python3 -c`, `bwrap <baseline flags> /usr/bin/python3 -c` with "
             f"`<baseline flags>` = `{' '.join(shell_quote(x) for x in BWRAP_ARGS[1:])}`, and fork+unshare: "
             f"the benchmark forks itself and the child calls unshare(2) for the user, mount, pid, network, ipc, "
             f"uts and cgroup namespaces (what `bwrap --unshare-all` makes), then exits")
    L.append("")

    # B1
    b1 = r["b1"]
    s = b1["series"]
    L.append(f"### B1 — session created → first `1+1` result (ms; {a['runs']} rounds after {a['warmup']} warm-up, "
             f"the scenarios interleaved round-robin, order rotating each round)")
    L.append("")
    L += STAT_HEAD
    what = {
        "airlock-pool": f"`POST /v1/sessions {{}}` + `execute 1+1`, pool of {POOL_SIZE} (waited full before each create)",
        "airlock-sdk": "the same through the SDK: `sessions.create()` + `run_code('1+1')`",
        "airlock-nopool": "the same, `--pool-size 0`: a sandbox started per create (pool miss)",
        "jupyter": "`POST /api/kernels`, open its websocket, `execute_request 1+1` → reply and idle",
        "py-bare": "`/usr/bin/python3 -c 'print(1+1)'`, a fresh process",
        "py-bwrap": "`bwrap <baseline flags> /usr/bin/python3 -c 'print(1+1)'`",
        "fork-unshare": "fork, unshare(7 namespaces), exit, wait",
    }
    for k in what:
        if k in s:
            L.append(stat_row(k, what[k], s[k]))
    L.append("")
    h = b1["hits"]
    L.append(f"Pool hits (the daemon's `airlock_pool_hits_total` read before and after each timed create): "
             f"{h['hit']} hits, {h['miss']} misses in {h['hit'] + h['miss']} timed creates of `airlock-pool`.")
    L.append("")
    L.append("Of which (ms): the create request (Jupyter: `POST /api/kernels` and opening the websocket, which "
             "returns before the kernel is ready at times: then its first execute waits) and the first execute.")
    L.append("")
    L.append("| scenario | create p50 | create p99 | first execute p50 | first execute p99 |")
    L.append("|---|---:|---:|---:|---:|")
    for k, p in b1["parts"].items():
        L.append(f"| {k} | {fmt(p['create']['p50'])} | {fmt(p['create']['p99'])} | {fmt(p['execute']['p50'])} | "
                 f"{fmt(p['execute']['p99'])} |")
    L.append("")
    L += ratio_rows(s, ["airlock-pool", "airlock-nopool"], ["jupyter", "py-bare", "py-bwrap", "fork-unshare"])
    L.append("")
    if r.get("b1_server"):
        bs = r["b1_server"]
        L.append(f"Server side (the daemons' JSON access log, `duration_ms` of `POST /v1/sessions`, warm-up included): "
                 f"pool p50 {fmt(bs['pool']['p50'])} ms, no pool p50 {fmt(bs['nopool']['p50'])} ms "
                 f"(p99 {fmt(bs['nopool']['p99'])} ms).")
        L.append("")
    cp = r.get("cold_profile")
    if cp:
        L.append(f"Pieces of a cold start measured on the bare host (medians of {cp['n']}): `python3 -c pass` "
                 f"{fmt(cp['python_start_ms'])} ms; the runner's top-level imports (`{cp['imports']}`) "
                 f"{fmt(cp['runner_imports_ms'])} ms; compiling the runner's source ({cp['runner_lines']} lines) "
                 f"{fmt(cp['runner_compile_ms'])} ms, which no session pays: the daemon compiles it once, at its "
                 f"start, and sandboxes run the bytecode. The sandbox's own start is broken down by `overhead.py` (its "
                 f"section of docs/benchmarks.md).")
        L.append("")

    # B1p
    if r.get("b1p"):
        b1p = r["b1p"]
        s = b1p["series"]
        L.append(f"### B1p — session created → `{PANDAS}` and `1+1` answered (ms; {a['pandas_runs']} rounds "
                 f"after 1 warm-up, interleaved)")
        L.append("")
        L += STAT_HEAD
        whatp = {
            "airlock-pool": f"`POST /v1/sessions {{}}` + `execute` of `{PANDAS}` and `1+1`, pool hit",
            "jupyter": "start a kernel + the same execution",
            "py-bare": f"`/usr/bin/python3 -c '{PANDAS}; print(1+1)'`",
            "py-zygote": "a Python that imported them once forks; the child answers `1+1` (the zygote limit)",
        }
        for k in whatp:
            if k in s:
                L.append(stat_row(k, whatp[k], s[k]))
        L.append("")
        L += ratio_rows(s, ["airlock-pool"], ["jupyter", "py-bare", "py-zygote"])
        L.append("")
        prof = r.get("b1p_profile")
        if prof:
            L.append("Where the time goes: the imports timed inside the execution (`time.perf_counter` around "
                     "each import; medians of fresh sessions and processes):")
            L.append("")
            L.append("| where | n | `import pandas` ms | then `import matplotlib` + `.pyplot` ms | of which `.pyplot` | "
                     "matplotlib font cache there beforehand |")
            L.append("|---|---:|---:|---:|---:|---|")
            label = {"airlock": "a fresh Airlock session (pool hit)",
                     "py-bare": "bare `python3`, font cache built beforehand (the bare rows above)",
                     "py-bare-cold-font-cache": "bare `python3`, empty MPLCONFIGDIR"}
            for k, v in prof.items():
                L.append(f"| {label[k]} | {v['n']} | {fmt(v['pandas_ms'])} | {fmt(v['pyplot_ms'])} | "
                         f"{fmt(v['pyplot_only_ms'])} | {v['font_cache_present']} of {v['n']} |")
            L.append("")

    # B2
    b2 = r["b2"]
    s = b2["series"]
    L.append(f"### B2 — execute round trip in an existing session, `x += 1` (ms; {a['exec_runs']} rounds after "
             f"{a['exec_warmup']} warm-up, interleaved)")
    L.append("")
    L += STAT_HEAD
    what2 = {
        "airlock": "`POST /v1/sessions/{id}/execute {\"code\": \"x += 1\"}`",
        "airlock-sdk": "`session.run_code('x += 1')` (SDK)",
        "runner": "of `airlock`: the daemon's `duration_ms` (execute frame to the runner → its answer)",
        "healthz": "`GET /healthz` on the same connection (the daemon's HTTP floor)",
        "jupyter": "`execute_request` over the kernel's websocket → `execute_reply` and `status: idle` (client sets TCP_QUICKACK)",
        "jupyter-default-tcp": "the same without TCP_QUICKACK (what a default client sees; fewer rounds)",
        "local-repl": "a local `/usr/bin/python3` read-exec-reply loop over pipes (the bare limit)",
    }
    for k in what2:
        if k in s:
            L.append(stat_row(k, what2[k], s[k], 3))
    L.append("")
    L += ratio_rows(s, ["airlock"], ["jupyter", "jupyter-default-tcp", "local-repl", "healthz"], 3)
    L.append("")

    # B3
    b3 = r["b3"]
    n3 = a["burst"]
    L.append(f"### B3 — {n3} sessions requested at once → all have answered `1+1` (ms)")
    L.append("")
    L.append("| scenario | what | rounds | all answered, median | each round | each session p50 | p90 |")
    L.append("|---|---|---:|---:|---|---:|---:|")
    what3 = {
        "airlock": f"{n3} threads, each its own connection (opened before): `POST /v1/sessions` + `execute 1+1`, pool of {POOL_SIZE}",
        "jupyter": f"{n3} threads: `POST /api/kernels`, websocket, `execute 1+1`",
        "py-bare": f"{n3} `/usr/bin/python3 -c 'print(1+1)'` started at once",
        "py-bwrap": f"{n3} of them under bwrap",
        "fork-unshare": f"{n3} fork+unshare children",
    }
    for k in what3:
        if k in b3:
            o = b3[k]
            each = stats_ms(o["each"]) if o["each"] else None
            L.append(f"| {k} | {what3[k]} | {len(o['total_ms'])} | {fmt(statistics.median(o['total_ms']))} | "
                     f"{', '.join(fmt(x, 0) for x in o['total_ms'])} | "
                     f"{fmt(each['p50']) if each else '—'} | {fmt(each['p90']) if each else '—'} |")
    L.append("")
    med = {k: statistics.median(v["total_ms"]) for k, v in b3.items()}
    L.append("| ratio (medians) | |")
    L.append("|---|---:|")
    for b in ("jupyter", "py-bare", "py-bwrap", "fork-unshare"):
        if b in med:
            L.append(f"| airlock ÷ {b} | {ratio(med['airlock'] / med[b])} |")
    L.append("")
    ex = b3["airlock"]["extra"]
    if ex:
        last = ex[-1]
        cs = stats_ms(last["create_server_ms"]) if last["create_server_ms"] else None
        es = stats_ms(last["execute_server_ms"]) if last["execute_server_ms"] else None
        L.append(f"Where the time goes (Airlock, last round): pool {int(last['hits'])} hits and {int(last['misses'])} "
                 f"misses (the daemon's counters); server-side `duration_ms` of the creates (access log) p50 "
                 f"{fmt(cs['p50']) if cs else '?'}, max {fmt(cs['max']) if cs else '?'} ms; of the `1+1` executes p50 "
                 f"{fmt(es['p50'], 2) if es else '?'}, max {fmt(es['max']) if es else '?'} ms. CPU used during the "
                 f"burst (from /proc: the launcher, the API daemon, the sandboxes' processes, this client):")
        L.append("")
        cr = last.get("created_ms") or []
        if len(cr) > 1:
            gaps = sorted(b - a for a, b in zip(cr, cr[1:], strict=False))
            L.append(f"Creates answered (client side, from the burst's start): first at {fmt(cr[0])} ms, median at "
                     f"{fmt(statistics.median(cr))} ms, last at {fmt(cr[-1])} ms; median gap between consecutive "
                     f"answers {fmt(statistics.median(gaps), 2)} ms.")
            L.append("")
        L += cpu_table(last["cpu"], n3, "CPU ms per session")
        L.append("")
    perf_rows = next((x["perf"] for x in ex if x.get("perf")), None)
    if perf_rows:
        busy = sum(x[0] for x in perf_rows if x[1] != "swapper")
        L.append(f"`perf record -a` over the first Airlock burst (from 0.5 s before it to its end; {fmt(busy)}% of the "
                 f"samples busy, the rest idle): shares of the busy samples by command and binary ("
                 f"`python3` + `python3.11` is the sessions' runners, `python3` + `libpython3.11…` this client):")
        L.append("")
        L.append("| command | binary | share of busy |")
        L.append("|---|---|---:|")
        for pct_, comm_, dso in perf_rows:
            if comm_ != "swapper" and pct_ / busy >= 0.005:
                L.append(f"| `{comm_}` | `{dso}` | {100 * pct_ / busy:.1f}% |")
        L.append("")
    if "jupyter" in b3 and b3["jupyter"]["extra"]:
        errs = [e for x in b3["jupyter"]["extra"] for e in x.get("errors", [])]
        if errs:
            L.append(f"Jupyter: {len(errs)} kernel(s) of the bursts failed (counted out of the timings; the "
                     f"first: {errs[0]}).")
            L.append("")
        L.append("CPU used during the Jupyter burst:")
        L.append("")
        L += cpu_table(b3["jupyter"]["extra"][-1]["cpu"], n3, "CPU ms per kernel")
        L.append("")

    # B4
    b4 = r["b4"]
    n4 = a["n"]
    L.append(f"### B4 — {n4} idle sessions with `{PANDAS}` done → memory per session (MiB)")
    L.append("")
    L.append("PSS from `/proc/PID/smaps_rollup` of every process of each session (Airlock: the processes in the "
             "sandbox's memory cgroup, found from the launcher's process tree; Jupyter: the kernel process and "
             "its children), summed per session, then averaged over sessions. USS = the pages no other process "
             "maps (`Private_*`). Measured 2 s after the last import.")
    L.append("")
    L.append("| scenario | sessions | PSS / session | of which anon | of which file | USS / session | PSS min–max | "
             "shared process PSS (daemon + launcher, gateway, zygote parent) | sessions in 24 GiB (by PSS) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    what4 = {"airlock": "airlock", "jupyter": "jupyter", "py-bare": "py-bare (one python3 each)",
             "py-bwrap": "py-bwrap (python3 under bwrap, `/etc/alternatives` bound too)", "py-zygote": "py-zygote (forked from one warm python3)"}
    for k in what4:
        if k in b4:
            m = b4[k]
            mean = m["mean_kb"]
            svc = m["service_kb"]
            fits = int(24 * GIB / (mean["pss"] * 1024))
            L.append(f"| {what4[k]} | {m['n']} | {fmt(mean['pss'] / 1024)} | {fmt(mean['pss_anon'] / 1024)} | "
                     f"{fmt(mean['pss_file'] / 1024)} | {fmt(mean['uss'] / 1024)} | "
                     f"{fmt(m['pss_kb'][0] / 1024)}–{fmt(m['pss_kb'][-1] / 1024)} | "
                     f"{fmt(svc['pss'] / 1024) if svc else '—'} | {fits} |")
    L.append("")
    L.append("Per process kind, mean per session (MiB):")
    L.append("")
    L.append("| scenario | process | PSS | anon | file | USS |")
    L.append("|---|---|---:|---:|---:|---:|")
    for k in what4:
        if k in b4:
            for proc, v in sorted(b4[k]["by_process"].items(), key=lambda kv: -kv[1]["pss"]):
                L.append(f"| {k} | `{proc}` ({v['procs']:.0f} per session) | {fmt(v['pss'] / 1024)} | "
                         f"{fmt(v['pss_anon'] / 1024)} | {fmt(v['pss_file'] / 1024)} | {fmt(v['uss'] / 1024)} |")
    L.append("")
    if "airlock" in b4:
        L.append("| ratio of PSS per session | |")
        L.append("|---|---:|")
        for b in ("jupyter", "py-bare", "py-bwrap", "py-zygote"):
            if b in b4:
                L.append(f"| airlock ÷ {b} | {ratio(b4['airlock']['mean_kb']['pss'] / b4[b]['mean_kb']['pss'])} |")
        L.append("")

    # B5
    b5 = r["b5"]
    L.append(f"### B5 — small executions per second across {a['b5_sessions']} sessions (`x += 1`, one client "
             f"thread per session, {a['b5_seconds']:g} s)")
    L.append("")
    L.append("| scenario | sessions | executions | s | executions/s | per session min–max | latency p50 | p99 ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in ("airlock", "jupyter", "local-repl"):
        if k in b5:
            o = b5[k]
            L.append(f"| {k} | {o['sessions']} | {o['executions']} | {fmt(o['elapsed_s'], 2)} | {fmt(o['rate'], 0)} | "
                     f"{o['per_session_min']}–{o['per_session_max']} | {fmt(o['latency']['p50'], 2)} | "
                     f"{fmt(o['latency']['p99'], 2)} |")
    L.append("")
    if "airlock" in b5:
        L.append("| ratio of executions/s | |")
        L.append("|---|---:|")
        for b in ("jupyter", "local-repl"):
            if b in b5:
                L.append(f"| airlock ÷ {b} | {ratio(b5['airlock']['rate'] / b5[b]['rate'])} |")
        L.append("")
        L.append("CPU used during the Airlock run (from /proc; per execution = CPU s ÷ executions):")
        L.append("")
        L += cpu_table(b5["airlock"]["cpu"], b5["airlock"]["executions"], "CPU ms per execution")
        L.append("")
    if "jupyter" in b5:
        L.append("CPU used during the Jupyter run:")
        L.append("")
        L += cpu_table(b5["jupyter"]["cpu"], b5["jupyter"]["executions"], "CPU ms per execution")
        L.append("")

    # B6
    b6 = r["b6"]
    mb = b6["size"] / 1e6
    s = b6["series"]
    L.append(f"### B6 — file upload and download, {mb:g} MB (random bytes; ms, and MB/s at the p50)")
    L.append("")
    L.append("| scenario | what | n | p50 ms | min | max | MB/s (p50) |")
    L.append("|---|---|---:|---:|---:|---:|---:|")
    what6 = {
        "airlock-up": "`PUT /v1/sessions/{id}/files/bench.bin` (one request, the body from memory)",
        "airlock-down": "`GET` of it, read whole",
        "airlock-sdk-up": "`session.files.write(...)` (SDK)",
        "airlock-sdk-down": "`session.files.read(...)` (SDK)",
        "jupyter-up": "Kernel Gateway has no file API: base64 in `execute_request`s of 3 MiB each, written by the kernel",
        "jupyter-down": "the kernel prints base64 of 3 MiB per execution, the client decodes",
        "tmpfs-write": "the bare limit: write it to a file on /dev/shm",
        "tmpfs-read": "read it back",
    }
    for k in what6:
        if k in s:
            x = s[k]
            L.append(f"| {k} | {what6[k]} | {x['n']} | {fmt(x['p50'])} | {fmt(x['min'])} | {fmt(x['max'])} | "
                     f"{fmt(mb / (x['p50'] / 1000), 0)} |")
    L.append("")
    L.append("| ratio (p50 time) | |")
    L.append("|---|---:|")
    for a_, b_ in (("airlock-up", "jupyter-up"), ("airlock-down", "jupyter-down"), ("airlock-up", "tmpfs-write"),
                   ("airlock-down", "tmpfs-read")):
        if a_ in s and b_ in s:
            L.append(f"| {a_} ÷ {b_} | {ratio(s[a_]['p50'] / s[b_]['p50'])} |")
    L.append("")

    # targets
    L.append("### Product targets (product.md §5) on this run's machine")
    L.append("")
    L.append("| target | Airlock | Jupyter KG | |")
    L.append("|---|---:|---:|---|")
    b1s, b2s = r["b1"]["series"], r["b2"]["series"]
    jp = b1s.get("jupyter")
    p = b1s["airlock-pool"]
    L.append(f"| session → first `1+1`, warm pool: p50 ≤ {T_B1_P50:g} ms | {fmt(p['p50'])} ms | "
             f"{fmt(jp['p50']) + ' ms' if jp else '—'} | {verdict(p['p50'] <= T_B1_P50)} |")
    L.append(f"| the same, p99 ≤ {T_B1_P99:g} ms | {fmt(p['p99'])} ms | {fmt(jp['p99']) + ' ms' if jp else '—'} | "
             f"{verdict(p['p99'] <= T_B1_P99)} |")
    if r.get("b1p"):
        q = r["b1p"]["series"]["airlock-pool"]
        jq = r["b1p"]["series"].get("jupyter")
        L.append(f"| the same with pandas and matplotlib imported (B1p): p50 ≤ {T_B1_P50:g} ms, p99 ≤ {T_B1_P99:g} ms "
                 f"| p50 {fmt(q['p50'])}, p99 {fmt(q['p99'])} ms | {('p50 ' + fmt(jq['p50']) + ' ms') if jq else '—'} | "
                 f"{verdict(q['p50'] <= T_B1_P50 and q['p99'] <= T_B1_P99)} |")
    nop = b1s["airlock-nopool"]
    L.append(f"| cold path (pool miss), reported, no target | p50 {fmt(nop['p50'])}, p99 {fmt(nop['p99'])} ms | | — |")
    e = b2s["airlock"]
    je = b2s.get("jupyter")
    L.append(f"| execute round trip: p50 ≤ {T_B2_P50:g} ms | {fmt(e['p50'], 3)} ms | "
             f"{fmt(je['p50'], 3) + ' ms' if je else '—'} | {verdict(e['p50'] <= T_B2_P50)} |")
    b3a = statistics.median(b3["airlock"]["total_ms"])
    b3j = statistics.median(b3["jupyter"]["total_ms"]) if "jupyter" in b3 else None
    note = "" if n3 == 100 else f" (measured with {n3}: not the target's size)"
    L.append(f"| {n3} sessions at once, all ready ≤ {T_B3_ALL / 1000:g} s{note} | {fmt(b3a / 1000, 2)} s | "
             f"{fmt(b3j / 1000, 2) + ' s' if b3j else '—'} | {verdict(b3a <= T_B3_ALL) if n3 == 100 else '—'} |")
    m = b4["airlock"]["mean_kb"]["pss"] / 1024
    jm = b4["jupyter"]["mean_kb"]["pss"] / 1024 if "jupyter" in b4 else None
    fits = int(24 * GIB / (m * 1024 * 1024))
    L.append(f"| idle PSS with pandas imported ≤ {T_B4_PSS_MIB:g} MiB | {fmt(m)} MiB | "
             f"{fmt(jm) + ' MiB' if jm else '—'} | {verdict(m <= T_B4_PSS_MIB)} |")
    L.append(f"| ≥ {T_B4_N} idle sessions per 24 GiB | {fits} | "
             f"{int(24 * GIB / (jm * 1024 * 1024)) if jm else '—'} | {verdict(fits >= T_B4_N)} |")
    rate = b5["airlock"]["rate"]
    jr = b5["jupyter"]["rate"] if "jupyter" in b5 else None
    note = "" if a["b5_sessions"] == 50 else f" (measured across {a['b5_sessions']})"
    L.append(f"| ≥ {T_B5_RATE:g} small executions/s across 50 sessions{note} | {fmt(rate, 0)}/s | "
             f"{fmt(jr, 0) + '/s' if jr else '—'} | {verdict(rate >= T_B5_RATE) if a['b5_sessions'] == 50 else '—'} |")
    L.append("")
    return "\n".join(L)


SECTION_INTRO = """## Airlock against Jupyter Kernel Gateway and the bare limits (B1–B6)

The benchmark of product.md §5: what an agent sees from the client side, over HTTP on
loopback, side by side with Jupyter Kernel Gateway and with the bare cost of a process and
a sandbox, all measured in one invocation.

Reproduce (as root, from the repository root, after `ninja -C build`; Jupyter Kernel Gateway
and websocket-client from `tests/requirements.txt`, Debian's `python3-ipykernel`):

```sh
python3 bench/run.py --out docs/benchmarks.md
```

That rewrites the section between the markers below; the interpretation after it is
written by hand and describes the run recorded here.

"""


def binaries(airlock: Path) -> str:
    """What exactly ran (the tree may hold uncommitted edits): each binary's SHA-256 prefix and mtime."""
    out = []
    for name in ("airlock", "airlock-launcher", "airlock-daemon", "airlock-init", "airlock_runner.py"):
        f = airlock.parent / name
        try:
            st = f.stat()
            h = hashlib.sha256(f.read_bytes()).hexdigest()[:12]
        except OSError:
            continue
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(st.st_mtime))
        out.append(f"{name} {h} ({when})")
    return ", ".join(out)


def session_runtime(c: Client) -> tuple[str, dict]:
    doc = c.create()
    sid = doc["id"]
    try:
        code = ("import sys, importlib.util as u\n"
                "(sys.version.split()[0], [m for m in ('numpy', 'pandas', 'matplotlib') if u.find_spec(m) is None])")
        got = result_text(c.execute(sid, code)) or ""
    finally:
        c.delete(sid)
    m = re.fullmatch(r"\('([^']*)', \[(.*)\]\)", got)
    if not m:
        return f"unknown ({got!r})", doc.get("isolation") or {}
    missing = m.group(2).replace("'", "")
    return (f"Python {m.group(1)}; numpy, pandas, matplotlib " +
            ("importable" if not missing else f"NOT all importable (missing: {missing})")), doc.get("isolation") or {}


def main() -> int:
    ap = argparse.ArgumentParser(description="Airlock against Jupyter Kernel Gateway and the bare limits (B1-B6).")
    ap.add_argument("--airlock", type=Path, default=REPO / "build" / "airlock",
                    help="the airlock binary (default: build/airlock; airlock-launcher must sit next to it)")
    ap.add_argument("--quick", action="store_true", help="tiny N, a few seconds per scenario: a smoke test (CI)")
    ap.add_argument("--runs", type=int, help="B1 rounds (default 200, quick 5)")
    ap.add_argument("--warmup", type=int, help="untimed B1 rounds first (default 2, quick 1)")
    ap.add_argument("--pandas-runs", type=int, help="B1p rounds (default 30, quick 2; 0: skip B1p)")
    ap.add_argument("--exec-runs", type=int, help="B2 rounds (default 1000, quick 50)")
    ap.add_argument("--burst", type=int, help="B3 sessions at once (default 100, quick 5)")
    ap.add_argument("--burst-reps", type=int, help="B3 rounds for Airlock and the bare limits (default 3, quick 1)")
    ap.add_argument("--n", type=int, help="B4 idle sessions (default 50, quick 2)")
    ap.add_argument("--b5-sessions", type=int, help="B5 sessions (default 50, quick 3)")
    ap.add_argument("--b5-seconds", type=float, help="B5 seconds per system (default 10, quick 1)")
    ap.add_argument("--file-mb", type=float, help="B6 file size, MB (default 100, quick 4)")
    ap.add_argument("--file-reps", type=int, help="B6 rounds (default 5, quick 1; Jupyter: at most 3)")
    ap.add_argument("--only", help="comma-separated subset of b1,b1p,b2,b3,b4,b6 (b4 includes b5); for development")
    ap.add_argument("--perf-burst", action="store_true",
                    help="profile B3's first Airlock burst with `perf record -a` (samples by command and binary)")
    ap.add_argument("--no-jupyter", action="store_true", help="leave Jupyter Kernel Gateway out (it is required otherwise)")
    ap.add_argument("--out", "--write", type=Path, metavar="FILE", dest="out",
                    help="rewrite the bench:run section of FILE (e.g. docs/benchmarks.md)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every figure and raw timing as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = ap.parse_args()

    q = a.quick

    def pick(v, full, quick):
        return v if v is not None else (quick if q else full)

    cfg = dict(runs=pick(a.runs, 200, 5), warmup=pick(a.warmup, 2, 1), pandas_runs=pick(a.pandas_runs, 30, 2),
               exec_runs=pick(a.exec_runs, 1000, 50), burst=pick(a.burst, 100, 5), burst_reps=pick(a.burst_reps, 3, 1),
               n=pick(a.n, 50, 2), b5_sessions=pick(a.b5_sessions, 50, 3), b5_seconds=pick(a.b5_seconds, 10.0, 1.0),
               file_mb=pick(a.file_mb, 100.0, 4.0), file_reps=pick(a.file_reps, 5, 1))
    cfg["exec_warmup"] = 20 * cfg["warmup"]
    cfg["nagle_runs"] = max(10, cfg["exec_runs"] // 10)
    only = set((a.only or "b1,b1p,b2,b3,b4,b6").split(","))
    if min(cfg["runs"], cfg["exec_runs"], cfg["burst"], cfg["burst_reps"], cfg["n"], cfg["b5_sessions"],
           cfg["file_reps"]) < 1 or cfg["b5_seconds"] <= 0 or cfg["file_mb"] <= 0:
        ap.error("counts must be at least 1, durations and sizes positive")

    airlock = a.airlock if a.airlock.is_absolute() else (Path.cwd() / a.airlock)
    if not os.access(airlock, os.X_OK):
        print(f"run.py: {airlock} is missing; build it first: cd {REPO} && meson setup build; ninja -C build",
              file=sys.stderr)
        return 2
    for tool in (PYTHON, BWRAP):
        if not os.access(tool, os.X_OK):
            print(f"run.py: {tool} is missing; it is a baseline of this benchmark", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("run.py: `airlock serve` needs root (it starts the sandbox launcher); run as root", file=sys.stderr)
        return 2
    if importlib.util.find_spec("airlock") is None:   # the SDK, timed alongside the plain HTTP client
        print(f"run.py: the Python SDK is not installed for {sys.executable} (pip install ./sdk/python)", file=sys.stderr)
        return 2
    jupyter = not a.no_jupyter
    if jupyter:
        why = jupyter_kg.missing()
        if why:
            print(f"run.py: {why}; Jupyter Kernel Gateway is part of every scenario (--no-jupyter to leave it out)",
                  file=sys.stderr)
            return 2
    if a.perf_burst and not os.access(PERF, os.X_OK):
        print(f"run.py: --perf-burst needs {PERF} (Debian package linux-perf)", file=sys.stderr)
        return 2
    show = not a.quiet
    shown, skip = [], False   # the command line as reported, without --json FILE
    for x in sys.argv[1:]:
        if skip or x.startswith("--json="):
            skip = False
            continue
        if x == "--json":
            skip = True
            continue
        shown.append(shell_quote(x))
    cmdline = " ".join(["python3 bench/run.py", *shown])

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = time.monotonic()
    res: dict = {"cmdline": cmdline, "args": cfg}
    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as td:
        tmp = Path(td)
        tmp.chmod(0o711)   # the daemon drops root: it must reach its data dir below this one
        S = Systems(airlock, tmp, jupyter)
        failed = None
        try:
            mach = machine([("airlock", [str(airlock), "version"]), ("python", [PYTHON, "--version"]),
                            ("bwrap", [BWRAP, "--version"])])
            mach["versions"] += f", client python {platform.python_version()}"
            mach["airlock binaries"] = binaries(airlock)
            progress(show, f"run.py: starting two Airlock daemons ({airlock})" + (" and Jupyter Kernel Gateway" if jupyter else ""))
            S.start()
            pandas_env(tmp)
            res["machine"] = mach
            res["jupyter"] = jupyter_kg.versions() if jupyter else None
            res["runtime"], res["isolation"] = session_runtime(S.pooled.c)
            if jupyter:
                k = S.gw.kernel()   # the kernel's first start (bytecode, matplotlib's font cache) is not timed
                k.execute(PANDAS)
                k.close()
            time.sleep(0.5)
            if "b1" in only:
                progress(show, f"run.py: B1 session → first result, {cfg['runs']} rounds (+{cfg['warmup']} warm-up)")
                S.pooled.log_mark()
                S.cold.log_mark()
                res["b1"] = b1(S, cfg["runs"], cfg["warmup"], show)
                res["b1_server"] = {"pool": stats_ms(S.pooled.access_log("/v1/sessions") or [0.0]),
                                    "nopool": stats_ms(S.cold.access_log("/v1/sessions") or [0.0])}
                res["cold_profile"] = cold_profile(airlock, 5 if q else 20)
            if "b1p" in only and cfg["pandas_runs"] > 0:
                progress(show, f"run.py: B1p session → pandas imported and first result, {cfg['pandas_runs']} rounds")
                res["b1p"] = b1(S, cfg["pandas_runs"], 1, show, pandas=True)
                res["b1p_profile"] = import_profile(S, 3 if q else 5, tmp)
            if "b2" in only:
                progress(show, f"run.py: B2 execute round trip, {cfg['exec_runs']} rounds (+{cfg['exec_warmup']} warm-up)")
                res["b2"] = b2(S, cfg["exec_runs"], cfg["exec_warmup"], cfg["nagle_runs"], show)
            if "b3" in only:
                progress(show, f"run.py: B3 burst of {cfg['burst']} sessions")
                res["b3"] = b3(S, cfg["burst"], cfg["burst_reps"], min(cfg["burst_reps"], 2), show, a.perf_burst)
            if "b4" in only:
                progress(show, f"run.py: B4 density ({cfg['n']} sessions) and B5 throughput ({cfg['b5_sessions']} sessions)")
                res["b4"], res["b5"] = b4_b5(S, cfg["n"], cfg["b5_sessions"], cfg["b5_seconds"], show)
            if "b6" in only:
                progress(show, f"run.py: B6 files, {cfg['file_mb']:g} MB")
                res["b6"] = b6(S, int(cfg["file_mb"] * 1e6), cfg["file_reps"], min(cfg["file_reps"], 3), show)
            mach["load average at end"] = loadavg()
            res["tcp_connections"] = Conn.connects
        except BenchFailure as e:
            failed = str(e)
        except KeyboardInterrupt:
            failed = "interrupted"
        finally:
            progress(show, "run.py: stopping the daemons and the gateway")
            left = S.stop()
        if failed:
            print(f"run.py: FAILED — {failed}", file=sys.stderr)
            if left:
                print("run.py: also left running after the stop (killed): " + "; ".join(left), file=sys.stderr)
            return 1
        if left:
            print("run.py: FAILED — left running after the stop (killed): " + "; ".join(left), file=sys.stderr)
            return 1
    res["elapsed_s"] = time.monotonic() - started
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str) + "\n")
    if only != {"b1", "b1p", "b2", "b3", "b4", "b6"}:
        print(json.dumps({k: v for k, v in res.items() if k not in ("machine",)}, indent=1, default=str)[:20000])
        return 0
    body = report(res)
    print(body)
    if a.out:
        target = a.out if a.out.is_absolute() else Path.cwd() / a.out
        write_doc(target, "run", SECTION_INTRO, body)
        progress(show, f"run.py: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
