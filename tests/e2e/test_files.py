"""Workspace files: round trips, streaming, listing, deleting, quota, and every way out of
the workspace a client or the code in the sandbox can try."""
import hashlib
import os
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import conftest
import procs
import pytest
from airlock_api import expect, file_target


def put(client, sid, path, data=b"", **kw):
    return client.put(file_target(sid, path), body=data, content_type=kw.pop("content_type", "application/octet-stream"), **kw)


def get(client, sid, path, **kw):
    return client.get(file_target(sid, path), **kw)


def listing(client, sid, path=None):
    target = "/v1/sessions/%s/files" % sid
    if path is not None:
        target += "?path=" + urllib.parse.quote(path, safe="")
    return client.get(target)


def entries(client, sid, path=None):
    resp = expect(listing(client, sid, path), 200)
    assert resp.json["path"] == (path or ""), resp
    return {e["name"]: e for e in resp.json["entries"]}


def test_text_round_trip_both_ways(client, sid):
    text = "h\u00e9llo\nw\u00f6rld\n".encode()
    resp = expect(put(client, sid, "hello.txt", text, content_type="text/plain; charset=utf-8"), 201)
    assert resp.json == {"path": "hello.txt", "size": len(text)}
    resp = expect(get(client, sid, "hello.txt"), 200)
    assert resp.body == text
    assert resp.header("Content-Type").split(";")[0] == "application/octet-stream"
    assert resp.header("Content-Length") == str(len(text))
    # the sandbox sees it, owns it and can change it
    assert client.value(sid, "open('/workspace/hello.txt', encoding='utf-8').read()") == repr(text.decode())
    client.run_ok(sid, "open('/workspace/hello.txt', 'a').write('more')\nimport os; os.chmod('/workspace/hello.txt', 0o600)")
    assert expect(get(client, sid, "hello.txt"), 200).body == text + b"more"
    # and what code writes can be read
    client.run_ok(sid, "open('/workspace/made.txt', 'w').write('by code')")
    assert expect(get(client, sid, "made.txt"), 200).body == b"by code"


def test_binary_round_trip(client, sid):
    data = bytes(range(256)) * 64 + b"\r\n\x00\xff" + bytes(range(255, -1, -1))
    expect(put(client, sid, "all.bin", data), 201)
    assert expect(get(client, sid, "all.bin"), 200).body == data
    assert client.value(sid, "import hashlib; hashlib.sha256(open('/workspace/all.bin', 'rb').read()).hexdigest()") \
        == repr(hashlib.sha256(data).hexdigest())


def test_replace_empty_nested_and_unusual_names(client, sid):
    expect(put(client, sid, "f.txt", b"0123456789"), 201)
    resp = expect(put(client, sid, "f.txt", b"abc"), 201)
    assert resp.json == {"path": "f.txt", "size": 3}
    assert expect(get(client, sid, "f.txt"), 200).body == b"abc", "a replaced file is truncated"

    resp = expect(put(client, sid, "empty", b""), 201)
    assert resp.json == {"path": "empty", "size": 0}
    resp = expect(get(client, sid, "empty"), 200)
    assert resp.body == b"" and resp.header("Content-Length") == "0"

    expect(put(client, sid, "deep/er/still/file.txt", b"deep"), 201)
    assert entries(client, sid, "deep")["er"]["type"] == "directory"
    assert entries(client, sid, "deep/er")["still"]["mode"] == "0755"
    assert expect(get(client, sid, "deep/er/still/file.txt"), 200).body == b"deep"

    name = "donn\u00e9es/r\u00e9sum\u00e9 \u2713 #1?.txt"
    resp = expect(put(client, sid, name, b"unicode"), 201)
    assert resp.json["path"] == name
    assert "r\u00e9sum\u00e9 \u2713 #1?.txt" in entries(client, sid, "donn\u00e9es")
    assert expect(get(client, sid, name), 200).body == b"unicode"

    # %2F is a slash (generated clients escape / in {path})
    expect(client.put("/v1/sessions/%s/files/enc%%2Fpath.txt" % sid, body=b"enc"), 201)
    assert expect(get(client, sid, "enc/path.txt"), 200).body == b"enc"
    # a query string on a file route is not part of the path
    assert expect(client.get(file_target(sid, "f.txt", "?download=1")), 200).body == b"abc"


