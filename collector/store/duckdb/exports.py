"""The SQL of bulk export (docs/operations.md#export): one table's rows of a half-open time
window, page by page in a fixed order, as Arrow tables.

Each table has one timestamp that places a row in a window and in a day partition:

- runs: `created_at`;
- spans: the span's start time, or `received_at` for a span without one;
- evaluations: `created_at`;
- genai_log_records: the record's time.

Windows are half-open, [since, until), on that timestamp alone, so consecutive windows hold every
row exactly once. Pages follow the keyset (timestamp, key columns): a page is a short read of its
own, and rows stored meanwhile before the cursor are not revisited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from kate.collector.store.values import ExportPage, ExportTable, ExportWindow


@dataclass(frozen=True, slots=True)
class _Shape:
    moment_us: str  # the row's placing timestamp, microseconds since the epoch (BIGINT)
    keys: tuple[str, ...]  # ties broken by these, in this order
    as_text: tuple[str, ...]  # JSON columns exported as their text


_SHAPES = {
    ExportTable.RUNS: _Shape("epoch_us(created_at)", ("run_id",), ()),
    ExportTable.SPANS: _Shape("coalesce(start_time_unix_nano // 1000, epoch_us(received_at))",
                              ("trace_id", "span_id"), ("attributes", "resource", "events")),
    ExportTable.EVALUATIONS: _Shape("epoch_us(created_at)", ("run_id", "evaluation_id", "evaluator"), ("details",)),
    ExportTable.GENAI_LOG_RECORDS: _Shape("time_unix_nano // 1000", ("record_key",), ("body", "attributes", "resource")),
}


def export_page(cursor: duckdb.DuckDBPyConnection, table: ExportTable, window: ExportWindow, limit: int,
                after: tuple[Any, ...] | None = None) -> ExportPage:
    """Up to `limit` rows of the window after the keyset `after`, in keyset order."""
    shape = _SHAPES[table]
    keyset = (shape.moment_us, *shape.keys)
    where = [f"{shape.moment_us} >= ?", f"{shape.moment_us} < ?"]
    params: list[Any] = list(window.bounds_us())
    if window.agent_id is not None:
        where.append("agent_id = ?")
        params.append(window.agent_id)
    if after is not None:
        where.append(f"({', '.join(keyset)}) > ({', '.join('?' * len(keyset))})")
        params += list(after)
    replaced = f" REPLACE ({', '.join(f'{name}::VARCHAR AS {name}' for name in shape.as_text)})" if shape.as_text else ""
    # A relation, not execute(): DuckDB copies every row once more to give a DB-API result as Arrow.
    result: pa.Table = cursor.sql(
        f"SELECT *{replaced}, make_timestamp({shape.moment_us})::DATE AS day,"
        f" {', '.join(f'{column} AS _key_{index}' for index, column in enumerate(keyset))}"
        f" FROM {table.value} WHERE {' AND '.join(where)} ORDER BY {', '.join(keyset)} LIMIT ?",
        params=[*params, limit],
    ).to_arrow_table()
    key_names = [f"_key_{index}" for index in range(len(keyset))]
    last = tuple(result.column(name)[-1].as_py() for name in key_names) if result.num_rows == limit else None
    return ExportPage(result.drop_columns(key_names), last)
