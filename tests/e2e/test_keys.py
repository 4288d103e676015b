"""API keys, tenants and scopes: keys made and revoked through the API, stored hashed;
scopes enforced on every route; another tenant's sessions invisible (404) on every session
route; tenants' quotas of live sessions and memory. Real daemon, real sandboxes."""
import hashlib
import re

import airlock_api as api
import pytest
from airlock_api import expect

TOKEN = re.compile(r"^(ak_[a-z0-9]{26})\.(sk_[a-z0-9]{26})$")


def new_key(client, **fields) -> dict:
    key = expect(client.post("/v1/keys", json=fields), 201).json
    assert TOKEN.fullmatch(key["token"]) and key["token"] == key["id"] + "." + key["secret"]
    return key


def as_key(client, key):
    return client.with_key(key["token"])


def fill(template, sid, task="task_000000000000"):
    return (template.replace("{id}", sid).replace("{path}", "x.txt").replace("{task_id}", task)
            .replace("{context_id}", "default").replace("{key_id}", "ak_00000000000000000000000000")
            .replace("{tenant}", "team-x"))


def body_for(template, method):
    if method not in ("POST", "PUT"):
        return {}
    if template.endswith("/execute"):
        return {"json": {"code": "1"}}
    if template.endswith("/commands"):
        return {"json": {"command": "true"}}
    if template.endswith("/files/{path}"):
        return {"body": b"x"}
    if template.startswith("/v1/tenants/"):
        return {"json": {"max_sessions": 1, "max_memory_mb": 1}}
    return {"json": {}}


def test_keys_are_made_listed_and_revoked(client):
    key = new_key(client, tenant="team-a", name="analytics agent", scopes=["sessions"])
    assert (key["tenant"], key["name"], key["scopes"]) == ("team-a", "analytics agent", ["sessions"])
    assert key["revoked_at"] is None and key["last_used_at"] is None
    listed = expect(client.get("/v1/keys"), 200).json["keys"]
    mine = [k for k in listed if k["id"] == key["id"]]
    assert mine and "secret" not in mine[0] and "token" not in mine[0], "a secret is shown once, at creation"
    assert any(k["name"] == "bootstrap (DATA_DIR/api-key)" and k["scopes"] == ["admin", "sessions"] for k in listed)
    user = as_key(client, key)
    sid = expect(user.post("/v1/sessions", json={}), 201).json["id"]
    assert expect(user.get("/v1/sessions/" + sid), 200).json["tenant"] == "team-a"
    got = expect(client.get("/v1/keys/" + key["id"]), 200).json
    assert got["last_used_at"] is not None and "secret" not in got
    expect(client.delete("/v1/sessions/" + sid), 404, "session_not_found")  # tenant default's key: not its session
    expect(user.delete("/v1/sessions/" + sid), 200)
    revoked = expect(client.delete("/v1/keys/" + key["id"]), 200).json
    assert revoked["revoked_at"] is not None
    expect(user.get("/v1/sessions"), 401, "unauthorized")
    again = expect(client.delete("/v1/keys/" + key["id"]), 200).json
    assert again["revoked_at"] == revoked["revoked_at"], "revoking twice keeps the first time"
    expect(client.get("/v1/keys/ak_00000000000000000000000000"), 404, "key_not_found")
    expect(client.delete("/v1/keys/ak_00000000000000000000000000"), 404, "key_not_found")


def test_default_scope_is_sessions_and_secrets_are_stored_hashed(client, daemon):
    key = new_key(client)
    assert (key["tenant"], key["scopes"], key["name"]) == ("default", ["sessions"], "")
    stored = b""
    for name in ("airlock.db", "airlock.db-wal"):
        path = daemon.data_dir / name
        if path.exists():
            stored += path.read_bytes()
    assert key["secret"].encode() not in stored and key["token"].encode() not in stored
    assert hashlib.sha256(key["token"].encode()).hexdigest().encode() in stored
    assert key["secret"] not in daemon.log_text() and key["token"] not in daemon.log_text()


def test_admin_routes_need_the_admin_scope(client):
    user = as_key(client, new_key(client, scopes=["sessions"]))
    failures = []
    for template, method, _op in client.checker.operations():
        if not template.startswith(("/v1/keys", "/v1/tenants", "/v1/audit")):
            continue
        resp = user.request(method, fill(template, "x"), **body_for(template, method))
        if resp.status != 403 or resp.error["code"] != "forbidden":
            failures.append("%s %s: %r" % (method, template, resp))
    assert not failures, "\n".join(failures)


