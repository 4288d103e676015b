# Probe: AF_VSOCK (host <-> VM channel; on a VM host it reaches the hypervisor side) must
# be refused. Only socket creation is attempted; nothing is connected.
p = Probe("AF_VSOCK sockets")
AF_VSOCK = 40
for typ, nm in ((socket.SOCK_STREAM, "STREAM"), (socket.SOCK_DGRAM, "DGRAM"), (socket.SOCK_SEQPACKET, "SEQPACKET")):
    try:
        s = socket.socket(AF_VSOCK, typ, 0)
        s.close()
        p.esc("socket(AF_VSOCK, %s) created" % nm)
    except OSError as ex:
        p.ok("AF_VSOCK/%s -> %s" % (nm, en(ex.errno)))
fd, e = try_open("/dev/vsock", os.O_RDWR)
if fd is not None:
    os.close(fd)
    p.esc("opened /dev/vsock")
p.finish()
