"""A private network for the network-mode tests: a network namespace the test creates, joined
to the host by a veth pair, with servers inside it. Traffic from a test only ever goes to
loopback or into this namespace, never to any other address.

    host side  10.231.N.1/24   a host address (public sandboxes must NOT reach the host itself);
                               the test's own listener `host_listener` binds here
    lab side   10.231.N.2/24   web (HTTP 8080) and DNS (UDP 53) servers: the "internet"
               169.254.169.254 the "metadata server" (HTTP 80), routed from the host through the
                               veth: the control that a probe WOULD reach it if it were not blocked

N is random (and free on this host). Every lab takes an exclusive lock for its whole life,
because 169.254.169.254 can be routed to one lab only; another test run on the same host
waits. The DNS server answers A queries for `*.airlock-lab.test` with 10.231.N.2 and
refuses everything else, so a name that resolves proves the query reached the lab.
"""
from __future__ import annotations

import fcntl
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time

LOCK = "/run/lock/airlock-netlab.lock"
METADATA = "169.254.169.254"
DOMAIN = "airlock-lab.test"
WEB_PORT = 8080

# Runs inside the lab namespace: two HTTP servers and a DNS server, then "ready".
SERVER = r'''
import http.server, socket, socketserver, struct, sys, threading
lab, token, domain = sys.argv[1], sys.argv[2], sys.argv[3]

def http_on(addr, port, body):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer((addr, port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((lab, 53))
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qend = i + 5
        name = ".".join(labels).lower()
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if len(q) >= qend else 0
        ok = name.endswith("." + domain)
        answers = b""
        if ok and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(lab)
        flags = 0x8180 if ok else 0x8183  # NOERROR / NXDOMAIN
        head = q[:2] + struct.pack("!HHHHH", flags, 1, 1 if answers else 0, 0, 0)
        s.sendto(head + q[12:qend] + answers, peer)

http_on(lab, %(port)d, "web " + token)
http_on("%(metadata)s", 80, "metadata " + token)
threading.Thread(target=dns, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()  # until the test closes it
'''


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def missing() -> str | None:
    """Why a lab cannot be built here, or None."""
    if os.geteuid() != 0:
        return "the network lab needs root (it creates a network namespace and a veth pair)"
    if not shutil.which("ip"):
        return "iproute2 (ip) is not installed"
    return None


def public_missing() -> str | None:
    """Why this host cannot run sandboxes in network mode public, or None."""
    if not os.access("/usr/bin/slirp4netns", os.X_OK):
        return "slirp4netns is not installed (apt-get install slirp4netns)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (the tun driver)"
    if not os.access("/usr/sbin/nft", os.X_OK):
        return "nft is not installed (apt-get install nftables): mode public logs every flow through it"
    return None


class NetLab:
    def __init__(self):
        self.token = secrets.token_hex(8)
        tag = secrets.token_hex(3)
        self.ns = "airlock-lab-" + tag
        self.veth_host, self.veth_lab = "alab%sh" % tag, "alab%sn" % tag
        self._lockf = None
        self._server = None
        self._listeners: list[socket.socket] = []
        self.net = None

    # -- life -------------------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        os.makedirs(os.path.dirname(LOCK), exist_ok=True)
        self._lockf = open(LOCK, "w")
        fcntl.flock(self._lockf, fcntl.LOCK_EX)
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _free_net(self) -> int:
        used = _ip("-o", "addr").stdout + _ip("route").stdout
        for _ in range(200):
            n = random.randint(1, 254)
            if "10.231.%d." % n not in used:
                return n
        raise RuntimeError("no free 10.231.N.0/24 on this host")

    def _build(self) -> None:
        stale = _ip("route", "show", METADATA + "/32").stdout.strip()
        if stale:  # a lab that died without cleaning up (we hold the lock, so it is not live)
            if " dev alab" not in stale:
                raise RuntimeError("%s is already routed on this host (%s): not touching it" % (METADATA, stale))
            _ip("route", "del", METADATA + "/32", check=False)
        n = self._free_net()
        self.net = n
        self.host_addr, self.lab_addr = "10.231.%d.1" % n, "10.231.%d.2" % n
        _ip("netns", "add", self.ns)
        _ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_lab)
        _ip("link", "set", self.veth_lab, "netns", self.ns)
        _ip("addr", "add", self.host_addr + "/24", "dev", self.veth_host)
        _ip("link", "set", self.veth_host, "up")
        _ip("-n", self.ns, "addr", "add", self.lab_addr + "/24", "dev", self.veth_lab)
        _ip("-n", self.ns, "addr", "add", METADATA + "/32", "dev", self.veth_lab)
        _ip("-n", self.ns, "link", "set", self.veth_lab, "up")
        _ip("-n", self.ns, "link", "set", "lo", "up")
        _ip("route", "add", METADATA + "/32", "via", self.lab_addr, "dev", self.veth_host)
        code = SERVER % {"port": WEB_PORT, "metadata": METADATA}
        self._server = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", code, self.lab_addr,
                                         self.token, DOMAIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self._server.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("the lab's servers did not start: %r %s" % (line, self._server.stderr.read()))

    def __exit__(self, *exc) -> None:
        for s in self._listeners:
            s.close()
        if self._server is not None:
            try:
                self._server.stdin.close()
            except OSError:
                pass
            self._server.kill()
            self._server.wait(timeout=10)
        if self.net is not None:
            _ip("route", "del", METADATA + "/32", "dev", self.veth_host, check=False)
            _ip("link", "del", self.veth_host, check=False)
        _ip("netns", "del", self.ns, check=False)
        if self._lockf is not None:
            self._lockf.close()  # releases the lock

    # -- what tests use ---------------------------------------------------------------------

    @property
    def web_url(self) -> str:
        return "http://%s:%d/" % (self.lab_addr, WEB_PORT)

    @property
    def web_body(self) -> str:
        return "web " + self.token

    @property
    def metadata_body(self) -> str:
        return "metadata " + self.token

    def name(self, host: str = "web") -> str:
        return "%s.%s" % (host, DOMAIN)

    def host_listener(self) -> int:
        """A TCP listener on the host side's address (a host address), answering every
        connection with a line; returns its port."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host_addr, 0))
        s.listen(16)
        self._listeners.append(s)
        body = ("host " + self.token + "\n").encode()

        def serve():
            while True:
                try:
                    c, _ = s.accept()
                except OSError:
                    return
                with c:
                    c.sendall(body)
        threading.Thread(target=serve, daemon=True).start()
        return s.getsockname()[1]

    def resolv_conf(self, directory: str) -> str:
        """A resolv.conf naming the lab's DNS server, for a launcher started in a mount
        namespace of its own (slirp4netns forwards the sandbox's queries to it)."""
        path = os.path.join(directory, "resolv.conf")
        with open(path, "w") as f:
            f.write("nameserver %s\n" % self.lab_addr)
        os.chmod(path, 0o644)
        return path


def http_get(url: str, timeout: float = 5) -> str:
    """The body of url, fetched from the host (the controls)."""
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    with opener.open(url, timeout=timeout) as r:
        return r.read().decode()


def wait_for(pred, timeout: float = 10.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