def test_listing_shows_type_size_mode_and_mtime(client, sid):
    expect(put(client, sid, "api.txt", b"12345"), 201)
    client.run_ok(sid, """
import os
open('/workspace/private.txt', 'w').write('x' * 1000)
os.chmod('/workspace/private.txt', 0o600)
os.mkdir('/workspace/dir')
os.chmod('/workspace/dir', 0o750)
os.symlink('/etc', '/workspace/link')
os.mkfifo('/workspace/fifo')
open('/workspace/old.txt', 'w').write('old')
os.utime('/workspace/old.txt', (1700000000, 1700000000))
open('/workspace/.hidden', 'w').write('h')
""")
    resp = expect(listing(client, sid), 200)
    assert resp.json["path"] == ""
    names = [e["name"] for e in resp.json["entries"]]
    assert names == sorted(names, key=lambda n: n.encode()), "sorted by name"
    e = {x["name"]: x for x in resp.json["entries"]}
    assert set(e) == {"api.txt", "private.txt", "dir", "link", "fifo", "old.txt", ".hidden"}, names
    assert (e["api.txt"]["type"], e["api.txt"]["size"], e["api.txt"]["mode"]) == ("file", 5, "0644")
    assert (e["private.txt"]["type"], e["private.txt"]["size"], e["private.txt"]["mode"]) == ("file", 1000, "0600")
    assert (e["dir"]["type"], e["dir"]["size"], e["dir"]["mode"]) == ("directory", 0, "0750")
    assert (e["link"]["type"], e["link"]["size"]) == ("symlink", len("/etc"))
    assert e["fifo"]["type"] == "other"
    assert e["old.txt"]["mtime"].startswith("2023-11-14T22:13:20"), e["old.txt"]
    now = time.time()
    mtime = datetime.strptime(e["api.txt"]["mtime"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    assert abs(now - mtime) < 120, (now, e["api.txt"]["mtime"])
    # same answer with path= empty
    assert expect(client.get("/v1/sessions/%s/files?path=" % sid), 200).json["entries"] == resp.json["entries"]


def test_not_found_and_wrong_kinds(client, sid):
    expect(get(client, sid, "missing.txt"), 404, "file_not_found")
    expect(get(client, sid, "missing/dir/file.txt"), 404, "file_not_found")
    expect(client.delete(file_target(sid, "missing.txt")), 404, "file_not_found")
    expect(listing(client, sid, "missing"), 404, "file_not_found")
    expect(put(client, sid, "d/f.txt", b"x"), 201)
    client.run_ok(sid, "import os; os.mkfifo('/workspace/fifo')")
    expect(get(client, sid, "d"), 400, "invalid_request", "path")  # a directory: list it
    expect(listing(client, sid, "d/f.txt"), 400, "invalid_request", "path")  # a file: read it
    expect(put(client, sid, "d", b"x"), 400, "invalid_request", "path")  # a directory is not replaced
    expect(put(client, sid, "d/f.txt/sub", b"x"), 400, "invalid_request", "path")  # a file as a parent
    # a FIFO must neither hang a read nor a write
    expect(client.get(file_target(sid, "fifo"), timeout=30), 400, "invalid_request", "path")
    expect(client.put(file_target(sid, "fifo"), body=b"x", timeout=30), 400, "invalid_request", "path")
    assert expect(get(client, sid, "d/f.txt"), 200).body == b"x"


BAD_PATHS = [
    "..", "../x", "../../../../etc/passwd", "a/../../x", "a/..", ".", "./x", "a/./b", "a//b", "a/",
    "/etc/passwd", "//etc/passwd", "%2e%2e/x", "%2E%2E%2Fx", "a%2F..%2F..%2Fx", "%2Fetc%2Fpasswd",
    "x%00y", "%00", "n" * 256, ("d" * 100 + "/") * 41 + "f",
]


@pytest.mark.parametrize("raw", BAD_PATHS, ids=lambda p: p[:24])
def test_paths_that_leave_the_workspace_are_refused(client, sid, raw):
    target = "/v1/sessions/%s/files/%s" % (sid, raw)
    expect(client.put(target, body=b"pwned"), 400, "invalid_request", "path")
    expect(client.get(target), 400, "invalid_request", "path")
    expect(client.delete(target), 400, "invalid_request", "path")
    expect(client.delete(target + "?recursive=true"), 400, "invalid_request", "path")


@pytest.mark.parametrize("raw", ["..", "../", "/", "/etc", "a/../..", "a//b", "./", "%00", "x/."])
def test_listing_paths_that_leave_the_workspace_are_refused(client, sid, raw):
    target = "/v1/sessions/%s/files?path=%s" % (sid, urllib.parse.quote(raw, safe="%"))
    expect(client.get(target), 400, "invalid_request", "path")


def test_an_empty_file_path_is_refused(client, sid):
    target = "/v1/sessions/%s/files/" % sid
    expect(client.put(target, body=b"x"), 400, "invalid_request", "path")
    expect(client.get(target), 400, "invalid_request", "path")
    expect(client.delete(target + "?recursive=true"), 400, "invalid_request", "path")
    assert client.value(sid, "import os; os.path.isdir('/workspace')") == "True"


def test_symlinks_made_by_code_lead_nowhere(client, sid):
    passwd = Path("/etc/passwd").read_bytes()
    client.run_ok(sid, """
import os
os.symlink('/etc', '/workspace/evil')
os.symlink('/etc/passwd', '/workspace/pw')
os.symlink('..', '/workspace/up')
os.symlink('/proc/self/root', '/workspace/procroot')
open('/workspace/inside.txt', 'w').write('inside')
os.symlink('inside.txt', '/workspace/alias')
os.mkdir('/workspace/sub')
os.symlink('/', '/workspace/sub/root')
""")
    for path in ["evil/passwd", "evil", "pw", "up/etc/passwd", "up", "procroot/etc/passwd", "alias",
                 "sub/root/etc/passwd"]:
        expect(get(client, sid, path), 400, "invalid_request", "path")
    for path in ["evil/airlock-e2e-escape", "pw", "up/airlock-e2e-escape", "alias", "sub/root/tmp/airlock-e2e-escape"]:
        expect(put(client, sid, path, b"pwned"), 400, "invalid_request", "path")
    for path in ["evil", "up", "procroot", "sub/root"]:
        expect(listing(client, sid, path), 400, "invalid_request", "path")
    for path in ["evil/passwd", "up/etc", "sub/root/etc"]:
        expect(client.delete(file_target(sid, path, "?recursive=true")), 400, "invalid_request", "path")
    assert Path("/etc/passwd").read_bytes() == passwd
    assert not Path("/etc/airlock-e2e-escape").exists() and not Path("/tmp/airlock-e2e-escape").exists()
    # the link itself is listed (not followed) and can be removed, never its target
    e = entries(client, sid)
    assert e["evil"]["type"] == "symlink" and e["alias"]["type"] == "symlink"
    expect(client.delete(file_target(sid, "evil")), 204)
    expect(client.delete(file_target(sid, "pw")), 204)
    expect(client.delete(file_target(sid, "alias")), 204)
    assert Path("/etc/passwd").read_bytes() == passwd
    e = entries(client, sid)
    assert "evil" not in e and "pw" not in e and "alias" not in e and e["inside.txt"]["type"] == "file"
    assert client.value(sid, "open('/etc/passwd').read() != ''") == "True"


def test_delete_files_and_directories(client, sid):
    expect(put(client, sid, "gone.txt", b"x"), 201)
    expect(client.delete(file_target(sid, "gone.txt")), 204)
    expect(get(client, sid, "gone.txt"), 404, "file_not_found")
    expect(client.delete(file_target(sid, "gone.txt")), 404, "file_not_found")

    expect(put(client, sid, "keep/k.txt", b"keep"), 201)
    expect(put(client, sid, "tree/a/b/c.txt", b"c"), 201)
    expect(put(client, sid, "tree/top.txt", b"t"), 201)
    client.run_ok(sid, "import os\nos.symlink('../keep', '/workspace/tree/a/link')\n"
                       "os.symlink('/workspace/keep/k.txt', '/workspace/tree/abs')\nos.mkdir('/workspace/empty')")
    expect(client.delete(file_target(sid, "tree")), 400, "invalid_request", "recursive")
    expect(client.delete(file_target(sid, "tree", "?recursive=false")), 400, "invalid_request", "recursive")
    expect(client.delete(file_target(sid, "tree", "?recursive=yes")), 400, "invalid_request", "recursive")
    expect(client.delete(file_target(sid, "empty")), 400, "invalid_request", "recursive")
    assert "tree" in entries(client, sid)
    expect(client.delete(file_target(sid, "tree", "?recursive=true")), 204)
    expect(client.delete(file_target(sid, "empty", "?recursive=true")), 204)
    e = entries(client, sid)
    assert "tree" not in e and "empty" not in e
    assert expect(get(client, sid, "keep/k.txt"), 200).body == b"keep", "recursive delete followed a symlink"
    expect(put(client, sid, "single.txt", b"x"), 201)
    expect(client.delete(file_target(sid, "single.txt", "?recursive=true")), 204)


def _blocks(total_mib: int, seed: bytes):
    base = hashlib.sha256(seed).digest() * (1 << 15)  # 1 MiB
    for i in range(total_mib):
        yield i.to_bytes(8, "little") + base[8:]


def _airlock_processes(daemon):
    """Airlock's own processes (not sandboxes): the one started and its airlock children."""
    mine = [daemon.proc.pid]
    for pid, _ in conftest.descendants(daemon.proc.pid):
        try:
            exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            continue
        if exe.startswith("airlock") and not exe.startswith("airlock-init"):
            mine.append(pid)
    return mine


def _status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _is_asan_build() -> bool:
    try:
        return b"AddressSanitizer" in conftest.AIRLOCK.read_bytes()
    except OSError:
        return False


@pytest.mark.slow
def test_200_mb_streams_through(client, daemon, sessions):
    sid = sessions(limits={"workspace_mb": 300})
    mib = 200
    watched = _airlock_processes(daemon)
    rss_before = {}
    for pid in watched:
        try:
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")  # reset the peak RSS (VmHWM)
        except OSError:
            continue  # this kernel can't reset it: no memory check for this process
        rss_before[pid] = _status_kib(pid, "VmRSS")
    up = hashlib.sha256()

    def source():
        for block in _blocks(mib, b"e2e-200"):
            up.update(block)
            yield block

    resp = client.put(file_target(sid, "big/200mb.bin"), body=source(), content_length=mib << 20, timeout=600)
    expect(resp, 201)
    assert resp.json == {"path": "big/200mb.bin", "size": mib << 20}
    assert entries(client, sid, "big")["200mb.bin"]["size"] == mib << 20
    assert client.value(sid, "import os; os.path.getsize('/workspace/big/200mb.bin')") == str(mib << 20)

    down = hashlib.sha256()
    resp = client.get(file_target(sid, "big/200mb.bin"), sink=down.update, timeout=600)
    expect(resp, 200)
    assert resp.body_len == mib << 20 and resp.header("Content-Length") == str(mib << 20)
    assert down.hexdigest() == up.hexdigest(), "the download differs from the upload"

    # chunked upload (no Content-Length) too
    up2 = hashlib.sha256()

    def source2():
        for block in _blocks(32, b"chunked"):
            up2.update(block)
            yield block

    expect(client.put(file_target(sid, "big/chunked.bin"), body=source2(), timeout=600), 201)
    down2 = hashlib.sha256()
    expect(client.get(file_target(sid, "big/chunked.bin"), sink=down2.update, timeout=600), 200)
    assert down2.hexdigest() == up2.hexdigest()

    if _is_asan_build():
        return  # ASan's quarantine holds freed buffers: peak RSS says nothing there
    for pid in rss_before:
        grown = _status_kib(pid, "VmHWM") - rss_before[pid]
        assert grown < 64 << 10, "pid %d (%s) grew by %d MiB while 200 MiB streamed through: " \
            "the body was held in memory" % (pid, (procs.cmdline(pid) or "?")[:80], grown >> 10)


def test_workspace_quota(client, sessions):
    sid = sessions(limits={"workspace_mb": 8})
    twenty = b"q" * (20 << 20)
    # Content-Length over the free space: answered before the body is sent
    resp = client.put(file_target(sid, "big.bin"), body=twenty, expect_continue=True)
    expect(resp, 507, "workspace_full")
    # without a length the daemon finds out while writing, and still answers
    resp = client.put(file_target(sid, "big.bin"), body=(twenty[i:i + 65536] for i in range(0, len(twenty), 65536)))
    expect(resp, 507, "workspace_full")
    # no partial file is left, and the space is free again
    expect(get(client, sid, "big.bin"), 404, "file_not_found")
    expect(put(client, sid, "small.bin", b"s" * (1 << 20)), 201)
    # code in the sandbox hits the same wall
    ex = client.execute(sid, "open('/workspace/code.bin', 'wb').write(b'c' * (20 << 20))")
    assert ex["status"] == "error" and ex["error"]["name"] == "OSError", ex
    assert "No space left" in ex["error"]["value"], ex["error"]
    client.run_ok(sid, "import os; os.remove('/workspace/code.bin')")
    expect(put(client, sid, "again.bin", b"a" * (4 << 20)), 201)
