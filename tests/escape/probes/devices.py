# Probe: /dev holds only pseudo devices: null zero full random urandom tty ptmx and pts/*
# (major:minor 1:3 1:5 1:7 1:8 1:9 5:0 5:2 136:*), plus ALLOW from the driver (gVisor's
# own emulated devices; see conftest.GVISOR_DEV_ALLOW).
import stat as _stat

p = Probe("device nodes in /dev")
allowed = {(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)}
for pair in (P("ALLOW") or "").split(","):
    if pair:
        a, b = pair.split(":")
        allowed.add((int(a), int(b)))
bad = []
n = 0
for root, dirs, files in os.walk("/dev"):
    for f in files + dirs:
        path = os.path.join(root, f)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode):
            n += 1
            mm = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if _stat.S_ISCHR(st.st_mode) and (mm in allowed or mm[0] == 136):
                continue
            bad.append("%s(%s %d:%d)" % (path, "b" if _stat.S_ISBLK(st.st_mode) else "c", mm[0], mm[1]))
if bad:
    p.esc("unexpected device nodes: %s" % ", ".join(bad[:12]))
else:
    p.ok("%d device nodes, all pseudo devices" % n)
p.finish()
