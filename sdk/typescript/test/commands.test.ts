/** Shell commands in the foreground and background tasks: get, wait, kill. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NotFoundError, Task } from "@airlock/sdk";
import { T, rejects, withSession } from "./helpers.js";

describe("commands and tasks", () => {
  test("a foreground command: exit code, output, cwd, env, timeout", T, () =>
    withSession(async (s) => {
      const r = await s.commands.run("echo hello; echo oops >&2; ls /workspace | wc -l; exit 3");
      assert.equal(r.exitCode, 3);
      assert.equal(r.signal, null);
      assert.equal(r.stdout, "hello\n0\n");
      assert.equal(r.stderr, "oops\n");
      assert.equal(r.timedOut, false);
      assert.equal(r.stdoutDroppedBytes, 0);

      const env = await s.commands.run('echo "$GREETING from $PWD"', { cwd: "/tmp", env: { GREETING: "hi" } });
      assert.equal(env.exitCode, 0);
      assert.equal(env.stdout, "hi from /tmp\n");

      const slow = await s.commands.run("sleep 30", { timeoutSeconds: 0.5 });
      assert.equal(slow.timedOut, true);
    }),
  );

  test("background tasks: started at once, polled, waited for, killed", T, () =>
    withSession(async (s) => {
      const ticking = await s.commands.run("for i in 1 2 3; do echo tick $i; sleep 0.1; done", { background: true });
      assert.ok(ticking instanceof Task);
      assert.match(ticking.id, /^task_[a-z0-9]{12}$/);
      assert.equal(ticking.status, "running");
      assert.equal(ticking.info, null);
      const done = await ticking.wait({ timeoutMs: 120_000 });
      assert.equal(done.status, "exited");
      assert.equal(done.exitCode, 0);
      assert.equal(done.stdout, "tick 1\ntick 2\ntick 3\n");
      assert.equal(done.command, "for i in 1 2 3; do echo tick $i; sleep 0.1; done");
      assert.ok(done.startedAt instanceof Date);
      assert.ok(ticking.done);

      const fetched = await s.tasks.get(ticking.id);
      assert.equal(fetched.info?.status, "exited");
      assert.equal(fetched.stdout, "tick 1\ntick 2\ntick 3\n");

      const sleeper = await s.commands.run("echo started; sleep 300", { background: true });
      const running = await sleeper.refresh();
      assert.equal(running.status, "running");
      const killed = await s.tasks.kill(sleeper.id);
      assert.notEqual(killed.status, "running");
      assert.equal(killed.status, "killed");
      assert.equal((await sleeper.refresh()).status, "killed");

      const other = await s.commands.run("sleep 300", { background: true });
      const final = await other.kill();
      assert.equal(final.status, "killed");

      await rejects(s.tasks.get("task_000000000000"), NotFoundError, { code: "task_not_found" });
    }),
  );
});
