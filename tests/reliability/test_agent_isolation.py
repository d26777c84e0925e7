"""A run belongs to one agent, against a real collector with agent-limited keys: another agent's
OTLP spans never land in it, complete it or start its evaluation (HTTP and gRPC), and requests
refused for its run never spend its rate limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import grpc
import pytest
from kate.collector.auth import hash_key
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, Tracer, set_span_in_context

from tests.support.otlp_client import PROTOBUF, RecordingExporter, run_id_for_trace
from tests.support.server import CollectorProcess, start_collector_process

AGENT_A, AGENT_B = "agent-a", "agent-b"
ADMIN, KEY_A, KEY_B = "kate_admin_iso_key_0123456789", "kate_a_iso_key_0123456789", "kate_b_iso_key_0123456789"
Emit = Callable[[Tracer], None]


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {
        "auth": {"keys": [{"name": "admin", "sha256": hash_key(ADMIN)},
                          {"name": "a", "sha256": hash_key(KEY_A), "agents": [AGENT_A]},
                          {"name": "b", "sha256": hash_key(KEY_B), "agents": [AGENT_B]}]},
        "evaluation": {"cooldown_s": 0},  # a completed run is evaluated at once: a stray completion shows
    }
    process = start_collector_process(tmp_path_factory.mktemp("isolated") / "kate.duckdb", config=config)
    yield process
    process.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class FixedTrace(IdGenerator):
    """Every new trace gets one trace id: another service of the same distributed trace."""

    def __init__(self, trace_id: int) -> None:
        self.trace_id = trace_id
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self.trace_id


def encoded(agent_id: str, emit: Emit, *, trace_id: int, resource: dict[str, Any] | None = None
            ) -> ExportTraceServiceRequest:
    """The request the stock OTLP exporters send for the spans emit creates in one trace."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id, **(resource or {})}),
                              id_generator=FixedTrace(trace_id))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    emit(provider.get_tracer("isolation.test"))
    provider.shutdown()
    return encode_spans(memory.get_finished_spans())


def child_span(trace_id: int) -> Emit:
    """A span whose parent (the agent's root span) is still open elsewhere."""
    parent = SpanContext(trace_id, 0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(1))

    def emit(tracer: Tracer) -> None:
        tracer.start_span("step", context=set_span_in_context(NonRecordingSpan(parent))).end()

    return emit


def root_span(name: str, **attributes: Any) -> Emit:
    def emit(tracer: Tracer) -> None:
        tracer.start_span(name, attributes=attributes).end()

    return emit


def own_run_id(agent_id: str, trace_id: int) -> str:
    """README: the run of a service whose trace's run belongs to another agent."""
    return str(uuid.uuid5(uuid.UUID("ee456dcf-eb47-4010-9f5c-6eda187d649a"), f"{agent_id}/{trace_id:032x}"))


async def export(transport: str, collector: CollectorProcess, request: ExportTraceServiceRequest, key: str
                 ) -> ExportTraceServiceResponse:
    """One Export over OTLP/HTTP protobuf or OTLP/gRPC (the stock stub), with the response."""
    if transport == "grpc":
        async with grpc.aio.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as channel:
            return await TraceServiceStub(channel).Export(request, metadata=(("authorization", f"Bearer {key}"),),
                                                          timeout=30)
    headers = {"Content-Type": PROTOBUF, "Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{collector.base_url}/v1/traces", data=request.SerializeToString(), headers=headers) as answer:
        assert answer.status == 200, await answer.text()
        return ExportTraceServiceResponse.FromString(await answer.read())


async def call(session: aiohttp.ClientSession, collector: CollectorProcess, method: str, path: str, key: str,
               body: object = None) -> tuple[int, dict[str, str], Any]:
    async with session.request(method, collector.base_url + path, json=body,
                               headers={"Authorization": f"Bearer {key}"}) as answer:
        return answer.status, dict(answer.headers), await answer.json(content_type=None)


