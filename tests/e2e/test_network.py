"""Network mode public: egress through slirp4netns, with link-local and metadata addresses,
slirp's alias for the host's loopback and the host's own addresses refused from inside, and
every flow and refusal logged and counted (see docs/network.md). Real daemon, real sandboxes, and a network the test builds itself
(tests/testlib/netlab.py): a namespace behind a veth pair holding a web server, a DNS server
and a "metadata server" at 169.254.169.254. Nothing is sent anywhere else.

Each refusal has its control: the same address answers from the host (where slirp4netns
makes its connections), so a probe that does not get through was stopped by the sandbox's
rules, not by an absent server."""
from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import conftest
import pytest
from airlock_api import expect
from conftest import AIRLOCK, HOST, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testlib"))
import netlab

# Run inside a sandbox: try each probe (kind, target...) and print the results as one JSON object.
PROBE = r'''
import errno, json, socket
def tcp(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(5)
    try:
        s.connect((host, port))
        return "connected " + s.recv(200).decode(errors="replace").strip()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
def http(url):
    import urllib.request
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return "ok " + opener.open(url, timeout=5).read().decode()
    except OSError as e:
        e = getattr(e, "reason", e)
        return errno.errorcode.get(getattr(e, "errno", None), str(e))
def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (host, port))
        return "sent"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
print(json.dumps({repr(p): globals()[p[0]](*p[1:]) for p in PROBES}))
'''


def probe(client, sid, *probes) -> dict:
    code = "PROBES = %r\n" % (list(probes),) + PROBE  # a list of tuples: repr() matches on both sides
    out = client.run_ok(sid, code, timeout_seconds=60)["stdout"]
    res = json.loads(out.strip().splitlines()[-1])
    return {p: res[repr(p)] for p in probes}


def egress_lines(daemon, sid, want: int, seconds: float = 10) -> list:
    """The daemon's egress log lines for one session, once there are `want` of them (they
    arrive after the replies) or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        lines = [json.loads(line) for line in daemon.log_text().splitlines()
                 if '"msg":"egress"' in line and sid in line]
        if len(lines) >= want or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)


def flows(lines) -> list:
    return [(x["outcome"], x["reason"], x["protocol"], x["address"], x["port"]) for x in lines]


def egress_metrics(client) -> dict:
    text = expect(client.get("/metrics"), 200).body.decode()
    return {(m.group(1), m.group(2)): int(m.group(3)) for m in re.finditer(
        r'^airlock_egress_connections_total\{outcome="(\w+)",reason="(\w+)"\} (\d+)$', text, re.M)}


@pytest.fixture(scope="module")
def lab(daemon):
    require(netlab.missing() is None, netlab.missing() or "")
    require(netlab.public_missing() is None, netlab.public_missing() or "")
    with netlab.NetLab() as nl:
        yield nl


@pytest.fixture(scope="module")
def public(client, lab):
    """The name of an interpreter in network mode public."""
    expect(client.post("/v1/interpreters", json={"name": "net_public", "network": {"mode": "public"}}), 201)
    yield "net_public"
    client.delete("/v1/interpreters/net_public")


def slirps(daemon) -> list:
    """The slirp4netns processes of this daemon's sandboxes, as (pid, starttime)."""
    return [(p, st) for p, st in conftest.descendants(daemon.proc.pid)
            if conftest.procs.cmdline(p).startswith("/usr/bin/slirp4netns ")]


def test_public_interpreter_sessions_report_public(client, sessions, public):
    got = expect(client.get("/v1/interpreters/" + public), 200).json
    assert got["network"]["mode"] == "public"
    s = sessions.new(interpreter=public)
    assert s["isolation"]["network"] == "public", s
    assert expect(client.get("/v1/sessions/" + s["id"]), 200).json["isolation"]["network"] == "public"
    # the default interpreter's sessions stay in mode none
    assert sessions.new()["isolation"]["network"] == "none"
    # every other layer is still there
    iso = s["isolation"]
    assert (iso["backend"], iso["seccomp"], iso["uid_private"]) == ("namespace", True, True) and iso["landlock_abi"] > 0


