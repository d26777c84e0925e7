"""Spans per second through OTLP parsing and decoding, for a 512-span request like an agent's.

Bounded (about 2 s per case) and prints figures only; never an assertion. Run:
    .venv/bin/python bench/bench_otlp_decode.py
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from kate.collector.ingest.decode_spans import decode_spans
from kate.collector.ingest.wire import JSON, PROTOBUF, decompress, parse_request
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SPANS = 512
SECONDS_PER_CASE = 2.0
_WORDS = [
    "agent",
    "tool",
    "model",
    "plan",
    "search",
    "answer",
    "context",
    "token",
    "retrieve",
    "prompt",
    "reason",
    "step",
    "call",
    "result",
]


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(_WORDS) + str(rng.randrange(10_000)))
    return " ".join(words)


def build_request() -> ExportTraceServiceRequest:
    """512 LLM/tool spans of ~2.5 KB: ~1 KiB prompt and answer, a dozen small attributes, an event."""
    rng = random.Random(7)
    exporter = InMemorySpanExporter()
    resource = Resource.create({"service.name": "support-agent", "kate.agent.id": "agent-1", "deployment": "prod"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("openinference.instrumentation.openai", "0.1.0")
    with tracer.start_as_current_span("agent.run", attributes={"openinference.span.kind": "AGENT"}):
        for index in range(SPANS - 1):
            attributes: dict[str, Any] = {
                "openinference.span.kind": "LLM" if index % 3 else "TOOL",
                "input.value": _text(rng, 1024),
                "output.value": _text(rng, 1024),
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": rng.randrange(2000),
                "llm.token_count.completion": rng.randrange(500),
                "llm.invocation_parameters": '{"temperature": 0.2, "max_tokens": 512}',
                "llm.temperature": 0.2,
                "llm.stream": False,
                "tool.names": ["search", "calculator"],
                "kate.run.id": "0b4f5a4e-8f3c-4c1e-9a57-1f3e2b6c7d80",
                "session.id": f"s-{index % 7}",
            }
            with tracer.start_as_current_span(f"step-{index}", attributes=attributes) as span:
                span.add_event("tokens", {"first_token_ms": rng.random() * 300})
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as a JS SDK sends it: json_format's proto3 JSON with the ids rewritten to hex."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def measure(label: str, run: Callable[[], object], body_bytes: int) -> None:
    timings: list[float] = []
    deadline = time.perf_counter() + SECONDS_PER_CASE
    while time.perf_counter() < deadline or len(timings) < 3:
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    best, median = min(timings), statistics.median(timings)
    print(
        f"{label:<34} {SPANS / median:>9,.0f} spans/s (median)  {SPANS / best:>9,.0f} best  "
        f"{median * 1000:6.1f} ms/request  {body_bytes / SPANS:,.0f} B/span  n={len(timings)}"
    )


def main() -> None:
    request = build_request()
    protobuf = request.SerializeToString()
    json_body = otlp_json(request)
    gzipped = gzip.compress(protobuf)
    assert len(decode_spans(parse_request(json_body, JSON)).spans) == SPANS
    cap = 20 * 1024 * 1024
    measure("protobuf: decode_spans only", lambda: decode_spans(request), len(protobuf))
    measure("protobuf: parse + decode", lambda: decode_spans(parse_request(protobuf, PROTOBUF)), len(protobuf))
    measure(
        "protobuf+gzip: inflate+parse+decode",
        lambda: decode_spans(parse_request(decompress(gzipped, "gzip", max_bytes=cap), PROTOBUF)),
        len(protobuf),
    )
    measure("json: parse + decode", lambda: decode_spans(parse_request(json_body, JSON)), len(json_body))


if __name__ == "__main__":
    main()
