# Probe: another sandbox's files, processes, sockets and IPC must be unreachable. The
# driver starts sandbox A (sandbox_holder.py) and passes A's secret, name and shm key.
p = Probe("other sandbox reachable")
name = P("NAME")
secret = P("SECRET")
key = int(P("SHM_KEY"))


def check_file(path):
    t = read_text(path, 4096)
    if t is not None and secret in t:
        p.esc("read A's secret at %s" % path)
        return True
    return False


found = 0
for pid in pids():
    c = cmdline(pid) or ""
    if name in c:
        p.esc("A's process visible as pid %d (%s)" % (pid, c[:60]))
    for sub in ("root/workspace/", "root/tmp/", "root/dev/shm/", "cwd/"):
        found += check_file("/proc/%d/%s%s" % (pid, sub, name))
for d in ("/workspace", "/tmp", "/dev/shm", "/run", "/var/tmp", "/run/airlock"):
    found += check_file(os.path.join(d, name))
# bounded walk for the name anywhere below a few roots
budget = [20000]


def walk(d, depth):
    if depth > 4 or budget[0] <= 0:
        return
    try:
        ents = list(os.scandir(d))
    except OSError:
        return
    for e in ents:
        budget[0] -= 1
        if name in e.name:
            if not check_file(e.path):
                p.esc("found A's file name at %s" % e.path)
        try:
            if e.is_dir(follow_symlinks=False):
                walk(e.path, depth + 1)
        except OSError:
            pass


for root in ("/run", "/var", "/tmp", "/dev/shm", "/workspace", "/home", "/mnt", "/srv", "/opt", "/media"):
    walk(root, 0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect("\0" + name)
    data = s.recv(4096)
    p.esc("connected to A's abstract socket @%s (got %r)" % (name, data[:20]))
except OSError as ex:
    p.ok("connect @%s -> %s" % (name, en(ex.errno)))
finally:
    s.close()
t = read_text("/proc/net/unix") or ""
if name in t:
    p.esc("A's abstract socket listed in /proc/net/unix")
else:
    p.ok("/proc/net/unix does not list @%s" % name)
libc.shmget.restype = ctypes.c_int
ctypes.set_errno(0)
shmid = libc.shmget(key, 0, 0)
if shmid >= 0:
    libc.shmat.restype = ctypes.c_void_p
    addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
    data = ctypes.string_at(addr, len(secret)) if addr not in (None, ctypes.c_void_p(-1).value) else b""
    p.esc("shmget(%#x) found A's segment (content %s)" % (key, "matches" if data == secret.encode() else "differs"))
else:
    p.ok("shmget(%#x) -> %s" % (key, en(ctypes.get_errno())))
t = read_text("/proc/sysvipc/shm") or ""
if ("%10d" % key) in t or (" %d " % key) in t:
    p.esc("A's shm key listed in /proc/sysvipc/shm")
if not p.escapes:
    p.ok("no file, process, socket or shm of A found (%d walk entries)" % (20000 - budget[0]))
p.finish()
