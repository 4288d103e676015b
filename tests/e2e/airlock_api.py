"""The e2e suite's HTTP client and its OpenAPI response checker.

HTTP is the standard library only (http.client over loopback). Every response the client
receives is checked against api/openapi.yaml before the test sees it:

  * the route and method are looked up in the document; an unknown route must be answered
    404 `not_found`, an unknown method 405 `method_not_allowed` with an `Allow` header, and
    a /v1 request without a valid key 401 `unauthorized`, each with its declared body;
  * the status must be declared for the operation (no `default` responses exist);
  * the Content-Type must be one the document declares for that status, declared headers
    must be there, and a JSON body must validate against the schema (JSON Schema 2020-12).

Validation is strict: every object schema in the document that does not say otherwise is
closed (additionalProperties: false) for the check, so a field the daemon returns but the
document does not declare is a failure. The document must grow with the daemon.

PyYAML and jsonschema are imported lazily (the conftest turns their absence into a skip, or
a failure under CI). jsonschema >= 4.18 uses `referencing`; older releases (Debian
bookworm's 4.10) use RefResolver.
"""
from __future__ import annotations

import copy
import http.client
import json as _json
import re
import select
import socket
import threading
import time
import urllib.parse
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parents[2] / "api" / "openapi.yaml"
SPEC_URI = "https://airlock.invalid/api/openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
NOTHING = object()


class SpecViolation(AssertionError):
    """A response the OpenAPI document does not allow."""


def load_spec(path: Path = SPEC_PATH) -> dict:
    import yaml

    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _close_objects(node) -> None:
    """Close every object schema that declares properties and says nothing about others."""
    if isinstance(node, dict):
        kind = node.get("type")
        is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
        if is_object and "properties" in node and not any(
                k in node for k in ("additionalProperties", "unevaluatedProperties", "patternProperties")):
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


def _validator_class():
    import jsonschema

    return jsonschema.Draft202012Validator


def _format_checker():
    import jsonschema

    cls = jsonschema.Draft202012Validator
    return getattr(cls, "FORMAT_CHECKER", None) or getattr(jsonschema, "draft202012_format_checker", None)


