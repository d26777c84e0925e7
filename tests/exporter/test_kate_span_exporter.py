"""KateSpanExporter, run contexts and @trace end to end against the real collector on loopback."""

from __future__ import annotations

import logging
import re
import socket
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import kate.exporter
import pytest
from kate.exporter import Client, KateSpanExporter, Span, SyncClient, _owned_runs, trace
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.conftest import StartCollector
from tests.support.server import CollectorProcess

InstallExporter = Callable[..., KateSpanExporter]  # the `install_exporter` fixture of conftest.py


def by_name(spans: object) -> dict[str, Span]:
    return {span.node_name: span for span in spans}  # type: ignore[attr-defined]


async def test_a_traced_agent_inside_a_run_uploads_its_span_tree(
    collector: CollectorProcess, agent_id: str, install_exporter: InstallExporter
) -> None:
    install_exporter(collector.base_url, agent_id)

    @trace(kind="TOOL")
    def search(query: str) -> list[str]:
        return [f"doc about {query}"]

    @trace(kind="RETRIEVER")
    def documents(count: int) -> Iterator[str]:
        for index in range(count):
            yield f"doc{index};"

    @trace(name="stream_tokens", kind="LLM")
    async def tokens(count: int) -> AsyncIterator[str]:
        for index in range(count):
            yield f"t{index} "

    @trace(kind="LLM")
    async def call_model(prompt: str) -> str:
        span = otel_trace.get_current_span()
        span.set_attributes({"llm.model_name": "gpt-test", "llm.token_count.total": 42})
        return f"answer to {prompt}"

    @trace(kind="AGENT")
    async def agent(question: str) -> str:
        found = [*search(question), "".join(documents(2)), "".join([t async for t in tokens(3)])]
        return await call_model(" ".join(found))

    async with Client(collector.base_url) as client:
        async with client.run(agent_id=agent_id, trigger="manual") as run:
            answer = await agent("kate")
        final = await client.runs.get(agent_id=agent_id, run_id=run.id)
        page = await client.runs.spans(agent_id=agent_id, run_id=run.id)

    spans = by_name(page)
    assert (final.status, final.span_count, final.total_tokens) == ("completed", 5, 42)
    assert set(spans) == {"agent", "search", "documents", "stream_tokens", "call_model"}
    root = spans["agent"]
    assert root.parent_span_id is None and root.span_kind == "AGENT"
    assert {s.parent_span_id for name, s in spans.items() if name != "agent"} == {root.span_id}
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    assert {name: s.span_kind for name, s in spans.items()} == {
        "agent": "AGENT",
        "search": "TOOL",
        "documents": "RETRIEVER",
        "stream_tokens": "LLM",
        "call_model": "LLM",
    }
    assert (root.input_text, root.output_text) == ("kate", answer)
    assert (spans["search"].input_text, spans["search"].output_text) == ("kate", '["doc about kate"]')
    assert spans["documents"].output_text == "doc0;doc1;"
    assert spans["stream_tokens"].output_text == "t0 t1 t2 "
    assert (spans["call_model"].model, spans["call_model"].token_count) == ("gpt-test", 42)
    assert all(s.status == "OK" and s.run_id == run.id for s in spans.values())
    assert all((s.attributes or {})["kate.run.id"] == run.id for s in spans.values())
    assert root.latency_ms is not None and root.start_time_unix_nano is not None


def test_a_failing_run_records_the_error_span_and_is_marked_failed(
    collector: CollectorProcess, agent_id: str, install_exporter: InstallExporter
) -> None:
    install_exporter(collector.base_url, agent_id)

    @trace(kind="CHAIN")
    def plan(goal: str) -> str:
        raise ValueError(f"no plan for {goal}")

    with pytest.raises(ValueError, match="no plan for launch"):  # noqa: SIM117 - the run must see the raise
        with kate.exporter.run(agent_id, trigger="test", endpoint=collector.base_url) as run:
            plan("launch")

    with SyncClient(collector.base_url) as client:
        final = client.runs.get(agent_id=agent_id, run_id=run.id)
        spans = by_name(client.runs.spans(agent_id=agent_id, run_id=run.id))
    assert (final.status, final.error) == ("failed", "ValueError: no plan for launch")
    assert (spans["plan"].status, spans["plan"].status_message) == ("ERROR", "ValueError: no plan for launch")
    assert (spans["run"].status, spans["run"].status_message) == ("ERROR", "ValueError: no plan for launch")
    assert "ValueError" in str((spans["run"].attributes or {})["exception.stacktrace"])


def test_spans_outside_a_run_create_a_run_from_their_trace_id_and_complete_it(
    collector: CollectorProcess, agent_id: str, install_exporter: InstallExporter
) -> None:
    install_exporter(collector.base_url, agent_id)

    @trace(kind="TOOL")
    def lookup(key: str) -> str:
        return key.upper()

    @trace(kind="AGENT")
    def agent() -> int:
        lookup("a")
        lookup("b")
        return otel_trace.get_current_span().get_span_context().trace_id

    trace_id = agent()
    assert otel_trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]

    run_id = str(uuid.UUID(int=trace_id))
    with SyncClient(collector.base_url) as client:
        run = client.runs.get(agent_id=agent_id, run_id=run_id)
        names = sorted(s.node_name for s in client.runs.spans(agent_id=agent_id, run_id=run_id))
    assert (run.trigger, run.status, run.source, run.span_count) == ("automatic", "completed", "api", 3)
    assert names == ["agent", "lookup", "lookup"]


