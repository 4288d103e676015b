"""The Node kernel (runners/node/airlock_kernel.js) on its own: started the way the Python
runner starts it, every frame it sends checked against api/runner-protocol.schema.json.

JavaScript semantics a notebook user expects (declarations that persist and may be declared
again, top-level await, imports, the last expression's value), errors on the user's lines,
TypeScript transpiled with its own positions, interrupts, display(), result limits, and
refusals of bad frames."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import runner_harness as h

NODE = shutil.which("node") or "/usr/bin/node"
BOOT = ("const m={exports:{}};require('vm').compileFunction("
        "require('fs').readFileSync(+process.argv[1],'utf8'),['require','module','exports'],"
        "{filename:'airlock_kernel.js'})(require,m,m.exports);"
        "require('fs').closeSync(+process.argv[1]);m.exports(+process.argv[2]);")


class Kernel:
    """One kernel process: a socketpair end as its control fd, stdout/stderr on pipes."""

    def __init__(self, schema, cwd, boot=False):
        self.schema = schema
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if boot:  # as the runner does: the source from an inherited fd, the socket's fd given
            source = os.memfd_create("kernel")
            os.write(source, h.KERNEL.read_bytes())
            os.lseek(source, 0, os.SEEK_SET)
            argv = [NODE, "-e", BOOT, str(source), str(theirs.fileno())]
            fds = (source, theirs.fileno())
            preexec = None
        else:  # run as a file, with the socket on fd 3
            argv, fds, source = [NODE, str(h.KERNEL)], (), None
            fd = theirs.fileno()

            def preexec():
                os.dup2(fd, 3)
        self.proc = subprocess.Popen(argv, pass_fds=fds, preexec_fn=preexec, close_fds=not preexec,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=cwd, env=h.BASE_ENV)
        theirs.close()
        if source is not None:
            os.close(source)
        self.buf = b""

    def send(self, frame):
        self.schema.check_request(frame)
        self.sock.sendall(json.dumps(frame).encode() + b"\n")

    def recv(self, timeout=20):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "the kernel closed its socket"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        assert len(line) <= h.MAX_FRAME
        frame = json.loads(line)
        self.schema.check_event(frame)
        return frame

    def request(self, frame, timeout=20):
        self.send(frame)
        got = []
        while True:
            got.append(self.recv(timeout))
            if got[-1]["type"] in h.TERMINAL:
                return got

    def run(self, code, language="javascript", context=None, rid="e", **extra):
        return self.request({"type": "execute", "id": rid, "code": code, "language": language,
                             "context": context or language, **extra})

    def value(self, code, **kw):
        frames = self.run(code, **kw)
        assert frames[-1]["status"] == "ok", frames
        results = [f for f in frames if f["type"] == "result"]
        return results[0]["data"] if results else None

    def close(self):
        if self.proc.stdout.closed:
            return b"", b""
        self.sock.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        out, err = self.proc.stdout.read(), self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return out, err


@pytest.fixture
def kernel(schema, tmp_path):
    h.require(os.path.exists(NODE), "node is not installed (Debian: nodejs)")
    h.require(os.path.exists("/usr/share/nodejs/acorn"), "acorn is not installed (Debian: node-acorn)")
    h.require(os.path.exists("/usr/bin/esbuild"), "esbuild is not installed (Debian: esbuild)")
    k = Kernel(schema, tmp_path)
    hello = k.recv()
    assert hello["type"] == "ready" and hello["protocol"] == 1 and hello["pid"] == k.proc.pid
    assert "node" in hello and "python" not in hello
    yield k
    k.close()


def test_started_like_the_runner_starts_it(schema, tmp_path):
    k = Kernel(schema, tmp_path, boot=True)
    try:
        assert k.recv()["type"] == "ready"
        assert k.value("1 + 1")["application/json"] == 2
        # the kernel's source (a memfd) is closed once read: user code can't reach it
        links = k.value("const fs = require('fs')\nfs.readdirSync('/proc/self/fd').map((fd) => {\n"
                        "  try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch { return '' } })")
        assert links["application/json"] and not any("memfd" in link for link in links["application/json"])
    finally:
        k.close()


def test_declarations_persist_and_may_be_declared_again(kernel):
    kernel.run("let a = 1\nconst b = 2\nvar c = 3\nfunction f() { return a + b + c }\nclass K { get v() { return 7 } }")
    assert kernel.value("[f(), new K().v]")["application/json"] == [6, 7]
    kernel.run("const a = 10\nlet b = 20\nclass K {}")
    assert kernel.value("f()")["application/json"] == 33
    assert kernel.value("{a: 1}")["application/json"] == {"a": 1}, "a lone object literal is a value"
    assert kernel.value("const {p, q: [r]} = {p: 1, q: [2]}; p + r")["application/json"] == 3
    assert kernel.value("let a, b\n[typeof a, typeof b]")["application/json"] == ["undefined", "undefined"]
    kernel.run("var c2 = 1")
    assert kernel.value("await 0; let d, c3 = 1; var c2\n[typeof d, c2]")["application/json"] == ["undefined", 1]


def test_top_level_await_keeps_declarations(kernel):
    data = kernel.value("const x = await Promise.resolve(5);\nlet {y} = {y: await 6}\nasync function g() { return x + y }\n"
                        "for await (const v of [1]) {}\nawait g()")
    assert data["application/json"] == 11
    assert kernel.value("[x, y, typeof g]")["application/json"] == [5, 6, "function"]
    assert kernel.value("await null") == {"text/plain": "null", "application/json": None}


def test_imports_become_requires(kernel):
    data = kernel.value("import fs, { readFileSync as rfs } from 'fs'\nimport * as p from 'path'\nimport 'os'\n"
                        "export const z = p.sep;\n[typeof fs.statSync, typeof rfs, z]")
    assert data["application/json"] == ["function", "function", "/"]


def test_results_are_inspect_text_and_json_for_plain_data(kernel):
    assert kernel.value("'s'") == {"text/plain": "'s'", "application/json": "s"}
    assert kernel.value("[1, {b: null}]") == {"text/plain": "[ 1, { b: null } ]", "application/json": [1, {"b": None}]}
    assert kernel.value("new Set([1])") == {"text/plain": "Set(1) { 1 }"}
    assert kernel.value("({toJSON() { return 'j' }})")["application/json"] == "j"
    assert kernel.value("NaN") == {"text/plain": "NaN"}
    assert kernel.value("undefined") is None and kernel.value("let q = 1") is None
    assert kernel.value("1n") == {"text/plain": "1n"}


def test_display_sends_values_in_order(kernel):
    frames = kernel.run("display(1, 'two')\nconsole.log('x')\n3")
    assert [f["type"] for f in frames] == ["display", "display", "result", "done"]
    assert [f["data"]["text/plain"] for f in frames[:3]] == ["1", "'two'", "3"]


def test_errors_carry_the_users_lines(kernel):
    kernel.run("function deep(n) {\n  if (n === 0) throw new Error('bottom')\n  return deep(n - 1)\n}")
    frames = kernel.run("deep(1)")
    err = frames[0]
    assert err["type"] == "error" and (err["name"], err["value"]) == ("Error", "bottom")
    assert err["traceback"] == ["Error: bottom\n", "    at deep (<cell 1>:2:22)\n",
                                "        if (n === 0) throw new Error('bottom')\n",
                                "    at deep (<cell 1>:3:10)\n", "        return deep(n - 1)\n",
                                "    at <cell 2>:1:1\n", "        deep(1)\n"]
    assert frames[-1]["status"] == "error" and frames[-1]["state_kept"] is True
    err = kernel.run("let ok = 1\n  1 +* 2")[0]
    assert err["traceback"] == ["  <cell 3>, line 2\n", "      1 +* 2\n", "         ^\n",
                                "SyntaxError: Unexpected token\n"]
    err = kernel.run("null.x")[0]
    assert err["name"] == "TypeError" and "<cell 4>:1:6" in "".join(err["traceback"])


def test_typescript_positions_and_type_errors(kernel):
    ts = dict(language="typescript")
    frames = kernel.run("const s: string = 42 as any\ninterface I { a: number }\n\nfunction f(i: I): number {\n"
                        "  throw new TypeError(`a is ${i.a}`)\n}\nf({ a: 1 })", **ts)
    err = frames[0]
    assert (err["name"], err["value"]) == ("TypeError", "a is 1")
    assert "    at f (<cell 1>:5:9)\n" in err["traceback"] and "    at <cell 1>:7:1\n" in err["traceback"], err
    err = kernel.run("let x: number = ;", **ts)[0]
    assert err["name"] == "SyntaxError" and "<cell 2>:1:16:" in "".join(err["traceback"])
    assert kernel.value("const n: number = 'str' as unknown as number; n", **ts)["application/json"] == "str"


def test_contexts_are_separate_and_typed(kernel):
    kernel.run("var who = 'one'", context="c1")
    kernel.run("var who = 'two'", context="c2")
    assert kernel.value("who", context="c1")["application/json"] == "one"
    assert kernel.request({"type": "create_context", "id": "c", "context": "t", "language": "typescript"})[-1]["type"] == "ack"
    refused = kernel.request({"type": "create_context", "id": "c", "context": "t", "language": "typescript"})[-1]
    assert refused["code"] == "context_exists"
    wrong = kernel.run("1", context="t", language="javascript")[-1]
    assert wrong["type"] == "protocol_error" and wrong["code"] == "wrong_language"
    assert kernel.request({"type": "reset_context", "id": "r", "context": "c1"})[-1]["type"] == "ack"
    assert kernel.value("typeof who", context="c1")["application/json"] == "undefined"
    assert kernel.value("who", context="c2")["application/json"] == "two"
    assert kernel.request({"type": "delete_context", "id": "d", "context": "c2"})[-1]["type"] == "ack"
    missing = kernel.request({"type": "delete_context", "id": "d", "context": "c2"})[-1]
    assert missing["code"] == "context_not_found"
    cleared = kernel.run("typeof who", context="c1", clear=True)
    assert cleared[-1]["execution_count"] == 1


def test_interrupts(kernel):
    kernel.send({"type": "execute", "id": "i", "code": "let spins = 0; while (true) spins++", "language": "javascript",
                 "context": "javascript"})
    time.sleep(0.5)
    kernel.proc.send_signal(signal.SIGINT)
    frames = [kernel.recv(), kernel.recv()]
    assert frames[0]["name"] == "Interrupted" and frames[1]["status"] == "interrupted"
    kernel.send({"type": "execute", "id": "w", "code": "await new Promise(() => {})", "language": "javascript",
                 "context": "javascript"})
    time.sleep(0.3)
    kernel.proc.send_signal(signal.SIGINT)
    assert kernel.recv()["name"] == "Interrupted" and kernel.recv()["status"] == "interrupted"
    kernel.proc.send_signal(signal.SIGINT)  # idle: ignored
    assert kernel.value("spins > 0")["application/json"] is True


def test_stray_async_errors_do_not_end_the_kernel(kernel):
    kernel.run("setTimeout(() => { throw new Error('late') }, 10)\nPromise.reject(new Error('unawaited'))")
    time.sleep(0.3)
    assert kernel.value("'alive'")["application/json"] == "alive"
    _, err = kernel.close()
    assert b"late" in err and b"unawaited" in err


def test_large_values_are_cut_and_saved(kernel, tmp_path):
    data = kernel.value("'é'.repeat(2 * 1024 * 1024)")
    text = data["text/plain"]
    assert len(text) < 1024 * 1024 + 200 and text.endswith("in the workspace]\n")
    text_form, json_form = data["application/vnd.airlock.spilled+json"]
    assert text_form["mime"] == "text/plain" and text_form["bytes"] == 2 * 2097152 + 2
    assert (tmp_path / text_form["path"]).read_text() == "'" + "é" * 2097152 + "'"
    # the JSON form (a 2 Mi-character string) is left out of the bundle and saved whole
    assert "application/json" not in data and json_form["mime"] == "application/json"
    assert json.loads((tmp_path / json_form["path"]).read_text()) == "é" * 2097152


def test_bad_frames_are_refused_and_the_kernel_goes_on(kernel):
    kernel.sock.sendall(b"not json\n")
    refused = kernel.recv()
    assert (refused["id"], refused["code"]) == (None, "bad_frame")
    assert refused["message"].startswith("frame is not valid JSON")
    kernel.sock.sendall(b'{"type": "execute", "id": "x1", "code": 5, "language": "javascript", "context": "c"}\n')
    refused = kernel.recv()
    assert refused["code"] == "bad_frame" and refused["id"] == "x1" and "'code'" in refused["message"]
    kernel.sock.sendall(b'{"type": "command", "id": "x2"}\n')
    assert "unknown type" in kernel.recv()["message"]
    kernel.sock.sendall(b'{"type": "execute", "id": "x3", "code": "1", "language": "ruby", "context": "c"}\n')
    assert "'language'" in kernel.recv()["message"]
    kernel.sock.sendall(b'{"type": "ping", "id": "x4", "extra": 1}\n')
    assert "unexpected field 'extra'" in kernel.recv()["message"]
    big = b'{"type": "execute", "id": "big", "code": "' + b"x" * (h.MAX_FRAME + 10) + b'"}\n'
    kernel.sock.sendall(big)
    too_large = kernel.recv(60)
    assert too_large["code"] == "frame_too_large" and too_large["id"] == "big"
    assert kernel.request({"type": "ping", "id": "p"})[-1] == {"type": "ack", "id": "p", "request": "ping"}


def test_shutdown_and_end_of_file(kernel, schema, tmp_path):
    assert kernel.request({"type": "shutdown", "id": "s"})[-1]["request"] == "shutdown"
    assert kernel.proc.wait(5) == 0
    other = Kernel(schema, tmp_path)
    assert other.recv()["type"] == "ready"
    other.sock.shutdown(socket.SHUT_WR)
    assert other.proc.wait(5) == 0
    other.close()
