"""The exceptions the SDK raises.

A failure in the *user's* code is not an exception: it is ``Execution.error`` (with
``Execution.status == "error"``). These are for transport and API failures::

    AirlockError
    ├── APIConnectionError          the daemon could not be reached (or the connection broke)
    │   └── APITimeoutError         no answer within the timeout
    ├── StreamError                 an event stream ended without its final event
    └── APIError                    the daemon answered 4xx/5xx: .status_code, .code, .request_id
        ├── BadRequestError (400)           ── InvalidRequestError (invalid_request)
        ├── AuthenticationError (401)
        ├── PermissionDeniedError (403)
        ├── NotFoundError (404)             ── SessionNotFoundError, WorkspaceFileNotFoundError,
        │                                      ContextNotFoundError, TaskNotFoundError, KeyNotFoundError,
        │                                      InterpreterNotFoundError, SecretNotFoundError
        ├── MethodNotAllowedError (405)
        ├── ConflictError (409)             ── SessionEndedError, ContextExistsError, ContextProtectedError,
        │                                      InterpreterExistsError, InterpreterInUseError
        ├── PayloadTooLargeError (413)
        ├── UnsupportedMediaTypeError (415)
        ├── RateLimitError (429)            ── QuotaExceededError, TooManyTasksError
        ├── InternalServerError (5xx)       ── ServiceUnavailableError (503)
        └── WorkspaceFullError (507)

The class is chosen by the wire ``code`` first, then by the HTTP status, so a code this
version does not know still lands on its status's class.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AirlockError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContextExistsError",
    "ContextNotFoundError",
    "ContextProtectedError",
    "InternalServerError",
    "InterpreterExistsError",
    "InterpreterInUseError",
    "InterpreterNotFoundError",
    "InvalidRequestError",
    "KeyNotFoundError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "SecretNotFoundError",
    "ServiceUnavailableError",
    "SessionEndedError",
    "SessionNotFoundError",
    "StreamError",
    "TaskNotFoundError",
    "TooManyTasksError",
    "UnsupportedMediaTypeError",
    "WorkspaceFileNotFoundError",
    "WorkspaceFullError",
]


class AirlockError(Exception):
    """Everything this SDK raises."""


class APIConnectionError(AirlockError):
    """The daemon could not be reached, or the connection broke before an answer."""

    def __init__(self, message: str = "connection error") -> None:
        super().__init__(message)
        self.message = message


class APITimeoutError(APIConnectionError):
    """No answer within the request's timeout."""

    def __init__(self, message: str = "request timed out") -> None:
        super().__init__(message)


class StreamError(AirlockError):
    """An execution's event stream ended (or broke) before its final ``end`` event."""


class APIError(AirlockError):
    """The daemon answered with an error status.

    ``code`` is the stable machine-readable code (``session_not_found``), ``message`` a line
    for humans, ``field`` the input to blame when there is one, and ``request_id`` the
    ``X-Request-Id`` to quote when reporting a problem.
    """

    status_code: int = 0

    def __init__(self, *, status_code: int, code: str, message: str, field: str | None = None,
                 request_id: str | None = None, body: Any = None) -> None:
        text = "%d %s: %s" % (status_code, code, message)
        if field:
            text += " (field %s)" % field
        if request_id:
            text += " [request %s]" % request_id
        super().__init__(text)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.request_id = request_id
        self.body = body


class BadRequestError(APIError):
    status_code = 400


class InvalidRequestError(BadRequestError):
    """``invalid_request``: bad JSON, a wrong type, a value out of range, a bad path."""


class AuthenticationError(APIError):
    """``unauthorized``: a missing, wrong or revoked API key."""

    status_code = 401


class PermissionDeniedError(APIError):
    """``forbidden``: the key lacks the route's scope."""

    status_code = 403


class NotFoundError(APIError):
    """404: no such route (``not_found``) or resource."""

    status_code = 404


class SessionNotFoundError(NotFoundError):
    """No session with that id (or it is another tenant's)."""


class WorkspaceFileNotFoundError(NotFoundError):
    """Nothing at that workspace path."""


class ContextNotFoundError(NotFoundError):
    pass


class TaskNotFoundError(NotFoundError):
    pass


class KeyNotFoundError(NotFoundError):
    pass


class InterpreterNotFoundError(NotFoundError):
    pass


class SecretNotFoundError(NotFoundError):
    pass


class MethodNotAllowedError(APIError):
    status_code = 405


class ConflictError(APIError):
    status_code = 409


class SessionEndedError(ConflictError):
    """The session has ended: it runs nothing and has no files any more."""


class ContextExistsError(ConflictError):
    pass


class ContextProtectedError(ConflictError):
    pass


class InterpreterExistsError(ConflictError):
    pass


class InterpreterInUseError(ConflictError):
    pass


class PayloadTooLargeError(APIError):
    status_code = 413


class UnsupportedMediaTypeError(APIError):
    status_code = 415


class RateLimitError(APIError):
    status_code = 429


class QuotaExceededError(RateLimitError):
    """The tenant's quota of live sessions or memory would be passed."""


class TooManyTasksError(RateLimitError):
    """The session already has 64 background tasks."""


class InternalServerError(APIError):
    status_code = 500


class ServiceUnavailableError(InternalServerError):
    """The sandbox launcher is down or out of capacity; retry later."""

    status_code = 503


class WorkspaceFullError(APIError):
    """The session's workspace quota is exhausted."""

    status_code = 507


_BY_CODE: dict[str, type[APIError]] = {
    "invalid_request": InvalidRequestError,
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "session_not_found": SessionNotFoundError,
    "file_not_found": WorkspaceFileNotFoundError,
    "context_not_found": ContextNotFoundError,
    "task_not_found": TaskNotFoundError,
    "key_not_found": KeyNotFoundError,
    "interpreter_not_found": InterpreterNotFoundError,
    "secret_not_found": SecretNotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "session_ended": SessionEndedError,
    "context_exists": ContextExistsError,
    "context_protected": ContextProtectedError,
    "interpreter_exists": InterpreterExistsError,
    "interpreter_in_use": InterpreterInUseError,
    "payload_too_large": PayloadTooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "quota_exceeded": QuotaExceededError,
    "too_many_tasks": TooManyTasksError,
    "internal": InternalServerError,
    "unavailable": ServiceUnavailableError,
    "workspace_full": WorkspaceFullError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    507: WorkspaceFullError,
}


def error_class(status_code: int, code: str) -> type[APIError]:
    """The most specific class for an answer: by code when its status agrees, else by status."""
    cls = _BY_CODE.get(code)
    if cls is not None and (cls.status_code == status_code or
                            (status_code >= 500 and issubclass(cls, InternalServerError))):
        return cls
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if status_code >= 500:
        return InternalServerError
    return APIError


def make_api_error(status_code: int, body: Any, request_id: str | None) -> APIError:
    """An APIError from a status and a decoded error body (``{"error": {...}}``) or anything else."""
    code, message, field = "http_%d" % status_code, "HTTP %d" % status_code, None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
        if isinstance(err.get("field"), str):
            field = err["field"]
    elif isinstance(body, str) and body.strip():
        message = body.strip().splitlines()[0][:300]
    cls = error_class(status_code, code)
    return cls(status_code=status_code, code=code, message=message, field=field,
               request_id=request_id, body=body)
