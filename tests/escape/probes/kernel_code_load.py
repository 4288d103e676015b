# Probe: loading kernel code (init_module, finit_module, kexec_load, kexec_file_load) must
# be refused. Arguments are invalid on purpose: with the privilege, the kernel answers
# ENOEXEC/EINVAL/EBADF after its permission check (= escape); without it EPERM. ENOSYS means
# the kernel lacks the feature (or the filter hides it) and is not an escape.
p = Probe("kernel code loading")
passed = lambda r, e: e in (0, errno.ENOEXEC, errno.EINVAL, errno.EBADF, errno.EFAULT, errno.ENOENT)
img = ctypes.create_string_buffer(64)
p.sys_attempt("init_module(64 zero bytes)", sc("init_module", img, 64, b""), escape_if=passed)
fd = os.open("/dev/null", os.O_RDONLY)
p.sys_attempt("finit_module(/dev/null)", sc("finit_module", fd, b"", 0), escape_if=passed)
os.close(fd)
p.sys_attempt("kexec_load(bogus flags)", sc("kexec_load", 0, 0, None, 0x100), escape_if=passed)
p.sys_attempt("kexec_file_load(bad fds)", sc("kexec_file_load", -1, -1, 0, None, 0x100), escape_if=passed)
p.finish()
