"""The resource tree, which follows the URL tree: sessions → files, commands, contexts.

Each resource has a sync and an async class with the same methods and arguments. The
requests they send and the way answers are read are built by the shared helpers at the
top (and in _base), so the two differ only in ``await``.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypedDict

from ._base import (
    Request,
    drop_none,
    execute_body,
    execution_wait,
    path_of,
    workspace_path,
    workspace_rel,
)
from ._exceptions import StreamError, make_api_error
from ._models import (
    CommandResult,
    Context,
    Execution,
    ExecutionError,
    FileEntry,
    FileWritten,
    Interpreter,
    Result,
    SessionInfo,
    Task,
)
from ._transport import AsyncTransport, SyncTransport

__all__ = [
    "AsyncCommands",
    "AsyncContexts",
    "AsyncFiles",
    "AsyncInterpreters",
    "AsyncKeys",
    "AsyncSecrets",
    "AsyncSession",
    "AsyncSessions",
    "Commands",
    "Contexts",
    "Files",
    "Interpreters",
    "Keys",
    "LimitsParam",
    "Secrets",
    "Session",
    "Sessions",
]


class LimitsParam(TypedDict, total=False):
    memory_mb: int
    cpus: float
    pids: int
    workspace_mb: int


FileContent = str | bytes | bytearray | IO[bytes] | Iterable[bytes]
AsyncFileContent = str | bytes | bytearray | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]
# A callback may be a plain function or (with the async client) a coroutine function.
Callback = Callable[[Any], Awaitable[None] | None]

_CHUNK = 1 << 16


# --- requests, shared ----------------------------------------------------------------------


def _session_create(interpreter: str | None, timeout_seconds: int | None, idle_timeout_seconds: int | None,
                    limits: LimitsParam | None, env: Mapping[str, str] | None, metadata: Mapping[str, str] | None,
                    secrets: Iterable[str] | None, start: str | None, request_timeout: float | None) -> Request:
    body = drop_none(interpreter=interpreter, timeout_seconds=timeout_seconds, start=start,
                     idle_timeout_seconds=idle_timeout_seconds,
                     limits=dict(limits) if limits is not None else None,
                     env=dict(env) if env is not None else None,
                     metadata=dict(metadata) if metadata is not None else None,
                     secrets=list(secrets) if secrets is not None else None)
    return Request("POST", "/v1/sessions", json=body, timeout=request_timeout)


def _execute(session_id: str, code: str, language: str | None, context: str | None, timeout: float | None,
             clear_context: bool, streaming: bool, session_default: float | None,
             request_timeout: float | None) -> Request:
    if not isinstance(code, str):
        raise TypeError("code must be a str, not %s" % type(code).__name__)
    headers = {"Accept": "text/event-stream"} if streaming else {}
    return Request("POST", path_of("v1", "sessions", session_id, "execute"),
                   json=execute_body(code, language, context, timeout, clear_context), headers=headers,
                   timeout=request_timeout if request_timeout is not None else execution_wait(timeout, session_default),
                   stream=streaming)


def _command(session_id: str, command: str, cwd: str | None, env: Mapping[str, str] | None,
             timeout: float | None, background: bool, request_timeout: float | None) -> Request:
    body = drop_none(command=command, cwd=cwd, env=dict(env) if env is not None else None, timeout_seconds=timeout)
    if background:
        body["background"] = True
    wait = request_timeout
    if wait is None:
        wait = 60.0 if background else execution_wait(timeout if timeout is not None else 60.0, None)
    return Request("POST", path_of("v1", "sessions", session_id, "commands"), json=body, timeout=wait)


def _list_dir(path: str) -> str:
    return workspace_rel(path, allow_root=True).rstrip("/")


def _chunks(data: IO[bytes]) -> Iterator[bytes]:
    # A binary file iterates by lines; read it in fixed chunks instead.
    while True:
        chunk = data.read(_CHUNK)
        if not chunk:
            return
        yield chunk


class _Events:
    """Dispatches an execution's Server-Sent Events to callbacks; remembers the final ``end``."""

    def __init__(self, on_stdout: Callback | None, on_stderr: Callback | None, on_result: Callback | None,
                 on_error: Callback | None) -> None:
        self.handlers: dict[str, tuple[Callback | None, Callable[[Any], Any]]] = {
            "stdout": (on_stdout, lambda d: d.get("text", "") if isinstance(d, dict) else ""),
            "stderr": (on_stderr, lambda d: d.get("text", "") if isinstance(d, dict) else ""),
            "result": (on_result, lambda d: Result(d if isinstance(d, dict) else {})),
            "error": (on_error, ExecutionError.from_wire),
        }
        self.end: Any = None
        self.request_id: str | None = None

    def handle(self, name: str, data: str) -> tuple[Callback, Any] | None:
        """The callback to call and its argument, or None (and the end record kept)."""
        import json

        try:
            payload = json.loads(data) if data else None
        except ValueError as exc:
            raise StreamError("event %r carried invalid JSON: %s" % (name, exc)) from exc
        if name == "end":
            self.end = payload
            return None
        entry = self.handlers.get(name)
        if entry is None or entry[0] is None:
            return None  # an event kind this version does not know, or no callback for it
        return entry[0], entry[1](payload)

    def execution(self) -> Execution:
        if self.end is None:
            raise StreamError("the execution's event stream ended without its final 'end' event")
        if isinstance(self.end, dict) and isinstance(self.end.get("error"), dict) and "execution_id" not in self.end:
            # The execution could not run at all (the session ended meanwhile): the API's error.
            err = self.end["error"]
            status = 409 if err.get("code") == "session_ended" else 404 if "not_found" in str(err.get("code")) else 500
            raise make_api_error(status, self.end, self.request_id)
        return Execution.from_wire(self.end)


