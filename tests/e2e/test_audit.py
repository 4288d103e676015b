"""The audit log: an entry for every kind of activity, in the caller's tenant only, with
no code or secrets; the hash chain verified, and each kind of tampering (an edited entry,
an edited column, a removed entry, two entries swapped, entries cut from the end) caught.
Real daemon, real sandboxes; the tampering is done on the real SQLite file."""
import hashlib
import json
import sqlite3

import airlock_api as api
import pytest
from airlock_api import expect


def entries(client, **query):
    q = "&".join("%s=%s" % kv for kv in query.items())
    return expect(client.get("/v1/audit" + ("?" + q if q else "")), 200).json["entries"]


def verify(client):
    return expect(client.get("/v1/audit/verify"), 200).json


def test_activity_is_recorded_without_code_or_secrets(client):
    sid = expect(client.post("/v1/sessions", json={}), 201).json["id"]
    code = "secret_value = 'do-not-log-me'\nsecret_value"
    client.run_ok(sid, code)
    client.execute(sid, "console.log('x')", language="javascript", context_id="js-a")
    expect(client.post("/v1/sessions/%s/commands" % sid, json={"command": "echo not-logged-either"}), 200)
    expect(client.put(api.file_target(sid, "d/f.txt"), body=b"contents-not-logged"), 201)
    expect(client.get(api.file_target(sid, "d/f.txt")), 200)
    expect(client.get("/v1/sessions/%s/files?path=d" % sid), 200)
    expect(client.delete(api.file_target(sid, "d/f.txt")), 204)
    expect(client.post("/v1/sessions/%s/contexts" % sid, json={"id": "ctx-audit"}), 201)
    key = expect(client.post("/v1/keys", json={"tenant": "audit-t"}), 201).json
    expect(client.delete("/v1/keys/" + key["id"]), 200)
    expect(client.delete("/v1/sessions/" + sid), 200)
    mine = entries(client, session=sid)
    actions = [e["action"] for e in mine]
    assert actions == ["session.create", "execution", "execution", "command", "file.write", "file.read", "file.list",
                       "file.delete", "context.create", "session.stop"], actions
    execution = mine[1]
    assert execution["code_sha256"] == hashlib.sha256(code.encode()).hexdigest()
    assert execution["code_size"] == len(code) and execution["status"] == "ok" and execution["language"] == "python"
    assert mine[2]["language"] == "javascript" and mine[2]["context_id"] == "js-a"
    assert mine[3]["command_sha256"] == hashlib.sha256(b"echo not-logged-either").hexdigest() and mine[3]["exit_code"] == 0
    assert mine[4]["path"] == "d/f.txt" and mine[4]["size"] == len(b"contents-not-logged")
    for e in mine:
        assert e["tenant"] == "default" and e["key_id"].startswith("ak_") and len(e["hash"]) == 64
    keys = [e for e in entries(client, action="key.create") if e.get("key") == key["id"]]
    assert keys and keys[0]["key_tenant"] == "audit-t"
    assert [e for e in entries(client, action="key.revoke") if e.get("key") == key["id"]]
    export = expect(client.get("/v1/audit?format=jsonl&session=" + sid), 200)
    assert export.header("Content-Type") == "application/x-ndjson"
    assert [json.loads(line)["seq"] for line in export.body.decode().splitlines()] == [e["seq"] for e in mine]
    everything = export.body.decode() + json.dumps(entries(client, limit=10000))
    for secret in ("do-not-log-me", "not-logged-either", "contents-not-logged", key["secret"], key["token"]):
        assert secret not in everything


def test_sessions_ended_by_the_daemon_are_recorded(client):
    sid = expect(client.post("/v1/sessions", json={"limits": {"memory_mb": 64}}), 201).json["id"]
    client.execute(sid, "x = bytearray(512 * 1024 * 1024)", timeout_seconds=60)
    ended = entries(client, session=sid, action="session.end")
    assert ended and ended[0]["reason"] == "oom" and ended[0]["key_id"] is None


def test_entries_are_the_callers_tenant_only(client):
    alice = client.with_key(expect(client.post("/v1/keys", json={"tenant": "audit-alice", "scopes": ["admin", "sessions"]}),
                                   201).json["token"])
    sid = expect(alice.post("/v1/sessions", json={}), 201).json["id"]
    expect(alice.delete("/v1/sessions/" + sid), 200)
    seen = entries(alice)
    assert seen and {e["tenant"] for e in seen} == {"audit-alice"}
    assert not entries(client, session=sid), "tenant default does not see alice's entries"
    expect(alice.get("/v1/audit/verify"), 403, "forbidden")


