"""The scale-out engine behind the storage seam: spans on ClickHouse, runs on PostgreSQL.

Several collectors share both servers; nothing a request depends on lives in one process.
An OTLP write is three steps (interfaces.py explains why this order is safe):
1. control store: settle which agent owns each run the batch names and create the new runs,
   under a lock per run id (postgres/runs.py), before a span is stored;
2. ClickHouse: insert the settled spans in one insert; a retry stores them again and reads
   deduplicate (clickhouse/spans.py);
3. control store: complete the runs whose root span came, with their texts, and admit them
   for evaluation in the same transaction; a guarded UPDATE completes a run once.
The sender is answered only after step 3 committed. A crash before that leaves no
acknowledged span: the sender retries, step 1 finds the runs, step 2 stores duplicates that
reads fold, step 3 completes what is not complete yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, NoReturn, cast

from kate.collector.completion import CompletedRun, CompletionHub, FollowUps
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.errors import NotImplementedByEngine, Overloaded
from kate.collector.evaluation.evaluator import EvaluationSubject, SpanFacts
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.analysis import run_readonly_query
from kate.collector.store.clickhouse.client import ClickHouseClient
from kate.collector.store.clickhouse.schema import create_tables
from kate.collector.store.duckdb.run_texts import batch_texts, texts_of
from kate.collector.store.interfaces import SqlParams, WriteScope
from kate.collector.store.postgres import evaluations as pg_evaluations
from kate.collector.store.postgres import jobs as pg_jobs
from kate.collector.store.postgres import rate_limits as pg_rate_limits
from kate.collector.store.postgres import retention as pg_retention
from kate.collector.store.postgres import runs as pg_runs
from kate.collector.store.postgres.database import ControlDatabase, ControlTxn
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
    RunSource,
    RunStatus,
    SpanOrder,
    SpanPage,
    StoredLogs,
    Ticket,
    utc_now,
)


def _lacks(feature: str) -> NoReturn:
    raise NotImplementedByEngine(f"{feature} is not available with storage.engine: clickhouse yet "
                                 "(docs/deployment.md#what-the-clickhouse-engine-does-not-do-yet)")


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

    def enter(self, weight: int) -> None:
        self.requests += 1
        self.bytes += weight

    def leave(self, weight: int) -> None:
        self.requests -= 1
        self.bytes -= weight


class ClickHouseStore:
    """interfaces.Store over a ClickHouse server or cluster and a PostgreSQL database."""

    def __init__(self, settings: StorageConfig, completions: CompletionHub, queue: QueueConfig) -> None:
        assert settings.control_url is not None, "checked by the configuration"
        self.clickhouse = ClickHouseClient(settings.clickhouse)
        self.control = ControlDatabase(settings.control_url)
        self.in_flight = InFlight(queue)
        self._spans = _Spans(self, completions)
        self._runs = _Runs(self, completions)
        self._jobs = _Jobs(self, completions)
        self._evaluations = _Evaluations(self)
        self._analysis = _Analysis(self)
        self._retention = _Retention(self)
        self._rate_limits = _RateLimits(self.control)
        self._open = False

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
    def rate_limits(self) -> _RateLimits:
        return self._rate_limits

    @property
    def is_open(self) -> bool:
        return self._open

    async def start(self) -> None:
        """Connect to both servers and create or upgrade the tables (idempotent: every collector
        does it at start)."""
        await self.clickhouse.start()
        try:
            await create_tables(self.clickhouse)
            self.control.open()
        except BaseException:
            await self.clickhouse.close()
            raise
        self._open = True

    async def stop(self) -> None:
        if self._open:
            self._open = False
            self.control.close()
            await self.clickhouse.close()

    def write_queue(self) -> tuple[int, int]:
        return self.in_flight.requests, self.in_flight.bytes

    async def run_totals(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """api_runs rows with span_count, total_tokens and total_cost_usd summed on ClickHouse, in
        the DuckDB engine's key order."""
        totals = await ch_spans.run_totals(self.clickhouse, [row["id"] for row in rows])
        shaped = []
        for row in rows:
            counted = totals.get(row["id"], {"span_count": 0, "total_tokens": 0, "total_cost_usd": None})
            scores = row.pop("scores")
            session_id, user_id = row.pop("session_id"), row.pop("user_id")
            shaped.append({**row, **counted, "session_id": session_id, "user_id": user_id, "scores": scores})
        return shaped


