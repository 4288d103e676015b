import { AirlockError } from "./errors.js";
import type { HttpResponse, RawBody, RequestOptions, Transport } from "./http.js";
import { fileListFromWire, fileWrittenFromWire, type FileEntry, type FileWritten } from "./models.js";

/** What `files.write` accepts: text (written as UTF-8), bytes, a Blob, or a stream of bytes (e.g. `fs.createReadStream(...)`). */
export type FileData = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Percent-encodes a workspace path for the URL: name by name, `/` kept as the separator.
 * A path with a `.` or `..` name is sent with its `/`s encoded too (`%2F`, which the daemon
 * decodes), so that the URL parser cannot resolve the dots away and the daemon sees, and
 * refuses, the path as given. The daemon checks every path (relative, no `.`/`..`, no empty
 * name) and answers 400 with field `path` when it is not acceptable.
 */
export function encodeWorkspacePath(path: string): string {
  const names = path.split("/");
  if (!names.some((n) => n === "." || n === "..")) return names.map(encodeURIComponent).join("/");
  if (path === "." || path === "..") {
    // A URL cannot carry a lone dot segment at all (`%2E` is resolved like `.`).
    throw new AirlockError(`'${path}' is not a workspace path: relative, '/'-separated, no '.' or '..' names`);
  }
  return encodeURIComponent(path);
}

function iterableToStream(it: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = it[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await iterator.next();
      if (r.done) controller.close();
      else controller.enqueue(typeof r.value === "string" ? new TextEncoder().encode(r.value) : r.value);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}

/** Hands the body of a streamed answer to the caller, releasing the request when it ends and mapping read errors to the SDK's. */
function passThrough(res: HttpResponse): ReadableStream<Uint8Array> {
  const body = res.response.body;
  if (body === null) {
    res.done();
    return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  }
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          res.done();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        res.done();
        controller.error(res.mapError(err));
      }
    },
    async cancel(reason) {
      res.done();
      await reader.cancel(reason);
    },
  });
}

/** The session's workspace (`/workspace` in the sandbox). Paths are relative to it. */
export class FilesAPI {
  constructor(
    private readonly t: Transport,
    private readonly base: string,
  ) {}

  /**
   * Writes a file (created, or replaced whole; missing directories are made). Text is
   * written as UTF-8. Bytes, text and Blobs are retried on a connection failure; a stream
   * is sent once.
   */
  async write(path: string, data: FileData, opts?: RequestOptions): Promise<FileWritten> {
    let body: RawBody;
    if (typeof data === "string" || data instanceof Uint8Array || data instanceof ArrayBuffer || data instanceof Blob) {
      body = data;
    } else if (data instanceof ReadableStream) {
      body = data;
    } else if (typeof data === "object" && data !== null && Symbol.asyncIterator in data) {
      body = iterableToStream(data);
    } else {
      throw new TypeError("files.write: data must be a string, Uint8Array, ArrayBuffer, Blob, ReadableStream or async iterable of bytes");
    }
    const replayable = !(body instanceof ReadableStream);
    const wire = await this.t.json(
      { method: "PUT", path: `${this.base}/files/${encodeWorkspacePath(path)}`, body, retry: replayable ? "idempotent" : "never" },
      opts,
    );
    return fileWrittenFromWire(wire);
  }

  /** A file's bytes. */
  async read(path: string, opts?: RequestOptions): Promise<Uint8Array> {
    const res = await this.t.send(
      { method: "GET", path: `${this.base}/files/${encodeWorkspacePath(path)}`, accept: "application/octet-stream", timeoutCovers: "body" },
      opts,
    );
    try {
      return new Uint8Array(await res.response.arrayBuffer());
    } catch (err) {
      throw res.mapError(err);
    } finally {
      res.done();
    }
  }

  /** A file's content as text (UTF-8 by default; invalid bytes become U+FFFD). */
  async readText(path: string, opts?: RequestOptions & { encoding?: string }): Promise<string> {
    return new TextDecoder(opts?.encoding ?? "utf-8").decode(await this.read(path, opts));
  }

  /**
   * A file's bytes as a stream, for files too big to hold. The call resolves when the
   * download starts (an error such as 404 rejects it); the timeout covers only that far,
   * the signal the whole download.
   */
  async stream(path: string, opts?: RequestOptions): Promise<ReadableStream<Uint8Array>> {
    const res = await this.t.send(
      { method: "GET", path: `${this.base}/files/${encodeWorkspacePath(path)}`, accept: "application/octet-stream", timeoutCovers: "headers" },
      opts,
    );
    return passThrough(res);
  }

  /** One directory's entries (not recursive), sorted by name; the workspace itself by default. */
  async list(path = "", opts?: RequestOptions): Promise<FileEntry[]> {
    const wire = await this.t.json(
      { method: "GET", path: `${this.base}/files`, query: { path: path === "" ? undefined : path } },
      opts,
    );
    return fileListFromWire(wire);
  }

  /** Deletes a file or a symbolic link; a directory needs `recursive: true`. */
  async remove(path: string, opts?: RequestOptions & { recursive?: boolean | undefined }): Promise<void> {
    await this.t.json(
      {
        method: "DELETE",
        path: `${this.base}/files/${encodeWorkspacePath(path)}`,
        query: { recursive: opts?.recursive === true ? "true" : undefined },
      },
      opts,
    );
  }

  /** Uploads a local file (streamed from disk, never held whole). */
  async uploadFile(localPath: string, remotePath: string, opts?: RequestOptions): Promise<FileWritten> {
    const fs = await import("node:fs");
    const st = await fs.promises.stat(localPath); // ENOENT, EACCES... as Node reports them
    if (!st.isFile()) throw new AirlockError(`${localPath} is not a regular file`);
    if (typeof fs.openAsBlob === "function") {
      // A Blob backed by the file: streamed, sized, and safe to send again on a retry.
      return this.write(remotePath, await fs.openAsBlob(localPath), opts);
    }
    return this.write(remotePath, fs.createReadStream(localPath), opts);
  }

  /**
   * Downloads a file to a local path (streamed to disk; missing local directories are made).
   * A download that fails leaves no file at `localPath`. Returns the bytes written.
   */
  async downloadFile(remotePath: string, localPath: string, opts?: RequestOptions): Promise<{ path: string; size: number }> {
    const { mkdir, open, rm } = await import("node:fs/promises");
    const { dirname } = await import("node:path");
    const stream = await this.stream(remotePath, opts);
    await mkdir(dirname(localPath), { recursive: true });
    const fh = await open(localPath, "w");
    let size = 0;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let off = 0;
        while (off < value.byteLength) {
          const { bytesWritten } = await fh.write(value, off);
          off += bytesWritten;
        }
        size += value.byteLength;
      }
      await fh.close();
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      await fh.close().catch(() => undefined);
      await rm(localPath, { force: true });
      throw err instanceof AirlockError ? err : new AirlockError(`downloading ${remotePath} to ${localPath} failed`, { cause: err });
    }
    return { path: localPath, size };
  }
}
