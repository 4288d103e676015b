"""The MCP server: streamable HTTP at /mcp and `airlock mcp` over stdio, driven by the official
MCP Python SDK (the `mcp` package, 1.x or 2.x: their client APIs differ, `Conn` hides that),
plus the transport's edges with raw HTTP, every answer checked against api/openapi.yaml.

What an MCP client sees: the tools and their schemas; run_code keeping state, images as MCP
image content (a real PNG), chart data and the execution record as structuredContent (which
the SDK validates against the tool's outputSchema), user errors as isError results with the
traceback; files round-tripped (text, binary, images); commands' exit codes; sessions made,
listed, stopped; the default session stopped with its MCP session. And what it must not:
no key or a wrong key (401), another key's MCP session (404), a foreign Origin (403).
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager

import airlock_api as api
import pytest
from airlock_api import expect
from conftest import AIRLOCK, HOST, SANITIZER_MARKS, ExtraDaemon, _importable, http_ready, require

ACCEPT = {"Accept": "application/json, text/event-stream"}
SESSION_RE = re.compile(r"^sess_[a-z0-9]{26}$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOOLS = {"create_session", "stop_session", "list_sessions", "run_code", "run_command", "read_file", "write_file",
         "list_files"}
# A 1x1 PNG, to read back as an image.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _sdk_major() -> int | None:
    try:
        from importlib.metadata import version
        return int(version("mcp").split(".")[0])
    except Exception:  # not installed, or an unreadable version
        return None


@pytest.fixture(scope="module")
def sdk() -> int:
    major = _sdk_major()
    require(major is not None and _importable("mcp.client.stdio") and _importable("anyio"),
            "the MCP Python SDK is not installed (pip install mcp)")
    return major


# --- the SDK, 1.x or 2.x, behind one small interface ------------------------------------------


def _dump(model) -> dict:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


class Conn:
    """A connected SDK client: tools() and call() give plain dicts (MCP's camelCase wire names)."""

    def __init__(self, major, target, init):
        self.major = major
        self.target = target  # 2.x: mcp.client.Client; 1.x: mcp.ClientSession
        self.init = _dump(init) if init is not None else None

    @property
    def protocol_version(self) -> str:
        return self.target.protocol_version if self.major >= 2 else self.init["protocolVersion"]

    @property
    def instructions(self) -> str | None:
        if self.major >= 2:
            result = self.target.session.initialize_result
            return result.instructions if result is not None else None
        return self.init.get("instructions")

    async def tools(self) -> list[dict]:
        return [_dump(t) for t in (await self.target.list_tools()).tools]

    async def call(self, name: str, arguments: dict | None = None) -> dict:
        return _dump(await self.target.call_tool(name, arguments or {}))


@asynccontextmanager
async def http_conn(major: int, url: str, headers: dict):
    from mcp.client.streamable_http import streamable_http_client
    if major >= 2:
        import httpx2
        from mcp.client import Client
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http:
            async with Client(streamable_http_client(url, http_client=http)) as c:
                yield Conn(major, c, None)
    else:
        import httpx
        from mcp import ClientSession
        async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=300)) as http:
            async with streamable_http_client(url, http_client=http) as (read, write, _session_id):
                async with ClientSession(read, write) as s:
                    init = await s.initialize()
                    yield Conn(major, s, init)


def bridge_env(url: str, key: str) -> dict:
    env = {"AIRLOCK_URL": url, "AIRLOCK_API_KEY": key}
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):  # sanitizer builds: the same rules
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@asynccontextmanager
async def stdio_conn(major: int, env: dict, errlog):
    from mcp.client.stdio import StdioServerParameters, stdio_client
    params = StdioServerParameters(command=str(AIRLOCK), args=["mcp"], env=env)
    if major >= 2:
        from mcp.client import Client
        async with Client(stdio_client(params, errlog=errlog)) as c:
            yield Conn(major, c, None)
    else:
        from mcp import ClientSession
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as s:
                init = await s.initialize()
                yield Conn(major, s, init)


def run(coro_fn, *args):
    import anyio
    return anyio.run(coro_fn, *args)


def text_of(result: dict) -> str:
    return "\n".join(c["text"] for c in result["content"] if c["type"] == "text")


# --- one scenario, over either transport ---------------------------------------------------


