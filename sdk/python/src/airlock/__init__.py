"""Airlock: stateful, sandboxed code execution for AI agents.

::

    from airlock import Airlock

    client = Airlock()                      # AIRLOCK_URL, AIRLOCK_API_KEY
    with client.sessions.create() as session:
        execution = session.run_code("import math; math.pi")
        print(execution.text)               # 3.141592653589793

A failure in the code is data (``execution.error``); exceptions are for API and transport
failures (``airlock.APIError`` and its subclasses, ``airlock.APIConnectionError``).
"""

from ._base import VERSION as __version__
from ._client import Airlock, AsyncAirlock
from ._exceptions import *  # noqa: F403  (the hierarchy is the public surface)
from ._exceptions import __all__ as _errors
from ._models import (
    CommandResult,
    Context,
    Execution,
    ExecutionError,
    FileEntry,
    FileWritten,
    Interpreter,
    Isolation,
    Limits,
    Result,
    SessionInfo,
    SessionStart,
    Task,
)
from ._resources import AsyncSession, LimitsParam, Session

__all__ = [
    "Airlock",
    "AsyncAirlock",
    "AsyncSession",
    "CommandResult",
    "Context",
    "Execution",
    "ExecutionError",
    "FileEntry",
    "FileWritten",
    "Interpreter",
    "Isolation",
    "Limits",
    "LimitsParam",
    "Result",
    "Session",
    "SessionInfo",
    "SessionStart",
    "Task",
    "__version__",
    *_errors,
]