def test_session_routes_need_the_sessions_scope(client, sessions):
    sid = sessions()
    admin_only = as_key(client, new_key(client, scopes=["admin"]))
    expect(admin_only.get("/v1/keys"), 200)
    failures = []
    for template, method, _op in client.checker.operations():
        if not template.startswith("/v1/sessions"):
            continue
        resp = admin_only.request(method, fill(template, sid), **body_for(template, method))
        if resp.status != 403 or resp.error["code"] != "forbidden":
            failures.append("%s %s: %r" % (method, template, resp))
    assert not failures, "\n".join(failures)
    assert client.get_session(sid)["status"] == "ready", "nothing was done to the session"


def test_other_tenants_sessions_are_not_found_on_every_route(client):
    alice = as_key(client, new_key(client, tenant="alice"))
    bob = as_key(client, new_key(client, tenant="bob"))
    sid = expect(alice.post("/v1/sessions", json={}), 201).json["id"]
    expect(alice.put(api.file_target(sid, "x.txt"), body=b"alice's"), 201)
    task = expect(alice.post("/v1/sessions/%s/commands" % sid, json={"command": "sleep 60", "background": True}),
                  202).json["task_id"]
    alice.run_ok(sid, "secret = 'alice'")
    failures = []
    for template, method, _op in client.checker.operations():
        if not template.startswith("/v1/sessions/{id}"):
            continue
        resp = bob.request(method, fill(template, sid, task), **body_for(template, method))
        if resp.status != 404 or resp.error["code"] != "session_not_found":
            failures.append("%s %s: %r" % (method, template, resp))
    assert not failures, "\n".join(failures)
    assert sid not in [s["id"] for s in expect(bob.get("/v1/sessions"), 200).json["sessions"]]
    assert sid not in [s["id"] for s in expect(client.get("/v1/sessions"), 200).json["sessions"]], \
        "the bootstrap key is tenant default: alice's sessions are not its either"
    # alice's session went through all of that untouched
    assert alice.value(sid, "secret") == "'alice'"
    assert expect(alice.get(api.file_target(sid, "x.txt")), 200).body == b"alice's"
    assert expect(alice.get("/v1/sessions/%s/tasks/%s" % (sid, task)), 200).json["status"] == "running"
    expect(alice.delete("/v1/sessions/" + sid), 200)
    expect(bob.get("/v1/sessions/" + sid), 404, "session_not_found")  # ended, and still not bob's


def test_quotas_of_sessions_and_memory(client):
    tenant = expect(client.put("/v1/tenants/team-q", json={"max_sessions": 1, "max_memory_mb": 1024}), 200).json
    assert tenant == {"name": "team-q", "max_sessions": 1, "max_memory_mb": 1024, "sessions": 0, "memory_mb": 0}
    user = as_key(client, new_key(client, tenant="team-q"))
    resp = user.post("/v1/sessions", json={"limits": {"memory_mb": 2048}})
    expect(resp, 429, "quota_exceeded", field="limits.memory_mb")
    assert "1024" in resp.error["message"]
    first = expect(user.post("/v1/sessions", json={"limits": {"memory_mb": 256}}), 201).json["id"]
    used = expect(client.get("/v1/tenants/team-q"), 200).json
    assert (used["sessions"], used["memory_mb"]) == (1, 256)
    resp = user.post("/v1/sessions", json={})
    expect(resp, 429, "quota_exceeded")
    assert "1 live sessions, its quota is 1" in resp.error["message"]
    other = expect(client.post("/v1/sessions", json={}), 201).json["id"]  # another tenant is not affected
    expect(user.delete("/v1/sessions/" + first), 200)
    second = expect(user.post("/v1/sessions", json={}), 201).json["id"]
    listed = expect(client.get("/v1/tenants"), 200).json["tenants"]
    assert {"name": "team-q", "max_sessions": 1, "max_memory_mb": 1024, "sessions": 1, "memory_mb": 512} in listed
    default = [t for t in listed if t["name"] == "default"][0]
    assert (default["max_sessions"], default["max_memory_mb"]) == (256, 131072), "the daemon's defaults"
    expect(user.delete("/v1/sessions/" + second), 200)
    expect(client.delete("/v1/sessions/" + other), 200)


