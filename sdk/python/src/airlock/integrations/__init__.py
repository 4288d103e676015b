"""Agent-framework tools (optional extras): ``airlock[langchain]``, ``airlock[crewai]``,
``airlock[strands]``, ``airlock[openai-agents]``.

Each module imports its framework only when imported itself, and says which extra to
install when the framework is missing. All of them share ``SessionPool``: one Airlock
session per agent or conversation, created on first use and made again if it ends.
"""

from ._common import TOOL_DESCRIPTION, SessionPool, missing_extra

__all__ = ["TOOL_DESCRIPTION", "SessionPool", "missing_extra"]
