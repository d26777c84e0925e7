"""The one seam every ingestion path ends in: records in, committed rows out.

OTLP/HTTP, OTLP/gRPC and the JSON upload all call a Sink method with spans (OTLP logs: with
GenAI log records); it hands them to the single writer and returns once they are committed (ack
after commit). It also carries the decode pool that turns request bodies into span batches, and
folds GenAI log content into the spans it belongs to (store/genai_logs.py).
"""

from __future__ import annotations

from kate.collector import metrics
from kate.collector.completion import CompletionHub, FollowUps
from kate.collector.ingest.decoding import DecodePool
from kate.collector.ingest.otlp_logs import DecodedLogs
from kate.collector.store.database import Database
from kate.collector.store.genai_logs import FoldSettings, LogFolding, StoredLogs, fold_into_new_spans, store_log_records
from kate.collector.store.runs import utc_now
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.spans import IngestResult, ingest_otlp_spans, insert_uploaded_spans
from kate.collector.store.writer import WriteTxn
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES


class Sink:
    def __init__(self, database: Database, completions: CompletionHub, decoder: DecodePool | None = None,
                 folding: LogFolding | None = None) -> None:
        self._database = database
        self._completions = completions
        self.decoder = decoder or DecodePool(0, DEFAULT_MAX_TEXT_BYTES)  # what OTLP receivers decode bodies with
        self._folding = folding or LogFolding(FoldSettings(DEFAULT_MAX_TEXT_BYTES, 24 * 3600.0))

    def require_room(self, body_bytes: int) -> None:
        """Raise Overloaded (503 / UNAVAILABLE with a retry hint) when a request of body_bytes
        would be refused by the decode pool or the write queue anyway: checked before the body
        is read or decoded, so refusals under overload stay cheap. Not a reservation: the queues
        still check when the work is handed over."""
        self.decoder.require_room(body_bytes)
        self._database.require_write_room()

    async def consume_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        """Store an upload to a running run, all or nothing."""
        metrics.INGEST_REQUESTS.labels("upload").inc()
        metrics.SPANS_RECEIVED.labels("upload").inc(batch.count)

        def upload(txn: WriteTxn) -> IngestResult:
            result = insert_uploaded_spans(txn, agent_id, run_id, batch)
            fold_into_new_spans(txn, batch, self._folding)
            return result

        return await self._database.write(upload, weight_bytes=batch.weight_bytes)

    async def consume_otlp(self, batch: SpanBatch, *, protocol: str) -> IngestResult:
        """Store OTLP spans, creating and completing their runs (docs/mapping.md#agents-and-runs); the runs that root
        spans complete are admitted for evaluation in the same transaction. protocol labels the
        metrics (otlp_http, otlp_grpc, hosted)."""
        metrics.INGEST_REQUESTS.labels(protocol).inc()
        metrics.SPANS_RECEIVED.labels(protocol).inc(batch.count)
        if not batch.count:
            return IngestResult(stored=0, completed_runs=())

        def ingest(txn: WriteTxn) -> tuple[IngestResult, FollowUps]:
            result = ingest_otlp_spans(txn, batch)
            fold_into_new_spans(txn, batch, self._folding)
            return result, self._completions.in_transaction(txn, result.completed_runs)

        result, follow_ups = await self._database.write(ingest, weight_bytes=batch.weight_bytes)
        follow_ups.run()
        return result


    async def consume_logs(self, logs: DecodedLogs) -> StoredLogs:
        """Store GenAI log records and fold their content into their spans (store/genai_logs.py)."""
        if not logs.records:
            return StoredLogs(0)
        return await self._database.write(
            lambda txn: store_log_records(txn, logs.records, self._folding, utc_now()), weight_bytes=logs.weight_bytes
        )