def _streaming(*callbacks: Callback | None) -> bool:
    return any(c is not None for c in callbacks)


def _atomic_target(local_path: str | os.PathLike[str]) -> tuple[Path, int, str]:
    target = Path(local_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".part", dir=target.parent)
    return target, fd, tmp


# --- sync ----------------------------------------------------------------------------------


class Files:
    """``session.files``: the session's ``/workspace``. Bodies stream both ways."""

    def __init__(self, transport: SyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    def _url(self, path: str) -> str:
        return path_of("v1", "sessions", self._sid, "files") + "/" + workspace_path(path)

    def write(self, path: str, data: FileContent, *, request_timeout: float | None = None) -> FileWritten:
        """Create or replace a file (parents made). ``data``: str (UTF-8), bytes, a binary file, or chunks."""
        content: Any
        if isinstance(data, str):
            content = data.encode()
        elif isinstance(data, (bytes, bytearray)):
            content = bytes(data)
        elif hasattr(data, "read"):
            content = _chunks(data)  # type: ignore[arg-type]
        else:
            content = data
        return FileWritten.from_wire(self._t.json(Request("PUT", self._url(path), content=content,
                                                          headers={"Content-Type": "application/octet-stream"},
                                                          timeout=request_timeout)))

    def upload(self, local_path: str | os.PathLike[str], path: str | None = None, *,
               request_timeout: float | None = None) -> FileWritten:
        """Stream a local file into the workspace (at ``path``, default its own name)."""
        with open(local_path, "rb") as f:
            return self.write(path or Path(local_path).name, f, request_timeout=request_timeout)

    def read(self, path: str, *, request_timeout: float | None = None) -> bytes:
        return self._t.request(Request("GET", self._url(path), timeout=request_timeout)).content

    def read_text(self, path: str, *, encoding: str = "utf-8", request_timeout: float | None = None) -> str:
        return self.read(path, request_timeout=request_timeout).decode(encoding)

    def iter_bytes(self, path: str, *, chunk_size: int = _CHUNK, request_timeout: float | None = None) -> Iterator[bytes]:
        """The file's bytes as they arrive, never whole in memory."""
        with self._t.stream(Request("GET", self._url(path), timeout=request_timeout, stream=True)) as resp:
            yield from resp.iter_bytes(chunk_size)

    def download(self, path: str, local_path: str | os.PathLike[str], *,
                 request_timeout: float | None = None) -> Path:
        """Stream a workspace file to ``local_path`` (written whole or not at all). Returns it."""
        target, fd, tmp = _atomic_target(local_path)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_bytes(path, request_timeout=request_timeout):
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def list(self, path: str = "", *, request_timeout: float | None = None) -> list[FileEntry]:
        """One directory's entries (not recursive), sorted by name."""
        rel = _list_dir(path)
        d = self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "files"),
                                 params={"path": rel} if rel else None, timeout=request_timeout))
        return [FileEntry.from_wire(e, rel) for e in (d.get("entries") or [])] if isinstance(d, dict) else []

    def remove(self, path: str, *, recursive: bool = False, request_timeout: float | None = None) -> None:
        """Delete a file or link; a directory needs ``recursive=True``."""
        self._t.request(Request("DELETE", self._url(path), params={"recursive": "true"} if recursive else None,
                                timeout=request_timeout))


