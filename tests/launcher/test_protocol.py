"""The launcher's trust boundary, exercised with raw frames: ordering rules, every
refusal, fd handling, and the lifecycle of a sandbox seen from the protocol."""
import glob
import os
import socket

import lp
from lp import memfd, read_line


def expect_error(launcher, field, words=""):
    msg, fds = launcher.recv()
    assert msg is not None and msg["type"] == lp.ERROR, msg
    assert msg["field"] == field, msg
    assert words in msg["msg"], msg
    assert fds == []
    return msg


def test_hello_reports_the_host(launcher):
    msg = launcher.hello()
    assert msg["is_root"] == 1 and msg["bwrap"] == 1 and msg["seccomp"] == 1 and msg["landlock"] >= 1


def test_create_before_hello_is_refused(launcher):
    fd = memfd(b"print(1)")
    launcher.send(lp.create(), [fd])
    expect_error(launcher, "type", "first frame must be HELLO")
    os.close(fd)


def test_hello_rules(launcher):
    launcher.send(lp.hello(flags=0x80))
    expect_error(launcher, "flags", "unknown HELLO flags")
    launcher.send(lp.hello(version=7))
    expect_error(launcher, "client_version", "version 7")
    launcher.hello()
    launcher.send(lp.hello())
    expect_error(launcher, "type", "once")


def test_frame_level_refusals(launcher):
    launcher.hello()
    bad_magic = bytearray(lp.hello())
    bad_magic[0] ^= 0xFF
    launcher.send(bytes(bad_magic))
    expect_error(launcher, "magic")
    launcher.send(lp.frame(99, b"x" * 8))
    expect_error(launcher, "type", "unknown frame type")
    launcher.send(lp.frame(lp.HELLO_OK, b"\0" * 8))
    expect_error(launcher, "len")  # a reply type with a request-sized body
    launcher.send(b"ARLK")
    expect_error(launcher, "frame")


def test_create_field_refusals(launcher):
    launcher.hello()
    cases = [
        # A built runtime goes by NAME@vN (the client picks the version), never a path, and
        # only a supervising launcher (`airlock serve`, which knows the data dir) has any.
        (dict(runtime=b"datascience"), "runtime", "'default' or NAME@vN"),
        (dict(runtime=b"../x"), "runtime", "[a-z0-9-]"),
        (dict(runtime=b"ds@v1/../../etc"), "runtime", "NAME@vN"),
        (dict(runtime=b"datascience@v1"), "runtime", "only under `airlock serve`"),
        (dict(entry=b"init"), "entry_name", "not 'init'"),
        (dict(entry=b"../../etc/passwd"), "entry_name", ""),
        (dict(memory=1), "memory", "outside"),
        (dict(timeout_ms=0), "timeout", "outside"),
        (dict(lang=9), "language", "unknown language"),
        (dict(backend=7), "backend", "unknown isolation backend"),
        (dict(env=b"1X=y\0", count=1), "env", "name must match"),
    ]
    for kwargs, field, words in cases:
        fd = memfd(b"print(1)")
        launcher.send(lp.create(**kwargs), [fd])
        os.close(fd)
        expect_error(launcher, field, words)


def test_create_fd_refusals(launcher, tmp_path):
    launcher.hello()
    launcher.send(lp.create())
    expect_error(launcher, "fds", "exactly one fd")
    r, w = os.pipe()
    launcher.send(lp.create(), [r])
    expect_error(launcher, "code", "regular file")
    os.close(r)
    os.close(w)
    big = memfd(b"#" * ((16 << 20) + 1))
    launcher.send(lp.create(), [big])
    expect_error(launcher, "code", "limit")
    os.close(big)


