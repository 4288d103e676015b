# Probe: the system clock must not be settable. Invalid arguments on purpose: the kernel
# checks CAP_SYS_TIME before validating them, so EINVAL means "permission granted" while
# the clock is never changed: settimeofday(NULL, tz with minuteswest=100000) and
# adjtimex(ADJ_TICK, tick=1).
p = Probe("set clock")
tz = (ctypes.c_int * 2)(100000, 0)
p.sys_attempt("settimeofday(NULL, bad tz)", sc("settimeofday", None, tz), escape_if=lambda r, e: e in (0, errno.EINVAL))
tx = (ctypes.c_uint8 * 208)()
struct.pack_into("I", tx, 0, 0x4000)  # modes = ADJ_TICK
struct.pack_into("q", tx, 152, 1)      # tick = 1 (invalid)
p.sys_attempt("adjtimex(ADJ_TICK, tick=1)", sc("adjtimex", tx), escape_if=lambda r, e: e in (0, errno.EINVAL))
p.finish()
