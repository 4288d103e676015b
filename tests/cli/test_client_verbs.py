"""The client verbs (`airlock sessions`, `exec`, `files`) against a real `airlock serve` on a
random loopback port: every verb, every exit status, and the messages of bad usage.

Needs root and bubblewrap (the `airlock` fixture in conftest.py); under CI=true a missing
prerequisite fails instead of skipping. AIRLOCK_BUILD selects the build directory."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, exe: Path):
        self.tmp = Path(tempfile.mkdtemp(prefix="airlock-cli-"))
        os.chmod(self.tmp, 0o755)  # the daemon drops to its own uid: it must reach its data dir
        self.data_dir = self.tmp / "data"
        self.log_path = self.tmp / "daemon.log"
        self.port = _free_port()
        self.url = "http://%s:%d" % (HOST, self.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(exe), "serve", "--listen", "%s:%d" % (HOST, self.port),
                                      "--data-dir", str(self.data_dir)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail("airlock serve exited with %s before it was ready:\n%s" % (
                    self.proc.returncode, self.log()), pytrace=False)
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("airlock serve not ready after %d s:\n%s" % (START_TIMEOUT, self.log()), pytrace=False)
            time.sleep(0.05)
        self.key = (self.data_dir / "api-key").read_text().strip()

    def log(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(airlock):
    d = Daemon(airlock)
    try:
        yield d
    finally:
        d.stop()


class Cli:
    """Runs `airlock` with the daemon's URL and key in its environment."""

    def __init__(self, exe, daemon):
        self.exe = exe
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")}
        self.env.update(AIRLOCK_URL=daemon.url, AIRLOCK_API_KEY=daemon.key)

    def __call__(self, *args, input=None, env=None, timeout=120, cwd=None):
        e = dict(self.env)
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        return subprocess.run([str(self.exe), *args], input=input, capture_output=True, timeout=timeout, env=e,
                              cwd=cwd)

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, (args, p.returncode, p.stderr)
        return p


@pytest.fixture(scope="module")
def cli(airlock, daemon):
    return Cli(airlock, daemon)


@pytest.fixture
def session(cli):
    """A fresh session, ended after the test."""
    sid = cli.ok("sessions", "create").stdout.decode().strip()
    yield sid
    cli("sessions", "rm", sid)


def lines(b: bytes) -> list[str]:
    return b.decode().splitlines()


# ---- sessions ------------------------------------------------------------------------------


def test_sessions_create_ls_get_rm(cli):
    p = cli.ok("sessions", "create", "--memory-mb", "128", "--cpus", "0.5", "--pids", "64", "--workspace-mb", "64",
               "--timeout-seconds", "600", "--idle-timeout-seconds", "300", "--env", "FOO=bar", "-e", "EMPTY=",
               "--metadata", "team=cli", "--metadata", "purpose=a test")
    sid = p.stdout.decode().strip()
    assert re.fullmatch(r"sess_[a-z0-9]{26}", sid), p.stdout
    assert p.stderr == b""
    try:
        table = lines(cli.ok("sessions", "ls").stdout)
        assert table[0].split() == ["ID", "STATUS", "CREATED", "EXPIRES", "MEMORY"]
        row = next(line for line in table if line.startswith(sid))
        assert row.split()[1] == "ready"
        assert row.endswith("128 MiB")

        listed = json.loads(cli.ok("sessions", "ls", "--json").stdout)
        assert sid in [s["id"] for s in listed["sessions"]]

        shown = cli.ok("sessions", "get", sid).stdout.decode()
        assert "status:        ready" in shown
        assert "memory 128 MiB, cpus 0.5, pids 64, workspace 64 MiB" in shown
        assert "idle timeout:  300 s" in shown
        assert "team=cli" in shown and "purpose=a test" in shown

        doc = json.loads(cli.ok("sessions", "get", sid, "--json").stdout)
        assert doc["id"] == sid
        assert doc["metadata"] == {"team": "cli", "purpose": "a test"}
        assert doc["limits"]["memory_mb"] == 128 and doc["limits"]["cpus"] == 0.5

        out = cli.ok("exec", sid, "-c", "import os; print(os.environ['FOO'], repr(os.environ['EMPTY']))").stdout
        assert out == b"bar ''\n"
    finally:
        p = cli("sessions", "rm", sid)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    assert sid not in cli.ok("sessions", "ls").stdout.decode()
    assert "status:        ended (deleted)" in cli.ok("sessions", "get", sid).stdout.decode()


def test_sessions_create_json(cli):
    doc = json.loads(cli.ok("sessions", "create", "--json").stdout)
    try:
        assert doc["status"] == "ready"
        assert set(doc["limits"]) >= {"memory_mb", "cpus", "pids", "workspace_mb"}
    finally:
        cli.ok("sessions", "rm", doc["id"])


