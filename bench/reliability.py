#!/usr/bin/env python3
"""Airlock's long reliability runs (issue #10); the bounded variants are in CI as
tests/e2e/test_reliability.py. Each mode starts an `airlock serve` of its own on a free
loopback port (bench/airlockd.py), and exits 1 on any wrong, lost or failed answer or any
leak, 0 otherwise. Figures go to stdout and, with --write-doc, into docs/reliability.md.

  noisy  five hostile sessions (fork bomb, memory bomb, disk fill, stdout flood, CPU spin),
         each started again in a new session as soon as it is stopped, while ten
         neighbours run the load's steps, pausing --think-ms (100) between them as an
         agent would: every neighbour step must succeed and every hog end by its own
         limit; the neighbours' latency p50/p99 (also by kind of step) is reported against
         the 50 ms bound, with the daemon's peak RSS. --hogs picks the hogs (`--hogs ''`:
         none, the baseline; `churn`: sessions made and deleted in a loop).
  load   N sessions x M executions at once (default 100 x 100), python, javascript, bash
         and file upload/download in turn, each answer derived from its session's own token
         and its index; then every session is deleted and the host is checked for leaks
         (sandbox processes, cgroups, mounts, the supervisor's and daemon's fds/threads).
  soak   sessions through their whole lifecycle (create, execute in three languages,
         upload, download, delete) for --minutes, sampling the daemon's RSS, fds and
         threads every 30 s; reports their growth after a warm-up; stops by itself.

Run as root from the repository (needs build/airlock):
  python3 bench/reliability.py load [--sessions 100 --executions 100]
  python3 bench/reliability.py noisy [--seconds 60]
  nice -n 10 python3 bench/reliability.py soak --minutes 60
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib
from airlockd import Client, Daemon
from benchlib import REPO, BenchFailure, pct

sys.path.insert(0, str(REPO / "tests" / "testlib"))
import leaks

DOC = REPO / "docs" / "reliability.md"
SETTLE_S = 30.0  # how long leak checks wait for the warm pool to refill and sandboxes to go


# --- one session's checked workload ---------------------------------------------------------


class Worker:
    """One session whose every answer is derived from (its own token, the index), so that a
    result lost, duplicated or delivered to the wrong session cannot pass."""

    def __init__(self, c: Client, sid: str, n: int):
        self.c, self.sid, self.n = c, sid, n
        self.tok = "s%d_%s" % (n, secrets.token_hex(6))
        self.counts = {"python": 0, "javascript": 0, "bash": 0}
        self.last_exec_ms: float | None = None  # the daemon's duration_ms of the last execution
        self.setup()

    def _exec(self, lang: str, code: str) -> dict:
        st, doc = self.c.req("POST", f"/v1/sessions/{self.sid}/execute", {"code": code, "language": lang})
        if st != 200 or doc.get("status") != "ok":
            raise BenchFailure(f"session {self.n} {lang} {code[:80]!r}: HTTP {st}: {str(doc)[:600]}")
        self.counts[lang] += 1
        self.last_exec_ms = doc.get("duration_ms")
        if doc.get("execution_count") != self.counts[lang]:
            raise BenchFailure(f"session {self.n} {lang}: execution_count {doc.get('execution_count')}, "
                               f"expected {self.counts[lang]} (an execution lost or run twice)")
        return doc

    def setup(self) -> None:
        self._exec("python", f"tok = {self.tok!r}")
        self._exec("javascript", f"globalThis.tok = {json.dumps(self.tok)}")
        self._exec("bash", f"TOK={self.tok}")

    KINDS = ("python", "javascript", "bash", "file")

    def step(self, i: int) -> str:
        """One checked step; returns its kind (python, javascript, bash or file)."""
        want = f"{self.tok}:{i}"
        kind = (self.n + i) % 4
        self.last_exec_ms = None
        if kind == 0:
            got = (self._exec("python", f"f'{{tok}}:{i}'")["results"] or [{}])[0].get("text/plain")
            want = repr(want)
        elif kind == 1:
            got = (self._exec("javascript", f"`${{tok}}:{i}`")["results"] or [{}])[0].get("text/plain")
            want = repr(want)
        elif kind == 2:
            got = self._exec("bash", f"echo \"$TOK:{i}\"")["stdout"].strip()
        else:
            self.c.put_file(self.sid, f"f{i % 8}.txt", want.encode())
            got = self.c.get_file(self.sid, f"f{i % 8}.txt").decode()
        if got != want:
            raise BenchFailure(f"session {self.n} step {i}: got {got!r}, expected {want!r}")
        return self.KINDS[kind]


def settle(d: Daemon, baseline: dict) -> list[str]:
    """Wait until the host holds no more than `baseline` (the pool refills, sandboxes end)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        grew = leaks.grown(baseline, leaks.snapshot(d.launcher_pid))
        if not grew or time.monotonic() > deadline:
            return grew
        time.sleep(0.5)


