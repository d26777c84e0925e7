"""Real OTLP trace bodies for the ingest tests: SDK spans through the stock exporter's encoder,
and an OTLP/JSON encoder written by hand from the spec (hex ids, int64 as strings).

Test support only; it must not import the code under test.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer


def sdk_request(
    emit: Callable[[Tracer], None], resource: dict[str, Any] | None = None, scope: str = "test.scope"
) -> ExportTraceServiceRequest:
    """The request the stock OTLP exporters would send for the spans `emit` creates."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    emit(provider.get_tracer(scope, "1.0"))
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


@dataclass(frozen=True)
class JsonStyle:
    """How liberal a sender is. The default is exactly what the OTLP/JSON spec prescribes."""

    numbers: bool = False  # 64-bit integers as JSON numbers instead of decimal strings
    upper_hex: bool = False
    snake_case: bool = False
    unknown_fields: bool = False
    enum_names: bool = False


SPEC = JsonStyle()
LIBERAL = JsonStyle(numbers=True, upper_hex=True, snake_case=True, unknown_fields=True, enum_names=True)


def request_json(request: ExportTraceServiceRequest, style: JsonStyle = SPEC) -> dict[str, Any]:
    return _Encoder(style).request(request)


class _Encoder:
    def __init__(self, style: JsonStyle) -> None:
        self.style = style

    def obj(self, **fields: Any) -> dict[str, Any]:
        out = {self.key(name): value for name, value in fields.items()}
        if self.style.unknown_fields:
            out["futureField"] = {"nested": [1, "two", None]}
        return out

    def key(self, camel: str) -> str:
        return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel) if self.style.snake_case else camel

    def int64(self, value: int) -> int | str:
        return value if self.style.numbers else str(value)

    def hex_id(self, raw: bytes) -> str:
        return raw.hex().upper() if self.style.upper_hex else raw.hex()

    def enum(self, value: int, names: dict[int, str]) -> int | str:
        return names[value] if self.style.enum_names else value

    def request(self, request: ExportTraceServiceRequest) -> dict[str, Any]:
        return self.obj(resourceSpans=[self.resource_spans(rs) for rs in request.resource_spans])

    def resource_spans(self, rs: ResourceSpans) -> dict[str, Any]:
        resource = self.obj(
            attributes=self.attributes(rs.resource.attributes),
            droppedAttributesCount=rs.resource.dropped_attributes_count,
        )
        scope_spans = [self.scope_spans(ss) for ss in rs.scope_spans]
        return self.obj(resource=resource, scopeSpans=scope_spans, schemaUrl=rs.schema_url)

    def scope_spans(self, ss: ScopeSpans) -> dict[str, Any]:
        scope = self.obj(name=ss.scope.name, version=ss.scope.version, attributes=self.attributes(ss.scope.attributes))
        return self.obj(scope=scope, spans=[self.span(s) for s in ss.spans], schemaUrl=ss.schema_url)

    def span(self, span: Span) -> dict[str, Any]:
        kinds = {k: Span.SpanKind.Name(k) for k in Span.SpanKind.values()}
        return self.obj(
            traceId=self.hex_id(span.trace_id),
            spanId=self.hex_id(span.span_id),
            traceState=span.trace_state,
            parentSpanId=self.hex_id(span.parent_span_id),
            flags=span.flags,  # fixed32: a plain JSON number
            name=span.name,
            kind=self.enum(span.kind, kinds),
            startTimeUnixNano=self.int64(span.start_time_unix_nano),
            endTimeUnixNano=self.int64(span.end_time_unix_nano),
            attributes=self.attributes(span.attributes),
            droppedAttributesCount=span.dropped_attributes_count,
            events=[self.event(e) for e in span.events],
            links=[self.link(link) for link in span.links],
            status=self.status(span.status),
        )

    def event(self, event: Span.Event) -> dict[str, Any]:
        return self.obj(
            timeUnixNano=self.int64(event.time_unix_nano), name=event.name, attributes=self.attributes(event.attributes)
        )

    def link(self, link: Span.Link) -> dict[str, Any]:
        return self.obj(
            traceId=self.hex_id(link.trace_id),
            spanId=self.hex_id(link.span_id),
            traceState=link.trace_state,
            attributes=self.attributes(link.attributes),
            flags=link.flags,
        )

    def status(self, status: Status) -> dict[str, Any]:
        codes = {k: Status.StatusCode.Name(k) for k in Status.StatusCode.values()}
        return self.obj(message=status.message, code=self.enum(status.code, codes))

    def attributes(self, key_values: Any) -> list[dict[str, Any]]:
        return [self.obj(key=kv.key, value=self.any_value(kv.value)) for kv in key_values]

    def any_value(self, value: AnyValue) -> dict[str, Any]:
        kind = value.WhichOneof("value")
        if kind is None:
            return {}
        if kind == "int_value":
            return self.obj(intValue=self.int64(value.int_value))
        if kind == "double_value":
            return self.obj(doubleValue=_double(value.double_value))
        if kind == "bytes_value":  # OTLP/JSON: every bytes field but the ids stays base64
            return self.obj(bytesValue=base64.b64encode(value.bytes_value).decode())
        if kind == "array_value":
            return self.obj(arrayValue=self.obj(values=[self.any_value(v) for v in value.array_value.values]))
        if kind == "kvlist_value":
            return self.obj(kvlistValue=self.obj(values=self.attributes(value.kvlist_value.values)))
        camel = {"string_value": "stringValue", "bool_value": "boolValue"}[kind]
        return self.obj(**{camel: getattr(value, kind)})


def _double(value: float) -> float | str:
    # proto3 JSON: non-finite doubles are the strings "NaN", "Infinity", "-Infinity".
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
