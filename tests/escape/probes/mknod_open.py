# Probe: no way to reach a real device by creating its node: mknod + open of the host's
# root block device (ROOT_DEV=maj:min, from the driver), /dev/mem (1:1), /dev/kmsg (1:11),
# /dev/kvm (10:232) and sda (8:0). Escape = a created node opens. Nothing is read or written.
import stat as _stat

p = Probe("mknod + open real devices")
d = P("SCRATCH") or "/workspace"
devs = [(_stat.S_IFCHR, "c 1 1 (mem)", (1, 1)), (_stat.S_IFCHR, "c 1 11 (kmsg)", (1, 11)),
        (_stat.S_IFCHR, "c 10 232 (kvm)", (10, 232)), (_stat.S_IFBLK, "b 8 0 (sda)", (8, 0))]
if P("ROOT_DEV"):
    a, b = P("ROOT_DEV").split(":")
    devs.append((_stat.S_IFBLK, "b %s %s (host root fs)" % (a, b), (int(a), int(b))))
for kind, nm, dev in devs:
    path = os.path.join(d, ".airlock-mknod-open-%d" % os.getpid())
    try:
        os.mknod(path, 0o600 | kind, os.makedev(*dev))
    except OSError as ex:
        p.ok("mknod %s: %s" % (nm, en(ex.errno)))
        continue
    fd, e = try_open(path, os.O_RDONLY | os.O_NONBLOCK)
    os.unlink(path)
    if fd is not None:
        os.close(fd)
        p.esc("created and opened %s" % nm)
    else:
        p.ok("mknod %s allowed but open -> %s" % (nm, en(e)))
p.finish()
