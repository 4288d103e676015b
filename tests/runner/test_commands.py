"""Shell commands and background tasks in the Python runner: output, exit status, cwd and env,
pipes that can't deadlock, timeouts and their escalation, SIGINT during a command, tasks from
start to stop, their limits, and fd hygiene. Every frame either way is checked against
api/runner-protocol.schema.json by the harness."""

import datetime
import json
import os
import re
import stat
import time

import pytest
import runner_harness as h

MiB = 1024 * 1024


def _done(frames):
    assert [f["type"] for f in frames] == ["command_done"], frames
    return frames[0]


def _start(runner, command, rid="bg", **fields):
    frames = runner.command(command, rid=rid, background=True, **fields)
    assert [f["type"] for f in frames] == ["task_started"], frames
    assert re.fullmatch(r"task_[a-z0-9]{12}", frames[0]["task_id"])
    return frames[0]["task_id"]


def _task(runner, task_id, stop=False, rid="t"):
    frames = runner.request({"type": "task_stop" if stop else "task_status", "id": rid,
                             "task_id": task_id}, timeout=30)
    assert [f["type"] for f in frames] == ["task"], frames
    assert frames[0]["task_id"] == task_id
    return frames[0]


def _wait_task(runner, task_id, until=lambda t: t["status"] != "running", timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        task = _task(runner, task_id)
        if until(task):
            return task
        assert time.monotonic() < deadline, f"task never got there: {task}"
        time.sleep(0.05)


def _wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def _gone(pid, timeout=5):
    """True once pid no longer runs (gone, or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as file:
                if file.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


# --- Foreground commands --------------------------------------------------------------------


def test_output_exit_code_cwd_and_env(runner, tmp_path):
    done = _done(runner.command('echo out; echo err >&2; pwd; echo "$GREETING|$LANG"; exit 7',
                                cwd=str(tmp_path), env={"GREETING": "héllo"}))
    assert done == {"type": "command_done", "id": "c", "exit_code": 7, "signal": None,
                    "stdout": f"out\n{tmp_path}\nhéllo|C.UTF-8\n", "stderr": "err\n",
                    "stdout_dropped_bytes": 0, "stderr_dropped_bytes": 0,
                    "duration_ms": done["duration_ms"], "timed_out": False}
    assert 0 < done["duration_ms"] < 5000
    # env replaces the runner's own variables; the rest of its environment stays.
    assert _done(runner.command('echo "$LANG $PATH"', env={"LANG": "C"}))["stdout"] == \
        "C /usr/local/bin:/usr/bin:/bin\n"
    assert _done(runner.command("true"))["exit_code"] == 0


def test_cwd_defaults_to_and_is_relative_to_the_starting_directory(runner):
    """The runner starts in /workspace in a sandbox (here, the repository): a cell moving
    elsewhere changes neither the default nor what a relative cwd means."""
    runner.execute("import os\nos.chdir('/tmp')\nos.environ['FROM_CELL'] = 'yes'")
    assert _done(runner.command("pwd"))["stdout"] == f"{h.ROOT}\n"
    assert _done(runner.command("pwd", cwd="tests/runner"))["stdout"] == f"{h.ROOT}/tests/runner\n"
    assert _done(runner.command("pwd", cwd="/"))["stdout"] == "/\n"
    # The environment is the runner's as it is now, cells' changes included.
    assert _done(runner.command("echo $FROM_CELL"))["stdout"] == "yes\n"


@pytest.mark.parametrize(("cwd", "message"), [
    ("/nonexistent/dir", 'cwd "/nonexistent/dir" does not exist'),
    ("/dev/null", 'cwd "/dev/null" is not a directory'),
    ("/dev/null/x", 'cwd "/dev/null/x": Not a directory'),
])
def test_bad_cwd(runner, cwd, message):
    for background in (False, True):
        frames = runner.command("true", cwd=cwd, background=background)
        assert frames == [{"type": "protocol_error", "id": "c", "code": "bad_cwd",
                           "message": message}]


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_commands_longer_than_an_argv_string(runner, background):
    """Linux takes at most 128 KiB in one argv string; the daemon allows 1 MiB commands."""
    head, tail = "echo start; : ", '\necho "end ${__airlock_command-unset} $0"; ls /proc/$$/fd; true'
    for size in (128 * 1024 - 1, 128 * 1024, 1024 * 1024):  # bytes; the first fits an argv string
        padding = size - len(head) - len(tail)
        command = head + "é" * (padding // 2) + "x" * (padding % 2) + tail
        assert len(command.encode()) == size
        if background:
            result = _wait_task(runner, _start(runner, command))
            assert result["status"] == "exited" and result["command"] == command
        else:
            result = _done(runner.command(command))
        assert result["exit_code"] == 0, result["stderr"]
        # Nothing of the way the command came shows: no variable, no extra descriptor. The
        # trailing `true` keeps bash from exec'ing ls (which would list its own directory fd);
        # not a pipeline, whose pipe ends bash holds while ls may already be listing them.
        assert result["stdout"] == "start\nend unset /bin/bash\n0\n1\n2\n"
        assert result["stderr"] == ""


def test_stdout_and_stderr_are_separate(runner):
    done = _done(runner.command("for i in 1 2 3; do echo o$i; echo e$i >&2; done"))
    assert (done["stdout"], done["stderr"]) == ("o1\no2\no3\n", "e1\ne2\ne3\n")


def test_large_output_on_both_pipes(runner):
    """Megabytes on stderr first, then on stdout: a runner reading one pipe to its end before
    the other would deadlock. The first MiB of each comes back, the rest is counted."""
    started = time.monotonic()
    done = _done(runner.command(
        "head -c 3000000 /dev/zero | tr '\\0' b >&2; head -c 3145728 /dev/zero | tr '\\0' a;"
        "head -c 100000 /dev/zero | tr '\\0' c >&2"))
    assert time.monotonic() - started < 10
    assert done["exit_code"] == 0 and not done["timed_out"]
    assert done["stdout"] == "a" * MiB and done["stdout_dropped_bytes"] == 3145728 - MiB
    assert done["stderr"] == "b" * MiB and done["stderr_dropped_bytes"] == 3100000 - MiB


def test_output_cut_at_a_character_boundary(runner):
    done = _done(runner.command(
        f"{h.PYTHON} -c \"import sys; sys.stdout.write('x' + 'é' * 600000)\""))
    # 1 + 2 * 524287 bytes fit in 1 MiB; the next 'é' would be cut in two: it is dropped.
    assert done["stdout"] == "x" + "é" * 524287
    assert done["stdout_dropped_bytes"] == 1 + 2 * 600000 - (1 + 2 * 524287)
    invalid = _done(runner.command("printf 'ok \\377\\376 end'"))
    assert invalid["stdout"] == "ok \ufffd\ufffd end"


def test_leftover_background_processes_do_not_hold_a_command(runner):
    started = time.monotonic()
    done = _done(runner.command("sleep 30 & echo $!"))
    took = time.monotonic() - started
    pid = int(done["stdout"])
    try:
        assert done["exit_code"] == 0 and took < 2, (done, took)
    finally:
        os.kill(pid, 9)
    assert _done(runner.command("sleep 30 >/dev/null 2>&1 & kill $!; echo fast"))["stdout"] == \
        "fast\n"


def test_timeout_sends_sigterm(runner):
    done = _done(runner.command("echo started; sleep 30", timeout_ms=300))
    assert (done["exit_code"], done["signal"], done["timed_out"]) == (None, 15, True)
    assert done["stdout"] == "started\n"
    assert 250 <= done["duration_ms"] < 2000


def test_timeout_escalates_to_sigkill(runner, tmp_path):
    """A group that ignores SIGTERM gets SIGKILL 2 s later: nothing of it survives."""
    pidfile = tmp_path / "pid"
    done = _done(runner.command(f"echo $$ > {pidfile}; trap '' TERM; sleep 100",
                                timeout_ms=300))
    assert (done["exit_code"], done["signal"], done["timed_out"]) == (None, 9, True)
    assert 2200 <= done["duration_ms"] < 4500
    pgid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_timeout_as_an_integral_float(runner):
    done = _done(runner.command("sleep 5", timeout_ms=200.0))
    assert done["timed_out"] and done["signal"] == 15


# --- SIGINT during a foreground command ---------------------------------------------------------


def test_sigint_stops_a_foreground_command_not_the_runner(runner, tmp_path):
    runner.execute("kept = 'state'")
    marker = tmp_path / "started"
    runner.send({"type": "command", "id": "c", "command": f"touch {marker}; sleep 100"})
    _wait_file(marker)
    started = time.monotonic()
    runner.interrupt()
    done = _done([runner.recv(timeout=10)])
    assert time.monotonic() - started < 1.5
    assert (done["exit_code"], done["signal"], done["timed_out"]) == (None, 2, False)
    assert runner.alive()
    assert runner.value("kept") == "'state'"
    assert _done(runner.command("echo fine"))["stdout"] == "fine\n"


def test_sigint_escalates_when_the_command_ignores_it(runner, tmp_path):
    marker = tmp_path / "started"
    runner.send({"type": "command", "id": "c",
                 "command": f"trap '' INT; touch {marker}; sleep 100"})
    _wait_file(marker)
    started = time.monotonic()
    for _ in range(3):  # more interrupts change nothing: the escalation is under way
        runner.interrupt()
        time.sleep(0.05)
    done = _done([runner.recv(timeout=10)])
    assert 1.9 <= time.monotonic() - started < 4
    assert (done["exit_code"], done["signal"], done["timed_out"]) == (None, 15, False)
    assert runner.request({"type": "ping", "id": "p"})[-1]["type"] == "ack"


def test_sigint_while_idle_after_commands_is_ignored(runner):
    _done(runner.command("true"))
    for _ in range(5):
        runner.interrupt()
        time.sleep(0.01)
    assert _done(runner.command("echo ok"))["stdout"] == "ok\n"


# --- fd hygiene ---------------------------------------------------------------------------------

def _fds(pid):
    """The open descriptors of a process, from outside: number -> what it points to."""
    return {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def test_control_socket_not_inherited_by_commands(runner, tmp_path):
    pidfile = tmp_path / "pid"
    runner.send({"type": "command", "id": "c", "command": f"echo $$ > {pidfile}; exec sleep 1"})
    _wait_file(pidfile)
    time.sleep(0.2)  # let the shell get to its exec
    fds = _fds(int(pidfile.read_text()))
    assert sorted(fds) == ["0", "1", "2"], fds
    assert fds["0"] == "/dev/null"
    assert fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:")
    assert _done([runner.recv()])["exit_code"] == 0
    task_id = _start(runner, "echo $$; exec sleep 100")
    pid = int(_wait_task(runner, task_id, until=lambda t: t["stdout"])["stdout"])
    time.sleep(0.2)
    fds = _fds(pid)
    assert fds == {"0": "/dev/null", "1": str(h.TASKS_DIR / task_id / "stdout"),
                   "2": str(h.TASKS_DIR / task_id / "stderr")}, fds
    _task(runner, task_id, stop=True)


# --- Background tasks -----------------------------------------------------------------------------


def test_background_start_status_stop(runner):
    before = datetime.datetime.now(datetime.UTC)
    task_id = _start(runner, "echo begin; echo warn >&2; sleep 100")
    task = _wait_task(runner, task_id, until=lambda t: t["stdout"] and t["stderr"])
    assert task == {"type": "task", "id": "t", "task_id": task_id, "status": "running",
                    "exit_code": None, "signal": None, "stdout": "begin\n", "stderr": "warn\n",
                    "stdout_dropped_bytes": 0, "stderr_dropped_bytes": 0,
                    "started_at": task["started_at"], "duration_ms": task["duration_ms"],
                    "command": "echo begin; echo warn >&2; sleep 100"}
    started_at = datetime.datetime.strptime(task["started_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs((started_at - before).total_seconds()) < 2
    directory = h.TASKS_DIR / task_id
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (directory / "stdout").read_text() == "begin\n"
    started = time.monotonic()
    stopped = _task(runner, task_id, stop=True)
    assert time.monotonic() - started < 1
    assert (stopped["status"], stopped["exit_code"], stopped["signal"]) == ("killed", None, 15)
    assert stopped["stdout"] == "begin\n" and stopped["started_at"] == task["started_at"]
    # Stopping again, or asking, gives the final state.
    assert _task(runner, task_id, stop=True) == {**stopped, "id": "t"}
    assert _task(runner, task_id) == stopped


def test_the_runner_serves_while_tasks_run(runner):
    task_id = _start(runner, "sleep 100")
    assert runner.value("6 * 7") == "42"
    assert _done(runner.command("echo hi"))["stdout"] == "hi\n"
    assert _task(runner, task_id)["status"] == "running"
    assert _task(runner, task_id, stop=True)["status"] == "killed"


def test_output_of_a_finished_task(runner):
    task_id = _start(runner, "echo out; echo err >&2; exit 4")
    task = _wait_task(runner, task_id)
    assert (task["status"], task["exit_code"], task["signal"]) == ("exited", 4, None)
    assert (task["stdout"], task["stderr"]) == ("out\n", "err\n")
    assert 0 <= task["duration_ms"] < 2000
    # Stopping an ended task changes nothing.
    assert _task(runner, task_id, stop=True) == task
    # A task killed by a signal of its own has exited too.
    task = _wait_task(runner, _start(runner, "kill -KILL $$"))
    assert (task["status"], task["exit_code"], task["signal"]) == ("exited", None, 9)


def test_task_output_is_the_last_mib(runner):
    task_id = _start(runner, "head -c 3000000 /dev/zero | tr '\\0' a; echo END;"
                             f"{h.PYTHON} -c \"import sys; sys.stderr.write('é' * 600000)\"")
    task = _wait_task(runner, task_id)
    assert task["status"] == "exited" and task["exit_code"] == 0
    assert task["stdout"] == "a" * (MiB - 4) + "END\n"
    assert task["stdout_dropped_bytes"] == 3000004 - MiB
    # 1 MiB back from the end of 1.2 MB of 'é' starts on a character boundary (even bytes).
    assert task["stderr"] == "é" * (MiB // 2)
    assert task["stderr_dropped_bytes"] == 1200000 - MiB
    odd = _wait_task(runner, _start(
        runner, f"{h.PYTHON} -c \"import sys; sys.stdout.write('é' * 600000 + 'x')\""))
    # Here it would start in the middle of one: that half is dropped too.
    assert odd["stdout"] == "é" * (MiB // 2 - 1) + "x"
    assert odd["stdout_dropped_bytes"] == 1200001 - (MiB - 1)


def test_task_frame_of_a_huge_command_is_cut_to_fit(runner):
    """The task frame echoes the command: one that filled a whole request frame (control
    characters, 6 bytes each in JSON) can't come back whole within 16 MiB."""
    base = {"type": "command", "id": "c", "command": "echo hi; : ''", "background": True}
    size = (h.MAX_FRAME - len(json.dumps(base).encode())) // 6
    command = "echo hi; : '" + "\x01" * size + "'"
    task_id = runner.request({**base, "command": command}, timeout=60)[0]["task_id"]
    task = _wait_task(runner, task_id)
    assert task["truncated"] is True and task["status"] == "exited"
    assert task["stdout"] == "hi\n"
    assert command.startswith(task["command"].removesuffix("\n... [truncated]\n"))
    assert len(json.dumps(task, ensure_ascii=False).encode()) <= h.MAX_FRAME


def test_task_timeout_holds_while_a_cell_runs(runner):
    task_id = _start(runner, "sleep 100", timeout_ms=300)
    assert runner.value("import time\ntime.sleep(1.5)\n'slept'") == "'slept'"
    task = _task(runner, task_id)
    assert (task["status"], task["exit_code"], task["signal"]) == ("timed_out", None, 15)
    assert 250 <= task["duration_ms"] < 1000  # ended at its deadline, not when asked


def test_task_timeout_escalates_to_sigkill(runner):
    task_id = _start(runner, "trap '' TERM; sleep 100", timeout_ms=200)
    task = _wait_task(runner, task_id)
    assert (task["status"], task["signal"]) == ("timed_out", 9)
    assert 2100 <= task["duration_ms"] < 3500


def test_task_stop_escalates_to_sigkill(runner):
    task_id = _start(runner, "trap '' TERM; echo ready; sleep 100")
    _wait_task(runner, task_id, until=lambda t: t["stdout"] == "ready\n")
    started = time.monotonic()
    task = _task(runner, task_id, stop=True)
    assert 1.9 <= time.monotonic() - started < 4
    assert (task["status"], task["exit_code"], task["signal"]) == ("killed", None, 9)


def test_task_not_found(runner):
    unknown = {"type": "protocol_error", "id": "t", "code": "task_not_found",
               "message": "no task 'task_000000000000'"}
    for kind in ("task_status", "task_stop"):
        frames = runner.request({"type": kind, "id": "t", "task_id": "task_000000000000"})
        assert frames == [unknown]
    _start(runner, "true")
    assert runner.request({"type": "task_status", "id": "t",
                           "task_id": "task_000000000000"}) == [unknown]


def test_too_many_tasks(runner):
    task_ids = [_start(runner, "sleep 60", rid=f"b{i}") for i in range(64)]
    refused = runner.command("sleep 60", rid="over", background=True)
    assert refused == [{"type": "protocol_error", "id": "over", "code": "too_many_tasks",
                        "message": "64 background tasks are running already;"
                                   " stop one or wait for one to end"}]
    # Foreground commands are not tasks.
    assert _done(runner.command("echo fg"))["stdout"] == "fg\n"
    assert _task(runner, task_ids[0], stop=True)["status"] == "killed"
    task_ids[0] = _start(runner, "sleep 60")
    # A task that ends by itself frees its place too.
    assert _task(runner, task_ids[1], stop=True)["status"] == "killed"
    quick = _start(runner, "true")
    _wait_task(runner, quick)
    task_ids[1] = _start(runner, "sleep 60")
    assert runner.command("sleep 60", rid="over", background=True)[0]["code"] == "too_many_tasks"
    for task_id in task_ids:
        assert _task(runner, task_id, stop=True)["status"] == "killed"


def test_monitor_thread_only_while_tasks_run(runner):
    threads = "import threading\nsorted(t.name for t in threading.enumerate())"
    assert runner.value(threads) == "['MainThread']"
    task_id = _start(runner, "sleep 100")
    assert runner.value(threads) == "['MainThread', 'airlock-tasks']"
    _task(runner, task_id, stop=True)
    deadline = time.monotonic() + 5
    while runner.value(threads) != "['MainThread']":
        assert time.monotonic() < deadline, "the monitor thread outlived the tasks"
        time.sleep(0.05)


def test_the_runner_ends_its_tasks_when_it_exits(spawn):
    for how in ("shutdown", "eof"):
        runner = spawn()
        task_id = _start(runner, "echo $$; exec sleep 100")
        pid = int(_wait_task(runner, task_id, until=lambda t: t["stdout"])["stdout"])
        if how == "shutdown":
            assert runner.request({"type": "shutdown", "id": "s"})[-1]["type"] == "ack"
        else:
            runner.sock.shutdown(2)
        assert runner.proc.wait(10) == 0
        assert _gone(pid), f"task process {pid} outlived the runner ({how})"


def test_tasks_and_commands_leave_no_zombies(runner):
    for i in range(5):
        _start(runner, "true", rid=f"b{i}")
        _done(runner.command("true"))
    time.sleep(0.5)
    children = [int(pid) for pid in open(f"/proc/{runner.pid}/task/{runner.pid}/children").read().split()]
    assert children == [], children


def test_without_pidfd_open(spawn, tmp_path):
    """Kernels (or gVisor) without pidfd_open: exits are found by polling instead."""
    (tmp_path / "sitecustomize.py").write_text("import os\ndel os.pidfd_open\n")
    runner = spawn(env={**h.BASE_ENV, "PYTHONPATH": str(tmp_path)})
    assert runner.value("import os\nhasattr(os, 'pidfd_open')") == "False"
    assert _done(runner.command("echo hi; exit 2"))["exit_code"] == 2
    done = _done(runner.command("sleep 30", timeout_ms=200))
    assert (done["signal"], done["timed_out"]) == (15, True) and done["duration_ms"] < 1000
    quick = _start(runner, "echo quick")
    timing_out = _start(runner, "sleep 30", timeout_ms=200)
    stopped = _start(runner, "sleep 30")
    assert _wait_task(runner, quick)["stdout"] == "quick\n"
    assert _task(runner, stopped, stop=True)["status"] == "killed"
    task = _wait_task(runner, timing_out)
    assert task["status"] == "timed_out" and task["duration_ms"] < 1000


# --- The schema ------------------------------------------------------------------------------------

_DONE = {"type": "command_done", "id": "a", "exit_code": 0, "signal": None, "stdout": "",
         "stderr": "", "stdout_dropped_bytes": 0, "stderr_dropped_bytes": 0, "duration_ms": 1.0,
         "timed_out": False}
_TASK = {"type": "task", "id": "a", "task_id": "task_abcdefghij12", "status": "exited",
         "exit_code": 0, "signal": None, "stdout": "", "stderr": "", "stdout_dropped_bytes": 0,
         "stderr_dropped_bytes": 0, "started_at": "2025-01-02T03:04:05.678Z", "duration_ms": 1.0,
         "command": "true"}


def test_schema_accepts_the_examples(schema):
    for frame in (_DONE, {**_DONE, "exit_code": None, "signal": 9, "timed_out": True}, _TASK,
                  {**_TASK, "status": "running", "exit_code": None},
                  {"type": "task_started", "id": "a", "task_id": "task_abcdefghij12"}):
        schema.check_event(frame)


@pytest.mark.parametrize("frame", [
    {**_DONE, "exit_code": None},  # neither an exit code nor a signal
    {**_DONE, "signal": 15},  # both
    {**_DONE, "exit_code": 256},
    {**_DONE, "stdout_dropped_bytes": -1},
    {**_DONE, "timed_out": "no"},
    {**_DONE, "extra": 1},
    {key: value for key, value in _DONE.items() if key != "stderr"},
    {"type": "task_started", "id": "a", "task_id": "task_ABCDEFGHIJ12"},
    {"type": "task_started", "id": "a", "task_id": "task_abc"},
    {**_TASK, "status": "done"},
    {**_TASK, "status": "running"},  # running with an exit code
    {**_TASK, "exit_code": None},  # ended without exit code or signal
    {**_TASK, "started_at": "2025-01-02 03:04:05"},
    {**_TASK, "truncated": False},
    {key: value for key, value in _TASK.items() if key != "command"},
    {"type": "protocol_error", "id": "a", "code": "no_such_task", "message": "m"},
], ids=lambda frame: frame["type"])
def test_schema_refuses_malformed_command_frames(schema, frame):
    assert schema.problems(schema.event, frame)


@pytest.mark.parametrize("frame", [
    {"type": "command", "id": "a", "command": "ls", "timeout_ms": 86400001},
    {"type": "command", "id": "a", "command": "ls", "timeout_ms": True},
    {"type": "command", "id": "a", "command": "ls", "env": {"A-B": "1"}},
    {"type": "command", "id": "a", "command": "ls", "env": {"A": "x\u0000"}},
    {"type": "command", "id": "a", "command": "ls", "cwd": "/tmp\u0000"},
    {"type": "task_status", "id": "a", "task_id": "task_abcdefghij12", "x": 1},
])
def test_schema_and_runner_refuse_bad_requests(runner, frame):
    assert runner.request(frame, valid=False)[-1]["code"] == "bad_frame"
