"""Executing Python: state across calls, values, output, errors, contexts, timeouts, kills,
and every validation error of the route."""
import json
import threading

import pytest
from airlock_api import expect


def test_state_persists_across_executions(client, sid):
    first = client.run_ok(sid, "x = 41")
    assert first["results"] == [] and first["error"] is None and first["killed_reason"] is None
    assert first["state_kept"] is True and first["stdout"] == "" and first["stderr"] == ""
    second = client.run_ok(sid, "x + 1")
    assert second["results"] == [{"text/plain": "42"}]
    assert second["execution_count"] == first["execution_count"] + 1
    assert second["execution_id"] != first["execution_id"]
    client.run_ok(sid, "import math\ndef area(r):\n    return math.pi * r * r")
    assert client.value(sid, "round(area(2), 3)") == "12.566"


def test_trailing_expression_values(client, sid):
    assert client.execute(sid, "1 + 1")["results"] == [{"text/plain": "2"}]
    assert client.execute(sid, "'text'")["results"] == [{"text/plain": "'text'"}]
    assert client.execute(sid, "[1, 2]\n{'a': None}")["results"] == [{"text/plain": "{'a': None}"}]
    assert client.execute(sid, "None")["results"] == [], "None displays nothing"
    assert client.execute(sid, "y = 3")["results"] == [], "an assignment displays nothing"
    assert client.execute(sid, "y * 2;")["results"] == [], "a trailing ; suppresses the value"
    assert client.execute(sid, "for i in range(3):\n    i")["results"] == [], "only a top-level trailing expression"
    assert client.execute(sid, "")["status"] == "ok"


def test_print_and_value(client, sid):
    ex = client.run_ok(sid, "print('hi')\nprint('there')\n6 * 7")
    assert ex["stdout"] == "hi\nthere\n" and ex["results"] == [{"text/plain": "42"}]
    ex = client.run_ok(sid, "import sys\nsys.stderr.write('warn\\n')\nprint('out')")
    assert ex["stdout"] == "out\n" and ex["stderr"] == "warn\n"


def test_output_encoding(client, sid):
    ex = client.run_ok(sid, "print('h\u00e9llo \u2713 \U0001f600')")
    assert ex["stdout"] == "h\u00e9llo \u2713 \U0001f600\n"
    ex = client.run_ok(sid, "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok\\n'); sys.stdout.flush()")
    assert ex["stdout"].endswith(" ok\n") and "\ufffd" in ex["stdout"], repr(ex["stdout"])
    ex = client.run_ok(sid, "print('nul:\\x00:end')")
    assert ex["stdout"] == "nul:\x00:end\n"


def test_output_of_child_processes_is_captured(client, sid):
    ex = client.run_ok(sid, "import subprocess, sys\n"
                            "subprocess.run([sys.executable, '-c', 'import sys; print(\"child out\"); "
                            "print(\"child err\", file=sys.stderr)'], check=True)")
    assert "child out\n" in ex["stdout"] and "child err\n" in ex["stderr"], ex


def test_traceback_has_the_users_line_numbers(client, sid):
    client.run_ok(sid, "def boom(v):\n    # a comment\n    raise ValueError(v)")
    define_count = client.execute(sid, "1")["execution_count"] - 1
    ex = client.execute(sid, "a = 1\nb = 2\nboom('bad ' + str(a + b))")
    assert ex["status"] == "error" and ex["results"] == [] and ex["killed_reason"] is None, ex
    err = ex["error"]
    assert err["name"] == "ValueError" and err["value"] == "bad 3", err
    tb = "".join(err["traceback"])
    n = ex["execution_count"]
    assert 'File "<cell %d>", line 3' % n in tb, tb
    assert 'File "<cell %d>", line 3, in boom' % define_count in tb, tb
    assert "raise ValueError(v)" in tb, "the cell's source line is shown:\n" + tb
    assert "airlock" not in tb.lower(), "Airlock's own frames must not show:\n" + tb
    assert ex["state_kept"] is True
    assert client.value(sid, "a + b") == "3", "state before the error is kept"


def test_syntax_errors(client, sid):
    ex = client.execute(sid, "x = 1\ndef f(:\n    pass")
    assert ex["status"] == "error" and ex["error"]["name"] == "SyntaxError", ex
    tb = "".join(ex["error"]["traceback"])
    assert "<cell %d>" % ex["execution_count"] in tb and "line 2" in tb, tb
    # nothing of the cell ran
    ex = client.execute(sid, "x")
    assert ex["status"] == "error" and ex["error"]["name"] == "NameError", ex


def test_execution_count_per_context(client, sid):
    counts = [client.run_ok(sid, "1", context_id="counted")["execution_count"] for _ in range(3)]
    assert counts == [1, 2, 3]
    assert client.run_ok(sid, "1", context_id="other")["execution_count"] == 1


