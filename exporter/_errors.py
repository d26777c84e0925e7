"""The client's exception tree, and the one place an HTTP answer becomes an exception.

Pure: no I/O. Both transports (aiohttp for `Client`, http.client for the exporter and the sync
facade) call `error_from_response`, so every error carries the API's code the same way.

    KateError                code, message, status (None without an answer), details, retryable
    ├── TransportError       no answer: connection refused or reset, timed out  (transport_error)
    ├── ValidationError      400 bad_request, 413, 415, 422 validation_error (details name fields)
    ├── AuthenticationError  401 unauthorized, 403 forbidden
    ├── NotFound             404 not_found, agent_not_hosted
    ├── Conflict             409 run_exists, run_not_running
    ├── RateLimited          429 rate_limited, retry_after seconds from Retry-After
    └── ServerError          5xx; 502, 503 (overloaded, with retry_after) and 504 are retryable
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "Conflict",
    "KateError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_from_response",
]

_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})  # as the stock OTLP/HTTP exporter (facts A6)
_MAX_RETRY_AFTER_S = 3600.0


class KateError(Exception):
    """Base of every error the client raises.

    Attributes:
        code: The API's machine-readable error code (`not_found`, `run_exists`, ...), or
            `transport_error` / `http_<status>` when the answer carried none.
        message: Human-readable text, from the API when it sent one.
        status: The HTTP status, or None when no answer arrived.
        details: The API's `details` list (field paths and messages for 422).
        retry_after: Seconds the server asked to wait (Retry-After), else None.
        retryable: Whether repeating the same request later can succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        details: tuple[Mapping[str, Any], ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status in _RETRYABLE_STATUSES

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"


class TransportError(KateError):
    """No HTTP answer: the connection failed, was reset, or the timeout passed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="transport_error")

    @property
    def retryable(self) -> bool:
        return True


class ValidationError(KateError):
    """The request was refused as malformed (400, 413, 415, 422); `details` names the fields."""


class AuthenticationError(KateError):
    """The API key is missing, wrong, or not allowed for this agent (401, 403)."""


class NotFound(KateError):
    """The agent's run (or the hosted agent) does not exist (404)."""


class Conflict(KateError):
    """The run is in the wrong state or the run id is taken (409 run_not_running, run_exists)."""


class RateLimited(KateError):
    """Too many uploads for this run (429); wait `retry_after` seconds before trying again."""


class ServerError(KateError):
    """The collector failed or is overloaded (5xx); 502, 503 and 504 are worth retrying."""


_BY_STATUS: dict[int, type[KateError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFound,
    409: Conflict,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimited,
}


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> KateError:
    """The exception for an HTTP error answer, from the API's `{"error": {...}}` envelope.

    Args:
        status: The HTTP status code (400 or above).
        body: The raw response body; a non-JSON body still yields an error.
        headers: Response headers, read case-insensitively for Retry-After.

    Returns:
        The matching KateError subclass carrying code, message, details and retry_after.
    """
    code, message, details = _envelope(status, body)
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else KateError)
    return cls(message, code=code, status=status, details=details, retry_after=retry_after)


def _envelope(status: int, body: bytes) -> tuple[str, str, tuple[Mapping[str, Any], ...]]:
    fallback = (f"http_{status}", body[:200].decode("utf-8", "replace") or f"HTTP {status}", ())
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return fallback
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return fallback
    details = error.get("details")
    entries = tuple(d for d in details if isinstance(d, dict)) if isinstance(details, list) else ()
    return error["code"], str(error.get("message", "")), entries


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)
