"""The built-in evaluators' scoring rules, the weighted mean, the cooldown rule and custom loading."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from kate.collector.evaluation.checks import FinalOutput, LatencyBudget, NoErrorSpans, TokenBudget, ToolCalls
from kate.collector.evaluation.evaluator import (
    EvaluationSubject,
    EvaluatorNotLoadable,
    EvaluatorResult,
    RunFacts,
    Score,
    SpanFacts,
    load_evaluator,
    overall_score,
)
from kate.collector.evaluation.policy import CooldownPolicy

T0 = dt.datetime(2026, 3, 30, 10, 0, 0)
SECOND_NS = 1_000_000_000


def run(**changes: object) -> RunFacts:
    base = RunFacts("r1", "a1", "completed", "api", "manual", None, None, None, T0, T0, T0 + dt.timedelta(seconds=2))
    return dataclasses.replace(base, **changes)


def span(name: str, kind: str = "LLM", status: str = "OK", **changes: object) -> SpanFacts:
    base = SpanFacts(name, kind, status, None, None, None, None, None, None, None, None, None, None, None)
    return dataclasses.replace(base, **changes)


async def score(evaluator: object, *spans: SpanFacts, **run_changes: object) -> Score:
    return await evaluator.evaluate(EvaluationSubject(run(**run_changes), spans))  # type: ignore[attr-defined]


async def test_no_error_spans_is_the_share_of_spans_not_in_error() -> None:
    assert (await score(NoErrorSpans())).score == 1.0
    assert (await score(NoErrorSpans(), span("a"), span("b", status="ERROR"), span("c"))).score == pytest.approx(2 / 3)
    failed = await score(NoErrorSpans(), span("a"), status="failed", error="boom")
    assert (failed.score, failed.reason) == (0.0, "the run failed: boom")


async def test_final_output_prefers_the_run_then_the_last_root_span() -> None:
    assert (await score(FinalOutput(), output="done")).score == 1.0
    child_last = (span("root", output_text="final", end_time_unix_nano=5),
                  span("child", parent_span_id="ab" * 8, output_text="", end_time_unix_nano=9))
    assert (await score(FinalOutput(), *child_last)).reason == "the root span 'root' has an output"
    assert (await score(FinalOutput(), span("root", output_text="  "))).score == 0.0


async def test_latency_budget_uses_the_longer_of_wall_time_and_span_extent() -> None:
    within = await score(LatencyBudget(5_000))
    over = await score(LatencyBudget(1_000), span("a", start_time_unix_nano=SECOND_NS, end_time_unix_nano=5 * SECOND_NS))
    assert (within.score, within.reason) == (1.0, "took 2 s, within the budget of 5 s")
    assert (over.score, over.reason) == (0.25, "took 4 s, over the budget of 1 s")


async def test_token_budget_counts_token_count_else_input_plus_output() -> None:
    spans = (span("a", token_count=300), span("b", input_tokens=50, output_tokens=150), span("c"))
    assert (await score(TokenBudget(1_000), *spans)).reason == "used 500 tokens, within the budget of 1000"
    assert (await score(TokenBudget(250), *spans)).score == 0.5
    assert (await score(TokenBudget(10))).reason == "no token usage reported"


async def test_tool_calls_is_the_share_of_tool_spans_that_succeeded() -> None:
    tools = (span("search", "TOOL"), span("fetch", "TOOL", "ERROR"), span("fetch", "TOOL", "ERROR"), span("x", "TOOL"))
    result = await score(ToolCalls(), span("llm", status="ERROR"), *tools)
    assert (result.score, result.reason) == (0.5, "2 of 4 tool calls failed: fetch")
    assert (await score(ToolCalls(), span("llm"))).reason == "no tool calls"


def test_overall_is_the_weighted_mean_of_the_evaluators_that_scored() -> None:
    results = [EvaluatorResult("a", 1, 1.0, ""), EvaluatorResult("b", 3, 0.0, ""),
               EvaluatorResult("c", 5, None, "failed"), EvaluatorResult("d", 0, 0.0, "informational")]
    assert overall_score(results) == pytest.approx(0.25)
    assert overall_score([EvaluatorResult("c", 1, None, "failed")]) is None


def test_cooldown_is_per_agent_and_zero_always_allows() -> None:
    policy = CooldownPolicy(60, {"eager": 0})
    assert policy.allows("a", None, T0)
    assert not policy.allows("a", T0, T0 + dt.timedelta(seconds=59))
    assert policy.allows("a", T0, T0 + dt.timedelta(seconds=60))
    assert policy.allows("eager", T0, T0)


class Concise:
    def __init__(self, max_words: int) -> None:
        self.max_words = max_words

    async def evaluate(self, subject: EvaluationSubject) -> Score:
        words = len((subject.run.output or "").split())
        return Score(1.0 if words <= self.max_words else self.max_words / words, f"{words} words")


async def test_custom_evaluators_load_by_import_path_with_options() -> None:
    evaluator = load_evaluator("concise", f"{__name__}:Concise", {"max_words": 2})
    assert (await score(evaluator, output="one two three four")).score == 0.5
    with pytest.raises(EvaluatorNotLoadable, match=r"evaluator nope .*ModuleNotFoundError"):
        load_evaluator("nope", "no_such_module:Thing", {})
    with pytest.raises(EvaluatorNotLoadable, match="no evaluate"):
        load_evaluator("wrong", "datetime:date.today", {})
