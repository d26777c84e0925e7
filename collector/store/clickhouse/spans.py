"""Spans on ClickHouse: inserts of span batches and the reads of the API and evaluation.

Every read deduplicates with FINAL (a retried span is stored twice until a merge) and names
the run in PREWHERE, the key's first columns: on 18.16 a plain WHERE reads every part's wide
text columns (34 against 221-408 ms for one run in 5 M spans, docs/deployment.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from kate.collector.store.clickhouse.client import ClickHouseClient, quote, quote_list
from kate.collector.store.clickhouse.json_each_row import json_each_row, json_texts, quoted
from kate.collector.store.clickhouse.schema import SPANS, SPANS_LOCAL
from kate.collector.store.duckdb.agent_spans import unix_nano
from kate.collector.store.duckdb.pages import decode_cursor, encode_cursor
from kate.collector.store.duckdb.run_texts import RootSpan
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import AgentSpanFilter, AgentSpanPage, Rows, SpanOrder, SpanPage

# The settings of a span insert: through a Distributed table, answered once every shard has its rows.
_INSERT_SETTINGS = {"insert_distributed_sync": "1"}
_NS = 1_000_000_000
_LAST_DAY_S = 4_102_444_799  # a Date holds 1970..2105: 2099-12-31 at most

# api_spans of the DuckDB engine, column for column (schema/duckdb/views.sql).
API_SPAN_COLUMNS = (
    "node_name", "span_kind", "input_text", "output_text", "model", "latency_ms", "token_count", "span_id", "trace_id",
    "parent_span_id", "run_id", "agent_id", "start_time", "end_time", "status", "status_message", "input_tokens",
    "output_tokens", "start_time_unix_nano", "end_time_unix_nano", "truncated", "attributes", "cached_input_tokens",
    "cost_usd", "input_cost_usd", "output_cost_usd", "cost_source", "session_id", "user_id",
)
_STORED = {"start_time": "start_time_unix_nano", "end_time": "end_time_unix_nano", "status": "status_code"}
# ClickHouse 18.16 answers a FINAL read of a Distributed table only when every sorting-key
# column is selected, and an ordered one only when the version column is too ("Cannot find
# column ... in source stream"): reads select them all.
_FINAL_NEEDS = ("agent_id", "run_id", "start_ns", "span_id", "trace_id", "fold_version")


def selected(columns: Sequence[str]) -> str:
    """The columns, and those that a FINAL read of a Distributed table needs."""
    return ", ".join(dict.fromkeys([*columns, *_FINAL_NEEDS]))


_SELECTED = selected([_STORED.get(name, name) for name in API_SPAN_COLUMNS])


def spans_json_rows(batch: SpanBatch, received_at: dt.datetime) -> bytes:
    """The batch as JSONEachRow lines, with the sort and partition keys of schema/clickhouse/spans.sql."""
    table = batch.table()
    start_ns = pc.fill_null(table.column("start_time_unix_nano"), 0)
    columns = [(name, json_texts(table.column(name))) for name in table.column_names]
    columns += [("received_at", [quoted(received_at.strftime("%Y-%m-%d %H:%M:%S"))] * table.num_rows),
                ("start_ns", json_texts(start_ns)), ("start_day", [quoted(day) for day in utc_days(start_ns)])]
    return json_each_row(columns)


def utc_days(unix_ns: pa.Array | pa.ChunkedArray) -> list[str]:
    """utc_day of each time, in one pass."""
    seconds = pc.min_element_wise(pc.max_element_wise(pc.divide(unix_ns, _NS), 0), _LAST_DAY_S)
    return list(pc.strftime(pc.cast(seconds, pa.timestamp("s")), "%Y-%m-%d").to_pylist())


def utc_day(unix_ns: int) -> str:
    """The UTC day of a time, as a Date partition key takes it."""
    seconds = min(max(unix_ns // _NS, 0), _LAST_DAY_S)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d")


async def insert_spans(client: ClickHouseClient, batch: SpanBatch, received_at: dt.datetime) -> None:
    """Store the batch in one insert (one block: all of it or nothing)."""
    if not batch.count:
        return
    await client.store(f"INSERT INTO {SPANS} FORMAT JSONEachRow", data=spans_json_rows(batch, received_at),
                         settings=_INSERT_SETTINGS)


def _run(agent_id: str, run_id: str) -> str:
    return f"agent_id = {quote(agent_id)} AND run_id = {quote(run_id)}"


async def run_span_page(client: ClickHouseClient, agent_id: str, run_id: str, *, limit: int, after: str | None,
                        span_kind: str | None) -> SpanPage:
    """One page of a run's spans in start order, after the opaque cursor (as the DuckDB engine's)."""
    where = []
    if span_kind is not None:
        where.append(f"span_kind = {quote(span_kind)}")
    if after is not None:
        start_ns, span_id = decode_cursor(after, (int, str))
        where.append(f"(start_ns > {int(start_ns)} OR (start_ns = {int(start_ns)} AND span_id > {quote(span_id)}))")
    filters = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await client.json_rows(
        f"SELECT {_SELECTED} FROM {SPANS} FINAL PREWHERE {_run(agent_id, run_id)}{filters}"
        f" ORDER BY start_ns, span_id LIMIT {int(limit) + 1}")
    total = await run_span_count(client, agent_id, run_id)
    next_cursor = None
    if len(rows) > limit:
        del rows[limit:]
        next_cursor = encode_cursor((rows[-1]["start_ns"], rows[-1]["span_id"]))
    return SpanPage(Rows(API_SPAN_COLUMNS, [api_span_values(row) for row in rows]), next_cursor, total)


async def run_span_count(client: ClickHouseClient, agent_id: str, run_id: str) -> int:
    rows = await client.json_rows(f"SELECT count() AS spans FROM {SPANS} FINAL PREWHERE {_run(agent_id, run_id)}")
    return int(rows[0]["spans"]) if rows else 0


def api_span_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """A stored row in the order and shape of api_spans (times formatted, truncated a bool)."""
    shaped = dict(row)
    shaped["start_time"] = _iso_micros(row["start_time_unix_nano"])
    shaped["end_time"] = _iso_micros(row["end_time_unix_nano"])
    shaped["status"] = row["status_code"]
    shaped["truncated"] = bool(row["truncated"])
    for name in ("latency_ms", "cost_usd", "input_cost_usd", "output_cost_usd"):
        value = shaped[name]
        if isinstance(value, float) and not math.isfinite(value):
            shaped[name] = None
    return tuple(shaped[name] for name in API_SPAN_COLUMNS)


def _iso_micros(ns: int | None) -> str | None:
    """DuckDB's strftime(make_timestamp_ns(ns), '%Y-%m-%dT%H:%M:%S.%fZ'): microseconds, truncated."""
    if ns is None:
        return None
    seconds, rest = divmod(ns, _NS)
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds, microseconds=rest // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunTotals(dict[str, dict[str, Any]]):
    """run_id → {span_count, total_tokens, total_cost_usd} of the runs with spans."""

    def of(self, run_id: str) -> dict[str, Any]:
        """The run's counters; a run without spans has none of them (and no cost, not $0)."""
        return self.get(run_id, {"span_count": 0, "total_tokens": 0, "total_cost_usd": None})


