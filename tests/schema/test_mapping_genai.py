"""map_span on OTel GenAI spans: latest `gen_ai.*.messages` attributes and the older span events.

docs/mapping.md#the-three-conventions (OTel GenAI, three homes of content), #field-sources-and-precedence and #rendering-messages.
"""

from __future__ import annotations

import json

import pytest
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue
from mapping_cases import Case, assert_maps_exactly, event, span

GENAI_INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
        ],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny, 22°C"}]},
]
GENAI_INPUT_TEXT = (
    "system: You are a weather bot.\n"
    "user: Weather in Paris?\n"
    'assistant: get_weather({"city": "Paris"})\n'
    "tool: sunny, 22°C"
)
GENAI_OUTPUT = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": "It is sunny in Paris."}],
        "finish_reason": "stop",
    }
]
GENAI_LATEST: dict[str, AttributeValue] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-9zZ",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 120,
    "gen_ai.usage.output_tokens": 18,
    "server.address": "api.openai.com",
    "gen_ai.system_instructions": '[{"type": "text", "content": "You are a weather bot."}]',
    "gen_ai.input.messages": json.dumps(GENAI_INPUT),
    "gen_ai.output.messages": json.dumps(GENAI_OUTPUT),
}
GENAI_LATEST_KEPT = {
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "server.address",
}
GENAI_EVENTS_ATTRS: dict[str, AttributeValue] = {
    "gen_ai.system": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 20,
    "gen_ai.usage.output_tokens": 5,
}
GENAI_EVENTS = (
    event("gen_ai.system.message", **{"gen_ai.system": "openai", "content": "You greet people"}),
    event("gen_ai.user.message", **{"gen_ai.system": "openai", "content": "Say hi"}),
    event(
        "gen_ai.choice",
        **{
            "gen_ai.system": "openai",
            "index": 0,
            "finish_reason": "stop",
            "message": '{"role": "assistant", "content": "Hi!"}',
        },
    ),
)

CASES = [
    pytest.param(
        Case(
            span("chat gpt-4o", GENAI_LATEST),
            span_kind="LLM",
            node_name="chat gpt-4o",
            input_text=GENAI_INPUT_TEXT,
            output_text="It is sunny in Paris.",
            model="gpt-4o-2024-08-06",
            token_count=138,
            input_tokens=120,
            output_tokens=18,
            remaining=GENAI_LATEST_KEPT,
        ),
        id="genai-latest-json",
    ),
    pytest.param(
        Case(
            span(
                "chat gpt-4o",
                {
                    **GENAI_LATEST,
                    "gen_ai.input.messages": GENAI_INPUT,
                    "gen_ai.system_instructions": [{"type": "text", "content": "You are a weather bot."}],
                    "gen_ai.output.messages": GENAI_OUTPUT,
                },
            ),
            span_kind="LLM",
            node_name="chat gpt-4o",
            input_text=GENAI_INPUT_TEXT,
            output_text="It is sunny in Paris.",
            model="gpt-4o-2024-08-06",
            token_count=138,
            input_tokens=120,
            output_tokens=18,
            remaining=GENAI_LATEST_KEPT,
        ),
        id="genai-latest-structured-values",
    ),
    pytest.param(
        Case(
            span("chat gpt-4o-mini", GENAI_EVENTS_ATTRS, *GENAI_EVENTS),
            span_kind="LLM",
            node_name="chat gpt-4o-mini",
            input_text="system: You greet people\nuser: Say hi",
            output_text="Hi!",
            model="gpt-4o-mini-2024-07-18",
            token_count=25,
            input_tokens=20,
            output_tokens=5,
            remaining={"gen_ai.system", "gen_ai.operation.name", "gen_ai.request.model"},
        ),
        id="genai-older-message-events",
    ),
    pytest.param(
        Case(
            span(
                "crewai.llm",
                {"gen_ai.system": "aws.bedrock", "gen_ai.request.model": "amazon.nova-pro-v1:0"},
                event("gen_ai.content.prompt", **{"gen_ai.prompt": "user: What is trigonometry?"}),
                event("gen_ai.content.completion", **{"gen_ai.completion": "Thought: I should search."}),
            ),
            span_kind="LLM",
            node_name="crewai.llm",
            input_text="user: What is trigonometry?",
            output_text="Thought: I should search.",
            model="amazon.nova-pro-v1:0",
            remaining={"gen_ai.system"},
        ),
        id="genai-content-prompt-events",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_realistic_spans_map_exactly(case: Case) -> None:
    assert_maps_exactly(case)


def test_genai_parts_blob_uri_reasoning_and_unknown() -> None:
    messages = [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Compare"},
                {
                    "type": "blob",
                    "modality": "image",
                    "mime_type": "image/png",
                    "content": "iVBORw0KGgoAAAANSUhEUg==",
                },
                {"type": "uri", "modality": "image", "uri": "https://example.com/b.png"},
                {"type": "file", "file_id": "file-1"},
                {"type": "server_tool_call", "name": "web"},
            ],
        }
    ]
    output = [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Both are cats."},
                {"type": "text", "content": "Same."},
            ],
        }
    ]
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.output.messages": json.dumps(output),
    }

    mapped = map_span(span("chat", attributes))

    assert (
        mapped.input_text
        == "user: Compare\n[image]\n[image: https://example.com/b.png]\n[file]\n[server_tool_call]"
    )
    assert mapped.output_text == "[reasoning] Both are cats.\nSame."


