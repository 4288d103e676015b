# Probe: bpf(2): no maps, no programs.
p = Probe("bpf")
attr = (ctypes.c_uint8 * 128)()
struct.pack_into("IIII", attr, 0, 2, 4, 4, 1)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
r = sc("bpf", 0, attr, 128)  # BPF_MAP_CREATE
if p.sys_attempt("bpf(MAP_CREATE)", r):
    os.close(r[0])
insns = (ctypes.c_uint8 * 16)(*struct.pack("<BBhiBBhi", 0xb7, 0, 0, 0, 0x95, 0, 0, 0))  # r0=0; exit
lic = ctypes.create_string_buffer(b"GPL")
attr = (ctypes.c_uint8 * 128)()
struct.pack_into("IIQQ", attr, 0, 1, 2, ctypes.addressof(insns), ctypes.addressof(lic))  # SOCKET_FILTER
r = sc("bpf", 5, attr, 128)  # BPF_PROG_LOAD
if p.sys_attempt("bpf(PROG_LOAD socket filter)", r):
    os.close(r[0])
p.finish()