def test_public_reaches_the_lab_and_none_does_not(client, sessions, public, lab):
    assert netlab.http_get(lab.web_url) == lab.web_body  # control: the server answers
    pub = sessions(interpreter=public)
    none = sessions()
    got = probe(client, pub, ("http", lab.web_url), ("udp", lab.lab_addr, 53))
    assert got[("http", lab.web_url)] == "ok " + lab.web_body, got
    assert got[("udp", lab.lab_addr, 53)] == "sent", got
    got = probe(client, none, ("http", lab.web_url), ("udp", lab.lab_addr, 53))
    assert got[("http", lab.web_url)] == "ENETUNREACH", got
    assert got[("udp", lab.lab_addr, 53)] == "ENETUNREACH", got
    # the sandbox's resolver is slirp's forwarder, never the host's configuration
    assert client.value(pub, "open('/etc/resolv.conf').read()") == repr("nameserver 10.0.2.3\n")
    assert client.value(none, "import os; os.path.exists('/etc/resolv.conf')") == "False"


def test_metadata_and_link_local_are_refused(client, sessions, public, lab, daemon):
    # Control: from the host, where slirp4netns connects from, the "metadata server" answers.
    assert netlab.http_get("http://%s/" % netlab.METADATA) == lab.metadata_body
    pub = sessions(interpreter=public)
    got = probe(client, pub, ("http", "http://%s/" % netlab.METADATA), ("tcp", netlab.METADATA, 80),
                ("udp", netlab.METADATA, 80), ("tcp", "169.254.1.1", 80), ("tcp", "::ffff:169.254.169.254", 80),
                ("tcp", "100.100.100.200", 80), ("tcp", "fe80::1", 80))
    # refused at once, inside the sandbox: TCP with a reset, UDP at the send
    for p in list(got)[:6]:
        assert got[p] == ("EPERM" if p[0] == "udp" else "ECONNREFUSED"), (p, got)
    assert got[("tcp", "fe80::1", 80)] in ("EACCES", "EINVAL", "ENETUNREACH", "EHOSTUNREACH"), got
    # each IPv4 refusal is logged, in order (IPv6 has no route at all: nothing to log)
    want = [("refused", "blocked_address", proto, addr, 80) for proto, addr in
            [("tcp", netlab.METADATA), ("tcp", netlab.METADATA), ("udp", netlab.METADATA), ("tcp", "169.254.1.1"),
             ("tcp", netlab.METADATA), ("tcp", "100.100.100.200")]]
    assert flows(egress_lines(daemon, pub, len(want))) == want
    # and the lab itself is still reachable from the same session: the refusal is the rule's
    assert probe(client, pub, ("http", lab.web_url))[("http", lab.web_url)] == "ok " + lab.web_body


def test_the_host_is_not_reachable(client, sessions, public, lab, daemon):
    port = lab.host_listener()
    # Controls: the daemon answers on the host's loopback, the listener on a host address.
    assert netlab.http_get("http://%s:%d/healthz" % (HOST, daemon.port)) is not None
    with socket.create_connection((lab.host_addr, port), timeout=5) as s:
        assert s.recv(100).decode().startswith("host " + lab.token)
    pub = sessions(interpreter=public)
    got = probe(client, pub, ("tcp", "10.0.2.2", daemon.port), ("tcp", "127.0.0.1", daemon.port),
                ("tcp", lab.host_addr, port), ("http", "http://10.0.2.2:%d/healthz" % daemon.port))
    assert got[("tcp", "10.0.2.2", daemon.port)] == "ECONNREFUSED", got  # slirp's alias for the host's 127.0.0.1
    assert got[("http", "http://10.0.2.2:%d/healthz" % daemon.port)] == "ECONNREFUSED", got
    assert got[("tcp", "127.0.0.1", daemon.port)] == "ECONNREFUSED", got  # the sandbox's own loopback
    assert got[("tcp", lab.host_addr, port)] == "ECONNREFUSED", got  # a host address, blocked by its rule
    # the same errno, told apart by the log: the sandbox's own loopback is no refusal
    want = [("refused", "blocked_address", "tcp", a, p) for a, p in
            [("10.0.2.2", daemon.port), (lab.host_addr, port), ("10.0.2.2", daemon.port)]]
    assert flows(egress_lines(daemon, pub, len(want))) == want