async def exercise(conn: Conn, client: api.Client) -> str:
    """Every tool through a connected SDK client; returns the default session's id."""
    assert conn.protocol_version == "2025-11-25"
    assert "run_code" in (conn.instructions or "")
    tools = {t["name"]: t for t in await conn.tools()}
    assert set(tools) == TOOLS
    for t in tools.values():
        assert t["inputSchema"]["type"] == "object" and len(t["description"]) > 80, t
    assert tools["run_code"]["inputSchema"]["required"] == ["code"]
    assert tools["run_code"]["inputSchema"]["properties"]["language"]["enum"] == [
        "python", "javascript", "typescript", "bash"]
    assert tools["run_code"]["outputSchema"]["type"] == "object"
    assert tools["read_file"]["annotations"]["readOnlyHint"] is True
    assert tools["stop_session"]["annotations"]["destructiveHint"] is True

    # run_code: the default session is made on first use and keeps state
    r = await conn.call("run_code", {"code": "x = 6*7\nprint('hi')\nx"})
    assert r["isError"] is False, r
    default = r["structuredContent"]["session_id"]
    assert SESSION_RE.match(default)
    assert "Started default session %s" % default in text_of(r)
    assert "hi" in text_of(r) and "42" in text_of(r)
    assert r["structuredContent"]["status"] == "ok" and r["structuredContent"]["results"] == [{"text/plain": "42"}]
    r = await conn.call("run_code", {"code": "x + 1"})
    assert text_of(r).strip().endswith("43") and "Started" not in text_of(r)
    assert r["structuredContent"]["session_id"] == default

    # a matplotlib figure: an image (a real PNG) and its data
    r = await conn.call("run_code", {"code": "import matplotlib.pyplot as plt; plt.plot([1,2,3]); plt.show()"})
    assert r["isError"] is False, text_of(r)
    images = [c for c in r["content"] if c["type"] == "image"]
    assert len(images) == 1 and images[0]["mimeType"] == "image/png"
    png = base64.b64decode(images[0]["data"], validate=True)
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    charts = r["structuredContent"]["charts"]
    assert charts[0]["type"] == "line" and charts[0]["elements"][0]["points"] == [[0, 1], [1, 2], [2, 3]]
    assert "image/png" not in r["structuredContent"]["results"][0]  # the bytes are in the image block only
    assert r["structuredContent"]["results"][0]["application/vnd.airlock.chart+json"] == charts[0]

    # a failure in user code is a result with isError and the traceback, not a protocol error
    r = await conn.call("run_code", {"code": "def f():\n    raise ValueError('boom')\nf()"})
    assert r["isError"] is True
    assert "Traceback (most recent call last)" in text_of(r) and "ValueError: boom" in text_of(r)
    assert r["structuredContent"]["error"]["name"] == "ValueError"
    r = await conn.call("run_code", {"code": "const a = 2; a * 21", "language": "javascript"})
    assert r["isError"] is False and text_of(r).strip().endswith("42"), r
    r = await conn.call("run_code", {"code": "echo $((6*7))", "language": "bash", "context_id": "sh"})
    assert "42" in text_of(r), r

    # files: text, binary, an image
    r = await conn.call("write_file", {"path": "notes/a.txt", "content": "hello\nwörld\n"})
    assert r["isError"] is False and "13 bytes" in text_of(r), r
    r = await conn.call("read_file", {"path": "notes/a.txt"})
    assert r["content"] == [{"type": "text", "text": "hello\nwörld\n"}], r
    blob = bytes(range(256)) * 3
    r = await conn.call("write_file", {"path": "/workspace/bin/data.bin", "content": base64.b64encode(blob).decode(),
                                       "encoding": "base64"})
    assert r["isError"] is False, r
    r = await conn.call("read_file", {"path": "bin/data.bin"})
    (block,) = r["content"]
    assert block["type"] == "resource" and block["resource"]["uri"] == "file:///workspace/bin/data.bin"
    assert base64.b64decode(block["resource"]["blob"]) == blob
    await conn.call("write_file", {"path": "dot.png", "content": base64.b64encode(TINY_PNG).decode(),
                                   "encoding": "base64"})
    r = await conn.call("read_file", {"path": "dot.png"})
    assert r["content"][0]["type"] == "image" and base64.b64decode(r["content"][0]["data"]) == TINY_PNG
    r = await conn.call("run_code", {"code": "open('notes/a.txt').read().upper()"})
    assert "HELLO" in text_of(r)  # the same /workspace as run_code's
    r = await conn.call("list_files", {})
    entries = {e["name"]: e for e in r["structuredContent"]["entries"]}
    assert entries["notes"]["type"] == "directory" and entries["dot.png"]["size"] == len(TINY_PNG)
    r = await conn.call("list_files", {"path": "notes"})
    assert [(e["name"], e["size"]) for e in r["structuredContent"]["entries"]] == [("a.txt", 13)]
    assert "a.txt" in text_of(r)
    r = await conn.call("read_file", {"path": "nope.txt"})
    assert r["isError"] is True and "There is no nope.txt" in text_of(r)
    r = await conn.call("read_file", {"path": "../etc/passwd"})
    assert r["isError"] is True and "'path' must be" in text_of(r)
    r = await conn.call("write_file", {"path": "x.bin", "content": "not base64!", "encoding": "base64"})
    assert r["isError"] is True and "not valid base64" in text_of(r)

    # commands: exit codes
    r = await conn.call("run_command", {"command": "cat notes/a.txt; echo oops >&2; exit 3"})
    assert r["isError"] is True and r["structuredContent"]["exit_code"] == 3
    assert r["structuredContent"]["stdout"] == "hello\nwörld\n" and r["structuredContent"]["stderr"] == "oops\n"
    assert "exit code 3" in text_of(r)
    r = await conn.call("run_command", {"command": "pwd", "cwd": "notes"})
    assert r["isError"] is False and r["structuredContent"]["stdout"] == "/workspace/notes\n", r

    # sessions of its own: separate state, listed, stopped
    r = await conn.call("create_session", {"timeout_seconds": 600})
    other = r["structuredContent"]["session_id"]
    assert SESSION_RE.match(other) and other != default and r["structuredContent"]["limits"]["memory_mb"] > 0
    assert other in text_of(r)
    r = await conn.call("run_code", {"code": "x", "session_id": other})
    assert r["isError"] is True and "NameError" in text_of(r)  # x lives in the default session only
    listed = {s["session_id"]: s for s in (await conn.call("list_sessions"))["structuredContent"]["sessions"]}
    assert listed[default]["default"] is True and listed[other]["default"] is False
    r = await conn.call("stop_session", {"session_id": other})
    assert r["isError"] is False and "Stopped session" in text_of(r)
    assert client.get_session(other)["status"] == "ended"
    r = await conn.call("run_code", {"code": "1", "session_id": other})
    assert r["isError"] is True and "has ended" in text_of(r)
    r = await conn.call("run_command", {"command": "true", "session_id": "sess_" + "0" * 26})
    assert r["isError"] is True and "no session" in text_of(r).lower()

    # arguments a model got wrong: a result it can act on
    r = await conn.call("run_code", {"cod": "1"})
    assert r["isError"] is True and "no argument 'cod'" in text_of(r)
    r = await conn.call("run_code", {"code": "1", "timeout_seconds": 99999})
    assert r["isError"] is True and "'timeout_seconds' must be a number from 0.1 to 3600" in text_of(r)
    r = await conn.call("run_code", {"code": "1", "language": "cobol"})
    assert r["isError"] is True and "python, javascript, typescript or bash" in text_of(r)
    # ... but an unknown tool is a protocol error
    with pytest.raises(Exception, match="Unknown tool"):
        await conn.call("rm_rf", {})
    return default


