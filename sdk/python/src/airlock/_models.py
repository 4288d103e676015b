"""Typed views of the daemon's JSON (api/openapi.yaml's schemas), built in one place.

Every model keeps the object it was made from in ``raw``: fields a later daemon adds are
never lost, only not typed yet. Wire names are snake_case already, so attribute names
are the wire names.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CHART_MIME",
    "CommandResult",
    "Context",
    "Execution",
    "ExecutionError",
    "FileEntry",
    "FileWritten",
    "Interpreter",
    "Isolation",
    "Limits",
    "Result",
    "SessionInfo",
    "Task",
]

CHART_MIME = "application/vnd.airlock.chart+json"
SPILLED_MIME = "application/vnd.airlock.spilled+json"
_IMAGE_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg"}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_num(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpus: float
    pids: int
    workspace_mb: int

    @classmethod
    def from_wire(cls, d: Any) -> Limits:
        d = d if isinstance(d, dict) else {}
        return cls(memory_mb=_int(d.get("memory_mb")), cpus=_num(d.get("cpus")),
                   pids=_int(d.get("pids")), workspace_mb=_int(d.get("workspace_mb")))


@dataclass(frozen=True)
class Isolation:
    """What actually isolates the session on the daemon's host."""

    backend: str
    cgroup: str
    landlock_abi: int
    seccomp: bool
    uid_private: bool
    network: str

    @classmethod
    def from_wire(cls, d: Any) -> Isolation:
        d = d if isinstance(d, dict) else {}
        return cls(backend=_str(d.get("backend")), cgroup=_str(d.get("cgroup")),
                   landlock_abi=_int(d.get("landlock_abi")), seccomp=d.get("seccomp") is True,
                   uid_private=d.get("uid_private") is True, network=_str(d.get("network")))


@dataclass(frozen=True)
class SessionStart:
    """How a session's sandbox was started: ``mode`` ``warm`` or ``fresh`` (the setting),
    ``from_pool`` whether it came from the warm pool, ``preloaded`` the modules its runner
    had imported before the session's first execution."""

    mode: str
    from_pool: bool
    preloaded: list[str]

    @classmethod
    def from_wire(cls, d: Any) -> SessionStart | None:
        if not isinstance(d, dict):
            return None  # sessions recorded before the daemon reported it
        return cls(mode=_str(d.get("mode")), from_pool=d.get("from_pool") is True,
                   preloaded=[m for m in d.get("preloaded") or [] if isinstance(m, str)])


@dataclass(frozen=True)
class SessionInfo:
    """A session as the daemon describes it (``GET /v1/sessions/{id}``)."""

    id: str
    tenant: str
    interpreter: str
    status: str
    created_at: datetime | None
    expires_at: datetime | None
    idle_timeout_seconds: int
    execution_timeout_seconds: float | None
    limits: Limits
    isolation: Isolation
    metadata: dict[str, str]
    secrets: list[str]
    ended_reason: str | None
    start: SessionStart | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, d: Any) -> SessionInfo:
        d = d if isinstance(d, dict) else {}
        meta = d.get("metadata")
        return cls(id=_str(d.get("id")), tenant=_str(d.get("tenant")), interpreter=_str(d.get("interpreter")),
                   status=_str(d.get("status")), created_at=_time(d.get("created_at")),
                   expires_at=_time(d.get("expires_at")),
                   idle_timeout_seconds=_int(d.get("idle_timeout_seconds")),
                   execution_timeout_seconds=_opt_num(d.get("execution_timeout_seconds")),
                   limits=Limits.from_wire(d.get("limits")), isolation=Isolation.from_wire(d.get("isolation")),
                   metadata=dict(meta) if isinstance(meta, dict) else {},
                   secrets=[s for s in d.get("secrets") or [] if isinstance(s, str)],
                   ended_reason=_opt_str(d.get("ended_reason")), start=SessionStart.from_wire(d.get("start")),
                   raw=d)

    @property
    def ended(self) -> bool:
        return self.status == "ended"


