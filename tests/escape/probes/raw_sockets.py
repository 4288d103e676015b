# Probe: raw IP sockets must be refused (SOCK_RAW for IPv4/IPv6, SOCK_PACKET).
p = Probe("raw sockets")
for fam, typ, proto, nm in ((socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, "AF_INET/SOCK_RAW/ICMP"),
                            (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW, "AF_INET/SOCK_RAW/RAW"),
                            (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP, "AF_INET/SOCK_RAW/TCP"),
                            (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6, "AF_INET6/SOCK_RAW/ICMPV6"),
                            (socket.AF_INET, 10, 0x0300, "AF_INET/SOCK_PACKET")):
    try:
        s = socket.socket(fam, typ, proto)
        s.close()
        p.esc("socket(%s) created" % nm)
    except OSError as ex:
        p.ok("socket(%s) -> %s" % (nm, en(ex.errno)))
p.finish()