def test_every_tool_over_streamable_http(daemon, client, sdk):
    url = "http://%s:%d/mcp" % (HOST, daemon.port)
    default = None

    async def main():
        nonlocal default
        async with http_conn(sdk, url, {"Authorization": "Bearer " + daemon.key}) as conn:
            default = await exercise(conn, client)
            assert client.get_session(default)["status"] == "ready"

    run(main)
    # the client ended its MCP session (DELETE), and with it the default session
    ended = client.get_session(default)
    assert ended["status"] == "ended" and ended["ended_reason"] == "deleted", ended


def test_every_tool_over_stdio(daemon, client, sdk):
    require(AIRLOCK.exists(), "%s is not built" % AIRLOCK)
    default = None
    with tempfile.TemporaryFile("w+") as errlog:
        async def main():
            nonlocal default
            env = bridge_env("http://%s:%d" % (HOST, daemon.port), daemon.key)
            async with stdio_conn(sdk, env, errlog) as conn:
                default = await exercise(conn, client)

        run(main)
        errlog.seek(0)
        log = errlog.read()
    for mark in SANITIZER_MARKS:
        assert mark not in log, log
    ended = client.get_session(default)
    assert ended["status"] == "ended" and ended["ended_reason"] == "deleted", (ended, log)


def test_older_protocol_versions_get_what_they_know(client):
    """2025-03-26: no outputSchema or structuredContent (chart data goes as text); 2024-11-05: no annotations."""
    sid = initialize(client, "2025-03-26")
    tools = {t["name"]: t for t in rpc_ok(client, sid, "tools/list")["tools"]}
    assert "outputSchema" not in tools["run_code"] and "title" not in tools["run_code"]
    assert tools["run_code"]["annotations"]["readOnlyHint"] is False
    r = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {
        "code": "import matplotlib.pyplot as plt; plt.bar(['a', 'b'], [1, 2]); plt.show()"}})
    assert "structuredContent" not in r
    assert [c["type"] for c in r["content"]] == ["text", "image", "text"]
    assert '"type":"bar"' in r["content"][2]["text"]
    end(client, sid)
    sid = initialize(client, "2024-11-05")
    tools = rpc_ok(client, sid, "tools/list")["tools"]
    assert all("annotations" not in t for t in tools)
    end(client, sid)


