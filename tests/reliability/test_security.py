"""Security (docs/api.md#conventions) beyond tests/collector/test_auth.py: a key limited to agent B can neither
read nor write agent A on any route (REST, OTLP/HTTP, gRPC, /sql, /jobs/{job_id}); the config
holds only hashes; no secret (API keys, the LLM judge's key) reaches the logs, even at DEBUG and
on failures; hostile SQL is interrupted or refused without hurting the collector."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from kate.collector.auth import hash_key
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.reliability.hostile_corpus import otlp_request, span
from tests.support.server import CollectorProcess, start_collector_process
from tests.support.waiting import poll

ADMIN, KEY_A, KEY_B = "kate_admin_sec_key_0123456789", "kate_alpha_sec_key_0123456789", "kate_beta_sec_key_0123456789"
JUDGE_KEY = "sk-judge-secret-0123456789abcdef"
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
COUNTS = ("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM spans), (SELECT count(*) FROM jobs), "
          "(SELECT count(*) FROM evaluations)")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    config = {
        "auth": {"keys": [{"name": "admin", "sha256": hash_key(ADMIN)},
                          {"name": "alpha", "sha256": hash_key(KEY_A), "agents": ["alpha"]},
                          {"name": "beta", "sha256": hash_key(KEY_B), "agents": ["beta"]}]},
        "hosted_agents": [{"agent_id": "alpha", "entrypoint": "kate.collector.jobs.examples:content_strategist"}],
        "jobs": {"worker_enabled": False},  # the job stays queued: only its access is under test
        "evaluation": {"cooldown_s": 0, "llm_judge": {"enabled": True, "base_url": "http://127.0.0.1:9/v1",
                                                      "api_key_env": "KATE_SEC_JUDGE_KEY", "timeout_s": 1}},
        "logging": {"level": "DEBUG"},
        "sql": {"timeout_ms": 1500},
        "storage": {"memory_limit": "256MiB"},
    }
    db_path = tmp_path_factory.mktemp("secured") / "kate.duckdb"
    process = start_collector_process(db_path, config=config, env={"KATE_SEC_JUDGE_KEY": JUDGE_KEY})
    yield process
    process.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def call(session: aiohttp.ClientSession, base_url: str, method: str, path: str, key: str,
               body: object = None) -> tuple[int, dict]:
    async with session.request(method, base_url + path, json=body,
                               headers={"Authorization": f"Bearer {key}"}) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text.startswith("{") else {})


async def test_a_key_for_one_agent_can_neither_read_nor_write_another_on_any_route(
    secured: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    base = secured.base_url
    status, run = await call(session, base, "POST", "/agents/alpha/runs", KEY_A, {"trigger": "test"})
    assert status == 201
    status, enqueued = await call(session, base, "POST", "/agents/alpha/runs/enqueue", KEY_A,
                                  {"trigger": "manual", "user_input": "x"})
    assert status == 202
    run_path = f"/agents/alpha/runs/{run['id']}"
    _, before = await call(session, base, "POST", "/sql", ADMIN, {"sql": COUNTS})

    attempts = [
        ("GET", "/agents/alpha/runs", None), ("POST", "/agents/alpha/runs", {"trigger": "test"}),
        ("POST", "/agents/alpha/runs/enqueue", {"trigger": "manual"}), ("GET", run_path, None),
        ("POST", f"{run_path}/complete", None), ("POST", f"{run_path}/fail", {"error": "x"}),
        ("POST", f"{run_path}/evaluate", None), ("GET", f"{run_path}/spans", None),
        ("POST", f"{run_path}/spans", {"spans": [{"node_name": "n"}]}),
        ("GET", f"/jobs/{enqueued['job_id']}", None), ("POST", "/sql", {"sql": "SELECT * FROM spans"}),
    ]
    for method, path, body in attempts:
        status, answer = await call(session, base, method, path, KEY_B, body)
        assert (status, answer.get("error", {}).get("code")) == (403, "forbidden"), (method, path, answer)

    otlp = otlp_request(span(), agent="alpha").SerializeToString()
    async with session.post(f"{base}/v1/traces", data=otlp, headers={
            "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {KEY_B}"}) as response:
        assert response.status == 403
    assert secured.grpc_port is not None
    assert await asyncio.to_thread(_grpc_code, secured.grpc_port, otlp, KEY_B) == grpc.StatusCode.PERMISSION_DENIED
    # A batch mixing the caller's agent with another is refused whole: nothing partial is written.
    mixed = otlp_request(span(), agent="beta")
    mixed.resource_spans.extend(otlp_request(span(), agent="alpha").resource_spans)
    assert await asyncio.to_thread(_grpc_code, secured.grpc_port, mixed.SerializeToString(), KEY_B) \
        == grpc.StatusCode.PERMISSION_DENIED

    _, after = await call(session, base, "POST", "/sql", ADMIN, {"sql": COUNTS})
    assert after["rows"] == before["rows"]
    status, job = await call(session, base, "GET", f"/jobs/{enqueued['job_id']}", KEY_A)
    assert status == 200 and job["agent_id"] == "alpha"


def _grpc_code(port: int, body: bytes, key: str) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        export = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        try:
            export(body, metadata=[("authorization", f"Bearer {key}")], timeout=10)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


async def test_the_hash_in_config_is_not_a_key(secured: CollectorProcess, session: aiohttp.ClientSession) -> None:
    config_text = next(Path(secured.db_path).parent.glob("config-*.yaml")).read_text()
    assert KEY_A not in config_text and hash_key(KEY_A) in config_text
    status, answer = await call(session, secured.base_url, "GET", "/agents/alpha/runs", hash_key(KEY_A))
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(("sql", "code"), [
    ("SELECT count(*) FROM range(100000000) a, range(100000000) b", "query_timeout"),  # a huge cross join
    ("SELECT * FROM range(100000000) ORDER BY random()", "query_timeout"),
    ("SELECT string_agg(repeat('x', 1000000), '') FROM range(100000)", "bad_request"),  # past memory_limit
    ("SELECT list(i) FROM range(1000000000) t(i)", "bad_request"),
])
async def test_hostile_sql_is_interrupted_or_refused_and_the_collector_keeps_serving(
    secured: CollectorProcess, session: aiohttp.ClientSession, sql: str, code: str
) -> None:
    status, answer = await call(session, secured.base_url, "POST", "/sql", ADMIN, {"sql": sql})
    assert answer["error"]["code"] == code and status in (400, 408)
    status, answer = await call(session, secured.base_url, "POST", "/agents/alpha/runs", KEY_A, {"trigger": "test"})
    assert status == 201  # writes go on after the hostile query
    status, rows = await call(session, secured.base_url, "POST", "/sql", ADMIN, {"sql": "SELECT 42"})
    assert rows["rows"] == [[42]]


async def test_a_huge_result_is_cut_at_the_row_cap_without_materialising(
    secured: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    status, answer = await call(session, secured.base_url, "POST", "/sql", ADMIN,
                                {"sql": "SELECT * FROM range(10000000000)", "max_rows": 5})
    assert status == 200 and answer["row_count"] == 5 and answer["truncated"] is True


async def test_no_secret_reaches_the_log_even_at_debug_and_on_failures(
    secured: CollectorProcess, session: aiohttp.ClientSession
) -> None:
    """Keys presented right and wrong, in both headers and gRPC metadata; a judge call that fails."""
    base = secured.base_url
    status, run = await call(session, base, "POST", "/agents/alpha/runs", KEY_A, {"trigger": "test"})
    await call(session, base, "GET", "/agents/alpha/runs", KEY_A + "-wrong")
    async with session.get(f"{base}/agents/alpha/runs", headers={"X-API-Key": KEY_B}):
        pass
    assert secured.grpc_port is not None
    await asyncio.to_thread(_grpc_code, secured.grpc_port, b"\xff", ADMIN)
    status, _ = await call(session, base, "POST", f"/agents/alpha/runs/{run['id']}/complete", KEY_A)
    assert status == 200

    async def evaluation() -> dict:
        return (await call(session, base, "GET", f"/agents/alpha/runs/{run['id']}", KEY_A))[1]

    settled = await poll(evaluation, lambda r: r["evaluation_status"] not in (None, "pending"),
                         what="the judge to fail")
    log = secured.log()
    assert "DEBUG" in log or "INFO" in log
    for secret in (ADMIN, KEY_A, KEY_B, JUDGE_KEY, JUDGE_KEY[:16]):
        assert secret not in log
        assert secret not in json.dumps(settled)
    assert os.environ.get("KATE_SEC_JUDGE_KEY") is None  # the secret went to the child only


def _raw_request(port: int, header_lines: bytes) -> bytes:
    """A GET with these header lines as given (malformed on purpose); the start of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /agents/alpha/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header_lines + b"\r\n\r\n")
        return sock.recv(64)


async def test_malformed_and_oversized_key_headers_never_reach_the_log(secured: CollectorProcess) -> None:
    """aiohttp quotes the offending header line of a request it cannot parse; at DEBUG (and at
    ERROR, where it logs them) only the kind of error may appear, never the key."""
    oversized = "kate_oversized_secret_" + "z" * 9000
    malformed = [
        f"Authorization: Bearer {ADMIN}{'x' * 9000}".encode(),  # past aiohttp's 8190-byte header limit
        f"X-API-Key: {oversized}".encode(),
        f"X-API-Key: {KEY_A}\x01".encode(),  # a control character
        f"Authorization: Bearer {KEY_B}\r\n folded".encode(),  # obsolete line folding
    ]
    for lines in malformed:
        answer = await asyncio.to_thread(_raw_request, secured.http_port, lines)
        assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"), answer

    async def log() -> str:
        return secured.log()

    text = await poll(log, lambda t: t.count("the request's bytes are not logged") >= len(malformed),
                      what="the parse errors in the log")
    for secret in (ADMIN, KEY_A, KEY_B, "kate_oversized_secret_"):
        assert secret not in text
