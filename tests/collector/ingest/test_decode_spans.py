from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kate.collector.ingest.decode_spans import DecodedSpan, DecodeResult, decode_spans
from kate.collector.ingest.wire import JSON, PROTOBUF, parse_request
from kate.schema.record import SpanEvent, StatusCode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.trace import Link, Tracer, format_span_id, format_trace_id
from opentelemetry.trace import Status as SdkStatus
from opentelemetry.trace import StatusCode as SdkStatusCode
from otlp_bodies import JsonStyle, request_json, sdk_request

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")
MAX_INT64 = 2**63 - 1


def _span(**fields: Any) -> Span:
    defaults: dict[str, Any] = {"trace_id": TRACE_ID, "span_id": SPAN_ID, "name": "s"}
    return Span(**{**defaults, **fields})


def _request(*spans: Span, resource: list[KeyValue] | None = None, scope: str = "scope") -> ExportTraceServiceRequest:
    scope_spans = ScopeSpans(scope={"name": scope}, spans=spans)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource={"attributes": resource or []}, scope_spans=[scope_spans])]
    )


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def test_sdk_spans_decode_with_hex_ids_linkage_and_values() -> None:
    contexts = {}

    def emit(tracer: Tracer) -> None:
        with tracer.start_as_current_span("agent", attributes={"kate.run.id": "r-1"}) as root:
            contexts["root"] = root.get_span_context()
            root.add_event("thinking", {"step": 2})
            llm_attributes = {"tokens": 12, "temp": 0.2, "stream": False, "raw": b"\x01", "tool": {"args": ["a", 1]}}
            with tracer.start_as_current_span("llm", attributes=llm_attributes) as llm:
                contexts["llm"] = llm.get_span_context()
                llm.set_status(SdkStatus(SdkStatusCode.ERROR, "rate limited"))

    request = sdk_request(emit, {"service.name": "agent-svc", "kate.agent.id": "a-1"}, scope="kate.agent")
    result = decode_spans(request)
    assert result.rejected == []
    llm, root = result.spans  # the SDK finishes the child first
    assert root.trace_id == llm.trace_id == format_trace_id(contexts["root"].trace_id)
    assert (root.span_id, root.parent_span_id) == (format_span_id(contexts["root"].span_id), None)
    assert (llm.span_id, llm.parent_span_id) == (format_span_id(contexts["llm"].span_id), root.span_id)
    assert llm.span.attributes == {
        "tokens": 12,
        "temp": 0.2,
        "stream": False,
        "raw": b"\x01",
        "tool": {"args": ["a", 1]},
    }
    assert (llm.span.status_code, llm.span.status_message) == (StatusCode.ERROR, "rate limited")
    assert root.span.status_code is StatusCode.UNSET
    assert root.span.events == (SpanEvent("thinking", root.span.events[0].time_unix_nano, {"step": 2}),)
    assert 0 < root.span.start_time_unix_nano <= llm.span.start_time_unix_nano <= root.span.end_time_unix_nano
    assert root.resource["kate.agent.id"] == "a-1" and root.resource["service.name"] == "agent-svc"
    assert root.scope_name == "kate.agent"


def test_every_any_value_kind_becomes_plain_python() -> None:
    nested = KeyValueList(
        values=[
            _kv("list", array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="two")])),
            _kv("inner", kvlist_value=KeyValueList(values=[_kv("deep", bool_value=True)])),
        ]
    )
    attributes = [
        _kv("s", string_value="héllo"),
        _kv("empty", string_value=""),
        _kv("b", bool_value=False),
        _kv("i", int_value=-(2**63)),
        _kv("d", double_value=1.5),
        _kv("raw", bytes_value=b"\x00\xff"),
        _kv("arr", array_value=ArrayValue(values=[AnyValue(double_value=2.0), AnyValue(), AnyValue(bytes_value=b"x")])),
        _kv("kv", kvlist_value=nested),
        _kv("unset"),
        _kv("strindex", string_value_strindex=3),
        _kv("dup", int_value=1),
        _kv("dup", int_value=2),
    ]
    (decoded,) = decode_spans(_request(_span(attributes=attributes))).spans
    assert decoded.span.attributes == {
        "s": "héllo",
        "empty": "",
        "b": False,
        "i": -(2**63),
        "d": 1.5,
        "raw": b"\x00\xff",
        "arr": [2.0, None, b"x"],
        "kv": {"list": [1, "two"], "inner": {"deep": True}},
        "unset": None,
        "strindex": None,  # a profiles string-table index: meaningless in traces
        "dup": 2,
    }