def finished_spans(children: int) -> list[ReadableSpan]:
    """`children` ended spans, then their root: one trace, as a batch processor would hand them over."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root") as root:
        for index in range(children):
            child = tracer.start_span(f"step{index}", attributes={"gen_ai.tool.name": f"tool{index}"})
            child.set_status(Status(StatusCode.OK))
            child.end()
        root.set_attribute("input.value", "start")
    return list(memory.get_finished_spans())


def test_the_exporter_waits_out_429_and_loses_no_span(
    start_collector: StartCollector, agent_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    limited = start_collector(config={"api": {"upload_rate_limit_per_minute": 60}})  # Retry-After: 1 s
    spans = finished_spans(180)
    exporter = KateSpanExporter(limited.base_url, agent_id, timeout=10.0)
    caplog.set_level(logging.DEBUG, logger="kate.exporter")

    def waited_out_a_429() -> bool:
        return any("rate_limited" in r.getMessage() for r in caplog.records if "retrying" in r.getMessage())

    # One upload each until the limiter has answered 429 at least once. The bucket refills at
    # one upload a second, so a slow machine needs more than 61 uploads to get there; bounded
    # by the spans at hand, the root (last) always kept for the final upload.
    results, sent = [], 0
    while sent < len(spans) - 1 and not waited_out_a_429():
        results.append(exporter.export([spans[sent]]))
        sent += 1
    results.append(exporter.export(spans[sent:]))  # the rest, root last
    exporter.shutdown()

    assert set(results) == {SpanExportResult.SUCCESS}
    assert waited_out_a_429()
    run_id = str(uuid.UUID(int=spans[0].context.trace_id))
    with SyncClient(limited.base_url) as client:
        stored = list(client.runs.iter_spans(agent_id=agent_id, run_id=run_id))
        run = client.runs.get(agent_id=agent_id, run_id=run_id)
    assert sorted(s.span_id for s in stored) == sorted(format(s.context.span_id, "016x") for s in spans)
    assert run.status == "completed"
    assert {s.span_kind for s in stored if s.node_name != "root"} == {"TOOL"}


def test_a_retry_after_beyond_the_deadline_fails_fast_never_raises_and_logs_once(
    start_collector: StartCollector, agent_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    limited = start_collector(config={"api": {"upload_rate_limit_per_minute": 2}})  # Retry-After: up to 30 s
    spans = finished_spans(5)
    exporter = KateSpanExporter(limited.base_url, agent_id, timeout=1.0)
    caplog.set_level(logging.WARNING, logger="kate.exporter")

    assert [exporter.export([span]) for span in spans[:2]] == [SpanExportResult.SUCCESS] * 2
    started = time.monotonic()
    refused = [exporter.export([span]) for span in spans[2:]]
    elapsed_s = time.monotonic() - started
    exporter.shutdown()

    assert refused == [SpanExportResult.FAILURE] * 4
    assert elapsed_s < 2.0  # a wait past the deadline is never started
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rate_limited" in warnings[0]


def test_an_unreachable_collector_fails_the_export_within_its_timeout(agent_id: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        exporter = KateSpanExporter(f"http://127.0.0.1:{probe.getsockname()[1]}", agent_id, timeout=0.5)
        started = time.monotonic()
        result = exporter.export(finished_spans(1))
    assert result is SpanExportResult.FAILURE
    assert time.monotonic() - started < 1.5
    exporter.shutdown()
    exporter.shutdown()  # safe twice
    assert exporter.export(finished_spans(1)) is SpanExportResult.FAILURE


def run_exists_errors(base_url: str) -> float:
    """kate_request_errors_total{code="run_exists"} as GET /metrics shows it (0 before the first)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(r'^kate_request_errors_total\{[^}]*code="run_exists"[^}]*\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_run_context_with_traced_spans_makes_no_run_exists_error(
    collector: CollectorProcess, agent_id: str, install_exporter: InstallExporter
) -> None:
    install_exporter(collector.base_url, agent_id)

    @trace(kind="AGENT")
    def agent(question: str) -> str:
        return question[::-1]

    before = run_exists_errors(collector.base_url)
    with kate.exporter.run(agent_id, trigger="test", endpoint=collector.base_url) as sync_run:
        agent("sync")
    with SyncClient(collector.base_url) as client, client.run(agent_id=agent_id) as client_run:
        agent("client")
        agent("again")
        final = client.runs.get(agent_id=agent_id, run_id=sync_run.id)

    assert run_exists_errors(collector.base_url) == before  # the exporter did not re-create the runs
    assert (final.status, final.trigger, final.span_count) == ("completed", "test", 1)
    with SyncClient(collector.base_url) as client:
        assert client.runs.get(agent_id=agent_id, run_id=client_run.id).span_count == 2


def test_a_run_its_context_could_not_create_is_created_by_the_exporter_with_its_trigger_and_left_running(
    collector: CollectorProcess, agent_id: str
) -> None:
    run_id = str(uuid.uuid4())
    _owned_runs.claim(collector.base_url, run_id, "test")  # what a run context does before its create failed
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span("root", attributes={"kate.run.id": run_id}):
        pass
    exporter = KateSpanExporter(collector.base_url, agent_id)

    result = exporter.export(memory.get_finished_spans())
    exporter.shutdown()

    assert result is SpanExportResult.SUCCESS
    with SyncClient(collector.base_url) as client:
        run = client.runs.get(agent_id=agent_id, run_id=run_id)
    assert (run.trigger, run.status, run.span_count) == ("test", "running", 1)  # the context's to end, not ours
    owned = _owned_runs.find(collector.base_url, run_id)
    assert owned is not None and owned.created
