"""The tool's arguments as a pydantic model (the frameworks that take one: LangChain,
CrewAI, the OpenAI Agents SDK). Imported only by those modules: pydantic comes with them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["python", "javascript", "typescript", "bash"]


class RunCodeInput(BaseModel):
    code: str = Field(description="The code to run, as one notebook cell.")
    language: Language = Field(default="python", description="The language of the code.")


class StrictRunCodeInput(BaseModel):
    """For strict JSON-schema tools (every field required, nothing else allowed)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="The code to run, as one notebook cell.")
    language: Language = Field(description="The language of the code: python unless you need another.")
