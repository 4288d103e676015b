import type { RequestOptions, Transport } from "./http.js";
import {
  interpreterFromWire,
  interpreterListFromWire,
  interpreterToWire,
  keyCreateToWire,
  keyCreatedFromWire,
  keyFromWire,
  keyListFromWire,
  secretFromWire,
  secretListFromWire,
  tenantFromWire,
  tenantListFromWire,
  tenantQuotaToWire,
  type Interpreter,
  type InterpreterCreateParams,
  type InterpreterUpdateParams,
  type Key,
  type KeyCreateParams,
  type KeyCreated,
  type Secret,
  type Tenant,
  type TenantQuota,
} from "./models.js";

const enc = encodeURIComponent;

/**
 * `client.interpreters`: named session configurations (defaults and ceilings). Any key
 * reads; writing needs an admin key (`default` only the operator's).
 */
export class InterpretersAPI {
  constructor(private readonly t: Transport) {}

  async create(params: InterpreterCreateParams & RequestOptions): Promise<Interpreter> {
    return interpreterFromWire(await this.t.json({ method: "POST", path: "/v1/interpreters", json: interpreterToWire(params) }, params));
  }

  async get(name: string, opts?: RequestOptions): Promise<Interpreter> {
    return interpreterFromWire(await this.t.json({ method: "GET", path: `/v1/interpreters/${enc(name)}` }, opts));
  }

  /** The built-in interpreters and the key's tenant's own. */
  async list(opts?: RequestOptions): Promise<Interpreter[]> {
    return interpreterListFromWire(await this.t.json({ method: "GET", path: "/v1/interpreters" }, opts));
  }

  /** Changes the fields given (`limits`, `maxLimits`, `network` field by field; `env` whole). Live sessions keep theirs. */
  async update(name: string, params: InterpreterUpdateParams & RequestOptions): Promise<Interpreter> {
    const { name: _ignored, ...wire } = interpreterToWire(params);
    return interpreterFromWire(
      await this.t.json({ method: "PATCH", path: `/v1/interpreters/${enc(name)}`, json: wire, retry: "idempotent" }, params),
    );
  }

  /** Deletes an interpreter (ConflictError `interpreter_in_use` while live sessions use it). */
  async delete(name: string, opts?: RequestOptions): Promise<void> {
    await this.t.json({ method: "DELETE", path: `/v1/interpreters/${enc(name)}` }, opts);
  }
}

/** `client.keys`: API keys (admin scope). A new key's secret is shown once, in `create`'s answer. */
export class KeysAPI {
  constructor(private readonly t: Transport) {}

  async create(params: KeyCreateParams & RequestOptions = {}): Promise<KeyCreated> {
    return keyCreatedFromWire(await this.t.json({ method: "POST", path: "/v1/keys", json: keyCreateToWire(params) }, params));
  }

  /** Every key of every tenant, oldest first, revoked ones included (never a secret). */
  async list(opts?: RequestOptions): Promise<Key[]> {
    return keyListFromWire(await this.t.json({ method: "GET", path: "/v1/keys" }, opts));
  }

  async get(id: string, opts?: RequestOptions): Promise<Key> {
    return keyFromWire(await this.t.json({ method: "GET", path: `/v1/keys/${enc(id)}` }, opts));
  }

  /** Revokes a key at once (it stays listed, with `revokedAt`). */
  async revoke(id: string, opts?: RequestOptions): Promise<Key> {
    return keyFromWire(await this.t.json({ method: "DELETE", path: `/v1/keys/${enc(id)}` }, opts));
  }
}

/** `client.secrets`: the key's tenant's secrets (admin scope). Values are write-only. */
export class SecretsAPI {
  constructor(private readonly t: Transport) {}

  /** Creates or replaces a secret; sessions get it as a variable by naming it in `secrets`. */
  async set(name: string, value: string, opts?: RequestOptions): Promise<Secret> {
    return secretFromWire(
      await this.t.json({ method: "PUT", path: `/v1/secrets/${enc(name)}`, json: { value }, retry: "idempotent" }, opts),
    );
  }

  async get(name: string, opts?: RequestOptions): Promise<Secret> {
    return secretFromWire(await this.t.json({ method: "GET", path: `/v1/secrets/${enc(name)}` }, opts));
  }

  async list(opts?: RequestOptions): Promise<Secret[]> {
    return secretListFromWire(await this.t.json({ method: "GET", path: "/v1/secrets" }, opts));
  }

  async delete(name: string, opts?: RequestOptions): Promise<void> {
    await this.t.json({ method: "DELETE", path: `/v1/secrets/${enc(name)}` }, opts);
  }
}

/** `client.tenants`: quotas and use (admin scope). */
export class TenantsAPI {
  constructor(private readonly t: Transport) {}

  async list(opts?: RequestOptions): Promise<Tenant[]> {
    return tenantListFromWire(await this.t.json({ method: "GET", path: "/v1/tenants" }, opts));
  }

  async get(name: string, opts?: RequestOptions): Promise<Tenant> {
    return tenantFromWire(await this.t.json({ method: "GET", path: `/v1/tenants/${enc(name)}` }, opts));
  }

  /** Sets a tenant's quotas (applies to sessions created from now on). */
  async setQuota(name: string, quota: TenantQuota, opts?: RequestOptions): Promise<Tenant> {
    return tenantFromWire(
      await this.t.json({ method: "PUT", path: `/v1/tenants/${enc(name)}`, json: tenantQuotaToWire(quota), retry: "idempotent" }, opts),
    );
  }
}
