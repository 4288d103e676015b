"""Fixtures for the Python runner's tests: run with `python3 -m pytest tests/runner`."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import runner_harness as h


@pytest.fixture(scope="session")
def schema():
    h.require(Path(h.PYTHON).exists(), f"{h.PYTHON} (the sandbox's interpreter) is missing")
    return h.Schema()


@pytest.fixture
def spawn(schema):
    """Start runners (each checked to say `ready` first); all are killed at the end."""
    started = []

    def start(ready=True, **kwargs):
        runner = h.Runner(schema, **kwargs)
        started.append(runner)
        if not ready:
            return runner
        hello = runner.recv()
        assert hello["type"] == "ready" and hello["pid"] == runner.pid, hello
        return runner

    yield start
    for runner in started:
        runner.close()


@pytest.fixture
def runner(spawn):
    return spawn()
