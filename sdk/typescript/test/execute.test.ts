/** runCode: state, results (text, PNG, JSON, charts), streaming, errors as data, timeouts, languages, contexts. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  APITimeoutError,
  APIUserAbortError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  Result,
  nodeFetch,
  type ExecutionError,
  type Session,
  type StreamEvent,
} from "@airlock/sdk";
import { PNG_SIGNATURE, T, client, rejects, withSession } from "./helpers.js";

describe("runCode", () => {
  test("state is kept across calls; stdout, stderr and the trailing value", T, () =>
    withSession(async (s) => {
      const first = await s.runCode("import sys\nx = 41\nprint('hello')\nprint('careful', file=sys.stderr)");
      assert.equal(first.status, "ok");
      assert.ok(first.ok);
      assert.equal(first.stdout, "hello\n");
      assert.equal(first.stderr, "careful\n");
      assert.deepEqual(first.results, []);
      assert.equal(first.text, null);
      assert.equal(first.error, null);
      assert.equal(first.executionCount, 1);
      assert.equal(first.language, "python");
      assert.match(first.executionId, /^exec_[a-z0-9]{26}$/);
      const second = await s.runCode("x + 1");
      assert.equal(second.text, "42");
      assert.equal(second.executionCount, 2);
      assert.ok(second.stateKept);
      assert.ok(second.durationMs >= 0);
    }),
  );

  test("results: text/plain, a matplotlib PNG with its chart data, application/json", T, () =>
    withSession(async (s) => {
      const fig = await s.runCode(
        "import matplotlib.pyplot as plt\nplt.bar(['Mon', 'Tue', 'Wed'], [12, 17, 9], label='orders')\nplt.title('Orders per day')\nplt.show()",
      );
      assert.equal(fig.status, "ok", fig.traceback ?? "");
      const png = fig.results[0]?.png;
      assert.ok(png, "the figure has an image/png");
      assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE);
      const chart = fig.results[0]?.chart;
      assert.equal(chart?.type, "bar");
      assert.equal(chart?.title, "Orders per day");
      assert.deepEqual(
        chart?.elements.map((e) => [e["label"], e["value"]]),
        [["Mon", 12], ["Tue", 17], ["Wed", 9]],
      );
      assert.equal(fig.charts().length, 1);
      const images = fig.images();
      assert.equal(images.length, 1);
      assert.equal(images[0]?.mimeType, "image/png");

      const dir = await mkdtemp(join(tmpdir(), "airlock-sdk-images-"));
      try {
        const paths = await fig.saveImages(dir, { prefix: "chart" });
        assert.deepEqual(paths, [join(dir, "chart-1.png")]);
        assert.deepEqual([...(await readFile(paths[0] ?? "")).subarray(0, 8)], PNG_SIGNATURE);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }

      const json = await s.runCode(
        "class Report:\n    def _repr_json_(self): return {'rows': 3, 'ok': True, 'names': ['a', None]}\n    def __repr__(self): return 'Report()'\nReport()",
      );
      assert.equal(json.results[0]?.text, "Report()");
      assert.deepEqual(json.results[0]?.json, { rows: 3, ok: true, names: ["a", null] });

      const html = await s.runCode("class H:\n    def _repr_html_(self): return '<b>hi</b>'\nH()");
      assert.equal(html.results[0]?.html, "<b>hi</b>");
    }),
  );

  test("streaming: callbacks in order, output before the end, the end event is the execution", T, () =>
    withSession(async (s) => {
      const seen: string[] = [];
      const events: StreamEvent[] = [];
      const results: Result[] = [];
      const errors: ExecutionError[] = [];
      const execution = await s.runCode(
        "import sys, time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.2)\n" +
          "print('warn', file=sys.stderr, flush=True)\ntime.sleep(0.2)\ndisplay('shown')\ntime.sleep(0.2)\nprint('last', flush=True)\n{'done': True}",
        {
          onStdout: (t) => void seen.push(`out:${t}`),
          onStderr: (t) => void seen.push(`err:${t}`),
          onResult: async (r) => {
            await new Promise((resolve) => setTimeout(resolve, 10)); // async callbacks are awaited in order
            seen.push(`result:${r.text}`);
            results.push(r);
          },
          onError: (e) => void errors.push(e),
          onEvent: (e) => void events.push(e),
        },
      );
      assert.equal(execution.status, "ok");
      // A stream arrives in pieces of any size ("0" then "\n"): join the adjacent ones of one stream.
      const joined = seen.reduce<string[]>((acc, item) => {
        const prev = acc[acc.length - 1];
        const kind = item.slice(0, item.indexOf(":") + 1);
        if (prev !== undefined && kind !== "result:" && prev.startsWith(kind)) acc[acc.length - 1] = prev + item.slice(kind.length);
        else acc.push(item);
        return acc;
      }, []);
      assert.deepEqual(joined, [
        "out:0\n1\n2\n",
        "err:warn\n",
        "result:'shown'",
        "out:last\n",
        "result:{'done': True}",
      ]);
      assert.ok(results.every((r) => r instanceof Result));
      assert.deepEqual(errors, []);
      assert.equal(events.at(-1)?.event, "end", "the end event comes last");
      assert.equal(events.filter((e) => e.event === "end").length, 1);
      assert.equal(execution.stdout, "0\n1\n2\nlast\n");
      assert.equal(execution.text, "{'done': True}");
      assert.deepEqual(
        execution.results.map((r) => r.text),
        results.map((r) => r.text),
      );
    }),
  );

  test("an exception in user code is data, streamed or not", T, () =>
    withSession(async (s) => {
      const ex = await s.runCode("def f():\n    raise ValueError('boom')\nf()");
      assert.equal(ex.status, "error");
      assert.equal(ex.ok, false);
      assert.equal(ex.error?.name, "ValueError");
      assert.equal(ex.error?.value, "boom");
      assert.ok(ex.error && ex.error.traceback.length >= 2);
      assert.match(ex.traceback ?? "", /<cell 1>/);
      assert.match(ex.traceback ?? "", /ValueError: boom/);

      const streamed: ExecutionError[] = [];
      const ex2 = await s.runCode("1 / 0", { onError: (e) => void streamed.push(e) });
      assert.equal(ex2.status, "error");
      assert.equal(streamed.length, 1);
      assert.equal(streamed[0]?.name, "ZeroDivisionError");
      assert.deepEqual(streamed[0], ex2.error);
    }),
  );

  test("a timeout is a status: the code is interrupted and the context kept", T, () =>
    withSession(async (s) => {
      await s.runCode("kept = 'yes'");
      const ex = await s.runCode("import time\ntime.sleep(60)", { timeoutSeconds: 1 });
      assert.equal(ex.status, "timeout");
      assert.equal(ex.stateKept, true);
      assert.equal(ex.error?.name, "KeyboardInterrupt");
      assert.equal((await s.runCode("kept")).text, "'yes'");
    }),
  );

  test("javascript, typescript and bash, each with its own state", T, () =>
    withSession(async (s) => {
      const js1 = await s.runCode("const rows = [{id: 1, ok: true}, {id: 2, ok: false}]\nconsole.log('n', rows.length)\nrows.filter(r => r.ok)", {
        language: "javascript",
      });
      assert.equal(js1.status, "ok", js1.traceback ?? "");
      assert.equal(js1.language, "javascript");
      assert.equal(js1.stdout, "n 2\n");
      assert.deepEqual(js1.results[0]?.json, [{ id: 1, ok: true }]);
      const js2 = await s.runCode("await Promise.resolve(rows.length * 10)", { language: "javascript" });
      assert.equal(js2.text, "20");
      const jsErr = await s.runCode("JSON.parse('{bad')", { language: "javascript" });
      assert.equal(jsErr.status, "error");
      assert.equal(jsErr.error?.name, "SyntaxError");

      const ts = await s.runCode("interface P { x: number; y: number }\nconst d = (p: P): number => Math.hypot(p.x, p.y)\nd({ x: 3, y: 4 })", {
        language: "typescript",
      });
      assert.equal(ts.status, "ok", ts.traceback ?? "");
      assert.equal(ts.language, "typescript");
      assert.equal(ts.text, "5");
      assert.equal(ts.results[0]?.json, 5);

      await s.runCode("cd /tmp && export STAGE=build", { language: "bash" });
      const sh = await s.runCode('echo "$STAGE in $PWD"', { language: "bash" });
      assert.equal(sh.stdout, "build in /tmp\n");
      const shErr = await s.runCode("ls /nonexistent", { language: "bash" });
      assert.equal(shErr.status, "error");
      assert.equal(shErr.error?.name, "ExitStatus");
    }),
  );

  test("contexts: create, list, get, run in one, restart, delete, and their errors", T, () =>
    withSession(async (s) => {
      const ctx = await s.contexts.create({ id: "sdk-js", language: "javascript" });
      assert.deepEqual(ctx, { id: "sdk-js", language: "javascript", executionCount: 0 });
      const anon = await s.contexts.create();
      assert.match(anon.id, /^ctx_/);
      assert.equal(anon.language, "python");

      const ids = (await s.contexts.list()).map((c) => c.id);
      assert.ok(ids.includes("default") && ids.includes("sdk-js") && ids.includes(anon.id), ids.join(","));

      await s.runCode("let n = 1", { context: ctx });
      assert.equal((await s.runCode("n + 1", { context: "sdk-js" })).text, "2");
      assert.equal((await s.contexts.get("sdk-js")).executionCount, 2);
      // Contexts don't share variables.
      await s.runCode("secret = 1", { context: anon });
      assert.equal((await s.runCode("'secret' in dir()")).text, "False");

      const restarted = await s.contexts.restart(ctx);
      assert.equal(restarted.executionCount, 0);
      const gone = await s.runCode("typeof n", { context: ctx });
      assert.equal(gone.text, "'undefined'");

      const cleared = await s.runCode("secret", { context: anon, clearContext: true });
      assert.equal(cleared.status, "error");
      assert.equal(cleared.error?.name, "NameError");

      await rejects(s.contexts.create({ id: "sdk-js" }), ConflictError, { code: "context_exists" });
      await rejects(s.contexts.delete("default"), ConflictError, { code: "context_protected" });
      await rejects(s.runCode("1", { context: "default", language: "bash" }), BadRequestError, { field: "context_id" });
      await s.contexts.delete(ctx);
      await rejects(s.contexts.get(ctx), NotFoundError, { code: "context_not_found" });
    }),
  );

  test("a per-call timeout is APITimeoutError; an abort is APIUserAbortError; runCode is never retried", T, async () => {
    let calls = 0;
    const counting = client({
      fetch: (input, init) => {
        calls++;
        return nodeFetch(input, init);
      },
    });
    const s = await counting.sessions.create();
    try {
      calls = 0;
      await rejects(s.runCode("import time\ntime.sleep(30)", { timeoutMs: 500 }), APITimeoutError);
      assert.equal(calls, 1, "an execution is sent once");
    } finally {
      await s.stop(); // also ends the sleeping execution
    }
    await withSession(async (s2) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      await rejects(s2.runCode("import time\ntime.sleep(30)", { signal: ac.signal, onStdout: () => undefined }), APIUserAbortError);
      const pre = new AbortController();
      pre.abort();
      await rejects(s2.refresh({ signal: pre.signal }), APIUserAbortError);
    });
  });

  test("an execution waiting behind another when the session ends: killed is data, the waiting one throws", T, async () => {
    const c = client();
    const s: Session = await c.sessions.create();
    const running = s.runCode("import time\ntime.sleep(60)");
    // Wait until the first execution runs, then queue a streamed one behind it.
    while ((await s.refresh()).status !== "busy") await new Promise((r) => setTimeout(r, 50));
    const queued = s.runCode("print('never')", { onStdout: () => assert.fail("the queued code must not run") });
    const queuedOutcome = queued.then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 500));
    await s.stop();
    const first = await running;
    assert.equal(first.status, "killed");
    assert.equal(first.killedReason, "stopped");
    assert.equal(first.stateKept, false);
    const err = await queuedOutcome;
    // The end event's {"error": ...} (or, had the stop come first, the 409 answer) is thrown.
    assert.ok(err instanceof ConflictError, String(err));
    assert.equal(err.code, "session_ended");
  });
});
