# Probe: kernel addresses must not leak (KASLR): /proc/kallsyms shows only zero addresses,
# /proc/modules and /sys/kernel/notes-like files are not readable with real addresses.
p = Probe("kernel address leak")
t = read_text("/proc/kallsyms", 1 << 16)
if t is None:
    p.ok("/proc/kallsyms unreadable")
else:
    lines = t.splitlines()[:-1]  # the last line may be cut by the read limit
    nz = [l for l in lines[:2000] if l.split(" ")[0].strip("0")]
    (p.esc if nz else p.ok)("/proc/kallsyms: %d lines, %d non-zero addresses%s" % (
        len(t.splitlines()), len(nz), (" e.g. " + nz[0][:40]) if nz else ""))
t = read_text("/proc/modules")
if t:
    nz = [l for l in t.splitlines() if "0x0000000000000000" not in l]
    (p.esc if nz else p.ok)("/proc/modules addresses %s" % ("visible" if nz else "zeroed"))
p.finish()
