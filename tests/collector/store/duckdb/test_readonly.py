"""Analysis SQL on a real DuckDB file: the byte cap is exact, settings are locked, and the
allow-list read from DuckDB's catalog admits what analysts use and nothing that changes state."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from kate.collector.config import StorageConfig
from kate.collector.errors import BadRequest
from kate.collector.store.duckdb.database import Database, connect
from kate.collector.store.duckdb.readonly import run_readonly_query
from kate.collector.store.duckdb.sql_guard import FunctionCall, allowed_functions

WIDE_ROWS = "SELECT i, repeat('é', 50) AS text FROM range(1000) t(i)"  # ~120 bytes of JSON a row


@pytest.mark.parametrize("max_bytes", [200, 2_000, 50_000])
async def test_the_answer_stays_within_the_byte_cap_and_is_the_result_as_json(
    database: Database, max_bytes: int
) -> None:
    result = await database.read(lambda cursor: run_readonly_query(cursor, WIDE_ROWS, None, 1000, max_bytes))
    body = await database.read(lambda cursor: run_readonly_query(cursor, WIDE_ROWS, None, 1000, max_bytes)
                               .to_json_bytes())

    assert len(body) <= max_bytes and result.truncated
    assert json.loads(body) == result.to_json()
    assert result.rows == [[i, "é" * 50] for i in range(len(result.rows))]
    assert len(result.rows) < 1000 and (len(result.rows) > 0) == (max_bytes > 200)


async def test_without_a_cut_every_row_arrives_untruncated(database: Database) -> None:
    whole = await database.read(lambda cursor: run_readonly_query(cursor, WIDE_ROWS, None, 1000, 1 << 24))
    by_rows = await database.read(lambda cursor: run_readonly_query(cursor, WIDE_ROWS, None, 999, 1 << 24))
    assert (len(whole.rows), whole.truncated) == (1000, False)
    assert (len(by_rows.rows), by_rows.truncated) == (999, True)


@pytest.mark.parametrize("read_only", [False, True])
def test_no_statement_can_change_a_setting_once_connected(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "kate.duckdb"
    database = Database(path, StorageConfig())
    database.open()
    database.close()
    connection = connect(path, StorageConfig(), read_only=read_only)
    try:
        for statement in ("SET threads = 1", "SET enable_external_access = true", "SET lock_configuration = false"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                connection.cursor().execute(statement)
    finally:
        connection.close()


def test_the_allow_list_admits_analysis_and_refuses_what_changes_state() -> None:
    allowed = allowed_functions()

    def admits(name: str, *, in_from: bool = False, schema: str = "", catalog: str = "") -> bool:
        return allowed.admits(FunctionCall(name, schema, catalog, in_from))

    for name in ("sum", "count_star", "median", "row_number", "lag", "json_extract", "strftime", "+", "~~",
                 "list_transform", "if", "nullif", "json_group_array", "random", "get_current_timestamp"):
        assert admits(name), name
    for name in ("nextval", "currval", "setval", "setseed", "write_log", "sleep_ms", "pg_sleep", "get_block_size"):
        assert not admits(name), name
    for name in ("range", "generate_series", "unnest", "json_each", "duckdb_tables"):
        assert admits(name, in_from=True), name
    for name in ("query", "query_table", "json_execute_serialized_sql", "enable_logging", "enable_profiling",
                 "checkpoint", "force_checkpoint", "truncate_duckdb_logs", "read_text", "histogram"):
        assert not admits(name, in_from=True), name
    assert admits("abs", schema="main", catalog="system") and not admits("abs", schema="main", catalog="kate")


async def test_a_refused_function_is_named_in_a_400_for_the_sql_field(database: Database) -> None:
    with pytest.raises(BadRequest) as refused:
        await database.read(lambda cursor: run_readonly_query(
            cursor, "SELECT * FROM range(2) WHERE EXISTS (SELECT setseed(0.1))", None, 10, 1 << 20))
    assert refused.value.status == 400 and refused.value.details == [
        {"field": "sql", "message": "function setseed() is disabled in analysis queries, which may only read and compute"}]
