"""HTTPS: `airlock serve` with tls_cert_file and tls_key_file answers real TLS clients
(Python's ssl module, and the CLI through libcurl) and nothing in plain HTTP; a client
that does not trust the certificate is refused by its own verification; bad settings stop
the service with a message. A daemon of its own on a random loopback port."""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import AIRLOCK, HOST, ExtraDaemon, _free_port, require


@pytest.fixture(scope="module")
def pki():
    require(shutil.which("openssl") is not None, "the openssl command is not installed (Debian: openssl)")
    d = Path(tempfile.mkdtemp(prefix="airlock-tls-"))
    os.chmod(d, 0o755)
    for name, cn in (("server", "airlock-test"), ("other", "someone-else")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(d / (name + ".key")), "-out", str(d / (name + ".crt")), "-days", "2",
                        "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.chmod(d / (name + ".key"), 0o600)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def context(cafile) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@pytest.fixture(scope="module")
def tls_daemon(pki):
    def ready(port):
        conn = http.client.HTTPSConnection(HOST, port, context=context(pki / "server.crt"), timeout=5)
        try:
            conn.request("GET", "/readyz")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    with ExtraDaemon({"AIRLOCK_TLS_CERT_FILE": str(pki / "server.crt"),
                      "AIRLOCK_TLS_KEY_FILE": str(pki / "server.key")}, ready) as d:
        yield d.port, d.key


def call(port, ctx, method, path, body=None, key=None):
    conn = http.client.HTTPSConnection(HOST, port, context=ctx, timeout=60)
    headers = {"Authorization": "Bearer " + key} if key else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    version = conn.sock.version() if conn.sock else None
    conn.close()
    return resp.status, json.loads(data) if data else None, version


def test_https_serves_the_api(tls_daemon, pki):
    port, key = tls_daemon
    ctx = context(pki / "server.crt")
    status, body, version = call(port, ctx, "GET", "/healthz")
    assert (status, body) == (200, {"status": "ok"}) and version in ("TLSv1.2", "TLSv1.3")
    status, session, _ = call(port, ctx, "POST", "/v1/sessions", {}, key)
    assert status == 201, session
    status, ex, _ = call(port, ctx, "POST", "/v1/sessions/%s/execute" % session["id"], {"code": "6 * 7"}, key)
    assert status == 200 and ex["results"] == [{"text/plain": "42"}], ex
    assert call(port, ctx, "DELETE", "/v1/sessions/" + session["id"], None, key)[0] == 200


def test_plain_http_and_untrusted_clients_get_nothing(tls_daemon, pki):
    port, _ = tls_daemon
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", "/healthz")
        conn.getresponse().read()
    conn.close()
    # The control: a client trusting another certificate refuses this server.
    with pytest.raises(ssl.SSLCertVerificationError):
        call(port, context(pki / "other.crt"), "GET", "/healthz")


def test_the_cli_over_https(tls_daemon, pki):
    port, key = tls_daemon
    env = dict(os.environ, AIRLOCK_URL="https://%s:%d" % (HOST, port), AIRLOCK_API_KEY=key)
    p = subprocess.run([str(AIRLOCK), "sessions", "ls"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 1 and b"certificate" in p.stderr, p.stderr  # not trusted by the system
    env["AIRLOCK_CA_CERT"] = str(pki / "server.crt")
    p = subprocess.run([str(AIRLOCK), "sessions", "ls"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith(b"ID"), p.stderr


@pytest.mark.parametrize("cert, key, message", [
    ("server.crt", None, b"HTTPS needs both tls_cert_file and tls_key_file"),
    ("missing.crt", "server.key", b"cannot open"),
    ("server.key", "server.key", b"do not load or do not match"),
    ("server.key", "server.crt", b"do not load or do not match"),
    ("server.crt", "other.key", b"do not match"),
])
def test_bad_tls_settings_stop_the_service(pki, cert, key, message):
    env = dict(os.environ, AIRLOCK_TLS_CERT_FILE=str(pki / cert))
    if key:
        env["AIRLOCK_TLS_KEY_FILE"] = str(pki / key)
    p = subprocess.run([str(AIRLOCK), "serve", "--listen", "%s:%d" % (HOST, _free_port()), "--data-dir",
                        str(pki / ("bad-" + cert + str(key))), "--pool-size", "0"], env=env, capture_output=True,
                       timeout=120)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr, p.stderr