class SpecChecker:
    """Checks responses against the document and records which (route, method, status) were seen."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.strict = copy.deepcopy(spec)
        _close_objects(self.strict)
        self.routes = []
        for template, item in spec["paths"].items():
            params = {}
            for p in item.get("parameters", []):
                p = self.deref(p)
                params[p["name"]] = p
            regex = ""
            for part in re.split(r"(\{[^}]+\})", template):
                if part.startswith("{"):
                    name = part[1:-1]
                    greedy = params.get(name, {}).get("x-airlock-greedy")
                    regex += "(?P<%s>%s)" % (name, ".*" if greedy else "[^/]+")
                else:
                    regex += re.escape(part)
            self.routes.append((re.compile("^" + regex + "$"), template, item))
        self._validators = {}
        self._lock = threading.Lock()
        self.seen = set()  # (template or None, METHOD, status)
        self.forbidden = set()  # byte strings no response may contain (secrets' values)
        self._make_registry()

    # -- references --------------------------------------------------------------------
    def deref(self, obj):
        """Follow a local $ref (one or more hops) to the referenced object."""
        while isinstance(obj, dict) and "$ref" in obj and len(obj) == 1:
            obj = self.resolve_pointer(obj["$ref"].split("#", 1)[1])
        return obj

    def resolve_pointer(self, pointer: str, doc=None):
        node = self.spec if doc is None else doc
        for token in pointer.lstrip("/").split("/") if pointer else []:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def _make_registry(self):
        import inspect

        self._registry = self._resolver = None
        if "registry" in inspect.signature(_validator_class()).parameters:  # jsonschema >= 4.18
            from referencing import Registry
            from referencing.jsonschema import DRAFT202012

            self._registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(self.strict))
        else:
            import jsonschema

            self._resolver = jsonschema.RefResolver(base_uri=SPEC_URI, referrer=self.strict)

    def validator(self, pointer: str):
        """A validator for the schema at `pointer` (a JSON pointer into the document)."""
        with self._lock:
            v = self._validators.get(pointer)
            if v is None:
                schema = {"$ref": SPEC_URI + "#" + urllib.parse.quote(pointer, safe="/~")}
                cls = _validator_class()
                kwargs = {"format_checker": _format_checker()}
                if self._registry is not None:
                    kwargs["registry"] = self._registry
                else:
                    kwargs["resolver"] = self._resolver
                v = cls(schema, **kwargs)
                self._validators[pointer] = v
            return v

    def validate(self, pointer: str, instance) -> list[str]:
        """Error messages (empty when valid) for `instance` against the schema at `pointer`."""
        errors = sorted(self.validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return ["at %s: %s" % ("/".join(map(str, e.absolute_path)) or "(root)", e.message) for e in errors]

    # -- routing -----------------------------------------------------------------------
    def match(self, path: str):
        for regex, template, item in self.routes:
            if regex.match(path):
                return template, item
        return None, None

    def operations(self):
        """(template, METHOD, operation) for every operation in the document."""
        for template, item in self.spec["paths"].items():
            for method in METHODS:
                if method in item:
                    yield template, method.upper(), item[method]

    # -- the check ---------------------------------------------------------------------
    def check(self, method: str, target: str, status: int, headers, body: bytes, body_len: int):
        path = target.split("?", 1)[0]
        for secret in self.forbidden:
            if body and secret in body:
                raise SpecViolation("%s %s -> %d: a secret's value is in the response" % (method, target[:200], status))
        m = method.lower()
        template, item = self.match(path)
        is_v1 = path == "/v1" or path.startswith("/v1/")
        where = "%s %s -> %d" % (method, target[:200], status)
        if template is not None and m in item:
            op = item[m]
            responses = op["responses"]
            if str(status) not in responses:
                raise SpecViolation("%s: status %d is not declared for %s %s (declared: %s)\n%s" % (
                    where, status, method, template, ", ".join(sorted(responses)), _excerpt(body)))
            pointer = "/paths/%s/%s/responses/%d" % (pointer_escape(template), m, status)
        elif status == 401 and is_v1:
            pointer = "/components/responses/Unauthorized"
        elif template is None:
            if status != 404:
                raise SpecViolation("%s: no route matches %s, so the answer must be 404 not_found\n%s" % (
                    where, path, _excerpt(body)))
            pointer = "/components/responses/NotFound"
        else:
            if status != 405:
                raise SpecViolation("%s: %s has no %s, so the answer must be 405 method_not_allowed\n%s" % (
                    where, template, method, _excerpt(body)))
            pointer = "/components/responses/MethodNotAllowed"
            allowed = {x.strip().upper() for x in (headers.get("Allow") or "").split(",") if x.strip()}
            declared = {x.upper() for x in METHODS if x in item}
            if not declared <= allowed or not allowed <= declared | {"HEAD", "OPTIONS"}:
                raise SpecViolation("%s: Allow is %r, the document declares %s" % (
                    where, headers.get("Allow"), sorted(declared)))
        with self._lock:
            self.seen.add((template, method.upper(), status))
        self._check_response(where, pointer, headers, body, body_len)

    def _check_response(self, where, pointer, headers, body, body_len):
        resp = self.resolve_pointer(pointer)
        while "$ref" in resp:
            pointer = resp["$ref"].split("#", 1)[1]
            resp = self.resolve_pointer(pointer)
        for name, h in (resp.get("headers") or {}).items():
            h = self.deref(h)
            value = headers.get(name)
            if value is None:
                if h.get("required"):
                    raise SpecViolation("%s: the declared header %s is missing" % (where, name))
                continue
            pattern = (h.get("schema") or {}).get("pattern")
            if pattern and not re.search(pattern, value):
                raise SpecViolation("%s: header %s=%r does not match %s" % (where, name, value, pattern))
        if headers.get("Content-Length") is not None and int(headers["Content-Length"]) != body_len:
            raise SpecViolation("%s: Content-Length %s but %d body bytes" % (where, headers["Content-Length"], body_len))
        content = resp.get("content")
        if not content:
            if body_len:
                raise SpecViolation("%s: the document declares no body, got %d bytes\n%s" % (where, body_len, _excerpt(body)))
            return
        ctype = headers.get("Content-Type")
        if ctype is None:
            raise SpecViolation("%s: no Content-Type (declared: %s)" % (where, ", ".join(content)))
        media = ctype.split(";", 1)[0].strip().lower()
        if media not in content:
            raise SpecViolation("%s: Content-Type %s, declared: %s\n%s" % (where, ctype, ", ".join(content), _excerpt(body)))
        if media != "application/json":
            return
        try:
            doc = _json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SpecViolation("%s: the body is not JSON (%s)\n%s" % (where, exc, _excerpt(body))) from None
        schema_ptr = "%s/content/%s/schema" % (pointer, pointer_escape(media))
        errors = self.validate(schema_ptr, doc)
        if errors:
            raise SpecViolation("%s: the body does not match %s:\n  %s\nbody: %s" % (
                where, schema_ptr, "\n  ".join(errors[:12]), _excerpt(body)))


def _excerpt(body: bytes, limit: int = 1500) -> str:
    if not body:
        return "(empty body)"
    text = body[:limit].decode("utf-8", "replace")
    return text + ("... (%d bytes)" % len(body) if len(body) > limit else "")


# ---------------------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, method, target, status, reason, headers, body, body_len):
        self.method = method
        self.target = target
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.body_len = body_len
        self._json = NOTHING

    @property
    def json(self):
        if self._json is NOTHING:
            self._json = _json.loads(self.body.decode("utf-8"))
        return self._json

    @property
    def error(self) -> dict:
        return self.json["error"]

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<%s %s -> %d %s>" % (self.method, self.target[:120], self.status, _excerpt(self.body, 400))


def expect(resp: Response, status: int, code: str | None = None, field=NOTHING) -> Response:
    """Assert the status (and for errors, the code and field) of a response."""
    assert resp.status == status, "expected %d%s, got %r" % (status, " " + code if code else "", resp)
    if code is not None:
        assert resp.error["code"] == code, "expected code %s, got %r" % (code, resp)
    if field is not NOTHING:
        assert resp.error.get("field") == field, "expected field %r, got %r" % (field, resp)
    return resp


class Client:
    """One fresh loopback connection per request; safe to share between threads."""

    def __init__(self, host: str, port: int, key: str | None, checker: SpecChecker | None, timeout: float = 180):
        self.host = host
        self.port = port
        self.key = key
        self.checker = checker
        self.timeout = timeout

    def with_key(self, key):
        return Client(self.host, self.port, key, self.checker, self.timeout)

    def request(self, method, target, *, json=NOTHING, body=None, headers=None, auth=True,
                content_type=NOTHING, content_length=None, expect_continue=False, sink=None,
                timeout=None) -> Response:
        """Send one request and return the checked response.

        json: an object to send as JSON. body: bytes, or an iterable of bytes (sent with
        `content_length` if given, else chunked). auth: True (the client's key), False (no
        Authorization header) or the header's exact value. content_type: NOTHING picks
        application/json for `json`, none otherwise; None sends none. sink: a callable that
        receives the response body in chunks instead of it being kept.
        """
        hdrs = dict(headers or {})
        if json is not NOTHING:
            body = _json.dumps(json).encode("utf-8")
            if content_type is NOTHING:
                content_type = "application/json"
        if content_type not in (NOTHING, None):
            hdrs["Content-Type"] = content_type
        if auth is True and self.key is not None:
            hdrs["Authorization"] = "Bearer " + self.key
        elif isinstance(auth, str):
            hdrs["Authorization"] = auth
        chunks = None
        if isinstance(body, (bytes, bytearray, memoryview)):
            hdrs.setdefault("Content-Length", str(len(body)))
            chunks = [bytes(body)] if len(body) else []
        elif body is not None:
            chunks = body
            if content_length is not None:
                hdrs["Content-Length"] = str(content_length)
            else:
                hdrs["Transfer-Encoding"] = "chunked"
        elif method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", "0")
        if expect_continue:
            hdrs["Expect"] = "100-continue"
        chunked = hdrs.get("Transfer-Encoding") == "chunked"

        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            send_error = None
            if chunks is not None and (not expect_continue or _await_continue(conn.sock)):
                try:
                    for chunk in chunks:
                        if chunked:
                            if chunk:
                                conn.send(b"%x\r\n" % len(chunk) + bytes(chunk) + b"\r\n")
                        else:
                            conn.send(chunk)
                    if chunked:
                        conn.send(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError) as exc:
                    send_error = exc  # the daemon answered early and closed; read that answer
            try:
                resp = conn.getresponse()
            except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError) as exc:
                raise AssertionError("%s %s: the daemon closed the connection without an answer (%r%s)" % (
                    method, target[:200], exc, "; the body was cut short: %r" % send_error if send_error else "")) from None
            body_len = 0
            if sink is None:
                data = resp.read()
                body_len = len(data)
            else:
                data = b""
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    body_len += len(chunk)
                    sink(chunk)
            result = Response(method, target, resp.status, resp.reason, resp.headers, data, body_len)
        finally:
            conn.close()
        if self.checker is not None:
            self.checker.check(method, target, result.status, result.headers, result.body, result.body_len)
        return result

    # -- conveniences ------------------------------------------------------------------
    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def post(self, target, **kw):
        return self.request("POST", target, **kw)

    def patch(self, target, **kw):
        return self.request("PATCH", target, **kw)

    def put(self, target, **kw):
        return self.request("PUT", target, **kw)

    def delete(self, target, **kw):
        return self.request("DELETE", target, **kw)

    def create_session(self, **fields) -> dict:
        resp = self.post("/v1/sessions", json=fields)
        expect(resp, 201)
        assert resp.header("Location") == "/v1/sessions/" + resp.json["id"], resp.headers
        return resp.json

    def execute(self, sid, code, **fields) -> dict:
        fields["code"] = code
        resp = self.post("/v1/sessions/%s/execute" % sid, json=fields, timeout=fields.get("timeout_seconds", 60) + 120)
        expect(resp, 200)
        return resp.json

    def run_ok(self, sid, code, **fields) -> dict:
        """Execute and require status ok (the failure message shows the traceback)."""
        ex = self.execute(sid, code, **fields)
        assert ex["status"] == "ok", "execution failed: %s\n%s%s" % (
            ex["status"], "".join((ex.get("error") or {}).get("traceback") or []), ex.get("stderr", "")[-2000:])
        return ex

    def value(self, sid, expr, **fields):
        """The text/plain form of the value of `expr` (a trailing expression)."""
        ex = self.run_ok(sid, expr, **fields)
        assert ex["results"], "no result for %r: %r" % (expr, ex)
        return ex["results"][-1]["text/plain"]

    def get_session(self, sid) -> dict:
        return expect(self.get("/v1/sessions/" + sid), 200).json


def file_target(sid: str, path: str, query: str = "") -> str:
    """The URL of a workspace path; `path` is sent as given apart from escaping unsafe bytes."""
    return "/v1/sessions/%s/files/%s%s" % (sid, urllib.parse.quote(path, safe="/%"), query)


def _await_continue(sock, wait: float = 5.0) -> bool:
    """After headers with Expect: 100-continue: True to send the body, False if the daemon
    already gave its final answer (which is left unread for http.client)."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True  # no interim answer: send the body anyway (RFC 9110 10.1.1)
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return True
        head = sock.recv(4096, socket.MSG_PEEK)
        if not head:
            return False
        if not re.match(rb"HTTP/1\.[01] 100", head):
            if len(head) < 12 and b"\r\n" not in head:
                time.sleep(0.01)
                continue
            return False
        end = head.find(b"\r\n\r\n")
        if end < 0:
            time.sleep(0.01)
            continue
        sock.recv(end + 4)
        return True


def raw_exchange(host: str, port: int, data: bytes, wait: float = 10.0) -> bytes:
    """Send raw bytes, half-close, and return whatever comes back (for malformed HTTP)."""
    with socket.create_connection((host, port), timeout=wait) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return out