def ready_baseline(d: Daemon) -> dict:
    """The host with the warm pool full and no session: what every run must come back to."""
    deadline = time.monotonic() + 60
    while d.c.metrics().get("airlock_pool_ready", 0) < d.pool and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    return leaks.snapshot(d.launcher_pid)


# --- load --------------------------------------------------------------------------------


def run_load(d: Daemon, sessions: int, executions: int, verbose: bool) -> dict:
    base = ready_baseline(d)
    errors: list[str] = []
    lat: list[float] = []
    lock = threading.Lock()
    done = [0]

    def one(n: int) -> None:
        c = d.client()
        try:
            w = Worker(c, c.create()["id"], n)
            for i in range(executions):
                t = time.monotonic()
                w.step(i)
                with lock:
                    lat.append((time.monotonic() - t) * 1000)
                    done[0] += 1
            c.delete(w.sid)
        except BenchFailure as e:
            with lock:
                errors.append(str(e)[:2000])
        finally:
            c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(sessions)]
    peak_rss = 0
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        dp = d.daemon_pid()
        peak_rss = max(peak_rss, leaks.rss_kb(dp) if dp else 0)
        benchlib.progress(verbose, f"\r  {done[0]}/{sessions * executions} executions", end="")
        time.sleep(0.5)
    benchlib.progress(verbose, "")
    wall = time.monotonic() - t0
    grew = settle(d, base)
    lat.sort()
    return {"sessions": sessions, "executions": executions, "done": done[0], "errors": errors,
            "leaks": grew, "wall_s": round(wall, 1), "p50_ms": round(pct(lat, 0.50), 1),
            "p99_ms": round(pct(lat, 0.99), 1), "peak_daemon_rss_mb": round(peak_rss / 1024, 1),
            "baseline": {k: v for k, v in base.items() if k != "mounts"}}


# --- noisy neighbours ------------------------------------------------------------------------

HOGS = {
    # name: (language, code, execution timeout); contained() says how each must end.
    "fork_bomb": ("bash", "f(){ f | f & }; f; sleep 30", 40),
    "memory_bomb": ("python", "x = []\nwhile True:\n    x.append(bytearray(64 << 20))", 40),
    "disk_fill": ("python", "import os\nwith open('fill.bin', 'wb') as f:\n    try:\n        while True:\n"
                  "            f.write(b'\\0' * (1 << 20))\n    except OSError as e:\n        print('errno', e.errno)\n"
                  "os.remove('fill.bin')", 40),
    "stdout_flood": ("python", "while True:\n    print('x' * 65536)", 40),
    "cpu_spin": ("python", "import os\nfor _ in range(3):\n    os.fork()\nwhile True:\n    pass", 10),
    # Not hostile, only busy: a session made, used once and deleted, again and again (not
    # in the default set; for telling the cost of sandbox churn from that of the hogs).
    "churn": ("python", "1", 10),
}
DEFAULT_HOGS = ["fork_bomb", "memory_bomb", "disk_fill", "stdout_flood", "cpu_spin"]


def hog_loop(d: Daemon, name: str, stop: threading.Event, seen: dict, errors: list[str], cpus: float) -> None:
    """Run one hog again and again in fresh sessions until `stop`, recording how it ended."""
    lang, code, timeout = HOGS[name]
    c = d.client()
    try:
        while not stop.is_set():
            # The workspace is a tmpfs charged to the session's memory: a smaller one than
            # memory_mb makes the disk fill end in ENOSPC, not in the OOM killer.
            limits: dict = {"workspace_mb": 64} if name == "disk_fill" else {}
            if cpus != 1.0:
                limits["cpus"] = cpus
            sid = c.create({"limits": limits} if limits else {})["id"]
            st, doc = c.req("POST", f"/v1/sessions/{sid}/execute",
                            {"code": code, "language": lang, "timeout_seconds": timeout})
            how = f"HTTP {st} {doc.get('status')} {doc.get('killed_reason') or ''} {doc.get('stdout', '')[-40:].strip()}"
            seen.setdefault(name, []).append(how.strip())
            st, _ = c.req("DELETE", f"/v1/sessions/{sid}")
            if st != 200:
                errors.append(f"{name}: DELETE: HTTP {st}")
    except BenchFailure as e:
        errors.append(f"{name}: {e}"[:2000])
    finally:
        c.close()


