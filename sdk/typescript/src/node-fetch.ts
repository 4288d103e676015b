/**
 * A `fetch` over `node:http`/`node:https`, the SDK's default on Node.js.
 *
 * Node's global `fetch` (undici) gives up on an answer whose headers take more than 300 s,
 * and on a body that is silent for 300 s: an execution or a foreground command may
 * legitimately run for up to an hour without a byte on the wire. This one has no timeout of
 * its own (the SDK's `timeoutMs` and `signal` bound each call) and otherwise behaves as
 * `fetch` does for what the SDK sends: a method, headers, a body (text, bytes, a Blob or a
 * stream), an `AbortSignal`; it resolves with a standard `Response` whose body streams, and
 * rejects with `TypeError("fetch failed", { cause })` when there is no answer, the cause
 * carrying Node's error code (`ECONNREFUSED`, ...), or with the signal's reason.
 */
import type { Agent as HttpAgent, IncomingMessage, RequestOptions as HttpRequestOptions } from "node:http";

type NodeHttp = typeof import("node:http");
type NodeHttps = typeof import("node:https");

let modules: Promise<{ http: NodeHttp; https: NodeHttps; agents: { http: HttpAgent; https: HttpAgent } }> | undefined;

function load(): NonNullable<typeof modules> {
  modules ??= Promise.all([import("node:http"), import("node:https")]).then(([http, https]) => ({
    http,
    https,
    // Keep-alive (idle sockets do not keep the process alive); no socket timeout: the SDK times calls itself.
    agents: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) },
  }));
  return modules;
}

/** Whether this runtime is Node.js (where {@link nodeFetch} is the default). */
export function isNode(): boolean {
  return typeof globalThis.process?.versions?.node === "string";
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function failed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

/** The response body as a web stream, with back-pressure; an answer cut short is an error. */
function bodyStream(res: IncomingMessage, signal: AbortSignal | null | undefined): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const end = (err?: unknown): void => {
        if (finished) return;
        finished = true;
        signal?.removeEventListener("abort", onAbort);
        if (err === undefined) controller.close();
        else controller.error(err);
      };
      const onAbort = (): void => {
        end(abortReason(signal as AbortSignal));
        res.destroy();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      res.on("data", (chunk: Buffer) => {
        if (finished) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.on("end", () => end());
      res.on("error", (err) => end(failed(err)));
      res.on("close", () =>
        end(failed(Object.assign(new Error("the connection closed before the answer was complete"), { code: "ECONNRESET" }))),
      );
    },
    pull() {
      res.resume();
    },
    cancel() {
      finished = true;
      res.destroy();
    },
  });
}

async function writeBody(req: import("node:http").ClientRequest, body: unknown): Promise<void> {
  // Errors surface as the request's 'error' event; a destroyed request stops the pump.
  const writeChunk = (chunk: Uint8Array): Promise<void> =>
    new Promise((resolve) => {
      if (req.write(chunk)) return resolve();
      const go = (): void => {
        req.off("drain", go);
        req.off("close", go);
        resolve();
      };
      req.on("drain", go);
      req.on("close", go);
    });
  const pump = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    const reader = stream.getReader();
    try {
      for (;;) {
        if (req.destroyed) {
          await reader.cancel();
          return;
        }
        const { done, value } = await reader.read();
        if (done) break;
        await writeChunk(value);
      }
    } finally {
      reader.releaseLock();
    }
  };
  if (body === undefined || body === null) {
    req.end();
  } else if (typeof body === "string") {
    req.end(body);
  } else if (body instanceof Uint8Array) {
    req.end(body);
  } else if (body instanceof ArrayBuffer) {
    req.end(new Uint8Array(body));
  } else if (body instanceof Blob) {
    await pump(body.stream() as ReadableStream<Uint8Array>);
    req.end();
  } else if (body instanceof ReadableStream) {
    await pump(body as ReadableStream<Uint8Array>);
    req.end();
  } else {
    throw new TypeError("unsupported request body");
  }
}

function byteLength(body: unknown): number | undefined {
  if (typeof body === "string") return Buffer.byteLength(body);
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) return body.byteLength;
  if (body instanceof Blob) return body.size;
  return undefined;
}

/** `fetch` over node:http(s): see the module's comment. */
export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const { http, https, agents } = await load();
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw abortReason(signal);
  const secure = url.protocol === "https:";
  if (!secure && url.protocol !== "http:") throw new TypeError(`unsupported protocol ${url.protocol}`);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => {
    headers[k] = v;
  });
  const length = byteLength(init.body);
  if (length !== undefined) headers["content-length"] = String(length);
  const options: HttpRequestOptions = {
    method: init.method ?? "GET",
    headers,
    agent: secure ? agents.https : agents.http,
  };

  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        fn();
      }
    };
    const req = (secure ? https : http).request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      const responseHeaders = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        responseHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
      }
      const noBody = options.method === "HEAD" || status === 204 || status === 205 || status === 304;
      if (noBody) res.resume();
      try {
        const response = new Response(noBody ? null : bodyStream(res, signal), {
          status,
          statusText: res.statusMessage ?? "",
          headers: responseHeaders,
        });
        settle(() => resolve(response));
      } catch (err) {
        res.destroy();
        settle(() => reject(failed(err)));
      }
    });
    const onAbort = (): void => {
      req.destroy();
      settle(() => reject(abortReason(signal as AbortSignal)));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => settle(() => reject(failed(err))));
    writeBody(req, init.body).catch((err: unknown) => {
      req.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
