"""The async Client and the sync facade against the real collector: the page's SDK snippet, pages, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid

import pytest
from kate.exporter import (
    Client,
    Conflict,
    KateError,
    NotFound,
    RateLimited,
    Run,
    RunPage,
    ServerError,
    Span,
    SpanPage,
    SyncClient,
    TransportError,
    ValidationError,
)
from kate.exporter._errors import error_from_response

from tests.support.server import CollectorProcess

STRATEGY_SPAN = {
    "node_name": "generate_strategy",
    "span_kind": "LLM",
    "input_text": "Create a content strategy for...",
    "output_text": "Here's a comprehensive strategy...",
    "model": "claude-sonnet-4-5-20250514",
    "latency_ms": 2340,
    "token_count": 1250,
}


async def test_the_pages_sdk_snippet_runs_as_written(collector: CollectorProcess, agent_id: str) -> None:
    async with Client(collector.base_url) as client:
        runs = await client.runs.list(agent_id=agent_id)
        run = await client.runs.create(agent_id=agent_id, trigger="manual")
        await client.runs.upload_spans(agent_id=agent_id, run_id=run.id, spans=[STRATEGY_SPAN])
        run = await client.runs.get(agent_id=agent_id, run_id=run.id)
        run = await client.runs.complete(agent_id=agent_id, run_id=run.id)
        spans = await client.runs.spans(agent_id=agent_id, run_id=run.id)

    assert isinstance(runs, RunPage) and list(runs) == []
    assert isinstance(run, Run)
    assert (run.agent_id, run.status, run.trigger, run.span_count, run.total_tokens) == (
        agent_id,
        "completed",
        "manual",
        1,
        1250,
    )
    assert isinstance(run.created_at, dt.datetime) and run.completed_at is not None
    assert isinstance(spans, SpanPage) and spans.total == 1
    (span,) = spans
    assert isinstance(span, Span)
    assert {name: getattr(span, name) for name in STRATEGY_SPAN} == STRATEGY_SPAN
    assert span.run_id == run.id and span.agent_id == agent_id


async def test_listing_pages_and_iterators_walk_every_run_and_span(collector: CollectorProcess, agent_id: str) -> None:
    async with Client(collector.base_url) as client:
        created = [await client.runs.create(agent_id=agent_id, trigger="test") for _ in range(5)]
        await client.runs.complete(agent_id=agent_id, run_id=created[0].id)
        first_page = await client.runs.list(agent_id=agent_id, limit=2)
        every_run = [run.id async for run in client.runs.iter(agent_id=agent_id, page_size=2)]
        completed = await client.runs.list(agent_id=agent_id, status="completed")
        spans = [{"node_name": f"step{i}", "span_kind": "TOOL" if i % 2 else "LLM"} for i in range(5)]
        uploaded = await client.runs.upload_spans(agent_id=agent_id, run_id=created[1].id, spans=spans)
        every_span = [
            s.node_name async for s in client.runs.iter_spans(agent_id=agent_id, run_id=created[1].id, page_size=2)
        ]
        tools = await client.runs.spans(agent_id=agent_id, run_id=created[1].id, span_kind="TOOL")

    assert len(first_page) == 2 and first_page.next_cursor is not None
    assert sorted(every_run) == sorted(run.id for run in created)
    assert [run.id for run in completed] == [created[0].id]
    assert uploaded.uploaded == 5 and len(uploaded.span_ids) == 5
    assert sorted(every_span) == [f"step{i}" for i in range(5)]
    assert [s.node_name for s in tools] == ["step1", "step3"] and tools.total == 5


async def test_error_answers_raise_the_matching_exception_with_the_api_code(
    collector: CollectorProcess, agent_id: str
) -> None:
    async with Client(collector.base_url) as client:
        run = await client.runs.create(agent_id=agent_id, trigger="manual", run_id=str(uuid.uuid4()))
        with pytest.raises(NotFound) as missing:
            await client.runs.get(agent_id=agent_id, run_id=str(uuid.uuid4()))
        with pytest.raises(Conflict) as duplicate:
            await client.runs.create(agent_id=agent_id, trigger="manual", run_id=run.id)
        with pytest.raises(ValidationError) as bad_trigger:
            await client.runs.create(agent_id=agent_id, trigger="sometimes")
        with pytest.raises(ValidationError) as bad_span:
            await client.runs.upload_spans(agent_id=agent_id, run_id=run.id, spans=[{"span_kind": "LLM"}])
        await client.runs.complete(agent_id=agent_id, run_id=run.id)
        with pytest.raises(Conflict) as not_running:
            await client.runs.complete(agent_id=agent_id, run_id=run.id)
        with pytest.raises(NotFound) as not_hosted:
            await client.runs.enqueue(agent_id=agent_id, trigger="manual", user_input="hi")

    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert (duplicate.value.status, duplicate.value.code) == (409, "run_exists")
    assert (bad_trigger.value.status, bad_trigger.value.code) == (422, "validation_error")
    assert [d["field"] for d in bad_trigger.value.details] == ["trigger"]
    assert [d["field"] for d in bad_span.value.details] == ["spans[0].node_name"]
    assert (not_running.value.status, not_running.value.code) == (409, "run_not_running")
    assert not_hosted.value.code == "agent_not_hosted"
    assert not any(e.value.retryable for e in (missing, duplicate, bad_trigger, not_running))


def _refused_port() -> int:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_answer_is_a_retryable_transport_error(agent_id: str) -> None:
    base_url = f"http://127.0.0.1:{_refused_port()}"
    async with Client(base_url, timeout=2.0) as client:
        with pytest.raises(TransportError) as async_error:
            await client.runs.list(agent_id=agent_id)
    with SyncClient(base_url, timeout=2.0) as sync_client, pytest.raises(TransportError) as sync_error:
        sync_client.runs.list(agent_id=agent_id)
    for error in (async_error.value, sync_error.value):
        assert error.code == "transport_error" and error.status is None and error.retryable


def test_the_sync_facade_mirrors_the_async_client(collector: CollectorProcess, agent_id: str) -> None:
    with SyncClient(collector.base_url) as client:
        run = client.runs.create(agent_id=agent_id, trigger="test")
        client.runs.upload_spans(agent_id=agent_id, run_id=run.id, spans=[STRATEGY_SPAN])
        assert client.runs.get(agent_id=agent_id, run_id=run.id).status == "running"
        assert client.runs.complete(agent_id=agent_id, run_id=run.id).status == "completed"
        assert [s.node_name for s in client.runs.spans(agent_id=agent_id, run_id=run.id)] == ["generate_strategy"]
        assert [r.id for r in client.runs.iter(agent_id=agent_id, page_size=1)] == [run.id]
        with pytest.raises(Conflict) as not_running:
            client.runs.complete(agent_id=agent_id, run_id=run.id)
    assert not_running.value.code == "run_not_running"


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "code", "retry_after"),
    [
        (
            429,
            b'{"error":{"code":"rate_limited","message":"slow down"}}',
            {"retry-after": "7"},
            RateLimited,
            "rate_limited",
            7.0,
        ),
        (
            503,
            b'{"error":{"code":"overloaded","message":"queue full"}}',
            {"Retry-After": "1"},
            ServerError,
            "overloaded",
            1.0,
        ),
        (502, b"<html>bad gateway</html>", {}, ServerError, "http_502", None),
        (418, b"", {}, KateError, "http_418", None),
    ],
)
def test_error_answers_map_by_status_code_and_retry_after(
    status: int, body: bytes, headers: dict[str, str], expected: type[KateError], code: str, retry_after: float | None
) -> None:
    error = error_from_response(status, body, headers)
    assert isinstance(error, expected)
    assert (error.status, error.code, error.retry_after) == (status, code, retry_after)
    assert error.retryable is (status in (429, 502, 503))


def test_retry_after_as_an_http_date_counts_down_from_now() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    error = error_from_response(429, b"", {"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    assert error.retry_after is not None and 25 <= error.retry_after <= 30


async def test_concurrent_requests_share_one_client(collector: CollectorProcess, agent_id: str) -> None:
    async with Client(collector.base_url) as client:
        runs = await asyncio.gather(*(client.runs.create(agent_id=agent_id, trigger="test") for _ in range(10)))
        page = await client.runs.list(agent_id=agent_id, limit=100)
    assert sorted(run.id for run in page) == sorted(run.id for run in runs)


async def test_async_run_context_marks_the_run_failed_on_an_exception(collector: CollectorProcess, agent_id: str) -> None:
    async with Client(collector.base_url) as client:
        with pytest.raises(RuntimeError, match="tool crashed"):
            async with client.run(agent_id=agent_id, trigger="test") as run:
                raise RuntimeError("tool crashed")
        final = await client.runs.get(agent_id=agent_id, run_id=run.id)
        again = client.runs.fail(agent_id=agent_id, run_id=run.id, error="twice")
        with pytest.raises(Conflict) as conflict:
            await again

    assert (final.status, final.error) == ("failed", "RuntimeError: tool crashed")
    assert final.completed_at is not None
    assert conflict.value.code == "run_not_running"