def test_sessions_rm_tries_every_id(cli):
    a = cli.ok("sessions", "create").stdout.decode().strip()
    b = cli.ok("sessions", "create").stdout.decode().strip()
    p = cli("sessions", "rm", a, "sess_00000000000000000000000000", b)
    assert p.returncode == 1
    assert lines(p.stderr) == ["airlock: session_not_found: no session sess_00000000000000000000000000"]
    listed = cli.ok("sessions", "ls").stdout.decode()
    assert a not in listed and b not in listed


def test_api_errors_name_the_field(cli):
    p = cli("sessions", "create", "--memory-mb", "8")
    assert p.returncode == 1
    assert lines(p.stderr) == [
        "airlock: invalid_request: 'limits.memory_mb' must be between 16 and 65536 (field: limits.memory_mb)"]
    p = cli("sessions", "get", "sess_00000000000000000000000000")
    assert p.returncode == 1
    assert lines(p.stderr) == ["airlock: session_not_found: no session sess_00000000000000000000000000"]


# ---- keys and tenants ----


def test_keys_create_use_and_revoke(cli):
    p = cli.ok("keys", "create", "--tenant", "cli-team", "--name", "from the cli")
    out = dict(line.split(": ", 1) for line in lines(p.stdout))
    assert re.fullmatch(r"ak_[a-z0-9]{26}", out["id"].strip()) and out["token"].strip() == out["id"].strip() + "." + out["secret"].strip()
    assert lines(p.stderr) == ["airlock: the secret is shown only now; use the token as the API key"]
    token = out["token"].strip()
    as_team = {"AIRLOCK_API_KEY": token}
    sid = cli.ok("sessions", "create", env=as_team).stdout.decode().strip()
    assert sid not in cli.ok("sessions", "ls").stdout.decode(), "another tenant's session is not listed"
    assert cli.ok("sessions", "ls", env=as_team).stdout.decode().count(sid) == 1
    listed = cli.ok("keys", "ls").stdout.decode()
    assert out["id"].strip() in listed and "cli-team" in listed and out["secret"].strip() not in listed
    shown = json.loads(cli.ok("keys", "get", out["id"].strip(), "--json").stdout)
    assert shown["tenant"] == "cli-team" and "secret" not in shown
    p = cli("keys", "ls", env=as_team)
    assert p.returncode == 1 and lines(p.stderr)[0].startswith("airlock: forbidden: this key (%s) lacks the admin scope" % out["id"].strip())
    cli.ok("sessions", "rm", sid, env=as_team)
    assert cli.ok("keys", "revoke", out["id"].strip()).stdout == b""
    p = cli("sessions", "ls", env=as_team)
    assert p.returncode == 1 and b"unauthorized" in p.stderr


def test_keys_create_json_gives_id_and_secret(cli):
    made = json.loads(cli.ok("keys", "create", "--json", "--scope", "admin").stdout)
    assert made["scopes"] == ["admin"] and made["token"] == made["id"] + "." + made["secret"]
    cli.ok("keys", "revoke", made["id"])
    p = cli("keys", "revoke", "ak_00000000000000000000000000")
    assert p.returncode == 1 and lines(p.stderr) == ["airlock: key_not_found: no key ak_00000000000000000000000000"]


def test_tenants_set_get_ls(cli):
    p = cli.ok("tenants", "set", "cli-quota", "--max-sessions", "0", "--max-memory-mb", "4096", "--json")
    assert json.loads(p.stdout) == {"name": "cli-quota", "max_sessions": 0, "max_memory_mb": 4096,
                                    "sessions": 0, "memory_mb": 0}
    assert "cli-quota" in cli.ok("tenants", "ls").stdout.decode()
    assert re.fullmatch(rb"cli-quota +0 / 0 +sessions +0 / 4096 +MiB\n", cli.ok("tenants", "get", "cli-quota").stdout)
    made = json.loads(cli.ok("keys", "create", "--json", "--tenant", "cli-quota").stdout)
    p = cli("sessions", "create", env={"AIRLOCK_API_KEY": made["token"]})
    assert p.returncode == 1
    assert lines(p.stderr) == ["airlock: quota_exceeded: tenant cli-quota has 0 live sessions, its quota is 0"]
    p = cli("tenants", "get", "Bad")
    assert p.returncode == 1 and b"invalid_request" in p.stderr


