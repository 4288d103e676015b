import type { RequestOptions, Transport } from "./http.js";
import {
  contextCreateToWire,
  contextFromWire,
  contextListFromWire,
  type Context,
  type ContextCreateParams,
} from "./models.js";

type ContextRef = string | { id: string };

function idOf(ctx: ContextRef): string {
  return encodeURIComponent(typeof ctx === "string" ? ctx : ctx.id);
}

/**
 * A session's contexts: separate namespaces of one language each, sharing the workspace.
 * `runCode(code, { context })` runs in one; an execution naming no context runs in its
 * language's default one (`default` for Python, `javascript`, `typescript`, `bash`).
 */
export class ContextsAPI {
  constructor(
    private readonly t: Transport,
    private readonly base: string,
  ) {}

  /** Creates an empty context (Python unless `language` says otherwise; id `ctx_...` unless given). */
  async create(params: ContextCreateParams & RequestOptions = {}): Promise<Context> {
    return contextFromWire(await this.t.json({ method: "POST", path: `${this.base}/contexts`, json: contextCreateToWire(params) }, params));
  }

  /** Every context of the session, oldest first (the Python `default` always). */
  async list(opts?: RequestOptions): Promise<Context[]> {
    return contextListFromWire(await this.t.json({ method: "GET", path: `${this.base}/contexts` }, opts));
  }

  async get(context: ContextRef, opts?: RequestOptions): Promise<Context> {
    return contextFromWire(await this.t.json({ method: "GET", path: `${this.base}/contexts/${idOf(context)}` }, opts));
  }

  /** Deletes a context and its state (the Python `default` one can't be: ConflictError `context_protected`). */
  async delete(context: ContextRef, opts?: RequestOptions): Promise<void> {
    await this.t.json({ method: "DELETE", path: `${this.base}/contexts/${idOf(context)}` }, opts);
  }

  /** Drops a context's state; its execution count starts again. */
  async restart(context: ContextRef, opts?: RequestOptions): Promise<Context> {
    return contextFromWire(
      await this.t.json({ method: "POST", path: `${this.base}/contexts/${idOf(context)}/restart`, retry: "connect" }, opts),
    );
  }
}
