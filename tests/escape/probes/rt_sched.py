# Probe: no real-time scheduling or raised priority (a SCHED_FIFO spinner can starve host
# CPUs): sched_setscheduler(SCHED_FIFO/SCHED_RR), ioprio_set(RT class). Each runs in a
# forked child that exits immediately. (A raised nice value is judged on the host by
# test_nice_host_effect with nice_spin.py.)
p = Probe("scheduling priority")
prm = ctypes.c_int(1)
for pol, nm in ((1, "SCHED_FIFO"), (2, "SCHED_RR")):
    st, res = in_child(lambda pol=pol: sc("sched_setscheduler", 0, pol, ctypes.byref(prm)))
    (p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("sched_setscheduler(%s) -> %s" % (nm, res))
st, res = in_child(lambda: sc("ioprio_set", 1, 0, (1 << 13) | 0))  # IOPRIO_WHO_PROCESS, class RT
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("ioprio_set(RT) -> %s" % res)
p.finish()
