"""Result shaping for reads: rows (as tuples with their names, or as dicts), pages, and opaque keyset cursors.

A cursor is the sort key of the last row of a page, base64url-encoded JSON; clients must
treat it as opaque. A cursor that does not decode is a BadRequest naming the `cursor` field.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import duckdb
from kate.collector.errors import BadRequest


def dict_rows(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Rows of an executed query as dicts keyed by column name."""
    names = [column[0] for column in result.description or ()]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def encode_cursor(key: tuple[Any, ...]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """Decode a cursor made by encode_cursor whose parts have the given types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    valid = (
        isinstance(key, list)
        and len(key) == len(types)
        and all(isinstance(part, kind) and not isinstance(part, bool) for part, kind in zip(key, types, strict=True))
    )
    if not valid:
        raise BadRequest("cursor is not a cursor returned by this API", details=[{"field": "cursor", "message": "invalid cursor"}])
    return tuple(key)
