# Probe: the CPU limit holds for the whole sandbox. NPROC processes spin for WALL seconds
# of wall time; total CPU (self + children, from os.times()) must stay <= MAX_CPU.
p = Probe("cpu limit")
wall = float(P("WALL", "2.5"))
nproc = int(P("NPROC", "2"))
maxcpu = float(P("MAX_CPU", "1.8"))
t0 = time.monotonic()


def spin():
    x = 0
    while time.monotonic() - t0 < wall:
        x += 1
    return x


kids = []
for _ in range(nproc - 1):
    pid = os.fork()
    if pid == 0:
        spin()
        os._exit(0)
    kids.append(pid)
spin()
for k in kids:
    os.waitpid(k, 0)
el = time.monotonic() - t0
t = os.times()
cpu = t.user + t.system + t.children_user + t.children_system
print("CPU %.3f WALL %.3f" % (cpu, el), flush=True)
if cpu > maxcpu:
    p.esc("%d processes used %.2f s CPU in %.2f s wall (limit %.2f)" % (nproc, cpu, el, maxcpu))
else:
    p.ok("%d processes got %.2f s CPU in %.2f s wall (<= %.2f)" % (nproc, cpu, el, maxcpu))
p.finish()
