/** Interpreters CRUD, keys, secrets and tenants (the key given to the tests is an admin key). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
} from "@airlock/sdk";
import { OPERATOR_KEY, T, client, rejects, unique } from "./helpers.js";

describe("admin", () => {
  test("interpreters: create, get, list, update, use, delete", T, async () => {
    const c = client();
    const name = `sdkts-${unique()}`.slice(0, 48);
    const created = await c.interpreters.create({
      name,
      description: "from the TypeScript SDK tests",
      ttlSeconds: 1200,
      idleTimeoutSeconds: 300,
      executionTimeoutSeconds: 20,
      limits: { memoryMb: 256, cpus: 0.5 },
      maxLimits: { memoryMb: 512, ttlSeconds: 3600 },
      network: { mode: "none" },
      env: { FROM_INTERPRETER: "yes" },
    });
    try {
      assert.equal(created.name, name);
      assert.equal(created.builtin, false);
      assert.equal(created.ttlSeconds, 1200);
      assert.equal(created.executionTimeoutSeconds, 20);
      assert.deepEqual(created.limits, { memoryMb: 256, cpus: 0.5, pids: 64, workspaceMb: 512 });
      assert.equal(created.maxLimits.memoryMb, 512);
      assert.equal(created.maxLimits.ttlSeconds, 3600);
      assert.deepEqual(created.network, { mode: "none", allowlist: [] });
      assert.deepEqual(created.env, { FROM_INTERPRETER: "yes" });
      assert.ok(created.createdAt instanceof Date);

      assert.equal((await c.interpreters.get(name)).description, "from the TypeScript SDK tests");
      const names = (await c.interpreters.list()).map((i) => i.name);
      assert.ok(names.includes("default") && names.includes(name), names.join(","));
      assert.ok((await c.interpreters.get("default")).builtin);

      assert.equal(created.start, "warm");
      const updated = await c.interpreters.update(name, { description: "changed", limits: { memoryMb: 128 }, start: "fresh" });
      assert.equal(updated.description, "changed");
      assert.equal(updated.limits.memoryMb, 128);
      assert.equal(updated.limits.cpus, 0.5, "limits are merged field by field");
      assert.equal(updated.start, "fresh");

      const s = await c.sessions.create({ interpreter: name });
      try {
        assert.equal(s.info.interpreter, name);
        assert.equal(s.info.limits.memoryMb, 128);
        assert.equal(s.info.executionTimeoutSeconds, 20);
        assert.deepEqual(s.info.start, { mode: "fresh", fromPool: false, preloaded: [] });
        await rejects(c.sessions.create({ interpreter: name, start: "warm" }), BadRequestError, { field: "start" });
        assert.equal((await s.runCode("import os\nos.environ['FROM_INTERPRETER']")).text, "'yes'");
        await rejects(c.sessions.create({ interpreter: name, limits: { memoryMb: 1024 } }), BadRequestError, {
          field: "limits.memory_mb",
        });
        await rejects(c.interpreters.delete(name), ConflictError, { code: "interpreter_in_use" });
      } finally {
        await s.stop();
      }
      await rejects(c.interpreters.create({ name }), ConflictError, { code: "interpreter_exists" });
      // an allowlist entry outside the grammar names its index
      await rejects(
        c.interpreters.create({
          name: `${name}-x`.slice(0, 48),
          network: { mode: "allowlist", allowlist: ["pypi.org:443", "*.10.0.0.1:80"] },
        }),
        BadRequestError,
        { field: "network.allowlist[1]" },
      );
      const allow = await c.interpreters.create({
        name: `${name}-a`.slice(0, 48),
        network: { mode: "allowlist", allowlist: ["pypi.org:443"] },
      });
      try {
        assert.deepEqual(allow.network, { mode: "allowlist", allowlist: ["pypi.org:443"] });
      } finally {
        await c.interpreters.delete(allow.name);
      }
    } finally {
      await c.interpreters.delete(name);
    }
    await rejects(c.interpreters.get(name), NotFoundError, { code: "interpreter_not_found" });
  });

  test("keys: create, use, get, list, revoke; scopes and tenants are enforced", T, async () => {
    const c = client();
    const key = await c.keys.create({ name: "sdk test key", scopes: ["sessions"] });
    assert.match(key.id, /^ak_[a-z0-9]{26}$/);
    assert.equal(key.token, `${key.id}.${key.secret}`);
    assert.deepEqual(key.scopes, ["sessions"]);
    assert.equal(key.revokedAt, null);
    // Without a tenant, a key of the caller's own; another tenant's keys are the operator's to make.
    const own = (await c.tenants.list()).map((t) => t.name);
    assert.deepEqual(own, [key.tenant]);
    await rejects(c.keys.create({ tenant: `sdkts-${unique()}`.toLowerCase().slice(0, 60) }), PermissionDeniedError, {
      status: 403,
      code: "forbidden",
    });

    const theirs = client({ apiKey: key.token });
    const s = await theirs.sessions.create();
    try {
      assert.equal(s.info.tenant, key.tenant);
      await rejects(theirs.keys.list(), PermissionDeniedError, { status: 403, code: "forbidden" });
    } finally {
      await s.stop();
    }

    // The operator's key makes a key of another tenant, whose sessions this tenant can't see.
    const operator = client({ apiKey: OPERATOR_KEY });
    const other = await operator.keys.create({ tenant: `sdkts-${unique()}`.toLowerCase().slice(0, 60), scopes: ["sessions"] });
    const otherClient = client({ apiKey: other.token });
    const o = await otherClient.sessions.create();
    try {
      await rejects(c.sessions.get(o.id), NotFoundError, { code: "session_not_found" });
      await rejects(c.keys.get(other.id), NotFoundError, { code: "key_not_found" });
    } finally {
      await o.stop();
      await operator.keys.revoke(other.id);
    }

    assert.equal((await c.keys.get(key.id)).name, "sdk test key");
    assert.ok((await c.keys.list()).some((k) => k.id === key.id));
    const revoked = await c.keys.revoke(key.id);
    assert.ok(revoked.revokedAt instanceof Date);
    await rejects(theirs.sessions.list(), AuthenticationError, { code: "unauthorized" });
    await rejects(c.keys.get("ak_00000000000000000000000000"), NotFoundError, { code: "key_not_found" });
  });

  test("secrets: set, get, list, delete (values are never returned)", T, async () => {
    const c = client();
    const name = `SDK_TS_${unique().toUpperCase()}`;
    const created = await c.secrets.set(name, "v1");
    assert.equal(created.name, name);
    const replaced = await c.secrets.set(name, "v2");
    assert.ok(replaced.updatedAt >= created.updatedAt);
    assert.equal((await c.secrets.get(name)).name, name);
    const listed = await c.secrets.list();
    assert.ok(listed.some((x) => x.name === name));
    assert.ok(!JSON.stringify(listed).includes("v2"));
    await c.secrets.delete(name);
    await rejects(c.secrets.get(name), NotFoundError, { code: "secret_not_found" });
  });

  test("tenants: get, list, setQuota (the operator's)", T, async () => {
    const c = client();
    const [own] = await c.tenants.list();
    assert.ok(own !== undefined);
    assert.equal((await c.tenants.get(own.name)).name, own.name);
    await rejects(c.tenants.setQuota(own.name, { maxSessions: 100000, maxMemoryMb: 16777216 }), PermissionDeniedError, {
      status: 403,
    });
    const operator = client({ apiKey: OPERATOR_KEY });
    const tenant = `sdkts-q-${unique()}`.toLowerCase().slice(0, 60);
    const set = await operator.tenants.setQuota(tenant, { maxSessions: 3, maxMemoryMb: 2048 });
    assert.deepEqual(set, { name: tenant, maxSessions: 3, maxMemoryMb: 2048, sessions: 0, memoryMb: 0 });
    assert.equal((await operator.tenants.get(tenant)).maxSessions, 3);
    assert.ok((await operator.tenants.list()).some((t) => t.name === tenant));
    await rejects(c.tenants.get(tenant), PermissionDeniedError, { status: 403 });
  });

  test("the daemon is ready", T, async () => {
    assert.equal(await client().ready(), true);
  });
});