# --- the transport, with raw HTTP (every answer checked against the OpenAPI document) ------------


def rpc(client, body, session=None, headers=None, **kw):
    h = dict(ACCEPT)
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    if isinstance(body, (bytes, str)):
        return client.post("/mcp", body=body.encode() if isinstance(body, str) else body,
                           content_type="application/json", headers=h, **kw)
    return client.post("/mcp", json=body, headers=h, **kw)


def initialize(client, version="2025-11-25", headers=None) -> str:
    resp = expect(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}},
        headers=headers), 200)
    sid = resp.header("Mcp-Session-Id")
    assert re.match(r"^mcp_[a-z0-9]{26}$", sid or ""), resp.headers
    assert resp.json["result"]["protocolVersion"] == version
    resp = rpc(client, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid, headers=headers)
    assert resp.status == 202 and resp.body == b"", resp
    return sid


_next_id = [100]


def rpc_ok(client, sid, method, params=None):
    _next_id[0] += 1
    body = {"jsonrpc": "2.0", "id": _next_id[0], "method": method}
    if params is not None:
        body["params"] = params
    resp = expect(rpc(client, body, sid), 200)
    assert resp.json["id"] == _next_id[0] and "result" in resp.json, resp
    return resp.json["result"]


def rpc_error(resp, status, code):
    expect(resp, status)
    assert resp.json["jsonrpc"] == "2.0" and resp.json["error"]["code"] == code, resp
    return resp.json["error"]["message"]


def end(client, sid):
    resp = client.delete("/mcp", headers={"Mcp-Session-Id": sid})
    assert resp.status == 204 and resp.body == b"", resp


def test_initialize_negotiates_and_sessions_are_required(client):
    for asked, answered in [("2025-06-18", "2025-06-18"), ("2025-03-26", "2025-03-26"), ("2099-01-01", "2025-11-25")]:
        resp = expect(rpc(client, {"jsonrpc": "2.0", "id": "a", "method": "initialize", "params": {
            "protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}}), 200)
        result = resp.json["result"]
        assert result["protocolVersion"] == answered and resp.json["id"] == "a"
        assert result["serverInfo"]["name"] == "airlock" and result["capabilities"] == {"tools": {"listChanged": False}}
        end(client, resp.header("Mcp-Session-Id"))
    sid = initialize(client)
    assert rpc_ok(client, sid, "ping") == {}
    # no session, an unknown one, one that ended
    msg = rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}), 400, -32000)
    assert "Mcp-Session-Id" in msg
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, "mcp_" + "0" * 26), 404, -32001)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, "x" * 200), 404, -32001)
    end(client, sid)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, sid), 404, -32001)
    rpc_error(client.delete("/mcp", headers={"Mcp-Session-Id": sid}), 404, -32001)
    rpc_error(client.delete("/mcp"), 400, -32000)
    # initialize never needs the header; sent with one, it still makes a new MCP session
    sid = initialize(client)
    resp = rpc(client, {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}},
               sid)
    assert resp.status == 200 and resp.header("Mcp-Session-Id") not in (None, sid)
    end(client, resp.header("Mcp-Session-Id"))
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 4, "method": "initialize"}), 200, -32602)
    end(client, sid)