class Commands:
    """``session.commands``: shell commands, in the foreground or as background tasks."""

    def __init__(self, transport: SyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    def run(self, command: str, *, cwd: str | None = None, env: Mapping[str, str] | None = None,
            timeout: float | None = None, request_timeout: float | None = None) -> CommandResult:
        """Run ``bash -c command`` and wait for it (``timeout``: its limit in seconds, default 60)."""
        return CommandResult.from_wire(self._t.json(_command(self._sid, command, cwd, env, timeout, False,
                                                             request_timeout)))

    def start(self, command: str, *, cwd: str | None = None, env: Mapping[str, str] | None = None,
              timeout: float | None = None, request_timeout: float | None = None) -> Task:
        """Start a background task; poll it with ``get`` and stop it with ``kill``."""
        d = self._t.json(_command(self._sid, command, cwd, env, timeout, True, request_timeout))
        return self.get(d["task_id"], request_timeout=request_timeout)

    def get(self, task_id: str, *, request_timeout: float | None = None) -> Task:
        return Task.from_wire(self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "tasks", task_id),
                                                   timeout=request_timeout)))

    def kill(self, task_id: str, *, request_timeout: float | None = None) -> Task:
        return Task.from_wire(self._t.json(Request("DELETE", path_of("v1", "sessions", self._sid, "tasks", task_id),
                                                   timeout=request_timeout)))


class Contexts:
    """``session.contexts``: namespaces, one language each, sharing the workspace."""

    def __init__(self, transport: SyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    def create(self, *, id: str | None = None, language: str | None = None,
               request_timeout: float | None = None) -> Context:
        return Context.from_wire(self._t.json(Request("POST", path_of("v1", "sessions", self._sid, "contexts"),
                                                      json=drop_none(id=id, language=language),
                                                      timeout=request_timeout)))

    def list(self, *, request_timeout: float | None = None) -> list[Context]:
        d = self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "contexts"), timeout=request_timeout))
        return [Context.from_wire(c) for c in d.get("contexts") or []]

    def get(self, context_id: str, *, request_timeout: float | None = None) -> Context:
        return Context.from_wire(self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "contexts",
                                                                     context_id), timeout=request_timeout)))

    def restart(self, context_id: str, *, request_timeout: float | None = None) -> Context:
        return Context.from_wire(self._t.json(Request("POST", path_of("v1", "sessions", self._sid, "contexts",
                                                                      context_id, "restart"),
                                                      timeout=request_timeout)))

    def delete(self, context_id: str, *, request_timeout: float | None = None) -> None:
        self._t.request(Request("DELETE", path_of("v1", "sessions", self._sid, "contexts", context_id),
                                timeout=request_timeout))