class Result(Mapping[str, Any]):
    """One displayed value: a MIME bundle (``{"text/plain": ..., "image/png": ...}``).

    It is a read-only mapping of MIME type to the wire value, with typed accessors for the
    common forms. Images are decoded from base64 on access.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "Result(%s)" % ", ".join(self._data)

    @property
    def formats(self) -> list[str]:
        """The MIME types this value came in."""
        return list(self._data)

    @property
    def text(self) -> str:
        return _str(self._data.get("text/plain"))

    @property
    def html(self) -> str | None:
        return _opt_str(self._data.get("text/html"))

    @property
    def markdown(self) -> str | None:
        return _opt_str(self._data.get("text/markdown"))

    @property
    def latex(self) -> str | None:
        return _opt_str(self._data.get("text/latex"))

    @property
    def svg(self) -> str | None:
        return _opt_str(self._data.get("image/svg+xml"))

    @property
    def json(self) -> Any:
        """The ``application/json`` form (any JSON value), or None."""
        return self._data.get("application/json")

    @property
    def chart(self) -> dict[str, Any] | None:
        """What a matplotlib figure shows (``application/vnd.airlock.chart+json``), or None."""
        value = self._data.get(CHART_MIME)
        return value if isinstance(value, dict) else None

    @property
    def spilled(self) -> list[dict[str, Any]]:
        """Forms cut or left out for size, with where the whole was saved in the workspace."""
        value = self._data.get(SPILLED_MIME)
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def _image(self, mime: str) -> bytes | None:
        value = self._data.get(mime)
        if not isinstance(value, str):
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None

    @property
    def png(self) -> bytes | None:
        return self._image("image/png")

    @property
    def jpeg(self) -> bytes | None:
        return self._image("image/jpeg")

    @property
    def is_image(self) -> bool:
        return any(m in self._data for m in _IMAGE_EXT)

    def image(self) -> tuple[str, bytes] | None:
        """The best image form as (mime type, bytes): PNG, then JPEG, then SVG."""
        for mime in ("image/png", "image/jpeg"):
            data = self._image(mime)
            if data is not None:
                return mime, data
        if self.svg is not None:
            return "image/svg+xml", self.svg.encode()
        return None

    def save_image(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path`` (a directory gets ``result.<ext>`` inside). Returns the file."""
        found = self.image()
        if found is None:
            raise ValueError("this result has no image form (it has %s)" % ", ".join(self._data))
        mime, data = found
        target = Path(path)
        if target.is_dir():
            target = target / ("result" + _IMAGE_EXT[mime])
        target.write_bytes(data)
        return target

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


@dataclass(frozen=True)
class ExecutionError:
    """An exception in the user's code: data, not an SDK exception."""

    name: str
    value: str
    traceback: list[str]

    @classmethod
    def from_wire(cls, d: Any) -> ExecutionError:
        d = d if isinstance(d, dict) else {}
        tb = d.get("traceback")
        return cls(name=_str(d.get("name")), value=_str(d.get("value")),
                   traceback=[t for t in tb if isinstance(t, str)] if isinstance(tb, list) else [])

    @property
    def traceback_text(self) -> str:
        return "".join(self.traceback)

    def __str__(self) -> str:
        return "%s: %s" % (self.name, self.value) if self.value else self.name


