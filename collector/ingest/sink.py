"""The one seam every ingestion path ends in: records in, committed rows out.

OTLP/HTTP, OTLP/gRPC and the JSON upload all call a Sink method with spans (OTLP logs: with
GenAI log records); it hands them to the span store (store/interfaces.py) and returns once they
are committed (ack after commit), counting them. It also carries the decode pool that turns
request bodies into span batches.
"""

from __future__ import annotations

from kate.collector import metrics
from kate.collector.ingest.decoding import DecodePool
from kate.collector.ingest.otlp_logs import DecodedLogs
from kate.collector.store.interfaces import IngestResult, SpanStore, StoredLogs
from kate.collector.store.span_batch import SpanBatch
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES


class Sink:
    def __init__(self, store: SpanStore, decoder: DecodePool | None = None) -> None:
        self._store = store
        self.decoder = decoder or DecodePool(0, DEFAULT_MAX_TEXT_BYTES)  # what OTLP receivers decode bodies with

    def require_room(self, body_bytes: int) -> None:
        """Raise Overloaded (503 / UNAVAILABLE with a retry hint) when a request of body_bytes
        would be refused by the decode pool or the write queue anyway: checked before the body
        is read or decoded, so refusals under overload stay cheap. Not a reservation: the queues
        still check when the work is handed over."""
        self.decoder.require_room(body_bytes)
        self._store.require_write_room()

    async def consume_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        """Store an upload to a running run, all or nothing."""
        metrics.INGEST_REQUESTS.labels("upload").inc()
        metrics.SPANS_RECEIVED.labels("upload").inc(batch.count)
        return await self._store.ingest_upload(agent_id, run_id, batch)

    async def consume_otlp(self, batch: SpanBatch, *, protocol: str) -> IngestResult:
        """Store OTLP spans, creating and completing their runs (docs/mapping.md#agents-and-runs); the runs that root
        spans complete are admitted for evaluation in the same transaction. protocol labels the
        metrics (otlp_http, otlp_grpc, hosted)."""
        metrics.INGEST_REQUESTS.labels(protocol).inc()
        metrics.SPANS_RECEIVED.labels(protocol).inc(batch.count)
        if not batch.count:
            return IngestResult(stored=0, completed_runs=())
        return await self._store.ingest_otlp(batch)

    async def consume_logs(self, logs: DecodedLogs) -> StoredLogs:
        """Store GenAI log records and fold their content into their spans (docs/mapping.md#genai-content-in-log-records)."""
        return await self._store.ingest_log_records(logs.records)
