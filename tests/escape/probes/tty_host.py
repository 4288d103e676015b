# Probe: the host terminal must be unreachable. The driver runs `airlock run` (and the
# control) on a pty that is the caller's controlling terminal. Escape = the program has a
# controlling tty (/dev/tty opens, tty_nr != 0) or can push input into any terminal it
# inherited (TIOCSTI on fd 0/1/2 or /dev/tty, also with the high-32-bit variant).
import fcntl
import termios

p = Probe("host terminal")
TIOCSTI = 0x5412
mark = (P("INJECT") or "#").encode()[:1]
st = read_text("/proc/self/stat") or ""
tty_nr = int(st[st.rindex(")") + 2:].split()[4]) if st else -1
(p.esc if tty_nr not in (0, -1) else p.ok)("controlling tty_nr=%d, sid=%d" % (tty_nr, os.getsid(0)))
targets = []
fd, e = try_open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
if fd is not None:
    p.esc("opened /dev/tty (the caller's terminal)")
    targets.append((fd, "/dev/tty"))
else:
    p.ok("open /dev/tty: %s" % en(e))
for i in (0, 1, 2):
    if os.isatty(i):
        p.note("fd %d is a tty (%s)" % (i, os.ttyname(i)))
        targets.append((i, "fd%d" % i))
c = ctypes.c_char(mark)
for fd, label in targets:
    for req, nm in ((TIOCSTI, "TIOCSTI"), (TIOCSTI | (1 << 32), "TIOCSTI|1<<32")):
        r = sc("ioctl", fd, req, ctypes.byref(c))
        p.sys_attempt("%s on %s" % (nm, label), r)
p.finish()
