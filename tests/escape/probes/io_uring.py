# Probe: io_uring_setup must be refused (io_uring operations bypass seccomp entirely).
p = Probe("io_uring")
params = (ctypes.c_uint8 * 120)()
r = sc("io_uring_setup", 4, params)
if p.sys_attempt("io_uring_setup(4)", r):
    os.close(r[0])
p.finish()
