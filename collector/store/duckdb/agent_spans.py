"""Spans of one agent across its runs, read side: filtered by kind, status and start time,
slowest or newest first, a page at a time. For questions like "the slowest LLM call of
yesterday" without SQL. Scans the agent's spans (there is no per-agent span index): an
analysis read, not a hot path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
from kate.collector.store.duckdb.pages import decode_cursor, encode_cursor
from kate.collector.store.values import AgentSpanFilter, AgentSpanPage, Rows, SpanOrder

_INT64_MAX = 2**63 - 1
_EPOCH = dt.datetime(1970, 1, 1)


# The sort key of each order: a number (descending), then trace_id and span_id (ascending).
_KEYS = {SpanOrder.START: ("coalesce(start_time_unix_nano, 0)", int), SpanOrder.LATENCY: ("coalesce(latency_ms, -1.0)", float)}


def list_agent_spans(
    cursor: duckdb.DuckDBPyConnection,
    agent_id: str,
    filters: AgentSpanFilter,
    *,
    order: SpanOrder,
    limit: int,
    after: str | None = None,
) -> AgentSpanPage:
    """One page of the agent's spans in `order`, after the opaque cursor `after`."""
    key, key_type = _KEYS[order]
    where, params = _where(agent_id, filters)
    if after is not None:
        value, trace_id, span_id = decode_cursor(after, (key_type, str, str))
        where.append(f"({key} < ? OR ({key} = ? AND (trace_id > ? OR (trace_id = ? AND span_id > ?))))")
        params += [value, value, trace_id, trace_id, span_id]
    sql = (f"SELECT *, {key} AS sort_key FROM api_spans WHERE {' AND '.join(where)}"
           f" ORDER BY {key} DESC, trace_id, span_id LIMIT ?")
    result = Rows.of(cursor.execute(sql, [*params, limit + 1]))
    next_cursor = None
    if len(result.values) > limit:
        del result.values[limit:]
        last = result.values[-1]
        next_cursor = encode_cursor((last[-1], last[result.index("trace_id")], last[result.index("span_id")]))
    rows = Rows(result.names[:-1], [row[:-1] for row in result.values])
    return AgentSpanPage(rows, next_cursor)


def _where(agent_id: str, filters: AgentSpanFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = ["agent_id = ?"]
    params: list[Any] = [agent_id]
    for column, value in (("span_kind", filters.span_kind), ("status", filters.status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if filters.since is not None:
        where.append("start_time_unix_nano >= ?")
        params.append(unix_nano(filters.since))
    if filters.until is not None:
        where.append("start_time_unix_nano < ?")
        params.append(unix_nano(filters.until))
    return where, params


def unix_nano(moment: dt.datetime) -> int:
    """Naive UTC → unix nanoseconds, held within BIGINT (years past 2262 do not fit)."""
    nanos = (moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000
    return max(-_INT64_MAX, min(nanos, _INT64_MAX))