def test_json_rpc_errors(client):
    sid = initialize(client)
    assert "Parse error" in rpc_error(rpc(client, "{not json", sid), 400, -32700)
    assert "Parse error" in rpc_error(rpc(client, b"", sid, headers={"Content-Length": "0"}), 400, -32700)
    deep = "[" * 65 + "]" * 65
    assert "64 levels" in rpc_error(rpc(client, deep, sid), 400, -32700)
    rpc_error(rpc(client, "5", sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "1.0", "id": 1, "method": "ping"}, sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": None, "method": "ping"}, sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": "i" * 300, "method": "ping"}, sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1}, sid), 400, -32600)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "nope/nope"}, sid), 200, -32601)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "resources/list"}, sid), 200, -32601)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}, sid), 200, -32602)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}, sid), 200, -32602)
    msg = rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nope"}}, sid),
                    200, -32602)
    assert "Unknown tool" in msg
    # the id of a request the server could read is in its error
    resp = rpc(client, {"jsonrpc": "2.0", "id": "abc", "method": "nope"}, sid)
    assert resp.json["id"] == "abc"
    # notifications and responses: 202, no body
    for body in ({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
                 {"jsonrpc": "2.0", "id": 9, "result": {}}, {"jsonrpc": "2.0", "id": 9, "error": {"code": 1, "message": "x"}}):
        resp = rpc(client, body, sid)
        assert resp.status == 202 and resp.body == b"", resp
    # batches were removed in 2025-06-18
    msg = rpc_error(rpc(client, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}], sid), 400, -32600)
    assert "2025-03-26" in msg
    end(client, sid)


def test_batches_in_2025_03_26(client):
    sid = initialize(client, "2025-03-26")
    resp = expect(rpc(client, [{"jsonrpc": "2.0", "id": 1, "method": "ping"},
                               {"jsonrpc": "2.0", "method": "notifications/initialized"},
                               {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                               {"jsonrpc": "2.0", "id": 3, "method": "nope"}, 7], sid), 200)
    answers = resp.json
    assert [a.get("id") for a in answers] == [1, 2, 3, None]
    assert answers[0]["result"] == {} and len(answers[1]["result"]["tools"]) == len(TOOLS)
    assert answers[2]["error"]["code"] == -32601 and answers[3]["error"]["code"] == -32600
    resp = rpc(client, [{"jsonrpc": "2.0", "method": "notifications/initialized"}], sid)
    assert resp.status == 202 and resp.body == b""
    rpc_error(rpc(client, [], sid), 400, -32600)
    rpc_error(rpc(client, [{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(33)], sid), 400, -32600)
    init = rpc(client, [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}}],
               sid)
    assert init.json[0]["error"]["code"] == -32600  # initialize is never batched
    end(client, sid)


def test_http_layer_refusals(daemon, client, anon):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    # keys: as for the REST API
    for who in (anon, client.with_key("ak_" + "x" * 26 + ".sk_" + "y" * 26)):
        resp = expect(rpc(who, body), 401, "unauthorized")
        assert resp.header("WWW-Authenticate").startswith("Bearer")
        expect(who.get("/mcp"), 401, "unauthorized")
        expect(who.delete("/mcp", headers={"Mcp-Session-Id": "mcp_" + "0" * 26}), 401, "unauthorized")
    admin_only = client.with_key(expect(client.post("/v1/keys", json={"scopes": ["admin"]}), 201).json["token"])
    expect(rpc(admin_only, body), 403, "forbidden")
    expect(admin_only.get("/mcp"), 405, "method_not_allowed")  # the method is judged before the scope
    expect(admin_only.delete("/mcp"), 403, "forbidden")
    # no stream from the server
    resp = expect(client.get("/mcp", headers=ACCEPT), 405, "method_not_allowed")
    assert resp.header("Allow") == "POST, DELETE"
    # Origin: loopback pages are served, others refused before anything else
    expect(rpc(client, body, headers={"Origin": "http://localhost:6274"}), 200)
    expect(rpc(client, body, headers={"Origin": "http://127.0.0.1"}), 200)
    for origin in ("http://evil.example", "https://localhost.evil.example", "null", "http://127.0.0.1.nip.io:80"):
        expect(rpc(client, body, headers={"Origin": origin}), 403, "forbidden")
        expect(rpc(anon, body, headers={"Origin": origin}), 403, "forbidden")
    expect(client.get("/mcp", headers={"Origin": "http://evil.example"}), 403, "forbidden")
    expect(client.delete("/mcp", headers={"Origin": "http://evil.example"}), 403, "forbidden")
    # Accept, protocol version header, media type, size
    msg = rpc_error(rpc(client, body, headers={"Accept": "text/html"}), 406, -32000)
    assert "application/json" in msg
    rpc_error(rpc(client, body, headers={"Accept": "application/json;q=0, text/event-stream"}), 406, -32000)
    expect(rpc(client, body, headers={"Accept": "*/*"}), 200)
    sid = initialize(client)
    rpc_error(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid,
                  headers={"MCP-Protocol-Version": "1999-01-01"}), 400, -32600)
    expect(rpc(client, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid,
               headers={"MCP-Protocol-Version": "2025-06-18"}), 200)
    expect(client.post("/mcp", body=b'{"jsonrpc": "2.0"}', content_type="text/plain", headers=ACCEPT), 415,
           "unsupported_media_type")
    expect(client.post("/mcp", body=b"{}" + b" " * (24 << 20), content_type="application/json", headers=ACCEPT),
           413, "payload_too_large")
    end(client, sid)


