"""Log forging: no client-supplied text can start a line of the collector's log.

An OTLP agent id (resource kate.agent.id or service.name) with a line break or a terminal
escape is refused like the Runs API refuses it in a path: its spans are counted in
partial_success with the reason and the rest of the request is stored, over OTLP/HTTP
(protobuf and JSON) and OTLP/gRPC. Any other client text that reaches a log line (here a run
id, logged when the run completes) is escaped by the collector's log formatter.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.trace import Tracer

from tests.collector.ingest.otlp_bodies import request_json, sdk_request
from tests.support.otlp_client import JSON, PROTOBUF, post_otlp, span_count, sql_rows
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import poll

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
FORGED = "2026-12-03 08:00:00,000 INFO kate.collector.auth: FORGED admin key accepted"


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """At DEBUG, where completing a run logs its run id and agent id."""
    config = {"logging": {"level": "DEBUG"}, "evaluation": {"enabled": False}}
    process = start_collector_process(tmp_path_factory.mktemp("forging") / "kate.duckdb", config=config)
    yield process
    process.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def two_spans(tracer: Tracer) -> None:
    with tracer.start_as_current_span("agent"), tracer.start_as_current_span("llm"):
        pass  # a root span: its end completes the run, and completion is logged


def mixed_request(good_agent: str) -> ExportTraceServiceRequest:
    """Two resources with forged agent ids (3 spans) and one valid agent (2 spans)."""
    request = sdk_request(two_spans, {"kate.agent.id": f"planner\n{FORGED}", "service.name": "svc"})
    request.resource_spans.extend(sdk_request(lambda t: t.start_span("s").end(),
                                              {"service.name": f"svc\x1b[2K\r{FORGED}"}).resource_spans)
    request.resource_spans.extend(sdk_request(two_spans, {"kate.agent.id": good_agent}).resource_spans)
    return request


async def export(process: CollectorProcess, session: aiohttp.ClientSession, transport: str,
                 request: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    if transport == "grpc":
        return await asyncio.to_thread(_grpc_export, process, request)
    if transport == "http-json":
        answer = await post_otlp(session, process.base_url, json.dumps(request_json(request)).encode(),
                                 content_type=JSON)
    else:
        answer = await post_otlp(session, process.base_url, request.SerializeToString(), content_type=PROTOBUF)
    assert answer.status == 200, answer.body
    return answer.response()


def _grpc_export(process: CollectorProcess, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse:
    with grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}") as channel:
        call = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        return call(request.SerializeToString(), timeout=30)  # type: ignore[no-any-return]


def forged_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith(FORGED)]


async def completion_logged(process: CollectorProcess, agent: str) -> str:
    """The log once it shows the completion of a run of agent (logged before the spans' ack,
    read from the process's output by another thread)."""

    async def log() -> str:
        return process.log()

    return await poll(log, lambda text: any(agent in line and "completed" in line for line in text.splitlines()),
                      what=f"the completion of a run of {agent} in the log")


@pytest.mark.parametrize("transport", ["http-protobuf", "http-json", "grpc"])
async def test_an_agent_id_with_control_characters_is_rejected_and_the_rest_stored(
    logged: CollectorProcess, session: aiohttp.ClientSession, transport: str
) -> None:
    good_agent = f"good-{uuid.uuid4().hex[:8]}"
    ((spans_before,),) = sql_rows(logged.base_url, "SELECT count(*) FROM spans")
    response = await export(logged, session, transport, mixed_request(good_agent))

    partial = response.partial_success
    assert partial.rejected_spans == 3, partial
    assert "kate.agent.id" in partial.error_message and "service.name" in partial.error_message
    assert "printable" in partial.error_message and "\n" not in partial.error_message
    assert span_count(logged.base_url, good_agent) == 2
    ((spans_after,),) = sql_rows(logged.base_url, "SELECT count(*) FROM spans")
    assert spans_after == spans_before + 2  # nothing of the forged agents reached DuckDB
    assert forged_lines(await completion_logged(logged, good_agent)) == []


async def test_the_runs_api_refuses_the_same_agent_ids(logged: CollectorProcess, session: aiohttp.ClientSession) -> None:
    for agent in ("planner%0A2026", "svc%1B%5B2K"):
        async with session.get(f"{logged.base_url}/agents/{agent}/runs") as answer:
            assert answer.status == 422
            assert "printable" in (await answer.json())["error"]["message"]


async def test_client_text_that_reaches_a_log_line_is_escaped(
    logged: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    """A run id of the sender's choosing, logged when its root span completes the run."""
    agent = f"runner-{uuid.uuid4().hex[:8]}"
    request = sdk_request(two_spans, {"kate.agent.id": agent, "kate.run.id": f"nightly\r\n{FORGED}"})
    response = await export(logged, session, "http-protobuf", request)
    assert span_count(logged.base_url, agent) == 2 - response.partial_success.rejected_spans
    if response.partial_success.rejected_spans:  # a collector that refuses such run ids logs nothing of them
        assert forged_lines(logged.log()) == []
        return
    log = await completion_logged(logged, agent)
    assert forged_lines(log) == []
    assert "nightly\\r\\n" + FORGED in log  # escaped, on the line of the completion
