"""The warm pool's preload (pool_preload, docs/operations.md): a pooled sandbox's runner has
imported the data stack before the session exists, outside the session's namespace; a
session of another shape (not pooled) has not; a daemon with `pool_preload: none` does not
preload (the control that the preload is what did it). No timing is asserted here: the
benchmark (bench/run.py, B1p) measures what it saves."""
import re
import time

import pytest
from airlock_api import Client, expect
from conftest import HOST, Daemon

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


def test_a_pooled_session_starts_with_the_data_stack_imported(client, sessions):
    wait_preloaded(client, 1)
    hits = metric(client, "airlock_pool_hits_total")
    sid = sessions()
    assert metric(client, "airlock_pool_hits_total") == hits + 1  # it came from the pool
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
    sid = sessions(limits={"memory_mb": 600})  # not the pool's shape: built on demand
    assert client.value(sid, CHECK) == "([], False)"


def test_pool_preload_none_preloads_nothing(checker, tmp_path):
    config = tmp_path / "airlock.yaml"
    config.write_text("pool_size: 1\npool_preload: none\n")
    config.chmod(0o644)
    tmp_path.chmod(0o755)
    d = Daemon(checker)
    d.argv += ["--config", str(config)]
    d.start()
    try:
        c = Client(HOST, d.port, d.key, checker)
        deadline = time.monotonic() + 60
        while metric(c, "airlock_pool_ready") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert metric(c, "airlock_pool_ready") == 1
        time.sleep(1.5)  # past the idle time after which a preload would start
        assert metric(c, "airlock_pool_preloaded") == 0
        sid = c.create_session()["id"]
        assert metric(c, "airlock_pool_hits_total") == 1
        assert c.value(sid, CHECK) == "([], False)"
    finally:
        d.stop()
