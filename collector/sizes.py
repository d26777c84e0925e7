"""Size settings handed to DuckDB as text (storage.memory_limit, storage.wal_autocheckpoint).

Parsed here the way DuckDB parses them, so that config.py refuses a wrong value naming its key
at load time instead of DuckDB stopping the start with a parser error that names none.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)\s*$", re.IGNORECASE)
_UNIT_BYTES = {
    "b": 1, "byte": 1, "bytes": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
UNITS = "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"


def size_bytes(text: str) -> int | None:
    """The size DuckDB reads from text such as "512MiB" or "1.5 GB"; None when it is not one."""
    match = _SIZE.match(text)
    if match is None or match.group("unit").lower() not in _UNIT_BYTES:
        return None
    return int(float(match.group("number")) * _UNIT_BYTES[match.group("unit").lower()])
