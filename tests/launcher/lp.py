"""launch_proto frames in Python, for tests that speak to the real launcher and for the
fuzz seed corpus. Layouts mirror src/proto/launch_proto.h (native little-endian x86_64)."""
import os
import struct

MAGIC, VERSION = 0x4B4C5241, 1
HELLO, CREATE, SIGNAL = 1, 2, 3
FILE, USAGE = 4, 5
HELLO_OK, CREATED, EXITED, ERROR, FILE_OK, USAGE_OK, EGRESS = 101, 102, 103, 104, 105, 107, 108
USAGE_RESET_PEAK = 1
F_READ, F_WRITE, F_LIST, F_STAT, F_REMOVE, F_MKDIR = range(1, 7)
F_PARENTS, F_RECURSIVE = 1, 2
FT_FILE, FT_DIR, FT_SYMLINK, FT_OTHER = 1, 2, 3, 4
HEADER = struct.Struct("<IHHIIQ")
PYTHON, JAVASCRIPT, BASH = 1, 2, 3
NAMESPACE, GVISOR = 1, 2
SIG_INTERRUPT, SIG_KILL = 1, 2
CREATE_CONTROL = 1
REASON_NONE, REASON_TIMEOUT, REASON_OOM, REASON_PIDS, REASON_OUTPUT, REASON_STOPPED = range(6)


def frame(ftype: int, body: bytes, req: int = 1) -> bytes:
    return HEADER.pack(MAGIC, VERSION, ftype, HEADER.size + len(body), 0, req) + body


def hello(flags: int = 0, version: int = VERSION, req: int = 1) -> bytes:
    return frame(HELLO, struct.pack("<II", version, flags), req)


def create(env: bytes = b"", count: int = 0, lang: int = PYTHON, backend: int = NAMESPACE,
           entry: bytes = b"main.py", runtime: bytes = b"default", memory: int = 256 << 20,
           timeout_ms: int = 10000, pids: int = 64, flags: int = 0, req: int = 2, network: int = 1,
           allow: list[bytes] | None = None) -> bytes:
    limits = struct.pack("<QQQIIIIII", memory, 64 << 20, 64 << 20, 1000, pids, timeout_ms, 1000, 256, 0)
    body = struct.pack("<BBBBI", backend, lang, network, flags, 0) + limits
    blob = b"".join(a + b"\0" for a in allow or [])
    body += runtime.ljust(32, b"\0") + entry.ljust(64, b"\0") + struct.pack("<IIII", count, len(env), len(allow or []),
                                                                        len(blob))
    assert len(body) == 168, len(body)
    return frame(CREATE, body + env + blob, req)


def signal(sandbox_id: int, action: int, reason: int, req: int = 3) -> bytes:
    return frame(SIGNAL, struct.pack("<QBB6x", sandbox_id, action, reason), req)


def file_req(sandbox_id: int, op: int, path: bytes, flags: int = 0, mode: int = 0, req: int = 4) -> bytes:
    body = struct.pack("<QBBHI", sandbox_id, op, flags, 0, mode) + path.ljust(1024, b"\0")
    return frame(FILE, body, req)


def usage(sandbox_id: int, flags: int = 0, req: int = 5) -> bytes:
    return frame(USAGE, struct.pack("<QII", sandbox_id, flags, 0), req)


def dirents(data: bytes) -> dict:
    """Decode a LIST memfd: {name: (type, size, mode)}."""
    out, off = {}, 0
    while off < len(data):
        size, mtime, mode, name_len, ftype, _ = struct.unpack_from("<qqIHBB", data, off)
        off += 24
        out[data[off:off + name_len].decode()] = (ftype, size, mode)
        off += name_len
    return out


def parse(data: bytes) -> dict:
    magic, version, ftype, length, _, req = HEADER.unpack_from(data)
    assert (magic, version, length) == (MAGIC, VERSION, len(data)), "bad frame from the launcher"
    body = data[HEADER.size:]
    out = {"type": ftype, "req": req}
    if ftype == ERROR:
        code, _ = struct.unpack_from("<iI", body)
        out.update(code=code, field=body[8:56].split(b"\0")[0].decode(), msg=body[56:].split(b"\0")[0].decode())
    elif ftype == CREATED:
        out["sandbox_id"], out["init_pid"] = struct.unpack_from("<QI", body)
        iso = struct.unpack_from("<BBBBBBBBI", body, 16)
        out["isolation"] = dict(zip(["backend", "cgroup", "landlock", "seccomp", "userns", "uid_private",
                                     "network", "reserved", "host_uid"], iso, strict=True))
    elif ftype == EXITED:
        sid, code, sig, reason = struct.unpack_from("<QiiB", body)
        peak, cpu, wall, limit = struct.unpack_from("<QQQQ", body, 24)
        out.update(sandbox_id=sid, exit_code=code, signal=sig, reason=reason, peak=peak, cpu_usec=cpu, wall_ms=wall)
    elif ftype == FILE_OK:
        size, mtime, nsec, mode, entries, ftyp = struct.unpack_from("<qqIIIB", body)
        out.update(size=size, mtime=mtime, mode=mode, entries=entries, ftype=ftyp)
    elif ftype == USAGE_OK:
        cpu, mem, peak, resettable = struct.unpack_from("<QQQB", body)
        out.update(cpu_usec=cpu, memory_bytes=mem, peak=peak, resettable=resettable)
    elif ftype == EGRESS:
        sid, outcome, reason, port, family, protocol = struct.unpack_from("<QBBHBB", body)
        out.update(sandbox_id=sid, outcome=outcome, reason=reason, port=port, family=family, protocol=protocol,
                   host=body[40:296].split(b"\0")[0].decode())
    elif ftype == HELLO_OK:
        out["is_root"], out["userns"], out["seccomp"], out["landlock"], out["cgroup"], out["bwrap"] = body[:6]
    return out


def memfd(content: bytes) -> int:
    fd = os.memfd_create("code")
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_line(fd: int, limit: int = 65536) -> bytes:
    """Read from a pipe up to and including a newline (a program may write a line in
    several pieces: `python3 -u` sends print()'s text and its newline separately)."""
    out = b""
    while not out.endswith(b"\n") and len(out) < limit:
        chunk = os.read(fd, 1)
        if not chunk:
            break
        out += chunk
    return out
