"""The TypeScript SDK (sdk/typescript) against this suite's daemon: `tsc` must type-check
it cleanly, and its own node:test suite (`npm test`: build, then every compiled test) must
pass, talking to the real daemon and real sandboxes through AIRLOCK_URL and
AIRLOCK_API_KEY. The SDK's tests use a tenant of their own (an admin key of tenant
`sdk-ts`), so that nothing they do shows in other tests' figures.

Needs Node.js 20+ and the SDK's dev dependencies (`npm ci --prefix sdk/typescript`); under
CI=true their absence fails, never skips."""
import os
import shutil
import subprocess

import pytest
from airlock_api import expect
from conftest import HOST, ROOT, require

SDK = ROOT / "sdk" / "typescript"
TSC = SDK / "node_modules" / "typescript" / "bin" / "tsc"


@pytest.fixture(scope="session")
def node_deps() -> None:
    """Checked before the daemon starts: without Node.js and the dev dependencies nothing here can run."""
    require(shutil.which("node") is not None, "Node.js is not installed (node, 20 or later)")
    require(shutil.which("npm") is not None, "npm is not installed")
    require(TSC.exists() and (SDK / "node_modules" / "@types" / "node").is_dir(),
            "the TypeScript SDK's dev dependencies are not installed (npm ci --prefix sdk/typescript)")


def run(argv, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=SDK, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def output(p: subprocess.CompletedProcess, tail: int = 30000) -> str:
    text = (p.stdout + b"\n" + p.stderr).decode("utf-8", "replace")
    return text[-tail:]


def test_typescript_sdk_typechecks(node_deps):
    """`tsc --noEmit` (strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes) is clean."""
    p = run(["node", str(TSC), "--noEmit", "-p", str(SDK)], timeout=300)
    assert p.returncode == 0, "tsc --noEmit -p sdk/typescript:\n" + output(p)


@pytest.fixture(scope="module")
def sdk_key(client) -> str:
    created = expect(client.post("/v1/keys", json={"tenant": "sdk-ts", "name": "TypeScript SDK tests",
                                                   "scopes": ["sessions", "admin"]}), 201).json
    yield created["token"]
    expect(client.delete("/v1/keys/" + created["id"]), 200)


def test_typescript_sdk_suite(node_deps, daemon, client, sdk_key):
    """`npm test`: the SDK's every method against the real daemon (sessions, runCode with
    streaming, results and images, errors as data, timeouts, languages, contexts, commands
    and tasks, files, API errors, retries, interpreters, keys, secrets, tenants)."""
    env = dict(os.environ, AIRLOCK_URL="http://%s:%d" % (HOST, daemon.port), AIRLOCK_API_KEY=sdk_key,
               AIRLOCK_OPERATOR_KEY=daemon.key,
               NODE_NO_WARNINGS="1", NPM_CONFIG_UPDATE_NOTIFIER="false", NO_COLOR="1")
    p = run(["npm", "test", "--prefix", str(SDK)], env=env, timeout=1500)
    out = output(p)
    assert p.returncode == 0, "npm test --prefix sdk/typescript failed:\n" + out
    # The node:test summary: tests really ran, none failed or was skipped.
    lines = {line.split()[1]: line.split()[2] for line in out.splitlines()
             if line.startswith("# ") and len(line.split()) == 3}
    assert int(lines.get("pass", "0")) > 0 and lines.get("fail") == "0" and lines.get("skipped") == "0", out
    # No session of the SDK's tests is left running.
    left = expect(client.with_key(sdk_key).get("/v1/sessions"), 200).json["sessions"]
    assert left == [], "sessions left behind by the SDK's tests: %s" % [s["id"] for s in left]

