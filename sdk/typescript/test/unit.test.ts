/**
 * The pure parts, without a daemon: the SSE parser (chunk boundaries, CRLF, multi-line
 * data, comments), the wire conversions and the error mapping.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  Airlock,
  AirlockError,
  APIError,
  ConflictError,
  Execution,
  InsufficientStorageError,
  InternalServerError,
  NotFoundError,
  Result,
  SSEDecoder,
  VERSION,
  errorFromBody,
  readSSE,
  type SSEEvent,
} from "@airlock/sdk";

function decodeAll(pieces: string[]): SSEEvent[] {
  const d = new SSEDecoder();
  return [...pieces.flatMap((p) => d.push(p)), ...d.end()];
}

/** Every way of cutting `text` in two, and one character at a time. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

function bytesStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
}

describe("SSE parser", () => {
  const STREAM =
    'event: stdout\ndata: {"text":"0\\n"}\n\n' +
    ": a comment\r\n" +
    "event: result\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n" +
    "event: stderr\rdata:no-space\r\r" +
    "data: plain message\n\n" +
    "event: ignored-without-data\n\n" +
    "id: 7\nretry: 100\nunknown: x\nevent: end\ndata: {}\n\n";
  const EXPECTED: SSEEvent[] = [
    { event: "stdout", data: '{"text":"0\\n"}', id: undefined },
    { event: "result", data: '{"a":\n1}', id: undefined },
    { event: "stderr", data: "no-space", id: undefined },
    { event: "message", data: "plain message", id: undefined },
    { event: "end", data: "{}", id: "7" },
  ];

  test("events are the same however the text is cut (LF, CRLF, CR, comments, multi-line data)", () => {
    for (const pieces of splits(STREAM)) assert.deepEqual(decodeAll(pieces), EXPECTED, JSON.stringify(pieces));
  });

  test("a CRLF split between two pieces ends one line, not two", () => {
    assert.deepEqual(decodeAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"]), [{ event: "message", data: "a\nb", id: undefined }]);
  });

  test("an empty data line counts; an event cut off at the end is discarded", () => {
    assert.deepEqual(decodeAll(["data:\n\n", "event: end\ndata: {\"x\":1}\n"]), [{ event: "message", data: "", id: undefined }]);
  });

  test("UTF-8 characters split between byte chunks, and a BOM, decode whole", async () => {
    const text = '\ufeffevent: stdout\ndata: {"text":"h\u00e9llo \u{1F600} \u4e16\u754c"}\n\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const events: SSEEvent[] = [];
      for await (const ev of readSSE(bytesStream([bytes.slice(0, cut), bytes.slice(cut)]))) events.push(ev);
      assert.deepEqual(events, [{ event: "stdout", data: '{"text":"h\u00e9llo \u{1F600} \u4e16\u754c"}', id: undefined }], `cut at ${cut}`);
    }
    const oneByOne: SSEEvent[] = [];
    for await (const ev of readSSE(bytesStream([...bytes].map((b) => Uint8Array.of(b))))) oneByOne.push(ev);
    assert.equal(oneByOne.length, 1);
  });
});

describe("models", () => {
  test("an Execution keeps unknown fields in raw and reads known ones", () => {
    const ex = new Execution({
      execution_id: "exec_x",
      status: "error",
      stdout: "a",
      stderr: "",
      results: [{ "text/plain": "1" }, { "text/plain": "<Figure>", "image/png": "iVBORw0KGgo=", "application/vnd.airlock.chart+json": { type: "line", x_label: "t", elements: [{ label: "s", points: [[1, 2]] }] } }],
      error: { name: "ValueError", value: "boom", traceback: ["T\n", "ValueError: boom\n"] },
      duration_ms: 1.5,
      execution_count: 3,
      state_kept: true,
      killed_reason: null,
      cpu_seconds: null,
      peak_memory_bytes: 10,
      language: "python",
      a_future_field: { x: 1 },
    });
    assert.equal(ex.executionId, "exec_x");
    assert.equal(ex.ok, false);
    assert.equal(ex.text, "<Figure>");
    assert.equal(ex.traceback, "T\nValueError: boom\n");
    assert.deepEqual(ex.raw["a_future_field"], { x: 1 });
    assert.equal(ex.stdoutDroppedBytes, 0);
    assert.equal(ex.cpuSeconds, null);
    const chart = ex.results[1]?.chart;
    assert.equal(chart?.type, "line");
    assert.equal(chart?.xLabel, "t");
    assert.deepEqual(chart?.elements, [{ label: "s", points: [[1, 2]] }]);
    assert.deepEqual([...(ex.results[1]?.png ?? [])], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual(ex.images().map((i) => [i.mimeType, i.resultIndex]), [["image/png", 1]]);
    assert.deepEqual(JSON.parse(JSON.stringify(ex)), ex.raw);
  });

  test("a Result gives each known form, and any other by MIME type", () => {
    const r = new Result({ "text/plain": "x", "text/html": "<b>x</b>", "application/json": [1, { a: null }], "application/x-custom": 5 });
    assert.equal(r.text, "x");
    assert.equal(String(r), "x");
    assert.equal(r.html, "<b>x</b>");
    assert.deepEqual(r.json, [1, { a: null }]);
    assert.equal(r.png, undefined);
    assert.equal(r.chart, undefined);
    assert.equal(r.get("application/x-custom"), 5);
    assert.deepEqual(r.formats, ["text/plain", "text/html", "application/json", "application/x-custom"]);
  });
});

describe("errors and client options", () => {
  test("error classes by status, and by code for errors carried in a stream", () => {
    const e404 = errorFromBody({ error: { code: "session_not_found", message: "no session x" } }, { status: 404, requestId: "req_1" });
    assert.ok(e404 instanceof NotFoundError && e404 instanceof APIError && e404 instanceof AirlockError);
    assert.equal(e404.requestId, "req_1");
    const streamed = errorFromBody({ error: { code: "session_ended", message: "ended" } }, { status: 200, fromStream: true });
    assert.ok(streamed instanceof ConflictError);
    assert.equal(streamed.status, 409);
    const full = errorFromBody({ error: { code: "workspace_full", message: "full", field: "path" } }, { status: 507 });
    assert.ok(full instanceof InsufficientStorageError && full instanceof InternalServerError);
    assert.equal(full.field, "path");
    const unknown = errorFromBody({ error: { code: "brand_new", message: "?" } }, { status: 200, fromStream: true });
    assert.equal(unknown.constructor, APIError);
    assert.equal(unknown.code, "brand_new");
    const notJSON = errorFromBody("<html>bad gateway</html>", { status: 502, fallbackMessage: "HTTP 502 Bad Gateway" });
    assert.ok(notJSON instanceof InternalServerError);
    assert.equal(notJSON.message, "502 unknown: HTTP 502 Bad Gateway");
  });

  test("the client needs a key, reads the environment, and refuses a non-HTTP URL", () => {
    const saved = { url: process.env["AIRLOCK_URL"], key: process.env["AIRLOCK_API_KEY"] };
    try {
      delete process.env["AIRLOCK_API_KEY"];
      assert.throws(() => new Airlock({ url: "http://127.0.0.1:1" }), AirlockError);
      process.env["AIRLOCK_API_KEY"] = "k";
      delete process.env["AIRLOCK_URL"];
      assert.equal(new Airlock().url, "http://127.0.0.1:8470");
      process.env["AIRLOCK_URL"] = "http://127.0.0.1:9/base/";
      assert.equal(new Airlock().url, "http://127.0.0.1:9/base");
      assert.throws(() => new Airlock({ url: "ftp://x" }), AirlockError);
    } finally {
      if (saved.url === undefined) delete process.env["AIRLOCK_URL"];
      else process.env["AIRLOCK_URL"] = saved.url;
      if (saved.key === undefined) delete process.env["AIRLOCK_API_KEY"];
      else process.env["AIRLOCK_API_KEY"] = saved.key;
    }
  });

  test("VERSION is package.json's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