def test_audit_ls_and_verify(cli):
    sid = cli.ok("sessions", "create").stdout.decode().strip()
    cli.ok("exec", sid, "-c", "1 + 1")
    cli.ok("sessions", "rm", sid)
    got = [json.loads(line) for line in cli.ok("audit", "ls", "--session", sid).stdout.decode().splitlines()]
    assert [e["action"] for e in got] == ["session.create", "execution", "session.stop"]
    only = cli.ok("audit", "ls", "--session", sid, "--action", "execution").stdout.decode().splitlines()
    assert len(only) == 1 and json.loads(only[0])["code_size"] == 5
    page = cli.ok("audit", "ls", "--after", str(got[0]["seq"]), "--limit", "1").stdout.decode().splitlines()
    assert len(page) == 1 and json.loads(page[0])["seq"] > got[0]["seq"]
    assert re.fullmatch(rb"ok: \d+ entries, the chain is whole\n", cli.ok("audit", "verify").stdout)
    assert json.loads(cli.ok("audit", "verify", "--json").stdout)["ok"] is True
    p = cli("audit", "ls", "--since", "yesterday")
    assert p.returncode == 1 and b"invalid_request" in p.stderr


def test_secrets_set_ls_get_rm_and_sessions_use_them(cli, tmp_path):
    value = "cli-secret-" + os.urandom(8).hex()
    p = cli.ok("secrets", "set", "CLI_TOKEN", input=(value + "\n").encode())
    assert p.stdout.decode().startswith("CLI_TOKEN") and value.encode() not in p.stdout
    assert "CLI_TOKEN" in cli.ok("secrets", "ls").stdout.decode()
    got = json.loads(cli.ok("secrets", "get", "CLI_TOKEN", "--json").stdout)
    assert got["name"] == "CLI_TOKEN" and value not in json.dumps(got)
    sid = cli.ok("sessions", "create", "--secret", "CLI_TOKEN").stdout.decode().strip()
    out = cli.ok("exec", sid, "-c", "import os; print(os.environ['CLI_TOKEN'] == %r)" % value).stdout
    assert out == b"True\n"  # stdin's trailing newline was dropped
    cli.ok("sessions", "rm", sid)
    f = tmp_path / "v"
    f.write_bytes(b"line1\nline2\n")
    cli.ok("secrets", "set", "CLI_FILE", "--from-file", str(f))
    sid = cli.ok("sessions", "create", "--secret", "CLI_FILE").stdout.decode().strip()
    assert cli.ok("exec", sid, "-c", "print(repr(__import__('os').environ['CLI_FILE']))").stdout == b"'line1\\nline2\\n'\n"
    cli.ok("sessions", "rm", sid)
    cli.ok("secrets", "rm", "CLI_TOKEN", "CLI_FILE")
    p = cli("secrets", "get", "CLI_TOKEN")
    assert p.returncode == 1 and b"secret_not_found" in p.stderr
    p = cli("sessions", "create", "--secret", "CLI_TOKEN")
    assert p.returncode == 1 and b"(field: secrets[0])" in p.stderr


def test_interpreters_create_update_ls_get_rm(cli):
    p = cli.ok("interpreters", "create", "cli_interp", "--description", "from the CLI", "--memory-mb", "256",
               "--max-memory-mb", "1024", "--cpus", "0.5", "--timeout-seconds", "600", "--max-timeout-seconds",
               "3600", "--execution-timeout-seconds", "2.5", "-e", "CUSTOM_VAR=value", "--network", "none")
    out = p.stdout.decode()
    assert "name:              cli_interp" in out and "memory 256 MiB, 0.5 CPUs" in out, out
    assert "ceilings:          memory 1024 MiB" in out and "env:               CUSTOM_VAR=value" in out, out
    assert "start:             warm" in out, out
    got = json.loads(cli.ok("interpreters", "update", "cli_interp", "--pids", "48", "--start", "fresh",
                            "--json").stdout)
    assert got["limits"]["pids"] == 48 and got["limits"]["memory_mb"] == 256 and got["start"] == "fresh"
    table = cli.ok("interpreters", "ls").stdout.decode().splitlines()
    assert table[0].split()[:2] == ["NAME", "MEMORY"] and any(line.startswith("cli_interp ") for line in table)
    sid = cli.ok("sessions", "create", "--interpreter", "cli_interp", "--memory-mb", "512").stdout.decode().strip()
    info = json.loads(cli.ok("sessions", "get", sid, "--json").stdout)
    assert (info["interpreter"], info["limits"]["memory_mb"], info["execution_timeout_seconds"]) == \
        ("cli_interp", 512, 2.5)
    assert info["start"] == {"mode": "fresh", "from_pool": False, "preloaded": []}, info
    assert "start:         fresh, started for it\n" in cli.ok("sessions", "get", sid).stdout.decode()
    p = cli("sessions", "create", "--interpreter", "cli_interp", "--start", "warm")
    assert p.returncode == 1 and b"(field: start)" in p.stderr, p.stderr
    p = cli("sessions", "create", "--start", "tepid")
    assert p.returncode == 2 and b"--start: warm or fresh, got 'tepid'" in p.stderr, p.stderr
    assert cli.ok("exec", sid, "-c", "import os; print(os.environ['CUSTOM_VAR'])").stdout == b"value\n"
    p = cli("interpreters", "rm", "cli_interp")
    assert p.returncode == 1 and b"interpreter_in_use" in p.stderr
    cli.ok("sessions", "rm", sid)
    cli.ok("interpreters", "rm", "cli_interp")
    p = cli("interpreters", "get", "cli_interp")
    assert p.returncode == 1 and b"interpreter_not_found" in p.stderr
    p = cli("sessions", "create", "--interpreter", "cli_interp")
    assert p.returncode == 1 and b"(field: interpreter)" in p.stderr
    out = cli.ok("interpreters", "create", "x_net", "--network", "allowlist", "--allow", "pypi.org:443",
                 "--allow", "*.pythonhosted.org:443").stdout
    assert b"allowlist (allow pypi.org:443, *.pythonhosted.org:443)" in out, out
    cli.ok("interpreters", "rm", "x_net")
    p = cli("interpreters", "create", "x_net", "--network", "allowlist", "--allow", "*.10.0.0.1:80")
    assert p.returncode == 1 and b"(field: network.allowlist[0])" in p.stderr, p.stderr


