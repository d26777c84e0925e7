"""map_span is total: no attribute shape, event or time makes it raise (docs/mapping.md).

Property tests over arbitrary nested attributes and events, plus adversarial values that target
the parsers: every type under `gen_ai.input.messages`, deep nesting, cycles, a 10 MB string.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kate.schema.attributes import MAX_COUNT, bytes_attribute
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, MappedFields, SpanEvent, SpanInput, SpanKind, StatusCode
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

MARKER_ALLOWANCE = 64  # cap_text may exceed the cap by its marker

KNOWN_KEYS = [
    "openinference.span.kind",
    "traceloop.span.kind",
    "gen_ai.operation.name",
    "llm.request.type",
    "gen_ai.tool.name",
    "gen_ai.tool.call.id",
    "tool.name",
    "gen_ai.agent.name",
    "agent.name",
    "traceloop.entity.name",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.observation.model.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "llm.request.model",
    "llm.response.model",
    "embedding.model_name",
    "llm.invocation_parameters",
    "llm.token_count.total",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.total_tokens",
    "llm.usage.total_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "input.value",
    "output.value",
    "input.mime_type",
    "error.type",
    "kate.run.id",
]
FLAT_PREFIXES = [
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages.",
    "llm.output_messages.",
    "embedding.embeddings.",
    "retrieval.documents.",
]
FLAT_SUFFIXES = [
    "role",
    "content",
    "message.role",
    "message.content",
    "message.contents.0.message_content.text",
    "message.contents.1.message_content.type",
    "message.contents.1.message_content.image.image.url",
    "message.tool_calls.0.tool_call.function.name",
    "message.tool_calls.0.tool_call.function.arguments",
    "tool_calls.0.name",
    "tool_calls.0.arguments",
    "embedding.text",
    "embedding.vector",
    "message",
    "",
]
MESSAGE_FIELDS = [
    "role",
    "content",
    "parts",
    "type",
    "text",
    "tool_calls",
    "function",
    "function_call",
    "name",
    "arguments",
    "response",
    "message",
    "modality",
    "uri",
    "url",
    "image_url",
    "input",
    "result",
]
PART_TYPES = ["text", "tool_call", "tool_call_response", "reasoning", "blob", "uri", "image_url", "tool_use"]
EVENT_NAMES = [
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "exception",
]
EVENT_KEYS = [
    "content",
    "message",
    "tool_calls",
    "role",
    "body",
    "gen_ai.prompt",
    "gen_ai.completion",
    "exception.message",
]

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)  # lone surrogates too
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(),
    any_text,
    st.sampled_from(PART_TYPES + ["LLM", "tool", "chat", "embeddings", "-1", "1e400", "nan", "", " "]),
    st.binary(max_size=16),
    st.just("data:image/png;base64,iVBORw0KGgo="),
)
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | any_text
    | st.sampled_from(PART_TYPES),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(MESSAGE_FIELDS) | any_text, children, max_size=4)
    ),
    max_leaves=20,
)
json_texts = json_like.map(json.dumps) | json_like.map(lambda value: json.dumps(value)[:-1])  # valid and cut
values = st.recursive(
    scalars | json_texts,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(MESSAGE_FIELDS) | any_text, children, max_size=4)
    ),
    max_leaves=25,
)
flat_keys = st.builds(
    lambda prefix, index, suffix: f"{prefix}{index}.{suffix}",
    st.sampled_from(FLAT_PREFIXES),
    st.integers(min_value=0, max_value=12).map(str) | st.sampled_from(["", "x", "٣", "²", "9" * 40]),
    st.sampled_from(FLAT_SUFFIXES) | any_text,
)
keys = st.sampled_from(KNOWN_KEYS) | flat_keys | any_text
message_lists = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "tool", "system"])},
        optional={
            "parts": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(PART_TYPES)},
                    optional={
                        "content": values,
                        "name": values,
                        "arguments": values,
                        "response": values,
                        "modality": values,
                    },
                ),
                max_size=3,
            ),
            "content": values,
            "tool_calls": values,
        },
    ),
    max_size=3,
)
plausible = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["LLM", "tool", "chat", "embeddings", "workflow", "execute_tool", "gpt-4o", "12"]),
    message_lists,
    message_lists.map(lambda value: json.dumps(value, default=repr)),
)
attributes = st.builds(
    lambda known, other: {**other, **known},
    st.dictionaries(st.sampled_from(KNOWN_KEYS) | flat_keys, plausible, max_size=8),
    st.dictionaries(keys, values, max_size=8),
)
events = st.builds(
    SpanEvent,
    name=st.sampled_from(EVENT_NAMES) | any_text,
    time_unix_nano=st.integers(),
    attributes=st.dictionaries(st.sampled_from(EVENT_KEYS + KNOWN_KEYS) | any_text, values, max_size=5),
)
spans = st.builds(
    SpanInput,
    name=any_text,
    attributes=attributes,
    start_time_unix_nano=st.integers(min_value=-(2**64), max_value=2**64),
    end_time_unix_nano=st.integers(min_value=-(2**64), max_value=2**64),
    status_code=st.sampled_from(StatusCode),
    status_message=any_text,
    events=st.lists(events, max_size=4).map(tuple),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span=spans, max_text_bytes=st.integers(min_value=1, max_value=DEFAULT_MAX_TEXT_BYTES))
def test_map_span_never_raises_and_keeps_its_invariants(span: SpanInput, max_text_bytes: int) -> None:
    mapped = map_span(span, max_text_bytes=max_text_bytes)

    assert_invariants(span, mapped, max_text_bytes)
    assert map_span(span, max_text_bytes=max_text_bytes) == mapped  # pure: same input, same fields


def assert_invariants(span: SpanInput, mapped: MappedFields, max_text_bytes: int) -> None:
    assert mapped.span_kind in {kind.value for kind in SpanKind}
    assert isinstance(mapped.node_name, str)
    for text in (mapped.input_text, mapped.output_text, mapped.status_message):
        assert text is None or len(text.encode("utf-8")) <= max_text_bytes + MARKER_ALLOWANCE
    for count in (mapped.token_count, mapped.input_tokens, mapped.output_tokens):
        assert count is None or (type(count) is int and 0 <= count <= MAX_COUNT)
    assert mapped.latency_ms is None or (mapped.latency_ms >= 0 and math.isfinite(mapped.latency_ms))
    assert mapped.model is None or isinstance(mapped.model, str)
    if mapped.span_kind == SpanKind.EMBEDDING.value:
        assert mapped.output_text is None
    for key, value in mapped.remaining_attributes.items():
        original = span.attributes[key]
        if isinstance(original, bytes | bytearray | memoryview):  # kept as marked base64 (docs/mapping.md)
            assert value == bytes_attribute(original, max_text_bytes)
        else:
            assert value is original
        assert not isinstance(value, bytes | bytearray)


def deep_list(depth: int) -> list[object]:
    root: list[object] = []
    node = root
    for _ in range(depth):
        child: list[object] = []
        node.append(child)
        node = child
    return root


def cyclic_message() -> dict[str, object]:
    message: dict[str, object] = {"role": "user"}
    message["content"] = message
    message["parts"] = [message]
    return message


EVERY_TYPE: list[object] = [
    None,
    True,
    0,
    -1,
    2**200,
    1.5,
    float("nan"),
    float("-inf"),
    "",
    " ",
    "[",
    "{}",
    "[[[[",
    '"just a string"',
    "[1, 2, 3]",
    '[{"role": 5, "parts": "no"}]',
    '[{"role": "user", "parts": [{"type": "tool_call", "arguments": {"a": [1e999]}}]}]',
    "\ud800\udfff\ud800",
    "data:image/png;base64,iVBORw0KGgo=",
    b"\x00\xff",
    bytearray(b"abc"),
    [],
    {},
    [None],
    [[]],
    [{}],
    [b"bytes in a list"],
    {"role": 1, "content": {"nested": {"deeper": [1, 2]}}},
    [{"role": "user", "content": [{"type": "image_url", "image_url": None}]}],
    [{"role": "user", "content": [1, None, {"type": 3}]}],
    [{"tool_calls": "not json"}, {"tool_calls": [1, {"function": "x"}]}],
    [{(1, 2): "tuple key"}],
    [{"content": 2**20000}],
    deep_list(100_000),
    "[" * 100_000 + "]" * 100_000,
    cyclic_message(),
    [cyclic_message()],
]


@pytest.mark.parametrize("value", EVERY_TYPE, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "llm.invocation_parameters",
        "input.value",
        "traceloop.entity.output",
        "gen_ai.usage.input_tokens",
        "llm.input_messages.0.message.content",
        "gen_ai.completion.0.tool_calls.0.arguments",
    ],
)
def test_adversarial_values_under_parsed_keys(key: str, value: AttributeValue) -> None:
    span = SpanInput(
        name="chat",
        attributes={"gen_ai.operation.name": "chat", key: value},
        events=(
            SpanEvent("gen_ai.choice", 1, {"message": value}),
            SpanEvent("gen_ai.content.prompt", 2, {"gen_ai.prompt": value}),
        ),
    )

    assert_invariants(span, map_span(span), DEFAULT_MAX_TEXT_BYTES)


def test_ten_megabyte_texts_are_capped() -> None:
    huge = "x" * (10 * 1024 * 1024)
    span = SpanInput(
        name="chat",
        attributes={
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": huge}]),
            "output.value": huge,
            "gen_ai.response.model": huge,
        },
    )

    mapped = map_span(span)

    assert (
        mapped.input_text
        == "user: "
        + "x" * (DEFAULT_MAX_TEXT_BYTES - 6)
        + f"…[truncated {len(huge) + 6 - DEFAULT_MAX_TEXT_BYTES} bytes]"
    )
    assert (
        mapped.output_text
        == "x" * DEFAULT_MAX_TEXT_BYTES + f"…[truncated {len(huge) - DEFAULT_MAX_TEXT_BYTES} bytes]"
    )
    assert mapped.truncated is True


def test_non_string_keys_and_odd_times_do_not_raise() -> None:
    attributes: dict[str, AttributeValue] = {"openinference.span.kind": "LLM"}
    attributes.update({1: "int key", None: "none key"})  # type: ignore[dict-item]
    span = SpanInput(name="x", attributes=attributes, start_time_unix_nano=True, end_time_unix_nano=2**100)  # type: ignore[arg-type]

    mapped = map_span(span)

    assert (mapped.span_kind, mapped.latency_ms) == ("LLM", None)
    assert set(mapped.remaining_attributes) == {"openinference.span.kind", 1, None}

