"""What every framework tool shares: sessions per conversation, and how results read."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any

from .._client import Airlock
from .._exceptions import SessionEndedError, SessionNotFoundError
from .._models import Execution
from .._resources import Session

LANGUAGES = ("python", "javascript", "typescript", "bash")

TOOL_DESCRIPTION = (
    "Run code in a persistent, sandboxed Jupyter-like session and get its output. "
    "Languages: python (default), javascript, typescript, bash. State is kept between calls "
    "(variables, imports, files in the working directory /workspace), so build on earlier "
    "results instead of recomputing. The value of the last expression is returned, as in a "
    "notebook; use print() for anything else. numpy, pandas, matplotlib and scipy are "
    "available; plt.show() returns the chart as an image. There is no internet access. "
    "Errors come back as a traceback: read it, fix the code and try again."
)


def missing_extra(framework: str, extra: str, exc: ImportError) -> ImportError:
    return ImportError("airlock's %s tool needs %s: pip install 'airlock[%s]' (%s)" % (framework, framework, extra, exc))


class SessionPool:
    """One session per conversation key, created on first use, remade if it has ended.

    ``client`` defaults to ``Airlock()`` (``AIRLOCK_URL``, ``AIRLOCK_API_KEY``);
    ``session_options`` are passed to ``client.sessions.create``. ``close()`` stops every
    session the pool made (sessions also end by themselves at their idle timeout).
    """

    def __init__(self, client: Airlock | None = None, *, session_options: Mapping[str, Any] | None = None) -> None:
        self._client = client
        self._options = dict(session_options or {})
        self._sessions: dict[Hashable, Session] = {}
        # Objects whose id() is a key are held while their session lives, so that the id
        # can't be reused by another conversation's object and reach this session.
        self._anchors: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Airlock:
        if self._client is None:
            self._client = Airlock()
        return self._client

    @staticmethod
    def key_of(obj: object) -> Hashable:
        """A key for an object that is not hashable itself (pass it as ``anchor`` too)."""
        return ("id", id(obj))

    def session(self, key: Hashable = None, *, anchor: object = None) -> Session:
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self.client.sessions.create(**self._options)
                self._sessions[key] = s
                if anchor is not None:
                    self._anchors[key] = anchor
            return s

    def run(self, code: str, *, language: str | None = None, key: Hashable = None, anchor: object = None,
            timeout: float | None = None) -> tuple[Execution, bool]:
        """Run code in the key's session. Returns the execution and whether the session is new
        (an ended session is replaced once, and the caller should say state was lost)."""
        if language is not None and language not in LANGUAGES:
            raise ValueError("language must be one of %s, not %r" % (", ".join(LANGUAGES), language))
        s = self.session(key, anchor=anchor)
        try:
            return s.run_code(code, language=language, timeout=timeout), False
        except (SessionEndedError, SessionNotFoundError):
            with self._lock:
                if self._sessions.get(key) is s:
                    del self._sessions[key]
            return self.session(key, anchor=anchor).run_code(code, language=language, timeout=timeout), True

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions, self._anchors = list(self._sessions.values()), {}, {}
        for s in sessions:
            try:
                s.stop()
            except Exception:  # best effort: it ends at its idle timeout anyway
                pass


def result_text(execution: Execution, fresh: bool = False) -> str:
    text = execution.describe()
    if fresh:
        text = "[note: the previous session had ended; this ran in a new one, earlier state is gone]\n" + text
    return text


def images(execution: Execution) -> list[tuple[str, bytes]]:
    out = []
    for r in execution.images:
        found = r.image()
        if found is not None and found[0] != "image/svg+xml":
            out.append(found)
    return out
