# Probe: no_new_privs is set and a seccomp filter is active. Reads /proc/self/status
# (NoNewPrivs, Seccomp) and checks behaviour: prctl(PR_GET_NO_NEW_PRIVS), prctl(PR_GET_SECCOMP)
# and personality(PER_LINUX32), which the kernel allows anyone but the filter refuses.
p = Probe("no_new_privs and seccomp")
s = status_fields()
nnp = s.get("NoNewPrivs")
seccomp = s.get("Seccomp")
if nnp is not None:
    (p.ok if nnp == "1" else p.esc)("NoNewPrivs: %s" % nnp)
if seccomp is not None:
    (p.ok if seccomp == "2" else p.esc)("Seccomp: %s" % seccomp)
libc.prctl.restype = ctypes.c_int
v = libc.prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
(p.ok if v == 1 else p.esc)("prctl(PR_GET_NO_NEW_PRIVS) = %d" % v)
v = libc.prctl(21, 0, 0, 0, 0)  # PR_GET_SECCOMP: 2 = filter, 0 = none
(p.ok if v == 2 or v == -1 else p.esc)("prctl(PR_GET_SECCOMP) = %d%s" % (v, " " + en(ctypes.get_errno()) if v == -1 else ""))
PER_LINUX32 = 0x0008
ret, e = sc("personality", PER_LINUX32)
if e == 0:
    sc("personality", 0)
    p.esc("personality(PER_LINUX32) accepted: no syscall filter")
else:
    p.ok("personality(PER_LINUX32) -> %s" % en(e))
p.finish()