class Session:
    """A live session: run code and commands in it, move files in and out.

    Use it as a context manager to stop it at the end::

        with client.sessions.create() as session:
            print(session.run_code("1 + 1").text)
    """

    def __init__(self, transport: SyncTransport, info: SessionInfo) -> None:
        self._t = transport
        self.info = info
        self.files = Files(transport, info.id)
        self.commands = Commands(transport, info.id)
        self.contexts = Contexts(transport, info.id)

    @property
    def id(self) -> str:
        return self.info.id

    def __repr__(self) -> str:
        return "Session(%r, status=%r)" % (self.id, self.info.status)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_code(self, code: str, *, language: str | None = None, context: str | None = None,
                 timeout: float | None = None, clear_context: bool = False,
                 on_stdout: Callable[[str], Any] | None = None, on_stderr: Callable[[str], Any] | None = None,
                 on_result: Callable[[Result], Any] | None = None,
                 on_error: Callable[[ExecutionError], Any] | None = None,
                 request_timeout: float | None = None) -> Execution:
        """Run code as a notebook cell and return its Execution.

        ``language``: python (default), javascript, typescript or bash. ``context``: the
        namespace to run in (created on first use). ``timeout``: the execution's limit in
        seconds (default the session's). The callbacks, when given, get output and values as
        they happen (the request streams). A failure in the code is ``execution.error``.
        """
        streaming = _streaming(on_stdout, on_stderr, on_result, on_error)
        req = _execute(self.id, code, language, context, timeout, clear_context, streaming,
                       self.info.execution_timeout_seconds, request_timeout)
        if not streaming:
            return Execution.from_wire(self._t.json(req))
        events = _Events(on_stdout, on_stderr, on_result, on_error)
        with self._t.stream(req) as resp:
            events.request_id = resp.headers.get("X-Request-Id")
            if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                resp.read()
                return Execution.from_wire(resp.json())
            from ._base import SSEDecoder

            decoder = SSEDecoder()
            for line in resp.iter_lines():
                event = decoder.feed(line)
                if event is None:
                    continue
                call = events.handle(*event)
                if call is not None:
                    call[0](call[1])
            tail = decoder.feed("")
            if tail is not None:
                events.handle(*tail)
        return events.execution()

    def refresh(self, *, request_timeout: float | None = None) -> SessionInfo:
        """Read the session again (``info`` is updated and returned)."""
        self.info = SessionInfo.from_wire(self._t.json(Request("GET", path_of("v1", "sessions", self.id),
                                                               timeout=request_timeout)))
        return self.info

    def stop(self, *, request_timeout: float | None = None) -> SessionInfo:
        """End the session (idempotent): its sandbox and workspace are gone."""
        self.info = SessionInfo.from_wire(self._t.json(Request("DELETE", path_of("v1", "sessions", self.id),
                                                               timeout=request_timeout)))
        return self.info


