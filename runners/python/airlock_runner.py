"""Airlock's Python runner: a long-lived, stateful kernel inside one sandbox.

The daemon starts it as `/usr/bin/python3 -u /run/airlock/airlock_runner.py` with a
SOCK_STREAM unix socket on fd 3. Protocol frames travel only on that socket, as JSON Lines
(one UTF-8 JSON object per line, at most MAX_FRAME bytes each way);
api/runner-protocol.schema.json is the contract. The program's own stdout/stderr are fd 1/2,
which the daemon reads and attributes to the execution in progress, so the runner never
writes there itself and never wraps them.

Every request ends with exactly one terminal frame carrying its id: `done` for an execute,
`command_done` or `task_started` for a command, `task` for task_status and task_stop, `ack`
for the other requests, or `protocol_error` when the request was refused.

Shell commands run as `/bin/bash -c` in a process group of their own. A foreground command
holds the runner until it ends (its output captured on pipes); a background one is a task
whose output goes to files under TASKS_DIR, watched by a monitor thread that exists only
while tasks run (it enforces their timeouts and reaps them).

Standard library only (Python 3.11). Nothing heavy is imported before it is needed: asyncio
only for a cell that uses top-level await, subprocess and threading only for commands.
"""

import __future__

import _thread
import ast
import builtins
import gc
import json
import linecache
import os
import re
import select
import signal
import stat
import sys
import time
import traceback

PROTOCOL = 1
CONTROL_FD = 3
MAX_FRAME = 16 * 1024 * 1024  # bytes in one line, its newline excluded, in either direction
READ_CHUNK = 256 * 1024
DEFAULT_CONTEXT = "default"
CO_COROUTINE = 0x0080  # inspect.CO_COROUTINE, without importing inspect
TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
FUTURE_FLAGS = 0  # compiler flags of every __future__ feature: they persist across cells
for _feature in __future__.all_feature_names:
    FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag
RUNNER_FILE = __file__  # replaced by the code's own filename in main(); see _driver_files()
RUNNER_MODULE = None  # this module, set in main(): sys.modules["__main__"] is a context's

# Shell commands and background tasks.
WORKSPACE = "/workspace"  # base of relative cwds: replaced in main() by the starting directory
TASKS_DIR = "/tmp/.airlock-tasks"  # <task_id>/stdout and <task_id>/stderr of each task
SHELL = "/bin/bash"
MAX_ARG_STRLEN = 128 * 1024  # Linux's limit on one argv string, its NUL included
OUTPUT_CAP = 1024 * 1024  # bytes of each stream a reply carries
DEFAULT_TIMEOUT_MS = 60_000
MAX_TIMEOUT_MS = 86_400_000
KILL_GRACE = 2.0  # seconds between one signal to a command's group and the next, harder one
LINGER = 0.2  # seconds to keep reading a command's pipes once its shell has exited
POLL_INTERVAL = 0.05  # seconds between exit checks where pidfd_open is unavailable
MAX_LIVE_TASKS = 64
MAX_ENDED_TASKS = 1024  # ended tasks remembered; the oldest beyond that are forgotten
TASK_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_TASK_ID = re.compile(r"task_[a-z0-9]{12}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}")
MAX_PRELOAD = 32

# The daemon is asked to put "type" and "id" first in a frame, so that the id of a frame too
# large to parse can still be found in its first bytes and echoed in the refusal.
_LEADING_ID = re.compile(
    rb'\s*\{\s*(?:"type"\s*:\s*"[a-z_]{1,32}"\s*,\s*)?"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"')


# --- SIGINT: an interrupt for user code, never for the runner -------------------------------

# True only while user code (or code it triggers: compile, repr of its values) runs. The
# launcher sends SIGINT to every process of the sandbox on timeout/stop; it must become a
# KeyboardInterrupt in user code and be ignored anywhere else (idle, reading, writing frames).
_user_code_running = False
# While user code sends a display frame: a SIGINT is remembered, and raised once the frame is
# whole (an interrupt must never cut a frame in two on the control socket).
_defer_interrupt = False
_interrupt_pending = False
# While a foreground command runs: the write end of a pipe its wait loop watches. A SIGINT
# then stops the command (never the runner): the handler only writes a byte there.
_sigint_wakeup = None


def _on_sigint(signum, frame):
    global _interrupt_pending
    if _user_code_running:
        raise KeyboardInterrupt
    if _defer_interrupt:
        _interrupt_pending = True
        return
    if _sigint_wakeup is not None:
        try:
            os.write(_sigint_wakeup, b"!")
        except OSError:  # the pipe is full: a wake-up is pending anyway
            pass


def _call_user(fn, *args):
    """Run fn(*args) as user code: interruptible, and whatever it raises is returned as data.

    Returns (value, None) or (None, exception). The flag is a plain global store (no call, so
    no point where Python runs pending signal handlers) right next to the try, which is why a
    SIGINT can't land between the end of user code and the flag going down and escape into
    the runner. A SIGINT handler the user installed is replaced while still inside the try,
    so whatever it raises is the cell's too.
    """
    global _user_code_running, _interrupt_pending
    _interrupt_pending = False
    _user_code_running = True
    try:
        try:
            return fn(*args), None
        finally:
            _restore_sigint()
    except BaseException as exc:
        return None, exc
    finally:
        _user_code_running = False


def _restore_sigint():
    """User code may install its own SIGINT handler; it lasts for that execution only."""
    for _ in range(3):  # a pending SIGINT may run the user's handler first, which may raise
        try:
            if signal.getsignal(signal.SIGINT) is not _on_sigint:
                signal.signal(signal.SIGINT, _on_sigint)
            return
        except BaseException:
            continue


# --- Frames on the control socket -------------------------------------------------------------


class ChannelClosed(Exception):
    """The daemon's end of the control socket is gone: nothing left to serve."""


class Oversized:
    """An incoming line longer than MAX_FRAME; only its first bytes are kept (to find its id)."""

    def __init__(self, head):
        self.head = head


# Own encoder and decoder objects: faster than json.dumps/loads per call, and a cell that
# patches json.dumps (to indent its own output, say) can't put newlines into frames.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder()  # for quoting bad values in messages


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _encode(frame):
    text = _ENCODER.encode(frame)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from str() of a user exception, say) has no UTF-8 form, and
        # a \udXXX escape of it would be invalid JSON for a strict parser like jansson.
        return text.encode("utf-8", "replace")


