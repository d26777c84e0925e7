"""Read-only SQL for analysis (POST /sql and `kate sql`): one SELECT, bounded rows and bytes, no side effects.

Walls: sql_guard admits one SELECT (or EXPLAIN) calling only allow-listed functions; it runs in a
transaction that is always rolled back; the connection has external access disabled and its
configuration locked. Rows are fetched in chunks and encoded as they come, so the row and byte
caps stop the fetch early. Time limits are the caller's (Database.read interrupts the cursor).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from kate.collector.errors import BadRequest
from kate.collector.store.duckdb.sql_guard import check_readonly

SqlParams = Sequence[Any] | Mapping[str, Any] | None
_ROLLBACK_ATTEMPTS = 5  # interrupts come 50 ms apart: a retry at once gets through
_FIRST_CHUNK_ROWS, _MAX_CHUNK_ROWS = 16, 1024  # chunks double, so a few huge rows are not fetched by the thousand


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    encoded_rows: list[bytes]  # each row as compact JSON (UTF-8), as counted against the byte cap
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": self.rows,
                "row_count": len(self.rows), "truncated": self.truncated}

    @classmethod
    def within(cls, columns: list[str], types: list[str], raw_rows: Iterable[Sequence[Any]], max_rows: int,
               max_bytes: int) -> QueryResult:
        """At most max_rows of raw_rows, as JSON values, stopping at the first row whose JSON would
        take the answer (to_json_bytes) past max_bytes; truncated says if either cap cut it. Any
        engine's rows: raw_rows is read only as far as needed."""
        budget = max_bytes - len(_json_head(columns, types)) - len(_json_tail(max_rows, truncated=False))
        rows: list[list[Any]] = []
        encoded: list[bytes] = []
        used = 0
        for raw in raw_rows:
            row = [jsonable(value) for value in raw]
            text = _encode(row)
            used += len(text) + 1  # the comma before the next row
            if len(rows) == max_rows or used > budget:
                return cls(columns, types, rows, encoded, truncated=True)
            rows.append(row)
            encoded.append(text)
        return cls(columns, types, rows, encoded, truncated=False)

    def to_json_bytes(self) -> bytes:
        """to_json() as compact UTF-8 JSON, joined from the rows encoded while fetching."""
        return _json_head(self.columns, self.types) + b",".join(self.encoded_rows) + _json_tail(
            len(self.rows), self.truncated)


def run_readonly_query(cursor: duckdb.DuckDBPyConnection, sql: str, params: SqlParams, max_rows: int,
                       max_bytes: int) -> QueryResult:
    """Run one read-only statement and return at most max_rows rows whose JSON answer (to_json_bytes)
    stays within max_bytes; truncated says if either cap cut it."""
    check_readonly(cursor, sql)
    cursor.begin()
    try:
        result = cursor.execute(sql, params) if params else cursor.execute(sql)
        columns = [column[0] for column in result.description or ()]
        types = [str(column[1]) for column in result.description or ()]
        return QueryResult.within(columns, types, _fetched(result, max_rows), max_rows, max_bytes)
    except duckdb.InterruptException:
        raise
    except duckdb.Error as exc:
        raise BadRequest(f"query failed: {exc}", details=[{"field": "sql", "message": str(exc)}]) from None
    finally:
        end_transaction(cursor)


def end_transaction(cursor: duckdb.DuckDBPyConnection) -> None:
    """Roll back, even when an interrupt meant for the query lands on the ROLLBACK itself (Database.read
    interrupts until the read returns): a transaction left open would fail every later read on this cursor."""
    for attempt in range(_ROLLBACK_ATTEMPTS):
        try:
            cursor.rollback()
            return
        except duckdb.InterruptException:
            if attempt == _ROLLBACK_ATTEMPTS - 1:
                raise


def _fetched(result: duckdb.DuckDBPyConnection, max_rows: int) -> Iterator[tuple[Any, ...]]:
    """The result's rows, fetched in chunks that double (so a few huge rows are not fetched by the
    thousand), at most max_rows + 1 of them (one more tells that the cap cut the answer)."""
    fetched, chunk_rows = 0, _FIRST_CHUNK_ROWS
    while chunk := result.fetchmany(min(chunk_rows, max_rows + 1 - fetched)):
        yield from chunk
        fetched += len(chunk)
        chunk_rows = min(chunk_rows * 2, _MAX_CHUNK_ROWS)


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _json_head(columns: list[str], types: list[str]) -> bytes:
    return b'{"columns":' + _encode(columns) + b',"types":' + _encode(types) + b',"rows":['


def _json_tail(row_count: int, truncated: bool) -> bytes:
    return b'],"row_count":' + str(row_count).encode() + b',"truncated":' + (b"true" if truncated else b"false") + b"}"


def jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: times as RFC 3339, decimals as numbers, blobs as base64, NaN as "NaN"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")  # JSON has no NaN or Infinity
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.isoformat() + "Z"
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)