def test_stats_table_and_json(cli):
    sid = cli.ok("sessions", "create").stdout.decode().strip()
    cli.ok("exec", sid, "-c", "1 + 1")
    cli("exec", sid, "-c", "1 / 0")
    cli.ok("exec", sid, "--language", "bash", "-c", "echo hi")
    cli.ok("sessions", "rm", sid)
    got = json.loads(cli.ok("stats", "--by", "language", "--json").stdout)
    groups = {s["group"]: s["buckets"][0] for s in got["series"]}
    assert groups["python"]["executions"] >= 2 and groups["python"]["errors"] >= 1, groups
    table = cli.ok("stats", "--by", "language", "--bucket", "1h").stdout.decode().splitlines()
    assert table[0].split()[:4] == ["GROUP", "PERIOD", "START", "EXECS"], table
    assert any(line.split()[0] == "bash" for line in table[1:]), table
    p = cli("stats", "--bucket", "5w")
    assert p.returncode == 1 and b"invalid_request" in p.stderr and b"(field: bucket)" in p.stderr


# ---- exec ----------------------------------------------------------------------------------


def test_exec_keeps_state_across_calls(cli, session):
    p = cli.ok("exec", session, "-c", "x = 41")
    assert (p.stdout, p.stderr) == (b"", b"")
    p = cli.ok("exec", session, "-c", "x + 1")
    assert (p.stdout, p.stderr) == (b"42\n", b"")


def test_exec_contexts_keep_their_own_state(cli, session):
    cli.ok("exec", session, "-c", "z = 'main'")
    cli.ok("exec", session, "--context", "other", "-c", "z = 'other'")
    assert cli.ok("exec", session, "-c", "z").stdout == b"'main'\n"
    assert cli.ok("exec", session, "--context", "other", "-c", "z").stdout == b"'other'\n"


def test_exec_other_languages_and_clear_context(cli, session):
    assert cli.ok("exec", session, "-l", "javascript", "-c", "let n = 2\nn * 21").stdout == b"42\n"
    assert cli.ok("exec", session, "-l", "typescript", "-c", "const s: string = 'ts'; s").stdout == b"'ts'\n"
    cli.ok("exec", session, "-l", "bash", "-c", "cd /tmp; V=kept")
    assert cli.ok("exec", session, "-l", "bash", "-c", "echo $V $PWD").stdout == b"kept /tmp\n"
    p = cli("exec", session, "-l", "bash", "-c", "false")
    assert p.returncode == 1 and p.stderr == b"the cell's last command ended with exit status 1\n"
    assert cli.ok("exec", session, "--context", "javascript", "--clear-context", "-c", "typeof n").stdout == \
        b"'undefined'\n"
    p = cli("exec", session, "-l", "ruby", "-c", "1")
    assert p.returncode == 1 and b"'language' must be one of python, javascript, typescript, bash" in p.stderr


def test_exec_says_when_a_result_has_an_image(cli, session):
    p = cli.ok("exec", session, "-c", "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nNone")
    assert p.stdout.startswith(b"<Figure size 640x480 with 1 Axes>")
    assert re.fullmatch(rb"airlock: result 1 has an image \(image/png, \d+ base64 bytes\); --json shows it\n", p.stderr)


