"""examples/: the data-analysis script runs against the real daemon; each framework example
builds its agent with the Airlock tool (LangGraph's runs end to end with a scripted model),
so their wiring is tested without an LLM key.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import HOST, ROOT, require

EXAMPLES = ROOT / "examples"
for _var in ("CREWAI_DISABLE_TELEMETRY", "CREWAI_DISABLE_TRACKING", "OPENAI_AGENTS_DISABLE_TRACING"):
    os.environ[_var] = "true"


def load(name: str):
    spec = importlib.util.spec_from_file_location("example_" + name, EXAMPLES / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        require(False, "examples/%s.py needs a package that is not installed: %s" % (name, exc))
    return module


@pytest.fixture
def env(daemon):
    e = dict(os.environ)
    e["AIRLOCK_URL"] = "http://%s:%d" % (HOST, daemon.port)
    e["AIRLOCK_API_KEY"] = daemon.key
    return e


@pytest.fixture
def client(env):
    try:
        import airlock
    except ImportError:
        require(False, "the Python SDK is not installed (pip install ./sdk/python)")
    c = airlock.Airlock(url=env["AIRLOCK_URL"], api_key=env["AIRLOCK_API_KEY"])
    yield c
    c.close()


def test_data_analysis_example(env, tmp_path):
    p = subprocess.run([sys.executable, str(EXAMPLES / "data_analysis.py"), "--out", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "uploaded" in p.stdout and "alpha" in p.stdout and "beta" in p.stdout
    assert "chart: line Daily revenue by product - 3 series" in p.stdout
    assert "best product: '" in p.stdout
    for name in ("shown-1.png", "revenue.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_langgraph_example_runs_with_a_scripted_model(client):
    ex = load("langgraph_agent")
    messages = __import__("langchain_core.messages", fromlist=["_"])
    fake = __import__("langchain_core.language_models.fake_chat_models", fromlist=["_"])
    lc = __import__("airlock.integrations.langchain", fromlist=["_"])

    class ScriptedModel(fake.GenericFakeChatModel):
        def bind_tools(self, tools, **kwargs):
            return self

    script = iter([messages.AIMessage(content="", tool_calls=[{"name": "airlock_run_code", "id": "c1",
                                                              "args": {"code": "sum(range(101))"}}]),
                   messages.AIMessage(content="5050")])
    tool = lc.AirlockCodeTool(client=client)
    try:
        out = ex.build_agent(ScriptedModel(messages=script), tool).invoke(
            {"messages": [("user", "sum 0..100")]}, {"configurable": {"thread_id": "t"}})
        tool_msg = [m for m in out["messages"] if isinstance(m, messages.ToolMessage)][0]
        assert tool_msg.content[0]["text"] == "5050" and out["messages"][-1].content == "5050"
    finally:
        tool.close()


def test_crewai_example_builds(client):
    ex = load("crewai_crew")
    tool = __import__("airlock.integrations.crewai", fromlist=["_"]).AirlockCodeTool(client=client)
    crew = ex.build_crew("What is 2 + 2?", tool, llm="gpt-4o-mini")
    assert [t.name for t in crew.agents[0].tools] == ["airlock_run_code"]
    assert crew.tasks[0].agent is crew.agents[0]


def test_strands_example_builds(client):
    ex = load("strands_agent")
    interp = __import__("airlock.integrations.strands", fromlist=["_"]).AirlockCodeInterpreter(client=client)
    try:
        agent = ex.build_agent(interp, model="us.anthropic.claude-sonnet-4-20250514-v1:0")
        assert "airlock_run_code" in agent.tool_names
        assert agent.tool.airlock_run_code(code="6 * 7")["content"][0]["text"] == "42"
    finally:
        interp.close()


def test_openai_agents_example_builds(client):
    ex = load("openai_agents_agent")
    holder = __import__("airlock.integrations.openai_agents", fromlist=["_"]).AirlockCodeTool(client=client)
    agent = ex.build_agent(holder)
    assert [t.name for t in agent.tools] == ["airlock_run_code"] and agent.name == "analyst"
