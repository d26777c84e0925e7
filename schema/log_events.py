"""GenAI events sent as OTLP log records (docs/mapping.md#genai-content-in-log-records).

The official GenAI instrumentations put message content in log records that carry the trace
and span ids of their call: one record per message (`gen_ai.user.message`, `gen_ai.choice`, ...,
content in the body) or one `gen_ai.client.inference.operation.details` record (messages in
its attributes). Read as span events, they render through the same content chains as events
sent on the span (content.py). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from kate.schema.record import AttributeValue, SpanEvent

GENAI_EVENT_PREFIX = "gen_ai."
EVENT_NAME_KEY = "event.name"  # where SDKs older than the LogRecord.event_name field put the name


def log_event_name(event_name: str, attributes: Mapping[str, AttributeValue]) -> str:
    """The record's event name: its event_name field, else its `event.name` attribute, else ""."""
    if event_name:
        return event_name
    named = attributes.get(EVENT_NAME_KEY)
    return named if isinstance(named, str) else ""


def is_genai_event(name: str) -> bool:
    return name.startswith(GENAI_EVENT_PREFIX)


def log_event(name: str, time_unix_nano: int, attributes: Mapping[str, AttributeValue],
              body: AttributeValue) -> SpanEvent:
    """The record as the span event it stands for: a map body's keys join the attributes (the
    old conventions' `{"content": ...}`, `{"message": ..., "finish_reason": ...}`), any other
    body is kept as `body`. An attribute wins over a body key of the same name."""
    merged: dict[str, AttributeValue] = dict(attributes)
    if isinstance(body, dict):
        for key, value in body.items():
            merged.setdefault(key, value)
    elif body is not None:
        merged.setdefault("body", body)
    return SpanEvent(name, time_unix_nano, merged)