async def run_totals(client: ClickHouseClient, run_ids: Sequence[str]) -> RunTotals:
    """Each run's span counters, summed over its deduplicated spans."""
    if not run_ids:
        return RunTotals()
    rows = await client.json_rows(
        "SELECT run_id, count() AS span_count, sum(ifNull(token_count, 0)) AS total_tokens,"
        " sum(cost_usd) AS total_cost_usd, countIf(isNotNull(cost_usd)) AS priced"
        f" FROM {SPANS} FINAL PREWHERE run_id IN {quote_list(list(run_ids))} GROUP BY run_id")
    return RunTotals({row["run_id"]: {"span_count": int(row["span_count"]), "total_tokens": int(row["total_tokens"]),
                                      "total_cost_usd": float(row["total_cost_usd"]) if row["priced"] else None}
                      for row in rows})


async def stored_roots(client: ClickHouseClient, run_ids: Sequence[str]) -> list[RootSpan]:
    """The root spans stored for these runs (to decide a run's user_input and output)."""
    rows = await client.json_rows(
        f"SELECT {selected(RootSpan._fields)} FROM {SPANS} FINAL PREWHERE run_id IN {quote_list(list(run_ids))}"
        " WHERE isNull(parent_span_id)")
    return [RootSpan(*(row[name] for name in RootSpan._fields)) for row in rows]


