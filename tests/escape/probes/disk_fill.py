# Probe (outcome-judged): fill a directory (/workspace, /tmp or /dev/shm) until ENOSPC.
# BLOCKED when ENOSPC/EDQUOT/EFBIG arrives after at most QUOTA_MB (+ slack); ESCAPED when
# CAP_MB were written without an error or the quota was clearly exceeded.
p = Probe("disk fill")
target = P("TARGET", "/workspace")
quota = int(P("QUOTA_MB", "8"))
cap = int(P("CAP_MB", "64"))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
path = os.path.join(target, "airlock-fill-%d" % os.getpid())
try:
    sv = os.statvfs(target)
    p.note("statvfs(%s): size %.1f MiB, free %.1f MiB" % (target, sv.f_blocks * sv.f_frsize / 2**20,
                                                          sv.f_bavail * sv.f_frsize / 2**20))
except OSError as ex:
    p.note("statvfs(%s): %s" % (target, en(ex.errno)))
chunk = b"\xa5" * (1 << 20)
written = 0
err = None
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
except OSError as ex:
    p.ok("cannot create %s: %s" % (path, en(ex.errno)))
    p.finish()
try:
    while written < cap << 20:
        try:
            n = os.write(fd, chunk)
        except OSError as ex:
            err = ex.errno
            break
        written += n
        if n < len(chunk):  # short write: next write reports the error
            continue
finally:
    os.close(fd)
    try:
        sv = os.statvfs(target)
        p.note("after: free %.1f MiB" % (sv.f_bavail * sv.f_frsize / 2**20))
    except OSError:
        pass
    os.unlink(path)
mib = written / 2**20
print("WRITTEN_MIB %.2f ERR %s" % (mib, en(err) if err else "none"), flush=True)
if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) and mib <= quota * 1.25 + 1:
    p.ok("%s after %.2f MiB (quota %d MiB)" % (en(err), mib, quota))
elif err is None:
    p.esc("wrote %.2f MiB to %s without an error (quota %d MiB)" % (mib, target, quota))
else:
    p.esc("wrote %.2f MiB (> quota %d MiB) before %s" % (mib, quota, en(err)))
p.finish()
