"""Jupyter Kernel Gateway of the benchmark's own, and a small client of its protocol.

The gateway (`jupyter-kernel-gateway` from PyPI, run by this Python as
`python -m kernel_gateway`) listens on a free loopback port with a random auth token and
a temporary JUPYTER_PATH holding one kernelspec: `/usr/bin/python3 -m ipykernel_launcher`,
the same interpreter and the same numpy/pandas/matplotlib as Airlock's sessions (Debian's
python3-ipykernel provides ipykernel for it). Kernels are started with
`POST /api/kernels`, driven over the websocket `/api/kernels/{id}/channels` with the
Jupyter messaging protocol (version 5.3, JSON frames), and ended with
`DELETE /api/kernels/{id}`.

An execution counts as done, as for Airlock's `execute`, when both its `execute_reply`
(shell channel) and the kernel's `status: idle` for it (iopub) have arrived; outputs
(`stream`, `execute_result`) arrive before the idle status.

TCP and Jupyter: tornado's websocket does not set TCP_NODELAY, so the gateway's second
small frame of an execution waits in Nagle's algorithm for the client's ACK, which Linux
delays by up to 40 ms. `quickack=True` has the client ask for immediate ACKs
(TCP_QUICKACK before every read), which removes that stall from the client side; the
benchmark reports Jupyter with it (its best case) and notes the default.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from benchlib import (
    CLEAN_ENV,
    PYTHON,
    BenchFailure,
    cpu_seconds,
    descendants,
    free_port,
    kill_leftovers,
    log_tail,
    snapshot_tree,
)

KERNEL_NAME = "airlock-bench-python"


def missing() -> str | None:
    """What is missing to run the gateway here, or None."""
    if importlib.util.find_spec("kernel_gateway") is None:
        return (f"Jupyter Kernel Gateway is not installed for {sys.executable} "
                f"(pip install -r tests/requirements.txt: jupyter-kernel-gateway)")
    if importlib.util.find_spec("websocket") is None:
        return f"websocket-client is not installed for {sys.executable} (pip install -r tests/requirements.txt)"
    p = subprocess.run([PYTHON, "-c", "import ipykernel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=CLEAN_ENV)
    if p.returncode != 0:
        return f"ipykernel is not installed for {PYTHON} (Debian package python3-ipykernel)"
    return None


def versions() -> str:
    out = []
    try:
        from importlib.metadata import version
        out.append(f"jupyter-kernel-gateway {version('jupyter-kernel-gateway')}")
        out.append(f"jupyter_server {version('jupyter_server')}")
        out.append(f"websocket-client {version('websocket-client')}")
    except Exception:
        pass
    p = subprocess.run([PYTHON, "-c", "import ipykernel; print(ipykernel.__version__)"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, env=CLEAN_ENV)
    if p.returncode == 0:
        out.append(f"ipykernel {p.stdout.decode().strip()} (for {PYTHON})")
    return ", ".join(out)


class Gateway:
    def __init__(self, tmp: Path):
        self.root = tmp / "jupyter"
        self.logpath = tmp / "jupyter-kernel-gateway.log"
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def log_tail(self) -> str:
        return log_tail(self.logpath)

    def start(self) -> None:
        spec = self.root / "share" / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (/usr/bin/python3, as Airlock's sessions)", "language": "python"}))
        env = dict(CLEAN_ENV)
        for k, sub in (("JUPYTER_PATH", "share"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                       ("JUPYTER_CONFIG_DIR", "config"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl"),
                       ("HOME", "home")):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            env[k] = str(self.root / sub)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        for attempt in range(3):
            self.port = free_port()
            argv = [sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
                    f"--KernelGatewayApp.port={self.port}", "--KernelGatewayApp.port_retries=0",
                    f"--KernelGatewayApp.auth_token={self.token}",
                    f"--KernelGatewayApp.default_kernel_name={KERNEL_NAME}",
                    # IOPub output is limited to 1 MB/s by default: B6 moves files through it.
                    "--ZMQChannelsWebsocketConnection.limit_rate=False"]
            with open(self.logpath, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                             cwd=self.root, start_new_session=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    st, _ = self.req("GET", "/api/kernelspecs", timeout=2)
                    if st == 200:
                        return
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.1)
            if self.proc.poll() is None:
                self.stop()
                raise BenchFailure(f"Jupyter Kernel Gateway not ready after 60 s; log:\n{self.log_tail()}")
            if attempt == 2 or "already in use" not in self.log_tail():
                raise BenchFailure(f"Jupyter Kernel Gateway exited with {self.proc.returncode}; log:\n{self.log_tail()}")

    def req(self, method: str, path: str, body: dict | None = None, timeout: float = 300) -> tuple[int, dict]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"token {self.token}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
        finally:
            c.close()
        return r.status, (json.loads(raw) if raw else {})

    def kernel(self, quickack: bool = True) -> Kernel:
        """Start a kernel and connect to it (returns once the websocket is open; the kernel
        may still be starting: its first execution waits for it)."""
        st, doc = self.req("POST", "/api/kernels", {"name": KERNEL_NAME})
        if st != 201 or "id" not in doc:
            raise BenchFailure(f"Jupyter: POST /api/kernels: HTTP {st}: {doc}; log:\n{self.log_tail()}")
        return Kernel(self, doc["id"], quickack)

    def kernel_roots(self) -> list[int]:
        """The kernels' processes (the gateway's children)."""
        if self.proc is None:
            return []
        kids = []
        for p in descendants(self.proc.pid):
            try:
                with open(f"/proc/{p}/stat", "rb") as f:
                    st = f.read().decode("utf-8", "replace")
                if int(st[st.rindex(")") + 2:].split()[1]) == self.proc.pid:
                    kids.append(p)
            except (OSError, ValueError):
                continue
        return kids

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the gateway itself, and kernels (live ones, plus ended ones it reaped)."""
        own, reaped = cpu_seconds(self.proc.pid)
        out = {"gateway": own, "kernels": reaped}
        for p in descendants(self.proc.pid):
            o, r = cpu_seconds(p)
            out["kernels"] += o + r
        return out

    def stop(self) -> list[str]:
        """SIGTERM (the gateway shuts its kernels down), SIGKILL after 30 s; returns what had to
        be killed afterwards (kernels run in sessions of their own, so they are tracked by pid)."""
        p = self.proc
        if p is None:
            return []
        tree = snapshot_tree(p.pid) if p.poll() is None else []
        left = []
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                left.append("jupyter kernel gateway did not stop within 30 s of SIGTERM")
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return left + kill_leftovers(tree)


