"""An `airlock serve` of the benchmark's own, and a plain HTTP client for it.

The daemon runs on a free loopback port with a temporary data dir, in its own process group;
stop() ends it with SIGTERM and then checks that nothing it started is left (sandboxes,
their cgroups), killing and reporting whatever is. The client is Python's http.client over
one keep-alive connection with Nagle off (what urllib3, httpx and curl do too); one client
per thread.

Standard library only (the SDK is timed separately, by bench/run.py).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from benchlib import (
    CLEAN_ENV,
    REPO,
    BenchFailure,
    cmdline,
    cpu_seconds,
    descendants,
    free_port,
    kill_leftovers,
    log_tail,
    memory_cgroup,
    snapshot_tree,
)


class Conn(http.client.HTTPConnection):
    """Keep-alive connection with Nagle off; counts the TCP connections it opened."""

    connects = 0

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Conn.connects += 1


def result_text(doc: dict) -> str | None:
    res = doc.get("results") or []
    return res[0].get("text/plain") if res else None


class Client:
    """The REST API over one connection (not thread-safe: one per thread)."""

    IDLE_RECONNECT_S = 60.0   # the daemon closes idle keep-alive connections (libmicrohttpd, 300 s)

    def __init__(self, daemon: Daemon, timeout: float = 300):
        self.d = daemon
        self.conn = Conn("127.0.0.1", daemon.port, timeout=timeout)
        self.auth = {"Authorization": f"Bearer {daemon.key}"}
        self.last_used = time.monotonic()

    def close(self) -> None:
        self.conn.close()

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            auth: bool = True) -> tuple[int, bytes]:
        h = dict(self.auth) if auth else {}
        h.update(headers or {})
        if time.monotonic() - self.last_used > self.IDLE_RECONNECT_S:
            self.conn.close()   # reconnected by the next request, not timed out under it
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise BenchFailure(f"airlock {self.d.name}: {method} {path}: {e!r}; daemon log:\n{self.d.log_tail()}") from e
        self.last_used = time.monotonic()
        return r.status, data

    def req(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> tuple[int, dict]:
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        st, raw = self.raw(method, path, data, headers, auth)
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError as e:
            raise BenchFailure(f"airlock {self.d.name}: {method} {path}: HTTP {st}, body is not JSON: {raw[:300]!r}") from e
        return st, doc

    def create(self, body: dict | None = None) -> dict:
        st, doc = self.req("POST", "/v1/sessions", body if body is not None else {})
        if st != 201 or not str(doc.get("id", "")).startswith("sess_"):
            raise BenchFailure(f"airlock {self.d.name}: POST /v1/sessions: HTTP {st}: {doc}")
        return doc

    def execute(self, sid: str, code: str) -> dict:
        st, doc = self.req("POST", f"/v1/sessions/{sid}/execute", {"code": code})
        if st != 200 or doc.get("status") != "ok":
            raise BenchFailure(f"airlock {self.d.name}: execute {code[:200]!r}: HTTP {st}: {str(doc)[:2000]}")
        return doc

    def delete(self, sid: str) -> None:
        st, doc = self.req("DELETE", f"/v1/sessions/{sid}")
        if st != 200:
            raise BenchFailure(f"airlock {self.d.name}: DELETE {sid}: HTTP {st}: {doc}")

    def put_file(self, sid: str, path: str, data: bytes) -> None:
        st, raw = self.raw("PUT", f"/v1/sessions/{sid}/files/{path}", data,
                           {"Content-Type": "application/octet-stream"})
        if st != 201:
            raise BenchFailure(f"airlock {self.d.name}: PUT {path}: HTTP {st}: {raw[:300]!r}")

    def get_file(self, sid: str, path: str) -> bytes:
        st, raw = self.raw("GET", f"/v1/sessions/{sid}/files/{path}")
        if st != 200:
            raise BenchFailure(f"airlock {self.d.name}: GET {path}: HTTP {st}: {raw[:300]!r}")
        return raw

    def metrics(self) -> dict[str, float]:
        """The daemon's unlabelled Prometheus samples (pool hits, misses, ready, ...)."""
        st, raw = self.raw("GET", "/metrics", auth=False)
        if st != 200:
            raise BenchFailure(f"airlock {self.d.name}: GET /metrics: HTTP {st}")
        out = {}
        for line in raw.decode().splitlines():
            m = re.fullmatch(r"([a-z_]+) ([0-9.e+-]+)", line)
            if m:
                out[m.group(1)] = float(m.group(2))
        return out


