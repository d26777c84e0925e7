"""Shared by the map_span test modules: span and event builders, and one exact-assertion case.

Not a test module: the realistic attribute sets live beside the tests of their convention.
"""

from __future__ import annotations

from dataclasses import dataclass

from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, MappedFields, SpanEvent, SpanInput, StatusCode

START = 1_700_000_000_000_000_000
END = START + 250_000_000  # 250 ms


def span(
    name: str,
    attributes: dict[str, AttributeValue],
    *events: SpanEvent,
    status_code: StatusCode = StatusCode.UNSET,
    status_message: str = "",
) -> SpanInput:
    return SpanInput(
        name=name,
        attributes=attributes,
        start_time_unix_nano=START,
        end_time_unix_nano=END,
        status_code=status_code,
        status_message=status_message,
        events=events,
    )


def event(name: str, **attributes: AttributeValue) -> SpanEvent:
    return SpanEvent(name=name, time_unix_nano=START + 1, attributes=attributes)


@dataclass(frozen=True)
class Case:
    """A span, every field map_span must derive from it, and the attribute keys it must keep."""

    span: SpanInput
    span_kind: str
    node_name: str
    remaining: set[str]
    input_text: str | None = None
    output_text: str | None = None
    model: str | None = None
    token_count: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    status_message: str | None = None
    truncated: bool = False
    latency_ms: float | None = 250.0


def assert_maps_exactly(case: Case) -> None:
    """Every derived field equals the case, and exactly the case's keys are left, unchanged."""
    mapped = map_span(case.span)

    assert _fields(mapped) == {
        "span_kind": case.span_kind,
        "node_name": case.node_name,
        "input_text": case.input_text,
        "output_text": case.output_text,
        "model": case.model,
        "token_count": case.token_count,
        "input_tokens": case.input_tokens,
        "output_tokens": case.output_tokens,
        "status_message": case.status_message,
        "truncated": case.truncated,
        "latency_ms": case.latency_ms,
    }
    assert set(mapped.remaining_attributes) == case.remaining
    for key in case.remaining:
        assert mapped.remaining_attributes[key] is case.span.attributes[key]


def _fields(mapped: MappedFields) -> dict[str, object]:
    names = (
        "span_kind",
        "node_name",
        "input_text",
        "output_text",
        "model",
        "token_count",
        "input_tokens",
        "output_tokens",
        "status_message",
        "truncated",
        "latency_ms",
    )
    return {name: getattr(mapped, name) for name in names}