def test_genai_tool_call_only_output_and_several_choices() -> None:
    tool_call = [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": '{"city": "Rome"}'}
            ],
            "finish_reason": "tool_call",
        }
    ]
    two_choices = [
        {"role": "assistant", "parts": [{"type": "text", "content": "A"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "B"}]},
    ]

    assert map_span(span("chat", {"gen_ai.output.messages": json.dumps(tool_call)})).output_text == (
        'get_weather({"city": "Rome"})'
    )
    assert (
        map_span(span("chat", {"gen_ai.output.messages": two_choices})).output_text
        == "assistant: A\nassistant: B"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ('[{"role": "user", "content": "hi"', '[{"role": "user", "content": "hi"'),
        ("plain prompt text", "plain prompt text"),
        ({"role": "user", "parts": [{"type": "text", "content": "kv"}]}, "user: kv"),
        (['{"role": "user", "content": "a"}', '{"role": "user", "content": "b"}'], "user: a\nuser: b"),
        ([{"role": "user", "content": [{"type": "text", "text": "openai-style"}]}], "user: openai-style"),
        (7, "7"),
        (b"\x89PNG", None),
        (None, None),
        ("", None),
        ("[]", None),
    ],
)
def test_genai_input_messages_accepts_any_shape(value: AttributeValue, text: str | None) -> None:
    mapped = map_span(span("chat", {"gen_ai.operation.name": "chat", "gen_ai.input.messages": value}))

    assert mapped.input_text == text


def test_a_blob_source_counts_as_absent_and_the_chain_goes_on() -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.input.messages": b"\x89PNG",
        "traceloop.entity.input": "data:image/png;base64,iVBORw0KGgo=",
        "input.value": "the question",
    }

    mapped = map_span(span("x", attributes))

    assert mapped.input_text == "the question"
    # The data URL is dropped; the bytes stay queryable, marked (docs/mapping.md#size-truncation-and-blobs).
    assert mapped.remaining_attributes == {"gen_ai.input.messages": {"bytes_base64": "iVBORw==", "size": 4}}


def test_operation_details_event_carries_the_latest_payload() -> None:
    details = event(
        "gen_ai.client.inference.operation.details",
        **{
            "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]',
            "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", "content": "Hello"}]}]',
        },
    )

    mapped = map_span(span("chat gpt-4o", {"gen_ai.operation.name": "chat"}, details))

    assert (mapped.input_text, mapped.output_text) == ("user: Hi", "Hello")


