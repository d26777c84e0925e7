"""Which analyst statements may run: one SELECT (or EXPLAIN) whose parse tree (json_serialize_sql)
holds no write and calls only allow-listed functions. It reads the tree and DuckDB's catalog of
built-ins; it never runs what the analyst wrote.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
from kate.collector.errors import BadRequest, ValidationError

# Volatile only because each call returns something new; they touch no state.
PURE_VOLATILE = frozenset({"random", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "error"})
# What an analyst needs in FROM: series, unnesting, JSON walking, and reading the catalog.
TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "json_each", "json_tree",
    "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_schemas", "duckdb_types",
    "duckdb_functions", "duckdb_keywords", "duckdb_constraints", "duckdb_indexes", "pragma_table_info",
})
# Names the parser emits that the binder resolves itself (they are not catalog entries).
BINDER_FUNCTIONS = frozenset({"unnest", "unlist", "grouping", "grouping_id", "row", "try"})
# A function may be named bare or as a built-in: `main.abs`, `system.main.abs`, `pg_catalog.x`.
_BUILTIN_SCHEMAS = frozenset({"", "main", "pg_catalog"})
_BUILTIN_CATALOGS = frozenset({"", "system"})
_ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE", "BOUND_SUBQUERY_NODE"})
_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    schema: str
    catalog: str
    in_from: bool  # a table function (FROM f(...)) rather than a scalar, aggregate or window call

    @property
    def shown(self) -> str:
        return ".".join(part for part in (self.catalog, self.schema, self.name) if part)


def check_readonly(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise unless sql is one read-only statement calling only allowed functions: 422 for the wrong
    kind of statement, 400 for a function that is not allowed (details field "sql" either way)."""
    try:
        statements = cursor.extract_statements(sql)
    except duckdb.Error as exc:
        raise BadRequest(f"sql does not parse: {exc}", details=[{"field": "sql", "message": str(exc)}]) from None
    if len(statements) != 1:
        raise ValidationError.for_field("sql", f"must be exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in _ALLOWED_STATEMENTS:
        raise ValidationError.for_field("sql", f"must be a read-only SELECT, got {kind.name}")
    body = _EXPLAIN_PREFIX.sub("", sql, count=1) if kind == duckdb.StatementType.EXPLAIN else sql
    tree = parse_tree(cursor, body)
    _refuse_nested_writes(tree)
    allowed = allowed_functions()
    for call in function_calls(tree):
        if not allowed.admits(call):
            kind_word = "table function" if call.in_from else "function"
            msg = f"{kind_word} {call.shown}() is disabled in analysis queries, which may only read and compute"
            raise BadRequest(f"sql: {msg}", details=[{"field": "sql", "message": msg}])


def parse_tree(cursor: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of a SELECT as JSON; 422 for what cannot be serialized (so cannot be checked)."""
    (serialized,) = cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone() or ("{}",)
    tree: dict[str, Any] = json.loads(serialized)
    if tree.get("error"):
        msg = f"must be a read-only SELECT that can be checked: {tree.get('error_message', 'unknown statement')}"
        raise ValidationError.for_field("sql", msg)
    return tree


def _refuse_nested_writes(tree: dict[str, Any]) -> None:
    """A SELECT may hide a write in a CTE (`WITH x AS (DELETE ... RETURNING 1) SELECT ...`), which
    the statement type does not show; the parse tree does. Rollback would undo it, but meanwhile it
    holds row versions that make the writer's commits conflict."""
    for node in _nodes(tree):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
            raise ValidationError.for_field("sql", f"must be read-only, but contains a {kind.removesuffix('_QUERY_NODE')}")


def function_calls(tree: Any) -> Iterator[FunctionCall]:
    """Every function named anywhere in the tree: select lists, FROM, subqueries, CTEs, lambdas,
    windows, PIVOT, filters. A TABLE_FUNCTION reference's own call is marked in_from."""
    table_calls = {id(node["function"]) for node in _nodes(tree)
                   if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict)}
    for node in _nodes(tree):
        if "function_name" in node:
            yield FunctionCall(str(node["function_name"]).lower(), str(node.get("schema") or "").lower(),
                               str(node.get("catalog") or "").lower(), id(node) in table_calls)


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            yield node
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


@dataclass(frozen=True, slots=True)
class AllowedFunctions:
    computing: frozenset[str]  # scalar, aggregate, window and macro names
    tables: frozenset[str]

    def admits(self, call: FunctionCall) -> bool:
        if call.schema not in _BUILTIN_SCHEMAS or call.catalog not in _BUILTIN_CATALOGS:
            return False
        return call.name in (self.tables if call.in_from else self.computing)


@functools.cache
def allowed_functions() -> AllowedFunctions:
    """The allow-list, read once from the catalog of a private in-memory DuckDB (so only built-ins
    count, never anything defined in a data file):
    - scalar, aggregate and window functions that DuckDB declares without side effects and not
      VOLATILE, plus the few volatile ones that only compute (PURE_VOLATILE);
    - table functions only from TABLE_FUNCTIONS;
    - built-in macros whose own definition passes the same check.
    Everything else (json_execute_serialized_sql, query, enable_logging, checkpoint, nextval,
    setseed, write_log, ...) is refused by name, wherever it sits in the tree."""
    with duckdb.connect(":memory:", config={"enable_external_access": False}) as catalog:
        computing = {name for (name,) in catalog.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions()"
            " WHERE function_type IN ('scalar', 'aggregate', 'window') AND NOT function_name LIKE '\\_\\_%' ESCAPE '\\'"
            " AND ((NOT has_side_effects AND stability <> 'VOLATILE') OR function_name IN ?)",
            [sorted(PURE_VOLATILE)]).fetchall()}
        computing |= BINDER_FUNCTIONS
        macros = catalog.execute(
            "SELECT function_name, list(macro_definition) FROM duckdb_functions()"
            " WHERE function_type = 'macro' GROUP BY function_name").fetchall()
        computing |= _admissible_macros(catalog, dict(macros), frozenset(computing))
    return AllowedFunctions(frozenset(computing), TABLE_FUNCTIONS)


def _admissible_macros(catalog: duckdb.DuckDBPyConnection, definitions: dict[str, list[str]],
                       computing: frozenset[str]) -> set[str]:
    """Macros whose every definition calls only admitted functions (macros may call macros:
    repeat until nothing new is admitted)."""
    calls = {name: [call for body in bodies for call in function_calls(_macro_tree(catalog, body))]
             for name, bodies in definitions.items()}
    admitted: set[str] = set()
    while True:
        allowed = AllowedFunctions(computing | admitted, TABLE_FUNCTIONS)
        more = {name for name, called in calls.items()
                if name not in admitted and all(allowed.admits(call) for call in called)}
        if not more:
            return admitted
        admitted |= more


def _macro_tree(catalog: duckdb.DuckDBPyConnection, body: str) -> Any:
    (serialized,) = catalog.execute("SELECT json_serialize_sql(?)", [f"SELECT {body}"]).fetchone() or ("{}",)
    tree = json.loads(serialized)
    # A body that cannot be serialized cannot be checked: make it call something never admitted.
    return {"function_name": "\x00unserializable"} if tree.get("error") else tree
