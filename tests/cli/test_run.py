"""`airlock run` end to end: every exit status, every kind of bad input, live streaming,
and that nothing is left behind on the host."""
import glob
import os
import signal
import subprocess
import time

import pytest
from cli_util import run

LANGS = [("python", "print(6*7)"), ("javascript", "console.log(6*7)"), ("bash", "echo $((6*7))")]


@pytest.mark.parametrize("lang,code", LANGS)
def test_prints_42(airlock, lang, code):
    p = run(airlock, "run", "--language", lang, "-c", code)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"42\n"
    assert p.stderr == b""


def test_default_language_is_python(airlock):
    p = run(airlock, "run", "-c", "import sys; print(sys.version_info[0])")
    assert (p.returncode, p.stdout) == (0, b"3\n")


def test_code_error_exits_1_with_traceback(airlock):
    p = run(airlock, "run", "-c", "x = 1\nraise ValueError('boom')")
    assert p.returncode == 1
    assert b"ValueError: boom" in p.stderr
    assert b'line 2' in p.stderr  # the user's own line numbers


def test_javascript_error_exits_1(airlock):
    p = run(airlock, "run", "-l", "js", "-c", "throw new TypeError('bad')")
    assert p.returncode == 1
    assert b"TypeError: bad" in p.stderr


def test_program_exit_code_passes_through(airlock):
    p = run(airlock, "run", "-l", "bash", "-c", "exit 7")
    assert p.returncode == 7


def test_stdout_and_stderr_stay_apart(airlock):
    p = run(airlock, "run", "-c", "import sys; print('out'); print('err', file=sys.stderr)")
    assert (p.stdout, p.stderr) == (b"out\n", b"err\n")


def test_timeout_is_124_and_interrupts_first(airlock):
    p = run(airlock, "run", "--timeout-seconds", "1", "-c", "import time\ntime.sleep(30)")
    assert p.returncode == 124
    assert b"KeyboardInterrupt" in p.stderr  # interrupted before being killed
    assert p.stderr.rstrip().endswith(b"airlock: timeout after 1 s")


def test_timeout_kills_a_program_that_ignores_the_interrupt(airlock):
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    p = run(airlock, "run", "--timeout-seconds", "0.5", "--interrupt-grace-seconds", "0.5", "-c", code)
    assert p.returncode == 124
    assert b"airlock: timeout after 0.5 s" in p.stderr


def test_out_of_memory_is_137(airlock):
    p = run(airlock, "run", "--memory-mb", "64", "-c", "x = bytearray(512 << 20)\nprint('survived')")
    assert p.returncode == 137
    assert b"survived" not in p.stdout
    assert b"airlock: killed: out of memory (limit 64 MiB)" in p.stderr


def test_process_limit_is_137(airlock):
    p = run(airlock, "run", "--pids", "16", "-l", "bash", "-c", "for i in $(seq 50); do sleep 5 & done; wait")
    assert p.returncode == 137
    assert b"airlock: killed: process limit reached (16 processes)" in p.stderr


def test_output_limit_is_137_and_bounded(airlock):
    p = run(airlock, "run", "--output-limit-kb", "64", "-c", "while True: print('x' * 999)")
    assert p.returncode == 137
    assert len(p.stdout) + len(p.stderr) < 64 * 1024 + 200
    assert b"airlock: killed: output limit reached (64 KiB)" in p.stderr


def test_workspace_quota_gives_enospc(airlock):
    code = (
        "import errno\n"
        "try:\n"
        "    with open('big', 'wb') as f:\n"
        "        for _ in range(64): f.write(b'x' * (1 << 20))\n"
        "except OSError as e:\n"
        "    print('ENOSPC' if e.errno == errno.ENOSPC else e)\n"
    )
    p = run(airlock, "run", "--workspace-mb", "8", "-c", code)
    assert (p.returncode, p.stdout) == (0, b"ENOSPC\n")


def test_cpu_limit_is_applied(airlock):
    code = "import time,os\nt=time.time()\nwhile time.time()-t<1.5: pass\nprint(round(os.times().user+os.times().system,2))"
    p = run(airlock, "run", "--cpus", "0.25", "-c", code)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) < 0.9  # 1.5 s of wall at a quarter CPU is ~0.4 s of CPU


def test_file_argument_and_language_from_extension(airlock, tmp_path):
    f = tmp_path / "hello.js"
    f.write_text("console.log('from a file', require('path').basename(__filename))\n")
    p = run(airlock, "run", str(f))
    assert (p.returncode, p.stdout) == (0, b"from a file hello.js\n")


def test_code_from_stdin(airlock):
    p = run(airlock, "run", "-l", "bash", "-", input=b"echo from-stdin\n")
    assert (p.returncode, p.stdout) == (0, b"from-stdin\n")


