# Probe: netlink. Policy (docs/security.md): NETLINK_ROUTE sockets are allowed for interface
# listing; every other netlink protocol (sock_diag, xfrm, audit, netfilter, uevent, generic:
# large kernel attack surfaces that also leak host state) must be refused. For the allowed
# NETLINK_ROUTE the probe checks the claimed safety: an RTM_GETLINK dump shows only `lo`,
# and a (no-op) RTM_SETLINK on lo is refused for lack of CAP_NET_ADMIN.
p = Probe("AF_NETLINK sockets")
for proto, nm in ((4, "SOCK_DIAG"), (6, "XFRM"), (9, "AUDIT"), (12, "NETFILTER"),
                  (15, "KOBJECT_UEVENT"), (16, "GENERIC"), (10, "FIB_LOOKUP"), (5, "NFLOG")):
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
        s.close()
        p.esc("socket(AF_NETLINK, NETLINK_%s) created" % nm)
    except OSError as ex:
        p.ok("NETLINK_%s -> %s" % (nm, en(ex.errno)))


def nl_request(s, typ, flags, payload, seq):
    s.send(struct.pack("=IHHII", 16 + len(payload), typ, flags, seq, 0) + payload)


def nl_replies(s):
    s.settimeout(2)
    while True:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, typ, flags, seq, pid = struct.unpack_from("=IHHII", data, off)
            yield typ, data[off + 16: off + ln]
            if typ in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                return
            off += (ln + 3) & ~3


try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
except OSError as ex:
    p.ok("NETLINK_ROUTE -> %s" % en(ex.errno))
    p.finish()
ifinfo = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
try:
    nl_request(s, 18, 1 | 0x300, ifinfo, 1)  # RTM_GETLINK, NLM_F_REQUEST|NLM_F_DUMP
    names = []
    for typ, body in nl_replies(s):
        if typ != 16:  # RTM_NEWLINK
            continue
        off = 16
        while off + 4 <= len(body):
            rl, rt = struct.unpack_from("=HH", body, off)
            if rl < 4:
                break
            if rt == 3:  # IFLA_IFNAME
                names.append(body[off + 4: off + rl].split(b"\0")[0].decode())
            off += (rl + 3) & ~3
    other = [n for n in names if n != "lo"]
    (p.esc if other else p.ok)("RTM_GETLINK dump lists %s" % names)
except OSError as ex:
    p.ok("RTM_GETLINK -> %s" % en(ex.errno))
try:
    nl_request(s, 19, 1 | 4, struct.pack("=BxHiII", 0, 0, 1, 0, 0), 2)  # RTM_SETLINK lo, no change, ACK
    err = None
    for typ, body in nl_replies(s):
        if typ == 2:
            err = -struct.unpack_from("=i", body, 0)[0]
    if err == 0:
        p.esc("RTM_SETLINK on lo accepted (CAP_NET_ADMIN available)")
    else:
        p.ok("RTM_SETLINK on lo -> %s" % (en(err) if err else "no answer"))
except OSError as ex:
    p.ok("RTM_SETLINK -> %s" % en(ex.errno))
s.close()
p.finish()
