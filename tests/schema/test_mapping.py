"""map_span field by field: span kind, node name, model, tokens, latency, caps, status, leftovers.

docs/mapping.md#field-sources-and-precedence, #span-kind and #size-truncation-and-blobs; the per-convention
realistic spans live in test_mapping_<convention>.py.
"""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, SpanEvent, SpanInput, StatusCode
from mapping_cases import END, START, Case, assert_maps_exactly, event, span


def test_plain_http_span_is_unknown_and_keeps_everything() -> None:
    assert_maps_exactly(
        Case(
            span(
                "GET /api/users",
                {
                    "http.request.method": "GET",
                    "url.full": "http://localhost:8000/api/users",
                    "http.response.status_code": 200,
                },
            ),
            span_kind="UNKNOWN",
            node_name="GET /api/users",
            remaining={"http.request.method", "url.full", "http.response.status_code"},
        )
    )


# --- span kind (docs/mapping.md#span-kind) --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "attributes", "kind"),
    [
        ("x", {"openinference.span.kind": "llm"}, "LLM"),
        ("x", {"openinference.span.kind": "PROMPT"}, "PROMPT"),
        ("x", {"openinference.span.kind": "RERANKER", "gen_ai.operation.name": "chat"}, "RERANKER"),
        ("x", {"openinference.span.kind": "NOT_A_KIND", "traceloop.span.kind": "tool"}, "TOOL"),
        ("x", {"traceloop.span.kind": "unknown", "gen_ai.operation.name": "invoke_agent"}, "AGENT"),
        ("x", {"gen_ai.operation.name": "create_agent"}, "AGENT"),
        ("x", {"gen_ai.operation.name": "generate_content"}, "LLM"),
        ("x", {"gen_ai.operation.name": "text_completion"}, "LLM"),
        ("x", {"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ("x", {"gen_ai.operation.name": "execute_tool"}, "TOOL"),
        ("x", {"gen_ai.operation.name": "invoke_workflow"}, "CHAIN"),
        ("x", {"gen_ai.operation.name": "retrieval"}, "RETRIEVER"),
        ("x", {"llm.request.type": "completion"}, "LLM"),
        ("x", {"llm.request.type": "embedding"}, "EMBEDDING"),
        ("x", {"llm.request.type": "rerank"}, "RERANKER"),
        ("x", {"gen_ai.tool.call.id": "call_1"}, "TOOL"),
        ("x", {"tool.name": "search", "gen_ai.request.model": "gpt-4o"}, "TOOL"),
        ("x", {"embedding.model_name": "text-embedding-3-small"}, "EMBEDDING"),
        ("x", {"retrieval.documents.0.document.content": "doc"}, "RETRIEVER"),
        ("openai.chat", {"llm.request.model": "gpt-4o"}, "LLM"),
        ("openai.embeddings", {"gen_ai.request.model": "text-embedding-3-small"}, "EMBEDDING"),
        ("x", {"gen_ai.request.model": ""}, "UNKNOWN"),
        ("invoke_agent", {"gen_ai.agent.name": "a", "traceloop.workflow.name": "w"}, "UNKNOWN"),
        ("SELECT users", {"db.system.name": "postgresql"}, "UNKNOWN"),
    ],
)
def test_span_kind_follows_the_section_4_order(
    name: str, attributes: dict[str, AttributeValue], kind: str
) -> None:
    assert map_span(span(name, attributes)).span_kind == kind


@pytest.mark.parametrize(
    ("attributes", "node_name"),
    [
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}, "get_weather"),
        ({"openinference.span.kind": "TOOL", "tool.name": "search"}, "search"),
        ({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}, "planner"),
        ({"openinference.span.kind": "AGENT", "agent.name": "planner"}, "planner"),
        ({"openinference.span.kind": "CHAIN", "gen_ai.agent.name": "planner"}, "span-name"),
        ({"traceloop.span.kind": "tool", "traceloop.entity.name": "t", "gen_ai.tool.name": "g"}, "t"),
        ({"openinference.span.kind": "TOOL", "tool.name": ""}, "span-name"),
    ],
)
def test_node_name(attributes: dict[str, AttributeValue], node_name: str) -> None:
    assert map_span(span("span-name", attributes)).node_name == node_name


# --- model and tokens (docs/mapping.md#field-sources-and-precedence) ------------------------------


