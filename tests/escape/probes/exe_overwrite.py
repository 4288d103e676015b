# Probe: CVE-2019-5736 class: the binaries running in the sandbox (the interpreter via
# /proc/self/exe, the sandbox init via /proc/1/exe, every /proc/<pid>/exe) must not be
# writable. Opened O_WRONLY|O_APPEND only; nothing is written. ETXTBSY counts as an escape:
# the kernel returns it only after the permission and read-only checks passed.
p = Probe("overwrite running binaries")
targets = []
for pid in ["self"] + [str(x) for x in pids()]:
    exe = "/proc/%s/exe" % pid
    try:
        real = os.readlink(exe)
    except OSError:
        continue
    targets.append((exe, real))
seen = set()
for exe, real in targets:
    for path in (exe, real):
        if path in seen or path.endswith(" (deleted)"):
            continue
        seen.add(path)
        fd, e = try_open(path, os.O_WRONLY | os.O_APPEND)
        if fd is not None:
            os.close(fd)
            p.esc("opened %s for writing (%s)" % (path, real))
        elif e == errno.ETXTBSY:
            p.esc("%s -> ETXTBSY: writable, only busy (%s)" % (path, real))
        else:
            p.ok("%s -> %s" % (path, en(e)))
# the CVE's own trick: O_PATH fd of /proc/self/exe, reopened for write through /proc/self/fd
fd, e = try_open("/proc/self/exe", os.O_PATH)
if fd is not None:
    w, e2 = try_open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_APPEND)
    if w is not None:
        os.close(w)
        p.esc("reopened O_PATH /proc/self/exe for writing")
    elif e2 == errno.ETXTBSY:
        p.esc("reopen O_PATH /proc/self/exe -> ETXTBSY (writable, only busy)")
    else:
        p.ok("reopen via /proc/self/fd -> %s" % en(e2))
    os.close(fd)
p.finish()
