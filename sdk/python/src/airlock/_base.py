"""What the sync and async clients share: configuration, request shapes, retries, errors, SSE.

Neither client does I/O here; each turns a ``Request`` into an httpx call its own way. So
every rule (which requests are retried, how an error body becomes an exception, how an
event stream is read) exists once.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ._exceptions import APIConnectionError, APITimeoutError, make_api_error

DEFAULT_URL = "http://127.0.0.1:8470"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
# An execution's HTTP wait is its own limit plus this, so the daemon's answer (status
# timeout, with the interrupt's traceback) arrives before the client gives up.
EXECUTION_MARGIN = 30.0
# The daemon's largest execution timeout: the wait when neither call nor session says.
MAX_EXECUTION_SECONDS = 3600.0
# 5xx codes that mean "not now" rather than "broken": safe to retry for idempotent requests.
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "PUT", "OPTIONS"})

try:
    from importlib.metadata import version as _pkg_version

    VERSION = _pkg_version("airlock")
except Exception:  # not installed (run from a checkout)
    VERSION = "0.0.0"


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str
    timeout: float
    max_retries: int
    verify: str | bool
    headers: Mapping[str, str]

    @classmethod
    def resolve(cls, url: str | None, api_key: str | None, timeout: float | None, max_retries: int | None,
                headers: Mapping[str, str] | None) -> Config:
        base = url or os.environ.get("AIRLOCK_URL") or DEFAULT_URL
        if not base.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://, got %r" % base)
        key = api_key if api_key is not None else os.environ.get("AIRLOCK_API_KEY")
        if not key:
            raise ValueError("no API key: pass api_key= or set AIRLOCK_API_KEY "
                             "(the daemon writes one to DATA_DIR/api-key)")
        if any(c in key for c in "\r\n\0 "):
            raise ValueError("api_key has a space or control character")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        ca = os.environ.get("AIRLOCK_CA_CERT")
        return cls(base_url=base.rstrip("/"), api_key=key,
                   timeout=DEFAULT_TIMEOUT if timeout is None else float(timeout),
                   max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                   verify=ca if ca else True, headers=dict(headers or {}))

    def default_headers(self) -> dict[str, str]:
        h = {"Authorization": "Bearer " + self.api_key, "User-Agent": "airlock-python/" + VERSION}
        h.update(self.headers)
        return h


@dataclass
class Request:
    """One API call, before it is sent."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    content: Any = None  # a raw body (file upload): bytes, a file, an iterator
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    stream: bool = False  # keep the body unread (downloads, SSE)

    @property
    def replayable(self) -> bool:
        return self.content is None or isinstance(self.content, (bytes, bytearray, str))


def path_of(*segments: str) -> str:
    """``/v1/sessions/{id}/...`` with every segment escaped (so an id can't add a path)."""
    return "/" + "/".join(_segment(s) for s in segments)


def workspace_rel(path: str, *, allow_root: bool = False) -> str:
    """A path relative to ``/workspace``, from either spelling.

    The API takes paths relative to the workspace; the absolute spelling code inside the
    sandbox sees (``/workspace/data.csv``) is accepted too. Any other absolute path is
    refused here, since the API reaches nothing outside the workspace (the daemon checks
    the rest: ``..``, empty names, symbolic links).
    """
    p = path
    if p == "/workspace" or p.startswith("/workspace/"):
        p = p[len("/workspace"):].lstrip("/")
    elif p.startswith("/"):
        raise ValueError("%r: workspace paths are relative to /workspace (or start with /workspace/)" % path)
    if p in ("", ".") and not allow_root:
        raise ValueError("a file path is needed (relative to /workspace)")
    return "" if p == "." else p


def _segment(name: str) -> str:
    # quote() leaves dots alone, and URL normalisation would resolve a literal `..` on the
    # client (…/files/a/../../x reaching another route): send dot names escaped, for the
    # daemon to refuse (it decodes %2E before checking).
    if name in (".", ".."):
        return name.replace(".", "%2E")
    return quote(name, safe="")


def workspace_path(path: str) -> str:
    """A workspace path for a URL: each name escaped, ``/`` kept."""
    return "/".join(_segment(name) for name in workspace_rel(path).split("/"))


def retry_delay(attempt: int, response: httpx.Response | None) -> float:
    if response is not None:
        after = response.headers.get("Retry-After")
        if after and after.isdigit():
            return min(float(after), 30.0)
    return float(min(0.25 * (2 ** attempt), 8.0) * (0.5 + random.random() / 2))


def should_retry(req: Request, attempt: int, max_retries: int, *, response: httpx.Response | None = None,
                 error: Exception | None = None) -> bool:
    """Retries only where a second attempt can't do the work twice."""
    if attempt >= max_retries or not req.replayable:
        return False
    if error is not None:
        # A refused connection sent nothing: safe for any method. Anything later (a read
        # timeout, a reset mid-answer) may have done the work: only idempotent methods.
        if isinstance(error, httpx.ConnectError):
            return True
        return req.method in _IDEMPOTENT and isinstance(error, (httpx.TransportError,))
    if response is not None:
        return req.method in _IDEMPOTENT and response.status_code in _RETRY_STATUSES
    return False


def transport_error(exc: Exception) -> Exception:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError("request timed out (%s)" % type(exc).__name__)
    return APIConnectionError("cannot reach the Airlock daemon: %s" % (str(exc) or type(exc).__name__))


def decode_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def api_error(response: httpx.Response, body: Any = None) -> Exception:
    if body is None:
        body = decode_json(response)
    return make_api_error(response.status_code, body, response.headers.get("X-Request-Id"))


def httpx_timeout(seconds: float) -> httpx.Timeout:
    # Connecting should be quick whatever the call; the wait for the answer is the call's.
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


class SSEDecoder:
    """Server-Sent Events, line by line (the WHATWG rules): ``event:``/``data:`` fields, blank line ends one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            out = (self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return out
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


def execution_wait(timeout: float | None, session_default: float | None) -> float:
    limit = timeout if timeout is not None else (session_default or MAX_EXECUTION_SECONDS)
    return float(limit) + EXECUTION_MARGIN


def execute_body(code: str, language: str | None, context: str | None, timeout: float | None,
                 clear_context: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code}
    if language is not None:
        body["language"] = language
    if context is not None:
        body["context_id"] = context
    if timeout is not None:
        body["timeout_seconds"] = timeout
    if clear_context:
        body["clear_context"] = True
    return body


def drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
