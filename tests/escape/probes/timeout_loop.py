# Probe (outcome-judged): an infinite busy loop; airlock must stop it at the timeout
# (exit 124, "airlock: timeout"). SIGTERM/SIGINT/SIGHUP are ignored.
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
print("looping", flush=True)
while True:
    pass
