/** Retries (only where safe), connection errors and per-call options, against the real daemon and a closed port. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import { Airlock, APIConnectionError, APITimeoutError, InternalServerError, NotFoundError, nodeFetch } from "@airlock/sdk";
import { KEY, T, URL_, client, rejects, withSession } from "./helpers.js";

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

/** A client whose requests are counted (through the default transport, nodeFetch). */
function counting(opts: { url?: string; maxRetries?: number } = {}): { c: Airlock; calls: () => number } {
  let n = 0;
  const c = new Airlock({
    url: opts.url ?? URL_,
    apiKey: KEY,
    maxRetries: opts.maxRetries ?? 2,
    fetch: (i, init) => (n++, nodeFetch(i, init)),
  });
  return { c, calls: () => n };
}

/** A loopback server that answers each connection with `reply` (raw bytes), then closes it or not. */
async function rawServer(reply: string, close: boolean): Promise<{ url: string; stop: () => Promise<void> }> {
  const sockets: import("node:net").Socket[] = [];
  const srv = createServer((sock) => {
    sockets.push(sock);
    sock.once("data", () => {
      sock.write(reply);
      if (close) sock.end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const addr = srv.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    stop: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

describe("transport", () => {
  test("a refused connection is retried (nothing was sent), then APIConnectionError", T, async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const get = counting({ url, maxRetries: 2 });
    const err = await rejects(get.c.sessions.list(), APIConnectionError);
    assert.ok(!(err instanceof APITimeoutError));
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(get.calls(), 3);
    const post = counting({ url, maxRetries: 1 });
    await rejects(post.c.sessions.create(), APIConnectionError);
    assert.equal(post.calls(), 2, "a POST whose connection was refused is sent again");
    const none = counting({ url, maxRetries: 0 });
    await rejects(none.c.sessions.list({ maxRetries: 0 }), APIConnectionError);
    assert.equal(none.calls(), 1);
  });

  test("4xx answers are not retried", T, async () => {
    const k = counting();
    await rejects(k.c.sessions.get("sess_doesnotexist00000000000000"), NotFoundError);
    assert.equal(k.calls(), 1);
  });

  test("a per-call timeout: APITimeoutError, not retried", T, async () => {
    // A server that accepts connections and never answers (the daemon answers too fast to time out).
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((sock) => void sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const addr = silent.address();
    assert.ok(addr !== null && typeof addr !== "string");
    try {
      const k = counting({ url: `http://127.0.0.1:${addr.port}`, maxRetries: 2 });
      const err = await rejects(k.c.sessions.list({ timeoutMs: 300 }), APITimeoutError);
      assert.ok(err instanceof APIConnectionError);
      assert.equal(k.calls(), 1);
      const slow = new Airlock({ url: `http://127.0.0.1:${addr.port}`, apiKey: KEY, timeoutMs: 200 });
      await rejects(slow.sessions.get("sess_x"), APITimeoutError);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test("an answer cut short is APIConnectionError; a non-JSON error page keeps its status", T, async () => {
    const cut = await rawServer("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nonly ten b", true);
    try {
      const c = new Airlock({ url: cut.url, apiKey: KEY, maxRetries: 0 });
      const s = await c.sessions.get("sess_x").catch((e: unknown) => e);
      assert.ok(s instanceof APIConnectionError, String(s));
    } finally {
      await cut.stop();
    }
    const proxy = await rawServer("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\n<h1>502</h1", true);
    try {
      const c = new Airlock({ url: proxy.url, apiKey: KEY, maxRetries: 0 });
      const err = await c.sessions.list().catch((e: unknown) => e);
      assert.ok(err instanceof InternalServerError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.body, "<h1>502</h1");
    } finally {
      await proxy.stop();
    }
  });

  test("the global fetch works as the transport too", T, async () => {
    const c = client({ fetch: globalThis.fetch });
    const s = await c.sessions.create();
    try {
      const out: string[] = [];
      const ex = await s.runCode("print('via fetch')\n1 + 1", { onStdout: (t) => void out.push(t) });
      assert.equal(ex.text, "2");
      assert.equal(out.join(""), "via fetch\n");
      await s.files.write("f.bin", new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual([...(await s.files.read("f.bin"))], [0, 1, 2, 255]);
      await rejects(s.files.read("missing"), NotFoundError, { code: "file_not_found" });
    } finally {
      await s.stop();
    }
  });

  test("an upload aborted half-way leaves no file", T, () =>
    withSession(async (s) => {
      const ac = new AbortController();
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(c) {
          sent += 65536;
          if (sent > 4 * 65536) ac.abort();
          c.enqueue(new Uint8Array(65536));
        },
      });
      const err = await s.files.write("partial.bin", endless, { signal: ac.signal }).catch((e: unknown) => e);
      assert.equal((err as Error).name, "APIUserAbortError", String(err));
      // The daemon drops a partial upload: nothing is left at the path.
      for (;;) {
        const names = (await s.files.list()).map((e) => e.name);
        if (!names.includes("partial.bin")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
  );
});
