#!/usr/bin/env python3
"""A Strands agent with Airlock as its code interpreter.

    pip install './sdk/python[strands]'
    AIRLOCK_URL=... AIRLOCK_API_KEY=... python3 examples/strands_agent.py "question"

The model is Strands' default (Amazon Bedrock, with your AWS credentials) unless
AIRLOCK_EXAMPLE_MODEL names another Bedrock model id. Images come back to the model as
image blocks.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from airlock.integrations.strands import AirlockCodeInterpreter
from strands import Agent

PROMPT = "You are a data analyst. Use airlock_run_code to compute answers; never guess numbers."


def build_agent(interpreter: AirlockCodeInterpreter, model: Any = None) -> Agent:
    return Agent(tools=[interpreter.run_code], system_prompt=PROMPT,
                 model=model or os.environ.get("AIRLOCK_EXAMPLE_MODEL"))


def main() -> int:
    question = " ".join(sys.argv[1:]) or "Fit a line to y = 2x + noise for 50 points and plot it."
    interpreter = AirlockCodeInterpreter()
    try:
        print(build_agent(interpreter)(question))
    finally:
        interpreter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
