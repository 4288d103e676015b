"""Shell commands in a session: foreground results, background tasks, their limits."""
import time

from airlock_api import expect


def command(client, sid, status=200, **body):
    return expect(client.post("/v1/sessions/%s/commands" % sid, json=body, timeout=180), status).json


def test_foreground_command_output_exit_code_cwd_env(client, sid):
    r = command(client, sid, command="echo out; echo err >&2; pwd; echo $GREETING; exit 3",
                env={"GREETING": "hi"})
    assert (r["exit_code"], r["signal"], r["timed_out"]) == (3, None, False), r
    assert r["stdout"] == "out\n/workspace\nhi\n"
    assert r["stderr"] == "err\n"
    assert r["stdout_dropped_bytes"] == 0 and r["duration_ms"] >= 0
    client.run_ok(sid, "import os; os.makedirs('sub', exist_ok=True)")
    assert command(client, sid, command="pwd", cwd="sub")["stdout"] == "/workspace/sub\n"


def test_commands_share_the_workspace_with_code(client, sid):
    client.run_ok(sid, "open('from_code.txt', 'w').write('hello')")
    assert command(client, sid, command="cat from_code.txt")["stdout"] == "hello"
    command(client, sid, command="echo 42 > from_shell.txt")
    assert client.value(sid, "int(open('from_shell.txt').read())") == "42"


def test_command_timeout_is_reported(client, sid):
    r = command(client, sid, command="trap '' TERM; sleep 100", timeout_seconds=0.5)
    assert r["timed_out"] is True and r["exit_code"] is None and r["signal"] is not None, r
    # the session goes on
    assert command(client, sid, command="echo alive")["stdout"] == "alive\n"


def test_large_output_is_capped_and_counted(client, sid):
    r = command(client, sid, command="head -c 3000000 /dev/zero | tr '\\0' x")
    assert len(r["stdout"]) == 1 << 20
    assert r["stdout_dropped_bytes"] == 3000000 - (1 << 20)


def test_background_task_lifecycle(client, sid):
    started = command(client, sid, 202, command="echo begin; sleep 0.5; echo done; exit 7", background=True)
    assert started["status"] == "running" and started["task_id"].startswith("task_")
    target = "/v1/sessions/%s/tasks/%s" % (sid, started["task_id"])
    deadline = time.monotonic() + 30
    while True:
        t = expect(client.get(target), 200).json
        if t["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (t["status"], t["exit_code"], t["stdout"]) == ("exited", 7, "begin\ndone\n"), t
    assert t["command"].startswith("echo begin")

    long = command(client, sid, 202, command="sleep 100", background=True)
    stopped = expect(client.delete("/v1/sessions/%s/tasks/%s" % (sid, long["task_id"])), 200).json
    assert stopped["status"] == "killed", stopped
    # code and tasks run side by side
    assert client.value(sid, "1 + 1") == "2"


def test_unknown_tasks_and_bad_requests(client, sid):
    expect(client.get("/v1/sessions/%s/tasks/task_000000000000" % sid), 404, "task_not_found")
    expect(client.delete("/v1/sessions/%s/tasks/not-a-task" % sid), 404, "task_not_found")
    expect(client.get("/v1/sessions/sess_00000000000000000000000000/tasks/task_000000000000"), 404,
           "session_not_found")
    expect(client.post("/v1/sessions/%s/commands" % sid, json={}), 400, "invalid_request", "command")
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "true", "background": "yes"}), 400,
           "invalid_request", "background")
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "true", "env": {"1A": "x"}}), 400,
           "invalid_request", "env.1A")
    expect(client.post("/v1/sessions/sess_00000000000000000000000000/commands", json={"command": "true"}), 404,
           "session_not_found")


def test_too_many_background_tasks(client, sessions):
    sid = sessions.new(limits={"pids": 1024})["id"]
    for _ in range(64):
        command(client, sid, 202, command="sleep 60", background=True)
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "sleep 60", "background": True}),
           429, "too_many_tasks")


def test_commands_on_an_ended_session(client, sessions):
    sid = sessions()
    expect(client.delete("/v1/sessions/" + sid), 200)
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "true"}), 409, "session_ended")
    expect(client.get("/v1/sessions/%s/tasks/task_000000000000" % sid), 409, "session_ended")
    expect(client.delete("/v1/sessions/%s/tasks/task_000000000000" % sid), 409, "session_ended")


def test_command_body_limits(client, sid):
    target = "/v1/sessions/%s/commands" % sid
    expect(client.post(target, body=b'{"command": "true"}', content_type="text/plain"), 415, "unsupported_media_type")
    huge = b'{"command": "' + b"#" * (18 << 20) + b'"}'
    expect(client.post(target, body=huge, content_type="application/json", timeout=120), 413, "payload_too_large")


def test_an_execution_timeout_leaves_background_tasks_alone(client, sid):
    task = command(client, sid, 202, command="sleep 30", background=True)
    ex = client.execute(sid, "import time\ntime.sleep(30)", timeout_seconds=0.5)
    assert ex["status"] == "timeout" and ex["state_kept"] is True, ex
    t = expect(client.get("/v1/sessions/%s/tasks/%s" % (sid, task["task_id"])), 200).json
    assert t["status"] == "running", t


def test_output_with_nul_bytes_comes_back_at_once(client, sid):
    """Binary output (cat of a binary file) holds NUL bytes: the runner's frame carries them as
    \\u0000 and the daemon reads them (it once dropped the frame and waited 90 s for it)."""
    start = time.monotonic()
    resp = expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "printf 'a\\0b\\n'; printf 'e\\0' >&2"}), 200)
    assert time.monotonic() - start < 30
    assert resp.json["stdout"] == "a\x00b\n" and resp.json["stderr"] == "e\x00" and resp.json["exit_code"] == 0
    task = expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "printf 'x\\0y'", "background": True}),
                  202).json["task_id"]
    for _ in range(100):
        t = expect(client.get("/v1/sessions/%s/tasks/%s" % (sid, task)), 200).json
        if t["status"] != "running":
            break
        time.sleep(0.05)
    assert t["status"] == "exited" and t["stdout"] == "x\x00y", t