def test_mcp_sessions_belong_to_their_key(daemon, client):
    """Another key, even of the same tenant, is told the MCP session does not exist; another
    tenant's sessions are not there for the tools."""
    sid = initialize(client)
    r = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {"code": "secret = 1"}})
    mine = r["structuredContent"]["session_id"]
    same_tenant = client.with_key(expect(client.post("/v1/keys", json={"scopes": ["sessions"]}), 201).json["token"])
    rpc_error(rpc(same_tenant, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid), 404, -32001)
    rpc_error(same_tenant.delete("/mcp", headers={"Mcp-Session-Id": sid}), 404, -32001)
    other = client.with_key(expect(client.post("/v1/keys", json={"tenant": "mcp-other"}), 201).json["token"])
    theirs = initialize(other)
    r = rpc_ok(other, theirs, "tools/call", {"name": "run_code", "arguments": {"code": "secret", "session_id": mine}})
    assert r["isError"] is True and "no session %s" % mine in r["content"][0]["text"].lower()
    r = rpc_ok(other, theirs, "tools/call", {"name": "stop_session", "arguments": {"session_id": mine}})
    assert r["isError"] is True
    r = rpc_ok(other, theirs, "tools/call", {"name": "list_sessions"})
    assert mine not in json.dumps(r)
    assert client.get_session(mine)["status"] == "ready"
    end(other, theirs)
    end(client, sid)
    assert client.get_session(mine)["status"] == "ended"


def test_a_stopped_default_session_is_started_again(client):
    sid = initialize(client)
    first = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {"code": "v = 1"}})
    old = first["structuredContent"]["session_id"]
    expect(client.delete("/v1/sessions/" + old), 200)
    r = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {"code": "'v' in globals()"}})
    new = r["structuredContent"]["session_id"]
    assert new != old and "the previous one (%s) had ended" % old in r["content"][0]["text"]
    assert r["structuredContent"]["results"][0]["text/plain"] == "False"
    r = rpc_ok(client, sid, "tools/call", {"name": "stop_session", "arguments": {"session_id": new}})
    assert r["isError"] is False
    r = rpc_ok(client, sid, "tools/call", {"name": "list_files"})
    assert "Started default session" in r["content"][0]["text"]  # stop_session forgot it: a fresh one
    end(client, sid)


