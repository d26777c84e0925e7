"""@trace on functions, coroutines, generators and async generators, read from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import inspect
import json
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from kate.exporter import trace
from kate.exporter._tracer import use_tracer
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

KIND = "openinference.span.kind"


def by_name(memory: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in memory.get_finished_spans()}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def test_a_function_call_becomes_a_span_with_openinference_attributes(memory_spans: InMemorySpanExporter) -> None:
    @trace(name="lookup", kind="tool")
    def search(query: str, limit: int = 3) -> dict[str, object]:
        return {"hits": [query] * limit}

    assert search("kate", limit=2) == {"hits": ["kate", "kate"]}

    (span,) = memory_spans.get_finished_spans()
    assert span.name == "lookup"
    assert span.attributes is not None
    assert span.attributes[KIND] == "TOOL"
    assert json.loads(str(span.attributes["input.value"])) == {"query": "kate", "limit": 2}
    assert span.attributes["input.mime_type"] == "application/json"
    assert json.loads(str(span.attributes["output.value"])) == {"hits": ["kate", "kate"]}
    assert span.attributes["output.mime_type"] == "application/json"
    assert span.status.status_code is StatusCode.OK


def test_bare_decorator_uses_the_function_name_text_input_and_chain_kind(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def answer(question: str) -> str:
        return f"echo {question}"

    answer("why?")

    span = by_name(memory_spans)["answer"]
    assert span.attributes is not None
    assert span.attributes[KIND] == "CHAIN"
    assert (span.attributes["input.value"], span.attributes["input.mime_type"]) == ("why?", "text/plain")
    assert (span.attributes["output.value"], span.attributes["output.mime_type"]) == ("echo why?", "text/plain")


def test_nested_calls_form_a_tree(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="TOOL")
    def tool(x: int) -> int:
        return x * 2

    @trace(kind="AGENT")
    def agent() -> int:
        return tool(1) + tool(2)

    agent()

    spans = memory_spans.get_finished_spans()
    root = next(s for s in spans if s.name == "agent")
    tools = [s for s in spans if s.name == "tool"]
    assert root.parent is None
    assert len(tools) == 2
    assert all(parent_of(t) == root.context.span_id for t in tools)
    assert {t.context.trace_id for t in tools} == {root.context.trace_id}


def test_exceptions_set_error_status_record_an_event_and_propagate(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def explode() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        explode()

    (span,) = memory_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError: boom"
    assert [event.name for event in span.events] == ["exception"]
    assert span.attributes is not None
    assert "output.value" not in span.attributes


async def test_coroutines_nest_through_await_and_gather(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="LLM")
    async def call_model(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt.upper()

    @trace(kind="AGENT")
    async def agent(question: str) -> list[str]:
        first = await call_model(question)
        return [first, *await asyncio.gather(call_model("a"), call_model("b"))]

    assert inspect.iscoroutinefunction(agent)
    assert await agent("q") == ["Q", "A", "B"]

    spans = memory_spans.get_finished_spans()
    root = next(s for s in spans if s.name == "agent")
    models = [s for s in spans if s.name == "call_model"]
    assert len(models) == 3
    assert all(parent_of(m) == root.context.span_id for m in models)
    assert sorted(str((m.attributes or {})["output.value"]) for m in models) == ["A", "B", "Q"]


async def test_async_exceptions_are_recorded_and_reraised(memory_spans: InMemorySpanExporter) -> None:
    @trace
    async def fails() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        await fails()

    (span,) = memory_spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "KeyError: 'missing'"


def test_context_follows_copied_context_threads_and_executors(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="TOOL")
    def work(label: str) -> str:
        return label

    @trace(kind="AGENT")
    def agent() -> None:
        thread = threading.Thread(target=contextvars.copy_context().run, args=(work, "thread"))
        thread.start()
        thread.join()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(contextvars.copy_context().run, work, "executor").result()

    agent()

    spans = by_name(memory_spans)
    root = spans["agent"]
    children = [s for s in memory_spans.get_finished_spans() if s.name == "work"]
    assert len(children) == 2
    assert all(parent_of(child) == root.context.span_id for child in children)


async def test_context_follows_to_thread_and_run_in_executor(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="TOOL")
    def blocking(label: str) -> str:
        return label

    @trace(kind="AGENT")
    async def agent() -> None:
        await asyncio.to_thread(blocking, "to_thread")
        context = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(None, context.run, blocking, "executor")

    await agent()

    root = by_name(memory_spans)["agent"]
    children = [s for s in memory_spans.get_finished_spans() if s.name == "blocking"]
    assert len(children) == 2
    assert all(parent_of(child) == root.context.span_id for child in children)


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


@dataclasses.dataclass
class Order:
    item: str
    quantity: int


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_arguments_skip_self_and_fall_back_to_dicts_and_reprs(memory_spans: InMemorySpanExporter) -> None:
    class Shop:
        @trace
        def buy(self, order: Order, *extras: object, note: object = None) -> Order:
            return order

    Shop().buy(Order("tea", 2), Opaque(), {1, 2}, note=b"\x00\x01")

    (span,) = memory_spans.get_finished_spans()
    attributes = span.attributes or {}
    assert json.loads(str(attributes["input.value"])) == {
        "order": {"item": "tea", "quantity": 2},
        "extras": ["<Opaque>", [1, 2]],
        "note": "<2 bytes>",
    }
    assert json.loads(str(attributes["output.value"])) == {"item": "tea", "quantity": 2}


def test_large_values_are_capped_with_a_marker(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def echo(text: str) -> str:
        return text

    echo("é" * 100_000)

    (span,) = memory_spans.get_finished_spans()
    value = str((span.attributes or {})["input.value"])
    assert len(value.encode()) < 66 * 1024
    assert "…[truncated" in value


def test_a_none_result_sets_no_output_and_wrapping_keeps_metadata(memory_spans: InMemorySpanExporter) -> None:
    def original() -> None:
        """Docs."""

    wrapped = trace(original)
    wrapped()

    (span,) = memory_spans.get_finished_spans()
    assert "output.value" not in (span.attributes or {})
    assert "input.value" not in (span.attributes or {})
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__) == ("original", "Docs.", original)  # type: ignore[attr-defined]


def test_an_unknown_kind_is_refused_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="span kind"):
        trace(kind="FUNCTION")


def test_the_input_is_taken_when_the_call_starts(memory_spans: InMemorySpanExporter) -> None:
    @trace
    def collect(items: list[int]) -> int:
        items.append(99)
        return len(items)

    collect([1, 2])

    (span,) = memory_spans.get_finished_spans()
    assert json.loads(str((span.attributes or {})["input.value"])) == {"items": [1, 2]}


def test_a_failed_call_keeps_its_input_and_kind(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="TOOL")
    def lookup(key: str) -> str:
        raise LookupError(key)

    with pytest.raises(LookupError):
        lookup("missing")

    (span,) = memory_spans.get_finished_spans()
    attributes = span.attributes or {}
    assert (attributes["input.value"], attributes[KIND]) == ("missing", "TOOL")
    assert [event.name for event in span.events] == ["exception"]


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


def test_a_span_that_is_not_recorded_costs_no_json_work() -> None:
    class Watched:
        dumps = 0

        def model_dump(self, mode: str) -> dict[str, str]:
            Watched.dumps += 1
            return {}

    @trace
    def inner(value: Watched) -> Watched:
        return value

    @trace
    def outer(value: Watched) -> Watched:
        assert not otel_trace.get_current_span().is_recording()
        return inner(value)

    provider = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    use_tracer(provider.get_tracer("sampled out"))
    try:
        watched = Watched()
        assert outer(watched) is watched
    finally:
        use_tracer(None)
        provider.shutdown()
    assert Watched.dumps == 0


def test_attributes_the_wrapped_code_sets_itself_win_over_the_captured_ones(memory_spans: InMemorySpanExporter) -> None:
    @trace(kind="tool")
    def lookup(secret: str) -> str:
        current = otel_trace.get_current_span()
        current.set_attribute("input.value", "[redacted]")
        current.set_attribute("openinference.span.kind", "RETRIEVER")
        return "found"

    lookup("hunter2")

    (span,) = memory_spans.get_finished_spans()
    attributes = span.attributes or {}
    assert (attributes["input.value"], attributes["openinference.span.kind"]) == ("[redacted]", "RETRIEVER")
    assert attributes["output.value"] == "found"
