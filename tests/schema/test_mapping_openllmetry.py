"""map_span on OpenLLMetry / Traceloop spans: old flattened style, 0.62.4 style and decorator spans.

docs/mapping.md#the-three-conventions (OpenLLMetry / Traceloop), #field-sources-and-precedence (inherited agent names) and #span-kind.
"""

from __future__ import annotations

import json

import pytest
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, StatusCode
from mapping_cases import Case, assert_maps_exactly, event, span

OPENLLMETRY_OLD: dict[str, AttributeValue] = {
    "llm.request.type": "chat",
    "gen_ai.system": "OpenAI",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "llm.is_streaming": False,
    "gen_ai.openai.api_base": "https://api.openai.com/v1/",
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": "You are a weather bot.",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": "Weather in Paris?",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Sunny, 22°C.",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 30,
    "gen_ai.usage.completion_tokens": 9,
    "llm.usage.total_tokens": 39,
    "traceloop.workflow.name": "weather_workflow",
    "traceloop.entity.path": "weather_workflow.fetch",
}
OPENLLMETRY_OLD_KEPT = {
    "llm.request.type",
    "gen_ai.system",
    "gen_ai.request.model",
    "llm.is_streaming",
    "gen_ai.openai.api_base",
    "gen_ai.completion.0.finish_reason",
    "traceloop.workflow.name",
    "traceloop.entity.path",
}
OPENLLMETRY_TOOL_CALLS: dict[str, AttributeValue] = {
    "llm.request.type": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Weather in Paris?",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.finish_reason": "tool_calls",
    "gen_ai.completion.0.tool_calls.0.id": "call_abc",
    "gen_ai.completion.0.tool_calls.0.name": "get_weather",
    "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
}
OPENLLMETRY_NEW: dict[str, AttributeValue] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]',
    "gen_ai.output.messages": (
        '[{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"}]'
    ),
    "gen_ai.usage.input_tokens": 30,
    "gen_ai.usage.output_tokens": 9,
    "gen_ai.usage.total_tokens": 39,
    "gen_ai.usage.cache_read.input_tokens": 16,
    "llm.is_streaming": False,
    "traceloop.workflow.name": "weather_workflow",
    "gen_ai.agent.name": "weather_agent",
}
OPENLLMETRY_NEW_KEPT = {
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "llm.is_streaming",
    "traceloop.workflow.name",
    "gen_ai.agent.name",
}


def decorator(kind: str, entity: str, **extra: AttributeValue) -> dict[str, AttributeValue]:
    return {
        "traceloop.span.kind": kind,
        "traceloop.entity.name": entity,
        "traceloop.workflow.name": "weather_workflow",
        "traceloop.entity.path": "",
        **extra,
    }


