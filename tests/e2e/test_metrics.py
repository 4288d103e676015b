"""GET /metrics: the Prometheus text format, parsed with the official client's parser, and
every metric moving as it should after known activity (executions by language and status,
a timeout, an OOM kill, session creations from the pool and not, a quota refusal, session
ends, the daemon's own resources). Real daemon, real sandboxes."""
import http.client

from airlock_api import expect

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover - the prerequisite rule fails it under CI
    text_string_to_metric_families = None

from conftest import require


def scrape(client) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    require(text_string_to_metric_families is not None,
            "prometheus_client is not installed (pip install prometheus-client)")
    resp = client.request("GET", "/metrics", auth=False)  # no Authorization: like the probes
    assert resp.status == 200, resp
    assert resp.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    body = resp.body.decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name, **labels):
    return get(after, name, **labels) - get(before, name, **labels)


def test_metrics_move_with_activity(client, sessions):
    before = scrape(client)
    sid = sessions()  # a default session: from the warm pool (or a miss when it is empty)
    client.run_ok(sid, "1 + 1")
    client.execute(sid, "1 / 0")
    client.execute(sid, "import time\ntime.sleep(5)", timeout_seconds=0.5)
    client.execute(sid, "'js'", language="javascript")
    client.execute(sid, "echo bash", language="bash")
    client.execute(sid, "false", language="bash")
    small = sessions(limits={"memory_mb": 64})  # not the pool's shape: a cold start
    ex = client.execute(small, "data = bytearray(512 * 1024 * 1024)", timeout_seconds=120)
    assert ex["killed_reason"] == "oom", ex
    after = scrape(client)

    assert delta(before, after, "airlock_executions_total", language="python", status="ok") == 1
    assert delta(before, after, "airlock_executions_total", language="python", status="error") == 1
    assert delta(before, after, "airlock_executions_total", language="python", status="timeout") == 1
    assert delta(before, after, "airlock_executions_total", language="python", status="killed") == 1
    assert delta(before, after, "airlock_executions_total", language="javascript", status="ok") == 1
    assert delta(before, after, "airlock_executions_total", language="bash", status="ok") == 1
    assert delta(before, after, "airlock_executions_total", language="bash", status="error") == 1
    assert delta(before, after, "airlock_executions_killed_total", reason="oom") == 1
    assert delta(before, after, "airlock_sessions_ended_total", reason="oom") == 1
    # the duration histogram counted all seven, and the timeout's half second is in its sum
    count = sum(delta(before, after, "airlock_execution_duration_seconds_count", language=lang)
                for lang in ("python", "javascript", "typescript", "bash", "unknown"))
    assert count == 7
    assert delta(before, after, "airlock_execution_duration_seconds_sum", language="python") >= 0.5
    fast = delta(before, after, "airlock_execution_duration_seconds_bucket", language="python", le="0.25")
    assert fast <= 3, "the timed-out execution took longer than 0.25 s"
    assert delta(before, after, "airlock_execution_duration_seconds_bucket", language="python", le="+Inf") == 4
    assert delta(before, after, "airlock_sessions_created_total") == 2
    created = sum(delta(before, after, "airlock_session_create_duration_seconds_count", pool=p) for p in ("hit", "miss"))
    assert created == 2
    assert delta(before, after, "airlock_session_create_duration_seconds_count", pool="miss") >= 1
    hits = delta(before, after, "airlock_pool_hits_total")
    assert hits == delta(before, after, "airlock_session_create_duration_seconds_count", pool="hit")
    assert get(after, "airlock_sessions_active") >= 1  # sid is live (small ended with its OOM)
    assert get(after, "process_resident_memory_bytes") > 1 << 20
    assert get(after, "process_open_fds") > 3 and get(after, "process_threads") >= 2
    assert ("process_cpu_seconds_total", frozenset()) in after  # may still read 0.00 s: the daemon is light
    assert get(after, "process_start_time_seconds") > 1.6e9


def test_quota_refusals_and_session_ends_are_counted(client):
    before = scrape(client)
    expect(client.put("/v1/tenants/metrics-q", json={"max_sessions": 0, "max_memory_mb": 0}), 200)
    token = expect(client.post("/v1/keys", json={"tenant": "metrics-q"}), 201).json["token"]
    expect(client.with_key(token).post("/v1/sessions", json={}), 429, "quota_exceeded")
    sid = expect(client.post("/v1/sessions", json={}), 201).json["id"]
    active = get(scrape(client), "airlock_sessions_active")
    expect(client.delete("/v1/sessions/" + sid), 200)
    after = scrape(client)
    assert delta(before, after, "airlock_sessions_refused_total", reason="quota") == 1
    assert delta(before, after, "airlock_sessions_ended_total", reason="deleted") == 1
    assert get(after, "airlock_sessions_active") == active - 1


