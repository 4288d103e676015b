# Probe (judged on the host): try to raise priority with setpriority(-10), then spin for
# HOLD seconds while the driver reads the nice value of every host thread running the
# sandbox. Inside a user-space kernel (gVisor) the call may succeed virtually; what counts
# is that no host thread gets a negative nice value.
hold = float(P("HOLD", "3"))
ret, e = sc("setpriority", 0, 0, -10)
print("SETPRIORITY %s" % (en(e) if e else "ok"), flush=True)
print("SPINNING", flush=True)
t = time.monotonic()
while time.monotonic() - t < hold:
    pass
print("BLOCKED: nice: host-side verdict (setpriority said %s)" % (en(e) if e else "ok"))
