# Probe: the LSM interface /proc/self/attr/* must not be writable (changing the security
# label/profile of the process). Escape = a write reaches the LSM (anything but
# EACCES/EPERM/EROFS/ENOENT from open or write).
p = Probe("/proc/self/attr")
for name in ("current", "exec", "fscreate", "keycreate", "sockcreate", "apparmor/current",
             "apparmor/exec", "smack/current"):
    path = "/proc/self/attr/" + name
    if not os.path.exists(path):
        continue
    fd, e = try_open(path, os.O_WRONLY)
    if fd is None:
        p.ok("open %s: %s" % (path, en(e)))
        continue
    try:
        os.write(fd, b"unconfined")
        p.esc("wrote %s" % path)
    except OSError as ex:
        if ex.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            p.ok("write %s: %s" % (path, en(ex.errno)))
        else:
            p.esc("write %s reached the LSM: %s" % (path, en(ex.errno)))
    finally:
        os.close(fd)
if not p.escapes and not p.blocked:
    p.ok("/proc/self/attr absent")
p.finish()
