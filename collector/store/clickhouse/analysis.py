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
from kate.collector.store.duckdb.readonly import QueryResult

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
    return QueryResult.within(columns, types, document["data"], max_rows, max_bytes).to_json_bytes()
