# Probe: /proc/sysrq-trigger (and the sysrq sysctl) must not be writable. Opened O_WRONLY
# only; nothing is ever written (any byte would trigger an action on the host kernel).
p = Probe("sysrq trigger")
for path in ("/proc/sysrq-trigger", "/proc/sys/kernel/sysrq"):
    fd, e = try_open(path, os.O_WRONLY)
    if fd is not None:
        os.close(fd)
        p.esc("opened %s for writing" % path)
    else:
        p.ok("%s: %s" % (path, en(e)))
p.finish()
