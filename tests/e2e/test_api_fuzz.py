"""Property-based fuzzing of the REST API from api/openapi.yaml (Schemathesis), for a bounded
time, against the real daemon: no 5xx, no status, content type or body the document does not
declare, no crash (the fixture also fails on a dead daemon or a sanitizer report).

It runs as an admin of a tenant of its own with a small quota, so that what it generates
(keys, quotas, interpreters, a few hundred sessions) can't reach other tenants or the
operator's settings, and at most a few sandboxes are alive at once. Revoking keys is left
out (the fuzzer would revoke its own key and test nothing but 401 afterwards), and so is
/mcp (JSON-RPC, tested in test_mcp.py).

AIRLOCK_API_FUZZ_SECONDS sets the budget (default 60); the seed is fixed, so a failure
reproduces with the printed `st` command.
"""
from __future__ import annotations

import os
import subprocess
import sys

from airlock_api import expect
from conftest import HOST, ROOT, require

SECONDS = int(os.environ.get("AIRLOCK_API_FUZZ_SECONDS", "60"))
SEED = "20261126"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_server_error_or_undeclared_answer(client, daemon, tmp_path):
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        require(False, "schemathesis is not installed (pip install -r tests/requirements.txt)")
    expect(client.put("/v1/tenants/fuzz", json={"max_sessions": 4, "max_memory_mb": 4096}), 200)
    key = expect(client.post("/v1/keys", json={"tenant": "fuzz", "name": "api fuzzing",
                                               "scopes": ["admin", "sessions"]}), 201).json
    fuzz = client.with_key(key["token"])
    argv = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
            "run", str(ROOT / "api" / "openapi.yaml"), "--url", "http://%s:%d" % (HOST, daemon.port),
            "--header", "Authorization: Bearer " + key["token"], "--checks", CHECKS,
            "--max-time", str(SECONDS), "--seed", SEED, "--workers", "1", "--request-timeout", "60",
            "--exclude-path-regex", "^/mcp", "--exclude-operation-id", "revokeKey",
            "--no-color", "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    try:
        p = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 600)
    finally:
        for s in expect(fuzz.get("/v1/sessions"), 200).json["sessions"]:
            fuzz.delete("/v1/sessions/" + s["id"], timeout=60)
        client.delete("/v1/keys/" + key["id"])
    out = p.stdout + p.stderr
    assert "API Operations:" in out and "Tested:" in out, "schemathesis did not run:\n" + out[-4000:]
    assert p.returncode == 0, "schemathesis found problems (reproduce with the seed %s):\n%s" % (SEED, out[-12000:])
