"""JavaScript, TypeScript and bash in a session, and contexts: state across executions, top-level
await, error stacks on the user's lines, TypeScript that runs despite type errors, a
persistent shell, several contexts of one language kept apart, restart and clear_context,
the contexts API and its errors. Real daemon, real sandboxes."""
import threading

from airlock_api import expect
from test_streaming import stream


def js(client, sid, code, **fields):
    return client.execute(sid, code, language="javascript", **fields)


def test_javascript_state_across_calls(client, sid):
    first = js(client, sid, "let count = 1\nconst greet = (n) => `hi ${n}`\nfunction twice(x) { return 2 * x }\nclass Box { constructor(v) { this.v = v } }\ncount")
    assert first["status"] == "ok" and first["results"] == [{"text/plain": "1", "application/json": 1}]
    second = js(client, sid, "count += 1;\n[greet(count), twice(count), new Box(count).v]")
    assert second["results"] == [{"text/plain": "[ 'hi 2', 4, 2 ]", "application/json": ["hi 2", 4, 2]}]
    assert second["execution_count"] == 2
    # a notebook re-runs cells: declaring the same names again works
    again = js(client, sid, "let count = 10\nconst greet = 5\nclass Box {}\ncount + greet")
    assert again["status"] == "ok" and again["results"][0]["text/plain"] == "15", again


def test_javascript_output_values_and_json(client, sid):
    ex = js(client, sid, "console.log('out', {a: 1})\nconsole.error('err')\nconsole.info('info');\n"
                         "({when: new Date(0), nested: {list: [1, null]}, toJSON() { return {ok: true} }})")
    assert ex["stdout"] == "out { a: 1 }\ninfo\n" and ex["stderr"] == "err\n"
    (value,) = ex["results"]
    assert value["application/json"] == {"ok": True} and "nested" in value["text/plain"]
    assert js(client, sid, "undefined")["results"] == []
    assert js(client, sid, "let quiet = 3")["results"] == []
    ex = js(client, sid, "new Map([[1, 'one']])")
    assert ex["results"] == [{"text/plain": "Map(1) { 1 => 'one' }"}], "a Map is not plain data"


def test_javascript_top_level_await_and_imports(client, sid):
    ex = js(client, sid, "import { setTimeout as sleep } from 'node:timers/promises'\nimport path from 'path'\n"
                         "const started = Date.now()\nawait sleep(300)\nconst waited = Date.now() - started\n"
                         "path.join('a', 'b') + ' ' + (waited >= 290)")
    assert ex["status"] == "ok", ex
    assert ex["results"][0]["application/json"] == "a/b true"
    later = js(client, sid, "[typeof sleep, typeof waited, typeof started]")
    assert later["results"][0]["application/json"] == ["function", "number", "number"], \
        "declarations of an awaiting cell persist"
    ex = js(client, sid, "const fs = require('fs')\nfs.writeFileSync('from-js.txt', 'hello')\n"
                         "await fs.promises.readFile('from-js.txt', 'utf8')")
    assert ex["results"][0]["application/json"] == "hello"


def test_javascript_errors_point_at_the_users_lines(client, sid):
    js(client, sid, "function inner(x) {\n  // a comment\n  return x.missing.field\n}")
    ex = js(client, sid, "const a = 1\ninner({})")
    assert ex["status"] == "error" and ex["state_kept"] is True
    err = ex["error"]
    assert err["name"] == "TypeError" and "Cannot read properties of undefined" in err["value"]
    tb = "".join(err["traceback"])
    assert "at inner (<cell 1>:3:20)" in tb and "return x.missing.field" in tb
    assert "at <cell 2>:2:1" in tb and "inner({})" in tb
    assert "node:" not in tb and "airlock_kernel" not in tb, tb
    ex = js(client, sid, "let ok = 1\nlet broken = ;")
    assert ex["error"]["name"] == "SyntaxError"
    assert ex["error"]["traceback"][:3] == ["  <cell 3>, line 2\n", "    let broken = ;\n", "                 ^\n"]
    ex = js(client, sid, "await Promise.reject(new RangeError('nope'))")
    assert (ex["error"]["name"], ex["error"]["value"]) == ("RangeError", "nope")
    ex = js(client, sid, "throw 42")
    assert ex["error"]["name"] == "Uncaught" and ex["error"]["value"] == "42"
    assert js(client, sid, "a")["results"][0]["text/plain"] == "1", "the cell that failed still declared a"