def test_exec_streams_go_apart_and_results_follow_output(cli, session):
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\n'result'"
    p = cli.ok("exec", session, "-c", code)
    assert p.stdout == b"out\n'result'\n"
    assert p.stderr == b"err\n"


def test_exec_output_is_passed_byte_for_byte(cli, session):
    p = cli.ok("exec", session, "-c", "import sys\n_ = sys.stdout.write('a\\0b\\n')\n_ = sys.stderr.write('\\u00e9\\0')")
    assert (p.stdout, p.stderr) == (b"a\0b\n", "\u00e9\0".encode())


def test_exec_error_is_1_with_the_traceback(cli, session):
    p = cli("exec", session, "-c", "print('before')\nx = 1\nraise ValueError('boom')")
    assert p.returncode == 1
    assert p.stdout == b"before\n"
    err = p.stderr.decode()
    assert err.startswith("Traceback (most recent call last):")
    assert "line 3" in err
    assert err.rstrip().endswith("ValueError: boom")
    # the session lives on, state intact
    assert cli.ok("exec", session, "-c", "x").stdout == b"1\n"


def test_exec_from_a_file_and_from_stdin(cli, session, tmp_path):
    f = tmp_path / "prog.py"
    f.write_text("y = 6 * 7\nprint(y)\n")
    assert cli.ok("exec", session, str(f)).stdout == b"42\n"
    assert cli.ok("exec", session, "-", input=b"print(y + 1)\n").stdout == b"43\n"


def test_exec_timeout_is_124_and_the_session_survives(cli, session):
    cli.ok("exec", session, "-c", "kept = 'yes'")
    started = time.monotonic()
    p = cli("exec", session, "--timeout-seconds", "1", "-c", "import time\ntime.sleep(30)")
    assert p.returncode == 124, p.stderr
    assert time.monotonic() - started < 20
    assert b"KeyboardInterrupt" in p.stderr
    assert p.stderr.rstrip().endswith(b"airlock: timeout after 1 s")
    assert cli.ok("exec", session, "-c", "kept").stdout == b"'yes'\n"


def test_exec_out_of_memory_is_137(cli):
    sid = cli.ok("sessions", "create", "--memory-mb", "64").stdout.decode().strip()
    try:
        p = cli("exec", sid, "-c", "x = bytearray(512 << 20)\nprint('survived')")
        assert p.returncode == 137, p.stderr
        assert b"survived" not in p.stdout
        assert lines(p.stderr)[-1] == "airlock: killed: out of memory; the session has ended"
    finally:
        cli("sessions", "rm", sid)


def test_exec_json_is_the_daemons_reply(cli, session):
    p = cli.ok("exec", session, "--json", "-c", "print('hi')\n1 + 1")
    r = json.loads(p.stdout)
    assert r["status"] == "ok"
    assert r["stdout"] == "hi\n"
    assert [res.get("text/plain") for res in r["results"]] == ["2"]
    assert p.stderr == b""
    p = cli("exec", session, "--json", "-c", "1/0")
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"]["name"] == "ZeroDivisionError"
    assert p.stderr == b""


def test_exec_in_an_unknown_session(cli):
    p = cli("exec", "sess_00000000000000000000000000", "-c", "1")
    assert p.returncode == 1
    assert lines(p.stderr) == ["airlock: session_not_found: no session sess_00000000000000000000000000"]


# ---- files ---------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_round_trip_of_5_mb(cli, session, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(5 << 20))
    cli.ok("files", "put", session, str(src), "data/")  # a trailing '/' puts it into the directory

    inside = cli.ok("exec", session, "-c",
                    "import hashlib; print(hashlib.sha256(open('/workspace/data/big.bin','rb').read()).hexdigest())")
    assert inside.stdout.decode().strip() == sha256(src)

    dst = tmp_path / "back.bin"
    cli.ok("files", "get", session, "data/big.bin", str(dst))
    assert sha256(dst) == sha256(src)

    p = cli.ok("files", "get", session, "/workspace/data/big.bin", "-")
    assert hashlib.sha256(p.stdout).hexdigest() == sha256(src)

    into = tmp_path / "dir"
    into.mkdir()
    cli.ok("files", "get", session, "data/big.bin", str(into))  # a directory: into it
    assert sha256(into / "big.bin") == sha256(src)

    cli.ok("files", "get", session, "data/big.bin", cwd=str(into / ".."))  # default: its name, here
    assert sha256(tmp_path / "big.bin") == sha256(src)


