"""GET /v1/stats: figures computed from the recorded executions match a known workload
(counts, rates, average and nearest-rank p95 durations, CPU, peak memory, per language and
per interpreter, in periods), stay within the caller's tenant, and bad queries are refused
naming the parameter. Real daemon, real sandboxes."""
import math
from datetime import UTC, datetime, timedelta

import pytest
from airlock_api import expect


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def workload(client):
    """A tenant of its own, so that its figures are exactly this workload's."""
    key = expect(client.post("/v1/keys", json={"tenant": "stats-t"}), 201).json["token"]
    c = client.with_key(key)
    since = datetime.now(UTC) - timedelta(seconds=2)
    sid = expect(c.post("/v1/sessions", json={}), 201).json["id"]
    runs = [
        c.execute(sid, "1 + 1"),
        c.execute(sid, "import time\ntime.sleep(0.3)"),
        c.execute(sid, "blob = b'x' * (64 * 1024 * 1024)\ndel blob"),
        c.execute(sid, "t = __import__('time').process_time()\nwhile __import__('time').process_time() - t < 0.2:\n"
                       "    pass"),
        c.execute(sid, "1 / 0"),
        c.execute(sid, "import time\ntime.sleep(5)", timeout_seconds=0.5),
        c.execute(sid, "[1, 2].map(x => x * 2)", language="javascript"),
        c.execute(sid, "await new Promise(r => setTimeout(r, 100)); 'late'", language="javascript"),
        c.execute(sid, "false", language="bash"),
    ]
    expect(c.delete("/v1/sessions/" + sid), 200)
    return c, since, runs


def expected(runs):
    durations = sorted(r["duration_ms"] for r in runs)
    n = len(runs)
    count = {s: sum(r["status"] == s for r in runs) for s in ("ok", "error", "timeout", "killed")}
    peaks = [r["peak_memory_bytes"] for r in runs if r["peak_memory_bytes"] is not None]
    return {"executions": n, "ok": count["ok"], "errors": count["error"], "timeouts": count["timeout"],
            "killed": count["killed"], "success_rate": count["ok"] / n, "error_rate": count["error"] / n,
            "avg_duration_ms": sum(durations) / n, "p95_duration_ms": durations[math.ceil(0.95 * n) - 1],
            "cpu_seconds": sum(r["cpu_seconds"] or 0 for r in runs), "peak_memory_bytes": max(peaks)}


def check(bucket, runs):
    want = expected(runs)
    for k, v in want.items():
        assert bucket[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (k, bucket, want)


def test_figures_match_the_workload_per_language(workload):
    c, since, runs = workload
    stats = expect(c.get("/v1/stats?by=language&since=" + stamp(since)), 200).json
    assert stats["tenant"] == "stats-t" and stats["by"] == "language"
    groups = {s["group"]: s["buckets"] for s in stats["series"]}
    assert sorted(groups) == ["bash", "javascript", "python"], groups
    for lang, buckets in groups.items():
        assert len(buckets) == 1, buckets  # the whole range is one period by default
        check(buckets[0], [r for r in runs if r["language"] == lang])
    py = groups["python"][0]
    assert (py["ok"], py["errors"], py["timeouts"]) == (4, 1, 1)
    assert py["peak_memory_bytes"] >= 64 * 1024 * 1024 and py["cpu_seconds"] >= 0.2
    assert groups["bash"][0]["error_rate"] == 1.0


def test_figures_per_interpreter_and_filters(workload):
    c, since, runs = workload
    stats = expect(c.get("/v1/stats?since=" + stamp(since)), 200).json
    assert [s["group"] for s in stats["series"]] == ["default"]
    check(stats["series"][0]["buckets"][0], runs)
    only_js = expect(c.get("/v1/stats?language=javascript&since=" + stamp(since)), 200).json
    check(only_js["series"][0]["buckets"][0], [r for r in runs if r["language"] == "javascript"])
    none = expect(c.get("/v1/stats?interpreter=nope&since=" + stamp(since)), 200).json
    assert none["series"] == []


def test_periods_split_the_range(workload):
    c, since, runs = workload
    start = since - timedelta(minutes=10)
    stats = expect(c.get("/v1/stats?bucket=1m&since=%s" % stamp(start)), 200).json
    assert stats["bucket_seconds"] == 60
    buckets = stats["series"][0]["buckets"]
    assert sum(b["executions"] for b in buckets) == len(runs)
    for b in buckets:  # each period starts on the grid from `since`
        t = datetime.strptime(b["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert (t - start.replace(microsecond=0)).total_seconds() % 60 == 0, b
    # A range that ended before the workload has nothing in it.
    early = expect(c.get("/v1/stats?since=%s&until=%s" % (stamp(start), stamp(start + timedelta(minutes=5)))),
                   200).json
    assert early["series"] == []


def test_tenants_see_only_their_own(client, workload):
    c, since, runs = workload
    other = client.with_key(expect(client.post("/v1/keys", json={"tenant": "stats-other"}), 201).json["token"])
    assert expect(other.get("/v1/stats?since=" + stamp(since)), 200).json["series"] == []
    expect(other.get("/v1/stats?tenant=stats-t"), 403, "forbidden")
    expect(c.get("/v1/stats?tenant=default"), 403, "forbidden")
    # The operator (an admin key of tenant default) may look at any tenant, or all of them.
    theirs = expect(client.get("/v1/stats?tenant=stats-t&since=" + stamp(since)), 200).json
    check(theirs["series"][0]["buckets"][0], runs)
    everyone = expect(client.get("/v1/stats?by=tenant&since=" + stamp(since)), 200).json
    assert everyone["tenant"] is None
    assert "stats-t" in [s["group"] for s in everyone["series"]]


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"),
    ("since=2026-02-30T00:00:00Z", "since"),
    ("until=2026-01-01T00:00:00", "until"),
    ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"),
    ("bucket=59", "bucket"),
    ("bucket=5w", "bucket"),
    ("bucket=-1h", "bucket"),
    ("bucket=99999999999999999999", "bucket"),
    ("since=2000-01-01T00:00:00Z&bucket=60", "bucket"),  # over 10000 periods
    ("by=session", "by"),
    ("language=cobol", "language"),
    ("interpreter=a%20b", "interpreter"),
    ("tenant=Upper", "tenant"),
])
def test_bad_queries_name_the_parameter(client, query, field):
    err = expect(client.get("/v1/stats?" + query), 400, "invalid_request").json["error"]
    assert err["field"] == field, err


def test_stats_need_a_key(anon):
    expect(anon.get("/v1/stats"), 401, "unauthorized")


def test_a_year_of_hourly_periods_is_within_bounds(client):
    end = datetime.now(UTC)
    stats = expect(client.get("/v1/stats?bucket=1h&since=%s" % stamp(end - timedelta(days=365))), 200).json
    assert stats["bucket_seconds"] == 3600
