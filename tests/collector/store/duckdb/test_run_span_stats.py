"""runs.span_count and runs.total_tokens, kept by the writer: right after OTLP requests that
share a run, after uploads, after a re-sent request (nothing counted twice), and filled from
the spans of files written before the counters existed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.migrate import apply_migrations, migration_files
from kate.collector.store.duckdb.runs import insert_run
from kate.collector.store.duckdb.spans import ingest_otlp_spans, insert_uploaded_spans
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import NewRun, RunSource, RunTrigger
from kate.schema.record import SpanRecord

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span(index: int, run_id: str, *, tokens: int | None, root: bool = False) -> SpanRecord:
    return SpanRecord(
        f"{index:016x}", TRACE_ID, None if root else "00f067aa0ba902b7", run_id, "agent-1", "step", "LLM", "hi",
        None, None, 1.0, tokens, None, None, "OK", None, 1_000, 2_000, "{}", "{}", None, "[]", False,
    )


async def counters(database: Database) -> dict[str, tuple[int, int]]:
    rows = await database.read(lambda cursor: cursor.execute(
        "SELECT run_id, span_count, total_tokens FROM runs ORDER BY run_id").fetchall())
    return {run_id: (spans, tokens) for run_id, spans, tokens in rows}


async def ingest(database: Database, records: list[SpanRecord]) -> None:
    await database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of(records)))


async def test_otlp_requests_add_their_spans_to_new_and_existing_runs(database: Database) -> None:
    await ingest(database, [span(1, "run-a", tokens=10), span(2, "run-a", tokens=None), span(3, "run-b", tokens=5)])
    # Two requests in one group (queued together), one of them for a run created just before.
    await asyncio.gather(ingest(database, [span(4, "run-a", tokens=1, root=True)]),
                         ingest(database, [span(5, "run-c", tokens=7), span(6, "run-a", tokens=2)]))

    assert await counters(database) == {"run-a": (4, 13), "run-b": (1, 5), "run-c": (1, 7)}


async def test_a_resent_request_is_not_counted_twice(database: Database) -> None:
    first = [span(1, "run-a", tokens=10), span(2, "run-a", tokens=3)]
    await ingest(database, first)

    # The retry (stored already) and a new span of the same run, in one group: the OR IGNORE path.
    await asyncio.gather(ingest(database, first), ingest(database, [span(3, "run-a", tokens=4)]))

    assert await counters(database) == {"run-a": (3, 17)}


async def test_uploads_count_into_their_run(database: Database) -> None:
    def create(txn: WriteTxn) -> None:
        insert_run(txn, NewRun("run-u", "agent-1", RunTrigger.MANUAL, RunSource.API))

    await database.write(create)
    batch = SpanBatch.of([span(1, "run-u", tokens=20), span(2, "run-u", tokens=None)])
    await database.write(lambda txn: insert_uploaded_spans(txn, "agent-1", "run-u", batch))

    assert await counters(database) == {"run-u": (2, 20)}


def test_the_counters_migration_fills_them_from_the_spans_of_older_files(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "old.duckdb")) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                           "applied_at TIMESTAMP NOT NULL)")
        for version, name, sql in migration_files():
            if version < 4:
                connection.execute(sql)
                connection.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [version, name])
        connection.execute("INSERT INTO runs (run_id, agent_id, status, trigger, source, created_at) VALUES"
                           " ('run-a', 'agent-1', 'completed', 'automatic', 'otlp', now()),"
                           " ('run-empty', 'agent-1', 'running', 'manual', 'api', now())")
        for record in [span(1, "run-a", tokens=10), span(2, "run-a", tokens=None)]:
            # The 23 columns a version-3 file has before received_at (later migrations add more).
            connection.execute(f"INSERT INTO spans VALUES ({', '.join('?' * 24)})", [*record[:23], "2026-01-01"])
        apply_migrations(connection)
        rows = connection.execute("SELECT run_id, span_count, total_tokens FROM runs ORDER BY run_id").fetchall()

    assert rows == [("run-a", 2, 10), ("run-empty", 0, 0)]
