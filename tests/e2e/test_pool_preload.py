"""The warm pool's preload (pool_preload, docs/operations.md): a pooled sandbox's runner has
imported the data stack before the session exists, outside the session's namespace; a
session of another shape (not pooled) has not; a daemon with `pool_preload: none` does not
preload (the control that the preload is what did it). The `start` switch (interpreters and
sessions; docs/architecture.md 6.5): `fresh` never takes a pooled sandbox, `warm` (the
default) does, and each session says how it was started. No timing is asserted here: the
benchmark (bench/run.py, B1p) measures what it saves.

The pooled sessions here come from an interpreter of their own with `start: warm`, so that
these tests hold when the suite runs with the built-in interpreter switched to `fresh`
(AIRLOCK_E2E_START=fresh, conftest.py)."""
import re
import secrets
import signal
import time

import pytest
from airlock_api import Client, expect
from conftest import HOST, Daemon

PRELOAD = ["numpy", "pandas", "matplotlib.pyplot"]  # the daemon's default pool_preload

CHECK = "import sys\n(sorted(m for m in ('numpy', 'pandas', 'matplotlib.pyplot') if m in sys.modules), 'pandas' in dir())"


def metric(client, name: str) -> float:
    text = expect(client.get("/metrics"), 200).body.decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, name
    return float(m.group(1))


