# Probe: kernel tunables and sysfs must not be writable (core_pattern is a classic escape:
# the host kernel runs it as root). Files are only opened O_WRONLY, never written.
p = Probe("write /proc/sys and /sys")
targets = ["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/kernel/hostname",
           "/proc/sys/kernel/domainname", "/proc/sys/vm/drop_caches", "/proc/sys/vm/overcommit_memory",
           "/proc/sys/fs/file-max", "/proc/sys/kernel/pid_max", "/proc/sys/net/ipv4/ip_forward",
           "/proc/sys/user/max_user_namespaces", "/proc/sys/kernel/randomize_va_space",
           "/sys/kernel/uevent_helper", "/sys/kernel/mm/transparent_hugepage/enabled",
           "/sys/power/state", "/sys/class/net/lo/mtu", "/proc/self/coredump_filter_nonexistent"]
tried = 0
for path in targets:
    if not os.path.exists(path):
        continue
    tried += 1
    fd, e = try_open(path, os.O_WRONLY)
    if fd is not None:
        os.close(fd)
        p.esc("opened %s for writing" % path)
    else:
        p.ok("%s: %s" % (path, en(e)))
if not tried:
    p.ok("none of the targets exist")
p.finish()
