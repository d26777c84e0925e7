"""The `cost:` section of config.yaml as frozen dataclasses, with checks.

Part of the one configuration tree (config.py loads and validates it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PriceConfig:
    """Prices of the models whose name matches `model`, a glob (`*`, `?`), case-insensitive."""

    model: str
    input_per_million: float  # USD per million input tokens
    output_per_million: float  # USD per million output tokens
    cached_input_per_million: float | None = None  # prompt-cache reads; None: input_per_million


@dataclass(frozen=True, slots=True)
class CostConfig:
    enabled: bool = True  # false: no cost is computed (a cost the span states is still kept)
    genai_prices: bool = True  # look up models no entry of `prices` matches in the genai-prices package
    prices: tuple[PriceConfig, ...] = ()  # first match wins, before genai-prices


def check_cost(cost: CostConfig) -> list[str]:
    """Problems as messages naming dotted paths; empty when valid."""
    problems = []
    for index, price in enumerate(cost.prices):
        path = f"cost.prices[{index}]"
        if not price.model.strip():
            problems.append(f"{path}.model must be a model name or glob, e.g. gpt-4o*")
        amounts = (("input_per_million", price.input_per_million), ("output_per_million", price.output_per_million),
                   ("cached_input_per_million", price.cached_input_per_million))
        problems += [f"{path}.{name} must be a finite number 0 or more, got {value}"
                     for name, value in amounts if value is not None and not (math.isfinite(value) and value >= 0)]
    return problems
