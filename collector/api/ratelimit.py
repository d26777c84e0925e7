"""Per-run request rate limits: span uploads (docs/api.md#rate-limits: 60 requests a minute) and
forced evaluations.

A token bucket per (agent, run): `limit` tokens, refilled continuously over one minute, so a
client may burst up to the limit and then sustain limit/minute. Handlers take a token only once
the request is known to be good (a refused request gives it back), so requests that name
another agent's run never spend its tokens. Memory stays bounded: idle, full buckets are
forgotten first when the table grows past max_keys.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kate.collector.errors import KateError, RateLimited


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Allowance:
    limit: int
    remaining: int
    reset_s: int  # seconds until the bucket is full again

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }


def run_key(agent_id: str, run_id: str) -> str:
    """The bucket of one run: per agent too, so that no other agent can spend it."""
    return f"run {run_id} of agent {agent_id}"


class RateLimiter:
    def __init__(self, per_minute: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._rate_per_s = per_minute / 60.0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def acquire(self, key: str) -> Allowance:
        """Take one token for key, or raise RateLimited with the seconds until the next one."""
        bucket = self._available(key)
        bucket.tokens -= 1
        reset_s = math.ceil((self._limit - bucket.tokens) / self._rate_per_s)
        return Allowance(self._limit, int(bucket.tokens), reset_s)

    @contextlib.contextmanager
    def charged(self, key: str) -> Iterator[Allowance]:
        """acquire() for the block, given back when the block raises a KateError (a refused
        request: 404, 409, 503, ...): only requests that went through spend tokens."""
        allowance = self.acquire(key)
        try:
            yield allowance
        except KateError:
            self.give_back(key)
            raise

    def require_token(self, key: str) -> None:
        """Raise RateLimited as acquire() would, taking nothing: a cheap refusal before the work
        that decides whether the request is worth a token."""
        self._available(key)

    def give_back(self, key: str) -> None:
        """Return the token acquire() took for a request that was then refused."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self._limit, bucket.tokens + 1)

    def _available(self, key: str) -> _Bucket:
        bucket = self._refilled(key, self._clock())
        if bucket.tokens < 1:
            wait_s = math.ceil((1 - bucket.tokens) / self._rate_per_s)
            msg = f"rate limit of {self._limit} requests a minute exceeded for {key}; retry in {wait_s} s"
            raise RateLimited(msg, retry_after_s=wait_s, limit=self._limit, remaining=0)
        return bucket

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self._limit), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self._limit, bucket.tokens + (now - bucket.updated) * self._rate_per_s)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket
