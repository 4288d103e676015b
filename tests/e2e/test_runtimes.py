"""Runtimes (docs/runtimes.md): `airlock runtimes build` turns a config into an immutable,
versioned, read-only tree that sessions of an interpreter mount; GET /v1/runtimes lists them.
Hermetic: pip reads a PEP 503 index this test serves on 127.0.0.1 (hand-made wheels of a
package the default runtime lacks), npm a tarball from the same server. Real daemon, real
builds through the CLI (as root), real sandboxes."""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import subprocess
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
from airlock_api import expect
from conftest import AIRLOCK

PY_PKG = "airlock-probe"  # the distribution; its import name is airlock_probe
JS_PKG = "airlock-probe-js"


def _wheel(version: str) -> tuple[str, bytes]:
    """A pure-Python wheel of airlock-probe: airlock_probe.VALUE is the version."""
    dist = "airlock_probe-%s" % version
    files = {
        "airlock_probe/__init__.py": "VALUE = %r\n" % version,
        dist + ".dist-info/METADATA": "Metadata-Version: 2.1\nName: airlock-probe\nVersion: %s\n" % version,
        dist + ".dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: airlock-tests\nRoot-Is-Purelib: true\n"
                                    "Tag: py3-none-any\n",
        dist + ".dist-info/top_level.txt": "airlock_probe\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(text.encode())))
    record.append(dist + ".dist-info/RECORD,,")
    files[dist + ".dist-info/RECORD"] = "\n".join(record) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return "%s-py3-none-any.whl" % dist, buf.getvalue()


def _npm_tarball() -> bytes:
    """An npm package tarball (the layout `npm pack` makes): package/{package.json,index.js}."""
    files = {
        "package/package.json": json.dumps({"name": JS_PKG, "version": "1.0.0", "main": "index.js"}),
        "package/index.js": "module.exports = { probe: () => 'js-probe-ok' };\n",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Index:
    """PEP 503 simple index + files on 127.0.0.1; `requests` records what was asked."""

    def __init__(self):
        self.files = dict([_wheel("1.0"), _wheel("2.0")])
        self.files[JS_PKG + "-1.0.0.tgz"] = _npm_tarball()
        self.requests: list[str] = []
        files, requests = self.files, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                if self.path.rstrip("/") == "/simple/" + PY_PKG:
                    links = "".join('<a href="/files/%s">%s</a>\n' % (n, n) for n in files if n.endswith(".whl"))
                    body, ctype = ("<html><body>%s</body></html>" % links).encode(), "text/html"
                elif self.path.startswith("/files/") and self.path[7:] in files:
                    body, ctype = files[self.path[7:]], "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def build(daemon, name: str, config: dict, tmp: Path) -> subprocess.CompletedProcess:
    cfg = tmp / ("%s.json" % name)
    cfg.write_text(json.dumps(config))
    return subprocess.run([str(AIRLOCK), "runtimes", "build", name, "--from", str(cfg), "--data-dir",
                           str(daemon.data_dir)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def index():
    i = Index()
    yield i
    i.close()


@pytest.fixture(scope="module")
def probe(daemon, index, tmp_path_factory):
    """Runtime `probe`, v1: airlock-probe 1.0 from the local index, an npm tarball, a variable."""
    r = build(daemon, "probe", {"language": "python3", "packages": [PY_PKG + "==1.0"],
                                "npm_packages": [index.url + "/files/" + JS_PKG + "-1.0.0.tgz"],
                                "environment": {"CUSTOM_VAR": "value"}, "index_url": index.url + "/simple/"},
              tmp_path_factory.mktemp("probe"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "probe@v1\n" and "airlock-build: pip:" in r.stderr  # the log streams to stderr
    return r


@pytest.fixture
def interp(client):
    made = []

    def make(**fields):
        body = expect(client.post("/v1/interpreters", json=fields), 201).json
        made.append(body["name"])
        return body
    yield make
    for name in made:
        client.delete("/v1/interpreters/" + name)


def test_a_built_runtime_is_usable_and_the_default_is_untouched(client, sessions, interp, probe, daemon):
    interp(name="probe-user", runtime="probe")
    s = sessions.new(interpreter="probe-user")
    assert s["runtime"] == "probe@v1"
    out = client.run_ok(s["id"], "import airlock_probe, os, sys\n"
                        "print(airlock_probe.VALUE, os.environ['CUSTOM_VAR'], sys.prefix)")["stdout"]
    assert out == "1.0 value /opt/airlock/runtimes/probe/v1/venv\n"
    # Debian's stack is still there under the venv (--system-site-packages).
    assert client.run_ok(s["id"], "import numpy, pandas; print('ok')")["stdout"] == "ok\n"
    js = client.run_ok(s["id"], "console.log(require('%s').probe())" % JS_PKG, language="javascript")
    assert js["stdout"] == "js-probe-ok\n"
    # Control: a default session has none of it.
    d = sessions.new()
    assert d["runtime"] == "default"
    err = client.execute(d["id"], "import airlock_probe")["error"]
    assert err["name"] == "ModuleNotFoundError", err
    assert client.run_ok(d["id"], "import os; print(os.environ.get('CUSTOM_VAR'))")["stdout"] == "None\n"
    assert client.execute(d["id"], "require('%s')" % JS_PKG, language="javascript")["error"] is not None
    # The tree on the host: root's and read-only, with its manifest, log and READY marker.
    v1 = Path(daemon.data_dir) / "runtimes" / "probe" / "v1"
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert manifest["status"] == "ready" and manifest["import_names"] == {"airlock_probe": "airlock-probe"}
    assert manifest["installed"] == ["airlock-probe==1.0"] and manifest["npm_installed"] == {JS_PKG: "1.0.0"}
    assert (v1 / "READY").is_file() and "Successfully installed airlock-probe-1.0" in (v1 / "build.log").read_text()
    for p in [v1 / "root", v1 / "root" / "venv" / "bin" / "python3", *(v1 / "root" / "venv").rglob("*.py")]:
        st = p.lstat()
        assert p.is_symlink() or (st.st_uid == 0 and not st.st_mode & 0o222), (p, oct(st.st_mode))


def test_sessions_cannot_change_a_runtime_and_a_rebuild_is_a_new_version(client, sessions, interp, probe, daemon,
                                                                         index, tmp_path):
    interp(name="probe-pinned", runtime="probe@v1")
    interp(name="probe-latest", runtime="probe")
    old = sessions.new(interpreter="probe-pinned")
    site = "/opt/airlock/runtimes/probe/v1/venv/lib/python3.11/site-packages/airlock_probe/__init__.py"
    # Hostile: rewrite the package, plant a file, chmod. Control: the workspace is writable.
    probe_code = ("import os, errno\nres = []\n"
                  "for f in [lambda: open(%r, 'a'), lambda: open('/opt/airlock/runtimes/probe/v1/x', 'w'),"
                  " lambda: os.chmod(%r, 0o777)]:\n"
                  "    try:\n        f(); res.append('WROTE')\n"
                  "    except OSError as e:\n        res.append(errno.errorcode[e.errno])\n"
                  "open('/workspace/control', 'w').write('x'); res.append('workspace-ok')\nprint(res)") % (site, site)
    out = client.run_ok(old["id"], probe_code)["stdout"]
    assert "WROTE" not in out and "EROFS" in out and "workspace-ok" in out, out
    # The host's data directory is nowhere in the sandbox.
    out = client.run_ok(old["id"], "import os; print(os.path.exists(%r))" % str(daemon.data_dir))["stdout"]
    assert out == "False\n"
    # A rebuild with airlock-probe 2.0: v2, and NAME now means v2 for new sessions only.
    r = build(daemon, "probe", {"packages": [PY_PKG + "==2.0"], "index_url": index.url + "/simple/"}, tmp_path)
    assert r.returncode == 0 and r.stdout == "probe@v2\n", r.stderr
    new = sessions.new(interpreter="probe-latest")
    pinned = sessions.new(interpreter="probe-pinned")
    assert (new["runtime"], pinned["runtime"]) == ("probe@v2", "probe@v1")
    assert client.run_ok(new["id"], "import airlock_probe; print(airlock_probe.VALUE)")["stdout"] == "2.0\n"
    for s in (old, pinned):  # the running v1 session and a new pinned one still see 1.0
        assert client.run_ok(s["id"], "import airlock_probe; print(airlock_probe.VALUE)")["stdout"] == "1.0\n"
    rt = expect(client.get("/v1/runtimes/probe"), 200).json
    assert rt["current_version"] == "v2" and [v["version"] for v in rt["versions"]] == ["v1", "v2"]


def test_a_failing_build_names_the_package_and_never_becomes_current(client, daemon, index, tmp_path, interp):
    r = build(daemon, "broken", {"packages": [PY_PKG, "airlock-no-such-package>=1"],
                                 "index_url": index.url + "/simple/"}, tmp_path)
    assert r.returncode == 1, r
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("airlock: runtime broken build failed: package 'airlock-no-such-package' was not found"), \
        last
    assert "/simple/airlock-no-such-package/" in index.requests  # pip really asked our index
    rt = expect(client.get("/v1/runtimes/broken"), 200).json
    assert rt["current_version"] is None and len(rt["versions"]) == 1
    v = rt["versions"][0]
    assert v["status"] == "failed" and v["error"]["package"] == "airlock-no-such-package", v
    v1 = Path(daemon.data_dir) / "runtimes" / "broken" / "v1"
    assert (v1 / "build.log").is_file() and not (v1 / "READY").exists()
    for runtime in ("broken", "broken@v1"):
        err = expect(client.post("/v1/interpreters", json={"name": "uses-broken", "runtime": runtime}), 400).json
        assert err["error"]["field"] == "runtime" and "broken" in err["error"]["message"], err
    # npm's own 404 names its package too.
    r = build(daemon, "broken-js", {"npm_packages": [index.url + "/files/airlock-missing-js-1.0.0.tgz"]}, tmp_path)
    assert r.returncode == 1 and "failed" in r.stderr.strip().splitlines()[-1], r.stderr


@pytest.mark.parametrize("config, field, words", [
    ({"packages": ["x"], "colour": "red"}, "colour", "unknown field 'colour'"),
    ({"language": "python3.99", "packages": ["x"]}, "language", "this host's python is python3."),
    ({"language": "ruby", "packages": ["x"]}, "language", "\"python3\" or \"python3.X\""),
    ({"packages": ["--index-url=http://evil"]}, "packages[0]", "a pip requirement"),
    ({"environment": {"LD_PRELOAD": "/x.so"}}, "environment.LD_PRELOAD", "set by Airlock"),
    ({"environment": {"OK": 5}}, "environment.OK", "a string"),
    ({"packages": ["x"], "index_url": "ftp://x"}, "index_url", "an http:// or https:// URL"),
    ({"language": "python3"}, "packages", "adds nothing"),
])
def test_config_errors_name_the_field(daemon, tmp_path, config, field, words):
    r = build(daemon, "badcfg", config, tmp_path)
    assert r.returncode == 2 and field in r.stderr and words in r.stderr, r.stderr
    assert not (Path(daemon.data_dir) / "runtimes" / "badcfg").exists()  # nothing was built


def test_apt_packages_must_be_on_the_host(daemon, tmp_path):
    r = build(daemon, "needs-apt", {"apt": ["python3", "airlock-no-such-deb"]}, tmp_path)
    assert r.returncode == 1, r
    assert "apt: not installed on this host: airlock-no-such-deb" in r.stderr
    assert "apt-get install airlock-no-such-deb" in r.stderr
    # Control: installed ones pass (this host has python3) and the build goes on.
    r = build(daemon, "has-apt", {"apt": ["python3"], "environment": {"ONLY": "env"}}, tmp_path)
    assert r.returncode == 0 and r.stdout == "has-apt@v1\n", r.stderr


def test_runtimes_api_and_cli(client, anon, probe, daemon):
    user = client.with_key(expect(client.post("/v1/keys", json={"tenant": "rt-reader"}), 201).json["token"])
    lst = expect(user.get("/v1/runtimes"), 200).json["runtimes"]
    assert lst[0]["name"] == "default" and lst[0]["builtin"] is True and lst[0]["current_version"] is None
    assert {m["module"] for m in lst[0]["modules"]} >= {"numpy", "pandas", "matplotlib"}
    probe_rt = next(r for r in lst if r["name"] == "probe")
    v1 = probe_rt["versions"][0]
    assert (v1["version"], v1["status"], v1["packages"], v1["environment"]) == \
        ("v1", "ready", [PY_PKG + "==1.0"], ["CUSTOM_VAR"])
    assert "value" not in json.dumps(probe_rt)  # variable names only, never values
    assert expect(user.get("/v1/runtimes/default"), 200).json["name"] == "default"
    expect(user.get("/v1/runtimes/no-such"), 404, "runtime_not_found")
    err = expect(user.get("/v1/runtimes/Bad_Name"), 400).json["error"]
    assert err["field"] == "name"
    expect(anon.get("/v1/runtimes"), 401)
    expect(anon.get("/v1/runtimes/default"), 401)
    expect(user.post("/v1/runtimes", json={}), 405)
    env = {"AIRLOCK_URL": "http://127.0.0.1:%d" % daemon.port, "AIRLOCK_API_KEY": daemon.env_key, "PATH": "/usr/bin"}
    out = subprocess.run([str(AIRLOCK), "runtimes", "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "probe" in out.stdout and "default" in out.stdout, out
    out = subprocess.run([str(AIRLOCK), "runtimes", "get", "probe"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "v1" in out.stdout and "ready" in out.stdout, out


def test_interpreter_runtime_resolution(client, interp, probe):
    assert interp(name="rt-default", runtime="default")["runtime"] == "default"
    assert interp(name="rt-pinned", runtime="probe@v1")["runtime"] == "probe@v1"
    for runtime, words in [("nosuch", "no runtime 'nosuch'"), ("probe@v99", "has no version v99"),
                           ("Probe", "lowercase"), ("probe@1", "NAME@vN"), ("probe@v01", "NAME@vN")]:
        err = expect(client.post("/v1/interpreters", json={"name": "rt-bad", "runtime": runtime}), 400).json["error"]
        assert err["field"] == "runtime" and words in err["message"], (runtime, err)
    err = expect(client.patch("/v1/interpreters/rt-default", json={"runtime": "nosuch"}), 400).json["error"]
    assert err["field"] == "runtime"


def test_import_errors_name_the_runtimes_that_have_the_package(client, sessions, probe):
    sid = sessions()
    err = client.execute(sid, "import airlock_probe.sub")["error"]
    assert err["name"] == "ModuleNotFoundError"
    assert "(airlock_probe is in runtime probe@v" in err["value"] and '"runtime": "probe"' in err["value"], err
    js = client.execute(sid, "require('%s')" % JS_PKG, language="javascript")["error"]
    assert "(%s is in runtime probe@v1" % JS_PKG in js["value"], js
    # Control: a module no runtime has gets pip's plain words, no hint.
    err = client.execute(sid, "import airlock_nowhere_module")["error"]
    assert err["value"] == "No module named 'airlock_nowhere_module'", err


# What the issue lists as commonly imported, with the Debian package that provides it.
DEFAULT_STACK = {
    "numpy": "python3-numpy", "pandas": "python3-pandas", "scipy": "python3-scipy",
    "statsmodels": "python3-statsmodels", "sympy": "python3-sympy", "matplotlib": "python3-matplotlib",
    "seaborn": "python3-seaborn", "sklearn": "python3-sklearn", "networkx": "python3-networkx",
    "requests": "python3-requests", "bs4": "python3-bs4", "lxml": "python3-lxml", "openpyxl": "python3-openpyxl",
    "xlrd": "python3-xlrd", "pypdf": "python3-pypdf", "docx": "python3-docx", "PIL": "python3-pil",
    "yaml": "python3-yaml",
}


def test_the_default_runtime_has_what_agents_commonly_import(client, sid):
    code = ("import importlib, json\nmissing = {}\nfor m in %r:\n    try:\n        importlib.import_module(m)\n"
            "    except Exception as e:\n        missing[m] = repr(e)\nprint(json.dumps(missing))") % sorted(DEFAULT_STACK)
    missing = json.loads(client.run_ok(sid, code, timeout_seconds=120)["stdout"])
    assert not missing, "the default runtime lacks: " + ", ".join(
        "%s (apt-get install %s: %s)" % (m, DEFAULT_STACK[m], e) for m, e in missing.items())
    # Node with its built-ins.
    js = client.run_ok(sid, "for (const m of ['fs', 'path', 'crypto', 'zlib', 'util', 'events', 'stream', 'url',"
                       " 'os', 'child_process']) require(m); console.log('builtins-ok')", language="javascript")
    assert js["stdout"] == "builtins-ok\n"
    # The API says the same of this host.
    d = expect(client.get("/v1/runtimes/default"), 200).json
    assert d["missing_modules"] == [] and {m["module"] for m in d["modules"]} == set(DEFAULT_STACK)


def test_rm_refuses_while_used_then_removes(client, sessions, daemon, tmp_path):
    r = build(daemon, "gone", {"environment": {"GONE": "1"}}, tmp_path)
    assert r.returncode == 0 and r.stdout == "gone@v1\n", r.stderr

    def rm(spec):
        return subprocess.run([str(AIRLOCK), "runtimes", "rm", spec, "--data-dir", str(daemon.data_dir)],
                              capture_output=True, text=True, timeout=120)
    expect(client.post("/v1/interpreters", json={"name": "uses-gone", "runtime": "gone@v1"}), 201)
    s = sessions.new(interpreter="uses-gone")
    out = rm("gone@v1")
    assert out.returncode == 1 and "interpreter default/uses-gone (gone@v1)" in out.stderr, out
    expect(client.delete("/v1/interpreters/uses-gone"), 409, "interpreter_in_use")  # the session still runs
    expect(client.delete("/v1/sessions/" + s["id"]), 200)
    expect(client.delete("/v1/interpreters/uses-gone"), 204)
    # A live session alone also holds it.
    expect(client.post("/v1/interpreters", json={"name": "uses-gone2", "runtime": "gone"}), 201)
    s2 = sessions.new(interpreter="uses-gone2")
    expect(client.delete("/v1/interpreters/uses-gone2"), 409, "interpreter_in_use")
    out = rm("gone")
    assert out.returncode == 1 and "interpreter default/uses-gone2 (gone)" in out.stderr and \
        "session %s (gone@v1)" % s2["id"] in out.stderr, out
    expect(client.delete("/v1/sessions/" + s2["id"]), 200)
    expect(client.delete("/v1/interpreters/uses-gone2"), 204)
    out = rm("gone")
    assert out.returncode == 0 and out.stdout == "removed gone@v1\n", out
    expect(client.get("/v1/runtimes/gone"), 404, "runtime_not_found")
    assert not (Path(daemon.data_dir) / "runtimes" / "gone").exists()
    assert rm("gone").returncode == 1  # nothing left to remove


def test_in_session_installs_work_on_a_built_runtime(client, sessions, interp, daemon, index, tmp_path):
    """A built runtime's venv is read-only: `pip install` in its session goes to the
    workspace like on the default runtime, and the package is importable next cell."""
    r = build(daemon, "bare", {"language": "python3", "environment": {"X": "1"}}, tmp_path)
    assert r.returncode == 0, r.stderr
    port = index.url.rsplit(":", 1)[1]
    interp(name="bare-net", runtime="bare", network={"mode": "allowlist", "allowlist": ["127.0.0.1:" + port]})
    sid = sessions(interpreter="bare-net")
    ex = client.execute(sid, "import subprocess, sys\n"
                        "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--index-url', %r, %r],"
                        " capture_output=True, text=True)\nprint(r.returncode); print(r.stdout[-1500:]);"
                        " print(r.stderr[-1500:])" % (index.url + "/simple/", PY_PKG + "==2.0"), timeout_seconds=120)
    assert ex["stdout"].startswith("0\n"), ex["stdout"]
    assert client.value(sid, "import airlock_probe; airlock_probe.VALUE") == "'2.0'"
    assert client.value(sid, "airlock_probe.__file__.startswith('/workspace/')") == "True"
