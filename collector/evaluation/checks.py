"""The built-in, deterministic evaluators: they read the run and its spans and need no network.

Each scores 0..1 by the exact rule in its docstring and says why in one short reason. Pure
functions of the EvaluationSubject: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from collections.abc import Sequence

from kate.collector.evaluation.evaluator import EvaluationSubject, Evaluator, Score, SpanFacts, WeightedEvaluator
from kate.collector.evaluation.settings import BuiltinEvaluatorsConfig

_NAMES_SHOWN = 3


class NoErrorSpans:
    """0.0 when the run itself failed. Otherwise 1.0 when no span ended with status ERROR, else
    the share of spans that did not (3 spans, 1 ERROR → 0.667). A run without spans scores 1.0."""

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        if subject.run.status == "failed":
            return Score(0.0, f"the run failed: {_short(subject.run.error or 'no error message')}")
        spans = subject.spans
        if not spans:
            return Score(1.0, "no spans recorded, so none failed", {"spans": 0, "error_spans": 0})
        errors = [span for span in spans if span.is_error]
        details = {"spans": len(spans), "error_spans": len(errors)}
        if not errors:
            return Score(1.0, f"none of {len(spans)} spans ended in ERROR", details)
        reason = f"{len(errors)} of {len(spans)} spans ended in ERROR: {_names(errors)}"
        return Score((len(spans) - len(errors)) / len(spans), reason, details)


class FinalOutput:
    """1.0 when the run has a non-blank final output, else 0.0. The final output is the run's
    `output` (hosted agents), else the output_text of the root span (no parent) that ended
    last, else the output_text of the span that ended last."""

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        output, source = final_output(subject)
        if output is None:
            return Score(0.0, "no final output: the run has none and its last span has no output_text")
        return Score(1.0, f"{source} has an output", {"output_chars": len(output)})


def final_output(subject: EvaluationSubject) -> tuple[str | None, str]:
    """(the run's final output or None, where it was found), by FinalOutput's rule."""
    if _present(subject.run.output):
        return subject.run.output, "the run"
    ordered = sorted(subject.spans, key=_end_key)
    roots = [span for span in ordered if span.parent_span_id is None]
    for label, candidates in (("root span", roots), ("last span", ordered)):
        if candidates and _present(candidates[-1].output_text):
            return candidates[-1].output_text, f"the {label} {candidates[-1].node_name!r}"
    return None, "nothing"


class LatencyBudget:
    """1.0 when the run took at most budget_ms, else budget_ms / latency (twice the budget → 0.5).
    Latency is the larger of the run's wall time (started, else created → completed) and the
    span extent (first span start → last span end)."""

    def __init__(self, budget_ms: float) -> None:
        self.budget_ms = budget_ms

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        latency_ms = max(_wall_ms(subject), _extent_ms(subject.spans))
        details = {"latency_ms": round(latency_ms, 3), "budget_ms": self.budget_ms}
        verdict = "within" if latency_ms <= self.budget_ms else "over"
        reason = f"took {_seconds(latency_ms)}, {verdict} the budget of {_seconds(self.budget_ms)}"
        return Score(_budget_score(latency_ms, self.budget_ms), reason, details)


class TokenBudget:
    """1.0 when the spans used at most budget_tokens, else budget_tokens / tokens. Tokens per span
    are token_count, else input + output tokens; a run reporting no usage scores 1.0."""

    def __init__(self, budget_tokens: int) -> None:
        self.budget_tokens = budget_tokens

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        counts = [tokens for span in subject.spans if (tokens := span.tokens) is not None]
        if not counts:
            return Score(1.0, "no token usage reported", {"tokens": None, "budget_tokens": self.budget_tokens})
        total = sum(counts)
        verdict = "within" if total <= self.budget_tokens else "over"
        reason = f"used {total} tokens, {verdict} the budget of {self.budget_tokens}"
        return Score(_budget_score(total, self.budget_tokens), reason, {"tokens": total, "budget_tokens": self.budget_tokens})


class ToolCalls:
    """1.0 when every TOOL span succeeded (status not ERROR), else the share that did
    (4 tool calls, 1 failed → 0.75). A run without tool calls scores 1.0."""

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        tools = [span for span in subject.spans if span.span_kind == "TOOL"]
        if not tools:
            return Score(1.0, "no tool calls", {"tool_calls": 0, "failed": 0})
        failed = [span for span in tools if span.is_error]
        details = {"tool_calls": len(tools), "failed": len(failed)}
        if not failed:
            return Score(1.0, f"all {len(tools)} tool calls succeeded", details)
        reason = f"{len(failed)} of {len(tools)} tool calls failed: {_names(failed)}"
        return Score((len(tools) - len(failed)) / len(tools), reason, details)


def builtin_evaluators(config: BuiltinEvaluatorsConfig) -> list[WeightedEvaluator]:
    """The enabled built-in evaluators under their config names, in a stable order."""
    candidates: list[tuple[str, bool, float, Evaluator]] = [
        ("no_error_spans", config.no_error_spans.enabled, config.no_error_spans.weight, NoErrorSpans()),
        ("final_output", config.final_output.enabled, config.final_output.weight, FinalOutput()),
        ("latency_budget", config.latency_budget.enabled, config.latency_budget.weight,
         LatencyBudget(config.latency_budget.budget_ms)),
        ("token_budget", config.token_budget.enabled, config.token_budget.weight,
         TokenBudget(config.token_budget.budget_tokens)),
        ("tool_calls", config.tool_calls.enabled, config.tool_calls.weight, ToolCalls()),
    ]
    return [WeightedEvaluator(name, evaluator, weight) for name, enabled, weight, evaluator in candidates if enabled]


def _budget_score(actual: float, budget: float) -> float:
    return 1.0 if actual <= budget else budget / actual


def _wall_ms(subject: EvaluationSubject) -> float:
    run = subject.run
    start = run.started_at or run.created_at
    if run.completed_at is None:
        return 0.0
    return max(0.0, (run.completed_at - start).total_seconds() * 1000)


def _extent_ms(spans: Sequence[SpanFacts]) -> float:
    starts = [span.start_time_unix_nano for span in spans if span.start_time_unix_nano]
    ends = [span.end_time_unix_nano for span in spans if span.end_time_unix_nano]
    if not starts or not ends:
        return 0.0
    return max(0.0, (max(ends) - min(starts)) / 1e6)


def _end_key(span: SpanFacts) -> int:
    return span.end_time_unix_nano or span.start_time_unix_nano or 0


def _present(text: str | None) -> bool:
    return bool(text and text.strip())


def _names(spans: Sequence[SpanFacts]) -> str:
    names = list(dict.fromkeys(span.node_name for span in spans))
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    return ", ".join(names[:_NAMES_SHOWN]) + more


def _seconds(milliseconds: float) -> str:
    return f"{milliseconds / 1000:.3g} s"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
