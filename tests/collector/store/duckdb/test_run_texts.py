"""An OTLP run's user_input and output come from its root spans, by one rule whatever order the
roots arrive in, written in the transaction that stores them; API runs keep their own."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from kate.collector.config import StorageConfig
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.run_texts import RootChange, RootSpan, apply_root_changes, texts_of
from kate.collector.store.duckdb.runs import insert_run
from kate.collector.store.duckdb.spans import ingest_otlp_spans
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import NewRun, RunSource, RunTrigger
from kate.schema.record import SpanRecord

TRACE_ID = "5b8efff798038103d269b633813fc60c"
RUN = "run-1"


def record(span_id: int, *, root: bool, text_in: str | None, text_out: str | None, start: int | None,
           end: int | None, run_id: str = RUN) -> SpanRecord:
    return SpanRecord(
        f"{span_id:016x}", TRACE_ID, None if root else "00f067aa0ba902b7", run_id, "agent-1", "turn", "AGENT",
        text_in, text_out, None, 1.0, None, None, None, "OK", None, start, end, "{}", "{}", None, "[]", False,
    )


# Three turns of one conversation, each a root span of the run: the first to start gives the
# input, the last to end gives the output (the third has no input, the second ends early).
ROOTS = [
    record(1, root=True, text_in="plan a trip", text_out="draft plan", start=10, end=50),
    record(2, root=True, text_in="make it cheaper", text_out="cheaper plan", start=20, end=40),
    record(3, root=True, text_in=None, text_out="final plan", start=30, end=60),
]
CHILD = record(9, root=False, text_in="child in", text_out="child out", start=5, end=70)


async def texts(database: Database, run_id: str = RUN) -> tuple[str | None, str | None]:
    rows = await database.read(lambda c: c.execute("SELECT user_input, output FROM runs WHERE run_id = ?",
                                                   [run_id]).fetchall())
    return rows[0]


async def ingest(database: Database, records: list[SpanRecord]) -> None:
    await database.write(lambda txn: ingest_otlp_spans(txn, SpanBatch.of(records)))


async def test_a_root_span_in_the_request_that_creates_the_run_fills_it(database: Database) -> None:
    await ingest(database, [CHILD, ROOTS[0]])
    assert await texts(database) == ("plan a trip", "draft plan")


async def test_a_root_span_after_its_children_fills_the_run_it_completes(database: Database) -> None:
    await ingest(database, [CHILD])
    assert await texts(database) == (None, None)  # children never speak for the run
    await ingest(database, [ROOTS[0]])
    assert await texts(database) == ("plan a trip", "draft plan")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
async def test_several_roots_give_the_same_texts_in_any_arrival_order(tmp_path: Path, order: tuple[int, ...]) -> None:
    database = Database(tmp_path / "kate.duckdb", StorageConfig())
    database.open()
    try:
        for index in order:
            await ingest(database, [ROOTS[index]])
        assert await texts(database) == ("plan a trip", "final plan")
    finally:
        database.close()


async def test_runs_created_through_the_api_keep_their_texts(database: Database) -> None:
    await database.write(lambda txn: insert_run(txn, NewRun("api-run", "agent-1", RunTrigger.MANUAL,
                                                            RunSource.API, user_input="asked through the API")))
    await ingest(database, [record(4, root=True, text_in="other", text_out="other", start=1, end=2, run_id="api-run")])
    assert await texts(database, "api-run") == ("asked through the API", None)


def test_ties_and_unknown_times_are_broken_the_same_way_every_time() -> None:
    roots = [RootSpan(RUN, "b" * 32, "01", "late start", "x", None, None),
             RootSpan(RUN, "a" * 32, "02", "a first", "a last", 7, 9),
             RootSpan(RUN, "a" * 32, "03", "a second", "a earlier", 7, 9)]
    for permutation in itertools.permutations(roots):
        assert texts_of(permutation)[RUN] == ("a first", "a earlier")


async def test_roots_changed_in_place_give_the_texts_the_rule_gives(database: Database) -> None:
    """GenAI log content folded into root spans (apply_root_changes) leaves every run with the
    texts texts_of gives for its roots as they are now, whether the run's current texts decide
    it or its roots are read again; random runs of 1-3 roots, a fixed seed, bounded."""
    chooser = random.Random(1234)
    texts_pool = [None, None, "a", "b", "c"]
    for case in range(60):
        run_id = f"changed-{case}"
        roots = [record(100 + index, root=True, text_in=chooser.choice(texts_pool), text_out=chooser.choice(texts_pool),
                        start=chooser.choice([None, 10, 20, 30]), end=chooser.choice([None, 40, 50, 60]), run_id=run_id)
                 for index in range(chooser.randint(1, 3))]
        roots = [root._replace(trace_id=f"{case:032x}") for root in roots]
        await ingest(database, roots)
        changed = chooser.sample(range(len(roots)), chooser.randint(1, len(roots)))
        after = list(roots)
        changes = []
        for index in changed:
            before = roots[index]
            new_in = before.input_text if chooser.random() < 0.3 else chooser.choice(["x", "y", None])
            new_out = before.output_text if chooser.random() < 0.3 else chooser.choice(["x", "y", None])
            new_in, new_out = new_in or before.input_text, new_out or before.output_text  # folding never removes text
            after[index] = before._replace(input_text=new_in, output_text=new_out)
            changes.append(RootChange(_root_of(before), new_in, new_out))

        def fold(txn: WriteTxn, updated: list[SpanRecord] = after, applied: list[RootChange] = changes) -> None:
            for span in updated:
                txn.execute("UPDATE spans SET input_text = ?, output_text = ? WHERE trace_id = ? AND span_id = ?",
                            [span.input_text, span.output_text, span.trace_id, span.span_id])
            apply_root_changes(txn, applied)

        await database.write(fold)
        expected = texts_of(_root_of(span) for span in after).get(run_id)
        assert await texts(database, run_id) == (expected or (None, None)), (case, roots, after)


def _root_of(span: SpanRecord) -> RootSpan:
    return RootSpan(span.run_id, span.trace_id, span.span_id, span.input_text, span.output_text,
                    span.start_time_unix_nano, span.end_time_unix_nano)
