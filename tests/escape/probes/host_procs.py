# Probe: host processes must be invisible. The driver starts a host sleeper whose argv[0]
# is a unique marker and passes its host pid and the marker.
p = Probe("host processes visible")
marker = P("MARKER")
hpid = int(P("HOST_PID", "0"))
seen = [pid for pid in pids() if marker and marker in (cmdline(pid) or "")]
if seen:
    p.esc("host process with marker visible at pid(s) %s" % seen)
else:
    p.ok("marker not in any of %d /proc/<pid>/cmdline" % len(pids()))
if hpid:
    c = cmdline(hpid)
    if c is not None and marker in c:
        p.esc("/proc/%d is the host sleeper" % hpid)
    else:
        p.ok("/proc/%d: %s" % (hpid, "absent" if c is None else "another process"))
# /proc/<pid>/status of the host sleeper via the pid we were told; comm check
st = read_text("/proc/%d/stat" % hpid) if hpid else None
if st and "sleep" in st and marker and marker in (cmdline(hpid) or ""):
    p.esc("stat of host sleeper readable")
p.finish()
