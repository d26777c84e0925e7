"""The tracer `@trace` uses: the global provider's, or the one a benchmark put in its place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kate.exporter import trace
from kate.exporter._tracer import SCOPE, current_tracer, use_tracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture
def own_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider, memory
    use_tracer(None)
    provider.shutdown()


def test_spans_come_from_the_global_provider_under_the_exporter_scope(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def step() -> None: ...

    step()

    (span,) = memory_spans.get_finished_spans()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == SCOPE
    assert current_tracer() is current_tracer()  # looked up once, then kept


def test_use_tracer_redirects_spans_until_reset(
    memory_spans: InMemorySpanExporter, own_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, own_memory = own_provider

    @trace
    def step() -> None: ...

    use_tracer(provider.get_tracer("bench"))
    step()
    use_tracer(None)
    step()

    assert len(own_memory.get_finished_spans()) == 1
    assert len(memory_spans.get_finished_spans()) == 1

