#!/usr/bin/env python3
"""A CrewAI crew whose analyst runs code in Airlock.

    pip install './sdk/python[crewai]'
    AIRLOCK_URL=... AIRLOCK_API_KEY=... OPENAI_API_KEY=... python3 examples/crewai_crew.py "question"

AIRLOCK_EXAMPLE_MODEL picks the LLM (default gpt-4o-mini). Charts the analyst draws are
saved as files and named in its tool output.
"""

from __future__ import annotations

import os
import sys

from airlock.integrations.crewai import AirlockCodeTool
from crewai import Agent, Crew, Task


def build_crew(question: str, tool: AirlockCodeTool | None = None, llm: str | None = None) -> Crew:
    analyst = Agent(role="Data analyst", goal="Answer questions with computed, checked numbers",
                    backstory="You always run code to get numbers and never guess.",
                    tools=[tool or AirlockCodeTool()], llm=llm or os.environ.get("AIRLOCK_EXAMPLE_MODEL", "gpt-4o-mini"))
    task = Task(description=question, expected_output="The answer with the numbers that support it.", agent=analyst)
    return Crew(agents=[analyst], tasks=[task])


def main() -> int:
    question = " ".join(sys.argv[1:]) or "Simulate 10,000 rolls of two dice and report the distribution of sums."
    tool = AirlockCodeTool()
    try:
        print(build_crew(question, tool).kickoff())
    finally:
        tool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
