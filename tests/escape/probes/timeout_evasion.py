# Probe (outcome-judged): try to outlive the sandbox. Double-forks daemons that setsid(),
# ignore catchable signals and keep running (one spins, one sleeps), then the main process
# exits 0 at once (EXIT_EARLY=1) or loops until the timeout. After `airlock run` returns
# no process of the sandbox may remain (checked by the driver via the MARKER in argv).
import subprocess

marker = P("MARKER", "airlock-evasion")
for i in range(3):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(s, signal.SIG_IGN)
        # a process with a recognisable argv for the host-side check
        os.execv("/bin/sleep", ["%s-d%d" % (marker, i), "300"] if i else ["%s-d%d" % (marker, i), "299"])
    os.waitpid(pid, 0)
print("DAEMONS_STARTED", flush=True)
if P("EXIT_EARLY", "0") == "1":
    print("BLOCKED: main exited; the driver checks for survivors")
    sys.exit(0)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
while True:
    pass
