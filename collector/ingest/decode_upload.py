"""The JSON span upload (POST .../runs/{run_id}/spans): validate the body, build its spans.

All or nothing: every problem of every span is collected into one ValidationError whose
details name the field paths (`spans[2].latency_ms`). Explicit fields win; attributes fill
the gaps through the shared mapping. Nothing here writes.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kate.collector.cost.settings import CostConfig
from kate.collector.cost.span_cost import Pricer, TokenUsage
from kate.collector.errors import PayloadTooLarge, ValidationError
from kate.collector.ingest.map_spans import json_text
from kate.collector.json_body import parse_json_object
from kate.collector.store.span_batch import SpanBatch
from kate.collector.timefmt import parse_rfc3339_ns
from kate.schema.mapping import map_span
from kate.schema.record import MappedFields, SpanEvent, SpanInput, SpanKind, SpanRecord, StatusCode
from kate.schema.text import cap_text

_HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_KINDS = frozenset(kind.value for kind in SpanKind)
_STATUSES = frozenset(status.value for status in StatusCode)
_MAX_ERRORS = 50
_MAX_NS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class UploadTarget:
    agent_id: str
    run_id: str
    max_text_bytes: int
    max_spans: int
    cost: CostConfig = CostConfig()  # how spans are priced (docs/mapping.md#cost)


class _Problems:
    """Collects field errors; raises them together."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []  # the first _MAX_ERRORS, for the answer
        self.count = 0  # all of them: whether a span had a problem, even past the cap

    def add(self, field: str, message: str) -> None:
        self.count += 1
        if len(self.details) < _MAX_ERRORS:
            self.details.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.details:
            first = self.details[0]
            more = f" (and {len(self.details) - 1} more)" if len(self.details) > 1 else ""
            raise ValidationError(f"{first['field']}: {first['message']}{more}", details=self.details)


@dataclass(frozen=True, slots=True)
class DecodedUpload:
    spans: SpanBatch
    span_ids: tuple[str, ...]  # in request order, for the answer


def decode_upload(raw: bytes, target: UploadTarget) -> DecodedUpload:
    """An unparsed upload body to its span batch (in a decode worker for large bodies):
    BadRequest for a body that is not a JSON object, ValidationError naming every bad field."""
    records = parse_upload(parse_json_object(raw), target)
    return DecodedUpload(SpanBatch.of(records), tuple(record.span_id for record in records))


def parse_upload(body: Any, target: UploadTarget) -> list[SpanRecord]:
    """Validate an upload body and return its records in request order."""
    problems = _Problems()
    spans = body.get("spans") if isinstance(body, dict) else None
    if not isinstance(spans, list):
        raise ValidationError.for_field("spans", "required: a list of span objects")
    if len(spans) > target.max_spans:
        raise PayloadTooLarge(f"spans: {len(spans)} spans in one upload, at most {target.max_spans} allowed")
    base_ns = time.time_ns()
    records = []
    pricer = Pricer(target.cost)
    for index, span in enumerate(spans):
        record = _parse_span(span, f"spans[{index}]", (target, pricer), base_ns + index, problems)
        if record is not None:
            records.append(record)
    _check_unique_ids(records, problems)
    problems.raise_if_any()
    return records


