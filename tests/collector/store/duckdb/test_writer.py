"""The single writer on a real DuckDB file: spans go in with a plain INSERT, and a span stored
before (an OTLP retry) makes the group fall back to INSERT OR IGNORE without failing anyone."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from kate.collector import metrics
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.errors import Overloaded
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.spans import ingest_otlp_spans
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.span_batch import SpanBatch
from kate.schema.record import SpanRecord

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def record(span_id: str, *, text: str = "hello") -> SpanRecord:
    return SpanRecord(
        span_id, TRACE_ID, "00f067aa0ba902b7", "run-1", "agent-1", "step", "LLM", text, None, None, 1.0, None,
        None, None, "OK", None, 1_000, 2_000, "{}", "{}", None, "[]", False,
    )


async def stored(database: Database) -> list[tuple[str, str]]:
    return await database.read(
        lambda cursor: cursor.execute("SELECT span_id, input_text FROM spans ORDER BY span_id").fetchall()
    )


async def test_a_resent_span_is_stored_once_and_its_group_still_commits(database: Database) -> None:
    stored_before = stored_spans_metric()
    await database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of([record("0000000000000001")])))

    # A retry of the stored span (other content: the first one stays) and a new one, queued together.
    retry = database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of([record("0000000000000001", text="resent")])))
    fresh = database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of([record("0000000000000002")])))
    results = await asyncio.gather(retry, fresh)

    assert [result.stored for result in results] == [1, 1]
    assert await stored(database) == [("0000000000000001", "hello"), ("0000000000000002", "hello")]
    assert stored_spans_metric() - stored_before == 2  # kate_spans_stored_total: the retry is not counted


def stored_spans_metric() -> float:
    return metrics.REGISTRY.get_sample_value("kate_spans_stored_total") or 0.0


async def test_a_span_twice_in_one_request_is_stored_once(database: Database) -> None:
    spans = [record("0000000000000003"), record("0000000000000003", text="again"), record("0000000000000004")]

    await database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of(spans)))

    assert [span_id for span_id, _ in await stored(database)] == ["0000000000000003", "0000000000000004"]


async def test_a_full_queue_is_refused_by_the_cheap_check_before_any_work(tmp_path: Path) -> None:
    """require_write_room() answers from the queue's bounds alone (the OTLP and upload paths call
    it before decoding), and lets requests through again once the writer has caught up."""
    database = Database(tmp_path / "kate.duckdb", StorageConfig(), QueueConfig(max_items=1, retry_after_s=2))
    database.open()
    try:
        database.require_write_room()  # empty queue
        started, release = threading.Event(), threading.Event()

        def hold(txn: object) -> None:
            started.set()
            release.wait(10)

        blocked_task = asyncio.ensure_future(database.write(hold))  # holds the writer thread
        assert await asyncio.to_thread(started.wait, 10)
        queued_task = asyncio.ensure_future(database.write(lambda txn: None))  # fills the 1-item queue
        await wait_until_queued(database, queued_task)

        with pytest.raises(Overloaded) as refused:
            database.require_write_room()
        assert refused.value.retry_after_s == 2

        release.set()
        await asyncio.gather(blocked_task, queued_task)
        database.require_write_room()
    finally:
        database.close()


async def wait_until_queued(database: Database, task: asyncio.Future[None]) -> None:
    """Until the second write is queued behind the held one (bounded: 200 x 10 ms)."""
    for _ in range(200):
        try:
            database.require_write_room()
        except Overloaded:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the write queue never filled up (task done: {task.done()})")


async def test_a_failing_step_after_commit_neither_fails_nor_replays_the_write(database: Database) -> None:
    calls: list[int] = []

    def op(txn: WriteTxn) -> str:
        calls.append(1)
        txn.on_commit(lambda: 1 / 0)
        return "committed"

    assert await database.write(op) == "committed"
    assert calls == [1]
