# ---- airlock escape-probe prelude ------------------------------------------------------
# The driver (tests/escape/conftest.py) prepends this file to every Python probe, writes
# the result to one file and runs it with `airlock run FILE` (probe) or with
# /usr/bin/python3 directly on the host (control).  The prelude only defines helpers;
# it never does anything when loaded.
#
# Verdict protocol: the last line of stdout is `ESCAPED: <what>` if any attempted
# forbidden action worked, else `BLOCKED: <what and the errno/evidence>`.
# Probe parameters arrive as environment variables AIRLOCK_PROBE_<NAME> (passed with
# `airlock run --env` in the sandbox and in the process environment for controls).
# x86_64 only: syscall numbers below are the x86_64 ones.
import ctypes
import errno
import os
import platform
import signal
import socket
import struct
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

if platform.machine() not in ("x86_64", "AMD64"):
    print("BLOCKED: probe not runnable: escape probes hard-code x86_64 syscall numbers")
    sys.exit(3)

NR = dict(
    ioctl=16, shmget=29, shmat=30, shmctl=31, getpid=39, clone=56, semget=64, msgget=68,
    shmdt=67, syslog=103, ptrace=101, setuid=105, setgid=106, setgroups=116, setresuid=117,
    setresgid=119, capget=125, capset=126, mknod=133, personality=135, setpriority=141,
    sched_setscheduler=144, pivot_root=155, adjtimex=159, chroot=161, settimeofday=164,
    mount=165, umount2=166, reboot=169, sethostname=170, setdomainname=171, iopl=172,
    ioperm=173, init_module=175, add_key=248, request_key=249, keyctl=250, ioprio_set=251,
    kexec_load=246, mknodat=259, unshare=272, perf_event_open=298, name_to_handle_at=303,
    open_by_handle_at=304, setns=308, process_vm_readv=310, finit_module=313,
    kexec_file_load=320, bpf=321, userfaultfd=323, io_uring_setup=425, open_tree=428,
    move_mount=429, fsopen=430, fsconfig=431, fsmount=432, clone3=435, mount_setattr=442,
)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080


def _arg(a):
    if a is None:
        return ctypes.c_void_p(None)
    if isinstance(a, bool):
        return ctypes.c_long(int(a))
    if isinstance(a, int):
        a &= (1 << 64) - 1
        if a >= 1 << 63:
            a -= 1 << 64
        return ctypes.c_long(a)
    if isinstance(a, bytes):
        return ctypes.c_char_p(a)
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    return a  # ctypes object, byref(), pointer, array


def sc(name, *args):
    """Raw syscall. Returns (ret, errno); errno is 0 on success."""
    nr = NR[name] if isinstance(name, str) else name
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    e = ctypes.get_errno()
    return (ret, e if ret == -1 else 0)


def en(e):
    """errno name, e.g. EPERM."""
    if e is None:
        return "ok"
    return errno.errorcode.get(e, "errno%d" % e)


def P(name, default=None):
    """Probe parameter."""
    return os.environ.get("AIRLOCK_PROBE_" + name, default)


def try_open(path, flags=os.O_RDONLY, mode=0o600):
    """(fd, 0) or (None, errno)."""
    try:
        return os.open(path, flags, mode), 0
    except OSError as ex:
        return None, ex.errno


def read_text(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def status_fields(path="/proc/self/status"):
    out = {}
    txt = read_text(path) or ""
    for line in txt.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def pids():
    try:
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    except OSError:
        return []


def cmdline(pid):
    t = read_text("/proc/%d/cmdline" % pid)
    return None if t is None else t.replace("\0", " ").strip()


def in_child(fn, timeout=10.0):
    """Run fn() in a forked child (so namespace changes, crashes and signals are
    contained). Returns ("ok", str(result)) | ("exc", repr) | ("signal", signame) |
    ("timeout", "")."""
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = "ok\0" + str(fn())
        except BaseException as ex:  # noqa: BLE001 - report everything
            res = "exc\0" + repr(ex)
        try:
            os.write(w, res.encode("utf-8", "replace")[:60000])
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    data = b""
    import select
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return ("timeout", "")
        rl, _, _ = select.select([r], [], [], left)
        if rl:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    os.close(r)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        return ("signal", signal.Signals(os.WTERMSIG(st)).name)
    kind, _, payload = data.decode("utf-8", "replace").partition("\0")
    return (kind or "exc", payload)


class Probe:
    """Collects attempts; finish() prints the single verdict line and exits 0."""

    def __init__(self, title):
        self.title = title
        self.escapes = []
        self.blocked = []

    def esc(self, what):
        self.escapes.append(what)
        print("  [escape]  " + what, flush=True)

    def ok(self, what):
        self.blocked.append(what)
        print("  [blocked] " + what, flush=True)

    def note(self, what):
        print("  [note]    " + what, flush=True)

    def sys_attempt(self, label, res, escape_if=None):
        """res = (ret, errno) from sc(). By default success is an escape; escape_if(ret, e)
        can say otherwise (e.g. EINVAL after the capability check)."""
        ret, e = res
        bad = (e == 0) if escape_if is None else escape_if(ret, e)
        if bad:
            self.esc("%s -> %s" % (label, "ret=%d" % ret if e == 0 else en(e)))
        else:
            self.ok("%s -> %s" % (label, en(e) if e else "ret=%d" % ret))
        return bad

    def finish(self):
        sys.stderr.flush()
        if self.escapes:
            line = "ESCAPED: %s: %s" % (self.title, "; ".join(self.escapes))
        else:
            line = "BLOCKED: %s: %s" % (self.title, "; ".join(self.blocked) or "nothing reachable")
        print(line.replace("\n", " ")[:4000], flush=True)
        os._exit(0)
# ---- end of prelude ---------------------------------------------------------------------
