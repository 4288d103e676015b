# Probe: no inherited descriptors beyond 0, 1, 2 (nothing pointing at host files, the
# launcher's sockets or directories), and no other sandbox process exposes descriptors to
# host objects through /proc/<pid>/fd.
p = Probe("leaked file descriptors")
own = {}
d = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
for name in os.listdir(d):
    fd = int(name)
    if fd == d:
        continue
    try:
        own[fd] = os.readlink("/proc/self/fd/%d" % fd)
    except OSError as ex:
        if ex.errno != errno.ENOENT:  # ENOENT: listdir's own, already closed, descriptor
            own[fd] = "?" + en(ex.errno)
os.close(d)
p.note("own fds: %s" % own)
extra = {k: v for k, v in own.items() if k > 2}
if extra:
    p.esc("inherited extra fds %s" % extra)
else:
    p.ok("only fds %s" % sorted(own))
std_targets = set(own.values())
me = os.getpid()
for pid in pids():
    if pid == me:
        continue
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        continue
    for name in names:
        try:
            tgt = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if tgt in std_targets or tgt.startswith(("/dev/null", "/dev/pts", "pipe:", "anon_inode:", "/dev/urandom")):
            continue
        fd, e = try_open("/proc/%d/fd/%s" % (pid, name), os.O_RDONLY | os.O_NONBLOCK)
        if fd is not None:
            os.close(fd)
            p.esc("opened fd %s of pid %d -> %s" % (name, pid, tgt))
            break
        if tgt.startswith("socket:") or tgt.startswith("/"):
            p.note("pid %d fd %s -> %s visible but %s" % (pid, name, tgt, en(e)))
    if len(p.escapes) > 5:
        break
p.finish()
