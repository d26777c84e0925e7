"""Microseconds per map_span call for a realistic OpenInference LLM span and a GenAI span.

Ingestion targets ~20k spans/s, i.e. a budget of ~50 µs per span for everything; the mapping
should use a small part of it. Run: `.venv/bin/python bench/bench_mapping.py [iterations]`.
Prints figures only; nothing here is asserted.
"""

from __future__ import annotations

import json
import sys
import time

from kate.schema.mapping import map_span
from kate.schema.record import AttributeValue, SpanInput

START = 1_700_000_000_000_000_000
REPEATS = 5
KILOBYTE_OF_TEXT = ("The quick brown fox jumps over the lazy dog. " * 23)[:1024]


def openinference_llm_span() -> SpanInput:
    messages = [
        ("system", "You are a helpful assistant."),
        ("user", KILOBYTE_OF_TEXT),
        ("assistant", "Let me look that up."),
        ("user", "Please summarise."),
    ]
    attributes: dict[str, AttributeValue] = {
        "openinference.span.kind": "LLM",
        "llm.system": "openai",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2}',
        "input.value": json.dumps({"messages": [{"role": r, "content": c} for r, c in messages]}),
        "input.mime_type": "application/json",
        "output.value": json.dumps({"choices": [{"message": {"content": KILOBYTE_OF_TEXT}}]}),
        "output.mime_type": "application/json",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": KILOBYTE_OF_TEXT,
        "llm.token_count.prompt": 412,
        "llm.token_count.completion": 256,
        "llm.token_count.total": 668,
        "llm.token_count.prompt_details.cache_read": 256,
        "session.id": "sess-1",
        "kate.run.id": "6f1c2a9e-0000-4000-8000-000000000001",
    }
    for i, (role, content) in enumerate(messages):
        attributes[f"llm.input_messages.{i}.message.role"] = role
        attributes[f"llm.input_messages.{i}.message.content"] = content
    return SpanInput("ChatCompletion", attributes, START, START + 812_345_678)


def genai_span() -> SpanInput:
    input_messages = [
        {"role": "user", "parts": [{"type": "text", "content": KILOBYTE_OF_TEXT}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "fox"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "found"}]},
    ]
    answer = {"type": "text", "content": KILOBYTE_OF_TEXT}
    output_messages = [{"role": "assistant", "parts": [answer], "finish_reason": "stop"}]
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-123",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.system_instructions": '[{"type": "text", "content": "You are terse."}]',
        "gen_ai.input.messages": json.dumps(input_messages),
        "gen_ai.output.messages": json.dumps(output_messages),
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.usage.output_tokens": 250,
        "gen_ai.usage.cache_read.input_tokens": 128,
        "server.address": "api.openai.com",
        "traceloop.workflow.name": "research",
    }
    return SpanInput("chat gpt-4o", attributes, START, START + 1_234_567_890)


def microseconds_per_span(span: SpanInput, iterations: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter_ns()
        for _ in range(iterations):
            map_span(span)
        best = min(best, (time.perf_counter_ns() - started) / iterations / 1000)
    return best


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    for label, span in (("openinference llm", openinference_llm_span()), ("genai latest", genai_span())):
        figure = microseconds_per_span(span, iterations)
        print(f"{label:<18} {figure:7.1f} µs/span  ({1e6 / figure:,.0f} spans/s), best of {REPEATS}")


if __name__ == "__main__":
    main()
