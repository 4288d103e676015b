# Probe: no way to become root or gain capabilities: setuid(0), setresuid(0,0,0),
# setgid(0), setgroups([0]), capset() raising CAP_SYS_ADMIN, PR_CAP_AMBIENT_RAISE.
p = Probe("become root")
for nm, args in (("setuid", (0,)), ("setresuid", (0, 0, 0)), ("setgid", (0,)), ("setresgid", (0, 0, 0))):
    st, res = in_child(lambda nm=nm, args=args: sc(nm, *args))
    (p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("%s%s -> %s" % (nm, args, res))
st, res = in_child(lambda: sc("setgroups", 1, (ctypes.c_uint32 * 1)(0)))
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("setgroups([0]) -> %s" % res)


def raise_caps():
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    sc("capget", hdr, data)
    data[0] |= 1 << 21  # CAP_SYS_ADMIN effective
    data[1] |= 1 << 21  # permitted
    r = sc("capset", hdr, data)
    s = status_fields()
    return "capset=%s CapEff=%s" % (en(r[1]), s.get("CapEff"))


st, res = in_child(raise_caps)
(p.esc if "capset=ok" in res else p.ok)("capset(+CAP_SYS_ADMIN) -> %s" % res)
libc.prctl.restype = ctypes.c_int
st, res = in_child(lambda: (libc.prctl(47, 2, 21, 0, 0), ctypes.get_errno()))  # AMBIENT_RAISE SYS_ADMIN
(p.esc if st == "ok" and res.startswith("(0,") else p.ok)("PR_CAP_AMBIENT_RAISE(CAP_SYS_ADMIN) -> %s" % res)
p.finish()
