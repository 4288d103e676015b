"""Sessions can't see each other: files, variables, processes; and many sessions used at
once from many threads don't mix their answers."""
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

from airlock_api import expect, file_target


def test_two_sessions_see_nothing_of_each_other(client, sessions):
    a = sessions()
    b = sessions()
    token = secrets.token_hex(8)
    expect(client.put(file_target(a, "secret.txt"), body=token.encode()), 201)
    client.run_ok(a, "secret_var = %r\nimport subprocess, sys\n"
                     "sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', %r])"
                  % (token, "marker-" + token))
    # B's workspace, seen through the API and from inside
    listing = expect(client.get("/v1/sessions/%s/files" % b), 200).json["entries"]
    assert "secret.txt" not in [e["name"] for e in listing], listing
    expect(client.get(file_target(b, "secret.txt")), 404, "file_not_found")
    assert client.value(b, "import os; os.listdir('/workspace')") == "[]"
    # B's variables
    assert client.value(b, "'secret_var' in globals()") == "False"
    ex = client.execute(b, "secret_var")
    assert ex["status"] == "error" and ex["error"]["name"] == "NameError", ex
    # B's processes: A's sleeper is invisible, and nothing of A's shows anywhere in B's /proc
    procs = client.run_ok(b, """
import os, json
seen = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            seen.append(open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ').decode())
        except OSError:
            pass
print(json.dumps(seen))
""")["stdout"]
    assert token not in procs, "session B sees session A's process: %s" % procs
    assert len(json.loads(procs)) < 20, "B sees more processes than its own: %s" % procs
    # B searching the filesystem for A's token finds nothing
    ex = client.run_ok(b, """
import os
hits = []
for top in ('/tmp', '/workspace', '/dev/shm', '/run', '/var/tmp'):
    for root, dirs, files in os.walk(top):
        for f in files:
            try:
                if %r in open(os.path.join(root, f), 'rb').read(1 << 20):
                    hits.append(os.path.join(root, f))
            except OSError:
                pass
hits
""" % token.encode())
    assert ex["results"] == [{"text/plain": "[]"}], ex
    # and A still has everything
    assert client.value(a, "secret_var") == repr(token)
    assert expect(client.get(file_target(a, "secret.txt")), 200).body == token.encode()
    # deleting A leaves B alone
    expect(client.delete("/v1/sessions/" + a), 200)
    assert client.value(b, "40 + 2") == "42"


def test_fifty_sessions_at_once_without_cross_talk(client, sessions):
    n = 50

    def worker(i):
        s = client.create_session(metadata={"index": str(i)}, limits={"memory_mb": 128})
        sid = s["id"]
        sessions.ids.append(sid)  # list.append is atomic: cleanup sees every session
        client.run_ok(sid, "i = %d\nacc = []" % i)
        payload = ("session-%d-" % i).encode() * 1000
        expect(client.put(file_target(sid, "mine.txt"), body=payload), 201)
        for step in range(5):
            ex = client.run_ok(sid, "acc.append(i * 1000 + %d)\nprint(i)\nsum(acc)" % step)
            want = sum(i * 1000 + k for k in range(step + 1))
            assert ex["stdout"] == "%d\n" % i, (i, ex)
            assert ex["results"] == [{"text/plain": str(want)}], (i, step, ex)
        prefix = "session-%d-" % i
        assert client.value(sid, "open('/workspace/mine.txt').read(%d)" % len(prefix)) == repr(prefix)
        assert client.value(sid, "import os; sorted(os.listdir('/workspace'))") == "['mine.txt']"
        assert expect(client.get(file_target(sid, "mine.txt")), 200).body == payload
        got = client.get_session(sid)
        assert got["metadata"] == {"index": str(i)}
        gone = expect(client.delete("/v1/sessions/" + sid), 200).json
        assert gone["status"] == "ended"
        return sid

    with ThreadPoolExecutor(max_workers=n) as pool:
        ids = list(pool.map(worker, range(n)))
    assert len(set(ids)) == n, "session ids must be unique"
    live = [s["id"] for s in expect(client.get("/v1/sessions"), 200).json["sessions"]]
    assert not set(ids) & set(live), "deleted sessions are still listed"
