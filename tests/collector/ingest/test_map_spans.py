"""Decoded OTLP spans to SpanRecords: agent and run linkage (docs/mapping.md#agents-and-runs) and the JSON columns,
which must always be valid JSON the API can serve back (no NaN, no raw bytes)."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kate.collector.ingest.decode_spans import DecodedSpan, decode_spans
from kate.collector.ingest.map_spans import to_records
from kate.collector.ingest.wire import PROTOBUF, parse_request
from kate.schema.record import AttributeValue, SpanEvent, SpanInput, StatusCode

from bench.workload import TraceFactory, otlp_request

TRACE_ID = "5b8efff798038103d269b633813fc60c"
RUN_UUID = "0190f2c4-7b1e-7c3a-9d2e-4f5a6b7c8d9e"


def decoded(
    attributes: dict[str, AttributeValue] | None = None,
    resource: dict[str, AttributeValue] | None = None,
    *,
    span_id: str = "eee19b7ec3c1b174",
    events: tuple[SpanEvent, ...] = (),
) -> DecodedSpan:
    span = SpanInput("step", attributes or {}, 1_000_000, 3_000_000, StatusCode.OK, "", events)
    return DecodedSpan(TRACE_ID, span_id, None, span, resource if resource is not None else {}, "scope")


def record_for(attributes: dict[str, AttributeValue] | None = None,
               resource: dict[str, AttributeValue] | None = None) -> Any:
    (record,) = to_records([decoded(attributes, resource)], max_text_bytes=1024)
    return record


@pytest.mark.parametrize(("resource", "agent_id"), [
    ({"kate.agent.id": "planner", "service.name": "svc"}, "planner"),
    ({"kate.agent.id": "  ", "service.name": " svc "}, "svc"),
    ({"service.name": "svc"}, "svc"),
    ({"kate.agent.id": 7}, "unknown_service"),
    ({}, "unknown_service"),
    ({"kate.agent.id": "a" * 300}, "a" * 256),
])
def test_agent_id_from_the_resource(resource: dict[str, AttributeValue], agent_id: str) -> None:
    assert record_for(resource=resource).agent_id == agent_id


@pytest.mark.parametrize(("attributes", "resource", "run_id"), [
    ({"kate.run.id": RUN_UUID}, {"kate.run.id": "from-resource"}, RUN_UUID),  # the span's own wins
    ({}, {"kate.run.id": RUN_UUID}, RUN_UUID),
    ({"kate.run.id": RUN_UUID.upper()}, {}, RUN_UUID),  # a UUID is canonicalised
    ({"kate.run.id": RUN_UUID.replace("-", "")}, {}, RUN_UUID),
    ({"kate.run.id": "{" + RUN_UUID + "}"}, {}, RUN_UUID),
    ({"kate.run.id": "  nightly-42  "}, {}, "nightly-42"),  # anything else as given, stripped
    ({"kate.run.id": "r" * 200}, {}, "r" * 128),
    ({"kate.run.id": 42}, {}, "42"),
    ({"kate.run.id": " "}, {"kate.run.id": ["not", "text"]}, str(uuid.UUID(hex=TRACE_ID))),  # the trace's UUID
    ({}, {}, str(uuid.UUID(hex=TRACE_ID))),
])
def test_run_id_linkage(
    attributes: dict[str, AttributeValue], resource: dict[str, AttributeValue], run_id: str
) -> None:
    assert record_for(attributes, resource).run_id == run_id


def test_json_columns_and_passthrough_fields() -> None:
    event = SpanEvent("exception", 2_000_000, {"exception.message": "boom", "payload": b"\x00\x01"})
    span = decoded({"llm.model_name": "m", "custom": {"nested": [b"\xff", math.nan]}, "ratio": math.inf},
                   {"service.name": "svc", "host.arch": b"x86"}, events=(event,))
    (record,) = to_records([span], max_text_bytes=1024)
    assert json.loads(record.attributes) == {"custom": {"nested": ["/w==", "NaN"]}, "ratio": "Infinity"}
    assert json.loads(record.resource) == {"service.name": "svc", "host.arch": "eDg2"}
    assert json.loads(record.events) == [{"name": "exception", "time_unix_nano": 2_000_000,
                                          "attributes": {"exception.message": "boom", "payload": "AAE="}}]
    assert (record.model, record.latency_ms, record.status_code, record.scope_name) == ("m", 2.0, "OK", "scope")
    assert (record.trace_id, record.span_id, record.parent_span_id) == (TRACE_ID, "eee19b7ec3c1b174", None)


def test_resource_work_is_shared_by_the_spans_of_one_resource() -> None:
    resource: dict[str, AttributeValue] = {"kate.agent.id": "a"}
    records = to_records([decoded(resource=resource, span_id=f"{i:016x}") for i in range(1, 4)], max_text_bytes=64)
    assert len({id(record.resource) for record in records}) == 1


def test_zero_times_are_unknown() -> None:
    span = DecodedSpan(TRACE_ID, "eee19b7ec3c1b174", None, SpanInput("s", {}), {}, None)
    (record,) = to_records([span], max_text_bytes=64)
    assert (record.start_time_unix_nano, record.end_time_unix_nano, record.latency_ms) == (None, None, None)
    assert (record.events, record.attributes, record.resource) == ("[]", "{}", "{}")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64), st.floats(),
                     st.text(max_size=20), st.binary(max_size=8))
_values = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)), max_leaves=12)
_attributes = st.dictionaries(st.one_of(st.sampled_from(["kate.run.id", "kate.agent.id", "service.name",
                                                         "llm.model_name", "input.value"]), st.text(max_size=10)),
                              _values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(attributes=_attributes, resource=_attributes, event_attributes=_attributes)
def test_any_attribute_shape_becomes_a_record_with_strict_json(
    attributes: dict[str, AttributeValue],
    resource: dict[str, AttributeValue],
    event_attributes: dict[str, AttributeValue],
) -> None:
    span = decoded(attributes, resource, events=(SpanEvent("e", 1, event_attributes),))
    (record,) = to_records([span], max_text_bytes=256)
    for column in (record.attributes, record.resource, record.events):
        json.dumps(json.loads(column), allow_nan=False)  # what the API will serve back
    assert record.run_id and record.agent_id and len(record.run_id) <= 128


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_real_shaped_requests_map_the_same_through_shared_and_fresh_key_layouts(seed: int) -> None:
    """The bench's agent runs (OpenInference and OTel GenAI spans, failed tools with exception
    events) through the protobuf decoder: the default path and the reference path agree."""
    factory = TraceFactory(seed)
    spans = decode_spans(parse_request(otlp_request(factory.run() + factory.run(), "agent-1"), PROTOBUF)).spans

    shared = to_records(spans, max_text_bytes=4096)
    reference = to_records(spans, max_text_bytes=4096, reference=True)

    assert len(shared) == 128
    assert repr(shared) == repr(reference)
