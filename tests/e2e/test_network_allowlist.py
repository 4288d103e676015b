"""Network mode allowlist: the sandbox's only way out is its own HTTP(S) proxy
(airlock-egress, docs/network.md, docs/adr/0015), which lets through exactly the listed
HOST:PORTs. Real daemon, real sandboxes, real pip and npm; the servers are the test's own on
the host's loopback (127.0.0.1, listed explicitly by address). Nothing is sent anywhere else.

Every refusal has its control: the same server answers the test process directly, and a
listed neighbour goes through in the same session, so a refusal is the proxy's decision,
not an absent server."""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import re
import shutil
import subprocess
import tarfile
import threading
import time
import urllib.request
import zipfile

import conftest
import pytest
from airlock_api import expect
from conftest import AIRLOCK, require

BODY = "hello from the listed server"


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, tuple[str, bytes]] = {}
    redirect_to = ""

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype, data = self.files.get(path, ("text/plain", BODY.encode() + b" " + self.headers.get("Host", "").encode()))
        if path != "/" and path not in self.files:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[::-1])

    def log_message(self, *a):
        pass


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def _direct(url: str) -> str:
    """From the test process itself, never through a proxy: the control."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as r:
        return r.read().decode()


def _wheel(name: str, version: str, code: str) -> bytes:
    """A pure-Python wheel, by hand (it is a zip with a dist-info)."""
    di = "%s-%s.dist-info" % (name, version)
    files = {name + "/__init__.py": code.encode(),
             di + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode(),
             di + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: airlock-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode(),
                                   len(d)) for p, d in files.items()]
    files[di + "/RECORD"] = ("\n".join(record + [di + "/RECORD,,"]) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
    return out.getvalue()


def _npm_tarball(name: str, version: str, code: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for p, d in {"package/package.json": json.dumps({"name": name, "version": version, "main": "index.js"}),
                     "package/index.js": code}.items():
            info = tarfile.TarInfo(p)
            info.size = len(d.encode())
            info.mode = 0o644
            t.addfile(info, io.BytesIO(d.encode()))
    return out.getvalue()


@pytest.fixture(scope="module")
def servers():
    """Two servers on the host's loopback: `listed` (also a PEP 503 index and an npm
    registry) and `other`, which the allowlist leaves out."""
    class Listed(_Handler):
        files = {}

    class Other(_Handler):
        files = {}

    listed, lp = _serve(Listed)
    other, op = _serve(Other)
    base = "http://127.0.0.1:%d" % lp
    whl = _wheel("airlock_demo_pkg", "1.0", "VALUE = 'installed from the local index'\n")
    wname = "airlock_demo_pkg-1.0-py3-none-any.whl"
    Listed.files["/simple/airlock-demo-pkg/"] = (
        "text/html", ('<a href="%s/files/%s">%s</a>\n' % (base, wname, wname)).encode())
    Listed.files["/files/" + wname] = ("application/octet-stream", whl)
    tgz = _npm_tarball("airlock-demo-npm", "1.0.0", "module.exports = 'installed from the local registry';\n")
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    packument = {"name": "airlock-demo-npm", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {
        "name": "airlock-demo-npm", "version": "1.0.0", "main": "index.js",
        "dist": {"tarball": base + "/npm/airlock-demo-npm-1.0.0.tgz", "integrity": integrity,
                 "shasum": hashlib.sha1(tgz).hexdigest()}}}}
    Listed.files["/airlock-demo-npm"] = ("application/json", json.dumps(packument).encode())
    Listed.files["/npm/airlock-demo-npm-1.0.0.tgz"] = ("application/octet-stream", tgz)
    Listed.redirect_to = "http://127.0.0.1:%d/" % op
    yield {"listed": lp, "other": op}
    listed.shutdown()
    other.shutdown()


@pytest.fixture(scope="module")
def allow(client, servers):
    """An interpreter in mode allowlist: the listed server by address and by a name that
    resolves to loopback, and a wildcard entry."""
    lp = servers["listed"]
    entries = ["127.0.0.1:%d" % lp, "localhost:%d" % lp, "*.example.invalid:443"]
    r = client.post("/v1/interpreters", json={"name": "net_allow", "network": {"mode": "allowlist",
                                                                              "allowlist": entries}})
    require(r.status != 400 or b"root" not in r.body, "network mode allowlist needs a root launcher: %r" % r.body)
    expect(r, 201)
    assert r.json["network"] == {"mode": "allowlist", "allowlist": entries}
    yield "net_allow"
    client.delete("/v1/interpreters/net_allow")


# Run inside the sandbox: fetch through the proxy (the environment names it), print JSON.
FETCH = r'''
import json, urllib.request, urllib.error
def fetch(url, data=None):
    try:
        with urllib.request.urlopen(url, data=data, timeout=20) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode(), e.headers.get("X-Airlock-Egress")]
    except OSError as e:
        return ["error", str(getattr(e, "reason", e))]
print(json.dumps([fetch(*u) for u in URLS]))
'''


def fetch(client, sid, *urls):
    code = "URLS = %r\n" % ([u if isinstance(u, tuple) else (u,) for u in urls],) + FETCH
    return json.loads(client.run_ok(sid, code, timeout_seconds=90)["stdout"].strip().splitlines()[-1])


def test_sessions_report_allowlist_and_get_the_proxy(client, sessions, allow):
    s = sessions.new(interpreter=allow)
    iso = s["isolation"]
    assert iso["network"] == "allowlist", s
    assert (iso["backend"], iso["seccomp"], iso["uid_private"]) == ("namespace", True, True) and iso["landlock_abi"] > 0
    env = client.value(s["id"], "import os; {k: os.environ.get(k) for k in ('HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY')}")
    assert "http://127.0.0.1:3128" in env and "'NO_PROXY': 'localhost'" in env, env
    assert sessions.new()["isolation"]["network"] == "none"  # the default's sessions keep none


def test_exactly_the_listed_host_port_gets_through(client, sessions, allow, servers):
    lp, op = servers["listed"], servers["other"]
    assert _direct("http://127.0.0.1:%d/" % op).startswith(BODY)  # control: the other one answers the host
    sid = sessions(interpreter=allow)
    got = fetch(client, sid, "http://127.0.0.1:%d/" % lp, "http://127.0.0.1:%d/" % op,
                ("http://127.0.0.1:%d/echo" % lp, b"abc" * 1000))
    assert got[0] == [200, BODY + " 127.0.0.1:%d" % lp], got  # the proxy writes the Host header
    assert got[1][0] == 403 and "127.0.0.1:%d is not in this session's network allowlist" % op in got[1][1], got
    assert got[1][2] == "refused"
    assert got[2] == [200, ("abc" * 1000)[::-1]], got[2][:2]  # a request body goes up whole
    # Tunnels (HTTPS goes this way): CONNECT to the listed port works, any other is refused.
    code = r'''
import http.client, json
out = []
for port in (%d, %d):
    c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=20)
    c.set_tunnel("127.0.0.1", port)
    try:
        c.request("GET", "/")
        r = c.getresponse()
        out.append([r.status, r.read().decode()])
    except OSError as e:
        out.append(["error", str(e)])
print(json.dumps(out))
''' % (lp, op)
    got = json.loads(client.run_ok(sid, code, timeout_seconds=60)["stdout"])
    assert got[0] == [200, BODY + " 127.0.0.1:%d" % lp], got
    assert got[1][0] == "error" and "403" in got[1][1], got


def test_redirects_to_unlisted_hosts_are_refused(client, sessions, allow, servers):
    lp, op = servers["listed"], servers["other"]
    sid = sessions(interpreter=allow)
    got = fetch(client, sid, "http://127.0.0.1:%d/redirect" % lp)
    assert got[0][0] == 403 and "127.0.0.1:%d is not in" % op in got[0][1] and got[0][2] == "refused", got
    assert _direct("http://127.0.0.1:%d/redirect" % lp).startswith(BODY)  # control: the redirect leads somewhere


def test_names_resolving_to_loopback_are_refused_unless_the_address_is_listed(client, sessions, allow, servers):
    lp = servers["listed"]
    sid = sessions(interpreter=allow)
    # NO_PROXY=localhost keeps "localhost" the sandbox's own for HTTP clients: ask the proxy
    # itself, as a client without that exception would.
    code = r'''
import json, socket
def ask(host):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=20)
    s.sendall(b"GET http://%%s:%d/ HTTP/1.1\r\n\r\n" %% host.encode())
    out = b""
    while (b := s.recv(4096)):
        out += b
    head, _, body = out.decode().partition("\r\n\r\n")
    return [int(head.split()[1]), body]
print(json.dumps([ask("localhost"), ask("127.0.0.1")]))
''' % lp
    got = json.loads(client.run_ok(sid, code, timeout_seconds=60)["stdout"])
    assert got[0][0] == 403 and "localhost resolves to 127.0.0.1, which is loopback" in got[0][1], got
    assert got[1][0] == 200, got  # control: the same server, listed by its address


def test_nothing_gets_out_except_through_the_proxy(client, sessions, allow, servers):
    """The sandbox's network namespace has only its loopback: TCP, UDP, DNS, ICMP and raw
    sockets go nowhere, the same as mode none (compared side by side)."""
    lp = servers["listed"]
    code = r'''
import errno, json, socket
def e(f):
    try:
        return f() or "ok"
    except OSError as x:
        return errno.errorcode.get(x.errno, str(x))
def tcp(host, port):
    s = socket.create_connection((host, port), timeout=5); s.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("192.0.2.1", 53)); s.close()
def dns():
    socket.getaddrinfo("example.com", 80)
def icmp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    s.sendto(b"\x08\x00\xf7\xff\x00\x00\x00\x00", ("192.0.2.1", 0)); s.close()
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
print(json.dumps({"host_loopback": e(lambda: tcp("127.0.0.1", %d)), "ten": e(lambda: tcp("10.0.2.2", 80)),
                  "far": e(lambda: tcp("192.0.2.1", 80)), "udp": e(udp), "dns": e(dns), "icmp": e(icmp),
                  "raw": e(raw), "proxy": e(lambda: tcp("127.0.0.1", 3128))}))
''' % lp
    assert _direct("http://127.0.0.1:%d/" % lp).startswith(BODY)  # control: the server is up
    got = {}
    for mode, kw in (("allowlist", {"interpreter": allow}), ("none", {})):
        sid = sessions(**kw)
        got[mode] = json.loads(client.run_ok(sid, code, timeout_seconds=60)["stdout"])
    a, n = got["allowlist"], got["none"]
    assert a["host_loopback"] == "ECONNREFUSED", a  # the sandbox's own 127.0.0.1, not the host's
    assert (a["ten"], a["far"], a["udp"]) == ("ENETUNREACH",) * 3, a
    assert a["dns"] != "ok" and a["icmp"] != "ok" and a["raw"] == "EPERM", a
    assert a["proxy"] == "ok" and n["proxy"] == "ECONNREFUSED", got  # the proxy is allowlist's only difference
    assert {k: v for k, v in a.items() if k != "proxy"} == {k: v for k, v in n.items() if k != "proxy"}, got


def test_bad_requests_to_the_proxy_get_a_clear_400(client, sessions, allow, servers):
    sid = sessions(interpreter=allow)
    code = r'''
import json, socket
def ask(data):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=20)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    return out.decode(errors="replace")
print(json.dumps([ask(b"hello\r\n\r\n"), ask(b"GET https://127.0.0.1:%d/ HTTP/1.1\r\n\r\n"),
                  ask(b"GET http://user@127.0.0.1:%d/ HTTP/1.1\r\n\r\n"),
                  ask(b"POST http://127.0.0.1:%d/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                  ask(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")]))
''' % ((servers["listed"],) * 3)
    got = json.loads(client.run_ok(sid, code, timeout_seconds=60)["stdout"])
    for text, words in zip(got, ["bad request line", "CONNECT", "credentials", "chunked", "16 KiB"], strict=True):
        assert text.startswith("HTTP/1.1 400 ") and words in text, (words, text)


def test_every_connection_is_logged_and_counted(client, sessions, allow, servers, daemon):
    lp, op = servers["listed"], servers["other"]
    before = _egress_metrics(client)
    sid = sessions(interpreter=allow)
    fetch(client, sid, "http://127.0.0.1:%d/" % lp, "http://127.0.0.1:%d/" % op, "http://127.0.0.1:%d/" % lp)
    lines = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in daemon.log_text().splitlines()
                 if '"msg":"egress"' in line and sid in line]
        if len(lines) >= 3:
            break
        time.sleep(0.1)
    got = [(x["outcome"], x["reason"], x["host"], x["port"]) for x in lines]
    assert got == [("allowed", "ok", "127.0.0.1", lp), ("refused", "not_listed", "127.0.0.1", op),
                   ("allowed", "ok", "127.0.0.1", lp)], got
    assert all(x["tenant"] == "default" and x["session"] == sid for x in lines)
    assert lines[0]["address"] == "127.0.0.1" and lines[1]["address"] == ""
    after = _egress_metrics(client)  # counted when logged: the events reach the daemon after the replies
    assert after[("allowed", "ok")] - before[("allowed", "ok")] >= 2, (before, after)
    assert after[("refused", "not_listed")] - before[("refused", "not_listed")] >= 1, (before, after)


def _egress_metrics(client) -> dict:
    text = expect(client.get("/metrics"), 200).body.decode()
    out = {}
    for m in re.finditer(r'^airlock_egress_connections_total\{outcome="(\w+)",reason="(\w+)"\} (\d+)$', text, re.M):
        out[(m.group(1), m.group(2))] = int(m.group(3))
    assert ("allowed", "ok") in out, text
    return out


def test_the_proxy_runs_as_the_sandbox_and_goes_with_it(client, allow, daemon):
    def proxies():
        return [(p, st) for p, st in conftest.descendants(daemon.proc.pid)
                if conftest.procs.cmdline(p).startswith("airlock-egress ")]
    before = proxies()
    s = client.create_session(interpreter=allow)
    mine = [p for p in proxies() if p not in before]
    assert len(mine) == 1, "one proxy per allowlist session: %s" % mine
    pid = mine[0][0]
    with open("/proc/%d/status" % pid) as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    uid = status["Uid"].split()
    assert len(set(uid)) == 1 and int(uid[0]) >= 2100000000, "the proxy must run as the sandbox's pool uid: %s" % uid
    assert status["CapEff"].strip() == "0000000000000000" and status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2", status  # its own filter (src/egress/confine.c)
    # every mount it sees is read-only
    with open("/proc/%d/mounts" % pid) as f:
        rw = [line for line in f if line.split()[3].split(",")[0] != "ro"]
    assert rw == [], rw
    expect(client.delete("/v1/sessions/" + s["id"]), 200)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(conftest.procs.starttime(p, zombie_is_gone=True) == st for p, st in mine):
        time.sleep(0.1)
    assert all(conftest.procs.starttime(p, zombie_is_gone=True) != st for p, st in mine), "the proxy outlived its session"


def test_pip_and_npm_install_into_the_workspace(client, sessions, allow, servers):
    """In-session installs through the proxy from an index the allowlist names; the package
    is importable in the same session afterwards, and lives in the workspace."""
    require(shutil.which("npm") is not None, "npm is not installed (Debian: npm)")
    lp = servers["listed"]
    sid = sessions(interpreter=allow)
    ex = client.execute(sid, "import subprocess, sys\n"
                        "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--index-url', "
                        "'http://127.0.0.1:%d/simple', 'airlock-demo-pkg'], capture_output=True, text=True)\n"
                        "print(r.returncode); print(r.stdout[-2000:]); print(r.stderr[-2000:])" % lp,
                        timeout_seconds=120)
    assert ex["stdout"].startswith("0\n") and "Successfully installed airlock-demo-pkg-1.0" in ex["stdout"], ex
    assert client.value(sid, "import airlock_demo_pkg; airlock_demo_pkg.VALUE") == "'installed from the local index'"
    assert "/workspace/.local/" in client.value(sid, "airlock_demo_pkg.__file__")
    ex = client.execute(sid, "cd /workspace && npm install --no-audit --registry http://127.0.0.1:%d/ "
                             "airlock-demo-npm 2>&1; echo rc=$?" % lp, language="bash", timeout_seconds=180)
    assert "rc=0" in ex["stdout"], ex["stdout"][-3000:]
    ex = client.run_ok(sid, "require('airlock-demo-npm')", language="javascript")
    assert ex["results"][-1]["text/plain"] == "'installed from the local registry'", ex
    # control: the default interpreter's session (mode none) cannot install
    other = sessions()
    ex = client.execute(other, "import subprocess, sys\n"
                        "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--retries', '0', '--timeout', '3',"
                        " '--index-url', 'http://127.0.0.1:%d/simple', 'airlock-demo-pkg'], capture_output=True)\n"
                        "print(r.returncode)" % lp, timeout_seconds=120)
    assert ex["stdout"].strip() != "0", ex


def test_one_shot_run_with_allow(servers):
    lp, op = servers["listed"], servers["other"]
    code = ("import urllib.request\n"
            "print(urllib.request.urlopen('http://127.0.0.1:%d/', timeout=20).read().decode())\n"
            "try:\n    urllib.request.urlopen('http://127.0.0.1:%d/', timeout=20)\n"
            "except Exception as e:\n    print(e.code)\n" % (lp, op))
    p = subprocess.run([str(AIRLOCK), "run", "-v", "--allow", "127.0.0.1:%d" % lp, "-c", code],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [BODY + " 127.0.0.1:%d" % lp, "403"], p.stdout
    assert "network allowlist" in p.stderr
    assert "egress allowed 127.0.0.1:%d (ok)" % lp in p.stderr and "egress refused 127.0.0.1:%d (not_listed)" % op \
        in p.stderr, p.stderr
    p = subprocess.run([str(AIRLOCK), "run", "--isolation", "gvisor", "--allow", "127.0.0.1:1", "-c", "pass"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "namespace backend" in p.stderr, p.stderr


def test_the_sandbox_cannot_take_the_proxy_port_first(client, sessions, allow):
    sid = sessions(interpreter=allow)
    code = ("import socket, errno\ns = socket.socket()\n"
            "try:\n    s.bind(('127.0.0.1', 3128)); print('bound')\nexcept OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n")
    assert client.run_ok(sid, code)["stdout"].strip() == "EADDRINUSE"


FLOOD = r'''
import socket, threading
def flood():
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
            s.sendall(b"GET http://127.0.0.1:1/ HTTP/1.1\r\n\r\n")
            s.recv(4096)
            s.close()
        except OSError:
            pass
for _ in range(4):
    threading.Thread(target=flood, daemon=True).start()
'''


def test_a_flood_of_refusals_is_bounded_and_cannot_break_a_daemon_restart(client, sessions, allow, daemon):
    """A program that opens refused connections as fast as it can: the log gets at most the
    proxy's event budget (20/s, bursts of 100) and the rest is counted as dropped; and a
    daemon killed meanwhile comes back with the session (the launcher sends no events
    before the new daemon's HELLO)."""
    import os
    import signal

    import test_restart  # the same supervisor helpers

    sid = sessions(interpreter=allow)
    client.run_ok(sid, FLOOD)
    time.sleep(3)
    lines = [line for line in daemon.log_text().splitlines() if '"msg":"egress"' in line and sid in line]
    assert 20 <= len(lines) <= 100 + 20 * 10, len(lines)  # the budget, with slack for a slow machine
    old = test_restart._daemon_pid(daemon)
    os.kill(old, signal.SIGKILL)
    test_restart._wait_ready(client, old, daemon)
    assert client.get_session(sid)["status"] == "ready"
    assert client.value(sid, "1 + 1") == "2"
    deadline = time.monotonic() + 10
    while _dropped(client) == 0 and time.monotonic() < deadline:  # counters start again with the new daemon
        time.sleep(0.2)
    assert _dropped(client) > 0, "events past the budget are counted as dropped"


def _dropped(client) -> int:
    text = expect(client.get("/metrics"), 200).body.decode()
    return int(re.search(r"^airlock_egress_events_dropped_total (\d+)$", text, re.M).group(1))