def test_typescript_runs_despite_type_errors(client, sid):
    ts = dict(language="typescript")
    ex = client.execute(sid, "interface User { name: string; age: number }\n"
                             "const u: User = { name: 'ada', age: 'old' as unknown as number }\n"
                             "const n: number = 'not a number'\n"
                             "function label(x: User): string { return `${x.name}:${x.age}` }\nlabel(u) + ' ' + n", **ts)
    assert ex["status"] == "ok", ex
    assert ex["results"][0]["application/json"] == "ada:old not a number"
    ex = client.execute(sid, "enum Color { Red, Green }\nconst c: Color = Color.Green\n"
                             "const v = await Promise.resolve<number>(c + 1)\nv", **ts)
    assert ex["results"][0]["application/json"] == 2
    assert client.execute(sid, "label(u)", **ts)["results"][0]["application/json"] == "ada:old"


def test_typescript_errors_name_the_typescript_lines(client, sid):
    ts = dict(language="typescript")
    ex = client.execute(sid, "type T = { n: number }\n\nfunction fail(t: T): never {\n"
                             "  throw new Error(`bad ${t.n}`)\n}\nfail({ n: 7 })", **ts)
    err = ex["error"]
    assert (err["name"], err["value"]) == ("Error", "bad 7")
    tb = "".join(err["traceback"])
    assert "at fail (<cell 1>:4:9)" in tb and "throw new Error(`bad ${t.n}`)" in tb, tb
    assert "at <cell 1>:6:1" in tb, tb
    ex = client.execute(sid, "const ok: number = 1\nconst broken: = 2", **ts)
    assert ex["error"]["name"] == "SyntaxError" and ex["error"]["value"] == 'Unexpected "="'
    assert "<cell 2>:2:14:" in "".join(ex["error"]["traceback"])


def test_javascript_and_typescript_contexts_are_apart(client, sid):
    js(client, sid, "var shared = 'js'")
    ex = client.execute(sid, "typeof shared", language="typescript")
    assert ex["results"][0]["application/json"] == "undefined"


def test_javascript_timeout_keeps_the_context(client, sid):
    js(client, sid, "let kept = 'still here'")
    ex = js(client, sid, "while (true) {}", timeout_seconds=1)
    assert ex["status"] == "timeout" and ex["state_kept"] is True
    assert ex["error"]["name"] == "Interrupted"
    ex = js(client, sid, "await new Promise(() => {})", timeout_seconds=1)
    assert ex["status"] == "timeout" and ex["state_kept"] is True
    assert js(client, sid, "kept")["results"][0]["application/json"] == "still here"


def test_javascript_kernel_exit_is_reported_and_recovered(client, sid):
    js(client, sid, "let lost = 1")
    ex = js(client, sid, "process.exit(3)")
    assert ex["status"] == "error" and ex["state_kept"] is False and ex["error"]["name"] == "KernelDied"
    assert js(client, sid, "typeof lost")["results"][0]["application/json"] == "undefined"
    assert client.value(sid, "'python unaffected'") == "'python unaffected'"


def test_javascript_display_and_streaming(client, sid):
    events = stream(client, sid, "console.log('a')\ndisplay({n: 1})\nawait new Promise(r => setTimeout(r, 200))\n"
                                 "console.log('b')\n'done'", language="javascript")
    kinds = [(e, d.get("text") or d.get("text/plain") or d.get("status")) for e, d, _ in events]
    assert kinds == [("stdout", "a\n"), ("result", "{ n: 1 }"), ("stdout", "b\n"), ("result", "'done'"), ("end", "ok")], kinds


