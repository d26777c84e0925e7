"""The shared key layout (docs/mapping.md#how-the-mapping-is-fast).

map_span shares what a span's keys decide among the spans with the same keys. The reference path
(reference=True) works it out afresh for every span. They must agree on every span, also when the
shared layout was first built for a span with the same keys and other values; and the shared
layouts stay within their bounds. repr compares: a NaN attribute is kept, and NaN != NaN.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kate.schema.attributes import KeyLayout
from kate.schema.mapping import map_span
from kate.schema.record import SpanInput
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES
from test_mapping_properties import plausible, spans, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span=spans, data=st.data(), max_text_bytes=st.integers(min_value=1, max_value=DEFAULT_MAX_TEXT_BYTES))
def test_a_shared_key_layout_maps_as_a_fresh_one(span: SpanInput, data: st.DataObject, max_text_bytes: int) -> None:
    other_values = data.draw(st.lists(plausible | values, min_size=len(span.attributes), max_size=len(span.attributes)))
    same_keys = span._replace(attributes=dict(zip(span.attributes, other_values, strict=True)))

    for mapped in (span, same_keys):  # the first builds the shared layout, the second reuses it
        shared = map_span(mapped, max_text_bytes=max_text_bytes)
        reference = map_span(mapped, max_text_bytes=max_text_bytes, reference=True)
        assert repr(shared) == repr(reference)


def test_a_shared_layout_is_not_led_by_the_values_it_first_saw() -> None:
    """Same keys: first a blank model and no messages, then both; the second span must find them."""
    keys = ("gen_ai.response.model", "llm.model_name", "llm.input_messages.0.message.content", "llm.token_count.prompt")
    blank = SpanInput("call", dict(zip(keys, ["  ", "", None, "x"], strict=True)))
    full = SpanInput("call", dict(zip(keys, ["gpt-4o", "ignored", "hello", 12], strict=True)))

    first, second = map_span(blank), map_span(full)

    assert (first.model, first.input_text, first.input_tokens) == (None, None, None)
    assert (second.model, second.input_text, second.input_tokens) == ("gpt-4o", "hello", 12)


def test_layouts_are_shared_within_bounds() -> None:
    """Same keys, same layout; a span with very many keys, or many more key tuples than the
    bound, never makes the shared layouts grow without end (docs/mapping.md#how-the-mapping-is-fast)."""
    usual = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 3}
    huge = {f"custom.key.{index}": index for index in range(1000)}
    assert KeyLayout.of(usual) is KeyLayout.of(dict(usual))
    assert KeyLayout.of(huge) is not KeyLayout.of(dict(huge))

    first = {"only.seen.once": 1}
    kept = KeyLayout.of(first)
    for index in range(1100):  # more distinct key tuples than are kept
        KeyLayout.of({f"key.{index}": index})

    assert KeyLayout.of(first) is not kept  # the oldest went
    assert map_span(SpanInput("call", huge)).remaining_attributes == huge
