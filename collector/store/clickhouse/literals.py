"""Positional `?` parameters bound client-side as ClickHouse literals (18.16 has no server-side ones).

Only `?` outside string literals, quoted identifiers and comments is a parameter. Values are
strings, numbers, booleans or null; anything else is refused, naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kate.collector.errors import BadRequest
from kate.collector.store.clickhouse.client import quote


def bind_positional(sql: str, params: Sequence[Any]) -> str:
    pieces: list[str] = []
    index, used, length = 0, 0, len(sql)
    while index < length:
        char = sql[index]
        if char in "'\"`":
            end = _closing(sql, index, char)
            pieces.append(sql[index:end])
            index = end
        elif sql.startswith("--", index):
            end = sql.find("\n", index)
            end = length if end < 0 else end
            pieces.append(sql[index:end])
            index = end
        elif sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            end = length if end < 0 else end + 2
            pieces.append(sql[index:end])
            index = end
        elif char == "?":
            if used >= len(params):
                raise _error(f"the SQL has more ? placeholders than the {len(params)} params given")
            pieces.append(_literal(params[used], used))
            used += 1
            index += 1
        else:
            pieces.append(char)
            index += 1
    if used != len(params):
        raise _error(f"{len(params)} params given for {used} ? placeholders")
    return "".join(pieces)


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
