"""OTLP ExportTraceServiceRequest to DecodedSpan values, with a counted reason for every refused span.

The ingestion hot path: direct protobuf field access only (no json_format), no I/O, and no
mapping to SpanRecord (kate.schema.mapping owns that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from kate.schema.agent_id import resource_agent_problem
from kate.schema.record import AttributeValue, SpanEvent, SpanInput, StatusCode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

_MAX_INT64 = 2**63 - 1  # the spans table stores times as BIGINT
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
_SCALAR_KINDS = frozenset({"string_value", "int_value", "double_value", "bool_value", "bytes_value"})
_STATUS_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}  # StatusCode.from_otlp, as a table


class DecodedSpan(NamedTuple):
    """One valid OTLP span. Ids are lowercase hex; `resource` is shared by the spans of one
    ResourceSpans and must not be mutated. A NamedTuple: one is built per span, and a tuple
    is built several times faster than a frozen dataclass."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    span: SpanInput
    resource: dict[str, AttributeValue]
    scope_name: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A span (or log record) that cannot be stored; OTLP partial_success counts it with this reason."""

    path: str  # e.g. "resourceSpans[0].scopeSpans[1].spans[4]"
    reason: str
    item: str = "span"  # what was refused: "span", "log record"

    @property
    def message(self) -> str:
        return f"{self.item} {self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class DecodeResult:
    spans: list[DecodedSpan]
    rejected: list[Rejection]


def decode_spans(request: ExportTraceServiceRequest) -> DecodeResult:
    """Every span of the request, either decoded or rejected with a reason; none is dropped."""
    result = DecodeResult(spans=[], rejected=[])
    for r_index, resource_spans in enumerate(request.resource_spans):
        resource = attribute_dict(resource_spans.resource.attributes)  # once per ResourceSpans
        agent_problem = resource_agent_problem(resource)  # the same rule as the Runs API's paths
        for s_index, scope_spans in enumerate(resource_spans.scope_spans):
            path = f"resourceSpans[{r_index}].scopeSpans[{s_index}]"
            if agent_problem:
                _reject_scope(scope_spans, path, agent_problem, result)
            else:
                _decode_scope(scope_spans, resource, path, result)
    return result


def _reject_scope(scope_spans: ScopeSpans, path: str, reason: str, result: DecodeResult) -> None:
    """Every span of a scope whose resource cannot be stored, counted with the reason."""
    result.rejected.extend(Rejection(f"{path}.spans[{index}]", reason) for index in range(len(scope_spans.spans)))


def _decode_scope(
    scope_spans: ScopeSpans, resource: dict[str, AttributeValue], path: str, result: DecodeResult
) -> None:
    scope_name = scope_spans.scope.name or None
    append_span = result.spans.append
    for index, span in enumerate(scope_spans.spans):
        decoded = _decode_span(span, resource, scope_name)
        if isinstance(decoded, str):
            result.rejected.append(Rejection(f"{path}.spans[{index}]", decoded))
        else:
            append_span(decoded)


def _decode_span(span: Span, resource: dict[str, AttributeValue], scope_name: str | None) -> DecodedSpan | str:
    """The decoded span, or the reason it is rejected."""
    trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    problem = _id_problem(trace_id, span_id, parent_id) or _time_problem(start, end)
    if problem:
        return problem
    status = span.status
    events = span.events
    span_input = SpanInput(
        span.name,
        attribute_dict(span.attributes),
        start,
        end,  # end < start is kept: the mapping turns it into an unknown latency
        _STATUS_CODES.get(status.code, StatusCode.UNSET),
        status.message,
        tuple([SpanEvent(e.name, e.time_unix_nano, attribute_dict(e.attributes)) for e in events]) if events else (),
    )
    # OTLP: an empty (or all-zero) parent_span_id marks a root span.
    parent = parent_id.hex() if parent_id and parent_id != _ZERO_SPAN_ID else None
    return DecodedSpan(trace_id.hex(), span_id.hex(), parent, span_input, resource, scope_name)


def _id_problem(trace_id: bytes, span_id: bytes, parent_id: bytes) -> str | None:
    # OTLP: trace ids are 16 bytes and span ids 8, never all zero (Tempo rejects the same).
    if len(trace_id) != 16:
        return f"trace_id must be 16 bytes, got {len(trace_id)}"
    if trace_id == _ZERO_TRACE_ID:
        return "trace_id must not be all zero"
    if len(span_id) != 8:
        return f"span_id must be 8 bytes, got {len(span_id)}"
    if span_id == _ZERO_SPAN_ID:
        return "span_id must not be all zero"
    if parent_id and len(parent_id) != 8:
        return f"parent_span_id must be empty or 8 bytes, got {len(parent_id)}"
    return None


def _time_problem(start: int, end: int) -> str | None:
    if start > _MAX_INT64:
        return f"start_time_unix_nano {start} does not fit a signed 64-bit integer"
    if end > _MAX_INT64:
        return f"end_time_unix_nano {end} does not fit a signed 64-bit integer"
    return None


def attribute_dict(key_values: Iterable[KeyValue]) -> dict[str, AttributeValue]:
    """OTLP attributes as a dict of plain Python values; a repeated key keeps its last value."""
    attributes: dict[str, AttributeValue] = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        # Strings are by far the most common kind: read inline, without a call (the hot path).
        attributes[kv.key] = value.string_value if kind == "string_value" else _value_of_kind(value, kind)
    return attributes


def any_value(value: AnyValue) -> AttributeValue:
    return _value_of_kind(value, value.WhichOneof("value"))


def _value_of_kind(value: AnyValue, kind: str | None) -> AttributeValue:
    if kind == "string_value":
        return value.string_value
    if kind in _SCALAR_KINDS:
        return getattr(value, kind)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attribute_dict(value.kvlist_value.values)
    # Unset, or string_value_strindex: an index into a profiles string table traces do not have.
    return None