class Sessions:
    """``client.sessions``."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def create(self, *, interpreter: str | None = None, timeout_seconds: int | None = None,
               idle_timeout_seconds: int | None = None, limits: LimitsParam | None = None,
               env: Mapping[str, str] | None = None, metadata: Mapping[str, str] | None = None,
               secrets: Iterable[str] | None = None, start: str | None = None,
               request_timeout: float | None = None) -> Session:
        """Start a session; every argument defaults to the interpreter's setting.

        ``timeout_seconds`` is the session's lifetime (TTL), ``idle_timeout_seconds`` how long
        it may sit unused, ``secrets`` names of the tenant's secrets to set as environment
        variables, ``start="fresh"`` a sandbox started for this session alone rather than one
        from the warm pool (whose runner may have imported numpy, pandas and pyplot already;
        ``SessionInfo.start`` says which it got).
        """
        req = _session_create(interpreter, timeout_seconds, idle_timeout_seconds, limits, env, metadata, secrets,
                              start, request_timeout)
        return Session(self._t, SessionInfo.from_wire(self._t.json(req)))

    def get(self, session_id: str, *, request_timeout: float | None = None) -> Session:
        """A handle on an existing session (ended ones too, for an hour)."""
        return Session(self._t, SessionInfo.from_wire(self._t.json(Request(
            "GET", path_of("v1", "sessions", session_id), timeout=request_timeout))))

    def list(self, *, request_timeout: float | None = None) -> list[Session]:
        """The sessions that have not ended, oldest first."""
        d = self._t.json(Request("GET", "/v1/sessions", timeout=request_timeout))
        return [Session(self._t, SessionInfo.from_wire(s)) for s in d.get("sessions") or []]

    def stop(self, session_id: str, *, request_timeout: float | None = None) -> SessionInfo:
        return SessionInfo.from_wire(self._t.json(Request("DELETE", path_of("v1", "sessions", session_id),
                                                          timeout=request_timeout)))


class Interpreters:
    """``client.interpreters``: named session configurations (admin keys write them)."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def create(self, name: str, *, request_timeout: float | None = None, **fields: Any) -> Interpreter:
        """Fields as in the API: description, timeout_seconds, limits={...}, max_limits={...}, env={...}, ..."""
        return Interpreter.from_wire(self._t.json(Request("POST", "/v1/interpreters", json={"name": name, **fields},
                                                          timeout=request_timeout)))

    def get(self, name: str, *, request_timeout: float | None = None) -> Interpreter:
        return Interpreter.from_wire(self._t.json(Request("GET", path_of("v1", "interpreters", name),
                                                          timeout=request_timeout)))

    def list(self, *, request_timeout: float | None = None) -> list[Interpreter]:
        d = self._t.json(Request("GET", "/v1/interpreters", timeout=request_timeout))
        return [Interpreter.from_wire(i) for i in d.get("interpreters") or []]

    def update(self, name: str, *, request_timeout: float | None = None, **fields: Any) -> Interpreter:
        return Interpreter.from_wire(self._t.json(Request("PATCH", path_of("v1", "interpreters", name), json=fields,
                                                          timeout=request_timeout)))

    def delete(self, name: str, *, request_timeout: float | None = None) -> None:
        self._t.request(Request("DELETE", path_of("v1", "interpreters", name), timeout=request_timeout))


