# Probe: setns(2) into any namespace (own ones and pid 1's) must be refused.
p = Probe("setns")
for pid in ("self", "1"):
    for ns in ("user", "mnt", "net", "pid", "uts", "ipc", "cgroup", "time"):
        fd, e = try_open("/proc/%s/ns/%s" % (pid, ns))
        if fd is None:
            p.ok("open /proc/%s/ns/%s: %s" % (pid, ns, en(e)))
            continue
        st, res = in_child(lambda fd=fd: sc("setns", fd, 0))
        os.close(fd)
        (p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("setns(/proc/%s/ns/%s) -> %s" % (pid, ns, res))
p.finish()
