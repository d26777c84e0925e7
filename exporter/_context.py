"""Run contexts: create a run, stamp `kate.run.id` on every span started inside, flush and complete on exit.

The run id travels in a contextvar, so it follows exactly the paths the OpenTelemetry context does.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kate.exporter._errors import KateError
from kate.exporter._models import Run
from kate.exporter._payload import cap
from kate.exporter._span_upload import RUN_ID_KEY, rfc3339
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

if TYPE_CHECKING:
    from kate.exporter._client import Runs
    from kate.exporter._sync_client import SyncRuns

logger = logging.getLogger("kate.exporter")
_CURRENT_RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar("kate_run_id", default=None)
_STAMPED: weakref.WeakSet[SdkTracerProvider] = weakref.WeakSet()
_STAMPED_LOCK = threading.Lock()
_MAX_STACK_CHARS = 16 * 1024


def current_run_id() -> str | None:
    """The id of the innermost run context around the caller, or None outside any."""
    return _CURRENT_RUN.get()


class RunSpanProcessor(SpanProcessor):
    """Stamps the current run context's id as `kate.run.id` on every span when it starts.

    `configure()` and run contexts install it on the global SDK provider; add it yourself to
    a provider you build by hand. It does no I/O and costs one contextvar read per span.
    """

    def on_start(self, span: SdkSpan, parent_context: otel_context.Context | None = None) -> None:
        run_id = _CURRENT_RUN.get()
        if run_id is not None:
            span.set_attribute(RUN_ID_KEY, run_id)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def ensure_run_stamping(provider: object | None = None) -> bool:
    """Add a RunSpanProcessor to an SDK provider (default: the global one) once; False if not SDK."""
    provider = provider if provider is not None else otel_trace.get_tracer_provider()
    if not isinstance(provider, SdkTracerProvider):
        return False
    with _STAMPED_LOCK:
        if provider not in _STAMPED:
            provider.add_span_processor(RunSpanProcessor())
            _STAMPED.add(provider)
    return True


def flush_spans(timeout_millis: int = 30000) -> bool:
    """Force-flush the global tracer provider so ended spans reach their exporters now."""
    flush = getattr(otel_trace.get_tracer_provider(), "force_flush", None)
    return bool(flush(timeout_millis)) if callable(flush) else True


def failure_span(error: BaseException, start_ns: int) -> dict[str, Any]:
    """The ERROR span that records where and why a run context failed (the run says failed too)."""
    stack = "".join(traceback.format_exception(error))[-_MAX_STACK_CHARS:]
    return {
        "node_name": "run",
        "span_kind": "CHAIN",
        "status": "ERROR",
        "status_message": failure_text(error),
        "start_time": rfc3339(start_ns),
        "end_time": rfc3339(time.time_ns()),
        "attributes": {"exception.type": type(error).__qualname__, "exception.stacktrace": stack},
    }


def failure_text(error: BaseException) -> str:
    return cap(f"{type(error).__name__}: {error}")


class RunContext:
    """`async with client.run(agent_id=..., trigger=...) as run:`; see `Client.run`."""

    def __init__(self, runs: Runs, agent_id: str, trigger: str, run_id: str | None) -> None:
        self._runs, self._agent_id, self._trigger, self._run_id = runs, agent_id, trigger, run_id
        self._token: contextvars.Token[str | None] | None = None
        self._started_ns = 0

    async def __aenter__(self) -> Run:
        ensure_run_stamping()
        run = await self._runs.create(agent_id=self._agent_id, trigger=self._trigger, run_id=self._run_id)
        self._run_id, self._started_ns = run.id, time.time_ns()
        self._token = _CURRENT_RUN.set(run.id)
        return run

    async def __aexit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _CURRENT_RUN.reset(self._token)
        await asyncio.to_thread(flush_spans)  # the SDK's flush blocks: keep it off the event loop
        if error is None:
            await self._runs.complete(agent_id=self._agent_id, run_id=str(self._run_id))
            return
        await self._record_failure(error)
        await self._runs.fail(agent_id=self._agent_id, run_id=str(self._run_id), error=failure_text(error))

    async def _record_failure(self, error: BaseException) -> None:
        try:
            await self._runs.upload_spans(
                agent_id=self._agent_id, run_id=str(self._run_id), spans=[failure_span(error, self._started_ns)]
            )
        except KateError as upload_error:
            logger.warning("Kate: could not record the failure of run %s: %s", self._run_id, upload_error)


class SyncRunContext:
    """`with kate.exporter.run(...) as run:` or `with sync_client.run(...) as run:`."""

    def __init__(
        self,
        runs: SyncRuns,
        agent_id: str,
        trigger: str,
        run_id: str | None,
        *,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._runs, self._agent_id, self._trigger, self._run_id = runs, agent_id, trigger, run_id
        self._close = close  # the client's, when the context owns it
        self._token: contextvars.Token[str | None] | None = None
        self._started_ns = 0

    def __enter__(self) -> Run:
        ensure_run_stamping()
        run = self._runs.create(agent_id=self._agent_id, trigger=self._trigger, run_id=self._run_id)
        self._run_id, self._started_ns = run.id, time.time_ns()
        self._token = _CURRENT_RUN.set(run.id)
        return run

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _CURRENT_RUN.reset(self._token)
        flush_spans()
        try:
            if error is None:
                self._runs.complete(agent_id=self._agent_id, run_id=str(self._run_id))
            else:
                self._record_failure(error)
                self._runs.fail(agent_id=self._agent_id, run_id=str(self._run_id), error=failure_text(error))
        finally:
            if self._close is not None:
                self._close()

    def _record_failure(self, error: BaseException) -> None:
        try:
            self._runs.upload_spans(
                agent_id=self._agent_id, run_id=str(self._run_id), spans=[failure_span(error, self._started_ns)]
            )
        except KateError as upload_error:
            logger.warning("Kate: could not record the failure of run %s: %s", self._run_id, upload_error)
