"""OTLP answers, table-driven, on the real collector: HTTP status and body (google.rpc.Status in
the request's encoding), gRPC codes and trailers, and what reached DuckDB for each case."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.trace import Tracer
from otlp_bodies import request_json, sdk_request

from tests.support.otlp_client import JSON, PROTOBUF, OtlpAnswer, post_otlp, span_count
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import poll

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SMALL_BYTES = 4096
RETRY_AFTER_S = 2
Body = Callable[[str], bytes]  # agent id → request body
BAD_HEX_ID = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "0102030405060708"}]}]}]}'


def _emit(tracer: Tracer) -> None:
    with tracer.start_as_current_span("agent"), tracer.start_as_current_span("llm",
                                                                             attributes={"llm.model_name": "m"}):
        pass


def valid_request(agent_id: str) -> ExportTraceServiceRequest:
    return sdk_request(_emit, {"kate.agent.id": agent_id})


def partial_request(agent_id: str) -> ExportTraceServiceRequest:
    """Two valid spans and one with a 3-byte trace id, which OTLP decoding must reject alone."""
    request = valid_request(agent_id)
    request.resource_spans[0].scope_spans[0].spans.append(Span(trace_id=b"abc", span_id=os.urandom(8), name="bad"))
    return request


def big_request(agent_id: str, spans: int = 2000, text_bytes: int = 4096) -> ExportTraceServiceRequest:
    """Megabytes of text in one request: its commit cannot finish within 1 ms."""
    trace_id = os.urandom(16)
    text = AnyValue(string_value="lorem ipsum " * (text_bytes // 12))
    scope = ScopeSpans(spans=[
        Span(trace_id=trace_id, span_id=(index + 1).to_bytes(8, "big"), parent_span_id=b"\x00" * 7 + b"\x01",
             name=f"step-{index}", start_time_unix_nano=1, end_time_unix_nano=2,
             attributes=[KeyValue(key="input.value", value=text)])
        for index in range(spans)
    ])
    resource = {"attributes": [KeyValue(key="kate.agent.id", value=AnyValue(string_value=agent_id))]}
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope])])


def protobuf(build: Callable[[str], ExportTraceServiceRequest]) -> Body:
    return lambda agent_id: build(agent_id).SerializeToString()


def otlp_json(build: Callable[[str], ExportTraceServiceRequest], *, zero_span_id: bool = False) -> Body:
    def body(agent_id: str) -> bytes:
        document = request_json(build(agent_id))
        if zero_span_id:  # valid hex, but an all-zero id is not a span: rejected alone
            bad = dict(document["resourceSpans"][0]["scopeSpans"][0]["spans"][0], spanId="0" * 16)
            document["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad)
        return json.dumps(document).encode()
    return body


def compressed(compress: Callable[[bytes], bytes], body: Body) -> Body:
    return lambda agent_id: compress(body(agent_id))


def oversized(agent_id: str) -> bytes:
    request = valid_request(agent_id)
    request.resource_spans[0].scope_spans[0].spans[0].attributes.append(
        KeyValue(key="filler", value=AnyValue(string_value="z" * (4 * SMALL_BYTES))))
    return request.SerializeToString()


def oversized_json(agent_id: str) -> bytes:
    document = request_json(valid_request(agent_id))
    document["filler"] = "z" * (4 * SMALL_BYTES)  # an unknown field: ignored, but counted by the cap
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Case:
    collector: str  # "shared", "small" (4 KiB caps) or "slow" (1 ms commit bound)
    content_type: str
    body: Body
    status: int
    stored: int | None  # spans in DuckDB afterwards; None: decided later (see the overload test)
    encoding: str | None = None
    rejected: int = 0
    message: str = ""  # a substring of the Status message, partial_success message or text body


HTTP_CASES: dict[str, Case] = {
    "ok-protobuf": Case("shared", PROTOBUF, protobuf(valid_request), 200, 2),
    "ok-json": Case("shared", JSON, otlp_json(valid_request), 200, 2),
    "ok-json-charset": Case("shared", f"{JSON}; charset=utf-8", otlp_json(valid_request), 200, 2),
    "ok-gzip": Case("shared", PROTOBUF, compressed(gzip.compress, protobuf(valid_request)), 200, 2, "gzip"),
    "ok-x-gzip": Case("shared", PROTOBUF, compressed(gzip.compress, protobuf(valid_request)), 200, 2, "x-gzip"),
    "ok-deflate": Case("shared", JSON, compressed(zlib.compress, otlp_json(valid_request)), 200, 2, "deflate"),
    "ok-empty": Case("shared", PROTOBUF, lambda _: b"", 200, 0),
    "partial-protobuf": Case("shared", PROTOBUF, protobuf(partial_request), 200, 2, rejected=1,
                             message="trace_id must be 16 bytes, got 3"),
    "partial-json": Case("shared", JSON, otlp_json(valid_request, zero_span_id=True), 200, 2, rejected=1,
                         message="span_id must not be all zero"),
    "bad-protobuf": Case("shared", PROTOBUF, lambda _: b"\xff\xff\xff\xff", 400, 0, message="invalid OTLP protobuf"),
    "bad-json": Case("shared", JSON, lambda _: b'{"resourceSpans": [', 400, 0, message="not valid JSON"),
    "bad-json-hex-id": Case("shared", JSON, lambda _: BAD_HEX_ID, 400, 0, message="traceId must be 32 hex digits"),
    "bad-gzip": Case("shared", PROTOBUF, lambda _: b"not gzip at all", 400, 0, "gzip", message="not valid gzip"),
    "bad-encoding": Case("shared", PROTOBUF, protobuf(valid_request), 400, 0, "snappy",
                         message="unsupported Content-Encoding"),
    "too-large": Case("small", PROTOBUF, oversized, 413, 0, message="limit"),
    "too-large-json": Case("small", JSON, oversized_json, 413, 0, message="limit"),
    "too-large-gzip": Case("small", PROTOBUF, compressed(gzip.compress, oversized), 413, 0, "gzip",
                           message="after decompression"),
    "too-large-x-gzip": Case("small", PROTOBUF, compressed(gzip.compress, oversized), 413, 0, "x-gzip",
                             message="exceeds the limit"),
    "wrong-type": Case("shared", "text/plain", protobuf(valid_request), 415, 0,
                       message="expected application/x-protobuf or application/json"),
    "no-type": Case("shared", "", protobuf(valid_request), 415, 0, message="unsupported Content-Type"),
    "overloaded-protobuf": Case("slow", PROTOBUF, protobuf(big_request), 503, None, message="commit did not finish"),
    "overloaded-json": Case("slow", JSON, otlp_json(lambda a: big_request(a, spans=500)), 503, None,
                            message="commit did not finish"),
}


@pytest.fixture(scope="module")
def private_collectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CollectorProcess]]:
    """The module's private collectors, started on first use."""
    configs = {
        "small": {"server": {"max_body_bytes": SMALL_BYTES, "grpc_max_message_bytes": SMALL_BYTES}},
        "slow": {"storage": {"commit_timeout_ms": 1}, "queue": {"retry_after_s": RETRY_AFTER_S}},
    }
    started: dict[str, CollectorProcess] = {}

    class Lazy(dict[str, CollectorProcess]):
        def __missing__(self, name: str) -> CollectorProcess:
            path = tmp_path_factory.mktemp(name) / "kate.duckdb"
            started[name] = self[name] = start_collector_process(path, config=configs[name])
            return started[name]

    yield Lazy()
    for process in started.values():
        process.stop()


