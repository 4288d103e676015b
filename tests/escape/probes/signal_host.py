# Probe: signal a host process. The driver passes the host pid of a sleeper it owns; the
# probe sends signal 0 and then SIGKILL. The driver also checks that the sleeper is alive
# afterwards. Escape = the kernel found the pid (success, or EPERM which means "exists").
p = Probe("signal host process")
hpid = int(P("HOST_PID"))
marker = P("MARKER", "")
mine = set(pids())
for sig in (0, signal.SIGKILL):
    if hpid in mine and marker not in (cmdline(hpid) or marker):
        p.ok("pid %d exists here but is a sandbox process; not signalling it" % hpid)
        break
    try:
        os.kill(hpid, sig)
        p.esc("kill(%d, %d) succeeded" % (hpid, sig))
    except OSError as ex:
        if ex.errno == errno.EPERM:
            p.esc("kill(%d, %d) -> EPERM: the host pid is visible" % (hpid, sig))
        else:
            p.ok("kill(%d, %d) -> %s" % (hpid, sig, en(ex.errno)))
try:
    os.killpg(hpid, signal.SIGKILL)
    p.esc("killpg(%d) succeeded" % hpid)
except OSError as ex:
    (p.esc if ex.errno == errno.EPERM else p.ok)("killpg(%d) -> %s" % (hpid, en(ex.errno)))
# pidfd_open(2) on the host pid (and pidfd_getfd of its fd 0 when it worked)
r = sc(434, hpid, 0)
if r[1] == 0:
    g = sc(438, r[0], 0, 0)
    os.close(r[0])
    p.esc("pidfd_open(%d) worked (pidfd_getfd -> %s)" % (hpid, en(g[1]) if g[1] else "fd"))
else:
    p.ok("pidfd_open(%d) -> %s" % (hpid, en(r[1])))
p.finish()