def test_metrics_need_no_key_and_carry_no_user_data(client, sid):
    client.run_ok(sid, "print('secret-marker-123')")
    conn = http.client.HTTPConnection(client.host, client.port, timeout=30)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    assert "secret-marker-123" not in body and sid not in body
    assert "# TYPE airlock_executions_total counter" in body
    assert "# TYPE airlock_execution_duration_seconds histogram" in body


def test_dashboard_and_alert_rules_use_metrics_that_exist(client, sid):
    import json
    import re
    from pathlib import Path

    import yaml

    deploy = Path(__file__).resolve().parents[2] / "deploy"
    exprs = [t["expr"] for p in json.loads((deploy / "grafana" / "airlock-dashboard.json").read_text())["panels"]
             for t in p["targets"]]
    rules = yaml.safe_load((deploy / "prometheus" / "airlock-alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    names = {n for e in exprs for n in re.findall(r"\b((?:airlock|process)_[a-z_]+)", e)}
    scraped = {name for name, _ in scrape_with(client)}  # with a key: the per-session series too
    missing = sorted(n for n in names if n not in scraped)
    assert not missing, "deploy/ uses metrics the daemon does not export: %s" % missing
    assert len(names) >= 10


def test_executions_report_cpu_and_peak_memory(client, sid):
    """Each execution carries its sandbox's CPU time and memory high-water mark, from the
    cgroup; the audit entry records the same figures."""
    busy = client.run_ok(sid, "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass")
    assert 0.25 <= busy["cpu_seconds"] <= busy["duration_ms"] / 1000 + 0.1, busy
    big = client.run_ok(sid, "blob = b'x' * (96 * 1024 * 1024)")
    assert big["peak_memory_bytes"] >= 96 * 1024 * 1024, big
    assert big["cpu_seconds"] < busy["cpu_seconds"], (big, busy)
    client.run_ok(sid, "del blob")
    small = client.run_ok(sid, "1")
    iso = expect(client.get("/v1/sessions/" + sid), 200).json["isolation"]
    if iso["cgroup"] == "v1":
        # Reset at each execution's start (to what is in use then): the freed 96 MiB is gone.
        assert small["peak_memory_bytes"] < 64 * 1024 * 1024, small
    else:
        # cgroup v2 (before Linux 6.12) keeps the session's peak: documented in the schema.
        assert small["peak_memory_bytes"] >= 96 * 1024 * 1024, small
    entries = expect(client.get("/v1/audit?session=%s&action=execution" % sid), 200).json["entries"]
    by_id = {e["execution_id"]: e for e in entries}
    assert by_id[busy["execution_id"]]["cpu_seconds"] == busy["cpu_seconds"]
    assert by_id[big["execution_id"]]["peak_memory_bytes"] == big["peak_memory_bytes"]


def scrape_with(client) -> dict:
    require(text_string_to_metric_families is not None,
            "prometheus_client is not installed (pip install prometheus-client)")
    resp = client.request("GET", "/metrics")
    assert resp.status == 200, resp
    samples = {}
    for family in text_string_to_metric_families(resp.body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def test_per_session_usage_needs_a_key_and_stays_in_its_tenant(client, sessions):
    sid = sessions()
    client.run_ok(sid, "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2:\n    pass\n"
                       "held = b'y' * (48 * 1024 * 1024)")
    admin = scrape_with(client)
    cpu = get(admin, "airlock_session_cpu_seconds_total", session=sid, tenant="default")
    mem = get(admin, "airlock_session_memory_bytes", session=sid, tenant="default")
    assert cpu >= 0.2 and mem >= 48 * 1024 * 1024, (cpu, mem)
    assert get(admin, "airlock_sessions_memory_bytes") >= mem
    assert get(admin, "airlock_execution_cpu_seconds_total", language="python") >= 0.2
    # Anonymous: aggregates only, no session or tenant names.
    anon = scrape(client)
    assert not [k for k in anon if k[0].startswith("airlock_session_cpu") or k[0].startswith("airlock_session_memory")]
    assert get(anon, "airlock_sessions_memory_bytes") >= mem
    # Another tenant's keys, even an admin one, see their own sessions' series, not this one.
    for scopes in (["sessions"], ["admin", "sessions"]):
        token = expect(client.post("/v1/keys", json={"tenant": "metrics-other", "scopes": scopes}), 201).json["token"]
        other_client = client.with_key(token)
        theirs = expect(other_client.post("/v1/sessions", json={}), 201).json["id"]
        other = scrape_with(other_client)
        assert not [k for k in other if dict(k[1]).get("session") == sid], scopes
        assert get(other, "airlock_session_memory_bytes", session=theirs, tenant="metrics-other") > 0
        expect(other_client.delete("/v1/sessions/" + theirs), 200)
    # A key that is sent must be valid.
    bad = client.request("GET", "/metrics", headers={"Authorization": "Bearer ak_nope.sk_nope"}, auth=False)
    assert bad.status == 401, bad
