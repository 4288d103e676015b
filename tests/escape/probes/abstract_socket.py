# Probe: a host abstract unix socket (bound by the driver as "\0<NAME>") must be
# unreachable: abstract sockets are scoped by network namespace, not by the filesystem.
p = Probe("host abstract unix socket")
name = P("NAME")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect("\0" + name)
    data = s.recv(200)
    p.esc("connected to host @%s (got %r)" % (name, data[:40]))
except OSError as ex:
    p.ok("connect @%s -> %s" % (name, en(ex.errno)))
finally:
    s.close()
t = read_text("/proc/net/unix") or ""
if "@" + name in t:
    p.esc("host socket @%s listed in /proc/net/unix" % name)
else:
    p.ok("/proc/net/unix does not list @%s" % name)
p.finish()