def test_filters_and_paging(client):
    first = entries(client, limit=2)
    assert len(first) == 2 and first[0]["seq"] < first[1]["seq"]
    after = entries(client, after=first[1]["seq"], limit=1)
    assert after[0]["seq"] > first[1]["seq"]
    t = first[0]["time"]
    assert all(e["time"] >= t for e in entries(client, since=t))
    assert all(e["time"] < t for e in entries(client, until=t))
    whole_second = t[:19] + "Z"  # without milliseconds: the same instant as .000Z
    assert [e["seq"] for e in entries(client, since=whole_second, limit=5)][0] <= first[0]["seq"]
    assert all(e["time"] < t[:19] + ".000Z" for e in entries(client, until=whole_second))
    assert entries(client, since=t[:19] + ".5Z") == entries(client, since=t[:19] + ".500Z")
    for bad, field in (("since=yesterday", "since"), ("until=2026-01-01", "until"), ("since=2026-1-5T1:2:3Z", "since"),
                       ("since=2026-01-05T01:02:03.Z", "since"), ("until=2026-01-05T01:02:03Zjunk", "until"),
                       ("action=Bad!", "action"),
                       ("after=-1", "after"), ("limit=0", "limit"), ("limit=10001", "limit"), ("format=xml", "format")):
        expect(client.get("/v1/audit?" + bad), 400, "invalid_request", field=field)


def test_verify_reports_gaps(client):
    """Entries that could not be written (a full data disk) are marked in the chain by an
    `audit.gap` entry, which verify counts (tests/e2e/test_reliability.py's full-disk test
    makes one): here, with nothing lost, the chain is whole and without gaps."""
    v = verify(client)
    assert v["ok"] is True and v["gaps"] == 0 and v["lost_entries"] == 0, v
    assert entries(client, action="audit.gap") == []


@pytest.fixture
def db(daemon, client):
    # something to tamper with: a few entries of our own
    for _ in range(3):
        sid = expect(client.post("/v1/sessions", json={}), 201).json["id"]
        expect(client.delete("/v1/sessions/" + sid), 200)
    assert verify(client)["ok"] is True
    conn = sqlite3.connect(str(daemon.data_dir / "airlock.db"), timeout=30)
    yield conn
    conn.close()
    assert verify(client)["ok"] is True, "the test must leave the log as it found it"


def rows(conn):
    return conn.execute("SELECT seq, time, tenant, session, action, entry, prev_hash, hash FROM audit ORDER BY seq").fetchall()


def put_back(conn, saved):
    with conn:
        conn.execute("DELETE FROM audit WHERE seq >= ?", (saved[0][0],))
        conn.executemany("INSERT INTO audit(seq, time, tenant, session, action, entry, prev_hash, hash) "
                         "VALUES(?, ?, ?, ?, ?, ?, ?, ?)", saved)


def test_edited_entry_is_caught(client, db):
    last = rows(db)[-3:]
    seq, entry = last[0][0], json.loads(last[0][5])
    entry["status"] = 299
    with db:
        db.execute("UPDATE audit SET entry=? WHERE seq=?", (json.dumps(entry, sort_keys=True, separators=(",", ":")), seq))
    v = verify(client)
    assert v["ok"] is False and v["first_bad"] == seq and "edited" in v["problem"]
    put_back(db, last)


def test_edited_column_is_caught(client, db):
    last = rows(db)[-3:]
    with db:
        db.execute("UPDATE audit SET action='file.read' WHERE seq=?", (last[1][0],))
    v = verify(client)
    assert v["ok"] is False and v["first_bad"] == last[1][0] and "column" in v["problem"]
    put_back(db, last)


def test_removed_entry_is_caught(client, db):
    last = rows(db)[-3:]
    with db:
        db.execute("DELETE FROM audit WHERE seq=?", (last[1][0],))
    v = verify(client)
    assert v["ok"] is False and v["first_bad"] == last[2][0] and "missing" in v["problem"]
    put_back(db, last)


def test_reordered_entries_are_caught(client, db):
    last = rows(db)[-3:]
    a, b = last[0], last[1]
    with db:  # swap the contents of two rows, each keeping its own (valid) hash
        db.execute("UPDATE audit SET seq=-1 WHERE seq=?", (a[0],))
        db.execute("UPDATE audit SET seq=? WHERE seq=?", (a[0], b[0]))
        db.execute("UPDATE audit SET seq=? WHERE seq=-1", (b[0],))
    v = verify(client)
    assert v["ok"] is False and v["first_bad"] == a[0] and "does not follow" in v["problem"]
    put_back(db, last)


def test_entries_cut_from_the_end_are_caught(client, db):
    last = rows(db)[-3:]
    with db:
        db.execute("DELETE FROM audit WHERE seq >= ?", (last[1][0],))
    v = verify(client)
    assert v["ok"] is False and "removed from the end" in v["problem"]
    assert v["entries"] == last[1][0] - 1
    put_back(db, last)  # the fixture checks that the log verifies again