def test_bash_state_persists(client, sid):
    sh = dict(language="bash")
    ex = client.execute(sid, "mkdir -p /workspace/deep/er && cd /workspace/deep\nexport GREETING=hello\n"
                             "name=world\nsay() { echo \"$GREETING, $1\"; }", **sh)
    assert ex["status"] == "ok" and ex["results"] == [] and ex["error"] is None
    ex = client.execute(sid, "cd er; pwd; echo \"$name\"; say there; env | grep ^GREETING=", **sh)
    assert ex["stdout"] == "/workspace/deep/er\nworld\nhello, there\nGREETING=hello\n", ex
    ex = client.execute(sid, "echo to-stderr >&2; false", **sh)
    assert ex["status"] == "error" and ex["stderr"] == "to-stderr\n"
    assert ex["error"]["name"] == "ExitStatus" and ex["error"]["value"] == "exit status 1"
    ex = client.execute(sid, "if then", **sh)
    assert ex["status"] == "error" and "syntax error" in ex["stderr"]
    ex = client.execute(sid, "read line; echo \"read: [$line]\"", **sh)
    assert ex["stdout"] == "read: []\n", "a cell's stdin is empty: it can't eat the shell's input"


def test_bash_interrupt_and_exit(client, sid):
    sh = dict(language="bash")
    client.execute(sid, "kept=yes", **sh)
    ex = client.execute(sid, "sleep 30; echo not-reached", timeout_seconds=1, **sh)
    assert ex["status"] == "timeout" and ex["state_kept"] is True and "not-reached" not in ex["stdout"]
    ex = client.execute(sid, "while true; do :; done", timeout_seconds=1, **sh)
    assert ex["status"] == "timeout" and ex["state_kept"] is True
    assert client.execute(sid, "echo $kept", **sh)["stdout"] == "yes\n"
    ex = client.execute(sid, "exit 4", **sh)
    assert ex["status"] == "error" and ex["state_kept"] is False and ex["error"]["name"] == "ShellExited"
    ex = client.execute(sid, "echo \"[$kept]\"", **sh)
    assert ex["status"] == "ok" and ex["stdout"] == "[]\n", "a new shell after exit"


def test_two_contexts_of_one_language_do_not_share(client, sid):
    for lang, setter, getter in (("python", "secret = '{}'", "secret"),
                                 ("javascript", "var secret = '{}'", "secret"),
                                 ("bash", "secret={}", "echo $secret")):
        client.execute(sid, setter.format("one"), language=lang, context_id=lang + "-1")
        client.execute(sid, setter.format("two"), language=lang, context_id=lang + "-2")
        one = client.execute(sid, getter, context_id=lang + "-1")
        two = client.execute(sid, getter, context_id=lang + "-2")
        shown = [(x["results"][0]["text/plain"] if x["results"] else x["stdout"].strip()) for x in (one, two)]
        assert [s.strip("'") for s in shown] == ["one", "two"], (lang, one, two)


