# Probe: the environment of the caller of `airlock run` must not leak into the sandbox.
# The driver sets AIRLOCK_SECRET_CANARY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN and
# SSH_AUTH_SOCK in airlock's own environment (values contain "airlock-canary-"). PATH and
# HOME must not point at the host caller's directories.
p = Probe("environment leak")
needle = "airlock-canary-"
for k, v in os.environ.items():
    if needle in v or k in ("AIRLOCK_SECRET_CANARY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "SSH_AUTH_SOCK"):
        p.esc("env %s=%s" % (k, v[:40]))
for pid in ["self"] + pids():
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            if needle.encode() in f.read():
                p.esc("canary in /proc/%s/environ" % pid)
    except OSError:
        pass
path = os.environ.get("PATH", "")
home = os.environ.get("HOME", "")
bad = [x for x in path.split(":") if x.startswith(("/root", "/home")) or ".pyenv" in x]
(p.esc if bad else p.ok)("PATH=%s" % path)
(p.esc if home.startswith("/root") or home.startswith("/home/") else p.ok)("HOME=%s" % home)
if not p.escapes:
    p.ok("no canary in environ of any visible process")
p.finish()
