/**
 * The transport: one place that builds requests (base URL, bearer key, JSON), applies the
 * per-call timeout and abort signal, retries what is safe to retry, and turns error answers
 * into {@link APIError}s.
 */
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  APIUserAbortError,
  AirlockError,
  errorFromBody,
} from "./errors.js";
import { VERSION } from "./version.js";

/** Options every method takes as its last argument. */
export interface RequestOptions {
  /**
   * How long to wait for this call, in milliseconds (each attempt; `0` disables it). For a
   * JSON answer it covers the whole answer; for a streamed download, until the answer
   * starts; for a streamed execution, the whole stream. Default: the client's `timeoutMs`
   * (executions and commands wait at least their own timeout plus a margin).
   */
  timeoutMs?: number | undefined;
  /** Aborts the call (and a streamed download) when it fires: {@link APIUserAbortError}. */
  signal?: AbortSignal | undefined;
  /** Retries of this call when it is safe (default: the client's `maxRetries`). */
  maxRetries?: number | undefined;
}

/**
 * Which failures may be retried:
 * - `idempotent`: connection errors and 429/5xx answers (GET, DELETE, PUT of replayable bytes);
 * - `connect`: only a connection that was refused, so nothing was sent (POSTs that run or create something);
 * - `never`: a body that cannot be sent twice (a stream).
 */
export type RetryPolicy = "idempotent" | "connect" | "never";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export type RawBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export interface HttpRequest {
  method: Method;
  /** The path below the base URL, already percent-encoded (`/v1/sessions/...`). */
  path: string;
  query?: Record<string, string | undefined> | undefined;
  /** A JSON body (sent with `Content-Type: application/json`). */
  json?: unknown;
  /** A raw body (sent as `application/octet-stream`). */
  body?: RawBody | undefined;
  accept?: string | undefined;
  retry?: RetryPolicy | undefined;
  /** No API key (the health probes). */
  anonymous?: boolean | undefined;
  /**
   * `body`: the caller reads the answer's body within the timeout and calls `done()`;
   * `headers`: the timeout stops at the answer's headers (downloads the caller reads at its pace).
   */
  timeoutCovers?: "body" | "headers" | undefined;
  /** A floor for the timeout of this call (executions: their own timeout plus a margin). */
  minTimeoutMs?: number | undefined;
}

/** A successful (2xx) answer. Call `done()` once its body has been read (or abandoned). */
export interface HttpResponse {
  response: Response;
  requestId: string | undefined;
  /** Maps an error thrown while reading the body to the SDK's errors (timeout, abort, connection). */
  mapError(err: unknown): AirlockError;
  done(): void;
}

export interface TransportOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const INITIAL_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;
const MAX_RETRY_AFTER_MS = 60_000;

export class Transport {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly extraHeaders: Record<string, string>;

  constructor(opts: TransportOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs;
    this.maxRetries = opts.maxRetries;
    this.fetchImpl = opts.fetch;
    this.extraHeaders = opts.headers;
  }

