"""OTLP into the real collector: the stock OTLP exporters (HTTP protobuf, gzip, deflate; gRPC,
gzip) driven by the SDK, hand-built OTLP/JSON with hex ids, then what GET .../spans shows."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import grpc
import pytest
from kate.collector.auth import hash_key
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode, Tracer, set_span_in_context
from otlp_bodies import request_json, sdk_request

from tests.conftest import StartApp
from tests.support.otlp_client import (
    JSON,
    PROTOBUF,
    RecordingExporter,
    get_json,
    get_run,
    post_otlp,
    run_id_for_trace,
    run_spans,
    span_count,
    sql_rows,
)
from tests.support.server import CollectorProcess

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in unix nanoseconds
MS = 1_000_000
USER_MESSAGE = "Plan a weekend in Lisbon"
REPLY = "Day one: Alfama. Day two: Belém."
ExporterFactory = Callable[[CollectorProcess], SpanExporter]

EXPORTERS: dict[str, ExporterFactory] = {
    "http-protobuf": lambda c: HttpExporter(endpoint=f"{c.base_url}/v1/traces", timeout=10),
    "http-gzip": lambda c: HttpExporter(endpoint=f"{c.base_url}/v1/traces", compression=Compression.Gzip, timeout=10),
    "http-deflate": lambda c: HttpExporter(endpoint=f"{c.base_url}/v1/traces", compression=Compression.Deflate,
                                           timeout=10),
    "grpc": lambda c: GrpcExporter(endpoint=f"127.0.0.1:{c.grpc_port}", insecure=True, timeout=10),
    "grpc-gzip": lambda c: GrpcExporter(endpoint=f"127.0.0.1:{c.grpc_port}", insecure=True, timeout=10,
                                        compression=grpc.Compression.Gzip),
}


def emit_agent_trace(tracer: Tracer) -> int:
    """An agent span with an LLM call and a failing tool call, at fixed times; returns the trace id."""
    root = tracer.start_span("agent", start_time=T0, attributes={"openinference.span.kind": "AGENT",
                                                                 "input.value": USER_MESSAGE, "output.value": REPLY})
    with _child(tracer, root, "chat gpt-4o", T0 + 5 * MS, T0 + 1_505 * MS, {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.output_tokens": 9,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": USER_MESSAGE}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": REPLY}]}]),
        "custom.flag": True,
    }):
        pass
    with _child(tracer, root, "execute_tool search", T0 + 1_600 * MS, T0 + 1_750 * MS,
                {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}) as tool:
        tool.record_exception(TimeoutError("search backend timed out"), timestamp=T0 + 1_700 * MS)
        tool.set_status(Status(StatusCode.ERROR, "search backend timed out"))
    root.end(end_time=T0 + 2_000 * MS)
    return root.get_span_context().trace_id


@contextmanager
def _child(tracer: Tracer, parent: Span, name: str, start_ns: int, end_ns: int,
           attributes: dict[str, Any]) -> Iterator[Span]:
    """A child span of parent with explicit start and end times."""
    span = tracer.start_span(name, context=set_span_in_context(parent), start_time=start_ns, attributes=attributes)
    try:
        yield span
    finally:
        span.end(end_time=end_ns)


@pytest.fixture(params=sorted(EXPORTERS))
def exporter(request: pytest.FixtureRequest, collector: CollectorProcess) -> RecordingExporter:
    return RecordingExporter(EXPORTERS[request.param](collector))


@contextmanager
def tracer_provider(
    exporter: SpanExporter, resource: dict[str, Any], *, batch: bool = False
) -> Iterator[TracerProvider]:
    """An SDK provider exporting through exporter; shut down (flushing) on exit."""
    provider = TracerProvider(resource=Resource.create(resource), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
def test_stock_exporter_delivers_spans_with_mapped_fields(
    collector: CollectorProcess, exporter: RecordingExporter, agent_id: str, batch: bool
) -> None:
    with tracer_provider(exporter, {"kate.agent.id": agent_id, "service.name": "trip-svc"}, batch=batch) as provider:
        trace_id = emit_agent_trace(provider.get_tracer("trip.agent", "1.0"))
        assert provider.force_flush(10_000)
    assert exporter.results and set(exporter.results) == {SpanExportResult.SUCCESS}  # acked after commit

    run_id = run_id_for_trace(trace_id)
    spans = {span["node_name"]: span for span in run_spans(collector.base_url, agent_id, run_id)}
    assert list(spans) == ["agent", "chat gpt-4o", "search"]  # start order; the tool is named by gen_ai.tool.name
    root, llm, tool = spans["agent"], spans["chat gpt-4o"], spans["search"]
    assert (root["span_kind"], root["parent_span_id"], root["latency_ms"]) == ("AGENT", None, 2000.0)
    assert (root["input_text"], root["output_text"]) == (USER_MESSAGE, REPLY)
    assert root["trace_id"] == format(trace_id, "032x") and root["run_id"] == run_id
    assert llm["span_kind"] == "LLM" and llm["parent_span_id"] == root["span_id"]
    usage = (llm["token_count"], llm["input_tokens"], llm["output_tokens"])
    assert (llm["model"], usage) == ("gpt-4o-2024-08-06", (30, 21, 9))
    assert USER_MESSAGE in llm["input_text"] and REPLY in llm["output_text"]
    assert llm["latency_ms"] == 1500.0 and llm["start_time"] == "2026-01-01T00:00:00.005000Z"
    assert llm["attributes"]["custom.flag"] is True and "gen_ai.input.messages" not in llm["attributes"]
    assert (tool["span_kind"], tool["status"], tool["status_message"]) == ("TOOL", "ERROR", "search backend timed out")
    assert tool["latency_ms"] == 150.0 and tool["parent_span_id"] == root["span_id"]

    run = get_run(collector.base_url, agent_id, run_id)
    assert (run["status"], run["source"], run["trigger"]) == ("completed", "otlp", "automatic")  # the root completed it
    assert run["span_count"] == 3 and run["total_tokens"] == 30


def test_stored_row_keeps_resource_scope_and_events(collector: CollectorProcess, agent_id: str) -> None:
    exporter = RecordingExporter(EXPORTERS["http-protobuf"](collector))
    with tracer_provider(exporter, {"kate.agent.id": agent_id, "deployment.environment": "test"}) as provider:
        trace_id = emit_agent_trace(provider.get_tracer("trip.agent", "1.0"))
    rows = sql_rows(collector.base_url, "SELECT resource, scope_name, events FROM spans WHERE agent_id = ? "
                    "AND node_name = 'search'", [agent_id])
    ((resource, scope_name, events),) = rows
    assert json.loads(resource)["deployment.environment"] == "test"
    assert json.loads(resource)["kate.agent.id"] == agent_id
    assert scope_name == "trip.agent"
    (event,) = json.loads(events)
    assert (event["name"], event["time_unix_nano"]) == ("exception", T0 + 1_700 * MS)
    assert event["attributes"]["exception.type"] == "TimeoutError"
    assert exporter.results == [SpanExportResult.SUCCESS] * 3
    assert len(run_spans(collector.base_url, agent_id, run_id_for_trace(trace_id))) == 3


def _json_body(agent_id: str, *, run_id: str | None = None) -> tuple[dict[str, Any], int]:
    resource = {"kate.agent.id": agent_id, **({"kate.run.id": run_id} if run_id else {})}
    request = sdk_request(emit_agent_trace, resource)
    trace_id = int.from_bytes(request.resource_spans[0].scope_spans[0].spans[0].trace_id, "big")
    return request_json(request), trace_id


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
async def test_hand_built_json_with_hex_ids(collector: CollectorProcess, agent_id: str, encoding: str | None) -> None:
    document, trace_id = _json_body(agent_id)
    first_span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first_span["traceId"]) == 32 and int(first_span["traceId"], 16) == trace_id  # really hex
    raw = json.dumps(document).encode()
    body = {None: raw, "gzip": gzip.compress(raw), "deflate": zlib.compress(raw)}[encoding]
    async with aiohttp.ClientSession() as session:
        answer = await post_otlp(session, collector.base_url, body, content_type=JSON, encoding=encoding)
    assert (answer.status, answer.content_type, answer.body) == (200, JSON, b"{}")
    spans = run_spans(collector.base_url, agent_id, run_id_for_trace(trace_id))
    assert {s["trace_id"] for s in spans} == {first_span["traceId"]}
    by_name = {s["node_name"]: s for s in spans}
    assert by_name["chat gpt-4o"]["model"] == "gpt-4o-2024-08-06"
    assert by_name["chat gpt-4o"]["token_count"] == 30
    assert by_name["chat gpt-4o"]["parent_span_id"] == by_name["agent"]["span_id"]


async def test_resource_run_id_links_spans_to_an_existing_api_run(collector: CollectorProcess, agent_id: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{collector.base_url}/agents/{agent_id}/runs", json={"trigger": "test"}) as response:
            run_id = (await response.json())["id"]
        document, _ = _json_body(agent_id, run_id=run_id.upper())  # canonicalised to lowercase
        answer = await post_otlp(session, collector.base_url, json.dumps(document).encode(), content_type=JSON)
    assert answer.status == 200
    assert len(run_spans(collector.base_url, agent_id, run_id)) == 3
    run = get_run(collector.base_url, agent_id, run_id)
    assert (run["status"], run["source"]) == ("running", "api")  # API runs are completed only by the API


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
async def test_resent_spans_are_not_duplicated(collector: CollectorProcess, agent_id: str, content_type: str) -> None:
    request = sdk_request(emit_agent_trace, {"kate.agent.id": agent_id})
    body = request.SerializeToString() if content_type == PROTOBUF else json.dumps(request_json(request)).encode()
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            answer = await post_otlp(session, collector.base_url, body, content_type=content_type)
            assert answer.status == 200
            assert span_count(collector.base_url, agent_id) == 3


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
@pytest.mark.parametrize(("content_type", "expected"), [(PROTOBUF, b""), (JSON, b"{}")])
async def test_metrics_and_logs_are_accepted_and_discarded(
    collector: CollectorProcess, path: str, content_type: str, expected: bytes
) -> None:
    body = b"\x0a\x00" if content_type == PROTOBUF else b'{"resourceMetrics": [], "resourceLogs": []}'
    async with aiohttp.ClientSession() as session:
        answer = await post_otlp(session, collector.base_url, body, content_type=content_type, path=path)
    assert (answer.status, answer.content_type, answer.body) == (200, content_type, expected)


def test_openapi_documents_the_otlp_routes(collector: CollectorProcess) -> None:
    paths = get_json(collector.base_url, "/openapi.json")["paths"]
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= set(paths)
    traces = paths["/v1/traces"]["post"]
    assert traces["operationId"] == "receive_traces"
    assert {PROTOBUF, JSON} <= set(traces["requestBody"]["content"])
    assert {"200", "400", "413", "415", "503"} <= set(traces["responses"])


async def test_api_keys_limit_which_agents_a_sender_may_write(start_app: StartApp) -> None:
    writer_key, admin_key = "kate_otlp_writer_key", "kate_otlp_admin_key"
    keys = [{"name": "writer", "sha256": hash_key(writer_key), "agents": ["writer"]},
            {"name": "admin", "sha256": hash_key(admin_key)}]
    server = start_app(config={"auth": {"keys": keys}})
    bodies = {agent: sdk_request(emit_agent_trace, {"kate.agent.id": agent}).SerializeToString()
              for agent in ("writer", "reader")}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {writer_key}"}) as session:
        allowed = await post_otlp(session, server.base_url, bodies["writer"])
        refused = await post_otlp(session, server.base_url, bodies["reader"])
    async with aiohttp.ClientSession() as session:
        anonymous = await post_otlp(session, server.base_url, bodies["writer"])
        async with session.post(f"{server.base_url}/sql", headers={"Authorization": f"Bearer {admin_key}"},
                                json={"sql": "SELECT agent_id, count(*) FROM spans GROUP BY ALL"}) as response:
            stored = (await response.json())["rows"]
    assert allowed.status == 200
    assert refused.status == 403 and refused.status_message().code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert "reader" in refused.status_message().message
    assert anonymous.status == 401 and anonymous.status_message().code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert stored == [["writer", 3]]  # the refused request stored nothing


def test_a_non_uuid_run_id_from_otlp_is_reachable_through_the_api(collector: CollectorProcess, agent_id: str) -> None:
    provider = TracerProvider(resource=Resource.create({"kate.agent.id": agent_id}))
    provider.add_span_processor(SimpleSpanProcessor(HttpExporter(endpoint=f"{collector.base_url}/v1/traces")))
    with provider.get_tracer("test").start_as_current_span("step", attributes={"kate.run.id": "nightly batch #7"}):
        pass
    provider.shutdown()

    run = get_run(collector.base_url, agent_id, "nightly%20batch%20%237")
    spans = run_spans(collector.base_url, agent_id, "nightly%20batch%20%237")

    assert (run["id"], run["source"], run["status"]) == ("nightly batch #7", "otlp", "completed")
    assert [span["node_name"] for span in spans] == ["step"]
