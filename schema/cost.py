"""A cost in USD the span states itself (docs/mapping.md#cost): OpenInference `llm.cost.*`,
and `gen_ai.usage.cost` as Langfuse, LiteLLM and OpenLLMetry users set it.

Owns the precedence of the cost keys. Pure and total: a value that is not a finite,
non-negative number is ignored, never an error. Prices (what Kate computes when a span states
no cost) are the collector's business, not the schema's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from kate.schema.record import AttributeValue, ReportedCost

TOTAL_COST_KEYS = ("llm.cost.total", "gen_ai.usage.cost")
INPUT_COST_KEYS = ("llm.cost.prompt",)
OUTPUT_COST_KEYS = ("llm.cost.completion",)
COST_KEYS = (*TOTAL_COST_KEYS, *INPUT_COST_KEYS, *OUTPUT_COST_KEYS)
_MAX_COST_CHARS = 32


class FoundCost(NamedTuple):
    cost: ReportedCost | None
    consumed: tuple[str, ...]


NO_COST = FoundCost(None, ())


def read_reported_cost(attrs: Mapping[str, AttributeValue]) -> FoundCost:
    """A stated total wins; else input + output when either is stated."""
    total = _first_amount(attrs, TOTAL_COST_KEYS)
    prompt = _first_amount(attrs, INPUT_COST_KEYS)
    completion = _first_amount(attrs, OUTPUT_COST_KEYS)
    if total is None and prompt is None and completion is None:
        return NO_COST
    consumed = tuple(found[0] for found in (total, prompt, completion) if found)
    input_usd = prompt[1] if prompt else None
    output_usd = completion[1] if completion else None
    total_usd = total[1] if total else (input_usd or 0.0) + (output_usd or 0.0)
    return FoundCost(ReportedCost(total_usd, input_usd, output_usd), consumed)


def _first_amount(attrs: Mapping[str, AttributeValue], keys: tuple[str, ...]) -> tuple[str, float] | None:
    for key in keys:
        amount = _amount(attrs.get(key))
        if amount is not None:
            return key, amount
    return None


def _amount(value: object) -> float | None:
    """A finite, non-negative float from an int, a double or a numeric string; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if len(value) > _MAX_COST_CHARS:
            return None
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    amount = float(value)
    return amount if math.isfinite(amount) and amount >= 0 else None