def _parse_span(span: Any, path: str, to: tuple[UploadTarget, Pricer], default_start_ns: int,
                problems: _Problems) -> SpanRecord | None:
    target, pricer = to
    if not isinstance(span, dict):
        problems.add(path, "must be an object")
        return None
    before = problems.count
    field = _FieldReader(span, path, problems)
    node_name = field.text("node_name", required=True)
    kind = field.choice("span_kind", _KINDS, upper=True)
    status = field.choice("status", _STATUSES, upper=True)
    attributes = field.object("attributes")
    resource = field.object("resource")
    scope_name = field.text("scope_name")
    events = _events(span.get("events"), f"{path}.events", problems)
    latency_ms = field.number("latency_ms")
    start_ns, end_ns = field.time_ns("start_time"), field.time_ns("end_time")
    trace_id = field.hex_id("trace_id", _HEX32, "32 hex characters")
    span_id = field.hex_id("span_id", _HEX16, "16 hex characters")
    parent_span_id = field.hex_id("parent_span_id", _HEX16, "16 hex characters")
    values = {name: field.text(name) for name in ("input_text", "output_text", "model", "status_message")}
    values["node_name"] = node_name
    tokens = {name: field.integer(name) for name in ("token_count", "input_tokens", "output_tokens")}
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        problems.add(f"{path}.end_time", "must not be before start_time")
    start_or_now = default_start_ns if start_ns is None else start_ns
    latency_ns = None if latency_ms is None else latency_ms * 1e6  # may be inf for a huge finite latency_ms
    if end_ns is None and latency_ns is not None and (latency_ns > _MAX_NS or start_or_now + round(latency_ns) > _MAX_NS):
        # the derived end_time is stored as signed 64-bit nanoseconds (up to 2262-04-11)
        problems.add(f"{path}.latency_ms", "is too large: the span would end after 2262-04-11")
    if problems.count > before:
        return None
    start_ns = default_start_ns if start_ns is None else start_ns
    if end_ns is None and latency_ms is not None:
        end_ns = start_ns + round(latency_ms * 1e6)
    mapped = map_span(
        SpanInput(
            name=node_name or "",
            attributes=attributes or {},
            start_time_unix_nano=start_ns,
            end_time_unix_nano=end_ns or 0,
            status_code=StatusCode(status or "UNSET"),
            status_message=values["status_message"] or "",
            events=events,
        ),
        max_text_bytes=target.max_text_bytes,
    )
    origin = _Origin(json_text(resource or {}), scope_name, json_text([_event_json(e) for e in events]))
    record = _record(target, mapped, values, tokens, ids=(trace_id, span_id, parent_span_id),
                     kind=kind, status=status, latency_ms=latency_ms, times=(start_ns, end_ns), origin=origin)
    usage = TokenUsage(record.model, mapped.provider, record.input_tokens, record.output_tokens,
                       mapped.cached_input_tokens, start_ns)
    return record._replace(cached_input_tokens=mapped.cached_input_tokens, session_id=mapped.session_id,
                           user_id=mapped.user_id, **pricer.cost(usage, mapped.reported_cost)._asdict())


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a span came from, stored as given: resource and events as JSON text."""

    resource: str
    scope_name: str | None
    events: str


def _event_json(event: SpanEvent) -> dict[str, Any]:
    return {"name": event.name, "time_unix_nano": event.time_unix_nano, "attributes": event.attributes}


def _events(value: Any, path: str, problems: _Problems) -> tuple[SpanEvent, ...]:
    """Span events: [{"name": str, "time": RFC 3339, "attributes": {...}}]; time and attributes optional."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, f"must be a list of event objects, got {_describe(value)}")
        return ()
    events = []
    for index, event in enumerate(value):
        if not isinstance(event, dict):
            problems.add(f"{path}[{index}]", "must be an object")
            continue
        reader = _FieldReader(event, f"{path}[{index}]", problems)
        name = reader.text("name", required=True)
        time_ns = reader.time_ns("time")
        attributes = reader.object("attributes")
        events.append(SpanEvent(name or "", time_ns or 0, attributes or {}))
    return tuple(events)


