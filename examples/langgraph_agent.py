#!/usr/bin/env python3
"""A LangGraph agent with Airlock as its code interpreter.

    pip install './sdk/python[langchain]' langgraph langchain langchain-openai
    AIRLOCK_URL=... AIRLOCK_API_KEY=... OPENAI_API_KEY=... python3 examples/langgraph_agent.py "question"

AIRLOCK_EXAMPLE_MODEL picks the chat model (init_chat_model's "provider:model", default
openai:gpt-4o-mini). Each LangGraph thread gets its own Airlock session.
"""

from __future__ import annotations

import sys
from typing import Any

from airlock.integrations.langchain import AirlockCodeTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent

PROMPT = "You are a data analyst. Use the airlock_run_code tool to compute answers; never guess numbers."


def build_agent(model: Any, tool: AirlockCodeTool | None = None) -> Any:
    return create_react_agent(model, [tool or AirlockCodeTool()], prompt=PROMPT, checkpointer=InMemorySaver())


def main() -> int:
    import os

    from langchain.chat_models import init_chat_model

    question = " ".join(sys.argv[1:]) or "What is the 30th Fibonacci number? Plot the first 30."
    tool = AirlockCodeTool()
    try:
        agent = build_agent(init_chat_model(os.environ.get("AIRLOCK_EXAMPLE_MODEL", "openai:gpt-4o-mini")), tool)
        out = agent.invoke({"messages": [("user", question)]}, {"configurable": {"thread_id": "example"}})
        print(out["messages"][-1].content)
    finally:
        tool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
