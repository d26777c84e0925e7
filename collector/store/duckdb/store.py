"""The DuckDB engine behind the storage seam (interfaces.py): one file, one writer thread.

Each method is one read (a reader thread) or one write (a write op in the single writer's
group transaction, answered after COMMIT) over the SQL modules beside this one. Run completions
call the CompletionHub inside the completing transaction, and its follow-ups run once that
transaction committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, cast

from kate.collector.completion import CompletedRun, CompletionHub, FollowUps
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.evaluation.evaluator import EvaluationSubject
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.ingest.decode_logs import GenAiLogRecord, weight_bytes
from kate.collector.store.duckdb import agent_spans, agents, evaluations, exports, jobs, readonly, retention, runs, sessions, span_reads
from kate.collector.store.duckdb.database import Database
from kate.collector.store.duckdb.evaluations import CooldownClocks
from kate.collector.store.duckdb.genai_logs import LogFolding, fold_into_new_spans, store_log_records
from kate.collector.store.duckdb.spans import ingest_otlp_spans, insert_uploaded_spans
from kate.collector.store.duckdb.writer import WriteTxn
from kate.collector.store.genai_folding import FoldSettings
from kate.collector.store.interfaces import SqlParams, WriteScope
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import (
    AgentSpanFilter,
    AgentSpanPage,
    Claim,
    ClaimRequest,
    DataSize,
    Deleted,
    DueRun,
    ExportPage,
    ExportTable,
    ExportWindow,
    IngestResult,
    NewRun,
    Outcome,
    Page,
    RunFilter,
    SpanOrder,
    SpanPage,
    StoredLogs,
    Ticket,
    utc_now,
)
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

DEFAULT_FOLD = FoldSettings(DEFAULT_MAX_TEXT_BYTES, 24 * 3600.0)


class DuckDBStore:
    """interfaces.Store over one DuckDB file."""

    def __init__(self, path: str | Path, settings: StorageConfig, completions: CompletionHub,
                 fold: FoldSettings = DEFAULT_FOLD, queue: QueueConfig | None = None) -> None:
        self.database = Database(path, settings, queue)
        self._spans = _Spans(self.database, completions, LogFolding(fold))
        self._runs = _Runs(self.database, completions)
        self._jobs = _Jobs(self.database, completions)
        self._evaluations = _Evaluations(self.database)
        self._analysis = _Analysis(self.database)
        self._retention = _Retention(self.database)

    @property
    def spans(self) -> _Spans:
        return self._spans

    @property
    def runs(self) -> _Runs:
        return self._runs

    @property
    def jobs(self) -> _Jobs:
        return self._jobs

    @property
    def evaluations(self) -> _Evaluations:
        return self._evaluations

    @property
    def analysis(self) -> _Analysis:
        return self._analysis

    @property
    def retention(self) -> _Retention:
        return self._retention

    @property
    def rate_limits(self) -> None:
        return None  # one collector owns the file: its buckets in memory are the only ones

    @property
    def is_open(self) -> bool:
        return self.database.is_open

    def open(self) -> None:
        self.database.open()

    def close(self) -> None:
        self.database.close()

    async def start(self) -> None:
        self.open()

    async def stop(self) -> None:
        self.close()

    def write_queue(self) -> tuple[int, int]:
        return self.database.write_queue()


class _Spans:
    def __init__(self, database: Database, completions: CompletionHub, folding: LogFolding) -> None:
        self._database = database
        self._completions = completions
        self._folding = folding

    def require_write_room(self) -> None:
        self._database.require_write_room()

    async def ingest_otlp(self, batch: SpanBatch) -> IngestResult:
        def ingest(txn: WriteTxn) -> tuple[IngestResult, FollowUps]:
            result = ingest_otlp_spans(txn, batch)
            fold_into_new_spans(txn, batch, self._folding)
            return result, self._completions.in_transaction(txn, result.completed_runs)

        result, follow_ups = await self._database.write(ingest, weight_bytes=batch.weight_bytes)
        follow_ups.run()
        return result

    async def ingest_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        def upload(txn: WriteTxn) -> IngestResult:
            result = insert_uploaded_spans(txn, agent_id, run_id, batch)
            fold_into_new_spans(txn, batch, self._folding)
            return result

        return await self._database.write(upload, weight_bytes=batch.weight_bytes)

    async def ingest_log_records(self, records: Sequence[GenAiLogRecord]) -> StoredLogs:
        if not records:
            return StoredLogs(0)
        return await self._database.write(lambda txn: store_log_records(txn, records, self._folding, utc_now()),
                                          weight_bytes=weight_bytes(records))

    async def run_spans(self, agent_id: str, run_id: str, *, limit: int, after: str | None,
                        span_kind: str | None) -> SpanPage:
        def read(cursor: Any) -> SpanPage:
            total = runs.span_count_of_run(cursor, agent_id, run_id)  # NotFound for an unknown or another agent's run
            return span_reads.list_run_spans(cursor, run_id, total=total, limit=limit, after=after, span_kind=span_kind)

        return await self._database.read(read)

    async def agent_spans(self, agent_id: str, filters: AgentSpanFilter, *, order: SpanOrder, limit: int,
                          after: str | None) -> AgentSpanPage:
        return await self._database.read(
            lambda c: agent_spans.list_agent_spans(c, agent_id, filters, order=order, limit=limit, after=after))


class _Runs:
    def __init__(self, database: Database, completions: CompletionHub) -> None:
        self._database = database
        self._completions = completions

    async def list(self, agent_id: str, filters: RunFilter, limit: int, after: str | None) -> Page:
        return await self._database.read(lambda c: runs.list_runs(c, agent_id, filters, limit, after))

    async def get(self, agent_id: str, run_id: str) -> dict[str, Any]:
        return await self._database.read(lambda c: runs.get_run(c, agent_id, run_id))

    async def create(self, run: NewRun) -> None:
        await self._database.write(lambda txn: runs.insert_run(txn, run))

    async def complete(self, agent_id: str, run_id: str) -> None:
        def complete(txn: WriteTxn) -> FollowUps:
            runs.complete_run(txn, agent_id, run_id)
            return self._completions.in_transaction(txn, [CompletedRun(agent_id, run_id)])

        (await self._database.write(complete)).run()

    async def fail(self, agent_id: str, run_id: str, error: str | None) -> None:
        await self._database.write(lambda txn: runs.fail_run(txn, agent_id, run_id, error))

    async def require_running(self, agent_id: str, run_id: str) -> None:
        await self._database.read(lambda c: runs.check_running(c, agent_id, run_id))

    async def agents(self, *, hosted: Collection[str], allowed: Collection[str] | None, limit: int,
                     after: str | None) -> Page:
        return await self._database.read(
            lambda c: agents.list_agents(c, hosted=hosted, allowed=allowed, limit=limit, after=after))

    async def sessions(self, agent_id: str, limit: int, after: str | None) -> Page:
        return await self._database.read(lambda c: sessions.list_sessions(c, agent_id, limit, after))

    async def session_runs(self, agent_id: str, session_id: str, limit: int, after: str | None) -> Page:
        return await self._database.read(lambda c: sessions.session_runs(c, agent_id, session_id, limit, after))


class _Jobs:
    def __init__(self, database: Database, completions: CompletionHub) -> None:
        self._database = database
        self._completions = completions

    async def enqueue(self, run: NewRun, job_id: str) -> None:
        await self._database.write(lambda txn: jobs.enqueue_job(txn, run, job_id, utc_now()))

    async def get(self, job_id: str) -> dict[str, Any]:
        return await self._database.read(lambda c: jobs.get_job(c, job_id))

    async def claim(self, request: ClaimRequest) -> list[Claim]:
        return await self._database.write(lambda txn: jobs.claim_jobs(txn, request, utc_now()))

    async def renew(self, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
        return await self._database.write(lambda txn: jobs.renew_leases(txn, claims, lease_until))

    async def finish(self, claim: Claim, output: str | None) -> None:
        now = utc_now()

        def finish(txn: WriteTxn) -> FollowUps:
            if not jobs.finish_job(txn, claim, output, now):
                return FollowUps()
            return self._completions.in_transaction(txn, [CompletedRun(claim.agent_id, claim.run_id)])

        (await self._database.write(finish)).run()

    async def fail_attempt(self, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None) -> None:
        now = utc_now()
        await self._database.write(lambda txn: jobs.fail_attempt(txn, claim, error, detail, retry_at, now))

    async def release(self, claims: Sequence[Claim]) -> None:
        await self._database.write(lambda txn: jobs.release_jobs(txn, claims))


class _Evaluations:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._clocks = CooldownClocks()  # the agents' cooldown clocks as committed (write ops only)

    def admit(self, scope: WriteScope, runs: Sequence[CompletedRun], policy: CooldownPolicy) -> list[Ticket]:
        return evaluations.admit_evaluations(cast(WriteTxn, scope), runs, policy, utc_now(), self._clocks)

    async def force(self, agent_id: str, run_id: str) -> Ticket:
        return await self._database.write(
            lambda txn: evaluations.force_evaluation(txn, agent_id, run_id, utc_now(), self._clocks))

    async def pending(self, admitted_before: dt.datetime) -> list[Ticket]:
        return await self._database.read(lambda c: evaluations.list_pending(c, admitted_before))

    async def claim(self, ticket: Ticket) -> bool:
        # One process writes the file: still pending is enough (the scheduler runs a ticket once).
        return await self._database.read(lambda c: evaluations.is_pending(c, ticket))

    async def release(self, ticket: Ticket) -> None:
        return None

    async def subject(self, run_id: str, max_spans: int) -> EvaluationSubject:
        return await self._database.read(lambda c: evaluations.load_subject(c, run_id, max_spans))

    async def record(self, outcome: Outcome) -> bool:
        return await self._database.write(lambda txn: evaluations.record_evaluation(txn, outcome, utc_now()))


class _Analysis:
    dialect = "DuckDB"
    tables = ("runs", "spans", "evaluations", "jobs", "genai_log_records", "span_details", "run_summary",
              "model_usage_daily", "node_latency", "evaluation_scores", "sessions")

    def __init__(self, database: Database) -> None:
        self._database = database

    async def query_json(self, sql: str, params: SqlParams, *, max_rows: int, max_bytes: int,
                         timeout_s: float) -> bytes:
        return await self._database.read(
            lambda c: readonly.run_readonly_query(c, sql, params, max_rows, max_bytes).to_json_bytes(),
            timeout_s=timeout_s)

    async def export_page(self, table: ExportTable, window: ExportWindow, limit: int,
                          after: tuple[Any, ...] | None = None) -> ExportPage:
        return await self._database.read(lambda c: exports.export_page(c, table, window, limit, after))

    async def ping(self, timeout_s: float) -> None:
        await self._database.read(lambda c: c.execute("SELECT 1").fetchall(), timeout_s=timeout_s)


class _Retention:
    def __init__(self, database: Database) -> None:
        self._database = database

    @property
    def runs_per_delete(self) -> None:
        return None  # retention.slice_runs: each slice is a write transaction

    async def data_size(self) -> DataSize:
        return await self._database.read(retention.data_size)

    async def expired_runs(self, default_cutoff: dt.datetime | None,
                           cutoff_by_agent: dict[str, dt.datetime | None], limit: int) -> list[DueRun]:
        return await self._database.read(lambda c: retention.expired_runs(c, default_cutoff, cutoff_by_agent, limit))

    async def oldest_runs(self, limit: int, after: tuple[dt.datetime, str] | None) -> list[DueRun]:
        return await self._database.read(lambda c: retention.oldest_runs(c, limit, after))

    async def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        return await self._database.write(lambda txn: retention.delete_runs(txn, list(run_ids)))
