"""Read-only SQL for analysis (POST /sql and `kate sql`): one SELECT, bounded rows, no side effects.

Three walls: the statement must parse as exactly one SELECT (or EXPLAIN) with no write hidden in
a CTE; it runs inside a transaction that is always rolled back; the connection has external
file access disabled.
Time limits are the caller's (Database.read interrupts the cursor).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from kate.collector.errors import BadRequest, ValidationError

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE", "BOUND_SUBQUERY_NODE"})
_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?", re.IGNORECASE)
SqlParams = Sequence[Any] | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": self.rows,
                "row_count": len(self.rows), "truncated": self.truncated}


def run_readonly_query(cursor: duckdb.DuckDBPyConnection, sql: str, params: SqlParams, max_rows: int) -> QueryResult:
    """Run one read-only statement and return at most max_rows rows (truncated says if cut)."""
    check_readonly(cursor, sql)
    cursor.begin()
    try:
        result = cursor.execute(sql, params) if params else cursor.execute(sql)
        rows = result.fetchmany(max_rows + 1)
        columns = [column[0] for column in result.description or ()]
        types = [str(column[1]) for column in result.description or ()]
    except duckdb.InterruptException:
        raise
    except duckdb.Error as exc:
        raise BadRequest(f"query failed: {exc}", details=[{"field": "sql", "message": str(exc)}]) from None
    finally:
        cursor.rollback()
    return QueryResult(columns, types, [[jsonable(v) for v in row] for row in rows[:max_rows]], len(rows) > max_rows)


def check_readonly(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = cursor.extract_statements(sql)
    except duckdb.Error as exc:
        raise BadRequest(f"sql does not parse: {exc}", details=[{"field": "sql", "message": str(exc)}]) from None
    if len(statements) != 1:
        raise ValidationError.for_field("sql", f"must be exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in _ALLOWED:
        raise ValidationError.for_field("sql", f"must be a read-only SELECT, got {kind.name}")
    _refuse_nested_writes(cursor, _EXPLAIN_PREFIX.sub("", sql, count=1) if kind == duckdb.StatementType.EXPLAIN else sql)


def _refuse_nested_writes(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    """A SELECT may hide a write in a CTE (`WITH x AS (DELETE ... RETURNING 1) SELECT ...`), which
    the statement type does not show; the parse tree does. Rollback would undo it, but meanwhile it
    holds row versions that make the writer's commits conflict."""
    (serialized,) = cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone() or ("{}",)
    tree = json.loads(serialized)
    if tree.get("error"):
        msg = f"must be a read-only SELECT that can be checked: {tree.get('error_message', 'unknown statement')}"
        raise ValidationError.for_field("sql", msg)
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            kind = node.get("type")
            if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
                raise ValidationError.for_field("sql", f"must be read-only, but contains a {kind.removesuffix('_QUERY_NODE')}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: times as RFC 3339, decimals as numbers, blobs as base64."""
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
