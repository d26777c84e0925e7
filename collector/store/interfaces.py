"""What the collector needs from storage: the storage seam (docs/architecture.md#the-storage-seam).

API handlers, receivers, evaluation, jobs and retention talk to these interfaces only; an
engine implements them all (`Store`): DuckDB, the default (collector/store/duckdb/, its SQL in
schema/duckdb/), and the scale-out engine, spans on ClickHouse and runs on PostgreSQL
(collector/store/clickhouse/ and postgres/, schema/clickhouse/ and postgres/); engines.py
picks one from storage.engine. The types in the signatures are plain values shared by every
engine (values.py); callers import them from here. Span batches travel as Arrow (SpanBatch),
which DuckDB and ClickHouse both read without a Python object per value.

Writes that touch spans and runs together. An engine that keeps spans and runs in one database
does both in one transaction, as DuckDB does. One that keeps them apart (spans in a column
store, runs in a row store) must: store the spans first, idempotently (unique on trace and span
id, so a retry stores nothing twice); then apply the run transition (create, count, complete,
admit for evaluation) in the run store's transaction; and answer the sender only after both. A
crash between the two leaves the spans stored and the run unchanged; the sender's retry, which
comes because it got no answer, stores no span again and applies the transition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from kate.collector.completion import CompletedRun
from kate.collector.evaluation.evaluator import EvaluationSubject
from kate.collector.evaluation.policy import CooldownPolicy
from kate.collector.ingest.decode_logs import GenAiLogRecord
from kate.collector.store.span_batch import SpanBatch
from kate.collector.store.values import (
    AgentSpanFilter,
    AgentSpanPage,
    Claim,
    ClaimRequest,
    DataSize,
    Deleted,
    DueRun,
    EvaluationStatus,
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
    RunTrigger,
    SpanOrder,
    SpanPage,
    StoredLogs,
    Ticket,
    utc_now,
)

SqlParams = list[Any] | dict[str, Any] | None

__all__ = [
    "AgentSpanFilter", "AgentSpanPage", "Claim", "ClaimRequest", "DataSize", "Deleted", "DueRun",
    "EvaluationStatus", "ExportPage", "ExportTable", "ExportWindow", "IngestResult", "NewRun", "Outcome", "Page",
    "RunFilter", "RunSource", "RunStatus", "RunTrigger", "SpanBatch", "SpanOrder", "SpanPage", "StoredLogs", "Ticket",
    "utc_now",
    "AnalysisStore", "EvaluationStore", "JobStore", "RateLimitStore", "RetentionStore", "RunStore", "SpanStore",
    "SqlParams", "Store",
    "WriteScope",
]


class WriteScope(Protocol):
    """An open write transaction of an engine, opaque outside it: a completion listener gets
    one and hands it back to the store to write in the transaction that completes the runs."""


class SpanStore(Protocol):
    def require_write_room(self) -> None:
        """Raise Overloaded when the write queue cannot take a request now (checked before decoding)."""

    async def ingest_otlp(self, batch: SpanBatch) -> IngestResult:
        """Store OTLP spans, creating and completing their runs (docs/mapping.md#agents-and-runs);
        runs that root spans complete are admitted for evaluation in the same write."""

    async def ingest_upload(self, agent_id: str, run_id: str, batch: SpanBatch) -> IngestResult:
        """Store an upload to a running run of the agent, all or nothing (404, 409 otherwise)."""

    async def ingest_log_records(self, records: Sequence[GenAiLogRecord]) -> StoredLogs:
        """Store GenAI log records and fold their content into the spans they name."""

    async def run_spans(self, agent_id: str, run_id: str, *, limit: int, after: str | None,
                        span_kind: str | None) -> SpanPage:
        """A page of a run's spans in start order (NotFound for another agent's or unknown run)."""

    async def agent_spans(self, agent_id: str, filters: AgentSpanFilter, *, order: SpanOrder, limit: int,
                          after: str | None) -> AgentSpanPage:
        """A page of an agent's spans across its runs."""


class RunStore(Protocol):
    async def list(self, agent_id: str, filters: RunFilter, limit: int, after: str | None) -> Page:
        """A page of the agent's runs, newest first, in the API's shape."""

    async def get(self, agent_id: str, run_id: str) -> dict[str, Any]:
        """One run in the API's shape; NotFound for an unknown run or another agent's."""

    async def create(self, run: NewRun) -> None:
        """Insert a new run; Conflict when its id is taken."""

    async def complete(self, agent_id: str, run_id: str) -> None:
        """running → completed, admitted for evaluation in the same write (RunNotRunning otherwise)."""

    async def fail(self, agent_id: str, run_id: str, error: str | None) -> None:
        """running → failed with an error text."""

    async def require_running(self, agent_id: str, run_id: str) -> None:
        """NotFound or RunNotRunning unless the agent's run is running."""

    async def agents(self, *, hosted: Collection[str], allowed: Collection[str] | None, limit: int,
                     after: str | None) -> Page:
        """A page of agents (with runs, or hosted), only `allowed` ones when not None."""

    async def sessions(self, agent_id: str, limit: int, after: str | None) -> Page:
        """A page of the agent's sessions, latest activity first."""

    async def session_runs(self, agent_id: str, session_id: str, limit: int, after: str | None) -> Page:
        """A page of one session's runs in order; NotFound for an unknown session."""


