"""SQL text outside literals and comments: positional `?` parameters bound client-side as
ClickHouse literals (18.16 has no server-side ones), and the shape of a /sql statement.

Only `?` outside string literals, quoted identifiers and comments is a parameter. Values are
strings, numbers, booleans or null; anything else is refused, naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kate.collector.errors import BadRequest, ValidationError
from kate.collector.store.clickhouse.client import quote


def pieces(sql: str) -> list[tuple[bool, str]]:
    """The SQL cut into (is code, text): literals, quoted names and comments are not code."""
    parts: list[tuple[bool, str]] = []
    index, start, length = 0, 0, len(sql)
    while index < length:
        end = -1
        if sql[index] in "'\"`":
            end = _closing(sql, index, sql[index])
        elif sql.startswith("--", index):
            newline = sql.find("\n", index)
            end = length if newline < 0 else newline
        elif sql.startswith("/*", index):
            close = sql.find("*/", index + 2)
            end = length if close < 0 else close + 2
        if end < 0:
            index += 1
            continue
        if start < index:
            parts.append((True, sql[start:index]))
        parts.append((False, sql[index:end]))
        index = start = end
    if start < length:
        parts.append((True, sql[start:]))
    return parts


def bind_positional(sql: str, params: Sequence[Any]) -> str:
    bound: list[str] = []
    used = 0
    for is_code, text in pieces(sql):
        if not is_code:
            bound.append(text)
            continue
        for index, chunk in enumerate(text.split("?")):
            if index:
                if used >= len(params):
                    raise _error(f"the SQL has more ? placeholders than the {len(params)} params given")
                bound.append(_literal(params[used], used))
                used += 1
            bound.append(chunk)
    if used != len(params):
        raise _error(f"{len(params)} params given for {used} ? placeholders")
    return "".join(bound)


# Statements that change something: refused before ClickHouse sees them, as the DuckDB engine's
# guard does. Anything else goes to ClickHouse, whose readonly=1 refuses what writes all the same
# and whose parser answers 400 for what is not SQL.
_WRITES = frozenset({
    "ALTER", "ATTACH", "BEGIN", "CALL", "CHECKPOINT", "COMMIT", "COPY", "CREATE", "DELETE", "DETACH", "DROP", "EXPORT",
    "GRANT", "IMPORT", "INSERT", "INSTALL", "KILL", "LOAD", "MERGE", "OPTIMIZE", "PRAGMA", "RENAME", "REPLACE", "REVOKE",
    "ROLLBACK", "SET", "SYSTEM", "TRUNCATE", "UPDATE", "UPSERT", "USE", "VACUUM",
})


def check_one_read(sql: str) -> None:
    """ValidationError (422, as on DuckDB) for more than one statement or one that writes."""
    code = " ".join(text for is_code, text in pieces(sql) if is_code)
    statements = [part for part in code.split(";") if part.strip()]
    if len(statements) != 1:
        raise ValidationError.for_field("sql", f"must be exactly one statement, got {len(statements)}")
    words = statements[0].replace("(", " ").split()
    if words[0].upper() in _WRITES:
        raise ValidationError.for_field("sql", f"must be a read-only SELECT, got {words[0].upper()}")


def _closing(sql: str, start: int, quote_char: str) -> int:
    """The index just past the literal opened at start (backslash escapes, doubled quotes)."""
    index = start + 1
    while index < len(sql):
        if sql[index] == "\\":
            index += 2
            continue
        if sql[index] == quote_char:
            if index + 1 < len(sql) and sql[index + 1] == quote_char:
                index += 2
                continue
            return index + 1
        index += 1
    return len(sql)


def _literal(value: Any, position: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _error(f"params[{position}] must be a finite number")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    raise _error(f"params[{position}] must be a string, number, boolean or null, got {type(value).__name__}")


def _error(message: str) -> BadRequest:
    return BadRequest(message, details=[{"field": "params", "message": message}])
