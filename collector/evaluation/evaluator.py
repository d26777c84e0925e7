"""The evaluator seam: what an evaluator sees (EvaluationSubject), returns (Score) and is (Evaluator).

A user registers their own evaluator by import path (config `evaluation.custom`); this module
owns that protocol, the loading and the weighted mean. It must not do I/O or touch the store.

    class Concise:                      # config: {name: concise, factory: "mypkg.evals:Concise"}
        async def evaluate(self, subject: EvaluationSubject) -> Score:
            words = len((subject.run.output or "").split())
            return Score(1.0 if words <= 200 else 200 / words, f"{words} words")

Raise EvaluationFailed("why") when a run cannot be scored; any other exception also counts as
a failure of that evaluator only, never of the collector.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kate.collector.config import ConfigError


class EvaluationFailed(Exception):
    """An evaluator could not score the run; the message is the reason shown with the run."""


@dataclass(frozen=True, slots=True)
class RunFacts:
    run_id: str
    agent_id: str
    status: str
    source: str
    trigger: str
    user_input: str | None
    output: str | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SpanFacts:
    node_name: str
    span_kind: str
    status_code: str
    status_message: str | None
    parent_span_id: str | None
    input_text: str | None
    output_text: str | None
    model: str | None
    latency_ms: float | None
    token_count: int | None
    input_tokens: int | None
    output_tokens: int | None
    start_time_unix_nano: int | None
    end_time_unix_nano: int | None

    @property
    def is_error(self) -> bool:
        return self.status_code == "ERROR"

    @property
    def tokens(self) -> int | None:
        """token_count, else input + output tokens when either is known."""
        if self.token_count is not None:
            return self.token_count
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


@dataclass(frozen=True, slots=True)
class EvaluationSubject:
    """A finished run and its spans in start order (at most evaluation.max_spans of them)."""

    run: RunFacts
    spans: tuple[SpanFacts, ...]
    spans_truncated: bool = False


@dataclass(frozen=True, slots=True)
class Score:
    score: float  # 0..1
    reason: str  # one short sentence, shown with the run
    details: Mapping[str, Any] = field(default_factory=dict)  # stored as JSON in evaluations.details


@runtime_checkable
class Evaluator(Protocol):
    async def evaluate(self, subject: EvaluationSubject) -> Score: ...


@dataclass(frozen=True, slots=True)
class WeightedEvaluator:
    """An enabled evaluator under its configured name, with its weight in overall_score."""

    name: str
    evaluator: Evaluator
    weight: float


@dataclass(frozen=True, slots=True)
class EvaluatorResult:
    """One evaluator's verdict on one run: score None means it failed, and reason says why."""

    evaluator: str
    weight: float
    score: float | None
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


def overall_score(results: Sequence[EvaluatorResult]) -> float | None:
    """The weighted mean of the evaluators that scored; None when none scored with weight > 0."""
    scored = [(r.score, r.weight) for r in results if r.score is not None and r.weight > 0]
    total = sum(weight for _, weight in scored)
    if total <= 0:
        return None
    return sum(score * weight for score, weight in scored) / total


def checked_score(value: object) -> float:
    """A score as a float in 0..1; EvaluationFailed for anything else (NaN, 1.7, "high")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvaluationFailed(f"score must be a number from 0 to 1, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise EvaluationFailed(f"score must be a number from 0 to 1, got {value!r}")
    return number


class EvaluatorNotLoadable(ConfigError):
    """A custom evaluator's factory cannot be imported or does not make an Evaluator."""


def load_evaluator(name: str, factory: str, options: Mapping[str, Any]) -> Evaluator:
    """Import `module:attribute` and call it with **options; the result must have evaluate()."""
    module_name, _, attribute = factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        evaluator = target(**options)
    except Exception as exc:  # user code at start-up: report which evaluator and why
        raise EvaluatorNotLoadable(f"evaluator {name} ({factory}): {type(exc).__name__}: {exc}") from exc
    if not isinstance(evaluator, Evaluator):
        raise EvaluatorNotLoadable(f"evaluator {name}: {factory}(**options) returned {type(evaluator).__name__}, "
                                   "which has no evaluate(subject) method")
    return evaluator
