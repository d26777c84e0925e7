"""@trace on functions and coroutines, read from the SDK's in-memory exporter (generators: test_trace_generators.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import inspect
import json
import threading

import pytest
from kate.exporter import trace
from kate.exporter._tracer import use_tracer
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from tests.support.finished_spans import KIND, by_name, parent_of


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
