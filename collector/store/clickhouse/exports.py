"""Bulk export on the clickhouse engine (docs/operations.md#export): the DuckDB engine's pages
(store/duckdb/exports.py): the same half-open windows on the same placing timestamp, the same
keyset order, the same columns and Arrow types (store/export_schemas.py). Runs and evaluations
come from the control store, spans and GenAI log records from ClickHouse (once each: FINAL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


async def export_page(servers: Servers, table: ExportTable, window: ExportWindow, limit: int,
                      after: tuple[Any, ...] | None) -> ExportPage:
    if table in _CLICKHOUSE_SHAPES:
        return await _clickhouse_page(servers, table, window, limit, after)
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
    params: list[Any] = list(window.bounds_us())
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


@dataclass(frozen=True, slots=True)
class _Shape:
    """How one ClickHouse table exports: its placing moment, keyset and columns."""

    table: str
    moment_us: str  # the row's placing timestamp, microseconds since the epoch
    keys: tuple[str, ...]  # ties broken by these, in this order
    columns: tuple[str, ...]  # the exported columns but day, in the export schema's order
    selected: str  # what the read selects: the columns, and what a FINAL read needs besides


def _shape(table: str, export: ExportTable, moment_us: str, keys: tuple[str, ...],
           selected: Callable[[Sequence[str]], str]) -> _Shape:
    columns = tuple(name for name in EXPORT_SCHEMAS[export].names if name != "day")
    return _Shape(table, moment_us, keys, columns, selected(columns))


_CLICKHOUSE_SHAPES = {
    # A span's start, or when it was received for a span without one (as on DuckDB).
    ExportTable.SPANS: _shape(SPANS, ExportTable.SPANS, "if(isNull(start_time_unix_nano), toInt64(toUnixTimestamp("
                              "received_at)) * 1000000, intDiv(assumeNotNull(start_time_unix_nano), 1000))",
                              ("trace_id", "span_id"), ch_spans.selected),
    ExportTable.GENAI_LOG_RECORDS: _shape(RECORDS, ExportTable.GENAI_LOG_RECORDS, "intDiv(time_unix_nano, 1000)",
                                          ("record_key",), ", ".join),
}


async def _clickhouse_page(servers: Servers, table: ExportTable, window: ExportWindow, limit: int,
                           after: tuple[Any, ...] | None) -> ExportPage:
    shape = _CLICKHOUSE_SHAPES[table]
    since_us, until_us = window.bounds_us()
    where = [f"{shape.moment_us} >= {since_us}", f"{shape.moment_us} < {until_us}"]
    prewhere = f" PREWHERE agent_id = {quote(window.agent_id)}" if window.agent_id is not None else ""
    if after is not None:
        where.append(_after_keyset((shape.moment_us, *shape.keys), after))
    found = await servers.clickhouse.json_rows(
        f"SELECT {shape.selected}, {shape.moment_us} AS moment_us FROM {shape.table} FINAL{prewhere}"
        f" WHERE {' AND '.join(where)} ORDER BY moment_us, {', '.join(shape.keys)} LIMIT {int(limit)}")
    rows = [{**{name: row[name] for name in shape.columns}, "received_at": _received(row["received_at"]),
             "day": (EPOCH + dt.timedelta(microseconds=row["moment_us"])).date()} for row in found]
    if "truncated" in shape.columns:  # UInt8 on ClickHouse
        for row in rows:
            row["truncated"] = bool(row["truncated"])
    last = (found[-1]["moment_us"], *(found[-1][key] for key in shape.keys)) if len(found) == limit else None
    return ExportPage(pa.Table.from_pylist(rows, schema=EXPORT_SCHEMAS[table]), last)


def _after_keyset(expressions: Sequence[str], values: Sequence[Any]) -> str:
    """`(expressions) > (values)`, spelled out: 18.16 has no tuple comparison to rely on."""
    first, value = expressions[0], str(int(values[0])) if isinstance(values[0], int) else quote(str(values[0]))
    if len(expressions) == 1:
        return f"{first} > {value}"
    return f"({first} > {value} OR ({first} = {value} AND {_after_keyset(expressions[1:], values[1:])}))"


def _received(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
