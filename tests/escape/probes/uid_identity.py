# Probe: the sandbox runs as a non-root uid/gid with no supplementary root group.
p = Probe("uid identity")
ru, eu, su = os.getresuid()
rg, eg, sg = os.getresgid()
(p.esc if 0 in (ru, eu, su) else p.ok)("resuid=%d,%d,%d" % (ru, eu, su))
(p.esc if 0 in (rg, eg, sg) else p.ok)("resgid=%d,%d,%d" % (rg, eg, sg))
g = os.getgroups()
(p.esc if 0 in g else p.ok)("groups=%s" % g)
# uid_map is relative to the parent user namespace (which may itself be nested), so it
# cannot prove the host uid from inside: it is reported; test_host_uid checks the host side.
p.note("uid_map: %s" % (read_text("/proc/self/uid_map") or "unreadable").strip())
p.finish()
