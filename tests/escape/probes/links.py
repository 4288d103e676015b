# Probe: symlink / hardlink / path tricks must not reach host files. The driver passes
# host canaries ("path=content;..."); the probe links to them from /workspace and /tmp,
# and tries /proc/self/root/../.., /proc/self/cwd/../.. and /proc/1/root prefixes.
p = Probe("link tricks")
work = P("SCRATCH") or "/workspace"
pairs = [x.partition("=")[::2] for x in (P("CANARIES") or "").split(";") if x]
for i, (path, content) in enumerate(pairs):
    ln = os.path.join(work, ".airlock-link-%d-%d" % (os.getpid(), i))
    try:
        os.symlink(path, ln)
        t = read_text(ln)
        os.unlink(ln)
        (p.esc if t is not None and content in t else p.ok)("symlink -> %s: %s" % (path, "read" if t else "unreadable"))
    except OSError as ex:
        p.ok("symlink -> %s: %s" % (path, en(ex.errno)))
    try:
        os.link(path, ln)
        t = read_text(ln)
        os.unlink(ln)
        (p.esc if t is not None and content in t else p.ok)("hardlink %s: %s" % (path, "read" if t else "unreadable"))
    except OSError as ex:
        p.ok("hardlink %s: %s" % (path, en(ex.errno)))
    for pre in ("/proc/self/root/../../..", "/proc/self/cwd/../../../..", "/proc/1/root", "/proc/1/cwd/../../.."):
        t = read_text(pre + path)
        if t is not None and content in t:
            p.esc("read %s%s" % (pre, path))
# relative dot-dot from /workspace and a symlink loop through /proc/self/root
t = read_text("/workspace/../../../../etc/shadow")
p.note("/workspace/../../etc/shadow: %s" % ("readable" if t is not None else "unreadable"))
p.finish()