def wait_preloaded(client, want: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while metric(client, "airlock_pool_preloaded") < want:
        if time.monotonic() > deadline:
            pytest.fail("the warm pool did not preload %d sandbox(es) in %.0f s" % (want, seconds))
        time.sleep(0.2)


@pytest.fixture
def interpreter(client):
    """Makes interpreters of the default shape for one test; deletes them afterwards (a test
    names this fixture before `sessions`, whose sessions are then deleted first)."""
    made = []

    def make(**fields) -> str:
        name = "start-%s" % secrets.token_hex(4)
        expect(client.post("/v1/interpreters", json={"name": name, **fields}), 201)
        made.append(name)
        return name

    yield make
    for name in made:
        expect(client.delete("/v1/interpreters/" + name), 204)


def test_a_pooled_session_starts_with_the_data_stack_imported(client, interpreter, sessions):
    warm = interpreter(start="warm")
    wait_preloaded(client, 1)
    hits = metric(client, "airlock_pool_hits_total")
    doc = sessions.new(interpreter=warm)
    sid = doc["id"]
    assert metric(client, "airlock_pool_hits_total") == hits + 1  # it came from the pool
    assert doc["start"] == {"mode": "warm", "from_pool": True, "preloaded": PRELOAD}, doc
    assert expect(client.get("/v1/sessions/" + sid), 200).json["start"] == doc["start"]
    # imported, but no name bound in the session's namespace, and nothing left in the
    # workspace (fontconfig's cache, say: caches go to /tmp)
    assert client.value(sid, CHECK) == "(['matplotlib.pyplot', 'numpy', 'pandas'], False)"
    assert client.value(sid, "import os\nos.listdir('/workspace')") == "[]"
    # and the preloaded pyplot still turns figures into results (the runner's hooks hold)
    ex = client.run_ok(sid, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert any("image/png" in r for r in ex["results"]), ex
    assert client.value(sid, "import pandas as pd\nint(pd.DataFrame({'a': [1, 2, 3]}).a.sum())") == "6"
    assert client.value(sid, "os.listdir('/workspace')") == "[]"


def test_a_session_of_another_shape_is_not_preloaded(client, sessions):
    doc = sessions.new(limits={"memory_mb": 600})  # not the pool's shape: built on demand
    assert doc["start"]["from_pool"] is False and doc["start"]["preloaded"] == [], doc
    assert client.value(doc["id"], CHECK) == "([], False)"


def test_a_session_asking_for_a_fresh_start_gets_no_pooled_sandbox(client, interpreter, sessions):
    warm = interpreter(start="warm")
    wait_preloaded(client, 1)
    hits = metric(client, "airlock_pool_hits_total")
    doc = sessions.new(interpreter=warm, start="fresh")
    assert doc["start"] == {"mode": "fresh", "from_pool": False, "preloaded": []}, doc
    assert metric(client, "airlock_pool_hits_total") == hits  # the pool was not asked
    assert metric(client, "airlock_pool_preloaded") >= 1      # and its warm sandbox is still there
    assert client.value(doc["id"], CHECK) == "([], False)"
    assert client.value(doc["id"], "import os\nos.listdir('/workspace')") == "[]"
    # control: the same interpreter, warm, in the same state of the pool, gets the warm sandbox
    doc = sessions.new(interpreter=warm)
    assert doc["start"] == {"mode": "warm", "from_pool": True, "preloaded": PRELOAD}, doc
    assert metric(client, "airlock_pool_hits_total") == hits + 1
    assert client.value(doc["id"], CHECK) == "(['matplotlib.pyplot', 'numpy', 'pandas'], False)"


def test_an_interpreter_that_starts_fresh(client, interpreter, sessions):
    fresh = interpreter(start="fresh", description="every session in a sandbox of its own making")
    assert expect(client.get("/v1/interpreters/" + fresh), 200).json["start"] == "fresh"
    wait_preloaded(client, 1)
    hits = metric(client, "airlock_pool_hits_total")
    for _ in range(2):
        doc = sessions.new(interpreter=fresh)
        assert doc["start"] == {"mode": "fresh", "from_pool": False, "preloaded": []}, doc
        assert client.value(doc["id"], CHECK) == "([], False)"
    assert metric(client, "airlock_pool_hits_total") == hits
    # a session cannot ask its way out of it
    r = expect(client.post("/v1/sessions", json={"interpreter": fresh, "start": "warm"}), 400, "invalid_request")
    assert r.json["error"]["field"] == "start" and fresh in r.json["error"]["message"], r.json
    # switched back to warm (PATCH), its sessions come from the pool again (the control)
    assert expect(client.patch("/v1/interpreters/" + fresh, json={"start": "warm"}), 200).json["start"] == "warm"
    wait_preloaded(client, 1)
    doc = sessions.new(interpreter=fresh)
    assert doc["start"] == {"mode": "warm", "from_pool": True, "preloaded": PRELOAD}, doc
    assert metric(client, "airlock_pool_hits_total") == hits + 1


@pytest.mark.parametrize("target,body", [
    ("/v1/sessions", {"start": "cold"}),
    ("/v1/sessions", {"start": True}),
    ("/v1/interpreters", {"name": "start-bad", "start": "lukewarm"}),
    ("/v1/interpreters", {"name": "start-bad", "start": ["fresh"]}),
])
def test_start_must_be_warm_or_fresh(client, target, body):
    r = expect(client.post(target, json=body), 400, "invalid_request")
    assert r.json["error"]["field"] == "start", r.json
    assert expect(client.get("/v1/interpreters/start-bad"), 404)


def one_sandbox_pool(checker, tmp_path) -> Daemon:
    """A daemon of its own whose pool holds one sandbox that preloads nothing."""
    config = tmp_path / "airlock.yaml"
    config.write_text("pool_size: 1\npool_preload: none\n")
    config.chmod(0o644)
    tmp_path.chmod(0o755)
    d = Daemon(checker)
    d.argv += ["--config", str(config)]
    d.start()
    return d


def wait_pool_ready(c: Client) -> None:
    deadline = time.monotonic() + 60
    while metric(c, "airlock_pool_ready") < 1:
        assert time.monotonic() < deadline, "the pool did not fill in 60 s"
        time.sleep(0.1)


def test_pool_preload_none_preloads_nothing(checker, tmp_path):
    d = one_sandbox_pool(checker, tmp_path)
    try:
        c = Client(HOST, d.port, d.key, checker)
        wait_pool_ready(c)
        time.sleep(1.5)  # past the idle time after which a preload would start
        assert metric(c, "airlock_pool_preloaded") == 0
        sid = c.create_session()["id"]
        assert metric(c, "airlock_pool_hits_total") == 1
        assert c.value(sid, CHECK) == "([], False)"
    finally:
        d.stop()


def test_the_pool_takes_the_built_in_interpreters_limits_at_start(checker, tmp_path):
    """The pool holds sandboxes of the built-in interpreter's limits as stored when the
    daemon starts: changed (or kept from an older version's defaults), its sessions are
    pool hits again after a restart; before the restart they are not (the control)."""
    d = one_sandbox_pool(checker, tmp_path)
    try:
        c = Client(HOST, d.port, d.key, checker)
        expect(c.patch("/v1/interpreters/default", json={"limits": {"memory_mb": 600}}), 200)
        wait_pool_ready(c)
        doc = c.create_session()
        assert doc["limits"]["memory_mb"] == 600 and doc["start"]["from_pool"] is False, doc
        expect(c.delete("/v1/sessions/" + doc["id"]), 200)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=30) == 0
        d._log.close()
        d.start()  # the same data dir: the changed interpreter is kept
        wait_pool_ready(c)
        doc = c.create_session()
        assert doc["limits"]["memory_mb"] == 600 and doc["start"]["from_pool"] is True, doc
        expect(c.delete("/v1/sessions/" + doc["id"]), 200)
    finally:
        d.stop()
