# Probe: the kernel log must be unreadable (/dev/kmsg, syslog(2), /proc/kmsg). Reads only.
p = Probe("read kernel log")
fd, e = try_open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
if fd is None:
    p.ok("open /dev/kmsg: %s" % en(e))
else:
    try:
        rec = os.read(fd, 8192)
        p.esc("read /dev/kmsg record %r" % rec[:40])
    except OSError as ex:
        (p.esc if ex.errno == errno.EAGAIN else p.ok)("/dev/kmsg opened, read -> %s" % en(ex.errno))
    os.close(fd)
buf = ctypes.create_string_buffer(4096)
# SYSLOG_ACTION_READ_ALL = 3, SIZE_BUFFER = 10
p.sys_attempt("syslog(READ_ALL)", sc("syslog", 3, buf, 4096), escape_if=lambda r, e: e == 0 and r > 0)
p.sys_attempt("syslog(SIZE_BUFFER)", sc("syslog", 10, None, 0))
fd, e = try_open("/proc/kmsg", os.O_RDONLY | os.O_NONBLOCK)
if fd is None:
    p.ok("open /proc/kmsg: %s" % en(e))
else:
    os.close(fd)
    p.esc("opened /proc/kmsg")
p.finish()
