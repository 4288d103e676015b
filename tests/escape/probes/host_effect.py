# Probe (judged on the host): try to raise scheduling priority (setpriority -10) and to
# shield the sandbox from the host's OOM killer (oom_score_adj -1000), then spin for HOLD
# seconds while the driver reads nice and oom_score_adj of every host process/thread that
# runs the sandbox. A user-space kernel (gVisor) may accept both calls virtually; what
# counts is that no host thread gets a negative nice or oom_score_adj.
hold = float(P("HOLD", "3"))
ret, e = sc("setpriority", 0, 0, -10)
print("SETPRIORITY %s" % (en(e) if e else "ok"), flush=True)
try:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("-1000")
    oom = "ok"
except OSError as ex:
    oom = en(ex.errno)
print("OOM_SCORE_ADJ %s" % oom, flush=True)
print("SPINNING", flush=True)
t = time.monotonic()
while time.monotonic() - t < hold:
    pass
print("BLOCKED: host effect: judged on the host (setpriority %s, oom_score_adj %s)" % (en(e) if e else "ok", oom))