def test_quotas_and_timeouts_are_tool_errors(client):
    """What the sandbox or the tenant refuses is a result the model can read, not a protocol error."""
    expect(client.put("/v1/tenants/mcp-quota", json={"max_sessions": 0, "max_memory_mb": 1024}), 200)
    key = client.with_key(expect(client.post("/v1/keys", json={"tenant": "mcp-quota"}), 201).json["token"])
    sid = initialize(key)
    for tool, args in (("run_code", {"code": "1"}), ("create_session", {})):
        r = rpc_ok(key, sid, "tools/call", {"name": tool, "arguments": args})
        assert r["isError"] is True and "quota" in r["content"][0]["text"], r
    end(key, sid)
    sid = initialize(client)
    r = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {
        "code": "import time\nfor i in range(100): time.sleep(0.1)", "timeout_seconds": 1}})
    assert r["isError"] is True and r["structuredContent"]["status"] == "timeout"
    assert "timed out" in r["content"][0]["text"] and "KeyboardInterrupt" in r["content"][0]["text"]
    r = rpc_ok(client, sid, "tools/call", {"name": "run_command", "arguments": {"command": "sleep 5",
                                                                                "timeout_seconds": 0.5}})
    assert r["isError"] is True and r["structuredContent"]["timed_out"] is True
    r = rpc_ok(client, sid, "tools/call", {"name": "create_session", "arguments": {"interpreter": "nope"}})
    assert r["isError"] is True and "no interpreter nope" in r["content"][0]["text"]
    end(client, sid)


def test_a_keys_mcp_sessions_are_bounded(client):
    """Past 256 MCP sessions of one key, its least recently used one ends, with its default session."""
    key = client.with_key(expect(client.post("/v1/keys", json={"tenant": "mcp-many"}), 201).json["token"])
    first = initialize(key)
    r = rpc_ok(key, first, "tools/call", {"name": "run_code", "arguments": {"code": "1"}})
    default = r["structuredContent"]["session_id"]
    later = [initialize(key) for _ in range(255)]
    rpc_ok(key, first, "ping")  # now the most recently used: later[0] is the oldest
    newest = initialize(key)
    rpc_error(rpc(key, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, later[0]), 404, -32001)
    rpc_ok(key, first, "ping")
    assert key.get_session(default)["status"] == "ready"
    for sid in later[1:5]:
        rpc_ok(key, sid, "ping")
    # the next ones push out the least recently used: later[5] and on, then first
    for sid in later[5:]:
        rpc_ok(key, sid, "ping")
    rpc_ok(key, newest, "ping")
    pushed = initialize(key)  # first is the least recently used now
    rpc_error(rpc(key, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, first), 404, -32001)
    ended = key.get_session(default)
    assert ended["status"] == "ended" and ended["ended_reason"] == "deleted", ended
    for sid in later[1:] + [newest, pushed]:
        end(key, sid)


def test_configured_origins():
    """mcp_allowed_origins admits a page's origin besides loopback ones."""
    with ExtraDaemon({"AIRLOCK_MCP_ALLOWED_ORIGINS": "https://app.example.com, http://10.0.0.5:8080"}, http_ready) as d:
        c = api.Client(HOST, d.port, d.key, None)
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
        for origin, status in [("https://app.example.com", 200), ("HTTPS://APP.EXAMPLE.COM", 200),
                               ("http://10.0.0.5:8080", 200), ("http://localhost", 200),
                               ("https://app.example.com:444", 403), ("http://10.0.0.5", 403), ("http://evil", 403)]:
            resp = rpc(c, body, headers={"Origin": origin})
            assert resp.status == status, (origin, resp)
            if status == 200:
                end(c, resp.header("Mcp-Session-Id"))


# --- the stdio bridge's own behaviour ----------------------------------------------------------


def test_a_tenant_cannot_fill_the_table_for_others(client):
    """A tenant can mint keys of its own, so MCP sessions are capped per tenant too (1024):
    past it the tenant's least recently used one ends, and other tenants still get in."""
    tokens = [expect(client.post("/v1/keys", json={"tenant": "mcp-flood"}), 201).json["token"] for _ in range(5)]
    flooders = [client.with_key(t) for t in tokens]
    first = initialize(flooders[0])
    made = [first]
    for k in flooders:
        for _ in range(210):  # 5 x 210 = 1050 > 1024, each key under its own 256
            made.append(initialize(k))
    rpc_error(rpc(flooders[0], {"jsonrpc": "2.0", "id": 1, "method": "ping"}, first), 404, -32001)
    rpc_ok(flooders[-1], made[-1], "ping")
    other = client.with_key(expect(client.post("/v1/keys", json={"tenant": "mcp-other"}), 201).json["token"])
    sid = initialize(other)
    rpc_ok(other, sid, "ping")
    end(other, sid)


