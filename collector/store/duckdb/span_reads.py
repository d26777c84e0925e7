"""Spans in DuckDB, read side: one run's spans, a page at a time, in start order.

Must stay on the run_id index: DuckDB uses an index scan only when `run_id = ?` is the sole
filter on the table (with a second one, even span_kind, it scans all spans: 38 against 5 ms
with 5 M stored), so the page's own filters run over the run's rows, never over the table.
"""

from __future__ import annotations

import duckdb
from kate.collector.store.duckdb.pages import decode_cursor, encode_cursor
from kate.collector.store.values import Rows, SpanPage

_START = "coalesce(start_time_unix_nano, 0)"
_ORDER = f"ORDER BY {_START}, span_id LIMIT ?"
_WHOLE_RUN = f"SELECT * FROM api_spans WHERE run_id = ? {_ORDER}"
# MATERIALIZED keeps the optimizer from pushing the page filters down next to run_id = ?.
_FILTERED = "WITH run_spans AS MATERIALIZED (SELECT * FROM api_spans WHERE run_id = ?) SELECT * FROM run_spans WHERE {where} " + _ORDER


def list_run_spans(
    cursor: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    total: int,
    limit: int,
    after: str | None = None,
    span_kind: str | None = None,
) -> SpanPage:
    """One page of a run's spans in start order, after the opaque cursor `after`; total is the
    run's span count (runs.span_count), returned with the page."""
    where: list[str] = []
    params: list[object] = [run_id]
    if span_kind is not None:
        where.append("span_kind = ?")
        params.append(span_kind)
    if after is not None:
        start_ns, span_id = decode_cursor(after, (int, str))
        where.append(f"({_START} > ? OR ({_START} = ? AND span_id > ?))")
        params += [start_ns, start_ns, span_id]
    sql = _FILTERED.format(where=" AND ".join(where)) if where else _WHOLE_RUN
    rows = Rows.of(cursor.execute(sql, [*params, limit + 1]))
    next_cursor = None
    if len(rows.values) > limit:
        del rows.values[limit:]
        last = rows.values[-1]
        next_cursor = encode_cursor((last[rows.index("start_time_unix_nano")] or 0, last[rows.index("span_id")]))
    return SpanPage(rows, next_cursor, total)
