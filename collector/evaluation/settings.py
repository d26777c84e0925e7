"""The `evaluation:` section of config.yaml as frozen dataclasses, with its range checks.

Part of the one configuration tree (config.py loads and validates it); must not import
anything that does I/O. The judge's API key is never read from the file: config.py fills
`llm_judge.api_key` from the environment variable named by `llm_judge.api_key_env`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_RUBRIC = (
    "You grade the final answer of an AI agent. Judge whether the output fulfils the user's "
    "request: correct, complete, relevant and clearly written. Ignore style nitpicks. "
    'Answer with JSON only: {"score": <number from 0 to 1>, "reason": "<one short sentence>"}.'
)


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """A built-in evaluator without parameters."""

    enabled: bool = True
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class LatencyBudgetConfig:
    enabled: bool = True
    weight: float = 1.0
    budget_ms: float = 60_000.0


@dataclass(frozen=True, slots=True)
class TokenBudgetConfig:
    enabled: bool = True
    weight: float = 1.0
    budget_tokens: int = 50_000


@dataclass(frozen=True, slots=True)
class BuiltinEvaluatorsConfig:
    no_error_spans: CheckConfig = field(default_factory=CheckConfig)
    final_output: CheckConfig = field(default_factory=CheckConfig)
    latency_budget: LatencyBudgetConfig = field(default_factory=LatencyBudgetConfig)
    token_budget: TokenBudgetConfig = field(default_factory=TokenBudgetConfig)
    tool_calls: CheckConfig = field(default_factory=CheckConfig)


@dataclass(frozen=True, slots=True)
class LlmJudgeConfig:
    enabled: bool = False
    weight: float = 1.0
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"  # the variable's NAME; "" for servers that need no key
    timeout_s: float = 30.0
    rubric: str = DEFAULT_RUBRIC
    max_input_chars: int = 8_000  # user input and output are cut to this many characters each
    # Filled from the environment by config.py, never from the file (metadata env_only).
    api_key: str = field(default="", repr=False, metadata={"env_only": True})


@dataclass(frozen=True, slots=True)
class CustomEvaluatorConfig:
    name: str
    factory: str  # "package.module:attribute": a class or factory called with **options
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    enabled: bool = True  # evaluate completed runs automatically; POST .../evaluate works regardless
    cooldown_s: float = 60.0
    cooldown_s_by_agent: dict[str, float] = field(default_factory=dict)
    # Seconds between a run's completion and its automatic evaluation, for what arrives after the
    # root span: GenAI log records, other services' spans (docs/evaluation.md#when-a-run-is-evaluated).
    delay_s: float = 0.0
    max_concurrency: int = 4
    # How often a collector looks for pending evaluations that no running collector holds (their
    # collector stopped or died) and takes them over; at start it looks at once.
    resume_interval_s: float = 30.0
    evaluator_timeout_s: float = 60.0
    max_spans: int = 10_000
    builtin: BuiltinEvaluatorsConfig = field(default_factory=BuiltinEvaluatorsConfig)
    llm_judge: LlmJudgeConfig = field(default_factory=LlmJudgeConfig)
    custom: tuple[CustomEvaluatorConfig, ...] = ()


def check_evaluation(config: EvaluationConfig) -> list[str]:
    """Problems of the section as messages naming dotted paths; empty when valid."""
    problems = [f"evaluation.{name} must be positive" for name, value in (
        ("max_concurrency", config.max_concurrency),
        ("evaluator_timeout_s", config.evaluator_timeout_s),
        ("max_spans", config.max_spans),
        ("builtin.latency_budget.budget_ms", config.builtin.latency_budget.budget_ms),
        ("builtin.token_budget.budget_tokens", config.builtin.token_budget.budget_tokens),
        ("llm_judge.timeout_s", config.llm_judge.timeout_s),
        ("llm_judge.max_input_chars", config.llm_judge.max_input_chars),
    ) if value <= 0]
    if config.cooldown_s < 0:
        problems.append("evaluation.cooldown_s must be 0 or more")
    if not 0 <= config.delay_s <= 3600:
        problems.append("evaluation.delay_s must be from 0 to 3600 seconds")
    if not 0.1 <= config.resume_interval_s <= 3600:
        problems.append("evaluation.resume_interval_s must be from 0.1 to 3600 seconds")
    problems += [f"evaluation.cooldown_s_by_agent.{agent} must be 0 or more"
                 for agent, seconds in config.cooldown_s_by_agent.items() if seconds < 0]
    problems += [f"evaluation.{path}.weight must be 0 or more" for path, weight in _weights(config) if weight < 0]
    problems += _check_custom(config.custom)
    if config.llm_judge.enabled and not config.llm_judge.base_url.startswith(("http://", "https://")):
        problems.append("evaluation.llm_judge.base_url must start with http:// or https://")
    return problems


def _weights(config: EvaluationConfig) -> list[tuple[str, float]]:
    builtin = config.builtin
    return [
        ("builtin.no_error_spans", builtin.no_error_spans.weight),
        ("builtin.final_output", builtin.final_output.weight),
        ("builtin.latency_budget", builtin.latency_budget.weight),
        ("builtin.token_budget", builtin.token_budget.weight),
        ("builtin.tool_calls", builtin.tool_calls.weight),
        ("llm_judge", config.llm_judge.weight),
        *((f"custom[{index}]", custom.weight) for index, custom in enumerate(config.custom)),
    ]


def _check_custom(custom: tuple[CustomEvaluatorConfig, ...]) -> list[str]:
    problems = []
    names = [entry.name for entry in custom]
    for index, entry in enumerate(custom):
        module, _, attribute = entry.factory.partition(":")
        if not module or not attribute:
            problems.append(f"evaluation.custom[{index}].factory must be 'package.module:attribute'")
        if entry.name in names[:index] or entry.name in BUILTIN_NAMES:
            problems.append(f"evaluation.custom[{index}].name {entry.name!r} is used twice")
    return problems


BUILTIN_NAMES = frozenset({"no_error_spans", "final_output", "latency_budget", "token_budget", "tool_calls", "llm_judge"})
