"""Sessions: create (defaults, every field, every validation error), get, list, delete,
TTL and idle timeout, and what an ended session answers."""
import json
import threading
import time
from datetime import UTC, datetime

import airlock_api as api
import pytest
from airlock_api import expect

DEFAULT_LIMITS = {"memory_mb": 512, "cpus": 1.0, "pids": 64, "workspace_mb": 512}
MISSING = "sess_" + "0" * 26


def ts(text: str) -> float:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp() + (
        float("0" + text[19:-1]) if text[19] == "." else 0.0)


def test_create_with_defaults(client, sessions):
    before = time.time()
    s = sessions.new()
    after = time.time()
    assert s["status"] == "ready" and s["interpreter"] == "default"
    assert s["limits"] == DEFAULT_LIMITS
    assert s["idle_timeout_seconds"] == 900
    assert s["metadata"] == {} and s["ended_reason"] is None
    assert before - 2 <= ts(s["created_at"]) <= after + 2, (before, s["created_at"], after)
    assert abs(ts(s["expires_at"]) - ts(s["created_at"]) - 900) <= 1, s
    iso = s["isolation"]
    assert iso["backend"] == "namespace" and iso["network"] == "none" and iso["seccomp"] is True, iso
    assert iso["cgroup"] in ("v1", "v2"), "limits are mandatory on Linux: %r" % iso
    # and the same object comes back from GET
    assert client.get_session(s["id"]) == s


def test_empty_body_without_content_type_is_an_empty_object(client, sessions):
    resp = client.post("/v1/sessions", body=b"", content_type=None)
    expect(resp, 201)
    sessions.ids.append(resp.json["id"])
    assert resp.json["limits"] == DEFAULT_LIMITS


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"])
def test_json_media_type_parameters_and_case(client, sessions, ctype):
    resp = client.post("/v1/sessions", body=b'{"metadata": {"ct": "1"}}', content_type=ctype)
    expect(resp, 201)
    sessions.ids.append(resp.json["id"])
    assert resp.json["metadata"] == {"ct": "1"}


def test_create_with_every_field(client, sessions, daemon):
    body = {
        "interpreter": "default",
        "timeout_seconds": 1200,
        "idle_timeout_seconds": 300,
        "limits": {"memory_mb": 256, "cpus": 0.5, "pids": 64, "workspace_mb": 32},
        "env": {"GREETING": "hello world", "EMPTY": "", "UNICODE": "h\u00e9llo \u2713"},
        "metadata": {"agent": "e2e", "conversation": "c-1", "empty": ""},
    }
    s = sessions.new(**body)
    assert s["limits"] == body["limits"]
    assert s["idle_timeout_seconds"] == 300
    assert s["metadata"] == body["metadata"]
    assert abs(ts(s["expires_at"]) - ts(s["created_at"]) - 1200) <= 1, s
    out = client.run_ok(s["id"], "import os, json\nprint(json.dumps(dict(os.environ)))")["stdout"]
    env = json.loads(out)
    assert env["GREETING"] == "hello world" and env["EMPTY"] == "" and env["UNICODE"] == "h\u00e9llo \u2713"
    # the daemon's own environment never reaches a sandbox
    assert "AIRLOCK_API_KEY" not in env and "AIRLOCK_E2E_CANARY" not in env, sorted(env)
    assert daemon.env_key not in out and daemon.canary not in out and daemon.key not in out
    # the workspace has the size asked for
    size = int(client.value(s["id"], "import os; st = os.statvfs('/workspace'); st.f_blocks * st.f_frsize"))
    assert 31 << 20 <= size <= 33 << 20, "workspace_mb 32 gave a %d-byte /workspace" % size


def test_pids_limit_is_enforced(client, sessions):
    sid = sessions(limits={"pids": 32})
    ex = client.execute(sid, """
import threading
ev = threading.Event()
n = 0
try:
    for _ in range(200):
        threading.Thread(target=ev.wait, daemon=True).start()
        n += 1
except RuntimeError:
    pass
ev.set()
n
""")
    if ex["status"] == "killed":
        assert ex["killed_reason"] == "pids", ex
    else:
        assert ex["status"] == "ok", ex
        assert int(ex["results"][0]["text/plain"]) < 32, "pids 32 let the code start %s threads" % ex["results"]


