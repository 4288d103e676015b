"""Tracing and request ids: with otlp_endpoint set, the daemon sends OpenTelemetry spans
over OTLP/HTTP (JSON) to a test receiver on loopback: a request's server span carries the
client's W3C trace id and parent, session.create -> sandbox.start and session.execute ->
sandbox.exec -> execution hang under it, SSE included. Every response has X-Request-Id
(the client's, when it sent a plain one), and the daemon's log is JSON lines naming it."""
import http.client
import http.server
import json
import re
import secrets
import threading
import time

import pytest
from conftest import HOST, ExtraDaemon, http_ready


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__((HOST, 0), Handler)
        self.spans = []
        self.posts = []
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        doc = json.loads(body)
        with self.server.lock:
            self.server.posts.append((self.path, self.headers["Content-Type"]))
            for rs in doc["resourceSpans"]:
                resource = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        sp["_resource"] = resource
                        self.server.spans.append(sp)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    t = threading.Thread(target=r.serve_forever, daemon=True)
    t.start()
    yield r
    r.shutdown()


@pytest.fixture(scope="module")
def traced(receiver):
    with ExtraDaemon({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://%s:%d" % (HOST, receiver.server_port)}, http_ready) as d:
        yield d


def call(d, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(HOST, d.port, timeout=120)
    h = {"Authorization": "Bearer " + d.key, **(headers or {})}
    if body is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def spans_of(receiver, trace_id, want, timeout=15):
    """The spans of one trace, once at least `want` have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        with receiver.lock:
            got = [s for s in receiver.spans if s["traceId"] == trace_id]
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def by_name(spans):
    out = {}
    for s in spans:
        out.setdefault(s["name"], []).append(s)
    return out


def attrs(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def traceparent():
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent, "00-%s-%s-01" % (trace_id, parent)


def test_session_create_is_traced_under_the_clients_trace(traced, receiver):
    trace_id, parent, header = traceparent()
    resp, data = call(traced, "POST", "/v1/sessions", {}, {"traceparent": header})
    assert resp.status == 201, data
    sid = json.loads(data)["id"]
    spans = by_name(spans_of(receiver, trace_id, 3))
    server = spans["POST /v1/sessions"][0]
    assert server["parentSpanId"] == parent and server["kind"] == 2, server
    a = attrs(server)
    assert a["http.request.method"] == "POST" and a["http.response.status_code"] == "201"
    assert a["airlock.request_id"] == resp.getheader("X-Request-Id")
    create = spans["session.create"][0]
    assert create["parentSpanId"] == server["spanId"] and attrs(create)["airlock.session_id"] == sid
    start = spans["sandbox.start"][0]
    assert start["parentSpanId"] == create["spanId"]
    assert int(server["startTimeUnixNano"]) <= int(create["startTimeUnixNano"]) <= int(start["startTimeUnixNano"])
    assert int(start["endTimeUnixNano"]) <= int(create["endTimeUnixNano"]) <= int(server["endTimeUnixNano"])
    assert server["_resource"]["service.name"] == {"stringValue": "airlock"}
    call(traced, "DELETE", "/v1/sessions/" + sid)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_execute_spans_chain_request_session_sandbox_execution(traced, receiver, stream):
    _, data = call(traced, "POST", "/v1/sessions", {})
    sid = json.loads(data)["id"]
    trace_id, parent, header = traceparent()
    headers = {"traceparent": header}
    if stream:
        headers["Accept"] = "text/event-stream"
    resp, data = call(traced, "POST", "/v1/sessions/%s/execute" % sid, {"code": "1 / 0"}, headers)
    assert resp.status == 200 and b"ZeroDivisionError" in data
    spans = by_name(spans_of(receiver, trace_id, 4))
    server = spans["POST /v1/sessions/{id}/execute"][0]
    assert server["parentSpanId"] == parent
    chain = [server] + [spans[n][0] for n in ("session.execute", "sandbox.exec", "execution")]
    for up, down in zip(chain, chain[1:], strict=False):
        assert down["parentSpanId"] == up["spanId"], (up["name"], down)
    execution = attrs(chain[3])
    assert execution["airlock.status"] == "error" and execution["airlock.language"] == "python"
    assert chain[3]["status"]["code"] == 2  # an error in user code marks the execution span
    assert server["status"]["code"] == 1  # but the request itself succeeded
    assert attrs(chain[1])["airlock.session_id"] == sid
    call(traced, "DELETE", "/v1/sessions/" + sid)


TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize("header", [
    "00-zz-not-valid-01",
    "00-%s-%s-01" % (TID.upper(), SID),        # upper-case hex
    "00-%s-%s-01" % ("0" * 32, SID),           # all-zero trace id
    "00-%s-%s-01" % (TID, "0" * 16),           # all-zero parent id
    "ff-%s-%s-01" % (TID, SID),                # version ff
    "00-%s-%s-01-extra" % (TID, SID),          # version 00 has exactly four fields
], ids=["garbage", "upper", "zero-trace", "zero-parent", "version-ff", "00-extra"])
def test_a_malformed_traceparent_starts_a_new_trace(traced, receiver, header):
    resp, _ = call(traced, "GET", "/v1/sessions", None, {"traceparent": header})
    assert resp.status == 200
    rid = resp.getheader("X-Request-Id")
    deadline = time.monotonic() + 15
    while True:
        with receiver.lock:
            mine = [s for s in receiver.spans if attrs(s).get("airlock.request_id") == rid]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(mine) == 1 and "parentSpanId" not in mine[0] and re.fullmatch("[0-9a-f]{32}", mine[0]["traceId"])
    assert mine[0]["traceId"] != TID
    with receiver.lock:
        assert all(p == ("/v1/traces", "application/json") for p in receiver.posts), receiver.posts


def test_a_later_version_with_more_fields_is_honoured(traced, receiver):
    resp, _ = call(traced, "GET", "/v1/sessions", None, {"traceparent": "cc-%s-%s-01-whatever" % (TID, SID)})
    assert resp.status == 200
    spans = [s for s in spans_of(receiver, TID, 1) if s["name"] == "GET /v1/sessions"]
    assert spans and spans[-1]["parentSpanId"] == SID


def test_request_ids_in_responses_and_json_logs(traced):
    resp, _ = call(traced, "GET", "/healthz")
    rid = resp.getheader("X-Request-Id")
    assert re.fullmatch("req_[a-z0-9]{26}", rid), rid
    resp, _ = call(traced, "GET", "/v1/nope", None, {"X-Request-Id": "client-chosen.42"})
    assert resp.status == 404 and resp.getheader("X-Request-Id") == "client-chosen.42"
    resp, _ = call(traced, "GET", "/healthz", None, {"X-Request-Id": "bad id with spaces"})
    assert re.fullmatch("req_[a-z0-9]{26}", resp.getheader("X-Request-Id"))
    deadline = time.monotonic() + 10
    while "client-chosen.42" not in traced.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [json.loads(line) for line in traced.log_text().splitlines()]  # every line is JSON
    access = [entry for entry in lines if entry.get("request_id") == "client-chosen.42"]
    assert len(access) == 1, access
    entry = access[0]
    assert (entry["method"], entry["path"], entry["status"], entry["route"]) == ("GET", "/v1/nope", 404,
                                                                                  "(unknown route)")
    assert re.fullmatch("[0-9a-f]{32}", entry["trace_id"]) and entry["duration_ms"] >= 0
