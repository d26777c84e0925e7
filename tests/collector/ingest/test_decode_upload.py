"""parse_upload is total over arbitrary JSON: it returns records or raises a KateError (422/413),
never anything else, and what it returns can be stored (ids, times and counts in range, text
that encodes as UTF-8)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kate.collector.errors import KateError, ValidationError
from kate.collector.ingest.decode_upload import UploadTarget, parse_upload

TARGET = UploadTarget("agent", "0190a8a0-0000-7000-8000-000000000001", max_text_bytes=256, max_spans=20)
MAX_NS = 2**63 - 1

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
FIELDS = ["node_name", "span_kind", "status", "attributes", "resource", "scope_name", "events", "latency_ms",
          "start_time", "end_time", "trace_id", "span_id", "parent_span_id", "input_text", "output_text", "model",
          "status_message", "token_count", "input_tokens", "output_tokens"]
plausible = {
    "node_name": st.text(max_size=10), "span_kind": st.sampled_from(["LLM", "tool", "nope", ""]),
    "latency_ms": st.floats() | st.integers(min_value=-10, max_value=2**70),
    "start_time": st.sampled_from(["2026-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z", "1970-01-01T00:00:00Z",
                                   "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "nope", "2026-13-01T00:00:00Z"]),
    "end_time": st.sampled_from(["2026-01-01T00:00:01Z", "2262-04-11T23:47:16.854775808Z", "x"]),
    "trace_id": st.text(alphabet="0123456789abcdefX", min_size=30, max_size=34),
    "span_id": st.text(alphabet="0123456789abcdef", min_size=15, max_size=17),
    "token_count": st.integers(min_value=-1, max_value=2**64),
    "events": st.lists(st.dictionaries(st.sampled_from(["name", "time", "attributes"]), json_values), max_size=3),
}
span_objects = st.fixed_dictionaries({}, optional={name: plausible.get(name, json_values) | json_values
                                                   for name in FIELDS})
bodies = json_values | st.fixed_dictionaries({"spans": st.lists(span_objects | json_values, max_size=25)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
@example({"spans": [{"node_name": "n", "latency_ms": 1e308}]})  # found by schemathesis: 1e308 ms is inf ns
def test_any_json_body_gives_records_or_a_kate_error(body: Any) -> None:
    try:
        records = parse_upload(body, TARGET)
    except KateError as error:
        assert error.status in (413, 422)
        return
    for record in records:
        assert len(record.trace_id) == 32 and len(record.span_id) == 16
        assert 0 <= record.start_time_unix_nano <= MAX_NS
        assert record.end_time_unix_nano is None or 0 <= record.end_time_unix_nano <= MAX_NS
        for count in (record.token_count, record.input_tokens, record.output_tokens):
            assert count is None or 0 <= count <= MAX_NS
        for text in (record.node_name, record.input_text, record.output_text, record.attributes, record.events):
            if text is not None:
                text.encode("utf-8")


def test_a_span_past_the_fiftieth_problem_is_still_refused_not_built() -> None:
    """Found by the property above: with 50 problems reported already, a later span whose
    latency overflows was built anyway (and raised OverflowError) as its problem went uncounted."""
    bad = [{"span_id": "x"} for _ in range(50)]
    overflowing = {"span_id": "00f067aa0ba902b7", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                   "latency_ms": 1e303}
    with pytest.raises(ValidationError) as refused:
        parse_upload({"spans": [*bad, overflowing]}, UploadTarget(TARGET.agent_id, TARGET.run_id, 256, 100))
    assert len(refused.value.details) == 50
