# Probe: physical memory and I/O port devices (/dev/mem, /dev/kmem, /dev/port) must not be
# openable, also not by creating the node (char 1:1, 1:2, 1:4) ourselves.
p = Probe("physical memory devices")
for path in ("/dev/mem", "/dev/kmem", "/dev/port"):
    fd, e = try_open(path, os.O_RDONLY)
    if fd is not None:
        os.close(fd)
        p.esc("opened %s" % path)
    else:
        p.ok("open %s: %s" % (path, en(e)))
d = P("SCRATCH") or "/tmp"
for minor, nm in ((1, "mem"), (2, "kmem"), (4, "port")):
    path = os.path.join(d, ".airlock-probe-%s-%d" % (nm, os.getpid()))
    try:
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, minor))
    except OSError as ex:
        p.ok("mknod c 1 %d: %s" % (minor, en(ex.errno)))
        continue
    fd, e = try_open(path, os.O_RDONLY)
    os.unlink(path)
    if fd is not None:
        os.close(fd)
        p.esc("mknod+open c 1 %d (%s)" % (minor, nm))
    else:
        p.ok("mknod c 1 %d worked but open -> %s" % (minor, en(e)))
p.finish()
