"""Drive the Python runner the way the daemon does: a socketpair end on its fd 3, its stdout and
stderr on pipes, frames checked against api/runner-protocol.schema.json in both directions."""

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testlib"))
from prereq import require

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "runners" / "python" / "airlock_runner.py"
SCHEMA = ROOT / "api" / "runner-protocol.schema.json"
EXAMPLES = ROOT / "api" / "examples" / "runner"
# The sandbox's interpreter is Debian's; run the runner under the same one.
PYTHON = os.environ.get("AIRLOCK_RUNNER_PYTHON", "/usr/bin/python3")
ANY = "<any>"
MAX_FRAME = 16 * 1024 * 1024
TERMINAL = ("done", "ack", "protocol_error", "command_done", "task_started", "task", "contexts")
KERNEL = ROOT / "runners" / "node" / "airlock_kernel.js"
KERNEL_PLACEHOLDER = "<kernel>"  # a transcript's load_kernel source: the real kernel's text
TASKS_DIR = Path("/tmp/.airlock-tasks")  # where the runner puts background tasks' output
# Like the sandbox, the runner gets a clean environment, not the test run's (which may hold
# PYTHONUNBUFFERED or a pyenv PYTHONPATH); -u is the launcher's way to unbuffer it.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1"}


class Schema:
    """Validators for each direction, built from the one checked-in schema."""

    def __init__(self):
        try:
            import jsonschema
        except ImportError:
            require(False, "the jsonschema package is not installed (pip install jsonschema)")
        self.document = json.loads(SCHEMA.read_text())
        cls = jsonschema.Draft202012Validator
        cls.check_schema(self.document)
        defs = self.document["$defs"]
        self.any = cls(self.document)
        self.request = cls({"$defs": defs, "$ref": "#/$defs/request"})
        self.event = cls({"$defs": defs, "$ref": "#/$defs/event"})

    @staticmethod
    def problems(validator, frame):
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(frame)]

    def check_request(self, frame):
        errors = self.problems(self.request, frame)
        assert not errors, f"request does not match the schema: {frame!r}: {errors}"

    def check_event(self, frame):
        errors = self.problems(self.event, frame)
        assert not errors, f"runner frame does not match the schema: {_short(frame)}: {errors}"


def _short(frame):
    text = json.dumps(frame, ensure_ascii=False)
    return text if len(text) < 2000 else text[:2000] + "..."


