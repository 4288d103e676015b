"""Malformed requests at every level never take the daemon down: it answers what it can
and goes on serving everyone else."""
import socket
import threading
import time

import airlock_api as api
from airlock_api import expect

RAW = [
    b"\x00\xff\xfe garbage \r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",  # HTTP/0.9
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200000 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5000)) + b"\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":",  # cut short
    b"GET /v1/sessions/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/sessions/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"k" * 100000 + b"\r\n\r\n",
    b"GET /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x00\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 200,  # pipelined
]


def _serving(client, anon):
    expect(anon.get("/healthz"), 200)
    expect(client.get("/v1/sessions"), 200)


def test_malformed_http_never_kills_the_daemon(client, anon, daemon):
    for data in RAW:
        answer = api.raw_exchange("127.0.0.1", daemon.port, data, wait=10)
        if answer.startswith(b"HTTP/1."):
            status = int(answer[9:12])
            assert status < 500 or status in (501, 505), "%r -> %r" % (data[:60], answer[:200])
        assert daemon.alive(), "the daemon died on %r" % data[:80]
        _serving(client, anon)


def test_abandoned_connections_never_block_others(client, anon, daemon):
    socks = []
    try:
        for i in range(64):
            s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            if i % 4 == 1:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            elif i % 4 == 2:
                s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # body never sent
            elif i % 4 == 3:
                s.sendall(b"PUT /v1/sessions/sess_x/files/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n")
            socks.append(s)
        start = time.monotonic()
        _serving(client, anon)
        assert time.monotonic() - start < 30
    finally:
        for s in socks:
            s.close()
    _serving(client, anon)


def test_disconnects_in_the_middle_leave_nothing_broken(client, anon, daemon, sid):
    target = api.file_target(sid, "half.bin")
    for cut in (0, 10, 1 << 16, 5 << 20):
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
                       % (target, daemon.key, 10 << 20)).encode())
            s.sendall(b"h" * cut)
        # a JSON body cut short
        body = b'{"code": "import time; time.sleep(0.2)"}'
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            s.sendall(("POST /v1/sessions/%s/execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % (sid, daemon.key, len(body))).encode())
            s.sendall(body[:cut % len(body)])
    # a download cut short
    expect(client.put(api.file_target(sid, "five.bin"), body=b"5" * (5 << 20)), 201)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (api.file_target(sid, "five.bin"), daemon.key)).encode())
            s.recv(1000)
    time.sleep(0.5)
    _serving(client, anon)
    # the session works, and a cut upload left no file (or a complete one)
    assert client.value(sid, "1 + 1") == "2"
    resp = client.get(api.file_target(sid, "half.bin"))
    assert resp.status == 404 or (resp.status == 200 and len(resp.body) == 10 << 20), resp
    expect(client.put(api.file_target(sid, "half.bin"), body=b"whole"), 201)
    assert client.get(api.file_target(sid, "half.bin")).body == b"whole"


def test_client_vanishing_during_an_execution(client, daemon, sid):
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        body = b'{"code": "import time\\ntime.sleep(1)\\nleft = 1"}'
        s.sendall(("POST /v1/sessions/%s/execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (sid, daemon.key, len(body))).encode() + body)
        time.sleep(0.2)
    # the execution ran to its end; the session is usable and consistent
    deadline = time.monotonic() + 30
    while client.get_session(sid)["status"] == "busy" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.value(sid, "left") == "1"


def test_many_errors_in_parallel(client, anon, sid):
    bad = [
        lambda: expect(client.post("/v1/sessions", body=b"{", content_type="application/json"), 400),
        lambda: expect(client.post("/v1/sessions", json={"limits": {"pids": 1}}), 400),
        lambda: expect(client.get("/v1/sessions/sess_" + "9" * 26), 404),
        lambda: expect(client.get(api.file_target(sid, "../x")), 400),
        lambda: expect(anon.get("/v1/sessions"), 401),
        lambda: expect(client.request("PATCH", "/v1/sessions"), 405),
        lambda: expect(client.post("/v1/sessions/%s/execute" % sid, body=b"x", content_type="text/plain"), 415),
    ]
    errors = []

    def run(k):
        try:
            for j in range(10):
                bad[(k + j) % len(bad)]()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(14)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    _serving(client, anon)
    assert client.value(sid, "6 * 7") == "42"
