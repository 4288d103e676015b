# Probe: mounting must be impossible: tmpfs, bind, remount of / or /usr read-write, the new
# mount API (fsopen/open_tree), umount of the sandbox's own mounts, pivot_root, chroot.
p = Probe("mount")
base = "/tmp/airlock-mnt-%d" % os.getpid()
os.makedirs(base + "/a", exist_ok=True)
MS_BIND, MS_REMOUNT, MS_RDONLY, MS_REC = 4096, 32, 1, 16384


def attempt(label, res, target=None):
    if p.sys_attempt(label, res) and target:
        sc("umount2", target.encode(), 2)  # MNT_DETACH


attempt("mount tmpfs", sc("mount", b"none", (base + "/a").encode(), b"tmpfs", 0, b"size=1m"), base + "/a")
attempt("bind mount /usr", sc("mount", b"/usr", (base + "/a").encode(), None, MS_BIND | MS_REC, None), base + "/a")
attempt("bind mount /proc", sc("mount", b"/proc", (base + "/a").encode(), None, MS_BIND, None), base + "/a")
attempt("mount proc", sc("mount", b"proc", (base + "/a").encode(), b"proc", 0, None), base + "/a")
# make the read-only /usr writable (the control runs in a private mount namespace)
st, res = in_child(lambda: sc("mount", None, b"/usr", None, MS_REMOUNT | MS_BIND, None))
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("remount /usr rw in child -> %s" % res)
r = sc("fsopen", b"tmpfs", 1)  # FSOPEN_CLOEXEC
if p.sys_attempt("fsopen(tmpfs)", r):
    os.close(r[0])
r = sc("open_tree", -100, b"/usr", 1 | 0x80000)  # OPEN_TREE_CLONE | CLOEXEC
if p.sys_attempt("open_tree(/usr, CLONE)", r):
    os.close(r[0])
st, res = in_child(lambda: sc("umount2", b"/proc", 2))
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("umount2(/proc) in child -> %s" % res)
st, res = in_child(lambda: sc("chroot", base.encode()))
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("chroot(%s) in child -> %s" % (base, res))
os.makedirs(base + "/a/old", exist_ok=True)
st, res = in_child(lambda: sc("pivot_root", (base + "/a").encode(), (base + "/a/old").encode()))
(p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("pivot_root in child -> %s" % res)
for d in (base + "/a/old", base + "/a", base):
    try:
        os.rmdir(d)
    except OSError:
        pass
p.finish()
