"""Agent-side cost of kate.exporter: µs per span on the application thread, µs per @trace call.

Issue 6 targets: the exporter under 20 µs per span on the application thread, the decorator
under 30 µs per call. Bounded loops, prints figures only; never an assertion. Run:
    .venv/bin/python bench/bench_exporter.py
The suite (`python -m bench`) calls span_cost_us() and decorator_cost_us().
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from kate.exporter import RunSpanProcessor, trace
from kate.exporter._context import _CURRENT_RUN
from kate.exporter._span_upload import group_by_run
from kate.exporter._tracer import use_tracer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CALLS = 20_000
ROUNDS = 5


class _Discard(SpanExporter):
    """Stands in for the HTTP upload, which runs on the SDK's batch thread, not the app's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _per_call_us(body: Callable[[], object], calls: int = CALLS, rounds: int = ROUNDS) -> float:
    """The best of `rounds` of the mean µs per call (the least disturbed by other processes)."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            body()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return min(results)


def _provider(*, kate_pipeline: bool) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    if kate_pipeline:  # what configure() installs, with the HTTP exporter replaced
        provider.add_span_processor(RunSpanProcessor())
        provider.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=CALLS * 2, schedule_delay_millis=50))
    return provider


def span_cost_us(calls: int = CALLS, rounds: int = ROUNDS) -> tuple[float, float]:
    """(µs per span start+end with a bare SDK, with Kate's pipeline) on the calling thread."""
    bare_provider, kate_provider = _provider(kate_pipeline=False), _provider(kate_pipeline=True)
    bare, kate = bare_provider.get_tracer("bench"), kate_provider.get_tracer("bench")
    token = _CURRENT_RUN.set("0190a1b2-0000-7000-8000-000000000000")  # inside a run: stamping is on
    try:
        bare_us = _per_call_us(lambda: bare.start_span("step").end(), calls, rounds)
        kate_us = _per_call_us(lambda: kate.start_span("step").end(), calls, rounds)
    finally:
        _CURRENT_RUN.reset(token)
        kate_provider.shutdown()
    return bare_us, kate_us


def bench_span_cost() -> None:
    bare_us, kate_us = span_cost_us()
    print(f"span start+end, SDK without processors : {bare_us:6.2f} µs")
    print(f"span start+end, Kate pipeline          : {kate_us:6.2f} µs")
    print(f"exporter on the application thread      : {kate_us - bare_us:6.2f} µs/span  (target < 20)")


def decorator_cost_us(calls: int = CALLS, rounds: int = ROUNDS) -> tuple[float, float, float]:
    """(µs per undecorated call, per @trace call, per bare SDK span) on the calling thread."""

    def plain(question: str, limit: int = 3) -> dict[str, object]:
        return {"answer": question, "limit": limit}

    traced = trace(kind="TOOL")(plain)
    provider = _provider(kate_pipeline=True)
    tracer = provider.get_tracer("bench")
    use_tracer(tracer)  # @trace on this provider: the global one can be set only once
    try:
        plain_us = _per_call_us(lambda: plain("what is kate?", limit=5), calls, rounds)
        traced_us = _per_call_us(lambda: traced("what is kate?", limit=5), calls, rounds)
        bare_span_us = _per_call_us(lambda: tracer.start_span("x").end(), calls, rounds)
    finally:
        use_tracer(None)
        provider.shutdown()
    return plain_us, traced_us, bare_span_us


def bench_decorator() -> None:
    plain_us, traced_us, bare_span_us = decorator_cost_us()
    print(f"undecorated call                        : {plain_us:6.2f} µs")
    print(f"@trace call (span + attributes)         : {traced_us:6.2f} µs/call  (target < 30)")
    print(f"  of which the SDK's own span start/end : {bare_span_us:6.2f} µs")


def bench_export_thread() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    traced = trace(kind="LLM")(lambda prompt: "a reply of a few words " * 8)
    use_tracer(provider.get_tracer("bench"))
    try:
        for index in range(512):
            traced(f"prompt {index} " * 20)
    finally:
        use_tracer(None)
    spans = memory.get_finished_spans()
    per_batch_s = _per_call_us(lambda: json.dumps(group_by_run(spans, "agent")[0].entries), calls=20) / 1e6
    print(f"export thread: map + JSON per span      : {per_batch_s / len(spans) * 1e6:6.2f} µs  (off the app thread)")


if __name__ == "__main__":
    bench_span_cost()
    bench_decorator()
    bench_export_thread()
