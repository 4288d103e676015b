"""Drive the real airlock-launcher over its socket, frame by frame, as a hostile or
buggy client would. Under CI=true a missing prerequisite fails instead of skipping."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testlib"))
from prereq import require

ROOT = Path(__file__).resolve().parents[2]


class Launcher:
    def __init__(self, exe: Path):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd = theirs.fileno()

        def on_fd_3():
            os.dup2(fd, 3)

        self.proc = subprocess.Popen([str(exe)], preexec_fn=on_fd_3, close_fds=False,
                                     stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        theirs.close()
        self.sock.settimeout(30)

    def send(self, data: bytes, fds=()):
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.send(data)

    def recv(self):
        data, fds, _, _ = socket.recv_fds(self.sock, 65536, 4)
        if not data:
            return None, fds
        return lp.parse(data), fds

    def hello(self):
        self.send(lp.hello())
        msg, _ = self.recv()
        assert msg["type"] == lp.HELLO_OK, msg
        return msg

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(timeout=10)
        finally:
            self.proc.kill()
            self.proc.stderr.close()


@pytest.fixture
def launcher():
    build = ROOT / os.environ.get("AIRLOCK_BUILD", "build")
    exe = build / "airlock-launcher"
    require(exe.exists(), f"{exe} is not built")
    require(os.geteuid() == 0, "the launcher tests need root")
    lch = Launcher(exe)
    yield lch
    lch.close()