def test_events_and_status_are_decoded() -> None:
    events = [
        Span.Event(name="exception", time_unix_nano=5, attributes=[_kv("exception.message", string_value="x")]),
        Span.Event(name="bare", time_unix_nano=6),
    ]
    span = _span(events=events, status=Status(code=Status.STATUS_CODE_OK, message="fine"))
    (decoded,) = decode_spans(_request(span)).spans
    assert decoded.span.events == (
        SpanEvent("exception", 5, {"exception.message": "x"}),
        SpanEvent("bare", 6, {}),
    )
    assert (decoded.span.status_code, decoded.span.status_message) == (StatusCode.OK, "fine")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"trace_id": b""}, "trace_id must be 16 bytes, got 0"),
        ({"trace_id": TRACE_ID[:8]}, "trace_id must be 16 bytes, got 8"),
        ({"trace_id": bytes(16)}, "trace_id must not be all zero"),
        ({"span_id": b""}, "span_id must be 8 bytes, got 0"),
        ({"span_id": TRACE_ID}, "span_id must be 8 bytes, got 16"),
        ({"span_id": bytes(8)}, "span_id must not be all zero"),
        ({"parent_span_id": b"\x01\x02"}, "parent_span_id must be empty or 8 bytes, got 2"),
        ({"start_time_unix_nano": MAX_INT64 + 1}, "start_time_unix_nano 9223372036854775808 does not fit"),
        ({"end_time_unix_nano": 2**64 - 1}, "end_time_unix_nano 18446744073709551615 does not fit"),
    ],
)
def test_invalid_span_is_rejected_with_its_path_and_reason(fields: dict[str, Any], reason: str) -> None:
    good = _span(name="good")
    bad_scope = ScopeSpans(spans=[good, good, good, good, _span(**fields)])
    request = _request(good)
    request.resource_spans[0].scope_spans.append(bad_scope)
    result = decode_spans(request)
    assert [s.span.name for s in result.spans] == ["good"] * 5
    (rejection,) = result.rejected
    assert rejection.path == "resourceSpans[0].scopeSpans[1].spans[4]"
    assert rejection.reason.startswith(reason)
    assert rejection.message == f"span resourceSpans[0].scopeSpans[1].spans[4]: {rejection.reason}"


def test_edge_values_that_are_not_rejections() -> None:
    spans = [
        _span(name="backwards", start_time_unix_nano=20, end_time_unix_nano=10),  # latency becomes unknown later
        _span(name="max", start_time_unix_nano=MAX_INT64, end_time_unix_nano=MAX_INT64),
        _span(name="zero-parent", parent_span_id=bytes(8)),
        _span(name="child", parent_span_id=PARENT_ID),
        _span(name="no-times"),
    ]
    result = decode_spans(_request(*spans))
    assert result.rejected == []
    backwards, top, zero_parent, child, no_times = result.spans
    assert (backwards.span.start_time_unix_nano, backwards.span.end_time_unix_nano) == (20, 10)
    assert top.span.end_time_unix_nano == MAX_INT64
    assert zero_parent.parent_span_id is None
    assert child.parent_span_id == PARENT_ID.hex()
    assert (no_times.span.start_time_unix_nano, no_times.span.end_time_unix_nano) == (0, 0)


def test_empty_request_decodes_to_nothing() -> None:
    assert decode_spans(ExportTraceServiceRequest()) == DecodeResult(spans=[], rejected=[])
    assert decode_spans(ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans()])])) == (
        DecodeResult(spans=[], rejected=[])
    )