def test_contexts_are_separate_namespaces_sharing_the_workspace(client, sid):
    client.run_ok(sid, "secret = 'a'\nopen('/workspace/shared.txt', 'w').write('from a')", context_id="ctx-a")
    ex = client.execute(sid, "secret", context_id="ctx_b")
    assert ex["status"] == "error" and ex["error"]["name"] == "NameError", ex
    assert client.value(sid, "open('/workspace/shared.txt').read()", context_id="ctx_b") == "'from a'"
    assert client.value(sid, "secret", context_id="ctx-a") == "'a'"
    ex = client.execute(sid, "secret")  # the default context
    assert ex["status"] == "error" and ex["error"]["name"] == "NameError", ex


def test_timeout_keeps_the_context(client, sid):
    client.run_ok(sid, "x = 7")
    ex = client.execute(sid, "import time\ntime.sleep(30)", timeout_seconds=1)
    assert ex["status"] == "timeout" and ex["state_kept"] is True and ex["killed_reason"] is None, ex
    assert 900 <= ex["duration_ms"] <= 15000, ex["duration_ms"]
    if ex["error"] is not None:
        assert ex["error"]["name"] == "KeyboardInterrupt", ex["error"]
    assert client.value(sid, "x") == "7", "the context survives an interrupted execution"
    ex = client.execute(sid, "while True: pass", timeout_seconds=0.5)
    assert ex["status"] == "timeout" and ex["state_kept"] is True, ex
    assert client.value(sid, "x * 6") == "42"


def _after_state_lost(client, sid):
    """After state_kept false: a fresh context, or an ended session saying why."""
    s = client.get_session(sid)
    if s["status"] == "ended":
        assert s["ended_reason"], s
        expect(client.post("/v1/sessions/%s/execute" % sid, json={"code": "1"}), 409, "session_ended")
        return
    ex = client.execute(sid, "x")
    assert ex["status"] == "error" and ex["error"]["name"] == "NameError", \
        "after state_kept false, a session that is not ended must run code in a fresh context " \
        "(here `x` must be a NameError): %r" % ex
    assert ex["execution_count"] == 1, "a fresh context counts from 1: %r" % ex
    assert client.value(sid, "1 + 1") == "2"


def test_uninterruptible_code_is_killed_and_says_state_was_lost(client, sid):
    client.run_ok(sid, "x = 7")
    ex = client.execute(sid, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                             "while True: time.sleep(0.01)", timeout_seconds=1)
    assert ex["status"] in ("timeout", "killed") and ex["state_kept"] is False, ex
    _after_state_lost(client, sid)


def test_code_that_ends_the_interpreter(client, sid):
    client.run_ok(sid, "x = 7")
    ex = client.execute(sid, "print('bye', flush=True)\nimport os\nos._exit(3)")
    assert ex["status"] == "killed" and ex["killed_reason"] == "runner_exited" and ex["state_kept"] is False, ex
    assert ex["stdout"] == "bye\n", ex
    _after_state_lost(client, sid)


def test_out_of_memory_is_reported(client, sessions):
    sid = sessions(limits={"memory_mb": 64})
    client.run_ok(sid, "x = 1")
    ex = client.execute(sid, "data = bytes(range(256)) * (2 << 20)  # 512 MiB, every page written\nlen(data)",
                        timeout_seconds=120)
    assert ex["status"] == "killed" and ex["killed_reason"] == "oom" and ex["state_kept"] is False, ex
    _after_state_lost(client, sid)


def test_output_flood_is_stopped(client, sid):
    ex = client.execute(sid, "import sys\nchunk = 'x' * 65536 + '\\n'\nwhile True:\n    sys.stdout.write(chunk)",
                        timeout_seconds=120)
    assert ex["status"] == "killed" and ex["killed_reason"] == "output_limit", {k: v for k, v in ex.items() if k != "stdout"}
    assert (1 << 20) <= len(ex["stdout"]) + len(ex["stderr"]) <= (16 << 20) + (1 << 20), len(ex["stdout"])
    assert set(ex["stdout"]) <= {"x", "\n"}, "the captured output is the output, in order"
    if ex["state_kept"]:
        assert client.value(sid, "len(chunk)") == "65537"
    else:
        _after_state_lost(client, sid)


def test_executions_in_one_context_run_one_at_a_time(client, sid):
    code = "import time\nstart = time.monotonic()\ntime.sleep(0.4)\n(start, time.monotonic())"
    results = []

    def run():
        results.append(client.run_ok(sid, code))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 3
    spans = sorted(tuple(map(float, r["results"][0]["text/plain"].strip("()").split(","))) for r in results)
    for (_, end), (start, _) in zip(spans[:-1], spans[1:], strict=True):
        assert start >= end, "executions overlapped: %r" % spans
    assert sorted(r["execution_count"] for r in results) == list(range(min(r["execution_count"] for r in results),
                                                                      min(r["execution_count"] for r in results) + 3))