def test_message_events_with_tool_calls_and_tool_results() -> None:
    events = (
        event("gen_ai.user.message", content="Weather in Paris?"),
        event(
            "gen_ai.assistant.message",
            tool_calls='[{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]',
        ),
        event("gen_ai.tool.message", id="c1", content="sunny"),
        event(
            "gen_ai.choice",
            index=0,
            finish_reason="tool_calls",
            message={
                "role": "assistant",
                "tool_calls": [{"function": {"name": "book", "arguments": '{"d": 1}'}}],
            },
        ),
    )

    mapped = map_span(span("chat", {"gen_ai.operation.name": "chat"}, *events))

    assert mapped.input_text == "user: Weather in Paris?\nassistant: get_weather({})\ntool: sunny"
    assert mapped.output_text == 'book({"d": 1})'


def test_content_prompt_event_with_json_messages() -> None:
    prompt = event("gen_ai.content.prompt", **{"gen_ai.prompt": '[{"role": "user", "content": "hello"}]'})
    completion = event(
        "gen_ai.content.completion", **{"gen_ai.completion": '[{"role": "assistant", "content": "hi"}]'}
    )

    mapped = map_span(span("llm", {}, prompt, completion))

    assert (mapped.input_text, mapped.output_text) == ("user: hello", "hi")


def test_genai_execute_tool_span_uses_call_arguments_and_result() -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.arguments": '{"city": "Paris"}',
        "gen_ai.tool.call.result": {"temp_c": 22},
    }

    mapped = map_span(span("execute_tool get_weather", attributes))

    assert (mapped.span_kind, mapped.node_name) == ("TOOL", "get_weather")
    assert (mapped.input_text, mapped.output_text) == ('{"city": "Paris"}', '{"temp_c": 22}')
    assert set(mapped.remaining_attributes) == {
        "gen_ai.operation.name",
        "gen_ai.tool.name",
        "gen_ai.tool.call.id",
    }


def test_structured_messages_beat_input_value_and_langfuse_beats_all() -> None:
    attributes: dict[str, AttributeValue] = {
        "langfuse.observation.input": "explicit input",
        "gen_ai.input.messages": '[{"role": "user", "content": "from messages"}]',
        "input.value": "generic",
    }

    assert map_span(span("x", attributes)).input_text == "explicit input"
    del attributes["langfuse.observation.input"]
    assert map_span(span("x", attributes)).input_text == "user: from messages"


def test_embedding_spans_have_no_output_text() -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "text-embedding-3-small",
        "output.value": "[[0.1, 0.2]]",
        "gen_ai.output.messages": "[]",
    }

    mapped = map_span(span("embeddings text-embedding-3-small", attributes))

    assert (mapped.span_kind, mapped.output_text) == ("EMBEDDING", None)
    assert "output.value" not in mapped.remaining_attributes


def test_untyped_gemini_parts_never_leak_base64() -> None:
    messages = [
        {
            "role": "user",
            "parts": [
                {"text": "What is in these?"},
                {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}},
                {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://bucket/clip.mp4"}},
            ],
        }
    ]

    mapped = map_span(span("generate_content gemini-2.0-flash", {"gen_ai.input.messages": messages}))

    assert mapped.input_text == "user: What is in these?\n[image]\n[video: gs://bucket/clip.mp4]"


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ('{"role": "assistant", "content": "json object"}', "json object"),
        ({"role": "assistant", "content": "kvlist"}, "kvlist"),
        ("plain text answer", "plain text answer"),
        (
            '[{"text": "content list"}, {"toolUse": {"name": "x"}}]',
            'content list\n{"toolUse": {"name": "x"}}',
        ),
    ],
)
def test_choice_event_message_shapes(message: AttributeValue, text: str) -> None:
    choice = event("gen_ai.choice", index=0, finish_reason="stop", message=message)

    assert map_span(span("chat", {"gen_ai.operation.name": "chat"}, choice)).output_text == text
