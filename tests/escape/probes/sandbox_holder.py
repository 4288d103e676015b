# Helper (not a probe): "sandbox A" for the cross-sandbox probe. Plants a secret in every
# place another sandbox might look (/workspace, /tmp, /dev/shm, an abstract unix socket, a
# SysV shm segment, a process whose argv[0] carries the name), prints READY and serves
# the abstract socket until killed or AIRLOCK_PROBE_HOLD seconds pass.
import subprocess

name = P("NAME")
secret = P("SECRET")
key = int(P("SHM_KEY"))
planted = []
for d in ("/workspace", "/tmp", "/dev/shm"):
    try:
        with open(os.path.join(d, name), "w") as f:
            f.write(secret)
        planted.append(d)
    except OSError as ex:
        print("holder: %s: %s" % (d, en(ex.errno)), file=sys.stderr)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("\0" + name)
srv.listen(8)
planted.append("@" + name)
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(key, 4096, 0o1666)  # IPC_CREAT | 0666
if shmid >= 0:
    addr = libc.shmat(shmid, None, 0)
    ctypes.memmove(addr, secret.encode(), len(secret))
    planted.append("shm:%#x" % key)
child = subprocess.Popen([name + "-proc", str(int(P("HOLD", "60")))], executable="/bin/sleep")
planted.append("pid:%d" % child.pid)
print("READY " + " ".join(planted), flush=True)
srv.settimeout(1.0)
deadline = time.monotonic() + int(P("HOLD", "60"))
while time.monotonic() < deadline:
    try:
        c, _ = srv.accept()
        c.sendall(secret.encode())
        c.close()
    except socket.timeout:
        pass
if shmid >= 0:
    libc.shmctl(shmid, 0, None)  # IPC_RMID
child.kill()
