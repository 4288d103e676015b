"""Probes, API keys, unknown routes and methods."""
import os
import stat

import airlock_api as api
from airlock_api import expect


def test_healthz_and_readyz_need_no_key(anon):
    assert expect(anon.get("/healthz"), 200).json == {"status": "ok"}
    assert expect(anon.get("/readyz"), 200).json == {"status": "ready"}
    # a wrong key on a probe is ignored, not refused
    assert expect(anon.get("/healthz", auth="Bearer wrong"), 200).json == {"status": "ok"}
    assert expect(anon.get("/readyz", auth="Basic Zm9vOmJhcg=="), 200).json == {"status": "ready"}


def test_fresh_data_dir_gets_a_private_key_file(daemon):
    st = os.stat(daemon.data_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700, "the data dir must be 0700, is %o" % stat.S_IMODE(st.st_mode)
    key_file = daemon.data_dir / "api-key"
    st = os.stat(key_file)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    text = key_file.read_text()
    lines = text.splitlines()
    assert len(lines) == 1 and text.endswith("\n") and lines[0] == daemon.key, "one line holding the key"
    assert len(daemon.key) >= 24 and not any(c.isspace() for c in daemon.key), "a long key without spaces"


def test_log_says_where_the_key_is_and_never_what_it_is(daemon):
    log = daemon.log_text()
    assert str(daemon.data_dir / "api-key") in log, "the log must say where the generated key is:\n" + log[-3000:]
    assert daemon.key not in log, "the generated key was logged"
    assert daemon.env_key not in log, "AIRLOCK_API_KEY was logged"


def test_both_keys_work_and_the_scheme_is_case_insensitive(client, daemon):
    expect(client.get("/v1/sessions"), 200)
    expect(client.with_key(daemon.env_key).get("/v1/sessions"), 200)
    expect(client.get("/v1/sessions", auth="bearer " + daemon.key), 200)
    expect(client.get("/v1/sessions", auth="BEARER " + daemon.env_key), 200)


def _bad_auths(daemon):
    key = daemon.key
    return {
        "missing": False,
        "empty": "",
        "scheme only": "Bearer",
        "scheme and space": "Bearer ",
        "wrong scheme": "Basic " + key,
        "wrong key": "Bearer wrong-" + key[:8],
        "key prefix": "Bearer " + key[:-1],
        "key plus a byte": "Bearer " + key + "x",
        "env key prefix": "Bearer " + daemon.env_key[:-1],
        "no space": "Bearer" + key,
        "token only": key,
    }


def test_every_v1_route_refuses_bad_keys(client, daemon, sessions):
    """401 on every /v1 operation of the document, before anything else is looked at."""
    sid = sessions()
    expect(client.put(api.file_target(sid, "x.txt"), body=b"x"), 201)
    failures = []
    for template, method, _op in client.checker.operations():
        if not template.startswith("/v1/"):
            continue
        target = template.replace("{id}", sid).replace("{path}", "x.txt")
        for name, auth in _bad_auths(daemon).items():
            kw = {"auth": auth}
            if method in ("POST", "PUT"):
                kw["json"] = {"code": "1"} if target.endswith("/execute") else {}
            resp = client.request(method, target, **kw)
            if resp.status != 401 or resp.error["code"] != "unauthorized" or "field" in resp.error:
                failures.append("%s %s with %s: %r" % (method, template, name, resp))
            elif not (resp.header("WWW-Authenticate") or "").startswith("Bearer"):
                failures.append("%s %s with %s: no WWW-Authenticate: Bearer" % (method, template, name))
    assert not failures, "\n".join(failures)
    # nothing happened: the file is still there, the session still ready
    assert client.get_session(sid)["status"] == "ready"
    expect(client.get(api.file_target(sid, "x.txt")), 200)


def test_401_comes_before_route_method_and_body_checks(anon):
    """Without a key nothing leaks: not whether a route, method or session exists."""
    for method, target, kw in [
        ("GET", "/v1/nope", {}),
        ("GET", "/v1", {}),
        ("GET", "/v1/sessions/sess_" + "0" * 26, {}),
        ("PATCH", "/v1/sessions/sess_" + "0" * 26, {}),
        ("DELETE", "/v1/sessions", {}),
        ("POST", "/v1/sessions", {"body": b"{not json", "content_type": "application/json"}),
        ("POST", "/v1/sessions", {"body": b"x" * 100, "content_type": "text/plain"}),
        ("POST", "/v1/sessions", {"body": b"{}" + b" " * (2 << 20), "content_type": "application/json"}),
    ]:
        resp = anon.request(method, target, **kw)
        expect(resp, 401, "unauthorized")
        assert set(resp.error) <= {"code", "message"}, resp


def test_unknown_routes_are_404_not_found(client, anon):
    expect(anon.get("/"), 404, "not_found")
    expect(anon.get("/nope"), 404, "not_found")
    expect(anon.get("/healthz/extra"), 404, "not_found")
    expect(client.get("/v1/nope"), 404, "not_found")
    expect(client.get("/v1/sessions/sess_x/nope"), 404, "not_found")
    expect(client.post("/v1/sessions/sess_x/execute/more", json={"code": "1"}), 404, "not_found")


def test_wrong_methods_are_405_with_allow(client, anon, sid):
    # the checker verifies the Allow header against the document for each of these
    expect(client.request("PATCH", "/v1/sessions/" + sid, json={}), 405, "method_not_allowed")
    expect(client.request("PUT", "/v1/sessions", json={}), 405, "method_not_allowed")
    expect(client.request("DELETE", "/v1/sessions"), 405, "method_not_allowed")
    expect(client.request("GET", "/v1/sessions/%s/execute" % sid), 405, "method_not_allowed")
    expect(client.request("POST", "/v1/sessions/%s/files" % sid, body=b"x"), 405, "method_not_allowed")
    expect(client.request("POST", api.file_target(sid, "a.txt"), body=b"x"), 405, "method_not_allowed")
    expect(anon.request("POST", "/healthz", body=b""), 405, "method_not_allowed")
    expect(anon.request("DELETE", "/readyz"), 405, "method_not_allowed")
    # and nothing was done
    assert client.get_session(sid)["status"] == "ready"
    expect(client.get(api.file_target(sid, "a.txt")), 404, "file_not_found")
