"""map_span on OpenInference spans as openinference-instrumentation-{openai,openai-agents} emit them.

docs/mapping.md#the-three-conventions (OpenInference), #field-sources-and-precedence and #rendering-messages
(flattened `llm.*_messages.{i}` keys).
"""

from __future__ import annotations

import json

import pytest
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, StatusCode
from mapping_cases import Case, assert_maps_exactly, span

OPENAI_REQUEST = json.dumps(
    {
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "model": "gpt-4o-mini",
        "temperature": 0,
    }
)
OPENAI_RESPONSE = json.dumps(
    {
        "id": "chatcmpl-AbC123",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 24, "completion_tokens": 2, "total_tokens": 26},
    }
)
OI_OPENAI_LLM: dict[str, AttributeValue] = {
    "openinference.span.kind": "LLM",
    "llm.system": "openai",
    "llm.provider": "openai",
    "input.value": OPENAI_REQUEST,
    "input.mime_type": "application/json",
    "output.value": OPENAI_RESPONSE,
    "output.mime_type": "application/json",
    "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0}',
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "You are a terse assistant.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.content": "What is the capital of France?",
    "llm.model_name": "gpt-4o-mini-2024-07-18",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Paris.",
    "llm.token_count.prompt": 24,
    "llm.token_count.completion": 2,
    "llm.token_count.total": 26,
    "llm.token_count.prompt_details.cache_read": 0,
    "llm.token_count.prompt_details.audio": 0,
    "llm.token_count.completion_details.reasoning": 0,
}
OI_OPENAI_LLM_KEPT = {
    "openinference.span.kind",
    "llm.system",
    "llm.provider",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "llm.invocation_parameters",
    "llm.token_count.prompt_details.audio",
    "llm.token_count.completion_details.reasoning",
}

OI_OPENAI_TOOL_CALL: dict[str, AttributeValue] = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-mini-2024-07-18",
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "Weather in Paris?",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_Xy12",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Paris"}',
    "llm.token_count.prompt": 61,
    "llm.token_count.completion": 15,
    "llm.token_count.total": 76,
}

OI_AGENTS_LLM: dict[str, AttributeValue] = {
    "openinference.span.kind": "LLM",
    "llm.system": "openai",
    "llm.provider": "openai",
    "llm.model_name": "gpt-4o-2024-08-06",
    "llm.invocation_parameters": '{"model": "gpt-4o", "tool_choice": "auto"}',
    "input.value": '[{"role": "user", "content": "Write a haiku about recursion."}]',
    "input.mime_type": "application/json",
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "You are a poet.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.content": "Write a haiku about recursion.",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.contents.0.message_content.type": "text",
    "llm.output_messages.0.message.contents.0.message_content.text": "Code calls itself home",
    "llm.tools.0.tool.json_schema": '{"type": "function", "name": "search"}',
    "llm.token_count.prompt": 31,
    "llm.token_count.completion": 17,
    "llm.token_count.prompt_details.cache_read": 0,
    "llm.token_count.completion_details.reasoning": 0,
}

OI_TOOL: dict[str, AttributeValue] = {
    "openinference.span.kind": "TOOL",
    "tool.name": "get_weather",
    "input.value": '{"city":"Paris"}',
    "input.mime_type": "application/json",
    "output.value": "The weather in Paris is sunny, 22°C.",
}

OI_CHAIN: dict[str, AttributeValue] = {
    "openinference.span.kind": "CHAIN",
    "input.value": '{"question": "What is 2+2?"}',
    "input.mime_type": "application/json",
    "output.value": "4",
    "output.mime_type": "text/plain",
    "metadata": '{"ls_run_depth": 0}',
}

OI_EMBEDDING: dict[str, AttributeValue] = {
    "openinference.span.kind": "EMBEDDING",
    "llm.system": "openai",
    "embedding.model_name": "text-embedding-3-small",
    "embedding.embeddings.0.embedding.text": "hello world",
    "embedding.embeddings.0.embedding.vector": [0.0123, -0.0456, 0.0789],
    "embedding.embeddings.1.embedding.text": "goodbye",
    "embedding.embeddings.1.embedding.vector": [0.0321, 0.0654, -0.0987],
    "llm.invocation_parameters": '{"model": "text-embedding-3-small"}',
    "input.value": '{"input": ["hello world", "goodbye"], "model": "text-embedding-3-small"}',
    "input.mime_type": "application/json",
    "output.value": '{"data": [{"embedding": [0.0123, -0.0456, 0.0789], "index": 0}]}',
    "output.mime_type": "application/json",
    "llm.token_count.prompt": 4,
}


