"""Span bodies (OTLP and JSON uploads) to span batches in worker processes, on another core.

Parsing, decoding and mapping a 512-span request is ~20 ms of pure Python: on the event loop
it holds the GIL that the single writer needs for DuckDB, so both would share one core. A small
pool of processes does that work instead, and hands back an Arrow batch (span_batch.py): the
loop and the writer only move bytes. Small bodies are decoded inline, where a round trip to a
worker would cost more than it saves. Bodies waiting for a worker are bounded in count and
bytes like the write queue, and refused with Overloaded (503 / UNAVAILABLE) beyond. No store,
no sink.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.process
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kate.collector.config import QueueConfig
from kate.collector.cost.settings import CostConfig
from kate.collector.errors import Overloaded
from kate.collector.ingest.decode_logs import DecodedLogs, decode_logs_body
from kate.collector.ingest.decode_spans import Rejection, decode_spans
from kate.collector.ingest.decode_upload import DecodedUpload, UploadTarget, decode_upload
from kate.collector.ingest.map_spans import to_span_batch
from kate.collector.ingest.wire import PROTOBUF, parse_request
from kate.collector.store.span_batch import SpanBatch
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

logger = logging.getLogger(__name__)
T = TypeVar("T")
INLINE_MAX_BYTES = 64 * 1024  # below this, the IPC round trip costs more than the decode
_PARENT_CHECK_S = 0.5
MAX_DEFAULT_WORKERS = 4
PENDING_PER_WORKER = 8  # bodies waiting per worker: ~160 ms of work, enough to keep it busy


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    spans: SpanBatch
    rejected: list[Rejection]


def decode_body(body: bytes, media_type: str, max_text_bytes: int, cost: CostConfig | None = None) -> DecodedBatch:
    """Parse (raises BadRequest), decode, map and price one OTLP trace body, into an Arrow batch."""
    decoded = decode_spans(parse_request(body, media_type))
    batch = to_span_batch(decoded.spans, max_text_bytes=max_text_bytes, cost=cost or CostConfig())
    return DecodedBatch(batch, decoded.rejected)


def default_workers() -> int:
    """One per CPU (at most MAX_DEFAULT_WORKERS). Since the writer inserts Arrow batches, the
    collector process leaves enough CPU for a second worker on 2 cores (OTLP/HTTP, 4 senders,
    alternating runs: 1 worker 14,600 and 13,600 spans/s, 2 workers 15,600 and 15,300; ack
    p50 118-131 against 99-102 ms). Decoding a request stays serial: more workers only help
    when requests arrive together."""
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


class DecodePool:
    """`workers` processes decoding OTLP bodies (None: default_workers()); 0 decodes everything
    on the calling thread. The queue limits and Retry-After come from the storage settings;
    cost is how spans are priced (it travels with each body: a small frozen value)."""

    def __init__(self, workers: int | None, max_text_bytes: int, limits: QueueConfig | None = None,
                 cost: CostConfig | None = None) -> None:
        self._workers = default_workers() if workers is None else workers
        self._max_text_bytes = max_text_bytes
        self.cost = cost or CostConfig()
        self._limits = limits or QueueConfig()
        self._max_pending = min(self._limits.max_items, PENDING_PER_WORKER * max(1, self._workers))
        self._pending = 0  # bodies handed to the pool and not decoded yet (event loop only)
        self._pending_bytes = 0
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the processes: spawned, as the collector already runs threads (fork is unsafe
        then), and each watching that the collector is still its parent."""
        if self._executor is not None:
            return
        if self._workers <= 0:
            warm_up(self.cost)  # bodies are decoded in this process
            return
        self._executor = concurrent.futures.ProcessPoolExecutor(
            self._workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent, initargs=(os.getpid(),),
        )
        for future in [self._executor.submit(warm_up, self.cost) for _ in range(self._workers)]:
            future.result()  # imports done before the first request is timed
        logger.info("decoding OTLP in %d worker process(es)", self._workers)

    def stop(self) -> None:
        """Let running decodes finish and end the processes. Safe to call twice."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def decode(self, body: bytes, media_type: str) -> DecodedBatch:
        """The spans and rejections of one OTLP body. Raises BadRequest for an undecodable body."""
        return await self._run(len(body), decode_body, body, media_type, self._max_text_bytes, self.cost)

    async def decode_logs(self, body: bytes, media_type: str) -> DecodedLogs:
        """The GenAI records of one OTLP logs body. Raises BadRequest for an undecodable body."""
        return await self._run(len(body), decode_logs_body, body, media_type)

    async def decode_upload(self, raw: bytes, target: UploadTarget) -> DecodedUpload:
        """The spans of one JSON upload body; BadRequest or ValidationError as decode_upload()."""
        return await self._run(len(raw), decode_upload, raw, target)

    async def _run(self, size: int, decode: Callable[..., T], *args: Any) -> T:
        """decode(*args) in a worker (inline for a small body or without workers). Its errors
        (BadRequest, ValidationError) cross from the worker as they were raised."""
        executor = self._executor
        if executor is None or size < INLINE_MAX_BYTES:
            return decode(*args)
        self._admit(size)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, decode, *args)
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (killed, out of memory): replace the pool, and decode this body here.
            logger.exception("a decode worker died; restarting the pool")
            self._replace(executor)
            return decode(*args)
        finally:
            self._pending -= 1
            self._pending_bytes -= size

    @property
    def pending(self) -> int:
        """Bodies handed to the workers and not decoded yet."""
        return self._pending

    def require_room(self, size: int) -> None:
        """Raise Overloaded when a body of size bytes would wait for a worker beyond the bounds."""
        if self._executor is None or size < INLINE_MAX_BYTES:
            return  # decoded inline: never queued
        full = self._pending >= self._max_pending or (
            self._pending > 0 and self._pending_bytes + size > self._limits.max_bytes
        )
        if full:
            msg = f"decode queue is full ({self._pending} requests, {self._pending_bytes} bytes)"
            raise Overloaded(msg, retry_after_s=self._limits.retry_after_s)

    def _admit(self, size: int) -> None:
        """Count a body in, or refuse it when the bodies waiting for a worker are too many."""
        self.require_room(size)
        self._pending += 1
        self._pending_bytes += size

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        if self._executor is not broken:
            return  # another request replaced it already
        self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)
        self.start()


def warm_up(cost: CostConfig) -> None:
    """Decode one small LLM span, so that what decoding loads on first use is loaded before the
    first request: pyarrow imports pandas when it first builds an array, pricing imports
    genai-prices (together ~1 s; the first request after start waited for them, measured)."""
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x01" * 8, name="kate warm-up", start_time_unix_nano=1,
                end_time_unix_nano=2, attributes=[
                    KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="gpt-4o")),
                    KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=1))])
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
    decode_body(request.SerializeToString(), PROTOBUF, 1024, cost)


def _watch_parent(parent_pid: int) -> None:
    """Exit once the collector is gone: a SIGKILLed collector cannot stop its workers, and a
    worker blocked on its task queue would otherwise wait forever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="kate-parent-watch", daemon=True).start()
