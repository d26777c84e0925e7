"""Hostile requests on every endpoint: a clear 4xx in the right envelope, the server stays up,
and nothing partial is written. The corpus is data (hostile_corpus.py); slow clients and gRPC
have their own tests below."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.rpc import status_pb2
from kate.collector.api.routes import ROUTES
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.reliability.hostile_corpus import (
    AGENT,
    BODY_CAP_BYTES,
    CORPUS,
    GARBAGE,
    JSON,
    PROTOBUF,
    RUN,
    Hostile,
    deep_any_value_protobuf,
    otlp_request,
    span,
    tiny_attributes_protobuf,
)
from tests.support.server import CollectorProcess, start_collector_process

BODY_TIMEOUT_S = 1.0
KEEPALIVE_TIMEOUT_S = 2.0
COUNTS_SQL = ("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM spans), (SELECT count(*) FROM jobs), "
              "(SELECT count(*) FROM evaluations)")
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def hostile_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {
        "server": {"max_body_bytes": BODY_CAP_BYTES, "grpc_max_message_bytes": BODY_CAP_BYTES,
                   "body_timeout_s": BODY_TIMEOUT_S, "keepalive_timeout_s": KEEPALIVE_TIMEOUT_S,
                   "shutdown_timeout_s": 1},
        "api": {"upload_rate_limit_per_minute": 100_000},
        "sql": {"timeout_ms": 3000},
        # Background evaluations of runs completed by earlier (valid) cases would write rows
        # while a later case counts them; only what a hostile request writes is under test.
        "evaluation": {"enabled": False},
    }
    process = start_collector_process(tmp_path_factory.mktemp("hostile") / "kate.duckdb", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def running_run(hostile_collector: CollectorProcess) -> str:
    """A running run of AGENT, for the upload, fail and evaluate cases."""
    body = json.dumps({"trigger": "test"}).encode()
    answer = _blocking_post(hostile_collector.base_url + f"/agents/{AGENT}/runs", body)
    return str(json.loads(answer)["id"])


def _blocking_post(url: str, body: bytes) -> bytes:
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": JSON})
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        yield client


async def counts(session: aiohttp.ClientSession, base_url: str) -> list[int]:
    async with session.post(f"{base_url}/sql", json={"sql": COUNTS_SQL}) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["rows"][0])


async def assert_alive(session: aiohttp.ClientSession, base_url: str) -> None:
    async with session.get(f"{base_url}/healthz") as response:
        assert response.status == 200


def test_the_corpus_covers_every_route() -> None:
    """A new route without a hostile case fails here (paths are matched by their templates)."""
    covered = set()
    for case in CORPUS.values():
        for method, template, _ in ROUTES:
            if case.method == method and _matches(template, case.path.split("?")[0]):
                covered.add((method, template))
    routed = {(method, template) for method, template, _ in ROUTES}
    assert routed - covered == set()
    assert len(CORPUS) >= 100


def _matches(template: str, path: str) -> bool:
    parts, actual = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(actual) and all(p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True))


@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
async def test_hostile_request_gets_a_clear_4xx_and_writes_nothing(
    case: Hostile, hostile_collector: CollectorProcess, running_run: str, session: aiohttp.ClientSession
) -> None:
    base_url = hostile_collector.base_url
    before = await counts(session, base_url)
    headers = dict(case.headers)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.encoding is not None:
        headers["Content-Encoding"] = case.encoding
    url = base_url + case.path.replace(RUN, running_run)
    async with session.request(case.method, url, data=case.body, headers=headers,
                               skip_auto_headers=("Content-Type",)) as response:
        body = await response.read()
        status, content_type = response.status, response.content_type
    assert status in case.statuses, body[:400]
    if status >= 400:
        _assert_error_body(case, status, content_type, body)
    await assert_alive(session, base_url)
    assert await counts(session, base_url) == before  # nothing partial, nothing at all
    assert hostile_collector.process.poll() is None


def _assert_error_body(case: Hostile, status: int, content_type: str, body: bytes) -> None:
    if case.envelope == "json":
        assert content_type == "application/json", body[:200]
        error = json.loads(body)["error"]
        assert error["code"] and error["message"] and error["code"] != "internal"
        assert set(error) <= {"code", "message", "details"}
    elif case.envelope == "otlp":
        assert content_type == case.content_type  # google.rpc.Status in the request's encoding
        message = status_pb2.Status()
        if content_type == JSON:
            message.message = json.loads(body)["message"]
        else:
            message.ParseFromString(body)
        assert message.message
    else:
        assert content_type == "text/plain" and body
    assert status < 500


async def test_an_otlp_request_of_spans_that_are_all_invalid_is_counted_not_stored(
    hostile_collector: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    """Wrong-length and zero ids, times beyond int64: 200 with every span in partial_success."""
    request = otlp_request(span(trace_id=b"abc"), span(span_id=b"\x01"), span(trace_id=bytes(16)),
                           span(start_time_unix_nano=2**64 - 1))
    before = await counts(session, hostile_collector.base_url)
    async with session.post(f"{hostile_collector.base_url}/v1/traces", data=request.SerializeToString(),
                            headers={"Content-Type": PROTOBUF}) as response:
        answer = ExportTraceServiceResponse.FromString(await response.read())
    assert answer.partial_success.rejected_spans == 4
    assert await counts(session, hostile_collector.base_url) == before


async def test_far_future_otlp_times_within_int64_are_stored_as_given(
    hostile_collector: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    """OTLP times are unsigned; anything up to 2**63-1 ns (year 2262) is a valid span."""
    trace_id = os.urandom(16)
    request = otlp_request(span(trace_id=trace_id, start_time_unix_nano=2**63 - 2, end_time_unix_nano=2**63 - 1))
    async with session.post(f"{hostile_collector.base_url}/v1/traces", data=request.SerializeToString(),
                            headers={"Content-Type": PROTOBUF}) as response:
        assert response.status == 200
    async with session.post(f"{hostile_collector.base_url}/sql", json={
            "sql": "SELECT start_time_unix_nano, end_time_unix_nano FROM spans WHERE trace_id = ?",
            "params": [trace_id.hex()]}) as response:
        assert (await response.json())["rows"] == [[2**63 - 2, 2**63 - 1]]


def _grpc_export(port: int, body: bytes) -> tuple[grpc.StatusCode, ExportTraceServiceResponse | None]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        try:
            return grpc.StatusCode.OK, call(body, timeout=30)
        except grpc.RpcError as error:
            return error.code(), None


GRPC_CASES = {
    "garbage": (lambda: GARBAGE, grpc.StatusCode.INVALID_ARGUMENT),
    "deep-nesting": (lambda: deep_any_value_protobuf(5_000), grpc.StatusCode.INVALID_ARGUMENT),
    "invalid-utf8": (lambda: otlp_request(span(name="PLACEHOLDER")).SerializeToString()
                     .replace(b"PLACEHOLDER", b"\xff\xfe\xed\xa0\x80\xc3\x28xxxx"), grpc.StatusCode.INVALID_ARGUMENT),
    "tiny-attributes-over-cap": (lambda: tiny_attributes_protobuf(BODY_CAP_BYTES + 4096),
                                 grpc.StatusCode.RESOURCE_EXHAUSTED),
    "all-ids-wrong": (lambda: otlp_request(span(trace_id=b"abc"), span(span_id=bytes(8))).SerializeToString(),
                      grpc.StatusCode.OK),
}


@pytest.mark.parametrize("name", GRPC_CASES)
async def test_hostile_grpc_export_is_refused_and_writes_nothing(
    name: str, hostile_collector: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    build, expected = GRPC_CASES[name]
    before = await counts(session, hostile_collector.base_url)
    assert hostile_collector.grpc_port is not None
    code, response = await asyncio.to_thread(_grpc_export, hostile_collector.grpc_port, build())
    assert code == expected
    if response is not None:
        assert response.partial_success.rejected_spans == 2
    await assert_alive(session, hostile_collector.base_url)
    assert await counts(session, hostile_collector.base_url) == before


def _slow_client(port: int, path: str, content_type: str) -> tuple[float, bytes]:
    """Send headers, then one body byte every 50 ms; return (seconds until answered, answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                     "Content-Length: 100000\r\n\r\n".encode())
        sock.settimeout(0.05)
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 10 * BODY_TIMEOUT_S:
            try:
                sock.sendall(b"[")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset after the answer: the server closed the connection
                break
            if not chunk:
                break
            answer += chunk
        return time.monotonic() - started, answer


