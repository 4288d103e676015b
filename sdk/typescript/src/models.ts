/**
 * The API's objects, camelCased, and the one place where wire JSON (snake_case) becomes
 * them and request parameters become wire JSON. Written from api/openapi.yaml.
 *
 * Answers are read leniently: unknown fields are ignored (the daemon may add fields) and
 * kept in `raw` where an object has one; unknown enum values pass through as strings.
 * Requests are written strictly: a parameter left `undefined` is not sent at all (the daemon
 * refuses `null` for an optional field), and `env`/`metadata` keys are sent as given.
 */

/** A string union that still accepts values a newer daemon may add. */
export type KnownOr<T extends string> = T | (string & {});

export type Language = "python" | "javascript" | "typescript" | "bash";
export type SessionStatus = KnownOr<"ready" | "busy" | "ended">;
export type ExecutionStatus = KnownOr<"ok" | "error" | "timeout" | "killed">;
export type KilledReason = KnownOr<"oom" | "pids" | "output_limit" | "stopped" | "runner_exited">;
export type TaskStatus = KnownOr<"running" | "exited" | "killed" | "timed_out">;
export type Scope = "sessions" | "admin";

/** A JSON value, as `application/json` results and chart elements hold. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

// --- reading wire JSON ----------------------------------------------------------------------

type Wire = Record<string, unknown>;

function obj(v: unknown): Wire {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Wire) : {};
}
function str(o: Wire, k: string, def = ""): string {
  const v = o[k];
  return typeof v === "string" ? v : def;
}
function strOrNull(o: Wire, k: string): string | null {
  const v = o[k];
  return typeof v === "string" ? v : null;
}
function strOrUndef(o: Wire, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" ? v : undefined;
}
function num(o: Wire, k: string, def = 0): number {
  const v = o[k];
  return typeof v === "number" ? v : def;
}
function numOrNull(o: Wire, k: string): number | null {
  const v = o[k];
  return typeof v === "number" ? v : null;
}
function numOrUndef(o: Wire, k: string): number | undefined {
  const v = o[k];
  return typeof v === "number" ? v : undefined;
}
function bool(o: Wire, k: string, def = false): boolean {
  const v = o[k];
  return typeof v === "boolean" ? v : def;
}
function date(o: Wire, k: string): Date {
  const v = o[k];
  return new Date(typeof v === "string" ? v : NaN);
}
function dateOrNull(o: Wire, k: string): Date | null {
  const v = o[k];
  return typeof v === "string" ? new Date(v) : null;
}
function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
}
function strArr(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Drops `undefined` members, so that they are not sent (the daemon refuses `null`). */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

// --- sessions -------------------------------------------------------------------------------

/** A session's resource limits in force. */
export interface Limits {
  /** Memory of the whole sandbox in MiB, no swap. */
  memoryMb: number;
  /** CPU quota, in CPUs. */
  cpus: number;
  /** Processes and threads. */
  pids: number;
  /** Size of `/workspace` in MiB. */
  workspaceMb: number;
}

/** What actually isolates a session on this host. */
export interface Isolation {
  backend: KnownOr<"namespace" | "gvisor">;
  cgroup: KnownOr<"v1" | "v2" | "none">;
  landlockAbi: number;
  seccomp: boolean;
  uidPrivate: boolean;
  network: KnownOr<"none" | "allowlist" | "public">;
}

/** How a session's sandbox is started: `warm` (from the daemon's warm pool when it holds
 * one of the session's shape, possibly with numpy, pandas and pyplot imported) or `fresh`
 * (a sandbox started for the session alone). */
export type StartMode = "warm" | "fresh";

/** How a session's sandbox was started. */
export interface SessionStart {
  mode: KnownOr<StartMode>;
  /** Taken from the warm pool (else started for this session). */
  fromPool: boolean;
  /** The modules its runner had imported before the session's first execution. */
  preloaded: string[];
}

