# Probe: the host's hostname/domainname (UTS namespace) must not be visible.
p = Probe("host hostname")
hn = P("HOST_HOSTNAME")
seen = {"uname": os.uname().nodename, "gethostname": socket.gethostname(),
        "/proc/sys/kernel/hostname": (read_text("/proc/sys/kernel/hostname") or "").strip(),
        "/etc/hostname": (read_text("/etc/hostname") or "").strip()}
for k, v in seen.items():
    (p.esc if hn and v == hn else p.ok)("%s=%r" % (k, v))
dn = P("HOST_DOMAINNAME")
if dn and dn != "(none)" and os.uname().nodename and (read_text("/proc/sys/kernel/domainname") or "").strip() == dn:
    p.esc("domainname is the host's (%s)" % dn)
p.finish()
