/**
 * The errors the SDK throws. Everything is an {@link AirlockError}:
 *
 * - {@link APIError}: the daemon answered with an error (`{"error": {"code", "message", "field"?}}`),
 *   one subclass per HTTP status, plus the `code`, `field` and `requestId` it carried;
 * - {@link APIConnectionError}: no answer (refused, reset, DNS, a stream cut short);
 * - {@link APITimeoutError}: no answer within `timeoutMs`;
 * - {@link APIUserAbortError}: the caller's `AbortSignal` fired.
 *
 * A failure in the user's code is NOT an error here: it is data, `execution.error` with
 * `execution.status === "error"`.
 */

/** The base class of every error thrown by the SDK. */
export class AirlockError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What {@link APIError} is built from. */
export interface APIErrorInit {
  status: number;
  code: string;
  message: string;
  field?: string | undefined;
  requestId?: string | undefined;
  headers?: Headers | undefined;
  body?: unknown;
}

/** The daemon answered with an HTTP error (4xx/5xx), or an SSE stream ended with an error object. */
export class APIError extends AirlockError {
  /** The HTTP status (for an error carried by an SSE `end` event: the status its code stands for). */
  readonly status: number;
  /** The stable, machine-readable code from the body (`session_not_found`, `invalid_request`, ...). */
  readonly code: string;
  /** The input to blame, when the daemon named one (`limits.memory_mb`, `path`, ...). */
  readonly field: string | undefined;
  /** The `X-Request-Id` of the answer, to find the request in the daemon's log and audit. */
  readonly requestId: string | undefined;
  /** The answer's headers, when there was an HTTP answer. */
  readonly headers: Headers | undefined;
  /** The parsed body (or its text when it was not JSON). */
  readonly body: unknown;

  constructor(init: APIErrorInit) {
    const where = init.field !== undefined ? ` (field ${init.field})` : "";
    super(`${init.status} ${init.code}: ${init.message}${where}`);
    this.status = init.status;
    this.code = init.code;
    this.field = init.field;
    this.requestId = init.requestId;
    this.headers = init.headers;
    this.body = init.body;
  }
}

/** 400: the request is malformed (`invalid_request`). */
export class BadRequestError extends APIError {}
/** 401: missing, wrong or revoked API key (`unauthorized`). */
export class AuthenticationError extends APIError {}
/** 403: the key lacks the route's scope (`forbidden`). */
export class PermissionDeniedError extends APIError {}
/** 404: `session_not_found`, `file_not_found`, `context_not_found`, `task_not_found`, `interpreter_not_found`, ... */
export class NotFoundError extends APIError {}
/** 405: the route exists but not with this method. */
export class MethodNotAllowedError extends APIError {}
/** 409: `session_ended`, `context_exists`, `context_protected`, `interpreter_exists`, `interpreter_in_use`. */
export class ConflictError extends APIError {}
/** 413: the body or the code is over its limit (`payload_too_large`). */
export class PayloadTooLargeError extends APIError {}
/** 415: a JSON route got a body that is not JSON (`unsupported_media_type`). */
export class UnsupportedMediaTypeError extends APIError {}
/** 422: the request was understood but cannot be processed. */
export class UnprocessableEntityError extends APIError {}
/** 429: a tenant quota (`quota_exceeded`) or the session's task limit (`too_many_tasks`). */
export class RateLimitError extends APIError {}
/** 5xx: a bug in Airlock (`internal`) or the launcher is unavailable (`unavailable`). */
export class InternalServerError extends APIError {}
/** 507: the session's workspace is full (`workspace_full`). */
export class InsufficientStorageError extends InternalServerError {}

/** No (complete) answer: connection refused or reset, DNS failure, a stream cut short. */
export class APIConnectionError extends AirlockError {}

/** No answer within the request's `timeoutMs`. */
export class APITimeoutError extends APIConnectionError {
  constructor(message = "the request timed out", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The caller's `AbortSignal` fired. */
export class APIUserAbortError extends AirlockError {
  constructor(message = "the request was aborted", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The status each documented error code stands for (used for errors that arrive without one, in an SSE `end` event). */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  file_not_found: 404,
  context_not_found: 404,
  task_not_found: 404,
  key_not_found: 404,
  interpreter_not_found: 404,
  secret_not_found: 404,
  method_not_allowed: 405,
  session_ended: 409,
  context_exists: 409,
  context_protected: 409,
  interpreter_exists: 409,
  interpreter_in_use: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  quota_exceeded: 429,
  too_many_tasks: 429,
  internal: 500,
  unavailable: 503,
  workspace_full: 507,
};

/** The HTTP status a wire error code stands for, if it is a documented one. */
export function statusOfCode(code: string): number | undefined {
  return Object.hasOwn(STATUS_OF_CODE, code) ? STATUS_OF_CODE[code] : undefined;
}

/** The {@link APIError} subclass for a status. */
export function makeAPIError(init: APIErrorInit): APIError {
  switch (init.status) {
    case 400:
      return new BadRequestError(init);
    case 401:
      return new AuthenticationError(init);
    case 403:
      return new PermissionDeniedError(init);
    case 404:
      return new NotFoundError(init);
    case 405:
      return new MethodNotAllowedError(init);
    case 409:
      return new ConflictError(init);
    case 413:
      return new PayloadTooLargeError(init);
    case 415:
      return new UnsupportedMediaTypeError(init);
    case 422:
      return new UnprocessableEntityError(init);
    case 429:
      return new RateLimitError(init);
    case 507:
      return new InsufficientStorageError(init);
    default:
      return init.status >= 500 ? new InternalServerError(init) : new APIError(init);
  }
}

/**
 * Builds the error for an `{"error": {...}}` object: an HTTP error body (`status` is the
 * answer's), or the data of an SSE `end` event (`fromStream`: the stream itself was a 200,
 * so the status is the one the code stands for, when it is a documented code).
 */
export function errorFromBody(
  body: unknown,
  opts: { status: number; fromStream?: boolean; requestId?: string | undefined; headers?: Headers | undefined; fallbackMessage?: string },
): APIError {
  let code = "unknown";
  let message = opts.fallbackMessage ?? "the daemon answered with an error";
  let field: string | undefined;
  if (typeof body === "object" && body !== null && "error" in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === "object" && e !== null) {
      const o = e as Record<string, unknown>;
      if (typeof o["code"] === "string") code = o["code"];
      if (typeof o["message"] === "string") message = o["message"];
      if (typeof o["field"] === "string") field = o["field"];
    }
  }
  const status = opts.fromStream === true ? (statusOfCode(code) ?? opts.status) : opts.status;
  return makeAPIError({ status, code, message, field, requestId: opts.requestId, headers: opts.headers, body });
}
