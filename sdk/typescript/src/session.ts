import "./polyfill.js";
import { CommandsAPI, RUN_MARGIN_MS, TasksAPI } from "./commands.js";
import { ContextsAPI } from "./contexts.js";
import { AirlockError, APIConnectionError, NotFoundError, errorFromBody } from "./errors.js";
import { FilesAPI } from "./files.js";
import type { RequestOptions, Transport } from "./http.js";
import {
  Execution,
  Result,
  executeToWire,
  executionErrorFromWire,
  executionFromWire,
  resultFromWire,
  sessionCreateToWire,
  sessionInfoFromWire,
  sessionListFromWire,
  type ExecuteParams,
  type ExecutionError,
  type SessionCreateParams,
  type SessionInfo,
} from "./models.js";
import { readSSE, type SSEEvent } from "./sse.js";

/** One Server-Sent Event of a streamed execution, its data parsed (for `onEvent`). */
export interface StreamEvent {
  /** `stdout`, `stderr`, `result`, `error`, `end`, or a type a newer daemon added. */
  event: string;
  data: unknown;
}

/** A streaming callback; a promise it returns is awaited before the next event is handled. */
type Callback<T> = (value: T) => unknown;

/**
 * `runCode` options: what to run and how, the streaming callbacks, and the call's own
 * timeout and signal. Giving any callback makes the call stream (`Accept: text/event-stream`);
 * callbacks run in the order of the events, each awaited before the next.
 */
export interface RunCodeOptions extends ExecuteParams, RequestOptions {
  /** A piece of stdout, as it is printed (whole UTF-8 characters). */
  onStdout?: Callback<string> | undefined;
  /** A piece of stderr, as it is printed. */
  onStderr?: Callback<string> | undefined;
  /** A displayed value (`display()`, a figure, the trailing expression), as it is shown. */
  onResult?: Callback<Result> | undefined;
  /** The exception of the code, when it raises (the final execution has it too). */
  onError?: Callback<ExecutionError> | undefined;
  /** Every event, known or not, before its own callback. */
  onEvent?: Callback<StreamEvent> | undefined;
}

function parseEventData(ev: SSEEvent): unknown {
  try {
    return JSON.parse(ev.data) as unknown;
  } catch (err) {
    throw new AirlockError(`the daemon sent a '${ev.event}' event whose data is not JSON: ${ev.data.slice(0, 200)}`, { cause: err });
  }
}

function isErrorObject(data: unknown): boolean {
  if (typeof data !== "object" || data === null || "execution_id" in data) return false;
  const e = (data as { error?: unknown }).error;
  return typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string";
}

function textOf(data: unknown): string {
  const t = typeof data === "object" && data !== null ? (data as { text?: unknown }).text : undefined;
  return typeof t === "string" ? t : "";
}

/**
 * A live sandbox: run code in it, run commands, read and write its files. Made by
 * `client.sessions.create()` or `.get()`. `await using` stops it when the scope ends.
 */
export class Session {
  /** The session's id (`sess_...`). */
  readonly id: string;
  /** Its workspace. */
  readonly files: FilesAPI;
  /** Shell commands, foreground or background. */
  readonly commands: CommandsAPI;
  /** Background tasks by id. */
  readonly tasks: TasksAPI;
  /** Its code contexts (namespaces). */
  readonly contexts: ContextsAPI;
  private latest: SessionInfo;
  private readonly path: string;

  constructor(
    private readonly t: Transport,
    info: SessionInfo,
  ) {
    this.id = info.id;
    this.latest = info;
    this.path = `/v1/sessions/${encodeURIComponent(info.id)}`;
    this.files = new FilesAPI(t, this.path);
    this.commands = new CommandsAPI(t, this.path);
    this.tasks = new TasksAPI(t, this.path);
    this.contexts = new ContextsAPI(t, this.path);
  }

  /** The session as last seen (at creation, `refresh()` or `stop()`). */
  get info(): SessionInfo {
    return this.latest;
  }

  /** Fetches the session's current state (works for ended sessions too). */
  async refresh(opts?: RequestOptions): Promise<SessionInfo> {
    this.latest = sessionInfoFromWire(await this.t.json({ method: "GET", path: this.path }, opts));
    return this.latest;
  }

  /**
   * Ends the session: a running execution is killed, the workspace discarded. Stopping an
   * ended session is fine (it answers with it unchanged).
   */
  async stop(opts?: RequestOptions): Promise<SessionInfo> {
    this.latest = sessionInfoFromWire(await this.t.json({ method: "DELETE", path: this.path }, opts));
    return this.latest;
  }

