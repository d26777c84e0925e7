"""Decoded OTLP spans to SpanRecords: the shared mapping plus agent and run linkage (docs/mapping.md#agents-and-runs).

The ingestion hot path: one map_span and one json.dumps per JSON field per span, resource work
once per ResourceSpans. Pure: no I/O, no validation (otlp_decode owns that), no run ownership
(which agent may write to a run is the writer's decision: store/run_ownership.py).
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from kate.collector.cost.settings import CostConfig
from kate.collector.cost.span_cost import Pricer, TokenUsage
from kate.collector.ingest.decode_spans import DecodedSpan
from kate.collector.store.span_batch import SpanBatch
from kate.schema.agent_id import resource_agent_id
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, SpanEvent, SpanRecord

RUN_KEY = "kate.run.id"
MAX_RUN_ID_CHARS = 128
_UUID_TEXT_LENGTHS = frozenset({32, 36, 38, 45})  # hex, hyphenated, {braced}, urn:uuid:
_DEFAULT_COST = CostConfig()


class _ResourceFields(NamedTuple):
    """What every span of one ResourceSpans shares."""

    agent_id: str
    run_id: str | None  # resource kate.run.id, canonical; None when absent
    resource_json: str


def to_records(spans: Sequence[DecodedSpan], *, max_text_bytes: int, cost: CostConfig = _DEFAULT_COST,
               reference: bool = False) -> list[SpanRecord]:
    """One SpanRecord per decoded span, in order. Never raises on attribute shapes.
    `reference=True` maps without shared key layouts (map_span's reference path)."""
    return linked_records(spans, max_text_bytes=max_text_bytes, cost=cost, reference=reference)[0]


def to_span_batch(spans: Sequence[DecodedSpan], *, max_text_bytes: int, cost: CostConfig = _DEFAULT_COST) -> SpanBatch:
    """The records as a SpanBatch that knows which rows' run ids came from their trace ids:
    the writer treats those differently when the run belongs to another agent (spans.py)."""
    return batch_of(*linked_records(spans, max_text_bytes=max_text_bytes, cost=cost))


def linked_records(spans: Sequence[DecodedSpan], *, max_text_bytes: int, cost: CostConfig = _DEFAULT_COST,
                   reference: bool = False) -> tuple[list[SpanRecord], bytes]:
    """to_span_batch's first step: the records, and one byte per record, 1 where its run id came
    from its trace id."""
    return _linked_records(spans, max_text_bytes, Pricer(cost), reference)


def batch_of(records: Sequence[SpanRecord], derived_run_rows: bytes) -> SpanBatch:
    """to_span_batch's second step: linked_records' output as an Arrow batch."""
    return SpanBatch.of(records, derived_run_rows if any(derived_run_rows) else b"")


def _linked_records(spans: Sequence[DecodedSpan], max_text_bytes: int, pricer: Pricer,
                    reference: bool) -> tuple[list[SpanRecord], bytes]:
    shared: dict[int, _ResourceFields] = {}  # DecodedSpan.resource is one dict per ResourceSpans
    trace_runs: dict[str, str] = {}  # trace id → its run id (a request carries few traces)
    records = []
    derived = bytearray(len(spans))  # 1 where the run id is the trace id's
    for index, decoded in enumerate(spans):
        fields = shared.get(id(decoded.resource))
        if fields is None:
            fields = shared[id(decoded.resource)] = _resource_fields(decoded.resource)
        own_run = decoded.span.attributes.get(RUN_KEY)
        run_id = (run_id_from(own_run) if own_run is not None else None) or fields.run_id
        if run_id is None:
            derived[index] = 1
            run_id = trace_runs.get(decoded.trace_id)
            if run_id is None:
                run_id = trace_runs[decoded.trace_id] = trace_run_id(decoded.trace_id)
        records.append(_record(decoded, fields, max_text_bytes, run_id, pricer, reference))
    return records, bytes(derived)


def _record(decoded: DecodedSpan, shared: _ResourceFields, max_text_bytes: int, run_id: str, pricer: Pricer,
            reference: bool) -> SpanRecord:
    span = decoded.span
    mapped = map_span(span, max_text_bytes=max_text_bytes, reference=reference)
    start_ns = span.start_time_unix_nano or None  # OTLP: 0 means unknown
    usage = TokenUsage(mapped.model, mapped.provider, mapped.input_tokens, mapped.output_tokens,
                       mapped.cached_input_tokens, start_ns)
    cost = pricer.cost(usage, mapped.reported_cost)
    # Positional, in column order (SPAN_COLUMNS): this runs once per span.
    return SpanRecord(
        decoded.span_id,
        decoded.trace_id,
        decoded.parent_span_id,
        run_id,
        shared.agent_id,
        mapped.node_name,
        mapped.span_kind,
        mapped.input_text,
        mapped.output_text,
        mapped.model,
        mapped.latency_ms,
        mapped.token_count,
        mapped.input_tokens,
        mapped.output_tokens,
        span.status_code.value,
        mapped.status_message,
        start_ns,
        span.end_time_unix_nano or None,
        json_text(mapped.remaining_attributes),
        shared.resource_json,
        decoded.scope_name,
        json_text(_events(span.events)) if span.events else "[]",
        mapped.truncated,
        mapped.cached_input_tokens,
        *cost,
        mapped.session_id,
        mapped.user_id,
    )


def _resource_fields(resource: dict[str, AttributeValue]) -> _ResourceFields:
    return _ResourceFields(
        agent_id=agent_id_from(resource),
        run_id=run_id_from(resource.get(RUN_KEY)),
        resource_json=json_text(resource),
    )


def agent_id_from(resource: dict[str, AttributeValue]) -> str:
    """docs/mapping.md#agents-and-runs: resource kate.agent.id, else service.name, else
    "unknown_service". Resources with an invalid agent id never get here: otlp_decode rejects
    their spans."""
    return resource_agent_id(resource)[0]


def run_id_from(value: AttributeValue) -> str | None:
    """A kate.run.id value as a run id: a UUID canonicalised (lowercase, hyphenated), any
    other text as given after stripping, capped; None when absent, blank or not text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) in _UUID_TEXT_LENGTHS:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass  # not a UUID after all: used as given, below
    return text[:MAX_RUN_ID_CHARS]


def trace_run_id(trace_id: str) -> str:
    """docs/mapping.md#agents-and-runs: a 128-bit trace id read as a UUID names the run (trace_id is 32 lowercase hex)."""
    return f"{trace_id[:8]}-{trace_id[8:12]}-{trace_id[12:16]}-{trace_id[16:20]}-{trace_id[20:]}"


def _events(events: Iterable[SpanEvent]) -> list[dict[str, Any]]:
    return [{"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": e.attributes} for e in events]


def _json_default(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    return str(value)  # never raise: an unknown type becomes its text


# One encoder, built once: json.dumps with options would build a new one for every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)


def json_text(value: object) -> str:
    """Compact JSON for a JSON column. Bytes become base64 text; non-finite floats become the
    proto3 JSON strings "NaN"/"Infinity"/"-Infinity", since the API's JSON output refuses them."""
    try:
        return _ENCODER.encode(value)
    except ValueError:  # a NaN or infinity somewhere: rare, so the walk only happens then
        return _ENCODER.encode(_finite(value))


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
