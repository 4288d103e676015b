"""An OpenAI Agents SDK tool: ``pip install 'airlock[openai-agents]'``.

::

    from agents import Agent
    from airlock.integrations.openai_agents import airlock_code_tool

    agent = Agent(name="analyst", tools=[airlock_code_tool()])

One session per run context object (``Runner.run(..., context=...)``; one for the tool
when there is none): keep a context object across ``Runner.run`` calls of one conversation to keep its
session. The tool's output is a list: the text, then each image as a data URL image.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

try:
    from agents import FunctionTool, RunContextWrapper, ToolOutputImage, ToolOutputText
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("openai-agents", "openai-agents", exc) from exc

from .._client import Airlock
from ._common import TOOL_DESCRIPTION, SessionPool, images, result_text
from ._schema import StrictRunCodeInput

__all__ = ["AirlockCodeTool", "airlock_code_tool"]


class AirlockCodeTool:
    """The sessions, and the FunctionTool that runs code in them (``.tool``)."""

    def __init__(self, *, client: Airlock | None = None, session_options: Mapping[str, Any] | None = None,
                 execution_timeout: float | None = None, name: str = "airlock_run_code") -> None:
        self.pool = SessionPool(client, session_options=session_options)
        self.execution_timeout = execution_timeout
        schema = StrictRunCodeInput.model_json_schema()
        schema["additionalProperties"] = False
        self.tool = FunctionTool(name=name, description=TOOL_DESCRIPTION, params_json_schema=schema,
                                 on_invoke_tool=self._invoke, strict_json_schema=True)

    def run(self, ctx: RunContextWrapper[Any], code: str, language: str = "python") -> list[Any]:
        context = ctx.context
        key = SessionPool.key_of(context) if context is not None else None
        execution, fresh = self.pool.run(code, language=language, key=key, anchor=context,
                                         timeout=self.execution_timeout)
        out: list[Any] = [ToolOutputText(text=result_text(execution, fresh))]
        for mime, data in images(execution):
            out.append(ToolOutputImage(image_url="data:%s;base64,%s" % (mime, base64.b64encode(data).decode())))
        return out

    async def _invoke(self, ctx: RunContextWrapper[Any], arguments: str) -> list[Any]:
        import asyncio

        args = StrictRunCodeInput.model_validate(json.loads(arguments or "{}"))
        return await asyncio.to_thread(self.run, ctx, args.code, args.language)

    def close(self) -> None:
        self.pool.close()


def airlock_code_tool(*, client: Airlock | None = None, session_options: Mapping[str, Any] | None = None,
                      execution_timeout: float | None = None) -> FunctionTool:
    """A FunctionTool with its own sessions (see AirlockCodeTool to reach them and close them)."""
    return AirlockCodeTool(client=client, session_options=session_options, execution_timeout=execution_timeout).tool
