"""SpanBatch: records in, the same values out of its Arrow table, typed like the spans table."""

from __future__ import annotations

import pickle
from pathlib import Path

import duckdb
from kate.collector.store.duckdb.migrate import apply_migrations
from kate.collector.store.span_batch import SPAN_SCHEMA, SpanBatch, concatenated
from kate.schema.record import SPAN_COLUMNS, SpanRecord

_DUCKDB_TYPES = {"string": {"VARCHAR", "JSON"}, "int64": {"BIGINT"}, "double": {"DOUBLE"}, "bool": {"BOOLEAN"}}


def record(span_id: str, run_id: str, *, parent: str | None = "00f067aa0ba902b7", text: str | None = "hi") -> SpanRecord:
    return SpanRecord(
        span_id, "5b8efff798038103d269b633813fc60c", parent, run_id, f"agent-of-{run_id}", "step", "LLM", text,
        None, "gpt-4o", 12.5, 7, 5, 2, "OK", None, 1_000, 2_000, '{"k":"v"}', "{}", None, "[]", False,
    )


def test_the_arrow_schema_has_the_columns_and_types_of_the_spans_table(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "kate.duckdb")) as connection:
        apply_migrations(connection)
        table = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'spans'"
            " AND column_name <> 'received_at' ORDER BY ordinal_position").fetchall()

    assert [name for name, _ in table] == list(SPAN_COLUMNS) == SPAN_SCHEMA.names
    for (name, duckdb_type), field in zip(table, SPAN_SCHEMA, strict=True):
        assert duckdb_type in _DUCKDB_TYPES[str(field.type)], name


def test_a_batch_carries_every_value_and_the_facts_about_its_runs() -> None:
    records = [record("0000000000000001", "run-a", parent=None, text=None), record("0000000000000002", "run-a"),
               record("0000000000000003", "run-b")]

    batch = pickle.loads(pickle.dumps(SpanBatch.of(records)))  # as it crosses from a decode worker

    assert batch.table().to_pylist() == [record._asdict() for record in records]
    assert (batch.count, batch.agent_by_run, batch.rooted_runs) == (
        3, {"run-a": "agent-of-run-a", "run-b": "agent-of-run-b"}, frozenset({"run-a"}))
    assert batch.agent_ids == {"agent-of-run-a", "agent-of-run-b"}
    assert batch.weight_bytes >= len(batch.arrow_ipc)


def test_batches_concatenate_in_order_and_an_empty_one_adds_nothing() -> None:
    first, second = SpanBatch.of([record("0000000000000001", "a")]), SpanBatch.of([record("0000000000000002", "b")])
    empty = SpanBatch.of([])

    assert empty.count == 0 and empty.table().num_rows == 0
    assert concatenated([first, empty, second]).column("span_id").to_pylist() == ["0000000000000001", "0000000000000002"]
    assert concatenated([]).num_rows == 0
