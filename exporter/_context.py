"""The current run: its id in a contextvar, stamped as `kate.run.id` on every span started inside.

The id follows exactly the paths the OpenTelemetry context does. The run contexts that set it
live in _run_context.py.
"""

from __future__ import annotations

import contextvars
import threading
import weakref

from kate.exporter._span_upload import RUN_ID_KEY
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

_CURRENT_RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar("kate_run_id", default=None)
_STAMPED: weakref.WeakSet[SdkTracerProvider] = weakref.WeakSet()
_STAMPED_LOCK = threading.Lock()


def current_run_id() -> str | None:
    """The id of the innermost run context around the caller, or None outside any."""
    return _CURRENT_RUN.get()


def enter_run(run_id: str) -> contextvars.Token[str | None]:
    """Make `run_id` the current run until `leave_run(token)`."""
    return _CURRENT_RUN.set(run_id)


def leave_run(token: contextvars.Token[str | None]) -> None:
    _CURRENT_RUN.reset(token)


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


def flush_spans_within(timeout_s: float) -> bool:
    """Flush as `flush_spans`, waiting at most `timeout_s`; False when the flush did not finish.

    The SDK's BatchSpanProcessor ignores force_flush's timeout and exports in the caller's thread,
    so the flush runs in a thread of its own and finishes there when the exporter is slow.
    """
    done, flushed = threading.Event(), [False]

    def flush() -> None:
        flushed[0] = flush_spans(max(1, int(timeout_s * 1000)))
        done.set()

    threading.Thread(target=flush, name="kate-run-flush", daemon=True).start()
    return done.wait(timeout_s) and flushed[0]