class _Spans:
    def __init__(self, store: ClickHouseStore, completions: CompletionHub) -> None:
        self._store = store
        self._completions = completions

    def require_write_room(self) -> None:
        self._store.in_flight.require_room()

    async def ingest_otlp(self, batch: SpanBatch) -> IngestResult:
        store = self._store
        store.in_flight.enter(batch.weight_bytes)
        try:
            settled = await store.control.run(lambda txn: pg_runs.claim_otlp_runs(txn, batch))
            batch = settled.batch
            await ch_spans.insert_spans(store.clickhouse, batch, utc_now())
            rooted = sorted(batch.rooted_runs)
            finishing = [run_id for run_id in rooted if run_id not in settled.stored
                         or settled.stored[run_id].status == RunStatus.RUNNING.value]
            again = [run_id for run_id in rooted if run_id not in finishing
                     and settled.stored[run_id].source == RunSource.OTLP.value]
            texts = batch_texts(batch, finishing)
            if again:  # roots stored before may come first or last: decided over all of them
                texts.update(texts_of(await ch_spans.stored_roots(store.clickhouse, again)))

            def complete(txn: ControlTxn) -> tuple[list[CompletedRun], FollowUps]:
                completed = pg_runs.finish_otlp_runs(txn, texts, finishing)
                pg_runs.update_texts(txn, {run_id: texts[run_id] for run_id in again if run_id in texts})
                pg_runs.adopt_session_ids(txn, batch)
                return completed, self._completions.in_transaction(txn, completed)

            completed, follow_ups = await store.control.run(complete)
        finally:
            store.in_flight.leave(batch.weight_bytes)
        follow_ups.run()
        return IngestResult(stored=batch.count, completed_runs=tuple(completed), refused=settled.refused)

    async def ingest_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        store = self._store
        store.in_flight.enter(batch.weight_bytes)
        try:
            await store.control.run(lambda txn: pg_runs.check_running(txn, agent_id, run_id))
            await ch_spans.insert_spans(store.clickhouse, batch, utc_now())
            await store.control.run(lambda txn: pg_runs.adopt_session_ids(txn, batch))
        finally:
            store.in_flight.leave(batch.weight_bytes)
        return IngestResult(stored=batch.count, completed_runs=())

    async def ingest_log_records(self, records: Sequence[GenAiLogRecord]) -> StoredLogs:
        if not records:
            return StoredLogs(0)
        _lacks("storing GenAI log records")

    async def run_spans(self, agent_id: str, run_id: str, *, limit: int, after: str | None,
                        span_kind: str | None) -> SpanPage:
        await self._store.control.run(lambda txn: pg_runs.agent_of_run(txn, agent_id, run_id))
        return await ch_spans.run_span_page(self._store.clickhouse, agent_id, run_id, limit=limit, after=after,
                                            span_kind=span_kind)

    async def agent_spans(self, agent_id: str, filters: AgentSpanFilter, *, order: SpanOrder, limit: int,
                          after: str | None) -> AgentSpanPage:
        return await ch_spans.agent_span_page(self._store.clickhouse, agent_id, filters, order=order, limit=limit,
                                              after=after)


