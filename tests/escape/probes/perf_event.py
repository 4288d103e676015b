# Probe: perf_event_open(2) must be refused (kernel attack surface, side channels).
p = Probe("perf_event_open")
attr = (ctypes.c_uint8 * 128)()
# type=PERF_TYPE_SOFTWARE(1), size=128, config=PERF_COUNT_SW_TASK_CLOCK(1); flags: disabled|exclude_kernel|exclude_hv
struct.pack_into("IIQ", attr, 0, 1, 128, 1)
struct.pack_into("Q", attr, 40, (1 << 0) | (1 << 5) | (1 << 6))
r = sc("perf_event_open", attr, 0, -1, -1, 0)
if p.sys_attempt("perf_event_open(sw task-clock, self)", r):
    os.close(r[0])
p.finish()
