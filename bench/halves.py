"""The two halves of ingestion measured apart: decoding a request, and writing decoded spans.

End to end, both halves share this machine's CPUs: the decode workers (parse, map, Arrow) and
the writer (DuckDB). Measured apart, they say which half limits ingestion and how close Kate's
writer comes to the raw append ceiling when nothing else competes for the CPUs:

- decode: what a worker runs per request (decode_body) on fresh copies of the bench's request
  bodies, one after the other on this thread, stage by stage: protobuf parsing, span decoding,
  mapping (records, linkage and cost) and Arrow encoding; CPU seconds per span of each.
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
from kate.collector.cost.settings import CostConfig
from kate.collector.evaluation.scheduler import EvaluationScheduler, build_evaluators
from kate.collector.evaluation.settings import EvaluationConfig
from kate.collector.ingest.decode_spans import decode_spans
from kate.collector.ingest.map_spans import batch_of, linked_records
from kate.collector.ingest.sink import Sink
from kate.collector.ingest.wire import PROTOBUF, parse_request
from kate.collector.store.duckdb.store import DuckDBStore
from kate.collector.store.span_batch import SpanBatch
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

from bench.ingest import Payloads
from bench.workload import SPANS_PER_REQUEST

WRITE_TIMEOUT_S = 300.0


DECODE_STAGES = ("parse", "decode", "map", "arrow")  # decode_body's steps, in order


@dataclass(frozen=True)
class Halves:
    decode_cpu_us_per_span: float
    writer_spans_per_s: float
    writer_cpu_us_per_span: float  # this process, all threads (the writer and DuckDB's own)
    stage_cpu_us_per_span: dict[str, float]  # DECODE_STAGES → CPU µs per span; they add up to the decode


def measure(payloads: Payloads, requests: int, submitters: int, *, compress_text: bool = True) -> Halves:
    stage_cpu = dict.fromkeys(DECODE_STAGES, 0.0)
    batches = [_decoded(payloads, index, stage_cpu) for index in range(requests)]
    spans = sum(batch.count for batch in batches)
    spans_per_s, writer_cpu = asyncio.run(_write_alone(batches, submitters, StorageConfig(compress_text=compress_text)))
    per_span = {stage: seconds / spans * 1e6 for stage, seconds in stage_cpu.items()}
    return Halves(sum(per_span.values()), spans_per_s, writer_cpu / spans * 1e6, per_span)


def _decoded(payloads: Payloads, index: int, stage_cpu: dict[str, float]) -> SpanBatch:
    """decode_body's steps one by one (the functions it calls), each stage's CPU added to stage_cpu."""
    body = payloads.otlp[index % len(payloads.otlp)].fresh()
    clock = _cpu_seconds()

    def lap(stage: str) -> None:
        nonlocal clock
        now = _cpu_seconds()
        stage_cpu[stage] += now - clock
        clock = now

    request = parse_request(body, PROTOBUF)
    lap("parse")
    decoded = decode_spans(request)
    lap("decode")
    records, derived_run_rows = linked_records(decoded.spans, max_text_bytes=DEFAULT_MAX_TEXT_BYTES, cost=CostConfig())
    lap("map")
    batch = batch_of(records, derived_run_rows)
    lap("arrow")
    if decoded.rejected or batch.count != SPANS_PER_REQUEST:
        raise RuntimeError(f"request {index} decoded to {batch.count} spans, {len(decoded.rejected)} rejected")
    return batch


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
