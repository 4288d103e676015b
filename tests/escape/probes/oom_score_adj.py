# Probe: the sandbox must not protect itself from the host's OOM killer (oom_score_adj
# below 0 needs CAP_SYS_RESOURCE). Each write happens in a forked child that exits at once.
p = Probe("oom_score_adj")
for path, val in (("/proc/self/oom_score_adj", b"-1000"), ("/proc/self/oom_adj", b"-17")):
    st, res = in_child(lambda path=path, val=val: (open(path, "wb", buffering=0).write(val), read_text(path).strip())[1])
    (p.esc if st == "ok" and res.startswith("-") else p.ok)("write %s %s -> %s %s" % (val.decode(), path, st, res[:60]))
p.finish()
