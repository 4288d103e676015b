"""A CrewAI tool: ``pip install 'airlock[crewai]'``.

::

    from airlock.integrations.crewai import AirlockCodeTool
    analyst = Agent(role="Data analyst", goal="...", backstory="...", tools=[AirlockCodeTool()])

CrewAI tools answer with text, so the tool returns the execution's text and saves each
image to ``image_dir`` (a new temporary directory by default), naming the file in the
text; a multimodal agent can then look at it. One session per tool instance: give each
agent its own tool (a tool shared by a crew shares its session, which is often what a
crew wants).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    from crewai.tools import BaseTool
    from pydantic import BaseModel, ConfigDict, PrivateAttr
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("crewai", "crewai", exc) from exc

from .._client import Airlock
from .._models import Execution
from ._common import TOOL_DESCRIPTION, SessionPool, result_text
from ._schema import RunCodeInput

__all__ = ["AirlockCodeTool"]


class AirlockCodeTool(BaseTool):
    name: str = "airlock_run_code"
    description: str = TOOL_DESCRIPTION
    args_schema: type[BaseModel] = RunCodeInput
    execution_timeout: float | None = None
    image_dir: str | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)

    _pool: SessionPool = PrivateAttr()
    _last: Execution | None = PrivateAttr(default=None)
    _saved: int = PrivateAttr(default=0)

    def __init__(self, *, client: Airlock | None = None, session_options: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool = SessionPool(client, session_options=session_options)

    @property
    def pool(self) -> SessionPool:
        return self._pool

    @property
    def last_execution(self) -> Execution | None:
        """The Execution behind the last answer (results, images, error)."""
        return self._last

    def _run(self, code: str, language: str = "python", **_: Any) -> str:
        execution, fresh = self._pool.run(code, language=language, timeout=self.execution_timeout)
        self._last = execution
        text = result_text(execution, fresh)
        if execution.images:
            if self.image_dir is None:
                self.image_dir = tempfile.mkdtemp(prefix="airlock-crewai-")
            self._saved += 1
            for path in execution.save_images(Path(self.image_dir), prefix="run%d" % self._saved):
                text += "\n[image saved: %s]" % path
        return text

    def close(self) -> None:
        self._pool.close()