def matches(expected, actual):
    """Equality where the string "<any>" in expected stands for any value."""
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(matches(expected[k], actual[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(matches(e, a) for e, a in zip(expected, actual, strict=True)))
    return type(expected) is type(actual) and expected == actual


class Runner:
    """One runner process. Frames are read from the socket; stdout/stderr are collected as
    they come (so a flood of output can't block the runner) unless drain=False."""

    def __init__(self, schema, python=PYTHON, env=None, unbuffered=True):
        self.schema = schema
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = theirs.fileno()

        def on_fd_3():
            os.dup2(fd, 3)  # dup2 leaves the copy inheritable: the runner must mark it CLOEXEC

        self.proc = subprocess.Popen(
            [python, *(["-u"] if unbuffered else []), str(RUNNER)],
            preexec_fn=on_fd_3, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=str(ROOT), env=BASE_ENV if env is None else env)
        theirs.close()
        self.pid = self.proc.pid
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, "frames")
        self.frame_sel = selectors.DefaultSelector()
        self.frame_sel.register(self.sock, selectors.EVENT_READ, "frames")
        for name, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            os.set_blocking(pipe.fileno(), False)
            self.sel.register(pipe, selectors.EVENT_READ, name)
        self.inbuf = bytearray()
        self.frames = []  # received, not yet taken
        self.out = {"stdout": bytearray(), "stderr": bytearray()}
        self.eof = False
        self.task_ids = set()  # of every task_started seen: their files are removed at close

    # -- sending

    def send(self, frame, valid=True):
        if isinstance(frame, dict) and frame.get("type") == "load_kernel" and frame.get("source") == KERNEL_PLACEHOLDER:
            frame = {**frame, "source": KERNEL.read_text()}
        if valid:
            self.schema.check_request(frame)
        else:
            assert self.schema.problems(self.schema.request, frame), \
                f"the schema should refuse this request: {frame!r}"
        self.send_raw(json.dumps(frame, ensure_ascii=False).encode() + b"\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    # -- receiving

    def _pump(self, timeout, drain=True):
        """Wait up to timeout for a frame (and, if drain, collect stdout/stderr meanwhile)."""
        selector = self.sel if drain else self.frame_sel
        for key, _ in selector.select(timeout):
            if key.data == "frames":
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    self.eof = True
                    self.sel.unregister(self.sock)
                    self.frame_sel.unregister(self.sock)
                self._split(chunk)
            else:
                self._drain(key.data)

    def _split(self, chunk):
        self.inbuf += chunk
        while True:
            newline = self.inbuf.find(b"\n")
            if newline < 0:
                return
            line = bytes(self.inbuf[:newline])
            del self.inbuf[: newline + 1]
            assert len(line) <= MAX_FRAME, f"runner sent a {len(line)}-byte frame"
            frame = json.loads(line.decode("utf-8"))  # strict UTF-8, like jansson
            self.schema.check_event(frame)
            if frame.get("type") == "task_started":
                self.task_ids.add(frame["task_id"])
            self.frames.append(frame)

    def _drain(self, name):
        pipe = self.proc.stdout if name == "stdout" else self.proc.stderr
        if pipe.closed:
            return
        try:
            while chunk := os.read(pipe.fileno(), 1 << 20):
                self.out[name] += chunk
        except BlockingIOError:
            return
        if pipe in {key.fileobj for key in self.sel.get_map().values()}:
            self.sel.unregister(pipe)  # end of file: stop polling it

    def recv(self, timeout=10, drain=True):
        """The next frame. drain=False leaves stdout/stderr in their pipes meanwhile."""
        deadline = time.monotonic() + timeout
        while not self.frames:
            assert not self.eof, "the runner closed the control socket"
            left = deadline - time.monotonic()
            assert left > 0, f"no frame from the runner in {timeout}s"
            self._pump(left, drain)
        return self.frames.pop(0)

    def quiet(self, timeout=0.2):
        """True when the runner sends nothing more within timeout."""
        deadline = time.monotonic() + timeout
        while not self.frames and not self.eof and time.monotonic() < deadline:
            self._pump(max(0.0, deadline - time.monotonic()))
        return not self.frames

    def request(self, frame, timeout=10, valid=True):
        """Send a request and return every frame up to and including its terminal one."""
        self.send(frame, valid)
        got = []
        while True:
            reply = self.recv(timeout)
            got.append(reply)
            if reply["type"] in TERMINAL:
                return got

    def execute(self, code, rid="x", context=None, timeout=10):
        frame = {"type": "execute", "id": rid, "code": code}
        if context is not None:
            frame["context"] = context
        return self.request(frame, timeout)

    def command(self, command, rid="c", timeout=30, **fields):
        """A command request's frames (the last is its terminal one)."""
        return self.request({"type": "command", "id": rid, "command": command, **fields}, timeout)

    def value(self, code, **kw):
        """text/plain of a cell's result (asserting it succeeded)."""
        frames = self.execute(code, **kw)
        assert frames[-1]["status"] == "ok", frames
        assert frames[0]["type"] == "result", frames
        return frames[0]["data"]["text/plain"]

    # -- output

    def drain_now(self):
        for name in ("stdout", "stderr"):
            self._drain(name)

    def take(self, name):
        self.drain_now()
        data = bytes(self.out[name])
        self.out[name].clear()
        return data.decode("utf-8", "replace")

    def wait_output(self, name, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out[name]:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never appeared on {name}: {bytes(self.out[name])!r}"
            self._pump(left)

    # -- lifetime

    def alive(self):
        return self.proc.poll() is None

    def interrupt(self):
        os.kill(self.pid, signal.SIGINT)

    def close(self):
        if self.alive():
            # End of file first: an idle runner then exits by itself and ends its background
            # tasks (each in a session of its own: a SIGKILL to the runner would orphan them).
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
                self.proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait(10)
        for task_id in self.task_ids:
            shutil.rmtree(TASKS_DIR / task_id, ignore_errors=True)
        self.sel.close()
        self.frame_sel.close()
        self.sock.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


def replay(runner, path):
    """Play a golden transcript (see api/examples/runner/README.md) against a runner."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        where = f"{path.name}:{number}"
        step = json.loads(line)
        direction = step["dir"]
        if direction == "in":
            if "raw" in step:
                runner.send_raw(step["raw"].encode() + b"\n")
            else:
                runner.send(step["frame"], valid=step.get("valid", True))
        elif direction == "out":
            got = runner.recv()
            assert matches(step["frame"], got), \
                f"{where}: expected\n  {_short(step['frame'])}\ngot\n  {_short(got)}"
        elif direction in ("stdout", "stderr"):
            runner.drain_now()
            assert runner.take(direction) == step["text"], f"{where}: {direction} differs"
        elif direction == "signal":
            if "after" in step:
                runner.wait_output("stdout", step["after"])
            time.sleep(step.get("delay_ms", 0) / 1000)  # let the cell get past its print()
            os.kill(runner.pid, getattr(signal, step["signal"]))
        elif direction == "exit":
            assert runner.proc.wait(10) == step["status"], f"{where}: exit status"
        else:
            raise AssertionError(f"{where}: unknown dir {direction!r}")
    assert runner.quiet(), f"{path.name}: unexpected frames after the end: {runner.frames}"
    assert runner.take("stdout") == "", f"{path.name}: stdout the transcript does not show"
    assert runner.take("stderr") == "", f"{path.name}: stderr the transcript does not show"