class _Runs:
    def __init__(self, store: ClickHouseStore, completions: CompletionHub) -> None:
        self._store = store
        self._completions = completions

    async def list(self, agent_id: str, filters: RunFilter, limit: int, after: str | None) -> Page:
        def read(txn: ControlTxn) -> tuple[list[dict[str, Any]], str | None]:
            ids, next_cursor = pg_runs.run_keys(txn, agent_id, filters, limit, after)
            return pg_runs.api_runs(txn, ids), next_cursor

        rows, next_cursor = await self._store.control.run(read)
        return Page(items=await self._store.run_totals(rows), next_cursor=next_cursor)

    async def get(self, agent_id: str, run_id: str) -> dict[str, Any]:
        def read(txn: ControlTxn) -> list[dict[str, Any]]:
            pg_runs.agent_of_run(txn, agent_id, run_id)
            return pg_runs.api_runs(txn, [run_id])

        rows = await self._store.control.run(read)
        (run,) = await self._store.run_totals(rows)
        return run

    async def create(self, run: NewRun) -> None:
        await self._store.control.run(lambda txn: pg_runs.insert_run(txn, run))

    async def complete(self, agent_id: str, run_id: str) -> None:
        def complete(txn: ControlTxn) -> FollowUps:
            pg_runs.complete_run(txn, agent_id, run_id)
            return self._completions.in_transaction(txn, [CompletedRun(agent_id, run_id)])

        (await self._store.control.run(complete)).run()

    async def fail(self, agent_id: str, run_id: str, error: str | None) -> None:
        await self._store.control.run(lambda txn: pg_runs.fail_run(txn, agent_id, run_id, error))

    async def require_running(self, agent_id: str, run_id: str) -> None:
        await self._store.control.run(lambda txn: pg_runs.check_running(txn, agent_id, run_id))

    async def agents(self, *, hosted: Collection[str], allowed: Collection[str] | None, limit: int,
                     after: str | None) -> Page:
        return await self._store.control.run(
            lambda txn: pg_runs.list_agents(txn, hosted=hosted, allowed=allowed, limit=limit, after=after))

    async def sessions(self, agent_id: str, limit: int, after: str | None) -> Page:
        rows, run_ids, next_cursor = await self._store.control.run(
            lambda txn: pg_runs.session_page(txn, agent_id, limit, after))
        totals = await ch_spans.run_totals(self._store.clickhouse, [run_id for ids in run_ids.values() for run_id in ids])
        return Page(items=[_session(row, [totals[run_id] for run_id in run_ids[row["session_id"]] if run_id in totals])
                           for row in rows], next_cursor=next_cursor)

    async def session_runs(self, agent_id: str, session_id: str, limit: int, after: str | None) -> Page:
        def read(txn: ControlTxn) -> tuple[list[dict[str, Any]], str | None]:
            ids, next_cursor = pg_runs.session_run_keys(txn, agent_id, session_id, limit, after)
            return pg_runs.api_runs(txn, ids), next_cursor

        rows, next_cursor = await self._store.control.run(read)
        return Page(items=await self._store.run_totals(rows), next_cursor=next_cursor)


def _session(row: dict[str, Any], totals: list[dict[str, Any]]) -> dict[str, Any]:
    """A session in the API's shape (the DuckDB engine's api_sessions), its runs' span counters summed."""
    costs = [item["total_cost_usd"] for item in totals if item["total_cost_usd"] is not None]
    return {
        "session_id": row["session_id"], "agent_id": row["agent_id"], "user_id": row["user_id"],
        "run_count": int(row["run_count"]), "span_count": sum(item["span_count"] for item in totals),
        "total_tokens": sum(item["total_tokens"] for item in totals), "total_cost_usd": sum(costs) if costs else None,
        "failed_runs": int(row["failed_runs"]), "first_input": row["first_input"], "last_output": row["last_output"],
        "p50_latency_ms": row["p50_latency_ms"], "p99_latency_ms": row["p99_latency_ms"],
        "first_time": row["first_at"], "last_time": row["last_at"],
    }