@pytest.fixture
def pick(collector: CollectorProcess, private_collectors: dict[str, CollectorProcess]
         ) -> Callable[[str], CollectorProcess]:
    return lambda name: collector if name == "shared" else private_collectors[name]


@pytest.mark.parametrize("case", HTTP_CASES.values(), ids=HTTP_CASES.keys())
async def test_http_answers(case: Case, pick: Callable[[str], CollectorProcess], agent_id: str) -> None:
    collector = pick(case.collector)
    await _queues_drained(collector)
    async with aiohttp.ClientSession() as session:
        answer = await post_otlp(session, collector.base_url, case.body(agent_id),
                                 content_type=case.content_type, encoding=case.encoding)
    assert answer.status == case.status, answer.body[:300]
    if case.status == 200:
        _check_success(answer, case)
    elif case.status == 415:
        assert answer.content_type == "text/plain" and case.message in answer.body.decode()
    else:
        _check_status_body(answer, case)
    if case.stored is not None:
        assert span_count(collector.base_url, agent_id) == case.stored


async def _queues_drained(collector: CollectorProcess) -> None:
    """Wait until the collector's write and decode queues are empty, so that a case meets the
    limit it is about (the 1 ms commit timeout) and not the full queue an earlier case's slow
    commit left behind (a different 503)."""
    async def queue_depths() -> list[float]:
        async with aiohttp.ClientSession() as session, session.get(f"{collector.base_url}/metrics") as answer:
            text = await answer.text()
        return [float(line.split()[-1]) for line in text.splitlines()
                if line.startswith(("kate_write_queue_requests ", "kate_decode_queue_requests "))]

    await poll(queue_depths, lambda depths: len(depths) == 2 and not any(depths), what="empty queues")


def _check_success(answer: OtlpAnswer, case: Case) -> None:
    expected_type = case.content_type.split(";")[0]
    assert answer.content_type == expected_type  # OTLP: answer in the request's media type
    response = answer.response()
    if not case.rejected:
        assert not response.HasField("partial_success")
        assert answer.body == (b"{}" if expected_type == JSON else b"")
        return
    assert response.partial_success.rejected_spans == case.rejected
    assert case.message in response.partial_success.error_message


def _check_status_body(answer: OtlpAnswer, case: Case) -> None:
    assert answer.content_type == case.content_type  # google.rpc.Status, in the request's encoding
    status = answer.status_message()
    assert case.message in status.message
    grpc_codes = {400: grpc.StatusCode.INVALID_ARGUMENT, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
                  503: grpc.StatusCode.UNAVAILABLE}
    assert status.code == grpc_codes[case.status].value[0]
    if case.status == 503:
        assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)  # OTLP: 503 is retryable, after this delay
    else:
        assert "Retry-After" not in answer.headers