def _clip(value, budget):
    """Copy of value with every string cut to `budget` characters and every list shortened."""
    if isinstance(value, str):
        return value if len(value) <= budget else value[:budget] + "\n... [truncated]\n"
    if isinstance(value, dict):
        return {key: _clip(item, budget) for key, item in value.items()}
    if isinstance(value, list):
        keep = max(8, budget // 64)
        if len(value) > keep:
            value = [*value[: keep // 2], "... [truncated]\n", *value[-(keep // 2):]]
        return [_clip(item, budget) for item in value]
    return value


def _fit(frame):
    """Encode a frame, cutting its text (a huge repr or traceback) until it fits MAX_FRAME."""
    data = _encode(frame)
    budget = MAX_FRAME // 8  # characters; JSON can spend up to 6 bytes on one
    while len(data) > MAX_FRAME:
        frame = _clip(frame, budget)
        frame["truncated"] = True
        data = _encode(frame)
        budget //= 2
    return data + b"\n"


class Channel:
    """JSON Lines over the inherited control socket, with the MAX_FRAME limit both ways."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.scanned = 0  # the first `scanned` bytes of buf hold no newline
        self.discarding = False  # inside an oversized line: drop bytes until its newline
        self.lock = _thread.allocate_lock()  # display() may be called from a user's thread

    def send(self, frame):
        view = memoryview(_fit(frame))
        with self.lock:
            try:
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None

    def frames(self):
        """Yield each incoming line (bytes) or an Oversized; return at end of file."""
        while True:
            newline = self.buf.find(b"\n", self.scanned)
            if newline >= 0:
                line = bytes(self.buf[:newline])
                del self.buf[: newline + 1]  # cheap: bytearray drops a prefix in place
                self.scanned = 0
                if self.discarding:
                    self.discarding = False  # the tail of a line already refused
                elif len(line) > MAX_FRAME:
                    yield Oversized(line[:4096])
                else:
                    yield line
                continue
            self.scanned = len(self.buf)
            if len(self.buf) > MAX_FRAME:
                # Refuse now rather than buffer the rest of a line that can't be served;
                # the connection stays usable from the next newline on.
                if not self.discarding:
                    yield Oversized(bytes(self.buf[:4096]))
                self.discarding = True
                self.buf.clear()
                self.scanned = 0
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except OSError:  # ECONNRESET and the like: the daemon is gone
                return
            if not chunk:
                return
            self.buf += chunk


# --- Requests --------------------------------------------------------------------------------


class RequestError(Exception):
    """A refused request: becomes a protocol_error frame; the runner carries on."""

    def __init__(self, code, message, request_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def frame(self):
        return {"type": "protocol_error", "id": self.request_id, "code": self.code,
                "message": self.message}


def _is_name(value):
    """Ids and context names: 1 to 64 of [A-Za-z0-9_-]."""
    return (isinstance(value, str) and 0 < len(value) <= 64 and value.isascii()
            and all(ch.isalnum() or ch in "_-" for ch in value))


NAME_RULE = "a string of 1 to 64 characters from [A-Za-z0-9_-]"
TASK_ID_RULE = "a task id: 'task_' and 12 characters from [a-z0-9]"
ENV_NAME_RULE = "names are 1 to 128 characters from [A-Za-z0-9_], not starting with a digit"

# Fields of each request besides "type" and "id": name -> (kind, required). The kinds are
# checked by _check_field.
REQUESTS = {
    "execute": {"code": ("string", True), "context": ("name", False),
                "language": ("language", False), "clear": ("boolean", False)},
    "create_context": {"context": ("name", True), "language": ("language", False)},
    "delete_context": {"context": ("name", True)},
    "reset_context": {"context": ("name", True)},
    "ping": {},
    "shutdown": {},
    "command": {"command": ("text", True), "cwd": ("text", False), "env": ("env", False),
                "timeout_ms": ("timeout_ms", False), "background": ("boolean", False)},
    "task_status": {"task_id": ("task_id", True)},
    "task_stop": {"task_id": ("task_id", True)},
    "list_contexts": {},
    "load_kernel": {"kernel": ("kernel", True), "source": ("string", True)},
    "preload": {"modules": ("modules", True)},
}


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _brief(value):
    """A short, safe rendering of a bad value for an error message."""
    text = _ASCII_ENCODER.encode(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_request(line):
    """Decode and check one request line; raise RequestError saying exactly what is wrong."""
    request_id = _leading_id(line)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError("bad_frame", f"frame is not valid UTF-8 (byte {exc.start})",
                           request_id) from None
    try:
        frame = _DECODER.decode(text)
    except ValueError as exc:
        raise RequestError("bad_frame", f"frame is not valid JSON: {exc}", request_id) from None
    if not isinstance(frame, dict):
        raise RequestError("bad_frame", f"frame must be a JSON object, got {_json_type(frame)}")
    raw_id = frame.get("id")
    request_id = raw_id if _is_name(raw_id) else None

    def bad(message):
        return RequestError("bad_frame", message, request_id)

    kind = frame.get("type")
    if "type" not in frame:
        raise bad("field 'type' is required")
    if not isinstance(kind, str):
        raise bad(f"field 'type' must be a string, got {_json_type(kind)}")
    if kind not in REQUESTS:
        raise bad(f"unknown type {_brief(kind)}; expected one of: {', '.join(REQUESTS)}")
    if "id" not in frame:
        raise bad(f"field 'id' is required for type '{kind}'")
    if request_id is None:
        raise bad(f"field 'id' must be {NAME_RULE}, got {_brief(raw_id)}")
    fields = REQUESTS[kind]
    for key in frame:
        if key not in fields and key not in ("type", "id"):
            raise bad(f"unexpected field {_brief(key)} for type '{kind}'; "
                      f"allowed: type, id{''.join(', ' + f for f in fields)}")
    for key, (rule, required) in fields.items():
        if key not in frame:
            if required:
                raise bad(f"field '{key}' is required for type '{kind}'")
            continue
        _check_field(key, rule, frame[key], bad)
    return frame


def _check_field(key, rule, value, bad):
    """Raise bad(message) unless value is of the field's kind."""
    if rule == "boolean":
        if not isinstance(value, bool):
            raise bad(f"field '{key}' must be a boolean, got {_json_type(value)}")
        return
    if rule == "timeout_ms":
        # An integer, as JSON Schema counts them: 5000.0 is one too.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"field '{key}' must be an integer, got {_json_type(value)}")
        if not ((isinstance(value, int) or value.is_integer()) and 1 <= value <= MAX_TIMEOUT_MS):
            raise bad(f"field '{key}' must be an integer from 1 to {MAX_TIMEOUT_MS}, "
                      f"got {_brief(value)}")
        return
    if rule == "modules":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_PRELOAD:
            raise bad(f"field '{key}' must be an array of 1 to {MAX_PRELOAD} module names, got {_brief(value)}")
        for item in value:
            if not isinstance(item, str) or not _MODULE.fullmatch(item):
                raise bad(f"field '{key}' has a bad module name {_brief(item)}: dotted Python identifiers only")
        return
    if rule == "env":
        if not isinstance(value, dict):
            raise bad(f"field '{key}' must be an object, got {_json_type(value)}")
        for name, item in value.items():
            if not _ENV_NAME.fullmatch(name):
                raise bad(f"field '{key}' has a bad variable name {_brief(name)}: {ENV_NAME_RULE}")
            if not isinstance(item, str):
                raise bad(f"field '{key}.{name}' must be a string, got {_json_type(item)}")
            if "\0" in item:
                raise bad(f"field '{key}.{name}' must not contain NUL characters")
        return
    if not isinstance(value, str):
        raise bad(f"field '{key}' must be a string, got {_json_type(value)}")
    if rule == "language" and value not in ("python", "javascript", "typescript", "bash"):
        raise bad(f"field '{key}' must be one of python, javascript, typescript, bash, "
                  f"got {_brief(value)}")
    if rule == "kernel" and value != "node":
        raise bad(f"field '{key}' must be \"node\", got {_brief(value)}")
    if rule == "name" and not _is_name(value):
        raise bad(f"field '{key}' must be {NAME_RULE}, got {_brief(value)}")
    if rule == "task_id" and not _TASK_ID.fullmatch(value):
        raise bad(f"field '{key}' must be {TASK_ID_RULE}, got {_brief(value)}")
    if rule == "text":  # goes to exec or chdir: a C string
        if not value:
            raise bad(f"field '{key}' must not be empty")
        if "\0" in value:
            raise bad(f"field '{key}' must not contain NUL characters")


def _leading_id(data):
    match = _LEADING_ID.match(data, 0, 4096)
    return match.group(1).decode("ascii") if match else None


# --- Contexts: one stateful namespace each -----------------------------------------------------


def _wait_output_taken(limit=1.0):
    """Wait until the daemon has read what the program wrote to fds 1 and 2 (at most limit s).

    A display frame travels on the control socket, the output before it on the pipes: sent
    only once the pipes are empty, it can't overtake that output, and output written after
    it can't be read before it. (FIONREAD: the bytes waiting in a pipe.)
    """
    import fcntl
    import termios

    deadline = time.monotonic() + limit
    for fd in (1, 2):
        while True:
            try:
                pending = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, bytes(4)), sys.byteorder)
            except OSError:  # not a pipe (a file, a closed fd): nothing to wait for
                break
            if pending <= 0 or time.monotonic() >= deadline:
                break
            time.sleep(0.0005)


def _flush_std():
    """Push buffered program output into the fd 1/2 pipes before an execution is reported done.

    With -u the streams write through anyway; this covers a runner started without it and
    streams the user re-pointed. A broken or closed stream is the program's business.
    """
    seen = set()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is None or id(stream) in seen:
            continue
        seen.add(id(stream))
        try:
            stream.flush()
        except Exception:
            pass


_user_site = {"mtime": None}


def _see_installs():
    """Make packages installed during the session importable in it.

    `pip install` in a session lands in the user site under the workspace (the system
    Python is read-only here): Python puts that directory on sys.path only if it existed
    when the runner started, and the import system caches directory listings. Both are
    brought up to date before each cell, cheaply when nothing changed.
    """
    import site

    path = site.getusersitepackages()
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return
    if mtime == _user_site["mtime"]:
        return
    _user_site["mtime"] = mtime
    if path not in sys.path:
        site.addsitedir(path)
    import importlib

    importlib.invalidate_caches()


def _ends_with_semicolon(source_lines, node):
    """`plt.plot(x);` hides the value, as in IPython (offsets are UTF-8 byte offsets)."""
    line = source_lines[node.end_lineno - 1].encode("utf-8")
    return line[node.end_col_offset:].lstrip().startswith(b";")


class Context:
    """A kernel: a __main__ namespace whose variables, imports and functions persist."""

    language = "python"

    def __init__(self, name):
        self.name = name
        # A real module object, installed as sys.modules["__main__"] while the context runs,
        # so pickle and multiprocessing find functions and classes defined in cells.
        self.module = type(sys)("__main__")
        self.namespace = self.module.__dict__
        self.namespace["__builtins__"] = builtins
        self.execution_count = 0
        self.compile_flags = 0  # __future__ features turned on by earlier cells
        self.cells = {}  # "<cell N>" -> linecache entry: tracebacks show the cell's lines
        self.loop = None  # asyncio event loop for top-level await, made on first use
        self.used_loop = False

    def run_cell(self, source):
        """Compile and run one cell (as user code); return the MIME bundle of its value or None.

        If the last statement is an expression, its value is the cell's result, as in Jupyter.
        """
        _see_installs()
        self.used_loop = False
        filename = f"<cell {self.execution_count}>"
        lines = source.splitlines(True)
        entry = (len(source), None, lines, filename)  # mtime None: linecache keeps it
        self.cells[filename] = entry
        linecache.cache[filename] = entry
        flags = TOP_LEVEL_AWAIT | self.compile_flags
        tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | flags, dont_inherit=True)
        last = None
        if (tree.body and isinstance(tree.body[-1], ast.Expr)
                and not _ends_with_semicolon(lines, tree.body[-1])):
            last = ast.Expression(tree.body.pop().value)
        if tree.body:
            code = compile(tree, filename, "exec", flags, dont_inherit=True)
            self.compile_flags |= code.co_flags & FUTURE_FLAGS
            self._run(code)
        if last is None:
            return None
        value = self._run(compile(last, filename, "eval", flags, dont_inherit=True))
        if value is None:
            return None
        bundle = _mime_bundle(value)
        if "image/png" in bundle and CHART_MIME in bundle and "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(value)  # a figure shown once, not again
        return bundle

    def _run(self, code):
        result = eval(code, self.namespace)  # running the user's code is the job
        if code.co_flags & CO_COROUTINE:
            result = self._await(result)
        return result

    def _await(self, coroutine):
        """Top-level await, best effort: drive the cell's coroutine on this context's loop."""
        import asyncio  # heavy: only for cells that need it

        self.used_loop = True
        if self.loop is None or self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        task = self.loop.create_task(coroutine)
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                # Interrupted while the loop waited: cancel the cell's task so that it can't
                # wake up inside a later cell.
                task.cancel()
                try:
                    self.loop.run_until_complete(task)
                except BaseException:
                    pass
            elif not task.cancelled():
                task.exception()  # mark it retrieved: no "never retrieved" log at exit
            raise

    def close(self):
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.close()
            except Exception:
                pass


# --- Rich display: MIME bundles, matplotlib figures, chart data ---------------------------------