BOUND_PROBE = r'''
import errno, json, socket, struct
TAP = socket.if_nametoindex("tap0")
def err(f):
    try:
        return f()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def tcp_bound(host, port):
    s = socket.socket()
    s.settimeout(5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"tap0")
    return err(lambda: (s.connect((host, port)), "connected")[1])
def tcp_mapped_bound(host, port):
    s = socket.socket(socket.AF_INET6)
    s.settimeout(5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"tap0")
    return err(lambda: (s.connect(("::ffff:" + host, port)), "connected")[1])
def udp_bound(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"tap0")
    return err(lambda: (s.sendto(b"x", (host, port)), "sent")[1])
def udp_unicast_if(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 50, struct.pack("!I", TAP))  # IP_UNICAST_IF
    return err(lambda: (s.sendto(b"x", (host, port)), "sent")[1])
def udp_pktinfo(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    info = struct.pack("@i4s4s", TAP, bytes(4), bytes(4))  # struct in_pktinfo
    return err(lambda: (s.sendmsg([b"x"], [(socket.IPPROTO_IP, 8, info)], 0, (host, port)), "sent")[1])  # IP_PKTINFO
print(json.dumps({repr(p): globals()[p[0]](*p[1:]) for p in PROBES}))
'''


def test_a_socket_bound_to_tap0_is_refused_too(client, sessions, public, lab, daemon):
    """SO_BINDTODEVICE, IP_UNICAST_IF and IP_PKTINFO make the kernel look a route up for
    tap0 only, skipping the refusal table's way into lo: the table's prohibit route and the
    nftables rules by address still refuse (and log) every blocked destination. Controls:
    the same addresses answer from the host, and the same bound socket reaches the lab."""
    assert netlab.http_get("http://%s/" % netlab.METADATA) == lab.metadata_body
    port = lab.host_listener()
    with socket.create_connection((lab.host_addr, port), timeout=5) as s:
        assert s.recv(100).decode().startswith("host " + lab.token)
    pub = sessions(interpreter=public)
    probes = [("tcp_bound", netlab.METADATA, 80), ("tcp_bound", lab.host_addr, port),
              ("tcp_bound", "100.100.100.200", 80), ("tcp_mapped_bound", netlab.METADATA, 80),
              ("udp_bound", netlab.METADATA, 53), ("udp_unicast_if", netlab.METADATA, 53),
              ("udp_pktinfo", netlab.METADATA, 53), ("udp_pktinfo", lab.host_addr, port),
              ("tcp_bound", lab.lab_addr, netlab.WEB_PORT), ("udp_pktinfo", lab.lab_addr, 53)]
    code = "PROBES = %r\n" % (probes,) + BOUND_PROBE
    got = json.loads(client.run_ok(pub, code, timeout_seconds=120)["stdout"].strip().splitlines()[-1])
    got = {p: got[repr(p)] for p in probes}
    for p in probes[:8]:
        assert got[p] in ("ECONNREFUSED", "EPERM", "EACCES"), (p, got)
    assert got[probes[8]] == "connected" and got[probes[9]] == "sent", got  # the controls
    refused = [x for x in egress_lines(daemon, pub, 8) if x["outcome"] == "refused"]
    assert {(x["address"], x["port"]) for x in refused} >= {(netlab.METADATA, 80), (netlab.METADATA, 53)}, refused


