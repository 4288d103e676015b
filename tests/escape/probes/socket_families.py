# Probe: every socket family except AF_UNIX, AF_INET, AF_INET6 must be refused (AF_ALG,
# AF_KEY, AF_TIPC, AF_RDS, AF_XDP, AF_BLUETOOTH, ... have all had kernel CVEs). AF_NETLINK
# is judged by netlink_sockets.py (NETLINK_ROUTE is allowed by policy).
p = Probe("other socket families")
made = []
for fam in range(0, 46):
    if fam in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK):
        continue
    for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET, socket.SOCK_RAW):
        fd = libc.socket(fam, typ | 0o2000000, 0)  # SOCK_CLOEXEC
        if fd >= 0:
            os.close(fd)
            made.append("%d/%d" % (fam, typ))
if made:
    p.esc("socket(family/type) created for %s" % ", ".join(made[:20]))
else:
    p.ok("families 0..45 except UNIX/INET/INET6 refused for all types")
p.finish()