class Daemon:
    """`airlock serve --listen 127.0.0.1:PORT --data-dir TMP/NAME --pool-size N`, as root."""

    def __init__(self, airlock: Path, pool: int, tmp: Path, name: str):
        self.airlock, self.pool, self.name = airlock, pool, name
        self.data = tmp / name
        self.logpath = tmp / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.key = ""
        self.port = 0
        self.c: Client | None = None   # the main thread's client
        self._log_offset = 0

    def log_tail(self) -> str:
        return log_tail(self.logpath)

    def start(self) -> None:
        for attempt in range(3):
            self.port = free_port()
            argv = [str(self.airlock), "serve", "--listen", f"127.0.0.1:{self.port}",
                    "--data-dir", str(self.data), "--pool-size", str(self.pool)]
            with open(self.logpath, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=CLEAN_ENV, cwd=REPO, start_new_session=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    c.request("GET", "/readyz")
                    r = c.getresponse()
                    r.read()
                    c.close()
                    if r.status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                if self.proc.poll() is None:
                    self.stop()
                    raise BenchFailure(f"daemon {self.name} not ready after 60 s; log:\n{self.log_tail()}")
            if self.proc.poll() is None:
                break
            if attempt == 2 or "in use" not in self.log_tail():
                raise BenchFailure(f"daemon {self.name} exited with status {self.proc.returncode}; "
                                   f"log:\n{self.log_tail()}")
        self.key = (self.data / "api-key").read_text().strip()
        self.c = Client(self)

    def client(self) -> Client:
        return Client(self)

    # -- what it runs ---------------------------------------------------------------------

    @property
    def launcher_pid(self) -> int:
        """`airlock serve` execs the privileged launcher, which starts the API daemon and the sandboxes."""
        return self.proc.pid

    def daemon_pid(self) -> int | None:
        for p in descendants(self.launcher_pid):
            if "--launcher-fd" in cmdline(p):
                return p
        return None

    def sandboxes(self) -> dict[str, list[int]]:
        """Each live sandbox's memory cgroup -> its processes (the launcher's children other
        than the API daemon, and everything below them)."""
        dpid = self.daemon_pid()
        out: dict[str, list[int]] = {}
        for p in descendants(self.launcher_pid):
            if p == dpid:
                continue
            cg = memory_cgroup(p)
            if cg and cg != "/":
                out.setdefault(cg, []).append(p)
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the launcher itself, the API daemon, and sandboxes (live ones,
        plus the ended ones the launcher has reaped)."""
        lp = self.launcher_pid
        own, reaped = cpu_seconds(lp)
        dpid = self.daemon_pid()
        out = {"launcher": own, "daemon": 0.0, "sandboxes": reaped}
        for p in descendants(lp):
            o, r = cpu_seconds(p)
            # A process's reaped children's time is in its own record once reaped, so own +
            # reaped over the live processes counts every process of the tree once.
            out["daemon" if p == dpid else "sandboxes"] += o + r
        return out

    def log_mark(self) -> None:
        """Later access_log() calls see only the requests logged after this point."""
        try:
            self._log_offset = self.logpath.stat().st_size
        except OSError:
            self._log_offset = 0

    def access_log(self, route: str, method: str = "POST") -> list[float]:
        """duration_ms of the logged requests to `route` since log_mark()."""
        out = []
        try:
            with open(self.logpath, "rb") as f:
                f.seek(self._log_offset)
                data = f.read()
        except OSError:
            return out
        for line in data.decode("utf-8", "replace").splitlines():
            if '"msg":"request"' not in line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("route") == route and doc.get("method") == method and isinstance(doc.get("duration_ms"), (int, float)):
                out.append(float(doc["duration_ms"]))
        return out

    def stop(self) -> list[str]:
        """SIGTERM, then SIGKILL after 30 s. Returns what had to be killed after that: any
        process it started that outlived it, any sandbox cgroup it left."""
        if self.c:
            self.c.close()
        p = self.proc
        if p is None:
            return []
        tree = snapshot_tree(p.pid) if p.poll() is None else []
        cgroups = list(self.sandboxes()) if p.poll() is None else []
        left = []
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                left.append(f"airlock serve ({self.name}) did not stop within 30 s of SIGTERM")
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        left += kill_leftovers(tree)
        for cg in cgroups:
            for ctrl in ("memory", "cpu", "pids", "unified"):
                d = Path("/sys/fs/cgroup") / ctrl / cg.lstrip("/")
                if d.exists():
                    left.append(f"cgroup {d}")
                    try:
                        d.rmdir()
                    except OSError:
                        pass
        return left

