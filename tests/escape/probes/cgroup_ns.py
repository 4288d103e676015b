# Probe: cgroup namespace: /proc/self/cgroup shows "/" for every hierarchy (the host's
# cgroup layout and the sandbox's position in it are hidden).
p = Probe("cgroup namespace")
t = read_text("/proc/self/cgroup")
if t is None:
    p.ok("/proc/self/cgroup unreadable")
for line in (t or "").splitlines():
    parts = line.split(":", 2)
    if len(parts) == 3 and parts[2] not in ("/", ""):
        p.esc("%s" % line)
if not p.escapes:
    p.ok("/proc/self/cgroup: %s" % (t or "").replace("\n", " | ")[:200])
p.finish()