class _Jobs:
    def __init__(self, store: ClickHouseStore, completions: CompletionHub) -> None:
        self._store = store
        self._completions = completions

    async def enqueue(self, run: NewRun, job_id: str) -> None:
        await self._store.control.run(lambda txn: pg_jobs.enqueue_job(txn, run, job_id, utc_now()))

    async def get(self, job_id: str) -> dict[str, Any]:
        return await self._store.control.run(lambda txn: pg_jobs.get_job(txn, job_id))

    async def claim(self, request: ClaimRequest) -> list[Claim]:
        return await self._store.control.run(lambda txn: pg_jobs.claim_jobs(txn, request, utc_now()))

    async def renew(self, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
        return await self._store.control.run(lambda txn: pg_jobs.renew_leases(txn, claims, lease_until))

    async def finish(self, claim: Claim, output: str | None) -> None:
        def finish(txn: ControlTxn) -> FollowUps:
            if not pg_jobs.finish_job(txn, claim, output, utc_now()):
                return FollowUps()
            return self._completions.in_transaction(txn, [CompletedRun(claim.agent_id, claim.run_id)])

        (await self._store.control.run(finish)).run()

    async def fail_attempt(self, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None) -> None:
        await self._store.control.run(lambda txn: pg_jobs.fail_attempt(txn, claim, error, detail, retry_at, utc_now()))

    async def release(self, claims: Sequence[Claim]) -> None:
        await self._store.control.run(lambda txn: pg_jobs.release_jobs(txn, claims))


class _Evaluations:
    def __init__(self, store: ClickHouseStore) -> None:
        self._store = store

    def admit(self, scope: WriteScope, runs: Sequence[CompletedRun], policy: CooldownPolicy) -> list[Ticket]:
        return pg_evaluations.admit_evaluations(cast(ControlTxn, scope), runs, policy, utc_now())

    async def force(self, agent_id: str, run_id: str) -> Ticket:
        return await self._store.control.run(
            lambda txn: pg_evaluations.force_evaluation(txn, agent_id, run_id, utc_now()))

    async def pending(self) -> list[Ticket]:
        return await self._store.control.run(pg_evaluations.list_pending)

    async def subject(self, run_id: str, max_spans: int) -> EvaluationSubject:
        run = await self._store.control.run(lambda txn: pg_evaluations.run_facts(txn, run_id))
        spans = await ch_spans.span_facts(self._store.clickhouse, run.agent_id, run_id, max_spans + 1)
        return EvaluationSubject(run=run, spans=tuple(SpanFacts(*row) for row in spans[:max_spans]),
                                 spans_truncated=len(spans) > max_spans)

    async def record(self, outcome: Outcome) -> bool:
        return await self._store.control.run(lambda txn: pg_evaluations.record_evaluation(txn, outcome, utc_now()))


class _Analysis:
    def __init__(self, store: ClickHouseStore) -> None:
        self._store = store

    async def query_json(self, sql: str, params: SqlParams, *, max_rows: int, max_bytes: int,
                         timeout_s: float) -> bytes:
        return await run_readonly_query(self._store.clickhouse, sql, params, max_rows=max_rows, max_bytes=max_bytes,
                                        timeout_s=timeout_s)

    async def export_page(self, table: ExportTable, window: ExportWindow, limit: int,
                          after: tuple[Any, ...] | None = None) -> ExportPage:
        _lacks("exporting tables")

    async def ping(self, timeout_s: float) -> None:
        await self._store.clickhouse.execute("SELECT 1")
        await self._store.control.run(lambda txn: txn.execute("SELECT 1"))


class _RateLimits:
    def __init__(self, control: ControlDatabase) -> None:
        self._control = control

    async def take(self, key: str, limit: int, per_s: float, *, dry_run: bool = False) -> float:
        return await self._control.run(lambda txn: pg_rate_limits.take(txn, key, limit, per_s, dry_run=dry_run))

    async def give_back(self, key: str, limit: int) -> None:
        await self._control.run(lambda txn: pg_rate_limits.give_back(txn, key, limit))


class _Retention:
    """Retention: runs are chosen and deleted on the control store, their spans by a mutation on
    ClickHouse first (a pass that stops in between leaves runs without spans, never spans of
    deleted runs, which no later pass could find)."""

    def __init__(self, store: ClickHouseStore) -> None:
        self._store = store

    async def data_size(self) -> DataSize:
        clickhouse_bytes, spans = await ch_spans.stored_bytes(self._store.clickhouse)
        control_bytes = await self._store.control.run(pg_retention.database_bytes)
        used = clickhouse_bytes + control_bytes
        return DataSize(used, used, spans)

    async def expired_runs(self, default_cutoff: dt.datetime | None,
                           cutoff_by_agent: dict[str, dt.datetime | None], limit: int) -> list[DueRun]:
        found = await self._store.control.run(
            lambda txn: pg_retention.expired_runs(txn, default_cutoff, cutoff_by_agent, limit))
        return await self._due(found)

    async def oldest_runs(self, limit: int, after: tuple[dt.datetime, str] | None) -> list[DueRun]:
        return await self._due(await self._store.control.run(lambda txn: pg_retention.oldest_runs(txn, limit, after)))

    async def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        finished = await self._store.control.run(lambda txn: pg_retention.still_finished(txn, run_ids))
        if not finished:
            return Deleted()
        spans = await ch_spans.delete_run_spans(self._store.clickhouse, finished)

        def delete(txn: ControlTxn) -> Deleted:
            return pg_retention.delete_runs(txn, pg_retention.still_finished(txn, finished))

        deleted = await self._store.control.run(delete)
        return Deleted(deleted.runs, spans, deleted.evaluations, deleted.jobs)

    async def _due(self, found: list[tuple[str, str, dt.datetime]]) -> list[DueRun]:
        totals = await ch_spans.run_totals(self._store.clickhouse, [run_id for run_id, _, _ in found])
        return [DueRun(run_id, agent_id, finished, totals.get(run_id, {}).get("span_count", 0))
                for run_id, agent_id, finished in found]