# IPython's display protocol: a method per MIME type, looked up on the value's class.
REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
    ("text/latex", "_repr_latex_"),
)
BINARY_MIME = ("image/png", "image/jpeg")  # bytes, carried as base64
CHART_MIME = "application/vnd.airlock.chart+json"
SPILLED_MIME = "application/vnd.airlock.spilled+json"  # what was cut, and where the whole is
TEXT_CAP = 1024 * 1024  # characters of one text form in a bundle; the rest goes to a file
IMAGE_CAP = 4 * 1024 * 1024  # bytes of one image; a figure is re-rendered smaller first
MIN_DPI = 24
CHART_POINTS_CAP = 5000  # points of one series in chart data; more are sampled evenly
OUTPUTS_DIR = ".airlock/outputs"  # under the workspace: spilled text and images
MPL_BACKEND = "airlock_inline"  # module name of our matplotlib backend (see _ImportHooks)


class _Outlet:
    """Where display() sends bundles: the execution in progress, if any."""

    channel = None
    request_id = None
    pid = None
    label = "cell"  # names spilled files: <context>-<execution_count>-<n>
    seq = 0
    lock = None  # a _thread lock: a user thread may display while the main thread sends


def display(*objs, raw=False):
    """Show each object as a rich result of the running execution, in order (as in IPython).

    raw=True takes objects that already are MIME bundles ({"text/plain": ..., ...}).
    """
    for obj in objs:
        if raw and isinstance(obj, dict):
            bundle = {str(k): v for k, v in obj.items()}
            bundle.setdefault("text/plain", "")
        else:
            bundle = _mime_bundle(obj)
        if bundle is not None:
            _emit("display", bundle)


def _emit(kind, bundle):
    """Send a display frame now (called from user code: an interrupt may not cut a frame)."""
    global _user_code_running, _defer_interrupt, _interrupt_pending
    if _Outlet.channel is None or os.getpid() != _Outlet.pid:
        return  # outside an execution, or in a child the cell forked: nowhere to show it
    _Outlet.seq += 1
    frame = {"type": kind, "id": _Outlet.request_id, "data": _limit_bundle(bundle)}
    _flush_std()  # what was printed before the display arrives before it
    _wait_output_taken()
    was_running = _user_code_running
    _defer_interrupt, _user_code_running = was_running, False
    try:
        _Outlet.channel.send(frame)
    finally:
        _user_code_running, _defer_interrupt = was_running, False
    if was_running and _interrupt_pending:
        _interrupt_pending = False
        raise KeyboardInterrupt


def _method_of(value, name):
    """A display method defined by the value's class (not conjured by a __getattr__)."""
    if isinstance(value, type) or getattr(type(value), name, None) is None:
        return None
    method = getattr(value, name, None)
    return method if callable(method) else None


def _mime_bundle(value):
    """The displayable forms of a value: text/plain always, plus what it offers."""
    bundle = {"text/plain": repr(value)}  # a repr that fails is the cell's error
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    if module.startswith("matplotlib.") and kind.__name__ == "Figure":
        bundle.update(_figure_bundle(value))
        return bundle
    mimebundle = _method_of(value, "_repr_mimebundle_")
    if mimebundle is not None:
        try:
            extra = mimebundle(include=None, exclude=None)
            if isinstance(extra, tuple):
                extra = extra[0]
            if isinstance(extra, dict):
                for mime, data in extra.items():
                    if isinstance(mime, str) and mime != "text/plain" and data is not None:
                        bundle[mime] = _encode_form(mime, data)
        except Exception:
            pass
    for mime, name in REPR_METHODS:
        if mime in bundle:
            continue
        method = _method_of(value, name)
        if method is None:
            continue
        try:
            data = method()
        except Exception:  # a broken formatter loses only its own form, as in IPython
            continue
        if isinstance(data, tuple):  # (data, metadata)
            data = data[0] if data else None
        if data is not None:
            form = _encode_form(mime, data)
            if form is not None:
                bundle[mime] = form
    if (module.startswith("pandas.") and kind.__name__ == "Series"
            and "text/html" not in bundle):
        try:
            bundle["text/html"] = value.to_frame()._repr_html_()
        except Exception:
            pass
    return bundle


def _text_of(value):
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object (repr failed: {type(exc).__name__})>"


def _encode_form(mime, data):
    import base64

    if mime in BINARY_MIME or (mime.startswith("image/") and mime != "image/svg+xml"):
        if isinstance(data, str):
            return data  # already base64, by the protocol's convention
        if isinstance(data, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(data)).decode("ascii")
        return None
    if mime == "application/json" or mime.endswith("+json"):
        try:
            _ENCODER.encode(data)
        except (TypeError, ValueError):
            return None
        return data
    return data if isinstance(data, str) else str(data)


def _spill(data, ext):
    """Save the whole of a cut form under the workspace; its path there, or None."""
    label = f"{_Outlet.label}-{_Outlet.seq}"
    relative = f"{OUTPUTS_DIR}/{label}.{ext}"
    try:
        os.makedirs(os.path.join(WORKSPACE, OUTPUTS_DIR), exist_ok=True)
        with open(os.path.join(WORKSPACE, relative), "wb") as file:
            file.write(data)
    except OSError:  # the quota is full, say: the cut form is all there is
        return None
    return relative


def _limit_bundle(bundle):
    """Keep every form within its cap: long text cut with a marker, big images moved out."""
    import base64

    spilled = []
    for mime in list(bundle):
        data = bundle[mime]
        if mime in (CHART_MIME, SPILLED_MIME):
            continue
        if isinstance(data, str) and mime.startswith("image/") and mime != "image/svg+xml":
            if len(data) * 3 // 4 <= IMAGE_CAP:
                continue
            raw = base64.b64decode(data)
            path = _spill(raw, mime.split("/")[1].split("+")[0])
            del bundle[mime]
            spilled.append({"mime": mime, "bytes": len(raw), "path": path})
        elif isinstance(data, str):
            if len(data) <= TEXT_CAP:
                continue
            whole = data.encode("utf-8", "replace")
            ext = {"text/html": "html", "text/markdown": "md", "image/svg+xml": "svg",
                   "text/latex": "tex"}.get(mime, "txt")
            path = _spill(whole, ext)
            where = f"; the whole is {path} in the workspace" if path else ""
            bundle[mime] = data[:TEXT_CAP] + (
                f"\n... [truncated: {len(data) - TEXT_CAP} more characters{where}]\n")
            spilled.append({"mime": mime, "bytes": len(whole), "path": path})
        elif mime not in ("text/plain",):
            text = _ENCODER.encode(data)
            if len(text) <= TEXT_CAP:
                continue
            path = _spill(text.encode("utf-8", "replace"), "json")
            del bundle[mime]
            spilled.append({"mime": mime, "bytes": len(text), "path": path})
    if spilled:
        bundle[SPILLED_MIME] = spilled
    return bundle


# matplotlib: our backend renders figures as results on plt.show() and at the end of a cell.


class _ImportHooks:
    """A sys.meta_path finder that adjusts matplotlib as it is imported (never imports it).

    matplotlib: the runner's backend becomes the default (unless MPLBACKEND says otherwise);
    matplotlib.axes: pie() and bxp() remember their input for chart data; airlock_inline:
    the backend module itself.
    """

    def __init__(self):
        self.after = {"matplotlib": _adjust_matplotlib, "matplotlib.axes": _adjust_axes}

    def find_spec(self, fullname, path=None, target=None):
        if fullname == MPL_BACKEND:
            import importlib.util

            return importlib.util.spec_from_loader(fullname, _BackendLoader())
        hook = self.after.get(fullname)
        if hook is None:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module):
            run(module)
            try:
                hook(module)
            except Exception:  # an unexpected matplotlib: plain Agg, no chart extras
                pass

        loader.exec_module = exec_module
        return spec


class _BackendLoader:
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from matplotlib.backends import backend_agg

        module.FigureCanvas = backend_agg.FigureCanvasAgg
        module.FigureManager = backend_agg.FigureManagerBase
        module.show = _show_figures


# matplotlib's font cache, built once on the host (scripts/build-font-cache.sh) and shared
# read-only by every sandbox (src/sandbox/plan.c: SANDBOX_FONT_CACHE).
FONT_CACHE = "/run/airlock/matplotlib"


def _copy_font_cache():
    """Copy the shared font cache into this session's MPLCONFIGDIR, so that the first
    `import matplotlib.pyplot` reads it instead of building one (about 65 ms). A copy
    (38 KB), not a link: the directory and what is in it stay the session's own, since
    matplotlib writes its cache back when it rebuilds it (a font gone from the host, say)
    and fails when it cannot; what it writes there, no other session reads."""
    config = os.environ.get("MPLCONFIGDIR")
    try:
        names = [n for n in os.listdir(FONT_CACHE) if n.startswith("fontlist-") and n.endswith(".json")]
        if not config or not names:
            return
        os.makedirs(config, exist_ok=True)
    except OSError:  # no shared cache on this host: matplotlib builds its own, as it would
        return
    for name in names:
        try:
            with open(os.path.join(FONT_CACHE, name), "rb") as src, open(os.path.join(config, name), "xb") as dst:
                dst.write(src.read())
        except OSError:  # a cache of the session's own already there, or no room: matplotlib builds one
            pass


def _adjust_matplotlib(matplotlib):
    # The sandbox sets MPLBACKEND=Agg for every process (headless); in the runner our
    # Agg-based backend takes its place. Another backend someone chose is left alone.
    if os.environ.get("MPLBACKEND", "agg").lower() == "agg":
        matplotlib.rcParams["backend"] = "module://" + MPL_BACKEND