@pytest.mark.parametrize("body, field", [
    ({"tenant": "Team"}, "tenant"),
    ({"tenant": "-a"}, "tenant"),
    ({"tenant": ""}, "tenant"),
    ({"tenant": "a" * 65}, "tenant"),
    ({"scopes": []}, "scopes"),
    ({"scopes": ["root"]}, "scopes"),
    ({"scopes": "sessions"}, "scopes"),
    ({"name": "a\nb"}, "name"),
    ({"name": "n" * 129}, "name"),
    ({"secret": "mine"}, "secret"),
])
def test_bad_key_requests_name_the_field(client, body, field):
    expect(client.post("/v1/keys", json=body), 400, "invalid_request", field=field)


def test_bad_tenant_requests(client):
    expect(client.put("/v1/tenants/team-z", json={"max_sessions": 1}), 400, "invalid_request", field="max_memory_mb")
    expect(client.put("/v1/tenants/team-z", json={"max_sessions": -1, "max_memory_mb": 1}), 400, "invalid_request",
           field="max_sessions")
    expect(client.put("/v1/tenants/team-z", json={"max_sessions": 1.5, "max_memory_mb": 1}), 400, "invalid_request",
           field="max_sessions")
    expect(client.get("/v1/tenants/Bad_Name"), 400, "invalid_request", field="tenant")
    expect(client.put("/v1/tenants/team-z", body=b"{}", content_type="text/plain"), 415, "unsupported_media_type")
    expect(client.post("/v1/keys", body=b"{}", content_type="text/plain"), 415, "unsupported_media_type")
    huge = b'{"name": "' + b"n" * (1 << 20) + b'"}'
    expect(client.post("/v1/keys", body=huge, content_type="application/json"), 413, "payload_too_large")
    expect(client.put("/v1/tenants/team-z", body=huge, content_type="application/json"), 413, "payload_too_large")
    fresh = expect(client.get("/v1/tenants/team-never-seen"), 200).json
    assert (fresh["sessions"], fresh["max_sessions"]) == (0, 256)


def test_a_tenant_admin_manages_its_own_tenant_only(client):
    """Only the operator (an admin key of tenant default) acts across tenants: another
    tenant's admin key can't mint keys elsewhere (least of all an operator key), see or
    revoke other tenants' keys, read other tenants or set any quota."""
    admin = as_key(client, new_key(client, tenant="team-adm", scopes=["admin", "sessions"]))
    peer = new_key(client, tenant="team-other", scopes=["sessions"])
    operator_keys = [k["id"] for k in expect(client.get("/v1/keys"), 200).json["keys"] if k["tenant"] == "default"]

    for tenant in ("default", "team-other"):
        resp = admin.post("/v1/keys", json={"tenant": tenant, "scopes": ["admin", "sessions"]})
        expect(resp, 403, "forbidden", field="tenant")
    own = expect(admin.post("/v1/keys", json={"scopes": ["sessions"]}), 201).json  # no tenant: its own
    assert own["tenant"] == "team-adm"
    expect(admin.post("/v1/keys", json={"tenant": "team-adm"}), 201)

    listed = expect(admin.get("/v1/keys"), 200).json["keys"]
    assert listed and {k["tenant"] for k in listed} == {"team-adm"}
    assert {k["tenant"] for k in expect(client.get("/v1/keys"), 200).json["keys"]} >= {"default", "team-adm",
                                                                                       "team-other"}
    for key_id in [peer["id"], *operator_keys]:
        expect(admin.get("/v1/keys/" + key_id), 404, "key_not_found")
        expect(admin.delete("/v1/keys/" + key_id), 404, "key_not_found")
    assert expect(client.get("/v1/keys/" + peer["id"]), 200).json["revoked_at"] is None  # untouched
    expect(admin.delete("/v1/keys/" + own["id"]), 200)

    assert [t["name"] for t in expect(admin.get("/v1/tenants"), 200).json["tenants"]] in ([], ["team-adm"])
    assert expect(admin.get("/v1/tenants/team-adm"), 200).json["name"] == "team-adm"
    expect(admin.get("/v1/tenants/default"), 403, "forbidden")
    for tenant in ("team-adm", "team-other", "default"):
        expect(admin.put("/v1/tenants/" + tenant, json={"max_sessions": 100000, "max_memory_mb": 16777216}), 403,
               "forbidden")
    assert expect(client.get("/v1/tenants/team-adm"), 200).json["max_sessions"] == 256  # unchanged
