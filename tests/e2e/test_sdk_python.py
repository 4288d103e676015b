"""The Python SDK (sdk/python, import name `airlock`) against the real daemon.

Every test runs twice, with `Airlock` and with `AsyncAirlock` (the `sdk` fixture): one
test body, the same calls; `sdk.run(x)` awaits x when the client is async. Only the retry
tests use a fake HTTP transport (httpx.MockTransport): the rules about *when* to retry
can't be provoked from a healthy daemon. Nothing here fakes a sandbox.
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import os
import socket
import struct
import zlib

import pytest
from conftest import HOST, require

try:
    import airlock
    import httpx
except ImportError:  # reported by the fixture (a failure under CI=true)
    airlock = None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(data: bytes) -> None:
    assert data[:8] == PNG_SIGNATURE
    # The first chunk is IHDR with a valid CRC, and the file ends with IEND.
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    assert data[-8:-4] == b"IEND"


class SDK:
    """One client, sync or async, and the sessions a test made with it."""

    def __init__(self, mode: str, url: str, key: str):
        self.mode = mode
        self.url, self.key = url, key
        self.loop = asyncio.new_event_loop() if mode == "async" else None
        self.client = self.make(url=url, api_key=key)
        self.made: list = []

    def make(self, **kwargs):
        cls = airlock.AsyncAirlock if self.mode == "async" else airlock.Airlock
        return cls(**kwargs)

    def run(self, value):
        if inspect.isawaitable(value):
            return self.loop.run_until_complete(value)
        return value

    def collect(self, iterator) -> list:
        if hasattr(iterator, "__aiter__"):
            async def drain():
                return [x async for x in iterator]
            return self.run(drain())
        return list(iterator)

    def session(self, **kwargs):
        s = self.run(self.client.sessions.create(**kwargs))
        self.made.append(s)
        return s

    def cb(self, sink: list):
        """A callback appending to sink: a coroutine function for the async client (both kinds work there)."""
        if self.mode == "async":
            async def acb(x):
                sink.append(x)
            return acb
        return sink.append

    def close(self):
        for s in self.made:
            try:
                self.run(s.stop())
            except Exception:
                pass
        self.run(self.client.close())
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def sdk(request, daemon):
    require(airlock is not None, "the Python SDK is not installed (pip install ./sdk/python)")
    s = SDK(request.param, "http://%s:%d" % (HOST, daemon.port), daemon.key)
    yield s
    s.close()


# --- sessions ------------------------------------------------------------------------------


def test_session_create_get_list_stop(sdk):
    s = sdk.session(limits={"memory_mb": 256, "pids": 64}, metadata={"agent": "sdk-test"},
                    env={"SDK_VAR": "from-env"}, idle_timeout_seconds=300, timeout_seconds=600)
    info = s.info
    assert s.id.startswith("sess_") and info.id == s.id
    assert info.status == "ready" and not info.ended
    assert info.limits.memory_mb == 256 and info.limits.pids == 64
    assert info.metadata == {"agent": "sdk-test"}
    assert info.idle_timeout_seconds == 300
    assert (info.expires_at - info.created_at).total_seconds() == pytest.approx(600, abs=1)
    assert info.isolation.backend in ("namespace", "gvisor") and info.isolation.network == "none"
    # not the pool's shape (memory_mb 256): started for it, whichever the start setting
    assert info.start is not None and info.start.from_pool is False and info.start.preloaded == []
    assert "env" not in info.raw  # write-only
    assert sdk.run(s.run_code("import os; os.environ['SDK_VAR']")).text == "'from-env'"

    again = sdk.run(sdk.client.sessions.get(s.id))
    assert again.id == s.id and again.info.metadata == {"agent": "sdk-test"}
    listed = sdk.run(sdk.client.sessions.list())
    assert s.id in [x.id for x in listed]
    assert sdk.run(s.refresh()).status == "ready"

    ended = sdk.run(s.stop())
    assert ended.status == "ended" and ended.ended_reason == "deleted" and s.info.ended
    assert sdk.run(s.stop()).ended_reason == "deleted"  # idempotent
    assert s.id not in [x.id for x in sdk.run(sdk.client.sessions.list())]
    assert sdk.run(sdk.client.sessions.stop(s.id)).status == "ended"
    with pytest.raises(airlock.SessionEndedError) as e:
        sdk.run(s.run_code("1"))
    assert e.value.status_code == 409 and e.value.code == "session_ended"


def test_session_context_manager_stops_it(sdk):
    if sdk.mode == "sync":
        with sdk.client.sessions.create() as s:
            assert s.run_code("6 * 7").text == "42"
    else:
        async def use():
            async with await sdk.client.sessions.create() as s:
                assert (await s.run_code("6 * 7")).text == "42"
            return s
        s = sdk.run(use())
    assert s.info.status == "ended"
    assert sdk.run(sdk.client.sessions.get(s.id)).info.ended_reason == "deleted"


def test_client_context_manager_and_health(sdk):
    client = sdk.make(url=sdk.url, api_key=sdk.key)
    assert sdk.run(client.health()) is True
    assert client.url == sdk.url
    if sdk.mode == "sync":
        with client as c:
            assert c.sessions.list() is not None
    else:
        async def use():
            async with client as c:
                return await c.sessions.list()
        assert sdk.run(use()) is not None


# --- running code --------------------------------------------------------------------------


def test_run_code_keeps_state_and_returns_values(sdk):
    s = sdk.session()
    e1 = sdk.run(s.run_code("x = 40\nx += 1"))
    assert e1.ok and e1.status == "ok" and e1.results == [] and e1.text is None and e1.error is None
    e2 = sdk.run(s.run_code("print('hello')\nx + 1"))
    assert e2.text == "42" and e2.stdout == "hello\n" and e2.stderr == ""
    assert e2.execution_count == e1.execution_count + 1 and e2.state_kept
    assert e2.execution_id.startswith("exec_") and e2.duration_ms >= 0 and e2.language == "python"
    e3 = sdk.run(s.run_code("{'a': [1, 2]}"))
    assert e3.results[0].text == "{'a': [1, 2]}"
    e4 = sdk.run(s.run_code("import pandas as pd\npd.DataFrame({'v': [1, 2]})"))
    assert "<table" in e4.results[0].html and "text/html" in e4.results[0].formats
    e5 = sdk.run(s.run_code("import sys\nprint('warn', file=sys.stderr)"))
    assert e5.stderr == "warn\n"


def test_images_and_charts(sdk, tmp_path):
    s = sdk.session()
    e = sdk.run(s.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 5, 9], label='v')\n"
                           "plt.title('growth')\nplt.show()"))
    assert e.ok, e.error
    assert len(e.images) == 1
    img = e.images[0]
    assert img.is_image
    assert_png(img.png)
    chart = img.chart
    assert chart["type"] == "line" and chart["title"] == "growth"
    assert chart["elements"][0]["points"] == [[1, 4], [2, 5], [3, 9]]
    assert e.charts == [chart]
    saved = e.save_images(tmp_path / "out", prefix="fig")
    assert [p.name for p in saved] == ["fig-1.png"]
    assert_png(saved[0].read_bytes())
    single = img.save_image(tmp_path)
    assert single.name == "result.png" and single.read_bytes() == img.png
    assert "[image: growth]" in e.describe()
    with pytest.raises(ValueError):
        airlock.Result({"text/plain": "x"}).save_image(tmp_path)


def test_user_error_is_data_not_exception(sdk):
    s = sdk.session()
    e = sdk.run(s.run_code("def f():\n    raise ValueError('boom')\nf()"))
    assert e.status == "error" and not e.ok
    assert e.error.name == "ValueError" and e.error.value == "boom" and str(e.error) == "ValueError: boom"
    assert "raise ValueError('boom')" in e.error.traceback_text
    assert "ValueError: boom" in e.describe()
    assert e.state_kept
    assert sdk.run(s.run_code("'still alive'")).text == "'still alive'"


def test_streaming_callbacks(sdk):
    s = sdk.session()
    out, err, results, errors = [], [], [], []
    code = ("import sys, time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.2)\n"
            "print('oops', file=sys.stderr, flush=True)\ndisplay({'shown': 1})\n"
            "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.show()\n"
            "raise KeyError('late')")
    e = sdk.run(s.run_code(code, on_stdout=sdk.cb(out), on_stderr=sdk.cb(err), on_result=sdk.cb(results),
                           on_error=sdk.cb(errors)))
    assert "".join(out) == "line 0\nline 1\nline 2\n" == e.stdout
    assert "".join(err) == "oops\n" == e.stderr
    assert len(results) == 2 and all(isinstance(r, airlock.Result) for r in results)
    assert results[0].json == {"shown": 1} or results[0].text == "{'shown': 1}"
    assert_png(results[1].png)
    assert len(errors) == 1 and errors[0].name == "KeyError"
    assert e.status == "error" and e.error.name == "KeyError" and len(e.results) == 2


def test_streaming_pieces_arrive_before_the_end(sdk):
    s = sdk.session()
    seen = []
    if sdk.mode == "async":
        async def on_out(text):
            seen.append((text, asyncio.get_running_loop().time()))
    else:
        import time

        def on_out(text):
            seen.append((text, time.monotonic()))
    e = sdk.run(s.run_code("import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')",
                           on_stdout=on_out))
    assert e.ok and "".join(t for t, _ in seen) == "first\nsecond\n"
    first = next(t for txt, t in seen if "first" in txt)
    second = next(t for txt, t in seen if "second" in txt)
    assert second - first >= 1.0  # the first piece came while the code was still sleeping


def test_execution_timeout_is_a_status(sdk):
    s = sdk.session()
    sdk.run(s.run_code("kept = 'yes'"))
    e = sdk.run(s.run_code("import time\ntime.sleep(30)", timeout=1))
    assert e.status == "timeout" and e.state_kept and e.error.name == "KeyboardInterrupt"
    assert "[execution timed out]" in e.describe()
    assert sdk.run(s.run_code("kept")).text == "'yes'"


def test_request_timeout_raises_and_session_goes_on(sdk):
    s = sdk.session()
    with pytest.raises(airlock.APITimeoutError):
        sdk.run(s.run_code("import time\ntime.sleep(4)\n'done'", request_timeout=1))
    # The execution belongs to the session: it ran on; the next one waits its turn.
    assert sdk.run(s.run_code("1 + 1")).text == "2"


def test_languages(sdk):
    s = sdk.session()
    js = sdk.run(s.run_code("let n = 20; n * 2 + 2", language="javascript"))
    assert js.ok and js.text == "42" and js.language == "javascript"
    ts = sdk.run(s.run_code("const t: number = 5;\nconsole.log(t * 2)", language="typescript"))
    assert ts.ok and ts.stdout == "10\n"
    sh = sdk.run(s.run_code("cd /tmp && X=7", language="bash"))
    assert sh.ok
    sh2 = sdk.run(s.run_code("echo $PWD $X; false", language="bash"))
    assert sh2.stdout == "/tmp 7\n" and sh2.status == "error" and sh2.error.name == "ExitStatus"


def test_contexts(sdk):
    s = sdk.session()
    ctx = sdk.run(s.contexts.create(id="analysis", language="python"))
    assert ctx.id == "analysis" and ctx.language == "python" and ctx.execution_count == 0
    sdk.run(s.run_code("y = 1", context="analysis"))
    sdk.run(s.run_code("y = 2"))
    assert sdk.run(s.run_code("y", context="analysis")).text == "1"
    assert sdk.run(s.contexts.get("analysis")).execution_count == 2
    ids = {c.id: c.language for c in sdk.run(s.contexts.list())}
    assert ids["default"] == "python" and ids["analysis"] == "python"
    js = sdk.run(s.contexts.create(language="javascript"))
    assert js.id.startswith("ctx_") and js.language == "javascript"
    restarted = sdk.run(s.contexts.restart("analysis"))
    assert restarted.execution_count == 0
    gone = sdk.run(s.run_code("y", context="analysis"))
    assert gone.status == "error" and gone.error.name == "NameError"
    again = sdk.run(s.run_code("z = 5\nz", context="analysis", clear_context=True))
    assert again.text == "5" and again.execution_count == 1
    with pytest.raises(airlock.ContextExistsError):
        sdk.run(s.contexts.create(id="analysis"))
    with pytest.raises(airlock.ContextProtectedError):
        sdk.run(s.contexts.delete("default"))
    sdk.run(s.contexts.delete("analysis"))
    with pytest.raises(airlock.ContextNotFoundError) as e:
        sdk.run(s.contexts.get("analysis"))
    assert e.value.status_code == 404 and isinstance(e.value, airlock.NotFoundError)


# --- commands ------------------------------------------------------------------------------


def test_commands(sdk):
    s = sdk.session()
    r = sdk.run(s.commands.run("echo out; echo err >&2; exit 3"))
    assert r.exit_code == 3 and not r.ok and r.stdout == "out\n" and r.stderr == "err\n" and not r.timed_out
    r = sdk.run(s.commands.run("mkdir -p sub && cd sub && pwd"))
    assert r.ok and r.stdout == "/workspace/sub\n"
    r = sdk.run(s.commands.run("pwd; echo $GREETING", cwd="sub", env={"GREETING": "hi"}))
    assert r.stdout == "/workspace/sub\nhi\n"
    r = sdk.run(s.commands.run("sleep 20", timeout=0.5))
    assert r.timed_out and r.exit_code is None and r.signal is not None

    task = sdk.run(s.commands.start("echo started; sleep 60"))
    assert task.task_id.startswith("task_") and task.command == "echo started; sleep 60"
    assert task.running
    got = sdk.run(s.commands.get(task.task_id))
    assert got.task_id == task.task_id
    stopped = sdk.run(s.commands.kill(task.task_id))
    assert stopped.status == "killed" and not stopped.running
    done = sdk.run(s.commands.start("echo quick"))
    for _ in range(100):
        done = sdk.run(s.commands.get(done.task_id))
        if not done.running:
            break
        sdk.run(asyncio.sleep(0.05)) if sdk.mode == "async" else __import__("time").sleep(0.05)
    assert done.status == "exited" and done.exit_code == 0 and done.stdout == "quick\n"
    with pytest.raises(airlock.TaskNotFoundError):
        sdk.run(s.commands.get("task_000000000000"))


# --- files ---------------------------------------------------------------------------------


def test_files_round_trip(sdk, tmp_path):
    s = sdk.session()
    w = sdk.run(s.files.write("notes/hello.txt", "héllo\n"))
    assert w.path == "notes/hello.txt" and w.size == len("héllo\n".encode())
    assert sdk.run(s.files.read_text("notes/hello.txt")) == "héllo\n"
    binary = bytes(range(256)) * 3
    sdk.run(s.files.write("bin/data.bin", binary))
    assert sdk.run(s.files.read("bin/data.bin")) == binary
    sdk.run(s.files.write("bin/from-file.bin", io.BytesIO(binary)))
    assert sdk.run(s.files.read("/workspace/bin/from-file.bin")) == binary
    sdk.run(s.files.write("bin/chunks.bin", iter([b"ab", b"cd", b"ef"])))
    assert sdk.run(s.files.read("bin/chunks.bin")) == b"abcdef"
    # Code sees what the API wrote, and the API what code wrote.
    assert sdk.run(s.run_code("open('notes/hello.txt').read()")).text == "'héllo\\n'"
    sdk.run(s.run_code("open('made.txt', 'w').write('by code')"))
    assert sdk.run(s.files.read("made.txt")) == b"by code"

    names = {e.name: e for e in sdk.run(s.files.list())}
    assert names["notes"].is_dir and names["made.txt"].type == "file" and names["made.txt"].size == 7
    inner = sdk.run(s.files.list("bin"))
    assert [e.path for e in inner] == ["bin/chunks.bin", "bin/data.bin", "bin/from-file.bin"]
    assert inner[1].mode == "0644" and inner[1].mtime is not None
    assert [e.name for e in sdk.run(s.files.list("/workspace/notes"))] == ["hello.txt"]

    sdk.run(s.files.remove("made.txt"))
    with pytest.raises(airlock.WorkspaceFileNotFoundError) as e:
        sdk.run(s.files.read("made.txt"))
    assert e.value.code == "file_not_found" and e.value.field == "path"
    with pytest.raises(airlock.InvalidRequestError) as e:
        sdk.run(s.files.remove("bin"))
    assert e.value.field == "recursive"
    sdk.run(s.files.remove("bin", recursive=True))
    assert "bin" not in {x.name for x in sdk.run(s.files.list())}
    with pytest.raises(airlock.InvalidRequestError):
        sdk.run(s.files.read("notes/../../etc/passwd"))
    with pytest.raises(ValueError):
        sdk.run(s.files.read("/etc/passwd"))  # refused before sending: only the workspace is reachable


def test_files_stream_large_upload_and_download(sdk, tmp_path):
    s = sdk.session()
    src = tmp_path / "big.bin"
    data = os.urandom(6 * 1024 * 1024 + 123)
    src.write_bytes(data)
    w = sdk.run(s.files.upload(src, "in/big.bin"))
    assert w.size == len(data)
    digest = sdk.run(s.run_code("import hashlib; hashlib.sha256(open('in/big.bin', 'rb').read()).hexdigest()"))
    assert digest.text.strip("'") == hashlib.sha256(data).hexdigest()
    chunks = sdk.collect(s.files.iter_bytes("in/big.bin", chunk_size=1 << 20))
    assert len(chunks) > 1 and b"".join(chunks) == data
    out = sdk.run(s.files.download("in/big.bin", tmp_path / "dl" / "copy.bin"))
    assert out.read_bytes() == data
    assert sdk.run(s.files.upload(src)).path == "big.bin"
    # A download of something missing leaves nothing behind.
    with pytest.raises(airlock.WorkspaceFileNotFoundError):
        sdk.run(s.files.download("in/none.bin", tmp_path / "dl" / "none.bin"))
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["copy.bin"]


# --- errors --------------------------------------------------------------------------------


def test_api_errors_carry_code_and_request_id(sdk):
    with pytest.raises(airlock.SessionNotFoundError) as e:
        sdk.run(sdk.client.sessions.get("sess_00000000000000000000000000"))
    err = e.value
    assert isinstance(err, airlock.NotFoundError) and isinstance(err, airlock.APIError)
    assert err.status_code == 404 and err.code == "session_not_found"
    assert err.request_id and err.request_id.startswith("req_") and err.request_id in str(err)

    with pytest.raises(airlock.InvalidRequestError) as e:
        sdk.session(limits={"memory_mb": 1})
    assert e.value.status_code == 400 and e.value.field == "limits.memory_mb"
    with pytest.raises(airlock.InvalidRequestError) as e:
        sdk.session(interpreter="no-such-interpreter")
    assert e.value.field == "interpreter"

    bad = sdk.make(url=sdk.url, api_key="ak_00000000000000000000000000.sk_00000000000000000000000000")
    try:
        with pytest.raises(airlock.AuthenticationError) as e:
            sdk.run(bad.sessions.list())
        assert e.value.status_code == 401 and e.value.code == "unauthorized"
    finally:
        sdk.run(bad.close())


def test_connection_errors(sdk):
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        down = sdk.make(url="http://%s:%d" % (HOST, port), api_key="k", max_retries=1)
        try:
            with pytest.raises(airlock.APIConnectionError) as e:
                sdk.run(down.sessions.list())
            assert not isinstance(e.value, airlock.APIError)
        finally:
            sdk.run(down.close())


def test_configuration_from_environment(sdk, monkeypatch):
    monkeypatch.setenv("AIRLOCK_URL", sdk.url)
    monkeypatch.setenv("AIRLOCK_API_KEY", sdk.key)
    c = sdk.make()
    try:
        assert c.url == sdk.url and isinstance(sdk.run(c.sessions.list()), list)
    finally:
        sdk.run(c.close())
    monkeypatch.delenv("AIRLOCK_API_KEY")
    with pytest.raises(ValueError, match="AIRLOCK_API_KEY"):
        sdk.make(url=sdk.url)
    with pytest.raises(ValueError, match="http"):
        sdk.make(url="ftp://x", api_key="k")


# --- admin resources -----------------------------------------------------------------------


def test_interpreters(sdk):
    name = "sdk-%s" % sdk.mode
    it = sdk.run(sdk.client.interpreters.create(name, description="for the SDK test", limits={"memory_mb": 300},
                                                execution_timeout_seconds=5, env={"FROM_INTERP": "1"}))
    try:
        assert it.name == name and it.limits.memory_mb == 300 and not it.builtin and it.env == {"FROM_INTERP": "1"}
        assert sdk.run(sdk.client.interpreters.get(name)).description == "for the SDK test"
        assert name in [i.name for i in sdk.run(sdk.client.interpreters.list())]
        assert any(i.builtin and i.name == "default" for i in sdk.run(sdk.client.interpreters.list()))
        assert it.start == "warm"
        up = sdk.run(sdk.client.interpreters.update(name, description="changed", start="fresh"))
        assert up.description == "changed" and up.limits.memory_mb == 300 and up.start == "fresh"
        s = sdk.session(interpreter=name)
        assert s.info.interpreter == name and s.info.limits.memory_mb == 300
        assert s.info.start == airlock.SessionStart(mode="fresh", from_pool=False, preloaded=[])
        with pytest.raises(airlock.BadRequestError) as e:
            sdk.session(interpreter=name, start="warm")  # a session cannot ask out of fresh
        assert e.value.field == "start"
        assert s.info.execution_timeout_seconds == 5
        assert sdk.run(s.run_code("import os; os.environ['FROM_INTERP']")).text == "'1'"
        with pytest.raises(airlock.InterpreterInUseError):
            sdk.run(sdk.client.interpreters.delete(name))
        sdk.run(s.stop())
        with pytest.raises(airlock.InterpreterExistsError):
            sdk.run(sdk.client.interpreters.create(name))
    finally:
        sdk.run(sdk.client.interpreters.delete(name))
    with pytest.raises(airlock.InterpreterNotFoundError):
        sdk.run(sdk.client.interpreters.get(name))


def test_secrets_and_keys(sdk):
    name = "SDK_SECRET_%s" % sdk.mode.upper()
    sdk.run(sdk.client.secrets.set(name, "s3cr3t-value"))
    try:
        assert name in [x["name"] for x in sdk.run(sdk.client.secrets.list())]
        s = sdk.session(secrets=[name])
        assert s.info.secrets == [name]
        assert sdk.run(s.run_code("import os; len(os.environ['%s'])" % name)).text == "12"
    finally:
        sdk.run(sdk.client.secrets.delete(name))
    with pytest.raises(airlock.SecretNotFoundError):
        sdk.run(sdk.client.secrets.delete(name))

    created = sdk.run(sdk.client.keys.create(name="sdk test", scopes=["sessions"]))
    assert created["token"].startswith(created["id"] + ".")
    assert created["id"] in [k["id"] for k in sdk.run(sdk.client.keys.list())]
    limited = sdk.make(url=sdk.url, api_key=created["token"])
    try:
        assert isinstance(sdk.run(limited.sessions.list()), list)
        with pytest.raises(airlock.PermissionDeniedError) as e:
            sdk.run(limited.keys.list())
        assert e.value.status_code == 403 and e.value.code == "forbidden"
        revoked = sdk.run(sdk.client.keys.revoke(created["id"]))
        assert revoked["revoked_at"] is not None
        with pytest.raises(airlock.AuthenticationError):
            sdk.run(limited.sessions.list())
    finally:
        sdk.run(limited.close())


# --- retry rules (fake HTTP: a healthy daemon can't be made to fail on cue) ----------------


def _mock_client(sdk, handler, **kwargs):
    transport = httpx.MockTransport(handler)
    http = httpx.AsyncClient(transport=transport) if sdk.mode == "async" else httpx.Client(transport=transport)
    return sdk.make(url="http://airlock.test", api_key="k", http_client=http, **kwargs), http


def _unavailable():
    return httpx.Response(503, json={"error": {"code": "unavailable", "message": "launcher down"}},
                          headers={"X-Request-Id": "req_x", "Retry-After": "0"})


def test_idempotent_requests_are_retried(sdk):
    calls = []

    def handler(request):
        calls.append(request.method)
        if len(calls) < 3:
            return _unavailable()
        return httpx.Response(200, json={"sessions": []})

    c, _ = _mock_client(sdk, handler, max_retries=2)
    assert sdk.run(c.sessions.list()) == []
    assert calls == ["GET", "GET", "GET"]

    calls.clear()
    c, _ = _mock_client(sdk, handler, max_retries=1)
    with pytest.raises(airlock.ServiceUnavailableError) as e:
        sdk.run(c.sessions.list())
    assert calls == ["GET", "GET"] and e.value.request_id == "req_x" and e.value.code == "unavailable"


def test_executions_and_creates_are_never_retried(sdk):
    calls = []

    def handler(request):
        calls.append((request.method, request.url.path))
        return _unavailable()

    c, _ = _mock_client(sdk, handler, max_retries=5)
    with pytest.raises(airlock.ServiceUnavailableError):
        sdk.run(c.sessions.create())
    s_cls = airlock.AsyncSession if sdk.mode == "async" else airlock.Session
    s = s_cls(c._transport, airlock.SessionInfo.from_wire({"id": "sess_abc"}))
    with pytest.raises(airlock.ServiceUnavailableError):
        sdk.run(s.run_code("1"))
    with pytest.raises(airlock.ServiceUnavailableError):
        sdk.run(s.commands.run("true"))
    assert calls == [("POST", "/v1/sessions"), ("POST", "/v1/sessions/sess_abc/execute"),
                     ("POST", "/v1/sessions/sess_abc/commands")]


def test_a_stream_without_its_end_is_an_error(sdk):
    def handler(request):
        assert request.headers["Accept"] == "text/event-stream"
        body = b'event: stdout\ndata: {"text":"partial\\n"}\n\n'
        return httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})

    c, _ = _mock_client(sdk, handler)
    s_cls = airlock.AsyncSession if sdk.mode == "async" else airlock.Session
    s = s_cls(c._transport, airlock.SessionInfo.from_wire({"id": "sess_abc"}))
    got = []
    with pytest.raises(airlock.StreamError):
        sdk.run(s.run_code("print('partial')", on_stdout=sdk.cb(got)))
    assert got == ["partial\n"]


def test_session_ids_cannot_add_path_segments(sdk):
    seen = []

    def handler(request):
        seen.append(request.url.raw_path)
        return httpx.Response(404, json={"error": {"code": "session_not_found", "message": "no"}})

    c, _ = _mock_client(sdk, handler, max_retries=0)
    with pytest.raises(airlock.SessionNotFoundError):
        sdk.run(c.sessions.get("../keys"))
    with pytest.raises(airlock.SessionNotFoundError):
        sdk.run(c.sessions.get(".."))
    s_cls = airlock.AsyncSession if sdk.mode == "async" else airlock.Session
    s = s_cls(c._transport, airlock.SessionInfo.from_wire({"id": "sess_abc"}))
    with pytest.raises(airlock.SessionNotFoundError):
        sdk.run(s.files.read("a/../../../keys"))
    # Literal dot segments would be resolved by URL normalisation before sending.
    assert seen == [b"/v1/sessions/..%2Fkeys", b"/v1/sessions/%2E%2E",
                    b"/v1/sessions/sess_abc/files/a/%2E%2E/%2E%2E/%2E%2E/keys"]