class Kernel:
    """One kernel's websocket (not thread-safe: one per thread)."""

    def __init__(self, gw: Gateway, kid: str, quickack: bool):
        import websocket  # websocket-client

        self._websocket = websocket
        self.gw, self.id, self.quickack = gw, kid, quickack
        self.session = uuid.uuid4().hex
        self.connect()

    # The gateway pings every 30 s and drops a websocket whose pong is late; the client only
    # answers pings while it reads, so a websocket left idle longer is reopened before use.
    IDLE_RECONNECT_S = 20.0

    def connect(self) -> None:
        try:
            self.ws = self._websocket.create_connection(
                f"ws://127.0.0.1:{self.gw.port}/api/kernels/{self.id}/channels",
                header=[f"Authorization: token {self.gw.token}"], timeout=300, enable_multithread=False)
        except Exception as e:
            raise BenchFailure(f"Jupyter: websocket to kernel {self.id}: {e!r}; log:\n{self.gw.log_tail()}") from e
        self.ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.last_used = time.monotonic()

    def execute(self, code: str) -> tuple[str, str | None]:
        """Run code; returns (stdout text, the execute_result's text/plain or None). An error
        in the code is a BenchFailure."""
        if time.monotonic() - self.last_used > self.IDLE_RECONNECT_S:
            try:
                self.ws.close()
            except Exception:
                pass
            self.connect()
        mid = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": mid, "username": "bench", "session": self.session, "msg_type": "execute_request",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        reply = None
        idle = False
        out: list[str] = []
        result = None
        sock = self.ws.sock
        while reply is None or not idle:
            if self.quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            m = json.loads(self.ws.recv())
            if m.get("parent_header", {}).get("msg_id") != mid:
                continue
            t = m["msg_type"]
            c = m["content"]
            if t == "execute_reply":
                reply = c
            elif t == "status" and c.get("execution_state") == "idle":
                idle = True
            elif t == "stream" and c.get("name") == "stdout":
                out.append(c["text"])
            elif t == "execute_result":
                result = c["data"].get("text/plain")
            elif t == "error":
                raise BenchFailure(f"Jupyter: {code[:200]!r} raised {c.get('ename')}: {c.get('evalue')}")
        if reply.get("status") != "ok":
            raise BenchFailure(f"Jupyter: {code[:200]!r}: execute_reply {reply}")
        self.last_used = time.monotonic()
        return "".join(out), result

    def close(self, delete: bool = True) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        if delete:
            st, doc = self.gw.req("DELETE", f"/api/kernels/{self.id}")
            if st not in (204, 404):   # 404: the gateway already dropped it (a kernel that died)
                raise BenchFailure(f"Jupyter: DELETE /api/kernels/{self.id}: HTTP {st}: {doc}")
