#!/usr/bin/env python3
"""Measure what a fresh Airlock sandbox costs over running the interpreter directly.

Every scenario runs N times, interleaved round-robin (the order rotates each round),
so that machine noise lands on all of them alike. The report gives wall-clock
percentiles per scenario and the ratios airlock/bare and airlock/bwrap. It never
passes or fails on timing: a run fails the benchmark only when it exits non-zero or
prints something other than what the bare interpreter prints.

Usage (from anywhere; the repository root is found from this file's location):

    python3 bench/overhead.py                      # 50 runs per scenario, print Markdown
    python3 bench/overhead.py --quick              # 5 runs: a smoke test of the harness
    python3 bench/overhead.py --write docs/benchmarks.md

Python standard library only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
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

NODE = "/usr/bin/node"
BASH = "/usr/bin/bash"
RUNSC = "/usr/bin/runsc"

# Per language: the interpreter, how to pass it code, the benchmarked (empty) program,
# and a program printing a token, used once before timing to prove code really runs.
LANGS = {
    "python": dict(interp=[PYTHON, "-c"], airlock=[], noop="pass", check="print(6*7)"),
    "javascript": dict(interp=[NODE, "-e"], airlock=["-l", "javascript"], noop="0",
                       check="console.log(6*7)"),
    "bash": dict(interp=[BASH, "-c"], airlock=["-l", "bash"], noop=":", check="echo $((6*7))"),
}


@dataclass
class Scenario:
    key: str            # short id, e.g. "py-airlock"
    lang: str           # python / javascript / bash, or "" for a component
    kind: str           # bare / bwrap / airlock / airlock-gvisor / component
    argv: list[str]
    check_argv: list[str] | None = None
    times_ns: list[int] = field(default_factory=list)

    @property
    def command(self) -> str:
        return " ".join(shell_quote(a) for a in self.argv)


def display_cmd(argv: list[str], airlock: Path) -> str:
    """The command as a reader would type it (build/airlock, not an absolute path)."""
    out = []
    for a in argv:
        if a == str(airlock):
            try:
                a = str(airlock.relative_to(REPO))
            except ValueError:
                pass
        out.append(shell_quote(a))
    if argv[:len(BWRAP_ARGS)] == BWRAP_ARGS:
        return "bwrap <baseline flags> " + " ".join(out[len(BWRAP_ARGS):])
    return " ".join(out)


def build_scenarios(airlock: Path, gvisor: bool, components: bool) -> list[Scenario]:
    sc: list[Scenario] = []
    al = str(airlock)
    short = {"python": "py", "javascript": "js", "bash": "sh"}
    for lang, L in LANGS.items():
        s = short[lang]
        sc.append(Scenario(f"{s}-bare", lang, "bare", L["interp"] + [L["noop"]], L["interp"] + [L["check"]]))
        sc.append(Scenario(f"{s}-bwrap", lang, "bwrap", BWRAP_ARGS + L["interp"] + [L["noop"]],
                           BWRAP_ARGS + L["interp"] + [L["check"]]))
        sc.append(Scenario(f"{s}-airlock", lang, "airlock", [al, "run"] + L["airlock"] + ["-c", L["noop"]],
                           [al, "run"] + L["airlock"] + ["-c", L["check"]]))
        if lang == "python" and gvisor:
            sc.append(Scenario(f"{s}-airlock-gvisor", lang, "airlock-gvisor",
                               [al, "run", "--isolation", "gvisor", "-c", L["noop"]],
                               [al, "run", "--isolation", "gvisor", "-c", L["check"]]))
    if components:
        # What the launcher's host probe runs: `bwrap --version` on every `airlock run`,
        # `runsc --version` only for `airlock doctor` (src/sandbox/host_probe.c).
        sc.append(Scenario("probe-bwrap", "", "component", [BWRAP, "--version"]))
        if os.access(RUNSC, os.X_OK):
            sc.append(Scenario("probe-runsc", "", "component", [RUNSC, "--version"]))
    return sc


def run_once(argv: list[str], timeout: float = 120.0) -> tuple[int, subprocess.CompletedProcess]:
    t0 = time.perf_counter_ns()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=CLEAN_ENV, cwd=REPO, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise BenchFailure(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from e
    except OSError as e:
        raise BenchFailure(f"cannot start {' '.join(argv)}: {e}") from e
    t1 = time.perf_counter_ns()
    return t1 - t0, p


def describe_failure(what: str, argv: list[str], p: subprocess.CompletedProcess, why: str) -> str:
    def tail(b: bytes) -> str:
        t = b.decode("utf-8", "replace").strip()
        return ("..." + t[-1500:]) if len(t) > 1500 else (t or "(empty)")
    return (f"{what}: {why}\n  command: {' '.join(shell_quote(a) for a in argv)}\n"
            f"  exit status: {p.returncode}\n  stdout: {tail(p.stdout)}\n  stderr: {tail(p.stderr)}")


def preflight(scenarios: list[Scenario]) -> dict[str, tuple[bytes, bytes]]:
    """Run each scenario's token-printing program once; every sandboxed variant must print
    exactly what the bare interpreter prints. Returns, per language, the bare interpreter's
    (stdout, stderr) for the benchmarked no-op program: the reference for every timed run."""
    refs: dict[str, tuple[bytes, bytes]] = {}
    check_ref: dict[str, bytes] = {}
    for s in scenarios:
        if s.kind == "component":
            _, p = run_once(s.argv)
            if p.returncode != 0 or not p.stdout.strip():
                raise BenchFailure(describe_failure(f"component {s.key}", s.argv, p, "did not print a version"))
            continue
        _, p = run_once(s.check_argv)
        if p.returncode != 0:
            raise BenchFailure(describe_failure(f"preflight {s.key}", s.check_argv, p, "non-zero exit"))
        if s.kind == "bare":
            if p.stdout != b"42\n":
                raise BenchFailure(describe_failure(f"preflight {s.key}", s.check_argv, p, "expected '42'"))
            check_ref[s.lang] = p.stdout
            _, q = run_once(s.argv)
            if q.returncode != 0:
                raise BenchFailure(describe_failure(f"preflight {s.key}", s.argv, q, "non-zero exit"))
            refs[s.lang] = (q.stdout, q.stderr)
        elif p.stdout != check_ref[s.lang] or p.stderr:
            raise BenchFailure(describe_failure(f"preflight {s.key}", s.check_argv, p,
                                                f"output differs from the bare interpreter's {check_ref[s.lang]!r}"))
    return refs


def verify(s: Scenario, i: int, p: subprocess.CompletedProcess, refs: dict[str, tuple[bytes, bytes]]) -> None:
    what = f"{s.key} run {i + 1}"
    if p.returncode != 0:
        raise BenchFailure(describe_failure(what, s.argv, p, "non-zero exit"))
    if s.kind == "component":
        return
    out, err = refs[s.lang]
    if p.stdout != out or p.stderr != err:
        raise BenchFailure(describe_failure(what, s.argv, p,
                                            f"output differs from the bare interpreter's (stdout {out!r}, stderr {err!r})"))


def bench(scenarios: list[Scenario], runs: int, warmup: int, refs, progress: bool) -> None:
    n = len(scenarios)
    for rnd in range(-warmup, runs):
        order = [scenarios[(j + rnd) % n] for j in range(n)]
        for s in order:
            dt, p = run_once(s.argv)
            verify(s, max(rnd, 0), p, refs)
            if rnd >= 0:
                s.times_ns.append(dt)
        if progress:
            label = f"warm-up {rnd + warmup + 1}/{warmup}" if rnd < 0 else f"round {rnd + 1}/{runs}"
            print(f"\r  {label}   ", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)


def stats(s: Scenario) -> dict[str, float]:
    return stats_ms([t / 1e6 for t in s.times_ns])


def isolation_line(airlock: Path, extra: list[str]) -> str:
    """What `airlock run -v` says the sandbox really got."""
    p = subprocess.run([str(airlock), "run", "-v"] + extra + ["-c", "pass"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CLEAN_ENV, cwd=REPO, timeout=120)
    for line in p.stderr.decode("utf-8", "replace").splitlines():
        m = re.match(r"airlock: sandbox \d+: (.*)", line)
        if m:
            return re.sub(r"private uid \d+", "private uid", m.group(1))
    return "unknown"


# ---- phase breakdown (perf tracepoints) ------------------------------------------------------
#
# `perf record` on scheduler and syscall tracepoints costs the traced programs little
# (unlike ptrace/strace, which stops every traced exec and syscall), so the phases below
# add up to roughly the untraced wall time.

PERF_EVENTS = ["sched:sched_process_fork", "sched:sched_process_exec", "sched:sched_process_exit",
               "syscalls:sys_enter_write", "syscalls:sys_exit_write",
               "syscalls:sys_enter_clock_nanosleep", "syscalls:sys_exit_clock_nanosleep"]
PERF_LINE = re.compile(r"^\s*(\d+)/(\d+)\s+(\d+\.\d+):\s+(\S+):\s*(.*)$")

PH_CLI = "cli: start, fork+exec the launcher"
PH_PROBE_BWRAP = "launcher host probe: fork + `bwrap --version`"
PH_PROBE_RUNSC = "launcher host probe: fork + `runsc --version` (doctor only)"
PH_LAUNCHER = "launcher: rest of setup (hello, plan, seccomp compile, uid, cgroup mkdir, run dir)"
PH_CGROUP = "sandbox child: write(cgroup.procs) into each v1 hierarchy / the v2 cgroup"
PH_CHILD = "sandbox child: rest (fds, setresuid, exec bwrap)"
PH_BWRAP = "bwrap: user/pid/mount/net namespaces, mounts, pid 1, exec the shim"
PH_SHIM = "shim (airlock-init): rlimits, Landlock, seccomp load, exec the interpreter"
PH_PAYLOAD = "payload: `python3 -u main.py` (`pass`)"
PH_TEARDOWN_SLEEP = "teardown: launcher asleep (cgroup kill_all polls, 250 us doubling to 10 ms)"
PH_TEARDOWN = "teardown: rest (bwrap exit, stats, report, rmdir)"
PH_CLI_WAIT = "cli: notice the launcher exited (lc_stop waits on its pidfd)"
PH_TOTAL = "total (exec of airlock → its exit)"


def parse_perf(text: str, airlock: Path) -> list[dict[str, float]]:
    """Phases (ms) of each `airlock run -c pass` in `perf script` output."""
    events = []
    for line in text.splitlines():
        m = PERF_LINE.match(line)
        if m:
            events.append((int(m.group(1)), int(m.group(2)), float(m.group(3)), m.group(4), m.group(5)))
    roots = [pid for pid, _, _, ev, args in events
             if ev == "sched:sched_process_exec" and (args + " ").startswith(f"filename={airlock} ")]
    if not roots:
        raise BenchFailure("perf breakdown: no exec of airlock in the trace")
    return [phases(events, root, airlock) for root in roots]


def phases(events: list, root: int, airlock: Path) -> dict[str, float]:
    tree: set[int] = set()           # tids of this run's process tree
    forks: list[tuple[float, int]] = []        # t, child tid
    execs: list[tuple[float, int, str]] = []   # t, pid, filename
    exits: dict[int, float] = {}               # tgid -> time its last thread exited
    enter: dict[tuple[int, str], float] = {}
    spans: list[tuple[int, str, float, float]] = []   # tgid, syscall, start, end
    for pid, tid, t, ev, args in events:
        if not tree:
            if pid == root and ev == "sched:sched_process_exec":
                tree.add(root)
            else:
                continue
        if tid not in tree:
            continue
        if ev == "sched:sched_process_fork":
            child = int(re.search(r"child_pid=(\d+)", args).group(1))
            tree.add(child)
            forks.append((t, child))
        elif ev == "sched:sched_process_exec":
            execs.append((t, pid, re.search(r"filename=(\S+)", args).group(1)))
        elif ev == "sched:sched_process_exit":
            if "group_dead=true" in args:
                exits[pid] = t
                if pid == root:
                    break
        elif ev.startswith("syscalls:sys_enter_"):
            enter[(tid, ev[19:])] = t
        elif ev.startswith("syscalls:sys_exit_"):
            t0 = enter.pop((tid, ev[18:]), None)
            if t0 is not None:
                spans.append((pid, ev[18:], t0, t))

    def exec_of(name: str, after: float = 0.0) -> tuple[float, int]:
        for t, pid, fn in execs:
            if (fn == name or (name.startswith("*") and fn.endswith(name[1:]))) and t >= after:
                return t, pid
        raise BenchFailure(f"perf breakdown: no exec of {name} in the trace")

    def fork_of(child: int) -> float:
        for t, c in forks:
            if c == child:
                return t
        raise BenchFailure(f"perf breakdown: no fork of pid {child} in the trace")

    try:
        t0 = exec_of(str(airlock))[0]
        t_launcher, lpid = exec_of("*/airlock-launcher")
        t_pb, pb = exec_of(BWRAP, t_launcher)              # the probe's `bwrap --version` comes first
        probe_bwrap = exits[pb] - fork_of(pb)
        try:
            t_pr, pr = exec_of(RUNSC, t_launcher)
            probe_runsc = exits[pr] - fork_of(pr)
        except BenchFailure:
            probe_runsc = 0.0
        t_sb, sb = exec_of(BWRAP, exits[pb])               # the sandbox's bwrap
        t_sb_fork = fork_of(sb)
        t_init, ipid = exec_of("/run/airlock/init", t_sb)
        t_py, ppid = exec_of(PYTHON, t_init)
        t_py_exit = exits[ppid]
        t_lexit = exits[lpid]
        t_end = exits[root]
    except KeyError as e:
        raise BenchFailure(f"perf breakdown: no exit of pid {e} in the trace") from e
    cg = sum(e - b for p, sc, b, e in spans if p == sb and sc == "write" and t_sb_fork <= b < t_sb)
    sleep = sum(min(e, t_lexit) - max(b, t_py_exit) for p, sc, b, e in spans
                if p == lpid and sc == "clock_nanosleep" and e > t_py_exit and b < t_lexit)
    ph = {
        PH_CLI: t_launcher - t0,
        PH_PROBE_BWRAP: probe_bwrap,
        PH_PROBE_RUNSC: probe_runsc,
        PH_LAUNCHER: (t_sb_fork - t_launcher) - probe_bwrap - probe_runsc,
        PH_CGROUP: cg,
        PH_CHILD: (t_sb - t_sb_fork) - cg,
        PH_BWRAP: t_init - t_sb,
        PH_SHIM: t_py - t_init,
        PH_PAYLOAD: t_py_exit - t_py,
        PH_TEARDOWN_SLEEP: sleep,
        PH_TEARDOWN: (t_lexit - t_py_exit) - sleep,
        PH_CLI_WAIT: t_end - t_lexit,
        PH_TOTAL: t_end - t0,
    }
    return {k: v * 1000.0 for k, v in ph.items()}


def breakdown(airlock: Path, runs: int) -> tuple[dict[str, float] | None, str]:
    """Median phases over `runs` traced runs, or None and the reason there are none.

    One `perf record` session (per-task, inherited by children: only the runs' own process
    trees are traced, not the rest of the machine nor perf itself) wraps a shell loop of
    `runs` sandboxes, so perf's start-up does not overlap the first of them."""
    perf = shutil.which("perf", path="/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin")
    if not perf:
        return None, "perf is not installed (linux-perf)"
    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as td:
        data = str(Path(td) / "perf.data")
        loop = (f"sleep 0.3; i=0; while [ $i -lt {runs} ]; do i=$((i+1)); "
                f"{shell_quote(str(airlock))} run -c pass || exit 1; sleep 0.05; done")
        argv = [perf, "record", "-q", "-o", data]
        for e in PERF_EVENTS:
            argv += ["-e", e]
        argv += ["--", "/bin/sh", "-c", loop]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=CLEAN_ENV, cwd=REPO, timeout=60 + 10 * runs)
        if p.returncode != 0 or p.stdout:
            err = p.stderr.decode("utf-8", "replace").strip()
            if "airlock" not in err and not p.stdout:
                return None, "`perf record` failed" + (f": {err.splitlines()[-1]}" if err else "")
            raise BenchFailure(describe_failure("perf breakdown", argv, p, "unexpected result"))
        q = subprocess.run([perf, "script", "-i", data, "-F", "pid,tid,time,event,trace"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
        samples = parse_perf(q.stdout.decode("utf-8", "replace"), airlock)
    if len(samples) != runs:
        raise BenchFailure(f"perf breakdown: {len(samples)} runs in the trace, expected {runs}")
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}, ""


# ---- report --------------------------------------------------------------------------------

def fmt(x: float) -> str:
    return f"{x:.1f}"


def report(scenarios: list[Scenario], runs: int, warmup: int, mach: dict[str, str], iso: dict[str, str],
           bd: dict[str, float] | None, bd_runs: int, bd_why: str, airlock: Path, argv_used: str) -> str:
    st = {s.key: stats(s) for s in scenarios}
    L = []
    L.append(f"Generated by `{argv_used}` — {runs} timed runs per scenario after {warmup} warm-up "
             f"round(s), interleaved round-robin. Wall-clock ms per run, measured around "
             f"`subprocess.run` (fork+exec+wait, output captured); every run's exit status and output were checked.")
    L.append("")
    L.append("**Machine**")
    L.append("")
    for k, v in mach.items():
        L.append(f"- {k}: {v}")
    for k, v in iso.items():
        L.append(f"- airlock {k} sandbox (`airlock run -v`): {v}")
    L.append("")
    L.append("**Wall time per run (ms)**")
    L.append("")
    L.append("| scenario | command | p50 | p90 | p99 | mean | min | max |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for s in scenarios:
        x = st[s.key]
        L.append(f"| {s.key} | `{display_cmd(s.argv, airlock)}` | {fmt(x['p50'])} | {fmt(x['p90'])} | "
                 f"{fmt(x['p99'])} | {fmt(x['mean'])} | {fmt(x['min'])} | {fmt(x['max'])} |")
    L.append("")
    L.append("`bwrap <baseline flags>` = `" + " ".join(shell_quote(a) for a in BWRAP_ARGS[1:]) + "`. "
             "probe-bwrap is what the launcher's host probe runs on every `airlock run`; probe-runsc only runs for `airlock doctor`.")
    L.append("")
    L.append("**Ratios** (higher = more overhead; added = airlock p50 − baseline p50)")
    L.append("")
    L.append("| airlock scenario | ÷ bare p50 | ÷ bare mean | ÷ bwrap p50 | ÷ bwrap mean | added over bare, p50 ms | added over bwrap, p50 ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    short = {"python": "py", "javascript": "js", "bash": "sh"}
    for s in scenarios:
        if not s.kind.startswith("airlock"):
            continue
        a = st[s.key]
        b = st[f"{short[s.lang]}-bare"]
        w = st[f"{short[s.lang]}-bwrap"]
        L.append(f"| {s.key} | {a['p50'] / b['p50']:.2f}× | {a['mean'] / b['mean']:.2f}× | "
                 f"{a['p50'] / w['p50']:.2f}× | {a['mean'] / w['mean']:.2f}× | "
                 f"{a['p50'] - b['p50']:+.1f} | {a['p50'] - w['p50']:+.1f} |")
    L.append("")
    if bd is not None:
        py = st.get("py-airlock")
        total = bd[PH_TOTAL]
        L.append(f"**Where the time goes in one `airlock run -c pass`** (namespace backend; median per phase "
                 f"over {bd_runs} runs traced with `perf record` on the sched_process_fork/exec/exit and "
                 f"write/clock_nanosleep tracepoints (no ptrace; tracing still costs a little): traced total "
                 f"{fmt(total)} ms against the untraced p50 of {fmt(py['p50']) if py else '?'} ms. Medians of "
                 f"phases need not add up exactly to the median total.)")
        L.append("")
        L.append("| phase | ms (median) | share of total |")
        L.append("|---|---:|---:|")
        for k, v in bd.items():
            if k == PH_TOTAL:
                L.append(f"| **{k}** | **{fmt(v)}** | |")
            else:
                L.append(f"| {k} | {fmt(v)} | {100 * v / total:.0f}% |")
        L.append("")
    elif bd_runs:
        L.append(f"(No phase breakdown: {bd_why}.)")
        L.append("")
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description="Airlock sandbox start-up overhead against bare and bwrap baselines.")
    ap.add_argument("--runs", type=int, default=50, help="timed runs per scenario (default 50)")
    ap.add_argument("--quick", action="store_true", help="5 runs, 1 traced breakdown run: a smoke test of the harness")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    ap.add_argument("--airlock", type=Path, default=REPO / "build" / "airlock",
                    help="the airlock binary (default: build/airlock in the repository)")
    ap.add_argument("--no-gvisor", action="store_true", help="leave out the gVisor (runsc) scenario")
    ap.add_argument("--no-components", action="store_true",
                    help="leave out the probe-bwrap / probe-runsc component rows")
    ap.add_argument("--breakdown", type=int, default=None, metavar="K",
                    help="traced runs for the phase breakdown (default 20, --quick 1; 0 = none; needs perf and root)")
    ap.add_argument("--write", type=Path, metavar="FILE",
                    help="rewrite the bench:overhead section of FILE (e.g. docs/benchmarks.md)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write raw per-run timings as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = ap.parse_args()

    runs = 5 if a.quick and a.runs == 50 else a.runs
    if runs < 1:
        ap.error("--runs must be at least 1")
    bd_runs = a.breakdown if a.breakdown is not None else (1 if a.quick else 20)
    airlock = a.airlock if a.airlock.is_absolute() else (Path.cwd() / a.airlock)
    if not os.access(airlock, os.X_OK):
        print(f"overhead.py: {airlock} is missing; build it first: "
              f"cd {REPO} && meson setup build; ninja -C build", file=sys.stderr)
        return 2
    for tool in (PYTHON, NODE, BASH, BWRAP):
        if not os.access(tool, os.X_OK):
            print(f"overhead.py: {tool} is missing; it is a baseline of this benchmark", file=sys.stderr)
            return 2
    gvisor = not a.no_gvisor
    if gvisor and not os.access(RUNSC, os.X_OK):
        print(f"overhead.py: {RUNSC} is missing; install gVisor or pass --no-gvisor", file=sys.stderr)
        return 2
    if gvisor and os.geteuid() != 0:
        print("overhead.py: the gVisor backend needs root; run as root or pass --no-gvisor", file=sys.stderr)
        return 2

    scenarios = build_scenarios(airlock, gvisor, not a.no_components)
    cmdline = "python3 bench/overhead.py" + "".join(f" {shell_quote(x)}" for x in sys.argv[1:])
    try:
        mach = machine([("airlock", [str(airlock), "version"]), ("python", [PYTHON, "--version"]),
                        ("node", [NODE, "--version"]), ("bash", [BASH, "--version"]),
                        ("bwrap", [BWRAP, "--version"]), ("runsc", [RUNSC, "--version"])])
        iso = {"namespace": isolation_line(airlock, [])}
        if gvisor:
            iso["gvisor"] = isolation_line(airlock, ["--isolation", "gvisor"])
        if not a.quiet:
            print(f"overhead.py: {len(scenarios)} scenarios x {runs} runs (+{a.warmup} warm-up)", file=sys.stderr)
        refs = preflight(scenarios)
        bench(scenarios, runs, a.warmup, refs, not a.quiet)
        mach["load average at end"] = loadavg()
        bd, bd_why = None, ""
        if bd_runs > 0:
            if not a.quiet:
                print(f"overhead.py: phase breakdown, {bd_runs} traced run(s)", file=sys.stderr)
            bd, bd_why = breakdown(airlock, bd_runs)
    except BenchFailure as e:
        print(f"overhead.py: FAILED — {e}", file=sys.stderr)
        return 1

    body = report(scenarios, runs, a.warmup, mach, iso, bd, bd_runs, bd_why, airlock, cmdline)
    print(body)
    if a.json:
        a.json.write_text(json.dumps({
            "machine": mach, "isolation": iso, "runs": runs, "warmup": a.warmup,
            "scenarios": [{"key": s.key, "kind": s.kind, "lang": s.lang, "argv": s.argv,
                           "wall_ns": s.times_ns, "stats_ms": stats(s)} for s in scenarios],
            "breakdown_ms": bd}, indent=1) + "\n")
    if a.write:
        target = a.write if a.write.is_absolute() else Path.cwd() / a.write
        write_doc(target, "overhead", "## Sandbox start-up overhead\n\n", body)
        if not a.quiet:
            print(f"overhead.py: wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