async def get_run(session: aiohttp.ClientSession, collector: CollectorProcess, agent_id: str, run_id: str,
                  key: str) -> dict[str, Any]:
    status, _, run = await call(session, collector, "GET", f"/agents/{agent_id}/runs/{run_id}", key)
    assert status == 200, run
    return dict(run)


def fresh_trace() -> int:
    return uuid.uuid4().int


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_spans_naming_another_agents_run_are_refused_and_the_rest_stored(
    isolated: CollectorProcess, session: aiohttp.ClientSession, transport: str
) -> None:
    a_trace, b_trace = fresh_trace(), fresh_trace()
    a_otlp_run = run_id_for_trace(a_trace)
    await export(transport, isolated, encoded(AGENT_A, child_span(a_trace), trace_id=a_trace), KEY_A)
    status, _, api_run = await call(session, isolated, "POST", f"/agents/{AGENT_A}/runs", KEY_A, {"trigger": "manual"})
    assert status == 201

    request = encoded(AGENT_B, root_span("take over", **{"kate.run.id": a_otlp_run}), trace_id=b_trace)
    request.resource_spans.extend(encoded(AGENT_B, root_span("own work"), trace_id=b_trace).resource_spans)
    request.resource_spans.extend(encoded(AGENT_B, root_span("into api run"), trace_id=b_trace,
                                          resource={"kate.run.id": api_run["id"]}).resource_spans)
    answer = await export(transport, isolated, request, KEY_B)

    partial = answer.partial_success
    assert partial.rejected_spans == 2, partial
    assert a_otlp_run in partial.error_message and api_run["id"] in partial.error_message
    assert "belongs to another agent" in partial.error_message and AGENT_A not in partial.error_message
    a_run = await get_run(session, isolated, AGENT_A, a_otlp_run, KEY_A)
    assert (a_run["status"], a_run["span_count"], a_run["evaluation_status"]) == ("running", 1, None)
    unchanged = await get_run(session, isolated, AGENT_A, api_run["id"], KEY_A)
    assert (unchanged["status"], unchanged["span_count"]) == ("running", 0)
    own = await get_run(session, isolated, AGENT_B, run_id_for_trace(b_trace), KEY_B)
    assert (own["status"], own["span_count"]) == ("completed", 1)


EXPORTERS: dict[str, Callable[[CollectorProcess, str], SpanExporter]] = {
    "http": lambda c, key: HttpExporter(endpoint=f"{c.base_url}/v1/traces", timeout=10,
                                        headers={"Authorization": f"Bearer {key}"}),
    "grpc": lambda c, key: GrpcExporter(endpoint=f"127.0.0.1:{c.grpc_port}", insecure=True, timeout=10,
                                        headers={"authorization": f"Bearer {key}"}),
}


