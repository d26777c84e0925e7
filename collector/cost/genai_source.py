"""Prices from the genai-prices package (MIT, pydantic/genai-prices): its bundled snapshot only.

Its own calculation costs ~170 us a call, too much per span, so a model's token prices are
read once by pricing 1,000 tokens of each kind, and tiered prices (a higher rate past a prompt
length) fall back to the exact calculation above the first tier. Never fetches price updates
(the collector does not reach the network). Imported lazily: without the package installed,
only the configured prices apply.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from importlib import metadata
from typing import Any, NamedTuple, TypeVar

logger = logging.getLogger(__name__)
_PROBE_TOKENS = 1000  # below every tier start
_DISTRIBUTION = "genai-prices"


class FoundRates(NamedTuple):
    input_usd: float  # per token
    output_usd: float
    cached_input_usd: float
    tier_start_tokens: int | None


class ExactCost(NamedTuple):
    input_usd: float
    output_usd: float


_genai: Any = None  # the imported module, False when it is not installed

T = TypeVar("T")


def _module() -> Any:
    global _genai
    if _genai is None:
        try:
            import genai_prices
        except ImportError:
            logger.warning("the genai-prices package is not installed: only cost.prices of config.yaml price spans")
            _genai = False
        else:
            _genai = genai_prices
    return _genai or None


def source_name() -> str:
    """The cost_source of spans priced here: the package and its version."""
    try:
        return f"{_DISTRIBUTION} {metadata.version(_DISTRIBUTION)}"
    except metadata.PackageNotFoundError:
        return _DISTRIBUTION


def _when(time_unix_nano: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(time_unix_nano / 1e9, dt.UTC) if time_unix_nano > 0 else dt.datetime.now(dt.UTC)


def _calc(genai: Any, model: str, provider: str | None, when: dt.datetime, **usage: int) -> Any:
    return genai.calc_price(genai.Usage(**usage), model, provider_id=provider, genai_request_timestamp=when)


def _with_provider_fallback(ask: Callable[[Any, str | None, dt.datetime], T], provider: str | None,
                            time_unix_nano: int) -> T | None:
    """ask(genai, provider, when) with the span's provider, then with none (genai-prices then
    matches the model among all providers); None when the package is missing or knows neither."""
    genai = _module()
    if genai is None:
        return None
    when = _when(time_unix_nano)
    for provider_id in dict.fromkeys((provider, None)):
        try:
            return ask(genai, provider_id, when)
        except (LookupError, ValueError):  # unknown model or provider; usage it cannot price
            continue
    return None


def find_rates(model: str, provider: str | None, time_unix_nano: int) -> FoundRates | None:
    """The model's token prices at that time; None when genai-prices does not know the model."""
    return _with_provider_fallback(lambda genai, provider_id, when: _probe(genai, model, provider_id, when),
                                   provider, time_unix_nano)


def _probe(genai: Any, model: str, provider: str | None, when: dt.datetime) -> FoundRates:
    tokens = _PROBE_TOKENS
    prompt = _calc(genai, model, provider, when, input_tokens=tokens, output_tokens=0)
    completion = _calc(genai, model, provider, when, input_tokens=0, output_tokens=tokens)
    cached = _calc(genai, model, provider, when, input_tokens=tokens, cache_read_tokens=tokens)
    return FoundRates(
        float(prompt.input_price) / tokens,
        float(completion.output_price) / tokens,
        float(cached.input_price) / tokens,
        _first_tier_start(prompt.model_price),
    )


def _first_tier_start(model_price: object) -> int | None:
    """The smallest input length at which a tiered price changes (genai-prices' TieredPrices)."""
    starts = [tier.start for value in vars(model_price).values() for tier in getattr(value, "tiers", ())
              if not isinstance(value, Decimal)]
    return min(starts) if starts else None


def exact_cost(model: str, provider: str | None, time_unix_nano: int, *, input_tokens: int, cached_input_tokens: int,
               output_tokens: int) -> ExactCost | None:
    """genai-prices' own calculation of one call (for tiered prices past their first tier)."""

    def ask(genai: Any, provider_id: str | None, when: dt.datetime) -> ExactCost:
        found = _calc(genai, model, provider_id, when, input_tokens=input_tokens,
                      cache_read_tokens=cached_input_tokens, output_tokens=output_tokens)
        return ExactCost(float(found.input_price), float(found.output_price))

    return _with_provider_fallback(ask, provider, time_unix_nano)