class Secrets:
    """``client.secrets``: the tenant's sealed secrets (admin keys; values are write-only)."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def set(self, name: str, value: str, *, request_timeout: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = self._t.json(Request("PUT", path_of("v1", "secrets", name), json={"value": value},
                                                 timeout=request_timeout))
        return d

    def list(self, *, request_timeout: float | None = None) -> list[dict[str, Any]]:
        d = self._t.json(Request("GET", "/v1/secrets", timeout=request_timeout))
        return list(d.get("secrets") or [])

    def delete(self, name: str, *, request_timeout: float | None = None) -> None:
        self._t.request(Request("DELETE", path_of("v1", "secrets", name), timeout=request_timeout))


class Keys:
    """``client.keys``: API keys (admin keys). The secret is in ``create``'s answer only."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def create(self, *, tenant: str | None = None, name: str | None = None, scopes: Iterable[str] | None = None,
               request_timeout: float | None = None) -> dict[str, Any]:
        body = drop_none(tenant=tenant, name=name, scopes=list(scopes) if scopes is not None else None)
        d: dict[str, Any] = self._t.json(Request("POST", "/v1/keys", json=body, timeout=request_timeout))
        return d

    def list(self, *, request_timeout: float | None = None) -> list[dict[str, Any]]:
        d = self._t.json(Request("GET", "/v1/keys", timeout=request_timeout))
        return list(d.get("keys") or [])

    def revoke(self, key_id: str, *, request_timeout: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = self._t.json(Request("DELETE", path_of("v1", "keys", key_id), timeout=request_timeout))
        return d


# --- async ---------------------------------------------------------------------------------


async def _call(callback: Callback, arg: Any) -> None:
    out = callback(arg)
    if inspect.isawaitable(out):
        await out


async def _achunks(data: AsyncFileContent) -> AsyncIterator[bytes]:
    if isinstance(data, AsyncIterable):
        async for chunk in data:
            yield chunk
    elif isinstance(data, (str, bytes, bytearray)):
        yield data.encode() if isinstance(data, str) else bytes(data)
    elif isinstance(data, IO) or hasattr(data, "read"):
        for chunk in _chunks(data):  # type: ignore[arg-type]
            yield chunk
    else:
        for chunk in data:
            yield chunk


class AsyncFiles:
    """``session.files`` (async)."""

    def __init__(self, transport: AsyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    def _url(self, path: str) -> str:
        return path_of("v1", "sessions", self._sid, "files") + "/" + workspace_path(path)

    async def write(self, path: str, data: AsyncFileContent, *, request_timeout: float | None = None) -> FileWritten:
        if isinstance(data, str):
            content: Any = data.encode()
        elif isinstance(data, (bytes, bytearray)):
            content = bytes(data)
        else:
            content = _achunks(data)  # httpx's async client streams async iterables only
        return FileWritten.from_wire(await self._t.json(Request("PUT", self._url(path), content=content,
                                                                headers={"Content-Type": "application/octet-stream"},
                                                                timeout=request_timeout)))

    async def upload(self, local_path: str | os.PathLike[str], path: str | None = None, *,
                     request_timeout: float | None = None) -> FileWritten:
        with open(local_path, "rb") as f:
            return await self.write(path or Path(local_path).name, f, request_timeout=request_timeout)

    async def read(self, path: str, *, request_timeout: float | None = None) -> bytes:
        return (await self._t.request(Request("GET", self._url(path), timeout=request_timeout))).content

    async def read_text(self, path: str, *, encoding: str = "utf-8", request_timeout: float | None = None) -> str:
        return (await self.read(path, request_timeout=request_timeout)).decode(encoding)

    async def iter_bytes(self, path: str, *, chunk_size: int = _CHUNK,
                         request_timeout: float | None = None) -> AsyncIterator[bytes]:
        async with self._t.stream(Request("GET", self._url(path), timeout=request_timeout, stream=True)) as resp:
            async for chunk in resp.aiter_bytes(chunk_size):
                yield chunk

    async def download(self, path: str, local_path: str | os.PathLike[str], *,
                       request_timeout: float | None = None) -> Path:
        target, fd, tmp = _atomic_target(local_path)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in self.iter_bytes(path, request_timeout=request_timeout):
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    async def list(self, path: str = "", *, request_timeout: float | None = None) -> list[FileEntry]:
        rel = _list_dir(path)
        d = await self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "files"),
                                       params={"path": rel} if rel else None, timeout=request_timeout))
        return [FileEntry.from_wire(e, rel) for e in (d.get("entries") or [])] if isinstance(d, dict) else []

    async def remove(self, path: str, *, recursive: bool = False, request_timeout: float | None = None) -> None:
        await self._t.request(Request("DELETE", self._url(path), params={"recursive": "true"} if recursive else None,
                                      timeout=request_timeout))


class AsyncCommands:
    """``session.commands`` (async)."""

    def __init__(self, transport: AsyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    async def run(self, command: str, *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                  timeout: float | None = None, request_timeout: float | None = None) -> CommandResult:
        return CommandResult.from_wire(await self._t.json(_command(self._sid, command, cwd, env, timeout, False,
                                                                   request_timeout)))

    async def start(self, command: str, *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                    timeout: float | None = None, request_timeout: float | None = None) -> Task:
        d = await self._t.json(_command(self._sid, command, cwd, env, timeout, True, request_timeout))
        return await self.get(d["task_id"], request_timeout=request_timeout)

    async def get(self, task_id: str, *, request_timeout: float | None = None) -> Task:
        return Task.from_wire(await self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "tasks", task_id),
                                                         timeout=request_timeout)))

    async def kill(self, task_id: str, *, request_timeout: float | None = None) -> Task:
        return Task.from_wire(await self._t.json(Request("DELETE", path_of("v1", "sessions", self._sid, "tasks",
                                                                           task_id), timeout=request_timeout)))