def test_every_field_at_its_edges(client, sid):
    ex = client.run_ok(sid, "1", language="python", context_id="c" * 64, timeout_seconds=3600)
    assert ex["results"] == [{"text/plain": "1"}]
    client.run_ok(sid, "0", context_id="A-z_0")
    ex = client.run_ok(sid, "2", language="python", context_id="A-z_0", timeout_seconds=0.1)
    assert ex["results"] == [{"text/plain": "2"}]


def test_large_code_is_accepted(client, sid):
    code = "s = '" + "a" * (2 << 20) + "'\nlen(s)"  # 2 MiB: more than the 1 MiB JSON limit of other routes
    assert client.value(sid, code) == str(2 << 20)


BAD = [
    ({}, "code"),
    ({"code": 5}, "code"),
    ({"code": None}, "code"),
    ({"code": ["print(1)"]}, "code"),
    ({"code": "1", "language": "ruby"}, "language"),
    ({"code": "1", "clear_context": "yes"}, "clear_context"),
    ({"code": "1", "language": "Python3"}, "language"),
    ({"code": "1", "language": 1}, "language"),
    ({"code": "1", "context_id": ""}, "context_id"),
    ({"code": "1", "context_id": "bad id"}, "context_id"),
    ({"code": "1", "context_id": "../x"}, "context_id"),
    ({"code": "1", "context_id": "c" * 65}, "context_id"),
    ({"code": "1", "context_id": 7}, "context_id"),
    ({"code": "1", "timeout_seconds": 0}, "timeout_seconds"),
    ({"code": "1", "timeout_seconds": 0.05}, "timeout_seconds"),
    ({"code": "1", "timeout_seconds": 3600.5}, "timeout_seconds"),
    ({"code": "1", "timeout_seconds": -1}, "timeout_seconds"),
    ({"code": "1", "timeout_seconds": "5"}, "timeout_seconds"),
    ({"code": "1", "timeout_seconds": False}, "timeout_seconds"),
    ({"code": "1", "stdin": "x"}, "stdin"),
]


@pytest.mark.parametrize("body, field", BAD, ids=[f + ":" + json.dumps(b)[:40] for b, f in BAD])
def test_invalid_execute_requests_name_the_field(client, sid, body, field):
    expect(client.post("/v1/sessions/%s/execute" % sid, json=body), 400, "invalid_request", field)


def test_execute_body_errors(client, sid):
    target = "/v1/sessions/%s/execute" % sid
    expect(client.post(target, body=b"", content_type="application/json"), 400, "invalid_request", "code")
    expect(client.post(target, body=b"", content_type=None), 400, "invalid_request", "code")
    expect(client.post(target, body=b'{"code": "1"', content_type="application/json"), 400, "invalid_request")
    expect(client.post(target, body=b'{"code": "1", "code": "2"}', content_type="application/json"),
           400, "invalid_request", "code")
    expect(client.post(target, body=b'{"code": "1"}', content_type="text/plain"), 415, "unsupported_media_type")
    expect(client.post(target, body=b'{"code": "1"}', content_type=None), 415, "unsupported_media_type")
    # code over 16 MiB in a body under the route's 17 MiB limit: field code
    big = b'{"code": "' + b"#" * ((16 << 20) + 1) + b'"}'
    expect(client.post(target, body=big, content_type="application/json", expect_continue=True),
           413, "payload_too_large", "code")
    # a body over 17 MiB: refused from its Content-Length
    huge = b'{"code": "' + b"#" * (18 << 20) + b'"}'
    expect(client.post(target, body=huge, content_type="application/json", expect_continue=True),
           413, "payload_too_large")
    assert client.value(sid, "'still fine'") == "'still fine'"


def test_sessions_run_the_runner_compiled_once(client, sid, daemon):
    """The daemon compiles the runner once (the sandbox's Python, at start) and sessions run
    the bytecode: each session start skips compiling it. The runner's own frames stay out
    of user tracebacks all the same (the code keeps its source path)."""
    import conftest
    import procs
    runners = [procs.cmdline(p) for p, _ in conftest.descendants(daemon.proc.pid)
               if "airlock_runner" in procs.cmdline(p) and not procs.cmdline(p).startswith("bwrap")]
    assert runners and all(c.endswith("/run/airlock/airlock_runner.pyc") for c in runners), runners
    ex = client.execute(sid, "def f():\n    raise KeyError('k')\nf()")
    tb = "".join(ex["error"]["traceback"])
    assert "airlock_runner" not in tb and "<cell" in tb, tb
