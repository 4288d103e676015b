"""The Python runner against its protocol: golden transcripts, the schema, interrupts, output
ordering, fd hygiene, frame limits, large outputs and unicode. Every frame either way is
checked against api/runner-protocol.schema.json by the harness."""

import importlib.util
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import runner_harness as h

TRANSCRIPTS = sorted(h.EXAMPLES.glob("*.jsonl"))


def _runner_module():
    spec = importlib.util.spec_from_file_location("airlock_runner", h.RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- The contract: schema and golden transcripts ------------------------------------------------


def test_transcripts_cover_the_protocol():
    names = {path.stem for path in TRANSCRIPTS}
    assert names >= {
        "hello", "stateful-variables", "trailing-expression", "print-and-value", "traceback",
        "syntax-error", "contexts", "reset-context", "keyboard-interrupt", "system-exit",
        "protocol-errors", "context-errors", "top-level-await", "shutdown", "command",
        "command-timeout", "command-interrupt", "command-errors", "background-task"}


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_golden_transcript(spawn, path):
    h.replay(spawn(ready=False), path)


def test_runner_and_schema_agree_on_requests(schema):
    """The runner's own request table and the schema describe the same requests and fields."""
    runner = _runner_module()
    defs = schema.document["$defs"]
    kinds = [item["$ref"].rsplit("/", 1)[1] for item in defs["request"]["oneOf"]]
    assert sorted(kinds) == sorted(runner.REQUESTS)
    for kind, fields in runner.REQUESTS.items():
        definition = defs[kind]
        assert set(definition["properties"]) == {"type", "id", *fields}, kind
        required = {"type", "id", *(name for name, (_, needed) in fields.items() if needed)}
        assert set(definition["required"]) == required, kind
    assert runner.MAX_FRAME == h.MAX_FRAME


@pytest.mark.parametrize("frame", [
    {"type": "done", "id": "a", "status": "ok", "execution_count": 1, "duration_ms": 1.0},
    {"type": "done", "id": "a", "status": "timeout", "execution_count": 1, "duration_ms": 1,
     "state_kept": True},
    {"type": "done", "id": "a", "status": "ok", "execution_count": 0, "duration_ms": 1,
     "state_kept": True},
    {"type": "result", "id": "a", "data": {"text/html": "<b>"}, "execution_count": 1},
    {"type": "result", "id": "a", "data": {"text/plain": "1"}, "execution_count": 1, "x": 1},
    {"type": "error", "id": None, "name": "E", "value": "", "traceback": []},
    {"type": "error", "id": "a", "name": "E", "value": "", "traceback": [1]},
    {"type": "ack", "id": "a", "request": "ping", "context": "default"},
    {"type": "ack", "id": "a", "request": "create_context"},
    {"type": "ack", "id": "a", "request": "execute"},
    {"type": "protocol_error", "id": "a", "code": "oops", "message": "m"},
    {"type": "protocol_error", "id": "a b", "code": "bad_frame", "message": "m"},
    {"type": "ready", "protocol": 2, "pid": 1, "python": "3.11.2"},
    {"type": "stream", "id": "a", "text": "hi"},
], ids=lambda frame: frame["type"])
def test_schema_refuses_malformed_runner_frames(schema, frame):
    assert schema.problems(schema.event, frame)
    assert schema.problems(schema.any, frame)


# --- Interrupts ---------------------------------------------------------------------------------


def test_interrupt_during_sleep_keeps_state(runner):
    runner.execute("x = 'kept'\nimport time")
    runner.send({"type": "execute", "id": "slow", "code": "print('go', flush=True)\n"
                 "time.sleep(10)"})
    runner.wait_output("stdout", "go\n")
    started = time.monotonic()
    time.sleep(0.2)
    runner.interrupt()
    error, done = runner.recv(), runner.recv()
    assert time.monotonic() - started < 5
    assert error["type"] == "error" and error["name"] == "KeyboardInterrupt", error
    assert error["traceback"][-2] == '  File "<cell 2>", line 2, in <module>\n    time.sleep(10)\n'
    assert done == {"type": "done", "id": "slow", "status": "interrupted", "execution_count": 2,
                    "duration_ms": done["duration_ms"], "state_kept": True, "language": "python"}
    assert runner.value("x") == "'kept'"
    assert runner.alive()


def test_sigint_while_idle_does_not_kill(runner):
    for _ in range(20):
        runner.interrupt()
        time.sleep(0.005)
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"
    assert runner.alive()


def test_sigint_storm_while_serving(runner):
    """SIGINTs landing anywhere (reading, writing frames, between executions) never kill the
    runner; each request still gets exactly one terminal frame."""
    stop = threading.Event()

    def storm():
        while not stop.is_set():
            try:
                os.kill(runner.pid, signal.SIGINT)
            except ProcessLookupError:
                return
            time.sleep(0.0005)

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        for i in range(150):
            assert runner.request({"type": "ping", "id": f"p{i}"})[-1]["type"] == "ack"
            frames = runner.execute("y = 'x' * 1000\ny", rid=f"e{i}")
            assert frames[-1]["type"] == "done", frames
            assert frames[-1]["status"] in ("ok", "interrupted"), frames
    finally:
        stop.set()
        thread.join()
    assert runner.alive()
    assert runner.value("1 + 1") == "2"


def test_user_sigint_handler_lasts_one_execution(runner):
    frames = runner.execute("import signal, time\n"
                            "signal.signal(signal.SIGINT, lambda *args: print('mine'))")
    assert frames[-1]["status"] == "ok"
    runner.interrupt()  # idle: the runner's handler is back, so this is ignored
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"
    runner.send({"type": "execute", "id": "s", "code": "print('go', flush=True)\n"
                 "time.sleep(10)"})
    runner.wait_output("stdout", "go\n")
    time.sleep(0.2)
    runner.interrupt()
    assert runner.recv()["name"] == "KeyboardInterrupt"
    assert runner.recv()["status"] == "interrupted"
    assert runner.take("stdout") == "go\n"


def test_interrupt_top_level_await_cancels_the_cell(runner):
    """Best effort for top-level await: the interrupted coroutine does not wake up later."""
    runner.execute("import asyncio\nwoke = []\n"
                   "async def slow():\n    await asyncio.sleep(0.5)\n    woke.append(1)")
    runner.send({"type": "execute", "id": "a", "code": "print('go', flush=True)\nawait slow()"})
    runner.wait_output("stdout", "go\n")
    time.sleep(0.1)
    runner.interrupt()
    error, done = runner.recv(), runner.recv()
    assert error["name"] == "KeyboardInterrupt" and done["status"] == "interrupted"
    assert all("asyncio" not in line and "airlock_runner" not in line
               for line in error["traceback"]), error["traceback"]
    assert runner.value("await asyncio.sleep(0.8)\nwoke") == "[]"
    assert runner.take("stderr") == ""


# --- Output ordering and fd hygiene -------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [True, False], ids=["-u", "buffered"])
def test_output_is_in_the_pipes_before_done(spawn, unbuffered):
    runner = spawn(unbuffered=unbuffered)
    runner.send({"type": "execute", "id": "p", "code":
                 "import sys\nprint('to stdout')\nsys.stderr.write('to stderr\\n')\n"
                 "sys.stdout.write('no newline');"})
    done = runner.recv(drain=False)  # leave the pipes alone until done is in
    assert done["type"] == "done" and done["status"] == "ok", done
    runner.drain_now()  # non-blocking reads: whatever is there now
    assert runner.take("stdout") == "to stdout\nno newline"
    assert runner.take("stderr") == "to stderr\n"


def test_control_socket_not_inherited(runner):
    with open(f"/proc/{runner.pid}/fdinfo/3") as info:
        flags = int(next(line for line in info if line.startswith("flags:")).split()[1], 8)
    assert flags & 0o2000000, "fd 3 of the runner is not close-on-exec"
    listing = ("import os\n"
               "print(sorted((f, os.readlink(f'/proc/self/fd/{f}'))"
               " for f in os.listdir('/proc/self/fd')))")
    text = runner.value(
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {listing!r}], close_fds=False,"
        " capture_output=True, text=True).stdout")
    assert "socket:" not in text, text
    assert "'3'" not in text, text
    frames = runner.execute("import os\nos.system('ls -l /proc/self/fd/')")
    assert frames[-1]["status"] == "ok"
    assert "socket:" not in runner.take("stdout")


