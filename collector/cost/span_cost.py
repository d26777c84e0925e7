"""The cost of one span: the cost it states wins, else its tokens at its model's prices.

Called once per span while a request's Arrow batch is built (decode workers). A span without a
model, without token counts or whose model has no known price costs None (NULL), never 0.
"""

from __future__ import annotations

from typing import NamedTuple

from kate.collector.cost import genai_source
from kate.collector.cost.rates import PriceBook, book_for
from kate.collector.cost.settings import CostConfig
from kate.schema.record import ReportedCost

SPAN_SOURCE = "span"


class SpanCost(NamedTuple):
    cost_usd: float | None
    input_cost_usd: float | None
    output_cost_usd: float | None
    cost_source: str | None


NO_COST = SpanCost(None, None, None, None)


class TokenUsage(NamedTuple):
    """What a span used, as the record holds it."""

    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    start_time_unix_nano: int | None


class Pricer:
    """Prices the spans of one request with the configured price book."""

    __slots__ = ("_book",)

    def __init__(self, config: CostConfig) -> None:
        self._book: PriceBook | None = book_for(config) if config.enabled else None

    def cost(self, usage: TokenUsage, reported: ReportedCost | None) -> SpanCost:
        if reported is not None:
            return SpanCost(reported.total_usd, reported.input_usd, reported.output_usd, SPAN_SOURCE)
        book = self._book
        if book is None or usage.model is None or (usage.input_tokens is None and usage.output_tokens is None):
            return NO_COST
        rates = book.rates(usage.model, usage.provider, usage.start_time_unix_nano)
        if rates is None:
            return NO_COST
        input_tokens, output_tokens = usage.input_tokens or 0, usage.output_tokens or 0
        cached = min(usage.cached_input_tokens or 0, input_tokens)  # a part of the input, never more
        if rates.exact_above_input_tokens is not None and input_tokens > rates.exact_above_input_tokens:
            return _exact(usage, input_tokens, cached, output_tokens, rates.source)
        input_usd = (input_tokens - cached) * rates.input_usd + cached * rates.cached_input_usd
        output_usd = output_tokens * rates.output_usd
        return SpanCost(input_usd + output_usd, input_usd, output_usd, rates.source)


def _exact(usage: TokenUsage, input_tokens: int, cached: int, output_tokens: int, source: str) -> SpanCost:
    found = genai_source.exact_cost(str(usage.model), usage.provider, usage.start_time_unix_nano or 0,
                                    input_tokens=input_tokens, cached_input_tokens=cached, output_tokens=output_tokens)
    if found is None:
        return NO_COST
    return SpanCost(found.input_usd + found.output_usd, found.input_usd, found.output_usd, source)
