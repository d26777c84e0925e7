"""storage.compress_text: a new file stores input_text and output_text compressed (the default)
or not; a file keeps what it was created with, and says so when the setting differs."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
from kate.collector.config import StorageConfig
from kate.collector.store.duckdb.database import Database

SPANS = 3000


def _create(path: Path, *, compress_text: bool) -> None:
    database = Database(path, StorageConfig(compress_text=compress_text))
    database.open()
    database.close()


def _text_compression(path: Path) -> set[str]:
    """The compression DuckDB chose for input_text, after storing spans with repetitive texts."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(
            "INSERT INTO spans (span_id, trace_id, run_id, agent_id, node_name, span_kind, input_text, output_text,"
            " status_code, truncated, received_at)"
            " SELECT printf('%016x', i), md5(i::VARCHAR), 'run', 'agent', 'llm', 'LLM',"
            " 'the same words again and again ' || (i % 7), 'an answer ' || (i % 5), 'OK', false, now()"
            " FROM range(?) t(i)", [SPANS])
        connection.execute("CHECKPOINT")
        rows = connection.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('spans')"
            " WHERE column_name = 'input_text' AND segment_type = 'VARCHAR'").fetchall()
        return {name for (name,) in rows}
    finally:
        connection.close()


def test_new_files_compress_the_texts_by_default(tmp_path: Path) -> None:
    path = tmp_path / "kate.duckdb"
    _create(path, compress_text=True)
    assert _text_compression(path) == {"DICT_FSST"}


def test_compress_text_false_stores_a_new_files_texts_uncompressed(tmp_path: Path) -> None:
    path = tmp_path / "kate.duckdb"
    _create(path, compress_text=False)
    assert _text_compression(path) == {"Uncompressed"}


def test_an_existing_file_keeps_its_choice_and_the_collector_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kate.duckdb"
    _create(path, compress_text=True)
    with caplog.at_level(logging.WARNING, logger="kate.collector.store.duckdb.database"):
        _create(path, compress_text=False)

    assert "created with the span texts compressed" in caplog.text
    assert _text_compression(path) == {"DICT_FSST"}