def _record(
    target: UploadTarget,
    mapped: MappedFields,
    values: dict[str, str | None],
    tokens: dict[str, int | None],
    *,
    ids: tuple[str | None, str | None, str | None],
    kind: str | None,
    status: str | None,
    latency_ms: float | None,
    times: tuple[int, int | None],
    origin: _Origin,
) -> SpanRecord:
    trace_id, span_id, parent_span_id = ids
    texts = {name: _capped(values[name], target.max_text_bytes) for name in ("input_text", "output_text")}
    truncated = mapped.truncated or any(cut for _, cut in texts.values())
    return SpanRecord(
        span_id=(span_id or secrets.token_hex(8)).lower(),
        trace_id=(trace_id or target.run_id.replace("-", "")).lower(),
        parent_span_id=parent_span_id.lower() if parent_span_id else None,
        run_id=target.run_id,
        agent_id=target.agent_id,
        node_name=values["node_name"] or mapped.node_name,
        span_kind=kind or mapped.span_kind,
        input_text=_first(texts["input_text"][0], mapped.input_text),
        output_text=_first(texts["output_text"][0], mapped.output_text),
        model=_first(values["model"], mapped.model),
        latency_ms=_first(latency_ms, mapped.latency_ms),
        token_count=_first(tokens["token_count"], mapped.token_count),
        input_tokens=_first(tokens["input_tokens"], mapped.input_tokens),
        output_tokens=_first(tokens["output_tokens"], mapped.output_tokens),
        status_code=status or StatusCode.UNSET.value,
        status_message=_first(values["status_message"], mapped.status_message),
        start_time_unix_nano=times[0],
        end_time_unix_nano=times[1],
        attributes=json_text(mapped.remaining_attributes),
        resource=origin.resource,
        scope_name=origin.scope_name,
        events=origin.events,
        truncated=truncated,
    )


def _capped(text: str | None, max_bytes: int) -> tuple[str | None, bool]:
    return (None, False) if text is None else cap_text(text, max_bytes)


def _first(explicit: Any, derived: Any) -> Any:
    return derived if explicit is None else explicit


def _check_unique_ids(records: Sequence[SpanRecord], problems: _Problems) -> None:
    seen: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        key = (record.trace_id, record.span_id)
        if key in seen:
            problems.add(f"spans[{index}].span_id", f"duplicates the span_id of spans[{seen[key]}]")
        seen.setdefault(key, index)


class _FieldReader:
    """Typed access to one span object's fields; wrong types become problems, not exceptions."""

    def __init__(self, span: dict[str, Any], path: str, problems: _Problems) -> None:
        self._span, self._path, self._problems = span, path, problems

    def _get(self, name: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = self._span.get(name)
        if value is None or check(value):
            return value
        self._problems.add(f"{self._path}.{name}", f"must be {expected}, got {_describe(value)}")
        return None

    def text(self, name: str, *, required: bool = False) -> str | None:
        value: str | None = self._get(name, lambda v: isinstance(v, str), "a string")
        if required and self._span.get(name) in ("", None):
            self._problems.add(f"{self._path}.{name}", "is required and must be a non-empty string")
        return value

    def choice(self, name: str, allowed: frozenset[str], *, upper: bool) -> str | None:
        value: str | None = self._get(name, lambda v: isinstance(v, str) and (v.upper() if upper else v) in allowed,
                          "one of " + ", ".join(sorted(allowed)))
        return value.upper() if value is not None and upper else value

    def object(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(name, lambda v: isinstance(v, dict), "an object")
        return found

    def number(self, name: str) -> float | None:
        value = self._get(name, lambda v: _is_number(v) and v >= 0, "a non-negative number")
        return None if value is None else float(value)

    def integer(self, name: str) -> int | None:
        found: int | None = self._get(name, lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63,
                                      "a non-negative integer")
        return found

    def hex_id(self, name: str, pattern: re.Pattern[str], expected: str) -> str | None:
        value: str | None = self._get(name, lambda v: isinstance(v, str) and bool(pattern.match(v)) and set(v) != {"0"}, expected)
        return value

    def time_ns(self, name: str) -> int | None:
        value = self._get(name, lambda v: isinstance(v, str), "an RFC 3339 timestamp string")
        if value is None:
            return None
        try:
            return parse_rfc3339_ns(value)
        except ValueError as exc:
            self._problems.add(f"{self._path}.{name}", str(exc))
            return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
