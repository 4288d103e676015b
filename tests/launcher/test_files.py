"""Workspace file requests: the launcher resolves beneath the sandbox's /workspace and
returns an fd. Every escape a program can prepare in its own workspace (symlinks, FIFOs,
swapped directories) must fail, and what we create must belong to the sandbox user."""
import errno
import os
import stat

import lp
import pytest
from lp import memfd, read_line

PROGRAM = b"""
import os, time
while not os.path.exists('/workspace/in.txt'):
    time.sleep(0.01)
print('got', open('/workspace/in.txt').read(), flush=True)
os.makedirs('/workspace/d/e')
open('/workspace/d/x', 'w').write('inside')
os.symlink('/etc', '/workspace/evil')
os.symlink('..', '/workspace/up')
os.symlink('/proc/self/root', '/workspace/procroot')
os.mkfifo('/workspace/fifo')
print('READY', flush=True)
while not os.path.exists('/workspace/done'):
    time.sleep(0.01)
st = os.stat('/workspace/in.txt')
print('owner', st.st_uid, os.stat('/workspace/m/n').st_uid, flush=True)
with open('/workspace/in.txt', 'a') as f:
    f.write('+appended')
print('appended', flush=True)
"""


def spawn(launcher, program):
    """HELLO, then a sandbox running `program`: (CREATED, stdout, stderr)."""
    launcher.hello()
    fd = memfd(program)
    launcher.send(lp.create(timeout_ms=30000), [fd])
    os.close(fd)
    created, (out_r, err_r) = launcher.recv()
    assert created["type"] == lp.CREATED
    return created, out_r, err_r


@pytest.fixture
def session(launcher):
    created, out_r, err_r = spawn(launcher, PROGRAM)
    yield launcher, created["sandbox_id"], out_r, err_r
    os.close(out_r)
    os.close(err_r)


def request(launcher, sid, op, path, flags=0, mode=0):
    launcher.send(lp.file_req(sid, op, path, flags, mode))
    msg, fds = launcher.recv()
    return msg, (fds[0] if fds else None)


def expect_fail(launcher, sid, op, path, errnum, flags=0):
    msg, fd = request(launcher, sid, op, path, flags)
    assert msg["type"] == lp.ERROR and fd is None, (path, msg)
    assert msg["field"] == "path" and msg["code"] == -errnum, (path, msg)
    return msg


def test_files_round_trip_and_escapes(session):
    launcher, sid, out_r, err_r = session
    msg, fd = request(launcher, sid, lp.F_WRITE, b"in.txt")
    assert msg["type"] == lp.FILE_OK and fd is not None, msg
    os.write(fd, b"hello")
    os.close(fd)
    assert read_line(out_r) == b"got hello\n"
    assert read_line(out_r) == b"READY\n", os.read(err_r, 4096)

    msg, fd = request(launcher, sid, lp.F_READ, b"d/x")
    assert (msg["type"], msg["size"], msg["ftype"]) == (lp.FILE_OK, 6, lp.FT_FILE)
    assert os.read(fd, 100) == b"inside"
    os.close(fd)

    msg, fd = request(launcher, sid, lp.F_LIST, b"")
    entries = lp.dirents(os.read(fd, 1 << 20))
    os.close(fd)
    assert msg["entries"] == len(entries)
    assert entries["in.txt"][:2] == (lp.FT_FILE, 5)
    assert entries["d"][0] == lp.FT_DIR and entries["evil"][0] == lp.FT_SYMLINK
    assert entries["fifo"][0] == lp.FT_OTHER

    # Links planted by the program lead nowhere: not followed, at any position.
    for path in [b"evil/passwd", b"evil", b"up/up/etc/passwd", b"procroot/etc/shadow"]:
        expect_fail(launcher, sid, lp.F_READ, path, errno.ELOOP)
    expect_fail(launcher, sid, lp.F_WRITE, b"evil/owned", errno.ELOOP)
    expect_fail(launcher, sid, lp.F_LIST, b"evil", errno.ELOOP)
    # A FIFO is refused without blocking the launcher; a directory is not a file.
    expect_fail(launcher, sid, lp.F_READ, b"fifo", errno.EINVAL)
    expect_fail(launcher, sid, lp.F_READ, b"d", errno.EISDIR)
    expect_fail(launcher, sid, lp.F_READ, b"missing", errno.ENOENT)
    expect_fail(launcher, sid, lp.F_WRITE, b"no/such/dir/f", errno.ENOENT)
    # Removing a link removes the link, never its target.
    msg, _ = request(launcher, sid, lp.F_REMOVE, b"evil")
    assert msg["type"] == lp.FILE_OK
    assert os.path.exists("/etc/passwd")

    expect_fail(launcher, sid, lp.F_REMOVE, b"d", errno.EISDIR)
    msg, _ = request(launcher, sid, lp.F_REMOVE, b"d", flags=lp.F_RECURSIVE)
    assert msg["type"] == lp.FILE_OK
    expect_fail(launcher, sid, lp.F_STAT, b"d", errno.ENOENT)

    msg, _ = request(launcher, sid, lp.F_MKDIR, b"m/n", flags=lp.F_PARENTS, mode=0o750)
    assert (msg["type"], msg["ftype"], stat.S_IMODE(msg["mode"])) == (lp.FILE_OK, lp.FT_DIR, 0o750)
    msg, fd = request(launcher, sid, lp.F_WRITE, b"m/n/deep/file", flags=lp.F_PARENTS)
    assert msg["type"] == lp.FILE_OK
    os.close(fd)

    # What we created belongs to the sandbox user, who can modify it.
    msg, fd = request(launcher, sid, lp.F_WRITE, b"done")
    os.close(fd)
    assert read_line(out_r) == b"owner 1000 1000\n"
    assert read_line(out_r) == b"appended\n"
    msg, fd = request(launcher, sid, lp.F_READ, b"in.txt")
    assert os.read(fd, 100) == b"hello+appended"
    os.close(fd)


