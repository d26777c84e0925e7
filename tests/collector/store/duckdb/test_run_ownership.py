"""A run belongs to one agent, decided in the writer over a real DuckDB file: spans of another
agent naming a run are refused (run id given) or moved to their own agent's run (run id derived
from the trace id), within one request and across requests, and never complete the run."""

from __future__ import annotations

from typing import Any

from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.spans import ingest_otlp_spans
from kate.collector.store.run_ownership import derived_run_id
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import IngestResult
from kate.schema.record import SpanRecord

TRACE_ID = "5b8efff798038103d269b633813fc60c"
TRACE_RUN = "5b8efff7-9803-8103-d269-b633813fc60c"  # the trace id read as a UUID (docs/mapping.md)


def span(index: int, run_id: str, agent_id: str, *, root: bool = False, trace_id: str = TRACE_ID) -> SpanRecord:
    return SpanRecord(
        f"{index:016x}", trace_id, None if root else "00f067aa0ba902b7", run_id, agent_id, "step", "LLM", "in",
        "out", None, 1.0, 3, None, None, "OK", None, 1_000 + index, 2_000 + index, "{}", "{}", None, "[]", False,
    )


async def ingest(database: Database, records: list[SpanRecord], derived: list[bool] | None = None) -> IngestResult:
    flags = bytes(derived) if derived and any(derived) else b""
    return await database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of(records, flags)))


async def runs(database: Database) -> dict[str, tuple[Any, ...]]:
    rows = await database.read(lambda cursor: cursor.execute(
        "SELECT run_id, agent_id, status, span_count FROM runs ORDER BY run_id").fetchall())
    return {row[0]: row[1:] for row in rows}


async def span_runs(database: Database) -> dict[str, tuple[str, str]]:
    rows = await database.read(lambda cursor: cursor.execute("SELECT span_id, run_id, agent_id FROM spans").fetchall())
    return {span_id: (run_id, agent_id) for span_id, run_id, agent_id in rows}


async def test_a_given_run_id_of_another_agents_run_is_refused_and_the_rest_stored(database: Database) -> None:
    await ingest(database, [span(1, "run-a", "agent-a")])

    result = await ingest(database, [span(2, "run-a", "agent-b", root=True), span(3, "run-b", "agent-b")])

    assert [(refused.run_id, refused.spans) for refused in result.refused] == [("run-a", 1)]
    assert "agent-a" not in result.refused[0].message and "belongs to another agent" in result.refused[0].message
    assert (result.stored, result.completed_runs) == (1, ())
    assert await runs(database) == {"run-a": ("agent-a", "running", 1), "run-b": ("agent-b", "running", 1)}


async def test_the_first_agent_in_a_request_owns_a_new_run(database: Database) -> None:
    result = await ingest(database, [span(1, "run-x", "agent-a"), span(2, "run-x", "agent-b", root=True),
                                     span(3, "run-x", "agent-a")])

    assert [(refused.run_id, refused.spans) for refused in result.refused] == [("run-x", 1)]
    assert await runs(database) == {"run-x": ("agent-a", "running", 2)}


async def test_spans_sharing_a_trace_go_to_their_own_agents_derived_run(database: Database) -> None:
    await ingest(database, [span(1, TRACE_RUN, "frontend")], derived=[True])
    own_run = derived_run_id("backend", TRACE_ID)

    backend = [span(2, TRACE_RUN, "backend", root=True), span(3, TRACE_RUN, "backend")]
    first = await ingest(database, backend, derived=[True, True])
    retried = await ingest(database, backend, derived=[True, True])  # an OTLP retry: same run, nothing twice

    assert first.refused == () and retried.refused == ()
    assert [tuple(run) for run in first.completed_runs] == [("backend", own_run)]
    assert await runs(database) == {TRACE_RUN: ("frontend", "running", 1), own_run: ("backend", "completed", 2)}
    assert await span_runs(database) == {f"{1:016x}": (TRACE_RUN, "frontend"), f"{2:016x}": (own_run, "backend"),
                                         f"{3:016x}": (own_run, "backend")}


async def test_derived_and_given_rows_of_one_agent_are_told_apart(database: Database) -> None:
    await ingest(database, [span(1, TRACE_RUN, "frontend")], derived=[True])

    result = await ingest(database, [span(2, TRACE_RUN, "backend"), span(3, TRACE_RUN, "backend")],
                          derived=[True, False])

    assert [(refused.run_id, refused.spans) for refused in result.refused] == [(TRACE_RUN, 1)]
    assert (await span_runs(database))[f"{2:016x}"] == (derived_run_id("backend", TRACE_ID), "backend")


async def test_a_derived_run_someone_else_claimed_first_is_refused(database: Database) -> None:
    squatted = derived_run_id("backend", TRACE_ID)
    await ingest(database, [span(1, TRACE_RUN, "frontend"), span(2, squatted, "intruder")], derived=[True, False])

    result = await ingest(database, [span(3, TRACE_RUN, "backend")], derived=[True])

    assert [(refused.run_id, refused.spans) for refused in result.refused] == [(squatted, 1)]
    assert (await runs(database))[squatted] == ("intruder", "running", 1)