def test_files_ls(cli, session, tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello\n")
    cli.ok("files", "put", session, str(f))
    cli.ok("files", "put", session, str(f), "sub dir/b.txt")
    table = lines(cli.ok("files", "ls", session).stdout)
    assert table[0].split() == ["MODE", "SIZE", "MODIFIED", "NAME"]
    rows = {line.split(None, 3)[3]: line.split(None, 3) for line in table[1:]}  # MODE SIZE MODIFIED NAME
    assert set(rows) == {"a.txt", "sub dir/"}
    assert rows["a.txt"][:2] == ["-rw-r--r--", "6"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows["a.txt"][2])
    assert rows["sub dir/"][0].startswith("d")
    listing = json.loads(cli.ok("files", "ls", session, "sub dir", "--json").stdout)
    assert listing["path"] == "sub dir"
    assert [(e["name"], e["type"], e["size"]) for e in listing["entries"]] == [("b.txt", "file", 6)]


def test_files_put_from_stdin_and_empty_files(cli, session, tmp_path):
    cli.ok("files", "put", session, "-", "notes/from-stdin.txt", input=b"piped\n")
    assert cli.ok("files", "get", session, "notes/from-stdin.txt", "-").stdout == b"piped\n"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    cli.ok("files", "put", session, str(empty))
    out = tmp_path / "empty.back"
    cli.ok("files", "get", session, "empty", str(out))
    assert out.exists() and out.read_bytes() == b""


def test_files_rm(cli, session, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"x")
    cli.ok("files", "put", session, str(f), "d/f.txt")
    cli.ok("files", "put", session, str(f), "g.txt")
    cli.ok("files", "rm", session, "g.txt")
    p = cli("files", "rm", session, "d")
    assert p.returncode == 1
    assert p.stderr.startswith(b"airlock: invalid_request: ") and b"(field: recursive)" in p.stderr
    cli.ok("files", "rm", session, "d", "-r")
    assert [line.split() for line in lines(cli.ok("files", "ls", session).stdout)] == [
        ["MODE", "SIZE", "MODIFIED", "NAME"]]
    p = cli("files", "rm", session, "nope.txt")
    assert p.returncode == 1
    assert p.stderr.startswith(b"airlock: file_not_found: ") and p.stderr.rstrip().endswith(b"(field: path)")


def test_files_get_of_a_missing_file_creates_nothing(cli, session, tmp_path):
    out = tmp_path / "never"
    p = cli("files", "get", session, "missing.txt", str(out))
    assert p.returncode == 1
    assert p.stderr.startswith(b"airlock: file_not_found: ")
    assert not out.exists()


# ---- usage, keys, reachability -------------------------------------------------------------

S = "sess_00000000000000000000000000"
USAGE_ERRORS = [
    (["sessions"], "airlock sessions: which one? create, ls, get or rm"),
    (["sessions", "frob"], "airlock sessions: unknown subcommand 'frob' (create, ls, get or rm)"),
    (["sessions", "create", "--memory-mb", "lots"], "airlock sessions create: --memory-mb: 'lots' is not a whole number"),
    (["sessions", "create", "--memory-mb", "0"], "airlock sessions create: --memory-mb must be at least 1 (got 0)"),
    (["sessions", "create", "--cpus", "fast"], "airlock sessions create: --cpus: 'fast' is not a number"),
    (["sessions", "create", "--cpus", "-1"], "airlock sessions create: --cpus must be more than 0 (got -1)"),
    (["sessions", "create", "--timeout-seconds", "1.5"],
     "airlock sessions create: --timeout-seconds: '1.5' is not a whole number"),
    (["sessions", "create", "--pids"], "airlock sessions create: --pids needs a value"),
    (["sessions", "create", "--bogus"], "airlock sessions create: unknown option --bogus"),
    (["sessions", "create", "-z"], "airlock sessions create: unknown option -z"),
    (["sessions", "create", "--env", "1X=2"],
     "airlock sessions create: --env '1X=2': expected NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*"),
    (["sessions", "create", "--env", "A=1", "--env", "A=2"], "airlock sessions create: --env A given twice"),
    (["sessions", "create", "--metadata", "novalue"],
     "airlock sessions create: --metadata 'novalue': expected KEY=VALUE with a non-empty KEY"),
    (["sessions", "ls", "--json=yes"], "airlock sessions ls: --json takes no value"),
    (["sessions", "ls", "extra"], "airlock sessions ls: unexpected argument 'extra'"),
    (["sessions", "get"], "airlock sessions get: which session? give its ID"),
    (["sessions", "get", S, S], "airlock sessions get: one ID at a time (extra: '%s')" % S),
    (["sessions", "rm", "--json", S], "airlock sessions rm: --json does not apply here"),
    (["exec"], "airlock exec: which session? usage: airlock exec SESSION (-c CODE | FILE | -)"),
    (["exec", S], "airlock exec: nothing to run: give -c CODE, a FILE, or - for standard input"),
    (["exec", S, "-c", "1", "f.py"], "airlock exec: give either -c CODE or a FILE, not both (extra: 'f.py')"),
    (["exec", S, "a.py", "b.py"], "airlock exec: one FILE at a time (extra: 'b.py')"),
    (["exec", S, "-c"], "airlock exec: -c needs a value"),
    (["exec", S, "-c", "1", "-c", "2"], "airlock exec: -c given twice"),
    (["exec", S, "--timeout-seconds", "soon", "-c", "1"], "airlock exec: --timeout-seconds: 'soon' is not a number"),
    (["exec", S, "--timeout-seconds", "0", "-c", "1"], "airlock exec: --timeout-seconds must be more than 0 (got 0)"),
    (["exec", S, "/nonexistent/prog.py"], "airlock exec: /nonexistent/prog.py: No such file or directory"),
    (["exec", S, "--context", "", "-c", "1"], "airlock exec: --context: the ID cannot be empty"),
    (["files"], "airlock files: which one? put, get, ls or rm"),
    (["files", "cp"], "airlock files: unknown subcommand 'cp' (put, get, ls or rm)"),
    (["files", "ls"], "airlock files ls: which session? give its ID first"),
    (["files", "put", S], "airlock files put: what to upload? usage: airlock files put SESSION LOCAL [REMOTE]"),
    (["files", "put", S, "-"], "airlock files put: uploading standard input needs a REMOTE name"),
    (["files", "put", S, "/nonexistent/x"], "airlock files put: /nonexistent/x: No such file or directory"),
    (["files", "put", S, "/"], "airlock files put: /: is a directory (put one file at a time)"),
    (["files", "get", S], "airlock files get: what to download? usage: airlock files get SESSION REMOTE [LOCAL|-]"),
    (["files", "get", S, "a", "b", "c"], "airlock files get: one file at a time (extra: 'c')"),
    (["files", "get", S, "/workspace"], "airlock files get: REMOTE names the workspace itself; give a file name"),
    (["files", "ls", S, "a", "b"], "airlock files ls: one DIR at a time (extra: 'b')"),
    (["files", "rm", S], "airlock files rm: what to remove? usage: airlock files rm SESSION PATH... [-r]"),
    (["files", "ls", S, "-r"], "airlock files ls: -r applies to 'files rm' only"),
    (["files", "get", S, "x", "--json"], "airlock files get: --json applies to 'files ls' only"),
    (["keys"], "airlock keys: which one? create, ls, get or revoke"),
    (["keys", "frob"], "airlock keys: unknown subcommand 'frob' (create, ls, get or revoke)"),
    (["tenants"], "airlock tenants: which one? ls, get or set"),
    (["audit"], "airlock audit: which one? ls or verify"),
    (["audit", "verify", "--session", "x"], "airlock audit verify: --session applies to 'audit ls' only"),
    (["audit", "ls", "--action", ""], "airlock audit ls: --action: the value cannot be empty"),
    (["audit", "ls", "extra"], "airlock audit: unexpected argument 'extra'"),
    (["stats", "extra"], "airlock stats: unexpected argument 'extra'"),
    (["secrets"], "airlock secrets: which one? set, ls, get or rm"),
    (["interpreters"], "airlock interpreters: which one? create, update, ls, get or rm"),
    (["interpreters", "frob"], "airlock interpreters: unknown subcommand 'frob' (create, update, ls, get or rm)"),
    (["interpreters", "get"], "airlock interpreters: which interpreter? give its NAME"),
    (["interpreters", "ls", "--memory-mb", "3"], "airlock interpreters ls: --memory-mb applies to create and update only"),
    (["interpreters", "create", "x", "--memory-mb", "lots"],
     "airlock interpreters create: --memory-mb: 'lots' is not a whole number"),
    (["secrets", "set"], "airlock secrets: which secret? give its NAME"),
    (["secrets", "get", "A", "B"], "airlock secrets: one secret at a time (extra: 'B')"),
    (["secrets", "ls", "--from-file", "x"], "airlock secrets ls: --from-file applies to 'secrets set' only"),
    (["sessions", "create", "--secret", "1X"],
     "airlock sessions create: --secret '1X': a name matching [A-Za-z_][A-Za-z0-9_]*"),
    (["stats", "--by", ""], "airlock stats: --by: the value cannot be empty"),
    (["keys", "create", "--scope", "root"], "airlock keys create: --scope 'root': expected sessions or admin"),
    (["keys", "ls", "--tenant", "a"], "airlock keys ls: --tenant applies to 'keys create' only"),
    (["keys", "ls", "extra"], "airlock keys: unexpected argument 'extra'"),
    (["keys", "revoke"], "airlock keys: which key? give its ID"),
    (["tenants", "get"], "airlock tenants: which tenant? give its name"),
    (["tenants", "set", "a", "--max-sessions", "1"], "airlock tenants set: give both --max-sessions and --max-memory-mb"),
    (["tenants", "set", "a", "b", "--max-sessions", "1", "--max-memory-mb", "2"],
     "airlock tenants: one tenant at a time (extra: 'b')"),
    (["tenants", "ls", "--max-sessions", "1"], "airlock tenants ls: --max-sessions applies to 'tenants set' only"),
    (["sessions", "ls", "--url", "ftp://example.com"],
     "airlock sessions ls: --url: 'ftp://example.com' is not an http:// or https:// URL"),
    (["mcp", "--json"], "airlock mcp: unknown option --json"),
    (["mcp", "extra"], "airlock mcp: unexpected argument 'extra'"),
    (["mcp", "--url", "ftp://example.com"], "airlock mcp: --url: 'ftp://example.com' is not an http:// or https:// URL"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_2_and_precise(cli, args, message):
    p = cli(*args)
    assert p.returncode == 2, p.stderr
    assert p.stdout == b""
    err = lines(p.stderr)
    assert err[0] == message
    assert re.fullmatch(r"\(see 'airlock (sessions|exec|files|keys|tenants|audit|stats|secrets|interpreters|mcp) --help'\)", err[1])


@pytest.mark.parametrize("verb", ["sessions", "exec", "files", "keys", "tenants", "audit", "mcp"])
def test_help(cli, verb):
    p = cli.ok(verb, "--help")
    assert p.stdout.startswith(b"usage: airlock " + verb.encode())


def test_a_missing_key_is_a_usage_error(cli):
    p = cli("sessions", "ls", env={"AIRLOCK_API_KEY": None})
    assert p.returncode == 2
    assert lines(p.stderr)[0] == ("airlock sessions ls: no API key: give --api-key KEY or set AIRLOCK_API_KEY "
                                  "(the daemon writes one to DATA_DIR/api-key)")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_wrong_key_is_refused(cli, how):
    if how == "flag":
        p = cli("sessions", "ls", "--api-key", "ak_wrong")
    else:
        p = cli("exec", S, "-c", "1", env={"AIRLOCK_API_KEY": "ak_wrong"})
    assert p.returncode == 1
    assert lines(p.stderr) == ["airlock: unauthorized: missing or invalid API key (Authorization: Bearer <key>)"]


def test_the_key_and_url_flags_win_over_the_environment(cli, daemon):
    p = cli("sessions", "ls", "--url", daemon.url + "/", "--api-key", daemon.key,
            env={"AIRLOCK_URL": "http://127.0.0.1:1", "AIRLOCK_API_KEY": "ak_wrong"})
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("args", [["sessions", "ls"], ["exec", S, "-c", "1"], ["files", "ls", S]])
def test_an_unreachable_daemon(cli, args):
    port = _free_port()  # nothing listens there once the probe socket is closed
    url = "http://%s:%d" % (HOST, port)
    p = cli(*args, env={"AIRLOCK_URL": url})
    assert p.returncode == 1
    err = lines(p.stderr)
    assert len(err) == 1
    assert err[0].startswith("airlock: cannot reach %s: " % url), err


def test_commands_verb(cli, session):
    p = cli("commands", "run", session, "--", "echo", "hi;", "echo", "oops", ">&2;", "exit", "5")
    assert (p.returncode, p.stdout, p.stderr) == (5, b"hi\n", b"oops\n")
    p = cli("commands", "run", session, "--timeout-seconds", "0.5", "--", "sleep", "30")
    assert p.returncode == 124 and b"timed out" in p.stderr
    p = cli.ok("commands", "run", session, "--background", "--", "sleep", "30")
    task_id = p.stdout.decode().strip()
    assert task_id.startswith("task_")
    assert cli.ok("commands", "task", session, task_id).stdout.startswith(task_id.encode() + b" running")
    assert cli.ok("commands", "stop", session, task_id).stdout.startswith(task_id.encode() + b" killed")
    p = cli("commands", "run", session)
    assert p.returncode == 2 and b"give a SESSION and a COMMAND" in p.stderr


def test_serve_refuses_an_empty_key_file(airlock):
    top = Path(tempfile.mkdtemp(prefix="airlock-emptykey-"))
    try:
        os.chmod(top, 0o755)  # the daemon's uid must reach its data dir
        data = top / "data"
        data.mkdir(mode=0o700)
        (data / "api-key").write_text("")
        p = subprocess.run([str(airlock), "serve", "--listen", "127.0.0.1:%d" % _free_port(), "--data-dir", str(data)],
                           capture_output=True, timeout=120)
        assert p.returncode == 1, p.stderr
        assert b"api-key is empty: remove it to have a new key made" in p.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)
