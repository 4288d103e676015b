/** Sessions: create (defaults and every field), get, list, refresh, stop, `await using`, and the API's errors. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  APIError,
  AirlockError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  Session,
} from "@airlock/sdk";
import { KEY, T, client, rejects, unique, withSession } from "./helpers.js";

describe("sessions", () => {
  test("create with defaults, get, list, refresh, stop", T, async () => {
    const c = client();
    const s = await c.sessions.create();
    try {
      assert.match(s.id, /^sess_[a-z0-9]{26}$/);
      assert.equal(s.info.status, "ready");
      assert.equal(s.info.endedReason, null);
      assert.equal(s.info.interpreter, "default");
      assert.ok(s.info.limits.memoryMb >= 16);
      assert.ok(s.info.createdAt instanceof Date && !Number.isNaN(s.info.createdAt.getTime()));
      assert.ok(s.info.expiresAt > s.info.createdAt);
      assert.equal(typeof s.info.isolation.seccomp, "boolean");

      const got = await c.sessions.get(s.id);
      assert.ok(got instanceof Session);
      assert.equal(got.id, s.id);
      assert.equal(got.info.tenant, s.info.tenant);

      const listed = await c.sessions.list();
      assert.ok(listed.some((x) => x.id === s.id), "a live session is listed");

      const info = await s.refresh();
      assert.equal(info.id, s.id);
      assert.equal(s.info, info);
    } finally {
      const ended = await s.stop();
      assert.equal(ended.status, "ended");
      assert.equal(ended.endedReason, "deleted");
      assert.equal(s.info.status, "ended");
    }
    assert.ok(!(await c.sessions.list()).some((x) => x.id === s.id), "an ended session is not listed");
    assert.equal((await c.sessions.get(s.id)).info.status, "ended", "an ended session can still be read");
    assert.equal((await c.sessions.stop(s.id)).endedReason, "deleted", "stopping twice is fine");
    await rejects(s.runCode("1"), ConflictError, { status: 409, code: "session_ended" });
    await rejects(s.runCode("1", { onStdout: () => undefined }), ConflictError, { code: "session_ended" });
  });

  test("create with every field: TTL, idle timeout, limits, env, metadata", T, async () => {
    const c = client();
    const s = await c.sessions.create({
      ttlSeconds: 600,
      idleTimeoutSeconds: 300,
      limits: { memoryMb: 256, cpus: 0.5, pids: 128, workspaceMb: 64 },
      env: { SDK_GREETING: "hello from the sdk" },
      metadata: { agent: "sdk-ts", "with space": "ok" },
    });
    try {
      assert.equal(Math.round((s.info.expiresAt.getTime() - s.info.createdAt.getTime()) / 1000), 600);
      assert.equal(s.info.idleTimeoutSeconds, 300);
      assert.deepEqual(s.info.limits, { memoryMb: 256, cpus: 0.5, pids: 128, workspaceMb: 64 });
      assert.deepEqual(s.info.metadata, { agent: "sdk-ts", "with space": "ok" });
      const ex = await s.runCode("import os\nos.environ['SDK_GREETING']");
      assert.equal(ex.text, "'hello from the sdk'");
      assert.ok(!JSON.stringify(await s.refresh()).includes("hello from the sdk"), "env is never returned");
    } finally {
      await c.sessions.stop(s.id);
    }
  });

  test("a secret named at creation is in the sandbox's environment, by name only", T, async () => {
    const c = client();
    const name = `SDK_TS_${unique().toUpperCase()}`;
    await c.secrets.set(name, "s3cr3t-value");
    try {
      await withSession(
        async (s) => {
          assert.deepEqual(s.info.secrets, [name]);
          const ex = await s.runCode(`import os\nos.environ[${JSON.stringify(name)}]`);
          assert.equal(ex.text, "'s3cr3t-value'");
        },
        { secrets: [name] },
      );
    } finally {
      await c.secrets.delete(name);
    }
  });

  test("await using stops the session at the end of the scope", T, async () => {
    const c = client();
    let id: string;
    {
      await using s = await c.sessions.create();
      id = s.id;
      assert.equal((await s.runCode("6 * 7")).text, "42");
    }
    const after = await c.sessions.get(id);
    assert.equal(after.info.status, "ended");
    assert.equal(after.info.endedReason, "deleted");
    {
      // Disposing a session that was already stopped is fine too.
      await using s2 = await c.sessions.create();
      await s2.stop();
    }
  });

  test("errors: 404 with its code and request id, 400 naming the field, 401", T, async () => {
    const c = client();
    const e404 = await rejects(c.sessions.get("sess_doesnotexist00000000000000"), NotFoundError, {
      status: 404,
      code: "session_not_found",
    });
    assert.ok(e404 instanceof APIError && e404 instanceof AirlockError);
    assert.match(e404.requestId ?? "", /^req_[a-z0-9]+$/);
    assert.match(e404.message, /session_not_found/);

    const e400 = await rejects(c.sessions.create({ limits: { memoryMb: 8 } }), BadRequestError, {
      status: 400,
      code: "invalid_request",
      field: "limits.memory_mb",
    });
    assert.ok(e400.requestId);
    // A number where the API wants an integer: the daemon's strict parser refuses the body.
    await rejects(c.sessions.create({ ttlSeconds: 1.5 }), BadRequestError, { field: "timeout_seconds" });
    await rejects(c.sessions.create({ interpreter: "no-such-interpreter" }), BadRequestError, { field: "interpreter" });

    const bad = client({ apiKey: KEY + "x" });
    await rejects(bad.sessions.list(), AuthenticationError, { status: 401, code: "unauthorized" });
  });
});
