"""The SDK's agent-framework tools, each driven by its framework's real package the way the
framework calls tools (no LLM: a scripted chat model for LangGraph, the frameworks' own
tool-invocation paths for the others), against the real daemon, images included.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import zlib

import pytest
from conftest import HOST, require

# Traffic goes to loopback only: the frameworks' telemetry and tracing exporters stay off.
for _var in ("CREWAI_DISABLE_TELEMETRY", "CREWAI_DISABLE_TRACKING", "OPENAI_AGENTS_DISABLE_TRACING"):
    os.environ[_var] = "true"
os.environ["LANGCHAIN_TRACING_V2"] = os.environ["LANGSMITH_TRACING"] = "false"

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('t')\nplt.show()\n'plotted'"


def assert_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])


def _import(name: str):
    try:
        return __import__(name, fromlist=["_"])
    except ImportError as exc:
        require(False, "%s is not installed (pip install './sdk/python[all]'): %s" % (name, exc))


@pytest.fixture
def client(daemon):
    airlock = _import("airlock")
    c = airlock.Airlock(url="http://%s:%d" % (HOST, daemon.port), api_key=daemon.key)
    yield c
    c.close()


def _live(client) -> set[str]:
    return {s.id for s in client.sessions.list()}


# --- LangChain / LangGraph ---------------------------------------------------------------------


def test_langchain_tool_in_langgraph_prebuilt_agent(client):
    lc = _import("airlock.integrations.langchain")
    messages = _import("langchain_core.messages")
    fake = _import("langchain_core.language_models.fake_chat_models")
    prebuilt = _import("langgraph.prebuilt")
    checkpoint = _import("langgraph.checkpoint.memory")

    class ScriptedModel(fake.GenericFakeChatModel):
        """A chat model that plays back tool calls: the LangGraph loop around it is real."""

        def bind_tools(self, tools, **kwargs):
            return self

    def call(code, n):
        return messages.AIMessage(content="", tool_calls=[{"name": "airlock_run_code", "id": "call_%d" % n,
                                                          "args": {"code": code, "language": "python"}}])

    script = iter([call("secret = 41", 1), messages.AIMessage(content="stored"),
                   call("secret + 1", 2), call(PLOT, 3), messages.AIMessage(content="done"),
                   call("secret", 4), messages.AIMessage(content="other thread")])
    tool = lc.AirlockCodeTool(client=client)
    before = _live(client)
    try:
        agent = prebuilt.create_react_agent(ScriptedModel(messages=script), [tool],
                                            checkpointer=checkpoint.InMemorySaver())
        t1 = {"configurable": {"thread_id": "conversation-1"}}
        agent.invoke({"messages": [("user", "remember 41")]}, t1)
        out = agent.invoke({"messages": [("user", "add one, then plot")]}, t1)
        tool_msgs = [m for m in out["messages"] if isinstance(m, messages.ToolMessage)]
        assert [m.tool_call_id for m in tool_msgs] == ["call_1", "call_2", "call_3"]
        blocks = tool_msgs[1].content
        assert blocks[0]["type"] == "text" and blocks[0]["text"] == "42"  # state kept within the thread
        plot = tool_msgs[2]
        kinds = [b["type"] for b in plot.content]
        assert kinds == ["text", "image"] and "'plotted'" in plot.content[0]["text"]
        assert plot.content[1]["mime_type"] == "image/png"
        assert_png(base64.b64decode(plot.content[1]["base64"]))
        assert plot.artifact["status"] == "ok" and plot.artifact["execution_id"].startswith("exec_")

        # Another conversation gets its own session: the variable is not there.
        out2 = agent.invoke({"messages": [("user", "what is secret?")]}, {"configurable": {"thread_id": "conv-2"}})
        other = [m for m in out2["messages"] if isinstance(m, messages.ToolMessage)][-1]
        assert "NameError" in other.content[0]["text"]
        assert len(_live(client) - before) == 2
    finally:
        tool.close()
    assert not (_live(client) - before)


def test_langchain_tool_async_and_errors(client):
    lc = _import("airlock.integrations.langchain")
    tool = lc.AirlockCodeTool(client=client)
    try:
        msg = asyncio.run(tool.ainvoke({"type": "tool_call", "id": "c1", "name": tool.name,
                                        "args": {"code": "1/0"}}))
        assert "ZeroDivisionError" in msg.content[0]["text"] and msg.artifact["status"] == "error"
        js = tool.invoke({"type": "tool_call", "id": "c2", "name": tool.name,
                          "args": {"code": "[1, 2].map(x => x * 2)", "language": "javascript"}})
        assert js.content[0]["text"] == "[ 2, 4 ]"
        # A session that ended under the tool is replaced, and the answer says state was lost.
        tool.pool.session(None).stop()
        again = tool.invoke({"type": "tool_call", "id": "c3", "name": tool.name, "args": {"code": "2 + 2"}})
        assert "previous session had ended" in again.content[0]["text"] and again.content[0]["text"].endswith("4")
    finally:
        tool.close()


# --- CrewAI -----------------------------------------------------------------------------------


def test_crewai_tool(client, tmp_path):
    cr = _import("airlock.integrations.crewai")
    crewai = _import("crewai")
    tool = cr.AirlockCodeTool(client=client, image_dir=str(tmp_path))
    try:
        # An agent accepts it (its tools are converted as CrewAI converts them)...
        agent = crewai.Agent(role="analyst", goal="analyse", backstory="numbers", tools=[tool], llm="gpt-4o-mini")
        assert [t.name for t in agent.tools] == ["airlock_run_code"]
        # ...and CrewAI's tool runner calls the structured tool's invoke with the parsed arguments.
        structured = tool.to_structured_tool()
        assert structured.invoke(input={"code": "total = sum(range(10))\ntotal"}) == "45"
        text = structured.invoke(input={"code": PLOT, "language": "python"})
        assert "'plotted'" in text and "[image saved: " in text
        path = text.split("[image saved: ")[1].split("]")[0]
        assert path.startswith(str(tmp_path))
        with open(path, "rb") as f:
            assert_png(f.read())
        assert tool.last_execution.images and tool.last_execution.ok
        err = structured.invoke(input={"code": "undefined_name"})
        assert "NameError" in err
    finally:
        tool.close()


# --- Strands ------------------------------------------------------------------------------------


def test_strands_tool(client):
    st = _import("airlock.integrations.strands")
    strands = _import("strands")
    interp = st.AirlockCodeInterpreter(client=client)
    before = _live(client)
    try:
        agent = strands.Agent(tools=[interp.run_code], model="us.anthropic.claude-sonnet-4-20250514-v1:0",
                              callback_handler=None)
        assert "airlock_run_code" in agent.tool_names
        # Direct tool calls go through Strands' own tool executor, as a model's tool use does.
        first = agent.tool.airlock_run_code(code="counter = 10")
        assert first["status"] == "success"
        res = agent.tool.airlock_run_code(code="counter * 2")
        assert res["status"] == "success" and res["content"][0]["text"] == "20"
        res = agent.tool.airlock_run_code(code=PLOT)
        assert [list(c) for c in res["content"]] == [["text"], ["image"]]
        image = res["content"][1]["image"]
        assert image["format"] == "png"
        assert_png(image["source"]["bytes"])
        bad = agent.tool.airlock_run_code(code="raise RuntimeError('nope')")
        assert bad["status"] == "error" and "RuntimeError: nope" in bad["content"][0]["text"]
        # A second agent, a second session.
        other = strands.Agent(tools=[interp.run_code], model="us.anthropic.claude-sonnet-4-20250514-v1:0",
                              callback_handler=None)
        res = other.tool.airlock_run_code(code="'counter' in globals()")
        assert res["content"][0]["text"] == "False"
        assert len(_live(client) - before) == 2
    finally:
        interp.close()


# --- OpenAI Agents SDK -------------------------------------------------------------------------


def test_openai_agents_tool(client):
    oa = _import("airlock.integrations.openai_agents")
    agents = _import("agents")
    tool_context = _import("agents.tool_context")
    holder = oa.AirlockCodeTool(client=client)
    tool = holder.tool
    try:
        agent = agents.Agent(name="analyst", tools=[tool])
        assert [t.name for t in agent.tools] == ["airlock_run_code"]
        assert tool.params_json_schema["required"] == ["code", "language"]

        def invoke(ctx_obj, args, n):
            # What the Runner does for a function call from the model.
            raw = json.dumps(args)
            ctx = tool_context.ToolContext(context=ctx_obj, tool_name=tool.name, tool_call_id="call_%d" % n,
                                           tool_arguments=raw)
            return asyncio.run(tool.on_invoke_tool(ctx, raw))

        conversation = {"user": "u1"}
        invoke(conversation, {"code": "base = 5", "language": "python"}, 1)
        out = invoke(conversation, {"code": "base * 3", "language": "python"}, 2)
        assert isinstance(out[0], agents.ToolOutputText) and out[0].text == "15"
        out = invoke(conversation, {"code": PLOT, "language": "python"}, 3)
        assert isinstance(out[1], agents.ToolOutputImage)
        prefix = "data:image/png;base64,"
        assert out[1].image_url.startswith(prefix)
        assert_png(base64.b64decode(out[1].image_url[len(prefix):]))
        other = invoke({"user": "u2"}, {"code": "'base' in globals()", "language": "python"}, 4)
        assert other[0].text == "False"
        ts = invoke(conversation, {"code": "const n: number = 2; n ** 10", "language": "typescript"}, 5)
        assert ts[0].text == "1024"
    finally:
        holder.close()


def test_missing_framework_says_which_extra():
    common = _import("airlock.integrations._common")
    err = common.missing_extra("crewai", "crewai", ImportError("No module named 'crewai'"))
    assert "pip install 'airlock[crewai]'" in str(err)
