"""Realistic agent traces for the benchmark: OTLP protobuf requests and JSON upload bodies.

A run is one trace: a root AGENT span with LLM and TOOL children. Runs alternate between the
OpenInference and the OTel GenAI attribute conventions; every span carries about 1 KB of input
and 1 KB of output text of varied words, token counts and the usual small attributes, and now
and then a failed tool call with an exception event. Pure generation: no I/O, seeded.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

SPANS_PER_REQUEST = 512
SPANS_PER_RUN = 64  # one AGENT root and 63 children: two LLM calls for every TOOL call
TEXT_BYTES = 1024
# Every text starts with this word; the sender replaces it per request (bench.ingest), so a
# small pool of bodies never repeats a text, which DuckDB would dictionary-compress.
TEXT_TOKEN = "qzxjqzxj"
_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"  # by English frequency: text compresses like prose
_LETTER_WEIGHTS = (12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 6, 4.3, 4, 2.8, 2.8, 2.4, 2.4, 2.2, 2, 2, 1.9, 1.5, 1, 0.8, 0.2, 0.2, 0.1, 0.1)
_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4", "llama-3.1-70b")
_TOOLS = ("search", "calculator", "fetch_page", "sql_query", "send_email")


def _vocabulary(rng: random.Random, size: int = 8192) -> list[str]:
    """Word-like strings of 1 to 12 letters, shortest first (the frequent words of prose are short)."""
    words = {"".join(rng.choices(_LETTERS, _LETTER_WEIGHTS, k=min(12, 2 + int(rng.expovariate(0.3)))))
             for _ in range(size)}
    return sorted(words, key=len)


@dataclass(frozen=True, slots=True)
class SpanSpec:
    """One span before encoding: what both the OTLP and the upload encoders read."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes | None
    name: str
    kind: str  # AGENT, LLM or TOOL
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: str | None  # an exception message for a failed span


class TraceFactory:
    """Generates runs of SPANS_PER_RUN spans; deterministic for a seed except for the ids."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._words = _vocabulary(self._rng)
        # Zipf's law: the word of rank r comes with frequency 1/r, as in natural text.
        self._cum_weights = list(itertools.accumulate(1 / rank for rank in range(1, len(self._words) + 1)))
        self._runs = 0

    def text(self, size: int = TEXT_BYTES) -> str:
        """size characters of word-like text, starting with TEXT_TOKEN."""
        words = self._rng.choices(self._words, cum_weights=self._cum_weights, k=size // 4)
        text = TEXT_TOKEN + " " + " ".join(words)
        while len(text) < size:
            text += " " + self._rng.choice(self._words)
        return text[:size]

    def run(self) -> list[SpanSpec]:
        """One run's spans, children first and the root last (the order an SDK exports them)."""
        self._runs += 1
        genai = self._runs % 2 == 0
        trace_id, root_id = os.urandom(16), os.urandom(8)
        start = time.time_ns() - 60_000_000_000
        children = []
        clock = start + 1_000_000
        for index in range(SPANS_PER_RUN - 1):
            kind = "TOOL" if index % 3 == 2 else "LLM"
            duration = self._rng.randint(5, 900) * 1_000_000
            error = "tool timed out after 30 s" if kind == "TOOL" and self._rng.random() < 0.05 else None
            attributes = (_genai if genai else _openinference)(self, kind, index)
            name = f"chat {attributes.get('gen_ai.request.model', '')}" if genai and kind == "LLM" else None
            children.append(SpanSpec(trace_id, os.urandom(8), root_id, name or _name(kind, attributes),
                                     kind, clock, clock + duration, attributes, error))
            clock += duration + 1_000_000
        root_attributes = (_genai if genai else _openinference)(self, "AGENT", 0)
        root = SpanSpec(trace_id, root_id, None, "agent.run", "AGENT", start, clock, root_attributes, None)
        return [*children, root]

    def requests(self, count: int) -> Iterator[list[SpanSpec]]:
        """count requests of SPANS_PER_REQUEST spans (whole runs)."""
        runs_per_request = SPANS_PER_REQUEST // SPANS_PER_RUN
        for _ in range(count):
            yield [span for _ in range(runs_per_request) for span in self.run()]

    def tokens(self) -> tuple[int, int]:
        return self._rng.randint(200, 4000), self._rng.randint(20, 800)

    def choice(self, items: tuple[str, ...]) -> str:
        return self._rng.choice(items)


def _name(kind: str, attributes: dict[str, Any]) -> str:
    if kind == "TOOL":
        return str(attributes.get("tool.name") or attributes.get("gen_ai.tool.name"))
    return "ChatCompletion"


def _openinference(factory: TraceFactory, kind: str, index: int) -> dict[str, Any]:
    """Attributes as openinference-instrumentation-openai and its siblings write them."""
    attributes: dict[str, Any] = {"openinference.span.kind": kind, "session.id": f"session-{index % 5}"}
    if kind == "LLM":
        prompt, completion = factory.tokens()
        attributes.update({
            "llm.system": "openai",
            "llm.provider": "openai",
            "llm.model_name": factory.choice(_MODELS),
            "llm.invocation_parameters": '{"temperature": 0.2, "max_tokens": 1024}',
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "You are a careful research assistant.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": factory.text(),
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": factory.text(),
            "llm.token_count.prompt": prompt,
            "llm.token_count.completion": completion,
            "llm.token_count.total": prompt + completion,
        })
    else:
        tool = factory.choice(_TOOLS)
        if kind == "TOOL":
            attributes["tool.name"] = tool
        else:
            attributes["agent.name"] = "research-agent"
        attributes.update({
            "input.value": json.dumps({"query": factory.text(TEXT_BYTES - 12)}),
            "input.mime_type": "application/json",
            "output.value": factory.text(),
            "output.mime_type": "text/plain",
        })
    return attributes


