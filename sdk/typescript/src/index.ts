/**
 * @airlock/sdk: the TypeScript client of Airlock, the self-hosted code interpreter for AI
 * agents. See README.md for a tour.
 */
import "./polyfill.js";

export { Airlock, DEFAULT_URL, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RETRIES, type ClientOptions } from "./client.js";
export { Session, SessionsAPI, type RunCodeOptions, type StreamEvent } from "./session.js";
export { FilesAPI, encodeWorkspacePath, type FileData } from "./files.js";
export { CommandsAPI, TasksAPI, Task, type CommandOptions } from "./commands.js";
export { ContextsAPI } from "./contexts.js";
export { InterpretersAPI, KeysAPI, SecretsAPI, TenantsAPI } from "./admin.js";
export type { RequestOptions } from "./http.js";
export { nodeFetch } from "./node-fetch.js";
export { SSEDecoder, readSSE, type SSEEvent } from "./sse.js";
export {
  AirlockError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  MethodNotAllowedError,
  ConflictError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  InsufficientStorageError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  errorFromBody,
  type APIErrorInit,
} from "./errors.js";
export {
  Execution,
  Result,
  MIME,
  type KnownOr,
  type Language,
  type SessionStatus,
  type ExecutionStatus,
  type KilledReason,
  type TaskStatus,
  type Scope,
  type JSONValue,
  type Limits,
  type LimitsParams,
  type Isolation,
  type SessionInfo,
  type SessionStart,
  type StartMode,
  type SessionCreateParams,
  type ExecutionError,
  type Chart,
  type SpilledForm,
  type Image,
  type ExecuteParams,
  type Context,
  type ContextCreateParams,
  type CommandResult,
  type CommandParams,
  type TaskInfo,
  type TaskStarted,
  type FileEntry,
  type FileWritten,
  type Interpreter,
  type InterpreterCreateParams,
  type InterpreterUpdateParams,
  type Ceilings,
  type CeilingsParams,
  type Network,
  type NetworkParams,
  type Key,
  type KeyCreated,
  type KeyCreateParams,
  type Secret,
  type Tenant,
  type TenantQuota,
} from "./models.js";
export { VERSION } from "./version.js";
