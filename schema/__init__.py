"""kate.schema: the contract shared by collector and exporter.

Owns the SpanRecord type, the attribute mapping and the SQL files. Must never import duckdb,
aiohttp or anything of the collector: agents install it.
"""
from __future__ import annotations

from kate.schema.record import SpanKind, SpanRecord, StatusCode

__all__ = ["SpanKind", "SpanRecord", "StatusCode"]