class AsyncContexts:
    """``session.contexts`` (async)."""

    def __init__(self, transport: AsyncTransport, session_id: str) -> None:
        self._t = transport
        self._sid = session_id

    async def create(self, *, id: str | None = None, language: str | None = None,
                     request_timeout: float | None = None) -> Context:
        return Context.from_wire(await self._t.json(Request("POST", path_of("v1", "sessions", self._sid, "contexts"),
                                                            json=drop_none(id=id, language=language),
                                                            timeout=request_timeout)))

    async def list(self, *, request_timeout: float | None = None) -> list[Context]:
        d = await self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "contexts"),
                                       timeout=request_timeout))
        return [Context.from_wire(c) for c in d.get("contexts") or []]

    async def get(self, context_id: str, *, request_timeout: float | None = None) -> Context:
        return Context.from_wire(await self._t.json(Request("GET", path_of("v1", "sessions", self._sid, "contexts",
                                                                           context_id), timeout=request_timeout)))

    async def restart(self, context_id: str, *, request_timeout: float | None = None) -> Context:
        return Context.from_wire(await self._t.json(Request("POST", path_of("v1", "sessions", self._sid, "contexts",
                                                                            context_id, "restart"),
                                                            timeout=request_timeout)))

    async def delete(self, context_id: str, *, request_timeout: float | None = None) -> None:
        await self._t.request(Request("DELETE", path_of("v1", "sessions", self._sid, "contexts", context_id),
                                      timeout=request_timeout))


class AsyncSession:
    """A live session (async). ``async with`` stops it at the end."""

    def __init__(self, transport: AsyncTransport, info: SessionInfo) -> None:
        self._t = transport
        self.info = info
        self.files = AsyncFiles(transport, info.id)
        self.commands = AsyncCommands(transport, info.id)
        self.contexts = AsyncContexts(transport, info.id)

    @property
    def id(self) -> str:
        return self.info.id

    def __repr__(self) -> str:
        return "AsyncSession(%r, status=%r)" % (self.id, self.info.status)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run_code(self, code: str, *, language: str | None = None, context: str | None = None,
                       timeout: float | None = None, clear_context: bool = False,
                       on_stdout: Callback | None = None, on_stderr: Callback | None = None,
                       on_result: Callback | None = None, on_error: Callback | None = None,
                       request_timeout: float | None = None) -> Execution:
        """As ``Session.run_code``; callbacks may be plain or coroutine functions."""
        streaming = _streaming(on_stdout, on_stderr, on_result, on_error)
        req = _execute(self.id, code, language, context, timeout, clear_context, streaming,
                       self.info.execution_timeout_seconds, request_timeout)
        if not streaming:
            return Execution.from_wire(await self._t.json(req))
        events = _Events(on_stdout, on_stderr, on_result, on_error)
        async with self._t.stream(req) as resp:
            events.request_id = resp.headers.get("X-Request-Id")
            if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                await resp.aread()
                return Execution.from_wire(resp.json())
            from ._base import SSEDecoder

            decoder = SSEDecoder()
            async for line in resp.aiter_lines():
                event = decoder.feed(line)
                if event is None:
                    continue
                call = events.handle(*event)
                if call is not None:
                    await _call(*call)
            tail = decoder.feed("")
            if tail is not None:
                events.handle(*tail)
        return events.execution()

    async def refresh(self, *, request_timeout: float | None = None) -> SessionInfo:
        self.info = SessionInfo.from_wire(await self._t.json(Request("GET", path_of("v1", "sessions", self.id),
                                                                     timeout=request_timeout)))
        return self.info

    async def stop(self, *, request_timeout: float | None = None) -> SessionInfo:
        self.info = SessionInfo.from_wire(await self._t.json(Request("DELETE", path_of("v1", "sessions", self.id),
                                                                     timeout=request_timeout)))
        return self.info


