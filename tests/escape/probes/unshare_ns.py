# Probe: no new namespaces: unshare(2) with each CLONE_NEW* flag, clone(2) with
# CLONE_NEWUSER and clone3(2) with CLONE_NEWUSER (seccomp cannot inspect clone3's struct, so
# it must be refused outright). Each attempt runs in a forked child.
p = Probe("create namespaces")
flags = dict(NEWUSER=CLONE_NEWUSER, NEWNS=CLONE_NEWNS, NEWNET=CLONE_NEWNET, NEWPID=CLONE_NEWPID,
             NEWUTS=CLONE_NEWUTS, NEWIPC=CLONE_NEWIPC, NEWCGROUP=CLONE_NEWCGROUP, NEWTIME=CLONE_NEWTIME)
for nm, fl in flags.items():
    st, res = in_child(lambda fl=fl: sc("unshare", fl))
    (p.esc if st == "ok" and res.endswith(", 0)") else p.ok)("unshare(CLONE_%s) -> %s %s" % (nm, st, res))


def raw_clone(fl):
    ret, e = sc("clone", fl | signal.SIGCHLD, 0, 0, 0, 0)
    if ret == 0:  # child: a copy of this process
        os._exit(42)
    if ret > 0:
        _, status = os.waitpid(ret, 0)
        return "child %d exited %d" % (ret, os.waitstatus_to_exitcode(status))
    return "refused: %s" % en(e)


class clone_args(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal",
                                               "stack", "stack_size", "tls", "set_tid", "set_tid_size", "cgroup")]


def raw_clone3(fl):
    a = clone_args(flags=fl, exit_signal=signal.SIGCHLD)
    ret, e = sc("clone3", ctypes.byref(a), ctypes.sizeof(a))
    if ret == 0:
        os._exit(42)
    if ret > 0:
        _, status = os.waitpid(ret, 0)
        return "child %d exited %d" % (ret, os.waitstatus_to_exitcode(status))
    return "refused: %s" % en(e)


for nm, fn in (("clone", raw_clone), ("clone3", raw_clone3)):
    for fl_name, fl in (("NEWUSER", CLONE_NEWUSER), ("NEWNS", CLONE_NEWNS), ("NEWNET", CLONE_NEWNET)):
        st, res = in_child(lambda fn=fn, fl=fl: fn(fl))
        (p.esc if st == "ok" and "exited 42" in res else p.ok)("%s(CLONE_%s) -> %s" % (nm, fl_name, res or st))
t = read_text("/proc/sys/user/max_user_namespaces")
p.note("max_user_namespaces=%s" % (t.strip() if t else "unreadable"))
p.finish()
