"""The collector's error tree: raised where a problem is detected, rendered in one place.

Every error a client can cause is a KateError carrying its HTTP status, a stable
machine-readable code and whether retrying can help. middleware.py renders them as the JSON
envelope; the gRPC servicer maps them with to_grpc_code(). Nothing here does I/O.

    KateError
    ├── BadRequest (400 bad_request)            undecodable body, bad query parameter
    │   └── ValidationError (422 validation_error)   well-formed JSON with wrong fields
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden)
    │   └── OriginNotAllowed (403 origin_not_allowed)   a browser page of another site
    ├── NotFound (404 not_found)
    │   └── AgentNotHosted (404 agent_not_hosted)
    ├── MethodNotAllowed (405 method_not_allowed)
    ├── QueryTimeout (408 query_timeout)
    ├── RequestTimeout (408 request_timeout)   the body did not arrive within server.body_timeout_s
    ├── Conflict (409 conflict)
    │   ├── RunNotRunning (409 run_not_running)
    │   ├── RunNotFinished (409 run_not_finished)   evaluate a run that is still queued or running
    │   └── DuplicateRun (409 run_exists)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── HostNotAllowed (421 host_not_allowed)   a Host header that is not a name of this collector
    ├── RateLimited (429 rate_limited, retryable, retry_after_s)
    ├── Overloaded (503 overloaded, retryable, retry_after_s)
    ├── StoreUnavailable (503 store_unavailable)   the DuckDB file cannot be opened
    └── StoreUnreachable (503 store_unreachable, retryable)   a ClickHouse or PostgreSQL server did not answer
"""

from __future__ import annotations

from typing import Any, ClassVar

import grpc


class KateError(Exception):
    """Base of every error a request can end in. Subclasses set status and code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_http_status(self) -> int:
        return self.status

    def to_grpc_code(self) -> grpc.StatusCode:
        return _GRPC_CODES.get(self.status, grpc.StatusCode.INTERNAL)

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After and friends)."""
        return {}

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class BadRequest(KateError):
    status = 400
    code = "bad_request"


class ValidationError(BadRequest):
    """A well-formed body whose fields are wrong; details name each field path."""

    status = 422
    code = "validation_error"

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        return cls(f"{field}: {message}", details=[{"field": field, "message": message}])


class Unauthorized(KateError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="kate"'}


class Forbidden(KateError):
    status = 403
    code = "forbidden"


class OriginNotAllowed(Forbidden):
    """A browser request (Origin header) from a site other than the collector's own or those
    listed in server.allowed_origins: a cross-site request, refused before it runs."""

    code = "origin_not_allowed"


class NotFound(KateError):
    status = 404
    code = "not_found"


class AgentNotHosted(NotFound):
    code = "agent_not_hosted"


class MethodNotAllowed(KateError):
    status = 405
    code = "method_not_allowed"


class QueryTimeout(KateError):
    status = 408
    code = "query_timeout"


class RequestTimeout(KateError):
    """The client sent its body too slowly (slow-loris); the connection is closed after the answer."""

    status = 408
    code = "request_timeout"


class Conflict(KateError):
    status = 409
    code = "conflict"


class RunNotRunning(Conflict):
    code = "run_not_running"


class RunNotFinished(Conflict):
    code = "run_not_finished"


class DuplicateRun(Conflict):
    code = "run_exists"


class PayloadTooLarge(KateError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(KateError):
    status = 415
    code = "unsupported_media_type"


class HostNotAllowed(KateError):
    """The Host header names neither this collector nor server.allowed_hosts: a page that
    rebound its own DNS name to the collector's address (DNS rebinding) sends that name."""

    status = 421
    code = "host_not_allowed"


class _RetryableError(KateError):
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: int = 1,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_s = max(1, int(retry_after_s))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class RateLimited(_RetryableError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, limit: int, remaining: int = 0) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.limit = limit
        self.remaining = remaining

    def headers(self) -> dict[str, str]:
        return {
            **super().headers(),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.retry_after_s),
        }


class StoreUnreachable(_RetryableError):
    """A storage server (ClickHouse or PostgreSQL) refused, dropped or timed out a request:
    nothing was acknowledged, so a retry is safe (OTLP: 503/UNAVAILABLE)."""

    status = 503
    code = "store_unreachable"


class Overloaded(_RetryableError):
    """The write queue is full or a commit took too long: retry later (OTLP: 503/UNAVAILABLE)."""

    status = 503
    code = "overloaded"


# OTLP: transient conditions must be UNAVAILABLE (retryable), bad data INVALID_ARGUMENT.
_GRPC_CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
}


class StoreUnavailable(KateError):
    """The DuckDB file cannot be opened (another process holds it, or it is unreadable)."""

    status = 503
    code = "store_unavailable"
