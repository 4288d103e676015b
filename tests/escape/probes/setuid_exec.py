# Probe: executing setuid/setgid binaries must not change identity. Each setuid binary
# found under /usr is started on a fresh pty (so su/passwd/chfn block at their password
# prompt) and its /proc/<pid>/status Uid/Gid lines are sampled while it runs. Escape = any
# sampled effective or saved uid/gid differs from ours (e.g. euid 0).
import select
import stat as _stat

p = Probe("setuid binaries")
me = (os.getuid(), os.getgid())
cands = []
for d in ("/usr/bin", "/usr/sbin", "/usr/lib/openssh", "/usr/lib/dbus-1.0", "/usr/lib/polkit-1", "/bin", "/sbin"):
    try:
        for e in os.scandir(d):
            try:
                m = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if _stat.S_ISREG(m) and m & (_stat.S_ISUID | _stat.S_ISGID):
                if os.path.realpath(e.path) not in [os.path.realpath(c) for c in cands]:
                    cands.append(e.path)
    except OSError:
        pass
p.note("setuid/setgid candidates: %s" % cands)
ARGS = {"su": ["root", "-c", "true"], "passwd": [], "chfn": [], "chsh": [], "gpasswd": ["root"],
        "newgrp": ["root"], "sudo": ["-S", "true"], "mount": ["--version"], "umount": ["--version"],
        "pkexec": ["true"]}
sampled = 0
for path in cands:
    base = os.path.basename(path)
    try:
        master, slave = os.openpty()
    except OSError:
        master = slave = None
    r, w = os.pipe()  # stdin pipe kept open so readers block instead of seeing EOF
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if slave is not None:
                import fcntl
                import termios
                try:
                    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                except OSError:
                    pass
                os.dup2(slave, 0)
                os.dup2(slave, 1)
                os.dup2(slave, 2)
            else:
                os.dup2(r, 0)
            os.execv(path, [path] + ARGS.get(base, []))
        except OSError:
            pass
        os._exit(127)
    seen = []
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        s = status_fields("/proc/%d/status" % pid)
        if "Uid" in s:
            seen.append((s["Name"], s["Uid"], s["Gid"]))
        if master is not None and select.select([master], [], [], 0.02)[0]:
            try:
                os.read(master, 4096)
            except OSError:
                pass
        wp, _ = os.waitpid(pid, os.WNOHANG)
        if wp:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    for fd in (master, slave, r, w):
        if fd is not None:
            os.close(fd)
    gained = [x for x in seen if x[0] != "python3" and
              (any(int(v) != me[0] for v in x[1].split()) or any(int(v) != me[1] for v in x[2].split()))]
    sampled += len(seen)
    if gained:
        p.esc("%s ran with Uid %s Gid %s" % (path, gained[0][1], gained[0][2]))
    else:
        p.ok("%s: identity unchanged (%d samples%s)" % (base, len(seen), ", last Uid " + seen[-1][1] if seen else ""))
if not cands:
    p.ok("no setuid binaries visible")
p.finish()