class JobStore(Protocol):
    async def enqueue(self, run: NewRun, job_id: str) -> None:
        """The queued run and its job, in one write."""

    async def get(self, job_id: str) -> dict[str, Any]:
        """One job in the API's shape; NotFound when unknown."""

    async def claim(self, request: ClaimRequest) -> list[Claim]:
        """Take due jobs with a lease, within the request's per-agent and total limits."""

    async def renew(self, claims: Sequence[Claim], lease_until: dt.datetime) -> list[str]:
        """Extend the leases; the ids of jobs whose lease was lost to another worker."""

    async def finish(self, claim: Claim, output: str | None) -> None:
        """The attempt succeeded: the job succeeds and its run completes (admitted for evaluation);
        nothing when the lease was lost meanwhile."""

    async def fail_attempt(self, claim: Claim, error: str, detail: str, retry_at: dt.datetime | None) -> None:
        """The attempt failed: queued again at retry_at, or job and run failed when None."""

    async def release(self, claims: Sequence[Claim]) -> None:
        """Interrupted attempts: queued again, the attempt not counted."""


class EvaluationStore(Protocol):
    def admit(self, scope: WriteScope, runs: Sequence[CompletedRun], policy: CooldownPolicy) -> list[Ticket]:
        """In the write that completes the runs: pending, or skipped_cooldown under the agent's
        cooldown, for each; an admission moves the agent's cooldown clock."""

    async def force(self, agent_id: str, run_id: str) -> Ticket:
        """Admit an evaluation regardless of cooldown (NotFound, RunNotFinished)."""

    async def pending(self, admitted_before: dt.datetime) -> list[Ticket]:
        """Evaluations admitted before that time and not recorded, oldest first (resumed at
        start, and then taken over from collectors that stopped or died)."""

    async def claim(self, ticket: Ticket) -> bool:
        """Take the ticket to evaluate it now: False when it is no longer pending (recorded, or
        superseded) or when another collector holds it. Held until release(), or until this
        process ends, so that an evaluation runs once however many collectors resume it."""

    async def release(self, ticket: Ticket) -> None:
        """Give a claimed ticket back (recorded, or stopping: then another may take it)."""

    async def subject(self, run_id: str, max_spans: int) -> EvaluationSubject:
        """What evaluators read: the run and at most max_spans of its spans."""

    async def record(self, outcome: Outcome) -> bool:
        """Store the scores and the overall score, if the evaluation is still the run's latest."""


class AnalysisStore(Protocol):
    @property
    def dialect(self) -> str:
        """The SQL that /sql speaks on this engine: DuckDB or ClickHouse."""

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables and views /sql reads on this engine, the most used first."""

    async def query_json(self, sql: str, params: SqlParams, *, max_rows: int, max_bytes: int,
                         timeout_s: float) -> bytes:
        """One read-only SQL statement answered as the /sql JSON document (docs/sql.md);
        BadRequest for SQL that fails or writes, TimeoutError past timeout_s (interrupted)."""

    async def export_page(self, table: ExportTable, window: ExportWindow, limit: int,
                          after: tuple[Any, ...] | None = None) -> ExportPage:
        """A page of one table's rows in a time window, as Arrow, in time order."""

    async def ping(self, timeout_s: float) -> None:
        """Raise unless the store answers a trivial read within timeout_s."""


class RetentionStore(Protocol):
    @property
    def runs_per_delete(self) -> int | None:
        """How many runs one delete_runs call should take: None for retention.slice_runs (one
        write transaction each, so ingestion's writes go between slices), or the engine's own
        number when each call costs the same whatever its size."""

    async def data_size(self) -> DataSize: ...

    async def expired_runs(self, default_cutoff: dt.datetime | None,
                           cutoff_by_agent: dict[str, dt.datetime | None], limit: int) -> list[DueRun]:
        """Finished runs past their agent's cutoff, oldest first."""

    async def oldest_runs(self, limit: int, after: tuple[dt.datetime, str] | None) -> list[DueRun]:
        """Finished runs oldest first: what a byte cap takes first."""

    async def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        """Delete the runs still finished, with everything that belongs to them, in one write."""


class RateLimitStore(Protocol):
    """Token buckets shared by every collector of an engine (api/ratelimit.py)."""

    async def take(self, key: str, limit: int, per_s: float, *, dry_run: bool = False) -> float:
        """Refill the key's bucket (at most limit, per_s a second since it was last used) and take
        one token when there is one and not dry_run; the tokens there were before taking."""

    async def give_back(self, key: str, limit: int) -> None:
        """Return a token taken for a request that was then refused."""


class Store(Protocol):
    """One storage engine: every interface above, and its lifecycle."""

    @property
    def spans(self) -> SpanStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def evaluations(self) -> EvaluationStore: ...

    @property
    def analysis(self) -> AnalysisStore: ...

    @property
    def retention(self) -> RetentionStore: ...

    @property
    def rate_limits(self) -> RateLimitStore | None:
        """Shared rate-limit buckets; None when one collector is the only writer (buckets in memory)."""

    @property
    def is_open(self) -> bool: ...

    async def start(self) -> None:
        """Open (create or upgrade) the store and start its writer."""

    async def stop(self) -> None:
        """Drain pending writes, commit, close. Safe to call twice."""

    def write_queue(self) -> tuple[int, int]:
        """Writes waiting for the writer: (requests, estimated bytes)."""
