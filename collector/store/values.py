"""The values that cross the storage seam (interfaces.py): what callers hand a store and get
back, the same for every engine. Plain data: no SQL, no engine import.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import pyarrow as pa
from kate.collector.completion import CompletedRun
from kate.collector.evaluation.evaluator import EvaluatorResult


class QueryResult(Protocol):
    """An executed query of a DB-API cursor: column descriptions and its rows."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows of an executed query as tuples with their column names: no dict per row until rendered."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]

    @classmethod
    def of(cls, result: QueryResult) -> Rows:
        return cls(tuple(column[0] for column in result.description or ()), result.fetchall())

    def index(self, name: str) -> int:
        return self.names.index(name)


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RunTrigger(str, enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"
    TEST = "test"


class RunSource(str, enum.Enum):
    API = "api"
    OTLP = "otlp"
    HOSTED = "hosted"


class StoredRun(NamedTuple):
    """What a write needs to know of an existing run."""

    agent_id: str
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class NewRun:
    run_id: str
    agent_id: str
    trigger: RunTrigger
    source: RunSource
    status: RunStatus = RunStatus.RUNNING
    user_input: str | None = None
    session_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: RunStatus | None = None
    trigger: RunTrigger | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None  # a substring of user_input or output, case-insensitive (`q`)


def utc_now() -> dt.datetime:
    """Naive UTC now: the TIMESTAMP columns hold UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Claim:
    """A job this worker holds: attempt is the fence of every later transition."""

    job_id: str
    run_id: str
    agent_id: str
    user_input: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    free_by_agent: Mapping[str, int]  # declared agents with free slots; others' jobs wait
    max_attempts_by_agent: Mapping[str, int]
    max_total: int
    running_here: Sequence[str]  # job ids this process runs: never claimed again by it
    lease_until: dt.datetime
    owner: str


class EvaluationStatus(str, enum.Enum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED_COOLDOWN = "skipped_cooldown"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted evaluation: the run is pending under this evaluation_id."""

    agent_id: str
    run_id: str
    evaluation_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    ticket: Ticket
    results: tuple[EvaluatorResult, ...]
    overall_score: float | None
    status: EvaluationStatus  # DONE or FAILED


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SpanPage:
    rows: Rows  # columns of api_spans
    next_cursor: str | None
    total: int  # the run's span count, whatever the filters


class SpanOrder(str, enum.Enum):
    START = "start"  # newest first
    LATENCY = "latency"  # slowest first


@dataclass(frozen=True, slots=True)
class AgentSpanFilter:
    span_kind: str | None = None
    status: str | None = None
    since: dt.datetime | None = None  # on the span's start time
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentSpanPage:
    rows: Rows  # columns of api_spans
    next_cursor: str | None


class ExportTable(enum.Enum):
    RUNS = "runs"
    SPANS = "spans"
    EVALUATIONS = "evaluations"
    GENAI_LOG_RECORDS = "genai_log_records"


@dataclass(frozen=True, slots=True)
class ExportWindow:
    since: dt.datetime  # naive UTC, included
    until: dt.datetime  # naive UTC, excluded
    agent_id: str | None = None

    def bounds_us(self) -> tuple[int, int]:
        """since and until in microseconds since the epoch: how the stores place a row."""
        epoch, micro = dt.datetime(1970, 1, 1), dt.timedelta(microseconds=1)
        return (self.since - epoch) // micro, (self.until - epoch) // micro


@dataclass(frozen=True, slots=True)
class ExportPage:
    rows: pa.Table  # the table's columns, plus `day` (DATE, UTC) of the placing timestamp
    after: tuple[Any, ...] | None  # the keyset of the last row: pass it back for the next page; None: done


@dataclass(frozen=True, slots=True)
class DueRun:
    run_id: str
    agent_id: str
    finished_at: dt.datetime
    span_count: int


@dataclass(frozen=True, slots=True)
class Deleted:
    runs: int = 0
    spans: int = 0
    evaluations: int = 0
    jobs: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(self.runs + other.runs, self.spans + other.spans, self.evaluations + other.evaluations,
                       self.jobs + other.jobs)


@dataclass(frozen=True, slots=True)
class DataSize:
    used_bytes: int  # blocks holding data, plus the WAL not yet checkpointed
    file_bytes: int  # all blocks of the file, free ones included
    spans: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    completed_runs: tuple[CompletedRun, ...]  # runs completed by this write (for evaluation)
    refused: tuple[RefusedRun, ...] = ()  # OTLP spans not stored: their run belongs to another agent


@dataclass(frozen=True, slots=True)
class RefusedRun:
    """Spans not stored because the run they name belongs to another agent (never named here)."""

    run_id: str
    spans: int

    @property
    def message(self) -> str:
        noun = "span names" if self.spans == 1 else "spans name"
        return f"{self.spans} {noun} run {self.run_id}, which belongs to another agent"


@dataclass(frozen=True, slots=True)
class StoredLogs:
    stored: int  # records new to the store (a retried export's are already there)
