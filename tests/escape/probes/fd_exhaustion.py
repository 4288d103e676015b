# Probe (outcome-judged): open files until EMFILE/ENFILE. BLOCKED when the per-process
# limit stops it at <= THRESH descriptors and the hard limit cannot be raised; ESCAPED when
# more than THRESH descriptors could be opened.
import resource

p = Probe("fd exhaustion")
thresh = int(P("THRESH", "65536"))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
p.note("RLIMIT_NOFILE soft=%d hard=%d" % (soft, hard))
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (thresh + 64, thresh + 64))
    if hard < thresh + 64:
        p.esc("raised the hard RLIMIT_NOFILE from %d to %d" % (hard, thresh + 64))
except (OSError, ValueError) as ex:
    p.ok("raising hard RLIMIT_NOFILE: %s" % (en(ex.errno) if isinstance(ex, OSError) else ex))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError):
        pass
fds = []
err = None
while len(fds) <= thresh:
    try:
        fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as ex:
        err = ex.errno
        break
n = len(fds)
for fd in fds:
    os.close(fd)
print("OPENED %d ERR %s" % (n, en(err) if err else "none"), flush=True)
if err in (errno.EMFILE, errno.ENFILE) and n <= thresh:
    p.ok("%s after %d descriptors" % (en(err), n))
else:
    p.esc("opened %d descriptors (threshold %d)%s" % (n, thresh, "" if err is None else " then " + en(err)))
p.finish()
