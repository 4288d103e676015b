# Probe: sethostname/setdomainname must be refused (set to the current values, so even a
# success changes nothing).
p = Probe("sethostname")
hn = os.uname().nodename.encode()
p.sys_attempt("sethostname(%r)" % hn, sc("sethostname", hn, len(hn)))
dn = (read_text("/proc/sys/kernel/domainname") or "(none)").strip().encode()
p.sys_attempt("setdomainname(%r)" % dn, sc("setdomainname", dn, len(dn)))
p.finish()
