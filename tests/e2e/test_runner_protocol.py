"""The C side of the runner protocol, checked against api/runner-protocol.schema.json.

A second daemon runs from a copy of the build whose runner records every line the daemon
sends it (into the session's workspace, read back through the files API). Every recorded
frame must validate as a request of the schema, for each kind of request the daemon makes:
execute (plain, with a context), command (foreground and background), task_status and
task_stop, and the warm pool's preload (its one pooled sandbox becomes the session). The
runner's own frames are validated by tests/runner."""
import json
import shutil
import time
from pathlib import Path

import jsonschema
import pytest
from airlock_api import Client, expect
from conftest import AIRLOCK, HOST, Daemon

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "api" / "runner-protocol.schema.json").read_text())
RECORDER = '''
_airlock_frames_seen = Channel.frames
def _airlock_record(self):
    for line in _airlock_frames_seen(self):
        if isinstance(line, bytes):
            with open("/workspace/.daemon-frames.jsonl", "ab") as f:
                f.write(line + b"\\n")
        yield line
Channel.frames = _airlock_record
'''


@pytest.fixture(scope="module")
def recording(checker, tmp_path_factory):
    build = AIRLOCK.parent
    copy = tmp_path_factory.mktemp("recording-build")
    copy.chmod(0o755)
    for name in ("airlock", "airlock-launcher", "airlock-init", "airlock-daemon", "airlock_kernel.js"):
        shutil.copy2(build / name, copy / name)
    source = (build / "airlock_runner.py").read_text()
    marker = 'if __name__ == "__main__":'
    assert marker in source
    (copy / "airlock_runner.py").write_text(source.replace(marker, RECORDER + marker, 1))
    daemon = Daemon(checker)
    daemon.argv[0] = str(copy / "airlock")
    daemon.argv += ["--pool-size", "1"]  # with the default pool_preload
    daemon.start()
    yield Client(HOST, daemon.port, daemon.key, checker)
    daemon.stop()


# Daemon -> runner frames are the schema's "request" definitions.
REQUEST = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/request"}


def test_every_frame_the_daemon_sends_is_valid(recording):
    client = recording
    deadline = time.monotonic() + 120
    while "airlock_pool_preloaded 1" not in expect(client.get("/metrics"), 200).body.decode():
        assert time.monotonic() < deadline, "the pool did not preload its sandbox"
        time.sleep(0.2)
    sid = client.create_session()["id"]
    client.run_ok(sid, "x = 1")
    client.run_ok(sid, "y = 2", context_id="ctx-2")
    client.run_ok(sid, "let z = 3", language="javascript", context_id="js-1", clear_context=True)
    base = "/v1/sessions/%s/contexts" % sid
    expect(client.post(base, json={"id": "sh", "language": "bash"}), 201)
    expect(client.get(base), 200)
    expect(client.post(base + "/js-1/restart"), 200)
    expect(client.delete(base + "/sh"), 204)
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "echo hi", "cwd": ".",
                                                                "env": {"A": "b"}, "timeout_seconds": 5}), 200)
    task = expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "sleep 30", "background": True}),
                  202).json["task_id"]
    expect(client.get("/v1/sessions/%s/tasks/%s" % (sid, task)), 200)
    expect(client.delete("/v1/sessions/%s/tasks/%s" % (sid, task)), 200)
    time.sleep(0.2)
    lines = expect(client.get("/v1/sessions/%s/files/.daemon-frames.jsonl" % sid), 200).body.splitlines()
    frames = [json.loads(line) for line in lines]
    kinds = {f["type"] for f in frames}
    assert {"execute", "command", "task_status", "task_stop", "load_kernel", "create_context", "list_contexts",
            "reset_context", "delete_context", "preload"} <= kinds, kinds
    for f in frames:
        jsonschema.validate(f, REQUEST)
    # ... and has the shape of the same request in the golden transcripts.
    golden = {}
    for path in (ROOT / "api" / "examples" / "runner").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("dir") == "in" and isinstance(entry.get("frame"), dict):
                golden.setdefault(entry["frame"].get("type"), set()).update(entry["frame"])
    for f in frames:
        assert f["type"] in golden, "no golden transcript shows a %r request" % f["type"]
        assert set(f) <= golden[f["type"]], "fields %s of %r appear in no transcript" % (
            set(f) - golden[f["type"]], f["type"])
    expect(client.delete("/v1/sessions/" + sid), 200)