def test_contexts_api(client, sid):
    base = "/v1/sessions/%s/contexts" % sid
    listed = expect(client.get(base), 200).json["contexts"]
    assert listed == [{"id": "default", "language": "python", "execution_count": 0}]
    made = expect(client.post(base, json={"id": "js-work", "language": "javascript"}), 201).json
    assert made == {"id": "js-work", "language": "javascript", "execution_count": 0}
    anon = expect(client.post(base), 201).json
    assert anon["id"].startswith("ctx_") and anon["language"] == "python"
    js(client, sid, "globalThis.n = 5", context_id="js-work")
    named = client.execute(sid, "n * 2", context_id="js-work")
    assert named["results"][0]["application/json"] == 10 and named["language"] == "javascript", \
        "an execute naming a context needs no language"
    got = expect(client.get(base + "/js-work"), 200).json
    assert got == {"id": "js-work", "language": "javascript", "execution_count": 2}
    ids = [c["id"] for c in expect(client.get(base), 200).json["contexts"]]
    assert ids == ["default", "js-work", anon["id"]]
    restarted = expect(client.post(base + "/js-work/restart"), 200).json
    assert restarted["execution_count"] == 0
    assert js(client, sid, "typeof n", context_id="js-work")["results"][0]["application/json"] == "undefined"
    expect(client.delete(base + "/" + anon["id"]), 204)
    expect(client.get(base + "/" + anon["id"]), 404, "context_not_found")
    expect(client.delete(base + "/" + anon["id"]), 404, "context_not_found")
    expect(client.post(base + "/nope/restart"), 404, "context_not_found")
    expect(client.get(base + "/bad%20id"), 404, "context_not_found")
    expect(client.post(base, json={"id": "js-work"}), 409, "context_exists", field="id")
    expect(client.delete(base + "/default"), 409, "context_protected")
    expect(client.post(base, json={"language": "cobol"}), 400, "invalid_request", field="language")
    expect(client.post(base, json={"id": "has space"}), 400, "invalid_request", field="id")
    expect(client.post(base, json={"id": "x", "extra": 1}), 400, "invalid_request", field="extra")
    expect(client.request("PUT", base), 405, "method_not_allowed")
    expect(client.post(base, body=b'{"language": "bash"}', content_type="text/plain"), 415, "unsupported_media_type")
    huge = b'{"id": "' + b"x" * (1 << 20) + b'"}'
    expect(client.post(base, body=huge, content_type="application/json", timeout=120), 413, "payload_too_large")
    nobody = "/v1/sessions/sess_00000000000000000000000000/contexts"
    expect(client.get(nobody), 404, "session_not_found")
    expect(client.post(nobody, json={"language": "bash"}), 404, "session_not_found")


def test_language_mismatch_and_clear_context(client, sid):
    client.run_ok(sid, "x = 1", context_id="py-ctx")
    resp = client.post("/v1/sessions/%s/execute" % sid,
                       json={"code": "1", "language": "javascript", "context_id": "py-ctx"})
    expect(resp, 400, "invalid_request", field="context_id")
    assert "py-ctx" in resp.error["message"] and "python" in resp.error["message"]
    assert client.value(sid, "x", context_id="py-ctx") == "1"
    ex = client.execute(sid, "'x' in globals()", context_id="py-ctx", clear_context=True)
    assert ex["results"] == [{"text/plain": "False"}] and ex["execution_count"] == 1
    js(client, sid, "let y = 2")
    ex = js(client, sid, "typeof y", clear_context=True)
    assert ex["results"][0]["application/json"] == "undefined"


def test_contexts_of_an_ended_session(client, sessions):
    sid = sessions()
    expect(client.delete("/v1/sessions/" + sid), 200)
    base = "/v1/sessions/%s/contexts" % sid
    expect(client.get(base), 409, "session_ended")
    expect(client.post(base, json={"language": "bash"}), 409, "session_ended")
    expect(client.get(base + "/default"), 409, "session_ended")
    expect(client.post(base + "/default/restart"), 409, "session_ended")
    expect(client.delete(base + "/other"), 409, "session_ended")


def test_languages_run_side_by_side_in_one_session(client, sid):
    # One execution at a time per session: concurrent requests queue, none is lost.
    out = {}

    def run(lang, code):
        out[lang] = client.execute(sid, code, language=lang)

    threads = [threading.Thread(target=run, args=a) for a in (
        ("python", "6 * 7"), ("javascript", "6 * 7"), ("typescript", "const v: number = 6 * 7; v"),
        ("bash", "echo $((6 * 7))"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out["python"]["results"] == [{"text/plain": "42"}]
    assert out["javascript"]["results"][0]["application/json"] == 42
    assert out["typescript"]["results"][0]["application/json"] == 42
    assert out["bash"]["stdout"] == "42\n"