def _genai(factory: TraceFactory, kind: str, index: int) -> dict[str, Any]:
    """Attributes of the OTel GenAI semantic conventions (JSON message attributes)."""
    if kind == "LLM":
        prompt, completion = factory.tokens()
        model = factory.choice(_MODELS)
        messages = [
            {"role": "system", "parts": [{"type": "text", "content": "You are a careful research assistant."}]},
            {"role": "user", "parts": [{"type": "text", "content": factory.text()}]},
        ]
        answer = [{"role": "assistant", "parts": [{"type": "text", "content": factory.text()}],
                   "finish_reason": "stop"}]
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.response.model": f"{model}-2025-01-01",
            "gen_ai.response.id": f"chatcmpl-{index}",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.request.temperature": 0.2,
            "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps(answer),
            "gen_ai.usage.input_tokens": prompt,
            "gen_ai.usage.output_tokens": completion,
        }
    if kind == "TOOL":
        return {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": factory.choice(_TOOLS),
            "gen_ai.tool.call.id": f"call_{index}",
            "gen_ai.tool.call.arguments": json.dumps({"query": factory.text(TEXT_BYTES - 12)}),
            "gen_ai.tool.call.result": factory.text(),
        }
    return {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "research-agent",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": factory.text()}]}]),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": factory.text()}]}]),
    }


# ---- OTLP protobuf ------------------------------------------------------------------------


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(_any_value(item) for item in value)
        return any_value
    return AnyValue(string_value=str(value))


def _key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any_value(value)) for key, value in attributes.items()]


def otlp_request(spans: list[SpanSpec], agent_id: str) -> bytes:
    """One ExportTraceServiceRequest, serialized: one resource, one scope per convention."""
    request = ExportTraceServiceRequest()
    resource_spans: ResourceSpans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(_key_values({
        "service.name": "research-agent", "kate.agent.id": agent_id, "deployment.environment": "bench",
        "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.45.2",
    }))
    scopes = {}
    for spec in spans:
        scope_name = "opentelemetry.instrumentation.genai" if "gen_ai.operation.name" in spec.attributes \
            else "openinference.instrumentation.openai"
        scope = scopes.get(scope_name)
        if scope is None:
            scope = scopes[scope_name] = resource_spans.scope_spans.add()
            scope.scope.name = scope_name
        _add_span(scope.spans.add(), spec)
    return request.SerializeToString()


def _add_span(span: Span, spec: SpanSpec) -> None:
    span.trace_id, span.span_id = spec.trace_id, spec.span_id
    if spec.parent_span_id is not None:
        span.parent_span_id = spec.parent_span_id
    span.name = spec.name
    span.kind = Span.SPAN_KIND_CLIENT if spec.kind == "LLM" else Span.SPAN_KIND_INTERNAL
    span.start_time_unix_nano, span.end_time_unix_nano = spec.start_ns, spec.end_ns
    span.attributes.extend(_key_values(spec.attributes))
    if spec.error is None:
        span.status.code = Status.STATUS_CODE_OK if spec.kind == "LLM" else Status.STATUS_CODE_UNSET
        return
    span.status.code = Status.STATUS_CODE_ERROR
    event = span.events.add()
    event.name, event.time_unix_nano = "exception", spec.end_ns
    event.attributes.extend(_key_values({"exception.type": "TimeoutError", "exception.message": spec.error}))


# ---- JSON upload (what kate.exporter sends) -------------------------------------------------


def _rfc3339(unix_nano: int) -> str:
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def upload_body(spans: list[SpanSpec], agent_id: str) -> bytes:
    """POST .../runs/{run_id}/spans body: the attributes whole, as KateSpanExporter sends them,
    plus the explicit fields it derives (kind, model and tokens; the texts come from the mapping)."""
    entries = []
    for spec in spans:
        entry: dict[str, Any] = {
            "node_name": spec.name,
            "span_kind": spec.kind,
            "trace_id": spec.trace_id.hex(),
            "span_id": spec.span_id.hex(),
            "start_time": _rfc3339(spec.start_ns),
            "end_time": _rfc3339(spec.end_ns),
            "status": "ERROR" if spec.error else "OK",
            "attributes": spec.attributes,
            "resource": {"service.name": "research-agent", "kate.agent.id": agent_id},
            "scope_name": "kate.exporter",
            "latency_ms": (spec.end_ns - spec.start_ns) / 1e6,
        }
        if spec.parent_span_id is not None:
            entry["parent_span_id"] = spec.parent_span_id.hex()
        if spec.error is not None:
            entry["status_message"] = spec.error
        entries.append(entry)
    return json.dumps({"spans": entries}).encode("utf-8")


def run_id_of(spans: list[SpanSpec]) -> str:
    """The run id the collector derives for OTLP spans without kate.run.id: the trace id as a UUID."""
    hex_id = spans[0].trace_id.hex()
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
