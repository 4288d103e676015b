#!/usr/bin/env python3
"""An OpenAI Agents SDK agent with Airlock as its code interpreter.

    pip install './sdk/python[openai-agents]'
    AIRLOCK_URL=... AIRLOCK_API_KEY=... OPENAI_API_KEY=... python3 examples/openai_agents_agent.py "question"

Keep one context object per conversation across Runner.run calls: the tool keeps one
Airlock session per context object.
"""

from __future__ import annotations

import os
import sys

from agents import Agent, Runner
from airlock.integrations.openai_agents import AirlockCodeTool

INSTRUCTIONS = "You are a data analyst. Use airlock_run_code to compute answers; never guess numbers."


def build_agent(tool: AirlockCodeTool | None = None) -> Agent:
    return Agent(name="analyst", instructions=INSTRUCTIONS, tools=[(tool or AirlockCodeTool()).tool],
                 model=os.environ.get("AIRLOCK_EXAMPLE_MODEL", "gpt-4o-mini"))


def main() -> int:
    question = " ".join(sys.argv[1:]) or "How many primes are there below one million? Plot their gaps."
    tool = AirlockCodeTool()
    conversation: dict[str, str] = {"user": "example"}
    try:
        result = Runner.run_sync(build_agent(tool), question, context=conversation)
        print(result.final_output)
    finally:
        tool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