@dataclass
class Execution:
    """What running code gave: output, displayed values, and its error when it failed.

    ``status`` is ``ok``, ``error`` (see ``error``), ``timeout`` or ``killed`` (see
    ``killed_reason``). Nothing here raises for a failure in the code itself.
    """

    execution_id: str
    status: str
    stdout: str
    stderr: str
    results: list[Result]
    error: ExecutionError | None
    duration_ms: float
    execution_count: int
    state_kept: bool
    killed_reason: str | None
    language: str | None
    cpu_seconds: float | None
    peak_memory_bytes: int | None
    stdout_dropped_bytes: int
    stderr_dropped_bytes: int
    stdout_path: str | None
    stderr_path: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, d: Any) -> Execution:
        d = d if isinstance(d, dict) else {}
        results = d.get("results")
        err = d.get("error")
        return cls(execution_id=_str(d.get("execution_id")), status=_str(d.get("status")),
                   stdout=_str(d.get("stdout")), stderr=_str(d.get("stderr")),
                   results=[Result(r) for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
                   error=ExecutionError.from_wire(err) if isinstance(err, dict) else None,
                   duration_ms=_num(d.get("duration_ms")), execution_count=_int(d.get("execution_count")),
                   state_kept=d.get("state_kept") is not False, killed_reason=_opt_str(d.get("killed_reason")),
                   language=_opt_str(d.get("language")), cpu_seconds=_opt_num(d.get("cpu_seconds")),
                   peak_memory_bytes=_opt_int(d.get("peak_memory_bytes")),
                   stdout_dropped_bytes=_int(d.get("stdout_dropped_bytes")),
                   stderr_dropped_bytes=_int(d.get("stderr_dropped_bytes")),
                   stdout_path=_opt_str(d.get("stdout_path")), stderr_path=_opt_str(d.get("stderr_path")), raw=d)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def text(self) -> str | None:
        """The text of the cell's value: the last result's ``text/plain`` (None without results)."""
        return self.results[-1].text if self.results else None

    @property
    def images(self) -> list[Result]:
        return [r for r in self.results if r.is_image]

    @property
    def charts(self) -> list[dict[str, Any]]:
        return [c for c in (r.chart for r in self.results) if c is not None]

    def save_images(self, directory: str | os.PathLike[str], *, prefix: str = "image") -> list[Path]:
        """Write every image result into ``directory`` as ``<prefix>-<n>.<ext>``; returns the files."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        saved = []
        for n, r in enumerate(self.images, 1):
            found = r.image()
            if found is None:
                continue
            mime, data = found
            target = out / ("%s-%d%s" % (prefix, n, _IMAGE_EXT[mime]))
            target.write_bytes(data)
            saved.append(target)
        return saved

    def describe(self) -> str:
        """A plain-text account for a language model: output, values, error and status."""
        parts = []
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append("[stderr]\n" + self.stderr.rstrip("\n"))
        for r in self.results:
            if r.is_image:
                chart = r.chart
                title = chart.get("title") if chart else None
                parts.append("[image%s]" % (": " + title if isinstance(title, str) and title else ""))
            elif r.text:
                parts.append(r.text)
        if self.error is not None:
            parts.append(self.error.traceback_text.rstrip("\n") or str(self.error))
        if self.status == "timeout":
            parts.append("[execution timed out]")
        elif self.status == "killed":
            parts.append("[execution killed: %s]" % (self.killed_reason or "unknown"))
        return "\n".join(parts) if parts else "(no output)"


@dataclass(frozen=True)
class CommandResult:
    """A foreground command's end."""

    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    stdout_dropped_bytes: int
    stderr_dropped_bytes: int
    duration_ms: float
    timed_out: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, d: Any) -> CommandResult:
        d = d if isinstance(d, dict) else {}
        return cls(exit_code=_opt_int(d.get("exit_code")), signal=_opt_int(d.get("signal")),
                   stdout=_str(d.get("stdout")), stderr=_str(d.get("stderr")),
                   stdout_dropped_bytes=_int(d.get("stdout_dropped_bytes")),
                   stderr_dropped_bytes=_int(d.get("stderr_dropped_bytes")),
                   duration_ms=_num(d.get("duration_ms")), timed_out=d.get("timed_out") is True, raw=d)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Task:
    """A background command (``status``: running, exited, killed, timed_out)."""

    task_id: str
    status: str
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    stdout_dropped_bytes: int
    stderr_dropped_bytes: int
    started_at: datetime | None
    duration_ms: float
    command: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, d: Any) -> Task:
        d = d if isinstance(d, dict) else {}
        return cls(task_id=_str(d.get("task_id")), status=_str(d.get("status")),
                   exit_code=_opt_int(d.get("exit_code")), signal=_opt_int(d.get("signal")),
                   stdout=_str(d.get("stdout")), stderr=_str(d.get("stderr")),
                   stdout_dropped_bytes=_int(d.get("stdout_dropped_bytes")),
                   stderr_dropped_bytes=_int(d.get("stderr_dropped_bytes")),
                   started_at=_time(d.get("started_at")), duration_ms=_num(d.get("duration_ms")),
                   command=_str(d.get("command")), raw=d)

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class FileEntry:
    name: str
    type: str
    size: int
    mode: str
    mtime: datetime | None
    path: str

    @classmethod
    def from_wire(cls, d: Any, directory: str) -> FileEntry:
        d = d if isinstance(d, dict) else {}
        name = _str(d.get("name"))
        return cls(name=name, type=_str(d.get("type")), size=_int(d.get("size")), mode=_str(d.get("mode")),
                   mtime=_time(d.get("mtime")), path=(directory.rstrip("/") + "/" + name) if directory else name)

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"


@dataclass(frozen=True)
class FileWritten:
    path: str
    size: int

    @classmethod
    def from_wire(cls, d: Any) -> FileWritten:
        d = d if isinstance(d, dict) else {}
        return cls(path=_str(d.get("path")), size=_int(d.get("size")))


@dataclass(frozen=True)
class Context:
    """A namespace of one language in a session."""

    id: str
    language: str
    execution_count: int

    @classmethod
    def from_wire(cls, d: Any) -> Context:
        d = d if isinstance(d, dict) else {}
        return cls(id=_str(d.get("id")), language=_str(d.get("language")),
                   execution_count=_int(d.get("execution_count")))


@dataclass(frozen=True)
class Interpreter:
    """A named session configuration: defaults every session made from it inherits."""

    name: str
    description: str
    builtin: bool
    timeout_seconds: int
    idle_timeout_seconds: int
    execution_timeout_seconds: float
    limits: Limits
    max_limits: dict[str, Any]
    network: dict[str, Any]
    runtime: str
    env: dict[str, str]
    start: str
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, d: Any) -> Interpreter:
        d = d if isinstance(d, dict) else {}
        env = d.get("env")
        ml = d.get("max_limits")
        net = d.get("network")
        return cls(name=_str(d.get("name")), description=_str(d.get("description")),
                   builtin=d.get("builtin") is True, timeout_seconds=_int(d.get("timeout_seconds")),
                   idle_timeout_seconds=_int(d.get("idle_timeout_seconds")),
                   execution_timeout_seconds=_num(d.get("execution_timeout_seconds")),
                   limits=Limits.from_wire(d.get("limits")), max_limits=dict(ml) if isinstance(ml, dict) else {},
                   network=dict(net) if isinstance(net, dict) else {}, runtime=_str(d.get("runtime")),
                   env=dict(env) if isinstance(env, dict) else {}, start=_str(d.get("start")) or "warm",
                   created_at=_time(d.get("created_at")),
                   updated_at=_time(d.get("updated_at")), raw=d)
