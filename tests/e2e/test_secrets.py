"""Secrets for external APIs: per-tenant, sealed at rest with a key outside the database,
set in a session's environment only when it names them, and never in an API response
(the checker fails any response holding a value), the daemon's log, the audit log or the
database file. Real daemon, real sandboxes."""
import hashlib
import os
import secrets as pysecrets
import sqlite3
import stat
import subprocess

import pytest
from airlock_api import expect
from conftest import AIRLOCK

VALUE = "sk-live-" + pysecrets.token_hex(20)
OTHER = "other-" + pysecrets.token_hex(20)
DIGEST = "print(__import__('hashlib').sha256(__import__('os').environ.get('%s', '').encode()).hexdigest())"


@pytest.fixture(scope="module", autouse=True)
def forbid_values(checker):
    checker.forbidden |= {VALUE.encode(), OTHER.encode()}
    yield
    checker.forbidden -= {VALUE.encode(), OTHER.encode()}


def sha(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()


def test_put_list_get_replace_delete(client):
    made = expect(client.put("/v1/secrets/TEST_TOKEN", json={"value": VALUE}), 201).json
    assert made["name"] == "TEST_TOKEN" and "value" not in made
    again = expect(client.put("/v1/secrets/TEST_TOKEN", json={"value": VALUE}), 200).json
    assert again["created_at"] == made["created_at"]
    names = [s["name"] for s in expect(client.get("/v1/secrets"), 200).json["secrets"]]
    assert "TEST_TOKEN" in names
    assert expect(client.get("/v1/secrets/TEST_TOKEN"), 200).json["name"] == "TEST_TOKEN"
    expect(client.delete("/v1/secrets/TEST_TOKEN"), 204)
    expect(client.get("/v1/secrets/TEST_TOKEN"), 404, "secret_not_found")
    expect(client.delete("/v1/secrets/TEST_TOKEN"), 404, "secret_not_found")


def test_injected_only_when_asked(client, sessions):
    expect(client.put("/v1/secrets/API_TOKEN", json={"value": VALUE}), 201)
    asked = sessions.new(secrets=["API_TOKEN"])
    assert asked["secrets"] == ["API_TOKEN"]
    out = client.run_ok(asked["id"], DIGEST % "API_TOKEN")["stdout"].strip()
    assert out == sha(VALUE)
    # Commands and background tasks in the session see it too (the sandbox's environment).
    cmd = expect(client.post("/v1/sessions/%s/commands" % asked["id"],
                             json={"command": "printf %s \"$API_TOKEN\" | sha256sum"}), 200).json
    assert cmd["stdout"].split()[0] == sha(VALUE)
    # A session that names no secret has no such variable.
    plain = sessions()
    assert client.run_ok(plain, DIGEST % "API_TOKEN")["stdout"].strip() == sha("")
    # The session's JSON names the secret, never its value.
    got = expect(client.get("/v1/sessions/" + asked["id"]), 200).json
    assert got["secrets"] == ["API_TOKEN"]


def test_session_requests_naming_bad_secrets_are_refused(client):
    expect(client.put("/v1/secrets/DUP_TOKEN", json={"value": OTHER}), 201)
    cases = [
        ({"secrets": ["MISSING_ONE"]}, "secrets[0]"),
        ({"secrets": ["DUP_TOKEN", "DUP_TOKEN"]}, "secrets[1]"),
        ({"secrets": ["1BAD"]}, "secrets[0]"),
        ({"secrets": [7]}, "secrets[0]"),
        ({"secrets": "DUP_TOKEN"}, "secrets"),
        ({"secrets": ["DUP_TOKEN"], "env": {"DUP_TOKEN": "x"}}, "secrets[0]"),
        ({"secrets": ["S%d" % i for i in range(33)]}, "secrets"),
    ]
    for body, field in cases:
        err = expect(client.post("/v1/sessions", json=body), 400, "invalid_request").json["error"]
        assert err["field"] == field, (body, err)


def test_bad_secret_requests(client):
    for name, body, field in [("lower-dash", {"value": "x"}, "name"), ("A" * 65, {"value": "x"}, "name"),
                              ("OK_NAME", {}, "value"), ("OK_NAME", {"value": 5}, "value"),
                              ("OK_NAME", {"value": "x" * 4097}, "value"), ("OK_NAME", {"value": "a\u0000b"}, None),
                              ("OK_NAME", {"value": "x", "extra": 1}, "extra")]:
        err = expect(client.put("/v1/secrets/" + name, json=body), 400, "invalid_request").json["error"]
        assert err.get("field") == field, (name, body, err)  # a NUL is refused by the JSON parser


def test_secrets_stay_in_their_tenant_and_need_admin(client):
    expect(client.put("/v1/secrets/SHARED_NAME", json={"value": VALUE}), 201)
    admin_b = client.with_key(expect(client.post("/v1/keys", json={"tenant": "secrets-b", "scopes": ["admin",
                                                                                                    "sessions"]}),
                                     201).json["token"])
    assert expect(admin_b.get("/v1/secrets"), 200).json["secrets"] == []
    expect(admin_b.get("/v1/secrets/SHARED_NAME"), 404, "secret_not_found")
    err = expect(admin_b.post("/v1/sessions", json={"secrets": ["SHARED_NAME"]}), 400).json["error"]
    assert err["field"] == "secrets[0]"
    # Tenant b's own value of the same name is its own.
    expect(admin_b.put("/v1/secrets/SHARED_NAME", json={"value": OTHER}), 201)
    sid = expect(admin_b.post("/v1/sessions", json={"secrets": ["SHARED_NAME"]}), 201).json["id"]
    assert admin_b.run_ok(sid, DIGEST % "SHARED_NAME")["stdout"].strip() == sha(OTHER)
    expect(admin_b.delete("/v1/sessions/" + sid), 200)
    # A key without the admin scope cannot manage secrets, only use them.
    user = client.with_key(expect(client.post("/v1/keys", json={}), 201).json["token"])
    expect(user.get("/v1/secrets"), 403, "forbidden")
    expect(user.put("/v1/secrets/X_TOKEN", json={"value": "v"}), 403, "forbidden")
    expect(user.get("/v1/secrets/SHARED_NAME"), 403, "forbidden")
    expect(user.delete("/v1/secrets/SHARED_NAME"), 403, "forbidden")
    sid = expect(user.post("/v1/sessions", json={"secrets": ["SHARED_NAME"]}), 201).json["id"]
    assert user.run_ok(sid, DIGEST % "SHARED_NAME")["stdout"].strip() == sha(VALUE)
    expect(user.delete("/v1/sessions/" + sid), 200)


def test_sealed_at_rest_and_bound_to_tenant_and_name(client, daemon):
    expect(client.put("/v1/secrets/SEALED_ONE", json={"value": VALUE}), 201)
    key_file = daemon.data_dir / "secrets.key"
    st = os.stat(key_file)
    assert stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == 0, oct(st.st_mode)
    for f in daemon.data_dir.iterdir():  # the database, its WAL: ciphertext only
        if f.name != "secrets.key" and f.is_file():  # (runtimes/ is a directory of built runtimes)
            assert VALUE.encode() not in f.read_bytes(), f
    # A sealed row moved to another name does not open there (the name is bound in).
    conn = sqlite3.connect(str(daemon.data_dir / "airlock.db"), timeout=30)
    try:
        conn.execute("INSERT INTO secrets(tenant, name, sealed, created_at, updated_at) SELECT tenant, 'MOVED_ONE', "
                     "sealed, created_at, updated_at FROM secrets WHERE tenant='default' AND name='SEALED_ONE'")
        conn.commit()
        err = expect(client.post("/v1/sessions", json={"secrets": ["MOVED_ONE"]}), 500, "internal").json["error"]
        assert err["field"] == "secrets[0]" and "cannot be opened" in err["message"]
    finally:
        conn.execute("DELETE FROM secrets WHERE name='MOVED_ONE'")
        conn.commit()
        conn.close()


def test_values_never_reach_logs_or_audit(client, daemon, sessions):
    expect(client.put("/v1/secrets/LOGGED_NOT", json={"value": VALUE}), 201)
    sid = sessions(secrets=["LOGGED_NOT"])
    client.run_ok(sid, DIGEST % "LOGGED_NOT")
    export = expect(client.get("/v1/audit?format=jsonl&limit=10000"), 200).body
    assert VALUE.encode() not in export and b'"secret.put"' in export
    assert VALUE not in daemon.log_text()


def test_key_file_readable_by_others_is_refused(tmp_path):
    key = tmp_path / "k"
    key.write_text("00" * 32 + "\n")
    os.chmod(key, 0o644)
    p = subprocess.run([str(AIRLOCK), "serve", "--listen", "127.0.0.1:1", "--data-dir", str(tmp_path / "d")],
                       env=dict(os.environ, AIRLOCK_SECRETS_KEY_FILE=str(key)), capture_output=True, timeout=60)
    assert p.returncode != 0
    assert b"readable by group or others" in p.stderr, p.stderr
    os.chmod(key, 0o600)
    key.write_text("not hex\n")
    p = subprocess.run([str(AIRLOCK), "serve", "--listen", "127.0.0.1:1", "--data-dir", str(tmp_path / "d")],
                       env=dict(os.environ, AIRLOCK_SECRETS_KEY_FILE=str(key)), capture_output=True, timeout=60)
    assert p.returncode != 0 and b"64 hex digits" in p.stderr, p.stderr


def test_bad_names_and_bodies_on_every_method(client):
    for method in ("GET", "DELETE"):
        err = expect(client.request(method, "/v1/secrets/not-a-name"), 400, "invalid_request").json["error"]
        assert err["field"] == "name"
    expect(client.put("/v1/secrets/OK_NAME", body=b"{}", content_type="text/plain"), 415, "unsupported_media_type")
    huge = b'{"value": "' + b"x" * (2 << 20) + b'"}'
    expect(client.put("/v1/secrets/OK_NAME", body=huge, content_type="application/json"), 413, "payload_too_large")
    expect(client.get("/v1/secrets/OK_NAME"), 404, "secret_not_found")  # nothing was stored
