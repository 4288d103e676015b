"""Server-Sent Events for execute: output arrives while the code runs, in order, and the
stream always ends with exactly one `end` event holding the Execution object."""
import http.client
import json
import time
from pathlib import Path

import jsonschema
import yaml

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "api" / "openapi.yaml").read_text())


def stream(client, sid, code, **fields):
    """[(event, data, seconds since the request)] of one streaming execute."""
    conn = http.client.HTTPConnection(client.host, client.port, timeout=120)
    body = json.dumps({"code": code, **fields}).encode()
    start = time.monotonic()
    conn.request("POST", "/v1/sessions/%s/execute" % sid, body=body, headers={
        "Authorization": "Bearer " + client.key, "Content-Type": "application/json",
        "Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream", resp.status
    events, event = [], None
    for raw in resp:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:]), time.monotonic() - start))
    conn.close()
    return events


def test_output_streams_live_and_ends_once(client, sid):
    code = "import time, sys\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')\nprint('e', file=sys.stderr)\n6 * 7"
    events = stream(client, sid, code)
    kinds = [e for e, _, _ in events]
    assert kinds[0] == "stdout" and kinds[-1] == "end" and kinds.count("end") == 1, kinds
    end = events[-1]
    # A program may write a line in pieces (python3 -u sends the text and the newline
    # apart), so events are judged by what they add up to, and when.
    early = "".join(d["text"] for e, d, t in events if e == "stdout" and t < end[2] - 1.0)
    assert early == "first\n", "the first line was not streamed before the sleep: %r" % events
    assert "".join(d["text"] for e, d, _ in events if e == "stdout") == "first\nsecond\n"
    assert ("result", {"text/plain": "42"}) in [(e, d) for e, d, _ in events]
    # the end event carries exactly what a non-streaming execute answers
    jsonschema.validate(end[1], {"$ref": "#/components/schemas/Execution", "components": SPEC["components"]})
    assert end[1]["status"] == "ok" and end[1]["stdout"] == "first\nsecond\n" and end[1]["stderr"] == "e\n"


def test_errors_stream_as_an_error_event(client, sid):
    events = stream(client, sid, "1/0")
    assert [e for e, _, _ in events] == ["error", "end"]
    assert events[0][1]["name"] == "ZeroDivisionError"
    assert events[1][1]["status"] == "error"


def test_streaming_to_missing_or_ended_sessions(client, sessions):
    conn = http.client.HTTPConnection(client.host, client.port, timeout=60)
    headers = {"Authorization": "Bearer " + client.key, "Content-Type": "application/json",
               "Accept": "text/event-stream"}
    conn.request("POST", "/v1/sessions/sess_00000000000000000000000000/execute", body=b'{"code": "1"}',
                 headers=headers)
    assert conn.getresponse().status == 404
    conn.close()
    sid = sessions()
    client.delete("/v1/sessions/" + sid)
    conn = http.client.HTTPConnection(client.host, client.port, timeout=60)
    conn.request("POST", "/v1/sessions/%s/execute" % sid, body=b'{"code": "1"}', headers=headers)
    assert conn.getresponse().status == 409
    conn.close()


def test_a_quiet_execution_keeps_its_stream_alive(client, sid):
    """Every 15 s without output the stream carries an SSE comment (`: keep-alive`), so that
    proxies and clients with idle-read timeouts don't cut a long, silent execution."""
    conn = http.client.HTTPConnection(client.host, client.port, timeout=12)  # < 15 s: needs the comment
    body = json.dumps({"code": "import time\ntime.sleep(16.5)\n'woke'"}).encode()
    conn.request("POST", "/v1/sessions/%s/execute" % sid, body=body, headers={
        "Authorization": "Bearer " + client.key, "Content-Type": "application/json",
        "Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200
    start, lines = time.monotonic(), []
    conn.sock.settimeout(20)  # the headers came at once; from here the comment must arrive within 20 s
    for raw in resp:
        lines.append((raw.decode().rstrip("\n"), time.monotonic() - start))
    conn.close()
    comments = [(l, t) for l, t in lines if l.startswith(":")]
    assert comments and comments[0][0] == ": keep-alive", lines
    assert comments[0][1] < 16, "the comment came with the end, not while the code slept: %r" % lines
    assert [l for l, _ in lines if l.startswith("event: ")] == ["event: result", "event: end"]
    assert lines.index(comments[0]) < [l for l, _ in lines].index("event: result")
