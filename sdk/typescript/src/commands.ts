import { APIUserAbortError, APITimeoutError } from "./errors.js";
import type { RequestOptions, Transport } from "./http.js";
import {
  commandResultFromWire,
  commandToWire,
  taskInfoFromWire,
  taskStartedFromWire,
  type CommandParams,
  type CommandResult,
  type TaskInfo,
  type TaskStatus,
} from "./models.js";

/** Extra time a request waits beyond the timeout of the command or code it runs. */
export const RUN_MARGIN_MS = 30_000;

/**
 * A background task: a handle with the latest state the SDK has seen (`info`, null until
 * the first `refresh()` of a task just started) and methods to poll, wait for and stop it.
 */
export class Task {
  /** The task's id (`task_...`). */
  readonly id: string;
  private latest: TaskInfo | null;
  private startedStatus: TaskStatus;

  constructor(
    private readonly t: Transport,
    private readonly base: string,
    id: string,
    info: TaskInfo | null,
    status: TaskStatus = "running",
  ) {
    this.id = id;
    this.latest = info;
    this.startedStatus = status;
  }

  /** The last state fetched (`refresh`, `wait`, `kill`, `tasks.get`); null for a task just started. */
  get info(): TaskInfo | null {
    return this.latest;
  }
  /** `running`, `exited`, `killed` or `timed_out`, as last seen. */
  get status(): TaskStatus {
    return this.latest?.status ?? this.startedStatus;
  }
  get exitCode(): number | null {
    return this.latest?.exitCode ?? null;
  }
  get stdout(): string {
    return this.latest?.stdout ?? "";
  }
  get stderr(): string {
    return this.latest?.stderr ?? "";
  }
  /** Whether it has ended, as last seen. */
  get done(): boolean {
    return this.status !== "running";
  }

  private get path(): string {
    return `${this.base}/tasks/${encodeURIComponent(this.id)}`;
  }

  /** Fetches its state and the last 1 MiB of each stream. */
  async refresh(opts?: RequestOptions): Promise<TaskInfo> {
    this.latest = taskInfoFromWire(await this.t.json({ method: "GET", path: this.path }, opts));
    return this.latest;
  }

  /** Stops it (SIGTERM to its process group, SIGKILL 2 s later); answers with its final state. */
  async kill(opts?: RequestOptions): Promise<TaskInfo> {
    this.latest = taskInfoFromWire(await this.t.json({ method: "DELETE", path: this.path }, opts));
    return this.latest;
  }

  /**
   * Polls until the task has ended. `timeoutMs` bounds the whole wait (APITimeoutError;
   * the task goes on), `intervalMs` is the polling period (default 250 ms).
   */
  async wait(opts: { intervalMs?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskInfo> {
    const interval = opts.intervalMs ?? 250;
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const info = await this.refresh(opts.signal ? { signal: opts.signal } : {});
      if (info.status !== "running") return info;
      if (Date.now() + interval > deadline) throw new APITimeoutError(`task ${this.id} still running after ${opts.timeoutMs} ms`);
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(new APIUserAbortError("waiting for the task was aborted", { cause: opts.signal?.reason }));
        };
        const timer = setTimeout(() => {
          opts.signal?.removeEventListener("abort", onAbort);
          resolve();
        }, interval);
        if (opts.signal?.aborted) onAbort();
        else opts.signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
}

export type CommandOptions = CommandParams & RequestOptions;

/** Shell commands (`/bin/bash -c`) in the session's sandbox. */
export class CommandsAPI {
  constructor(
    private readonly t: Transport,
    private readonly base: string,
  ) {}

  /**
   * Runs a command. In the foreground (default) it answers when the command ends, with its
   * exit code and output; a non-zero exit code is data, not an error. With
   * `background: true` it answers at once with a {@link Task}. Never retried once sent.
   */
  run(command: string, opts: CommandOptions & { background: true }): Promise<Task>;
  run(command: string, opts?: CommandOptions & { background?: false | undefined }): Promise<CommandResult>;
  run(command: string, opts?: CommandOptions): Promise<CommandResult | Task>;
  async run(command: string, opts: CommandOptions = {}): Promise<CommandResult | Task> {
    const wire = await this.t.json(
      {
        method: "POST",
        path: `${this.base}/commands`,
        json: commandToWire(command, opts),
        retry: "connect",
        minTimeoutMs: opts.background === true ? undefined : (opts.timeoutSeconds ?? 60) * 1000 + RUN_MARGIN_MS,
      },
      opts,
    );
    if (opts.background === true) {
      const started = taskStartedFromWire(wire);
      return new Task(this.t, this.base, started.taskId, null, started.status);
    }
    return commandResultFromWire(wire);
  }
}

/** The session's background tasks, by id. */
export class TasksAPI {
  constructor(
    private readonly t: Transport,
    private readonly base: string,
  ) {}

  /** A task with its current state (`task.info`). */
  async get(id: string, opts?: RequestOptions): Promise<Task> {
    const task = new Task(this.t, this.base, id, null);
    await task.refresh(opts);
    return task;
  }

  /** Stops a task; answers with it in its final state. */
  async kill(id: string, opts?: RequestOptions): Promise<Task> {
    const task = new Task(this.t, this.base, id, null);
    await task.kill(opts);
    return task;
  }
}
