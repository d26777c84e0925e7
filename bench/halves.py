"""The two halves of ingestion measured apart: decoding a request, and writing decoded spans.

End to end, both halves share this machine's CPUs: the decode workers (parse, map, Arrow) and
the writer (DuckDB). Measured apart, they say which half limits ingestion and how close Kate's
writer comes to the raw append ceiling when nothing else competes for the CPUs:

- decode: Kate's own decode_body (what a worker runs per request) on fresh copies of the bench's
  request bodies, one after the other on this thread; CPU seconds per span.
- writer alone: the same requests decoded before the clock starts, then written through Kate's
  Sink, writer thread and write ops (run creation and completion, counters, evaluation
  admission) on a fresh file by `submitters` concurrent callers, as that many senders would;
  spans per second until the last commit, and this process's CPU per span meanwhile.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kate.collector.completion import CompletionHub
from kate.collector.config import StorageConfig
from kate.collector.evaluation.scheduler import EvaluationScheduler, build_evaluators
from kate.collector.evaluation.settings import EvaluationConfig
from kate.collector.ingest.decode_pool import decode_body
from kate.collector.ingest.sink import Sink
from kate.collector.ingest.wire import PROTOBUF
from kate.collector.store.duckdb.store import DuckDBStore
from kate.collector.store.span_batch import SpanBatch
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

from bench.ingest import Payloads
from bench.workload import SPANS_PER_REQUEST

WRITE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Halves:
    decode_cpu_us_per_span: float
    writer_spans_per_s: float
    writer_cpu_us_per_span: float  # this process, all threads (the writer and DuckDB's own)


def measure(payloads: Payloads, requests: int, submitters: int, *, compress_text: bool = True) -> Halves:
    started = _cpu_seconds()
    batches = [_decoded(payloads, index) for index in range(requests)]
    decode_cpu = _cpu_seconds() - started
    spans = sum(batch.count for batch in batches)
    spans_per_s, writer_cpu = asyncio.run(_write_alone(batches, submitters, StorageConfig(compress_text=compress_text)))
    return Halves(decode_cpu / spans * 1e6, spans_per_s, writer_cpu / spans * 1e6)


def _decoded(payloads: Payloads, index: int) -> SpanBatch:
    body = payloads.otlp[index % len(payloads.otlp)].fresh()
    decoded = decode_body(body, PROTOBUF, DEFAULT_MAX_TEXT_BYTES)
    if decoded.rejected or decoded.spans.count != SPANS_PER_REQUEST:
        raise RuntimeError(f"request {index} decoded to {decoded.spans.count} spans, {len(decoded.rejected)} rejected")
    return decoded.spans


async def _write_alone(batches: list[SpanBatch], submitters: int, storage: StorageConfig) -> tuple[float, float]:
    """(spans/s, CPU seconds) of writing batches through a fresh store as the collector does."""
    with tempfile.TemporaryDirectory(prefix="kate-bench-writer-") as folder:
        completions = CompletionHub()
        store = DuckDBStore(Path(folder) / "kate.duckdb", storage, completions)
        store.open()
        evaluation = EvaluationConfig()
        scheduler = EvaluationScheduler(store.evaluations, evaluation, build_evaluators(evaluation))
        completions.subscribe(scheduler)
        try:
            await scheduler.start()
            sink = Sink(store.spans)
            pending = iter(batches)

            async def submit() -> None:
                for batch in pending:
                    await sink.consume(batch, protocol="bench")

            cpu_before, started = _cpu_seconds(), time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(submit() for _ in range(submitters))), WRITE_TIMEOUT_S)
            elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
        finally:
            await scheduler.stop()
            store.close()
    return sum(batch.count for batch in batches) / elapsed, cpu


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
