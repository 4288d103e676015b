# Probe: /proc/kcore (kernel memory as an ELF core) must not be readable.
p = Probe("read /proc/kcore")
fd, e = try_open("/proc/kcore")
if fd is None:
    p.ok("open /proc/kcore: %s" % en(e))
else:
    try:
        data = os.read(fd, 64)
        (p.esc if data[:4] == b"\x7fELF" else p.ok)("read %d bytes of /proc/kcore (%r)" % (len(data), data[:4]))
    except OSError as ex:
        p.ok("opened but read -> %s" % en(ex.errno))
    os.close(fd)
p.finish()
