/** The workspace: write/read/list/remove, binary bytes, multi-MB streams both ways, local path helpers. */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AirlockError, BadRequestError, NotFoundError } from "@airlock/sdk";
import { T, rejects, withSession } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** A stream of `total` pseudo-random bytes in 64 KiB chunks, and their hash once drained. */
function generated(total: number): { stream: ReadableStream<Uint8Array>; digest: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  let digest = "";
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= total) {
        digest = hash.digest("hex");
        c.close();
        return;
      }
      const chunk = new Uint8Array(randomBytes(Math.min(65536, total - sent)));
      hash.update(chunk);
      sent += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  return { stream, digest: () => digest };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<{ size: number; digest: string }> {
  const hash = createHash("sha256");
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    size += value.byteLength;
  }
  return { size, digest: hash.digest("hex") };
}

describe("files", () => {
  test("text and binary round trips, every kind of body", T, () =>
    withSession(async (s) => {
      assert.deepEqual(await s.files.write("notes/hello.txt", "h\u00e9llo \u{1F600}\n"), { path: "notes/hello.txt", size: 12 });
      assert.equal(await s.files.readText("notes/hello.txt"), "h\u00e9llo \u{1F600}\n");

      const every = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      assert.equal((await s.files.write("bin/all.bytes", every)).size, 512);
      assert.deepEqual(await s.files.read("bin/all.bytes"), every);

      await s.files.write("bin/buffer", every.buffer);
      assert.deepEqual(await s.files.read("bin/buffer"), every);
      await s.files.write("bin/blob", new Blob([every, "tail"]));
      assert.equal((await s.files.read("bin/blob")).byteLength, 516);
      async function* pieces(): AsyncGenerator<Uint8Array> {
        yield new TextEncoder().encode("from ");
        yield new TextEncoder().encode("an iterable");
      }
      await s.files.write("iter.txt", pieces());
      assert.equal(await s.files.readText("iter.txt"), "from an iterable");
      await s.files.write("empty", "");
      assert.equal((await s.files.read("empty")).byteLength, 0);

      // Names that need percent-encoding.
      await s.files.write("dir with space/\u00fcn\u00efc\u00f8de #1?.txt", "odd");
      assert.equal(await s.files.readText("dir with space/\u00fcn\u00efc\u00f8de #1?.txt"), "odd");

      // What the code wrote, the SDK reads; what the SDK wrote, the code reads.
      const ex = await s.runCode("open('notes/hello.txt', encoding='utf-8').read().strip() + '!'");
      assert.equal(ex.text, "'h\u00e9llo \u{1F600}!'");
      await s.runCode("open('from_code.bin', 'wb').write(bytes(range(256)))");
      assert.deepEqual(await s.files.read("from_code.bin"), every.subarray(0, 256));
    }),
  );

  test("list, remove, and the errors of each", T, () =>
    withSession(async (s) => {
      await s.files.write("d/a.txt", "a");
      await s.files.write("d/sub/b.txt", "bb");
      await s.files.write("top.txt", "top");
      const root = await s.files.list();
      assert.deepEqual(
        root.map((e) => [e.name, e.type]),
        [["d", "directory"], ["top.txt", "file"]],
      );
      const d = await s.files.list("d");
      assert.deepEqual(
        d.map((e) => [e.path, e.type, e.size]),
        [["d/a.txt", "file", 1], ["d/sub", "directory", 0]],
      );
      assert.equal(d[0]?.mode, "0644");
      assert.ok(d[0]?.mtime instanceof Date && !Number.isNaN(d[0].mtime.getTime()));

      await s.files.remove("d/a.txt");
      await rejects(s.files.read("d/a.txt"), NotFoundError, { code: "file_not_found" });
      await rejects(s.files.remove("d"), BadRequestError, { field: "recursive" });
      await s.files.remove("d", { recursive: true });
      await rejects(s.files.list("d"), NotFoundError, { code: "file_not_found" });
      // Traversal is refused by the daemon, not resolved away by the URL parser.
      await rejects(s.files.read("../etc/passwd"), BadRequestError, { field: "path" });
      await rejects(s.files.read("d/../../etc/passwd"), BadRequestError, { field: "path" });
      await rejects(s.files.write("./x", "x"), BadRequestError, { field: "path" });
      await rejects(s.files.remove(".."), AirlockError);
      await rejects(s.files.readText("nothing-here"), NotFoundError, { code: "file_not_found" });
      assert.deepEqual((await s.files.list()).map((e) => e.name), ["top.txt"]);
    }),
  );

  test("multi-MB files stream both ways without being held whole", T, () =>
    withSession(async (s) => {
      const size = 24 * 1024 * 1024 + 123;
      const up = generated(size);
      assert.deepEqual(await s.files.write("big/data.bin", up.stream), { path: "big/data.bin", size });
      const down = await drain(await s.files.stream("big/data.bin"));
      assert.equal(down.size, size);
      assert.equal(down.digest, up.digest());
      const listed = await s.files.list("big");
      assert.equal(listed[0]?.size, size);
      await rejects(s.files.stream("big/missing.bin"), NotFoundError, { code: "file_not_found" });
    }),
  );

  test("uploadFile and downloadFile between local paths and the workspace", T, () =>
    withSession(async (s) => {
      const dir = await mkdtemp(join(tmpdir(), "airlock-sdk-files-"));
      try {
        const local = join(dir, "input.bin");
        const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 7));
        await writeFile(local, bytes);
        assert.deepEqual(await s.files.uploadFile(local, "up/input.bin"), { path: "up/input.bin", size: bytes.byteLength });
        const ex = await s.runCode("import hashlib\nhashlib.sha256(open('up/input.bin', 'rb').read()).hexdigest()");
        assert.equal(ex.text, `'${sha256(bytes)}'`);

        const target = join(dir, "nested", "output.bin");
        assert.deepEqual(await s.files.downloadFile("up/input.bin", target), { path: target, size: bytes.byteLength });
        assert.equal(sha256(await readFile(target)), sha256(bytes));

        // A Node stream is an async iterable: it uploads as is.
        await s.files.write("up/from-node-stream.bin", createReadStream(local));
        assert.equal(sha256(await s.files.read("up/from-node-stream.bin")), sha256(bytes));

        const failed = join(dir, "never.bin");
        await rejects(s.files.downloadFile("up/missing.bin", failed), NotFoundError, { code: "file_not_found" });
        await assert.rejects(stat(failed), { code: "ENOENT" });
        await assert.rejects(s.files.uploadFile(join(dir, "no-such-local-file"), "x"), { code: "ENOENT" });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );
});