def test_values_at_the_edges_are_accepted(sessions):
    md = {"k%02d" % i: "v" * 1024 for i in range(32)}
    md["k00"] = ""
    s = sessions.new(metadata=md, timeout_seconds=1, idle_timeout_seconds=28800)
    assert s["metadata"] == md and s["idle_timeout_seconds"] == 28800
    s = sessions.new(timeout_seconds=28800, limits={"cpus": 2, "pids": 4096, "workspace_mb": 1})
    assert s["limits"] == {"memory_mb": 512, "cpus": 2, "pids": 4096, "workspace_mb": 1}
    s = sessions.new(limits={"cpus": 0.25, "memory_mb": 64})
    assert s["limits"]["cpus"] == 0.25 and s["limits"]["memory_mb"] == 64


BAD_BODIES = [
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"timeout_seconds": 28801}, "timeout_seconds"),
    ({"timeout_seconds": -5}, "timeout_seconds"),
    ({"timeout_seconds": "60"}, "timeout_seconds"),
    ({"timeout_seconds": 1.5}, "timeout_seconds"),
    ({"timeout_seconds": True}, "timeout_seconds"),
    ({"timeout_seconds": None}, "timeout_seconds"),
    ({"idle_timeout_seconds": 0}, "idle_timeout_seconds"),
    ({"idle_timeout_seconds": 28801}, "idle_timeout_seconds"),
    ({"idle_timeout_seconds": []}, "idle_timeout_seconds"),
    ({"interpreter": 5}, "interpreter"),
    ({"interpreter": ""}, "interpreter"),
    ({"interpreter": "no-such-interpreter"}, "interpreter"),
    ({"limits": []}, "limits"),
    ({"limits": "big"}, "limits"),
    ({"limits": None}, "limits"),
    ({"limits": {"memory_mb": 15}}, "limits.memory_mb"),
    ({"limits": {"memory_mb": 65537}}, "limits.memory_mb"),
    ({"limits": {"memory_mb": "512"}}, "limits.memory_mb"),
    ({"limits": {"memory_mb": 512.5}}, "limits.memory_mb"),
    ({"limits": {"cpus": 0}}, "limits.cpus"),
    ({"limits": {"cpus": 0.001}}, "limits.cpus"),
    ({"limits": {"cpus": 256.5}}, "limits.cpus"),
    ({"limits": {"cpus": "1"}}, "limits.cpus"),
    ({"limits": {"pids": 3}}, "limits.pids"),
    ({"limits": {"pids": 65537}}, "limits.pids"),
    ({"limits": {"workspace_mb": 0}}, "limits.workspace_mb"),
    ({"limits": {"workspace_mb": 65537}}, "limits.workspace_mb"),
    ({"limits": {"gpus": 1}}, "limits.gpus"),
    ({"env": []}, "env"),
    ({"env": {"GOOD": 1}}, "env.GOOD"),
    ({"env": {"GOOD": None}}, "env.GOOD"),
    ({"env": {"1BAD": "x"}}, "env.1BAD"),
    ({"env": {"BAD-NAME": "x"}}, "env.BAD-NAME"),
    ({"env": {"V%d" % i: "x" for i in range(129)}}, "env"),
    ({"metadata": "x"}, "metadata"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"metadata": {"k": {"nested": "x"}}}, "metadata.k"),
    ({"metadata": {"k": "v" * 1025}}, "metadata.k"),
    ({"metadata": {"k%d" % i: "v" for i in range(33)}}, "metadata"),
    ({"bogus": 1}, "bogus"),
    ({"id": "sess_" + "a" * 26}, "id"),
    ({"status": "ready"}, "status"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES, ids=[f + ":" + json.dumps(b)[:40] for b, f in BAD_BODIES])
def test_invalid_fields_name_the_field(client, body, field):
    resp = client.post("/v1/sessions", json=body)
    expect(resp, 400, "invalid_request", field)


BAD_JSON = [
    b"{",
    b"{\"timeout_seconds\": }",
    b"{\"a\" 1}",
    b"{}x",
    b"{} {}",
    b"[]",
    b"null",
    b"\"string\"",
    b"42",
    b"{\"timeout_seconds\": NaN}",
    b"{\"timeout_seconds\": 1e400}",
    b"{'single': 'quotes'}",
    b"{\"metadata\": {\"k\": \"\xff\xfe\"}}",  # invalid UTF-8
    b"{\"metadata\": {\"k\": \"\\ud800\"}}",  # lone surrogate
    b"\xef\xbb\xbf{}",  # a byte-order mark is not JSON
    b"{\"metadata\": {\"k\": \"a\x01b\"}}",  # raw control character in a string
    b"[" * 100000 + b"]" * 100000,
    b"{\"metadata\":" * 5000 + b"{}" + b"}" * 5000,
    b"{\"metadata\": {\"a\": [" + b"0," * 70000 + b"0]}}",  # refused before parsing: too many values
]