def run_to_exit(launcher, code: bytes, **kwargs):
    fd = memfd(code)
    launcher.send(lp.create(**kwargs), [fd])
    os.close(fd)
    msg, fds = launcher.recv()
    assert msg["type"] == lp.CREATED, msg
    assert len(fds) == 2
    out_r, err_r = fds
    exited, _ = launcher.recv()
    out = b"".join(iter(lambda: os.read(out_r, 65536), b""))
    err = b"".join(iter(lambda: os.read(err_r, 65536), b""))
    os.close(out_r)
    os.close(err_r)
    return msg, exited, out, err


def test_a_sandbox_from_create_to_exit(launcher):
    launcher.hello()
    created, exited, out, err = run_to_exit(launcher, b"echo hi; echo oops >&2; exit 3", lang=lp.BASH,
                                            entry=b"main.sh")
    iso = created["isolation"]
    assert (iso["backend"], iso["seccomp"], iso["userns"], iso["uid_private"]) == (lp.NAMESPACE, 1, 1, 1)
    assert iso["landlock"] >= 1 and iso["cgroup"] in (1, 2) and iso["host_uid"] >= 2100000000
    assert exited["type"] == lp.EXITED and exited["sandbox_id"] == created["sandbox_id"]
    assert (exited["exit_code"], exited["reason"]) == (3, lp.REASON_NONE)
    assert (out, err) == (b"hi\n", b"oops\n")
    assert exited["peak"] > 0