def twelve_messages() -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {"openinference.span.kind": "LLM"}
    for i in sorted(range(12), key=str):  # inserted in string order: 0, 1, 10, 11, 2, ...
        attrs[f"llm.input_messages.{i}.message.role"] = "user" if i % 2 == 0 else "assistant"
        attrs[f"llm.input_messages.{i}.message.content"] = f"m{i}"
    return attrs


TWELVE_TEXT = (
    "user: m0\nassistant: m1\nuser: m2\nassistant: m3\nuser: m4\nassistant: m5\n"
    "user: m6\nassistant: m7\nuser: m8\nassistant: m9\nuser: m10\nassistant: m11"
)

CASES = [
    pytest.param(
        Case(
            span("ChatCompletion", OI_OPENAI_LLM),
            span_kind="LLM",
            node_name="ChatCompletion",
            input_text="system: You are a terse assistant.\nuser: What is the capital of France?",
            output_text="Paris.",
            model="gpt-4o-mini-2024-07-18",
            token_count=26,
            input_tokens=24,
            output_tokens=2,
            remaining=OI_OPENAI_LLM_KEPT,
        ),
        id="openinference-openai-llm",
    ),
    pytest.param(
        Case(
            span("ChatCompletion", OI_OPENAI_TOOL_CALL),
            span_kind="LLM",
            node_name="ChatCompletion",
            input_text="user: Weather in Paris?",
            output_text='get_weather({"city": "Paris"})',
            model="gpt-4o-mini-2024-07-18",
            token_count=76,
            input_tokens=61,
            output_tokens=15,
            remaining={"openinference.span.kind", "llm.output_messages.0.message.tool_calls.0.tool_call.id"},
        ),
        id="openinference-openai-tool-call-only-output",
    ),
    pytest.param(
        Case(
            span("response", OI_AGENTS_LLM),
            span_kind="LLM",
            node_name="response",
            input_text="system: You are a poet.\nuser: Write a haiku about recursion.",
            output_text="Code calls itself home",
            model="gpt-4o-2024-08-06",
            token_count=48,
            input_tokens=31,
            output_tokens=17,
            remaining={
                "openinference.span.kind",
                "llm.system",
                "llm.provider",
                "llm.invocation_parameters",
                "input.value",
                "input.mime_type",
                "llm.tools.0.tool.json_schema",
                "llm.token_count.completion_details.reasoning",
            },
        ),
        id="openinference-agents-llm-no-total",
    ),
    pytest.param(
        Case(
            span("get_weather", OI_TOOL),
            span_kind="TOOL",
            node_name="get_weather",
            input_text='{"city":"Paris"}',
            output_text="The weather in Paris is sunny, 22°C.",
            remaining={"openinference.span.kind", "tool.name"},
        ),
        id="openinference-tool",
    ),
    pytest.param(
        Case(
            span("RunnableSequence", OI_CHAIN),
            span_kind="CHAIN",
            node_name="RunnableSequence",
            input_text='{"question": "What is 2+2?"}',
            output_text="4",
            remaining={"openinference.span.kind", "metadata"},
        ),
        id="openinference-chain",
    ),
    pytest.param(
        Case(
            span("Assistant", {"openinference.span.kind": "AGENT", "graph.node.id": "Assistant"}),
            span_kind="AGENT",
            node_name="Assistant",
            remaining={"openinference.span.kind", "graph.node.id"},
        ),
        id="openinference-agents-agent-without-io",
    ),
    pytest.param(
        Case(
            span("CreateEmbeddings", OI_EMBEDDING),
            span_kind="EMBEDDING",
            node_name="CreateEmbeddings",
            input_text="hello world\ngoodbye",
            model="text-embedding-3-small",
            token_count=4,
            input_tokens=4,
            remaining={
                "openinference.span.kind",
                "llm.system",
                "llm.invocation_parameters",
                "input.value",
                "input.mime_type",
                "output.mime_type",
            },
        ),
        id="openinference-embedding-vectors-dropped",
    ),
    pytest.param(
        Case(
            span(
                "ChatCompletion",
                {
                    "openinference.span.kind": "LLM",
                    "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0}',
                    "input.value": OPENAI_REQUEST,
                    "input.mime_type": "application/json",
                },
                status_code=StatusCode.ERROR,
                status_message="APIConnectionError: Connection error.",
            ),
            span_kind="LLM",
            node_name="ChatCompletion",
            input_text=OPENAI_REQUEST,
            model="gpt-4o-mini",
            status_message="APIConnectionError: Connection error.",
            remaining={"openinference.span.kind", "llm.invocation_parameters"},
        ),
        id="openinference-error-model-from-invocation-parameters",
    ),
    pytest.param(
        Case(
            span("ChatCompletion", twelve_messages()),
            span_kind="LLM",
            node_name="ChatCompletion",
            input_text=TWELVE_TEXT,
            remaining={"openinference.span.kind"},
        ),
        id="twelve-flattened-messages-in-numeric-order",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_realistic_spans_map_exactly(case: Case) -> None:
    assert_maps_exactly(case)


def test_flattened_messages_allow_gaps_and_nested_lists() -> None:
    attributes: dict[str, AttributeValue] = {
        "llm.input_messages.5.message.role": "user",
        "llm.input_messages.5.message.contents.10.message_content.type": "text",
        "llm.input_messages.5.message.contents.10.message_content.text": "third",
        "llm.input_messages.5.message.contents.2.message_content.type": "text",
        "llm.input_messages.5.message.contents.2.message_content.text": "second",
        "llm.input_messages.5.message.contents.0.message_content.type": "image",
        "llm.input_messages.5.message.contents.0.message_content.image.image.url": "data:image/png;base64,iVBORw0KGgo=",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Look closely.",
        "llm.input_messages.2.message.role": "assistant",
        "llm.input_messages.2.message.tool_calls.1.tool_call.function.name": "zoom",
        "llm.input_messages.2.message.tool_calls.1.tool_call.function.arguments": '{"x": 2}',
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "crop",
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": "{}",
        "llm.input_messages.3.message.role": "tool",
        "llm.input_messages.3.message.tool_call_id": "call_1",
        "llm.input_messages.3.message.content": "cropped",
        "llm.input_messages.notanindex.message.role": "user",
    }

    mapped = map_span(span("x", attributes))

    assert mapped.input_text == (
        "system: Look closely.\n"
        'assistant: crop({})\nzoom({"x": 2})\n'
        "tool: cropped\n"
        "user: [image]\nsecond\nthird"
    )
    assert set(mapped.remaining_attributes) == {
        "llm.input_messages.3.message.tool_call_id",
        "llm.input_messages.notanindex.message.role",
    }


def test_openinference_http_image_keeps_its_url() -> None:
    attributes: dict[str, AttributeValue] = {
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.contents.0.message_content.type": "text",
        "llm.input_messages.0.message.contents.0.message_content.text": "What is this?",
        "llm.input_messages.0.message.contents.1.message_content.type": "image",
        "llm.input_messages.0.message.contents.1.message_content.image.image.url": "https://example.com/cat.jpg",
    }

    assert (
        map_span(span("x", attributes)).input_text
        == "user: What is this?\n[image: https://example.com/cat.jpg]"
    )


def test_legacy_function_call_is_rendered_as_a_call() -> None:
    attributes: dict[str, AttributeValue] = {
        "openinference.span.kind": "LLM",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.function_call_name": "multiply",
        "llm.output_messages.0.message.function_call_arguments_json": '{"a": 2, "b": 3}',
    }

    mapped = map_span(span("ChatCompletion", attributes))

    assert mapped.output_text == 'multiply({"a": 2, "b": 3})'
    assert mapped.remaining_attributes == {"openinference.span.kind": "LLM"}