def test_resource_is_decoded_once_per_resource_spans_and_scope_name_may_be_absent() -> None:
    request = _request(_span(), _span(span_id=PARENT_ID), resource=[_kv("service.name", string_value="a")], scope="")
    request.resource_spans.append(ResourceSpans(resource={"attributes": [_kv("service.name", string_value="b")]}))
    request.resource_spans[1].scope_spans.add().spans.append(_span())
    first, second, third = decode_spans(request).spans
    assert first.resource is second.resource
    assert (first.resource, third.resource) == ({"service.name": "a"}, {"service.name": "b"})
    assert first.scope_name is None


def test_ids_are_lowercase_hex() -> None:
    (decoded,) = decode_spans(_request(_span(parent_span_id=PARENT_ID))).spans
    assert (decoded.trace_id, decoded.span_id, decoded.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )


# --- protobuf and JSON agree -------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=20)
_scalars = st.none() | st.booleans() | _text | st.binary(max_size=8) | st.integers(-(2**63), MAX_INT64)
_scalars |= st.floats(allow_nan=False)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
    max_leaves=8,
)
_attributes = st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=5)
_span_specs = st.lists(
    st.tuples(
        _text, _attributes, st.lists(st.tuples(_text, _attributes), max_size=2), st.sampled_from(list(SdkStatusCode))
    ),
    min_size=1,
    max_size=4,
)


def _emit_specs(specs: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]], SdkStatusCode]]) -> Any:
    def emit(tracer: Tracer) -> None:
        with tracer.start_as_current_span("root") as root:
            for name, attributes, events, status in specs:
                link = Link(root.get_span_context(), {"k": "v"})
                with tracer.start_as_current_span(name, attributes=attributes, links=[link]) as span:
                    for event_name, event_attributes in events:
                        span.add_event(event_name, event_attributes)
                    span.set_status(SdkStatus(status, "why" if status is SdkStatusCode.ERROR else None))

    return emit


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=_span_specs, resource=_attributes, style=st.builds(JsonStyle, *[st.booleans()] * 5))
def test_protobuf_and_json_decode_to_identical_spans(
    specs: list[Any], resource: dict[str, Any], style: JsonStyle
) -> None:
    request = sdk_request(_emit_specs(specs), {"service.name": "svc", **resource})
    from_protobuf = decode_spans(parse_request(request.SerializeToString(), PROTOBUF))
    from_json = decode_spans(parse_request(json.dumps(request_json(request, style)).encode(), JSON))
    assert from_protobuf == from_json
    assert from_protobuf.rejected == []
    assert len(from_protobuf.spans) == len(specs) + 1
    for decoded, (_, attributes, _, _) in zip(from_protobuf.spans, specs, strict=False):  # root finishes last
        assert decoded.span.attributes == attributes
    assert all(isinstance(s, DecodedSpan) and len(s.trace_id) == 32 for s in from_protobuf.spans)


@pytest.mark.parametrize(("resource", "key"), [
    ([_kv("kate.agent.id", string_value="planner\nINFO forged")], "kate.agent.id"),
    ([_kv("service.name", string_value="svc\x1b[31m")], "service.name"),
    ([_kv("kate.agent.id", string_value="a\u2028b"), _kv("service.name", string_value="fine")], "kate.agent.id"),
])
def test_a_resource_whose_agent_id_is_not_printable_has_every_span_rejected(resource: list[KeyValue], key: str) -> None:
    """The rule of the Runs API's {agent_id} (kate.schema.agent_id), on every OTLP path."""
    request = _request(_span(), _span(span_id=PARENT_ID), resource=resource)
    request.resource_spans.append(_request(_span(), resource=[_kv("kate.agent.id", string_value="ok")]).resource_spans[0])
    result = decode_spans(request)
    assert [span.resource["kate.agent.id"] for span in result.spans] == ["ok"]
    assert [rejection.path for rejection in result.rejected] == [
        "resourceSpans[0].scopeSpans[0].spans[0]", "resourceSpans[0].scopeSpans[0].spans[1]"]
    reason = result.rejected[0].reason
    assert f"(resource {key})" in reason and "printable" in reason and reason.isprintable()


def test_a_long_agent_id_is_still_cut_not_rejected() -> None:
    result = decode_spans(_request(_span(), resource=[_kv("service.name", string_value="a" * 300)]))
    assert result.rejected == [] and len(result.spans) == 1