/** A session as the daemon describes it (`GET /v1/sessions/{id}`). */
export interface SessionInfo {
  id: string;
  tenant: string;
  interpreter: string;
  status: SessionStatus;
  createdAt: Date;
  expiresAt: Date;
  idleTimeoutSeconds: number;
  /** An execution's timeout when it names none (the interpreter's). */
  executionTimeoutSeconds: number | undefined;
  limits: Limits;
  isolation: Isolation;
  metadata: Record<string, string>;
  /** The names of the secrets set in its environment (empty when none). */
  secrets: string[];
  /** Why it ended (`deleted`, `expired`, `idle_timeout`, `oom`, ...); `null` while it is live. */
  endedReason: string | null;
  /** How its sandbox was started; undefined for sessions recorded before daemons said. */
  start: SessionStart | undefined;
}

function limitsFromWire(v: unknown): Limits {
  const o = obj(v);
  return { memoryMb: num(o, "memory_mb"), cpus: num(o, "cpus"), pids: num(o, "pids"), workspaceMb: num(o, "workspace_mb") };
}

export function sessionInfoFromWire(v: unknown): SessionInfo {
  const o = obj(v);
  const iso = obj(o["isolation"]);
  return {
    id: str(o, "id"),
    tenant: str(o, "tenant"),
    interpreter: str(o, "interpreter"),
    status: str(o, "status"),
    createdAt: date(o, "created_at"),
    expiresAt: date(o, "expires_at"),
    idleTimeoutSeconds: num(o, "idle_timeout_seconds"),
    executionTimeoutSeconds: numOrUndef(o, "execution_timeout_seconds"),
    limits: limitsFromWire(o["limits"]),
    isolation: {
      backend: str(iso, "backend"),
      cgroup: str(iso, "cgroup"),
      landlockAbi: num(iso, "landlock_abi"),
      seccomp: bool(iso, "seccomp"),
      uidPrivate: bool(iso, "uid_private"),
      network: str(iso, "network"),
    },
    metadata: strMap(o["metadata"]),
    secrets: strArr(o["secrets"]),
    endedReason: strOrNull(o, "ended_reason"),
    start: startFromWire(o["start"]),
  };
}

function startFromWire(v: unknown): SessionStart | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const o = obj(v);
  return { mode: str(o, "mode"), fromPool: bool(o, "from_pool"), preloaded: strArr(o["preloaded"]) };
}

export function sessionListFromWire(v: unknown): SessionInfo[] {
  return arr(obj(v)["sessions"]).map(sessionInfoFromWire);
}

/** Resource limits to ask for; each one left out takes the interpreter's default. */
export interface LimitsParams {
  memoryMb?: number | undefined;
  cpus?: number | undefined;
  pids?: number | undefined;
  workspaceMb?: number | undefined;
}

function limitsToWire(p: LimitsParams | undefined): Record<string, unknown> | undefined {
  if (p === undefined) return undefined;
  return compact({ memory_mb: p.memoryMb, cpus: p.cpus, pids: p.pids, workspace_mb: p.workspaceMb });
}

/** `POST /v1/sessions`: every field is optional. */
export interface SessionCreateParams {
  /** The interpreter (named configuration) to start from; default `default`. */
  interpreter?: string | undefined;
  /** Lifetime from creation, in seconds (wire `timeout_seconds`; 1-28800, default the interpreter's, 900). */
  ttlSeconds?: number | undefined;
  /** The session ends after this long without an execution or file operation (1-28800, default 900). */
  idleTimeoutSeconds?: number | undefined;
  limits?: LimitsParams | undefined;
  /** Environment variables of the sandbox (write-only: never returned). */
  env?: Record<string, string> | undefined;
  /** Your own labels, returned as given. */
  metadata?: Record<string, string> | undefined;
  /** Names of your tenant's secrets to set as variables of the same names. */
  secrets?: string[] | undefined;
  /** `fresh`: a sandbox started for this session alone, not one from the warm pool. */
  start?: StartMode | undefined;
}

export function sessionCreateToWire(p: SessionCreateParams): Record<string, unknown> {
  return compact({
    interpreter: p.interpreter,
    timeout_seconds: p.ttlSeconds,
    idle_timeout_seconds: p.idleTimeoutSeconds,
    limits: limitsToWire(p.limits),
    env: p.env,
    metadata: p.metadata,
    secrets: p.secrets,
    start: p.start,
  });
}