def contained(name: str, outcomes: list[str]) -> bool:
    """Whether a hog's executions ended the way its limit should end them."""
    want = {"fork_bomb": ("pids",), "memory_bomb": ("oom",), "disk_fill": ("errno 28",),
            "stdout_flood": ("output_limit",), "cpu_spin": ("timeout",), "churn": ("ok",)}[name]
    return bool(outcomes) and all(any(w in o for w in want) for o in outcomes)


def run_noisy(d: Daemon, seconds: float, neighbours: int, verbose: bool, hog_names: list[str],
              think_ms: float, hog_cpus: float) -> dict:
    stop = threading.Event()
    seen: dict[str, list[str]] = {}
    errors: list[str] = []
    lat: list[float] = []
    by_kind: dict[str, list[float]] = {k: [] for k in Worker.KINDS}
    # An execution's latency in two: the daemon's duration_ms (the code sent to the
    # session's runner, run there, its results back: the sandbox's share) and the rest
    # (HTTP, the daemon, the launcher's usage readings).
    in_sandbox: list[float] = []
    outside: list[float] = []
    lock = threading.Lock()
    hogs = [threading.Thread(target=hog_loop, args=(d, h, stop, seen, errors, hog_cpus)) for h in hog_names]
    for t in hogs:
        t.start()
    time.sleep(3.0)  # every hog under way before the neighbours start timing

    def neighbour(n: int) -> None:
        c = d.client()
        try:
            w = Worker(c, c.create()["id"], n)
            i = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t = time.monotonic()
                kind = w.step(i)
                with lock:
                    lat.append((time.monotonic() - t) * 1000)
                    by_kind[kind].append(lat[-1])
                    if w.last_exec_ms is not None:
                        in_sandbox.append(w.last_exec_ms)
                        outside.append(lat[-1] - w.last_exec_ms)
                i += 1
                time.sleep(think_ms / 1000)
            c.delete(w.sid)
        except BenchFailure as e:
            with lock:
                errors.append(f"neighbour {n}: {e}"[:2000])
        finally:
            c.close()

    ns = [threading.Thread(target=neighbour, args=(n,)) for n in range(neighbours)]
    for t in ns:
        t.start()
    peak_rss = 0
    while any(t.is_alive() for t in ns):
        dp = d.daemon_pid()
        peak_rss = max(peak_rss, leaks.rss_kb(dp) if dp else 0)
        time.sleep(0.5)
    stop.set()
    for t in hogs:
        t.join(timeout=120)
    lat.sort()
    uncontained = {h: o for h, o in seen.items() if not contained(h, o)}
    return {"seconds": seconds, "neighbours": neighbours, "think_ms": think_ms, "hogs_run": hog_names,
            "hog_cpus": hog_cpus,
            "neighbour_requests": len(lat),
            "p50_ms": round(pct(lat, 0.50), 1), "p99_ms": round(pct(lat, 0.99), 1),
            "max_ms": round(lat[-1], 1) if lat else None,
            "p99_ms_by_kind": {k: round(pct(sorted(v), 0.99), 1) for k, v in by_kind.items() if v},
            "executions_p99_ms_in_sandbox": round(pct(sorted(in_sandbox), 0.99), 1),
            "executions_p99_ms_outside": round(pct(sorted(outside), 0.99), 1),
            "peak_daemon_rss_mb": round(peak_rss / 1024, 1),
            "hogs": {h: len(o) for h, o in seen.items()}, "hog_outcomes": {h: sorted(set(o)) for h, o in seen.items()},
            "uncontained": uncontained, "errors": errors}


# --- soak --------------------------------------------------------------------------------


