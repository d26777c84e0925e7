"""The clickhouse engine's column-by-column JSONEachRow encoder writes, byte for byte, what
json.dumps of each row writes (ensure_ascii off), for every type a span batch holds and the
values that are easy to get wrong."""

from __future__ import annotations

import json
import math

import pyarrow as pa
from kate.collector.store.clickhouse.json_each_row import json_each_row, json_texts

TEXTS = ["plain", "", None, "quote \" back \\ slash", "new\nline\ttab\r\x00\x1f", "é中😀 \u2028 \u2029", "</script>"]
INTEGERS = [0, -1, 2**63 - 1, -(2**63), None, 42, 7]
FLOATS = [0.1, -0.0, 1e-300, 2.2e-05, math.nan, math.inf, None]
BOOLEANS = [True, False, None, True, False, True, False]


def test_rows_are_what_json_dumps_writes_for_each_row() -> None:
    table = pa.table({"text": pa.array(TEXTS, pa.string()), "number": pa.array(INTEGERS, pa.int64()),
                      "real": pa.array(FLOATS, pa.float64()), "flag": pa.array(BOOLEANS, pa.bool_())})
    encoded = json_each_row([(name, json_texts(table.column(name))) for name in table.column_names])

    expected = "".join(
        json.dumps({"text": text, "number": number, "real": real, "flag": None if flag is None else int(flag)},
                   ensure_ascii=False, separators=(",", ":")) + "\n"
        for text, number, real, flag in zip(TEXTS, INTEGERS, FLOATS, BOOLEANS, strict=True))
    assert encoded.decode() == expected


def test_no_columns_or_no_rows_are_no_lines() -> None:
    assert json_each_row([]) == b""
    assert json_each_row([("a", []), ("b", [])]) == b""