@pytest.mark.parametrize("raw", BAD_JSON, ids=lambda b: repr(b[:24]))
def test_malformed_json_is_400(client, raw):
    resp = client.post("/v1/sessions", body=raw, content_type="application/json")
    expect(resp, 400, "invalid_request")
    assert len(resp.error["message"]) < 1024


@pytest.mark.parametrize("raw, field", [
    (b'{"timeout_seconds": 60, "timeout_seconds": 61}', "timeout_seconds"),
    (b'{"limits": {"pids": 8, "pids": 9}}', "limits.pids"),
    (b'{"timeout_seconds": 1000000000000000000000000000000}', "timeout_seconds"),
    (b'{"limits": {"memory_mb": -99999999999999999999999}}', "limits.memory_mb"),
    (b'{"env": {"NUL": "a\\u0000b"}}', "env.NUL"),
    (b'{"metadata": {"k\\u0000": "v"}}', "metadata"),
], ids=["duplicate", "nested duplicate", "huge integer", "huge negative", "NUL in a value", "NUL in a key"])
def test_what_the_parser_refuses_is_400(client, raw, field):
    """Refused while parsing: the field is named when the daemon can tell, never a wrong one."""
    resp = client.post("/v1/sessions", body=raw, content_type="application/json")
    expect(resp, 400, "invalid_request")
    assert resp.error.get("field") is None or resp.error["field"].startswith(field), resp


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                                   "multipart/form-data; boundary=x", None])
def test_non_json_bodies_are_415(client, ctype):
    resp = client.post("/v1/sessions", body=b'{"timeout_seconds": 60}', content_type=ctype)
    expect(resp, 415, "unsupported_media_type")


def test_bodies_over_1_mib_are_413(client):
    pad = b"x" * (1 << 20)
    body = b'{"metadata": {"pad": "' + pad + b'"}}'
    expect(client.post("/v1/sessions", body=body, content_type="application/json"), 413, "payload_too_large")
    # answered from Content-Length, before the body is sent
    resp = client.post("/v1/sessions", body=body, content_type="application/json", expect_continue=True)
    expect(resp, 413, "payload_too_large")
    # and streamed without a length
    resp = client.post("/v1/sessions", body=(body[i:i + 65536] for i in range(0, len(body), 65536)),
                       content_type="application/json")
    expect(resp, 413, "payload_too_large")


def test_get_list_delete(client, sessions):
    a = sessions.new(metadata={"name": "a"})
    b = sessions.new(metadata={"name": "b"})
    listed = expect(client.get("/v1/sessions"), 200).json["sessions"]
    ids = [s["id"] for s in listed]
    assert a["id"] in ids and b["id"] in ids
    assert ids.index(a["id"]) < ids.index(b["id"]), "oldest first"
    assert all(s["status"] != "ended" for s in listed)
    assert [s for s in listed if s["id"] == a["id"]][0]["metadata"] == {"name": "a"}

    gone = expect(client.delete("/v1/sessions/" + a["id"]), 200).json
    assert gone["id"] == a["id"] and gone["status"] == "ended" and gone["ended_reason"] == "deleted"
    assert gone["metadata"] == {"name": "a"} and gone["created_at"] == a["created_at"]
    again = expect(client.delete("/v1/sessions/" + a["id"]), 200).json
    assert again["status"] == "ended" and again["ended_reason"] == "deleted", "DELETE is idempotent"
    got = client.get_session(a["id"])
    assert got["status"] == "ended" and got["ended_reason"] == "deleted"
    ids = [s["id"] for s in expect(client.get("/v1/sessions"), 200).json["sessions"]]
    assert a["id"] not in ids and b["id"] in ids


@pytest.mark.parametrize("bad_id", [MISSING, "sess_nope", "nope", "sess_" + "A" * 26, "%00", "sess_" + "0" * 300])
def test_unknown_sessions_are_404(client, bad_id):
    expect(client.get("/v1/sessions/" + bad_id), 404, "session_not_found")
    expect(client.delete("/v1/sessions/" + bad_id), 404, "session_not_found")
    expect(client.post("/v1/sessions/%s/execute" % bad_id, json={"code": "1"}), 404, "session_not_found")
    expect(client.get("/v1/sessions/%s/files" % bad_id), 404, "session_not_found")
    expect(client.put(api.file_target(bad_id, "a.txt"), body=b"x"), 404, "session_not_found")
    expect(client.get(api.file_target(bad_id, "a.txt")), 404, "session_not_found")
    expect(client.delete(api.file_target(bad_id, "a.txt")), 404, "session_not_found")


