# Probe: mknod(2) of device nodes must fail (CAP_MKNOD is gone and the mounts are nodev):
# a harmless char device (c 1:3, /dev/null's numbers) and a block device (b 8:0) are tried
# in the writable directories; a created node is removed at once.
import stat as _stat

p = Probe("mknod")
for d in [P("SCRATCH")] if P("SCRATCH") else ["/workspace", "/tmp", "/dev/shm"]:
    for kind, nm, dev in ((_stat.S_IFCHR, "c 1 3", (1, 3)), (_stat.S_IFBLK, "b 8 0", (8, 0))):
        path = os.path.join(d, ".airlock-mknod-%d" % os.getpid())
        try:
            os.mknod(path, 0o600 | kind, os.makedev(*dev))
            os.unlink(path)
            p.esc("mknod %s in %s" % (nm, d))
        except OSError as ex:
            p.ok("mknod %s in %s: %s" % (nm, d, en(ex.errno)))
p.finish()