def test_the_hosts_loopback_is_not_reachable_from_a_bound_socket(client, sessions, public, daemon):
    """A socket bound to tap0 skips the sandbox's own local routes: 127.0.0.1 would go to
    slirp, which would send it to the host's loopback (--disable-host-loopback covers only
    10.0.2.2). The rules refuse 127.0.0.0/8 for such sockets. Controls: the test's UDP
    socket on the host's 127.0.0.1 receives what the test itself sends; an unbound socket
    in the sandbox reaches the sandbox's own loopback."""
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host.settimeout(0.5)
    uport = host.getsockname()[1]
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"control", ("127.0.0.1", uport))
    assert host.recv(100) == b"control"
    pub = sessions(interpreter=public)
    probes = [("udp_bound", "127.0.0.1", uport), ("udp_unicast_if", "127.0.0.1", uport),
              ("udp_pktinfo", "127.0.0.1", uport), ("udp_bound", "127.0.0.53", 53),
              ("tcp_bound", "127.0.0.1", daemon.port), ("tcp_mapped_bound", "127.0.0.1", daemon.port)]
    code = "PROBES = %r\n" % (probes,) + BOUND_PROBE
    got = json.loads(client.run_ok(pub, code, timeout_seconds=120)["stdout"].strip().splitlines()[-1])
    got = {p: got[repr(p)] for p in probes}
    for p in probes:
        assert got[p] in ("ECONNREFUSED", "EPERM", "EACCES"), (p, got)
    with pytest.raises(TimeoutError):
        print("the host's loopback received", host.recv(100))
    host.close()
    # the sandbox's own loopback, unbound, is its own (nothing listens there: refused by it)
    assert client.value(pub, "import socket\ns = socket.socket()\ns.connect_ex(('127.0.0.1', %d))" % daemon.port) == "111"


def test_rules_cannot_be_removed_from_inside(client, sessions, public, lab):
    pub = sessions(interpreter=public)
    code = r'''
import json, subprocess
def ip(*a):
    p = subprocess.run(["ip", *a], capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()
out = {"rules": ip("rule", "show")[1], "caps": [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]}
for args in (["rule", "del", "prio", "100"], ["rule", "flush"], ["rule", "add", "prio", "1", "lookup", "main"],
             ["route", "add", "169.254.169.254/32", "via", "10.0.2.2"], ["link", "set", "tap0", "down"],
             ["addr", "add", "169.254.0.9/16", "dev", "tap0"], ["route", "flush", "table", "100"],
             ["route", "replace", "default", "via", "10.0.2.2", "table", "100"]):
    out[" ".join(args)] = ip(*args)
for args in (["flush", "ruleset"], ["delete", "table", "ip", "airlock"], ["list", "ruleset"]):
    p = subprocess.run(["/usr/sbin/nft", *args], capture_output=True, text=True)
    out["nft " + " ".join(args)] = p.returncode, (p.stdout + p.stderr).strip()
out["after"] = ip("rule", "show")[1]
out["table"] = ip("route", "show", "table", "100")[1]
print(json.dumps(out))
'''
    out = json.loads(client.run_ok(pub, code)["stdout"])
    assert out["caps"] == "0000000000000000"
    assert "to 169.254.0.0/16 lookup 100" in out["rules"] and "to 10.0.2.2 lookup 100" in out["rules"], out
    assert [line.strip() for line in out["table"].splitlines()] == ["default dev lo scope link src 127.0.0.1",
                                                                  "prohibit default metric 4096"], out
    for k, v in out.items():
        if k in ("rules", "caps", "after", "table"):
            continue
        rc, msg = v
        # ip: no capability; nft: not even a netfilter netlink socket (the seccomp filter)
        why = "Address family not supported" if k.startswith("nft") else "Operation not permitted"
        assert rc != 0 and why in msg, (k, rc, msg)
    assert out["after"] == out["rules"]
    got = probe(client, pub, ("tcp", netlab.METADATA, 80), ("http", lab.web_url))
    assert got == {("tcp", netlab.METADATA, 80): "ECONNREFUSED", ("http", lab.web_url): "ok " + lab.web_body}