def test_signal_kill_and_unknown_sandbox(launcher):
    launcher.hello()
    launcher.send(lp.signal(424242, lp.SIG_KILL, lp.REASON_STOPPED))  # unknown: ignored, no reply
    fd = memfd(b"import time\nprint('up', flush=True)\ntime.sleep(60)")
    launcher.send(lp.create(), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    assert created["type"] == lp.CREATED
    assert read_line(out_r) == b"up\n"
    launcher.send(lp.signal(created["sandbox_id"], lp.SIG_KILL, lp.REASON_STOPPED))
    exited, _ = launcher.recv()
    assert (exited["type"], exited["reason"]) == (lp.EXITED, lp.REASON_STOPPED)
    os.close(out_r)
    os.close(err_r)
    # A client may not claim the launcher's own reasons.
    launcher.send(lp.signal(created["sandbox_id"], lp.SIG_KILL, lp.REASON_OOM))
    expect_error(launcher, "reason", "cannot be requested")


def test_client_eof_removes_every_sandbox(launcher):
    launcher.hello()
    fd = memfd(b"sleep 60 & sleep 60 & echo up; wait")
    launcher.send(lp.create(lang=lp.BASH, entry=b"main.sh"), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    assert read_line(out_r) == b"up\n"
    pid = launcher.proc.pid
    assert glob.glob(f"/sys/fs/cgroup/*/airlock/sb-{pid}-*")
    launcher.sock.close()
    assert launcher.proc.wait(timeout=10) == 0
    assert glob.glob(f"/sys/fs/cgroup/*/airlock/sb-{pid}-*") == []
    assert os.read(out_r, 100) == b""  # every writer is gone
    os.close(out_r)
    os.close(err_r)


def test_a_hostile_client_is_dropped(launcher):
    launcher.hello()
    for _ in range(16):
        launcher.send(b"garbage-garbage-garbage-garbage")
    replies = 0
    while True:
        msg, _ = launcher.recv()
        if msg is None:
            break
        replies += 1
    assert replies == 16
    assert launcher.proc.wait(timeout=10) == 1


CONTROL_ECHO = b"""
import os, socket, stat
fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))
s = socket.socket(fileno=3)
line = s.makefile('rb').readline()
s.sendall(line.upper() + repr(fds).encode() + b'\\n')
"""


def test_control_socket(launcher):
    launcher.hello()
    fd = memfd(CONTROL_ECHO)
    launcher.send(lp.create(flags=lp.CREATE_CONTROL), [fd])
    os.close(fd)
    created, fds = launcher.recv()
    assert created["type"] == lp.CREATED, created
    assert len(fds) == 3
    out_r, err_r, control = fds
    os.write(control, b"hello runner\n")
    reply = b""
    while reply.count(b"\n") < 2:
        chunk = os.read(control, 4096)
        assert chunk, os.read(err_r, 4096)
        reply += chunk
    upper, fdlist = reply.split(b"\n")[:2]
    assert upper == b"HELLO RUNNER"
    assert fdlist == b"[0, 1, 2, 3, 4]"  # 4: the listing's own directory fd; nothing else leaked
    exited, _ = launcher.recv()
    assert (exited["type"], exited["exit_code"]) == (lp.EXITED, 0)
    for f in fds:
        os.close(f)


def test_control_socket_refused_for_gvisor_and_unknown_flags(launcher):
    launcher.hello()
    for kwargs, words in [(dict(flags=lp.CREATE_CONTROL, backend=lp.GVISOR), "namespace backend"),
                          (dict(flags=0x80), "unknown CREATE flags")]:
        fd = memfd(b"pass")
        launcher.send(lp.create(**kwargs), [fd])
        os.close(fd)
        expect_error(launcher, "flags", words)


def test_interrupt_only_leaves_the_sandbox_running(launcher):
    launcher.hello()
    code = (b"import time\nfor i in range(2):\n    try:\n        print('waiting', flush=True)\n"
            b"        time.sleep(30)\n    except KeyboardInterrupt:\n        print('interrupted', flush=True)\n"
            b"print('still here', flush=True)\n")
    fd = memfd(code)
    launcher.send(lp.create(), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    sid = created["sandbox_id"]
    for _ in range(2):
        assert read_line(out_r) == b"waiting\n"
        launcher.send(lp.signal(sid, 3, lp.REASON_NONE))  # LP_SIG_INTERRUPT_ONLY
        assert read_line(out_r) == b"interrupted\n"
    assert read_line(out_r) == b"still here\n"
    exited, _ = launcher.recv()
    assert (exited["type"], exited["exit_code"], exited["reason"]) == (lp.EXITED, 0, lp.REASON_NONE)
    os.close(out_r)
    os.close(err_r)


def test_network_modes(launcher):
    """Mode public (2): the sandbox gets tap0, slirp's resolver and the rules before its
    program runs, and slirp4netns goes with it. Unknown modes and public under gVisor are
    refused, naming the field."""
    launcher.hello()
    from prereq import require  # conftest put testlib on the path
    require(os.access("/usr/bin/slirp4netns", os.X_OK) and os.path.exists("/dev/net/tun"),
            "network mode public needs slirp4netns (apt-get install slirp4netns) and /dev/net/tun")
    for kwargs, words in [(dict(network=4), "unknown network mode 4"), (dict(network=0), "unknown network mode 0"),
                          (dict(network=2, backend=lp.GVISOR), "needs the namespace backend"),
                          (dict(network=3, backend=lp.GVISOR), "needs the namespace backend"),
                          (dict(network=1, allow=[b"pypi.org:443"]), "only goes with network mode allowlist")]:
        fd = memfd(b"pass")
        launcher.send(lp.create(**kwargs), [fd])
        os.close(fd)
        expect_error(launcher, "allowlist" if "allow" in kwargs else "network", words)
    code = (b"import socket, subprocess\n"
            b"print(sorted(n for _, n in socket.if_nameindex()))\n"
            b"print(open('/etc/resolv.conf').read().strip())\n"
            b"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            b"s.connect(('169.254.169.254', 80)); print(s.getsockname()[0])\n"
            b"try:\n    s.send(b'x'); print('metadata sent')\n"
            b"except PermissionError:\n    print('metadata refused')\n"
            b"t = socket.socket(); t.settimeout(10)\n"
            b"try:\n    t.connect(('169.254.169.254', 80)); print('metadata connected')\n"
            b"except ConnectionRefusedError:\n    print('tcp refused')\n")
    fd = memfd(code)
    launcher.send(lp.create(network=2), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    assert created["type"] == lp.CREATED and created["isolation"]["network"] == 2, created
    slirp = [p for p in _children(launcher.proc.pid) if _cmdline(p).startswith("/usr/bin/slirp4netns")]
    assert len(slirp) == 1, "one slirp4netns per public sandbox, the launcher's child"
    frames = []
    while not frames or frames[-1]["type"] != lp.EXITED:
        frames.append(launcher.recv()[0])
    exited = frames[-1]
    out = b"".join(iter(lambda: os.read(out_r, 65536), b""))
    err = b"".join(iter(lambda: os.read(err_r, 65536), b""))
    os.close(out_r)
    os.close(err_r)
    assert (exited["type"], exited["exit_code"]) == (lp.EXITED, 0), err
    # the refusal table leads into the sandbox's own lo; nft refuses there, and logs
    assert out == b"['lo', 'tap0']\nnameserver 10.0.2.3\n127.0.0.1\nmetadata refused\ntcp refused\n", (out, err)
    events = [(f["sandbox_id"], f["outcome"], f["reason"], f["host"], f["port"], f["protocol"])
              for f in frames if f["type"] == lp.EGRESS]
    sid = created["sandbox_id"]
    assert events == [(sid, 2, 2, "169.254.169.254", 80, 17), (sid, 2, 2, "169.254.169.254", 80, 6)], frames
    for pid in slirp:  # killed with the sandbox, then reaped by the launcher
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid) or _state(pid) == "Z":
                break
            __import__("time").sleep(0.05)
        assert not os.path.exists("/proc/%d" % pid) or _state(pid) == "Z", "slirp4netns %d outlived its sandbox" % pid


def test_network_allowlist(launcher):
    """Mode allowlist (3): the sandbox has only lo, where its proxy listens on 3128 before
    the program runs; the proxy (the launcher's child, the sandbox's uid) lets the listed
    entry through, and each connection comes back as an EGRESS frame naming the sandbox."""
    launcher.hello()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    code = (b"import os, socket, urllib.request\n"
            b"print(sorted(n for _, n in socket.if_nameindex()))\n"
            b"print(os.environ['HTTPS_PROXY'])\n"
            b"for p in (%d, %d):\n"
            b"    try:\n        urllib.request.urlopen('http://127.0.0.1:%%d/' %% p, timeout=10)\n"
            b"    except Exception as e:\n        print(type(e).__name__, getattr(e, 'code', ''))\n" % (port, port + 1))
    fd = memfd(code)
    launcher.send(lp.create(network=3, allow=[b"127.0.0.1:%d" % port]), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    assert created["type"] == lp.CREATED and created["isolation"]["network"] == 3, created
    proxy = [p for p in _children(launcher.proc.pid) if _cmdline(p).startswith("airlock-egress ")]
    assert len(proxy) == 1 and _cmdline(proxy[0]).split() == ["airlock-egress", "127.0.0.1:%d" % port], proxy
    conn, _ = srv.accept()  # the listed connection arrives here, from the proxy
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    conn.close()
    frames = []
    while True:
        f, _ = launcher.recv()
        frames.append(f)
        if f["type"] == lp.EXITED:
            break
    out = b"".join(iter(lambda: os.read(out_r, 65536), b""))
    os.close(out_r)
    os.close(err_r)
    srv.close()
    assert out.decode().splitlines() == ["['lo']", "http://127.0.0.1:3128", "HTTPError 403"], out
    events = [(f["sandbox_id"], f["outcome"], f["reason"], f["host"], f["port"]) for f in frames if f["type"] == lp.EGRESS]
    sid = created["sandbox_id"]
    assert events == [(sid, 1, 0, "127.0.0.1", port), (sid, 2, 1, "127.0.0.1", port + 1)], frames


def _children(pid: int) -> list:
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"
