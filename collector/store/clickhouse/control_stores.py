"""The clickhouse engine's JobStore, EvaluationStore, AnalysisStore, RetentionStore and
RateLimitStore: thin adapters over the control store's SQL modules (store/postgres/), with
ClickHouse where spans are read or deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from kate.collector.completion import CompletedRun, CompletionHub, FollowUps
from kate.collector.evaluation.evaluator import EvaluationSubject, SpanFacts
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.store.clickhouse import exports, genai_logs
from kate.collector.store.clickhouse import spans as ch_spans
from kate.collector.store.clickhouse.analysis import run_readonly_query
from kate.collector.store.clickhouse.servers import Servers
from kate.collector.store.interfaces import SqlParams, WriteScope
from kate.collector.store.postgres import evaluations as pg_evaluations
from kate.collector.store.postgres import jobs as pg_jobs
from kate.collector.store.postgres import rate_limits as pg_rate_limits
from kate.collector.store.postgres import retention as pg_retention
from kate.collector.store.postgres.database import ControlDatabase, ControlTxn
from kate.collector.store.postgres.evaluation_locks import EvaluationLocks
from kate.collector.store.values import (
    Claim,
    ClaimRequest,
    DataSize,
    Deleted,
    DueRun,
    ExportPage,
    ExportTable,
    ExportWindow,
    NewRun,
    Outcome,
    Ticket,
    utc_now,
)


class Jobs:
    def __init__(self, servers: Servers, completions: CompletionHub) -> None:
        self._servers = servers
        self._completions = completions

    async def enqueue(self, run: NewRun, job_id: str) -> None:
        await self._servers.control.run(lambda txn: pg_jobs.enqueue_job(txn, run, job_id, utc_now()))

    async def get(self, job_id: str) -> dict[str, Any]:
        return await self._servers.control.run(lambda txn: pg_jobs.get_job(txn, job_id))

    async def claim(self, request: ClaimRequest) -> list[Claim]:
        return await self._servers.control.run(lambda txn: pg_jobs.claim_jobs(txn, request, utc_now()))

    async def renew(self, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
        return await self._servers.control.run(lambda txn: pg_jobs.renew_leases(txn, claims, lease_until))

    async def finish(self, claim: Claim, output: str | None) -> None:
        def finish(txn: ControlTxn) -> FollowUps:
            if not pg_jobs.finish_job(txn, claim, output, utc_now()):
                return FollowUps()
            return self._completions.in_transaction(txn, [CompletedRun(claim.agent_id, claim.run_id)])

        (await self._servers.control.run(finish)).run()

    async def fail_attempt(self, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None) -> None:
        await self._servers.control.run(lambda txn: pg_jobs.fail_attempt(txn, claim, error, detail, retry_at, utc_now()))

    async def release(self, claims: Sequence[Claim]) -> None:
        await self._servers.control.run(lambda txn: pg_jobs.release_jobs(txn, claims))



class Evaluations:
    def __init__(self, servers: Servers, locks: EvaluationLocks) -> None:
        self._servers = servers
        self._locks = locks

    def admit(self, scope: WriteScope, runs: Sequence[CompletedRun], policy: CooldownPolicy) -> list[Ticket]:
        return pg_evaluations.admit_evaluations(cast(ControlTxn, scope), runs, policy, utc_now())

    async def force(self, agent_id: str, run_id: str) -> Ticket:
        return await self._servers.control.run(
            lambda txn: pg_evaluations.force_evaluation(txn, agent_id, run_id, utc_now()))

    async def pending(self, admitted_before: dt.datetime) -> list[Ticket]:
        return await self._servers.control.run(lambda txn: pg_evaluations.list_pending(txn, admitted_before))

    async def claim(self, ticket: Ticket) -> bool:
        """The ticket's lock, then a look that it is still pending: a collector that took it
        after another recorded it finds it done (evaluation_locks.py)."""
        if not await self._locks.try_lock(ticket.evaluation_id):
            return False
        try:
            pending = await self._servers.control.run(lambda txn: pg_evaluations.is_pending(txn, ticket))
        except BaseException:
            await self._locks.unlock(ticket.evaluation_id)
            raise
        if not pending:
            await self._locks.unlock(ticket.evaluation_id)
        return pending

    async def release(self, ticket: Ticket) -> None:
        await self._locks.unlock(ticket.evaluation_id)

    async def subject(self, run_id: str, max_spans: int) -> EvaluationSubject:
        run = await self._servers.control.run(lambda txn: pg_evaluations.run_facts(txn, run_id))
        spans = await ch_spans.span_facts(self._servers.clickhouse, run.agent_id, run_id, max_spans + 1)
        return EvaluationSubject(run=run, spans=tuple(SpanFacts(*row) for row in spans[:max_spans]),
                                 spans_truncated=len(spans) > max_spans)

    async def record(self, outcome: Outcome) -> bool:
        return await self._servers.control.run(lambda txn: pg_evaluations.record_evaluation(txn, outcome, utc_now()))



class Analysis:
    dialect = "ClickHouse"
    # Runs, evaluations and jobs live in PostgreSQL, out of ClickHouse's reach (docs/deployment.md).
    tables = ("spans", "genai_log_records", "span_details", "model_usage_daily", "node_latency")

    def __init__(self, servers: Servers) -> None:
        self._servers = servers

    async def query_json(self, sql: str, params: SqlParams, *, max_rows: int, max_bytes: int,
                         timeout_s: float) -> bytes:
        return await run_readonly_query(self._servers.clickhouse, sql, params, max_rows=max_rows, max_bytes=max_bytes,
                                        timeout_s=timeout_s)

    async def export_page(self, table: ExportTable, window: ExportWindow, limit: int,
                          after: tuple[Any, ...] | None = None) -> ExportPage:
        return await exports.export_page(self._servers, table, window, limit, after)

    async def ping(self, timeout_s: float) -> None:
        await self._servers.clickhouse.execute("SELECT 1")
        await self._servers.control.run(lambda txn: txn.execute("SELECT 1"))



class RateLimits:
    def __init__(self, control: ControlDatabase) -> None:
        self._control = control

    async def take(self, key: str, limit: int, per_s: float, *, dry_run: bool = False) -> float:
        return await self._control.run(lambda txn: pg_rate_limits.take(txn, key, limit, per_s, dry_run=dry_run))

    async def give_back(self, key: str, limit: int) -> None:
        await self._control.run(lambda txn: pg_rate_limits.give_back(txn, key, limit))



RUNS_PER_DELETE = 10_000  # the runs of a default retention pass (200 a slice, 50 slices)


class Retention:
    """Retention: runs are chosen and deleted on the control store, their spans' GenAI log records
    and then their spans by mutations on ClickHouse first (a pass that stops in between leaves
    runs without spans, never spans of deleted runs, which no later pass could find)."""

    def __init__(self, servers: Servers) -> None:
        self._servers = servers

    @property
    def runs_per_delete(self) -> int:
        """A whole pass at once: each call is one mutation per node, and a mutation rewrites every
        part it touches whatever the number of runs, so many small ones cost many rewrites."""
        return RUNS_PER_DELETE

    async def data_size(self) -> DataSize:
        clickhouse_bytes, spans = await ch_spans.stored_bytes(self._servers.clickhouse)
        control_bytes = await self._servers.control.run(pg_retention.database_bytes)
        used = clickhouse_bytes + control_bytes
        return DataSize(used, used, spans)

    async def expired_runs(self, default_cutoff: dt.datetime | None,
                           cutoff_by_agent: dict[str, dt.datetime | None], limit: int) -> list[DueRun]:
        found = await self._servers.control.run(
            lambda txn: pg_retention.expired_runs(txn, default_cutoff, cutoff_by_agent, limit))
        return await self._due(found)

    async def oldest_runs(self, limit: int, after: tuple[dt.datetime, str] | None) -> list[DueRun]:
        return await self._due(await self._servers.control.run(lambda txn: pg_retention.oldest_runs(txn, limit, after)))

    async def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        finished = await self._servers.control.run(lambda txn: pg_retention.still_finished(txn, run_ids))
        if not finished:
            return Deleted()
        await genai_logs.delete_records_of_runs(self._servers.clickhouse, finished)
        spans = await ch_spans.delete_run_spans(self._servers.clickhouse, finished)

        def delete(txn: ControlTxn) -> Deleted:
            return pg_retention.delete_runs(txn, pg_retention.still_finished(txn, finished))

        deleted = await self._servers.control.run(delete)
        return Deleted(deleted.runs, spans, deleted.evaluations, deleted.jobs)

    async def _due(self, found: list[tuple[str, str, dt.datetime]]) -> list[DueRun]:
        totals = await ch_spans.run_totals(self._servers.clickhouse, [run_id for run_id, _, _ in found])
        return [DueRun(run_id, agent_id, finished, totals.of(run_id)["span_count"])
                for run_id, agent_id, finished in found]
