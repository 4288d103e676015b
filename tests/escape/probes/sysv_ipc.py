# Probe: host SysV IPC objects must be invisible. The driver creates a shm segment, a
# message queue and a semaphore set with mode 0666 and known keys on the host.
p = Probe("host SysV IPC")
libc.shmget.restype = ctypes.c_int
for nm, fn, key, args in (("shmget", libc.shmget, int(P("SHM_KEY")), (0, 0)),
                          ("msgget", libc.msgget, int(P("MSG_KEY")), (0,)),
                          ("semget", libc.semget, int(P("SEM_KEY")), (0, 0))):
    ctypes.set_errno(0)
    r = fn(key, *args)
    if r >= 0:
        extra = ""
        if nm == "shmget":
            libc.shmat.restype = ctypes.c_void_p
            addr = libc.shmat(r, None, 0o10000)
            if addr and addr != ctypes.c_void_p(-1).value:
                extra = " content %r" % ctypes.string_at(addr, 32).split(b"\0")[0]
        p.esc("%s(%#x) found the host object id %d%s" % (nm, key, r, extra))
    else:
        p.ok("%s(%#x) -> %s" % (nm, key, en(ctypes.get_errno())))
for f in ("shm", "msg", "sem"):
    t = read_text("/proc/sysvipc/" + f) or ""
    for key in (P("SHM_KEY"), P("MSG_KEY"), P("SEM_KEY")):
        toks = t.split()
        if key and key in toks:
            p.esc("key %s listed in /proc/sysvipc/%s" % (key, f))
p.finish()
