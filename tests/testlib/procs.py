"""The host's process table, read from /proc: how the e2e and escape suites find what a run
left behind. A process is named by (pid, start time) so that a reused pid is not mistaken."""
import os


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            st = f.read().decode("utf-8", "replace")
        return st[st.rindex(")") + 2:].split()
    except (OSError, ValueError):
        return None


def children() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, for every process now on the host."""
    kids: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        rest = _stat(p)
        if rest is None or len(rest) < 2:
            continue
        kids.setdefault(int(rest[1]), []).append(int(p))
    return kids


def starttime(pid: int, *, zombie_is_gone: bool = False) -> str | None:
    """pid's start time (clock ticks since boot, as text), None once it is gone."""
    rest = _stat(pid)
    if rest is None or len(rest) < 20:
        return None
    if zombie_is_gone and rest[0] in ("Z", "X"):
        return None
    return rest[19]


def cmdline(pid: int) -> str:
    """pid's command line, arguments joined by spaces; "" when unreadable or gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""
