# Probe: the 32-bit (int 0x80) and x32 syscall ABIs must be unusable (a filter written for
# x86_64 numbers does not apply to them). Machine code runs in a forked child: the filter
# should kill it (SIGSYS); an executed i386 getpid() is an escape.
import mmap

p = Probe("foreign syscall ABIs")


def int80_getpid():
    code = bytes([0xb8, 20, 0, 0, 0,  # mov eax, 20 (i386 getpid)
                  0xcd, 0x80,         # int 0x80
                  0xc3])              # ret
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(addr)
    return "i386 getpid=%d real=%d" % (fn(), os.getpid())


st, res = in_child(int80_getpid)
if st == "ok" and res.startswith("i386 getpid=") and res.split("=")[1].split()[0] == res.split("=")[2]:
    p.esc("int 0x80 getpid executed (%s)" % res)
else:
    p.ok("int 0x80 getpid -> %s %s" % (st, res[:80]))
st, res = in_child(lambda: sc(0x40000000 | 39))  # __X32_SYSCALL_BIT | getpid
if st == "ok" and not res.startswith("(-1"):
    p.esc("x32 getpid executed (%s)" % res)
else:
    p.ok("x32 getpid -> %s %s" % (st, res))
p.finish()