def test_nul_characters_are_data(client):
    """\u0000 in code, file contents and output is data: it round-trips, shows as \\0 in text,
    and is refused where it would cut a value short (paths, commands)."""
    sid = initialize(client)
    w = rpc_ok(client, sid, "tools/call", {"name": "write_file", "arguments": {"path": "nul.bin", "content": "a\u0000b"}})
    assert not w["isError"], w
    r = rpc_ok(client, sid, "tools/call", {"name": "run_code", "arguments": {
        "code": "data = open('nul.bin', 'rb').read()\nprint(data)\nprint('x\\x00y')\nprint('after')"}})
    assert not r["isError"], r
    assert r["structuredContent"]["stdout"] == "b'a\\x00b'\nx\u0000y\nafter\n"
    assert "x\\0y\nafter" in text_of(r), text_of(r)  # not cut at the NUL
    cmd = rpc_ok(client, sid, "tools/call", {"name": "run_command", "arguments": {"command": "printf 'p\\0q'"}})
    assert cmd["structuredContent"]["stdout"] == "p\u0000q" and not cmd["isError"], cmd
    bad = rpc_ok(client, sid, "tools/call", {"name": "read_file", "arguments": {"path": "nul\u0000.bin"}})
    assert bad["isError"] and "NUL" in text_of(bad), bad
    end(client, sid)


def test_a_flood_of_tiny_values_is_refused_before_parsing(client):
    sid = initialize(client)
    body = '{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":[' + ",".join(["0"] * 70000) + "]}}"
    msg = rpc_error(rpc(client, body, sid), 400, -32700)
    assert "65536" in msg, msg
    end(client, sid)


def test_stdio_bridge_never_answers_a_notification(daemon):
    rc, answers, err = _bridge(daemon, daemon.key, [
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',  # no session yet: the daemon refuses it
        '{"jsonrpc":"2.0","id":9,"method":"ping"}'])
    assert rc == 0
    assert [a.get("id") for a in answers] == [9], answers  # the refusal is on stderr only
    assert "notification" in err


def _bridge(daemon, key, lines, timeout=120):
    proc = subprocess.run([str(AIRLOCK), "mcp"], input="".join(line + "\n" for line in lines).encode(),
                          capture_output=True, timeout=timeout,
                          env=dict(bridge_env("http://%s:%d" % (HOST, daemon.port), key), PATH=os.environ["PATH"]))
    out = proc.stdout.decode()
    answers = [json.loads(line) for line in out.splitlines()]  # standard output is JSON-RPC only
    err = proc.stderr.decode()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return proc.returncode, answers, err


def test_stdio_bridge_relays_and_ends_its_session(daemon, client):
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
    rc, answers, err = _bridge(daemon, daemon.key, [
        init, '{"jsonrpc":"2.0","method":"notifications/initialized"}', "",
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"6*7"}}}',
        "{not json", '{"jsonrpc":"2.0","id":"x","method":"nope"}', '{"jsonrpc":"2.0","id":3,"method":"ping"}'])
    assert rc == 0, err
    assert [a.get("id") for a in answers] == [1, 2, None, "x", 3], answers
    assert answers[0]["result"]["protocolVersion"] == "2025-06-18"
    assert answers[1]["result"]["structuredContent"]["results"] == [{"text/plain": "42"}]
    assert answers[2]["error"]["code"] == -32700 and answers[3]["error"]["code"] == -32601
    default = answers[1]["result"]["structuredContent"]["session_id"]
    assert client.get_session(default)["status"] == "ended"  # ended with the input


def test_stdio_bridge_reports_refusals_as_json_rpc(daemon):
    init = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}})
    rc, answers, err = _bridge(daemon, "ak_" + "x" * 26 + ".sk_" + "y" * 26, [init, '{"jsonrpc":"2.0","id":8,"method":"ping"}'])
    assert rc == 0
    assert [a["id"] for a in answers] == [7, 8]
    assert "HTTP 401" in answers[0]["error"]["message"] and "HTTP 401" in err
    # no daemon at all: still an answer per request, and exit 0 at the end of the input
    proc = subprocess.run([str(AIRLOCK), "mcp", "--url", "http://127.0.0.1:9", "--api-key", "k"],
                          input=(init + "\n").encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (answer,) = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert answer["id"] == 7 and "cannot reach" in answer["error"]["message"]
    # usage errors never write to standard output
    proc = subprocess.run([str(AIRLOCK), "mcp", "--bogus"], capture_output=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "AIRLOCK_API_KEY": "k"})
    assert proc.returncode == 2 and proc.stdout == b"" and b"--bogus" in proc.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
