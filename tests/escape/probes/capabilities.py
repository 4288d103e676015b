# Probe: all capability sets are empty (effective, permitted, inheritable, bounding,
# ambient), both in /proc/self/status and from capget(2).
p = Probe("capabilities")
s = status_fields()
for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
    if k in s:
        (p.esc if int(s[k], 16) else p.ok)("%s=%s" % (k, s[k]))
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
ret, e = sc("capget", hdr, data)
if e == 0:
    eff = data[0] | data[3] << 32
    prm = data[1] | data[4] << 32
    (p.esc if eff or prm else p.ok)("capget: eff=%#x prm=%#x" % (eff, prm))
else:
    p.ok("capget -> %s" % en(e))
libc.prctl.restype = ctypes.c_int
nb = [c for c in range(0, 41) if libc.prctl(23, c, 0, 0, 0) == 1]  # PR_CAPBSET_READ
(p.esc if nb else p.ok)("bounding set via prctl: %s" % (nb or "empty"))
p.finish()
