# Probe: read host files. The driver plants canary files on the host (in /root, /home,
# /etc, /var/log, /var/tmp, /tmp, /dev/shm, /opt, /srv, /mnt and the repository) and passes
# "path=content" pairs; it also passes sha256 digests of host files that must not be
# visible (/etc/shadow, /etc/gshadow, /etc/machine-id) and the host hostname.
import hashlib

p = Probe("read host files")
for pair in (P("CANARIES") or "").split(";"):
    if not pair:
        continue
    path, _, content = pair.partition("=")
    t = read_text(path)
    if t is not None and content in t:
        p.esc("read host canary %s" % path)
    else:
        fd, e = try_open(path)
        if fd is not None:
            os.close(fd)
        p.ok("canary %s: %s" % (path, en(e) if e else "content differs"))
for pair in (P("HOST_DIGESTS") or "").split(";"):
    if not pair:
        continue
    path, _, digest = pair.partition("=")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as ex:
        p.ok("%s: %s" % (path, en(ex.errno)))
        continue
    if data and hashlib.sha256(data).hexdigest() == digest:
        p.esc("%s has the host's content" % path)
    else:
        p.ok("%s exists but is not the host's" % path)
hn = P("HOST_HOSTNAME")
t = read_text("/etc/hostname")
if hn and t is not None and t.strip() == hn:
    p.esc("/etc/hostname is the host's (%s)" % hn)
else:
    p.ok("/etc/hostname: %s" % ("absent" if t is None else repr(t.strip()[:40])))
# /root and /var/log must not show host content (listing is enough to leak names).
for d in ("/root", "/var/log", "/home"):
    try:
        ents = os.listdir(d)
    except OSError as ex:
        p.ok("list %s: %s" % (d, en(ex.errno)))
        continue
    host_ents = [x for x in (P("HOST_LS_" + d.strip("/").replace("/", "_").upper()) or "").split("/") if x]
    leaked = sorted(set(ents) & set(host_ents))
    if leaked:
        p.esc("%s lists host entries %s" % (d, leaked[:5]))
    else:
        p.ok("%s has %d entries, none of the host's" % (d, len(ents)))
p.finish()