  /** `await using session = ...`: stops the session at the end of the scope (a session already gone is fine). */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.stop();
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /**
   * Runs code as a notebook cell and answers with its {@link Execution} once it has
   * finished. An exception in the code is data (`status: "error"`, `error`), never thrown;
   * so are `timeout` and `killed`. What throws is the request itself failing: an
   * {@link APIError} (e.g. NotFoundError, ConflictError `session_ended`), a connection error,
   * the call's timeout or signal. Never retried once sent.
   *
   * Without callbacks the answer is one JSON object; with any of `onStdout`, `onStderr`,
   * `onResult`, `onError`, `onEvent` it streams, the callbacks run as the events arrive,
   * and the final `end` event is the Execution returned.
   */
  async runCode(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    const seconds = opts.timeoutSeconds ?? this.latest.executionTimeoutSeconds ?? 60;
    const req = {
      method: "POST" as const,
      path: `${this.path}/execute`,
      json: executeToWire(code, opts),
      retry: "connect" as const,
      minTimeoutMs: seconds * 1000 + RUN_MARGIN_MS,
    };
    const streaming =
      opts.onStdout !== undefined ||
      opts.onStderr !== undefined ||
      opts.onResult !== undefined ||
      opts.onError !== undefined ||
      opts.onEvent !== undefined;
    if (!streaming) return executionFromWire(await this.t.json(req, opts));

    const res = await this.t.send({ ...req, accept: "text/event-stream", timeoutCovers: "body" }, opts);
    try {
      const contentType = res.response.headers.get("content-type") ?? "";
      if (!contentType.toLowerCase().startsWith("text/event-stream") || res.response.body === null) {
        // A daemon (or proxy) that answered in one piece: the callbacks still see everything, in order.
        let text: string;
        try {
          text = await res.response.text();
        } catch (err) {
          throw res.mapError(err);
        }
        const execution = executionFromWire(parseEventData({ event: "end", data: text, id: undefined }));
        if (execution.stdout !== "") await this.dispatch(opts, { event: "stdout", data: { text: execution.stdout } });
        if (execution.stderr !== "") await this.dispatch(opts, { event: "stderr", data: { text: execution.stderr } });
        for (const r of execution.results) await this.dispatch(opts, { event: "result", data: r.bundle });
        if (execution.error !== null && execution.status === "error") await this.dispatch(opts, { event: "error", data: execution.error });
        return execution;
      }
      const events = readSSE(res.response.body);
      try {
        for (;;) {
          let next: IteratorResult<SSEEvent>;
          try {
            next = await events.next();
          } catch (err) {
            throw res.mapError(err);
          }
          if (next.done) break;
          const ev: StreamEvent = { event: next.value.event, data: parseEventData(next.value) };
          if (ev.event === "end") {
            if (opts.onEvent) await opts.onEvent(ev);
            if (isErrorObject(ev.data)) {
              throw errorFromBody(ev.data, { status: res.response.status, fromStream: true, requestId: res.requestId });
            }
            return executionFromWire(ev.data);
          }
          await this.dispatch(opts, ev);
        }
      } finally {
        await events.return(undefined);
      }
      throw new APIConnectionError(`the execution's event stream ended before its 'end' event (${req.path})`);
    } finally {
      res.done();
    }
  }

  private async dispatch(opts: RunCodeOptions, ev: StreamEvent): Promise<void> {
    if (opts.onEvent) await opts.onEvent(ev);
    switch (ev.event) {
      case "stdout":
        if (opts.onStdout) await opts.onStdout(textOf(ev.data));
        break;
      case "stderr":
        if (opts.onStderr) await opts.onStderr(textOf(ev.data));
        break;
      case "result":
        if (opts.onResult) await opts.onResult(resultFromWire(ev.data));
        break;
      case "error":
        if (opts.onError) await opts.onError(executionErrorFromWire(ev.data));
        break;
      default:
        // An event type this SDK does not know: `onEvent` has seen it.
        break;
    }
  }
}

/** `client.sessions`: create, find, list and stop sessions. */
export class SessionsAPI {
  constructor(private readonly t: Transport) {}

  /**
   * Creates a session (from the warm pool when the defaults are asked for) and answers when
   * it can run code. Never retried once sent (a retry could make a second session).
   */
  async create(params: SessionCreateParams & RequestOptions = {}): Promise<Session> {
    const wire = await this.t.json({ method: "POST", path: "/v1/sessions", json: sessionCreateToWire(params), retry: "connect" }, params);
    return new Session(this.t, sessionInfoFromWire(wire));
  }

  /** A session by id (ended ones too, for at least an hour): NotFoundError `session_not_found` otherwise. */
  async get(id: string, opts?: RequestOptions): Promise<Session> {
    const wire = await this.t.json({ method: "GET", path: `/v1/sessions/${encodeURIComponent(id)}` }, opts);
    return new Session(this.t, sessionInfoFromWire(wire));
  }

  /** The key's tenant's sessions that have not ended, oldest first. */
  async list(opts?: RequestOptions): Promise<Session[]> {
    const wire = await this.t.json({ method: "GET", path: "/v1/sessions" }, opts);
    return sessionListFromWire(wire).map((info) => new Session(this.t, info));
  }

  /** Ends a session by id; answers with it, ended. */
  async stop(id: string, opts?: RequestOptions): Promise<SessionInfo> {
    return sessionInfoFromWire(await this.t.json({ method: "DELETE", path: `/v1/sessions/${encodeURIComponent(id)}` }, opts));
  }
}