def run_soak(d: Daemon, minutes: float, workers: int, verbose: bool) -> dict:
    end = time.monotonic() + minutes * 60
    errors: list[str] = []
    cycles = [0]
    lock = threading.Lock()

    def loop(n: int) -> None:
        c = d.client()
        try:
            k = 0
            while time.monotonic() < end and not errors:
                body = {} if k % 2 == 0 else {"limits": {"memory_mb": 256}}  # pooled and spawned sandboxes
                w = Worker(c, c.create(body)["id"], n * 1000000 + k)
                for i in range(8):
                    w.step(i)
                c.delete(w.sid)
                k += 1
                with lock:
                    cycles[0] += 1
        except BenchFailure as e:
            with lock:
                errors.append(str(e)[:2000])
        finally:
            c.close()

    base = ready_baseline(d)
    samples = []
    ts = [threading.Thread(target=loop, args=(n,)) for n in range(workers)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        s = leaks.snapshot(d.launcher_pid)
        s["t_s"] = round(time.monotonic() - t0)
        s["cycles"] = cycles[0]
        samples.append({k: v for k, v in s.items() if k != "mounts"})
        benchlib.progress(verbose, json.dumps(samples[-1]))
        for _ in range(60):
            if not any(t.is_alive() for t in ts):
                break
            time.sleep(0.5)
    grew = settle(d, base)
    after = leaks.snapshot(d.launcher_pid)
    samples.append({**{k: v for k, v in after.items() if k != "mounts"}, "t_s": round(time.monotonic() - t0),
                    "cycles": cycles[0]})
    # Growth: the sample after the warm-up (a fifth of the run, at most 5 minutes) against the last.
    warm = next((s for s in samples if s["t_s"] >= min(300, minutes * 12)), samples[0])
    last = samples[-1]
    growth = {k: last[k] - warm[k] for k in ("daemon_rss_kb", "daemon_fds", "daemon_threads", "supervisor_fds")}
    return {"minutes": minutes, "workers": workers, "cycles": cycles[0], "errors": errors, "leaks": grew,
            "warm": warm, "last": last, "growth_after_warmup": growth,
            "peak_daemon_rss_mb": round(max(s["daemon_rss_kb"] for s in samples) / 1024, 1)}


# --- the report --------------------------------------------------------------------------


def doc_block(mode: str, res: dict, m: dict[str, str]) -> str:
    """The figures of one run for docs/reliability.md; `m` is the machine and commit at its start."""
    title = {"load": "Load", "noisy": "Noisy neighbours", "soak": "Soak"}[mode]
    head = (f"### {title}\n\nMeasured {m['date']}, commit {m['git commit']}, {m['cpus']} CPUs ({m['cpu model']}), {m['memory']}, "
            f"{m['kernel']}, load average at start {m['load average at start']}: `{' '.join(sys.argv[1:])}`.\n\n")
    body = {k: v for k, v in res.items() if k not in ("errors",)}
    return head + "```json\n" + json.dumps(body, indent=1) + "\n```"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["noisy", "load", "soak"])
    ap.add_argument("--airlock", type=Path, default=REPO / "build" / "airlock")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--executions", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--neighbours", type=int, default=10)
    ap.add_argument("--think-ms", type=float, default=100,
                    help="noisy: each neighbour's pause between steps (an agent thinking; 0: back to back)")
    ap.add_argument("--hog-cpus", type=float, default=1.0, help="noisy: the hogs' sessions' CPU limit (default 1, the default session's)")
    ap.add_argument("--hogs", default=",".join(DEFAULT_HOGS), help="noisy: which hogs run (comma-separated; empty for none)")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--pool", type=int, default=4)
    ap.add_argument("--write-doc", action="store_true", help="put the figures into docs/reliability.md")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    if any(h not in HOGS for h in a.hogs.split(",") if h):
        ap.error(f"--hogs: expected names from {', '.join(HOGS)}, got {a.hogs!r}")
    if not 0 < a.minutes <= 24 * 60 or not 0 < a.seconds <= 3600:
        ap.error("--minutes must be in (0, 1440] and --seconds in (0, 3600]: the runs are bounded")
    m = benchlib.machine([])  # at the start: the commit the run's binaries were built from
    tmp = Path(tempfile.mkdtemp(prefix="airlock-rel-"))
    tmp.chmod(0o755)  # the daemon drops to its own uid and must reach its data dir
    d = Daemon(a.airlock.resolve(), a.pool, tmp, a.mode)
    d.start()
    try:
        if a.mode == "load":
            res = run_load(d, a.sessions, a.executions, not a.quiet)
            bad = res["errors"] or res["leaks"] or res["done"] != a.sessions * a.executions
        elif a.mode == "noisy":
            res = run_noisy(d, a.seconds, a.neighbours, not a.quiet, [h for h in a.hogs.split(",") if h], a.think_ms,
                            a.hog_cpus)
            res["p99_within_50ms"] = res["p99_ms"] < 50
            bad = res["errors"] or res["uncontained"]
        else:
            res = run_soak(d, a.minutes, a.workers, not a.quiet)
            bad = res["errors"] or res["leaks"]
    finally:
        left = d.stop()
    res["left_after_stop"] = left
    res["load_average_at_end"] = benchlib.loadavg()  # the host is shared: how busy it was
    print(json.dumps(res, indent=1))
    if a.write_doc:
        benchlib.write_doc(DOC, a.mode, f"### Latest `{a.mode}` run\n\n", doc_block(a.mode, res, m))
    return 1 if bad or left else 0


if __name__ == "__main__":
    sys.exit(main())
