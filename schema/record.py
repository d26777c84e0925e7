"""The flat span record every ingestion path produces, and the enums of its wire values.

Pure data: no I/O, no validation beyond types. Column order of SPAN_COLUMNS is the order of
the `spans` table in 001_tables.sql. The value types are NamedTuples rather than frozen
dataclasses: ingestion builds several per span, and a tuple is built ~4x faster (0.35 µs
against 1.4 µs measured); they stay immutable and read by field name.
"""
from __future__ import annotations

import enum
from typing import NamedTuple


class SpanKind(str, enum.Enum):
    """OpenInference span kinds plus UNKNOWN (design: never guess CHAIN)."""

    LLM = "LLM"
    EMBEDDING = "EMBEDDING"
    CHAIN = "CHAIN"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    PROMPT = "PROMPT"
    DECISION = "DECISION"
    UNKNOWN = "UNKNOWN"


class StatusCode(str, enum.Enum):
    """OTLP span status codes by their names (OTLP ints: 0 UNSET, 1 OK, 2 ERROR)."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"

    @classmethod
    def from_otlp(cls, code: int) -> StatusCode:
        return {1: cls.OK, 2: cls.ERROR}.get(code, cls.UNSET)


class SpanRecord(NamedTuple):
    """One row of the `spans` table, in its column order. Ids are lowercase hex; times are unix
    nanoseconds. A tuple (immutable, fields by name) because ingestion builds one per span and
    the writer hands it to DuckDB's Appender as it is: no per-span conversion to a row."""

    span_id: str
    trace_id: str
    parent_span_id: str | None
    run_id: str
    agent_id: str
    node_name: str
    span_kind: str
    input_text: str | None
    output_text: str | None
    model: str | None
    latency_ms: float | None
    token_count: int | None
    input_tokens: int | None
    output_tokens: int | None
    status_code: str
    status_message: str | None
    start_time_unix_nano: int | None
    end_time_unix_nano: int | None
    attributes: str  # JSON object text
    resource: str  # JSON object text
    scope_name: str | None
    events: str  # JSON array text
    truncated: bool
    # Added by migrations 006 and 007 (after received_at in the table; the writer inserts by name).
    cached_input_tokens: int | None = None  # the part of input_tokens read from a prompt cache
    cost_usd: float | None = None  # None: no price known, never 0 for "unknown"
    input_cost_usd: float | None = None
    output_cost_usd: float | None = None
    cost_source: str | None = None  # "span", "config" or "genai-prices <version>"
    session_id: str | None = None
    user_id: str | None = None


SPAN_COLUMNS: tuple[str, ...] = SpanRecord._fields


AttributeValue = object  # str | bool | int | float | bytes | list[AttributeValue] | dict[str, AttributeValue] | None


class SpanEvent(NamedTuple):
    """A span event as decoded from OTLP (attributes already converted to Python values)."""

    name: str
    time_unix_nano: int
    attributes: dict[str, AttributeValue]


class SpanInput(NamedTuple):
    """What the mapping reads: one span's name, attributes, times, status and events.

    Attribute values are plain Python: str, bool, int, float, bytes, list (OTLP array) and
    dict (OTLP kvlist), nested freely. Times are unix nanoseconds (0 = unknown).
    """

    name: str
    attributes: dict[str, AttributeValue]
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    status_code: StatusCode = StatusCode.UNSET
    status_message: str = ""
    events: tuple[SpanEvent, ...] = ()


class ReportedCost(NamedTuple):
    """A cost in USD that the instrumentation put on the span (docs/mapping.md#cost)."""

    total_usd: float
    input_usd: float | None
    output_usd: float | None


class MappedFields(NamedTuple):
    """The record fields the mapping derives from a SpanInput (docs/mapping.md#field-sources-and-precedence)."""

    node_name: str
    span_kind: str
    input_text: str | None
    output_text: str | None
    model: str | None
    latency_ms: float | None
    token_count: int | None
    input_tokens: int | None
    output_tokens: int | None
    status_message: str | None  # error message: status message, else exception event
    remaining_attributes: dict[str, AttributeValue]  # minus mapped keys and dropped blobs
    truncated: bool
    cached_input_tokens: int | None = None
    reported_cost: ReportedCost | None = None  # a cost in USD the span states itself
    provider: str | None = None  # the model's provider as the span names it (a price hint)
    session_id: str | None = None
    user_id: str | None = None
