#!/usr/bin/env python3
"""Measure Airlock's REST API from the client side, over HTTP/1.1 on loopback.

Two benchmarks, in one invocation, each against baselines measured in the same run:

  B1  session created -> first `1+1` result: `POST /v1/sessions` then
      `POST /v1/sessions/{id}/execute {"code": "1+1"}`, timed together, on a daemon with a
      warm pool (`--pool-size 4`, default-shaped sessions, a pause between creates so the
      pool refills) and on a second daemon without one (`--pool-size 0`: every create
      starts a sandbox). Baselines: `/usr/bin/python3 -c 'print(1+1)'` and the same under a
      plain bubblewrap sandbox, each a fresh process.
  B2  execution round trip in an existing session (`x += 1` after `x = 0`). Baseline: a
      local `/usr/bin/python3` child running a tiny read-exec-reply loop over pipes, the
      floor for "send code to a live interpreter and get an answer"; and `GET /healthz` on
      the same connection, the daemon's HTTP floor. The daemon's own `duration_ms` (from
      sending the code to the sandbox's runner to its answer) is reported alongside.

It starts its own daemons (`airlock serve`, on free ports, with temporary data dirs) and
stops them with SIGTERM at the end. Timings are reported as percentiles and as ratios
(airlock / baseline); it never passes or fails on time. It fails (exit 1) only when a
request or a baseline gives a wrong answer.

Usage (as root, from anywhere; the repository root is found from this file's location):

    python3 bench/api.py                            # 200 B1 rounds, 1000 B2 rounds, Markdown on stdout
    python3 bench/api.py --quick                    # a few rounds: a smoke test of the harness (CI)
    python3 bench/api.py --write docs/benchmarks.md

Python standard library only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    BWRAP,
    BWRAP_ARGS,
    CLEAN_ENV,
    PYTHON,
    REPO,
    BenchFailure,
    loadavg,
    machine,
    shell_quote,
    stats_ms,
    write_doc,
)

BARE_ARGV = [PYTHON, "-c", "print(1+1)"]

# The B2 baseline: a live interpreter that reads one line of code, execs it in a
# persistent namespace and answers one line. An exception kills it (the client sees EOF).
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

# Product targets (docs: /work/shared/design/product.md section 5) this script measures.
TARGET_B1_P50 = 10.0
TARGET_B1_P99 = 50.0
TARGET_B2_P50 = 1.0


@dataclass
class Series:
    key: str
    what: str
    times_ns: list[int] = field(default_factory=list)

    def ms(self) -> list[float]:
        return sorted(t / 1e6 for t in self.times_ns)


def progress(enabled: bool, msg: str, end: str = "\n") -> None:
    if enabled:
        print(msg, end=end, file=sys.stderr, flush=True)


# ---- the daemon and its HTTP client ------------------------------------------------------

class Conn(http.client.HTTPConnection):
    """Keep-alive connection with Nagle off (what urllib3, aiohttp and curl do too)."""

    connects = 0

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Conn.connects += 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, airlock: Path, pool: int, tmp: Path, name: str):
        self.airlock, self.pool, self.name = airlock, pool, name
        self.data = tmp / name
        self.logpath = tmp / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.conn: Conn | None = None
        self.key = ""
        self.port = 0

    def log_tail(self) -> str:
        try:
            t = self.logpath.read_text(errors="replace").strip()
        except OSError:
            return "(no log)"
        return ("..." + t[-2000:]) if len(t) > 2000 else (t or "(empty log)")

    def start(self) -> None:
        for attempt in range(3):
            self.port = free_port()
            self.data.mkdir(exist_ok=True)
            argv = [str(self.airlock), "serve", "--listen", f"127.0.0.1:{self.port}",
                    "--data-dir", str(self.data), "--pool-size", str(self.pool)]
            with open(self.logpath, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=CLEAN_ENV, cwd=REPO)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    c.request("GET", "/readyz")
                    r = c.getresponse()
                    r.read()
                    c.close()
                    if r.status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                self.stop()
                raise BenchFailure(f"daemon {self.name} not ready after 30 s; log:\n{self.log_tail()}")
            if self.proc.poll() is None:
                break
            if attempt == 2 or "in use" not in self.log_tail():
                raise BenchFailure(f"daemon {self.name} exited with status {self.proc.returncode}; "
                                   f"log:\n{self.log_tail()}")
        self.key = (self.data / "api-key").read_text().strip()
        self.conn = Conn("127.0.0.1", self.port, timeout=120)

    def stop(self) -> None:
        if self.conn:
            self.conn.close()
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def req(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.key}"} if auth else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise BenchFailure(f"{self.name}: {method} {path}: {e!r}; daemon log:\n{self.log_tail()}") from e
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError as e:
            raise BenchFailure(f"{self.name}: {method} {path}: HTTP {r.status}, body is not JSON: {raw[:300]!r}") from e
        return r.status, doc

    def create(self, body: dict | None = None) -> str:
        st, doc = self.req("POST", "/v1/sessions", body if body is not None else {})
        if st != 201 or not str(doc.get("id", "")).startswith("sess_"):
            raise BenchFailure(f"{self.name}: POST /v1/sessions: HTTP {st}: {doc}")
        return doc["id"]

    def execute(self, sid: str, code: str) -> dict:
        st, doc = self.req("POST", f"/v1/sessions/{sid}/execute", {"code": code})
        if st != 200 or doc.get("status") != "ok":
            raise BenchFailure(f"{self.name}: execute {code!r}: HTTP {st}: {doc}")
        return doc

    def delete(self, sid: str) -> None:
        st, doc = self.req("DELETE", f"/v1/sessions/{sid}")
        if st != 200:
            raise BenchFailure(f"{self.name}: DELETE {sid}: HTTP {st}: {doc}")


def result_text(doc: dict) -> str | None:
    res = doc.get("results") or []
    return res[0].get("text/plain") if res else None


# ---- B1: session created -> first result -------------------------------------------------

@dataclass
class B1Airlock:
    d: Daemon
    total: Series
    create: Series = field(default_factory=lambda: Series("", ""))
    first_exec: Series = field(default_factory=lambda: Series("", ""))
    isolation: dict = field(default_factory=dict)

    def once(self, record: bool) -> None:
        d = self.d
        t0 = time.perf_counter_ns()
        st, doc = d.req("POST", "/v1/sessions", {})
        t1 = time.perf_counter_ns()
        if st != 201 or not str(doc.get("id", "")).startswith("sess_"):
            raise BenchFailure(f"{d.name}: POST /v1/sessions: HTTP {st}: {doc}")
        sid = doc["id"]
        ex = d.execute(sid, "1+1")
        t2 = time.perf_counter_ns()
        if result_text(ex) != "2":
            raise BenchFailure(f"{d.name}: first `1+1` of {sid} answered {ex}")
        d.delete(sid)
        self.isolation = doc.get("isolation") or {}
        if record:
            self.total.times_ns.append(t2 - t0)
            self.create.times_ns.append(t1 - t0)
            self.first_exec.times_ns.append(t2 - t1)


def run_proc(argv: list[str], s: Series, record: bool) -> None:
    t0 = time.perf_counter_ns()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=CLEAN_ENV, cwd="/", timeout=60)
    t1 = time.perf_counter_ns()
    if p.returncode != 0 or p.stdout != b"2\n" or p.stderr:
        raise BenchFailure(f"{s.key}: expected '2', got exit {p.returncode}, stdout {p.stdout[:300]!r}, "
                           f"stderr {p.stderr[:500]!r}\n  command: {' '.join(shell_quote(a) for a in argv)}")
    if record:
        s.times_ns.append(t1 - t0)


def bench_b1(hit: B1Airlock, miss: B1Airlock, bare: Series, bw: Series, runs: int, warmup: int, gap: float,
             show: bool) -> None:
    steps = [lambda r: hit.once(r), lambda r: miss.once(r),
             lambda r: run_proc(BARE_ARGV, bare, r), lambda r: run_proc(BWRAP_ARGS + BARE_ARGV, bw, r)]
    airlock_steps = {0, 1}
    n = len(steps)
    for rnd in range(-warmup, runs):
        for j in range(n):
            k = (j + rnd) % n
            steps[k](rnd >= 0)
            if k in airlock_steps:
                time.sleep(gap)  # the pool refills; the deleted sandbox is torn down
        if show and (rnd < 0 or rnd % 10 == 9 or rnd == runs - 1):
            label = f"warm-up {rnd + warmup + 1}/{warmup}" if rnd < 0 else f"round {rnd + 1}/{runs}"
            progress(True, f"\r  B1 {label}   ", end="")
    progress(show, "")


# ---- B2: execute round trip ----------------------------------------------------------------

class Repl:
    def __init__(self):
        self.p = subprocess.Popen([PYTHON, "-c", REPL_SRC], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=CLEAN_ENV, cwd="/", bufsize=0)
        self.w = self.p.stdin.fileno()
        self.r = self.p.stdout.fileno()

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


def bench_b2(d: Daemon, air: Series, runner_ms: list[float], repl_s: Series, health: Series, runs: int,
             warmup: int, show: bool) -> None:
    sid = d.create()
    repl = Repl()
    try:
        d.execute(sid, "x = 0")
        repl.send("x = 0")
        count = 0

        def air_step(record: bool) -> None:
            t0 = time.perf_counter_ns()
            doc = d.execute(sid, "x += 1")
            t1 = time.perf_counter_ns()
            if doc.get("results") or doc.get("stdout") or doc.get("stderr"):
                raise BenchFailure(f"execute `x += 1` answered {doc}")
            if record:
                air.times_ns.append(t1 - t0)
                if isinstance(doc.get("duration_ms"), (int, float)):
                    runner_ms.append(float(doc["duration_ms"]))

        def repl_step(record: bool) -> None:
            t0 = time.perf_counter_ns()
            repl.send("x += 1")
            t1 = time.perf_counter_ns()
            if record:
                repl_s.times_ns.append(t1 - t0)

        def health_step(record: bool) -> None:
            t0 = time.perf_counter_ns()
            st, doc = d.req("GET", "/healthz", auth=False)
            t1 = time.perf_counter_ns()
            if st != 200:
                raise BenchFailure(f"GET /healthz: HTTP {st}: {doc}")
            if record:
                health.times_ns.append(t1 - t0)

        steps = [air_step, repl_step, health_step]
        for rnd in range(-warmup, runs):
            for j in range(len(steps)):
                steps[(j + rnd) % len(steps)](rnd >= 0)
            count += 1
            if show and rnd >= 0 and (rnd % 100 == 99 or rnd == runs - 1):
                progress(True, f"\r  B2 round {rnd + 1}/{runs}   ", end="")
        progress(show, "")
        got = result_text(d.execute(sid, "x"))
        if got != str(count):
            raise BenchFailure(f"after {count} `x += 1` the session has x = {got}")
        repl.send(f"assert x == {count}, x")
    finally:
        repl.close()
    d.delete(sid)


# ---- report ----------------------------------------------------------------------------

def session_runtime(d: Daemon) -> str:
    """What the session's Python can import (the targets assume numpy/pandas/matplotlib)."""
    sid = d.create()
    try:
        code = ("import sys, importlib.util as u\n"
                "(sys.version.split()[0], [m for m in ('numpy', 'pandas', 'matplotlib') if u.find_spec(m) is None])")
        got = result_text(d.execute(sid, code)) or ""
    finally:
        d.delete(sid)
    m = re.fullmatch(r"\('([^']*)', \[(.*)\]\)", got)
    if not m:
        return f"unknown ({got!r})"
    missing = m.group(2).replace("'", "")
    return f"Python {m.group(1)}; numpy, pandas, matplotlib " + (
        "importable (not imported)" if not missing else f"NOT all importable (missing: {missing})")