  /** A request whose JSON answer is parsed (undefined for an empty one, e.g. 204). */
  async json(req: HttpRequest, opts?: RequestOptions): Promise<unknown> {
    const res = await this.send({ ...req, timeoutCovers: "body" }, opts);
    try {
      const text = await res.response.text();
      if (text === "") return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new AirlockError(`the daemon's answer to ${req.method} ${req.path} is not JSON: ${text.slice(0, 200)}`, {
          cause: err,
        });
      }
    } catch (err) {
      throw res.mapError(err);
    } finally {
      res.done();
    }
  }

  /** Sends a request, retrying where safe; resolves with a 2xx answer, rejects with an {@link AirlockError}. */
  async send(req: HttpRequest, opts: RequestOptions = {}): Promise<HttpResponse> {
    const userSignal = opts.signal;
    let policy: RetryPolicy = req.retry ?? (req.method === "GET" || req.method === "DELETE" ? "idempotent" : "connect");
    if (req.body instanceof ReadableStream) policy = "never";
    const maxRetries = Math.max(0, Math.floor(opts.maxRetries ?? this.maxRetries));
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(userSignal);
      let retryAfterMs: number | undefined;
      try {
        return await this.attempt(req, opts);
      } catch (err) {
        const retryable =
          attempt < maxRetries &&
          policy !== "never" &&
          ((err instanceof APIError && policy === "idempotent" && RETRY_STATUSES.has(err.status)) ||
            (err instanceof APIConnectionError &&
              !(err instanceof APITimeoutError) &&
              (policy === "idempotent" || nothingWasSent(err))));
        if (!retryable) throw err;
        if (err instanceof APIError) retryAfterMs = parseRetryAfter(err.headers?.get("retry-after") ?? null);
      }
      const backoff = Math.min(INITIAL_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS) * (1 - Math.random() * 0.25);
      await sleep(retryAfterMs ?? backoff, userSignal);
    }
  }

  private url(req: HttpRequest): string {
    let url = this.baseUrl + req.path;
    if (req.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) params.append(k, v);
      const qs = params.toString();
      if (qs !== "") url += "?" + qs;
    }
    return url;
  }

  private async attempt(req: HttpRequest, opts: RequestOptions): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      "User-Agent": `airlock-sdk-typescript/${VERSION} node/${globalThis.process?.versions?.node ?? "unknown"}`,
      Accept: req.accept ?? "application/json",
      ...this.extraHeaders,
    };
    if (!req.anonymous && this.apiKey !== undefined) headers["Authorization"] = `Bearer ${this.apiKey}`;
    let body: RawBody | undefined;
    if (req.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(req.json);
    } else if (req.body !== undefined) {
      headers["Content-Type"] = "application/octet-stream";
      body = req.body;
    }

    // One controller for the attempt, fired by the caller's signal or by the timer.
    const controller = new AbortController();
    let timedOut = false;
    let userAborted = false;
    const onUserAbort = (): void => {
      userAborted = true;
      controller.abort(opts.signal?.reason);
    };
    opts.signal?.addEventListener("abort", onUserAbort, { once: true });
    const configured = opts.timeoutMs ?? this.timeoutMs;
    const timeoutMs =
      configured > 0 && req.minTimeoutMs !== undefined && opts.timeoutMs === undefined
        ? Math.max(configured, req.minTimeoutMs)
        : configured;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new APITimeoutError(`no answer within ${timeoutMs} ms (${req.method} ${req.path})`));
      }, timeoutMs);
    }
    const clearTimer = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const done = (): void => {
      clearTimer();
      opts.signal?.removeEventListener("abort", onUserAbort);
    };
    const mapError = (err: unknown): AirlockError => {
      if (timedOut) {
        return err instanceof APITimeoutError ? err : new APITimeoutError(`no answer within ${timeoutMs} ms (${req.method} ${req.path})`, { cause: err });
      }
      if (userAborted) return new APIUserAbortError(`${req.method} ${req.path} was aborted`, { cause: opts.signal?.reason });
      if (err instanceof AirlockError) return err;
      return new APIConnectionError(`${req.method} ${this.baseUrl}${req.path} failed: ${describe(err)}`, { cause: err });
    };
    if (opts.signal?.aborted) onUserAbort();

    const init: RequestInit & { duplex?: "half" } = { method: req.method, headers, signal: controller.signal };
    if (body !== undefined) init.body = body as NonNullable<RequestInit["body"]>;
    if (body instanceof ReadableStream) init.duplex = "half";

    let response: Response;
    try {
      response = await this.fetchImpl(this.url(req), init);
    } catch (err) {
      done();
      throw mapError(err);
    }
    const requestId = response.headers.get("x-request-id") ?? undefined;
    if (!response.ok) {
      let text = "";
      try {
        text = await response.text();
      } catch (err) {
        done();
        throw mapError(err);
      }
      done();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        // not JSON (a proxy's page): kept as text
      }
      throw errorFromBody(parsed, {
        status: response.status,
        requestId,
        headers: response.headers,
        fallbackMessage: `HTTP ${response.status} ${response.statusText}`.trim(),
      });
    }
    if (req.timeoutCovers === "headers") clearTimer();
    return { response, requestId, mapError, done };
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new APIUserAbortError("the request was aborted", { cause: signal.reason });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new APIUserAbortError("the request was aborted", { cause: signal?.reason }));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreasonable. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const secs = Number(value);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

/** The error codes (from Node's sockets) that mean the request never left: safe to send again. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL", "ENETUNREACH", "EHOSTUNREACH"]);

function errorCodes(err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== "object" || err === null) return [];
  const o = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof o.code === "string" ? [o.code] : [];
  codes.push(...errorCodes(o.cause, depth + 1));
  if (Array.isArray(o.errors)) for (const e of o.errors) codes.push(...errorCodes(e, depth + 1));
  return codes;
}

function nothingWasSent(err: APIConnectionError): boolean {
  const codes = errorCodes(err.cause);
  return codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c));
}

function describe(err: unknown): string {
  const codes = errorCodes(err);
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : "";
  return [msg, cause && cause !== msg ? cause : "", codes.length ? `(${[...new Set(codes)].join(", ")})` : ""]
    .filter((s) => s !== "")
    .join(": ");
}
