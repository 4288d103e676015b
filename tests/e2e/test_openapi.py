"""The OpenAPI document itself: valid OpenAPI 3.1, consistent, and its examples valid.
These tests need no daemon (and no root)."""
import airlock_api as api
import pytest
from conftest import _importable, require

JSON = "application/json"


@pytest.fixture(scope="module")
def spec(checker):
    return checker.spec


def test_document_is_valid_openapi_3_1(spec):
    require(_importable("openapi_spec_validator"),
            "openapi-spec-validator is not installed (pip install openapi-spec-validator)")
    from openapi_spec_validator import validate

    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator as cls
        validate(spec, cls=cls)
    except ImportError:  # older releases pick the version from the document
        validate(spec)
    assert spec["openapi"].startswith("3.1.")


def test_every_operation_is_complete(checker, spec):
    problems = []
    ids = set()
    for template, method, op in checker.operations():
        where = "%s %s" % (method, template)
        oid = op.get("operationId")
        if not oid or oid in ids:
            problems.append("%s: missing or duplicate operationId %r" % (where, oid))
        ids.add(oid)
        responses = op["responses"]
        if "default" in responses:
            problems.append("%s: a `default` response hides undeclared statuses" % where)
        codes = set(responses)
        if "500" not in codes:
            problems.append("%s: no 500" % where)
        # /mcp takes the same keys as /v1 (its MCP-layer errors are JSON-RPC's, below).
        keyed = template.startswith("/v1/") or template == "/mcp"
        secured = op.get("security", spec.get("security"))
        if keyed and (not secured or "401" not in codes):
            problems.append("%s: /v1 routes need bearer auth and a 401" % where)
        if not keyed and op.get("security") != [] and {} not in (op.get("security") or []):
            problems.append("%s: probes must not need auth (security must allow {})" % where)
        if "{id}" in template and "404" not in codes:
            problems.append("%s: a session route needs a 404" % where)
        body = op.get("requestBody", {}).get("content", {})
        if JSON in body and not {"400", "413", "415"} <= codes:
            problems.append("%s: a JSON body needs 400, 413 and 415" % where)
        if "/files" in template and "409" not in codes:
            problems.append("%s: a workspace route needs 409 session_ended" % where)
        for status, resp in responses.items():
            resp = checker.deref(resp)
            if not resp.get("description"):
                problems.append("%s %s: no description" % (where, status))
            if int(status) >= 400:
                content = resp.get("content") or {}
                if list(content) != [JSON]:
                    problems.append("%s %s: errors are JSON only" % (where, status))
                elif content[JSON]["schema"].get("$ref") not in (
                        "#/components/schemas/Error",
                        "#/components/schemas/JsonRpcError" if template == "/mcp" else None):
                    problems.append("%s %s: errors use the Error schema" % (where, status))
    assert not problems, "\n".join(problems)


def _examples(node, pointer=""):
    """(pointer of a media type object, example value) for every example in the document."""
    if isinstance(node, dict):
        if "schema" in node and ("example" in node or "examples" in node):
            if "example" in node:
                yield pointer, "example", node["example"]
            for name, ex in (node.get("examples") or {}).items():
                yield pointer, name, ex["value"]
        for key, value in node.items():
            yield from _examples(value, pointer + "/" + api.pointer_escape(str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples(value, "%s/%d" % (pointer, i))


def test_examples_match_their_schemas(checker, spec):
    seen = 0
    problems = []
    for pointer, name, value in _examples(spec):
        seen += 1
        errors = checker.validate(pointer + "/schema", value)
        if errors:
            problems.append("%s (%s): %s" % (pointer, name, "; ".join(errors)))
    assert seen >= 15, "the document should show an example for each body (found %d)" % seen
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("instance, ok", [
    ({"error": {"code": "invalid_request", "message": "bad", "field": "limits.memory_mb"}}, True),
    ({"error": {"code": "invalid_request", "message": "bad"}, "trace": "x"}, False),  # undeclared field
    ({"error": {"code": "invalid_request", "message": "line 1\nline 2"}}, False),  # a stack trace
    ({"error": {"code": "Invalid", "message": "bad"}}, False),
])
def test_the_checker_is_strict(checker, instance, ok):
    """Response validation closes objects: an undeclared field is a failure."""
    errors = checker.validate("/components/schemas/Error", instance)
    assert (not errors) == ok, errors


def test_the_checker_applies_conditionals(checker):
    ex = {"execution_id": "exec_" + "a" * 26, "status": "killed", "stdout": "", "stderr": "", "results": [],
          "error": None, "duration_ms": 1.0, "execution_count": 1, "state_kept": False, "killed_reason": None,
          "cpu_seconds": 0.5, "peak_memory_bytes": None}
    assert checker.validate("/components/schemas/Execution", ex), "killed needs a killed_reason"
    ex["killed_reason"] = "oom"
    assert not checker.validate("/components/schemas/Execution", ex)
    ex.update(status="ok")
    assert checker.validate("/components/schemas/Execution", ex), "ok has no killed_reason"


def test_route_matching(checker):
    assert checker.match("/v1/sessions/sess_x/files/a/b/c.txt")[0] == "/v1/sessions/{id}/files/{path}"
    assert checker.match("/v1/sessions/sess_x/files")[0] == "/v1/sessions/{id}/files"
    assert checker.match("/v1/sessions/sess_x")[0] == "/v1/sessions/{id}"
    assert checker.match("/v1/sessions/sess_x/nope")[0] is None
