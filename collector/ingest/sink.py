"""The one seam every ingestion path ends in: records in, committed rows out.

OTLP/HTTP, OTLP/gRPC and the JSON upload all call a Sink method with SpanRecords; it hands
them to the single writer and returns once they are committed (ack after commit). It also
carries the decode pool the OTLP receivers turn request bodies into records with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kate.collector.completion import CompletionHub
from kate.collector.ingest.decoding import DecodePool
from kate.collector.store.database import Database
from kate.collector.store.spans import IngestResult, ingest_otlp_spans, insert_uploaded_spans
from kate.schema.record import SpanRecord
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES


class Sink:
    def __init__(self, database: Database, completions: CompletionHub, decoder: DecodePool | None = None) -> None:
        self._database = database
        self._completions = completions
        self.decoder = decoder or DecodePool(0, DEFAULT_MAX_TEXT_BYTES)  # what OTLP receivers decode bodies with

    async def consume_upload(self, agent_id: str, run_id: str, records: Sequence[SpanRecord]) -> IngestResult:
        """Store an upload to a running run, all or nothing."""
        return await self._database.write(
            lambda txn: insert_uploaded_spans(txn, agent_id, run_id, records),
            weight_bytes=estimate_bytes(records),
        )

    async def consume_otlp(self, records: Sequence[SpanRecord]) -> IngestResult:
        """Store OTLP spans, creating and completing their runs (design §5)."""
        if not records:
            return IngestResult(stored=0, completed_run_ids=())
        result = await self._database.write(
            lambda txn: ingest_otlp_spans(txn, records), weight_bytes=estimate_bytes(records)
        )
        if result.completed_run_ids:
            agents = {record.run_id: record.agent_id for record in records}
            # One request often completes many runs: hand them over together, so that their
            # admission writes share the writer's next group commit instead of taking one
            # commit each, one after the other, before the export is answered.
            await asyncio.gather(*(
                self._completions.runs_completed([(agents[run_id], run_id)]) for run_id in result.completed_run_ids
            ))
        return result


def estimate_bytes(records: Sequence[SpanRecord]) -> int:
    """Approximate memory held by queued records (texts dominate), for the queue's byte bound."""
    total = 0
    for record in records:
        total += 400 + len(record.input_text or "") + len(record.output_text or "")
        total += len(record.attributes) + len(record.events) + len(record.resource)
    return total
