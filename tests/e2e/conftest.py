"""End-to-end suite: a real `airlock serve` on a random loopback port, real sandboxes, every
response checked against api/openapi.yaml (see airlock_api.py and README.md).

AIRLOCK_BUILD selects the build directory (default build; CI also runs build-asan) and
AIRLOCK_BIN a binary directly. Under CI=true (or AIRLOCK_TESTS_MUST_RUN=1) a missing
prerequisite is a failure, never a skip. Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import airlock_api as api  # noqa: E402

sys.path.insert(0, str(HERE.parent / "testlib"))
import procs  # noqa: E402
from prereq import must_run, require  # noqa: E402,F401  (one rule for every suite)

ROOT = HERE.parents[1]
BUILD = ROOT / os.environ.get("AIRLOCK_BUILD", "build")
AIRLOCK = Path(os.environ.get("AIRLOCK_BIN", str(BUILD / "airlock")))
HOST = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("AIRLOCK_E2E_START_TIMEOUT", "90"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

_state = {"daemon": None, "failed": 0, "deselected": 0, "complete_collection": False}


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# --- pytest hooks ---------------------------------------------------------------------------


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (still run by default; deselect with -m 'not slow')")


def pytest_collection_modifyitems(session, config, items):
    modules = {Path(str(item.fspath)).name for item in items}
    wanted = {p.name for p in HERE.glob("test_*.py")}
    _state["complete_collection"] = wanted <= modules


def pytest_deselected(items):
    _state["deselected"] += len(items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _state["failed"] += 1
        d = _state["daemon"]
        if d is not None:
            report.sections.append(("airlock serve log (last 60 lines)", d.log_tail(60)))


# --- the daemon -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below pid, as (pid, starttime) so that a reused pid is not mistaken."""
    kids = procs.children()
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            st = procs.starttime(child)
            if st is not None:
                out.append((child, st))
                todo.append(child)
    return out


