"""/sql and `kate sql` on the ClickHouse engine: one read-only statement, capped, with a timeout.

ClickHouse enforces what the DuckDB engine's guard checks: `readonly=1` refuses writes, DDL,
setting changes and table functions (url, file, remote) in the query, and max_execution_time,
max_result_rows and max_result_bytes bound it. The answer is the /sql document of docs/sql.md.
ClickHouse 18.16 has no query parameters: positional `?` parameters are bound client-side as
literals (literals.py); named ones are refused.
"""

from __future__ import annotations

import json
from typing import Any

from kate.collector.errors import BadRequest, QueryTimeout
from kate.collector.store.clickhouse.client import ClickHouseClient, ClickHouseError
from kate.collector.store.clickhouse.literals import bind_positional, check_one_read
from kate.collector.store.duckdb.readonly import QueryResult, jsonable

_TIMEOUT_CODES = {159}  # TIMEOUT_EXCEEDED


async def run_readonly_query(client: ClickHouseClient, sql: str, params: Any, *, max_rows: int, max_bytes: int,
                             timeout_s: float) -> bytes:
    if isinstance(params, dict) and params:
        raise BadRequest("named params are not supported with storage.engine: clickhouse; use ? and a list",
                         details=[{"field": "params", "message": "named params not supported by the clickhouse engine"}])
    statement = sql.strip().rstrip(";").strip()
    if not statement:
        raise BadRequest("sql is empty", details=[{"field": "sql", "message": "empty"}])
    check_one_read(statement)
    if params:
        statement = bind_positional(statement, list(params))
    settings = {
        "max_execution_time": str(max(1, int(timeout_s))),
        "max_result_rows": str(max_rows + 1),
        "result_overflow_mode": "break",
        "readonly": "1",  # last: the settings above are applied before the session turns read-only
    }
    try:
        answer = await client.execute(f"{statement}\nFORMAT JSONCompact", settings=settings)
    except ClickHouseError as exc:
        if exc.code in _TIMEOUT_CODES:
            raise QueryTimeout(f"query ran past sql.timeout_ms: {exc.message}") from None
        raise BadRequest(f"query failed: {exc.message}", details=[{"field": "sql", "message": exc.message}]) from None
    document = json.loads(answer)
    columns = [column["name"] for column in document["meta"]]
    types = [column["type"] for column in document["meta"]]
    return _capped(columns, types, document["data"], max_rows, max_bytes).to_json_bytes()


def _capped(columns: list[str], types: list[str], data: list[list[Any]], max_rows: int, max_bytes: int) -> QueryResult:
    head = len(json.dumps({"columns": columns, "types": types, "rows": [], "row_count": max_rows, "truncated": False}))
    budget, used = max_bytes - head, 0
    rows: list[list[Any]] = []
    encoded: list[bytes] = []
    for raw in data:
        row = [jsonable(value) for value in raw]
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        used += len(text) + 1
        if len(rows) == max_rows or used > budget:
            return QueryResult(columns, types, rows, encoded, truncated=True)
        rows.append(row)
        encoded.append(text)
    return QueryResult(columns, types, rows, encoded, truncated=False)