_SPAN_FACTS = ("node_name", "span_kind", "status_code", "status_message", "parent_span_id", "input_text", "output_text",
               "model", "latency_ms", "token_count", "input_tokens", "output_tokens", "start_time_unix_nano",
               "end_time_unix_nano")


async def span_facts(client: ClickHouseClient, agent_id: str, run_id: str, limit: int) -> list[tuple[Any, ...]]:
    """What evaluators read of a run's spans: the first `limit` in start order."""
    rows = await client.json_rows(
        f"SELECT {selected(_SPAN_FACTS)} FROM {SPANS} FINAL PREWHERE {_run(agent_id, run_id)}"
        f" ORDER BY start_ns, span_id LIMIT {int(limit)}")
    return [tuple(row[name] for name in _SPAN_FACTS) for row in rows]


# The sort key of each order of an agent's spans: a number (descending), then trace_id and
# span_id (ascending), as on DuckDB (store/duckdb/agent_spans.py).
_AGENT_ORDER_KEYS = {SpanOrder.START: ("start_ns", int), SpanOrder.LATENCY: ("ifNull(latency_ms, -1.0)", float)}


async def agent_span_page(client: ClickHouseClient, agent_id: str, filters: AgentSpanFilter, *, order: SpanOrder,
                          limit: int, after: str | None) -> AgentSpanPage:
    """One page of the agent's spans across its runs, slowest or newest first."""
    key, key_type = _AGENT_ORDER_KEYS[order]
    where = []
    for column, value in (("span_kind", filters.span_kind), ("status_code", filters.status)):
        if value is not None:
            where.append(f"{column} = {quote(value)}")
    if filters.since is not None:
        where.append(f"start_time_unix_nano >= {unix_nano(filters.since)}")
    if filters.until is not None:
        where.append(f"start_time_unix_nano < {unix_nano(filters.until)}")
    if after is not None:
        value, trace_id, span_id = decode_cursor(after, (key_type, str, str))
        number = repr(float(value)) if key_type is float else str(int(value))
        where.append(f"({key} < {number} OR ({key} = {number} AND (trace_id > {quote(trace_id)}"
                     f" OR (trace_id = {quote(trace_id)} AND span_id > {quote(span_id)}))))")
    filters_sql = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await client.json_rows(
        f"SELECT {_SELECTED}, {key} AS sort_key FROM {SPANS} FINAL PREWHERE agent_id = {quote(agent_id)}{filters_sql}"
        f" ORDER BY sort_key DESC, trace_id, span_id LIMIT {int(limit) + 1}")
    next_cursor = None
    if len(rows) > limit:
        del rows[limit:]
        last = rows[-1]
        next_cursor = encode_cursor((key_type(last["sort_key"]), last["trace_id"], last["span_id"]))
    return AgentSpanPage(Rows(API_SPAN_COLUMNS, [api_span_values(row) for row in rows]), next_cursor)


async def delete_run_spans(client: ClickHouseClient, run_ids: Sequence[str]) -> int:
    """Delete the runs' spans (an ALTER ... DELETE mutation on each node's local table, which
    ClickHouse applies in the background by rewriting the parts concerned); the spans counted."""
    if not run_ids:
        return 0
    runs = quote_list(list(run_ids))
    counted = await client.json_rows(f"SELECT count() AS spans FROM {SPANS} FINAL PREWHERE run_id IN {runs}")
    local = SPANS_LOCAL if client.config.cluster is not None else SPANS
    await client.on_every_node(f"ALTER TABLE {client.config.database}.{local} DELETE WHERE run_id IN {runs}")
    return int(counted[0]["spans"]) if counted else 0


async def stored_bytes(client: ClickHouseClient) -> tuple[int, int]:
    """(bytes of the database's active parts on every node, spans stored)."""
    total = 0
    for node in range(len(client.urls)):
        body = await client.execute(
            f"SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = {quote(client.config.database)}"
            " FORMAT TabSeparated", node=node, database="system")
        total += int(body.strip() or 0)
    counted = await client.json_rows(f"SELECT count() AS spans FROM {SPANS}")
    return total, int(counted[0]["spans"]) if counted else 0
