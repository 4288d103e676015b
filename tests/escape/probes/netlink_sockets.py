# Probe: AF_NETLINK sockets must be refused (route/xfrm/netfilter/audit/uevent are large
# kernel attack surfaces and leak host information).
p = Probe("AF_NETLINK sockets")
for proto, nm in ((0, "ROUTE"), (4, "SOCK_DIAG"), (6, "XFRM"), (9, "AUDIT"), (12, "NETFILTER"),
                  (15, "KOBJECT_UEVENT"), (16, "GENERIC")):
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
        s.close()
        p.esc("socket(AF_NETLINK, NETLINK_%s) created" % nm)
    except OSError as ex:
        p.ok("NETLINK_%s -> %s" % (nm, en(ex.errno)))
p.finish()