@dataclass(frozen=True)
class GrpcCase:
    collector: str
    body: Body
    code: grpc.StatusCode
    stored: int | None
    compression: grpc.Compression | None = None
    rejected: int = 0
    message: str = ""


GRPC_CASES: dict[str, GrpcCase] = {
    "ok": GrpcCase("shared", protobuf(valid_request), grpc.StatusCode.OK, 2),
    "ok-gzip": GrpcCase("shared", protobuf(valid_request), grpc.StatusCode.OK, 2, grpc.Compression.Gzip),
    "partial": GrpcCase("shared", protobuf(partial_request), grpc.StatusCode.OK, 2, rejected=1,
                        message="trace_id must be 16 bytes, got 3"),
    "bad-data": GrpcCase("shared", lambda _: b"\xff\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, 0,
                         message="invalid OTLP protobuf"),
    "too-large": GrpcCase("small", oversized, grpc.StatusCode.RESOURCE_EXHAUSTED, 0),
    "too-large-gzip": GrpcCase("small", oversized, grpc.StatusCode.RESOURCE_EXHAUSTED, 0, grpc.Compression.Gzip),
    "overloaded": GrpcCase("slow", protobuf(big_request), grpc.StatusCode.UNAVAILABLE, None,
                           message="commit did not finish"),
}


async def export_raw(port: int, body: bytes, compression: grpc.Compression | None = None
                     ) -> tuple[grpc.StatusCode, str, ExportTraceServiceResponse | None, dict[str, bytes]]:
    """One raw Export call: (code, details, response, trailing metadata)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        call = export(body, timeout=30, compression=compression)
        try:
            response = await call
        except grpc.aio.AioRpcError as error:
            trailers = {key: value for key, value in (error.trailing_metadata() or ())}
            return error.code(), error.details() or "", None, trailers
        return await call.code(), await call.details() or "", response, {}


@pytest.mark.parametrize("case", GRPC_CASES.values(), ids=GRPC_CASES.keys())
async def test_grpc_answers(case: GrpcCase, pick: Callable[[str], CollectorProcess], agent_id: str) -> None:
    collector = pick(case.collector)
    assert collector.grpc_port is not None
    await _queues_drained(collector)
    code, details, response, trailers = await export_raw(collector.grpc_port, case.body(agent_id), case.compression)
    assert code == case.code, details
    assert case.message in details or (response is not None and case.message in
                                       response.partial_success.error_message)
    if response is not None:
        assert response.partial_success.rejected_spans == case.rejected
    if case.code == grpc.StatusCode.UNAVAILABLE:
        assert_retry_trailers(trailers, RETRY_AFTER_S)
    if case.stored is not None:
        assert span_count(collector.base_url, agent_id) == case.stored


def assert_retry_trailers(trailers: dict[str, bytes], seconds: int) -> None:
    """RetryInfo in both places: status details (Go clients) and its own trailer (Python exporter)."""
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    (detail,) = status.details
    in_details = error_details_pb2.RetryInfo()
    assert detail.Unpack(in_details)
    in_trailer = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert in_details.retry_delay.seconds == in_trailer.retry_delay.seconds == seconds


async def test_overloaded_writes_are_safe_to_retry(start_collector: Callable[..., CollectorProcess],
                                                   tmp_path: Path) -> None:
    """A 503/UNAVAILABLE after the commit bound may still commit; the exporter's retry then
    adds nothing (unique on trace_id, span_id). Checked after a drain on restart, not a sleep."""
    db_path = tmp_path / "kate.duckdb"
    slow = start_collector(db_path, config={"storage": {"commit_timeout_ms": 1}, "queue": {"retry_after_s": RETRY_AFTER_S}})
    bodies = {agent: big_request(agent).SerializeToString() for agent in ("http-agent", "grpc-agent")}
    async with aiohttp.ClientSession() as session:
        answer = await post_otlp(session, slow.base_url, bodies["http-agent"])
        assert (answer.status, answer.headers["Retry-After"]) == (503, str(RETRY_AFTER_S))
        assert slow.grpc_port is not None
        code, _, _, trailers = await export_raw(slow.grpc_port, bodies["grpc-agent"])
        assert code == grpc.StatusCode.UNAVAILABLE
        assert_retry_trailers(trailers, RETRY_AFTER_S)
        assert slow.stop() == 0  # SIGTERM drains the write queue: whatever was accepted commits

        normal = start_collector(db_path)
        assert (await post_otlp(session, normal.base_url, bodies["http-agent"])).status == 200
        assert normal.grpc_port is not None
        assert (await export_raw(normal.grpc_port, bodies["grpc-agent"]))[0] == grpc.StatusCode.OK
    for agent in bodies:
        assert span_count(normal.base_url, agent) == 2000  # every span once: no loss, no duplicate
