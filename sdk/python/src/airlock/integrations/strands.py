"""A Strands Agents tool: ``pip install 'airlock[strands]'``.

::

    from strands import Agent
    from airlock.integrations.strands import AirlockCodeInterpreter

    interpreter = AirlockCodeInterpreter()
    agent = Agent(tools=[interpreter.run_code])

One session per Strands agent object. Results are Strands tool results:
a text block, then each image as an ``image`` block with its bytes; a failure in the code
is ``status: "error"`` with the traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    from strands import ToolContext, tool
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("strands", "strands", exc) from exc

from .._client import Airlock
from ._common import TOOL_DESCRIPTION, SessionPool, images, result_text

__all__ = ["AirlockCodeInterpreter"]


class AirlockCodeInterpreter:
    """Holds the sessions; ``run_code`` is the Strands tool."""

    def __init__(self, *, client: Airlock | None = None, session_options: Mapping[str, Any] | None = None,
                 execution_timeout: float | None = None) -> None:
        self.pool = SessionPool(client, session_options=session_options)
        self.execution_timeout = execution_timeout

    @tool(name="airlock_run_code", description=TOOL_DESCRIPTION, context=True)
    def run_code(self, code: str, tool_context: ToolContext, language: str = "python") -> dict[str, Any]:
        """Run code in a persistent sandboxed session.

        Args:
            code: The code to run, as one notebook cell.
            language: python (default), javascript, typescript or bash.
        """
        agent = tool_context.agent  # agent_id is "default" unless set: key on the agent itself
        execution, fresh = self.pool.run(code, language=language, key=SessionPool.key_of(agent), anchor=agent,
                                         timeout=self.execution_timeout)
        content: list[dict[str, Any]] = [{"text": result_text(execution, fresh)}]
        for mime, data in images(execution):
            content.append({"image": {"format": mime.split("/")[1], "source": {"bytes": data}}})
        return {"status": "success" if execution.ok else "error", "content": content}

    def close(self) -> None:
        self.pool.close()