@pytest.mark.parametrize(
    ("attributes", "model", "consumed"),
    [
        (
            {"langfuse.observation.model.name": "lf", "gen_ai.response.model": "resp"},
            "lf",
            "langfuse.observation.model.name",
        ),
        (
            {"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"},
            "gpt-4o-2024-08-06",
            "gen_ai.response.model",
        ),
        (
            {"gen_ai.request.model": "gpt-4o", "llm.model_name": "gpt-4o-2024-08-06"},
            "gpt-4o-2024-08-06",
            "llm.model_name",
        ),
        ({"llm.response.model": "r", "llm.request.model": "q"}, "r", "llm.response.model"),
        ({"gen_ai.response.model": "  ", "llm.request.model": "q"}, "q", "llm.request.model"),
        ({"llm.invocation_parameters": {"model_name": "claude-3-5-sonnet"}}, "claude-3-5-sonnet", None),
        ({"llm.invocation_parameters": "{not json"}, None, None),
        ({"gen_ai.response.model": 42}, None, None),
    ],
)
def test_model_precedence(
    attributes: dict[str, AttributeValue], model: str | None, consumed: str | None
) -> None:
    mapped = map_span(span("x", attributes))

    assert mapped.model == model
    assert set(mapped.remaining_attributes) == set(attributes) - {consumed}


@pytest.mark.parametrize(
    ("attributes", "counts"),
    [
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}, (15, 10, 5)),
        ({"gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5}, (15, 10, 5)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 99}, (10, 10, None)),
        ({"gen_ai.usage.output_tokens": 7}, (7, None, 7)),
        (
            {"llm.token_count.total": 100, "llm.token_count.prompt": 60, "llm.token_count.completion": 30},
            (100, 60, 30),
        ),
        (
            {
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 20,
                "gen_ai.usage.cache_read.input_tokens": 80,
                "gen_ai.usage.reasoning_tokens": 12,
                "llm.token_count.prompt_details.cache_read": 80,
                "llm.token_count.completion_details.reasoning": 12,
            },
            (120, 100, 20),
        ),
        ({"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": 3.0}, (15, 12, 3)),
        ({"gen_ai.usage.input_tokens": "9007199254740993"}, (9007199254740993, 9007199254740993, None)),
        ({"gen_ai.usage.input_tokens": " 1e3 "}, (1000, 1000, None)),
        ({"gen_ai.usage.input_tokens": -5, "gen_ai.usage.prompt_tokens": 7}, (7, 7, None)),
        ({"gen_ai.usage.input_tokens": True, "gen_ai.usage.output_tokens": False}, (None, None, None)),
        (
            {"gen_ai.usage.input_tokens": float("nan"), "gen_ai.usage.output_tokens": float("inf")},
            (None, None, None),
        ),
        ({"gen_ai.usage.input_tokens": "ten", "gen_ai.usage.output_tokens": "-3"}, (None, None, None)),
        ({"gen_ai.usage.input_tokens": 2**64, "gen_ai.usage.output_tokens": [1, 2]}, (None, None, None)),
        ({"gen_ai.usage.input_tokens": 2**63 - 1, "gen_ai.usage.output_tokens": 1}, (None, 2**63 - 1, 1)),
        ({"llm.usage.total_tokens": "0"}, (0, None, None)),
    ],
)
def test_token_counts_never_double_count(
    attributes: dict[str, AttributeValue], counts: tuple[int | None, int | None, int | None]
) -> None:
    mapped = map_span(span("x", attributes))

    assert (mapped.token_count, mapped.input_tokens, mapped.output_tokens) == counts


def test_token_keys_that_were_read_are_consumed_and_others_kept() -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.usage.input_tokens": "bad",
        "gen_ai.usage.prompt_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning_tokens": 2,
    }

    mapped = map_span(span("x", attributes))

    # The cached-input count became a field (docs/mapping.md#cost); reasoning tokens are not one.
    assert mapped.cached_input_tokens == 4
    assert mapped.remaining_attributes == {"gen_ai.usage.input_tokens": "bad", "gen_ai.usage.reasoning_tokens": 2}


# --- latency and truncation (docs/mapping.md#size-truncation-and-blobs) ---------------------------


@pytest.mark.parametrize(
    ("start", "end", "latency"),
    [
        (
            1_700_000_000_123_456_789,
            1_700_000_000_124_691_356,
            1.234567,
        ),  # beyond 2^53: float math would be off
        (2**62, 2**62 + 1, 0.000001),
        (START, START, 0.0),
        (0, END, None),
        (START, 0, None),
        (END, START, None),
    ],
)
def test_latency_from_own_nanos(start: int, end: int, latency: float | None) -> None:
    mapped = map_span(SpanInput(name="x", attributes={}, start_time_unix_nano=start, end_time_unix_nano=end))

    assert mapped.latency_ms == latency


def test_truncation_cuts_on_a_multibyte_boundary_with_marker() -> None:
    text = "日本語のテキスト"  # 8 characters, 24 UTF-8 bytes
    attributes: dict[str, AttributeValue] = {
        "openinference.span.kind": "CHAIN",
        "input.value": text,
        "output.value": "ok",
    }

    mapped = map_span(span("x", attributes), max_text_bytes=10)

    assert mapped.input_text == "日本語…[truncated 15 bytes]"
    assert mapped.output_text == "ok"
    assert mapped.truncated is True