def _adjust_axes(axes_module):
    axes = axes_module.Axes
    pie, bxp = axes.pie, axes.bxp

    def pie_recording(self, x, *args, **kwargs):
        made = pie(self, x, *args, **kwargs)
        try:
            self._airlock_pie = [float(v) for v in x]
        except (TypeError, ValueError):
            pass
        return made

    def bxp_recording(self, bxpstats, *args, **kwargs):
        made = bxp(self, bxpstats, *args, **kwargs)
        artists = {id(a) for group in made.values() for a in group}
        positions = kwargs.get("positions") or (args[0] if args else None)
        boxes = getattr(self, "_airlock_boxes", [])
        for index, stats in enumerate(bxpstats):
            where = positions[index] if positions is not None else index + 1
            boxes.append((stats, where))
        self._airlock_boxes = boxes
        self._airlock_box_artists = getattr(self, "_airlock_box_artists", set()) | artists
        return made

    pie_recording.__wrapped__ = pie
    bxp_recording.__wrapped__ = bxp
    for name, fn in (("pie", pie_recording), ("bxp", bxp_recording)):
        fn.__name__, fn.__qualname__, fn.__doc__ = name, f"Axes.{name}", getattr(axes, name).__doc__
        setattr(axes, name, fn)


def _show_figures(*args, **kwargs):
    """plt.show(), and the end of every cell: each open figure becomes a result, then closes."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if pyplot is None or helpers is None:
        return
    for manager in helpers.Gcf.get_all_fig_managers():
        figure = manager.canvas.figure
        try:
            if figure.get_axes() or figure.texts or figure.images:
                _emit("display", {"text/plain": _text_of(figure), **_figure_bundle(figure)})
        finally:
            pyplot.close(figure)


def _figure_bundle(figure):
    """image/png (and image/svg+xml when AIRLOCK_FIGURE_FORMATS asks) and chart data."""
    import base64
    import io

    forms = {}
    formats = os.environ.get("AIRLOCK_FIGURE_FORMATS", "png").split(",")
    dpi = figure.dpi
    while "png" in formats:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        png = buffer.getvalue()
        if len(png) <= IMAGE_CAP or dpi <= MIN_DPI:
            forms["image/png"] = base64.b64encode(png).decode("ascii")
            break
        dpi = max(MIN_DPI, dpi * (IMAGE_CAP / len(png)) ** 0.5 * 0.9)  # downscale, try again
    if "svg" in formats:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        forms["image/svg+xml"] = buffer.getvalue().decode("utf-8")
    try:
        forms[CHART_MIME] = _chart_of(figure)
    except Exception as exc:  # chart data is a help, never a reason to lose the image
        forms[CHART_MIME] = {"type": "unknown", "error": f"{type(exc).__name__}: {exc}"}
    return forms


def _chart_of(figure):
    """What a figure shows, as data: one chart per axes, several for a multi-axes figure."""
    charts = [_axes_chart(ax) for ax in figure.get_axes()
              if ax.get_visible() and not _is_colorbar(ax)]
    suptitle = getattr(figure, "_suptitle", None)
    title = suptitle.get_text() if suptitle is not None else ""
    if len(charts) == 1:
        if title and not charts[0]["title"]:
            charts[0]["title"] = title
        return charts[0]
    return {"type": "multi", "title": title, "charts": charts}


def _is_colorbar(ax):
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None  # NaN and infinities have no JSON form
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _decoder(axis):
    """Turns plotted numbers back into what the user plotted: categories, dates, numbers."""
    units = getattr(axis, "units", None)
    mapping = getattr(units, "_mapping", None)
    if isinstance(mapping, dict) and mapping:
        names = {float(v): k for k, v in mapping.items()}
        return lambda v: names.get(float(v), _number(v))
    converter = getattr(axis, "converter", None)
    if converter is not None and "date" in type(converter).__name__.lower():
        dates = sys.modules.get("matplotlib.dates")
        if dates is not None:
            def as_date(v):
                try:
                    return dates.num2date(float(v)).isoformat()
                except (TypeError, ValueError, OverflowError):
                    return _number(v)
            return as_date
    return _number


def _points(xs, ys, decode_x, decode_y):
    count = min(len(xs), len(ys))
    step = max(1, -(-count // CHART_POINTS_CAP))
    points = [[decode_x(xs[i]), decode_y(ys[i])] for i in range(0, count, step)]
    return points, step > 1


def _series_label(artist):
    label = artist.get_label()
    return "" if not isinstance(label, str) or label.startswith("_") else label


def _axes_chart(ax):
    decode_x, decode_y = _decoder(ax.xaxis), _decoder(ax.yaxis)
    chart = {"type": "unknown", "title": ax.get_title(), "x_label": ax.get_xlabel(),
             "y_label": ax.get_ylabel(), "x_scale": ax.get_xscale(),
             "y_scale": ax.get_yscale()}
    kinds = {}
    skip = getattr(ax, "_airlock_box_artists", set())
    boxes = getattr(ax, "_airlock_boxes", None)
    if boxes:
        kinds["box"] = [{
            "label": str(stats.get("label", where)),
            "min": _number(stats.get("whislo")), "q1": _number(stats.get("q1")),
            "median": _number(stats.get("med")), "q3": _number(stats.get("q3")),
            "max": _number(stats.get("whishi")), "mean": _number(stats.get("mean")),
            "outliers": [_number(v) for v in list(stats.get("fliers", []))[:CHART_POINTS_CAP]],
        } for stats, where in boxes]
    wedges = [p for p in ax.patches if type(p).__name__ == "Wedge"]
    if wedges:
        values = getattr(ax, "_airlock_pie", None)
        if values is None or len(values) != len(wedges):
            values = None
        kinds["pie"] = [{
            "label": _series_label(w),
            "value": _number(values[i]) if values else None,
            "fraction": round(abs(w.theta2 - w.theta1) / 360.0, 6),
        } for i, w in enumerate(wedges)]
    bars = []
    for container in ax.containers:
        if type(container).__name__ != "BarContainer":
            continue
        horizontal = getattr(container, "orientation", None) == "horizontal"
        group = _series_label(container)
        for patch in container.patches:
            if horizontal:
                where, value = patch.get_y() + patch.get_height() / 2, patch.get_width()
                label = decode_y(where)
            else:
                where, value = patch.get_x() + patch.get_width() / 2, patch.get_height()
                label = decode_x(where)
            bars.append({"label": label if isinstance(label, str) else _tick_label(ax, where, horizontal),
                         "value": _number(value), "group": group})
        chart["orientation"] = "horizontal" if horizontal else "vertical"
    if bars:
        kinds["bar"] = bars
    scatters = []
    for collection in ax.collections:
        if type(collection).__name__ != "PathCollection" or id(collection) in skip:
            continue
        offsets = collection.get_offsets()
        points, sampled = _points(offsets[:, 0], offsets[:, 1], decode_x, decode_y)
        entry = {"label": _series_label(collection), "points": points}
        if sampled:
            entry["sampled"] = True
        scatters.append(entry)
    if scatters:
        kinds["scatter"] = scatters
    lines = []
    for line in ax.get_lines():
        if id(line) in skip:
            continue
        xs, ys = line.get_xdata(orig=False), line.get_ydata(orig=False)
        points, sampled = _points(xs, ys, decode_x, decode_y)
        if line.get_linestyle() in ("None", "none", " ", "") and line.get_marker() not in (None, "None", "none", ""):
            target = scatters  # plt.plot(x, y, "o"): points, not a line
        else:
            target = lines
        entry = {"label": _series_label(line), "points": points}
        if sampled:
            entry["sampled"] = True
        target.append(entry)
    if lines:
        kinds["line"] = lines
    if scatters:
        kinds["scatter"] = scatters
    if len(kinds) == 1:
        (kind, elements), = kinds.items()
        chart["type"], chart["elements"] = kind, elements
    elif kinds:
        chart["type"] = "composite"
        chart["charts"] = [{"type": kind, "elements": elements} for kind, elements in kinds.items()]
    else:
        chart["elements"] = []
    return chart


def _tick_label(ax, where, horizontal):
    """The tick label at a bar's position (bar charts of numbers labelled by set_xticks)."""
    axis = ax.yaxis if horizontal else ax.xaxis
    for tick in axis.get_major_ticks():
        text = tick.label1.get_text()
        try:
            if not text or abs(float(tick.get_loc()) - where) >= 1e-9:
                continue
        except (TypeError, ValueError):
            continue
        try:
            float(text.replace("\u2212", "-"))  # a number printed as a label is no name
        except ValueError:
            return text
        break
    return _number(where)


# --- Errors of user code, as data -----------------------------------------------------------------


def _driver_files(used_loop):
    """Files whose frames at the top of a traceback are the runner's machinery, not the user's."""
    files = {RUNNER_FILE}
    asyncio = sys.modules.get("asyncio")
    if used_loop and asyncio is not None:
        files.add(os.path.dirname(asyncio.__file__))
        files.add(sys.modules["selectors"].__file__)
    return files


def _is_driver(filename, driver_files):
    return filename in driver_files or os.path.dirname(filename) in driver_files


def _strip_runner_frames(report, driver_files):
    """Leave only the user's frames in a TracebackException and the exceptions chained to it.

    Dropped: the leading frames of the runner (and of the event loop it drove) that called
    into the cell, and any other frame of the runner's file, such as its SIGINT handler,
    which is the innermost frame of an interrupt.
    """
    seen = set()
    pending = [report]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        frames = list(current.stack)
        while frames and _is_driver(frames[0].filename, driver_files):
            frames.pop(0)
        current.stack = traceback.StackSummary.from_list(
            [frame for frame in frames if frame.filename != RUNNER_FILE])
        pending += [current.__cause__, current.__context__, *(current.exceptions or ())]


def _describe_exception(exc, driver_files):
    """The error frame's fields (runs as user code: str() of an exception is theirs)."""
    report = traceback.TracebackException.from_exception(exc, compact=True)
    _strip_runner_frames(report, driver_files)
    try:
        value = str(exc)
    except Exception:
        value = "<exception str() failed>"
    return {"name": type(exc).__name__, "value": value, "traceback": list(report.format())}


# --- Shell commands and background tasks ----------------------------------------------------------


def _exit_fields(returncode):
    """(exit_code, signal) of a Popen returncode; both None while the process runs."""
    if returncode is None:
        return None, None
    return (returncode, None) if returncode >= 0 else (None, -returncode)


