"""The tracer `@trace` starts its spans with, looked up once rather than on every call.

OpenTelemetry sets the global tracer provider at most once per process, so once it is set its
tracer for this scope never changes. Until then spans go to the API's proxy tracer (no-op).
"""

from __future__ import annotations

from opentelemetry import trace as otel_trace
from opentelemetry.trace import ProxyTracerProvider, Tracer

__all__ = ["SCOPE", "current_tracer", "use_tracer"]

SCOPE = "kate.exporter"
_proxy = otel_trace.get_tracer(SCOPE)
_resolved: Tracer | None = None


def current_tracer() -> Tracer:
    """The global provider's tracer once a provider is set, else the proxy tracer."""
    return _resolved if _resolved is not None else _look_up()


def _look_up() -> Tracer:
    global _resolved
    if isinstance(otel_trace.get_tracer_provider(), ProxyTracerProvider):
        return _proxy  # no provider yet: the proxy follows one when it is set
    _resolved = otel_trace.get_tracer(SCOPE)
    return _resolved


def use_tracer(tracer: Tracer | None) -> None:
    """Start `@trace` spans with `tracer` (None: the global provider's again).

    For benchmarks and tests that build their own providers: the global one can be set only once.
    """
    global _resolved
    _resolved = tracer
