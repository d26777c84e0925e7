"""The clickhouse engine's SpanStore: the three-step write (store.py explains the order) and the
reads of spans, bounded by the writes this collector has under way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from kate.collector.completion import CompletedRun, CompletionHub, FollowUps
from kate.collector.config import QueueConfig
from kate.collector.errors import Overloaded
from kate.collector.ingest.decode_logs import GenAiLogRecord, weight_bytes
from kate.collector.store.clickhouse import genai_logs
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.servers import Servers
from kate.collector.store.duckdb.run_texts import batch_texts, texts_of
from kate.collector.store.genai_folding import FoldSettings, SpanKey, Window, record_times
from kate.collector.store.postgres import genai_pending
from kate.collector.store.postgres import runs as pg_runs
from kate.collector.store.postgres.database import ControlTxn
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import (
    AgentSpanFilter,
    AgentSpanPage,
    IngestResult,
    RunSource,
    RunStatus,
    SpanOrder,
    SpanPage,
    StoredLogs,
    utc_now,
)


class InFlight:
    """The writes this collector has under way: the queue bound of the DuckDB engine, here a
    bound on requests waiting for ClickHouse and PostgreSQL (503 with Retry-After past it)."""

    def __init__(self, queue: QueueConfig) -> None:
        self._queue = queue
        self.requests = 0
        self.bytes = 0

    def require_room(self) -> None:
        if self.requests >= self._queue.max_items or self.bytes >= self._queue.max_bytes:
            raise Overloaded(f"{self.requests} writes are waiting for the storage servers; retry shortly",
                             retry_after_s=self._queue.retry_after_s)

    @contextlib.contextmanager
    def holding(self, weight: int) -> Iterator[None]:
        """Count a write as under way for the block."""
        self.requests += 1
        self.bytes += weight
        try:
            yield
        finally:
            self.requests -= 1
            self.bytes -= weight


class Spans:
    def __init__(self, servers: Servers, completions: CompletionHub, in_flight: InFlight, fold: FoldSettings) -> None:
        self._servers = servers
        self._completions = completions
        self._in_flight = in_flight
        self._fold = fold

    def require_write_room(self) -> None:
        self._in_flight.require_room()

    async def ingest_otlp(self, batch: SpanBatch) -> IngestResult:
        servers = self._servers
        with self._in_flight.holding(batch.weight_bytes):
            settled = await servers.control.run(lambda txn: pg_runs.claim_otlp_runs(txn, batch))
            batch = settled.batch
            await ch_spans.insert_spans(servers.clickhouse, batch, utc_now())
            rooted = sorted(batch.rooted_runs)
            finishing = [run_id for run_id in rooted if run_id not in settled.stored
                         or settled.stored[run_id].status == RunStatus.RUNNING.value]
            again = [run_id for run_id in rooted if run_id not in finishing
                     and settled.stored[run_id].source == RunSource.OTLP.value]
            texts = batch_texts(batch, finishing)
            if again:  # roots stored before may come first or last: decided over all of them
                texts.update(texts_of(await ch_spans.stored_roots(servers.clickhouse, again)))

            def complete(txn: ControlTxn) -> tuple[list[CompletedRun], FollowUps, dict[SpanKey, Window]]:
                completed = pg_runs.finish_otlp_runs(txn, texts, finishing)
                pg_runs.update_texts(txn, {run_id: texts[run_id] for run_id in again if run_id in texts})
                pg_runs.adopt_session_ids(txn, batch)
                awaited = genai_pending.awaited_among(txn, batch)
                return completed, self._completions.in_transaction(txn, completed), awaited

            completed, follow_ups, awaited = await servers.control.run(complete)
            try:
                await self._fold_awaited(awaited)
            finally:
                follow_ups.run()  # the runs completed whatever the fold does; a retry folds again
        return IngestResult(stored=batch.count, completed_runs=tuple(completed), refused=settled.refused)

    async def ingest_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        servers = self._servers
        with self._in_flight.holding(batch.weight_bytes):
            await servers.control.run(lambda txn: pg_runs.check_running(txn, agent_id, run_id))
            await ch_spans.insert_spans(servers.clickhouse, batch, utc_now())

            def adopt(txn: ControlTxn) -> dict[SpanKey, Window]:
                pg_runs.adopt_session_ids(txn, batch)
                return genai_pending.awaited_among(txn, batch)

            await self._fold_awaited(await servers.control.run(adopt))
        return IngestResult(stored=batch.count, completed_runs=())

    async def ingest_log_records(self, records: Sequence[GenAiLogRecord]) -> StoredLogs:
        """Store the records, mark their spans as awaited, then fold those already stored
        (genai_logs.py: why in this order)."""
        if not records:
            return StoredLogs(0)
        servers = self._servers
        windows = record_times(records)
        with self._in_flight.holding(weight_bytes(records)):
            stored = await genai_logs.store_records(servers.clickhouse, records, utc_now())
            await servers.control.run(
                lambda txn: genai_pending.wait_for_spans(txn, windows, self._fold.pending_max_age_s))
            await self._fold_awaited(windows)
        return StoredLogs(stored)

    async def _fold_awaited(self, windows: dict[SpanKey, Window]) -> None:
        """Fold the records into those of the awaited spans that are stored, and stop awaiting them."""
        if not windows:
            return
        folded = await genai_logs.fold(self._servers.clickhouse, windows, self._fold.max_text_bytes)
        if folded.found:
            def settle(txn: ControlTxn) -> None:
                pg_runs.update_texts(txn, folded.run_texts)
                genai_pending.stop_waiting(txn, folded.found)

            await self._servers.control.run(settle)

    async def run_spans(self, agent_id: str, run_id: str, *, limit: int, after: str | None,
                        span_kind: str | None) -> SpanPage:
        # NotFound for an unknown run or another agent's, before any span is read
        await self._servers.control.run(lambda txn: pg_runs.run_status(txn, agent_id, run_id))
        return await ch_spans.run_span_page(self._servers.clickhouse, agent_id, run_id, limit=limit, after=after,
                                            span_kind=span_kind)

    async def agent_spans(self, agent_id: str, filters: AgentSpanFilter, *, order: SpanOrder, limit: int,
                          after: str | None) -> AgentSpanPage:
        return await ch_spans.agent_span_page(self._servers.clickhouse, agent_id, filters, order=order, limit=limit,
                                              after=after)
