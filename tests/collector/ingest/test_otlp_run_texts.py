"""Runs created from OTLP show the agent run's input and output (GET run): from the root span, and
with several root spans by one rule whatever order they arrive in; API runs keep their own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer, set_span_in_context

from tests.support.http import Api
from tests.support.otlp_client import RecordingExporter, get_run, run_id_for_trace
from tests.support.server import CollectorProcess

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in unix nanoseconds
S = 1_000_000_000
EXPORTERS: dict[str, Callable[[CollectorProcess], SpanExporter]] = {
    "http": lambda c: HttpExporter(endpoint=f"{c.base_url}/v1/traces", timeout=10),
    "grpc": lambda c: GrpcExporter(endpoint=f"127.0.0.1:{c.grpc_port}", insecure=True, timeout=10),
}


def turn(tracer: Tracer, asked: str | None, answered: str, start_s: int, end_s: int, run_id: str | None = None) -> int:
    """One agent turn: a root AGENT span (OpenInference input/output) over an LLM call; its trace id."""
    attributes = {"openinference.span.kind": "AGENT", "output.value": answered}
    if asked is not None:
        attributes["input.value"] = asked
    if run_id is not None:
        attributes["kate.run.id"] = run_id
    root = tracer.start_span("agent", start_time=T0 + start_s * S, attributes=attributes)
    child = tracer.start_span("llm", context=set_span_in_context(root), start_time=T0 + start_s * S,
                              attributes={"input.value": "prompt", "output.value": "completion",
                                          **({"kate.run.id": run_id} if run_id else {})})
    child.end(end_time=T0 + (start_s + 1) * S)
    root.end(end_time=T0 + end_s * S)
    return root.get_span_context().trace_id


@pytest.fixture(params=sorted(EXPORTERS))
def tracer(request: pytest.FixtureRequest, collector: CollectorProcess, agent_id: str) -> Iterator[Tracer]:
    exporter = RecordingExporter(EXPORTERS[request.param](collector))
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # each span acknowledged when it ends
    yield provider.get_tracer("texts.test")
    provider.shutdown()
    assert set(exporter.results) == {SpanExportResult.SUCCESS}


def test_a_trace_run_shows_its_root_spans_input_and_output(collector: CollectorProcess, tracer: Tracer,
                                                           agent_id: str) -> None:
    trace_id = turn(tracer, "Plan a weekend in Lisbon", "Day one: Alfama.", 0, 5)

    run = get_run(collector.base_url, agent_id, run_id_for_trace(trace_id))

    assert (run["status"], run["user_input"], run["output"]) == ("completed", "Plan a weekend in Lisbon", "Day one: Alfama.")


def test_several_root_spans_first_started_gives_the_input_last_ended_the_output(
    collector: CollectorProcess, tracer: Tracer, agent_id: str
) -> None:
    run_id = str(uuid.uuid4())
    # Three turns of one conversation, sent out of order: the third has no input of its own.
    turn(tracer, None, "final plan", 30, 60, run_id)
    turn(tracer, "make it cheaper", "cheaper plan", 20, 40, run_id)
    turn(tracer, "plan a trip", "draft plan", 10, 50, run_id)

    run = get_run(collector.base_url, agent_id, run_id)

    assert (run["user_input"], run["output"], run["span_count"]) == ("plan a trip", "final plan", 6)


async def test_a_run_created_through_the_api_keeps_its_own_fields(collector: CollectorProcess, tracer: Tracer,
                                                                  api: Api, agent_id: str) -> None:
    created = await api.create_run(agent_id)
    turn(tracer, "from the trace", "from the trace", 0, 1, created["id"])

    run = get_run(collector.base_url, agent_id, created["id"])

    assert (run["status"], run["span_count"], run["user_input"], run["output"]) == ("running", 2, None, None)
