# Probe (outcome-judged): memory bomb. Allocates and touches STEP_MB chunks until MAX_MB.
# In the sandbox airlock must kill it (exit 137, "out of memory"); the control runs it on
# the host with MAX_MB above the sandbox limit and sees it get there.
p = Probe("memory bomb")
step = int(P("STEP_MB", "8")) << 20
maxmb = int(P("MAX_MB", "2048"))
hold = []
total = 0
try:
    while total < maxmb << 20:
        hold.append(b"\x5a" * step)  # bytes() of a repeated byte touches every page
        total += step
        if (total >> 20) % 32 == 0:
            print("allocated %d MiB" % (total >> 20), flush=True)
except MemoryError:
    p.ok("MemoryError after %d MiB" % (total >> 20))
    p.finish()
p.esc("allocated and touched %d MiB" % (total >> 20))
p.finish()
