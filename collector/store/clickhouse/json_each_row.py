"""JSONEachRow text built column by column, for inserts of many rows.

A dict and a json.dumps per row cost most of the clickhouse engine's encoding (docs/deployment.md#sizing).
Here each column's values become JSON text in one pass over the column, with the C string
escaper json.dumps itself uses, and each row is the join of those texts under keys written once:
the same JSON (ensure_ascii off, NaN as json.dumps writes it) in about a third of the time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from json.encoder import encode_basestring

import pyarrow as pa

Column = tuple[str, list[str]]  # a column's name and its values as JSON text


def json_texts(values: pa.Array | pa.ChunkedArray) -> list[str]:
    """Each value as JSON: strings escaped and quoted, booleans as 1 and 0 (ClickHouse UInt8),
    numbers as json.dumps writes them, null as null."""
    kind = values.type
    items = values.to_pylist()
    if pa.types.is_string(kind):
        return ["null" if item is None else encode_basestring(item) for item in items]
    if pa.types.is_boolean(kind):
        return ["null" if item is None else "1" if item else "0" for item in items]
    if pa.types.is_integer(kind):
        return ["null" if item is None else int.__repr__(item) for item in items]
    if pa.types.is_floating(kind):
        return ["null" if item is None else _float_text(item) for item in items]
    raise TypeError(f"no JSON text for Arrow type {kind}")


def quoted(text: str) -> str:
    return encode_basestring(text)


def json_each_row(columns: Sequence[Column]) -> bytes:
    """The rows as JSONEachRow lines, keys in the columns' order."""
    if not columns:
        return b""
    line = "{" + ",".join(quoted(name).replace("%", "%%") + ":%s" for name, _ in columns) + "}"
    lines = [line % row for row in zip(*(texts for _, texts in columns), strict=True)]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _float_text(value: float) -> str:
    if math.isfinite(value):
        return float.__repr__(value)
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
