"""What every engine shares about folding GenAI log records into the spans they name
(docs/mapping.md#genai-content-in-log-records): the key a record names, the time window in
which a record and its span's start must lie, and a stored record as the span event it stands for.

Each engine stores the records, renders a span's texts from all of its records whichever of
span and records arrives first, and keeps a span's own text over log content; how it finds
and rewrites the spans is its own (duckdb/genai_logs.py, clickhouse/genai_logs.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.schema.attributes import is_blank
from kate.schema.log_events import log_event
from kate.schema.record import SpanEvent

FOLD_EARLY_NS = 5 * 60 * 10**9  # a record stamped before its span started: clocks of two processes
FOLD_LATE_NS = 60 * 60 * 10**9  # a record stamped after its span started: the call's duration


class SpanKey(NamedTuple):
    trace_id: str
    span_id: str
    agent_id: str  # a record folds only into a span of its own agent


Window = tuple[int, int]  # the (first, last) time of a span's records


@dataclass(frozen=True, slots=True)
class FoldSettings:
    max_text_bytes: int
    pending_max_age_s: float


def record_times(records: Iterable[GenAiLogRecord]) -> dict[SpanKey, Window]:
    """The spans the records name, each with the (first, last) time of its records."""
    times: dict[SpanKey, Window] = {}
    for record in records:
        key = SpanKey(record.trace_id, record.span_id, record.agent_id)
        first, last = times.get(key, (record.time_unix_nano, record.time_unix_nano))
        times[key] = (min(first, record.time_unix_nano), max(last, record.time_unix_nano))
    return times


def key_columns(keys: Sequence[SpanKey]) -> list[list[str]]:
    """The keys as three lists (trace ids, span ids, agent ids), for SQL that unnests them."""
    return [[key.trace_id for key in keys], [key.span_id for key in keys], [key.agent_id for key in keys]]


def within_window(record_time_ns: int, span_start_ns: int) -> bool:
    """Whether a record of this time may belong to a span that started then."""
    return span_start_ns - FOLD_EARLY_NS <= record_time_ns <= span_start_ns + FOLD_LATE_NS


def stored_event(name: str, time_unix_nano: int, attributes: str | None, body: str | None) -> SpanEvent:
    """A stored record (its JSON columns as text) as the span event it stands for."""
    return log_event(name, time_unix_nano, _loaded(attributes) or {}, _loaded(body))


def is_own_text(text: str | None) -> bool:
    """Whether a span carried this text itself: log content fills only texts that are missing or blank."""
    return text is not None and not is_blank(text)


def _loaded(text: str | None) -> Any:
    return None if text is None else json.loads(text)