CASES = [
    pytest.param(
        Case(
            span("openai.chat", OPENLLMETRY_OLD),
            span_kind="LLM",
            node_name="openai.chat",
            input_text="system: You are a weather bot.\nuser: Weather in Paris?",
            output_text="Sunny, 22°C.",
            model="gpt-4o-mini-2024-07-18",
            token_count=39,
            input_tokens=30,
            output_tokens=9,
            remaining=OPENLLMETRY_OLD_KEPT,
        ),
        id="openllmetry-old-flattened",
    ),
    pytest.param(
        Case(
            span("openai.chat", OPENLLMETRY_TOOL_CALLS),
            span_kind="LLM",
            node_name="openai.chat",
            input_text="user: Weather in Paris?",
            output_text='get_weather({"city": "Paris"})',
            model="gpt-4o-mini",
            remaining={
                "llm.request.type",
                "gen_ai.completion.0.finish_reason",
                "gen_ai.completion.0.tool_calls.0.id",
            },
        ),
        id="openllmetry-old-tool-calls",
    ),
    pytest.param(
        Case(
            span("openai.chat", OPENLLMETRY_NEW),
            span_kind="LLM",
            node_name="openai.chat",
            input_text="user: Weather in Paris?",
            output_text="Sunny.",
            model="gpt-4o-mini-2024-07-18",
            token_count=39,
            input_tokens=30,
            output_tokens=9,
            remaining=OPENLLMETRY_NEW_KEPT,
        ),
        id="openllmetry-0.62.4-with-agent-and-workflow-names",
    ),
    pytest.param(
        Case(
            span(
                "weather_workflow.workflow",
                decorator(
                    "workflow",
                    "weather_workflow",
                    **{
                        "traceloop.entity.input": '{"args": ["Paris"], "kwargs": {}}',
                        "traceloop.entity.output": '"It is sunny in Paris."',
                    },
                ),
            ),
            span_kind="CHAIN",
            node_name="weather_workflow",
            input_text='{"args": ["Paris"], "kwargs": {}}',
            output_text="It is sunny in Paris.",
            remaining={
                "traceloop.span.kind",
                "traceloop.entity.name",
                "traceloop.workflow.name",
                "traceloop.entity.path",
            },
        ),
        id="traceloop-workflow",
    ),
    pytest.param(
        Case(
            span("fetch_forecast.task", decorator("task", "fetch_forecast")),
            span_kind="CHAIN",
            node_name="fetch_forecast",
            remaining={
                "traceloop.span.kind",
                "traceloop.entity.name",
                "traceloop.workflow.name",
                "traceloop.entity.path",
            },
        ),
        id="traceloop-task",
    ),
    pytest.param(
        Case(
            span(
                "writer_agent.agent",
                decorator(
                    "agent",
                    "writer_agent",
                    **{"traceloop.entity.input": '{"args": [], "kwargs": {"topic": "rain"}}'},
                ),
            ),
            span_kind="AGENT",
            node_name="writer_agent",
            input_text='{"args": [], "kwargs": {"topic": "rain"}}',
            remaining={
                "traceloop.span.kind",
                "traceloop.entity.name",
                "traceloop.workflow.name",
                "traceloop.entity.path",
            },
        ),
        id="traceloop-agent",
    ),
    pytest.param(
        Case(
            span(
                "get_weather.tool",
                decorator(
                    "tool",
                    "get_weather",
                    **{
                        "traceloop.entity.input": '{"args": [], "kwargs": {"city": "Paris"}}',
                        "traceloop.entity.output": '{"temp_c": 22, "sky": "sunny"}',
                    },
                ),
            ),
            span_kind="TOOL",
            node_name="get_weather",
            input_text='{"args": [], "kwargs": {"city": "Paris"}}',
            output_text='{"temp_c": 22, "sky": "sunny"}',
            remaining={
                "traceloop.span.kind",
                "traceloop.entity.name",
                "traceloop.workflow.name",
                "traceloop.entity.path",
            },
        ),
        id="traceloop-tool",
    ),
    pytest.param(
        Case(
            span(
                "openai.chat",
                {
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.agent.name": "writer_agent",
                    "agent.name": "writer_agent",
                    "traceloop.workflow.name": "weather_workflow",
                },
            ),
            span_kind="LLM",
            node_name="openai.chat",
            model="gpt-4o-mini",
            remaining={"gen_ai.agent.name", "agent.name", "traceloop.workflow.name"},
        ),
        id="inherited-agent-name-does-not-rename-llm",
    ),
    pytest.param(
        Case(
            span(
                "openai.chat",
                {
                    "llm.request.type": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": "Hello",
                    "error.type": "RateLimitError",
                },
                event(
                    "exception",
                    **{
                        "exception.type": "openai.RateLimitError",
                        "exception.message": "Error code: 429 - Rate limit reached",
                        "exception.stacktrace": "Traceback (most recent call last): ...",
                        "exception.escaped": "False",
                    },
                ),
                status_code=StatusCode.ERROR,
            ),
            span_kind="LLM",
            node_name="openai.chat",
            input_text="user: Hello",
            model="gpt-4o-mini",
            status_message="Error code: 429 - Rate limit reached",
            remaining={"llm.request.type", "error.type"},
        ),
        id="error-span-with-exception-event",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_realistic_spans_map_exactly(case: Case) -> None:
    assert_maps_exactly(case)


def test_openllmetry_json_content_list_renders_parts_and_hides_base64() -> None:
    content = [
        {"type": "text", "text": "Describe this"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
    ]
    attributes: dict[str, AttributeValue] = {
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": json.dumps(content),
    }

    mapped = map_span(span("openai.chat", attributes))

    assert mapped.input_text == "user: Describe this\n[image]"
    assert mapped.remaining_attributes == {}