// --- executions -----------------------------------------------------------------------------

/** An exception in the user's code (or the interrupt's traceback of a timeout). */
export interface ExecutionError {
  /** The exception's class, e.g. `ValueError`, `SyntaxError`, `ExitStatus`, `KernelDied`. */
  name: string;
  /** Its message (`str()` of the exception). */
  value: string;
  /** The formatted traceback, one entry per chunk; user cells appear as `<cell N>`. */
  traceback: string[];
}

export function executionErrorFromWire(v: unknown): ExecutionError {
  const o = obj(v);
  return { name: str(o, "name"), value: str(o, "value"), traceback: strArr(o["traceback"]) };
}

/** What a matplotlib figure shows, as data (`application/vnd.airlock.chart+json`). */
export interface Chart {
  type: KnownOr<"line" | "scatter" | "bar" | "pie" | "box" | "composite" | "multi" | "unknown">;
  title: string | undefined;
  xLabel: string | undefined;
  yLabel: string | undefined;
  xScale: string | undefined;
  yScale: string | undefined;
  orientation: KnownOr<"vertical" | "horizontal"> | undefined;
  /**
   * The plotted data, one object per series, bar, wedge or box: `{label, points}` (line,
   * scatter; `sampled` when thinned), `{label, value, group}` (bar), `{label, value, fraction}`
   * (pie), `{label, min, q1, median, q3, max, mean, outliers}` (box).
   */
  elements: Array<Record<string, JSONValue>>;
  /** The charts of a `composite` (one axes) or `multi` (several axes) figure. */
  charts: Chart[];
  /** Why the data could not be read (the image is still there). */
  error: string | undefined;
}

export function chartFromWire(v: unknown): Chart {
  const o = obj(v);
  const orientation = strOrUndef(o, "orientation");
  return {
    type: str(o, "type", "unknown"),
    title: strOrUndef(o, "title"),
    xLabel: strOrUndef(o, "x_label"),
    yLabel: strOrUndef(o, "y_label"),
    xScale: strOrUndef(o, "x_scale"),
    yScale: strOrUndef(o, "y_scale"),
    orientation,
    elements: arr(o["elements"]).map((e) => obj(e) as Record<string, JSONValue>),
    charts: arr(o["charts"]).map(chartFromWire),
    error: strOrUndef(o, "error"),
  };
}

/** A form of a result too big to be inlined, saved whole in the workspace. */
export interface SpilledForm {
  /** The MIME type that was cut or left out. */
  mime: string;
  /** Its whole size in bytes. */
  bytes: number;
  /** Where the whole is, relative to the workspace (`session.files.read(path)`); null if it could not be saved. */
  path: string | null;
}

/** One image of an execution's results. */
export interface Image {
  mimeType: "image/png" | "image/jpeg" | "image/svg+xml";
  /** The file extension for it: `png`, `jpg` or `svg`. */
  extension: "png" | "jpg" | "svg";
  /** The image's bytes (SVG: its UTF-8 text). */
  data: Uint8Array;
  /** The index of the result it belongs to in `execution.results`. */
  resultIndex: number;
}

export const MIME = {
  text: "text/plain",
  html: "text/html",
  markdown: "text/markdown",
  latex: "text/latex",
  svg: "image/svg+xml",
  png: "image/png",
  jpeg: "image/jpeg",
  json: "application/json",
  chart: "application/vnd.airlock.chart+json",
  spilled: "application/vnd.airlock.spilled+json",
} as const;

