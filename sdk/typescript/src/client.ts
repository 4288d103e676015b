import { InterpretersAPI, KeysAPI, SecretsAPI, TenantsAPI } from "./admin.js";
import { AirlockError, APIError } from "./errors.js";
import { Transport, type RequestOptions } from "./http.js";
import { isNode, nodeFetch } from "./node-fetch.js";
import { SessionsAPI } from "./session.js";

/** The daemon's default address (`airlock serve` listens on 127.0.0.1:8470). */
export const DEFAULT_URL = "http://127.0.0.1:8470";
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;

export interface ClientOptions {
  /** The daemon's base URL; default `AIRLOCK_URL`, else `http://127.0.0.1:8470`. */
  url?: string | undefined;
  /** The API key (`ak_....sk_...`, or the admin key of `DATA_DIR/api-key`); default `AIRLOCK_API_KEY`. */
  apiKey?: string | undefined;
  /**
   * Each request's timeout in milliseconds (default 60000; `0`: none). Executions and
   * foreground commands wait at least their own timeout plus 30 s.
   */
  timeoutMs?: number | undefined;
  /** How often a request that is safe to repeat is retried after a connection error or a 429/5xx (default 2). */
  maxRetries?: number | undefined;
  /** Headers added to every request (e.g. `X-Request-Id` or a proxy's). */
  headers?: Record<string, string> | undefined;
  /**
   * A `fetch` to use instead of the default: on Node.js one over node:http(s) without
   * undici's 300 s limits (long executions), elsewhere the global `fetch`.
   */
  fetch?: typeof fetch | undefined;
}

function env(name: string): string | undefined {
  const v = globalThis.process?.env?.[name];
  return v === undefined || v === "" ? undefined : v;
}

/**
 * The Airlock client. Its members mirror the REST API: `sessions` (and, on a session,
 * `runCode`, `files`, `commands`, `tasks`, `contexts`), `interpreters`, `keys`, `secrets`,
 * `tenants`.
 *
 * ```ts
 * const client = new Airlock();               // AIRLOCK_URL, AIRLOCK_API_KEY
 * await using session = await client.sessions.create();
 * const execution = await session.runCode("1 + 1");
 * console.log(execution.text);                // "2"
 * ```
 */
export class Airlock {
  /** The daemon's base URL. */
  readonly url: string;
  readonly sessions: SessionsAPI;
  readonly interpreters: InterpretersAPI;
  readonly keys: KeysAPI;
  readonly secrets: SecretsAPI;
  readonly tenants: TenantsAPI;
  private readonly t: Transport;

  constructor(options: ClientOptions = {}) {
    const url = options.url ?? env("AIRLOCK_URL") ?? DEFAULT_URL;
    try {
      const u = new URL(url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(u.protocol);
    } catch (err) {
      throw new AirlockError(`not an http(s) URL: ${url}`, { cause: err });
    }
    const apiKey = options.apiKey ?? env("AIRLOCK_API_KEY");
    if (apiKey === undefined) {
      throw new AirlockError("no API key: pass { apiKey } or set AIRLOCK_API_KEY (the daemon's admin key is in DATA_DIR/api-key)");
    }
    this.url = url.replace(/\/+$/, "");
    this.t = new Transport({
      baseUrl: this.url,
      apiKey,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
      fetch: options.fetch ?? (isNode() ? nodeFetch : globalThis.fetch.bind(globalThis)),
      headers: options.headers ?? {},
    });
    this.sessions = new SessionsAPI(this.t);
    this.interpreters = new InterpretersAPI(this.t);
    this.keys = new KeysAPI(this.t);
    this.secrets = new SecretsAPI(this.t);
    this.tenants = new TenantsAPI(this.t);
  }

  /** Whether the daemon can create sessions (`GET /readyz`: its sandbox launcher is connected). Needs no key. */
  async ready(opts?: RequestOptions): Promise<boolean> {
    try {
      await this.t.json({ method: "GET", path: "/readyz", anonymous: true, retry: "never" }, opts);
      return true;
    } catch (err) {
      if (err instanceof APIError && err.status === 503) return false;
      throw err;
    }
  }
}
