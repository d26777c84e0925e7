"""Typed, frozen results of the Runs API, built from its JSON answers.

Unknown keys are ignored and missing ones become None, so a newer collector that adds fields
never breaks an older client. Times become aware UTC datetimes; nanosecond counts stay ints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = ["Agent", "AgentPage", "Enqueued", "Job", "Run", "RunPage", "Score", "Span", "SpanPage", "Uploaded"]

_TIME_FIELDS = frozenset(
    {"created_at", "completed_at", "started_at", "start_time", "end_time", "finished_at", "lease_until", "next_attempt_at",
     "last_activity_at"}
)
M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Score:
    """One evaluator's score in a run's latest evaluation (score None: that evaluator failed)."""

    evaluator: str
    score: float | None = None
    weight: float | None = None
    reason: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Score:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class Run:
    """One agent run (AgentRunResponse)."""

    id: str
    agent_id: str
    status: str  # queued, running, completed, failed
    trigger: str  # manual, automatic, test
    overall_score: float | None = None
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    source: str | None = None  # api, otlp, hosted
    evaluation_status: str | None = None
    user_input: str | None = None
    output: str | None = None
    error: str | None = None
    job_id: str | None = None
    span_count: int | None = None
    total_tokens: int | None = None
    total_cost_usd: float | None = None  # None: none of its spans has a known price
    session_id: str | None = None
    user_id: str | None = None
    scores: tuple[Score, ...] = ()  # the latest evaluation's, by evaluator; () before one

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        scores = data.get("scores")
        run = _build(cls, {**data, "scores": ()})
        if not isinstance(scores, list):
            return run
        return dataclasses.replace(run, scores=tuple(Score.from_json(s) for s in scores if isinstance(s, dict)))


@dataclass(frozen=True, slots=True)
class Span:
    """One stored span of a run, as GET .../runs/{run_id}/spans lists it."""

    node_name: str
    span_kind: str
    input_text: str | None = None
    output_text: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    token_count: int | None = None
    span_id: str | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None
    run_id: str | None = None
    agent_id: str | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    status: str | None = None  # OK, ERROR, UNSET
    status_message: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    start_time_unix_nano: int | None = None
    end_time_unix_nano: int | None = None
    truncated: bool | None = None
    attributes: Mapping[str, Any] | None = None
    cached_input_tokens: int | None = None
    cost_usd: float | None = None  # None: no price known for its model
    input_cost_usd: float | None = None
    output_cost_usd: float | None = None
    cost_source: str | None = None  # "span", "config" or "genai-prices <version>"
    session_id: str | None = None
    user_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Span:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs, newest first; iterate it directly. `next_cursor` is None on the last."""

    runs: tuple[Run, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunPage:
        return cls(tuple(Run.from_json(r) for r in data.get("runs", ())), data.get("next_cursor"))


@dataclass(frozen=True, slots=True)
class SpanPage:
    """One page of a run's spans by start time; `total` counts all of the run's spans."""

    spans: tuple[Span, ...]
    total: int
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpanPage:
        spans = tuple(Span.from_json(s) for s in data.get("spans", ()))
        return cls(spans, int(data.get("total", len(spans))), data.get("next_cursor"))


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent as GET /agents lists it: its runs' count and latest activity, hosted or not."""

    agent_id: str
    run_count: int = 0
    last_activity_at: dt.datetime | None = None
    hosted: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Agent:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class AgentPage:
    """One page of agents in agent_id order; iterate it directly. `next_cursor` is None on the last."""

    agents: tuple[Agent, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AgentPage:
        return cls(tuple(Agent.from_json(a) for a in data.get("agents", ())), data.get("next_cursor"))


@dataclass(frozen=True, slots=True)
class Uploaded:
    """The answer to a span upload: how many were stored and their span ids in request order."""

    uploaded: int
    span_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Uploaded:
        return cls(int(data.get("uploaded", 0)), tuple(data.get("span_ids", ())))


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The answer to enqueueing a hosted run (202)."""

    run_id: str
    job_id: str
    status: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Enqueued:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class Job:
    """A hosted run's job (GET /jobs/{job_id}): its status, attempts and timing."""

    job_id: str
    run_id: str
    agent_id: str
    status: str  # queued, running, succeeded, failed
    attempts: int | None = None
    error: str | None = None
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    lease_until: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return _build(cls, data)


def _build(cls: type[M], data: Mapping[str, Any]) -> M:
    values = {f.name: data.get(f.name) for f in fields(cls)}  # type: ignore[arg-type]
    for name in _TIME_FIELDS.intersection(values):
        values[name] = parse_time(values[name])
    return cls(**values)


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 string as an aware datetime (sub-microsecond digits dropped); else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