/** base64 → bytes (the daemon's encoding of `image/png` and `image/jpeg`). */
export function fromBase64(b64: string): Uint8Array {
  if (typeof Buffer !== "undefined") {
    const b = Buffer.from(b64, "base64");
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * One displayed value: a MIME bundle (`text/plain` always, plus whatever else the value
 * offers). Typed accessors for the known forms; {@link Result.get} and {@link Result.bundle}
 * for any other.
 */
export class Result {
  /** The bundle as the daemon sent it, keyed by MIME type (images are base64 strings here). */
  readonly bundle: Readonly<Record<string, unknown>>;

  constructor(bundle: Record<string, unknown>) {
    this.bundle = bundle;
  }

  /** The MIME types this result has. */
  get formats(): string[] {
    return Object.keys(this.bundle);
  }
  /** A form by MIME type, as sent (`undefined` when absent). */
  get(mime: string): unknown {
    return Object.hasOwn(this.bundle, mime) ? this.bundle[mime] : undefined;
  }
  has(mime: string): boolean {
    return Object.hasOwn(this.bundle, mime);
  }
  private text_(mime: string): string | undefined {
    const v = this.get(mime);
    return typeof v === "string" ? v : undefined;
  }
  /** `text/plain`: always there (the value's `repr()` / `util.inspect()`). */
  get text(): string {
    return this.text_(MIME.text) ?? "";
  }
  get html(): string | undefined {
    return this.text_(MIME.html);
  }
  get markdown(): string | undefined {
    return this.text_(MIME.markdown);
  }
  get latex(): string | undefined {
    return this.text_(MIME.latex);
  }
  /** `image/svg+xml`, as text. */
  get svg(): string | undefined {
    return this.text_(MIME.svg);
  }
  /** `image/png`, decoded from base64. */
  get png(): Uint8Array | undefined {
    const b64 = this.text_(MIME.png);
    return b64 === undefined ? undefined : fromBase64(b64);
  }
  /** `image/jpeg`, decoded from base64. */
  get jpeg(): Uint8Array | undefined {
    const b64 = this.text_(MIME.jpeg);
    return b64 === undefined ? undefined : fromBase64(b64);
  }
  /** `application/json`: any JSON value (`undefined` when the result has none). */
  get json(): JSONValue | undefined {
    return this.get(MIME.json) as JSONValue | undefined;
  }
  /** `application/vnd.airlock.chart+json`: what a matplotlib figure shows, as data. */
  get chart(): Chart | undefined {
    return this.has(MIME.chart) ? chartFromWire(this.get(MIME.chart)) : undefined;
  }
  /** `application/vnd.airlock.spilled+json`: the forms too big to inline, and where they were saved. */
  get spilled(): SpilledForm[] {
    return arr(this.get(MIME.spilled)).map((v) => {
      const o = obj(v);
      return { mime: str(o, "mime"), bytes: num(o, "bytes"), path: strOrNull(o, "path") };
    });
  }
  /** The images of this result (PNG, JPEG, SVG), decoded. */
  images(resultIndex = 0): Image[] {
    const out: Image[] = [];
    const png = this.png;
    if (png) out.push({ mimeType: "image/png", extension: "png", data: png, resultIndex });
    const jpeg = this.jpeg;
    if (jpeg) out.push({ mimeType: "image/jpeg", extension: "jpg", data: jpeg, resultIndex });
    const svg = this.svg;
    if (svg !== undefined) out.push({ mimeType: "image/svg+xml", extension: "svg", data: new TextEncoder().encode(svg), resultIndex });
    return out;
  }
  toJSON(): Readonly<Record<string, unknown>> {
    return this.bundle;
  }
  toString(): string {
    return this.text;
  }
}

export function resultFromWire(v: unknown): Result {
  return new Result({ ...obj(v) });
}

/** The outcome of running code (`POST /v1/sessions/{id}/execute`). */
export class Execution {
  readonly executionId: string;
  /** `ok`, `error` (an exception in the code: see `error`), `timeout` or `killed` (see `killedReason`). */
  readonly status: ExecutionStatus;
  readonly stdout: string;
  readonly stderr: string;
  /** Bytes of stdout past the 1 MiB kept in `stdout` (0 when nothing was dropped). */
  readonly stdoutDroppedBytes: number;
  readonly stderrDroppedBytes: number;
  /** Where the whole stdout was saved in the workspace when it went past 1 MiB. */
  readonly stdoutPath: string | undefined;
  readonly stderrPath: string | undefined;
  /** The language the code ran in; `null` only for a killed execution that named no language. */
  readonly language: KnownOr<Language> | null;
  /** Displayed values, in the order they were shown (the trailing expression's value among them). */
  readonly results: Result[];
  /** The exception for `error`; the interrupt's traceback for `timeout` (when interrupted); else `null`. */
  readonly error: ExecutionError | null;
  readonly durationMs: number;
  readonly cpuSeconds: number | null;
  readonly peakMemoryBytes: number | null;
  /** This execution's number in its context, from 1. */
  readonly executionCount: number;
  /** Whether the context's variables survived. */
  readonly stateKept: boolean;
  readonly killedReason: KilledReason | null;
  /** The object as the daemon sent it (fields this SDK does not know included). */
  readonly raw: Readonly<Record<string, unknown>>;

  constructor(raw: Record<string, unknown>) {
    const o = raw;
    this.raw = raw;
    this.executionId = str(o, "execution_id");
    this.status = str(o, "status");
    this.stdout = str(o, "stdout");
    this.stderr = str(o, "stderr");
    this.stdoutDroppedBytes = num(o, "stdout_dropped_bytes");
    this.stderrDroppedBytes = num(o, "stderr_dropped_bytes");
    this.stdoutPath = strOrUndef(o, "stdout_path");
    this.stderrPath = strOrUndef(o, "stderr_path");
    this.language = strOrNull(o, "language");
    this.results = arr(o["results"]).map(resultFromWire);
    this.error = o["error"] === null || o["error"] === undefined ? null : executionErrorFromWire(o["error"]);
    this.durationMs = num(o, "duration_ms");
    this.cpuSeconds = numOrNull(o, "cpu_seconds");
    this.peakMemoryBytes = numOrNull(o, "peak_memory_bytes");
    this.executionCount = num(o, "execution_count");
    this.stateKept = bool(o, "state_kept", true);
    this.killedReason = strOrNull(o, "killed_reason");
  }

  /** `status === "ok"`. */
  get ok(): boolean {
    return this.status === "ok";
  }
  /** The `text/plain` of the last result (for `1 + 1`: `"2"`), or `null` when there is none. */
  get text(): string | null {
    const last = this.results[this.results.length - 1];
    return last === undefined ? null : last.text;
  }
  /** The error as one string (the traceback joined), or `null`. */
  get traceback(): string | null {
    return this.error === null ? null : this.error.traceback.join("");
  }
  /** Every image (PNG, JPEG, SVG) of every result, decoded, in order. */
  images(): Image[] {
    return this.results.flatMap((r, i) => r.images(i));
  }
  /** The charts (matplotlib figures as data) of the results, in order. */
  charts(): Chart[] {
    return this.results.flatMap((r) => (r.chart ? [r.chart] : []));
  }
  /**
   * Writes every image to `dir` (created if missing) as `<prefix>-<n>.<ext>`, numbered from
   * 1 in order; returns the paths written.
   */
  async saveImages(dir: string, opts: { prefix?: string } = {}): Promise<string[]> {
    const { mkdir, writeFile } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const prefix = opts.prefix ?? "image";
    await mkdir(dir, { recursive: true });
    const paths: string[] = [];
    let n = 0;
    for (const img of this.images()) {
      const p = join(dir, `${prefix}-${++n}.${img.extension}`);
      await writeFile(p, img.data);
      paths.push(p);
    }
    return paths;
  }
  toJSON(): Readonly<Record<string, unknown>> {
    return this.raw;
  }
}

export function executionFromWire(v: unknown): Execution {
  return new Execution({ ...obj(v) });
}

/** `POST /v1/sessions/{id}/execute` body fields. */
export interface ExecuteParams {
  /** `python` (default), `javascript`, `typescript` or `bash`; default: the context's language. */
  language?: Language | undefined;
  /** The context (namespace) to run in, by id or as returned by `session.contexts`; created on first use. */
  context?: string | { id: string } | undefined;
  /** Restart the context before running the code. */
  clearContext?: boolean | undefined;
  /** Wall-clock limit of this execution in seconds (0.1-3600; default the session's, 60). */
  timeoutSeconds?: number | undefined;
}

export function executeToWire(code: string, p: ExecuteParams): Record<string, unknown> {
  return compact({
    code,
    language: p.language,
    context_id: typeof p.context === "string" ? p.context : p.context?.id,
    clear_context: p.clearContext,
    timeout_seconds: p.timeoutSeconds,
  });
}

// --- contexts -------------------------------------------------------------------------------

/** One namespace of one language in a session. */
export interface Context {
  id: string;
  language: KnownOr<Language>;
  /** Executions so far in it (since its last restart). */
  executionCount: number;
}

export function contextFromWire(v: unknown): Context {
  const o = obj(v);
  return { id: str(o, "id"), language: str(o, "language"), executionCount: num(o, "execution_count") };
}

export function contextListFromWire(v: unknown): Context[] {
  return arr(obj(v)["contexts"]).map(contextFromWire);
}

export interface ContextCreateParams {
  /** `[A-Za-z0-9_-]{1,64}`; default `ctx_` and 26 random characters. */
  id?: string | undefined;
  /** Default `python`. */
  language?: Language | undefined;
}

export function contextCreateToWire(p: ContextCreateParams): Record<string, unknown> {
  return compact({ id: p.id, language: p.language });
}

// --- commands and tasks ---------------------------------------------------------------------

/** A foreground command's outcome. */
export interface CommandResult {
  /** `null` when a signal ended it. */
  exitCode: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  stdoutDroppedBytes: number;
  stderrDroppedBytes: number;
  durationMs: number;
  timedOut: boolean;
}

export function commandResultFromWire(v: unknown): CommandResult {
  const o = obj(v);
  return {
    exitCode: numOrNull(o, "exit_code"),
    signal: numOrNull(o, "signal"),
    stdout: str(o, "stdout"),
    stderr: str(o, "stderr"),
    stdoutDroppedBytes: num(o, "stdout_dropped_bytes"),
    stderrDroppedBytes: num(o, "stderr_dropped_bytes"),
    durationMs: num(o, "duration_ms"),
    timedOut: bool(o, "timed_out"),
  };
}

/** A background task's state and output (`GET /v1/sessions/{id}/tasks/{task_id}`). */
export interface TaskInfo {
  taskId: string;
  status: TaskStatus;
  exitCode: number | null;
  signal: number | null;
  /** The last 1 MiB of its stdout. */
  stdout: string;
  stderr: string;
  stdoutDroppedBytes: number;
  stderrDroppedBytes: number;
  startedAt: Date;
  durationMs: number;
  command: string;
}

export function taskInfoFromWire(v: unknown): TaskInfo {
  const o = obj(v);
  return {
    taskId: str(o, "task_id"),
    status: str(o, "status"),
    exitCode: numOrNull(o, "exit_code"),
    signal: numOrNull(o, "signal"),
    stdout: str(o, "stdout"),
    stderr: str(o, "stderr"),
    stdoutDroppedBytes: num(o, "stdout_dropped_bytes"),
    stderrDroppedBytes: num(o, "stderr_dropped_bytes"),
    startedAt: date(o, "started_at"),
    durationMs: num(o, "duration_ms"),
    command: str(o, "command"),
  };
}

/** The 202 answer of a background command. */
export interface TaskStarted {
  taskId: string;
  status: TaskStatus;
}

export function taskStartedFromWire(v: unknown): TaskStarted {
  const o = obj(v);
  return { taskId: str(o, "task_id"), status: str(o, "status", "running") };
}

/** `POST /v1/sessions/{id}/commands` body fields (besides the command). */
export interface CommandParams {
  /** Working directory: absolute, or relative to `/workspace` (the default). */
  cwd?: string | undefined;
  /** Variables added to the command's environment. */
  env?: Record<string, string> | undefined;
  /** Seconds before SIGTERM (then SIGKILL 2 s later); 0.1-86400, default 60. */
  timeoutSeconds?: number | undefined;
  /** Run in the background: the answer is a task at once. */
  background?: boolean | undefined;
}

export function commandToWire(command: string, p: CommandParams): Record<string, unknown> {
  return compact({ command, cwd: p.cwd, env: p.env, timeout_seconds: p.timeoutSeconds, background: p.background });
}

// --- files ----------------------------------------------------------------------------------

/** One entry of a workspace directory. */
export interface FileEntry {
  name: string;
  /** The entry's path relative to the workspace (the directory listed, a `/`, its name). */
  path: string;
  type: KnownOr<"file" | "directory" | "symlink" | "other">;
  /** Bytes for a file, the target's length for a symlink, 0 otherwise. */
  size: number;
  /** Permission bits in octal, e.g. `0644`. */
  mode: string;
  mtime: Date;
}

export function fileListFromWire(v: unknown): FileEntry[] {
  const o = obj(v);
  const dir = str(o, "path");
  return arr(o["entries"]).map((e) => {
    const x = obj(e);
    const name = str(x, "name");
    return {
      name,
      path: dir === "" ? name : `${dir}/${name}`,
      type: str(x, "type"),
      size: num(x, "size"),
      mode: str(x, "mode"),
      mtime: date(x, "mtime"),
    };
  });
}

/** The answer to a file write. */
export interface FileWritten {
  path: string;
  /** Bytes written. */
  size: number;
}

export function fileWrittenFromWire(v: unknown): FileWritten {
  const o = obj(v);
  return { path: str(o, "path"), size: num(o, "size") };
}

// --- interpreters ---------------------------------------------------------------------------

/** The most a session may ask for. */
export interface Ceilings extends Limits {
  /** The longest session lifetime (wire `timeout_seconds`). */
  ttlSeconds: number;
}

export interface CeilingsParams extends LimitsParams {
  ttlSeconds?: number | undefined;
}

export interface Network {
  mode: KnownOr<"none" | "allowlist" | "public">;
  allowlist: string[];
}

export interface NetworkParams {
  /** Only `none` is accepted by this daemon version. */
  mode?: "none" | "allowlist" | "public" | undefined;
  allowlist?: string[] | undefined;
}

/** A named session configuration: defaults and ceilings. */
export interface Interpreter {
  name: string;
  description: string;
  /** Built in (`default`): shared by every tenant, never deleted. */
  builtin: boolean;
  /** Sessions' default lifetime (wire `timeout_seconds`). */
  ttlSeconds: number;
  idleTimeoutSeconds: number;
  executionTimeoutSeconds: number;
  limits: Limits;
  maxLimits: Ceilings;
  network: Network;
  runtime: string;
  env: Record<string, string>;
  /** How its sessions' sandboxes are started. */
  start: KnownOr<StartMode>;
  createdAt: Date;
  updatedAt: Date;
  /** The AgentCore codeInterpreterId, for interpreters made through the AgentCore API. */
  agentcoreId: string | undefined;
}

export function interpreterFromWire(v: unknown): Interpreter {
  const o = obj(v);
  const ml = obj(o["max_limits"]);
  const net = obj(o["network"]);
  return {
    name: str(o, "name"),
    description: str(o, "description"),
    builtin: bool(o, "builtin"),
    ttlSeconds: num(o, "timeout_seconds"),
    idleTimeoutSeconds: num(o, "idle_timeout_seconds"),
    executionTimeoutSeconds: num(o, "execution_timeout_seconds"),
    limits: limitsFromWire(o["limits"]),
    maxLimits: { ...limitsFromWire(ml), ttlSeconds: num(ml, "timeout_seconds") },
    network: { mode: str(net, "mode", "none"), allowlist: strArr(net["allowlist"]) },
    runtime: str(o, "runtime"),
    env: strMap(o["env"]),
    start: str(o, "start", "warm"),
    createdAt: date(o, "created_at"),
    updatedAt: date(o, "updated_at"),
    agentcoreId: strOrUndef(o, "agentcore_id"),
  };
}

export function interpreterListFromWire(v: unknown): Interpreter[] {
  return arr(obj(v)["interpreters"]).map(interpreterFromWire);
}

/** `PATCH /v1/interpreters/{name}`: the fields given replace the current ones (limits, maxLimits and network field by field; env whole). */
export interface InterpreterUpdateParams {
  description?: string | undefined;
  /** Sessions' default lifetime in seconds (wire `timeout_seconds`). */
  ttlSeconds?: number | undefined;
  idleTimeoutSeconds?: number | undefined;
  /** An execution's timeout when it names none. */
  executionTimeoutSeconds?: number | undefined;
  limits?: LimitsParams | undefined;
  maxLimits?: CeilingsParams | undefined;
  network?: NetworkParams | undefined;
  runtime?: "default" | undefined;
  env?: Record<string, string> | undefined;
  /** `fresh`: every session in a sandbox started for it alone (never the warm pool). */
  start?: StartMode | undefined;
}

/** `POST /v1/interpreters`. */
export interface InterpreterCreateParams extends InterpreterUpdateParams {
  /** `^[A-Za-z][A-Za-z0-9_-]{0,47}$`. */
  name: string;
}

export function interpreterToWire(p: InterpreterUpdateParams & { name?: string | undefined }): Record<string, unknown> {
  return compact({
    name: p.name,
    description: p.description,
    timeout_seconds: p.ttlSeconds,
    idle_timeout_seconds: p.idleTimeoutSeconds,
    execution_timeout_seconds: p.executionTimeoutSeconds,
    limits: limitsToWire(p.limits),
    max_limits:
      p.maxLimits === undefined ? undefined : { ...limitsToWire(p.maxLimits), ...compact({ timeout_seconds: p.maxLimits.ttlSeconds }) },
    network: p.network === undefined ? undefined : compact({ mode: p.network.mode, allowlist: p.network.allowlist }),
    runtime: p.runtime,
    env: p.env,
    start: p.start,
  });
}

// --- keys, secrets, tenants -----------------------------------------------------------------

/** An API key (never its secret, except in {@link KeyCreated}). */
export interface Key {
  id: string;
  tenant: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** A new key, with its secret and token: shown this once. */
export interface KeyCreated extends Key {
  secret: string;
  /** `id.secret`: what to pass as `apiKey`. */
  token: string;
}

export function keyFromWire(v: unknown): Key {
  const o = obj(v);
  return {
    id: str(o, "id"),
    tenant: str(o, "tenant"),
    name: str(o, "name"),
    scopes: strArr(o["scopes"]) as Scope[],
    createdAt: date(o, "created_at"),
    revokedAt: dateOrNull(o, "revoked_at"),
    lastUsedAt: dateOrNull(o, "last_used_at"),
  };
}

export function keyCreatedFromWire(v: unknown): KeyCreated {
  const o = obj(v);
  return { ...keyFromWire(v), secret: str(o, "secret"), token: str(o, "token") };
}

export function keyListFromWire(v: unknown): Key[] {
  return arr(obj(v)["keys"]).map(keyFromWire);
}

export interface KeyCreateParams {
  /** Default `default`. */
  tenant?: string | undefined;
  /** What the key is for. */
  name?: string | undefined;
  /** Default `["sessions"]`. */
  scopes?: Scope[] | undefined;
}

export function keyCreateToWire(p: KeyCreateParams): Record<string, unknown> {
  return compact({ tenant: p.tenant, name: p.name, scopes: p.scopes });
}

/** A secret's name and times (never its value). */
export interface Secret {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

export function secretFromWire(v: unknown): Secret {
  const o = obj(v);
  return { name: str(o, "name"), createdAt: date(o, "created_at"), updatedAt: date(o, "updated_at") };
}

export function secretListFromWire(v: unknown): Secret[] {
  return arr(obj(v)["secrets"]).map(secretFromWire);
}

/** A tenant's quotas and what it uses now. */
export interface Tenant {
  name: string;
  maxSessions: number;
  maxMemoryMb: number;
  /** Live sessions now. */
  sessions: number;
  /** Their memory limits added up. */
  memoryMb: number;
}

export function tenantFromWire(v: unknown): Tenant {
  const o = obj(v);
  return {
    name: str(o, "name"),
    maxSessions: num(o, "max_sessions"),
    maxMemoryMb: num(o, "max_memory_mb"),
    sessions: num(o, "sessions"),
    memoryMb: num(o, "memory_mb"),
  };
}

export function tenantListFromWire(v: unknown): Tenant[] {
  return arr(obj(v)["tenants"]).map(tenantFromWire);
}

export interface TenantQuota {
  maxSessions: number;
  maxMemoryMb: number;
}

export function tenantQuotaToWire(p: TenantQuota): Record<string, unknown> {
  return { max_sessions: p.maxSessions, max_memory_mb: p.maxMemoryMb };
}
