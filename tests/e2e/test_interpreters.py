"""Interpreters: named session configurations. Sessions inherit their defaults and may
tighten them, or loosen them up to the interpreter's ceilings; changes apply to new
sessions; `default` is built in, shared, and only the operator changes it; other
interpreters belong to their tenant. Real daemon, real sandboxes."""
import pytest
from airlock_api import expect


@pytest.fixture
def interp(client):
    """Creates interpreters for one test and deletes them afterwards."""
    made = []

    def make(c=client, **fields):
        body = expect(c.post("/v1/interpreters", json=fields), 201).json
        made.append((c, body["name"]))
        return body
    yield make
    for c, name in made:
        c.delete("/v1/interpreters/" + name)


def test_default_is_built_in_and_listed_for_every_key(client):
    user = client.with_key(expect(client.post("/v1/keys", json={"tenant": "interp-reader"}), 201).json["token"])
    names = [i["name"] for i in expect(user.get("/v1/interpreters"), 200).json["interpreters"]]
    assert names == ["default"]
    d = expect(user.get("/v1/interpreters/default"), 200).json
    assert d["builtin"] is True and d["network"] == {"mode": "none", "allowlist": []}
    assert (d["limits"]["memory_mb"], d["timeout_seconds"], d["execution_timeout_seconds"]) == (512, 900, 60)
    expect(user.post("/v1/interpreters", json={"name": "nope"}), 403, "forbidden")


def test_sessions_inherit_tighten_and_loosen_within_ceilings(client, sessions, interp):
    interp(name="analyst", description="for the analyst agent", limits={"memory_mb": 256, "cpus": 0.5},
           max_limits={"memory_mb": 1024, "timeout_seconds": 3600}, timeout_seconds=600, idle_timeout_seconds=120,
           execution_timeout_seconds=1.5, env={"CUSTOM_VAR": "value", "MODE": "interp"})
    s = sessions.new(interpreter="analyst")
    assert s["interpreter"] == "analyst" and s["execution_timeout_seconds"] == 1.5
    assert (s["limits"]["memory_mb"], s["limits"]["cpus"], s["idle_timeout_seconds"]) == (256, 0.5, 120)
    out = client.run_ok(s["id"], "import os\nprint(os.environ['CUSTOM_VAR'], os.environ['MODE'])")["stdout"]
    assert out == "value interp\n"
    # The interpreter's execution timeout applies when the execution names none.
    ex = client.execute(s["id"], "import time\ntime.sleep(5)")
    assert ex["status"] == "timeout" and 1400 <= ex["duration_ms"] < 4500, ex
    # A session's own env wins; it may tighten and loosen up to the ceilings.
    s2 = sessions.new(interpreter="analyst", limits={"memory_mb": 1024, "cpus": 0.25}, timeout_seconds=3600,
                      env={"MODE": "session"})
    assert (s2["limits"]["memory_mb"], s2["limits"]["cpus"]) == (1024, 0.25)
    assert client.run_ok(s2["id"], "import os\nprint(os.environ['MODE'])")["stdout"] == "session\n"
    # The real limit is the session's: 1024 MiB holds 600 MiB where the default 256 would not.
    client.run_ok(s2["id"], "blob = b'x' * (600 * 1024 * 1024)", timeout_seconds=60)
    for body, field in [({"limits": {"memory_mb": 2048}}, "limits.memory_mb"),
                        ({"limits": {"cpus": 1.0}}, "limits.cpus"),
                        ({"limits": {"pids": 300}}, "limits.pids"),
                        ({"timeout_seconds": 7200}, "timeout_seconds")]:
        err = expect(client.post("/v1/sessions", json=dict(body, interpreter="analyst")), 400).json["error"]
        assert err["field"] == field and "analyst" in err["message"], err
    err = expect(client.post("/v1/sessions", json={"interpreter": "missing"}), 400).json["error"]
    assert err["field"] == "interpreter"


