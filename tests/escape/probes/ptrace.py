# Probe: ptrace and cross-process memory access (PTRACE_ATTACH/SEIZE on an own child,
# PTRACE_TRACEME, process_vm_readv on self and child). A host pid is tried too.
p = Probe("ptrace / process_vm_readv")
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 0, 16, 17, 0x4206
child = os.fork()
if child == 0:
    time.sleep(10)
    os._exit(0)
try:
    r = sc("ptrace", PTRACE_ATTACH, child, 0, 0)
    if p.sys_attempt("ptrace(ATTACH, child)", r):
        os.waitpid(child, 0)
        sc("ptrace", PTRACE_DETACH, child, 0, 0)
    r = sc("ptrace", PTRACE_SEIZE, child, 0, 0)
    if p.sys_attempt("ptrace(SEIZE, child)", r):
        sc("ptrace", PTRACE_DETACH, child, 0, 0)


    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    src = ctypes.create_string_buffer(b"airlock-vm-read", 16)
    dst = ctypes.create_string_buffer(16)
    liov = iovec(ctypes.addressof(dst), 16)
    riov = iovec(ctypes.addressof(src), 16)
    for target, label in ((os.getpid(), "self"), (child, "child")):
        p.sys_attempt("process_vm_readv(%s)" % label,
                      sc("process_vm_readv", target, ctypes.byref(liov), 1, ctypes.byref(riov), 1, 0))
finally:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
st, res = in_child(lambda: sc("ptrace", PTRACE_TRACEME, 0, 0, 0))
ok = st == "ok" and res.endswith(", 0)")
(p.esc if ok else p.ok)("ptrace(TRACEME) -> %s %s" % (st, res))
p.finish()
