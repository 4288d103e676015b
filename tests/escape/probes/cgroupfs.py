# Probe: cgroupfs must not be writable: no release_agent (CVE-2022-0492), no way to raise
# the sandbox's own limits, no new cgroups, no fresh cgroup mount. Files are opened
# O_WRONLY only; a created directory is removed at once.
p = Probe("cgroupfs write")
names = ("release_agent", "notify_on_release", "cgroup.procs", "tasks", "cgroup.subtree_control",
         "memory.max", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max",
         "cpu.max", "cpu.cfs_quota_us", "memory.high", "cgroup.kill", "cgroup.freeze")
count = 0
writable = []
for root, dirs, files in os.walk("/sys/fs/cgroup"):
    if root.count("/") > 6:
        dirs[:] = []
    for f in files:
        if f in names:
            count += 1
            path = os.path.join(root, f)
            fd, e = try_open(path, os.O_WRONLY)
            if fd is not None:
                os.close(fd)
                writable.append(path)
if writable:
    p.esc("%d cgroup control files writable, e.g. %s" % (len(writable), writable[:3]))
else:
    p.ok("%d cgroup control files seen, none writable" % count)
tops = ["/sys/fs/cgroup"]
try:
    tops += [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]
except OSError as ex:
    p.ok("list /sys/fs/cgroup: %s" % en(ex.errno))
for d in tops:
    t = os.path.join(d, "airlock-escape-probe-%d" % os.getpid())
    try:
        os.mkdir(t)
        os.rmdir(t)
        p.esc("created cgroup %s" % t)
    except OSError:
        pass
# own cgroup as reported by /proc/self/cgroup
for line in (read_text("/proc/self/cgroup") or "").splitlines():
    parts = line.split(":", 2)
    if len(parts) == 3:
        rel = parts[2].lstrip("/")
        ctrl = parts[1].split(",")[0].replace("name=", "")
        for base in ("/sys/fs/cgroup/" + rel, "/sys/fs/cgroup/%s/%s" % (ctrl, rel)):
            for f in ("memory.max", "pids.max", "memory.limit_in_bytes", "cgroup.procs"):
                fd, e = try_open(os.path.join(base, f), os.O_WRONLY)
                if fd is not None:
                    os.close(fd)
                    p.esc("own cgroup file %s writable" % os.path.join(base, f))
mp = "/tmp/airlock-cg-mnt-%d" % os.getpid()
os.makedirs(mp, exist_ok=True)
for fstype, data in ((b"cgroup", b"memory"), (b"cgroup", b"none,name=airlockprobe"), (b"cgroup2", None)):
    r = sc("mount", b"none", mp.encode(), fstype, 0, data)
    p.sys_attempt("mount -t %s %s" % (fstype.decode(), (data or b"").decode()), r)
    if r[1] == 0:
        sc("umount2", mp.encode(), 2)
os.rmdir(mp)
p.finish()