def test_updates_apply_to_new_sessions_only(client, sessions, interp):
    interp(name="changing", limits={"memory_mb": 128}, max_limits={"memory_mb": 512}, env={"V": "1"})
    old = sessions.new(interpreter="changing")
    upd = expect(client.patch("/v1/interpreters/changing", json={"limits": {"memory_mb": 384}, "env": {"V": "2"}}),
                 200).json
    assert upd["limits"]["memory_mb"] == 384 and upd["limits"]["cpus"] == 1.0  # merged, not replaced
    assert upd["max_limits"]["memory_mb"] == 512 and upd["env"] == {"V": "2"}
    new = sessions.new(interpreter="changing")
    assert (old["limits"]["memory_mb"], new["limits"]["memory_mb"]) == (128, 384)
    assert client.run_ok(old["id"], "import os; print(os.environ['V'])")["stdout"] == "1\n"
    assert client.run_ok(new["id"], "import os; print(os.environ['V'])")["stdout"] == "2\n"
    err = expect(client.patch("/v1/interpreters/changing", json={"limits": {"memory_mb": 1024}}), 400).json["error"]
    assert err["field"] == "max_limits", err  # a default above its ceiling
    expect(client.patch("/v1/interpreters/changing", json={"name": "other"}), 400, "invalid_request")
    expect(client.patch("/v1/interpreters/nothere", json={"description": "x"}), 404, "interpreter_not_found")


def test_default_changes_only_by_the_operator(client, sessions):
    other = client.with_key(expect(client.post("/v1/keys", json={"tenant": "interp-other", "scopes":
                                                                 ["admin", "sessions"]}), 201).json["token"])
    expect(other.patch("/v1/interpreters/default", json={"timeout_seconds": 60}), 403, "forbidden")
    expect(other.delete("/v1/interpreters/default"), 403, "forbidden")
    try:
        expect(client.patch("/v1/interpreters/default", json={"idle_timeout_seconds": 300}), 200)
        assert sessions.new()["idle_timeout_seconds"] == 300
        assert expect(other.post("/v1/sessions", json={}), 201).json["idle_timeout_seconds"] == 300
    finally:
        expect(client.patch("/v1/interpreters/default", json={"idle_timeout_seconds": 900}), 200)
    expect(client.delete("/v1/interpreters/default"), 403, "forbidden")


def test_interpreters_stay_in_their_tenant(client, interp):
    interp(name="private_one")
    b = client.with_key(expect(client.post("/v1/keys", json={"tenant": "interp-b", "scopes": ["admin", "sessions"]}),
                               201).json["token"])
    expect(b.get("/v1/interpreters/private_one"), 404, "interpreter_not_found")
    assert "private_one" not in [i["name"] for i in expect(b.get("/v1/interpreters"), 200).json["interpreters"]]
    assert expect(b.post("/v1/sessions", json={"interpreter": "private_one"}), 400).json["error"]["field"] == \
        "interpreter"
    expect(b.delete("/v1/interpreters/private_one"), 404, "interpreter_not_found")
    # The same name in tenant b is b's own.
    interp(c=b, name="private_one", limits={"memory_mb": 64})
    assert expect(client.get("/v1/interpreters/private_one"), 200).json["limits"]["memory_mb"] == 512


def test_delete_refuses_while_in_use(client, interp):
    interp(name="busy_one")
    sid = expect(client.post("/v1/sessions", json={"interpreter": "busy_one"}), 201).json["id"]
    expect(client.delete("/v1/interpreters/busy_one"), 409, "interpreter_in_use")
    expect(client.delete("/v1/sessions/" + sid), 200)
    expect(client.delete("/v1/interpreters/busy_one"), 204)
    expect(client.get("/v1/interpreters/busy_one"), 404, "interpreter_not_found")
    expect(client.delete("/v1/interpreters/busy_one"), 404, "interpreter_not_found")


