# Probe: the sandbox has no network but loopback: /proc/net/dev lists only lo, the routing
# tables are empty, SIOCGIFCONF shows only lo, and a UDP connect() (a route lookup only:
# UDP connect sends no packet) to TEST-NET-1 192.0.2.1 finds no route. No traffic is sent
# anywhere.
import array
import fcntl

p = Probe("network isolation")
devs = []
for line in (read_text("/proc/net/dev") or "").splitlines()[2:]:
    devs.append(line.split(":")[0].strip())
extra = [d for d in devs if d and d != "lo"]
(p.esc if extra else p.ok)("/proc/net/dev interfaces: %s" % (devs or "unreadable"))
rt = [l for l in (read_text("/proc/net/route") or "").splitlines()[1:] if l.strip()]
(p.esc if rt else p.ok)("/proc/net/route has %d routes" % len(rt))
rt6 = [l for l in (read_text("/proc/net/ipv6_route") or "").splitlines() if l.strip() and not l.rstrip().endswith(" lo")]
(p.esc if rt6 else p.ok)("/proc/net/ipv6_route has %d non-lo routes" % len(rt6))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    buf = array.array("B", b"\0" * 40 * 32)
    addr, _ = buf.buffer_info()
    ifc = struct.pack("iL", len(buf), addr)
    n = struct.unpack("iL", fcntl.ioctl(s.fileno(), 0x8912, ifc))[0]  # SIOCGIFCONF
    names = [buf.tobytes()[i:i + 16].split(b"\0", 1)[0].decode() for i in range(0, n, 40)]
    other = [x for x in names if x != "lo"]
    (p.esc if other else p.ok)("SIOCGIFCONF: %s" % names)
except OSError as ex:
    p.ok("SIOCGIFCONF -> %s" % en(ex.errno))
try:
    s.connect(("192.0.2.1", 9))  # route lookup only
    p.esc("route to 192.0.2.1 exists (source address %s)" % s.getsockname()[0])
except OSError as ex:
    p.ok("route lookup 192.0.2.1 -> %s" % en(ex.errno))
s.close()
p.finish()
