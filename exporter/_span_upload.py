"""Finished OpenTelemetry spans → JSON upload objects, grouped per (agent, run).

Runs on the exporter's thread, never the application's. The record fields come from the shared
mapping (kate.schema.mapping.map_span); this module only reads the SDK span and links the run.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kate.schema.attributes import BYTES_TYPES, bytes_attribute, is_blob
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, SpanEvent, SpanInput, StatusCode
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode as OtelStatusCode

RUN_ID_KEY = "kate.run.id"
AGENT_ID_KEY = "kate.agent.id"
_STATUS = {
    OtelStatusCode.UNSET: StatusCode.UNSET,
    OtelStatusCode.OK: StatusCode.OK,
    OtelStatusCode.ERROR: StatusCode.ERROR,
}
_OPTIONAL_FIELDS = (
    "input_text",
    "output_text",
    "model",
    "latency_ms",
    "token_count",
    "input_tokens",
    "output_tokens",
    "status_message",
)


@dataclass(slots=True)
class RunBatch:
    """The upload objects of one run, in the order the SDK finished them."""

    agent_id: str
    run_id: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    has_root: bool = False  # a span without parent ended: an auto-created run may complete


def group_by_run(
    spans: Iterable[ReadableSpan], agent_id: str | None, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
) -> list[RunBatch]:
    """Upload objects grouped by (agent, run), each group in the order the spans came."""
    batches: dict[tuple[str, str], RunBatch] = {}
    for span in spans:
        agent = agent_id or _agent_of(span)
        key = (agent, run_id_of(span))
        batch = batches.get(key)
        if batch is None:
            batch = batches[key] = RunBatch(*key)
        batch.entries.append(upload_entry(span, max_text_bytes))
        batch.has_root = batch.has_root or span.parent is None
    return list(batches.values())


def run_id_of(span: ReadableSpan) -> str:
    """docs/mapping.md#agents-and-runs: span `kate.run.id`, else resource `kate.run.id`, else the trace id as a UUID."""
    for attributes in (span.attributes, span.resource.attributes):
        found = _uuid((attributes or {}).get(RUN_ID_KEY))
        if found is not None:
            return found
    return str(uuid.UUID(int=span.context.trace_id)) if span.context else str(uuid.uuid4())


def _agent_of(span: ReadableSpan) -> str:
    resource = span.resource.attributes
    for key in (AGENT_ID_KEY, "service.name"):
        value = resource.get(key)
        if isinstance(value, str) and value:
            return value
    return "unknown_service"


def _uuid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def upload_entry(span: ReadableSpan, max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES) -> dict[str, Any]:
    """One span as an upload object: mapped fields, ids, times, status and attributes.

    The attributes go up whole (JSON-safe, blobs dropped): the collector maps them once more and
    keeps the same remaining attributes the OTLP path would, while the explicit fields computed
    here win, including those only span events can give (exception and message events).
    """
    attributes = _json_safe(span.attributes or {})
    status_code = _STATUS.get(span.status.status_code, StatusCode.UNSET)
    mapped = map_span(_span_input(span, attributes, status_code), max_text_bytes=max_text_bytes)
    context = span.context
    entry: dict[str, Any] = {
        "node_name": mapped.node_name or span.name or "span",
        "span_kind": mapped.span_kind,
        "trace_id": format(context.trace_id, "032x") if context else None,
        "span_id": format(context.span_id, "016x") if context else None,
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "start_time": rfc3339(span.start_time),
        "end_time": rfc3339(span.end_time),
        "status": status_code.value,
        "attributes": attributes,
        "resource": _json_safe(span.resource.attributes or {}),
        "scope_name": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "events": [_event(event) for event in span.events] or None,
    }
    for name in _OPTIONAL_FIELDS:
        entry[name] = getattr(mapped, name)
    return {name: value for name, value in entry.items() if value is not None}


def _span_input(span: ReadableSpan, attributes: dict[str, AttributeValue], status: StatusCode) -> SpanInput:
    events = tuple(SpanEvent(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events)
    return SpanInput(
        name=span.name,
        attributes=attributes,
        start_time_unix_nano=span.start_time or 0,
        end_time_unix_nano=span.end_time or 0,
        status_code=status,
        status_message=span.status.description or "",
        events=events,
    )


def _event(event: Any) -> dict[str, Any]:
    return {"name": event.name, "time": rfc3339(event.timestamp), "attributes": _json_safe(event.attributes or {})}


def _json_safe(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """OTel attribute values as JSON values: tuples → lists, NaN/inf → text, bytes as the marked
    base64 the collector keeps, data URLs dropped."""
    safe: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if isinstance(value, BYTES_TYPES):
            safe[key] = bytes_attribute(value, DEFAULT_MAX_TEXT_BYTES)
            continue
        if is_blob(value):
            continue
        if isinstance(value, tuple | list):
            safe[key] = [_json_scalar(item) for item in value]
        else:
            safe[key] = _json_scalar(value)
    return safe


def _json_scalar(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def rfc3339(unix_nano: int | None) -> str | None:
    """Unix nanoseconds as RFC 3339 UTC with all nine fraction digits (the upload accepts them)."""
    if not unix_nano or unix_nano < 0:
        return None
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"
