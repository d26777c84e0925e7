"""What the real collector cannot be made to answer on demand, from a stub on 127.0.0.1: 503 and auth headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from kate.exporter import Client, KateSpanExporter, SyncClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

RUN = {"id": "0190a1b2-0000-7000-8000-000000000001", "agent_id": "a", "status": "running", "trigger": "manual"}


@dataclass
class Stub:
    base_url: str
    uploads_refused: int = 1  # 503 overloaded answers before the first 201
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    state = Stub("")

    async def answer(request: web.Request) -> web.Response:
        state.seen.append((request.path, request.headers.get("Authorization")))
        if request.path.endswith("/spans") and state.uploads_refused > 0:
            state.uploads_refused -= 1
            error = {"error": {"code": "overloaded", "message": "write queue full"}}
            return web.json_response(error, status=503, headers={"Retry-After": "1"})
        if request.path.endswith("/spans"):
            return web.json_response({"uploaded": 1, "span_ids": ["00000000000000aa"]}, status=201)
        return web.json_response(RUN, status=201 if request.method == "POST" else 200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.base_url = str(server.make_url("")).rstrip("/")
    yield state
    await server.close()


async def test_overloaded_503_is_retried_after_its_retry_after(stub: Stub) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("test").start_span("child", context=None).end()
    exporter = KateSpanExporter(stub.base_url, "a", timeout=5.0, complete_runs=False)

    result = await asyncio.to_thread(exporter.export, memory.get_finished_spans())  # blocking: off the loop
    exporter.shutdown()

    assert result is SpanExportResult.SUCCESS
    assert [path.rsplit("/", 1)[-1] for path, _ in stub.seen] == ["runs", "spans", "spans"]


async def test_every_client_sends_the_api_key_as_a_bearer_token(stub: Stub) -> None:
    stub.uploads_refused = 0
    async with Client(stub.base_url, api_key="k-async") as client:
        await client.runs.get(agent_id="a", run_id=RUN["id"])
    with SyncClient(stub.base_url, api_key="k-sync") as sync_client:
        await asyncio.to_thread(sync_client.runs.get, agent_id="a", run_id=RUN["id"])
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("test").start_span("child").end()
    exporter = KateSpanExporter(stub.base_url, "a", api_key="k-exporter", complete_runs=False)
    await asyncio.to_thread(exporter.export, memory.get_finished_spans())
    exporter.shutdown()

    assert [auth for _, auth in stub.seen] == [
        "Bearer k-async",
        "Bearer k-sync",
        "Bearer k-exporter",
        "Bearer k-exporter",
    ]
