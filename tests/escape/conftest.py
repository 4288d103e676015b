"""Driver plumbing for the hostile escape suite (see README.md in this directory).

Every probe is a real program run inside a real sandbox with `airlock run` (backends
`namespace` and `gvisor`) or inside a session of a real `airlock serve` (backends
`session-warm`: from the warm pool, whose runner has imported numpy, pandas and pyplot;
`session-fresh`: a sandbox started for the session); every probe is paired with a CONTROL that runs the same program where the restriction is absent (usually
directly on the host) and must report ESCAPED - a probe whose detection cannot fire proves
nothing.

Rules implemented here:
  * CI=true: anything missing (root, bwrap, runsc, build/airlock, a host feature a control
    needs) FAILS the test; without CI it is skipped with the reason.
  * Network traffic only to 127.0.0.1 / ::1 and abstract unix sockets.
  * Everything the suite creates on the host (sleepers, listeners, canary files, SysV IPC
    objects, cgroups, temp dirs) is removed at the end.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import hashlib
import http.client
import json
import os
import pty
import random
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "testlib"))
import procs  # noqa: E402
from prereq import require  # noqa: E402  (one rule for every suite)

PROBES = HERE / "probes"
REPO = HERE.parent.parent
AIRLOCK = Path(os.environ.get("AIRLOCK_BIN",
                              str(REPO / os.environ.get("AIRLOCK_BUILD", "build") / "airlock")))
HOST_PY = "/usr/bin/python3"
BACKENDS = ("namespace", "gvisor")
# The daemon's two ways of starting a session's sandbox (docs/architecture.md 6.5): the
# probes that need no `airlock run` feature (its exit status, its process tree, a terminal,
# options the API does not have) run in sessions of both as well.
SESSION_BACKENDS = ("session-warm", "session-fresh")
ALL_BACKENDS = BACKENDS + SESSION_BACKENDS
BACKEND_TOOL = {"namespace": "bwrap", "gvisor": "runsc", "session-warm": "bwrap", "session-fresh": "bwrap"}

# Set in the environment of every `airlock run` and of the suite's `airlock serve`: none of
# them may reach a sandbox (probe env_leak).
CANARY_ENV = {"AIRLOCK_SECRET_CANARY": "airlock-canary-secret-%s" % os.urandom(6).hex(),
              "AWS_SECRET_ACCESS_KEY": "airlock-canary-aws-%s" % os.urandom(6).hex(),
              "GITHUB_TOKEN": "airlock-canary-gh-%s" % os.urandom(6).hex(),
              "SSH_AUTH_SOCK": "/tmp/airlock-canary-ssh-%s" % os.urandom(6).hex()}

# Probes that genuinely cannot apply to gVisor, with the reason. Keep this rare. Each entry
# is an xfail (not strict: an XPASS just means gVisor became stricter than needed).
GVISOR_XFAIL: dict[str, str] = {
    "oom_score_adj": "gVisor keeps oom_score_adj per task inside its own kernel: writing -1000 succeeds "
                     "there, but the host processes running the sandbox keep their value (0); the host-side "
                     "property is checked on both backends by test_host_effect.",
    "mknod": "gVisor (runsc 20221219) lets an unprivileged app mknod device nodes in its own in-memory "
             "tmpfs; they resolve only to gVisor's emulated devices (mknod_open shows that opening 1:1, "
             "1:11, 8:0, 10:232 or the host root device gives ENXIO), so no host device becomes reachable.",
}

# Devices gVisor itself emulates in its /dev (not host devices): /dev/net/tun (10:200; attaching
# needs CAP_NET_ADMIN, and the network is none) and /dev/fuse (10:229; needs mount(2), which
# the filter refuses).
GVISOR_DEV_ALLOW = "10:200,10:229"

# Controls that need something from the host kernel or from the test's own privileges.
# When the host lacks it the control cannot demonstrate detection: skipped locally,
# FAILED under CI (the CI host must be able to prove every probe).
#   probe -> (predicate() -> bool, what is missing)


def _kconfig(opt: str) -> bool | None:
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if line.startswith(opt + "=") or line.startswith(opt + " "):
                    return line.startswith(opt + "=y") or line.startswith(opt + "=m")
                if line.startswith("# %s is not set" % opt):
                    return False
    except OSError:
        return None
    return False


def _has_cap(bit: int) -> bool:
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


CONTROL_NEEDS: dict[str, tuple] = {
    "sysrq": (lambda: os.path.exists("/proc/sysrq-trigger"),
              "host kernel without CONFIG_MAGIC_SYSRQ (/proc/sysrq-trigger absent)"),
    "kcore": (lambda: os.path.exists("/proc/kcore"),
              "host kernel without CONFIG_PROC_KCORE (/proc/kcore absent)"),
    "devmem": (lambda: os.path.exists("/dev/mem") or _kconfig("CONFIG_DEVMEM") is True,
               "host kernel without CONFIG_DEVMEM (/dev/mem absent)"),
    "kernel_code_load": (lambda: _kconfig("CONFIG_MODULES") is not False or _kconfig("CONFIG_KEXEC") is True,
                         "host kernel without CONFIG_MODULES and CONFIG_KEXEC"),
    "oom_score_adj": (lambda: _has_cap(24), "the test process lacks CAP_SYS_RESOURCE"),
    "vsock": (lambda: _kconfig("CONFIG_VSOCKETS") is not False, "host kernel without AF_VSOCK"),
    "io_uring": (lambda: _kconfig("CONFIG_IO_URING") is not False, "host kernel without io_uring"),
    "userfaultfd": (lambda: _kconfig("CONFIG_USERFAULTFD") is not False, "host kernel without userfaultfd"),
    "perf_event": (lambda: _kconfig("CONFIG_PERF_EVENTS") is not False, "host kernel without perf events"),
    "bpf": (lambda: _kconfig("CONFIG_BPF_SYSCALL") is not False, "host kernel without bpf(2)"),
    "i386_abi": (lambda: _kconfig("CONFIG_IA32_EMULATION") is not False, "host kernel without IA32 emulation"),
}


def rand_token(n: int = 12) -> str:
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


# --------------------------------------------------------------------------------------
# results


@dataclasses.dataclass
class Run:
    argv: list
    rc: int | None
    out: str
    err: str
    out_bytes: int
    err_bytes: int
    seconds: float
    timed_out: bool = False
    leftovers: list = dataclasses.field(default_factory=list)  # (pid, cmdline) still alive

    @property
    def final(self) -> str:
        for line in reversed(self.out.splitlines()):
            if line.startswith(("ESCAPED:", "BLOCKED:")):
                return line
        return ""

    @property
    def airlock_lines(self) -> list[str]:
        return [l for l in self.err.splitlines() if l.startswith("airlock: ")]

    def show(self) -> str:
        o = self.out if len(self.out) < 6000 else self.out[:3000] + "\n...\n" + self.out[-3000:]
        e = self.err if len(self.err) < 4000 else self.err[:2000] + "\n...\n" + self.err[-2000:]
        return "argv: %s\nrc=%s after %.2fs%s\n--- stdout (%d bytes)\n%s\n--- stderr (%d bytes)\n%s" % (
            " ".join(map(str, self.argv))[:600], self.rc, self.seconds, " (TIMED OUT)" if self.timed_out else "",
            self.out_bytes, o, self.err_bytes, e)


def _reader(stream, buf: list, counter: list, cap: int) -> None:
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        counter[0] += len(chunk)
        if sum(len(c) for c in buf) < cap:
            buf.append(chunk)


def run_cmd(argv, *, env=None, timeout=60.0, max_capture=8 << 20, kill_above=None, stdin=subprocess.DEVNULL,
            track=False, preexec_fn=None, pass_fds=(), on_line=None) -> Run:
    """Run argv, capture stdout/stderr (at most max_capture bytes kept of each, all bytes
    counted). kill_above: kill the process group once that many bytes arrived (a flood
    that airlock failed to stop must not eat the test host). track: remember every
    descendant process seen while running; Run.leftovers lists those still alive after."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, start_new_session=True, preexec_fn=preexec_fn, pass_fds=pass_fds)
    ob, eb, oc, ec = [], [], [0], [0]
    th = [threading.Thread(target=_reader, args=(p.stdout, ob, oc, max_capture), daemon=True),
          threading.Thread(target=_reader, args=(p.stderr, eb, ec, max_capture), daemon=True)]
    for t in th:
        t.start()
    seen: dict[int, str] = {}
    timed_out = False
    while True:
        try:
            p.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if track:
            kids = procs.children()
            stack = [p.pid]
            while stack:
                x = stack.pop()
                for c in kids.get(x, []):
                    if c not in seen:
                        s = procs.starttime(c, zombie_is_gone=True)
                        if s:
                            seen[c] = s
                    stack.append(c)
        if kill_above is not None and oc[0] + ec[0] > kill_above:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        if time.monotonic() - t0 > timeout:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            break
    for t in th:
        t.join(timeout=5)
    secs = time.monotonic() - t0
    leftovers = []
    if track:
        time.sleep(0.3)
        for pid, st in seen.items():
            if procs.starttime(pid, zombie_is_gone=True) == st:
                leftovers.append((pid, procs.cmdline(pid)))
    r = Run(list(argv), p.returncode, b"".join(ob).decode("utf-8", "replace"),
            b"".join(eb).decode("utf-8", "replace"), oc[0], ec[0], secs, timed_out, leftovers)
    return r


