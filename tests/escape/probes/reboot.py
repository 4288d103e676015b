# Probe: reboot(2) must be refused. Uses a bad second magic number: the kernel checks
# CAP_SYS_BOOT first (EPERM) and the magic second (EINVAL) - so EINVAL means the call
# would have worked with a valid magic, while nothing happens either way.
p = Probe("reboot")
p.sys_attempt("reboot(0xfee1dead, bad magic2)", sc("reboot", 0xfee1dead, 0x12345678, 0, None),
              escape_if=lambda r, e: e in (0, errno.EINVAL))
p.finish()