def _utf8_head(data):
    """Length of data without a multi-byte UTF-8 sequence cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # ASCII or a lead byte: the last sequence starts here
            need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else \
                4 if byte >> 3 == 0b11110 else 1
            return len(data) - back if need > back else len(data)
    return len(data)


def _utf8_tail_start(data):
    """Offset past the continuation bytes of a sequence cut off at the start of data."""
    skip = 0
    while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
        skip += 1
    return skip


class _Head:
    """The first OUTPUT_CAP bytes of a stream, and a count of the rest."""

    def __init__(self):
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk):
        keep = max(0, min(len(chunk), OUTPUT_CAP - len(self.data)))
        self.data += chunk[:keep]
        self.dropped += len(chunk) - keep

    def text(self):
        """(text, dropped bytes): a character cut in two at the cap counts as dropped."""
        data, dropped = bytes(self.data), self.dropped
        if dropped:
            end = _utf8_head(data)
            data, dropped = data[:end], dropped + len(data) - end
        return data.decode("utf-8", "replace"), dropped


def _read_tail(path):
    """(text, dropped bytes) of the last OUTPUT_CAP bytes of a file that may be growing."""
    try:
        with open(path, "rb") as file:
            start = max(0, os.fstat(file.fileno()).st_size - OUTPUT_CAP)
            file.seek(start)
            data = file.read(OUTPUT_CAP)
    except OSError:  # removed by the user: nothing to show
        return "", 0
    skip = _utf8_tail_start(data) if start else 0
    return data[skip:].decode("utf-8", "replace"), start + skip


def _pidfd(pid):
    """A descriptor that turns readable when the process exits (Linux 5.3+), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # an old kernel, or a sandbox kernel without it
        return None


def _leader_exited(proc):
    """Has the command's shell exited? Asked without reaping it: while it is a zombie, its pid,
    which is also its process group's id, can't be reused, so the group can still be signalled."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped behind our back (os.wait() in a cell): it is gone
        return True


def _signal_group(proc, signum):
    """Signal a command's process group, only while its shell is unreaped (see above)."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:  # BlockingIOError: empty
        pass


