"""HTTP middleware: the one place errors become responses (the JSON envelope).

KateErrors render with their status, code, details and headers; aiohttp's own HTTP errors
(unknown route, wrong method, body too large) are rendered the same way; anything else is a
bug of ours: logged with its traceback and answered 500 `internal`. Routes listed under
RENDERER_KEY render every error in their own wire format (OTLP: google.rpc.Status).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from kate.collector import metrics
from kate.collector.errors import (
    BadRequest,
    KateError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorRenderer = Callable[[web.Request, KateError], web.StreamResponse]

# Routes with their own wire format for errors (OTLP answers google.rpc.Status) register here.
RENDERER_KEY = web.AppKey("kate_error_renderers", dict)
# Seconds a request body may take to arrive in full (server.body_timeout_s).
BODY_TIMEOUT_KEY = web.AppKey("kate_body_timeout_s", float)


def render_error(error: KateError) -> web.Response:
    """The JSON envelope for error, with its status and headers."""
    return web.Response(
        status=error.to_http_status(),
        text=json.dumps(error.envelope()),
        content_type="application/json",
        headers=error.headers(),
    )


def _from_http_exception(exc: web.HTTPException) -> KateError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("no such endpoint; see /openapi.json for the API")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(f"method {exc.method} not allowed here; allowed: {allowed}")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(exc.text or "request body too large")
    if isinstance(exc, web.HTTPUnsupportedMediaType):
        return UnsupportedMediaType(exc.text or "unsupported media type")
    return BadRequest(exc.reason or "bad request")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KateError as error:
        return _render(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _render(request, _from_http_exception(exc))
    except Exception:  # the request boundary: a bug of ours, never the client's fault
        logger.exception("unhandled error on %s %s", request.method, request.path)
        # Through the route's renderer: OTLP routes answer a bug of ours as retryable (503).
        return _render(request, KateError("internal error; the collector logged the details"))


def _render(request: web.Request, error: KateError) -> web.StreamResponse:
    metrics.REQUEST_ERRORS.labels("http", error.code).inc()
    renderers = request.app.get(RENDERER_KEY, {})
    route = request.match_info.route.resource
    renderer = renderers.get(route.canonical if route is not None else None)
    return renderer(request, error) if renderer else render_error(error)


class _BodyTimedOut(TimeoutError):
    """Raised by reads of a body that passed its deadline. A TimeoutError, so that aiohttp's
    lingering read of the unread rest, after the answer, stops quietly instead of logging it."""


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body still arriving after server.body_timeout_s answers 408 `request_timeout` (slow-loris).

    aiohttp bounds neither the time to receive a body nor the time a handler waits for it, so a
    client sending a byte now and then would hold a connection and a handler forever. Expiry
    makes the pending read raise; the answer then closes the connection (the body is unread).
    """
    timeout_s = request.app.get(BODY_TIMEOUT_KEY)
    if timeout_s is None or not request.body_exists or request.content.is_eof():
        return await handler(request)
    try:
        return await _with_deadline(request, handler, timeout_s)
    finally:
        if request.content.exception() is not None and not request.content.is_eof():
            # A body that failed (corrupt gzip, deadline): aiohttp's lingering read of the rest
            # would re-raise that error and log it as unhandled; a TimeoutError ends it quietly.
            request.content.set_exception(_BodyTimedOut())


async def _with_deadline(request: web.Request, handler: Handler, timeout_s: float) -> web.StreamResponse:
    expired = asyncio.Event()

    def expire() -> None:
        if not request.content.is_eof():
            expired.set()
            request.content.set_exception(_BodyTimedOut())

    timer = asyncio.get_running_loop().call_later(timeout_s, expire)
    try:
        response = await handler(request)
    except _BodyTimedOut:
        msg = f"request body not received within {timeout_s:g} s (server.body_timeout_s)"
        response = _render(request, RequestTimeout(msg))
    finally:
        timer.cancel()
    if expired.is_set():
        response.force_close()
    return response