def test_texts_under_the_cap_are_untouched() -> None:
    text = "é" * 1000
    mapped = map_span(span("x", {"input.value": text}), max_text_bytes=2000)

    assert (mapped.input_text, mapped.truncated) == (text, False)


def test_long_status_message_is_capped_too() -> None:
    mapped = map_span(
        span("x", {}, status_code=StatusCode.ERROR, status_message="x" * 100), max_text_bytes=40
    )

    assert mapped.status_message == "x" * 40 + "…[truncated 60 bytes]"
    assert mapped.truncated is True


# --- status message -------------------------------------------------------------------------------

EXCEPTION = event("exception", **{"exception.type": "ValueError", "exception.message": "bad city"})


@pytest.mark.parametrize(
    ("status_code", "status_message", "attributes", "events", "expected"),
    [
        (StatusCode.ERROR, "boom", {"error.type": "E"}, (EXCEPTION,), "boom"),
        (StatusCode.ERROR, "", {"error.type": "E"}, (EXCEPTION,), "bad city"),
        (StatusCode.ERROR, "", {"error.type": "TimeoutError"}, (), "TimeoutError"),
        (StatusCode.ERROR, "", {}, (event("exception", **{"exception.type": "E"}),), None),
        (StatusCode.UNSET, "", {"error.type": "E"}, (EXCEPTION,), None),
        (StatusCode.OK, "", {}, (EXCEPTION,), None),
        (StatusCode.UNSET, "cancelled by caller", {}, (), "cancelled by caller"),
    ],
)
def test_status_message(
    status_code: StatusCode,
    status_message: str,
    attributes: dict[str, AttributeValue],
    events: tuple[SpanEvent, ...],
    expected: str | None,
) -> None:
    mapped = map_span(span("x", attributes, *events, status_code=status_code, status_message=status_message))

    assert mapped.status_message == expected
    assert mapped.output_text is None  # docs/mapping.md#field-sources-and-precedence: the error never becomes output


# --- rendering (docs/mapping.md#rendering-messages) -----------------------------------------------


def test_data_urls_are_dropped_bytes_kept_as_marked_base64_and_kate_keys_kept() -> None:
    attributes: dict[str, AttributeValue] = {
        "kate.run.id": "9f1c",
        "gen_ai.provider.name": "openai",
        "screenshot": b"\x89PNG\r\n",
        "avatar": "data:image/png;base64,iVBORw0KGgo=",
        "homepage": "https://example.com",
    }

    mapped = map_span(span("x", attributes))

    assert mapped.remaining_attributes == {
        "kate.run.id": "9f1c",
        "gen_ai.provider.name": "openai",
        "screenshot": {"bytes_base64": base64.b64encode(b"\x89PNG\r\n").decode(), "size": 6},
        "homepage": "https://example.com",
    }
    assert (mapped.input_text, mapped.output_text) == (None, None)


def test_bytes_past_the_text_cap_keep_their_first_bytes_and_say_so() -> None:
    mapped = map_span(span("x", {"payload": bytes(range(100))}), max_text_bytes=10)

    assert mapped.remaining_attributes["payload"] == {
        "bytes_base64": base64.b64encode(bytes(range(10))).decode(), "size": 100, "truncated": True}
    assert not mapped.truncated  # no text was cut


def test_bytes_never_become_input_or_output_text() -> None:
    mapped = map_span(span("x", {"input.value": b"secret", "output.value": b"bytes"}))

    assert (mapped.input_text, mapped.output_text) == (None, None)
    assert mapped.remaining_attributes["input.value"] == {"bytes_base64": "c2VjcmV0", "size": 6}


def test_lone_surrogates_from_json_escapes_become_replacement_characters() -> None:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.input.messages": '[{"role": "user", "content": "a\\ud800b"}]'
    }

    text = map_span(span("x", attributes)).input_text

    assert text == "user: a\ufffdb"
    assert text is not None and text.encode("utf-8")


def test_importing_the_mapping_pulls_in_no_collector_dependency() -> None:
    probe = (
        "import sys, kate.schema.mapping\n"
        "heavy = {'duckdb', 'aiohttp', 'grpc'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('kate.collector')))"
    )

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_a_logfire_span_is_named_by_its_rendered_message_not_its_template() -> None:
    attributes: dict[str, AttributeValue] = {
        "logfire.msg_template": "Chat Completion with {request_data[model]!r}",
        "logfire.msg": "Chat Completion with 'gpt-4o'",
        "logfire.span_type": "span",
    }

    mapped = map_span(span("Chat Completion with {request_data[model]!r}", attributes))

    assert mapped.node_name == "Chat Completion with 'gpt-4o'"
    assert map_span(span("tpl", {"logfire.msg": "x" * 300})).node_name == "x" * 255 + "…"
    assert map_span(span("plain", {"logfire.msg": "  "})).node_name == "plain"
