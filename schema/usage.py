"""Token usage: input, output and total counts from the three conventions (docs/mapping.md#field-sources-and-precedence).

Owns the precedence of the count keys and the never-double-count rule: cached and reasoning
counts are subsets of input and output, so they are never added. Pure and total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from kate.schema.attributes import MAX_COUNT, first_count
from kate.schema.record import AttributeValue

TOTAL_KEYS = ("llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
# Prompt-cache reads, a part of the input count in every convention (OTel GenAI, OpenLLMetry, OpenInference).
CACHED_INPUT_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)

USAGE_KEYS = (*TOTAL_KEYS, *INPUT_KEYS, *OUTPUT_KEYS, *CACHED_INPUT_KEYS)


class Usage(NamedTuple):
    """The counts a span reports and the attribute keys they were read from."""

    token_count: int | None
    input_tokens: int | None
    output_tokens: int | None
    consumed: tuple[str, ...]
    cached_input_tokens: int | None = None


NO_USAGE = Usage(None, None, None, ())


def read_usage(attrs: Mapping[str, AttributeValue]) -> Usage:
    """A reported total wins; else input + output, one side alone counting as the total."""
    total = first_count(attrs, TOTAL_KEYS)
    prompt = first_count(attrs, INPUT_KEYS)
    completion = first_count(attrs, OUTPUT_KEYS)
    cached = first_count(attrs, CACHED_INPUT_KEYS)
    input_tokens = prompt[1] if prompt else None
    output_tokens = completion[1] if completion else None
    cached_input_tokens = cached[1] if cached else None
    consumed = tuple(found[0] for found in (total, prompt, completion, cached) if found)
    if total is not None:
        return Usage(total[1], input_tokens, output_tokens, consumed, cached_input_tokens)
    if input_tokens is None and output_tokens is None:
        return Usage(None, None, None, consumed, cached_input_tokens)
    token_count = (input_tokens or 0) + (output_tokens or 0)
    return Usage(token_count if token_count <= MAX_COUNT else None, input_tokens, output_tokens, consumed,
                 cached_input_tokens)