def test_every_flow_and_refusal_is_logged_and_counted(client, sessions, public, lab, daemon):
    """Mode public: the first packet of every new flow through slirp (a TCP connection, a
    UDP address and port) is logged and counted as allowed, each refusal as refused; a
    flow's later packets are not logged again. The control: the flows reached the lab."""
    before = egress_metrics(client)
    pub = sessions(interpreter=public)
    code = r'''
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):  # one UDP flow: logged once
    u.sendto(b"x", (LAB, 9))
u.sendto(b"y", (LAB, 10))  # another port: another flow
for _ in range(2):  # two TCP connections to the same server: two flows
    with socket.create_connection((LAB, PORT), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        print(s.recv(200).split(b"\r\n")[0].decode())
try:
    socket.create_connection((META, 80), timeout=10)
except ConnectionRefusedError:
    print("refused")
'''.replace("LAB", repr(lab.lab_addr)).replace("PORT", str(netlab.WEB_PORT)).replace("META", repr(netlab.METADATA))
    out = client.run_ok(pub, code)["stdout"].splitlines()
    assert out[0].startswith("HTTP/1.") and " 200 " in out[0] and out[1] == out[0] and out[2] == "refused", out
    want = [("allowed", "ok", "udp", lab.lab_addr, 9), ("allowed", "ok", "udp", lab.lab_addr, 10),
            ("allowed", "ok", "tcp", lab.lab_addr, netlab.WEB_PORT), ("allowed", "ok", "tcp", lab.lab_addr, netlab.WEB_PORT),
            ("refused", "blocked_address", "tcp", netlab.METADATA, 80)]
    lines = egress_lines(daemon, pub, len(want))
    assert flows(lines) == want
    assert all(x["session"] == pub and x["tenant"] == "default" and x["host"] == x["address"] for x in lines), lines
    time.sleep(1)  # nothing more comes: a flow's later packets are not logged
    assert len(egress_lines(daemon, pub, 0, 0)) == len(want)
    after = egress_metrics(client)
    assert after[("allowed", "ok")] - before.get(("allowed", "ok"), 0) >= 4, (before, after)
    assert after[("refused", "blocked_address")] - before.get(("refused", "blocked_address"), 0) >= 1, (before, after)


def test_a_flood_of_flows_stays_within_the_event_budget(client, sessions, public, lab, daemon):
    """A program that opens flows as fast as it can: the log gets at most the budget (20/s,
    bursts of 100), the rest is counted as dropped, and the sandbox still answers."""
    pub = sessions(interpreter=public)
    code = r'''
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, end = 0, time.monotonic() + 2
while time.monotonic() < end:
    u.sendto(b"x", (LAB, 1 + n % 60000))
    n += 1
print(n)
'''.replace("LAB", repr(lab.lab_addr))
    sent = int(client.run_ok(pub, code)["stdout"])
    assert sent > 500, sent  # enough flows to exceed the budget
    time.sleep(2)
    lines = egress_lines(daemon, pub, 0, 0)
    assert 20 <= len(lines) <= 100 + 20 * 10, len(lines)  # the budget, with slack for a slow machine
    text = expect(client.get("/metrics"), 200).body.decode()
    assert int(re.search(r"^airlock_egress_events_dropped_total (\d+)$", text, re.M).group(1)) > 0
    assert client.value(pub, "1 + 1") == "2"


