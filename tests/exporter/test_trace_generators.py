"""@trace on generators and async generators: the span covers the iteration, read from the SDK's
in-memory exporter."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from kate.exporter import trace
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.support.finished_spans import KIND, by_name, parent_of


def test_a_generator_span_covers_the_iteration_and_never_leaks_into_the_caller(
    memory_spans: InMemorySpanExporter,
) -> None:
    @trace(kind="TOOL")
    def fetch(i: int) -> int:
        return i

    @trace(kind="LLM")
    def stream(n: int) -> Iterator[str]:
        for i in range(n):
            fetch(i)
            yield f"tok{i} "

    assert inspect.isgeneratorfunction(stream)
    outer = otel_trace.get_tracer("test").start_span("caller")
    with otel_trace.use_span(outer, end_on_exit=True):
        for _ in stream(3):
            assert otel_trace.get_current_span() is outer  # between steps the caller's span is current
            assert not memory_spans.get_finished_spans() or all(
                s.name == "fetch" for s in memory_spans.get_finished_spans()
            )

    spans = memory_spans.get_finished_spans()
    generator = next(s for s in spans if s.name == "stream")
    fetches = [s for s in spans if s.name == "fetch"]
    assert parent_of(generator) == outer.context.span_id
    assert [parent_of(f) for f in fetches] == [generator.context.span_id] * 3
    assert generator.attributes is not None
    assert generator.attributes["output.value"] == "tok0 tok1 tok2 "
    assert generator.status.status_code is StatusCode.OK
    assert generator.start_time is not None and generator.end_time is not None
    assert all(generator.start_time <= (f.start_time or 0) <= generator.end_time for f in fetches)


def test_generator_send_throw_and_return_value_pass_through(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def accumulate() -> Iterator[int]:
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                value = 100
            if value is None:
                return
            total += value

    gen = accumulate()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.throw(ValueError("reset")) == 105
    with pytest.raises(StopIteration):
        gen.send(None)

    (span,) = memory_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.OK
    assert json.loads(str((span.attributes or {})["output.value"])) == [0, 5, 105]


def test_a_generator_closed_early_ends_its_span_with_the_partial_output(memory_spans: InMemorySpanExporter) -> None:
    closed = []

    @trace
    def endless() -> Iterator[str]:
        try:
            while True:
                yield "x"
        finally:
            closed.append(True)

    for index, _ in enumerate(endless()):
        if index == 2:
            break

    (span,) = memory_spans.get_finished_spans()
    assert closed == [True]
    assert (span.attributes or {})["output.value"] == "xxx"
    assert span.status.status_code is StatusCode.UNSET


def test_a_generator_that_raises_mid_way_records_the_error(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        list(broken())

    (span,) = memory_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RuntimeError: stream broke"
    assert (span.attributes or {})["output.value"] == "[1]"


async def test_an_async_generator_span_covers_the_iteration(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="TOOL")
    async def lookup(i: int) -> int:
        return i

    @trace(kind="LLM")
    async def stream(n: int) -> AsyncIterator[str]:
        for i in range(n):
            await lookup(i)
            yield f"chunk{i}|"

    assert inspect.isasyncgenfunction(stream)
    outer = otel_trace.get_tracer("test").start_span("caller")
    with otel_trace.use_span(outer, end_on_exit=True):
        chunks = []
        async for chunk in stream(3):
            assert otel_trace.get_current_span() is outer
            chunks.append(chunk)

    spans = memory_spans.get_finished_spans()
    generator = next(s for s in spans if s.name == "stream")
    assert chunks == ["chunk0|", "chunk1|", "chunk2|"]
    assert parent_of(generator) == outer.context.span_id
    assert [parent_of(s) for s in spans if s.name == "lookup"] == [generator.context.span_id] * 3
    assert (generator.attributes or {})["output.value"] == "chunk0|chunk1|chunk2|"
    assert generator.status.status_code is StatusCode.OK


async def test_async_generator_errors_and_early_close(memory_spans: InMemorySpanExporter) -> None:
    @trace(name="failing")
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("bad chunk")

    @trace(name="endless")
    async def endless() -> AsyncIterator[int]:
        while True:
            yield 7

    with pytest.raises(ValueError, match="bad chunk"):
        async for _ in failing():
            pass
    stream = endless()
    assert await stream.__anext__() == 7
    await stream.aclose()

    spans = by_name(memory_spans)
    assert spans["failing"].status.status_code is StatusCode.ERROR
    assert spans["failing"].status.description == "ValueError: bad chunk"
    assert spans["endless"].status.status_code is StatusCode.UNSET
    assert (spans["endless"].attributes or {})["output.value"] == "[7]"


def test_a_failed_generator_records_the_error_once_with_input_and_partial_output(
    memory_spans: InMemorySpanExporter,
) -> None:
    @trace(kind="LLM")
    def tokens(prompt: str) -> Iterator[str]:
        yield prompt
        raise TimeoutError("model timed out")

    with pytest.raises(TimeoutError):
        list(tokens("hi"))

    (span,) = memory_spans.get_finished_spans()
    attributes = span.attributes or {}
    assert (attributes["input.value"], attributes["output.value"], attributes[KIND]) == ("hi", "hi", "LLM")
    assert [event.name for event in span.events] == ["exception"]
    assert span.status.description == "TimeoutError: model timed out"