def test_runner_needs_fd_3():
    proc = subprocess.run([h.PYTHON, "-u", str(h.RUNNER)], check=False, capture_output=True,
                          text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "fd 3" in proc.stderr


def test_eof_on_control_socket_ends_the_runner(runner):
    runner.sock.shutdown(2)
    assert runner.proc.wait(10) == 0


def test_os_exit_kills_the_runner(runner):
    runner.send({"type": "execute", "id": "x", "code": "import os\nos._exit(7)"})
    assert runner.proc.wait(10) == 7
    with pytest.raises(AssertionError, match="closed the control socket"):
        runner.recv(timeout=5)


# --- Frame limits and large data ----------------------------------------------------------------


def _execute_line(size, rid="big"):
    """An execute frame of exactly `size` bytes (its newline excluded): a padded comment."""
    head = json.dumps({"type": "execute", "id": rid, "code": "#"})[:-2]
    tail = '"}'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def test_frame_too_large_is_refused_and_the_runner_goes_on(runner):
    runner.send_raw(_execute_line(17 * 1024 * 1024) + b"\n")
    refusal = runner.recv(timeout=30)
    assert refusal["type"] == "protocol_error" and refusal["code"] == "frame_too_large"
    assert refusal["id"] == "big"  # found at the start of the line
    assert runner.request({"type": "ping", "id": "after"})[-1] == \
        {"type": "ack", "id": "after", "request": "ping"}


def test_frame_limit_boundary(runner):
    exact = _execute_line(h.MAX_FRAME, rid="exact")
    assert len(exact) == h.MAX_FRAME
    runner.send_raw(exact + b"\n")
    assert runner.recv(timeout=30)["status"] == "ok"
    runner.send_raw(_execute_line(h.MAX_FRAME + 1, rid="over") + b"\n")
    refusal = runner.recv(timeout=30)
    assert (refusal["code"], refusal["id"]) == ("frame_too_large", "over")
    # An oversized line whose id does not lead it: refused with a null id.
    runner.send_raw(b'{"code": "' + b"y" * h.MAX_FRAME + b'", "type": "ping"}\n')
    refusal = runner.recv(timeout=30)
    assert (refusal["code"], refusal["id"]) == ("frame_too_large", None)
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"


def test_requests_in_one_write_are_served_in_order(runner):
    batch = [{"type": "execute", "id": "a", "code": "import time; time.sleep(0.3); 1"},
             {"type": "ping", "id": "b"},
             {"type": "execute", "id": "c", "code": "2"}]
    runner.send_raw(b"".join(json.dumps(f).encode() + b"\n" for f in batch))
    got = [(f["type"], f["id"]) for f in (runner.recv() for _ in range(5))]
    assert got == [("result", "a"), ("done", "a"), ("ack", "b"), ("result", "c"), ("done", "c")]


def test_large_stdout(runner):
    frames = runner.execute("import sys\nfor i in range(64):\n"
                            "    sys.stdout.write(str(i % 10) * 131072)")
    assert frames[-1]["status"] == "ok"
    out = runner.take("stdout")
    assert len(out) == 64 * 131072 and out.endswith("3" * 131072)


def test_large_result_is_cut_and_saved_whole_in_the_workspace(runner, tmp_path):
    text = runner.value("'x' * (10 * 1024 * 1024)")
    cap = 1024 * 1024
    assert text.startswith("'xxx") and len(text) < cap + 200
    assert text.endswith(f"... [truncated: {10 * 1024 * 1024 + 2 - cap} more characters; "
                         "the whole is .airlock/outputs/default-1-1.txt in the workspace]\n")
    saved = h.ROOT / ".airlock" / "outputs" / "default-1-1.txt"  # the runner's cwd is ROOT
    try:
        assert saved.read_text() == "'" + "x" * (10 * 1024 * 1024) + "'"
    finally:
        saved.unlink()


def test_huge_result_and_error_are_truncated_to_fit(runner):
    frames = runner.execute("'é' * (20 * 1024 * 1024)")
    result = frames[0]
    assert result["type"] == "result"
    assert len(json.dumps(result, ensure_ascii=False).encode()) <= h.MAX_FRAME
    assert result["data"]["text/plain"].startswith("'ééé")
    spilled = result["data"]["application/vnd.airlock.spilled+json"]
    assert spilled == [{"mime": "text/plain", "bytes": 2 * 20 * 1024 * 1024 + 2,
                        "path": ".airlock/outputs/default-1-1.txt"}]
    (h.ROOT / spilled[0]["path"]).unlink()
    assert frames[-1]["status"] == "ok"
    frames = runner.execute("raise ValueError('€' * (20 * 1024 * 1024))")
    error = frames[0]
    assert error["type"] == "error" and error["name"] == "ValueError"
    assert error.get("truncated") is True
    assert frames[-1]["status"] == "error"


def test_large_code(runner):
    code = "data = [\n" + "    12345678,\n" * 1_000_000 + "]\nlen(data)"
    assert len(code) > 13 * 1024 * 1024
    assert runner.value(code, timeout=60) == "1000000"


# --- Unicode --------------------------------------------------------------------------------------


def test_unicode_everywhere(runner):
    frames = runner.execute("print('héllo wörld ✓ 🐍 日本語')\nπ = 3.14159\n'Ωmega', π")
    assert frames[0]["data"]["text/plain"] == "('Ωmega', 3.14159)"
    assert runner.take("stdout") == "héllo wörld ✓ 🐍 日本語\n"
    frames = runner.execute("ça = 'données'\nraise KeyError(ça + ' 🐍')")
    error = frames[0]
    assert error["value"] == "'données 🐍'"
    assert error["traceback"][1] == \
        '  File "<cell 2>", line 2, in <module>\n    raise KeyError(ça + \' 🐍\')\n'


def test_lone_surrogates_stay_valid_utf8(runner):
    assert runner.value("'\\udc80'") == "'\\udc80'"  # repr escapes it
    frames = runner.execute("raise ValueError('bad \\udc80 byte')")
    assert frames[0]["value"] == "bad ? byte"  # the harness decoded the frame strictly


def test_unicode_request_bytes(runner):
    """Non-UTF-8 bytes in a frame are a bad frame, not a crash."""
    runner.send_raw(b'{"type": "execute", "id": "u", "code": "\xff"}\n')
    refusal = runner.recv()
    assert refusal["code"] == "bad_frame" and refusal["id"] == "u"
    assert "UTF-8" in refusal["message"]


# --- Kernel semantics ---------------------------------------------------------------------------


def test_tracebacks_use_each_contexts_own_cells(runner):
    runner.execute("def f():\n    raise ValueError('from default')")
    runner.request({"type": "create_context", "id": "c", "context": "other"})
    runner.execute("other_line_one = 1\nother_line_two = 2", context="other")
    error = runner.execute("f()")[0]
    assert error["traceback"][-2] == \
        '  File "<cell 1>", line 2, in f\n    raise ValueError(\'from default\')\n'


def test_cells_are_a_real_main_module(runner):
    assert runner.value("import pickle\nclass Point:\n    pass\n"
                        "type(pickle.loads(pickle.dumps(Point()))).__name__") == "'Point'"
    assert runner.value("import __main__\n__main__.__dict__ is globals()") == "True"


def test_future_imports_persist(runner):
    runner.execute("from __future__ import annotations")
    assert runner.value("def f(x: Undefined) -> None: pass\nf.__annotations__") == \
        "{'x': 'Undefined', 'return': 'None'}"


def test_error_in_repr_is_reported(runner):
    frames = runner.execute("class Odd:\n    def __repr__(self):\n        raise TypeError('no')\n"
                            "Odd()")
    assert [f["type"] for f in frames] == ["error", "done"]
    assert frames[0]["traceback"] == [
        "Traceback (most recent call last):\n",
        '  File "<cell 1>", line 3, in __repr__\n    raise TypeError(\'no\')\n',
        "TypeError: no\n"]


def test_stdin_is_empty(runner):
    error = runner.execute("input('prompt? ')")[0]
    assert error["name"] == "EOFError"
    assert runner.take("stdout") == "prompt? "


def test_path_and_argv_as_in_an_interactive_python(runner):
    assert runner.value("import sys\nsys.path[0], sys.argv") == "('', [''])"


def test_nothing_heavy_at_start(runner):
    assert runner.value("import sys\nsorted(m for m in ('asyncio', 'inspect', 'numpy')"
                        " if m in sys.modules)") == "[]"


def test_reset_frees_the_old_namespace_at_once(runner):
    runner.execute("import json, weakref\nclass Big:\n    def method(self):\n        pass\n"
                   "big = Big()\njson.probe = weakref.ref(big)")
    runner.request({"type": "reset_context", "id": "r", "context": "default"})
    assert runner.value("import json\njson.probe() is None") == "True"


def test_user_handler_that_raises_does_not_reach_the_runner(runner):
    runner.execute("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)")
    for _ in range(5):
        runner.interrupt()
        time.sleep(0.01)
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"
    assert runner.alive()


def test_a_forked_child_never_speaks_on_the_socket(runner):
    frames = runner.execute("import os\npid = os.fork()\n"
                            "'child' if pid == 0 else ('parent', os.waitpid(pid, 0)[1])")
    assert [f["type"] for f in frames] == ["result", "done"]
    assert frames[0]["data"]["text/plain"] == "('parent', 0)"
    assert runner.quiet(0.5)
    assert runner.value("'still one runner'") == "'still one runner'"


def test_user_patching_json_cannot_break_frames(runner):
    runner.execute("import functools, json\n"
                   "json.dumps = functools.partial(json.dumps, indent=2)\n"
                   "json.loads = None")
    assert runner.value("{'a': [1, 2]}") == "{'a': [1, 2]}"
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"


def test_lone_surrogate_in_a_request(runner):
    runner.send_raw(b'{"type": "ping", "id": "s", "\\udc80": 1}\n')
    refusal = runner.recv()
    assert refusal["code"] == "bad_frame" and refusal["id"] == "s"
    assert "\\udc80" in refusal["message"]
    assert runner.value("'\\udc80' + '\\ud83d'") == "'\\udc80\\ud83d'"
