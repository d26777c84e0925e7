"""What pricing spans costs on the decode path: µs per span of decode_body (parse, decode, map,
price, Arrow batch) with cost off, with genai-prices, and with a configured price, for the
512-span LLM/tool request of bench_otlp_decode (gpt-4o-mini, prompt and completion tokens).

Bounded (about 2 s per case) and prints figures only; never an assertion. Run:
    .venv/bin/python -m bench.bench_cost
"""

from __future__ import annotations

import platform
import statistics
import time

from kate.collector.cost.settings import CostConfig, PriceConfig
from kate.collector.ingest.decode_pool import decode_body
from kate.collector.ingest.wire import PROTOBUF
from kate.schema.text import DEFAULT_MAX_TEXT_BYTES

from bench.bench_otlp_decode import SPANS, build_request

SECONDS_PER_CASE = 2.0
MAX_ROUNDS = 10_000
CASES = {
    "cost off": CostConfig(enabled=False),
    "genai-prices": CostConfig(),
    "configured price": CostConfig(prices=(PriceConfig("gpt-4o-mini*", 0.15, 0.6),)),
}


def micros_per_span(body: bytes) -> dict[str, float]:
    """Median µs per span of each case, the cases interleaved round by round so that a machine
    busy with something else slows them alike."""
    for cost in CASES.values():
        decode_body(body, PROTOBUF, DEFAULT_MAX_TEXT_BYTES, cost)  # warm: price look-ups are cached per model
    timings: dict[str, list[float]] = {label: [] for label in CASES}
    deadline = time.perf_counter() + SECONDS_PER_CASE * len(CASES)
    while (time.perf_counter() < deadline or len(timings["cost off"]) < 3) and len(timings["cost off"]) < MAX_ROUNDS:
        for label, cost in CASES.items():
            started = time.perf_counter()
            decode_body(body, PROTOBUF, DEFAULT_MAX_TEXT_BYTES, cost)
            timings[label].append(time.perf_counter() - started)
    return {label: statistics.median(values) / SPANS * 1e6 for label, values in timings.items()}


def main() -> None:
    body = build_request().SerializeToString()
    print(f"decode_body per span, {SPANS}-span requests, cases interleaved; {platform.machine()}, "
          f"Python {platform.python_version()}")
    figures = micros_per_span(body)
    for label, micros in figures.items():
        print(f"{label:<18} {micros:6.1f} µs/span  ({micros / figures['cost off']:4.2f}x of cost off)")


if __name__ == "__main__":
    main()