# --------------------------------------------------------------------------------------
# probes: composing, running in a sandbox, running as a control


class ProbeFiles:
    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[str, Path] = {}

    def source(self, name: str) -> str:
        f = self._find(name)
        if f.suffix == ".py":
            return (PROBES / "_lib.py").read_text() + "\n" + f.read_text()
        return f.read_text()

    def _find(self, name: str) -> Path:
        for ext in ("", ".py", ".sh", ".js"):
            f = PROBES / (name + ext)
            if f.is_file():
                return f
        raise FileNotFoundError(name)

    def path(self, name: str) -> Path:
        """A world-readable file holding the composed probe (airlock run reads it as an
        unprivileged user; controls may run as nobody)."""
        if name not in self.cache:
            src = self._find(name)
            dst = self.root / src.name
            dst.write_text(self.source(name))
            dst.chmod(0o644)
            self.cache[name] = dst
        return self.cache[name]

    def write(self, filename: str, text: str) -> Path:
        dst = self.root / filename
        dst.write_text(text)
        dst.chmod(0o644)
        return dst


def interpreter_for(path: Path) -> list[str]:
    return {".py": [HOST_PY], ".sh": ["/bin/bash"], ".js": ["/usr/bin/node"]}[path.suffix]


class Sandbox:
    """Runs `airlock run` for one backend."""

    def __init__(self, backend: str, files: ProbeFiles):
        self.backend = backend
        self.isolation = backend
        self.files = files

    def argv(self, probe: str | Path, env=None, opts=()) -> list:
        path = probe if isinstance(probe, Path) else self.files.path(probe)
        a = [AIRLOCK, "run", "-v", "--isolation", self.backend, *opts]
        for k, v in (env or {}).items():
            a += ["--env", "%s=%s" % (k, v)]
        return a + [path]

    def run(self, probe, env=None, opts=(), timeout=90.0, cli_env=None, **kw) -> Run:
        e = clean_env()
        e.update(cli_env or {})
        r = run_cmd(self.argv(probe, env, opts), env=e, timeout=timeout, **kw)
        log_run("sandbox:" + self.backend, probe, r)
        return r

    def popen(self, probe, env=None, opts=(), cli_env=None) -> subprocess.Popen:
        e = clean_env()
        e.update(cli_env or {})
        return subprocess.Popen([str(a) for a in self.argv(probe, env, opts)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, start_new_session=True)


class Serve:
    """The suite's own `airlock serve` (default settings: the warm pool of 4, preloading the
    data stack), started on first use, on a free loopback port and a data dir of its own."""

    def __init__(self, root: Path):
        self.root = root
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.key = ""

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = self.root / "serve-data"
        self.log = open(self.root / "serve.log", "wb")
        env = {**clean_env(), **CANARY_ENV}
        self.proc = subprocess.Popen([str(AIRLOCK), "serve", "--listen", "127.0.0.1:%d" % self.port,
                                      "--data-dir", str(data)], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "airlock serve exited: %s" % self.log_tail()
            with contextlib.suppress(OSError):
                self.key = (data / "api-key").read_text().strip()
                if self.key and self.request("GET", "/readyz")[0] == 200:
                    return
            time.sleep(0.1)
        raise AssertionError("airlock serve did not become ready in 60 s: %s" % self.log_tail())

    def log_tail(self) -> str:
        return (self.root / "serve.log").read_bytes()[-3000:].decode("utf-8", "replace")

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Authorization": "Bearer " + self.key, "Content-Type": "application/json"})
            r = c.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw) if raw else {}
            except ValueError:
                return r.status, {"raw": raw.decode("utf-8", "replace")}
        finally:
            c.close()

    def metric(self, name: str) -> float:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", "/metrics", headers={"Authorization": "Bearer " + self.key})
            for line in c.getresponse().read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        finally:
            c.close()
        raise AssertionError("no metric %s" % name)

    def wait_warm(self, seconds: float = 120) -> None:
        """Until the pool holds a sandbox that has preloaded (a session then gets it)."""
        deadline = time.monotonic() + seconds
        while self.metric("airlock_pool_preloaded") < 1:
            assert time.monotonic() < deadline, "the warm pool preloaded nothing in %.0f s" % seconds
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# `airlock run` options and the session API's limits that mean the same thing.
SESSION_LIMIT_OPTS = {"--cpus": ("cpus", float), "--memory-mb": ("memory_mb", int), "--pids": ("pids", int),
                      "--workspace-mb": ("workspace_mb", int)}


class SessionSandbox:
    """Runs a probe in a session of the suite's `airlock serve`: one new session per run,
    its sandbox from the warm pool (`session-warm`: taken only once the pool holds a
    preloaded one, and checked to be that) or started for it (`session-fresh`). The probe
    is written to /tmp in the sandbox and run by the session's bash with its parameters
    exported, as a user's subprocess; its exit status comes back on stderr."""

    isolation = "namespace"

    def __init__(self, backend: str, files: ProbeFiles, serve: Serve):
        self.backend = backend
        self.start = backend.split("-", 1)[1]
        self.files = files
        self.serve = serve

    def body(self, opts) -> tuple[dict, float]:
        limits: dict = {}
        timeout = 60.0
        it = iter(opts)
        for o in it:
            v = next(it)
            if o == "--timeout-seconds":
                timeout = float(v)
            elif o == "--tmp-mb":  # a session's /tmp is min(workspace_mb, 256) MiB
                limits.setdefault("workspace_mb", int(v))
            elif o in SESSION_LIMIT_OPTS:
                key, conv = SESSION_LIMIT_OPTS[o]
                limits[key] = conv(v)
            else:
                raise AssertionError("%s has no session equivalent: this probe cannot run on %s" % (o, self.backend))
        body: dict = {"start": self.start}
        if limits:
            body["limits"] = limits
        return body, timeout

    @contextlib.contextmanager
    def holding(self, probe: str, env: dict, timeout: float = 30):
        """A session whose bash started `probe` in the background (a holder that prints
        READY, then waits); yields a callable that says whether it is still running."""
        path = self.files.path(probe)
        if self.start == "warm":
            self.serve.wait_warm()
        st, doc = self.serve.request("POST", "/v1/sessions", {"start": self.start})
        assert st == 201, "POST /v1/sessions: HTTP %d %s" % (st, doc)
        sid = doc["id"]

        def bash(code: str) -> str:
            st, ex = self.serve.request("POST", "/v1/sessions/%s/execute" % sid, {"language": "bash", "code": code})
            assert st == 200 and ex.get("status") == "ok", "holder session: HTTP %d %s" % (st, ex)
            return ex.get("stdout", "")

        try:
            exports = "".join("export %s=%s\n" % (k, shlex.quote(str(v))) for k, v in env.items())
            pid = bash("cat > /tmp/airlock-holder.py <<'AIRLOCK_PROBE_EOF'\n%s\nAIRLOCK_PROBE_EOF\n%s"
                       "cd /workspace && nohup python3 /tmp/airlock-holder.py > /tmp/airlock-holder.out 2>&1 &\n"
                       "echo $!" % (path.read_text(), exports)).strip()
            deadline = time.monotonic() + timeout
            while not bash("cat /tmp/airlock-holder.out").startswith("READY"):
                assert time.monotonic() < deadline, "the holder did not start: %s" % bash("cat /tmp/airlock-holder.out")
                time.sleep(0.2)
            yield lambda: bash("kill -0 %s && echo alive || true" % pid).strip() == "alive"
        finally:
            self.serve.request("DELETE", "/v1/sessions/%s" % sid)

    def run(self, probe, env=None, opts=(), timeout=90.0, cli_env=None, **kw) -> Run:
        path = probe if isinstance(probe, Path) else self.files.path(probe)
        body, exec_timeout = self.body(opts)
        pooled = self.start == "warm" and "limits" not in body  # the pool's shape
        if pooled:
            self.serve.wait_warm()
        t0 = time.monotonic()
        st, doc = self.serve.request("POST", "/v1/sessions", body)
        assert st == 201, "POST /v1/sessions %s: HTTP %d %s" % (body, st, doc)
        sid = doc["id"]
        try:
            start = doc.get("start")
            if pooled:
                assert start and start["from_pool"] and start["preloaded"], (
                    "session-warm: the session did not get a preloaded sandbox from the pool: %s" % start)
            elif self.start == "fresh":
                assert start == {"mode": "fresh", "from_pool": False, "preloaded": []}, start
            interp = {".py": "python3", ".sh": "bash", ".js": "node"}[path.suffix]
            ext = path.suffix
            code = "cat > /tmp/airlock-probe%s <<'AIRLOCK_PROBE_EOF'\n%s\nAIRLOCK_PROBE_EOF\n" % (ext, path.read_text())
            code += "".join("export %s=%s\n" % (k, shlex.quote(str(v))) for k, v in (env or {}).items())
            code += "cd /workspace && %s /tmp/airlock-probe%s\necho \"airlock-probe-rc=$?\" >&2\n" % (interp, ext)
            st, ex = self.serve.request("POST", "/v1/sessions/%s/execute" % sid,
                                        {"language": "bash", "code": code, "timeout_seconds": exec_timeout},
                                        timeout=max(timeout, exec_timeout + 60))
            assert st == 200, "execute: HTTP %d %s" % (st, ex)
        finally:
            self.serve.request("DELETE", "/v1/sessions/%s" % sid)
        out, err = ex.get("stdout", ""), ex.get("stderr", "")
        rcs = [line.split("=", 1)[1] for line in err.splitlines() if line.startswith("airlock-probe-rc=")]
        err = "\n".join(line for line in err.splitlines() if not line.startswith("airlock-probe-rc="))
        if ex.get("status") != "ok":
            err += "\nairlock: execution %s %s" % (ex.get("status"), ex.get("killed_reason") or ex.get("error") or "")
        r = Run(["session", self.backend, sid, path.name], int(rcs[-1]) if rcs else None, out, err,
                len(out.encode()), len(err.encode()), time.monotonic() - t0, ex.get("status") == "timeout")
        log_run("sandbox:" + self.backend, probe, r)
        return r


def clean_env() -> dict:
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TERM") if k in os.environ}
    keep["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return keep


class Host:
    """Runs a probe as a control directly on the host."""

    def __init__(self, files: ProbeFiles):
        self.files = files

    def argv(self, probe, user=None, wrap=()) -> list:
        path = probe if isinstance(probe, Path) else self.files.path(probe)
        a = list(wrap)
        if user is not None:
            a += ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups", "--"]
        return a + interpreter_for(path) + [path]

    def run(self, probe, env=None, user=None, wrap=(), timeout=60.0, extra_env=None, **kw) -> Run:
        e = clean_env()
        e.update({k: str(v) for k, v in (env or {}).items()})
        e.update(extra_env or {})
        r = run_cmd(self.argv(probe, user, wrap), env=e, timeout=timeout, **kw)
        log_run("control" + ("(uid %d)" % user if user is not None else ""), probe, r)
        return r


def log_run(where: str, probe, r: Run) -> None:
    """AIRLOCK_ESCAPE_LOG=file: append one line per run (where, probe, rc, verdict)."""
    path = os.environ.get("AIRLOCK_ESCAPE_LOG")
    if not path:
        return
    name = probe.name if isinstance(probe, Path) else str(probe)
    with open(path, "a") as f:
        f.write("%-18s %-28s rc=%-4s %s\n" % (where, name, r.rc, (r.final or "(no verdict) " + " | ".join(
            r.airlock_lines))[:400]))


# --------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="airlock-escape-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def files(workdir) -> ProbeFiles:
    (workdir / "probes").mkdir()
    (workdir / "probes").chmod(0o755)
    return ProbeFiles(workdir / "probes")


@pytest.fixture(scope="session")
def host(files) -> Host:
    return Host(files)


_smoke: dict[str, Run] = {}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    b = request.param
    require(os.geteuid() == 0, "the escape suite must run as root (the launcher and the controls need it)")
    require(AIRLOCK.is_file() and os.access(AIRLOCK, os.X_OK), "%s is missing: build first (meson compile -C build)" % AIRLOCK)
    require(shutil.which(BACKEND_TOOL[b]) is not None, "%s not installed: backend %s unavailable" % (BACKEND_TOOL[b], b))
    require(sys.platform == "linux" and os.uname().machine == "x86_64", "probes are x86_64-only")
    if b not in _smoke:
        iso = "namespace" if b in SESSION_BACKENDS else b
        _smoke[b] = run_cmd([AIRLOCK, "run", "-v", "--isolation", iso, "-c", "print('airlock-smoke-ok')"],
                            env=clean_env(), timeout=60)
    s = _smoke[b]
    if "airlock-smoke-ok" not in s.out or s.rc != 0:
        pytest.fail("airlock cannot run a trivial program on backend %s:\n%s" % (b, s.show()), pytrace=False)
    if b == "gvisor" and request.node.callspec.params.get("name") in GVISOR_XFAIL:
        request.node.add_marker(pytest.mark.xfail(reason=GVISOR_XFAIL[request.node.callspec.params["name"]],
                                                  strict=False))
    return b


@pytest.fixture(scope="session")
def serve(workdir):
    s = Serve(workdir)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def sandbox(backend, files, request) -> Sandbox | SessionSandbox:
    if backend in SESSION_BACKENDS:
        return SessionSandbox(backend, files, request.getfixturevalue("serve"))
    return Sandbox(backend, files)


_control_cache: dict = {}


@pytest.fixture(scope="session")
def control_cache():
    return _control_cache


def unused_id() -> int:
    """A uid/gid no process and no passwd entry uses (for bounded host controls)."""
    used = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            with contextlib.suppress(OSError):
                for line in open("/proc/%s/status" % p):
                    if line.startswith("Uid:"):
                        used.update(int(x) for x in line.split()[1:])
                        break
    while True:
        u = random.randint(1_500_000_000, 1_600_000_000)
        if u not in used:
            return u


class Sleeper:
    """A host process `sleep` whose argv[0] is a unique marker."""

    def __init__(self, marker: str, uid: int | None = None, seconds: int = 300):
        argv = [marker, str(seconds)]
        if uid is not None:
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--",
                    "/bin/bash", "-c", 'exec -a "$0" /bin/sleep "$1"', marker, str(seconds)]
            self.proc = subprocess.Popen(argv, start_new_session=True)
        else:
            self.proc = subprocess.Popen(argv, executable="/bin/sleep", start_new_session=True)
        self.marker = marker
        self.uid = uid
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and marker not in procs.cmdline(self.proc.pid):
            time.sleep(0.01)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def sleeper():
    s = Sleeper("airlock-host-marker-" + rand_token())
    yield s
    s.stop()


class Listeners:
    """Host services on loopback and an abstract unix socket; they record who reached them."""

    def __init__(self):
        self.token = "airlock-host-banner-" + rand_token()
        self.stop = threading.Event()
        self.tcp_hits = 0
        self.udp_payloads: list[bytes] = []
        self.unix_hits = 0
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.port = self.tcp.getsockname()[1]
        self.tcp6 = None
        self.port6 = None
        with contextlib.suppress(OSError):
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", 0))
            s6.listen(16)
            self.tcp6, self.port6 = s6, s6.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.abstract_name = "airlock-test-" + rand_token()
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        socks = [s for s in (self.tcp, self.tcp6, self.udp, self.unix) if s is not None]
        while not self.stop.is_set():
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                if s is self.udp:
                    data, _ = s.recvfrom(4096)
                    self.udp_payloads.append(data)
                    continue
                with contextlib.suppress(OSError):
                    c, _ = s.accept()
                    if s is self.unix:
                        self.unix_hits += 1
                    else:
                        self.tcp_hits += 1
                    c.sendall((self.token + "\n").encode())
                    c.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        for s in (self.tcp, self.tcp6, self.udp, self.unix):
            if s is not None:
                s.close()


@pytest.fixture(scope="session")
def listeners():
    l = Listeners()
    yield l
    l.close()


libc = ctypes.CDLL(None, use_errno=True)


class SysvObjects:
    def __init__(self):
        base = random.randint(0x41000000, 0x41ffff00)
        self.shm_key, self.msg_key, self.sem_key = base, base + 1, base + 2
        self.content = ("airlock-shm-" + rand_token()).encode()
        libc.shmget.restype = ctypes.c_int
        libc.shmat.restype = ctypes.c_void_p
        self.shmid = libc.shmget(self.shm_key, 4096, 0o1666 | 0o2000)  # IPC_CREAT|IPC_EXCL|0666
        self.msgid = libc.msgget(self.msg_key, 0o1666 | 0o2000)
        self.semid = libc.semget(self.sem_key, 1, 0o1666 | 0o2000)
        if min(self.shmid, self.msgid, self.semid) < 0:
            self.close()
            raise OSError(ctypes.get_errno(), "creating host SysV IPC objects")
        addr = libc.shmat(self.shmid, None, 0)
        ctypes.memmove(addr, self.content, len(self.content))
        libc.shmdt(ctypes.c_void_p(addr))

    def close(self):
        if getattr(self, "shmid", -1) >= 0:
            libc.shmctl(self.shmid, 0, None)  # IPC_RMID
        if getattr(self, "msgid", -1) >= 0:
            libc.msgctl(self.msgid, 0, None)
        if getattr(self, "semid", -1) >= 0:
            libc.semctl(self.semid, 0, 0)

    def env(self):
        return {"AIRLOCK_PROBE_SHM_KEY": self.shm_key, "AIRLOCK_PROBE_MSG_KEY": self.msg_key,
                "AIRLOCK_PROBE_SEM_KEY": self.sem_key}


@pytest.fixture(scope="session")
def sysv():
    o = SysvObjects()
    yield o
    o.close()


CANARY_DIRS = ["/root", "/home", "/etc", "/var/log", "/var/tmp", "/tmp", "/dev/shm", "/opt", "/srv", "/mnt",
               "/run", str(HERE)]


@pytest.fixture(scope="session")
def canaries():
    """Host files with unique content in places a sandbox must not see."""
    made = []
    tok = rand_token()
    for d in CANARY_DIRS:
        if not os.path.isdir(d):
            continue
        p = os.path.join(d, ".airlock-canary-%s" % tok)
        content = "airlock-canary-content-%s-%s" % (tok, d.strip("/").replace("/", "-") or "root")
        try:
            with open(p, "x") as f:
                f.write(content)
            os.chmod(p, 0o644)
        except OSError:
            continue
        made.append((p, content))
    yield made
    for p, _ in made:
        with contextlib.suppress(OSError):
            os.unlink(p)


def sha256_file(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
        return hashlib.sha256(data).hexdigest() if data else None
    except OSError:
        return None


@pytest.fixture(scope="session")
def hostinfo(canaries):
    st = open("/proc/1/stat").read()
    rest = st[st.rindex(")") + 2:].split()
    info = {
        "hostname": socket.gethostname(),
        "domainname": open("/proc/sys/kernel/domainname").read().strip(),
        "init_comm": st[st.index("(") + 1: st.rindex(")")],
        "init_start": rest[19],
        "init_environ_sha": sha256_file("/proc/1/environ") or "",
        "digests": {p: d for p in ("/etc/shadow", "/etc/gshadow", "/etc/machine-id", "/etc/passwd")
                    if (d := sha256_file(p))},
        "ls": {},
    }
    for d in ("/root", "/var/log", "/home"):
        with contextlib.suppress(OSError):
            info["ls"][d] = [x for x in os.listdir(d) if not x.startswith(".airlock-canary-")]
    return info


@contextlib.contextmanager
def host_cgroup():
    """A fresh host cgroup (v2 or a v1 pids/cpu hierarchy); yields its cgroup.procs path."""
    name = "airlock-escape-ctl-" + rand_token(8)
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        d = "/sys/fs/cgroup/" + name
    else:
        base = next((b for b in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory")
                     if os.path.isdir(b)), None)
        if base is None:
            raise OSError(errno.ENOENT, "no cgroup hierarchy for the control")
        d = os.path.join(base, name)
    os.mkdir(d)
    try:
        yield os.path.join(d, "cgroup.procs")
    finally:
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


def run_on_pty(argv, env, timeout=30.0, stdin_pty=True):
    """Run argv as session leader with a fresh pty as its controlling terminal (stdout and
    stderr on the pty too). Returns (rc, output, bytes injected into the pty's input queue)."""
    master, slave = pty.openpty()
    tty.setraw(slave)

    def pre():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([str(a) for a in argv], stdin=slave if stdin_pty else subprocess.DEVNULL,
                         stdout=slave, stderr=slave, env=env, preexec_fn=pre, pass_fds=(slave,))
    out = b""
    t0 = time.monotonic()
    while True:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                pass
        if p.poll() is not None and not r:
            break
        if time.monotonic() - t0 > timeout:
            p.kill()
    injected = b""
    os.set_blocking(slave, False)
    with contextlib.suppress(OSError):
        injected = os.read(slave, 4096)
    os.close(master)
    os.close(slave)
    return p.returncode, out.decode("utf-8", "replace").replace("\r", ""), injected


def final_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.startswith(("ESCAPED:", "BLOCKED:")):
            return line
    return ""