# ---- report ----------------------------------------------------------------------------------

def f1(x: float) -> str:
    return f"{x:.1f}"


def f3(x: float) -> str:
    return f"{x:.3f}"


def row(key: str, what: str, x: dict, fmt) -> str:
    return (f"| {key} | {what} | {x['n']} | {fmt(x['p50'])} | {fmt(x['p90'])} | {fmt(x['p99'])} | "
            f"{fmt(x['mean'])} | {fmt(x['min'])} | {fmt(x['max'])} |")


def report(r: dict) -> str:
    L: list[str] = []
    b1, b2 = r["b1"], r["b2"]
    L.append(f"Generated by `{r['cmdline']}` — B1: {r['runs']} rounds after {r['warmup']} warm-up round(s), "
             f"the four scenarios interleaved round-robin (order rotating each round), a {r['gap']:.2f} s pause "
             f"after each Airlock create; B2: {r['exec_runs']} rounds after {r['exec_warmup']} warm-up round(s), "
             f"interleaved likewise. Client-side wall-clock ms (`time.perf_counter_ns`), Python `http.client` over "
             f"one HTTP/1.1 keep-alive connection per daemon to 127.0.0.1 (TCP_NODELAY), response bodies read and "
             f"JSON-decoded. Every answer was checked (`1+1` → `2`; after B2 the session's `x` equals the number "
             f"of `x += 1` sent).")
    L.append("")
    L.append("**Machine**")
    L.append("")
    for k, v in r["machine"].items():
        L.append(f"- {k}: {v}")
    L.append(f"- session runtime: {r['runtime']}")
    iso = r.get("isolation") or {}
    if iso:
        L.append("- session isolation (from `POST /v1/sessions`): " + ", ".join(
            f"{k} {json.dumps(v) if isinstance(v, bool) else v}" for k, v in iso.items()))
    L.append(f"- daemons: `airlock serve --pool-size 4` (B1 pool, B2) and `airlock serve --pool-size 0` "
             f"(B1 no pool), both running for the whole benchmark; TCP connections opened: {r['connects']} "
             f"(one per daemon means every timed request reused its connection)")
    L.append("")

    L.append("**B1 — session created → first `1+1` result (ms)**")
    L.append("")
    L.append("| scenario | what is timed | n | p50 | p90 | p99 | mean | min | max |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    labels = {
        "pool": "`POST /v1/sessions {}` + `execute 1+1`, daemon `--pool-size 4`",
        "nopool": "the same, daemon `--pool-size 0` (a sandbox started per create)",
        "py-bare": "`/usr/bin/python3 -c 'print(1+1)'`, fresh process",
        "py-bwrap": "`bwrap <baseline flags> /usr/bin/python3 -c 'print(1+1)'`",
    }
    for k in ("pool", "nopool", "py-bare", "py-bwrap"):
        L.append(row(k, labels[k], b1[k], f1))
    L.append("")
    L.append("Of which (ms): the create request alone, and the first execute alone.")
    L.append("")
    L.append("| scenario | create p50 | create p99 | first execute p50 | first execute p99 |")
    L.append("|---|---:|---:|---:|---:|")
    for k in ("pool", "nopool"):
        c, e = b1[f"{k}-create"], b1[f"{k}-exec"]
        L.append(f"| {k} | {f1(c['p50'])} | {f1(c['p99'])} | {f1(e['p50'])} | {f1(e['p99'])} |")
    L.append("")
    h = r["hits"]
    L.append(f"Pool hits, inferred (the daemon does not report them): {h['hits']} of {h['n']} timed creates on "
             f"the pooled daemon took under {f1(h['threshold'])} ms (half the no-pool daemon's create p50), "
             f"{h['n'] - h['hits']} took longer and are counted as misses.")
    L.append("")
    L.append("`bwrap <baseline flags>` = `" + " ".join(shell_quote(a) for a in BWRAP_ARGS[1:]) + "`.")
    L.append("")
    L.append("| ratio | p50 | mean | added, p50 ms |")
    L.append("|---|---:|---:|---:|")
    for a in ("pool", "nopool"):
        for b in ("py-bare", "py-bwrap"):
            x, y = b1[a], b1[b]
            L.append(f"| {a} ÷ {b} | {x['p50'] / y['p50']:.2f}× | {x['mean'] / y['mean']:.2f}× | "
                     f"{x['p50'] - y['p50']:+.1f} |")
    L.append("")

    L.append("**B2 — execute round trip in an existing session (ms)**")
    L.append("")
    L.append("| scenario | what is timed | n | p50 | p90 | p99 | mean | min | max |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    labels2 = {
        "execute": "`POST /v1/sessions/{id}/execute {\"code\": \"x += 1\"}`",
        "runner": "of which the daemon's `duration_ms` (execute frame to the runner → its answer)",
        "local-repl": "local `/usr/bin/python3` read-exec-reply loop over pipes, `x += 1`",
        "healthz": "`GET /healthz` on the same connection (the daemon's HTTP floor)",
    }
    for k in ("execute", "runner", "local-repl", "healthz"):
        L.append(row(k, labels2[k], b2[k], f3))
    L.append("")
    L.append("| ratio | p50 | mean | added, p50 ms |")
    L.append("|---|---:|---:|---:|")
    for b in ("local-repl", "healthz"):
        x, y = b2["execute"], b2[b]
        L.append(f"| execute ÷ {b} | {x['p50'] / y['p50']:.1f}× | {x['mean'] / y['mean']:.1f}× | "
                 f"{x['p50'] - y['p50']:+.3f} |")
    L.append("")

    L.append("**Product targets measured here** (product.md §5; on this run's machine)")
    L.append("")
    L.append("| target | measured | |")
    L.append("|---|---:|---|")

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    p = b1["pool"]
    L.append(f"| session → first `1+1`, warm pool: p50 ≤ {TARGET_B1_P50:g} ms | {f1(p['p50'])} ms | "
             f"{verdict(p['p50'] <= TARGET_B1_P50)} |")
    L.append(f"| session → first `1+1`, warm pool: p99 ≤ {TARGET_B1_P99:g} ms | {f1(p['p99'])} ms | "
             f"{verdict(p['p99'] <= TARGET_B1_P99)} |")
    L.append(f"| session → first `1+1`, cold path (reported, no target) | p50 {f1(b1['nopool']['p50'])} ms, "
             f"p99 {f1(b1['nopool']['p99'])} ms | — |")
    e = b2["execute"]
    L.append(f"| execute round trip: p50 ≤ {TARGET_B2_P50:g} ms | {f3(e['p50'])} ms | "
             f"{verdict(e['p50'] <= TARGET_B2_P50)} |")
    L.append("")
    return "\n".join(L)