def test_workspace_quota_applies_to_uploads(session):
    launcher, sid, out_r, _ = session
    msg, fd = request(launcher, sid, lp.F_WRITE, b"in.txt")
    os.close(fd)
    msg, fd = request(launcher, sid, lp.F_WRITE, b"big.bin")
    chunk = b"x" * (1 << 20)
    with pytest.raises(OSError) as exc:
        for _ in range(80):  # the workspace is 64 MiB
            os.write(fd, chunk)
    assert exc.value.errno == errno.ENOSPC
    os.close(fd)


@pytest.mark.parametrize("path", [b"../x", b"/etc/passwd", b"a//b", b".", b"a/./b", b"a/..", b"a/", b"x\nbad",
                                  b"", b"a" * 1024])
def test_bad_paths_are_refused_before_any_lookup(session, path):
    launcher, sid, _, _ = session
    launcher.send(lp.file_req(sid, lp.F_READ, path[:1023]))
    msg, fds = launcher.recv()
    assert msg["type"] == lp.ERROR and msg["field"] == "path" and fds == [], msg


def test_unknown_sandbox_and_bad_fields(launcher):
    launcher.hello()
    launcher.send(lp.file_req(999, lp.F_READ, b"x"))
    msg, _ = launcher.recv()
    assert (msg["type"], msg["field"]) == (lp.ERROR, "sandbox_id")
    launcher.send(lp.file_req(999, 42, b"x"))
    msg, _ = launcher.recv()
    assert (msg["type"], msg["field"]) == (lp.ERROR, "op")
    launcher.send(lp.file_req(999, lp.F_WRITE, b"x", mode=0o4755))
    msg, _ = launcher.recv()
    assert (msg["type"], msg["field"]) == (lp.ERROR, "mode")


USAGE_PROGRAM = b"""
import os, time
t = time.process_time()
while time.process_time() - t < 0.2:
    pass
blob = b'x' * (40 * 1024 * 1024)
print('BUSY', flush=True)
while not os.path.exists('/workspace/freed'):
    time.sleep(0.01)
del blob
print('FREED', flush=True)
time.sleep(30)
"""


def test_usage_reports_cpu_and_memory_and_resets_the_peak(launcher):
    """USAGE: the sandbox's CPU time and memory, read from its cgroup (the control: the
    same sandbox shows the 40 MiB while it holds them and a smaller peak after a reset)."""
    created, out_r, err_r = spawn(launcher, USAGE_PROGRAM)
    sid = created["sandbox_id"]
    try:
        assert read_line(out_r).strip() == b"BUSY"
        launcher.send(lp.usage(sid))
        held, _ = launcher.recv()
        assert held["type"] == lp.USAGE_OK, held
        assert held["cpu_usec"] >= 200000 and held["peak"] >= 40 << 20 and held["memory_bytes"] >= 40 << 20, held
        msg, wfd = request(launcher, sid, lp.F_WRITE, b"freed", mode=0o644)
        os.close(wfd)
        assert read_line(out_r).strip() == b"FREED"
        launcher.send(lp.usage(sid, lp.USAGE_RESET_PEAK))
        reset, _ = launcher.recv()
        assert reset["type"] == lp.USAGE_OK and reset["cpu_usec"] >= held["cpu_usec"], reset
        launcher.send(lp.usage(sid))
        after, _ = launcher.recv()
        if created["isolation"]["cgroup"] == 1:  # cgroup v1: the peak starts again
            assert reset["resettable"] == 1 and after["peak"] < 40 << 20, (reset, after)
        else:
            assert reset["resettable"] == 0 and after["peak"] >= 40 << 20, (reset, after)
    finally:
        launcher.send(lp.signal(sid, lp.SIG_KILL, lp.REASON_STOPPED))
        os.close(out_r)
        os.close(err_r)


def test_usage_of_unknown_sandbox_and_bad_flags(launcher):
    launcher.hello()
    launcher.send(lp.usage(999))
    msg, _ = launcher.recv()
    assert (msg["type"], msg["field"], msg["code"]) == (lp.ERROR, "sandbox_id", -errno.ESRCH), msg
    launcher.send(lp.usage(999, flags=6))
    msg, _ = launcher.recv()
    assert (msg["type"], msg["field"]) == (lp.ERROR, "flags"), msg