def test_an_ended_session_answers_409_session_ended(client, sessions):
    sid = sessions()
    expect(client.put(api.file_target(sid, "a.txt"), body=b"x"), 201)
    expect(client.delete("/v1/sessions/" + sid), 200)
    expect(client.post("/v1/sessions/%s/execute" % sid, json={"code": "1"}), 409, "session_ended")
    expect(client.put(api.file_target(sid, "b.txt"), body=b"x"), 409, "session_ended")
    expect(client.get(api.file_target(sid, "a.txt")), 409, "session_ended")
    expect(client.delete(api.file_target(sid, "a.txt")), 409, "session_ended")
    expect(client.get("/v1/sessions/%s/files" % sid), 409, "session_ended")


def _wait_status(client, sid, status, seconds):
    deadline = time.monotonic() + seconds
    while True:
        s = client.get_session(sid)
        if s["status"] == status or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


def test_session_ttl(client, sessions):
    s = sessions.new(timeout_seconds=2)
    assert abs(ts(s["expires_at"]) - ts(s["created_at"]) - 2) <= 1, s
    client.run_ok(s["id"], "x = 1")
    time.sleep(max(0.0, ts(s["created_at"]) + 4 - time.time()))
    got = client.get_session(s["id"])
    assert got["status"] == "ended" and got["ended_reason"] == "expired", got
    assert s["id"] not in [x["id"] for x in client.get("/v1/sessions").json["sessions"]]
    expect(client.post("/v1/sessions/%s/execute" % s["id"], json={"code": "x"}), 409, "session_ended")
    gone = expect(client.delete("/v1/sessions/" + s["id"]), 200).json
    assert gone["ended_reason"] == "expired", "DELETE of an ended session keeps its reason"


def test_a_lifetime_too_short_for_the_runner_is_the_callers_to_fix(client):
    """A sandbox whose TTL ends before its runner is ready (a hundredth of a CPU cannot start
    Python in a second) is a 400 naming timeout_seconds, not a 503 to retry forever."""
    resp = client.post("/v1/sessions", json={"timeout_seconds": 1, "limits": {"cpus": 0.01}})
    expect(resp, 400, "invalid_request", field="timeout_seconds")
    # The TTL ends while the runner starts, or (a slow host, a sanitizer build) while the
    # sandbox is still being set up: either way the setting is named.
    msg = resp.error["message"]
    assert ("before its runner was ready" in msg and "limits.cpus" in msg) or "being set up" in msg, msg
    # The control: a second more and a whole CPU, and the same request is a session.
    ok = expect(client.post("/v1/sessions", json={"timeout_seconds": 60, "limits": {"cpus": 1}}), 201).json
    expect(client.delete("/v1/sessions/" + ok["id"]), 200)


def test_idle_timeout_and_reads_are_not_activity(client, sessions):
    s = sessions.new(idle_timeout_seconds=2)
    start = time.monotonic()
    # GET is observation, not activity: polling must not keep the session alive
    got = _wait_status(client, s["id"], "ended", 6)
    assert got["status"] == "ended" and got["ended_reason"] == "idle_timeout", got
    assert time.monotonic() - start >= 1.5, "ended before its idle timeout"


def test_executions_and_file_operations_are_activity(client, sessions):
    sid = sessions(idle_timeout_seconds=3)
    # a running execution is activity, even when it outlasts the idle timeout
    ex = client.execute(sid, "import time; time.sleep(4); 'done'")
    assert ex["status"] == "ok" and ex["results"] == [{"text/plain": "'done'"}], ex
    for _ in range(3):
        time.sleep(1.5)
        expect(client.put(api.file_target(sid, "touch.txt"), body=b"x"), 201)
    assert client.get_session(sid)["status"] == "ready"


def test_busy_while_executing_and_delete_stops_the_execution(client, sessions):
    sid = sessions()
    out = {}

    def run():
        try:
            out["ex"] = client.execute(sid, "import time\nfor _ in range(600): time.sleep(0.05)", timeout_seconds=120)
        except BaseException as exc:  # reported by the main thread
            out["exc"] = exc

    t = threading.Thread(target=run)
    t.start()
    try:
        busy = _wait_status(client, sid, "busy", 20)
        assert busy["status"] == "busy", busy
        assert sid in [x["id"] for x in client.get("/v1/sessions").json["sessions"]]
        gone = expect(client.delete("/v1/sessions/" + sid), 200).json
        assert gone["status"] == "ended" and gone["ended_reason"] == "deleted"
    finally:
        t.join(60)
    assert not t.is_alive(), "the execution did not return after its session was deleted"
    if "exc" in out:
        raise out["exc"]
    ex = out["ex"]
    assert ex["status"] == "killed" and ex["killed_reason"] == "stopped" and ex["state_kept"] is False, ex
