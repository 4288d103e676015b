"""Airlock's Python runner: a long-lived, stateful kernel inside one sandbox.

The daemon starts it as `/usr/bin/python3 -u /run/airlock/airlock_runner.py` with a
SOCK_STREAM unix socket on fd 3. Protocol frames travel only on that socket, as JSON Lines
(one UTF-8 JSON object per line, at most MAX_FRAME bytes each way);
api/runner-protocol.schema.json is the contract. The program's own stdout/stderr are fd 1/2,
which the daemon reads and attributes to the execution in progress, so the runner never
writes there itself and never wraps them.

Every request ends with exactly one terminal frame carrying its id: `done` for an execute,
`ack` for the other requests, or `protocol_error` when the request was refused.

Standard library only (Python 3.11). Nothing heavy is imported before it is needed: asyncio
only for a cell that uses top-level await.
"""

import __future__

import ast
import builtins
import gc
import json
import linecache
import os
import re
import signal
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

# The daemon is asked to put "type" and "id" first in a frame, so that the id of a frame too
# large to parse can still be found in its first bytes and echoed in the refusal.
_LEADING_ID = re.compile(
    rb'\s*\{\s*(?:"type"\s*:\s*"[a-z_]{1,32}"\s*,\s*)?"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"')


# --- SIGINT: an interrupt for user code, never for the runner -------------------------------

# True only while user code (or code it triggers: compile, repr of its values) runs. The
# launcher sends SIGINT to every process of the sandbox on timeout/stop; it must become a
# KeyboardInterrupt in user code and be ignored anywhere else (idle, reading, writing frames).
_user_code_running = False


def _on_sigint(signum, frame):
    if _user_code_running:
        raise KeyboardInterrupt


def _call_user(fn, *args):
    """Run fn(*args) as user code: interruptible, and whatever it raises is returned as data.

    Returns (value, None) or (None, exception). The flag is a plain global store (no call, so
    no point where Python runs pending signal handlers) right next to the try, which is why a
    SIGINT can't land between the end of user code and the flag going down and escape into
    the runner. A SIGINT handler the user installed is replaced while still inside the try,
    so whatever it raises is the cell's too.
    """
    global _user_code_running
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

    def send(self, frame):
        view = memoryview(_fit(frame))
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

# Fields of each request besides "type" and "id": name -> (kind, required).
REQUESTS = {
    "execute": {"code": ("string", True), "context": ("name", False)},
    "create_context": {"context": ("name", True)},
    "delete_context": {"context": ("name", True)},
    "reset_context": {"context": ("name", True)},
    "ping": {},
    "shutdown": {},
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
        value = frame[key]
        if not isinstance(value, str):
            raise bad(f"field '{key}' must be a string, got {_json_type(value)}")
        if rule == "name" and not _is_name(value):
            raise bad(f"field '{key}' must be {NAME_RULE}, got {_brief(value)}")
    return frame


def _leading_id(data):
    match = _LEADING_ID.match(data, 0, 4096)
    return match.group(1).decode("ascii") if match else None


# --- Contexts: one stateful namespace each -----------------------------------------------------


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


def _ends_with_semicolon(source_lines, node):
    """`plt.plot(x);` hides the value, as in IPython (offsets are UTF-8 byte offsets)."""
    line = source_lines[node.end_lineno - 1].encode("utf-8")
    return line[node.end_col_offset:].lstrip().startswith(b";")


class Context:
    """A kernel: a __main__ namespace whose variables, imports and functions persist."""

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
        return None if value is None else _mime_bundle(value)

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


def _mime_bundle(value):
    """The displayable forms of a cell's value. Rich MIME types (HTML, PNG, ...) come later."""
    return {"text/plain": repr(value)}


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


# --- The runner --------------------------------------------------------------------------------


class Runner:
    def __init__(self, channel):
        self.channel = channel
        self.pid = os.getpid()
        self.contexts = {DEFAULT_CONTEXT: Context(DEFAULT_CONTEXT)}
        self.active = None  # the context whose cells linecache and sys.modules hold
        self.handlers = {
            "execute": self.execute,
            "create_context": self.create_context,
            "delete_context": self.delete_context,
            "reset_context": self.reset_context,
            "ping": self.ping,
            "shutdown": self.shutdown,
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
        for filename, entry in ctx.cells.items():
            if linecache.cache.get(filename) is entry:
                del linecache.cache[filename]
        if sys.modules.get("__main__") is ctx.module and RUNNER_MODULE is not None:
            sys.modules["__main__"] = RUNNER_MODULE
        if self.active is ctx:
            self.active = None

    def execute(self, request):
        # Executing in a context that doesn't exist yet creates it, so that a client's
        # `context_id` just works; create_context is there to make one ahead of time.
        name = request.get("context", DEFAULT_CONTEXT)
        ctx = self.contexts.get(name)
        if ctx is None:
            ctx = self.contexts[name] = Context(name)
        ctx.execution_count += 1
        count = ctx.execution_count
        self._activate(ctx)
        started = time.perf_counter()
        bundle, exc = _call_user(ctx.run_cell, request["code"])
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if os.getpid() != self.pid:
            # A child the cell forked (os.fork()) and that ran to the end of the cell: it
            # must not speak on the control socket it shares with the runner.
            _flush_std()
            os._exit(0 if exc is None else 1)
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
        request_id = request["id"]
        if bundle is not None:
            self.channel.send({"type": "result", "id": request_id, "data": bundle,
                               "execution_count": count})
        if error is not None:
            self.channel.send({"type": "error", "id": request_id, **error})
        # The runner survives errors, SystemExit and interrupts alike, so state is always kept;
        # a runner that dies (os._exit, a kill) is seen by the daemon as the socket closing.
        self.channel.send({"type": "done", "id": request_id, "status": status,
                           "execution_count": count, "duration_ms": duration_ms,
                           "state_kept": True})

    def _ack(self, request, **extra):
        self.channel.send({"type": "ack", "id": request["id"], "request": request["type"],
                           **extra})

    def create_context(self, request):
        name = request["context"]
        if name in self.contexts:
            raise RequestError("context_exists", f"context '{name}' already exists",
                               request["id"])
        self.contexts[name] = Context(name)
        self._ack(request, context=name)

    def delete_context(self, request):
        name = self._context(request).name
        if name == DEFAULT_CONTEXT:
            raise RequestError("context_protected",
                               "the default context can't be deleted; reset it instead",
                               request["id"])
        self._drop(name)
        self._ack(request, context=name)

    def reset_context(self, request):
        name = self._context(request).name
        self._drop(name)
        self.contexts[name] = Context(name)  # a fresh namespace, counting from 1
        self._ack(request, context=name)

    def ping(self, request):
        self._ack(request)

    def shutdown(self, request):
        self._ack(request)
        _flush_std()
        # Exit at once: no waiting for threads the user left running, no atexit of theirs.
        os._exit(0)


def main():
    global RUNNER_FILE, RUNNER_MODULE
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
    # User code runs as in `python3 -i`: imports look in the working directory, not here.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(RUNNER_FILE)):
        sys.path[0] = ""
    sys.argv = [""]
    try:
        Runner(Channel(CONTROL_FD)).serve()
    except ChannelClosed:
        pass
    _flush_std()
    # The daemon hung up (or went away): exit without waiting for user threads.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