SECTION_INTRO = """## API latency: session start and execute round trip

What an agent sees over the REST API: a new session's first result, and one more
execution in a live session, timed by a client on the same machine.

Reproduce (as root, from the repository root, after `ninja -C build`):

```sh
python3 bench/api.py --write docs/benchmarks.md
```

That rewrites the section between the markers below; the interpretation after it is
written by hand and describes the run recorded here.

"""


def main() -> int:
    ap = argparse.ArgumentParser(description="Airlock REST API latency (session start, execute round trip) "
                                             "against local baselines.")
    ap.add_argument("--airlock", type=Path, default=REPO / "build" / "airlock",
                    help="the airlock binary (default: build/airlock in the repository)")
    ap.add_argument("--runs", type=int, default=None,
                    help="B1 rounds (default 200); B2 gets 5x as many unless --exec-runs is given")
    ap.add_argument("--exec-runs", type=int, default=None, help="B2 rounds (default 1000)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed B1 rounds first (default 2; B2 gets 20x)")
    ap.add_argument("--gap", type=float, default=0.2,
                    help="seconds to pause after each Airlock create so the pool refills (default 0.2)")
    ap.add_argument("--quick", action="store_true", help="10 B1 and 50 B2 rounds: a smoke test of the harness")
    ap.add_argument("--write", type=Path, metavar="FILE",
                    help="rewrite the bench:api section of FILE (e.g. docs/benchmarks.md)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write raw per-request timings as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = ap.parse_args()

    runs = a.runs if a.runs is not None else (10 if a.quick else 200)
    exec_runs = a.exec_runs if a.exec_runs is not None else (50 if a.quick else 5 * runs)
    warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    exec_warmup = 20 * warmup
    if runs < 1 or exec_runs < 1 or warmup < 0 or a.gap < 0:
        ap.error("--runs and --exec-runs must be at least 1, --warmup and --gap not negative")
    airlock = a.airlock if a.airlock.is_absolute() else (Path.cwd() / a.airlock)
    if not os.access(airlock, os.X_OK):
        print(f"api.py: {airlock} is missing; build it first: cd {REPO} && meson setup build; ninja -C build",
              file=sys.stderr)
        return 2
    for tool in (PYTHON, BWRAP):
        if not os.access(tool, os.X_OK):
            print(f"api.py: {tool} is missing; it is a baseline of this benchmark", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("api.py: `airlock serve` needs root (it starts the sandbox launcher); run as root", file=sys.stderr)
        return 2
    show = not a.quiet
    shown, skip = [], False  # the command line as reported, without --json FILE (output only)
    for x in sys.argv[1:]:
        if skip or x.startswith("--json="):
            skip = False
            continue
        if x == "--json":
            skip = True
            continue
        shown.append(shell_quote(x))
    cmdline = " ".join(["python3 bench/api.py", *shown])

    with tempfile.TemporaryDirectory(prefix="airlock-bench-api-") as td:
        tmp = Path(td)
        tmp.chmod(0o711)  # the daemon drops root: it must reach its data dir below this one
        pooled = Daemon(airlock, 4, tmp, "pool")
        cold = Daemon(airlock, 0, tmp, "nopool")
        try:
            mach = machine([("airlock", [str(airlock), "version"]), ("python", [PYTHON, "--version"]),
                            ("bwrap", [BWRAP, "--version"])])
            mach["versions"] += f", client python {platform.python_version()} (http.client)"
            progress(show, f"api.py: starting two daemons ({airlock})")
            pooled.start()
            cold.start()
            runtime = session_runtime(pooled)
            time.sleep(1.0)  # let the pool refill after that session and its own start
            hit = B1Airlock(pooled, Series("pool", ""))
            miss = B1Airlock(cold, Series("nopool", ""))
            bare, bw = Series("py-bare", ""), Series("py-bwrap", "")
            progress(show, f"api.py: B1 session → first result, {runs} rounds (+{warmup} warm-up)")
            bench_b1(hit, miss, bare, bw, runs, warmup, a.gap, show)
            ex, repl, health = Series("execute", ""), Series("local-repl", ""), Series("healthz", "")
            runner_ms: list[float] = []
            progress(show, f"api.py: B2 execute round trip, {exec_runs} rounds (+{exec_warmup} warm-up)")
            bench_b2(pooled, ex, runner_ms, repl, health, exec_runs, exec_warmup, show)
            mach["load average at end"] = loadavg()
        except BenchFailure as e:
            print(f"api.py: FAILED — {e}", file=sys.stderr)
            return 1
        finally:
            pooled.stop()
            cold.stop()

    b1 = {s.key: stats_ms(s.ms()) for s in (hit.total, miss.total, bare, bw)}
    for k, h in (("pool", hit), ("nopool", miss)):
        b1[f"{k}-create"] = stats_ms(h.create.ms())
        b1[f"{k}-exec"] = stats_ms(h.first_exec.ms())
    b2 = {s.key: stats_ms(s.ms()) for s in (ex, repl, health)}
    b2["runner"] = stats_ms(runner_ms) if runner_ms else dict.fromkeys(("n", "p50", "p90", "p99", "mean", "min", "max"), 0)
    threshold = b1["nopool-create"]["p50"] / 2
    hits = sum(1 for t in hit.create.ms() if t < threshold)
    res = dict(cmdline=cmdline, runs=runs, warmup=warmup, exec_runs=exec_runs, exec_warmup=exec_warmup, gap=a.gap,
               machine=mach, runtime=runtime, isolation=hit.isolation, connects=Conn.connects,
               b1=b1, b2=b2, hits=dict(hits=hits, n=runs, threshold=threshold))
    body = report(res)
    print(body)
    if a.json:
        raw = {s.key: s.times_ns for s in (hit.total, miss.total, bare, bw, ex, repl, health)}
        raw.update({"pool-create": hit.create.times_ns, "nopool-create": miss.create.times_ns,
                    "pool-exec": hit.first_exec.times_ns, "nopool-exec": miss.first_exec.times_ns})
        a.json.write_text(json.dumps({**res, "wall_ns": raw, "runner_duration_ms": runner_ms}, indent=1) + "\n")
    if a.write:
        target = a.write if a.write.is_absolute() else Path.cwd() / a.write
        write_doc(target, "api", SECTION_INTRO, body)
        progress(show, f"api.py: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
