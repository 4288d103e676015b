# Probe: userfaultfd must be unavailable (syscall and /dev/userfaultfd): it is the usual
# tool for winning kernel races.
p = Probe("userfaultfd")
for flags, nm in ((os.O_CLOEXEC | os.O_NONBLOCK, "flags"), (os.O_CLOEXEC | 1, "USER_MODE_ONLY")):
    r = sc("userfaultfd", flags)
    if p.sys_attempt("userfaultfd(%s)" % nm, r):
        os.close(r[0])
fd, e = try_open("/dev/userfaultfd", os.O_RDWR)
if fd is not None:
    p.esc("opened /dev/userfaultfd")
    os.close(fd)
else:
    p.ok("/dev/userfaultfd: %s" % en(e))
p.finish()
