"""One global SDK tracer provider for the exporter tests, whose processors each test chooses.

OpenTelemetry lets a process set the global provider once, while `@trace` and run contexts use
the global one; so the provider routes every span to the processors the running test installed.
Tests that need `configure()` on a fresh process run a script in a subprocess instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from kate.exporter import KateSpanExporter
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Router(SpanProcessor):
    """Hands each span to the processors of the test that is running."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


@pytest.fixture(scope="session")
def router() -> Router:
    router = Router()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(router)  # run contexts add the RunSpanProcessor themselves
    otel_trace.set_tracer_provider(provider)
    assert otel_trace.get_tracer_provider() is provider, "another test set the global tracer provider first"
    return router


@pytest.fixture
def memory_spans(router: Router) -> Iterator[InMemorySpanExporter]:
    """The spans ended during the test, in memory."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    router.processors.append(processor)
    yield exporter
    router.processors.remove(processor)


InstallExporter = Callable[..., KateSpanExporter]


@pytest.fixture
def install_exporter(router: Router) -> Iterator[InstallExporter]:
    """Route the test's spans through a BatchSpanProcessor into a KateSpanExporter."""
    installed: list[BatchSpanProcessor] = []

    def install(endpoint: str, agent_id: str, **options: object) -> KateSpanExporter:
        exporter = KateSpanExporter(endpoint, agent_id, **options)  # type: ignore[arg-type]
        processor = BatchSpanProcessor(exporter)
        installed.append(processor)
        router.processors.append(processor)
        return exporter

    yield install
    for processor in installed:
        router.processors.remove(processor)
        processor.shutdown()