class AsyncSessions:
    """``client.sessions`` (async)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(self, *, interpreter: str | None = None, timeout_seconds: int | None = None,
                     idle_timeout_seconds: int | None = None, limits: LimitsParam | None = None,
                     env: Mapping[str, str] | None = None, metadata: Mapping[str, str] | None = None,
                     secrets: Iterable[str] | None = None, start: str | None = None,
                     request_timeout: float | None = None) -> AsyncSession:
        req = _session_create(interpreter, timeout_seconds, idle_timeout_seconds, limits, env, metadata, secrets,
                              start, request_timeout)
        return AsyncSession(self._t, SessionInfo.from_wire(await self._t.json(req)))

    async def get(self, session_id: str, *, request_timeout: float | None = None) -> AsyncSession:
        return AsyncSession(self._t, SessionInfo.from_wire(await self._t.json(Request(
            "GET", path_of("v1", "sessions", session_id), timeout=request_timeout))))

    async def list(self, *, request_timeout: float | None = None) -> list[AsyncSession]:
        d = await self._t.json(Request("GET", "/v1/sessions", timeout=request_timeout))
        return [AsyncSession(self._t, SessionInfo.from_wire(s)) for s in d.get("sessions") or []]

    async def stop(self, session_id: str, *, request_timeout: float | None = None) -> SessionInfo:
        return SessionInfo.from_wire(await self._t.json(Request("DELETE", path_of("v1", "sessions", session_id),
                                                                timeout=request_timeout)))


class AsyncInterpreters:
    """``client.interpreters`` (async)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(self, name: str, *, request_timeout: float | None = None, **fields: Any) -> Interpreter:
        return Interpreter.from_wire(await self._t.json(Request("POST", "/v1/interpreters",
                                                                json={"name": name, **fields},
                                                                timeout=request_timeout)))

    async def get(self, name: str, *, request_timeout: float | None = None) -> Interpreter:
        return Interpreter.from_wire(await self._t.json(Request("GET", path_of("v1", "interpreters", name),
                                                                timeout=request_timeout)))

    async def list(self, *, request_timeout: float | None = None) -> list[Interpreter]:
        d = await self._t.json(Request("GET", "/v1/interpreters", timeout=request_timeout))
        return [Interpreter.from_wire(i) for i in d.get("interpreters") or []]

    async def update(self, name: str, *, request_timeout: float | None = None, **fields: Any) -> Interpreter:
        return Interpreter.from_wire(await self._t.json(Request("PATCH", path_of("v1", "interpreters", name),
                                                                json=fields, timeout=request_timeout)))

    async def delete(self, name: str, *, request_timeout: float | None = None) -> None:
        await self._t.request(Request("DELETE", path_of("v1", "interpreters", name), timeout=request_timeout))


class AsyncSecrets:
    """``client.secrets`` (async)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def set(self, name: str, value: str, *, request_timeout: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = await self._t.json(Request("PUT", path_of("v1", "secrets", name), json={"value": value},
                                                       timeout=request_timeout))
        return d

    async def list(self, *, request_timeout: float | None = None) -> list[dict[str, Any]]:
        d = await self._t.json(Request("GET", "/v1/secrets", timeout=request_timeout))
        return list(d.get("secrets") or [])

    async def delete(self, name: str, *, request_timeout: float | None = None) -> None:
        await self._t.request(Request("DELETE", path_of("v1", "secrets", name), timeout=request_timeout))


class AsyncKeys:
    """``client.keys`` (async)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(self, *, tenant: str | None = None, name: str | None = None,
                     scopes: Iterable[str] | None = None, request_timeout: float | None = None) -> dict[str, Any]:
        body = drop_none(tenant=tenant, name=name, scopes=list(scopes) if scopes is not None else None)
        d: dict[str, Any] = await self._t.json(Request("POST", "/v1/keys", json=body, timeout=request_timeout))
        return d

    async def list(self, *, request_timeout: float | None = None) -> list[dict[str, Any]]:
        d = await self._t.json(Request("GET", "/v1/keys", timeout=request_timeout))
        return list(d.get("keys") or [])

    async def revoke(self, key_id: str, *, request_timeout: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = await self._t.json(Request("DELETE", path_of("v1", "keys", key_id),
                                                       timeout=request_timeout))
        return d
