"""Restart semantics: `airlock serve` is a supervising launcher with the daemon as its child.
A daemon killed with SIGKILL is restarted, and every live session comes back with its
Python state and its workspace; the API answers again with the same key."""
import os
import signal
import time

import procs
from airlock_api import expect
from conftest import descendants


def _daemon_pid(daemon) -> int:
    kids = [pid for pid, _ in descendants(daemon.proc.pid) if "--launcher-fd" in procs.cmdline(pid)]
    assert len(kids) == 1, "expected one daemon under the supervisor, found %s" % kids
    return kids[0]


def _wait_ready(client, old_pid, daemon, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status == 200:
                kids = [pid for pid, _ in descendants(daemon.proc.pid) if "--launcher-fd" in procs.cmdline(pid)]
                if kids and kids[0] != old_pid:
                    return kids[0]
        except (OSError, AssertionError):
            pass  # the old daemon is gone and the new one not listening yet: keep asking
        time.sleep(0.1)
    raise AssertionError("the daemon did not come back:\n" + daemon.log_tail(40))


def test_sigkill_of_the_daemon_keeps_sessions(daemon, client, sessions):
    sid = sessions()
    client.run_ok(sid, "state = {'answer': 41}")
    expect(client.put("/v1/sessions/%s/files/kept/data.bin" % sid, body=b"\x00\x01keep me"), 201)
    old = _daemon_pid(daemon)
    os.kill(old, signal.SIGKILL)
    new = _wait_ready(client, old, daemon)
    assert new != old
    # The same session, its variables and its files survived the daemon.
    got = client.get_session(sid)
    assert got["status"] == "ready", got
    assert client.value(sid, "state['answer'] + 1") == "42"
    assert expect(client.get("/v1/sessions/%s/files/kept/data.bin" % sid), 200).body == b"\x00\x01keep me"
    assert sid in [s["id"] for s in expect(client.get("/v1/sessions"), 200).json["sessions"]]
    # New sessions work as before.
    other = sessions()
    assert client.value(other, "6 * 7") == "42"