def test_env_reaches_the_program_and_host_env_does_not(airlock):
    env = dict(os.environ, AIRLOCK_SECRET_CANARY="host-secret-1234")
    p = run(airlock, "run", "--env", "GREETING=hi there", "-c",
            "import os; print(os.environ['GREETING']); print('AIRLOCK_SECRET_CANARY' in os.environ)", env=env)
    assert (p.returncode, p.stdout) == (0, b"hi there\nFalse\n")


def test_output_streams_live(airlock):
    code = "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')"
    proc = subprocess.Popen([str(airlock), "run", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"first\n"
        assert proc.poll() is None  # the program is still running: the line was streamed, not buffered
        assert proc.stdout.readline() == b"second\n"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_ctrl_c_stops_the_sandbox(airlock):
    proc = subprocess.Popen([str(airlock), "run", "-c", "import time\nprint('up', flush=True)\ntime.sleep(60)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"up\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 137
    assert b"airlock: killed: stopped" in err


@pytest.mark.parametrize("args,message", [
    (["--bogus"], b"unknown option --bogus"),
    (["--memory-mb", "-5", "-c", "1"], b"--memory-mb: '-5' is not a whole number"),
    (["--memory-mb", "4", "-c", "1"], b"--memory-mb must be between 16 and 65536 (got 4)"),
    (["--cpus", "abc", "-c", "1"], b"--cpus: 'abc' is not a number"),
    (["--timeout-seconds", "0", "-c", "1"], b"--timeout-seconds must be between"),
    (["--pids", "1", "-c", "1"], b"--pids must be between 4 and 65536 (got 1)"),
    (["--language", "cobol", "-c", "1"], b"unknown language 'cobol'"),
    (["--isolation", "vm", "-c", "1"], b"unknown backend 'vm'"),
    (["--allow", "nope", "-c", "1"], b"--allow 'nope': expected HOST:PORT"),
    (["--network", "public", "--allow", "a.example:1", "-c", "1"], b"--allow goes with --network allowlist, not public"),
    (["--network", "teleport", "-c", "1"], b"--network: unknown mode 'teleport'"),
    (["--network", "public", "--isolation", "gvisor", "-c", "1"], b"network mode public needs the namespace backend"),
    (["--env", "1BAD=x", "-c", "1"], b"--env '1BAD=x': expected NAME=VALUE"),
    (["--allow-weaker", "seccomp", "-c", "1"], b"unknown layer 'seccomp'"),
    (["/nonexistent/file.py"], b"/nonexistent/file.py: No such file or directory"),
    (["/"], b"/: is a directory"),
    ([], b"nothing to run"),
    (["-c", "1", "file.py"], b"give either -c CODE or a FILE"),
    (["--memory-mb"], b"--memory-mb needs a value"),
])
def test_bad_input_is_a_precise_usage_error(airlock, args, message):
    p = run(airlock, "run", *args)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr, p.stderr
    assert p.stderr.startswith(b"airlock run: ")


def test_oversized_code_is_refused(airlock, tmp_path):
    f = tmp_path / "huge.py"
    f.write_bytes(b"#" * (17 << 20))
    p = run(airlock, "run", str(f))
    assert p.returncode == 2
    assert b"larger than the limit of 16 MiB" in p.stderr


def test_unknown_command(airlock):
    p = run(airlock, "frobnicate")
    assert p.returncode == 2 and b"unknown command 'frobnicate'" in p.stderr


def test_launcher_refuses_to_run_by_hand(airlock):
    launcher = airlock.parent / "airlock-launcher"
    p = subprocess.run([str(launcher)], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and b"client socket" in p.stderr
    p = subprocess.run([str(launcher), "--anything"], capture_output=True, timeout=30)
    assert p.returncode == 2


def test_doctor_reports_a_ready_host(airlock):
    p = run(airlock, "doctor")
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.decode()
    assert "verdict: ready" in out
    assert "namespace         ok: cgroup v1" in out or "namespace         ok: cgroup v2" in out
    assert "landlock ABI" in out
    if os.geteuid() == 0:  # the proxy needs a root launcher; as root it is built and tried
        assert "egress proxy      yes" in out and "network allowlist ok:" in out and "network allowlist, " in out, out


def test_verbose_reports_real_isolation(airlock):
    p = run(airlock, "run", "-v", "-c", "pass")
    assert p.returncode == 0
    assert b"namespace, cgroup v" in p.stderr
    assert b"seccomp on, private uid 21" in p.stderr


def test_gvisor_backend_runs_and_limits(gvisor):
    p = run(gvisor, "run", "--isolation", "gvisor", "-c", "print(6*7)")
    assert (p.returncode, p.stdout) == (0, b"42\n"), p.stderr
    p = run(gvisor, "run", "--isolation", "gvisor", "--memory-mb", "128", "-c", "x = bytearray(600 << 20)")
    assert p.returncode == 137 and b"out of memory" in p.stderr
    code = "import time\ntry:\n    time.sleep(20)\nexcept KeyboardInterrupt:\n    print('interrupted')"
    p = run(gvisor, "run", "--isolation", "gvisor", "--timeout-seconds", "1", "--interrupt-grace-seconds", "5", "-c", code)
    assert p.returncode == 124
    assert p.stdout == b"interrupted\n"  # the interrupt reached the program inside gVisor


def _alive_launcher(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().startswith("airlock-launche")
    except OSError:
        return False


def _ancestors(pid: int):
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return
        yield pid


def _orphans():
    """Traces whose launcher is gone: that is what "left behind" means, and it stays true
    while other sandboxes (of a concurrent run) come and go."""
    found = set()
    for path in glob.glob("/sys/fs/cgroup/*/airlock/sb-*") + glob.glob("/sys/fs/cgroup/airlock/sb-*"):
        if not _alive_launcher(int(path.rsplit("/sb-", 1)[1].split("-")[0])):
            found.add(path)
    for path in glob.glob("/run/airlock/airlock-*"):
        if not _alive_launcher(int(path.rsplit("/airlock-", 1)[1].split("-")[0])):
            found.add(path)
    ps = subprocess.run(["ps", "-eo", "pid=,uid=,stat="], capture_output=True, text=True).stdout
    for line in ps.splitlines():
        pid, uid, stat = line.split()
        if uid.startswith("21000") and not any(_alive_launcher(a) for a in _ancestors(int(pid))):
            found.add(f"pid {pid} ({stat})")
    return found


def test_nothing_is_left_behind(airlock):
    before = _orphans()
    for _ in range(3):
        p = run(airlock, "run", "-l", "bash", "-c", "sleep 100 & sleep 100 & echo started")
        assert p.returncode == 0
    time.sleep(0.5)
    assert _orphans() - before == set()


@pytest.mark.parametrize("isolation", ["namespace", "gvisor"])
def test_timeout_interrupts_child_processes_too(request, isolation):
    exe = request.getfixturevalue("gvisor" if isolation == "gvisor" else "airlock")
    child = "import time\ntry:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    print('child interrupted', flush=True)"
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])"
    p = run(exe, "run", "--isolation", isolation, "--timeout-seconds", "1", "--interrupt-grace-seconds", "5",
            "-c", code)
    assert p.returncode == 124
    assert b"child interrupted" in p.stdout


def _launcher_of(pid):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == pid and comm.startswith("airlock-launche"):
                return int(entry)
    return None


def test_leftovers_of_a_killed_launcher_are_swept(airlock):
    proc = subprocess.Popen([str(airlock), "run", "-c", "import time\nprint('up', flush=True)\ntime.sleep(60)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"up\n"
        launcher = _launcher_of(proc.pid)
        assert launcher, "no launcher found under airlock run"
        mine = set(glob.glob(f"/sys/fs/cgroup/*/airlock/sb-{launcher}-*"))
        assert mine, "the running sandbox has no cgroup"
        os.kill(launcher, signal.SIGKILL)  # no chance to clean up
        proc.wait(timeout=30)
        time.sleep(0.3)
        assert set(glob.glob(f"/sys/fs/cgroup/*/airlock/sb-{launcher}-*")) == mine  # left behind
        assert run(airlock, "run", "-c", "pass").returncode == 0  # the next launcher sweeps
        assert glob.glob(f"/sys/fs/cgroup/*/airlock/sb-{launcher}-*") == []
    finally:
        proc.kill()
        proc.wait()


def test_reserved_entry_names_are_not_used(airlock, tmp_path):
    f = tmp_path / "init"
    f.write_text("print('fine')\n")
    p = run(airlock, "run", "-l", "python", str(f))
    assert (p.returncode, p.stdout) == (0, b"fine\n")  # runs as main.py, not over the shim


@pytest.mark.parametrize("ignored", [False, True])
def test_interrupts_reach_the_program_even_if_the_caller_ignores_sigint(airlock, ignored):
    """The timeout's interrupt is a KeyboardInterrupt in the program, also when airlock was
    started with SIGINT ignored (a shell's background job, nohup): the launcher resets every
    signal's disposition, or the program would inherit SIG_IGN across exec. The `False`
    case is the control."""
    code = ("import time\ntry:\n    print('waiting', flush=True)\n    time.sleep(20)\n"
            "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None
    p = subprocess.run([str(airlock), "run", "--timeout-seconds", "2", "--interrupt-grace-seconds", "5", "-c", code],
                       capture_output=True, timeout=60, preexec_fn=pre)
    assert p.stdout == b"waiting\ninterrupted\n", (p.stdout, p.stderr)
