# Probe: TIOCSTI (terminal input injection) must be refused even on a pty the sandbox
# allocates itself, including the variant with bits set above 32 in the request (the
# kernel truncates the request to 32 bits; a filter comparing all 64 bits misses it).
# Each variant is tried twice: on a pty that is NOT our controlling tty, and from a child
# that made the pty its controlling tty (setsid + TIOCSCTTY). In the second case a kernel
# with dev.tty.legacy_tiocsti=1 allows TIOCSTI without privilege, so there an EPERM can
# only come from the syscall filter.
import fcntl
import select
import termios

p = Probe("TIOCSTI on own pty")
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
legacy = (read_text("/proc/sys/dev/tty/legacy_tiocsti") or "?").strip()
p.note("dev.tty.legacy_tiocsti=%s" % legacy)
VARIANTS = ((TIOCSTI, "TIOCSTI"), (TIOCSTI | (1 << 32), "TIOCSTI|1<<32"), (TIOCSTI | (0xdead << 32), "TIOCSTI|0xdead<<32"))


def attempt(slave, req):
    c = ctypes.c_char(b"Z")
    ret, e = sc("ioctl", slave, req, ctypes.byref(c))
    got = b""
    if select.select([slave], [], [], 0.2)[0]:
        got = os.read(slave, 16)
    return e, got


def openpty_raw():
    master, slave = os.openpty()
    try:
        import tty as _tty
        _tty.setraw(slave)  # so an injected byte is readable at once
    except Exception as ex:  # noqa: BLE001
        p.note("setraw: %r" % (ex,))
    return master, slave


try:
    master, slave = openpty_raw()
except OSError as ex:
    p.ok("openpty: %s" % en(ex.errno))
    p.finish()
for req, nm in VARIANTS:
    e, got = attempt(slave, req)
    if e == 0 or b"Z" in got:
        p.esc("%s accepted (injected %r)" % (nm, got))
    else:
        p.ok("%s -> %s" % (nm, en(e)))


def as_ctty(req):
    os.setsid()
    m, s = openpty_raw()
    try:
        fcntl.ioctl(s, termios.TIOCSCTTY, 0)
        ctty = "ctty"
    except OSError as ex:
        ctty = "no-ctty(%s)" % en(ex.errno)
    e, got = attempt(s, req)
    return "%s %s %r" % (ctty, en(e) if e else "ok", got)


for req, nm in VARIANTS:
    st, res = in_child(lambda req=req: as_ctty(req))
    if st == "ok" and (" ok " in res or "Z" in res.split(" ", 2)[-1]):
        p.esc("%s on own controlling pty accepted (%s)" % (nm, res))
    else:
        p.ok("%s (ctty) -> %s" % (nm, res if st == "ok" else st + " " + res))
sub = ctypes.c_char(b"\x0b")  # TIOCL_GETKMSGREDIRECT: harmless read on a VT
ret, e = sc("ioctl", slave, TIOCLINUX, ctypes.byref(sub))
p.note("TIOCLINUX on pty -> %s" % (en(e) if e else "ok"))
p.finish()
