"""The raw DuckDB append ceiling: the same rows Kate stores, appended straight into a file.

The rows are produced once by Kate's own pipeline (parse, decode, map) from fresh copies of the
request bodies the ingestion cases send, so the ceiling and the collector write identical data.
The fastest methods: the Appender (fastest in docs/performance.md#duckdb-facts-the-design-rests-on) and an INSERT ... SELECT
from an Arrow table (what Kate's writer does), the Arrow tables built before the clock starts.
Each is timed into Kate's own `spans` table (same DDL: primary key and run index, from Kate's
migrations), fresh file, checkpoints included as they happen, in two ways: transactions of
2,048 rows (what four 512-span senders commit per group) with row-group vacuum off, and all
rows in one transaction; the ceiling is the fastest of the four. A plain table (no key, no
index) in one transaction with the Appender, DuckDB's fastest case, is timed for reference.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from kate.collector.ingest.decode_spans import decode_spans
from kate.collector.ingest.map_spans import to_records
from kate.collector.ingest.wire import PROTOBUF, parse_request
from kate.collector.store.duckdb.migrate import apply_migrations, migration_files, uncompressed_texts
from kate.collector.store.span_batch import SpanBatch
from kate.schema.record import SPAN_COLUMNS, SpanRecord
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

from bench.ingest import Payloads

ROWS_PER_COMMIT = 2048
_ROW = operator.attrgetter(*SPAN_COLUMNS)
# The table has received_at after `truncated`; the columns later migrations added come after it.
_RECEIVED_AT = SPAN_COLUMNS.index("truncated") + 1


@dataclass(frozen=True)
class CeilingResult:
    kate_table_rows_per_s: float  # the faster of the two methods
    plain_table_rows_per_s: float


def kate_rows(payloads: Payloads, count: int) -> list[tuple[Any, ...]]:
    """count spans rows in table column order, decoded and mapped by Kate from fresh copies of
    the bench's request bodies (new trace ids and texts, as the senders send them)."""
    received_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows: list[tuple[Any, ...]] = []
    copy = 0
    while len(rows) < count:
        body = payloads.otlp[copy % len(payloads.otlp)].fresh()
        copy += 1
        records = to_records(decode_spans(parse_request(body, PROTOBUF)).spans, max_text_bytes=DEFAULT_MAX_TEXT_BYTES)
        for record in records:
            values = _ROW(record)
            rows.append((*values[:_RECEIVED_AT], received_at, *values[_RECEIVED_AT:]))
    return rows[:count]


def measure(rows: list[tuple[Any, ...]], *, compress_text: bool = True) -> CeilingResult:
    """compress_text: Kate's table as storage.compress_text creates it."""
    with tempfile.TemporaryDirectory(prefix="kate-ceiling-") as folder:
        grouped = _append(Path(folder) / "grouped.duckdb", rows, ROWS_PER_COMMIT, {"max_vacuum_tasks": 0},
                          compress_text=compress_text)
        bulk = _append(Path(folder) / "bulk.duckdb", rows, len(rows), {}, compress_text=compress_text)
        arrow_grouped = _insert_arrow(Path(folder) / "arrow-grouped.duckdb", rows, ROWS_PER_COMMIT, compress_text)
        arrow_bulk = _insert_arrow(Path(folder) / "arrow-bulk.duckdb", rows, len(rows), compress_text)
        plain = _append(Path(folder) / "plain.duckdb", rows, len(rows), {}, plain=True)
    return CeilingResult(max(grouped, bulk, arrow_grouped, arrow_bulk), plain)


def _insert_arrow(path: Path, rows: list[tuple[Any, ...]], per_transaction: int, compress_text: bool) -> float:
    """INSERT ... SELECT from Arrow tables of per_transaction rows (built before timing)."""
    received_at = rows[0][_RECEIVED_AT] if rows else None
    tables = [SpanBatch.of([SpanRecord(*row[:_RECEIVED_AT], *row[_RECEIVED_AT + 1:])
                            for row in rows[start : start + per_transaction]]).table()
              for start in range(0, len(rows), per_transaction)]

    def insert(connection: duckdb.DuckDBPyConnection, index: int) -> None:
        connection.register("incoming", tables[index])
        connection.execute("INSERT INTO spans BY NAME SELECT *, ?::TIMESTAMP AS received_at FROM incoming",
                           [received_at]).fetchall()
        connection.unregister("incoming")

    settings = {"max_vacuum_tasks": 0}
    return _timed_transactions(path, len(tables), insert, settings, compress_text=compress_text) * len(rows)


def _append(path: Path, rows: list[tuple[Any, ...]], per_transaction: int, settings: dict[str, Any], *,
            plain: bool = False, compress_text: bool = True) -> float:
    def append(connection: duckdb.DuckDBPyConnection, index: int) -> None:
        appender = connection.appender("spans")
        appender.append_rows(rows[index * per_transaction : (index + 1) * per_transaction])
        appender.flush()

    transactions = -(-len(rows) // per_transaction)
    return _timed_transactions(path, transactions, append, settings, plain=plain,
                               compress_text=compress_text) * len(rows)


def _timed_transactions(path: Path, count: int, body: Callable[[duckdb.DuckDBPyConnection, int], None],
                        settings: dict[str, Any], *, plain: bool = False, compress_text: bool = True) -> float:
    """1 / seconds taken by count transactions of body on a fresh file with Kate's spans table
    (or the plain one); the file is removed afterwards."""
    connection = duckdb.connect(str(path), config=settings)
    try:
        if plain:
            connection.execute(spans_ddl(keyed=False, json=False))
        else:
            apply_migrations(connection, compress_text=compress_text)  # Kate's own DDL: key and run index
        started = time.perf_counter()
        for index in range(count):
            connection.begin()
            body(connection, index)
            connection.commit()
        return 1 / (time.perf_counter() - started)
    finally:
        connection.close()
        for leftover in (path, Path(f"{path}.wal")):
            if leftover.exists():
                os.remove(leftover)


def spans_ddl(table: str = "spans", *, keyed: bool = True, compressed: bool = True, json: bool = True) -> str:
    """The spans table of Kate's migrations (001_tables.sql and the columns later ones added, in
    their order, so rows fit it) under another name: without the primary key, with uncompressed
    texts, or with VARCHAR for JSON when asked."""
    sql = resources.files("kate.schema").joinpath("duckdb").joinpath("001_tables.sql").read_text(encoding="utf-8")
    found = re.search(r"CREATE TABLE spans \(.*?\n\);", sql, re.DOTALL)
    if found is None:
        raise RuntimeError("001_tables.sql has no spans table")
    ddl = found.group(0).replace("CREATE TABLE spans", f"CREATE TABLE {table}", 1)
    if not keyed:
        ddl = re.sub(r",\s*PRIMARY KEY \(trace_id, span_id\)", "", ddl)
    if not compressed:
        ddl = uncompressed_texts(ddl)
    if not json:
        ddl = ddl.replace(" JSON", " VARCHAR")
    added = [line.replace("ALTER TABLE spans ", f"ALTER TABLE {table} ", 1) for _, _, migration in migration_files()
             for line in re.findall(r"^ALTER TABLE spans ADD COLUMN [^;]+;", migration, re.MULTILINE)]
    return "\n".join([ddl, *added])