class Daemon:
    def __init__(self, checker: api.SpecChecker):
        self.checker = checker
        self.tmp = Path(tempfile.mkdtemp(prefix="airlock-e2e-"))
        os.chmod(self.tmp, 0o755)  # the daemon runs unprivileged: it must reach its data dir
        self.data_dir = self.tmp / "data"  # absent: a fresh install
        self.log_path = self.tmp / "daemon.log"
        self.port = _free_port()
        self.env_key = "e2e-env-" + secrets.token_hex(16)
        self.canary = "canary-" + secrets.token_hex(8)
        self.key = None
        self.proc = None
        self.argv = [str(AIRLOCK), "serve", "--listen", "%s:%d" % (HOST, self.port), "--data-dir", str(self.data_dir)]
        self.argv += shlex.split(os.environ.get("AIRLOCK_E2E_SERVE_ARGS", ""))

    def start(self) -> None:
        env = dict(os.environ)
        env["AIRLOCK_API_KEY"] = self.env_key
        env["AIRLOCK_E2E_CANARY"] = self.canary  # must never reach a sandbox
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        probe = api.Client(HOST, self.port, None, self.checker, timeout=10)
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while True:
            if self.proc.poll() is not None:
                pytest.fail("airlock serve exited with %s before it was ready:\n%s" % (
                    self.proc.returncode, self.log_tail(80)), pytrace=False)
            try:
                resp = probe.get("/readyz")
                if resp.status == 200:
                    break
                last = repr(resp)
            except (TimeoutError, ConnectionRefusedError, ConnectionResetError, OSError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                pytest.fail("airlock serve not ready after %.0f s (last: %s):\n%s" % (
                    START_TIMEOUT, last, self.log_tail(80)), pytrace=False)
            time.sleep(0.05)
        key_file = self.data_dir / "api-key"
        if not key_file.exists():
            pytest.fail("a fresh data dir must get %s:\n%s" % (key_file, self.log_tail(40)), pytrace=False)
        self.key = key_file.read_text().strip()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int) -> str:
        return "\n".join(self.log_text().splitlines()[-n:]) or "(empty log)"

    def stop(self) -> list[str]:
        """SIGTERM, then SIGKILL. Returns the problems seen (the fixture fails on them)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append("airlock serve had already exited with %s" % self.proc.returncode)
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
                if rc != 0:
                    problems.append("airlock serve exited with %s on SIGTERM (a graceful stop exits 0)" % rc)
            except subprocess.TimeoutExpired:
                problems.append("airlock serve did not stop within 30 s of SIGTERM; killed")
                self.proc.kill()
                self.proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        left = tree
        while left and time.monotonic() < deadline:
            left = [(p, st) for p, st in left if procs.starttime(p) == st]
            if left:
                time.sleep(0.1)
        if left:
            problems.append("processes left behind after the daemon stopped: " +
                            "; ".join("%d %s" % (p, (procs.cmdline(p) or "?")[:120]) for p, _ in left))
            for p, st in left:  # ours: they descend from the daemon this suite started
                if procs.starttime(p) == st:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self._log.close()
        log = self.log_text()
        for mark in SANITIZER_MARKS:
            if mark in log:
                i = log.index(mark)
                problems.append("sanitizer report in the daemon's log:\n" + log[max(0, i - 200):i + 3000])
                break
        mounts = []
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    mnt = line.split()[4]
                    if mnt.startswith(str(self.tmp)):
                        mounts.append(mnt)
        except OSError:
            pass
        if mounts:
            problems.append("mounts left under %s: %s" % (self.tmp, ", ".join(mounts)))
            for mnt in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", mnt], check=False)
        if os.environ.get("AIRLOCK_E2E_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


@pytest.fixture(scope="session")
def checker() -> api.SpecChecker:
    require(_importable("yaml"), "PyYAML is not installed (Debian: python3-yaml)")
    require(_importable("jsonschema"), "jsonschema is not installed (Debian: python3-jsonschema)")
    return api.SpecChecker(api.load_spec())


@pytest.fixture(scope="session")
def daemon(checker):
    require(AIRLOCK.exists(), "%s is not built (meson setup build && ninja -C build)" % AIRLOCK)
    require(os.geteuid() == 0, "airlock serve needs root (its launcher builds cgroups and maps uids)")
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    start = os.environ.get("AIRLOCK_E2E_START", "warm")
    assert start in ("warm", "fresh"), "AIRLOCK_E2E_START: warm or fresh, got %r" % start
    d = Daemon(checker)
    _state["daemon"] = d
    try:
        d.start()
        if start == "fresh":
            # The separate-start setting for the whole suite (issue 9): every session of the
            # built-in interpreter gets a sandbox started for it, none from the warm pool.
            c = api.Client(HOST, d.port, d.key, checker)
            assert api.expect(c.patch("/v1/interpreters/default", json={"start": "fresh"}), 200).json["start"] == "fresh"
        yield d
    finally:
        problems = d.stop()
        _state["daemon"] = None
        if problems:
            pytest.fail("airlock serve, at the end of the suite:\n- " + "\n- ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _daemon_survives(request):
    """A test after which the daemon is gone fails, naming itself."""
    yield
    d = _state["daemon"]
    if d is not None and d.proc is not None and not d.alive():
        pytest.fail("airlock serve died during this test (exit %s):\n%s" % (d.proc.returncode, d.log_tail(80)),
                    pytrace=False)


@pytest.fixture(scope="session")
def client(daemon) -> api.Client:
    return api.Client(HOST, daemon.port, daemon.key, daemon.checker)


@pytest.fixture(scope="session")
def anon(daemon) -> api.Client:
    """A client that sends no Authorization header."""
    return api.Client(HOST, daemon.port, None, daemon.checker)


class Sessions:
    """Creates sessions for one test and deletes them afterwards."""

    def __init__(self, client: api.Client):
        self.client = client
        self.ids: list[str] = []

    def new(self, **fields) -> dict:
        s = self.client.create_session(**fields)
        self.ids.append(s["id"])
        return s

    def __call__(self, **fields) -> str:
        return self.new(**fields)["id"]

    def cleanup(self):
        for sid in self.ids:
            d = _state["daemon"]
            if d is None or not d.alive():
                return  # the autouse check reports the dead daemon
            try:
                resp = self.client.delete("/v1/sessions/" + sid, timeout=60)
            except OSError:
                continue
            assert resp.status == 200, "cleanup: %r" % resp


@pytest.fixture
def sessions(client):
    s = Sessions(client)
    yield s
    s.cleanup()


@pytest.fixture
def sid(sessions) -> str:
    """One fresh session with default settings."""
    return sessions()


# --- more daemons, for settings the shared one does not have (TLS, tracing) ----------------


def http_ready(port: int) -> bool:
    """Whether a plain-HTTP daemon on port answers /readyz with 200 (ExtraDaemon's probe)."""
    import http.client
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    finally:
        conn.close()


class ExtraDaemon:
    """`airlock serve` with extra environment settings, on its own port and data dir, for
    one test module. `ready(port)` says whether it answers yet (its scheme is the test's)."""

    def __init__(self, env: dict, ready):
        self.tmp = Path(tempfile.mkdtemp(prefix="airlock-extra-"))
        os.chmod(self.tmp, 0o755)
        self.port = _free_port()
        self.log_path = self.tmp / "daemon.log"
        self.env = dict(os.environ, **env)
        self.env.pop("AIRLOCK_API_KEY", None)
        self.ready = ready
        self.proc = None
        self.key = None

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(AIRLOCK), "serve", "--listen", "%s:%d" % (HOST, self.port), "--data-dir",
                                      str(self.tmp / "data"), "--pool-size", "0"], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail("airlock serve exited with %s:\n%s" % (self.proc.returncode, self.log_text()[-4000:]),
                            pytrace=False)
            try:
                if self.ready(self.port):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("airlock serve not ready:\n" + self.log_text()[-4000:], pytrace=False)
            time.sleep(0.05)
        self.key = (self.tmp / "data" / "api-key").read_text().strip()
        return self

    def log_text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace") if self.log_path.exists() else ""

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=30)
        self._log.close()
        log = self.log_text()
        if os.environ.get("AIRLOCK_E2E_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        assert rc == 0, "airlock serve exited with %s on SIGTERM:\n%s" % (rc, log[-4000:])
        for mark in SANITIZER_MARKS:
            assert mark not in log, log[log.index(mark) - 200:][:4000]
