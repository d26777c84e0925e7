"""A model's per-token prices: config overrides first, then the genai-prices package.

Looked up once per (model, provider, UTC hour) and remembered, so pricing a span costs a dict
look-up and three multiplications. Unknown models are remembered as None: no price, never $0.
"""

from __future__ import annotations

import fnmatch
import re
from typing import NamedTuple

from kate.collector.cost import genai_source
from kate.collector.cost.settings import CostConfig, PriceConfig

_PER_MILLION = 1e-6
_MAX_CACHED = 4096  # (model, provider, hour) keys; cleared when full, so odd model names cannot grow it
_NS_PER_HOUR = 3_600_000_000_000
CONFIG_SOURCE = "config"


class Rates(NamedTuple):
    """USD per token, and where the prices came from (the span's cost_source)."""

    input_usd: float
    output_usd: float
    cached_input_usd: float
    source: str
    # Tiered prices (a higher rate for long prompts): spans with more input tokens than this are
    # priced by genai-prices itself, for the tier they fall in. None: one rate for every length.
    exact_above_input_tokens: int | None = None


class PriceBook:
    """The prices one `cost:` configuration gives; one per configuration per process (book_for)."""

    def __init__(self, config: CostConfig) -> None:
        self.config = config
        self._overrides = [(re.compile(fnmatch.translate(price.model.strip().lower())), price)
                           for price in config.prices]
        self._cache: dict[tuple[str, str | None, int], Rates | None] = {}

    def rates(self, model: str, provider: str | None, start_time_unix_nano: int | None) -> Rates | None:
        hour = (start_time_unix_nano or 0) // _NS_PER_HOUR
        key = (model, provider, hour)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        found = self._cache[key] = self._look_up(model, provider, hour)
        return found

    def _look_up(self, model: str, provider: str | None, hour: int) -> Rates | None:
        lowered = model.strip().lower()
        for pattern, price in self._overrides:
            if pattern.match(lowered):
                return _configured(price)
        if not self.config.genai_prices:
            return None
        found = genai_source.find_rates(model, provider, hour * _NS_PER_HOUR)
        if found is None:
            return None
        return Rates(found.input_usd, found.output_usd, found.cached_input_usd, genai_source.source_name(),
                     found.tier_start_tokens)


def _configured(price: PriceConfig) -> Rates:
    cached = price.input_per_million if price.cached_input_per_million is None else price.cached_input_per_million
    return Rates(price.input_per_million * _PER_MILLION, price.output_per_million * _PER_MILLION,
                 cached * _PER_MILLION, CONFIG_SOURCE)


_BOOKS: dict[CostConfig, PriceBook] = {}


def book_for(config: CostConfig) -> PriceBook:
    """This process's PriceBook of config: decode workers receive the (small, frozen) config
    with each body and keep the book, with its cache, across bodies."""
    book = _BOOKS.get(config)
    if book is None:
        book = _BOOKS[config] = PriceBook(config)
    return book
