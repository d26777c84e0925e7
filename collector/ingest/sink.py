"""The pipeline's last stage: decoded spans in, committed rows out (ack after commit).

Every path ends in consume(): OTLP/HTTP, OTLP/gRPC and hosted agents' frames with the
protocol's name, the JSON upload with the run it must go into. It counts the spans and hands
them to the span store (store/interfaces.py). It also carries the decode pool that turns
request bodies into span batches, and takes GenAI log records (consume_logs).
"""

from __future__ import annotations

from typing import NamedTuple

from kate.collector import metrics
from kate.collector.ingest.decode_logs import DecodedLogs
from kate.collector.ingest.decode_pool import DecodePool
from kate.collector.store.interfaces import IngestResult, SpanStore, StoredLogs
from kate.collector.store.span_batch import SpanBatch
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES


class RunRef(NamedTuple):
    """The run an upload goes into (its path's agent and run)."""

    agent_id: str
    run_id: str


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

    async def consume(self, batch: SpanBatch, *, protocol: str, into: RunRef | None = None) -> IngestResult:
        """Store spans. OTLP (into=None): their runs are created and completed as they say
        (docs/mapping.md#agents-and-runs), and the runs that root spans complete are admitted for
        evaluation in the same write. An upload (into=the agent's run): all or nothing, into that
        running run. protocol labels the metrics (otlp_http, otlp_grpc, hosted, upload)."""
        metrics.INGEST_REQUESTS.labels(protocol).inc()
        metrics.SPANS_RECEIVED.labels(protocol).inc(batch.count)
        if into is not None:
            return await self._store.ingest_upload(into.agent_id, into.run_id, batch)
        if not batch.count:
            return IngestResult(stored=0, completed_runs=())
        return await self._store.ingest_otlp(batch)

    async def consume_logs(self, logs: DecodedLogs) -> StoredLogs:
        """Store GenAI log records and fold their content into their spans (docs/mapping.md#genai-content-in-log-records)."""
        return await self._store.ingest_log_records(logs.records)
