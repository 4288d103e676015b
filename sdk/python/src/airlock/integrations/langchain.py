"""A LangChain tool (works in LangGraph's prebuilt agents): ``pip install 'airlock[langchain]'``.

::

    from airlock.integrations.langchain import AirlockCodeTool
    from langgraph.prebuilt import create_react_agent

    agent = create_react_agent(model, [AirlockCodeTool()])

The tool keeps one session per LangGraph thread (``config["configurable"]["thread_id"]``),
or one for the tool when there is no thread. Its message content is a list of standard
content blocks: the text, then each image as an ``image`` block (base64); the artifact
is the whole Execution record.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any, Literal

try:
    from langchain_core.callbacks import CallbackManagerForToolRun
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool
    from pydantic import BaseModel, ConfigDict, PrivateAttr
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("langchain", "langchain", exc) from exc

from .._client import Airlock
from ._common import TOOL_DESCRIPTION, SessionPool, images, result_text
from ._schema import RunCodeInput

__all__ = ["AirlockCodeTool"]


class AirlockCodeTool(BaseTool):
    """Runs code in an Airlock session; one session per conversation thread."""

    name: str = "airlock_run_code"
    description: str = TOOL_DESCRIPTION
    args_schema: type[BaseModel] = RunCodeInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    execution_timeout: float | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)

    _pool: SessionPool = PrivateAttr()

    def __init__(self, *, client: Airlock | None = None, session_options: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool = SessionPool(client, session_options=session_options)

    @property
    def pool(self) -> SessionPool:
        return self._pool

    def _run(self, code: str, language: str = "python", *, config: RunnableConfig,
             run_manager: CallbackManagerForToolRun | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        thread = (config.get("configurable") or {}).get("thread_id")
        execution, fresh = self._pool.run(code, language=language, key=thread, timeout=self.execution_timeout)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": result_text(execution, fresh)}]
        for mime, data in images(execution):
            blocks.append({"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": mime})
        return blocks, execution.raw

    async def _arun(self, code: str, language: str = "python", *, config: RunnableConfig,
                    run_manager: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        # The sync client in a worker thread: sessions stay shared with sync use of the tool.
        return await asyncio.to_thread(self._run, code, language, config=config)

    def close(self) -> None:
        """Stop the sessions this tool made."""
        self._pool.close()
