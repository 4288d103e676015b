/**
 * Shared by the tests: they run against a real daemon named by AIRLOCK_URL and
 * AIRLOCK_API_KEY (an admin key of a tenant of the tests' own: the interpreter, key and
 * secret tests need one), and AIRLOCK_OPERATOR_KEY (an admin key of tenant default, for
 * what only the operator may do: quotas, other tenants' keys). Without
 * them every test file fails at once, loudly; nothing is skipped.
 */
import { Airlock, type ClientOptions, type Session, type SessionCreateParams } from "@airlock/sdk";

function required(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`${name} is not set: these tests need a running airlock daemon (AIRLOCK_URL) and an admin key (AIRLOCK_API_KEY)`);
  }
  return v;
}

export const URL_ = required("AIRLOCK_URL");
export const KEY = required("AIRLOCK_API_KEY");
/** The operator's key (an admin key of tenant `default`): only it sets quotas and acts across tenants. */
export const OPERATOR_KEY = required("AIRLOCK_OPERATOR_KEY");

/** Per test: sandboxes on a shared 2-core machine can be slow, but never this slow. */
export const T = { timeout: 240_000 };

export function client(opts: ClientOptions = {}): Airlock {
  return new Airlock({ url: URL_, apiKey: KEY, ...opts });
}

/** Runs fn with a fresh session and stops it afterwards, whatever happens. */
export async function withSession<R>(fn: (s: Session) => Promise<R>, params: SessionCreateParams = {}): Promise<R> {
  const s = await client().sessions.create(params);
  try {
    return await fn(s);
  } finally {
    await s.stop().catch(() => undefined);
  }
}

/** A unique suffix for names that must not collide between runs on one daemon. */
export function unique(): string {
  return `${process.pid.toString(36)}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Asserts that p rejects with an instance of cls whose fields match `expected`; returns the error. */
export async function rejects<E extends Error>(
  p: Promise<unknown>,
  cls: abstract new (...args: never[]) => E,
  expected: Partial<Record<keyof E, unknown>> = {},
): Promise<E> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof cls)) {
      throw new Error(`expected ${cls.name}, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
    }
    for (const [k, v] of Object.entries(expected)) {
      const got = (err as unknown as Record<string, unknown>)[k];
      if (got !== v) throw new Error(`${cls.name}.${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(got)} (${err.message})`);
    }
    return err;
  }
  throw new Error(`expected ${cls.name}, but the call succeeded`);
}

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
