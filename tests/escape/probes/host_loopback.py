# Probe: host loopback services must be unreachable. The driver listens on the host at
# 127.0.0.1:<PORT> and [::1]:<PORT6> (TCP, banner = TOKEN) and 127.0.0.1:<UDP_PORT> (records
# datagrams), and passes the ports. Traffic goes only to 127.0.0.1 / ::1.
p = Probe("host loopback services")
tok = P("TOKEN")
for fam, addr, port in ((socket.AF_INET, "127.0.0.1", P("PORT")), (socket.AF_INET6, "::1", P("PORT6"))):
    if not port:
        continue
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((addr, int(port)))
        try:
            data = s.recv(200)
        except OSError:
            data = b""
        p.esc("connected to host %s:%s (banner %r)" % (addr, port, data[:60]))
    except OSError as ex:
        p.ok("connect %s:%s -> %s" % (addr, port, en(ex.errno) if ex.errno else type(ex).__name__))
    finally:
        s.close()
if P("UDP_PORT"):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.sendto(("udp-" + (tok or "")).encode(), ("127.0.0.1", int(P("UDP_PORT"))))
        p.note("UDP datagram sent to 127.0.0.1:%s (driver checks whether the host got it)" % P("UDP_PORT"))
    except OSError as ex:
        p.ok("UDP sendto -> %s" % en(ex.errno))
    u.close()
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    t = read_text(f) or ""
    for port in (P("PORT"), P("PORT6")):
        if port and (":%04X " % int(port)) in t:
            p.esc("host listener port %s visible in %s" % (port, f))
p.finish()
