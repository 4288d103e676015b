# Probe: host init (pid 1) must be invisible: inside, pid 1 is the sandbox's own init.
# The driver passes the host's pid-1 comm, start time (clock ticks after boot, field 22 of
# /proc/1/stat), a digest of its environ when the host can read it, and a host canary file.
import hashlib

p = Probe("host pid 1")
st = read_text("/proc/1/stat")
if st is None:
    p.ok("/proc/1/stat unreadable")
else:
    comm = st[st.index("(") + 1: st.rindex(")")]
    start = st[st.rindex(")") + 2:].split()[19]
    if comm == P("HOST_INIT_COMM") and start == P("HOST_INIT_START"):
        p.esc("/proc/1 is host init (comm=%s start=%s)" % (comm, start))
    else:
        p.ok("/proc/1 is %s (start %s), not host init" % (comm, start))
try:
    with open("/proc/1/environ", "rb") as f:
        env = f.read()
    if P("HOST_INIT_ENVIRON_SHA") and hashlib.sha256(env).hexdigest() == P("HOST_INIT_ENVIRON_SHA"):
        p.esc("/proc/1/environ is host init's")
    else:
        p.ok("/proc/1/environ readable but not host init's (%d bytes)" % len(env))
except OSError as ex:
    p.ok("/proc/1/environ: %s" % en(ex.errno))
cpath, _, ccontent = (P("CANARY") or "=").partition("=")
for pre in ("/proc/1/root", "/proc/1/cwd/", "/proc/self/root"):
    t = read_text(pre + cpath)
    if t is not None and ccontent and ccontent in t:
        p.esc("read host canary via %s%s" % (pre, cpath))
    else:
        p.ok("%s%s not readable" % (pre, cpath))
# /proc/1/root must not lead to a filesystem that has the host's shadow file.
dig = P("SHADOW_SHA")
try:
    with open("/proc/1/root/etc/shadow", "rb") as f:
        data = f.read()
    if dig and hashlib.sha256(data).hexdigest() == dig:
        p.esc("/proc/1/root/etc/shadow is the host's")
    else:
        p.ok("/proc/1/root/etc/shadow is not the host's")
except OSError as ex:
    p.ok("/proc/1/root/etc/shadow: %s" % en(ex.errno))
p.finish()
