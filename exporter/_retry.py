"""Retrying one request inside an export deadline, as the stock OTLP exporters do (facts A6).

Retryable: 429, 502, 503, 504 and no answer at all. Retry-After wins over the computed backoff;
a wait that would pass the deadline is not started. Sleeping is delegated so shutdown can cut it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from kate.exporter._errors import KateError, TransportError

logger = logging.getLogger("kate.exporter")
T = TypeVar("T")
MAX_ATTEMPTS = 6


def retry_delay_s(attempt: int, error: KateError) -> float:
    """Seconds to wait before retry number `attempt + 1` (attempt counts from 0)."""
    if error.retry_after is not None:
        return error.retry_after * random.uniform(1.0, 1.2)  # never sooner than asked; spreads a herd
    return float(2**attempt) * random.uniform(0.8, 1.2)  # 1, 2, 4, 8, 16 s ±20 %


def send_within(
    send: Callable[[float], T], deadline: float, wait: Callable[[float], bool], *, attempts: int = MAX_ATTEMPTS
) -> T:
    """Call `send(remaining_s)` until it succeeds, fails for good, or the deadline would pass.

    `deadline` is a time.monotonic() value; `wait(seconds)` sleeps and returns True when it was
    interrupted (shutdown), which ends the retries; at most `attempts` calls. The last error is
    re-raised.
    """
    for attempt in range(attempts):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("the export deadline passed before the request could be sent")
        try:
            return send(remaining)
        except KateError as error:
            delay = retry_delay_s(attempt, error)
            last_try = attempt + 1 >= attempts or time.monotonic() + delay >= deadline
            if not error.retryable or last_try:
                raise
            logger.debug("Kate exporter: retrying in %.2f s after %s", delay, error)
            if wait(delay):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
