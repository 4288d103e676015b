# Probe (outcome-judged): fork bomb. Forks children that sleep HOLD seconds until fork
# fails or MAX_PROCS children exist, printing progress. In the sandbox airlock must kill it
# (exit 137, "process limit"); the control runs it on the host as an unused uid with
# RLIMIT_NPROC=40 and checks that it hits that limit.
p = Probe("fork bomb")
maxp = int(P("MAX_PROCS", "5000"))
hold = float(P("HOLD", "20"))
retry = float(P("RETRY_SECONDS", "3"))
kids = []
first_fail = None
deadline = None
while len(kids) < maxp:
    try:
        pid = os.fork()
    except OSError as ex:
        if first_fail is None:
            first_fail = (len(kids), en(ex.errno))
            print("FORK_FAILED after %d children: %s" % first_fail, flush=True)
            deadline = time.monotonic() + retry
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
        continue
    if pid == 0:
        time.sleep(hold)
        os._exit(0)
    kids.append(pid)
    if len(kids) % 4 == 0:
        print("forked %d" % len(kids), flush=True)
for k in kids:
    try:
        os.kill(k, signal.SIGKILL)
        os.waitpid(k, 0)
    except OSError:
        pass
if first_fail is None:
    p.esc("forked %d children without hitting a limit" % len(kids))
else:
    p.ok("fork failed after %d children: %s" % first_fail)
p.finish()