def _command_file(text):
    """An unlinked file holding text, positioned at its start, close-on-exec."""
    try:
        fd = os.memfd_create("airlock-command", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # no memfd in this kernel: an unnamed file in /tmp
        fd = os.open("/tmp", os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _shell_argv(command):
    """(argv, fd to pass or None) for `bash -c command`.

    A command too long for one argv string (MAX_ARG_STRLEN) travels in a file on an inherited
    descriptor instead: bash reads it with its own `read` (no PATH lookup), closes the
    descriptor, and evals the text with the variable that held it already unset.
    """
    encoded = os.fsencode(command)  # what exec would get: UTF-8, lone surrogates escaped
    if len(encoded) < MAX_ARG_STRLEN:
        return [SHELL, "-c", command], None
    fd = _command_file(encoded)
    loader = (f"IFS= read -r -d '' __airlock_command <&{fd}; exec {fd}<&-; "
              'eval "unset -v __airlock_command\n$__airlock_command"')
    return [SHELL, "-c", loader], fd


def _spawn(request_id, command, cwd, env, stdout, stderr):
    """Start `bash -c command` in a new session (its own process group), stdin /dev/null, with
    no descriptor but 0, 1 and 2 (fd 3, the control socket, above all)."""
    import subprocess

    try:
        info = os.stat(cwd)
    except FileNotFoundError:
        raise RequestError("bad_cwd", f"cwd {_brief(cwd)} does not exist", request_id)
    except OSError as exc:
        raise RequestError("bad_cwd", f"cwd {_brief(cwd)}: {exc.strerror}", request_id)
    if not stat.S_ISDIR(info.st_mode):
        raise RequestError("bad_cwd", f"cwd {_brief(cwd)} is not a directory", request_id)
    if not os.access(cwd, os.X_OK):
        raise RequestError("bad_cwd", f"cwd {_brief(cwd)}: permission denied", request_id)
    command_fd = None
    try:
        argv, command_fd = _shell_argv(command)
        return subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr, start_new_session=True, close_fds=True,
            pass_fds=() if command_fd is None else (command_fd,))
    except OSError as exc:
        if exc.filename == cwd:
            raise RequestError("bad_cwd", f"cwd {_brief(cwd)}: {exc.strerror}", request_id)
        raise RequestError("spawn_failed", f"cannot start {SHELL}: {exc.strerror or exc}",
                           request_id)
    except ValueError as exc:  # text exec can't take (a lone surrogate, say)
        raise RequestError("spawn_failed", f"cannot start {SHELL}: {exc}", request_id)
    finally:
        if command_fd is not None:
            os.close(command_fd)


def _run_foreground(request_id, command, cwd, env, timeout):
    """Run a command to its end and return its command_done fields (without type and id).

    Both pipes are read as data comes (a selector), so a command filling one while the runner
    waits on the other can't deadlock. The command is over when its shell exits; what its
    leftover background processes still write in the next LINGER seconds is kept, after which
    the pipes are closed on them. On timeout the group gets SIGTERM, then SIGKILL KILL_GRACE
    later; on a SIGINT to the runner, SIGINT, then SIGTERM and SIGKILL at the same pace.
    """
    global _sigint_wakeup
    import selectors
    import subprocess

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    selector = selectors.DefaultSelector()
    proc = pidfd = None
    try:
        _sigint_wakeup = wake_w  # from here a SIGINT is the command's
        started = time.monotonic()
        proc = _spawn(request_id, command, cwd, env, subprocess.PIPE, subprocess.PIPE)
        captured = {"stdout": _Head(), "stderr": _Head()}
        open_pipes = 0
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe.fileno(), selectors.EVENT_READ, name)
            open_pipes += 1
        selector.register(wake_r, selectors.EVENT_READ, "sigint")
        pidfd = _pidfd(proc.pid)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        deadline = started + timeout
        steps = []  # (when, signal) still to send to the group
        timed_out = interrupted = False
        ended = None
        while True:
            now = time.monotonic()
            if ended is None:
                if not (timed_out or interrupted) and now >= deadline:
                    timed_out = True
                    steps = [(now, signal.SIGTERM), (now + KILL_GRACE, signal.SIGKILL)]
                while steps and steps[0][0] <= now:
                    _signal_group(proc, steps.pop(0)[1])
                if _leader_exited(proc):
                    ended = now
                    if timed_out or interrupted:  # nothing of it may outlive a stop
                        _signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    if pidfd is not None:
                        selector.unregister(pidfd)
                        os.close(pidfd)
                        pidfd = None
            if ended is not None and (open_pipes == 0 or now >= ended + LINGER):
                break
            if ended is not None:
                wake_at = ended + LINGER
            elif steps:
                wake_at = steps[0][0]
            else:
                wake_at = None if (timed_out or interrupted) else deadline
            wait = None if wake_at is None else max(0.0, wake_at - now)
            if ended is None and pidfd is None:
                wait = POLL_INTERVAL if wait is None else min(wait, POLL_INTERVAL)
            for key, _ in selector.select(wait):
                if key.data == "sigint":
                    _drain(wake_r)
                    if ended is None and not (timed_out or interrupted):
                        interrupted = True
                        now = time.monotonic()
                        steps = [(now, signal.SIGINT), (now + KILL_GRACE, signal.SIGTERM),
                                 (now + 2 * KILL_GRACE, signal.SIGKILL)]
                elif key.data in captured:
                    try:
                        chunk = os.read(key.fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if chunk:
                        captured[key.data].add(chunk)
                    else:
                        selector.unregister(key.fd)
                        open_pipes -= 1
        exit_code, signum = _exit_fields(proc.returncode)
        stdout, stdout_dropped = captured["stdout"].text()
        stderr, stderr_dropped = captured["stderr"].text()
        return {"exit_code": exit_code, "signal": signum, "stdout": stdout, "stderr": stderr,
                "stdout_dropped_bytes": stdout_dropped, "stderr_dropped_bytes": stderr_dropped,
                "duration_ms": round((ended - started) * 1000, 3), "timed_out": timed_out}
    finally:
        _sigint_wakeup = None
        if proc is not None:
            if proc.returncode is None:  # a failure of the runner's own: leave nothing behind
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        if pidfd is not None:
            os.close(pidfd)
        selector.close()
        os.close(wake_r)
        os.close(wake_w)


class Task:
    """A background command. Its mutable state is guarded by Tasks.lock."""

    def __init__(self, task_id, command, proc, directory, started, started_at, deadline):
        self.id = task_id
        self.command = command
        self.proc = proc
        self.directory = directory
        self.started = started  # time.monotonic()
        self.started_at = started_at  # RFC 3339, UTC
        self.deadline = deadline
        self.pidfd = _pidfd(proc.pid)  # closed by the monitor thread only
        self.ended = None  # time.monotonic() when its shell was seen to exit
        self.stopping = None  # "killed" or "timed_out" once the runner began to stop it
        self.kill_at = None  # when the SIGKILL of a stop is due

    def next_event(self):
        if self.kill_at is not None:
            return self.kill_at
        return self.deadline if self.stopping is None else float("inf")

    def status(self):
        if self.ended is None:
            return "running"
        return self.stopping or "exited"


def _rfc3339(seconds):
    millis = min(999, int(seconds % 1 * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _new_task_id():
    return "task_" + "".join(TASK_ID_ALPHABET[byte % 36] for byte in os.urandom(12))


def _remove_task_files(directory):
    for name in ("stdout", "stderr"):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


def _open_task_files(request_id, task_id):
    """Make TASKS_DIR/<task_id>/ (0700) with empty stdout and stderr files; their fds."""
    directory = os.path.join(TASKS_DIR, task_id)
    fds = []
    try:
        try:
            os.mkdir(TASKS_DIR, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(TASKS_DIR)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise RequestError("spawn_failed", f"{TASKS_DIR} is not a directory of the runner's"
                               " user", request_id)
        os.chmod(TASKS_DIR, 0o700)
        os.mkdir(directory, 0o700)
        os.chmod(directory, 0o700)  # whatever the umask
        for name in ("stdout", "stderr"):
            fds.append(os.open(os.path.join(directory, name),
                               os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                               0o600))
    except OSError as exc:
        for fd in fds:
            os.close(fd)
        _remove_task_files(directory)
        raise RequestError("spawn_failed", f"cannot create {directory}: {exc.strerror or exc}",
                           request_id)
    return directory, fds


# Signals the monitor thread blocks, so that the kernel delivers them to the main thread,
# where Python runs handlers and where a SIGINT must interrupt a blocking call.
_MONITOR_BLOCKED = signal.valid_signals() - {
    signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE,
    signal.SIGILL, signal.SIGTRAP, signal.SIGABRT, signal.SIGSYS}


class Tasks:
    """The background tasks of a runner.

    A monitor thread runs while any task does: it sleeps until a task exits (a pidfd per task
    where the kernel has pidfd_open, else a short poll) or a deadline comes, then reaps the
    task or signals its group, so timeouts hold and zombies go even while a cell runs. It
    never forks and blocks the asynchronous signals. The main thread looks at tasks (and
    advances them too, so an answer is never staler than the request) under the same lock.
    """

    def __init__(self):
        import threading

        self.threading = threading
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # notified when a task ends
        self.tasks = {}  # task id -> Task, oldest first
        self.monitor = None
        self.wake_r, self.wake_w = os.pipe()  # nudges the monitor: new task, stop requested
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    def _live(self):
        return [task for task in self.tasks.values() if task.ended is None]

    def _wake(self):
        try:
            os.write(self.wake_w, b"!")
        except OSError:  # full: the monitor has a wake-up pending anyway
            pass

    def _advance(self, task, now):
        """Reap the task if its shell exited; send the signals its deadlines call for."""
        if task.ended is not None:
            return
        if _leader_exited(task.proc):
            if task.stopping is not None:  # nothing of it may outlive a stop
                _signal_group(task.proc, signal.SIGKILL)
            task.proc.wait()
            task.ended = time.monotonic()
            self.changed.notify_all()
        elif task.stopping is None and now >= task.deadline:
            self._stop(task, "timed_out", now)
        elif task.kill_at is not None and now >= task.kill_at:
            _signal_group(task.proc, signal.SIGKILL)
            task.kill_at = None

    def _stop(self, task, why, now):
        task.stopping = why
        _signal_group(task.proc, signal.SIGTERM)
        task.kill_at = now + KILL_GRACE

    def _get(self, request_id, task_id):
        task = self.tasks.get(task_id)
        if task is None:
            raise RequestError("task_not_found", f"no task '{task_id}'", request_id)
        return task

    def start(self, request_id, command, cwd, env, timeout):
        with self.lock:
            now = time.monotonic()
            for task in self._live():
                self._advance(task, now)
            if len(self._live()) >= MAX_LIVE_TASKS:
                raise RequestError(
                    "too_many_tasks", f"{MAX_LIVE_TASKS} background tasks are running already;"
                    " stop one or wait for one to end", request_id)
        task_id = _new_task_id()
        while task_id in self.tasks:
            task_id = _new_task_id()
        directory, fds = _open_task_files(request_id, task_id)
        try:
            started_at = _rfc3339(time.time())
            started = time.monotonic()
            proc = _spawn(request_id, command, cwd, env, fds[0], fds[1])
        except BaseException:
            _remove_task_files(directory)
            raise
        finally:
            for fd in fds:
                os.close(fd)
        task = Task(task_id, command, proc, directory, started, started_at, started + timeout)
        with self.lock:
            self.tasks[task_id] = task
            self._forget_old()
            if self.monitor is None:
                self._start_monitor()
        self._wake()
        return task_id

    def _forget_old(self):
        """Drop the oldest ended tasks (and their files) beyond MAX_ENDED_TASKS."""
        ended = [task for task in self.tasks.values()
                 if task.ended is not None and task.pidfd is None]
        for task in ended[: max(0, len(ended) - MAX_ENDED_TASKS)]:
            del self.tasks[task.id]
            _remove_task_files(task.directory)

    def _start_monitor(self):
        thread = self.threading.Thread(target=self._monitor, name="airlock-tasks", daemon=True)
        # The thread inherits the signal mask in force when it is created.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _MONITOR_BLOCKED)
        try:
            thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.monitor = thread

    def _monitor(self):
        try:
            self._watch()
        except BaseException:
            # A bug of the runner's own: say nothing on fd 2 (the program's), let the next
            # task start a new monitor; until then requests still advance their tasks.
            with self.lock:
                self.monitor = None

    def _watch(self):
        while True:
            with self.lock:
                now = time.monotonic()
                for task in self._live():
                    self._advance(task, now)
                for task in self.tasks.values():
                    if task.ended is not None and task.pidfd is not None:
                        os.close(task.pidfd)
                        task.pidfd = None
                live = self._live()
                if not live:
                    self.monitor = None
                    return
                wake_at = min(task.next_event() for task in live)
                pidfds = [task.pidfd for task in live if task.pidfd is not None]
                polling = len(pidfds) < len(live)
            wait = max(0.0, wake_at - time.monotonic())
            if polling:
                wait = min(wait, POLL_INTERVAL)
            poller = select.poll()  # no FD_SETSIZE limit, unlike select()
            for fd in (self.wake_r, *pidfds):
                poller.register(fd, select.POLLIN)
            poller.poll(None if wait == float("inf") else max(1, int(wait * 1000) + 1))
            _drain(self.wake_r)

    def snapshot(self, request_id, task_id):
        """The task frame's fields (without type and id), its state as of now."""
        task = self._get(request_id, task_id)
        with self.lock:
            self._advance(task, time.monotonic())
            status, returncode, ended = task.status(), task.proc.returncode, task.ended
        return self._fields(task, status, returncode, ended)

    def stop(self, request_id, task_id):
        """SIGTERM to the task's group, SIGKILL KILL_GRACE later; its final fields."""
        task = self._get(request_id, task_id)
        with self.lock:
            now = time.monotonic()
            self._advance(task, now)
            if task.ended is None and task.stopping is None:
                self._stop(task, "killed", now)
            give_up = (task.kill_at or now) + 1.0  # a process that SIGKILL can't end at once
            while task.ended is None:
                now = time.monotonic()
                if now >= give_up:
                    break
                self._advance(task, now)
                wake_at = give_up if task.kill_at is None else min(task.kill_at, give_up)
                if task.ended is None:
                    self.changed.wait(min(max(0.0, wake_at - now), POLL_INTERVAL))
            status, returncode, ended = task.status(), task.proc.returncode, task.ended
        self._wake()
        return self._fields(task, status, returncode, ended)

    @staticmethod
    def _fields(task, status, returncode, ended):
        exit_code, signum = _exit_fields(returncode)
        stdout, stdout_dropped = _read_tail(os.path.join(task.directory, "stdout"))
        stderr, stderr_dropped = _read_tail(os.path.join(task.directory, "stderr"))
        end = time.monotonic() if ended is None else ended
        return {"task_id": task.id, "status": status, "exit_code": exit_code, "signal": signum,
                "stdout": stdout, "stderr": stderr, "stdout_dropped_bytes": stdout_dropped,
                "stderr_dropped_bytes": stderr_dropped, "started_at": task.started_at,
                "duration_ms": round(max(0.0, end - task.started) * 1000, 3),
                "command": task.command}

    def kill_all(self):
        """At the runner's exit: SIGKILL the group of every task still running."""
        if not self.lock.acquire(timeout=1):
            return
        try:
            for task in self._live():
                _signal_group(task.proc, signal.SIGKILL)
        finally:
            self.lock.release()


# --- Other languages: a bash shell per context, one Node process for JavaScript/TypeScript ---

LANGUAGES = ("python", "javascript", "typescript", "bash")
# The context an execute without one runs in, per language ("default" is Python's, as in v1).
DEFAULT_CONTEXTS = {"python": DEFAULT_CONTEXT, "javascript": "javascript",
                    "typescript": "typescript", "bash": "bash"}
NODE = "/usr/bin/node"
BASH_CELLS = "/tmp/.airlock-bash"  # <context>/cell-<n>.sh while a bash cell runs
# Loads the kernel's source from an inherited memfd, then serves on the given socket fd.
NODE_BOOT = ("const m={exports:{}};require('vm').compileFunction("
             "require('fs').readFileSync(+process.argv[1],'utf8'),['require','module','exports'],"
             "{filename:'airlock_kernel.js'})(require,m,m.exports);"
             "require('fs').closeSync(+process.argv[1]);m.exports(+process.argv[2]);")
# Bash state survives an interrupt: SIGINT only sets a flag, and with extdebug a DEBUG trap
# returning 2 makes the sourced cell (and any function it is in) return at its next command.
BASH_SETUP = r"""
shopt -s extdebug
shopt -u sourcepath
unset HISTFILE
__airlock_int=
__airlock_return() { return 2; }
trap '__airlock_int=1' INT
trap '[[ -z $__airlock_int || ${#BASH_SOURCE[@]} -eq 0 ]] || __airlock_return' DEBUG
"""


class KernelDied(Exception):
    """A language's process ended (a crash, `exit` in a shell cell): its state is gone."""


def _wait_readable(fd, on_interrupt=None):
    """Block until fd is readable; a SIGINT to the runner meanwhile calls on_interrupt()."""
    global _sigint_wakeup
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    _sigint_wakeup = wake_w
    try:
        while True:
            ready = {event_fd for event_fd, _ in poller.poll()}
            if wake_r in ready:
                _drain(wake_r)
                if on_interrupt is not None:
                    on_interrupt()
            if fd in ready:
                return
    finally:
        _sigint_wakeup = None
        os.close(wake_r)
        os.close(wake_w)


def _read_line(fd, buffer):
    """A whole line from fd (bytes, newline excluded), reading into buffer; None at EOF."""
    while True:
        newline = buffer.find(b"\n")
        if newline >= 0:
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            return line
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return b""  # nothing whole yet
        except OSError:
            chunk = b""
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > MAX_FRAME + 1:
            return None  # a kernel that breaks the framing is treated as dead


class BashContext:
    """A persistent shell: cwd, variables and functions survive from cell to cell."""

    language = "bash"

    def __init__(self, name):
        self.name = name
        self.execution_count = 0
        self.proc = None
        self.status_fd = None
        self.buffer = bytearray()

    def _start(self):
        import subprocess

        status_r, status_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [SHELL, "--noprofile", "--norc"], stdin=subprocess.PIPE, pass_fds=(status_w,),
                cwd=WORKSPACE, start_new_session=True)
        except OSError as exc:  # out of processes or memory, say
            os.close(status_r)
            raise KernelDied(f"cannot start the shell: {exc.strerror}") from None
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        self.status_fd = status_r
        os.set_blocking(status_r, False)  # reads wait in _wait_readable, where SIGINT is heard
        self.buffer.clear()
        self._write(f"exec 9>&{status_w}\n" if status_w != 9 else "")
        self._write(f"exec {status_w}>&-\n" if status_w != 9 else "")
        self._write(BASH_SETUP)

    def _write(self, text):
        try:
            self.proc.stdin.write(os.fsencode(text))
            self.proc.stdin.flush()
        except OSError:
            raise KernelDied("the shell exited") from None

    def run(self, code, count):
        """(status, error) of one cell; status is ok, error or interrupted."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        cell = os.path.join(BASH_CELLS, self.name, f"cell-{count}.sh")
        try:
            os.makedirs(os.path.dirname(cell), mode=0o700, exist_ok=True)
            with open(cell, "wb") as file:
                file.write(os.fsencode(code))
        except OSError as exc:  # /tmp is full, say: the shell and its state are fine
            return "error", {"name": "OSError", "value": f"cannot write the cell to {cell}: {exc.strerror}",
                             "traceback": [f"OSError: cannot write the cell to {cell}: {exc.strerror}\n"]}
        quoted = "'" + cell.replace("'", "'\\''") + "'"
        interrupts = []

        def interrupt():
            interrupts.append(1)
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except OSError:
                pass

        try:
            # stdin /dev/null: a cell reading input must not eat the lines that follow it.
            self._write(f"__airlock_int=; source {quoted} </dev/null 9>&-; __airlock_s=$?; "
                        f"[[ -n $__airlock_int ]] && __airlock_s=130; __airlock_int=; "
                        f"printf '%d\\n' \"$__airlock_s\" >&9\n")
            line = b""
            while line == b"":
                _wait_readable(self.status_fd, interrupt)
                line = _read_line(self.status_fd, self.buffer)
        finally:
            try:
                os.unlink(cell)
            except OSError:
                pass
        if line is None:
            code = self.proc.wait()
            self.close()
            raise KernelDied(f"the shell exited with status {code}; the context's next "
                             "execution starts a new shell")
        status = int(line or b"1")
        if interrupts and status == 130:
            return "interrupted", {"name": "Interrupted", "value": "the cell was interrupted",
                                   "traceback": ["Interrupted: the cell was interrupted\n"]}
        if status != 0:
            return "error", {"name": "ExitStatus", "value": f"exit status {status}",
                             "traceback": [f"the cell's last command ended with exit status {status}\n"]}
        return "ok", None

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None
        if self.status_fd is not None:
            os.close(self.status_fd)
            self.status_fd = None


class NodeContext:
    """A JavaScript or TypeScript context: its state lives in the Node kernel."""

    def __init__(self, name, language):
        self.name = name
        self.language = language
        self.execution_count = 0

    def close(self):
        pass


class NodeKernel:
    """The Node.js process that holds every JavaScript and TypeScript context (one per runner).

    The daemon hands the runner the kernel's source (load_kernel); it is started on first
    use, and frames are relayed between it and the daemon. Its stdout/stderr are the
    sandbox's, so its output streams like Python's. Interrupts reach it from the launcher,
    which signals every process of the sandbox.
    """

    def __init__(self, source):
        self.source = source
        self.proc = None
        self.fd = None
        self.buffer = bytearray()

    def _start(self):
        import socket
        import subprocess

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        source = _command_file(self.source.encode("utf-8"))
        try:
            os.set_inheritable(source, True)
            self.proc = subprocess.Popen(
                [NODE, "-e", NODE_BOOT, str(source), str(theirs.fileno())],
                stdin=subprocess.DEVNULL, pass_fds=(source, theirs.fileno()), cwd=WORKSPACE)
        except OSError as exc:
            ours.close()
            raise KernelDied(f"cannot start node ({NODE}): {exc.strerror}") from None
        finally:
            theirs.close()
            os.close(source)
        self.fd = ours.detach()
        os.set_blocking(self.fd, False)  # reads wait in _wait_readable, where SIGINT is heard
        self.buffer.clear()
        ready = self._next(None)
        if ready.get("type") != "ready":
            self.close()
            raise KernelDied("the JavaScript kernel did not start")

    def _next(self, request_id):
        """The kernel's next frame (a dict); SIGINTs meanwhile are passed on to it."""
        while True:
            line = _read_line(self.fd, self.buffer)
            if line is None:
                self.close()
                raise KernelDied("the JavaScript kernel exited; its contexts start afresh")
            if line:
                try:
                    frame = _DECODER.decode(line.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    return frame
                continue
            # A SIGINT is not passed on: the launcher interrupts every process of the
            # sandbox, the kernel included, and a second SIGINT landing while Node tears
            # down the watchdog of vm's breakOnSigint kills Node (measured: one run in three).
            _wait_readable(self.fd)

    def call(self, frame, relay):
        """Send a request; relay its result/display/error frames; return its terminal frame."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        data = _fit(frame)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
        except OSError:
            self.close()
            raise KernelDied("the JavaScript kernel exited; its contexts start afresh") from None
        while True:
            reply = self._next(frame["id"])
            if reply.get("id") != frame["id"]:
                continue
            if reply.get("type") in ("result", "display", "error"):
                relay(reply)
                continue
            return reply

    def close(self):
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# --- The runner --------------------------------------------------------------------------------


class Runner:
    def __init__(self, channel):
        self.channel = channel
        self.pid = os.getpid()
        self.contexts = {DEFAULT_CONTEXT: Context(DEFAULT_CONTEXT)}
        self.active = None  # the context whose cells linecache and sys.modules hold
        self.tasks = None  # Tasks, made by the first background command
        self.node = None  # NodeKernel, once the daemon has sent its source (load_kernel)
        self.handlers = {
            "list_contexts": self.list_contexts,
            "load_kernel": self.load_kernel,
            "preload": self.preload,
            "execute": self.execute,
            "create_context": self.create_context,
            "delete_context": self.delete_context,
            "reset_context": self.reset_context,
            "ping": self.ping,
            "shutdown": self.shutdown,
            "command": self.command,
            "task_status": self.task_status,
            "task_stop": self.task_stop,
        }

    def serve(self):
        self.channel.send({"type": "ready", "protocol": PROTOCOL, "pid": self.pid,
                           "python": "{}.{}.{}".format(*sys.version_info[:3])})
        for item in self.channel.frames():
            self.dispatch(item)

    def dispatch(self, item):
        request_id = None
        try:
            if isinstance(item, Oversized):
                raise RequestError(
                    "frame_too_large",
                    f"frame exceeds {MAX_FRAME} bytes; the line was discarded",
                    _leading_id(item.head))
            request = parse_request(item)
            request_id = request["id"]
            self.handlers[request["type"]](request)
        except RequestError as exc:
            self.channel.send(exc.frame())
        except ChannelClosed:
            raise
        # A bug of the runner's own: report it and go on serving.
        except (Exception, KeyboardInterrupt) as exc:
            self.channel.send(RequestError("internal_error", f"runner failed: {exc!r}",
                                           request_id).frame())

    def _context(self, request):
        name = request["context"]
        ctx = self.contexts.get(name)
        if ctx is None:
            raise RequestError("context_not_found", f"no context named '{name}'", request["id"])
        return ctx

    def _activate(self, ctx):
        """Point the process-wide state (sys.modules["__main__"], linecache) at ctx.

        Every context numbers its cells from 1, so "<cell 2>" of one context would otherwise
        show another's source in a traceback.
        """
        sys.modules["__main__"] = ctx.module
        if self.active is not ctx:
            linecache.cache.update(ctx.cells)
            self.active = ctx

    def _drop(self, name):
        """Remove a context and give its memory back at once."""
        self._forget(self.contexts.pop(name))
        # A namespace is a reference cycle (its functions point back at it through
        # __globals__): collect now, with the context unreachable, so that a dropped
        # DataFrame's memory comes back at once rather than at some later collection.
        gc.collect()

    def _forget(self, ctx):
        ctx.close()
        if ctx.language != "python":
            return
        for filename, entry in ctx.cells.items():
            if linecache.cache.get(filename) is entry:
                del linecache.cache[filename]
        if sys.modules.get("__main__") is ctx.module and RUNNER_MODULE is not None:
            sys.modules["__main__"] = RUNNER_MODULE
        if self.active is ctx:
            self.active = None

    def _resolve(self, request):
        """The context an execute names (made on first use) and checked against its language."""
        language = request.get("language")
        name = request.get("context") or DEFAULT_CONTEXTS[language or "python"]
        ctx = self.contexts.get(name)
        if ctx is not None and language is not None and ctx.language != language:
            raise RequestError("wrong_language",
                               f"context '{name}' is a {ctx.language} context, not {language}",
                               request["id"])
        if ctx is None:
            ctx = self._new_context(name, language or "python", request["id"])
        elif request.get("clear", False):
            ctx = None  # no reference may keep the old namespace alive through the reset
            self._reset(name, request["id"])
            ctx = self.contexts[name]
        return ctx

    def _new_context(self, name, language, request_id):
        if language == "python":
            ctx = Context(name)
        elif language == "bash":
            ctx = BashContext(name)
        else:
            if self.node is None:
                raise RequestError("kernel_unavailable",
                                   f"no {language} kernel: the daemon has not loaded it",
                                   request_id)
            ctx = NodeContext(name, language)
        self.contexts[name] = ctx
        return ctx

    def execute(self, request):
        # Executing in a context that doesn't exist yet creates it, so that a client's
        # `context_id` just works; create_context is there to make one ahead of time.
        ctx = self._resolve(request)
        if ctx.language == "python":
            self._execute_python(ctx, request)
        else:
            self._execute_other(ctx, request)

    def _execute_other(self, ctx, request):
        """A bash cell in its shell, or a JavaScript/TypeScript cell relayed to the Node kernel."""
        request_id = request["id"]
        started = time.perf_counter()
        state_kept = True
        if ctx.language == "bash":
            ctx.execution_count += 1
            count = ctx.execution_count
            try:
                status, error = ctx.run(request["code"], count)
            except KernelDied as exc:
                status, error, state_kept = "error", {
                    "name": "ShellExited", "value": str(exc), "traceback": [f"{exc}\n"]}, False
                ctx.execution_count = 0  # a new shell counts from 1
        else:
            frame = {"type": "execute", "id": request_id, "code": request["code"],
                     "context": ctx.name, "language": ctx.language}
            try:
                reply = self.node.call(frame, self._relay)
            except KernelDied as exc:
                reply = None
                status, state_kept = "error", False
                error = {"name": "KernelDied", "value": str(exc), "traceback": [f"{exc}\n"]}
                count = ctx.execution_count + 1
                for other in self.contexts.values():  # they all lived in the dead process
                    if isinstance(other, NodeContext):
                        other.execution_count = 0
            if reply is not None:
                if reply.get("type") == "protocol_error":
                    raise RequestError(reply.get("code", "internal_error"),
                                       reply.get("message", "refused"), request_id)
                status, error = reply.get("status", "error"), None
                count = ctx.execution_count = int(reply.get("execution_count", 1))
        _flush_std()
        if error is not None:
            self.channel.send({"type": "error", "id": request_id, **error})
        self.channel.send({"type": "done", "id": request_id, "status": status,
                           "execution_count": count,
                           "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                           "state_kept": state_kept, "language": ctx.language})

    def _relay(self, frame):
        """A frame of the Node kernel's, passed on once the output printed before it is read."""
        if frame.get("type") in ("display", "result"):
            _wait_output_taken()
        self.channel.send(frame)

    def _execute_python(self, ctx, request):
        name = ctx.name
        ctx.execution_count += 1
        count = ctx.execution_count
        self._activate(ctx)
        request_id = request["id"]
        _Outlet.channel, _Outlet.request_id, _Outlet.pid = self.channel, request_id, self.pid
        _Outlet.label, _Outlet.seq = f"{name}-{count}", 0
        started = time.perf_counter()
        try:
            bundle, exc = _call_user(ctx.run_cell, request["code"])
            if os.getpid() != self.pid:
                # A child the cell forked (os.fork()) and that ran to the end of the cell: it
                # must not speak on the control socket it shares with the runner.
                _flush_std()
                os._exit(0 if exc is None else 1)
            if bundle is not None:
                _flush_std()
                _wait_output_taken()
                _Outlet.seq += 1
                self.channel.send({"type": "result", "id": request_id,
                                   "data": _limit_bundle(bundle), "execution_count": count})
            if "matplotlib.pyplot" in sys.modules:
                # Figures the cell left open are shown (and closed), as in a notebook.
                _, failure = _call_user(_show_figures)
                exc = exc or failure
        finally:
            _Outlet.channel = _Outlet.request_id = None
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        error = None
        if exc is not None:
            error, failure = _call_user(_describe_exception, exc, _driver_files(ctx.used_loop))
            if failure is not None:  # its __str__ or __repr__ raised, or a second interrupt
                error = {"name": type(exc).__name__, "value": "",
                         "traceback": [f"{type(exc).__name__}\n"]}
        status = "ok"
        if exc is not None:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        exc = failure = None  # the traceback holds the cell's frames; let them go
        _flush_std()  # output reaches the pipes before the daemon hears "done"
        if error is not None:
            self.channel.send({"type": "error", "id": request_id, **error})
        # The runner survives errors, SystemExit and interrupts alike, so state is always kept;
        # a runner that dies (os._exit, a kill) is seen by the daemon as the socket closing.
        self.channel.send({"type": "done", "id": request_id, "status": status,
                           "execution_count": count, "duration_ms": duration_ms,
                           "state_kept": True, "language": "python"})

    def _ack(self, request, **extra):
        self.channel.send({"type": "ack", "id": request["id"], "request": request["type"],
                           **extra})

    def create_context(self, request):
        name = request["context"]
        if name in self.contexts:
            raise RequestError("context_exists", f"context '{name}' already exists",
                               request["id"])
        ctx = self._new_context(name, request.get("language", "python"), request["id"])
        if isinstance(ctx, NodeContext):
            self._node_call(request, {"context": name, "language": ctx.language})
        self._ack(request, context=name)

    def _node_call(self, request, fields):
        """A context request passed on to the Node kernel; its refusal is ours."""
        frame = {"type": request["type"], "id": request["id"], **fields}
        try:
            reply = self.node.call(frame, self.channel.send)
        except KernelDied:
            return  # its contexts are gone anyway: what was asked holds
        if reply.get("type") == "protocol_error" and reply.get("code") != "context_not_found":
            raise RequestError(reply.get("code", "internal_error"),
                               reply.get("message", "refused"), request["id"])

    def delete_context(self, request):
        ctx = self._context(request)
        if ctx.name == DEFAULT_CONTEXT:
            raise RequestError("context_protected",
                               "the default context can't be deleted; restart it instead",
                               request["id"])
        if isinstance(ctx, NodeContext):
            self._node_call(request, {"context": ctx.name})
        self._drop(ctx.name)
        self._ack(request, context=ctx.name)

    def _reset(self, name, request_id):
        language = self.contexts[name].language
        if language in ("javascript", "typescript"):
            self._node_call({"type": "reset_context", "id": request_id}, {"context": name})
            self.contexts[name].execution_count = 0
            return
        self._drop(name)
        self._new_context(name, language, request_id)  # fresh, counting from 1

    def reset_context(self, request):
        name = self._context(request).name
        self._reset(name, request["id"])
        self._ack(request, context=name)

    def list_contexts(self, request):
        self.channel.send({"type": "contexts", "id": request["id"], "contexts": [
            {"context": ctx.name, "language": ctx.language,
             "execution_count": ctx.execution_count} for ctx in self.contexts.values()]})

    def load_kernel(self, request):
        if self.node is not None:
            self.node.close()
        self.node = NodeKernel(request["source"])
        self._ack(request)

    def preload(self, request):
        """Import the modules once, before any cell: a pooled sandbox's first `import pandas`
        then finds it in sys.modules. Bound in no context's namespace; one that fails is
        skipped (a runtime without it, say). Its output, if any, is nobody's: dropped."""
        import contextlib
        import importlib

        done = []
        for name in request["modules"]:
            try:
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    importlib.import_module(name)
                done.append(name)
            except (Exception, SystemExit):  # an optional speed-up, never the session's failure
                continue
        self._ack(request, preloaded=done)

    def ping(self, request):
        self._ack(request)

    def shutdown(self, request):
        self._ack(request)
        self.close()
        _flush_std()
        # Exit at once: no waiting for threads the user left running, no atexit of theirs.
        os._exit(0)

    def close(self):
        """The runner is exiting: its background tasks and other kernels end with it."""
        if self.tasks is not None:
            self.tasks.kill_all()
        for ctx in self.contexts.values():
            if isinstance(ctx, BashContext):
                ctx.close()
        if self.node is not None:
            self.node.close()

    def command(self, request):
        request_id = request["id"]
        cwd = request.get("cwd")
        cwd = WORKSPACE if cwd is None else os.path.join(WORKSPACE, cwd)
        timeout = int(request.get("timeout_ms", DEFAULT_TIMEOUT_MS)) / 1000
        args = (request_id, request["command"], cwd, request.get("env", {}), timeout)
        if request.get("background", False):
            if self.tasks is None:
                self.tasks = Tasks()
            task_id = self.tasks.start(*args)
            self.channel.send({"type": "task_started", "id": request_id, "task_id": task_id})
            return
        fields = _run_foreground(*args)
        self.channel.send({"type": "command_done", "id": request_id, **fields})

    def _task(self, request, stop):
        if self.tasks is None:
            raise RequestError("task_not_found", f"no task '{request['task_id']}'", request["id"])
        method = self.tasks.stop if stop else self.tasks.snapshot
        fields = method(request["id"], request["task_id"])
        self.channel.send({"type": "task", "id": request["id"], **fields})

    def task_status(self, request):
        self._task(request, stop=False)

    def task_stop(self, request):
        self._task(request, stop=True)


def main():
    global RUNNER_FILE, RUNNER_MODULE, WORKSPACE
    signal.signal(signal.SIGINT, _on_sigint)
    # A launcher may block SIGINT across exec to cover interpreter start-up; take it from here.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        # The control socket is the runner's alone: user subprocesses must not inherit it.
        os.set_inheritable(CONTROL_FD, False)
    except OSError:
        sys.stderr.write("airlock_runner: fd 3 (the control socket) is not open\n")
        return 2
    RUNNER_FILE = main.__code__.co_filename
    RUNNER_MODULE = sys.modules[__name__]
    try:
        # The launcher starts the runner in /workspace: relative command cwds start there,
        # whatever directory cells move to.
        WORKSPACE = os.getcwd()
    except OSError:
        pass
    # User code runs as in `python3 -i`: imports look in the working directory, not here.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(RUNNER_FILE)):
        sys.path[0] = ""
    sys.argv = [""]
    builtins.display = display  # as in a notebook: no import needed
    sys.meta_path.insert(0, _ImportHooks())
    _copy_font_cache()
    runner = Runner(Channel(CONTROL_FD))
    try:
        runner.serve()
    except ChannelClosed:
        pass
    runner.close()
    _flush_std()
    # The daemon hung up (or went away): exit without waiting for user threads.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