def test_raw_and_packet_sockets_are_still_refused(client, sessions, public):
    pub = sessions(interpreter=public)
    code = r'''
import json, socket
out = {}
for name, fam, typ, proto in [("raw4", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                              ("raw6", socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
                              ("rawtcp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP),
                              ("packet", socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
                              ("packet_dgram", socket.AF_PACKET, socket.SOCK_DGRAM, 0x0300),
                              ("tcp", socket.AF_INET, socket.SOCK_STREAM, 0),
                              ("udp", socket.AF_INET, socket.SOCK_DGRAM, 0),
                              ("tcp6", socket.AF_INET6, socket.SOCK_STREAM, 0)]:
    try:
        socket.socket(fam, typ, proto).close()
        out[name] = "ok"
    except OSError as e:
        out[name] = e.errno
print(json.dumps(out))
'''
    out = json.loads(client.run_ok(pub, code)["stdout"])
    assert (out["tcp"], out["udp"], out["tcp6"]) == ("ok", "ok", "ok"), out
    assert (out["raw4"], out["raw6"], out["rawtcp"]) == (errno.EPERM,) * 3, out
    assert (out["packet"], out["packet_dgram"]) == (errno.EAFNOSUPPORT,) * 2, out


def test_slirp4netns_goes_with_its_session(client, sessions, public, daemon):
    before = slirps(daemon)
    s = client.create_session(interpreter=public)
    mine = [p for p in slirps(daemon) if p not in before]
    assert len(mine) == 1, "one slirp4netns per public session: %s" % mine
    pid = mine[0][0]
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    uid = [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")][0]
    assert len(set(uid)) == 1 and int(uid[0]) >= 2100000000, "slirp4netns must run as the sandbox's pool uid: %s" % uid
    assert [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")] == ["0000000000000000"]
    assert [line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs")] == ["1"]
    assert [line.split()[1] for line in status.splitlines() if line.startswith("Seccomp:")] == ["2"]
    expect(client.delete("/v1/sessions/" + s["id"]), 200)
    assert netlab.wait_for(lambda: all(conftest.procs.starttime(p, zombie_is_gone=True) != st for p, st in mine)), \
        "slirp4netns outlived its session: %s" % mine


def test_dns_through_slirp_resolves_a_name_the_test_controls(lab, tmp_path):
    """`airlock run --network public` in a mount namespace whose /etc/resolv.conf names the
    lab's DNS server: slirp4netns forwards the sandbox's queries (to 10.0.2.3) there. The
    daemon's sessions are built by the same launcher code."""
    require(AIRLOCK.exists(), "%s is not built" % AIRLOCK)
    require(os.path.exists("/usr/bin/unshare"), "unshare (util-linux) is not installed")
    os.chmod(tmp_path, 0o755)
    resolv = lab.resolv_conf(str(tmp_path))
    code = ("import socket\nprint(socket.gethostbyname(%r))\n"
            "try:\n    socket.gethostbyname('unknown.invalid')\nexcept OSError:\n    print('nxdomain')\n"
            "import urllib.request\n"
            "print(urllib.request.urlopen('http://%s:%d/', timeout=5).read().decode())\n"
            % (lab.name("web"), lab.name("web"), netlab.WEB_PORT))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, str(AIRLOCK), "run", "-v",
                        "--network", "public", "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [lab.lab_addr, "nxdomain", lab.web_body], p.stdout + p.stderr
    assert "network public" in p.stderr


def test_allowlist_refuses_a_listed_name_that_resolves_to_a_private_address(lab, tmp_path):
    """Mode allowlist, with the host's resolver pointed at the lab's DNS server (as above):
    a listed name that resolves to a private address (the lab's 10.231.N.2) is refused by
    the proxy after resolution, while the same server listed by its address answers (the
    control). DNS rebinding has nothing to swap: the proxy connects to the address it
    checked."""
    require(AIRLOCK.exists(), "%s is not built" % AIRLOCK)
    require(os.path.exists("/usr/bin/unshare"), "unshare (util-linux) is not installed")
    os.chmod(tmp_path, 0o755)
    resolv = lab.resolv_conf(str(tmp_path))
    name, port = lab.name("web"), netlab.WEB_PORT
    code = ("import urllib.request, urllib.error\n"
            "for host in (%r, %r):\n"
            "    try:\n"
            "        print(urllib.request.urlopen('http://%%s:%d/' %% host, timeout=10).read().decode())\n"
            "    except urllib.error.HTTPError as e:\n"
            "        print(e.code, e.read().decode().strip())\n" % (name, lab.lab_addr, port))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, str(AIRLOCK), "run", "-v",
                        "--allow", "%s:%d" % (name, port), "--allow", "%s:%d" % (lab.lab_addr, port), "-c", code],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "403 airlock: %s resolves to %s, which is private (10.0.0.0/8): refused" % (name, lab.lab_addr), \
        p.stdout + p.stderr
    assert lines[1] == lab.web_body, p.stdout + p.stderr
    assert "egress refused %s:%d (blocked_address)" % (name, port) in p.stderr, p.stderr


def test_gvisor_with_a_network_is_refused_not_downgraded():
    # One-shot runs: gVisor has no network; public with it is bad usage naming the field.
    p = subprocess.run([str(AIRLOCK), "run", "--isolation", "gvisor", "--network", "public", "-c", "pass"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "network" in p.stderr and "namespace backend" in p.stderr, p.stderr


def _run_with_slirp(fake: str, tmp_path, code: str = "print('ran')") -> subprocess.CompletedProcess:
    """`airlock run --network public` with /usr/bin/slirp4netns replaced, in a mount
    namespace of the test's own, by the shell script fake."""
    os.chmod(tmp_path, 0o755)
    script = tmp_path / "slirp4netns"
    script.write_text("#!/bin/sh\n" + fake + "\n")
    script.chmod(0o755)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'mount --bind "$0" /usr/bin/slirp4netns && exec "$@"', str(script), str(AIRLOCK), "run",
                           "--network", "public", "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("fake,words", [
    ("echo 'slirp broke' >&2; exit 3", "slirp4netns exited with status 3: slirp broke"),
    ("exit 0", "slirp4netns exited with status 0"),
    # says ready without making tap0: the launcher's set-up finds nothing to set up
    ("printf 1 >&4; exec sleep 60", "network: no tap0 in the sandbox"),
])
def test_a_failing_slirp4netns_is_a_setup_error(tmp_path, fake, words):
    """Whatever goes wrong on the way, the program never runs: without egress, and without
    the rules either."""
    require(AIRLOCK.exists(), "%s is not built" % AIRLOCK)
    require(os.geteuid() == 0, "root is needed (a launcher of its own, a mount namespace)")
    require(netlab.public_missing() is None, netlab.public_missing() or "")
    p = _run_with_slirp(fake, tmp_path)
    assert p.returncode == 125, (p.returncode, p.stdout, p.stderr)
    assert "ran" not in p.stdout
    assert "network: " in p.stderr and words in p.stderr, p.stderr
    assert not [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                if conftest.procs.cmdline(pid).startswith("sleep 60") and _uid(pid) >= 2100000000], \
        "the fake slirp4netns outlived its sandbox"


@pytest.mark.parametrize("fake,words", [
    ("cat >/dev/null; echo 'Error: no nf_tables here' >&2; exit 1",
     "could not load the flow log's rules (status 1): Error: no nf_tables here"),
    # hangs: the set-up's time limit ends it, and the launcher served others meanwhile
    ("exec sleep 61.5", "the helper died (or took longer than 10 s)"),
])
def test_a_failing_nft_is_a_setup_error(tmp_path, fake, words):
    """Without the flow log's rules (nft fails: here a fake one, bound over /usr/sbin/nft in
    a mount namespace of the test's own) the program never runs, and the error says what
    went wrong. The control: the same run with the real nft runs the program."""
    require(AIRLOCK.exists(), "%s is not built" % AIRLOCK)
    require(os.geteuid() == 0, "root is needed (a launcher of its own, a mount namespace)")
    require(netlab.public_missing() is None, netlab.public_missing() or "")
    os.chmod(tmp_path, 0o755)
    script = tmp_path / "nft"
    script.write_text("#!/bin/sh\n" + fake + "\n")
    script.chmod(0o755)
    run = [str(AIRLOCK), "run", "--network", "public", "-c", "print('ran')"]
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" /usr/sbin/nft && exec "$@"', str(script), *run],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 125 and "ran" not in p.stdout, (p.returncode, p.stdout, p.stderr)
    assert words in p.stderr, p.stderr
    time.sleep(0.5)  # the set-up child's death takes its nft along (PR_SET_PDEATHSIG)
    assert not [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                if conftest.procs.cmdline(pid).startswith("sleep 61.5")], "the fake nft outlived its set-up"
    control = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert (control.returncode, control.stdout) == (0, "ran\n"), control.stderr


def _uid(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as f:
            return int([line.split()[1] for line in f if line.startswith("Uid:")][0])
    except (OSError, IndexError):
        return -1


def test_the_shim_refuses_to_run_without_the_rules(tmp_path):
    """bwrap's --block-fd also lets the sandbox go on when its pipe reads EOF (a launcher that
    died half way): the shim then checks the rules itself. In a bare network namespace it
    refuses, and with the old prohibit rules too (they do not lead into lo); with the rules,
    the refusal table and a route to slirp's resolver it goes on (and fails later, at the
    seccomp file this test does not give it: the control)."""
    shim = AIRLOCK.parent / "airlock-init"
    require(shim.exists(), "%s is not built" % shim)
    require(os.geteuid() == 0, "root is needed for a network namespace")
    missing = str(tmp_path / "no-such-filter")
    base = [str(shim), "--nofile", "64", "--seccomp", missing, "--network-public", "--", "/bin/true"]
    bare = subprocess.run(["unshare", "--net", *base], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 126, bare
    assert "network public: 169.254.169.254 is not sent into lo" in bare.stderr, bare.stderr
    link = ("ip link set lo up && ip link add tap0 type veth peer name d1 && ip addr add 10.0.2.100/24 dev tap0 && "
            "ip link set tap0 up && ip link set d1 up && ip route add default via 10.0.2.2 && ")
    rules = "".join("ip rule add prio 100 to %s lookup 100 && " % a
                    for a in ("169.254.0.0/16", "10.0.2.2", "127.0.0.0/8", "100.100.100.200", "168.63.129.16"))

    def shim_in(setup: str) -> subprocess.CompletedProcess:
        return subprocess.run(["unshare", "--net", "sh", "-c", setup + "exec \"$@\"", "sh", *base],
                              capture_output=True, text=True, timeout=60)

    # the old prohibit rules do not lead into lo
    old = shim_in(link + "ip rule add prio 100 to 169.254.0.0/16 prohibit && ip rule add prio 100 to 10.0.2.2 prohibit"
                  " && ")
    assert old.returncode == 126 and "is not sent into lo" in old.stderr, old
    # the table without its prohibit route: a socket bound to tap0 would reach slirp's gateway
    unbound = shim_in(link + "ip route add default dev lo src 127.0.0.1 table 100 && " + rules)
    assert unbound.returncode == 126, unbound
    assert "169.254.169.254 is routed through slirp for a socket bound to tap0" in unbound.stderr, unbound.stderr
    ruled = shim_in(link + "ip route add default dev lo src 127.0.0.1 table 100 && "
                    "ip route add prohibit default metric 4096 table 100 && " + rules)
    assert ruled.returncode == 126, ruled
    assert "network public" not in ruled.stderr and "seccomp: open " + missing in ruled.stderr, ruled.stderr