@pytest.mark.parametrize(("path", "content_type", "expected"), [
    ("/agents/hostile/runs", JSON, b'"code": "request_timeout"'),
    ("/sql", JSON, b'"code": "request_timeout"'),
    ("/v1/traces", JSON, b'"message":"request body not received within 1 s'),
    ("/v1/traces", PROTOBUF, b"request body not received within 1 s"),
])
async def test_a_slow_loris_body_is_cut_off_while_others_are_served(
    hostile_collector: CollectorProcess, session: aiohttp.ClientSession, path: str, content_type: str, expected: bytes
) -> None:
    slow = asyncio.create_task(asyncio.to_thread(_slow_client, hostile_collector.http_port, path, content_type))
    served = 0
    while not slow.done():  # others are answered at once while the slow body trickles in
        started = time.monotonic()
        await assert_alive(session, hostile_collector.base_url)
        assert time.monotonic() - started < 0.5
        served += 1
        await asyncio.sleep(0.05)
    elapsed, answer = await slow
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"Connection: close" in answer and expected in answer
    assert BODY_TIMEOUT_S <= elapsed < BODY_TIMEOUT_S + 2
    assert served > 5


async def test_a_connection_stuck_in_its_headers_is_closed(hostile_collector: CollectorProcess) -> None:
    def stuck() -> float:
        with socket.create_connection(("127.0.0.1", hostile_collector.http_port), timeout=10) as sock:
            sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: kate\r\nX-Slow: ")
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server without an answer
            return time.monotonic() - started

    elapsed = await asyncio.to_thread(stuck)
    assert elapsed < KEEPALIVE_TIMEOUT_S + 6  # aiohttp rounds its timers up to whole seconds


def test_the_server_log_has_no_tracebacks(hostile_collector: CollectorProcess) -> None:
    """Runs last in this module: nothing above was a bug of ours (a 500 logs `unhandled error`,
    a failed write `ERROR kate...`, an exception escaping a handler aiohttp's `Unhandled exception`).
    aiohttp's parser logs a refused header line with its traceback; that one is the client's."""
    log = hostile_collector.log()
    for marker in ("unhandled error on", " ERROR kate.", "Unhandled exception"):
        assert marker not in log, log[-3000:]
    assert Path(hostile_collector.db_path).exists()