@pytest.mark.parametrize("transport", sorted(EXPORTERS))
async def test_another_service_in_the_same_trace_gets_its_own_run(
    isolated: CollectorProcess, session: aiohttp.ClientSession, transport: str
) -> None:
    frontend = RecordingExporter(EXPORTERS[transport](isolated, KEY_A))
    provider_a = TracerProvider(resource=Resource.create({"kate.agent.id": AGENT_A}), shutdown_on_exit=False)
    provider_a.add_span_processor(SimpleSpanProcessor(frontend))
    backend, sent = RecordingExporter(EXPORTERS[transport](isolated, KEY_B)), InMemorySpanExporter()
    try:
        tracer_a = provider_a.get_tracer("frontend")
        root = tracer_a.start_span("handle request")
        trace_id = root.get_span_context().trace_id
        tracer_a.start_span("call backend", context=set_span_in_context(root)).end()
        # The backend service starts its own root span in the same trace (no propagated parent).
        provider_b = TracerProvider(resource=Resource.create({"kate.agent.id": AGENT_B}), id_generator=FixedTrace(trace_id),
                                    shutdown_on_exit=False)
        provider_b.add_span_processor(SimpleSpanProcessor(backend))
        provider_b.add_span_processor(SimpleSpanProcessor(sent))
        tracer_b = provider_b.get_tracer("backend")
        with tracer_b.start_as_current_span("serve"), tracer_b.start_as_current_span("query"):
            pass
        assert backend.export(sent.get_finished_spans()) == SpanExportResult.SUCCESS  # a retry: stored once
        provider_b.shutdown()

        a_run_id, b_run_id = run_id_for_trace(trace_id), own_run_id(AGENT_B, trace_id)
        a_run = await get_run(session, isolated, AGENT_A, a_run_id, KEY_A)
        assert (a_run["status"], a_run["span_count"], a_run["evaluation_status"]) == ("running", 1, None)
        b_run = await get_run(session, isolated, AGENT_B, b_run_id, KEY_B)
        assert (b_run["status"], b_run["span_count"]) == ("completed", 2) and b_run["evaluation_status"] is not None
        status, _, found = await call(session, isolated, "POST", "/sql", ADMIN, {
            "sql": "SELECT agent_id, run_id, count(*) FROM spans WHERE trace_id = ? GROUP BY ALL ORDER BY agent_id",
            "params": [format(trace_id, "032x")]})
        assert (status, found["rows"]) == (200, [[AGENT_A, a_run_id, 1], [AGENT_B, b_run_id, 2]])

        root.end()  # the frontend's own root span completes the frontend's run
        a_run = await get_run(session, isolated, AGENT_A, a_run_id, KEY_A)
        assert (a_run["status"], a_run["span_count"]) == ("completed", 2)
        assert a_run["evaluation_status"] is not None  # admitted now: before, nothing had started it
    finally:
        provider_a.shutdown()
    assert set(frontend.results) == set(backend.results) == {SpanExportResult.SUCCESS}


async def test_uploads_refused_for_a_run_never_spend_its_rate_limit(
    isolated: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    _, _, run = await call(session, isolated, "POST", f"/agents/{AGENT_A}/runs", KEY_A, {"trigger": "manual"})
    spans = f"/agents/{AGENT_A}/runs/{run['id']}/spans"
    for _ in range(60):  # agent B names A's run under its own agent: 404, as is A's path for B's key (403)
        status, _, _ = await call(session, isolated, "POST", f"/agents/{AGENT_B}/runs/{run['id']}/spans", KEY_B,
                                  {"spans": [{"node_name": "x"}]})
        assert status == 404
    for _ in range(5):
        assert (await call(session, isolated, "POST", spans, KEY_B, {"spans": [{"node_name": "x"}]}))[0] == 403
        assert (await call(session, isolated, "POST", spans, KEY_A, {"spans": [{"latency_ms": 1}]}))[0] == 422

    status, headers, body = await call(session, isolated, "POST", spans, KEY_A, {"spans": [{"node_name": "step"}]})

    assert (status, body["uploaded"]) == (201, 1)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("60", "59")


async def test_evaluate_is_rate_limited_per_run_and_refusals_spend_nothing(
    isolated: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    _, _, run = await call(session, isolated, "POST", f"/agents/{AGENT_A}/runs", KEY_A, {"trigger": "manual"})
    evaluate = f"/agents/{AGENT_A}/runs/{run['id']}/evaluate"
    for _ in range(8):
        assert (await call(session, isolated, "POST", evaluate, KEY_A))[0] == 409  # still running
        other = await call(session, isolated, "POST", f"/agents/{AGENT_B}/runs/{run['id']}/evaluate", KEY_B)
        assert other[0] == 404
    assert (await call(session, isolated, "POST", f"/agents/{AGENT_A}/runs/{run['id']}/complete", KEY_A))[0] == 200

    answers = [await call(session, isolated, "POST", evaluate, KEY_A) for _ in range(7)]

    assert [status for status, _, _ in answers] == [202] * 6 + [429]
    assert [headers["X-RateLimit-Remaining"] for _, headers, _ in answers[:6]] == ["5", "4", "3", "2", "1", "0"]
    _, headers, body = answers[-1]
    assert body["error"]["code"] == "rate_limited" and run["id"] in body["error"]["message"]
    assert int(headers["Retry-After"]) >= 1
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("6", "0")
