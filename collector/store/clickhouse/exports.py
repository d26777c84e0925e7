"""Bulk export on the clickhouse engine (docs/operations.md#export): the DuckDB engine's pages
(store/duckdb/exports.py): the same half-open windows on the same placing timestamp, the same
keyset order, the same columns and Arrow types (store/export_schemas.py). Runs and evaluations
come from the control store, spans and GenAI log records from ClickHouse (once each: FINAL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.client import quote
from kate.collector.store.clickhouse.schema import RECORDS, SPANS
from kate.collector.store.clickhouse.servers import Servers
from kate.collector.store.export_schemas import EXPORT_SCHEMAS
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.values import ExportPage, ExportTable, ExportWindow

EPOCH = dt.datetime(1970, 1, 1)
_MOMENT_US = "(extract(epoch FROM created_at) * 1000000)::bigint"  # PostgreSQL: runs and evaluations
_CONTROL_KEYS = {ExportTable.RUNS: ("run_id",), ExportTable.EVALUATIONS: ("run_id", "evaluation_id", "evaluator")}
# ClickHouse: a span's start, or when it was received for a span without one (as on DuckDB).
_SPAN_MOMENT_US = ("if(isNull(start_time_unix_nano), toInt64(toUnixTimestamp(received_at)) * 1000000,"
                   " intDiv(assumeNotNull(start_time_unix_nano), 1000))")
_SPAN_COLUMNS = [name for name in EXPORT_SCHEMAS[ExportTable.SPANS].names if name != "day"]


async def export_page(servers: Servers, table: ExportTable, window: ExportWindow, limit: int,
                      after: tuple[Any, ...] | None) -> ExportPage:
    if table is ExportTable.SPANS:
        return await _span_page(servers, window, limit, after)
    if table is ExportTable.GENAI_LOG_RECORDS:
        return await _record_page(servers, window, limit, after)
    rows, last = await servers.control.run(lambda txn: _control_rows(txn, table, window, limit, after))
    if table is ExportTable.RUNS:
        totals = await ch_spans.run_totals(servers.clickhouse, [row["run_id"] for row in rows])
        for row in rows:
            row.update(totals.of(row["run_id"]))
    return ExportPage(pa.Table.from_pylist(rows, schema=EXPORT_SCHEMAS[table]), last if len(rows) == limit else None)


def _control_rows(txn: ControlTxn, table: ExportTable, window: ExportWindow, limit: int,
                  after: tuple[Any, ...] | None) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    keys = _CONTROL_KEYS[table]
    keyset = (_MOMENT_US, *keys)
    where = [f"{_MOMENT_US} >= %s", f"{_MOMENT_US} < %s"]
    params: list[Any] = [_micros(window.since), _micros(window.until)]
    if window.agent_id is not None:
        where.append("agent_id = %s")
        params.append(window.agent_id)
    if after is not None:
        where.append(f"({', '.join(keyset)}) > ({', '.join(['%s'] * len(keyset))})")
        params += list(after)
    columns = [name for name in EXPORT_SCHEMAS[table].names if name != "day"]
    stored = [name for name in columns if name not in ("span_count", "total_tokens", "total_cost_usd")]
    selected = ", ".join(f"{name}::text AS {name}" if name == "details" else name for name in stored)
    rows = txn.dict_rows(
        f"SELECT {selected}, (created_at)::date AS day, {', '.join(f'{key} AS _key_{index}' for index, key in enumerate(keyset))}"
        f" FROM {table.value} WHERE {' AND '.join(where)} ORDER BY {', '.join(keyset)} LIMIT %s", [*params, limit])
    last = tuple(rows[-1][f"_key_{index}"] for index in range(len(keyset))) if rows else None
    return [{name: value for name, value in row.items() if not name.startswith("_key_")} for row in rows], last


async def _span_page(servers: Servers, window: ExportWindow, limit: int, after: tuple[Any, ...] | None) -> ExportPage:
    where = [f"{_SPAN_MOMENT_US} >= {_micros(window.since)}", f"{_SPAN_MOMENT_US} < {_micros(window.until)}"]
    prewhere = f" PREWHERE agent_id = {quote(window.agent_id)}" if window.agent_id is not None else ""
    if after is not None:
        moment, trace_id, span_id = after
        where.append(f"({_SPAN_MOMENT_US} > {int(moment)} OR ({_SPAN_MOMENT_US} = {int(moment)}"
                     f" AND (trace_id > {quote(trace_id)} OR (trace_id = {quote(trace_id)} AND span_id > {quote(span_id)}))))")
    found = await servers.clickhouse.json_rows(
        f"SELECT {ch_spans.selected(_SPAN_COLUMNS)}, {_SPAN_MOMENT_US} AS moment_us FROM {SPANS} FINAL{prewhere}"
        f" WHERE {' AND '.join(where)} ORDER BY moment_us, trace_id, span_id LIMIT {int(limit)}")
    rows = [{**{name: row[name] for name in _SPAN_COLUMNS}, "truncated": bool(row["truncated"]),
             "received_at": _received(row["received_at"]),
             "day": (EPOCH + dt.timedelta(microseconds=row["moment_us"])).date()} for row in found]
    last = (found[-1]["moment_us"], found[-1]["trace_id"], found[-1]["span_id"]) if len(found) == limit else None
    return ExportPage(pa.Table.from_pylist(rows, schema=EXPORT_SCHEMAS[ExportTable.SPANS]), last)


_RECORD_MOMENT_US = "intDiv(time_unix_nano, 1000)"
_RECORD_COLUMNS = [name for name in EXPORT_SCHEMAS[ExportTable.GENAI_LOG_RECORDS].names if name != "day"]


async def _record_page(servers: Servers, window: ExportWindow, limit: int, after: tuple[Any, ...] | None) -> ExportPage:
    where = [f"{_RECORD_MOMENT_US} >= {_micros(window.since)}", f"{_RECORD_MOMENT_US} < {_micros(window.until)}"]
    prewhere = f" PREWHERE agent_id = {quote(window.agent_id)}" if window.agent_id is not None else ""
    if after is not None:
        moment, record_key = after
        where.append(f"({_RECORD_MOMENT_US} > {int(moment)} OR ({_RECORD_MOMENT_US} = {int(moment)}"
                     f" AND record_key > {quote(record_key)}))")
    found = await servers.clickhouse.json_rows(
        f"SELECT {', '.join(_RECORD_COLUMNS)}, {_RECORD_MOMENT_US} AS moment_us FROM {RECORDS} FINAL{prewhere}"
        f" WHERE {' AND '.join(where)} ORDER BY moment_us, record_key LIMIT {int(limit)}")
    rows = [{**{name: row[name] for name in _RECORD_COLUMNS}, "received_at": _received(row["received_at"]),
             "day": (EPOCH + dt.timedelta(microseconds=row["moment_us"])).date()} for row in found]
    last = (found[-1]["moment_us"], found[-1]["record_key"]) if len(found) == limit else None
    return ExportPage(pa.Table.from_pylist(rows, schema=EXPORT_SCHEMAS[ExportTable.GENAI_LOG_RECORDS]), last)


def _received(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def _micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)
