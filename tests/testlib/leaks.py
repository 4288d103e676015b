"""What one `airlock serve` holds on the host, read from /proc and /sys: open files and
threads of its supervisor and daemon, its sandboxes' processes and cgroups, and mounts
that name Airlock. The reliability suite and bench/reliability.py take it before and after
a run and compare (`grown()`), so that a leak of any of these fails them.

Other engineers' daemons may run on the same host: sandboxes and cgroups are matched by
the supervisor's pid, which is in every cgroup name it makes (`sb-<pid>-<n>`)."""
from __future__ import annotations

import os
from pathlib import Path

import procs

UID_POOL_BASE = 2100000000  # src/sandbox/uid_pool.h
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _status(pid: int) -> dict[str, str]:
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def fds(pid: int) -> int:
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def threads(pid: int) -> int:
    return int(_status(pid).get("Threads", "-1"))


def rss_kb(pid: int) -> int:
    return int(_status(pid).get("VmRSS", "-1 kB").split()[0])


def cgroup_dirs(supervisor: int) -> list[str]:
    """This supervisor's sandbox cgroups, in every hierarchy (v1 controllers or v2)."""
    prefix = "sb-%d-" % supervisor
    out = []
    for base in [CGROUP_ROOT / "airlock", *(p / "airlock" for p in CGROUP_ROOT.iterdir() if p.is_dir())]:
        try:
            out += [str(base / n) for n in os.listdir(base) if n.startswith(prefix)]
        except OSError:
            continue
    return sorted(out)


def sandbox_procs(supervisor: int) -> list[int]:
    """Processes of a pool uid in one of this supervisor's cgroups (alive, or orphaned)."""
    tag = "/airlock/sb-%d-" % supervisor
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        uid = _status(int(p)).get("Uid", "").split()
        if not uid or int(uid[0]) < UID_POOL_BASE:
            continue
        try:
            with open("/proc/%s/cgroup" % p) as f:
                if tag in f.read():
                    out.append(int(p))
        except OSError:
            continue
    return out


def airlock_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f if "airlock" in line.split()[4])


def daemon_pid(supervisor: int) -> int | None:
    for p in procs.children().get(supervisor, []):
        if "--launcher-fd" in procs.cmdline(p):
            return p
    return None


def snapshot(supervisor: int) -> dict:
    d = daemon_pid(supervisor)
    return {
        "supervisor_fds": fds(supervisor),
        "daemon_fds": fds(d) if d else -1,
        "daemon_threads": threads(d) if d else -1,
        "daemon_rss_kb": rss_kb(d) if d else -1,
        "sandbox_procs": len(sandbox_procs(supervisor)),
        "cgroups": len(cgroup_dirs(supervisor)),
        "mounts": airlock_mounts(),
    }


def grown(before: dict, after: dict) -> list[str]:
    """What `after` holds beyond `before` (RSS is a figure to report, not a leak by itself)."""
    out = []
    for k in ("supervisor_fds", "daemon_fds", "daemon_threads", "sandbox_procs", "cgroups"):
        if after[k] > before[k]:
            out.append("%s: %d before, %d after" % (k, before[k], after[k]))
    extra = sorted(set(after["mounts"]) - set(before["mounts"]))
    if extra:
        out.append("mounts: " + ", ".join(extra))
    return out