def test_bad_interpreter_requests_name_the_field(client, interp):
    interp(name="taken")
    expect(client.post("/v1/interpreters", json={"name": "taken"}), 409, "interpreter_exists")
    expect(client.post("/v1/interpreters", json={"name": "default"}), 409, "interpreter_exists")
    cases = [
        ({}, "name"),
        ({"name": "1starts-with-digit"}, "name"),
        ({"name": "x" * 49}, "name"),
        ({"name": "ok", "limits": {"memory_mb": 8}}, "limits.memory_mb"),
        ({"name": "ok", "limits": {"memory_mb": 512}, "max_limits": {"memory_mb": 256}}, "max_limits"),
        ({"name": "ok", "timeout_seconds": 3600, "max_limits": {"timeout_seconds": 60}}, "max_limits"),
        ({"name": "ok", "network": {"mode": "allowlist", "allowlist": ["*.10.0.0.1:443"]}}, "network.allowlist[0]"),
        ({"name": "ok", "network": {"mode": "teleport"}}, "network.mode"),
        ({"name": "ok", "network": {"allowlist": ["no-port"]}}, "network.allowlist[0]"),
        ({"name": "ok", "network": {"allowlist": ["a..b:443"]}}, "network.allowlist[0]"),
        ({"name": "ok", "network": {"allowlist": ["host:70000"]}}, "network.allowlist[0]"),
        ({"name": "ok", "runtime": "datascience"}, "runtime"),
        ({"name": "ok", "execution_timeout_seconds": 0}, "execution_timeout_seconds"),
        ({"name": "ok", "env": {"1BAD": "x"}}, "env.1BAD"),
        ({"name": "ok", "description": "d" * 4097}, "description"),
        ({"name": "ok", "colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        err = expect(client.post("/v1/interpreters", json=body), 400, "invalid_request").json["error"]
        assert err.get("field") == field, (body, err)
    expect(client.get("/v1/interpreters/bad%20name"), 400, "invalid_request")
    expect(client.post("/v1/interpreters", body=b"{}", content_type="text/plain"), 415, "unsupported_media_type")
    huge = b'{"name": "' + b"n" * (2 << 20) + b'"}'
    expect(client.post("/v1/interpreters", body=huge, content_type="application/json"), 413, "payload_too_large")
    expect(client.patch("/v1/interpreters/taken", body=b"{}", content_type="text/plain"), 415,
           "unsupported_media_type")
    expect(client.patch("/v1/interpreters/taken", body=huge, content_type="application/json"), 413,
           "payload_too_large")
    expect(client.delete("/v1/interpreters/bad%20name"), 400, "invalid_request")
    expect(client.patch("/v1/interpreters/bad%20name", json={}), 400, "invalid_request")
    user = client.with_key(expect(client.post("/v1/keys", json={}), 201).json["token"])
    expect(user.patch("/v1/interpreters/taken", json={}), 403, "forbidden")
    expect(user.delete("/v1/interpreters/taken"), 403, "forbidden")


def test_changes_are_audited_and_stats_group_by_interpreter(client, sessions, interp):
    interp(name="audited", limits={"memory_mb": 200})
    expect(client.patch("/v1/interpreters/audited", json={"description": "now described"}), 200)
    sid = sessions(interpreter="audited")
    client.run_ok(sid, "1 + 1")
    entries = expect(client.get("/v1/audit?action=interpreter.create&limit=10000"), 200).json["entries"]
    mine = [e for e in entries if e.get("interpreter") == "audited"]
    assert mine and mine[-1]["status"] == 201 and "limits" in mine[-1]["fields"]
    upd = expect(client.get("/v1/audit?action=interpreter.update&limit=10000"), 200).json["entries"]
    assert any(e.get("interpreter") == "audited" and e["fields"] == ["description"] for e in upd)
    stats = expect(client.get("/v1/stats?interpreter=audited"), 200).json
    assert [s["group"] for s in stats["series"]] == ["audited"]
    assert stats["series"][0]["buckets"][0]["executions"] == 1
