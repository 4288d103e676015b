# Probe: AF_PACKET sockets (link-layer access, CVE-2017-7308 family) must be refused.
p = Probe("AF_PACKET sockets")
ETH_P_ALL = 0x0300  # htons(3)
for typ, nm in ((socket.SOCK_RAW, "SOCK_RAW"), (socket.SOCK_DGRAM, "SOCK_DGRAM")):
    try:
        s = socket.socket(socket.AF_PACKET, typ, ETH_P_ALL)
        s.close()
        p.esc("socket(AF_PACKET, %s) created" % nm)
    except OSError as ex:
        p.ok("socket(AF_PACKET, %s) -> %s" % (nm, en(ex.errno)))
p.finish()
