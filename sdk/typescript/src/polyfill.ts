/**
 * `Symbol.asyncDispose` for runtimes that lack it (Node 20 before 20.4), so that
 * `await using session = await client.sessions.create()` works everywhere: TypeScript's
 * downlevelled `await using` looks the symbol up at run time.
 */
const S = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol };
S.asyncDispose ??= Symbol.for("Symbol.asyncDispose");
S.dispose ??= Symbol.for("Symbol.dispose");

export {};
